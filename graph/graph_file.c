/* Reading a graph file whole into memory (graph_file.h). A stream is read only when poll says
 * there is something to read: a FIFO opened with O_NONBLOCK before any writer came reads as
 * empty at once, and Linux reports no hangup on it until a writer has come and gone, so poll
 * waits (up to wait_ms) instead of the read returning a false end of file or blocking forever. */
#define _GNU_SOURCE
#include "graph_file.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fail.h"

/* The first buffer of a stream, whose size is not known before it ends, and the least for a
 * file (one in /proc says it holds 0 bytes). */
#define STREAM_FIRST_CHUNK ((size_t)64 << 10)
#define MIN_CHUNK ((size_t)4 << 10)

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* 1 when fd has data or an end (or an error the read will report), 0 when wait_ms passed
 * without, -1 (errno) when poll failed. */
static int wait_readable(int fd, int wait_ms)
{
    int64_t deadline = now_ms() + wait_ms;
    for (;;) {
        int64_t left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, left > 0 ? (int)left : 0);
        if (r >= 0 || errno != EINTR)
            return r;
    }
}

/* `size`: the file's, or -1 for a stream that went on past the limit. */
static xmem_err too_large(const xmemi_graph *g, long long size, size_t max_bytes, xmem_error_t *err)
{
    char is[64], limit[64];
    if (size < 0)
        snprintf(is, sizeof is, "holds more than %zu bytes", max_bytes);
    else
        snprintf(is, sizeof is, "is %lld bytes", size);
    if (max_bytes % 1024 == 0)
        snprintf(limit, sizeof limit, "%zu KiB", max_bytes >> 10);
    else
        snprintf(limit, sizeof limit, "%zu bytes", max_bytes);
    return xmemi_fail(err, XMEM_ECONFIG, 0,
                      "graph file %s %s: a graph file may hold at most %s (is it the right file?)",
                      g->path, is, limit);
}

/* Reads fd to its end into *out, never holding more than max_bytes + 1 bytes of it. A stream is
 * read only when poll says so (graph_file.c's opening comment). */
static xmem_err read_all(const xmemi_graph *g, int fd, bool stream, size_t size_hint,
                         size_t max_bytes, int wait_ms, xmemi_graph_text *out, xmem_error_t *err)
{
    size_t cap = size_hint < MIN_CHUNK ? MIN_CHUNK : size_hint + 1, len = 0;
    cap = cap < max_bytes + 1 ? cap : max_bytes + 1;
    char *buf = malloc(cap + 1);
    if (!buf)
        return xmemi_fail(err, XMEM_ENOMEM, 0, "graph file %s: no memory", g->path);
    for (;;) {
        if (len == cap) {
            size_t grown = cap * 2 < max_bytes + 1 ? cap * 2 : max_bytes + 1;
            char *more = realloc(buf, grown + 1);
            if (!more) {
                free(buf);
                return xmemi_fail(err, XMEM_ENOMEM, 0, "graph file %s: no memory", g->path);
            }
            buf = more;
            cap = grown;
        }
        if (stream) {
            int ready = wait_readable(fd, wait_ms);
            if (ready <= 0) {
                int e = ready < 0 ? errno : 0;
                free(buf);
                if (e)
                    return xmemi_fail(err, XMEM_ECONFIG, e, "graph file %s", g->path);
                return xmemi_fail(err, XMEM_ECONFIG, 0,
                                  "graph file %s: no data for %g s (is anything writing to it?)",
                                  g->path, wait_ms / 1000.0);
            }
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue; /* a stream: poll waits for the rest */
        if (n < 0) {
            int e = errno;
            free(buf);
            return xmemi_fail(err, XMEM_ECONFIG, e, "graph file %s", g->path);
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max_bytes) {
            free(buf);
            return too_large(g, -1, max_bytes, err);
        }
    }
    buf[len] = '\0';
    out->data = buf;
    out->len = len;
    return XMEM_OK;
}

/* The length of the UTF-8 character at s (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF), 0 when it is not one. */
static size_t utf8_char(const unsigned char *s, size_t left)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : lo;
        hi = c == 0xed ? 0x9f : hi;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : lo;
        hi = c == 0xf4 ? 0x8f : hi;
    } else
        return 0;
    if (left < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if ((s[k] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* libfyaml would stop at a NUL as at the end of the text, and its positions past bad UTF-8 are
 * guesses: both are refused here, at the line and column libfyaml would give (columns count
 * characters, not a leading byte order mark; a line ends at \n, \r\n or a lone \r). */
static xmem_err check_text(const xmemi_graph *g, const xmemi_graph_text *t, xmem_error_t *err)
{
    const unsigned char *s = (const unsigned char *)t->data;
    xmemi_mark at = {1, 1};
    size_t i = t->len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
    while (i < t->len) {
        size_t n = s[i] ? utf8_char(s + i, t->len - i) : 0;
        if (!s[i])
            return xmemi_graph_fail(g, err, at, "a NUL byte: a graph file is UTF-8 text");
        if (!n)
            return xmemi_graph_fail(
                g, err, at, "invalid UTF-8 (byte 0x%02x): a graph file is UTF-8 text", s[i]);
        bool eol = s[i] == '\n' || (s[i] == '\r' && (i + 1 == t->len || s[i + 1] != '\n'));
        at = eol ? (xmemi_mark){at.line + 1, 1} : (xmemi_mark){at.line, at.column + 1};
        i += n;
    }
    return XMEM_OK;
}

/* Opens what `path` names without waiting for a FIFO's writer; stdin is used as it is. *own
 * says whether the descriptor is ours to close. */
static xmem_err open_graph(const xmemi_graph *g, const char *path, int *fd, bool *own,
                           struct stat *st, xmem_error_t *err)
{
    *own = strcmp(path, "-") != 0;
    *fd = *own ? open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) : STDIN_FILENO;
    if (*fd < 0 || fstat(*fd, st) != 0)
        return xmemi_fail(err, XMEM_ECONFIG, errno, "graph file %s", g->path);
    const char *refused = S_ISDIR(st->st_mode) ? "is a directory, not a file"
                          : isatty(*fd)        ? "is a terminal: give a file, or pipe the graph in "
                                                 "(xmem validate - < FILE)"
                                               : NULL;
    if (refused)
        return xmemi_fail(err, XMEM_ECONFIG, 0, "graph file %s %s", g->path, refused);
    return XMEM_OK;
}

xmem_err xmemi_graph_file_read(const xmemi_graph *g, const char *path, size_t max_bytes,
                               int wait_ms, xmemi_graph_text *out, xmem_error_t *err)
{
    *out = (xmemi_graph_text){0};
    int fd;
    bool own;
    struct stat st;
    xmem_err rc = open_graph(g, path, &fd, &own, &st, err);
    if (!rc) {
        out->stream = !S_ISREG(st.st_mode);
        if (!out->stream && (uint64_t)st.st_size > max_bytes)
            rc = too_large(g, (long long)st.st_size, max_bytes, err);
        else {
            size_t hint = out->stream ? STREAM_FIRST_CHUNK : (size_t)st.st_size;
            rc = read_all(g, fd, out->stream, hint, max_bytes, wait_ms, out, err);
        }
    }
    if (own && fd >= 0)
        close(fd);
    if (!rc && (rc = check_text(g, out, err)))
        xmemi_graph_text_free(out);
    return rc;
}

void xmemi_graph_text_free(xmemi_graph_text *t)
{
    free(t->data);
    *t = (xmemi_graph_text){0};
}
