/* Round trips through files: test frames from testsrc written by videosink with lossless FFV1 and
 * read back by videosrc arrive with every byte and every sequence number intact (verify checks
 * them), in each pixel format; read back scaled they have the asked shape; H.264 and MJPEG files
 * hold every frame; and the presentation times a file holds come out of videosrc as the frames'
 * stamps and go into a new file unchanged.
 *   testsrc -> videosink (ffv1) -> file -> videosrc -> verify */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>

#include "video_util.h"

#define FRAMES 30

static void setup(void)
{
    xgr_setup("video-rt");
}

TestSuite(roundtrip, .init = setup, .fini = xgr_teardown, .timeout = XF_TIMEOUT_LONG);

/* Copied into the test's own process by Criterion: no pointers. */
typedef struct format_case {
    char name[16];
    int channels; /* of the pool frame: [rows, width, channels] */
    bool planar;  /* 4:2:0: rows = height * 3 / 2 */
} format_case;

ParameterizedTestParameters(roundtrip, lossless)
{
    static format_case cases[] = {
        {"rgb24", 3, false},  {"bgr24", 3, false}, {"gray", 1, false},
        {"yuv420p", 1, true}, {"nv12", 1, true},
    };
    return cr_make_param_array(format_case, cases, sizeof cases / sizeof cases[0]);
}

/* Every byte of every frame and the order of the frames survive the file. */
ParameterizedTest(format_case *c, roundtrip, lossless)
{
    const int width = 64, height = 48, rows = c->planar ? height * 3 / 2 : height;
    char file[256], params[300];
    scratch_path(file, sizeof file, "lossless.mkv");
    snprintf(params, sizeof params, "codec: ffv1, pixel_format: %s", c->name);
    xvt_make_video(file, width, rows, c->channels, FRAMES, params);

    xvt_probe p;
    cr_assert(xvt_probe_file(file, &p), "%s cannot be read back", file);
    cr_assert(eq(str, p.codec, "ffv1"));
    cr_assert(eq(int, p.width, width));
    cr_assert(eq(int, p.height, height));
    cr_assert(eq(long, p.frames, FRAMES));
    cr_assert(not(p.errors));

    snprintf(params, sizeof params, "file: '%s', pixel_format: %s", file, c->name);
    xvt_write_graph(
        (xvt_node[]){{"src", "videosrc", params, NULL}, {"check", "verify", "expect: 30", NULL}},
        2);
    cr_assert(eq(int, xvt_run_graph(), 0), "%s", log_text());
    cr_assert(log_has("verified 30 frames: 0 bad, 0 gaps (0 frames missing), 0 out of order"), "%s",
              log_text());
    struct fy_document *doc = summary_doc();
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/0/work/what"), "decoded"));
    cr_assert(eq(long, summary_num(doc, "/nodes/0/work/count"), FRAMES));
    cr_assert(eq(long, summary_num(doc, "/nodes/1/in"), FRAMES));
    xvt_assert_pool_free(doc);
    fy_document_destroy(doc);
}

/* Scaled on the way in, frames have the asked size (or the other side in proportion, even for
 * 4:2:0), the pool layout of their format, and consecutive sequence numbers. */
Test(roundtrip, scaled_shape)
{
    char file[256], src[400], shape[200];
    scratch_path(file, sizeof file, "big.mkv");
    xvt_make_video(file, 160, 120, 3, FRAMES, "codec: ffv1");
    static const struct {
        const char *size, *format;
        int width, rows, channels;
    } cases[] = {
        {"width: 80, height: 60", "rgb24", 80, 60, 3},
        {"width: 100", "bgr24", 100, 75, 3},
        {"height: 33", "gray", 44, 33, 1},
        {"width: 100", "nv12", 100, 76 * 3 / 2, 1},
        {"width: 320, height: 240", "yuv420p", 320, 360, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(src, sizeof src, "file: '%s', pixel_format: %s, %s", file, cases[i].format,
                 cases[i].size);
        snprintf(shape, sizeof shape, "width: %d, height: %d, channels: %d, expect: %d",
                 cases[i].width, cases[i].rows, cases[i].channels, FRAMES);
        xvt_write_graph(
            (xvt_node[]){{"src", "videosrc", src, NULL}, {"shape", PLUGIN_SHAPECHECK, shape, NULL}},
            2);
        cr_assert(eq(int, xvt_run_graph(), 0), "%s %s:\n%s", cases[i].format, cases[i].size,
                  log_text());
        char said[128];
        snprintf(said, sizeof said, "shapecheck: %d frames of [%d, %d, %d], sequence 0..%d", FRAMES,
                 cases[i].rows, cases[i].width, cases[i].channels, FRAMES - 1);
        cr_assert(log_has(said), "%s", log_text());
        struct fy_document *doc = summary_doc();
        xvt_assert_pool_free(doc);
        fy_document_destroy(doc);
    }
}

/* The lossy codecs write every frame into a file FFmpeg reads, which videosrc reads back. */
Test(roundtrip, lossy_codecs)
{
    static const struct {
        const char *file, *params, *codec, *pix_fmt;
    } cases[] = {
        {"h264.mp4", "codec: h264, options: 'preset=ultrafast'", "h264", "yuv420p"},
        {"mjpeg.avi", "codec: mjpeg", "mjpeg", "yuvj420p"},
        {"h264.mkv", "codec: h264, pixel_format: nv12", "h264", "yuv420p"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char file[256], src[300];
        scratch_path(file, sizeof file, cases[i].file);
        bool nv12 = strstr(cases[i].params, "nv12") != NULL;
        xvt_make_video(file, 64, nv12 ? 72 : 48, nv12 ? 1 : 3, FRAMES, cases[i].params);
        xvt_probe p;
        cr_assert(xvt_probe_file(file, &p), "%s cannot be read back", file);
        cr_assert(eq(str, p.codec, (char *)cases[i].codec), "%s", file);
        cr_assert(eq(str, p.pix_fmt, (char *)cases[i].pix_fmt), "%s", file);
        cr_assert(eq(int, p.width, 64));
        cr_assert(eq(int, p.height, 48));
        cr_assert(eq(long, p.frames, FRAMES), "%s", file);
        snprintf(src, sizeof src, "file: '%s'", file);
        xvt_write_graph(
            (xvt_node[]){{"src", "videosrc", src, NULL},
                         {"shape", PLUGIN_SHAPECHECK, "width: 64, height: 48, expect: 30", NULL}},
            2);
        cr_assert(eq(int, xvt_run_graph(), 0), "%s:\n%s", file, log_text());
    }
}

/* A 25 fps file (times from sequence numbers) read as fast as it goes: videosrc stamps each frame
 * with its presentation time, and a videosink timing by stamps writes the same times again. */
Test(roundtrip, presentation_times_carry_through)
{
    char in[256], out[256];
    scratch_path(in, sizeof in, "25fps.mkv");
    scratch_path(out, sizeof out, "copy.mkv");
    xvt_make_video(in, 64, 48, 3, FRAMES, "timestamps: sequence, fps: 25");
    xvt_write_copy(in, "", out, "timestamps: stamp", NULL);
    cr_assert(eq(int, xvt_run_graph(), 0), "%s", log_text());
    xvt_probe a, b;
    cr_assert(xvt_probe_file(in, &a) && xvt_probe_file(out, &b));
    cr_assert(eq(long, b.frames, FRAMES));
    for (int i = 0; i < FRAMES; i++) {
        cr_assert(eq(i64, a.pts_ms[i], (int64_t)i * 40), "frame %d of the source", i);
        cr_assert(eq(i64, b.pts_ms[i], a.pts_ms[i]), "frame %d of the copy", i);
    }
}

/* realtime: frames leave at the stream's pace (30 frames of a 30 fps file take a second); loop:
 * the file starts again, sequence numbers and times run on without a gap or a step back. */
Test(roundtrip, realtime_and_loop)
{
    char in[256], out[256];
    scratch_path(in, sizeof in, "10.mkv");
    scratch_path(out, sizeof out, "looped.mkv");
    xvt_make_video(in, 64, 48, 3, 10, "timestamps: sequence, fps: 30");
    xvt_write_copy(
        in, "realtime: true, loop: true, frames: 30", out, "",
        &(xvt_node){"shape", PLUGIN_SHAPECHECK, "width: 64, height: 48, expect: 30", NULL});
    long start = xf_now_ms();
    cr_assert(eq(int, xvt_run_graph(), 0), "%s", log_text());
    long took = xf_now_ms() - start;
    cr_assert(ge(long, took, 950), "30 frames at 30 fps went out in %ld ms", took);
    xvt_probe p;
    cr_assert(xvt_probe_file(out, &p));
    cr_assert(eq(long, p.frames, FRAMES));
    for (int i = 1; i < FRAMES; i++)
        cr_assert(gt(i64, p.pts_ms[i], p.pts_ms[i - 1]), "frame %d: %lld ms after %lld ms", i,
                  (long long)p.pts_ms[i], (long long)p.pts_ms[i - 1]);
    /* Presentation times: 33-34 ms apart, also across the loop (frame 9 -> 10), unless a stall
     * of the machine moved the schedule, which only ever makes a gap longer. */
    cr_assert(ge(i64, p.pts_ms[FRAMES - 1], (FRAMES - 1) * 33), "%lld ms",
              (long long)p.pts_ms[FRAMES - 1]);
    cr_assert(ge(i64, p.pts_ms[10] - p.pts_ms[9], 33));
}
