/* The graph as a Graphviz dot file (`xmem run --dot FILE`, written at the end of the run): each
 * node labelled with its plugin and its figures (state, restarts, frames in and out, rate, latency
 * p50/p99, drops), each edge with its queue and what went over it; taps dashed. */
#ifndef XMEM_GRAPH_DOT_H
#define XMEM_GRAPH_DOT_H

#include <stdio.h>

#include "observe.h"

void xmemi_dot_write(FILE *f, const xmemi_obs *o);

#endif
