/* cuda_upload: copies each CPU frame into a CUDA buffer of the pool (asynchronously, on the node's
 * stream, from page-locked pool memory) and publishes it; consumers' streams wait on the buffer's
 * event, not on the host.
 *   - name: up
 *     plugin: cuda_upload
 *     params: {device: 0}
 *     inputs: {in: src/out} */
#include <cuda_runtime_api.h>

#include <xmem/cuda.h>

#include "builtins.h"
#include "cuda_common.h"

static const xmem_node_port inputs[] = {{"in", "CPU buffers"}};
static const xmem_node_port outputs[] = {{"out", "the same bytes in CUDA buffers"}};

static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *in,
                        xmem_error_t *err)
{
    (void)port;
    xmemi_cuda_node *c = state;
    const void *host = xmem_guard_data(in);
    if (!host)
        return xmem_node_fail(node, err, "cuda_upload takes CPU buffers; this one is on a GPU");
    /* Page-locked once per buffer of this input's pool handle: the copy runs at full speed. */
    xmemi_cuda_node_pin(node, c, xmem_guard_pool(in));
    xmem_err rc;
    size_t size = xmem_guard_size(in);
    XMEM_GUARD_AUTO xmem_guard_t out = XMEM_GUARD_INIT;
    void *dev;
    if ((rc = xmem_node_acquire_cuda(node, size, c->device, &out, err)) ||
        (rc = xmem_guard_cuda_ptr_mut(&out, &dev, NULL, err)) ||
        (rc = xmem_guard_copy_layout(&out, in, err)))
        return rc;
    cudaError_t ce =
        cudaMemcpyAsync(dev, host, size, cudaMemcpyHostToDevice, (cudaStream_t)c->stream);
    if (ce != cudaSuccess)
        return xmemi_cuda_node_fail(node, err, ce, "upload");
    /* The input is read by the copy until the stream passes it: released then, not now. */
    if ((rc = xmem_guard_cuda_record(&out, c->stream, err)) ||
        (rc = xmem_guard_cuda_release_after(in, c->stream, err)))
        return xmemi_cuda_node_drained(c, rc);
    return xmem_node_publish(node, "out", &out, err);
}

static const xmem_node_param params[] = {XMEMI_CUDA_DEVICE_PARAM};

XMEMI_BUILTIN_DEFINE(xmemi_node_cuda_upload, .name = "cuda_upload", .version = "1.0",
                     .description = "copies CPU frames into CUDA buffers", .params = params,
                     .n_params = 1, .inputs = inputs, .n_inputs = 1, .outputs = outputs,
                     .n_outputs = 1, .init = xmemi_cuda_node_init, .process = process,
                     .fini = xmemi_cuda_node_fini, .flags = XMEM_NODE_USES_CUDA);
