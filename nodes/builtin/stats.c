/* stats: a sink that reports throughput, end-to-end latency (producer stamp to arrival) and drops
 * (gaps in the producer's sequence numbers), every `interval` seconds and for the whole run.
 *   - name: stats
 *     plugin: stats
 *     inputs: {in: src/out}
 *     params: {interval: 2.0} */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "nodes/latency_hist.h"

typedef struct window {
    uint64_t start_ns;
    uint64_t frames, bytes, dropped;
    uint64_t samples, max_ns; /* latencies recorded (stamped frames only) */
    uint64_t hist[XMEMI_HIST_BUCKETS];
} window;

static void record(window *w, uint64_t latency_ns)
{
    w->hist[xmemi_hist_bucket(latency_ns)]++;
    w->samples++;
    if (latency_ns > w->max_ns)
        w->max_ns = latency_ns;
}

typedef struct stats {
    double interval_s;
    bool started;
    uint64_t next_seq; /* the sequence number due next */
    window now, total;
} stats;

static const xmem_node_param params[] = {
    {"interval", XMEM_PARAM_FLOAT, "1.0", "seconds between report lines", 0.05, 3600, NULL},
};

static const xmem_node_port inputs[] = {{"in", "any buffers"}};

static void report(const xmem_node_t *node, const char *label, const window *w, uint64_t now_ns)
{
    double secs = (double)(now_ns - w->start_ns) / 1e9;
    if (secs <= 0)
        secs = 1e-9;
    char latency[128] = "no latency (unstamped)";
    if (w->samples)
        snprintf(latency, sizeof latency, "latency p50 %.1f us p99 %.1f us max %.1f us",
                 (double)xmemi_hist_percentile(w->hist, w->samples, w->max_ns, 0.50) / 1e3,
                 (double)xmemi_hist_percentile(w->hist, w->samples, w->max_ns, 0.99) / 1e3,
                 (double)w->max_ns / 1e3);
    xmem_node_log(node, XMEM_LOG_INFO,
                  "%s%" PRIu64 " frames, %.1f fps, %.1f MB/s, %s, %" PRIu64 " dropped", label,
                  w->frames, (double)w->frames / secs, (double)w->bytes / secs / 1e6, latency,
                  w->dropped);
}

static xmem_err init(xmem_node_t *node, void **state, xmem_error_t *err)
{
    stats *s = calloc(1, sizeof *s);
    if (!s)
        return xmem_node_fail(node, err, "out of memory");
    s->interval_s = xmem_node_param_float(node, "interval");
    *state = s;
    return XMEM_OK;
}

static void count(window *w, uint64_t bytes, uint64_t dropped, const uint64_t *latency_ns)
{
    w->frames++;
    w->bytes += bytes;
    w->dropped += dropped;
    if (latency_ns)
        record(w, *latency_ns);
}

static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *in,
                        xmem_error_t *err)
{
    (void)port;
    stats *s = state;
    uint64_t now = xmem_node_clock_ns();
    xmem_meta_t meta;
    xmem_err rc = xmem_guard_meta(in, &meta, err);
    if (rc)
        return rc;
    /* Measurement starts at the first frame: stats may join a stream already running. */
    if (!s->started) {
        s->started = true;
        s->now.start_ns = s->total.start_ns = now;
        s->next_seq = meta.sequence;
    }
    uint64_t dropped = 0;
    if (meta.sequence > s->next_seq)
        dropped = meta.sequence - s->next_seq;
    if (meta.sequence >= s->next_seq)
        s->next_seq = meta.sequence + 1;
    /* A stamp from the future would be a clock bug upstream; count it as zero latency. */
    uint64_t latency = now > meta.timestamp_ns ? now - meta.timestamp_ns : 0;
    const uint64_t *lat = meta.timestamp_ns ? &latency : NULL;
    count(&s->now, meta.size, dropped, lat);
    count(&s->total, meta.size, dropped, lat);
    if ((double)(now - s->now.start_ns) >= s->interval_s * 1e9) {
        report(node, "", &s->now, now);
        memset(&s->now, 0, sizeof s->now);
        s->now.start_ns = now;
    }
    return XMEM_OK;
}

static void fini(xmem_node_t *node, void *state)
{
    stats *s = state;
    if (!s)
        return;
    if (s->started)
        report(node, "total: ", &s->total, xmem_node_clock_ns());
    else
        xmem_node_log(node, XMEM_LOG_INFO, "total: no frames");
    free(s);
}

XMEMI_BUILTIN_DEFINE(xmemi_node_stats, .name = "stats", .version = "1.0",
                     .description = "reports rate, throughput, latency and drops", .params = params,
                     .n_params = sizeof params / sizeof params[0], .inputs = inputs, .n_inputs = 1,
                     .init = init, .process = process, .fini = fini);
