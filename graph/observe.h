/* A running graph seen from outside, as `xmem ps`, `xmem top`, `xmem tap` and the metrics endpoint
 * see it: found by its pool name, its graph file or as the only one running; read from its runtime
 * directory (run.json, the shared stats file with each node's edge table, the taps) and the pool's
 * books. Reading never asks a node anything and never changes what the graph does: the stats are
 * read with plain loads, the books by walking the records. A pool made by `xmem pool` (no runtime
 * directory) shows its books alone. */
#ifndef XMEM_GRAPH_OBSERVE_H
#define XMEM_GRAPH_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include <xmem/pool_admin.h>

#include "common/proc.h"
#include "nodes/node_stats.h"
#include "nodes/stats_figures.h"
#include "run_info.h"
#include "taps.h"

typedef struct xmemi_obs_node {
    const xmemi_run_node *run; /* name, plugin, state, pid, restarts (in xmemi_obs.desc) */
    bool source;
    xmemi_stats_totals total; /* whole run */
    xmemi_stats_delta window; /* since the previous sample */
    double rate;              /* per second in the window: out for sources, in for the rest */
    uint64_t held;            /* references its process holds */
    double cpu_percent;       /* in the window, of one core; < 0 unknown */
    bool have_usage;
    xmemi_proc_usage_t usage; /* of its current process */
    xmemi_stats_window prev;
    pid_t prev_pid;
    bool have_link; /* a bridge: its link (xmem_node_report_link) */
    xmemi_link_stat link;
    double link_bytes_rate; /* per second in the window */
} xmemi_obs_node;

/* One subscription: a graph edge, or a subscriber outside the graph (a tap, or a subscriber
 * started by hand). Figures are those of the current processes at both ends. */
typedef struct xmemi_obs_edge {
    char from[XMEMI_GRAPH_NAME_MAX], from_port[XMEMI_RUN_PORT_MAX];
    char to[XMEMI_GRAPH_NAME_MAX], to_port[XMEMI_RUN_PORT_MAX]; /* "tap:PID" / "pid:PID", "" */
    bool external;
    pid_t pid;      /* the subscriber's process, when the publisher lists it */
    bool connected; /* the publisher lists the subscriber now */
    uint32_t depth;
    char policy[16];
    uint64_t delivered, outstanding, received;
    uint64_t dropped[XMEMI_EDGE_REASONS]; /* by the publisher, by reason (xmem_drop) */
    uint64_t dropped_oldest;              /* by the subscriber, given back unread */
} xmemi_obs_edge;

#define XMEMI_OBS_CLASSES 32
#define XMEMI_OBS_EDGES 512

typedef struct xmemi_obs {
    char dir[256]; /* the runtime directory; "" for a bare pool */
    bool graph;    /* a graph's (run.json read); false: a bare pool */
    bool alive;    /* the launcher runs */
    xmemi_run_desc desc;
    char pool_name[XMEMI_GRAPH_NAME_MAX];
    xmemi_stats_map stats;
    xmem_pool_t *pool;
    bool own_pool; /* opened here (closed by xmemi_obs_close) */
    xmemi_obs_node nodes[XMEMI_GRAPH_MAX_NODES];
    uint32_t n_nodes;
    xmemi_obs_edge edges[XMEMI_OBS_EDGES];
    uint32_t n_edges;
    xmemi_tap_entry taps[XMEMI_TAPS_MAX];
    uint32_t n_taps;
    xmem_pool_class_usage classes[XMEMI_OBS_CLASSES];
    uint32_t n_classes;
    xmem_pool_holder holders[XMEM_POOL_MAX_PROCS];
    uint32_t n_holders;
    uint32_t pool_free, pool_capacity;
    double uptime_s; /* since the launcher started */
    double window_s; /* since the previous sample (0 at the first) */
    uint64_t sampled_ns;
    struct timespec desc_mtime; /* run.json as last read: read again only once replaced */
    ino_t desc_ino;
    xmemi_edge_table tables[XMEMI_GRAPH_MAX_NODES]; /* each node's, as last read */
} xmemi_obs;

/* A graph's runtime directory, as `xmem ps` lists it. */
typedef struct xmemi_obs_entry {
    char dir[256];
    char pool[XMEMI_GRAPH_NAME_MAX], graph[1024], metrics[128];
    pid_t launcher;
    bool alive; /* its launcher runs (else a killed run left it: the next run cleans it) */
    bool stopping;
    double started_unix;
    uint32_t n_nodes, n_running;
} xmemi_obs_entry;

/* The graphs' runtime directories under the base (XMEM_RUNTIME_DIR), at most `max`. */
uint32_t xmemi_obs_list(xmemi_obs_entry *out, uint32_t max);

/* The runtime directory of the graph `target` names: a pool name, a graph file (matched with the
 * graph file of each running launcher), a runtime directory, or NULL for the only graph running.
 * XMEM_ENOENT saying what runs when none matches (*bare_pool set when `target` names a pool with
 * no graph, which only `top` can show), XMEM_EINVAL listing them when several do. */
xmem_err xmemi_obs_find(const char *target, char *dir, size_t len, bool *bare_pool,
                        xmem_error_t *err);

/* Opens the graph whose runtime directory is `dir` (with `pool`, a handle of its pool the caller
 * keeps; NULL: one of its own, a pool attachment), or with dir NULL the bare pool `pool_name`. */
xmem_err xmemi_obs_open(const char *dir, const char *pool_name, xmem_pool_t *pool, xmemi_obs *o,
                        xmem_error_t *err);

/* Reads everything again; the window figures cover the time since the previous call. */
xmem_err xmemi_obs_sample(xmemi_obs *o, xmem_error_t *err);

void xmemi_obs_close(xmemi_obs *o);

/* The sample as JSON (`xmem top --json`): nodes with the summary's field names, edges, taps and
 * the pool. */
void xmemi_obs_json(FILE *f, const xmemi_obs *o);

/* The wall clock in seconds since the epoch. */
double xmemi_obs_unix_now(void);

#endif
