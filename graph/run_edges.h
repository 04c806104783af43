/* The run's figures per graph edge (publisher/port -> consumer), for the final table, the JSON
 * summary and the exit status. Read with observe.c's join of the nodes' edge tables, sampled
 * while the run goes on: the last figures seen of a process (its publisher forgets a dead
 * subscriber within 100 ms) are kept and added to those of the processes after it, so they cover
 * the whole run, less what a process counted after the last sample before its death. */
#ifndef XMEM_GRAPH_RUN_EDGES_H
#define XMEM_GRAPH_RUN_EDGES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <xmem/pool.h>

#include "observe.h"

typedef struct xmemi_run_edge_total {
    char from[XMEMI_GRAPH_NAME_MAX], from_port[XMEMI_RUN_PORT_MAX];
    char to[XMEMI_GRAPH_NAME_MAX], to_port[XMEMI_RUN_PORT_MAX];
    char policy[16];
    uint64_t delivered, received;
    uint64_t dropped[XMEMI_EDGE_REASONS]; /* by the publisher, by reason (xmem_drop) */
    uint64_t dropped_oldest;              /* by the consumer, given back unread */
    uint64_t pub_key, sub_key;            /* the processes whose figures are in `last` */
} xmemi_run_edge_total;

typedef struct xmemi_run_edges {
    xmemi_obs *obs;                             /* opened at the first take */
    xmemi_run_edge_total e[XMEMI_OBS_EDGES];    /* whole run: `done` plus `last` */
    xmemi_run_edge_total done[XMEMI_OBS_EDGES]; /* of processes that ended */
    xmemi_run_edge_total last[XMEMI_OBS_EDGES]; /* as last seen of the current ones */
    uint32_t n;
} xmemi_run_edges;

/* Samples the edges and updates `e`. `gen[i]`: how many processes node i has had (its current
 * one's number). */
void xmemi_run_edges_take(xmemi_run_edges *r, const char *dir, xmem_pool_t *pool,
                          const uint32_t *gen);

/* Frames a live consumer lost on a `block` edge: dropped for queue-full, block-timeout or hwm
 * (not for a consumer gone). 0 on other policies. */
uint64_t xmemi_run_edge_lost(const xmemi_run_edge_total *e);

/* The reasons of those losses, "block-timeout" or "block-timeout, hwm". */
void xmemi_run_edge_lost_why(const xmemi_run_edge_total *e, char *buf, size_t len);

bool xmemi_run_edge_has_drops(const xmemi_run_edge_total *e);

void xmemi_run_edges_close(xmemi_run_edges *r);

#endif
