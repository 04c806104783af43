/* xmem-bench-bridge-raw: the raw ZeroMQ baseline a bridge (nodes/bridge) is measured against by
 * bench/bridge_netns.sh. Two processes, usually in two network namespaces: `recv` binds a ROUTER
 * (or PULL) and `send` connects a DEALER (or PUSH) and sends 1920x1080x3-byte messages, each a
 * small header part then the payload, as the bridge does. The payload leaves zero-copy from one
 * preallocated buffer (zmq_msg_init_data with a free function that does nothing): the least work a
 * ZeroMQ sender can do. The sockets get the bridge's options (bridge_link.c's tune: high-water
 * marks, heartbeats, largest message, no linger; ZMQ_IMMEDIATE on the sender) and, with keys,
 * CURVE with czmq certificates of the kind the bridge loads. With --copy the receiver copies each
 * payload into a preallocated buffer, the one copy bridge_recv makes into its pool buffer.
 *
 * Throughput: the sender sends flat out for --seconds; the receiver counts from its first frame to
 * its last (idle 1 s ends it) and prints frames/s, MB/s and the CPU both of its threads spent. For
 * latency, --rate FPS paces the sender and the header carries its CLOCK_MONOTONIC send time
 * (namespaces share the clock): the receiver prints p50/p99 one-way latency, taken once the
 * payload is received (and copied, with --copy). Each side prints one line of key=value figures.
 *
 *   xmem-bench-bridge-raw recv ADDR:PORT [--copy] [--push] [--key FILE] [--hwm N]
 *   xmem-bench-bridge-raw send ADDR:PORT [--seconds S] [--rate FPS] [--size BYTES] [--push]
 *                                        [--key FILE --peer-key FILE] [--hwm N]
 *   xmem-bench-bridge-raw keygen FILE...   (czmq certificates: FILE and FILE_secret, mode 0600) */
#define _GNU_SOURCE
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_clock.h"

#define FRAME_BYTES (1920 * 1080 * 3)
#define MAX_SAMPLES (1 << 20)
#define IDLE_END_MS 1000
#define HEADER_ROOM 65536 /* the bridge's allowance for the header beyond max_message */

/* The first part of every message: what the bridge's header would tell the receiver that this
 * benchmark needs. Padded to the bridge header's order of size so both send two parts alike. */
typedef struct header {
    uint64_t seq;
    uint64_t t_send_ns; /* CLOCK_MONOTONIC at the send, 0 in throughput runs */
    uint8_t pad[352];
} header;

typedef struct options {
    const char *endpoint_arg;
    bool copy, push;
    const char *key, *peer_key;
    double seconds, rate;
    size_t size;
    int hwm_send, hwm_recv;
} options;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* User + system time of every thread of this process, libzmq's I/O thread included. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "xmem-bench-bridge-raw: %s: %s\n", what, why);
    exit(1);
}

static void endpoint_of(const char *addr_port, char *out, size_t len)
{
    if (!strrchr(addr_port, ':'))
        die(addr_port, "expected ADDRESS:PORT");
    snprintf(out, len, "tcp://%s", addr_port);
}

/* The options bridge_link.c's xmemi_bridge_tune gives every bridge socket. */
static void tune(void *s, int sndhwm, int rcvhwm, size_t max_message)
{
    int zero = 0, one = 1, ivl = 500, dead = 2000;
    int64_t max = (int64_t)(max_message + HEADER_ROOM);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &dead, sizeof dead);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TTL, &dead, sizeof dead);
    zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE, &one, sizeof one);
}

static zcert_t *load_secret(const char *key_path)
{
    char path[4096];
    snprintf(path, sizeof path, "%s_secret", key_path);
    zcert_t *c = zcert_load(path);
    if (!c)
        die(path, "not a czmq certificate (make one with `keygen`)");
    return c;
}

static int keygen(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        zcert_t *c = zcert_new();
        if (!c || zcert_save(c, argv[i]) != 0)
            die(argv[i], strerror(errno));
        zcert_destroy(&c);
        char secret[4096];
        snprintf(secret, sizeof secret, "%s_secret", argv[i]);
        /* The bridge refuses a secret key others can read. */
        if (chmod(secret, 0600) != 0)
            die(secret, strerror(errno));
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double percentile_ms(uint64_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[i] / 1e6;
}

static int run_recv(const options *o)
{
    char ep[512];
    endpoint_of(o->endpoint_arg, ep, sizeof ep);
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, o->push ? ZMQ_PULL : ZMQ_ROUTER);
    tune(s, o->hwm_send, o->hwm_recv, o->size);
    zcert_t *cert = NULL;
    if (o->key) {
        int one = 1;
        cert = load_secret(o->key);
        zcert_apply(cert, s);
        zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one);
    }
    if (zmq_bind(s, ep) != 0)
        die(ep, zmq_strerror(errno));
    int timeout = 100; /* to look at `stop` and the idle time */
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    uint8_t *dst = o->copy ? malloc(o->size) : NULL;
    uint64_t *lat = calloc(MAX_SAMPLES, sizeof *lat);
    if ((o->copy && !dst) || !lat)
        die("malloc", "out of memory");
    if (dst)
        memset(dst, 0, o->size); /* faulted in before the first frame, as a pool's buffers are */
    fprintf(stderr, "recv: bound %s (%s%s)\n", ep, o->key ? "CURVE" : "plaintext",
            o->copy ? ", copying" : "");
    uint64_t frames = 0, bytes = 0, n_lat = 0, bad = 0, last_seq = 0, gaps = 0;
    uint64_t t_first = 0, t_last = 0;
    double cpu_first = 0, cpu_last = 0;
    zmq_msg_t part;
    zmq_msg_init(&part);
    while (!stop) {
        if (zmq_msg_recv(&part, s, 0) < 0) {
            if (errno != EAGAIN && errno != EINTR)
                die("recv", zmq_strerror(errno));
            if (t_first && now_ns() - t_last > IDLE_END_MS * 1000000ull)
                break;
            continue;
        }
        if (!o->push && zmq_msg_more(&part)) /* the ROUTER's routing id */
            zmq_msg_recv(&part, s, 0);
        header h = {0};
        bool ok = zmq_msg_size(&part) == sizeof h && zmq_msg_more(&part);
        if (ok)
            memcpy(&h, zmq_msg_data(&part), sizeof h);
        while (zmq_msg_more(&part)) {
            zmq_msg_recv(&part, s, 0);
            if (ok && !zmq_msg_more(&part) && dst && zmq_msg_size(&part) <= o->size)
                memcpy(dst, zmq_msg_data(&part), zmq_msg_size(&part));
            if (!zmq_msg_more(&part))
                bytes += zmq_msg_size(&part);
        }
        if (!ok) {
            bad++;
            continue;
        }
        uint64_t now = now_ns();
        if (!t_first) {
            /* The window starts at the first frame: what came before it is connecting. */
            t_first = now;
            cpu_first = cpu_s();
            bytes = 0;
        } else {
            frames++;
        }
        t_last = now;
        if (last_seq && h.seq != last_seq + 1)
            gaps++;
        last_seq = h.seq;
        if (h.t_send_ns && now >= h.t_send_ns && n_lat < MAX_SAMPLES)
            lat[n_lat++] = now - h.t_send_ns;
    }
    cpu_last = cpu_s();
    zmq_msg_close(&part);
    double secs = (double)(t_last - t_first) / 1e9;
    qsort(lat, n_lat, sizeof *lat, cmp_u64);
    /* Frames after the first over the time since it: the first only opens the window. */
    printf("role=recv frames=%" PRIu64 " seconds=%.3f fps=%.2f MBps=%.1f cpu_s=%.3f p50_ms=%.3f "
           "p99_ms=%.3f samples=%" PRIu64 " gaps=%" PRIu64 " bad=%" PRIu64 "\n",
           frames, secs, secs > 0 ? (double)frames / secs : 0,
           secs > 0 ? (double)bytes / 1e6 / secs : 0, cpu_last - cpu_first,
           percentile_ms(lat, n_lat, 0.50), percentile_ms(lat, n_lat, 0.99), n_lat, gaps, bad);
    fflush(stdout);
    free(lat);
    free(dst);
    zmq_close(s);
    zcert_destroy(&cert);
    zmq_ctx_term(ctx);
    return 0;
}

/* The payload is the same buffer every time and is never written while in flight. */
static void no_free(void *data, void *hint)
{
    (void)data;
    (void)hint;
}

static int run_send(const options *o)
{
    char ep[512];
    endpoint_of(o->endpoint_arg, ep, sizeof ep);
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, o->push ? ZMQ_PUSH : ZMQ_DEALER);
    tune(s, o->hwm_send, o->hwm_recv, o->size);
    int one = 1, timeout = 100;
    zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    zcert_t *cert = NULL, *far = NULL;
    if (o->key) {
        if (!o->peer_key)
            die("--key", "needs --peer-key");
        cert = load_secret(o->key);
        far = zcert_load(o->peer_key);
        if (!far)
            die(o->peer_key, "not a czmq certificate");
        zcert_apply(cert, s);
        const char *server = zcert_public_txt(far);
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, strlen(server));
    }
    if (zmq_connect(s, ep) != 0)
        die(ep, zmq_strerror(errno));
    uint8_t *buf = malloc(o->size);
    if (!buf)
        die("malloc", "out of memory");
    for (size_t i = 0; i < o->size; i++)
        buf[i] = (uint8_t)(i * 131u);
    uint64_t period = o->rate > 0 ? (uint64_t)(1e9 / o->rate) : 0;
    uint64_t sent = 0, t_start = 0, t_end = 0, next = 0;
    double cpu_start = 0;
    header h = {0};
    while (!stop) {
        if (period) {
            uint64_t now = now_ns();
            if (next > now) {
                struct timespec ts = {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)};
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            }
        }
        h.seq = sent + 1;
        h.t_send_ns = period ? now_ns() : 0;
        /* ZMQ_IMMEDIATE: EAGAIN until connected (and when the queue stays full 100 ms). */
        if (zmq_send(s, &h, sizeof h, ZMQ_SNDMORE) < 0) {
            if (errno != EAGAIN && errno != EINTR)
                die("send", zmq_strerror(errno));
            if (t_start && now_ns() >= t_end)
                break;
            continue;
        }
        zmq_msg_t payload;
        zmq_msg_init_data(&payload, buf, o->size, no_free, NULL);
        /* The rest of a message whose first part was taken must go. */
        while (zmq_msg_send(&payload, s, 0) < 0) {
            if ((errno != EAGAIN && errno != EINTR) || stop) {
                zmq_msg_close(&payload);
                break;
            }
        }
        uint64_t now = now_ns();
        if (!t_start) {
            /* The clock starts at the first frame that goes: connecting is not measured. */
            t_start = now;
            t_end = now + (uint64_t)(o->seconds * 1e9);
            cpu_start = cpu_s();
            next = now;
        }
        sent++;
        next += period;
        if (now >= t_end)
            break;
    }
    double secs = (double)(now_ns() - t_start) / 1e9;
    double cpu = cpu_s() - cpu_start;
    /* Whatever is still queued is let go before the socket closes, so the receiver sees it. */
    int linger = 2000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(s);
    zmq_ctx_term(ctx);
    printf("role=send frames=%" PRIu64 " seconds=%.3f cpu_s=%.3f\n", sent, secs, cpu);
    fflush(stdout);
    free(buf);
    zcert_destroy(&cert);
    zcert_destroy(&far);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: xmem-bench-bridge-raw recv ADDR:PORT [--copy] [--push] [--key FILE] "
               "[--hwm-send N] [--hwm-recv N] [--size BYTES]\n"
               "       xmem-bench-bridge-raw send ADDR:PORT [--seconds S] [--rate FPS] "
               "[--size BYTES] [--push] [--key FILE --peer-key FILE] [--hwm-send N] "
               "[--hwm-recv N]\n"
               "       xmem-bench-bridge-raw keygen FILE...\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    zsys_handler_set(NULL); /* this program's own SIGINT/SIGTERM handlers, not czmq's */
    if (strcmp(argv[1], "keygen") == 0)
        return keygen(argc - 2, argv + 2);
    bool recv = strcmp(argv[1], "recv") == 0;
    if ((!recv && strcmp(argv[1], "send") != 0) || argc < 3) {
        usage(stderr);
        return 2;
    }
    /* The bridge's defaults at depth 4: its DEALER's send HWM is depth * 2 + 64, its ROUTER's
     * receive HWM 1000 (bridge_send.c, bridge_recv.c). */
    options o = {.endpoint_arg = argv[2],
                 .seconds = 10,
                 .size = FRAME_BYTES,
                 .hwm_send = 4 * 2 + 64,
                 .hwm_recv = 1000};
    static const struct option longs[] = {{"copy", no_argument, NULL, 'c'},
                                          {"push", no_argument, NULL, 'p'},
                                          {"key", required_argument, NULL, 'k'},
                                          {"peer-key", required_argument, NULL, 'K'},
                                          {"seconds", required_argument, NULL, 's'},
                                          {"rate", required_argument, NULL, 'r'},
                                          {"size", required_argument, NULL, 'z'},
                                          {"hwm-send", required_argument, NULL, 'H'},
                                          {"hwm-recv", required_argument, NULL, 'R'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    optind = 3;
    for (int c; (c = getopt_long(argc, argv, "", longs, NULL)) != -1;) {
        switch (c) {
        case 'c': o.copy = true; break;
        case 'p': o.push = true; break;
        case 'k': o.key = optarg; break;
        case 'K': o.peer_key = optarg; break;
        case 's': o.seconds = strtod(optarg, NULL); break;
        case 'r': o.rate = strtod(optarg, NULL); break;
        case 'z': o.size = strtoull(optarg, NULL, 10); break;
        case 'H': o.hwm_send = atoi(optarg); break;
        case 'R': o.hwm_recv = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (o.size == 0 || o.seconds <= 0)
        die("options", "--size and --seconds must be positive");
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return recv ? run_recv(&o) : run_send(&o);
}
