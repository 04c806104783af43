/* xmem-demo: one producer fans frames out to N consumer processes through an xmem pool and the
 * ZeroMQ transport. The producer writes each frame once; every consumer checks every byte of it in
 * place (a checksum the producer stored in the frame) and its sequence number, then releases it;
 * the last release recycles the buffer. Only a 48-byte descriptor crosses the socket.
 * Run: xmem-demo --consumers 4 --frames 2000 --size 6220800 --policy block */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xmem/pool_admin.h>
#include <xmem/xmem.h>

#define MAX_CONSUMERS 16

/* Each consumer's figures, in memory shared with the producer (mapped before fork). */
typedef struct consumer_stats {
    _Atomic uint64_t received;
    _Atomic uint64_t bad;        /* failed the checksum */
    _Atomic uint64_t missed;     /* sequence numbers skipped (drop_oldest drops) */
    _Atomic uint64_t latency_ns; /* sum, producer stamp -> frame checked */
    _Atomic uint64_t latency_max_ns;
    _Atomic int ready;
} consumer_stats;

typedef struct shared {
    _Atomic int done; /* the producer has sent its last frame */
    consumer_stats c[MAX_CONSUMERS];
} shared;

typedef struct config {
    uint64_t frames;
    size_t size;
    int consumers;
    xmem_queue_policy policy;
    uint32_t depth;
    uint32_t buffers;
    double rate;
    char pool[64];
    char endpoint[160];
} config;

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

static int consumer(const config *cfg, consumer_stats *st, shared *sh)
{
    xmem_error_t err;
    xmem_sub_options so;
    xmem_sub_options_init(&so);
    so.policy = cfg->policy;
    so.depth = cfg->depth;
    xmem_sub_t *sub = NULL;
    if (xmem_sub_create(cfg->pool, &so, &sub, &err) || xmem_sub_connect(sub, cfg->endpoint, &err)) {
        fprintf(stderr, "consumer %d: %s\n", getpid(), err.msg);
        xmem_sub_destroy(&sub);
        return 1;
    }
    atomic_store(&st->ready, 1);
    uint64_t expect = 0;
    size_t n = cfg->size / sizeof(uint64_t);
    for (;;) {
        XMEM_GUARD_AUTO xmem_guard_t g = XMEM_GUARD_INIT;
        xmem_err rc = xmem_sub_receive(sub, 100, &g, &err);
        if (rc == XMEM_ETIMEDOUT || rc == XMEM_EINTERRUPTED) {
            if (atomic_load(&sh->done))
                break;
            continue;
        }
        if (rc) {
            fprintf(stderr, "consumer %d: %s\n", getpid(), err.msg);
            break;
        }
        const uint64_t *words = xmem_guard_data(&g);
        const xmem_descriptor *d = xmem_sub_last(sub);
        if (words[0] != checksum(words + 1, n - 1) && atomic_fetch_add(&st->bad, 1) < 5)
            fprintf(stderr, "consumer %d: frame %" PRIu64 " in buffer %u failed its check\n",
                    getpid(), d->sequence, d->ref.index);
        if (d->sequence > expect)
            atomic_fetch_add(&st->missed, d->sequence - expect);
        expect = d->sequence + 1;
        uint64_t lat = now_ns() - d->timestamp_ns;
        atomic_fetch_add(&st->latency_ns, lat);
        if (lat > atomic_load(&st->latency_max_ns))
            atomic_store(&st->latency_max_ns, lat);
        atomic_fetch_add(&st->received, 1);
    }
    xmem_sub_destroy(&sub);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xmem-demo [options]\n"
            "\n"
            "Fans frames out from one producer to N consumer processes through an xmem pool: the\n"
            "producer writes each frame once, every consumer checks all of it in place (no copy)\n"
            "and releases it, the last release recycles the buffer. Prints a live table once a\n"
            "second and a summary; exits 1 if a frame failed its check, a buffer leaked, or a\n"
            "frame was missed under --policy block.\n"
            "\n"
            "  --frames N          frames to send (default 2000)\n"
            "  --size BYTES        frame size (default 6220800, a 1920x1080x3 u8 frame)\n"
            "  --consumers N       consumer processes, 1..%d (default 4)\n"
            "  --policy P          block (lossless, default) or drop_oldest (live video)\n"
            "  --depth N           buffers each consumer may hold (default 4)\n"
            "  --rate FPS          frames per second (default: as fast as they go)\n"
            "  --buffers N         pool buffers (default consumers x depth + 4)\n"
            "  --pool NAME         pool name (default xmem-demo-PID)\n"
            "  -h, --help          this text\n",
            MAX_CONSUMERS);
}

static int parse(int argc, char **argv, config *cfg)
{
    *cfg = (config){.frames = 2000, .size = 1920 * 1080 * 3, .consumers = 4, .depth = 4};
    cfg->policy = XMEM_POLICY_BLOCK;
    snprintf(cfg->pool, sizeof cfg->pool, "xmem-demo-%d", (int)getpid());
    static const struct option opts[] = {
        {"frames", required_argument, NULL, 'f'},
        {"size", required_argument, NULL, 's'},
        {"consumers", required_argument, NULL, 'c'},
        {"policy", required_argument, NULL, 'P'},
        {"depth", required_argument, NULL, 'd'},
        {"rate", required_argument, NULL, 'r'},
        {"buffers", required_argument, NULL, 'b'},
        {"pool", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        char *end = NULL;
        switch (c) {
        case 'f': cfg->frames = strtoull(optarg, &end, 10); break;
        case 's': cfg->size = strtoull(optarg, &end, 10); break;
        case 'c': cfg->consumers = (int)strtol(optarg, &end, 10); break;
        case 'd': cfg->depth = (uint32_t)strtoul(optarg, &end, 10); break;
        case 'r': cfg->rate = strtod(optarg, &end); break;
        case 'b': cfg->buffers = (uint32_t)strtoul(optarg, &end, 10); break;
        case 'p': snprintf(cfg->pool, sizeof cfg->pool, "%s", optarg); break;
        case 'P':
            if (strcmp(optarg, "block") == 0) {
                cfg->policy = XMEM_POLICY_BLOCK;
            } else if (strcmp(optarg, "drop_oldest") == 0) {
                cfg->policy = XMEM_POLICY_DROP_OLDEST;
            } else {
                fprintf(stderr, "xmem-demo: --policy is block or drop_oldest, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (end && *end) {
            fprintf(stderr, "xmem-demo: '%s' is not a number\n", optarg);
            return 2;
        }
    }
    if (cfg->size < 2 * sizeof(uint64_t) || cfg->consumers < 1 || cfg->consumers > MAX_CONSUMERS ||
        cfg->depth < 1 || cfg->rate < 0) {
        fprintf(stderr, "xmem-demo: --size >= 16, --consumers 1..%d, --depth >= 1, --rate >= 0\n",
                MAX_CONSUMERS);
        return 2;
    }
    if (!cfg->buffers)
        cfg->buffers = (uint32_t)cfg->consumers * cfg->depth + 4;
    return -1;
}

static void print_table(const config *cfg, const shared *sh, uint64_t sent, uint64_t start,
                        xmem_pool_t *pool)
{
    double secs = (double)(now_ns() - start) / 1e9;
    printf("  sent %8" PRIu64 "  %7.1f frames/s  %6.2f GB/s  pool free %u/%u\n", sent,
           (double)sent / secs, (double)sent * (double)cfg->size / secs / 1e9,
           xmem_pool_free_count(pool), cfg->buffers);
    for (int i = 0; i < cfg->consumers; i++) {
        const consumer_stats *st = &sh->c[i];
        uint64_t n = atomic_load(&st->received);
        printf("    consumer %d: %8" PRIu64 " checked  %3" PRIu64 " bad  %6" PRIu64
               " missed  latency avg %7.1f us  max %8.1f us\n",
               i, n, atomic_load(&st->bad), atomic_load(&st->missed),
               n ? (double)atomic_load(&st->latency_ns) / (double)n / 1e3 : 0.0,
               (double)atomic_load(&st->latency_max_ns) / 1e3);
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    config cfg;
    int prc = parse(argc, argv, &cfg);
    if (prc >= 0)
        return prc;
    /* Private runtime directory for the ipc endpoint, removed at the end. */
    char dir[] = "/tmp/xmem-demo-XXXXXX";
    if (!mkdtemp(dir) || chmod(dir, 0700) != 0) {
        perror("xmem-demo: runtime directory");
        return 1;
    }
    snprintf(cfg.endpoint, sizeof cfg.endpoint, "ipc://%s/frames", dir);
    shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        perror("xmem-demo: mmap");
        rmdir(dir);
        return 1;
    }
    memset(sh, 0, sizeof *sh);

    xmem_error_t err;
    xmem_pool_options po;
    xmem_pool_options_init(&po);
    po.capacity = cfg.buffers;
    po.n_classes = 1;
    po.classes[0] = (xmem_size_class){.size = cfg.size, .count = cfg.buffers};
    xmem_pool_t *pool = NULL;
    if (xmem_pool_create_with(cfg.pool, &po, &pool, &err)) {
        fprintf(stderr, "xmem-demo: %s\n", err.msg);
        rmdir(dir);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* Consumers first: a process with ZeroMQ threads should not fork. */
    pid_t kids[MAX_CONSUMERS];
    fflush(stdout);
    for (int i = 0; i < cfg.consumers; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            signal(SIGINT, SIG_IGN);  /* the producer decides when the stream ends */
            xmem_pool_destroy(&pool); /* the parent's handle: the subscriber opens its own */
            _exit(consumer(&cfg, &sh->c[i], sh));
        }
        if (kids[i] < 0) {
            perror("xmem-demo: fork");
            cfg.consumers = i;
            break;
        }
    }
    int status = 0;
    xmem_pub_t *pub = NULL;
    if (xmem_pub_create(pool, cfg.endpoint, NULL, &pub, &err) ||
        xmem_pub_wait_subscribers(pub, (uint32_t)cfg.consumers, 10000, &err)) {
        fprintf(stderr, "xmem-demo: %s\n", err.msg);
        status = 1;
    }
    printf("xmem-demo: pool '%s', %u buffers of %zu bytes, %d consumers, policy %s, depth %u\n",
           cfg.pool, cfg.buffers, cfg.size, cfg.consumers,
           cfg.policy == XMEM_POLICY_BLOCK ? "block" : "drop_oldest", cfg.depth);
    uint64_t sent = 0, start = now_ns(), last_report = start, waits = 0;
    size_t n = cfg.size / sizeof(uint64_t);
    while (status == 0 && sent < cfg.frames && !stop_requested) {
        if (cfg.rate > 0) {
            uint64_t due = start + (uint64_t)((double)sent * 1e9 / cfg.rate);
            while (now_ns() < due && !stop_requested)
                nanosleep(&(struct timespec){.tv_nsec = 100 * 1000}, NULL);
        }
        xmem_guard_t g = XMEM_GUARD_INIT;
        /* Every buffer with the consumers is back-pressure: sleep until one comes back (a futex
         * in the pool), and look at the stop flag every 100 ms. No error struct: nothing to
         * explain yet. */
        xmem_err rc = xmem_pool_acquire_cpu_timeout(pool, cfg.size, 100, &g, NULL);
        if (rc == XMEM_EEXHAUSTED) {
            waits++;
            continue;
        }
        if (rc) {
            xmem_pool_acquire_cpu(pool, cfg.size, &g, &err);
            fprintf(stderr, "xmem-demo: %s\n", err.msg);
            status = 1;
            break;
        }
        void *data;
        xmem_guard_data_mut(&g, &data, NULL);
        uint64_t *words = data;
        for (size_t i = 1; i < n; i++)
            words[i] = sent * 0x9e3779b97f4a7c15ull + i;
        words[0] = checksum(words + 1, n - 1);
        xmem_guard_set_stamp(&g, sent, now_ns(), NULL);
        if (cfg.size == 1920 * 1080 * 3)
            xmem_guard_set_layout(&g, XMEM_DTYPE_U8, 3, (int64_t[]){1080, 1920, 3}, NULL, NULL);
        if (xmem_pub_publish(pub, &g, &err)) {
            fprintf(stderr, "xmem-demo: frame %" PRIu64 ": %s\n", sent, err.msg);
            status = 1;
            break;
        }
        sent++;
        uint64_t t = now_ns();
        if (t - last_report >= 1000000000ull) {
            print_table(&cfg, sh, sent, start, pool);
            last_report = t;
        }
    }
    atomic_store(&sh->done, 1);
    for (int i = 0; i < cfg.consumers; i++) {
        int ws = 0;
        while (waitpid(kids[i], &ws, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
            fprintf(stderr, "xmem-demo: consumer %d failed\n", i);
            status = 1;
        }
        /* One that died holding frames gives them back here. */
        xmem_pool_reclaim_pid(pool, kids[i], NULL, NULL);
    }
    xmem_pub_stats ps = {0};
    if (pub)
        xmem_pub_stats_get(pub, &ps, sizeof ps);
    xmem_pub_destroy(&pub);
    print_table(&cfg, sh, sent, start, pool);
    uint64_t bad = 0, missed = 0;
    for (int i = 0; i < cfg.consumers; i++) {
        bad += atomic_load(&sh->c[i].bad);
        missed += atomic_load(&sh->c[i].missed);
    }
    double secs = (double)(now_ns() - start) / 1e9;
    uint32_t free_now = xmem_pool_free_count(pool);
    printf("xmem-demo: %" PRIu64 " frames to %d consumers in %.2f s (%.0f frames/s, %.2f GB/s "
           "written once, read in place %d times); %" PRIu64 " bad, %" PRIu64 " missed, %" PRIu64
           " dropped by the publisher; no free buffer for 100 ms %" PRIu64
           " times; pool free %u/%u\n",
           sent, cfg.consumers, secs, (double)sent / secs,
           (double)sent * (double)cfg.size / secs / 1e9, cfg.consumers, bad, missed,
           ps.dropped[XMEM_DROP_QUEUE_FULL] + ps.dropped[XMEM_DROP_BLOCK_TIMEOUT] +
               ps.dropped[XMEM_DROP_HWM] + ps.dropped[XMEM_DROP_GONE],
           waits, free_now, cfg.buffers);
    if (bad || free_now != cfg.buffers || (cfg.policy == XMEM_POLICY_BLOCK && missed))
        status = 1;
    xmem_pool_destroy(&pool);
    unlink(cfg.endpoint + strlen("ipc://")); /* libzmq leaves the socket file */
    rmdir(dir);
    printf("xmem-demo: %s\n", status ? "FAILED" : "ok");
    return status;
}
