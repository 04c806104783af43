/* A graph file read whole into memory before libfyaml sees it: a regular file, a pipe, a FIFO,
 * a process substitution or stdin ("-"). The reading is bounded in size and, for anything that
 * is not a regular file, in the time it may wait for data; the text must be UTF-8 without NUL
 * bytes. What libfyaml would do with such input itself (crash on a pipe, hang on a FIFO with no
 * writer, stop at a NUL, take 60 times the file's size in memory) never happens. */
#ifndef XMEM_GRAPH_GRAPH_FILE_H
#define XMEM_GRAPH_GRAPH_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include <xmem/error.h>

#include "graph.h"

/* A graph of 64 nodes, commented, is some 30 KiB: anything near this is the wrong file. libfyaml
 * takes up to 350 times a text's size in memory (a run of '['), so this keeps it under 100 MB. */
#define XMEMI_GRAPH_FILE_MAX ((size_t)256 << 10)
/* How long a pipe or FIFO may go without data (or its writer's close) before the read fails. */
#define XMEMI_GRAPH_FILE_WAIT_MS 5000

typedef struct xmemi_graph_text {
    char *data; /* len bytes and a NUL after them */
    size_t len;
    bool stream; /* stdin, a pipe, FIFO or device: it has no directory of its own */
} xmemi_graph_text;

/* Reads `path` ("-": stdin) whole into *out. Messages name the file as g->path says. Refused
 * with XMEM_ECONFIG: a file that cannot be opened, a directory, a terminal, more than
 * `max_bytes`, no data for `wait_ms` on a stream, and (with file:line:column) a NUL byte or
 * invalid UTF-8. Free with xmemi_graph_text_free. */
xmem_err xmemi_graph_file_read(const xmemi_graph *g, const char *path, size_t max_bytes,
                               int wait_ms, xmemi_graph_text *out, xmem_error_t *err);

void xmemi_graph_text_free(xmemi_graph_text *t);

#endif
