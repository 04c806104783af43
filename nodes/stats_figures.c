/* Figures of a node's stats slot (stats_figures.h). */
#include "stats_figures.h"

#include <string.h>

void xmemi_stats_totals_read(const xmemi_node_stats *s, xmemi_stats_totals *out)
{
    uint64_t counts[XMEMI_HIST_BUCKETS];
    for (unsigned b = 0; b < XMEMI_HIST_BUCKETS; b++)
        counts[b] = xmemi_stats_read(&s->latency[b]);
    *out = (xmemi_stats_totals){
        .in = xmemi_stats_read(&s->in),
        .out = xmemi_stats_read(&s->out),
        .dropped = xmemi_stats_read(&s->dropped),
        .samples = xmemi_stats_read(&s->latency_samples),
        .max_ns = xmemi_stats_read(&s->latency_max_ns),
        .sum_ns = xmemi_stats_read(&s->latency_sum_ns),
    };
    out->p50_ns = xmemi_hist_percentile(counts, out->samples, out->max_ns, 0.50);
    out->p99_ns = xmemi_hist_percentile(counts, out->samples, out->max_ns, 0.99);
}

void xmemi_stats_window_step(const xmemi_node_stats *s, xmemi_stats_window *prev,
                             xmemi_stats_delta *out)
{
    uint64_t delta[XMEMI_HIST_BUCKETS];
    for (unsigned b = 0; b < XMEMI_HIST_BUCKETS; b++) {
        uint64_t c = xmemi_stats_read(&s->latency[b]);
        delta[b] = c - prev->latency[b];
        prev->latency[b] = c;
    }
    uint64_t in = xmemi_stats_read(&s->in), out_n = xmemi_stats_read(&s->out);
    uint64_t samples = xmemi_stats_read(&s->latency_samples);
    uint64_t max = xmemi_stats_read(&s->latency_max_ns);
    *out = (xmemi_stats_delta){
        .in = in - prev->in,
        .out = out_n - prev->out,
        .samples = samples - prev->samples,
    };
    out->p50_ns = xmemi_hist_percentile(delta, out->samples, max, 0.50);
    out->p99_ns = xmemi_hist_percentile(delta, out->samples, max, 0.99);
    prev->in = in;
    prev->out = out_n;
    prev->samples = samples;
}

void xmemi_stats_latency_cumulative(const xmemi_node_stats *s, const uint64_t *bounds_ns,
                                    uint32_t n, uint64_t *counts, uint64_t *total)
{
    uint32_t k = 0;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < n; i++)
        counts[i] = 0;
    for (unsigned b = 0; b < XMEMI_HIST_BUCKETS; b++) {
        uint64_t c = xmemi_stats_read(&s->latency[b]);
        while (k < n && xmemi_hist_upper(b) > bounds_ns[k])
            counts[k++] = seen;
        seen += c;
    }
    while (k < n)
        counts[k++] = seen;
    *total = seen;
}

bool xmemi_link_read(const xmemi_node_stats *s, xmemi_link_stat *out)
{
    const xmemi_link_stat *l = &s->link;
    if (!__atomic_load_n(&l->present, __ATOMIC_ACQUIRE))
        return false;
    out->present = 1;
    out->state = __atomic_load_n(&l->state, __ATOMIC_RELAXED);
    out->frames = xmemi_stats_read(&l->frames);
    out->bytes = xmemi_stats_read(&l->bytes);
    out->rtt_ns = xmemi_stats_read(&l->rtt_ns);
    out->reconnects = xmemi_stats_read(&l->reconnects);
    out->refused = xmemi_stats_read(&l->refused);
    for (int i = 0; i < XMEM_LINK_DROP_COUNT_; i++)
        out->dropped[i] = xmemi_stats_read(&l->dropped[i]);
    memcpy(out->peer, l->peer, sizeof out->peer);
    out->peer[sizeof out->peer - 1] = '\0';
    return true;
}
