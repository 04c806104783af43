/* Live figures of a graph's nodes, in one file of the graph's runtime directory that the launcher
 * creates and maps, and each node host maps and updates (relaxed atomic adds, no system call):
 * the launcher reads them for its live table and summary without asking anyone. A restarted node
 * adds to its slot, so figures run on across restarts. */
#ifndef XMEM_NODES_NODE_STATS_H
#define XMEM_NODES_NODE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xmem/error.h>
#include <xmem/node.h>

#include "edge_stats.h"
#include "latency_hist.h"
#include "node_watch.h"

#define XMEMI_STATS_MAGIC 0x54534d58u /* "XMST" */
#define XMEMI_STATS_VERSION 5u

/* A file a node writes (xmem_node_report_file). Only the node's one process writes its slot; the
 * path is written before `state` leaves XMEMI_FILE_UNUSED (release), and never changes after. */
enum { XMEMI_FILE_UNUSED = 0, XMEMI_FILE_WRITING = 1, XMEMI_FILE_FINISHED = 2 };

typedef struct xmemi_file_stat {
    uint64_t frames;                        /* frames in the file so far */
    uint32_t state;                         /* XMEMI_FILE_* */
    char path[XMEM_NODE_FILE_PATH_MAX + 1]; /* NUL-terminated */
} xmemi_file_stat;

/* A network link the node carries frames over (xmem_node_report_link): counters summed over the
 * node's lives, state, peer and round trip as last said. `peer` is written before `present`
 * (release). */
typedef struct xmemi_link_stat {
    uint32_t present; /* 1 once the node reported a link */
    uint32_t state;   /* xmem_link_state */
    uint64_t frames, bytes, rtt_ns, reconnects, refused;
    uint64_t dropped[XMEM_LINK_DROP_COUNT_];
    char peer[64];
} xmemi_link_stat;

typedef struct xmemi_node_stats {
    uint64_t in;              /* buffers received, all inputs */
    uint64_t out;             /* buffers published, all outputs */
    uint64_t dropped;         /* given back unread (drop_oldest) or not delivered downstream */
    uint64_t latency_samples; /* inputs with a producer stamp */
    uint64_t latency_max_ns;
    uint64_t latency[XMEMI_HIST_BUCKETS];        /* producer stamp -> received, ns */
    uint64_t work;                               /* units of the plugin's own work (count_work) */
    uint32_t work_named;                         /* 1 once work_what is written (release) */
    char work_what[XMEM_NODE_WORK_NAME_MAX + 1]; /* what a unit is: "decoded" */
    xmemi_file_stat files[XMEM_NODE_FILES_MAX];
    xmemi_node_watch watch;  /* the watchdog's (node_watch.h) */
    uint64_t latency_sum_ns; /* of every sample: a histogram's sum (metrics) */
    xmemi_edge_table edges;  /* this process's edges (edge_stats.h) */
    xmemi_link_stat link;    /* a bridge's link, or present 0 */
} xmemi_node_stats;

typedef struct xmemi_stats_file {
    uint32_t magic;       /* XMEMI_STATS_MAGIC */
    uint32_t version;     /* XMEMI_STATS_VERSION */
    uint32_t record_size; /* sizeof(xmemi_node_stats) */
    uint32_t count;       /* slots, one per node of the graph */
    xmemi_node_stats nodes[];
} xmemi_stats_file;

typedef struct xmemi_stats_map {
    xmemi_stats_file *file;
    size_t len;
} xmemi_stats_map;

/* The launcher: creates `path` (0600) with `count` zeroed slots and maps it. */
xmem_err xmemi_stats_create(const char *path, uint32_t count, xmemi_stats_map *out,
                            xmem_error_t *err);

/* A node host: maps `path` and checks its layout and that `slot` exists. */
xmem_err xmemi_stats_open(const char *path, uint32_t slot, xmemi_stats_map *out, xmem_error_t *err);

void xmemi_stats_close(xmemi_stats_map *m);

static inline void xmemi_stats_add(uint64_t *counter, uint64_t n)
{
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static inline uint64_t xmemi_stats_read(const uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/* Records one latency sample in slot s. */
void xmemi_stats_latency(xmemi_node_stats *s, uint64_t ns);

#endif
