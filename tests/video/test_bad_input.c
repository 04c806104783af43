/* Bad input, each its own clear error naming the thing at fault, and the pool all free after:
 * a missing file, a directory, garbage, a file with no video stream, a file cut short and one
 * damaged in the middle (the error names the frame where it breaks, the frames before it went
 * through, and the restart policy applies); unknown formats, decoders, encoders, options, pixel
 * formats and containers; frames of the wrong layout for a sink; an image name without a number. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <sys/stat.h>

#include "video_util.h"

#define FRAMES 30

static char good[256]; /* a 30-frame FFV1 file, 64x48 */

static void setup(void)
{
    xgr_setup("video-bad");
}

TestSuite(bad_input, .init = setup, .fini = xgr_teardown, .timeout = XF_TIMEOUT_LONG);

static void make_good(void)
{
    scratch_path(good, sizeof good, "good.mkv");
    xvt_make_video(good, 64, 48, 3, FRAMES, "codec: ffv1");
}

/* Runs videosrc (with `params` after its file) into a null sink: the exit status. */
static int read_into_null(const char *file, const char *params, const char *restart)
{
    char src[512], policy[128];
    snprintf(src, sizeof src, "file: '%s'%s%s", file, params[0] ? ", " : "", params);
    snprintf(policy, sizeof policy, "restart: %s", restart);
    xvt_write_graph((xvt_node[]){{"src", "videosrc", src, policy}, {"sink", "null", "", NULL}}, 2);
    return xvt_run_graph();
}

/* The source failed with `text` in its log, the run said so, and every buffer came back. */
static void expect_source_failed(const char *text)
{
    cr_assert(log_has(text), "no \"%s\" in:\n%s", text, log_text());
    struct fy_document *doc = summary_doc();
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/0/state"), "failed"));
    xvt_assert_pool_free(doc);
    fy_document_destroy(doc);
}

static void copy_file(const char *from, const char *to, long bytes)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    cr_assert(in && out);
    char buf[65536];
    size_t n;
    long left = bytes;
    while (left > 0 &&
           (n = fread(buf, 1, sizeof buf < (size_t)left ? sizeof buf : (size_t)left, in)) > 0) {
        fwrite(buf, 1, n, out);
        left -= (long)n;
    }
    fclose(in);
    fclose(out);
}

static long file_size(const char *path)
{
    struct stat st;
    cr_assert(eq(int, stat(path, &st), 0), "%s", path);
    return (long)st.st_size;
}

Test(bad_input, missing_file)
{
    char file[256];
    scratch_path(file, sizeof file, "nowhere.mkv");
    cr_assert(eq(int, read_into_null(file, "", "never"), 1), "%s", log_text());
    char want[512];
    snprintf(want, sizeof want, "init failed: file '%s': No such file or directory", file);
    expect_source_failed(want);
}

Test(bad_input, a_directory)
{
    cr_assert(eq(int, read_into_null(dir, "", "never"), 1));
    expect_source_failed("': Is a directory");
}

Test(bad_input, garbage)
{
    char file[256];
    scratch_path(file, sizeof file, "garbage.mkv");
    FILE *f = fopen(file, "wb");
    for (int i = 0; i < 20000; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    cr_assert(eq(int, read_into_null(file, "", "never"), 1));
    char want[512];
    snprintf(want, sizeof want, "init failed: file '%s': Invalid data found when processing input",
             file);
    expect_source_failed(want);
}

/* A WAV file: one audio stream, no video. */
Test(bad_input, no_video_stream)
{
    char file[256];
    scratch_path(file, sizeof file, "tone.wav");
    FILE *f = fopen(file, "wb");
    const uint32_t rate = 8000, samples = 8000, data = samples * 2;
    struct __attribute__((packed)) {
        char riff[4];
        uint32_t size;
        char wave[4], fmt[4];
        uint32_t fmt_size;
        uint16_t format, channels;
        uint32_t rate, byte_rate;
        uint16_t align, bits;
        char data[4];
        uint32_t data_size;
    } h = {{'R', 'I', 'F', 'F'},
           36 + data,
           {'W', 'A', 'V', 'E'},
           {'f', 'm', 't', ' '},
           16,
           1,
           1,
           rate,
           rate * 2,
           2,
           16,
           {'d', 'a', 't', 'a'},
           data};
    fwrite(&h, sizeof h, 1, f);
    for (uint32_t i = 0; i < samples; i++) {
        int16_t s = (int16_t)((i % 40) * 800 - 16000);
        fwrite(&s, 2, 1, f);
    }
    fclose(f);
    cr_assert(eq(int, read_into_null(file, "", "never"), 1));
    expect_source_failed("': no video stream (it has audio pcm_s16le)");
}

/* Number N of "frame N:" in the log's failure, or -1. */
static long failed_frame(const char *file)
{
    char want[320];
    snprintf(want, sizeof want, "tick failed: file '%s', frame ", file);
    const char *at = strstr(log_text(), want);
    return at ? strtol(at + strlen(want), NULL, 10) : -1;
}

/* Cut at 60 %: the frames before the cut go downstream, then the error names the frame. */
Test(bad_input, truncated_file)
{
    make_good();
    char file[256];
    scratch_path(file, sizeof file, "cut.mkv");
    copy_file(good, file, file_size(good) * 6 / 10);
    cr_assert(eq(int, read_into_null(file, "", "never"), 1), "%s", log_text());
    expect_source_failed("File ended prematurely");
    long at = failed_frame(file);
    cr_assert(gt(long, at, 5), "%s", log_text());
    cr_assert(lt(long, at, FRAMES), "%s", log_text());
    struct fy_document *doc = summary_doc();
    cr_assert(eq(long, summary_num(doc, "/nodes/1/in"), at), "the frames before the cut");
    fy_document_destroy(doc);
}

/* Bytes flipped in the middle: FFV1's slice CRC (videosink writes level 3) catches the frame. */
static void make_damaged(char *file, size_t len)
{
    make_good();
    scratch_path(file, len, "damaged.mkv");
    long size = file_size(good);
    copy_file(good, file, size);
    FILE *f = fopen(file, "r+b");
    cr_assert(f != NULL);
    for (long i = size / 2; i < size / 2 + 64; i++) {
        fseek(f, i, SEEK_SET);
        int c = fgetc(f);
        fseek(f, i, SEEK_SET);
        fputc(c ^ 0x5a, f);
    }
    fclose(f);
}

Test(bad_input, damaged_file)
{
    char file[256];
    make_damaged(file, sizeof file);
    cr_assert(eq(int, read_into_null(file, "", "never"), 1), "%s", log_text());
    expect_source_failed("ffv1: slice CRC mismatch");
    long at = failed_frame(file);
    cr_assert(gt(long, at, 5), "%s", log_text());
    cr_assert(lt(long, at, FRAMES - 5), "%s", log_text());
}

/* The node fails per its restart policy: restarted twice, failing each time, then for good. */
Test(bad_input, damaged_file_restarts_per_policy)
{
    char file[256];
    make_damaged(file, sizeof file);
    cr_assert(eq(int, read_into_null(file, "", "{policy: on-failure, limit: 2}"), 1));
    expect_source_failed("xmem run: node 'src' failed for good");
    struct fy_document *doc = summary_doc();
    cr_assert(eq(long, summary_num(doc, "/nodes/0/restarts"), 2));
    fy_document_destroy(doc);
}

/* tolerate_errors: the damage is logged and every frame still comes out. */
Test(bad_input, damaged_file_tolerated)
{
    char file[256];
    make_damaged(file, sizeof file);
    cr_assert(eq(int, read_into_null(file, "tolerate_errors: true", "never"), 0), "%s", log_text());
    cr_assert(log_has("warn: ffmpeg: ffv1: slice CRC mismatch"), "%s", log_text());
    struct fy_document *doc = summary_doc();
    cr_assert(eq(long, summary_num(doc, "/nodes/1/in"), FRAMES));
    xvt_assert_pool_free(doc);
    fy_document_destroy(doc);
}

Test(bad_input, unknown_source_settings)
{
    make_good();
    static const struct {
        const char *params, *said;
    } cases[] = {
        {"format: nosuch", "format 'nosuch': no such input format or device in this FFmpeg"},
        {"options: 'nosuch=1'", "format 'matroska,webm' has no option nosuch"},
        {"options: 'novalue'", "options 'novalue' (expected key=value:key=value)"},
        {"decoder: nosuch", "decoder 'nosuch': no such decoder in this FFmpeg"},
        {"decoder: mjpeg", "decoder 'mjpeg' decodes mjpeg; file '"},
        {"pixel_format: rgb565", "parameter 'pixel_format' = 'rgb565'"},
        {"pixel_format: nv12, width: 63", "width=63, height=48: nv12 needs an even width"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = read_into_null(good, cases[i].params, "never");
        cr_assert(ne(int, rc, 0), "%s", cases[i].params);
        cr_assert(log_has(cases[i].said), "%s: no \"%s\" in:\n%s", cases[i].params, cases[i].said,
                  log_text());
        if (rc == 1) { /* it ran (3: the graph was refused before anything started) */
            struct fy_document *doc = summary_doc();
            xvt_assert_pool_free(doc);
            fy_document_destroy(doc);
        }
    }
}

/* `xmem node --plugin PLUGIN --param file=FILE --param P...` on a pool of the test's own, with
 * its input wired to nothing: a node whose init fails is seen without a graph around it (in one,
 * its source would wait --start-timeout for it). The exit status; the pool is checked all free. */
static int run_sink_alone(const char *plugin, const char *file, const char *const *params)
{
    char name[XMEM_POOL_NAME_MAX + 1], file_param[300], input[300];
    xmem_pool_t *own = xf_pool_create(name, "video-bad", 16);
    snprintf(file_param, sizeof file_param, "file=%s", file);
    snprintf(input, sizeof input, "in=ipc://%s/in.ipc", dir);
    const char *args[16] = {"node",    "--plugin", plugin,    "--pool",  name,
                            "--input", input,      "--param", file_param};
    int n = 9;
    for (int i = 0; params[i] && n < 14; i++) {
        args[n++] = "--param";
        args[n++] = params[i];
    }
    args[n] = NULL;
    int rc = run_xmem(args);
    cr_assert(eq(u32, xmem_pool_free_count(own), 16));
    xmem_pool_destroy(&own);
    return rc;
}

/* Sink settings that cannot work fail in init (exit 1; 3 for a value the parameter check
 * refuses), name what is wrong, and leave no file behind. */
Test(bad_input, unknown_sink_settings)
{
    char out[256], missing_dir[256];
    scratch_path(out, sizeof out, "out.mkv");
    scratch_path(missing_dir, sizeof missing_dir, "no/such/dir/out.mkv");
    static const struct {
        const char *file, *params[3], *said;
        int status;
    } cases[] = {
        {NULL, {"codec=h265"}, "parameter 'codec' = 'h265'", 3},
        {NULL, {"encoder=nosuch"}, "encoder 'nosuch': no such encoder in this FFmpeg", 1},
        {NULL,
         {"codec=h264", "options=preset=fast:nosuch=1"},
         "encoder 'libx264' has no option 'nosuch'",
         1},
        {NULL,
         {"codec=h264", "file_pixel_format=rgb48le"},
         "pixel format 'rgb48le': encoder 'libx264' takes yuv420p",
         1},
        {"out.nosuch", {"codec=ffv1"}, "': no container for that name", 1},
        {"out.mp4", {"codec=ffv1"}, "': a mp4 file cannot hold ffv1 video", 1},
        {"", {"codec=ffv1"}, "no/such/dir/out.mkv': No such file or directory", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char file[256];
        if (!cases[i].file)
            snprintf(file, sizeof file, "%s", out);
        else if (!cases[i].file[0])
            snprintf(file, sizeof file, "%s", missing_dir);
        else
            scratch_path(file, sizeof file, cases[i].file);
        cr_assert(eq(int, run_sink_alone("videosink", file, cases[i].params), cases[i].status),
                  "%s:\n%s", cases[i].params[0], log_text());
        cr_assert(log_has(cases[i].said), "%s: no \"%s\" in:\n%s", cases[i].params[0],
                  cases[i].said, log_text());
        cr_assert(ne(int, access(file, F_OK), 0), "%s left behind", file);
    }
}

/* Gray frames to a sink told they are rgb24: the first one is refused, naming what it is. */
Test(bad_input, frames_of_the_wrong_layout)
{
    char out[256], rec[300];
    scratch_path(out, sizeof out, "wrong.mkv");
    snprintf(rec, sizeof rec, "file: '%s'", out);
    xvt_write_graph(
        (xvt_node[]){{"src", "testsrc", "width: 64, height: 48, channels: 1, frames: 5", NULL},
                     {"rec", "videosink", rec, NULL}},
        2);
    cr_assert(eq(int, xvt_run_graph(), 1), "%s", log_text());
    cr_assert(log_has("frame 0: a u8 [48, 64, 1] buffer of 3072 bytes is not a rgb24 frame "
                      "(expected u8 [height, width, 3])"),
              "%s", log_text());
    cr_assert(ne(int, access(out, F_OK), 0), "an empty file left behind");
    struct fy_document *doc = summary_doc();
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/1/state"), "failed"));
    xvt_assert_pool_free(doc);
    fy_document_destroy(doc);
}

Test(bad_input, image_name_without_a_number)
{
    char pattern[256];
    scratch_path(pattern, sizeof pattern, "frame.png");
    cr_assert(eq(int, run_sink_alone("imagesink", pattern, (const char *[]){NULL}), 1), "%s",
              log_text());
    cr_assert(log_has("frame.png': put the frame number in it as %d or %06d"), "%s", log_text());
}

Test(bad_input, image_directory_missing)
{
    char pattern[256];
    scratch_path(pattern, sizeof pattern, "nowhere/f-%03d.png");
    cr_assert(eq(int, run_sink_alone("imagesink", pattern, (const char *[]){NULL}), 1), "%s",
              log_text());
    cr_assert(log_has("nowhere': No such file or directory"), "%s", log_text());
}
