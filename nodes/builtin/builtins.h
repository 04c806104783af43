/* The nodes built into the `xmem` program. Each is an ordinary plugin descriptor, checked and run
 * exactly like one loaded from a shared library; only its symbol name differs. */
#ifndef XMEM_NODES_BUILTIN_BUILTINS_H
#define XMEM_NODES_BUILTIN_BUILTINS_H

#include <stdint.h>

#include <xmem/node.h>

/* Defines built-in descriptor `var` (XMEM_NODE_DEFINE without the exported symbol). */
#define XMEMI_BUILTIN_DEFINE(var, ...)                                                             \
    const xmem_node_plugin var = {.magic = XMEM_NODE_ABI_MAGIC,                                    \
                                  .abi_version = XMEM_NODE_ABI_VERSION,                            \
                                  .size = sizeof(xmem_node_plugin),                                \
                                  __VA_ARGS__}

/* The same for a built-in kept in a module of its own (the video nodes: builtins.c opens their
 * module when one is first asked for): exported from the module by this name. */
#define XMEMI_BUILTIN_MODULE_DEFINE(var, ...)                                                      \
    XMEM_NODE_EXPORT_SYMBOL XMEMI_BUILTIN_DEFINE(var, __VA_ARGS__)

extern const xmem_node_plugin xmemi_node_testsrc;
extern const xmem_node_plugin xmemi_node_verify;
extern const xmem_node_plugin xmemi_node_stats;
extern const xmem_node_plugin xmemi_node_invert;
extern const xmem_node_plugin xmemi_node_null;
#ifdef XMEM_HAVE_CUDA
extern const xmem_node_plugin xmemi_node_cuda_upload;
extern const xmem_node_plugin xmemi_node_cuda_invert;
extern const xmem_node_plugin xmemi_node_cuda_download;
#endif

/* All built-ins, in the order `xmem plugins` lists them (those of a module that cannot be opened
 * left out); *n receives how many. */
const xmem_node_plugin *const *xmemi_builtins(uint32_t *n);

/* The built-in called `name`, or NULL. */
const xmem_node_plugin *xmemi_builtin_find(const char *name);

/* Where built-in `name` comes from: "built-in", or "built-in, PATH" for one of a module; static
 * storage. */
const char *xmemi_builtin_origin(const char *name);

/* For a built-in of a module that could not be opened: why (the module's path and dlerror); for
 * one of a module this build left out: what the build lacks; NULL for any other name. */
const char *xmemi_builtin_missing(const char *name);

#endif
