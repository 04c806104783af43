/* `xmem tap [GRAPH] NODE/PORT`: joins a running graph as one more consumer of one output, for as
 * long as it runs: a subscriber of its own (its own pool attachment) under drop_oldest, so the
 * source never waits for it (a SIGKILLed tap's references come back like any consumer's: its
 * publisher reclaims them); registered in the runtime directory so the run's table and `xmem top`
 * show it. Prints each frame's sequence, layout, latency and the rate (or one line a second), and
 * saves frames (frame_save.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <xmem/node.h>
#include <xmem/transport.h>

#include "cli_util.h"
#include "commands.h"
#include "common/exit_status.h"
#include "frame_save.h"
#include "graph/observe.h"
#include "graph/runtime_dir.h"
#include "graph/taps.h"
#include "nodes/latency_hist.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    stop = sig;
}

typedef struct tap {
    const char *save_dir;
    long long depth, every, count, frames;
    bool each_second, quiet;
    char dir[256], node[XMEMI_GRAPH_NAME_MAX], port[XMEMI_RUN_PORT_MAX];
    char pool[XMEMI_GRAPH_NAME_MAX];
    pid_t launcher;
    /* figures */
    uint64_t received, saved, gaps, last_seq;
    bool have_seq;
    uint64_t second_start_ns, second_frames;
    double rate;
    uint64_t lat[XMEMI_HIST_BUCKETS], lat_samples, lat_max;
    bool warned_cuda;
} tap;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xmem tap [options] [GRAPH] NODE/PORT\n"
            "\n"
            "Joins the running graph GRAPH (its pool name or graph file; without it, the only\n"
            "graph running) as a consumer of output PORT of NODE until Ctrl-C, the end of the\n"
            "stream or of the graph. Its queue is drop_oldest, so the source never waits for\n"
            "it; it takes its own pool attachment, and whatever it holds comes back if it is\n"
            "killed. The run's table and `xmem top` list it while it is attached.\n"
            "Prints per frame its sequence number, layout, latency from the producer's stamp\n"
            "and the rate (or one line per second), and can save frames: u8 images of 1, 3 or\n"
            "4 channels as PNG, any other frame as .npy.\n"
            "Exit status: 0 when stopped or the stream or graph ended, 1 when the graph\n"
            "cannot be reached or a frame cannot be saved, 2 on bad usage, 3 when the node or\n"
            "port does not exist.\n"
            "\n"
            "  -s, --save DIR      save frames into DIR as NODE.PORT-SEQUENCE.png (or .npy)\n"
            "  -e, --every N       save every Nth frame received (default 1)\n"
            "  -c, --count K       save K frames, then stop\n"
            "  -n, --frames N      receive N frames, then stop\n"
            "  -1, --each-second   one line per second (frames, rate, latency, gaps)\n"
            "  -q, --quiet         no lines per frame or second\n"
            "  -d, --depth N       frames it may hold before older ones are dropped (default 1;\n"
            "                      the publisher drops for it beyond twice that)\n"
            "  -h, --help          this text\n");
}

/* Finds the graph and checks that NODE/PORT is an output with an endpoint. */
static int locate(tap *t, const char *target, const char *what)
{
    const char *slash = strchr(what, '/');
    if (!slash || slash == what || !slash[1] || strchr(slash + 1, '/')) {
        fprintf(stderr, "xmem tap: '%s': expected NODE/PORT\n", what);
        return XMEMI_EXIT_USAGE;
    }
    snprintf(t->node, sizeof t->node, "%.*s", (int)(slash - what), what);
    snprintf(t->port, sizeof t->port, "%s", slash + 1);
    xmem_error_t err;
    bool bare;
    xmemi_run_desc d;
    if (xmemi_obs_find(target, t->dir, sizeof t->dir, &bare, &err) ||
        xmemi_run_desc_read(t->dir, &d, &err)) {
        fprintf(stderr, "xmem tap: %s\n", err.msg);
        return XMEMI_EXIT_FAILED;
    }
    snprintf(t->pool, sizeof t->pool, "%s", d.pool);
    t->launcher = d.launcher;
    int node = xmemi_run_desc_node(&d, t->node);
    bool has_port = false;
    char ports[512] = "";
    size_t used = 0;
    for (uint32_t i = 0; node >= 0 && i < d.n_outputs; i++)
        if (d.outputs[i].node == (uint32_t)node) {
            has_port |= strcmp(d.outputs[i].name, t->port) == 0;
            int n = snprintf(ports + used, sizeof ports - used, "%s%s", used ? ", " : "",
                             d.outputs[i].name);
            used += n > 0 && (size_t)n < sizeof ports - used ? (size_t)n : 0;
        }
    xmemi_run_desc_free(&d);
    if (node < 0 || !has_port) {
        if (node < 0)
            fprintf(stderr, "xmem tap: graph '%s' has no node '%s'\n", t->pool, t->node);
        else
            fprintf(stderr, "xmem tap: node '%s' has no output '%s' (it has: %s)\n", t->node,
                    t->port, used ? ports : "none");
        return XMEMI_EXIT_INVALID;
    }
    char sock[600];
    struct stat st;
    snprintf(sock, sizeof sock, "%s/%s.%s", t->dir, t->node, t->port);
    if (stat(sock, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        fprintf(stderr,
                "xmem tap: output %s/%s has no endpoint: nothing in the graph subscribes to it, "
                "so its node publishes nowhere (%s)\n",
                t->node, t->port, sock);
        return XMEMI_EXIT_FAILED;
    }
    return XMEMI_EXIT_OK;
}

static void layout(char *buf, size_t len, const xmem_meta_t *m)
{
    int n = snprintf(buf, len, "%s [", xmem_dtype_name(m->dtype));
    for (uint32_t d = 0; d < m->ndim && n > 0 && (size_t)n < len; d++)
        n += snprintf(buf + n, len - (size_t)n, "%s%lld", d ? ", " : "", (long long)m->shape[d]);
    if (n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, "]");
}

static int save(tap *t, const xmem_meta_t *m, const void *data)
{
    if (!data) {
        if (!t->warned_cuda)
            fprintf(stderr, "xmem tap: %s/%s carries %s buffers: not saved\n", t->node, t->port,
                    xmem_storage_name(m->storage));
        t->warned_cuda = true;
        return XMEMI_EXIT_OK;
    }
    uint32_t w, h, c;
    bool png = xmemi_frame_png_built() && xmemi_frame_is_image(m, &w, &h, &c);
    char path[1024], seq[32], stamp[32], source[256];
    snprintf(path, sizeof path, "%s/%s.%s-%08llu.%s", t->save_dir, t->node, t->port,
             (unsigned long long)m->sequence, png ? "png" : "npy");
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)m->sequence);
    snprintf(stamp, sizeof stamp, "%llu", (unsigned long long)m->timestamp_ns);
    snprintf(source, sizeof source, "%s/%s of %s", t->node, t->port, t->pool);
    const char *text[] = {"xmem:source", source, "xmem:sequence", seq, "xmem:timestamp_ns",
                          stamp,         NULL};
    xmem_error_t err;
    xmem_err rc = png ? xmemi_frame_save_png(path, m, data, text, &err)
                      : xmemi_frame_save_npy(path, m, data, &err);
    if (rc) {
        fprintf(stderr, "xmem tap: %s\n", err.msg);
        return XMEMI_EXIT_FAILED;
    }
    t->saved++;
    return XMEMI_EXIT_OK;
}

static void second_line(tap *t, uint64_t now)
{
    double s = (double)(now - t->second_start_ns) / 1e9;
    t->rate = s > 0 ? (double)t->second_frames / s : 0;
    if (t->each_second && !t->quiet) {
        uint64_t p50 = xmemi_hist_percentile(t->lat, t->lat_samples, t->lat_max, 0.5);
        uint64_t p99 = xmemi_hist_percentile(t->lat, t->lat_samples, t->lat_max, 0.99);
        printf("%s/%s: %llu frames in %.1f s, %.1f/s, latency p50 %.1f us p99 %.1f us, gaps "
               "%llu, saved %llu\n",
               t->node, t->port, (unsigned long long)t->second_frames, s, t->rate,
               (double)p50 / 1e3, (double)p99 / 1e3, (unsigned long long)t->gaps,
               (unsigned long long)t->saved);
        fflush(stdout);
    }
    memset(t->lat, 0, sizeof t->lat);
    t->lat_samples = t->lat_max = 0;
    t->second_frames = 0;
    t->second_start_ns = now;
}

static int on_frame(tap *t, xmem_guard_t *g)
{
    uint64_t now = xmem_node_clock_ns();
    xmem_meta_t m;
    xmem_error_t err;
    if (xmem_guard_meta(g, &m, &err)) {
        fprintf(stderr, "xmem tap: %s\n", err.msg);
        return XMEMI_EXIT_FAILED;
    }
    if (t->have_seq && m.sequence > t->last_seq + 1)
        t->gaps += m.sequence - t->last_seq - 1;
    t->last_seq = m.sequence;
    t->have_seq = true;
    t->received++;
    t->second_frames++;
    uint64_t lat = m.timestamp_ns && now > m.timestamp_ns ? now - m.timestamp_ns : 0;
    if (m.timestamp_ns) {
        t->lat[xmemi_hist_bucket(lat)]++;
        t->lat_samples++;
        t->lat_max = lat > t->lat_max ? lat : t->lat_max;
    }
    if (!t->each_second && !t->quiet) {
        char shape[160];
        layout(shape, sizeof shape, &m);
        double s = (double)(now - t->second_start_ns) / 1e9; /* the first second: so far */
        double rate = t->rate > 0 ? t->rate : s > 0 ? (double)t->second_frames / s : 0;
        printf("%s/%s seq %llu  %s  %llu bytes  latency %.1f us  rate %.1f/s\n", t->node, t->port,
               (unsigned long long)m.sequence, shape, (unsigned long long)m.size, (double)lat / 1e3,
               rate);
        fflush(stdout);
    }
    if (t->save_dir && (t->received - 1) % (uint64_t)t->every == 0 &&
        (!t->count || t->saved < (uint64_t)t->count))
        return save(t, &m, xmem_guard_data(g));
    return XMEMI_EXIT_OK;
}

static bool done(const tap *t)
{
    return (t->count && t->saved >= (uint64_t)t->count) ||
           (t->frames && t->received >= (uint64_t)t->frames);
}

static int run(tap *t, xmem_sub_t *sub)
{
    uint64_t next_check = 0;
    t->second_start_ns = xmem_node_clock_ns();
    while (!stop && !done(t)) {
        XMEM_GUARD_AUTO xmem_guard_t g = XMEM_GUARD_INIT;
        xmem_error_t err;
        xmem_err rc = xmem_sub_receive(sub, 200, &g, &err);
        uint64_t now = xmem_node_clock_ns();
        if (now - t->second_start_ns >= 1000000000ull)
            second_line(t, now);
        if (rc == XMEM_OK) {
            int status = on_frame(t, &g);
            if (status)
                return status;
        } else if (rc == XMEM_EEND) {
            fprintf(stderr, "xmem tap: %s/%s ended its stream\n", t->node, t->port);
            break;
        } else if (rc != XMEM_ETIMEDOUT && rc != XMEM_EINTERRUPTED) {
            fprintf(stderr, "xmem tap: %s\n", err.msg);
            return XMEMI_EXIT_FAILED;
        }
        if (now >= next_check) { /* a launcher that went away takes its graph along */
            next_check = now + 500000000ull;
            if (xmemi_runtime_dir_launcher(t->dir) != t->launcher) {
                fprintf(stderr, "xmem tap: the graph ended\n");
                break;
            }
        }
    }
    return XMEMI_EXIT_OK;
}

static int attach(tap *t)
{
    if (t->save_dir && mkdir(t->save_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "xmem tap: --save %s: %s\n", t->save_dir, strerror(errno));
        return XMEMI_EXIT_FAILED;
    }
    xmem_sub_options so;
    xmem_sub_options_init(&so);
    so.depth = (uint32_t)t->depth;
    so.policy = XMEM_POLICY_DROP_OLDEST;
    xmem_sub_t *sub = NULL;
    xmem_error_t err;
    char endpoint[600], reg[600] = "";
    snprintf(endpoint, sizeof endpoint, "ipc://%s/%s.%s", t->dir, t->node, t->port);
    if (xmem_sub_create(t->pool, &so, &sub, &err) || xmem_sub_connect(sub, endpoint, &err) ||
        xmemi_tap_register(t->dir, t->node, t->port, reg, sizeof reg, &err)) {
        fprintf(stderr, "xmem tap: %s/%s of graph '%s': %s\n", t->node, t->port, t->pool, err.msg);
        xmem_sub_destroy(&sub);
        return XMEMI_EXIT_FAILED;
    }
    fprintf(stderr, "xmem tap: attached to %s/%s of graph '%s' (pid %d)\n", t->node, t->port,
            t->pool, (int)getpid());
    int status = run(t, sub);
    xmem_sub_stats ss;
    xmem_sub_stats_get(sub, &ss, sizeof ss);
    xmemi_tap_unregister(reg);
    xmem_sub_destroy(&sub);
    fprintf(stderr,
            "xmem tap: %llu frames received, %llu saved, %llu gaps in the sequence, %llu given "
            "back unread\n",
            (unsigned long long)t->received, (unsigned long long)t->saved,
            (unsigned long long)t->gaps, (unsigned long long)ss.dropped_oldest);
    return status;
}

int xmemi_cmd_tap(int argc, char **argv)
{
    static const struct option opts[] = {
        {"save", required_argument, 0, 's'},
        {"every", required_argument, 0, 'e'},
        {"count", required_argument, 0, 'c'},
        {"frames", required_argument, 0, 'n'},
        {"each-second", no_argument, 0, '1'},
        {"quiet", no_argument, 0, 'q'},
        {"depth", required_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    tap *t = calloc(1, sizeof *t);
    if (!t)
        return XMEMI_EXIT_FAILED;
    t->depth = 1;
    t->every = 1;
    int c, status = XMEMI_EXIT_OK;
    optind = 1;
    while (status == XMEMI_EXIT_OK &&
           (c = getopt_long(argc, argv, "s:e:c:n:1qd:h", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 's': t->save_dir = optarg; break;
        case 'e': ok = xmemi_cli_int("--every", optarg, 1, 1000000000, &t->every); break;
        case 'c': ok = xmemi_cli_int("--count", optarg, 1, 1000000000, &t->count); break;
        case 'n': ok = xmemi_cli_int("--frames", optarg, 1, (long long)1e15, &t->frames); break;
        case '1': t->each_second = true; break;
        case 'q': t->quiet = true; break;
        case 'd': ok = xmemi_cli_int("--depth", optarg, 1, XMEM_QUEUE_DEPTH_MAX, &t->depth); break;
        case 'h':
            usage(stdout);
            free(t);
            return XMEMI_EXIT_OK;
        default: usage(stderr); status = XMEMI_EXIT_USAGE;
        }
        if (!ok)
            status = XMEMI_EXIT_USAGE;
    }
    int left = argc - optind;
    if (status == XMEMI_EXIT_OK && (left < 1 || left > 2)) {
        fprintf(stderr, "xmem tap: give [GRAPH] NODE/PORT (see xmem tap --help)\n");
        status = XMEMI_EXIT_USAGE;
    }
    if (status == XMEMI_EXIT_OK && t->count && !t->save_dir) {
        fprintf(stderr, "xmem tap: --count goes with --save\n");
        status = XMEMI_EXIT_USAGE;
    }
    if (status == XMEMI_EXIT_OK)
        status = locate(t, left == 2 ? argv[optind] : NULL, argv[argc - 1]);
    if (status == XMEMI_EXIT_OK) {
        struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: the wait returns */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        status = attach(t);
    }
    free(t);
    return status;
}
