/* run.json in a running graph's runtime directory: what the launcher tells the tools that look at
 * the graph from outside (`xmem ps`, `top`, `tap`, `logs`, the metrics endpoint, the dot file).
 * The graph file and pool, the launcher's pid, when it started and whether it is stopping, every
 * node with its plugin, state, pid, restarts, outputs and inputs. The launcher rewrites it whole
 * (a new file renamed over the old) whenever a node starts or ends and when the run stops, so a
 * reader never sees half of one. */
#ifndef XMEM_GRAPH_RUN_INFO_H
#define XMEM_GRAPH_RUN_INFO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <xmem/error.h>

#include "graph.h"
#include "launcher.h"

#define XMEMI_RUN_INFO_FILE "run.json"
#define XMEMI_RUN_PORT_MAX 64
#define XMEMI_RUN_PLUGIN_MAX 256

/* What the launcher writes. */
typedef struct xmemi_run_info {
    const xmemi_graph *g;
    const xmemi_node_run *runs;
    double started_unix; /* wall clock at the start, seconds since the epoch */
    bool stopping;
    double interval_s;   /* the live table's */
    const char *metrics; /* "ADDR:PORT" the metrics endpoint serves, or NULL */
} xmemi_run_info;

/* Writes DIR/run.json (through DIR/run.json.new); false, with errno, when it cannot. */
bool xmemi_run_info_write(const char *dir, const xmemi_run_info *info);

/* One edge: input `port` of node `to` subscribes to `from_port` of node `from`. */
typedef struct xmemi_run_edge {
    uint32_t to, from;
    char port[XMEMI_RUN_PORT_MAX], from_port[XMEMI_RUN_PORT_MAX];
    uint32_t depth;
    char policy[16];
} xmemi_run_edge;

/* One output port of a node. */
typedef struct xmemi_run_port {
    uint32_t node;
    char name[XMEMI_RUN_PORT_MAX];
} xmemi_run_port;

typedef struct xmemi_run_node {
    char name[XMEMI_GRAPH_NAME_MAX], plugin[XMEMI_RUN_PLUGIN_MAX];
    char state[16]; /* as xmemi_node_state_name says it */
    pid_t pid;      /* 0 when not running */
    uint32_t restarts;
    uint32_t n_inputs; /* edges into it */
} xmemi_run_node;

/* What a reader gets back. */
typedef struct xmemi_run_desc {
    char graph[1024], pool[XMEMI_GRAPH_NAME_MAX], metrics[128];
    pid_t launcher;
    double started_unix, interval_s;
    bool stopping;
    xmemi_run_node nodes[XMEMI_GRAPH_MAX_NODES];
    uint32_t n_nodes;
    xmemi_run_edge *edges;
    uint32_t n_edges;
    xmemi_run_port *outputs;
    uint32_t n_outputs;
} xmemi_run_desc;

/* Reads DIR/run.json. XMEM_ENOENT when there is none (no launcher wrote one: a pool of `xmem
 * pool`, or a launcher just starting), XMEM_ECONFIG naming the file when it does not parse. Free
 * with xmemi_run_desc_free. */
xmem_err xmemi_run_desc_read(const char *dir, xmemi_run_desc *out, xmem_error_t *err);

void xmemi_run_desc_free(xmemi_run_desc *d);

/* The index of node `name`, or -1. */
int xmemi_run_desc_node(const xmemi_run_desc *d, const char *name);

#endif
