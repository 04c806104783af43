/* What a running graph shows of itself beyond the launcher's own work, in one place so the
 * launcher calls it at a handful of points: the nodes' output relayed to the terminal and to log
 * files (node_logs.h), the live table drawn in place on a terminal (live_table.h), run.json for
 * the tools outside (run_info.h), the metrics endpoint (metrics.h) and, at the end, the dot file
 * (dot.h). */
#ifndef XMEM_GRAPH_RUN_OBSERVERS_H
#define XMEM_GRAPH_RUN_OBSERVERS_H

#include <stdbool.h>

#include <xmem/pool.h>

#include "graph.h"
#include "launcher.h"
#include "live_table.h"
#include "metrics.h"
#include "node_logs.h"

typedef struct xmemi_run_observers {
    const char *dir;
    const xmemi_graph *g;
    const xmemi_run_options *o;
    xmemi_node_logs logs;
    xmemi_live_table live;
    xmemi_metrics *metrics;
    char metrics_addr[96];
    double started_unix;
} xmemi_run_observers;

/* Before start: nothing opened, so finish is safe whatever happens. */
void xmemi_run_observers_init(xmemi_run_observers *r);

/* Once the runtime directory and the pool exist, before any node starts: the log pipes and files,
 * the live table, the metrics endpoint (the run's --metrics, else the graph's options.metrics). */
xmem_err xmemi_run_observers_start(xmemi_run_observers *r, const char *dir, const xmemi_graph *g,
                                   const xmemi_run_options *o, xmem_pool_t *pool,
                                   xmem_error_t *err);

/* (Re)writes run.json: after a node started or ended, and when the run begins to stop. */
void xmemi_run_observers_publish(const xmemi_run_observers *r, const xmemi_node_run *runs,
                                 bool stopping);

/* At the end, every node gone, before the pool and the directory go: the last of the nodes'
 * output, the terminal back to scrolling, the dot file (--dot), the endpoint stopped. False when
 * the dot file could not be written (said on stderr). */
bool xmemi_run_observers_finish(xmemi_run_observers *r, xmem_pool_t *pool);

#endif
