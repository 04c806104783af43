/* null: a sink that takes buffers and lets them go, to terminate a branch or measure a pipeline
 * without a consumer's cost.
 *   - name: sink
 *     plugin: null
 *     inputs: {in: src/out} */
#include <inttypes.h>
#include <stdlib.h>

#include "builtins.h"

static const xmem_node_port inputs[] = {{"in", "any buffers"}};

static xmem_err init(xmem_node_t *node, void **state, xmem_error_t *err)
{
    uint64_t *frames = calloc(1, sizeof *frames);
    if (!frames)
        return xmem_node_fail(node, err, "out of memory");
    *state = frames;
    return XMEM_OK;
}

/* Nothing to do: the host releases the input when this returns. */
static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *in,
                        xmem_error_t *err)
{
    (void)node;
    (void)port;
    (void)in;
    (void)err;
    ++*(uint64_t *)state;
    return XMEM_OK;
}

static void fini(xmem_node_t *node, void *state)
{
    if (!state)
        return;
    xmem_node_log(node, XMEM_LOG_DEBUG, "released %" PRIu64 " frames", *(uint64_t *)state);
    free(state);
}

XMEMI_BUILTIN_DEFINE(xmemi_node_null, .name = "null", .version = "1.0",
                     .description = "releases every buffer it receives", .inputs = inputs,
                     .n_inputs = 1, .init = init, .process = process, .fini = fini);
