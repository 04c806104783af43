/* cuda_download: copies each CUDA frame into a CPU buffer of the pool and publishes it once the
 * copy is done (CPU consumers read it on the host), keeping layout and stamp.
 *   - name: down
 *     plugin: cuda_download
 *     inputs: {in: inv/out} */
#include <cuda_runtime_api.h>

#include <xmem/cuda.h>

#include "builtins.h"
#include "cuda_common.h"

static const xmem_node_port inputs[] = {{"in", "CUDA buffers"}};
static const xmem_node_port outputs[] = {{"out", "the same bytes in CPU buffers"}};

static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *in,
                        xmem_error_t *err)
{
    (void)port;
    xmemi_cuda_node *c = state;
    if (!xmem_guard_is_cuda(in))
        return xmem_node_fail(node, err, "cuda_download takes CUDA buffers");
    xmemi_cuda_node_pin(node, c, xmem_node_pool(node));
    xmem_err rc;
    const void *src;
    void *dst;
    XMEM_GUARD_AUTO xmem_guard_t out = XMEM_GUARD_INIT;
    if ((rc = xmem_guard_cuda_ptr(in, &src, NULL, err)) ||
        (rc = xmem_node_acquire_like(node, in, &out, err)) ||
        (rc = xmem_guard_data_mut(&out, &dst, err)) ||
        (rc = xmem_guard_cuda_wait(in, c->stream, err)))
        return rc;
    cudaError_t ce = cudaMemcpyAsync(dst, src, xmem_guard_size(in), cudaMemcpyDeviceToHost,
                                     (cudaStream_t)c->stream);
    if (ce == cudaSuccess)
        ce = cudaStreamSynchronize((cudaStream_t)c->stream);
    if (ce != cudaSuccess)
        return xmemi_cuda_node_drained(c, xmemi_cuda_node_fail(node, err, ce, "download"));
    return xmem_node_publish(node, "out", &out, err);
}

static const xmem_node_param params[] = {XMEMI_CUDA_DEVICE_PARAM};

XMEMI_BUILTIN_DEFINE(xmemi_node_cuda_download, .name = "cuda_download", .version = "1.0",
                     .description = "copies CUDA frames into CPU buffers", .params = params,
                     .n_params = 1, .inputs = inputs, .n_inputs = 1, .outputs = outputs,
                     .n_outputs = 1, .init = xmemi_cuda_node_init, .process = process,
                     .fini = xmemi_cuda_node_fini, .flags = XMEM_NODE_USES_CUDA);
