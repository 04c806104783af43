/* Writing JSON text: the summary of `xmem run`, a running graph's run.json, `xmem ps --json` and
 * `xmem top --json`. Read back with libfyaml. */
#ifndef XMEM_GRAPH_JSON_OUT_H
#define XMEM_GRAPH_JSON_OUT_H

#include <stdio.h>

#include "nodes/node_stats.h"

/* `s` as a JSON string, quoted and escaped. */
void xmemi_json_string(FILE *f, const char *s);

/* A bridge's link as a JSON object (state, peer, frames, bytes, then `bytes_per_s` when not NULL,
 * rtt_us, reconnects, refused, dropped by reason), or null for `l` NULL: the summary's and
 * `xmem top --json`'s. */
void xmemi_json_link(FILE *f, const xmemi_link_stat *l, const double *bytes_per_s);

#endif
