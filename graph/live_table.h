/* Where `xmem run` shows its live table: on a terminal, redrawn in place in the bottom rows, with
 * everything else (the nodes' lines, the launcher's messages) scrolling in the rows above it (a
 * scroll region); elsewhere (a file, a pipe) as plain lines, one table after another. */
#ifndef XMEM_GRAPH_LIVE_TABLE_H
#define XMEM_GRAPH_LIVE_TABLE_H

#include <stdbool.h>
#include <stdio.h>

#include "run_report.h"

typedef struct xmemi_live_table {
    FILE *out;
    bool tty;   /* a terminal that takes the redraw */
    int rows;   /* its height when the region was set */
    int height; /* rows kept for the table; 0 before the first draw */
} xmemi_live_table;

void xmemi_live_table_init(xmemi_live_table *t, FILE *out);

/* Prints the table of the figures since the previous call (xmemi_report_table). */
void xmemi_live_table_show(xmemi_live_table *t, const xmemi_run_view *v, double interval_s);

/* Gives the terminal its whole height back, the cursor below the last table. */
void xmemi_live_table_end(xmemi_live_table *t);

#endif
