/* What the built-in CUDA nodes share: their `device` parameter and a stream of their own per
 * node, made at init on that device and drained at fini (its pending releases run first). */
#ifndef XMEM_NODES_BUILTIN_CUDA_COMMON_H
#define XMEM_NODES_BUILTIN_CUDA_COMMON_H

#include <stdbool.h>

#include <xmem/node.h>

typedef struct xmemi_cuda_node {
    int device;
    void *stream;        /* cudaStream_t */
    bool warned_pinning; /* cudaHostRegister failed once: said so, copies from pageable memory */
} xmemi_cuda_node;

/* The `device` parameter every CUDA node declares. */
#define XMEMI_CUDA_DEVICE_PARAM                                                                    \
    {                                                                                              \
        "device", XMEM_PARAM_INT, "0", "CUDA device ordinal", 0, 7, NULL                           \
    }

/* init and fini of every CUDA node: *state gets an xmemi_cuda_node. */
xmem_err xmemi_cuda_node_init(xmem_node_t *node, void **state, xmem_error_t *err);
void xmemi_cuda_node_fini(xmem_node_t *node, void *state);

/* After a failure with work already queued on the node's stream: waits for that work, so the
 * buffers it reads or writes are not released under it. Returns rc. */
xmem_err xmemi_cuda_node_drained(xmemi_cuda_node *c, xmem_err rc);

/* Page-locks the CPU buffers of `pool` for fast copies; a failure is a warning (once), since
 * copies from pageable memory are only slower. */
void xmemi_cuda_node_pin(xmem_node_t *node, xmemi_cuda_node *c, xmem_pool_t *pool);

/* Fails the node with a CUDA error's text (code as int: cudaError_t). */
xmem_err xmemi_cuda_node_fail(xmem_node_t *node, xmem_error_t *err, int code, const char *what);

#endif
