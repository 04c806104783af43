/* Where the plugin loader meets the Python host: a node file (NAME.py) is loaded through the
 * module xmem_python_host.so, which embeds CPython and hands back an ordinary node descriptor whose
 * callbacks run the file's node class. The host reaches the xmem extension module (xmem._xmem),
 * which does the Python work, through a capsule of functions. Neither side needs Python.h here. */
#ifndef XMEM_NODES_PYTHON_PYTHON_HOST_H
#define XMEM_NODES_PYTHON_PYTHON_HOST_H

#include <stdint.h>

#include <xmem/node.h>

/* A node file loaded by the host: its descriptor (valid until unload) and what frees it. */
typedef struct xmemi_foreign_plugin {
    const xmem_node_plugin *desc;
    void *ctx;
    void (*unload)(void *ctx); /* frees desc and what it points to; takes the GIL itself */
} xmemi_foreign_plugin;

/* The function xmem_python_host.so exports under this name: loads the node file at `path`
 * (starting the interpreter on the first call). On success *out holds the descriptor, which the
 * caller checks like any plugin's and gives back with out->unload(out->ctx); on failure *out is
 * empty and err (XMEM_EPLUGIN) says file:line and why, without the path prefix the loader adds. */
#define XMEMI_PYTHON_HOST_SYMBOL "xmemi_python_host_load"
typedef xmem_err (*xmemi_python_host_load_fn)(const char *path, xmemi_foreign_plugin *out,
                                              xmem_error_t *err);

/* The file names of the host module and of the folder of the `xmem` package it lives in. */
#define XMEMI_PYTHON_HOST_FILE "xmem_python_host.so"

/* The capsule xmem._xmem exports for the host (its name, as PyCapsule_Import wants it). The host
 * calls these with the GIL held; the descriptor's callbacks take the GIL themselves. */
#define XMEMI_PYTHON_API_CAPSULE "xmem._xmem._host_api"
typedef struct xmemi_python_api {
    uint32_t size; /* sizeof(xmemi_python_api) of the extension */
    xmem_err (*load)(const char *path, xmemi_foreign_plugin *out, xmem_error_t *err);
} xmemi_python_api;

#endif
