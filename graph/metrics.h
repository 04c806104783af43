/* The Prometheus endpoint of `xmem run --metrics ADDR:PORT` (or the graph's options.metrics): an
 * HTTP server (libmicrohttpd, one thread of the launcher) whose /metrics renders what `xmem top`
 * reads (observe.h) in the Prometheus text exposition format, per node, per edge and for the pool.
 * Built only with libmicrohttpd; without it, starting one fails saying so. */
#ifndef XMEM_GRAPH_METRICS_H
#define XMEM_GRAPH_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <xmem/error.h>
#include <xmem/pool.h>

#include "metrics_addr.h"
#include "observe.h"

/* Writes the sample in the Prometheus text format. Series are labelled graph="<pool name>". */
void xmemi_metrics_render(FILE *f, const xmemi_obs *o);

/* True when this build has the HTTP server. */
bool xmemi_metrics_built(void);

typedef struct xmemi_metrics xmemi_metrics;

/* Serves /metrics on `addr` for the graph whose runtime directory is `dir`, reading the pool's
 * books through `pool` (the launcher's handle; it must outlive the server). `bound` gets
 * "ADDR:PORT" as bound (the port chosen when 0 was asked). */
xmem_err xmemi_metrics_start(const char *addr, const char *dir, xmem_pool_t *pool,
                             xmemi_metrics **out, char *bound, size_t len, xmem_error_t *err);

/* Stops the server; accepts NULL. */
void xmemi_metrics_stop(xmemi_metrics **m);

#endif
