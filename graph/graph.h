/* A pipeline graph as read from its YAML file (graph_parse.c) and checked against the plugins it
 * names (graph_check.c): the pool, the nodes, their parameters and the edges between their ports.
 * Every element keeps where it was written, so every error names file:line:column.
 *
 *   pool: {buffers: 64}
 *   nodes:
 *     - {name: src, plugin: testsrc, rate: 30, params: {width: 1920, height: 1080}}
 *     - {name: check, plugin: verify, inputs: {in: src/out}}
 *
 * A graph across machines lists them under hosts: and places each node on one (host:); each
 * machine runs its own part of it (graph_hosts.h).
 */
#ifndef XMEM_GRAPH_GRAPH_H
#define XMEM_GRAPH_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include <xmem/error.h>
#include <xmem/pool.h>
#include <xmem/transport.h>

#include "nodes/plugin_loader.h"

#define XMEMI_GRAPH_MAX_NODES 64
#define XMEMI_GRAPH_NAME_MAX 64
#define XMEMI_GRAPH_MAX_HOSTS 32

/* Where something was written: 1-based line and column. */
typedef struct xmemi_mark {
    int line, column;
} xmemi_mark;

typedef struct xmemi_graph_param {
    char *name, *value;
    xmemi_mark key_at, value_at;
} xmemi_graph_param;

/* One input port's subscription: to `from_node`/`from_port`, with its queue. */
typedef struct xmemi_graph_edge {
    char *port; /* the input port of this node */
    char *from_node, *from_port;
    uint32_t from;            /* index of from_node, filled by the check */
    uint32_t depth;           /* default 4 */
    xmem_queue_policy policy; /* default drop_oldest */
    int block_timeout_ms;     /* block: the publisher's wait for it before it counts as lagging;
                                 0 (default): the publisher's own, -1: no limit */
    xmemi_mark port_at, from_at;
} xmemi_graph_edge;

typedef enum xmemi_restart {
    XMEMI_RESTART_NEVER = 0,
    XMEMI_RESTART_ON_FAILURE, /* a non-zero exit or a signal */
    XMEMI_RESTART_ALWAYS,     /* also after a clean exit, unless the graph is stopping */
} xmemi_restart;

/* What a pool: mapping sets: the top-level one, or a host's own, whose settings replace the
 * top-level ones on that host. A setting not given has its mark's line 0. */
typedef struct xmemi_graph_pool_set {
    char name[XMEMI_GRAPH_NAME_MAX];
    uint32_t buffers;
    uint64_t prealloc_size;
    uint32_t prealloc_count;
    uint64_t shm_limit;
    uint64_t cuda_size;
    uint32_t cuda_count;
    int cuda_device;
    xmemi_mark name_at, buffers_at, cuda_at, prealloc_at, shm_limit_at;
} xmemi_graph_pool_set;

/* One machine of a graph across hosts (hosts:). */
typedef struct xmemi_graph_host {
    char *name;
    char *address;                  /* an IPv4 or IPv6 literal, or a host name */
    char *key;                      /* its public certificate, relative paths resolved against the
                                       graph's directory; NULL when not given */
    uint32_t port_first, port_last; /* what its bridge receivers bind; default 7400-7499 */
    xmemi_graph_pool_set pool;      /* its own pool: settings */
    bool has_pool;
    xmemi_mark at, address_at, ports_at, key_at, pool_at;
} xmemi_graph_host;

typedef struct xmemi_graph_node {
    char *name, *plugin;
    char *host_name;    /* host: as written, NULL when not given */
    uint32_t host;      /* index into the graph's hosts (the first when not given); 0 without */
    xmemi_mark host_at; /* line 0 when not given */
    xmemi_graph_param *params;
    uint32_t n_params;
    xmemi_graph_edge *inputs;
    uint32_t n_inputs;
    double rate_hz; /* sources: ticks per second, 0: back to back */
    xmemi_restart restart;
    uint32_t restart_limit; /* restarts allowed in the whole run; default 5 */
    int acquire_timeout_ms; /* 0: the host's default */
    const char *log_level;  /* NULL: the host's default */
    /* The watchdog (watchdog.h): one callback longer than this, or stopped (SIGSTOP) this long,
     * and the node is stuck; 0: the default. init has its own, longer limit. */
    int stuck_after_ms, init_stuck_after_ms;
    xmemi_mark at, plugin_at, restart_at, stuck_at;
    xmemi_plugin loaded; /* filled by the check: the plugin's descriptor */
} xmemi_graph_node;

typedef struct xmemi_graph {
    char *path; /* the file as given; "<stdin>" for "-" */
    char *dir;  /* where relative plugin paths start: the file's directory; "." for a stream */
    char pool_name[XMEMI_GRAPH_NAME_MAX]; /* default: xmem-<file stem> */
    uint32_t buffers;                     /* pool capacity; 0: derived from the graph */
    uint64_t prealloc_size;
    uint32_t prealloc_count;
    uint64_t shm_limit; /* pool.shm_limit: bytes the pool may take at create; 0: the default */
    uint64_t cuda_size; /* pool.cuda: CUDA buffers the launcher allocates (creator only) */
    uint32_t cuda_count;
    int cuda_device;
    bool mps;               /* options.mps: run an MPS daemon for the graph's CUDA nodes */
    double duration_s;      /* options.duration: 0 runs until stopped */
    double drain_timeout_s; /* options.drain_timeout: default 5 */
    char metrics[96];       /* options.metrics: "ADDR:PORT" of a Prometheus endpoint, or "" */
    xmemi_mark pool_at, buffers_at, cuda_at, prealloc_at, shm_limit_at;
    bool pool_named; /* pool.name was given: no default name per host */
    xmemi_graph_host hosts[XMEMI_GRAPH_MAX_HOSTS];
    uint32_t n_hosts;      /* 0: a graph on one machine, as before hosts: existed */
    bool insecure_network; /* options.insecure_network: plaintext links, no keys */
    xmemi_mark hosts_at, insecure_at;
    bool planned;        /* rewritten into one host's part (xmemi_graph_for_host) */
    uint32_t local_host; /* planned: the host it is the part of */
    xmemi_graph_node nodes[XMEMI_GRAPH_MAX_NODES];
    uint32_t n_nodes;
    uint32_t order[XMEMI_GRAPH_MAX_NODES]; /* filled by the check: upstream before downstream */
} xmemi_graph;

/* Fills err with XMEM_ECONFIG and "path:line:column: " followed by the formatted text. */
xmem_err xmemi_graph_fail(const xmemi_graph *g, xmem_error_t *err, xmemi_mark at, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));

/* As xmemi_graph_fail with another code: for what is wrong with the machine rather than the file
 * (no room for the pool), said where the file asks for it. */
xmem_err xmemi_graph_fail_code(const xmemi_graph *g, xmem_error_t *err, xmem_err code,
                               xmemi_mark at, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Reads (graph_file.h: "-" is stdin) and parses `path`. On failure the graph is empty and err
 * (XMEM_ECONFIG) says "path:line:column: what is wrong (what was expected)". Free with
 * xmemi_graph_free. */
xmem_err xmemi_graph_parse(const char *path, xmemi_graph *g, xmem_error_t *err);

/* Loads every node's plugin and checks the graph against them: plugins refused, unknown ports,
 * parameters (names, types, ranges), inputs naming unknown nodes or ports, cycles, a pool too
 * small for every subscriber's queue plus what is in flight (the message says which edge needs
 * how many), and a pool too large (xmemi_graph_check_room). Fills `from`, `order` and, when not
 * given, `buffers`. */
xmem_err xmemi_graph_check(xmemi_graph *g, xmem_error_t *err);

/* The options the launcher creates the graph's pool with (its buffers and preallocation). */
void xmemi_graph_pool_options(const xmemi_graph *g, xmem_pool_options *out);

/* The bytes of /dev/shm the pool takes at create against its limit (pool.shm_limit, default
 * xmemi_graph_default_shm_limit) and against what /dev/shm has free now. XMEM_ECONFIG above the
 * limit (the file asks too much), XMEM_ENOMEM without the room (the machine has too little), each
 * at the pool setting that asks for the bytes and naming them. After the check fills `buffers`. */
xmem_err xmemi_graph_check_room(const xmemi_graph *g, xmem_error_t *err);

/* 3/4 of the machine's physical memory: a pool's pages stay allocated as long as it lives, and
 * more than that leaves the nodes and everything else on the machine too little. */
uint64_t xmemi_graph_default_shm_limit(void);

/* Buffers the graph needs: per edge its queue (depth, twice that under drop_oldest) and per node
 * one per output being filled; `detail` (may be NULL) gets a line per edge. */
uint32_t xmemi_graph_buffers_needed(const xmemi_graph *g, char *detail, size_t len);

/* Frees what one node holds (names, parameters, inputs, its plugin) and zeroes it. */
void xmemi_graph_node_free(xmemi_graph_node *n);

void xmemi_graph_free(xmemi_graph *g);

#endif
