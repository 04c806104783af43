/* threshold: an out-of-tree xmem node plugin, built against an installed xmem (see README.md).
 * Maps every byte of a frame to 255 or 0 by comparing it with `level`.
 *   - name: thr
 *     plugin: ./xmem_threshold.so
 *     inputs: {in: src/out}
 *     params: {level: 100, mode: binary}
 * Or one node by hand:
 *   xmem node --plugin ./xmem_threshold.so --name thr --pool POOL --input in=ipc:///tmp/src.out \
 *       --output out=ipc:///tmp/thr.out --param level=100 */
#include <stdint.h>
#include <stdlib.h>

#include <xmem/node.h>

/* A table per byte value: the choice of level and mode is made once, not per pixel. */
typedef struct threshold {
    uint8_t map[256];
} threshold;

static const char *const modes[] = {"binary", "inverse", NULL};

static const xmem_node_param params[] = {
    {"level", XMEM_PARAM_INT, "128", "bytes at or above it are foreground", 0, 255, NULL},
    {"mode", XMEM_PARAM_ENUM, "binary", "binary: foreground 255; inverse: foreground 0", 0, 0,
     modes},
};

static const xmem_node_port inputs[] = {{"in", "frames of bytes"}};
static const xmem_node_port outputs[] = {{"out", "frames of 0 and 255, same layout"}};

static xmem_err init(xmem_node_t *node, void **state, xmem_error_t *err)
{
    threshold *t = malloc(sizeof *t);
    if (!t)
        return xmem_node_fail(node, err, "out of memory");
    int64_t level = xmem_node_param_int(node, "level");
    uint8_t fg = xmem_node_param_enum_index(node, "mode") == 0 ? 255 : 0;
    for (int v = 0; v < 256; v++)
        t->map[v] = v >= level ? fg : (uint8_t)(255 - fg);
    *state = t;
    return XMEM_OK;
}

static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *in,
                        xmem_error_t *err)
{
    (void)port;
    const threshold *t = state;
    /* Same size, layout and stamp as the input: downstream sees the producer's frame age. */
    XMEM_GUARD_AUTO xmem_guard_t out = XMEM_GUARD_INIT;
    void *data;
    xmem_err rc = xmem_node_acquire_like(node, in, &out, err);
    if (rc || (rc = xmem_guard_data_mut(&out, &data, err)))
        return rc;
    const uint8_t *src = xmem_guard_data(in);
    uint8_t *dst = data;
    for (size_t i = 0, n = xmem_guard_size(in); i < n; i++)
        dst[i] = t->map[src[i]];
    return xmem_node_publish(node, "out", &out, err);
}

static void fini(xmem_node_t *node, void *state)
{
    (void)node;
    free(state);
}

XMEM_NODE_DEFINE(.name = "threshold", .version = "1.0",
                 .description = "maps each byte to 0 or 255 around a level", .params = params,
                 .n_params = sizeof params / sizeof params[0], .inputs = inputs, .n_inputs = 1,
                 .outputs = outputs, .n_outputs = 1, .init = init, .process = process,
                 .fini = fini);
