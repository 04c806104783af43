/* A well-formed plugin with every kind of field filled, so test_plugin_abi.c can check that what
 * the loader copies out is what the library declared. It forwards its input; it is never run.
 *   - name: fwd
 *     plugin: good
 *     inputs: {in: src/out} */
#include <xmem/node.h>

static const char *const modes[] = {"near", "far", NULL};

static const xmem_node_param params[] = {
    {"level", XMEM_PARAM_INT, "3", "how much", 1, 9, NULL},
    {"mode", XMEM_PARAM_ENUM, "far", "which way", 0, 0, modes},
};

static const xmem_node_port inputs[] = {{"in", "frames"}, {"aux", "side channel"}};
static const xmem_node_port outputs[] = {{"out", "the frames of in"}};

static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *input,
                        xmem_error_t *err)
{
    (void)state;
    (void)port;
    return xmem_node_forward(node, "out", input, err);
}

XMEM_NODE_DEFINE(.name = "good", .version = "2.5", .description = "forwards its input",
                 .params = params, .n_params = 2, .inputs = inputs, .n_inputs = 2,
                 .outputs = outputs, .n_outputs = 1, .process = process);
