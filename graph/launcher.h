/* Running a checked graph (graph.h): the pool, the runtime directory, one `xmem node` process per
 * node, supervision with restart policies, a live table, an orderly stop and a summary. */
#ifndef XMEM_GRAPH_LAUNCHER_H
#define XMEM_GRAPH_LAUNCHER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "graph.h"
#include "nodes/stats_figures.h"

typedef struct xmemi_run_options {
    double duration_s;        /* < 0: the graph's options.duration (0 there: until stopped) */
    double interval_s;        /* live table period; 0: no table */
    const char *summary_path; /* JSON summary written at the end, or NULL */
    const char *log_level;    /* nodes' default log level (default info) */
    const char *metrics;      /* "ADDR:PORT" of a Prometheus endpoint (overrides the graph's) */
    const char *dot_path;     /* the graph with its figures as a dot file at the end, or NULL */
} xmemi_run_options;

void xmemi_run_options_init(xmemi_run_options *o);

typedef enum xmemi_node_state {
    XMEMI_NODE_RUNNING = 0,
    XMEMI_NODE_RESTARTING,  /* died; starts again after a back-off */
    XMEMI_NODE_DONE,        /* exited 0 */
    XMEMI_NODE_FAILED,      /* died or exited non-zero, and will not be restarted */
    XMEMI_NODE_NOT_STARTED, /* never started (the run stopped before it could) */
    XMEMI_NODE_STUCK,       /* the watchdog found it stuck and killed it; not reaped yet */
} xmemi_node_state;

#define XMEMI_MAX_DEATHS 64 /* per node, kept for the summary */

typedef struct xmemi_death {
    pid_t pid;
    int status;             /* as waitpid gives it */
    uint64_t refs_returned; /* references it held, given back to the pool */
    uint64_t reclaim_ns;    /* from noticing the death to its references being back */
    double at_s;            /* since the start */
    bool stuck;             /* killed by the watchdog */
    bool started;           /* its init had succeeded */
} xmemi_death;

/* What the launcher knows of one node while it runs. */
typedef struct xmemi_node_run {
    xmemi_node_state state;
    pid_t pid;
    uint32_t restarts;
    uint64_t restart_at_ns;
    int last_status;
    xmemi_death deaths[XMEMI_MAX_DEATHS];
    uint32_t n_deaths;
    xmemi_stats_window window; /* live table: figures at the previous line */
    uint64_t prev_work;        /* and the plugin's own work then */
    uint64_t prev_link_bytes;  /* and a bridge's link bytes then */
    /* sources: the longest time without a new frame while running */
    uint64_t last_out, last_progress_ns, max_stall_ns;
    /* every input's upstream ended for good: stopped (SIGTERM) at this time unless it ends
     * first; 0: not set */
    uint64_t orphan_deadline_ns;
    /* the watchdog's (watchdog.h) */
    uint64_t started_ns, next_proc_ns, stopped_since_ns;
    uint32_t inits_at_spawn; /* the slot's init count when this incarnation started */
    uint32_t stuck;          /* times found stuck */
    bool ever_started;       /* some incarnation's init succeeded */
} xmemi_node_run;

/* Runs the graph to its end; returns the exit status of `xmem run` (common/exit_status.h):
 * XMEMI_EXIT_OK when every node ended well and every buffer came back, XMEMI_EXIT_FAILED when a
 * node failed for good, a buffer was left held, or the run could not start. */
int xmemi_launch(xmemi_graph *g, const xmemi_run_options *opts);

#endif
