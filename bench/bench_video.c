/* xmem-bench-video: decoding and encoding throughput of the video nodes against the `ffmpeg`
 * command doing the same work in the same run, one codec thread each. Decoding: videosrc into the
 * pool (-> null) against `ffmpeg -i FILE -pix_fmt rgb24 -f null -`; encoding: raw rgb24 frames
 * read by videosrc and encoded by videosink against `ffmpeg -f rawvideo -i RAW -c:v CODEC`.
 * Whole commands are timed (start-up included), best of --runs, alternating. Prints Markdown.
 * Run: xmem-bench-video [--xmem PATH] [--width W --height H --frames N --runs R]
 * [--only decode|encode] */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct config {
    const char *xmem;
    const char *only; /* "decode", "encode" or NULL for both */
    int width, height, frames, runs;
    char dir[64];
} config;

/* One codec's settings, the same on both sides. */
typedef struct codec_case {
    const char *name;      /* videosink's codec */
    const char *ffmpeg;    /* ffmpeg's -c:v */
    const char *options;   /* encoder options, key=value:... ("" none) */
    const char *pix_fmt;   /* in the file */
    const char *extension; /* container */
} codec_case;

static const codec_case codecs[] = {
    {"h264", "libx264", "preset=veryfast", "yuv420p", "mkv"},
    {"ffv1", "ffv1", "level=3:slicecrc=1", "yuv420p", "mkv"},
    {"mjpeg", "mjpeg", "", "yuvj420p", "mkv"},
};

typedef struct timing {
    double wall_s, cpu_s; /* best run's wall time, and the CPU time of that run */
    bool ok;
} timing;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs argv with output into dir/log; wall and CPU time (children included); false on failure. */
static bool run(const config *c, char *const *argv, double *wall, double *cpu)
{
    char log[128];
    snprintf(log, sizeof log, "%s/log", c->dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    double start = now_s();
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "xmem-bench-video: cannot start %s: %s\n", argv[0], strerror(rc));
        return false;
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
    }
    *wall = now_s() - start;
    *cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "tail -n 20 '%s' >&2", log);
        fprintf(stderr, "xmem-bench-video: %s failed:\n", argv[0]);
        if (system(cmd) != 0)
            fprintf(stderr, "(see %s)\n", log);
        return false;
    }
    return true;
}

/* argv from a space-separated command line (no quoting needed for what this program runs). */
static bool run_line(const config *c, const char *line, double *wall, double *cpu)
{
    char buf[2048], *argv[64];
    snprintf(buf, sizeof buf, "%s", line);
    int n = 0;
    for (char *save, *t = strtok_r(buf, " ", &save); t && n < 63; t = strtok_r(NULL, " ", &save))
        argv[n++] = t;
    argv[n] = NULL;
    return run(c, argv, wall, cpu);
}

static bool write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fputs(text, f);
    return fclose(f) == 0;
}

/* The number after `key` in file `path` that `text` precedes ("frames": N), or -1. */
static long number_after(const char *path, const char *text)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    const char *at = strstr(buf, text);
    return at ? strtol(at + strlen(text), NULL, 10) : -1;
}

/* The same work by both tools: all frames, or only the first (what starting costs). */
typedef struct pair {
    char ffmpeg[1024], xmem[512];
} pair;

/* Best of c->runs of each of the four commands, alternating so that all see the same machine. */
static void race(const config *c, const pair *all, const pair *one, timing t[4])
{
    const char *cmds[4] = {all->ffmpeg, all->xmem, one->ffmpeg, one->xmem};
    for (int k = 0; k < 4; k++)
        t[k] = (timing){.wall_s = 1e30, .ok = true};
    for (int r = 0; r < c->runs; r++)
        for (int k = 0; k < 4; k++) {
            double wall, cpu;
            if (t[k].ok && (t[k].ok = run_line(c, cmds[k], &wall, &cpu)) && wall < t[k].wall_s) {
                t[k].wall_s = wall;
                t[k].cpu_s = cpu;
            }
        }
}

/* Whole commands, then the rate once started: frames after the first over the time they added
 * to a one-frame run. */
static void row(const config *c, const char *what, const char *codec, const timing t[4])
{
    if (!t[0].ok || !t[1].ok || !t[2].ok || !t[3].ok) {
        printf("| %s | %s | failed: see above | | | | | | |\n", what, codec);
        return;
    }
    double ff = c->frames / t[0].wall_s, xm = c->frames / t[1].wall_s;
    double dff = t[0].wall_s - t[2].wall_s, dxm = t[1].wall_s - t[3].wall_s;
    char started[96] = "too short to tell | | ";
    if (dff > 0 && dxm > 0) /* a run shorter than its one-frame run: noise, not a rate */
        snprintf(started, sizeof started, "%.1f | %.1f | **%.2f**", (c->frames - 1) / dff,
                 (c->frames - 1) / dxm, dff / dxm);
    printf("| %s | %s | %.1f | %.1f | %.2f | %s | %.2f / %.2f |\n", what, codec, ff, xm, xm / ff,
           started, t[0].cpu_s, t[1].cpu_s);
    fflush(stdout);
}

/* The graph of one xmem run into dir/NAME: videosrc (`src_params`) -> `sink`. */
static bool write_graph(const config *c, const char *name, const char *src_params, const char *sink)
{
    char path[128], yaml[2048];
    snprintf(path, sizeof path, "%s/%s", c->dir, name);
    snprintf(yaml, sizeof yaml,
             "pool: {name: xmem-bench-video-%d}\n"
             "nodes:\n"
             "  - {name: src, plugin: videosrc, params: {%s, threads: 1, pixel_format: rgb24}}\n"
             "  - {name: sink, %s, inputs: {in: {from: src/out, policy: block, depth: 4}}}\n",
             (int)getpid(), src_params, sink);
    return write_file(path, yaml);
}

/* `xmem run` of graph NAME, its summary in dir/summary-NAME.json. */
static void xmem_line(const config *c, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s run --interval 0 --summary %s/summary-%s.json %s/%s", c->xmem, c->dir,
             name, c->dir, name);
}

/* The summary's number after `text` ("\"out\": "), or -1. */
static long summary_number(const config *c, const char *name, const char *text)
{
    char path[160];
    snprintf(path, sizeof path, "%s/summary-%s.json", c->dir, name);
    return number_after(path, text);
}

/* Races the pairs and prints the row; the xmem run of every frame must have moved them all (its
 * summary's first number after `key`: the source's out, the sink's file frames). */
static void measure(const config *c, const char *what, const char *codec, const pair *all,
                    const pair *one, const char *graph, const char *key)
{
    timing t[4];
    race(c, all, one, t);
    long moved = summary_number(c, graph, key);
    if (t[1].ok && moved != c->frames) {
        fprintf(stderr, "xmem-bench-video: %s %s: %ld frames of %d\n", what, codec, moved,
                c->frames);
        t[1].ok = false;
    }
    row(c, what, codec, t);
}

static void decode_row(const config *c, const codec_case *k)
{
    char file[128], src[256];
    pair all, one;
    snprintf(file, sizeof file, "%s/in-%s.%s", c->dir, k->name, k->extension);
    for (int n = 0; n < 2; n++) {
        pair *p = n ? &one : &all;
        snprintf(p->ffmpeg, sizeof p->ffmpeg,
                 "ffmpeg -hide_banner -nostdin -threads 1 -i %s -filter_threads 1 -pix_fmt rgb24%s "
                 "-f null -",
                 file, n ? " -frames:v 1" : "");
        snprintf(src, sizeof src, "file: '%s'%s", file, n ? ", frames: 1" : "");
        write_graph(c, n ? "dec-1.yaml" : "dec.yaml", src, "plugin: \"null\"");
        xmem_line(c, n ? "dec-1.yaml" : "dec.yaml", p->xmem, sizeof p->xmem);
    }
    measure(c, "decode", k->name, &all, &one, "dec.yaml", "\"out\": ");
}

static void encode_row(const config *c, const codec_case *k)
{
    char raw[128], out[128], src[256], sink[512], opts[256] = "", copy[128];
    pair all, one;
    snprintf(raw, sizeof raw, "%s/raw.rgb", c->dir);
    snprintf(out, sizeof out, "%s/out-%s.%s", c->dir, k->name, k->extension);
    /* ffmpeg takes encoder options as -key value */
    snprintf(copy, sizeof copy, "%s", k->options);
    for (char *save, *t = strtok_r(copy, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
        char *eq = strchr(t, '=');
        if (eq) {
            *eq = '\0';
            size_t n = strlen(opts);
            snprintf(opts + n, sizeof opts - n, " -%s %s", t, eq + 1);
        }
    }
    snprintf(sink, sizeof sink,
             "plugin: videosink, params: {file: '%s', codec: %s, options: '%s', "
             "file_pixel_format: %s, threads: 1, timestamps: sequence}",
             out, k->name, k->options, k->pix_fmt);
    for (int n = 0; n < 2; n++) {
        pair *p = n ? &one : &all;
        snprintf(p->ffmpeg, sizeof p->ffmpeg,
                 "ffmpeg -hide_banner -nostdin -y -f rawvideo -pix_fmt rgb24 -s %dx%d -r 30 -i %s "
                 "-threads 1 -filter_threads 1 -c:v %s%s -pix_fmt %s%s %s",
                 c->width, c->height, raw, k->ffmpeg, opts, k->pix_fmt, n ? " -frames:v 1" : "",
                 out);
        snprintf(src, sizeof src,
                 "file: '%s', format: rawvideo, options: 'video_size=%dx%d:pixel_format=rgb24:"
                 "framerate=30'%s",
                 raw, c->width, c->height, n ? ", frames: 1" : "");
        write_graph(c, n ? "enc-1.yaml" : "enc.yaml", src, sink);
        xmem_line(c, n ? "enc-1.yaml" : "enc.yaml", p->xmem, sizeof p->xmem);
    }
    measure(c, "encode", k->name, &all, &one, "enc.yaml", "\"frames\": ");
}

/* The raw frames (FFmpeg's testsrc2 pattern: moving shapes, text and gradients, which codecs
 * compress like camera content, unlike noise) and one encoded file per codec, all by ffmpeg. */
static bool make_inputs(const config *c)
{
    char line[1024];
    double wall, cpu;
    snprintf(line, sizeof line,
             "ffmpeg -hide_banner -nostdin -y -f lavfi -i testsrc2=size=%dx%d:rate=30 -frames:v "
             "%d -pix_fmt rgb24 -f rawvideo %s/raw.rgb",
             c->width, c->height, c->frames, c->dir);
    if (!run_line(c, line, &wall, &cpu))
        return false;
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
        const codec_case *k = &codecs[i];
        snprintf(line, sizeof line,
                 "ffmpeg -hide_banner -nostdin -y -f rawvideo -pix_fmt rgb24 -s %dx%d -r 30 -i "
                 "%s/raw.rgb -c:v %s -pix_fmt %s %s/in-%s.%s",
                 c->width, c->height, c->dir, k->ffmpeg, k->pix_fmt, c->dir, k->name, k->extension);
        if (!run_line(c, line, &wall, &cpu))
            return false;
    }
    return true;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xmem-bench-video [--xmem PATH] [--width W] [--height H] [--frames N] "
            "[--runs R] [--only decode|encode]\n\n"
            "Decoding (videosrc into the pool) and encoding (videosink) throughput against the\n"
            "ffmpeg command doing the same, one codec thread each, best of R runs (default 3),\n"
            "%s frames of 1280x720 by default. Needs ffmpeg in PATH. Prints a Markdown table.\n",
            "300");
}

int main(int argc, char **argv)
{
    config c = {.xmem = XMEM_CLI, .width = 1280, .height = 720, .frames = 300, .runs = 3};
    static const struct option opts[] = {
        {"xmem", required_argument, NULL, 'x'},   {"width", required_argument, NULL, 'w'},
        {"height", required_argument, NULL, 'H'}, {"frames", required_argument, NULL, 'n'},
        {"runs", required_argument, NULL, 'r'},   {"only", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},         {0}};
    for (int o; (o = getopt_long(argc, argv, "x:w:H:n:r:o:h", opts, NULL)) != -1;) {
        switch (o) {
        case 'o': c.only = optarg; break;
        case 'x': c.xmem = optarg; break;
        case 'w': c.width = atoi(optarg); break;
        case 'H': c.height = atoi(optarg); break;
        case 'n': c.frames = atoi(optarg); break;
        case 'r': c.runs = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (c.width < 16 || c.height < 16 || c.width % 2 || c.height % 2 || c.frames < 2 ||
        c.runs < 1 || (c.only && strcmp(c.only, "decode") && strcmp(c.only, "encode"))) {
        fprintf(stderr, "xmem-bench-video: even sizes of 16 or more, 2 frames or more, 1 run or "
                        "more, --only decode or encode\n");
        return 2;
    }
    snprintf(c.dir, sizeof c.dir, "/tmp/xmem-bench-video-XXXXXX");
    if (!mkdtemp(c.dir)) {
        perror("mkdtemp");
        return 1;
    }
    int status = 0;
    if (!make_inputs(&c)) {
        fprintf(stderr, "xmem-bench-video: could not make the inputs with ffmpeg\n");
        status = 1;
    } else {
        printf("%d frames of %dx%d (ffmpeg's testsrc2), one codec thread each, best of %d runs.\n"
               "whole: frames/s of the whole command, start included; started: frames after the "
               "first over the time they add to a one-frame run (start-up cancels out);\n"
               "CPU s: user+system time of the whole run, all its processes.\n\n",
               c.frames, c.width, c.height, c.runs);
        printf("| work | codec | ffmpeg whole | xmem whole | ratio | ffmpeg started | xmem "
               "started | ratio | CPU s ffmpeg / xmem |\n"
               "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
            if (!c.only || strcmp(c.only, "decode") == 0)
                decode_row(&c, &codecs[i]);
        for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
            if (!c.only || strcmp(c.only, "encode") == 0)
                encode_row(&c, &codecs[i]);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", c.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "xmem-bench-video: could not remove %s\n", c.dir);
    return status;
}
