/* The CUDA nodes' shared init, fini and error text (cuda_common.h). */
#include "cuda_common.h"

#include <cuda_runtime_api.h>
#include <stdlib.h>

#include <xmem/cuda.h>

xmem_err xmemi_cuda_node_fail(xmem_node_t *node, xmem_error_t *err, int code, const char *what)
{
    cudaGetLastError();
    return xmem_node_fail(node, err, "%s: %s (%s)", what, cudaGetErrorString((cudaError_t)code),
                          cudaGetErrorName((cudaError_t)code));
}

xmem_err xmemi_cuda_node_init(xmem_node_t *node, void **state, xmem_error_t *err)
{
    xmemi_cuda_node *c = calloc(1, sizeof *c);
    if (!c)
        return xmem_node_fail(node, err, "out of memory");
    c->device = (int)xmem_node_param_int(node, "device");
    cudaStream_t s;
    cudaError_t ce = cudaSetDevice(c->device);
    if (ce == cudaSuccess)
        ce = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    if (ce != cudaSuccess) {
        free(c);
        return xmemi_cuda_node_fail(node, err, ce, "CUDA device");
    }
    c->stream = s;
    *state = c;
    return XMEM_OK;
}

void xmemi_cuda_node_fini(xmem_node_t *node, void *state)
{
    (void)node;
    xmemi_cuda_node *c = state;
    if (!c)
        return;
    cudaStreamSynchronize((cudaStream_t)c->stream); /* releases queued on it run now */
    cudaStreamDestroy((cudaStream_t)c->stream);
    free(c);
}

xmem_err xmemi_cuda_node_drained(xmemi_cuda_node *c, xmem_err rc)
{
    if (rc)
        cudaStreamSynchronize((cudaStream_t)c->stream);
    return rc;
}

void xmemi_cuda_node_pin(xmem_node_t *node, xmemi_cuda_node *c, xmem_pool_t *pool)
{
    xmem_error_t err;
    if (xmem_pool_cuda_register_host(pool, &err) && !c->warned_pinning) {
        c->warned_pinning = true;
        xmem_node_log(node, XMEM_LOG_WARN, "%s; copying from pageable memory (slower)", err.msg);
    }
}
