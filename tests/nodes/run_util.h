/* Running the `xmem` program from the node tests: a scratch directory per test (the children's
 * output files and ipc endpoints), spawning a child with its stdout and stderr in files, waiting
 * for it with a deadline, and reading what it wrote. Children still running when a test ends are
 * killed by xnt_cleanup(), and die with the test process if it is killed (PR_SET_PDEATHSIG). */
#ifndef XMEM_TESTS_NODES_RUN_UTIL_H
#define XMEM_TESTS_NODES_RUN_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"

/* Waiting for a child, in ms: long enough for a sanitized build on a loaded machine. */
#define XNT_WAIT_MS 30000

/* xnt_wait's result for a child that outlived its deadline (it is then killed). */
#define XNT_TIMED_OUT (-3000)

#define XNT_TEXT_MAX 32768

typedef struct xnt_child {
    pid_t pid; /* -1: not running (never started, or reaped) */
    char out_path[256], err_path[256];
    char out[XNT_TEXT_MAX], err[XNT_TEXT_MAX]; /* what xnt_read_out/err last read */
} xnt_child;

static char xnt_dir[128];
static pid_t xnt_children[32];
static int xnt_n_children;

/* Makes this test's scratch directory; false if it cannot. */
static inline bool xnt_setup(void)
{
    xnt_n_children = 0;
    snprintf(xnt_dir, sizeof xnt_dir, "/tmp/xmemt-nodes-%ld-XXXXXX", (long)getpid());
    return mkdtemp(xnt_dir) != NULL;
}

/* `dir/name` in the scratch directory. */
static inline void xnt_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", xnt_dir, name);
}

/* An ipc endpoint in the scratch directory. */
static inline void xnt_endpoint(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "ipc://%s/%s.ipc", xnt_dir, name);
}

/* Kills the children still running, then removes the scratch directory and what is in it. */
static inline void xnt_cleanup(void)
{
    for (int i = 0; i < xnt_n_children; i++) {
        if (xnt_children[i] > 0 && kill(xnt_children[i], SIGKILL) == 0)
            while (waitpid(xnt_children[i], NULL, 0) < 0 && errno == EINTR) {
            }
    }
    xnt_n_children = 0;
    if (!xnt_dir[0])
        return;
    DIR *d = opendir(xnt_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", xnt_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(xnt_dir);
    xnt_dir[0] = '\0';
}

static inline void xnt_forget(pid_t pid)
{
    for (int i = 0; i < xnt_n_children; i++)
        if (xnt_children[i] == pid)
            xnt_children[i] = -1;
}

/* Starts argv[0] (a path) with argv, its stdout and stderr going to `tag`.out and `tag`.err in
 * the scratch directory. Returns the pid, or -1 (c->pid too). */
static inline pid_t xnt_spawn(const char *const *argv, const char *tag, xnt_child *c)
{
    snprintf(c->out_path, sizeof c->out_path, "%s/%s.out", xnt_dir, tag);
    snprintf(c->err_path, sizeof c->err_path, "%s/%s.err", xnt_dir, tag);
    c->out[0] = c->err[0] = '\0';
    c->pid = -1;
    if (xnt_n_children == (int)(sizeof xnt_children / sizeof xnt_children[0]))
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Die with the test: a sink whose source never came would otherwise wait forever. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        int out = open(c->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(c->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out < 0 || err < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0)
            _exit(126);
        /* Nothing of Criterion's (its pipes to the runner) goes on living in the child. */
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    xnt_children[xnt_n_children++] = pid;
    c->pid = pid;
    return pid;
}

/* Waits up to timeout_ms for the child: its exit status, -(signal) if a signal killed it, or
 * XNT_TIMED_OUT (it is then killed and reaped). -1000 if there is no such child. */
static inline int xnt_wait(xnt_child *c, int timeout_ms)
{
    if (c->pid <= 0)
        return -1000;
    long deadline = xf_now_ms() + timeout_ms;
    for (;;) {
        int status = 0;
        pid_t r = waitpid(c->pid, &status, WNOHANG);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == c->pid) {
            xnt_forget(c->pid);
            c->pid = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        }
        if (r < 0)
            return -1000;
        if (xf_now_ms() >= deadline) {
            kill(c->pid, SIGKILL);
            while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR) {
            }
            xnt_forget(c->pid);
            c->pid = -1;
            return XNT_TIMED_OUT;
        }
        xf_sleep_ms(2);
    }
}

/* Reads a whole (small) file into buf, NUL-terminated; "" if it cannot. */
static inline const char *xnt_read_file(const char *path, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return buf;
    while (used + 1 < len) {
        ssize_t r = read(fd, buf + used, len - 1 - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        used += (size_t)r;
    }
    buf[used] = '\0';
    close(fd);
    return buf;
}

/* What the child wrote to stdout / stderr so far. */
static inline const char *xnt_read_out(xnt_child *c)
{
    return xnt_read_file(c->out_path, c->out, sizeof c->out);
}

static inline const char *xnt_read_err(xnt_child *c)
{
    return xnt_read_file(c->err_path, c->err, sizeof c->err);
}

/* Spawns argv, waits for it (XNT_WAIT_MS) and reads its output: the xnt_wait result. */
static inline int xnt_run(const char *const *argv, const char *tag, xnt_child *c)
{
    if (xnt_spawn(argv, tag, c) < 0)
        return -1000;
    int status = xnt_wait(c, XNT_WAIT_MS);
    xnt_read_out(c);
    xnt_read_err(c);
    return status;
}

/* Waits up to timeout_ms until the child's stderr contains `needle`; false if the time ran out or
 * the child exited first (it is then not reaped: xnt_wait says how it ended). */
static inline bool xnt_wait_for_err(xnt_child *c, const char *needle, int timeout_ms)
{
    long deadline = xf_now_ms() + timeout_ms;
    while (xf_now_ms() <= deadline) {
        if (strstr(xnt_read_err(c), needle))
            return true;
        siginfo_t info = {0};
        if (c->pid <= 0 || waitid(P_PID, (id_t)c->pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0)
            return false;
        if (info.si_pid == c->pid) /* exited: read what it wrote last */
            return strstr(xnt_read_err(c), needle) != NULL;
        xf_sleep_ms(5);
    }
    return false;
}

/* Waits for a child, which must exit with `status`; on anything else says what it wrote. */
static inline void xnt_expect_exit(xnt_child *c, int status)
{
    pid_t pid = c->pid;
    int got = xnt_wait(c, XNT_WAIT_MS);
    xnt_read_err(c);
    cr_assert(eq(int, got, status), "node %ld: status %d, stderr:\n%s", (long)pid, got, c->err);
}

/* The child's stderr so far has (or has not) `text`. */
static inline void xnt_expect_text(xnt_child *c, const char *text)
{
    cr_assert(not(eq(ptr, strstr(xnt_read_err(c), text), NULL)), "no \"%s\" in:\n%s", text, c->err);
}

static inline void xnt_expect_no_text(xnt_child *c, const char *text)
{
    cr_assert(eq(ptr, strstr(xnt_read_err(c), text), NULL), "\"%s\" in:\n%s", text, c->err);
}

#endif
