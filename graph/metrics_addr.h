/* The address of a metrics endpoint (metrics.h), as `xmem run --metrics` and a graph's
 * options.metrics write it. */
#ifndef XMEM_GRAPH_METRICS_ADDR_H
#define XMEM_GRAPH_METRICS_ADDR_H

#include <netinet/in.h>

#include <xmem/error.h>

/* Parses "PORT", ":PORT" or "ADDR:PORT" (an IPv4 address, or localhost), binding 127.0.0.1 when
 * no address is given; port 0 picks a free one. XMEM_EINVAL naming the text and the form. */
xmem_err xmemi_metrics_addr_parse(const char *text, struct sockaddr_in *out, xmem_error_t *err);

#endif
