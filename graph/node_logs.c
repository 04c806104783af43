/* Relaying the nodes' output (node_logs.h). */
#define _GNU_SOURCE
#include "node_logs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fail.h"

void xmemi_node_log_path(const char *dir, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/logs/%s.log", dir, name);
}

void xmemi_node_logs_init(xmemi_node_logs *l)
{
    l->n = 0;
    for (uint32_t i = 0; i < XMEMI_GRAPH_MAX_NODES; i++)
        l->rd[i] = l->wr[i] = l->file[i] = -1;
}

xmem_err xmemi_node_logs_open(xmemi_node_logs *l, const char *dir, const xmemi_graph *g,
                              xmem_error_t *err)
{
    /* The same for Python nodes' print(): set here, before the launcher has a second thread,
     * for the nodes' environment (a Python node's stdout is a pipe now, not a terminal). */
    setenv("PYTHONUNBUFFERED", "1", 0);
    char path[512];
    snprintf(path, sizeof path, "%s/logs", dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return xmemi_fail(err, XMEM_ESYS, errno, "node logs %s", path);
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0)
            return xmemi_fail(err, XMEM_ESYS, errno, "node '%s': a pipe for its output",
                              g->nodes[i].name);
        l->rd[i] = p[0];
        l->wr[i] = p[1];
        l->n = i + 1;
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        xmemi_node_log_path(dir, g->nodes[i].name, path, sizeof path);
        l->file[i] = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (l->file[i] < 0)
            return xmemi_fail(err, XMEM_ESYS, errno, "node '%s': log file %s", g->nodes[i].name,
                              path);
    }
    return XMEM_OK;
}

void xmemi_node_logs_child(const xmemi_node_logs *l, uint32_t i)
{
    if (i < l->n && l->wr[i] >= 0) {
        dup2(l->wr[i], STDOUT_FILENO);
        dup2(l->wr[i], STDERR_FILENO);
    }
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* a closed terminal: the log file still gets it */
        p += w;
        n -= (size_t)w;
    }
}

/* Copies what pipe i holds now; false once it is empty. */
static bool relay(xmemi_node_logs *l, uint32_t i)
{
    char buf[65536];
    ssize_t n = read(l->rd[i], buf, sizeof buf);
    if (n <= 0)
        return false;
    if (l->file[i] >= 0)
        write_all(l->file[i], buf, (size_t)n);
    write_all(STDERR_FILENO, buf, (size_t)n);
    return true;
}

bool xmemi_node_logs_wait(xmemi_node_logs *l, int fd, int timeout_ms)
{
    struct pollfd pfd[1 + XMEMI_GRAPH_MAX_NODES];
    pfd[0] = (struct pollfd){.fd = fd, .events = POLLIN};
    for (uint32_t i = 0; i < l->n; i++)
        pfd[1 + i] = (struct pollfd){.fd = l->rd[i], .events = POLLIN};
    if (poll(pfd, 1 + l->n, timeout_ms) <= 0)
        return false;
    for (uint32_t i = 0; i < l->n; i++)
        if (pfd[1 + i].revents & POLLIN)
            relay(l, i);
    return pfd[0].revents & POLLIN;
}

void xmemi_node_logs_drain(xmemi_node_logs *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        while (l->rd[i] >= 0 && relay(l, i)) {
        }
}

void xmemi_node_logs_close(xmemi_node_logs *l)
{
    for (uint32_t i = 0; i < XMEMI_GRAPH_MAX_NODES; i++) {
        if (l->rd[i] >= 0)
            close(l->rd[i]);
        if (l->wr[i] >= 0)
            close(l->wr[i]);
        if (l->file[i] >= 0)
            close(l->file[i]);
        l->rd[i] = l->wr[i] = l->file[i] = -1;
    }
    l->n = 0;
}

size_t xmemi_node_log_tail(const char *dir, const char *name, unsigned lines, char *buf, size_t len)
{
    if (!len)
        return 0;
    buf[0] = '\0';
    char path[512];
    xmemi_node_log_path(dir, name, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    static char tail[65536];
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > (off_t)sizeof tail ? end - (off_t)sizeof tail : 0;
    ssize_t n = pread(fd, tail, (size_t)(end - from), from);
    close(fd);
    if (n <= 0)
        return 0;
    /* Back from the end over `lines` line ends (a last line without one counts too). */
    ssize_t start = n;
    unsigned seen = 0;
    if (tail[n - 1] == '\n')
        start--;
    while (start > 0 && seen < lines) {
        if (tail[start - 1] == '\n' && ++seen == lines)
            break;
        start--;
    }
    size_t k = (size_t)(n - start) < len - 1 ? (size_t)(n - start) : len - 1;
    memcpy(buf, tail + n - (ssize_t)k, k);
    buf[k] = '\0';
    return k;
}
