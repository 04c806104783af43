/* Recording and what `xmem run` shows of it: videosink finishes its file at the end of the stream,
 * when the launcher stops the graph, and when it is sent SIGTERM itself (every frame it counted is
 * in the file, which reads to its end); a SIGKILLed one leaves a file the summary marks
 * unfinished; imagesink saves every Nth frame as a PNG named by its sequence number; the live
 * table shows the decode and encode rates and the summary the files with their frame counts;
 * examples/make-video.yaml and examples/video.yaml run. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <signal.h>

#include "video_util.h"

static void setup(void)
{
    xgr_setup("video-rec");
}

TestSuite(recording, .init = setup, .fini = xgr_teardown, .timeout = XF_TIMEOUT_LONG);

/* The graph: testsrc at 30 fps without end -> rec (videosink, FFV1 into `file`). */
static void write_recording(const char *file)
{
    char rec[300];
    snprintf(rec, sizeof rec, "file: '%s'", file);
    xvt_write_graph((xvt_node[]){{"src", "testsrc", "width: 64, height: 48", "rate: 30"},
                                 {"rec", "videosink", rec, NULL}},
                    2);
}

/* What the summary says of the file (frames, finished), of the sink (frames in) and the pool. */
static void recorded(long *frames, bool *finished, long *in)
{
    struct fy_document *doc = summary_doc();
    *frames = summary_num(doc, "/nodes/1/files/0/frames");
    *finished = strcmp(summary_str(doc, "/nodes/1/files/0/finished"), "true") == 0;
    *in = summary_num(doc, "/nodes/1/in");
    xvt_assert_pool_free(doc);
    fy_document_destroy(doc);
}

/* --duration: the launcher stops the source and the end of the stream reaches the sink, which
 * finishes the file with every frame it received. */
Test(recording, the_launchers_stop_finishes_the_file)
{
    char file[256];
    scratch_path(file, sizeof file, "stopped.mkv");
    write_recording(file);
    cr_assert(eq(int,
                 run_xmem((const char *[]){"run", "--interval", "0", "--duration", "1.5",
                                           "--summary", summary, graph, NULL}),
                 0),
              "%s", log_text());
    long frames, in;
    bool finished;
    recorded(&frames, &finished, &in);
    cr_assert(finished);
    cr_assert(ge(long, frames, 20), "1.5 s at 30 fps");
    cr_assert(eq(long, frames, in));
    xvt_probe p;
    cr_assert(xvt_probe_file(file, &p));
    cr_assert(eq(long, p.frames, frames));
    cr_assert(not(p.errors));
}

/* The pid of node `index`, once the launcher's table lists both nodes. */
static pid_t node_pid(int index)
{
    pid_t pids[4];
    for (int i = 0; i < 200 && node_pids(pids, 4) < 2; i++)
        xf_sleep_ms(50);
    cr_assert(eq(int, node_pids(pids, 4), 2), "no node table:\n%s", log_text());
    return pids[index];
}

/* Records for a second, sends `sig` to the sink, then stops the run: its exit status. */
static int record_then_signal_sink(const char *file, int sig)
{
    write_recording(file);
    pid_t run =
        start_xmem((const char *[]){"run", "--interval", "0", "--summary", summary, graph, NULL});
    pid_t sink = node_pid(1);
    xf_sleep_ms(1200);
    kill(sink, sig);
    xf_sleep_ms(300);
    kill(run, SIGINT);
    return xf_wait(run);
}

/* SIGTERM to the sink itself: it finishes the file and ends well; the file holds every frame. */
Test(recording, sigterm_finishes_the_file)
{
    char file[256];
    scratch_path(file, sizeof file, "sigterm.mkv");
    cr_assert(eq(int, record_then_signal_sink(file, SIGTERM), 0), "%s", log_text());
    cr_assert(log_has("[rec] info: stopped by SIGTERM"), "%s", log_text());
    long frames, in;
    bool finished;
    recorded(&frames, &finished, &in);
    cr_assert(finished, "%s", log_text());
    cr_assert(gt(long, frames, 5));
    cr_assert(eq(long, frames, in));
    xvt_probe p;
    cr_assert(xvt_probe_file(file, &p));
    cr_assert(eq(long, p.frames, frames), "every frame counted is in the file");
    cr_assert(not(p.errors));
}

/* SIGKILL: no trailer, no flush. The summary says the file is unfinished, and it holds at most
 * the frames counted (Matroska: all but those still in FFmpeg's write buffer; docs/VIDEO.md). */
Test(recording, sigkill_leaves_it_unfinished)
{
    char file[256];
    scratch_path(file, sizeof file, "sigkill.mkv");
    cr_assert(eq(int, record_then_signal_sink(file, SIGKILL), 1), "the sink failed: %s",
              log_text());
    long frames, in;
    bool finished;
    recorded(&frames, &finished, &in);
    cr_assert(not(finished));
    cr_assert(gt(long, frames, 5));
    cr_assert(log_has("(not finished)"), "the final table says so:\n%s", log_text());
    xvt_probe p;
    xvt_probe_file(file, &p);
    cr_assert(le(long, p.frames, frames));
}

/* One PNG every 7 frames, named by sequence number, readable, its size and colour kind right. */
Test(recording, imagesink_every_nth)
{
    static const struct {
        const char *format;
        int channels, rows;
        const char *png_format;
    } cases[] = {
        {"rgb24", 3, 48, "rgb24"},
        {"gray", 1, 48, "gray"},
        {"nv12", 1, 72, "rgb24"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char pattern[256], src[128], snap[400];
        scratch_path(pattern, sizeof pattern, "f-%04d.png");
        snprintf(src, sizeof src, "width: 64, height: %d, channels: %d, frames: 30", cases[i].rows,
                 cases[i].channels);
        snprintf(snap, sizeof snap, "file: '%s', every: 7, pixel_format: %s", pattern,
                 cases[i].format);
        xvt_write_graph(
            (xvt_node[]){{"src", "testsrc", src, NULL}, {"snap", "imagesink", snap, NULL}}, 2);
        cr_assert(eq(int, xvt_run_graph(), 0), "%s", log_text());
        for (int seq = 0; seq < 30; seq++) {
            char png[256];
            snprintf(png, sizeof png, "%s/f-%04d.png", dir, seq);
            xvt_probe p;
            bool there = xvt_probe_file(png, &p);
            cr_assert(eq(int, there, seq % 7 == 0), "%s", png);
            if (there) {
                cr_assert(eq(str, p.codec, "png"));
                cr_assert(eq(str, p.pix_fmt, (char *)cases[i].png_format));
                cr_assert(eq(int, p.width, 64));
                cr_assert(eq(int, p.height, 48));
                unlink(png);
            }
        }
        struct fy_document *doc = summary_doc();
        cr_assert(eq(str, (char *)summary_str(doc, "/nodes/1/files/0/path"), pattern));
        cr_assert(eq(long, summary_num(doc, "/nodes/1/files/0/frames"), 5));
        cr_assert(eq(long, summary_num(doc, "/nodes/1/work/count"), 5));
        xvt_assert_pool_free(doc);
        fy_document_destroy(doc);
    }
}

/* A line of the log that starts with `start` has `what`, then a rate ("/s"). */
static bool table_line_has(const char *log, const char *start, const char *what)
{
    for (const char *line = log; line;) {
        const char *end = strchr(line, '\n');
        char copy[256];
        size_t len = end ? (size_t)(end - line) : strlen(line);
        snprintf(copy, sizeof copy, "%.*s", (int)(len < sizeof copy ? len : sizeof copy - 1), line);
        const char *at = strstr(copy, what);
        if (strncmp(copy, start, strlen(start)) == 0 && at && strstr(at, "/s"))
            return true;
        line = end ? end + 1 : NULL;
    }
    return false;
}

/* The live table shows the source's decode rate and the sink's encode rate; the final table and
 * the summary the file written with its frame count. */
Test(recording, the_table_shows_rates_and_files)
{
    char in[256], out[256];
    scratch_path(in, sizeof in, "in.mkv");
    scratch_path(out, sizeof out, "out.mkv");
    xvt_make_video(in, 64, 48, 3, 45, "timestamps: sequence");
    xvt_write_copy(in, "realtime: true", out, "", NULL);
    cr_assert(eq(int,
                 run_xmem((const char *[]){"run", "--interval", "0.5", "--summary", summary, graph,
                                           NULL}),
                 0),
              "%s", log_text());
    const char *log = log_text();
    cr_assert(strstr(log, "  work\n") != NULL, "a work column:\n%s", log);
    cr_assert(table_line_has(log, "   src ", "  decoded "), "no decode rate:\n%s", log);
    cr_assert(table_line_has(log, "   rec ", "  encoded "), "no encode rate:\n%s", log);
    char said[320];
    snprintf(said, sizeof said, "file %s: 45 frames, written by 'rec'\n", out);
    cr_assert(strstr(log, said) != NULL, "the final table lists the file:\n%s", log);
    struct fy_document *doc = summary_doc();
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/0/work/what"), "decoded"));
    cr_assert(eq(long, summary_num(doc, "/nodes/0/work/count"), 45));
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/1/work/what"), "encoded"));
    cr_assert(eq(long, summary_num(doc, "/nodes/1/work/count"), 45));
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/1/files/0/path"), out));
    cr_assert(eq(long, summary_num(doc, "/nodes/1/files/0/frames"), 45));
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/1/files/0/finished"), "true"));
    cr_assert(not(summary_has(doc, "/nodes/0/files/0")), "a source writes no file");
    xvt_assert_pool_free(doc);
    fy_document_destroy(doc);
}

/* The example pair, in the scratch directory instead of build/video/: the script's graph makes the
 * input, the example decodes, inverts, records, measures and snapshots it. */
Test(recording, the_video_example_runs, .timeout = XF_TIMEOUT_LONG * 2)
{
    char prefix[256], frames[300];
    snprintf(prefix, sizeof prefix, "%s/", dir);
    snprintf(frames, sizeof frames, "%s/frames", dir);
    mkdir(frames, 0700);
    write_example_with("make-video.yaml", "build/video/", prefix);
    cr_assert(eq(int, xvt_run_graph(), 0), "%s", log_text());
    char input[300];
    snprintf(input, sizeof input, "%sinput.mp4", prefix);
    xvt_probe p;
    cr_assert(xvt_probe_file(input, &p));
    cr_assert(eq(long, p.frames, 150));
    cr_assert(eq(str, p.codec, "h264"));

    write_example_with("video.yaml", "build/video/", prefix);
    cr_assert(eq(int,
                 run_xmem((const char *[]){"run", "--interval", "0", "--duration", "4", "--summary",
                                           summary, graph, NULL}),
                 0),
              "%s", log_text());
    struct fy_document *doc = summary_doc();
    const char *names[] = {"src", "inv", "rec", "latency", "snap"};
    assert_all_done(doc, names, 5);
    long sent = summary_num(doc, "/nodes/0/out");
    /* Three FFmpeg processes starting one after another (downstream first) can take 2 s of the 4
     * on a loaded machine; over a second of frames at 30 fps is what is asked of the pacing here.
     */
    cr_assert(ge(long, sent, 31), "30 fps for 4 s, start-up included: %ld", sent);
    cr_assert(eq(long, summary_num(doc, "/nodes/2/files/0/frames"), sent), "every frame");
    cr_assert(ge(long, summary_num(doc, "/nodes/4/files/0/frames"), 2), "a PNG a second");
    xvt_assert_pool_free(doc);
    fy_document_destroy(doc);
    char output[300];
    snprintf(output, sizeof output, "%sinverted.mp4", prefix);
    cr_assert(xvt_probe_file(output, &p));
    cr_assert(eq(long, p.frames, sent));
}
