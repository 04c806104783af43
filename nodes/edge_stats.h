/* Per-edge figures of a running node, in its slot of the graph's shared stats file
 * (node_stats.h): for each subscriber of its outputs what the publisher gave it and dropped for it
 * (by reason), and for each wired input what arrived and what was given back unread. The node host
 * rewrites the table every few milliseconds under a sequence lock, so a reader (`xmem top`, the
 * metrics endpoint, the run's table) gets a whole copy without asking the node anything. The
 * figures are those of the node's current process: a restart starts them again. */
#ifndef XMEM_NODES_EDGE_STATS_H
#define XMEM_NODES_EDGE_STATS_H

#include <stdint.h>

#include <xmem/transport.h>

#define XMEMI_EDGE_MAX_OUT 24 /* subscribers of a node's outputs listed, all ports together */
#define XMEMI_EDGE_MAX_IN 8   /* wired inputs listed */
#define XMEMI_EDGE_PORT_MAX 32
#define XMEMI_EDGE_REASONS 4 /* xmem_drop reasons kept: queue-full, block-timeout, hwm, gone */

_Static_assert(XMEMI_EDGE_REASONS == XMEM_DROP_COUNT_, "one counter per drop reason");

/* One subscriber of one output port, as its publisher sees it. */
typedef struct xmemi_edge_out {
    char port[XMEMI_EDGE_PORT_MAX]; /* the output port */
    uint32_t owner;                 /* the subscriber's attachment (its xmemi_edge_in.owner) */
    int32_t pid;                    /* the subscriber's process */
    uint32_t depth, policy;         /* its queue */
    uint64_t outstanding;           /* buffers given to it and not yet released */
    uint64_t delivered;             /* descriptors sent to it */
    uint64_t dropped[XMEMI_EDGE_REASONS];
} xmemi_edge_out;

/* One wired input port of the node. */
typedef struct xmemi_edge_in {
    char port[XMEMI_EDGE_PORT_MAX];
    uint32_t owner; /* its subscriber's attachment: the publishers list it under this */
    uint32_t reserved;
    uint64_t received;
    uint64_t dropped_oldest; /* given back unread under drop_oldest */
} xmemi_edge_in;

typedef struct xmemi_edge_table {
    uint64_t version; /* odd while the node rewrites the table */
    uint32_t n_out, n_in;
    xmemi_edge_out out[XMEMI_EDGE_MAX_OUT];
    xmemi_edge_in in[XMEMI_EDGE_MAX_IN];
} xmemi_edge_table;

/* What the node host hands over: its wired outputs and inputs. */
typedef struct xmemi_edge_source {
    const char *port;
    xmem_pub_t *pub;   /* an output's publisher, or NULL */
    xmem_sub_t *sub;   /* an input's subscriber, or NULL */
    uint64_t received; /* an input's buffers received */
} xmemi_edge_source;

/* The node host: rewrites the table from its publishers and subscribers. */
void xmemi_edge_table_write(xmemi_edge_table *t, const xmemi_edge_source *ports, uint32_t n);

/* A reader: a consistent copy of the table (it retries while the node is writing; after a few
 * tries, a writer that died half way, it takes what is there). */
void xmemi_edge_table_read(const xmemi_edge_table *t, xmemi_edge_table *out);

#endif
