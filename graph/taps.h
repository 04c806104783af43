/* Taps attached to a running graph (`xmem tap`), registered in its runtime directory as one file
 * per tap, taps/PID, holding "NODE PORT": so the run's table, `xmem top` and the metrics endpoint
 * can name a subscriber that is not a node of the graph. A tap removes its file when it ends; the
 * file of one that was killed names a dead pid and is skipped (the launcher's cleanup removes it).
 */
#ifndef XMEM_GRAPH_TAPS_H
#define XMEM_GRAPH_TAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#include <xmem/error.h>
#include <xmem/pool.h>

#include "nodes/node_stats.h"
#include "run_info.h"

#define XMEMI_TAPS_MAX 32

typedef struct xmemi_tap_entry {
    pid_t pid;
    char node[XMEMI_GRAPH_NAME_MAX], port[XMEMI_RUN_PORT_MAX];
} xmemi_tap_entry;

/* Registers this process as a tap of NODE/PORT in runtime directory `dir`; `path` gets its file
 * (for xmemi_tap_unregister). */
xmem_err xmemi_tap_register(const char *dir, const char *node, const char *port, char *path,
                            size_t len, xmem_error_t *err);

void xmemi_tap_unregister(const char *path);

/* The taps of `dir` whose process runs, at most `max`; returns how many were filled. */
uint32_t xmemi_taps_list(const char *dir, xmemi_tap_entry *out, uint32_t max);

/* At the end of a run, every node gone: waits up to `wait_ms` while live taps of `dir` hold
 * references (they see the streams end and let go), and says whether whoever still holds any is
 * a tap: one outside the graph, stopped or slow, is not a leak of the graph's. False at once when
 * another process holds references. */
bool xmemi_taps_hold_the_rest(const char *dir, const xmem_pool_t *pool, unsigned wait_ms);

/* Lines for the run's live table: each tap of `dir` on a node of `g`, with what that node's
 * publisher delivered to it and dropped for it. */
void xmemi_taps_report(FILE *out, const char *dir, const xmemi_graph *g,
                       const xmemi_stats_file *stats);

#endif
