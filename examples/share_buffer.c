/* xmem-demo: one producer process and one consumer process share frames through an xmem pool.
 * The producer writes each frame once into a pool buffer and hands the consumer its name (index and
 * generation, 8 bytes through a pipe) and its reference; the consumer checks the frame in place and
 * releases it, which recycles the buffer. Run: xmem-demo --frames 2000 --size 6220800 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xmem/xmem.h>

typedef struct frame_msg {
    xmem_buf_ref ref;
} frame_msg;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* FNV-1a over 64-bit words: cheap enough to check every byte of a 6 MB frame at video rate. */
static uint64_t checksum(const uint64_t *words, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ words[i]) * 1099511628211ull;
    return h;
}

static void fill(uint64_t *words, size_t n, uint64_t seq)
{
    for (size_t i = 0; i < n; i++)
        words[i] = seq * 0x9e3779b97f4a7c15ull + i;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* 1 on a whole message, 0 at end of stream, -1 on error. */
static int read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return got ? -1 : 0;
        got += (size_t)n;
    }
    return 1;
}

static int consumer(const char *pool_name, int owner_fd, int frames_fd, size_t size)
{
    xmem_error_t err;
    xmem_pool_t *pool = NULL;
    if (xmem_pool_open(pool_name, &pool, &err)) {
        fprintf(stderr, "consumer: %s\n", err.msg);
        return 1;
    }
    uint32_t me = xmem_pool_owner_id(pool);
    int rc = write_all(owner_fd, &me, sizeof me) ? 1 : 0;
    close(owner_fd);
    uint64_t received = 0, bad = 0;
    frame_msg msg;
    while (rc == 0 && read_all(frames_fd, &msg, sizeof msg) == 1) {
        XMEM_GUARD_AUTO xmem_guard_t g = XMEM_GUARD_INIT;
        if (xmem_pool_get(pool, msg.ref, &g, &err)) {
            fprintf(stderr, "consumer: %s\n", err.msg);
            rc = 1;
            break;
        }
        xmem_meta_t meta;
        xmem_guard_meta(&g, &meta, NULL);
        const uint64_t *words = xmem_guard_data(&g);
        size_t n = size / sizeof(uint64_t);
        /* The producer stored the checksum of words[1..n) in words[0]. */
        if (words[0] != checksum(words + 1, n - 1) || meta.sequence != received) {
            if (bad++ < 5)
                fprintf(stderr, "consumer: frame %" PRIu64 " in buffer %u failed its check\n",
                        meta.sequence, msg.ref.index);
        }
        received++;
    }
    printf("consumer: %" PRIu64 " frames checked in place, %" PRIu64 " bad\n", received, bad);
    fflush(stdout);
    xmem_pool_destroy(&pool);
    return rc || bad ? 1 : 0;
}

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: xmem-demo [--frames N] [--size BYTES] [--pool NAME] [--buffers N]\n"
        "\n"
        "Shares frames between a producer and a consumer process through an xmem pool: the\n"
        "producer writes each frame once, the consumer checks it in place (no copy) and\n"
        "releases it, and the buffer is recycled. Prints progress once a second and a summary.\n"
        "\n"
        "  --frames N     frames to send (default 2000)\n"
        "  --size BYTES   frame size (default 6220800, a 1920x1080x3 u8 frame)\n"
        "  --pool NAME    pool name (default xmem-demo-PID)\n"
        "  --buffers N    buffers preallocated in the pool (default 8)\n"
        "  -h, --help     this text\n");
}

int main(int argc, char **argv)
{
    uint64_t frames = 2000;
    size_t size = 1920 * 1080 * 3;
    uint32_t buffers = 8;
    char pool_name[64];
    snprintf(pool_name, sizeof pool_name, "xmem-demo-%d", (int)getpid());
    static const struct option opts[] = {
        {"frames", required_argument, NULL, 'f'}, {"size", required_argument, NULL, 's'},
        {"pool", required_argument, NULL, 'p'},   {"buffers", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},         {0},
    };
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        char *end = NULL;
        switch (c) {
        case 'f': frames = strtoull(optarg, &end, 10); break;
        case 's': size = strtoull(optarg, &end, 10); break;
        case 'b': buffers = (uint32_t)strtoul(optarg, &end, 10); break;
        case 'p': snprintf(pool_name, sizeof pool_name, "%s", optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (end && *end) {
            fprintf(stderr, "xmem-demo: '%s' is not a number\n", optarg);
            return 2;
        }
    }
    if (size < 2 * sizeof(uint64_t) || buffers == 0 || buffers > XMEM_POOL_MAX_CAPACITY) {
        fprintf(stderr, "xmem-demo: --size must be at least 16 and --buffers 1..%u\n",
                XMEM_POOL_MAX_CAPACITY);
        return 2;
    }

    xmem_error_t err;
    xmem_pool_options popts;
    xmem_pool_options_init(&popts);
    popts.capacity = buffers;
    popts.n_classes = 1;
    popts.classes[0] = (xmem_size_class){.size = size, .count = buffers};
    xmem_pool_t *pool = NULL;
    if (xmem_pool_create_with(pool_name, &popts, &pool, &err)) {
        fprintf(stderr, "xmem-demo: %s\n", err.msg);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int owner_pipe[2], frame_pipe[2];
    if (pipe(owner_pipe) || pipe(frame_pipe)) {
        perror("xmem-demo: pipe");
        xmem_pool_destroy(&pool);
        return 1;
    }
    printf("xmem-demo: pool '%s', %u buffers of %zu bytes, %" PRIu64 " frames\n", pool_name,
           buffers, size, frames);
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
        perror("xmem-demo: fork");
        xmem_pool_destroy(&pool);
        return 1;
    }
    if (child == 0) {
        close(owner_pipe[0]);
        close(frame_pipe[1]);
        signal(SIGINT, SIG_IGN);  /* the producer decides when to stop, then closes the pipe */
        xmem_pool_destroy(&pool); /* the parent's handle: the child opens its own */
        _exit(consumer(pool_name, owner_pipe[1], frame_pipe[0], size));
    }
    close(owner_pipe[1]);
    close(frame_pipe[0]);

    int status = 0;
    uint32_t consumer_id;
    if (read_all(owner_pipe[0], &consumer_id, sizeof consumer_id) != 1) {
        fprintf(stderr, "xmem-demo: the consumer did not attach to the pool\n");
        status = 1;
    }
    uint64_t sent = 0, start = now_ns(), last_report = start, waits = 0;
    while (status == 0 && sent < frames && !stop_requested) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        /* No error struct: exhaustion is expected here and its diagnosis is not needed. */
        xmem_err rc = xmem_pool_acquire_cpu(pool, size, &g, NULL);
        if (rc == XMEM_EEXHAUSTED) {
            /* The consumer still holds every buffer: back-pressure, wait for one. */
            waits++;
            nanosleep(&(struct timespec){.tv_nsec = 50 * 1000}, NULL);
            continue;
        }
        if (rc) {
            xmem_pool_acquire_cpu(pool, size, &g, &err);
            fprintf(stderr, "xmem-demo: %s\n", err.msg);
            status = 1;
            break;
        }
        void *data;
        xmem_guard_data_mut(&g, &data, NULL);
        uint64_t *words = data;
        size_t n = size / sizeof(uint64_t);
        fill(words + 1, n - 1, sent);
        words[0] = checksum(words + 1, n - 1);
        xmem_guard_set_stamp(&g, sent, now_ns(), NULL);
        if (size == 1920 * 1080 * 3)
            xmem_guard_set_layout(&g, XMEM_DTYPE_U8, 3, (int64_t[]){1080, 1920, 3}, NULL, NULL);
        frame_msg msg = {xmem_guard_ref(&g)};
        if (xmem_pool_give(pool, msg.ref, consumer_id, 1, &err) ||
            write_all(frame_pipe[1], &msg, sizeof msg)) {
            fprintf(stderr, "xmem-demo: handing frame %" PRIu64 " over failed: %s\n", sent,
                    err.msg);
            xmem_guard_release(&g, NULL);
            status = 1;
            break;
        }
        xmem_guard_forget(&g); /* the consumer owns the reference now */
        sent++;
        uint64_t t = now_ns();
        if (t - last_report >= 1000000000ull) {
            printf("  %8" PRIu64 " frames  %8.1f frames/s  %6.2f GB/s  buffers free %u/%u\n", sent,
                   (double)sent * 1e9 / (double)(t - start),
                   (double)sent * (double)size / (double)(t - start), xmem_pool_free_count(pool),
                   buffers);
            fflush(stdout);
            last_report = t;
        }
    }
    close(frame_pipe[1]);
    int wstatus = 0;
    while (waitpid(child, &wstatus, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
        fprintf(stderr, "xmem-demo: the consumer failed\n");
        status = 1;
    }
    /* A consumer that died holding frames gives them back here. */
    xmem_pool_reclaim_pid(pool, child, NULL, NULL);
    double secs = (double)(now_ns() - start) / 1e9;
    uint32_t free_now = xmem_pool_free_count(pool);
    printf("xmem-demo: %" PRIu64 " frames in %.2f s (%.0f frames/s, %.2f GB/s shared without a "
           "copy), producer waited %" PRIu64 " times; buffers free at the end: %u/%u\n",
           sent, secs, (double)sent / secs, (double)sent * (double)size / secs / 1e9, waits,
           free_now, buffers);
    if (free_now != buffers) {
        fprintf(stderr, "xmem-demo: %u buffers leaked\n", buffers - free_now);
        status = 1;
    }
    xmem_pool_destroy(&pool);
    printf("xmem-demo: %s\n", status ? "FAILED" : "ok");
    return status;
}
