/* invert: a filter that writes each input into a new buffer with every bit flipped. Test frames
 * stay checkable (their header counts the inversions), so verify can sit behind it.
 *   - name: inv
 *     plugin: invert
 *     inputs: {in: src/out} */
#include "builtins.h"
#include "testframe.h"

static const xmem_node_port inputs[] = {{"in", "any buffers"}};
static const xmem_node_port outputs[] = {{"out", "the inputs, bit-inverted, same layout"}};

static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *in,
                        xmem_error_t *err)
{
    (void)state;
    (void)port;
    if (!xmem_guard_data(in)) /* no host view: a CUDA buffer */
        return xmem_node_fail(node, err, "invert reads CPU buffers; use cuda_invert on the GPU");
    XMEM_GUARD_AUTO xmem_guard_t out = XMEM_GUARD_INIT;
    void *data;
    xmem_err rc = xmem_node_acquire_like(node, in, &out, err);
    if (rc || (rc = xmem_guard_data_mut(&out, &data, err)))
        return rc;
    size_t size = xmem_guard_size(in);
    const uint8_t *src = xmem_guard_data(in);
    if (!xmemi_testframe_invert(src, data, size)) {
        uint8_t *dst = data;
        for (size_t i = 0; i < size; i++)
            dst[i] = (uint8_t)~src[i];
    }
    return xmem_node_publish(node, "out", &out, err);
}

XMEMI_BUILTIN_DEFINE(xmemi_node_invert, .name = "invert", .version = "1.0",
                     .description = "copies each buffer with every bit inverted", .inputs = inputs,
                     .n_inputs = 1, .outputs = outputs, .n_outputs = 1, .process = process);
