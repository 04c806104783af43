/* videosink: encodes the frames it receives into a video file (container from the file's name,
 * codec by parameter: lossless FFV1, H.264 through libx264, MJPEG), timed by the frames' stamps,
 * and finishes the file when its stream ends, when it is stopped (SIGTERM, Ctrl-C) and when it
 * fails. A SIGKILL leaves the file cut where it was (docs/VIDEO.md).
 *   - name: rec
 *     plugin: videosink
 *     inputs: {in: {from: src/out, policy: block}}
 *     params: {file: out.mp4, codec: h264, options: "preset=veryfast:crf=23"} */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <libavutil/pixdesc.h>

#include "common/fail.h"
#include "common/plural.h"
#include "ffmpeg_log.h"
#include "nodes/builtin/builtins.h"
#include "picture.h"
#include "video_encoder.h"

static const char *const codecs[] = {"ffv1", "h264", "mjpeg", NULL};
static const char *const timings[] = {"stamp", "sequence", NULL};

/* Stamps (ns) become milliseconds: what Matroska keeps anyway, and fine for any frame rate. */
#define STAMP_TIME_BASE                                                                            \
    (AVRational)                                                                                   \
    {                                                                                              \
        1, 1000                                                                                    \
    }

typedef struct videosink {
    xmemi_encoder enc;
    xmemi_converter conv;
    xmemi_pixfmt pixfmt;
    const char *path;
    bool by_sequence; /* timestamps from sequence numbers at `fps`, not from stamps */
    bool started;
    int width, height;
    uint64_t first_stamp, first_seq;
    int64_t last_pts;
    uint64_t frames;  /* encoded */
    uint64_t retimed; /* frames whose time had to move to keep times increasing */
} videosink;

static const xmem_node_param params[] = {
    {"file", XMEM_PARAM_STRING, NULL, "the video file to write (its name picks the container)", 0,
     0, NULL},
    {"codec", XMEM_PARAM_ENUM, "ffv1", "ffv1 (lossless), h264 (libx264) or mjpeg", 0, 0, codecs},
    {"encoder", XMEM_PARAM_STRING, "", "encoder by name ('': the codec's usual one)", 0, 0, NULL},
    {"options", XMEM_PARAM_STRING, "", "encoder options, key=value:key=value (preset=veryfast)", 0,
     0, NULL},
    {"pixel_format", XMEM_PARAM_ENUM, "rgb24", "pixel format of the frames received", 0, 0,
     xmemi_pixfmt_names},
    {"file_pixel_format", XMEM_PARAM_STRING, "", "pixel format in the file ('': the codec's usual)",
     0, 0, NULL},
    {"fps", XMEM_PARAM_FLOAT, "30", "nominal frame rate (and the rate of timestamps=sequence)",
     0.001, 1000, NULL},
    {"timestamps", XMEM_PARAM_ENUM, "stamp",
     "frame times from the stamps' clock times, or sequence numbers at fps", 0, 0, timings},
    {"threads", XMEM_PARAM_INT, "0", "encoder threads (0: FFmpeg's choice)", 0, 64, NULL},
};

static const xmem_node_port inputs[] = {{"in", "frames to record"}};

static xmem_err init(xmem_node_t *node, void **state, xmem_error_t *err)
{
    videosink *s = calloc(1, sizeof *s);
    if (!s)
        return xmem_node_fail(node, err, "out of memory");
    xmemi_ffmpeg_log_attach(node);
    s->path = xmem_node_param_string(node, "file");
    s->pixfmt = (xmemi_pixfmt)xmem_node_param_enum_index(node, "pixel_format");
    s->by_sequence = xmem_node_param_enum_index(node, "timestamps") == 1;
    AVRational rate = av_d2q(xmem_node_param_float(node, "fps"), 100000);
    xmemi_encoder_options o = {
        .path = s->path,
        .codec = xmem_node_param_enum(node, "codec"),
        .encoder = xmem_node_param_string(node, "encoder"),
        .options = xmem_node_param_string(node, "options"),
        .pixel_format = xmem_node_param_string(node, "file_pixel_format"),
        .threads = (int)xmem_node_param_int(node, "threads"),
        .time_base = s->by_sequence ? av_inv_q(rate) : STAMP_TIME_BASE,
        .frame_rate = rate,
    };
    xmem_err rc = xmemi_encoder_open(&s->enc, &o, err);
    if (rc) {
        xmemi_ffmpeg_log_detach();
        free(s);
        return rc;
    }
    *state = s;
    return XMEM_OK;
}

/* The frame's time in the encoder's time base, from the first frame's, always increasing. */
static int64_t frame_pts(videosink *s, uint64_t seq, uint64_t stamp)
{
    int64_t pts;
    if (s->by_sequence)
        pts = (int64_t)(seq - s->first_seq);
    else
        pts = av_rescale_q((int64_t)(stamp - s->first_stamp), (AVRational){1, 1000000000},
                           STAMP_TIME_BASE);
    if (s->frames && pts <= s->last_pts) {
        pts = s->last_pts + 1;
        s->retimed++;
    }
    s->last_pts = pts;
    return pts;
}

static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *in,
                        xmem_error_t *err)
{
    (void)port;
    videosink *s = state;
    xmemi_picture src, dst;
    uint64_t seq = 0, stamp = 0;
    xmem_err rc = xmemi_pixfmt_read(in, s->pixfmt, &src, err);
    if (rc || (rc = xmem_guard_stamp(in, &seq, &stamp, err)))
        return rc;
    if (!s->started) {
        if ((rc = xmemi_encoder_start(&s->enc, src.width, src.height, src.format, err)))
            return rc;
        s->started = true;
        s->width = src.width;
        s->height = src.height;
        s->first_seq = seq;
        s->first_stamp = stamp;
    } else if (src.width != s->width || src.height != s->height) {
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "frame %" PRIu64 ": %dx%d, but file '%s' holds %dx%d frames", seq,
                          src.width, src.height, s->path, s->width, s->height);
    }
    if ((rc = xmemi_encoder_picture(&s->enc, &dst, err)) ||
        (rc = xmemi_convert(&s->conv, &src, &dst, err)) ||
        (rc = xmemi_encoder_send(&s->enc, frame_pts(s, seq, stamp), err)))
        return rc;
    s->frames++;
    xmem_node_count_work(node, "encoded", 1);
    xmem_node_report_file(node, s->path, s->frames, false);
    return XMEM_OK;
}

static void fini(xmem_node_t *node, void *state)
{
    videosink *s = state;
    if (!s)
        return;
    xmem_error_t err = {0};
    if (!s->frames) {
        xmem_node_log(node, XMEM_LOG_INFO, "no frame encoded: %s not written", s->path);
    } else if (xmemi_encoder_finish(&s->enc, &err)) {
        xmem_node_report_file(node, s->path, s->frames, false);
        xmem_node_fail(node, NULL, "%s", err.msg);
    } else {
        xmem_node_report_file(node, s->path, s->frames, true);
        char retimed[96] = "";
        if (s->retimed)
            snprintf(retimed, sizeof retimed,
                     "; %" PRIu64 " frame%s moved to keep times increasing", s->retimed,
                     xmemi_s(s->retimed));
        xmem_node_log(node, XMEM_LOG_INFO, "wrote %" PRIu64 " frame%s of %dx%d to %s (%s, %s)%s",
                      s->frames, xmemi_s(s->frames), s->width, s->height, s->path,
                      s->enc.codec->name, av_get_pix_fmt_name(s->enc.enc->pix_fmt), retimed);
    }
    xmemi_encoder_close(&s->enc);
    xmemi_converter_free(&s->conv);
    xmemi_ffmpeg_log_detach();
    free(s);
}

XMEMI_BUILTIN_MODULE_DEFINE(xmemi_node_videosink, .name = "videosink", .version = "1.0",
                            .description = "encodes frames into a video file", .params = params,
                            .n_params = sizeof params / sizeof params[0], .inputs = inputs,
                            .n_inputs = 1, .init = init, .process = process, .fini = fini);
