/* A test sink that checks every frame's layout (u8 [height, width, channels]) and that sequence
 * numbers run 0, 1, 2 ... without a gap; with expect=N it fails unless exactly N frames came. It
 * logs "shapecheck: N frames of [H, W, C], sequence 0..N-1" at the end.
 *   - name: shape
 *     plugin: shapecheck.so
 *     inputs: {in: {from: src/out, policy: block}}
 *     params: {width: 160, height: 120, channels: 3, expect: 30} */
#include <inttypes.h>
#include <stdlib.h>

#include <xmem/node.h>

typedef struct shapecheck {
    int64_t shape[3]; /* height, width, channels */
    uint64_t expect, received;
} shapecheck;

static const xmem_node_param params[] = {
    {"width", XMEM_PARAM_INT, NULL, "frame width", 1, 65536, NULL},
    {"height", XMEM_PARAM_INT, NULL, "rows of the frame", 1, 65536, NULL},
    {"channels", XMEM_PARAM_INT, "3", "elements per pixel", 1, 4, NULL},
    {"expect", XMEM_PARAM_INT, "0", "frames that must arrive (0: any number)", 0, 1e9, NULL},
};

static const xmem_node_port inputs[] = {{"in", "frames"}};

static xmem_err init(xmem_node_t *node, void **state, xmem_error_t *err)
{
    shapecheck *s = calloc(1, sizeof *s);
    if (!s)
        return xmem_node_fail(node, err, "out of memory");
    s->shape[0] = xmem_node_param_int(node, "height");
    s->shape[1] = xmem_node_param_int(node, "width");
    s->shape[2] = xmem_node_param_int(node, "channels");
    s->expect = (uint64_t)xmem_node_param_int(node, "expect");
    *state = s;
    return XMEM_OK;
}

static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *in,
                        xmem_error_t *err)
{
    (void)port;
    shapecheck *s = state;
    xmem_meta_t m;
    xmem_err rc = xmem_guard_meta(in, &m, err);
    if (rc)
        return rc;
    if (m.dtype != XMEM_DTYPE_U8 || m.ndim != 3 || m.shape[0] != s->shape[0] ||
        m.shape[1] != s->shape[1] || m.shape[2] != s->shape[2])
        return xmem_node_fail(node, err,
                              "frame %" PRIu64 ": %s ndim %u [%" PRId64 ", %" PRId64 ", %" PRId64
                              "], expected u8 [%" PRId64 ", %" PRId64 ", %" PRId64 "]",
                              m.sequence, xmem_dtype_name(m.dtype), m.ndim, m.shape[0], m.shape[1],
                              m.shape[2], s->shape[0], s->shape[1], s->shape[2]);
    if (m.sequence != s->received)
        return xmem_node_fail(node, err, "frame #%" PRIu64 " received has sequence %" PRIu64,
                              s->received, m.sequence);
    s->received++;
    return XMEM_OK;
}

static void fini(xmem_node_t *node, void *state)
{
    shapecheck *s = state;
    if (!s)
        return;
    xmem_node_log(node, XMEM_LOG_INFO,
                  "shapecheck: %" PRIu64 " frames of [%" PRId64 ", %" PRId64 ", %" PRId64
                  "], sequence 0..%" PRId64,
                  s->received, s->shape[0], s->shape[1], s->shape[2], (int64_t)s->received - 1);
    if (s->expect && s->received != s->expect)
        xmem_node_fail(node, NULL, "received %" PRIu64 " frames, expected %" PRIu64, s->received,
                       s->expect);
    free(s);
}

XMEM_NODE_DEFINE(.name = "shapecheck", .version = "1.0",
                 .description = "checks frame layouts and sequence numbers", .params = params,
                 .n_params = sizeof params / sizeof params[0], .inputs = inputs, .n_inputs = 1,
                 .init = init, .process = process, .fini = fini);
