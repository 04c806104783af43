/* testsrc: a source of test frames (testframe.h) for exercising pipelines: each frame carries its
 * sequence number, timestamp and a checksum that verify checks downstream.
 *   - name: src
 *     plugin: testsrc
 *     params: {width: 1920, height: 1080, channels: 3, frames: 500} */
#include <inttypes.h>
#include <stdlib.h>

#include "builtins.h"
#include "testframe.h"

/* Keeps derived sizes within what `size` itself may ask for. */
#define MAX_FRAME_BYTES (1ull << 34)

typedef struct testsrc {
    uint64_t size; /* bytes per frame */
    bool raw;      /* `size` was given: no layout */
    xmem_dtype dtype;
    int64_t shape[3]; /* height, width, channels */
    uint64_t frames;  /* 0: unlimited */
    uint64_t seq;     /* the next frame's number, also the count sent */
} testsrc;

static const char *const dtypes[] = {"u8",  "i8",  "u16",  "i16", "u32", "i32", "u64",
                                     "i64", "f16", "bf16", "f32", "f64", NULL};

static const xmem_node_param params[] = {
    {"width", XMEM_PARAM_INT, "640", "frame width in elements", 1, 65536, NULL},
    {"height", XMEM_PARAM_INT, "480", "frame height in elements", 1, 65536, NULL},
    {"channels", XMEM_PARAM_INT, "3", "elements per pixel", 1, 64, NULL},
    {"dtype", XMEM_PARAM_ENUM, "u8", "element type", 0, 0, dtypes},
    {"size", XMEM_PARAM_INT, "0", "frame bytes, no layout (0: width*height*channels*dtype)", 0,
     (double)MAX_FRAME_BYTES, NULL},
    {"frames", XMEM_PARAM_INT, "0", "frames to send, then end the stream (0: unlimited)", 0, 1e15,
     NULL},
};

static const xmem_node_port outputs[] = {{"out", "test frames"}};

static xmem_err init(xmem_node_t *node, void **state, xmem_error_t *err)
{
    testsrc s = {
        .shape = {xmem_node_param_int(node, "height"), xmem_node_param_int(node, "width"),
                  xmem_node_param_int(node, "channels")},
        .frames = (uint64_t)xmem_node_param_int(node, "frames"),
    };
    xmem_err rc = xmem_dtype_from_name(xmem_node_param_enum(node, "dtype"), &s.dtype, err);
    if (rc)
        return rc;
    int64_t size = xmem_node_param_int(node, "size");
    if (size > 0) {
        s.size = (uint64_t)size;
        s.raw = true;
        if (s.size < XMEMI_TESTFRAME_HEADER)
            return xmem_node_fail(node, err,
                                  "size=%" PRIu64 " is smaller than a test frame's %u-byte header",
                                  s.size, XMEMI_TESTFRAME_HEADER);
    } else {
        s.size = (uint64_t)s.shape[0] * (uint64_t)s.shape[1] * (uint64_t)s.shape[2] *
                 xmem_dtype_size(s.dtype);
        if (s.size < XMEMI_TESTFRAME_HEADER || s.size > MAX_FRAME_BYTES)
            return xmem_node_fail(node, err,
                                  "width*height*channels*dtype = %" PRId64 "*%" PRId64 "*%" PRId64
                                  "*%s = %" PRIu64 " bytes, must be in [%u, %llu]: change them "
                                  "or set size",
                                  s.shape[1], s.shape[0], s.shape[2], xmem_dtype_name(s.dtype),
                                  s.size, XMEMI_TESTFRAME_HEADER, MAX_FRAME_BYTES);
    }
    testsrc *p = malloc(sizeof *p);
    if (!p)
        return xmem_node_fail(node, err, "out of memory");
    *p = s;
    *state = p;
    return XMEM_OK;
}

static xmem_err tick(xmem_node_t *node, void *state, xmem_error_t *err)
{
    testsrc *s = state;
    if (s->frames && s->seq >= s->frames) {
        xmem_node_finish(node);
        return XMEM_OK;
    }
    XMEM_GUARD_AUTO xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_err rc = xmem_node_acquire(node, s->size, &g, err);
    if (rc)
        return rc;
    void *data;
    if ((rc = xmem_guard_data_mut(&g, &data, err)))
        return rc;
    /* One timestamp in both places, so header and record agree on the frame's age. */
    uint64_t now = xmem_node_clock_ns();
    xmemi_testframe_fill(data, s->size, s->seq, now);
    if (!s->raw && (rc = xmem_guard_set_layout(&g, s->dtype, 3, s->shape, NULL, err)))
        return rc;
    if ((rc = xmem_guard_set_stamp(&g, s->seq, now, err)))
        return rc;
    if ((rc = xmem_node_publish(node, "out", &g, err)))
        return rc;
    if (++s->seq == s->frames)
        xmem_node_finish(node);
    return XMEM_OK;
}

static void fini(xmem_node_t *node, void *state)
{
    testsrc *s = state;
    if (!s)
        return;
    xmem_node_log(node, XMEM_LOG_INFO, "sent %" PRIu64 " frames of %" PRIu64 " bytes", s->seq,
                  s->size);
    free(s);
}

XMEMI_BUILTIN_DEFINE(xmemi_node_testsrc, .name = "testsrc", .version = "1.0",
                     .description = "generates test frames that verify can check", .params = params,
                     .n_params = sizeof params / sizeof params[0], .outputs = outputs,
                     .n_outputs = 1, .init = init, .tick = tick, .fini = fini);
