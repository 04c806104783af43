/* Writing JSON text: the summary of `xmem run`, a running graph's run.json, `xmem ps --json` and
 * `xmem top --json`. Read back with libfyaml. */
#ifndef XMEM_GRAPH_JSON_OUT_H
#define XMEM_GRAPH_JSON_OUT_H

#include <stdio.h>

/* `s` as a JSON string, quoted and escaped. */
void xmemi_json_string(FILE *f, const char *s);

#endif
