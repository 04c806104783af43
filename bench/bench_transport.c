/* xmem-bench-transport: one-way hand-off latency through xmem (publish -> a consumer process holds
 * the buffer) for 4 KiB .. 64 MiB, against raw ZeroMQ with a 32-byte message and against copying
 * the payload through ZeroMQ, on the same socket pattern (ROUTER -> DEALER over ipc) in the same
 * run; 1 -> 4 fan-out latency (until all four hold it); hand-offs per second in a 2-process
 * pipeline; and each process's peak memory. Prints Markdown tables. Run: xmem-bench-transport
 * [--quick] */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <xmem/xmem.h>

#include "bench_clock.h"

#define MAX_CONSUMERS 4
#define MAX_SAMPLES 4000

/* Written by consumer processes, read by the parent: memory shared across fork(). */
typedef struct shared {
    _Atomic int ready;
    _Atomic uint64_t received[MAX_CONSUMERS];
    uint64_t arrival_ns[MAX_CONSUMERS][MAX_SAMPLES]; /* when consumer c held frame i */
    long peak_kb[MAX_CONSUMERS];                     /* VmHWM at the end */
    long anon_kb[MAX_CONSUMERS];                     /* RssAnon at the end */
    int failed;
} shared;

typedef enum mode { MODE_XMEM, MODE_ZMQ_SMALL, MODE_ZMQ_COPY } mode;

static shared *sh;
static char endpoint[128];
static char pool_name[64];

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0 && line[klen] == ':')
            v = strtol(line + klen + 1, NULL, 10);
    fclose(f);
    return v;
}

/* Starts VmHWM afresh (Linux 4.0+), so each run reports its own peak. */
static void reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

static void fail(const char *what, const char *msg)
{
    fprintf(stderr, "xmem-bench-transport: %s: %s\n", what, msg);
    exit(1);
}

static void spin_until(uint64_t t)
{
    while (now_ns() < t)
        ;
}

/* ---- consumers ---- */

static void consume_xmem(int c, uint64_t frames, uint32_t depth)
{
    xmem_error_t err;
    xmem_sub_options o;
    xmem_sub_options_init(&o);
    o.depth = depth;
    o.policy = XMEM_POLICY_BLOCK;
    xmem_sub_t *sub = NULL;
    if (xmem_sub_create(pool_name, &o, &sub, &err) || xmem_sub_connect(sub, endpoint, &err)) {
        fprintf(stderr, "consumer %d: %s\n", c, err.msg);
        sh->failed = 1;
        _exit(1);
    }
    reset_peak();
    atomic_fetch_add(&sh->ready, 1);
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < frames; i++) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        if (xmem_sub_receive(sub, 10000, &g, &err)) {
            fprintf(stderr, "consumer %d: frame %" PRIu64 ": %s\n", c, i, err.msg);
            sh->failed = 1;
            break;
        }
        uint64_t seq = xmem_sub_last(sub)->sequence;
        if (seq < MAX_SAMPLES)
            sh->arrival_ns[c][seq] = now_ns();
        sink ^= *(const volatile uint8_t *)xmem_guard_data(&g);
        xmem_guard_release(&g, NULL);
        atomic_fetch_add_explicit(&sh->received[c], 1, memory_order_relaxed);
    }
    sh->peak_kb[c] = status_kb("VmHWM");
    sh->anon_kb[c] = status_kb("RssAnon");
    xmem_sub_destroy(&sub);
    _exit(0);
}

static void consume_zmq(int c, uint64_t frames)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    char rid[32];
    int n = snprintf(rid, sizeof rid, "c%d", c);
    zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, (size_t)n);
    if (zmq_connect(s, endpoint) != 0)
        fail("zmq_connect", zmq_strerror(errno));
    zmq_send(s, "hi", 2, 0);
    atomic_fetch_add(&sh->ready, 1);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < frames; i++) {
        if (zmq_msg_recv(&msg, s, 0) < 0)
            fail("zmq_msg_recv", zmq_strerror(errno));
        uint64_t t = now_ns();
        uint64_t seq;
        memcpy(&seq, zmq_msg_data(&msg), sizeof seq);
        if (seq < MAX_SAMPLES)
            sh->arrival_ns[c][seq] = t;
        sink ^= ((const uint8_t *)zmq_msg_data(&msg))[zmq_msg_size(&msg) - 1];
        atomic_fetch_add_explicit(&sh->received[c], 1, memory_order_relaxed);
    }
    zmq_msg_close(&msg);
    sh->peak_kb[c] = status_kb("VmHWM");
    sh->anon_kb[c] = status_kb("RssAnon");
    zmq_close(s);
    zmq_ctx_term(ctx);
    _exit(0);
}

/* ---- one experiment ---- */

typedef struct outcome {
    double p50_us, p99_us, max_us;
    double rate;       /* frames per second, throughput runs */
    long prod_peak_kb; /* producer VmHWM */
    long cons_peak_kb; /* largest consumer VmHWM */
    long cons_anon_kb; /* largest consumer RssAnon */
} outcome;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static pid_t spawn(mode m, int c, uint64_t frames, uint32_t depth)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        fail("fork", strerror(errno));
    if (pid == 0) {
        if (m == MODE_XMEM)
            consume_xmem(c, frames, depth);
        consume_zmq(c, frames);
    }
    return pid;
}

static void wait_all(pid_t *pids, int n)
{
    for (int c = 0; c < n; c++) {
        int st;
        waitpid(pids[c], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st))
            sh->failed = 1;
    }
}

/* Sends `frames` frames of `size` bytes to `consumers` consumer processes, one every `gap_ns`
 * (0: as fast as the consumers take them), and measures publish -> held latency per frame. */
static outcome run(mode m, size_t size, int consumers, uint64_t frames, uint64_t gap_ns,
                   uint32_t depth)
{
    memset(sh, 0, sizeof *sh);
    snprintf(endpoint, sizeof endpoint, "ipc:///tmp/xmem-bench-%d.ipc", (int)getpid());
    snprintf(pool_name, sizeof pool_name, "xmem-bench-tr-%d", (int)getpid());
    xmem_error_t err;
    xmem_pool_t *pool = NULL;
    xmem_pub_t *pub = NULL;
    void *ctx = NULL, *sock = NULL;
    uint32_t buffers = (uint32_t)consumers * depth + 8;
    if (m == MODE_XMEM) {
        xmem_pool_options po;
        xmem_pool_options_init(&po);
        po.capacity = buffers;
        po.n_classes = 1;
        po.classes[0] = (xmem_size_class){size, buffers};
        if (xmem_pool_create_with(pool_name, &po, &pool, &err))
            fail("xmem setup", err.msg);
    }
    /* Consumers are forked before any ZeroMQ thread exists here (forking a threaded process is
     * best avoided); they connect before the bind and ZeroMQ retries until it is there. */
    pid_t pids[MAX_CONSUMERS];
    for (int c = 0; c < consumers; c++)
        pids[c] = spawn(m, c, frames, depth);
    if (m == MODE_XMEM) {
        if (xmem_pub_create(pool, endpoint, NULL, &pub, &err))
            fail("xmem setup", err.msg);
    } else {
        ctx = zmq_ctx_new();
        sock = zmq_socket(ctx, ZMQ_ROUTER);
        int one = 1, hwm = 1000;
        zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
        zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
        if (zmq_bind(sock, endpoint) != 0)
            fail("zmq_bind", zmq_strerror(errno));
    }
    char rids[MAX_CONSUMERS][32];
    int rid_len[MAX_CONSUMERS];
    if (m == MODE_XMEM) {
        if (xmem_pub_wait_subscribers(pub, (uint32_t)consumers, 10000, &err))
            fail("subscribers", err.msg);
    } else {
        for (int c = 0; c < consumers; c++) {
            rid_len[c] = zmq_recv(sock, rids[c], sizeof rids[c], 0);
            char hi[8];
            zmq_recv(sock, hi, sizeof hi, 0);
        }
    }
    uint8_t *payload = m == MODE_ZMQ_COPY ? malloc(size) : NULL;
    if (payload)
        memset(payload, 0x5a, size);
    uint64_t sent_ns[MAX_SAMPLES] = {0};
    reset_peak();
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < frames; i++) {
        if (gap_ns) {
            /* Latency runs go in lock step: a frame leaves once every consumer holds the one
             * before and the gap has passed, so no frame waits behind another. */
            for (int c = 0; c < consumers; c++)
                while (atomic_load_explicit(&sh->received[c], memory_order_acquire) < i)
                    ;
            spin_until(now_ns() + gap_ns);
        }
        uint64_t t = now_ns();
        if (i < MAX_SAMPLES)
            sent_ns[i] = t;
        if (m == MODE_XMEM) {
            xmem_guard_t g = XMEM_GUARD_INIT;
            xmem_err rc;
            while ((rc = xmem_pool_acquire_cpu(pool, size, &g, NULL)) == XMEM_EEXHAUSTED)
                ;
            if (rc)
                fail("acquire", xmem_strerror(rc));
            *(uint8_t *)g.data = (uint8_t)i;
            xmem_guard_set_stamp(&g, i, t, NULL);
            if (xmem_pub_publish(pub, &g, &err))
                fail("publish", err.msg);
        } else {
            uint8_t small[32] = {0};
            uint8_t *body = m == MODE_ZMQ_COPY ? payload : small;
            size_t len = m == MODE_ZMQ_COPY ? size : sizeof small;
            memcpy(body, &i, sizeof i);
            for (int c = 0; c < consumers; c++) {
                zmq_send(sock, rids[c], (size_t)rid_len[c], ZMQ_SNDMORE);
                zmq_send(sock, body, len, 0);
            }
        }
    }
    wait_all(pids, consumers);
    uint64_t end = now_ns();
    outcome o = {0};
    o.prod_peak_kb = status_kb("VmHWM");
    for (int c = 0; c < consumers; c++) {
        if (sh->peak_kb[c] > o.cons_peak_kb)
            o.cons_peak_kb = sh->peak_kb[c];
        if (sh->anon_kb[c] > o.cons_anon_kb)
            o.cons_anon_kb = sh->anon_kb[c];
    }
    o.rate = (double)frames * 1e9 / (double)(end - start);
    /* Latency of a frame: until the last consumer holds it. The first tenth warms up. */
    uint64_t n = frames < MAX_SAMPLES ? frames : MAX_SAMPLES;
    uint64_t first = n / 10, k = 0;
    uint64_t *lat = calloc(n, sizeof *lat);
    for (uint64_t i = first; i < n; i++) {
        uint64_t last = 0;
        for (int c = 0; c < consumers; c++)
            if (sh->arrival_ns[c][i] > last)
                last = sh->arrival_ns[c][i];
        if (last >= sent_ns[i])
            lat[k++] = last - sent_ns[i];
    }
    if (k) {
        qsort(lat, k, sizeof *lat, cmp_u64);
        o.p50_us = (double)lat[k / 2] / 1e3;
        o.p99_us = (double)lat[(k * 99) / 100] / 1e3;
        o.max_us = (double)lat[k - 1] / 1e3;
    }
    free(lat);
    free(payload);
    if (m == MODE_XMEM) {
        xmem_pub_destroy(&pub);
        uint32_t free_now = xmem_pool_free_count(pool);
        if (free_now != xmem_pool_capacity(pool)) {
            fprintf(stderr, "xmem-bench-transport: %u buffers leaked\n",
                    xmem_pool_capacity(pool) - free_now);
            sh->failed = 1;
        }
        xmem_pool_destroy(&pool);
    } else {
        zmq_close(sock);
        zmq_ctx_term(ctx);
    }
    if (sh->failed)
        fail("run", "a consumer failed");
    return o;
}

static const char *size_text(size_t size)
{
    static char buf[8][32];
    static int slot;
    char *b = buf[slot++ % 8];
    if (size >= (1u << 20))
        snprintf(b, 32, "%zu MiB", size >> 20);
    else if (size >= 1024)
        snprintf(b, 32, "%zu KiB", size >> 10);
    else
        snprintf(b, 32, "%zu B", size);
    return b;
}

int main(int argc, char **argv)
{
    bool quick = false;
    const char *only = NULL;
    static const struct option opts[] = {{"quick", no_argument, NULL, 'q'},
                                         {"only", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    for (int c; (c = getopt_long(argc, argv, "qo:h", opts, NULL)) != -1;) {
        if (c == 'q') {
            quick = true;
            continue;
        }
        if (c == 'o' && (!strcmp(optarg, "latency") || !strcmp(optarg, "fanout") ||
                         !strcmp(optarg, "throughput"))) {
            only = optarg;
            continue;
        }
        FILE *out = c == 'h' ? stdout : stderr;
        fprintf(out,
                "usage: xmem-bench-transport [--quick] [--only latency|fanout|throughput]\n\n"
                "One-way hand-off latency through xmem against raw ZeroMQ (32 bytes) and against\n"
                "copying the payload through ZeroMQ, 1 -> 4 fan-out, hand-offs per second and\n"
                "peak memory, all in one run. --quick takes fewer samples; --only runs one\n"
                "table.\n");
        return c == 'h' ? 0 : 2;
    }
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        fail("mmap", strerror(errno));
    signal(SIGPIPE, SIG_IGN);

    static const size_t sizes[] = {4096, 65536, 1u << 20, 8u << 20, 64u << 20};
    const uint64_t gap = 200 * 1000; /* 200 us between frames: latency, not throughput */
    const uint64_t lat_frames = quick ? 500 : 2000;
    if (!only || !strcmp(only, "latency")) {
        outcome small = run(MODE_ZMQ_SMALL, 32, 1, lat_frames, gap, 4);

        printf("## One-way latency, 1 producer -> 1 consumer process (ipc, ROUTER -> DEALER)\n\n");
        printf("| payload | xmem p50 us | xmem p99 us | raw ZeroMQ 32 B p50 us | xmem / raw p50 | "
               "copy "
               "through ZeroMQ p50 us | copy p99 us | copy / xmem p50 |\n");
        printf("|---|---|---|---|---|---|---|---|\n");
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            size_t size = sizes[i];
            outcome x = run(MODE_XMEM, size, 1, lat_frames, gap, 4);
            uint64_t copy_frames = size >= (8u << 20) ? (quick ? 30 : 100) : lat_frames;
            outcome cp = run(MODE_ZMQ_COPY, size, 1, copy_frames, gap, 4);
            printf("| %s | %.1f | %.1f | %.1f | %.2f | %.1f | %.1f | %.1fx |\n", size_text(size),
                   x.p50_us, x.p99_us, small.p50_us, x.p50_us / small.p50_us, cp.p50_us, cp.p99_us,
                   cp.p50_us / x.p50_us);
            fflush(stdout);
        }
    }

    if (!only || !strcmp(only, "fanout")) {
        printf("\n## Fan-out 1 -> 4 consumer processes: latency until all four hold the frame\n\n"
               "Peak KiB is VmHWM of that run, which counts the pool's shared pages each process "
               "maps;\n"
               "anon KiB is the process's private memory.\n\n");
        printf("| payload | xmem p50 us | xmem p99 us | raw ZeroMQ 32 B p50 us | xmem / raw p50 | "
               "producer peak KiB | consumer peak KiB | consumer anon KiB |\n");
        printf("|---|---|---|---|---|---|---|---|\n");
        outcome small4 = run(MODE_ZMQ_SMALL, 32, 4, lat_frames, gap, 4);
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i += 3) {
            outcome x = run(MODE_XMEM, sizes[i], 4, lat_frames, gap, 4);
            printf("| %s | %.1f | %.1f | %.1f | %.2f | %ld | %ld | %ld |\n", size_text(sizes[i]),
                   x.p50_us, x.p99_us, small4.p50_us, x.p50_us / small4.p50_us, x.prod_peak_kb,
                   x.cons_peak_kb, x.cons_anon_kb);
            fflush(stdout);
        }
    }

    if (!only || !strcmp(only, "throughput")) {
        printf(
            "\n## Hand-offs per second, 4 KiB buffers, block policy, as fast as the consumers "
            "take them\n\n"
            "Depth is the xmem subscriber's queue: how many buffers the publisher may have out to "
            "it\n(in flight or held). Raw ZeroMQ runs with a send high-water mark of 1000 messages "
            "per consumer,\nso depth 1000 is the same window.\n\n");
        printf("| consumers | depth | frames | xmem hand-offs/s | raw ZeroMQ 32 B msgs/s | xmem / "
               "raw | "
               "consumer peak KiB | consumer anon KiB |\n");
        printf("|---|---|---|---|---|---|---|---|\n");
        uint64_t tp_frames = quick ? 200000 : 1000000;
        static const uint32_t depths[] = {64, 1000};
        for (size_t di = 0; di < sizeof depths / sizeof *depths; di++) {
            for (int consumers = 1; consumers <= 4; consumers += 3) {
                outcome x = run(MODE_XMEM, 4096, consumers, tp_frames, 0, depths[di]);
                outcome z = run(MODE_ZMQ_SMALL, 32, consumers, tp_frames, 0, depths[di]);
                printf("| %d | %u | %" PRIu64 " | %.0f | %.0f | %.2f | %ld | %ld |\n", consumers,
                       depths[di], tp_frames, x.rate, z.rate, x.rate / z.rate, x.cons_peak_kb,
                       x.cons_anon_kb);
                fflush(stdout);
            }
        }
    }
    printf("\nAll runs ended with every pool buffer free.\n");
    return 0;
}
