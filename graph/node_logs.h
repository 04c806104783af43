/* What the nodes of a run write (their stdout and stderr) goes through a pipe per node to the
 * launcher, which copies it to its own stderr (above the live table on a terminal) and appends it
 * to logs/NODE.log in the runtime directory, where `xmem logs` and `xmem top` read it while the
 * graph runs. One pipe per node for the whole run: a restarted node writes to the same one. */
#ifndef XMEM_GRAPH_NODE_LOGS_H
#define XMEM_GRAPH_NODE_LOGS_H

#include <stddef.h>
#include <stdint.h>

#include <xmem/error.h>

#include "graph.h"

typedef struct xmemi_node_logs {
    uint32_t n;
    int rd[XMEMI_GRAPH_MAX_NODES], wr[XMEMI_GRAPH_MAX_NODES]; /* the pipes, -1 when closed */
    int file[XMEMI_GRAPH_MAX_NODES];                          /* logs/NODE.log, or -1 */
} xmemi_node_logs;

/* Marks every descriptor closed: safe to close before open. */
void xmemi_node_logs_init(xmemi_node_logs *l);

/* Makes DIR/logs/ and a pipe and a log file for each node of `g`. */
xmem_err xmemi_node_logs_open(xmemi_node_logs *l, const char *dir, const xmemi_graph *g,
                              xmem_error_t *err);

/* In node i's process, before exec: its stdout and stderr become its pipe. */
void xmemi_node_logs_child(const xmemi_node_logs *l, uint32_t i);

/* Waits up to timeout_ms for `fd` to be readable, copying what the nodes write meanwhile; true
 * when `fd` is readable. */
bool xmemi_node_logs_wait(xmemi_node_logs *l, int fd, int timeout_ms);

/* Copies whatever the pipes still hold (the nodes have ended). */
void xmemi_node_logs_drain(xmemi_node_logs *l);

void xmemi_node_logs_close(xmemi_node_logs *l);

/* The path of node `name`'s log file in runtime directory `dir`. */
void xmemi_node_log_path(const char *dir, const char *name, char *buf, size_t len);

/* The last `lines` lines of node `name`'s log in runtime directory `dir` (of its last 64 KiB) into
 * buf, NUL-terminated; returns their length (0 when there is no log). */
size_t xmemi_node_log_tail(const char *dir, const char *name, unsigned lines, char *buf,
                           size_t len);

#endif
