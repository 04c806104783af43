/* What `xmem run` shows: the live table once a second and, at the end, the same figures per node
 * as a table and as a JSON summary file. */
#ifndef XMEM_GRAPH_RUN_REPORT_H
#define XMEM_GRAPH_RUN_REPORT_H

#include <stdio.h>

#include <xmem/pool.h>

#include "graph.h"
#include "launcher.h"
#include "nodes/node_stats.h"
#include "nodes/stats_figures.h"
#include "run_edges.h"

typedef struct xmemi_run_view {
    const xmemi_graph *g;
    xmemi_node_run *runs; /* one per graph node */
    const xmemi_stats_file *stats;
    xmem_pool_t *pool;
    double elapsed_s;
    const char *dir;              /* the runtime directory (taps are listed from there), or NULL */
    const xmemi_run_edges *edges; /* per graph edge, at the end; or NULL */
} xmemi_run_view;

const char *xmemi_node_state_name(xmemi_node_state s);

/* One table of the figures since the previous call (rates, latency percentiles over the
 * interval); updates the runs' previous figures. */
void xmemi_report_table(FILE *out, const xmemi_run_view *v, double interval_s);

/* The whole run's figures per node, as a table. */
void xmemi_report_final(FILE *out, const xmemi_run_view *v);

/* The same as JSON in `path`; false (with a message on stderr) if it cannot be written. */
bool xmemi_report_summary(const char *path, const xmemi_run_view *v, int exit_status,
                          uint32_t free_at_end);

#endif
