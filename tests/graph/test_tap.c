/* `xmem tap` on a running graph, with the real program: --save writes u8 frames of 1, 3 and 4
 * channels as PNG whose pixels, read back with libpng, are the test source's pattern for the
 * sequence number the file names (and other frames as .npy, checked the same way); a tap killed
 * with SIGKILL while it holds frames leaves nothing held in the pool; a tap that never reads, on
 * a graph whose consumer is lossless (block), never slows the source; the run's table and `xmem
 * top` list a tap while it is attached. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef XMEM_TEST_PNG
#include <png.h>
#endif

#include <xmem/pool_admin.h>

#include "fixture.h"
#include "nodes/builtin/testframe.h"
#include "observe_run.h"

static char summary[192];

static void setup(void)
{
    xgr_setup("tap");
    snprintf(summary, sizeof summary, "%s/summary.json", dir);
}

TestSuite(tap, .init = setup, .fini = xgr_teardown, .timeout = XF_TIMEOUT_LONG);

#define W 64
#define H 48

/* Checks that `frame` (`size` bytes) is the test source's frame number `sequence`. */
static void assert_test_frame(const void *frame, size_t size, unsigned long long sequence,
                              const char *file)
{
    xmemi_testframe_info info;
    char why[256] = "";
    cr_assert(xmemi_testframe_check(frame, size, &info, why, sizeof why), "%s: %s", file, why);
    cr_assert(eq(u64, info.sequence, sequence), "%s holds frame %llu", file,
              (unsigned long long)info.sequence);
}

#ifdef XMEM_TEST_PNG
/* Reads `path` with libpng: 8-bit, the colour type of `channels`, W x H, the pixels the test
 * source wrote, and the tEXt chunk naming the sequence. */
static void check_png(const char *path, unsigned channels, unsigned long long sequence)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL, "%s", path);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    cr_assert(png && info);
    if (setjmp(png_jmpbuf(png)))
        cr_fatal("libpng cannot read %s", path);
    png_init_io(png, f);
    png_read_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    cr_assert(eq(u32, png_get_image_width(png, info), W));
    cr_assert(eq(u32, png_get_image_height(png, info), H));
    cr_assert(eq(int, png_get_bit_depth(png, info), 8));
    int type = png_get_color_type(png, info);
    int want = channels == 1   ? PNG_COLOR_TYPE_GRAY
               : channels == 3 ? PNG_COLOR_TYPE_RGB
                               : PNG_COLOR_TYPE_RGBA;
    cr_assert(eq(int, type, want), "%s: colour type %d", path, type);
    cr_assert(eq(u32, png_get_channels(png, info), channels));
    png_bytepp rows = png_get_rows(png, info);
    size_t row = (size_t)W * channels;
    unsigned char *frame = malloc(row * H);
    for (unsigned y = 0; y < H; y++)
        memcpy(frame + y * row, rows[y], row);
    assert_test_frame(frame, row * H, sequence, path);
    free(frame);
    png_textp text;
    int n = 0;
    png_get_text(png, info, &text, &n);
    bool named = false;
    for (int i = 0; i < n; i++)
        if (strcmp(text[i].key, "xmem:sequence") == 0)
            named = strtoull(text[i].text, NULL, 10) == sequence;
    cr_assert(named, "%s: its xmem:sequence text names frame %llu", path, sequence);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
}
#endif

/* A .npy of numpy's format 1.0: its dtype and shape, then the test source's frame. */
static void check_npy(const char *path, const char *descr, const char *shape,
                      unsigned long long sequence, size_t bytes)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL, "%s", path);
    unsigned char head[10];
    cr_assert(eq(sz, fread(head, 1, 10, f), 10));
    cr_assert(memcmp(head, "\x93NUMPY\x01\x00", 8) == 0, "%s: not a .npy", path);
    size_t hlen = head[8] | (size_t)head[9] << 8;
    cr_assert(eq(sz, (10 + hlen) % 64, 0), "header padded to 64 bytes");
    char *dict = calloc(1, hlen + 1);
    cr_assert(eq(sz, fread(dict, 1, hlen, f), hlen));
    char want[128];
    snprintf(want, sizeof want, "'descr': '%s'", descr);
    cr_assert(strstr(dict, want) != NULL, "%s: %s", path, dict);
    snprintf(want, sizeof want, "'shape': (%s)", shape);
    cr_assert(strstr(dict, want) != NULL, "%s: %s", path, dict);
    free(dict);
    unsigned char *frame = malloc(bytes + 1);
    cr_assert(eq(sz, fread(frame, 1, bytes + 1, f), bytes), "%s: %zu bytes of data", path, bytes);
    assert_test_frame(frame, bytes, sequence, path);
    free(frame);
    fclose(f);
}

/* The sequence numbers of the files `node.out-SEQ.EXT` in `save`, ascending; returns how many. */
static int saved(const char *save, const char *node, const char *ext, unsigned long long *seq,
                 int max)
{
    DIR *d = opendir(save);
    cr_assert(d != NULL, "%s", save);
    char prefix[64], suffix[16];
    snprintf(prefix, sizeof prefix, "%s.out-", node);
    snprintf(suffix, sizeof suffix, ".%s", ext);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && len > strlen(suffix) &&
            strcmp(e->d_name + len - strlen(suffix), suffix) == 0)
            seq[n++] = strtoull(e->d_name + strlen(prefix), NULL, 10);
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort: a handful */
        for (int k = i; k > 0 && seq[k - 1] > seq[k]; k--) {
            unsigned long long t = seq[k];
            seq[k] = seq[k - 1];
            seq[k - 1] = t;
        }
    return n;
}

Test(tap, save_writes_pngs_and_npy_of_the_sources_frames)
{
    char yaml[1400];
    snprintf(yaml, sizeof yaml,
             "pool: {name: %s}\n"
             "nodes:\n"
             "  - {name: gray, plugin: testsrc, rate: 100, params: {width: %d, height: %d,"
             " channels: 1}}\n"
             "  - {name: rgb, plugin: testsrc, rate: 100, params: {width: %d, height: %d,"
             " channels: 3}}\n"
             "  - {name: rgba, plugin: testsrc, rate: 100, params: {width: %d, height: %d,"
             " channels: 4}}\n"
             "  - {name: wide, plugin: testsrc, rate: 100, params: {width: %d, height: %d,"
             " channels: 2, dtype: u16}}\n"
             "  - {name: s1, plugin: \"null\", inputs: {in: gray/out}}\n"
             "  - {name: s3, plugin: \"null\", inputs: {in: rgb/out}}\n"
             "  - {name: s4, plugin: \"null\", inputs: {in: rgba/out}}\n"
             "  - {name: s16, plugin: \"null\", inputs: {in: wide/out}}\n",
             pool, W, H, W, H, W, H, W, H);
    write_yaml(yaml);
    pid_t run = start_xmem((const char *[]){"run", "--duration", "20", graph, NULL});
    wait_running(run, 8);
    char save[256], out[256];
    snprintf(save, sizeof save, "%s/frames", dir);
    snprintf(out, sizeof out, "%s/tap.txt", dir);
    const char *nodes[] = {"gray", "rgb", "rgba", "wide"};
    for (int i = 0; i < 4; i++) {
        char what[32];
        snprintf(what, sizeof what, "%s/out", nodes[i]);
        int rc = capture_xmem((const char *[]){"tap", "--save", save, "--every", "5", "--count",
                                               "3", "--quiet", pool, what, NULL},
                              out);
        char err[300];
        snprintf(err, sizeof err, "%s.err", out);
        cr_assert(eq(int, rc, 0), "xmem tap %s: %s", what, read_file(err));
        cr_assert(strstr(read_file(err), "3 saved") != NULL, "%s", read_file(err));
    }
    kill(run, SIGINT);
    cr_assert(eq(int, xf_wait(run), 0), "%s", read_file(log_path));

    unsigned long long seq[16];
#ifdef XMEM_TEST_PNG
    const unsigned channels[] = {1, 3, 4};
    for (int i = 0; i < 3; i++) {
        int n = saved(save, nodes[i], "png", seq, 16);
        cr_assert(eq(int, n, 3), "--count 3 PNGs of %s", nodes[i]);
        for (int k = 0; k < n; k++) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s.out-%08llu.png", save, nodes[i], seq[k]);
            check_png(path, channels[i], seq[k]);
            if (k)
                cr_assert(ge(u64, seq[k] - seq[k - 1], 5), "--every 5: %llu after %llu", seq[k],
                          seq[k - 1]);
        }
    }
#else
    cr_log_warn("built without libpng: PNG frames not checked (they are .npy)");
#endif
    int n = saved(save, "wide", "npy", seq, 16);
    cr_assert(eq(int, n, 3), "--count 3 .npy of the u16 frames");
    for (int k = 0; k < n; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/wide.out-%08llu.npy", save, seq[k]);
        check_npy(path, "<u2", "48, 64, 2", seq[k], (size_t)W * H * 2 * 2);
    }
}

/* The tap's pid from its "attached ... (pid N)" line. */
static pid_t tap_pid(const char *err_path)
{
    for (int i = 0; i < 200; i++, xf_sleep_ms(50)) {
        const char *t = read_file(err_path);
        const char *p = t ? strstr(t, "(pid ") : NULL;
        if (p)
            return (pid_t)atoi(p + 5);
    }
    cr_fatal("the tap did not attach: %s", read_file(err_path));
    return 0;
}

Test(tap, a_killed_tap_leaves_nothing_held)
{
    write_fanout();
    pid_t run =
        start_xmem((const char *[]){"run", "--duration", "20", "--summary", summary, graph, NULL});
    wait_running(run, 6);
    char out[256], err[300];
    snprintf(out, sizeof out, "%s/tap.txt", dir);
    snprintf(err, sizeof err, "%s.err", out);
    pid_t tap = start_xmem_io((const char *[]){"tap", "--depth", "4", "-q", pool, "src/out", NULL},
                              out, err);
    cr_assert(eq(int, (int)tap_pid(err), (int)tap));
    xf_sleep_ms(500);
    /* Stopped, it reads nothing: its queue fills with references it holds. */
    kill(tap, SIGSTOP);
    xmem_pool_t *p = NULL;
    xmem_error_t e;
    cr_assert(eq(int, xmem_pool_open(pool, &p, &e), XMEM_OK), "%s", e.msg);
    uint64_t held = 0;
    for (int i = 0; i < 40 && held < 2; i++, xf_sleep_ms(50))
        held = xmem_pool_held_by_pid(p, tap);
    cr_assert(ge(u64, held, 2), "the stopped tap holds its queue: %llu", (unsigned long long)held);
    kill(tap, SIGKILL);
    cr_assert(eq(int, xf_wait(tap), -SIGKILL));
    for (int i = 0; i < 100 && (held = xmem_pool_held_by_pid(p, tap)); i++)
        xf_sleep_ms(50);
    cr_assert(eq(u64, held, 0), "the killed tap's references came back");
    /* Nor does the pool list it as attached. */
    xmem_pool_holder holders[64];
    uint32_t nh = xmem_pool_holders(p, holders, sizeof holders[0], 64);
    for (uint32_t i = 0; i < nh && i < 64; i++)
        cr_assert(ne(int, (int)holders[i].pid, (int)tap), "pid %d still attached", (int)tap);
    xmem_pool_close(&p);
    kill(run, SIGINT);
    cr_assert(eq(int, xf_wait(run), 0), "%s", read_file(log_path));
    struct fy_document *s = json_doc(summary);
    cr_assert(s != NULL);
    cr_assert(eq(int, (int)doc_num(s, "/pool/free_at_end"), (int)doc_num(s, "/pool/buffers")));
    fy_document_destroy(s);
}

Test(tap, a_tap_never_slows_a_lossless_graph)
{
    char yaml[600];
    snprintf(yaml, sizeof yaml,
             "pool: {name: %s}\n"
             "nodes:\n"
             "  - {name: src, plugin: testsrc, rate: 200, params: {width: %d, height: %d}}\n"
             "  - {name: check, plugin: verify,"
             " inputs: {in: {from: src/out, depth: 2, policy: block}}}\n",
             pool, W, H);
    write_yaml(yaml);
    pid_t run = start_xmem((const char *[]){"run", "--duration", "4", "--summary", summary,
                                            "--interval", "0.5", graph, NULL});
    wait_running(run, 2);
    char out[256], err[300], top[256];
    snprintf(out, sizeof out, "%s/tap.txt", dir);
    snprintf(err, sizeof err, "%s.err", out);
    snprintf(top, sizeof top, "%s/top.json", dir);
    pid_t tap = start_xmem_io((const char *[]){"tap", pool, "src/out", NULL}, out, err);
    tap_pid(err);
    xf_sleep_ms(300);
    /* A tap that never reads again: the worst a consumer outside the graph can do. */
    kill(tap, SIGSTOP);
    xf_sleep_ms(1200);
    /* A second's sample while it sits there: the source keeps its rate. */
    cr_assert(eq(
        int, capture_xmem((const char *[]){"top", "--once", "--json", "-i", "1", pool, NULL}, top),
        0));
    struct fy_document *t = json_doc(top);
    cr_assert(t != NULL);
    cr_assert(eq(int, doc_len(t, "/taps"), 1), "%s", read_file(top));
    cr_assert(eq(int, (int)doc_num(t, "/taps/0/pid"), (int)tap));
    cr_assert(eq(int, doc_len(t, "/edges"), 2), "the graph's edge and the tap's:\n%s",
              read_file(top));
    char to[32];
    snprintf(to, sizeof to, "tap:%d", (int)tap);
    cr_assert(eq(str, (char *)doc_str(t, "/edges/1/to"), to));
    double rate = doc_num(t, "/nodes/0/rate_per_s");
    cr_assert(ge(dbl, rate, 0.75 * 200), "the source sent %.1f frames/s, the tap stopped", rate);
    double drops = doc_num(t, "/edges/1/dropped/queue-full") + doc_num(t, "/edges/1/dropped/hwm");
    cr_assert(gt(dbl, drops, 0), "the publisher drops for the stopped tap:\n%s", read_file(top));
    fy_document_destroy(t);
    cr_assert(eq(int, xf_wait(run), 0), "%s", read_file(log_path));
    kill(tap, SIGKILL);
    xf_wait(tap);
    char row[64];
    snprintf(row, sizeof row, "attached   %7d     on src/out", (int)tap);
    cr_assert(log_has(row), "the run's table lists the tap:\n%s", read_file(log_path));
    struct fy_document *s = json_doc(summary);
    cr_assert(s != NULL);
    /* A source that waited for the stopped tap would have gone its whole 2 s without a frame. */
    double sent = doc_num(s, "/nodes/0/out"), stall = doc_num(s, "/nodes/0/max_stall_ms");
    cr_assert(lt(dbl, stall, 150), "the source stalled %.1f ms", stall);
    cr_assert(eq(dbl, doc_num(s, "/nodes/1/in"), sent), "check read every frame");
    fy_document_destroy(s);
}
