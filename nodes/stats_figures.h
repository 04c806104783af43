/* The figures every reader of the shared stats file shows (`xmem run`'s table and summary,
 * `xmem top`, the metrics endpoint, the dot file): one node slot's whole-run totals, and its
 * figures since a reader's previous look. One computation, so every view agrees. */
#ifndef XMEM_NODES_STATS_FIGURES_H
#define XMEM_NODES_STATS_FIGURES_H

#include <stdbool.h>
#include <stdint.h>

#include "node_stats.h"

typedef struct xmemi_stats_totals {
    uint64_t in, out, dropped;
    uint64_t samples;                /* latency samples */
    uint64_t p50_ns, p99_ns, max_ns; /* producer stamp -> arrival, whole run */
    uint64_t sum_ns;                 /* of all samples */
} xmemi_stats_totals;

void xmemi_stats_totals_read(const xmemi_node_stats *s, xmemi_stats_totals *out);

/* What a reader saw at its previous look. Zero it before the first. */
typedef struct xmemi_stats_window {
    uint64_t in, out, samples;
    uint64_t latency[XMEMI_HIST_BUCKETS];
} xmemi_stats_window;

/* Since the previous look. */
typedef struct xmemi_stats_delta {
    uint64_t in, out, samples;
    uint64_t p50_ns, p99_ns; /* of the samples in the window (0 without) */
} xmemi_stats_delta;

/* Fills *out with what changed since *prev, then makes *prev the present. */
void xmemi_stats_window_step(const xmemi_node_stats *s, xmemi_stats_window *prev,
                             xmemi_stats_delta *out);

/* Cumulative latency counts at each of `n` upper bounds (ns, ascending): the samples of buckets
 * whose every value is at most the bound; *total gets all samples counted (a histogram's +Inf). */
void xmemi_stats_latency_cumulative(const xmemi_node_stats *s, const uint64_t *bounds_ns,
                                    uint32_t n, uint64_t *counts, uint64_t *total);

/* A bridge's link (xmem_node_report_link), copied out of the slot; false for other nodes. */
bool xmemi_link_read(const xmemi_node_stats *s, xmemi_link_stat *out);

#endif
