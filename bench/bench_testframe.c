/* xmem-bench-testframe: what the built-in test source and verifier cost per frame. Times testsrc's
 * fill (a whole test frame: pattern, header, checksum) and verify's check (every byte) against the
 * baseline of copying a cached frame of the same size, which is the least any source that writes
 * a fresh frame can cost. Destinations rotate over more memory than the caches hold, as a pool's
 * buffers do. Run: xmem-bench-testframe [--frames N] */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nodes/builtin/testframe.h"
#include "bench_clock.h"

#define ROTATE_BYTES (96u << 20) /* more than any last-level cache here */

typedef struct frames {
    size_t size, count;
    unsigned char **buf;
} frames;

static frames make_frames(size_t size)
{
    frames f = {.size = size, .count = ROTATE_BYTES / size < 2 ? 2 : ROTATE_BYTES / size};
    f.buf = calloc(f.count, sizeof *f.buf);
    for (size_t i = 0; f.buf && i < f.count; i++) {
        f.buf[i] = malloc(size);
        if (!f.buf[i]) {
            fprintf(stderr, "xmem-bench-testframe: out of memory\n");
            exit(1);
        }
        memset(f.buf[i], 1, size); /* faulted in before any timing */
    }
    if (!f.buf) {
        fprintf(stderr, "xmem-bench-testframe: out of memory\n");
        exit(1);
    }
    return f;
}

static void free_frames(frames *f)
{
    for (size_t i = 0; i < f->count; i++)
        free(f->buf[i]);
    free(f->buf);
}

enum job { FILL, COPY, CHECK };

/* Milliseconds per frame of `job` over n frames, the best of 3 runs (the least disturbed). */
static double time_job(enum job job, frames *f, const unsigned char *cached, uint64_t n)
{
    double best = 1e30;
    for (int run = 0; run < 3; run++) {
        uint64_t t0 = now_ns(), bad = 0;
        for (uint64_t k = 0; k < n; k++) {
            unsigned char *dst = f->buf[k % f->count];
            char why[128];
            switch (job) {
            case FILL: xmemi_testframe_fill(dst, f->size, k, t0); break;
            case COPY: memcpy(dst, cached, f->size); break;
            case CHECK: bad += !xmemi_testframe_check(dst, f->size, NULL, why, sizeof why); break;
            }
        }
        double ms = (double)(now_ns() - t0) / 1e6 / (double)n;
        if (bad) {
            fprintf(stderr, "xmem-bench-testframe: %llu frames of %zu bytes failed the check\n",
                    (unsigned long long)bad, f->size);
            exit(1);
        }
        best = ms < best ? ms : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    uint64_t n = 0;
    static const struct option opts[] = {
        {"frames", required_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'}, {0}};
    for (int c; (c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1;) {
        if (c == 'n') {
            n = strtoull(optarg, NULL, 10);
        } else {
            FILE *out = c == 'h' ? stdout : stderr;
            fprintf(out, "usage: xmem-bench-testframe [--frames N]\n\n"
                         "Times testsrc's fill and verify's check of one test frame against\n"
                         "copying a cached frame of the same size (the baseline), at 640x480,\n"
                         "1920x1080 and 3840x2160 RGB. Prints a Markdown table.\n");
            return c == 'h' ? 0 : 2;
        }
    }
    static const struct {
        const char *name;
        size_t size;
    } shapes[] = {
        {"640x480x3", 640 * 480 * 3},
        {"1920x1080x3", 1920 * 1080 * 3},
        {"3840x2160x3", 3840 * 2160 * 3},
    };
    printf("| %-12s | %9s | %13s | %21s | %13s | %15s |\n", "frame", "bytes", "fill ms/frame",
           "copy of cached ms/fr.", "fill / copy", "check ms/frame");
    printf("|--------------|-----------|---------------|-----------------------|---------------|"
           "-----------------|\n");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        size_t size = shapes[i].size;
        frames f = make_frames(size);
        unsigned char *cached = malloc(size);
        if (!cached) {
            fprintf(stderr, "xmem-bench-testframe: out of memory\n");
            return 1;
        }
        xmemi_testframe_fill(cached, size, 0, 0);
        /* Every buffer written before the check reads them all. */
        uint64_t frames_n = n ? n : (uint64_t)(2e9 / (double)size) + 2 * f.count;
        frames_n = frames_n < f.count ? f.count : frames_n;
        double copy = time_job(COPY, &f, cached, frames_n);
        double fill = time_job(FILL, &f, cached, frames_n);
        double check = time_job(CHECK, &f, cached, frames_n); /* the frames fill left */
        printf("| %-12s | %9zu | %13.3f | %21.3f | %13.2f | %15.3f |\n", shapes[i].name, size, fill,
               copy, fill / copy, check);
        free(cached);
        free_frames(&f);
    }
    return 0;
}
