/* The launcher's watchdog: a node is stuck when one callback of its plugin has run longer than
 * its limit (the node host says which callback and since when, node_watch.h) or when its process
 * has been stopped (SIGSTOP: state T in /proc/PID/stat) that long; the launcher then kills it and
 * its restart policy applies as for any death. Also the other way round: the launcher tells each
 * source how many of its subscribers are alive, so a source does not wait at its start for one
 * that died or failed its init. */
#ifndef XMEM_GRAPH_WATCHDOG_H
#define XMEM_GRAPH_WATCHDOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph.h"
#include "launcher.h"
#include "nodes/node_stats.h"

#define XMEMI_STUCK_AFTER_MS 10000      /* tick, process, fini, and stopped: the default */
#define XMEMI_INIT_STUCK_AFTER_MS 60000 /* init loads models, connects devices: longer */
#define XMEMI_HOST_WAIT_MS 1000 /* the host's own waits: acquire and block timeouts (default) */

/* Node n's limit for callback cb (XMEMI_CB_NONE: for a stopped process between callbacks). */
uint64_t xmemi_watchdog_limit_ms(const xmemi_graph_node *n, xmemi_callback cb);

/* The graph check: a limit must leave room for the host's own waits inside a callback (an
 * acquire, a publish blocked on a `block` subscriber), or a healthy node would be killed. */
xmem_err xmemi_watchdog_check(const xmemi_graph *g, const xmemi_graph_node *n, xmem_error_t *err);

/* Whether node n (running as r, its slot s) is stuck at `now`; if so `why` says how, e.g.
 * "in process for 10.0 s (stuck_after_ms 10000)". Looks at /proc at most every 100 ms. */
bool xmemi_watchdog_stuck(const xmemi_graph_node *n, xmemi_node_run *r, const xmemi_node_stats *s,
                          uint64_t now, char *why, size_t len);

/* Subscribers of output `port` of node i: the nodes whose inputs name it and whose state is
 * running (or, with `or_restarting`, will run again). */
uint32_t xmemi_watchdog_subscribers(const xmemi_graph *g, const xmemi_node_run *runs, uint32_t i,
                                    const char *port, bool or_restarting);

/* Writes into every node's slot how many subscribers of each of its outputs are running now. */
void xmemi_watchdog_publish_alive(const xmemi_graph *g, const xmemi_node_run *runs,
                                  xmemi_stats_file *stats);

#endif
