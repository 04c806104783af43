/* cuda_invert: a kernel writes the bit-inverse of each CUDA frame into a new CUDA buffer (a test
 * frame keeps its header, so verify still checks it after a download), ordered after the
 * producer's writes by the buffer's event; the input goes back once the kernel is done with it.
 *   - name: inv
 *     plugin: cuda_invert
 *     inputs: {in: up/out} */
#include <xmem/cuda.h>

#include "builtins.h"
#include "cuda_common.h"
#include "cuda_kernels.h"

static const xmem_node_port inputs[] = {{"in", "CUDA buffers"}};
static const xmem_node_port outputs[] = {{"out", "new CUDA buffers, bit-inverted"}};

static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *in,
                        xmem_error_t *err)
{
    (void)port;
    xmemi_cuda_node *c = state;
    if (!xmem_guard_is_cuda(in))
        return xmem_node_fail(node, err, "cuda_invert takes CUDA buffers: put cuda_upload first");
    size_t size = xmem_guard_size(in);
    const void *src;
    void *dst;
    XMEM_GUARD_AUTO xmem_guard_t out = XMEM_GUARD_INIT;
    xmem_err rc;
    if ((rc = xmem_guard_cuda_ptr(in, &src, NULL, err)) ||
        (rc = xmem_node_acquire_cuda(node, size, c->device, &out, err)) ||
        (rc = xmem_guard_cuda_ptr_mut(&out, &dst, NULL, err)) ||
        (rc = xmem_guard_copy_layout(&out, in, err)) ||
        (rc = xmem_guard_cuda_wait(in, c->stream, err)))
        return rc;
    int ce = xmemi_cuda_invert(src, dst, size, c->stream);
    if (ce)
        return xmemi_cuda_node_drained(c, xmemi_cuda_node_fail(node, err, ce, "invert kernel"));
    if ((rc = xmem_guard_cuda_record(&out, c->stream, err)) ||
        (rc = xmem_guard_cuda_release_after(in, c->stream, err)))
        return xmemi_cuda_node_drained(c, rc);
    return xmem_node_publish(node, "out", &out, err);
}

static const xmem_node_param params[] = {XMEMI_CUDA_DEVICE_PARAM};

XMEMI_BUILTIN_DEFINE(xmemi_node_cuda_invert, .name = "cuda_invert", .version = "1.0",
                     .description = "inverts CUDA frames with a kernel", .params = params,
                     .n_params = 1, .inputs = inputs, .n_inputs = 1, .outputs = outputs,
                     .n_outputs = 1, .init = xmemi_cuda_node_init, .process = process,
                     .fini = xmemi_cuda_node_fini, .flags = XMEM_NODE_USES_CUDA);
