/* videosrc: decodes a video file, a URL FFmpeg reads or a V4L2 camera straight into pool buffers of
 * the pixel format and size asked for (picture.h has the layouts), each stamped with its
 * presentation time and a sequence number; paced to the stream's rate or as fast as the graph takes
 * frames; ends its stream at the end of the file, or loops.
 *   - name: src
 *     plugin: videosrc
 *     params: {file: input.mkv, pixel_format: rgb24, width: 640, height: 360, realtime: true} */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include "common/fail.h"
#include "common/plural.h"
#include "ffmpeg_log.h"
#include "nodes/builtin/builtins.h"
#include "picture.h"
#include "video_decoder.h"

typedef struct videosrc {
    xmemi_decoder dec;
    xmemi_converter conv;
    xmemi_pixfmt pixfmt;
    int width, height; /* of the frames in the pool */
    size_t bytes;
    bool realtime, loop;
    uint64_t frames_max;              /* 0: the whole stream */
    uint64_t seq;                     /* frames published, and the next one's number */
    uint64_t start_ns;                /* the clock's time at stream time 0 (the first frame) */
    bool pass_started;                /* the current pass (loop) has its first frame */
    int64_t pass_first_ns, offset_ns; /* that frame's pts; stream time of the earlier passes */
    int64_t last_ns;                  /* the last frame's stream time */
} videosrc;

static const xmem_node_param params[] = {
    {"file", XMEM_PARAM_STRING, NULL, "a video file, a URL FFmpeg reads, or /dev/videoN", 0, 0,
     NULL},
    {"format", XMEM_PARAM_STRING, "", "input format or device (v4l2, rawvideo ...; '': guess)", 0,
     0, NULL},
    {"options", XMEM_PARAM_STRING, "", "input options, key=value:key=value (video_size=640x480)", 0,
     0, NULL},
    {"pixel_format", XMEM_PARAM_ENUM, "rgb24", "pixel format of the frames in the pool", 0, 0,
     xmemi_pixfmt_names},
    {"width", XMEM_PARAM_INT, "0", "frame width (0: the stream's, or kept in proportion)", 0, 16384,
     NULL},
    {"height", XMEM_PARAM_INT, "0", "frame height (0: the stream's, or kept in proportion)", 0,
     16384, NULL},
    {"realtime", XMEM_PARAM_BOOL, "false", "pace frames to the stream's timestamps", 0, 0, NULL},
    {"loop", XMEM_PARAM_BOOL, "false", "start again at the end of the file", 0, 0, NULL},
    {"frames", XMEM_PARAM_INT, "0", "frames to send, then end the stream (0: all)", 0, 1e15, NULL},
    {"threads", XMEM_PARAM_INT, "0", "decoder threads (0: FFmpeg's choice)", 0, 64, NULL},
    {"decoder", XMEM_PARAM_STRING, "", "decoder by name ('': the codec's usual one)", 0, 0, NULL},
    {"tolerate_errors", XMEM_PARAM_BOOL, "false",
     "log damaged data and carry on instead of failing", 0, 0, NULL},
};

static const xmem_node_port outputs[] = {{"out", "decoded frames"}};

/* The frame size: given, the stream's, or one side given and the other kept in proportion. */
static xmem_err choose_size(xmem_node_t *node, videosrc *s, xmem_error_t *err)
{
    int sw, sh;
    xmemi_decoder_size(&s->dec, &sw, &sh);
    int w = (int)xmem_node_param_int(node, "width"), h = (int)xmem_node_param_int(node, "height");
    if (sw <= 0 || sh <= 0)
        return xmemi_fail(err, XMEM_EMEDIA, 0, "file '%s': its video has no picture size",
                          s->dec.url);
    bool even = s->pixfmt == XMEMI_PIX_NV12 || s->pixfmt == XMEMI_PIX_YUV420P;
    if (!w && !h) {
        w = sw;
        h = sh;
    } else if (!w || !h) { /* the other side in proportion, even where 4:2:0 wants it */
        int *derived = w ? &h : &w;
        double v = w ? (double)w * sh / sw : (double)h * sw / sh;
        *derived = even ? 2 * (int)(v / 2 + 0.5) : (int)(v + 0.5);
        *derived = *derived < (even ? 2 : 1) ? (even ? 2 : 1) : *derived;
    }
    char what[96];
    snprintf(what, sizeof what, "width=%d, height=%d", w, h);
    s->width = w;
    s->height = h;
    s->bytes = xmemi_pixfmt_bytes(s->pixfmt, w, h);
    return xmemi_pixfmt_check_size(s->pixfmt, w, h, what, err);
}

static xmem_err init(xmem_node_t *node, void **state, xmem_error_t *err)
{
    videosrc *s = calloc(1, sizeof *s);
    if (!s)
        return xmem_node_fail(node, err, "out of memory");
    xmemi_ffmpeg_log_attach(node);
    s->pixfmt = (xmemi_pixfmt)xmem_node_param_enum_index(node, "pixel_format");
    s->realtime = xmem_node_param_bool(node, "realtime");
    s->loop = xmem_node_param_bool(node, "loop");
    s->frames_max = (uint64_t)xmem_node_param_int(node, "frames");
    xmemi_decoder_options o = {
        .url = xmem_node_param_string(node, "file"),
        .format = xmem_node_param_string(node, "format"),
        .options = xmem_node_param_string(node, "options"),
        .decoder = xmem_node_param_string(node, "decoder"),
        .threads = (int)xmem_node_param_int(node, "threads"),
        .tolerate = xmem_node_param_bool(node, "tolerate_errors"),
    };
    xmem_err rc = xmemi_decoder_open(&s->dec, &o, err);
    if (rc)
        goto fail;
    if ((rc = choose_size(node, s, err))) {
        xmemi_decoder_close(&s->dec);
        goto fail;
    }
    xmem_node_log(node, XMEM_LOG_INFO, "%s: %s %dx%d, into the pool as %s %dx%d", o.url,
                  s->dec.dec->codec->name, s->dec.dec->width, s->dec.dec->height,
                  xmemi_pixfmt_names[s->pixfmt], s->width, s->height);
    *state = s;
    return XMEM_OK;
fail:
    xmemi_ffmpeg_log_detach();
    free(s);
    return rc;
}

/* The next frame, starting the file again at its end when looping: XMEM_EEND when over. */
static xmem_err next_frame(videosrc *s, xmem_error_t *err)
{
    xmem_err rc = xmemi_decoder_next(&s->dec, err);
    if (rc != XMEM_EEND || !s->loop || !s->dec.frames)
        return rc; /* a pass without a frame would loop for ever */
    s->offset_ns = s->last_ns + xmemi_decoder_frame_ns(&s->dec);
    s->pass_started = false;
    if ((rc = xmemi_decoder_rewind(&s->dec, err)))
        return rc;
    return xmemi_decoder_next(&s->dec, err);
}

/* The frame's time from the first frame of the stream, in ns: its pts (the frame after the last
 * one where it has none), never going back. */
static int64_t stream_time(videosrc *s)
{
    int64_t pts = xmemi_decoder_pts_ns(&s->dec);
    int64_t t;
    if (pts == INT64_MIN) {
        t = s->seq ? s->last_ns + xmemi_decoder_frame_ns(&s->dec) : 0;
    } else {
        if (!s->pass_started) {
            s->pass_started = true;
            s->pass_first_ns = pts;
        }
        t = s->offset_ns + (pts - s->pass_first_ns);
    }
    if (s->seq && t <= s->last_ns)
        t = s->last_ns + 1;
    s->last_ns = t;
    return t;
}

/* Waits until the frame's time comes (realtime). A frame late by more than one frame's time moves
 * the schedule instead: after a stall the stream goes on at its rate, not in a burst. */
static void pace(xmem_node_t *node, videosrc *s, uint64_t due)
{
    uint64_t now = xmem_node_clock_ns();
    if (now > due + (uint64_t)xmemi_decoder_frame_ns(&s->dec)) {
        s->start_ns += now - due;
        return;
    }
    struct timespec ts = {.tv_sec = (time_t)(due / 1000000000ull),
                          .tv_nsec = (long)(due % 1000000000ull)};
    /* A stop signal interrupts the sleep (EINTR); the host then stops the node. */
    while (!xmem_node_stopping(node) &&
           clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

static xmem_err tick(xmem_node_t *node, void *state, xmem_error_t *err)
{
    videosrc *s = state;
    xmem_err rc = s->frames_max && s->seq >= s->frames_max ? XMEM_EEND : next_frame(s, err);
    if (rc == XMEM_EEND) {
        xmem_node_finish(node);
        return XMEM_OK;
    }
    if (rc)
        return rc;
    xmem_node_count_work(node, "decoded", 1);
    int64_t t = stream_time(s);
    if (!s->seq)
        s->start_ns = xmem_node_clock_ns();
    if (s->realtime)
        pace(node, s, s->start_ns + (uint64_t)t);
    if (xmem_node_stopping(node))
        return XMEM_OK;
    XMEM_GUARD_AUTO xmem_guard_t g = XMEM_GUARD_INIT;
    void *data;
    if ((rc = xmem_node_acquire(node, s->bytes, &g, err)) ||
        (rc = xmem_guard_data_mut(&g, &data, err)))
        return rc;
    xmemi_picture src = xmemi_picture_of(s->dec.frame), dst;
    xmemi_pixfmt_picture(s->pixfmt, s->width, s->height, data, &dst);
    if ((rc = xmemi_convert(&s->conv, &src, &dst, err)) ||
        (rc = xmemi_pixfmt_set_layout(&g, s->pixfmt, s->width, s->height, err)) ||
        (rc = xmem_guard_set_stamp(&g, s->seq, s->start_ns + (uint64_t)t, err)) ||
        (rc = xmem_node_publish(node, "out", &g, err)))
        return rc;
    if (++s->seq == s->frames_max)
        xmem_node_finish(node);
    return XMEM_OK;
}

static void fini(xmem_node_t *node, void *state)
{
    videosrc *s = state;
    if (!s)
        return;
    xmem_node_log(node, XMEM_LOG_INFO, "sent %" PRIu64 " frame%s of %s", s->seq, xmemi_s(s->seq),
                  s->dec.url);
    xmemi_decoder_close(&s->dec);
    xmemi_converter_free(&s->conv);
    xmemi_ffmpeg_log_detach();
    free(s);
}

XMEMI_BUILTIN_MODULE_DEFINE(xmemi_node_videosrc, .name = "videosrc", .version = "1.0",
                            .description = "decodes a video file, stream or camera into the pool",
                            .params = params, .n_params = sizeof params / sizeof params[0],
                            .outputs = outputs, .n_outputs = 1, .init = init, .tick = tick,
                            .fini = fini);
