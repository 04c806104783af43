/* `xmem top` (cmd_top.c): the rows both of its views print, the plain one (--once, top_text.c)
 * and the full screen (top_screen.c, with ncurses), so they show the same figures the same way. */
#ifndef XMEM_CLI_TOP_H
#define XMEM_CLI_TOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "graph/observe.h"

typedef enum xmemi_top_sort {
    XMEMI_SORT_GRAPH = 0, /* the graph file's order */
    XMEMI_SORT_RATE,
    XMEMI_SORT_P99,
    XMEMI_SORT_CPU,
    XMEMI_SORT_HELD,
    XMEMI_SORT_DROPS,
    XMEMI_SORT_COUNT_
} xmemi_top_sort;

const char *xmemi_top_sort_name(xmemi_top_sort s);

/* Node indices in the order `s` asks (largest first, names for the graph's own order). */
void xmemi_top_order(const xmemi_obs *o, xmemi_top_sort s, uint32_t *order);

/* The title line: graph, pool, launcher, uptime, state, pool buffers free. */
void xmemi_top_title(char *buf, size_t len, const xmemi_obs *o);

void xmemi_top_node_header(char *buf, size_t len);
void xmemi_top_node_row(char *buf, size_t len, const xmemi_obs_node *n);

void xmemi_top_edge_header(char *buf, size_t len);
void xmemi_top_edge_row(char *buf, size_t len, const xmemi_obs_edge *e);

/* The bridges' links (docs/MULTIHOST.md): a row per bridge node; row is false for other nodes. */
void xmemi_top_link_header(char *buf, size_t len);
bool xmemi_top_link_row(char *buf, size_t len, const xmemi_obs_node *n);

void xmemi_top_class_header(char *buf, size_t len);
void xmemi_top_class_row(char *buf, size_t len, const xmemi_obs *o, const xmem_pool_class_usage *c);

/* The name of the process `pid` in the sample: a node's name, "tap:PID", else its command. */
void xmemi_top_who(char *buf, size_t len, const xmemi_obs *o, pid_t pid);

/* Every part as plain text (--once). */
void xmemi_top_print(FILE *out, const xmemi_obs *o, xmemi_top_sort sort);

/* Whether this build has the full screen (ncurses). */
bool xmemi_top_screen_built(void);

/* The full screen until q; XMEM_EINVAL when this build has no ncurses. */
xmem_err xmemi_top_screen(xmemi_obs *o, double interval_s, xmemi_top_sort sort, xmem_error_t *err);

#endif
