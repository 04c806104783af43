/* Finding, loading and checking node plugins: built-ins, shared libraries and Python node files
 * (through the Python host, nodes/python/) by path, and names searched in XMEM_PLUGIN_PATH.
 * Every refusal says which file and why. */
#ifndef XMEM_NODES_PLUGIN_LOADER_H
#define XMEM_NODES_PLUGIN_LOADER_H

#include <stdbool.h>

#include <xmem/node.h>

typedef struct xmemi_plugin {
    xmem_node_plugin desc;     /* the plugin's descriptor; fields newer than its ABI are zero */
    void *handle;              /* dlopen handle (of the Python host for a node file), NULL for a
                                  built-in */
    char *path;                /* the shared library or node file, NULL for a built-in */
    void (*unload)(void *ctx); /* frees a descriptor the Python host made, or NULL */
    void *unload_ctx;
} xmemi_plugin;

/* `spec` is a path (it has a '/' or ends in ".so" or ".py"), a built-in's name, or NAME looked up
 * as NAME.so, libNAME.so, then NAME.py in each directory of XMEM_PLUGIN_PATH (':'-separated). On
 * success *out holds the checked plugin (close with xmemi_plugin_close); on failure it is empty
 * and the error (XMEM_EPLUGIN) names the file and the reason. */
xmem_err xmemi_plugin_load(const char *spec, xmemi_plugin *out, xmem_error_t *err);

/* A name of a node, port or parameter: [a-z0-9_]+, 63 characters at most. */
bool xmemi_valid_name(const char *s);

/* The port called `name` among `ports`, or NULL. */
const xmem_node_port *xmemi_port_find(const xmem_node_port *ports, uint32_t n, const char *name);

/* "in, out" (or "none") for messages, at most len bytes. */
void xmemi_port_list(const xmem_node_port *ports, uint32_t n, char *buf, size_t len);

/* True when `spec` names a file (it has a '/' or ends in ".so" or ".py") rather than a plugin
 * name. */
bool xmemi_plugin_spec_is_path(const char *spec);

/* True when `path` is a Python node file (it ends in ".py"). */
bool xmemi_plugin_is_python(const char *path);

/* Loads the shared library at `path` (RTLD_NOW | RTLD_LOCAL), or the Python node file through the
 * Python host, and checks its descriptor. */
xmem_err xmemi_plugin_open_file(const char *path, xmemi_plugin *out, xmem_error_t *err);

/* Checks a descriptor of `symbol_size` bytes (0: unknown) found in `origin`, and copies the part
 * this host knows into *out (the rest zero). XMEM_EPLUGIN names origin and the first fault. */
xmem_err xmemi_plugin_check(const xmem_node_plugin *p, size_t symbol_size, const char *origin,
                            xmem_node_plugin *out, xmem_error_t *err);

/* Unloads: only when none of its buffers or code is in use any more (listing, refusals). */
void xmemi_plugin_close(xmemi_plugin *p);

/* Where the plugin came from, for messages: its path, or "built-in". */
const char *xmemi_plugin_origin(const xmemi_plugin *p);

#endif
