/* What the graph tests that run the real `xmem` share: a scratch directory per test process with
 * the graph file and the program's log, a pool name of the test's own (xmemt_<tag>_<pid>, which
 * tests/check_no_shm.sh knows) and a runtime directory of its own; starting `xmem ARGS...` with
 * its output in the log, and reading the log back. */
#ifndef XMEM_TESTS_GRAPH_XMEM_RUN_H
#define XMEM_TESTS_GRAPH_XMEM_RUN_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"

static char dir[128], graph[192], log_path[192], pool[64];

/* Makes /tmp/xmemt-<tag>-<pid> and points XMEM_RUNTIME_DIR into it; the pool is
 * xmemt_<tag>_<pid>. */
static inline void xgr_setup(const char *tag)
{
    snprintf(dir, sizeof dir, "/tmp/xmemt-%s-%d", tag, (int)getpid());
    mkdir(dir, 0700);
    snprintf(graph, sizeof graph, "%s/graph.yaml", dir);
    snprintf(log_path, sizeof log_path, "%s/run.log", dir);
    snprintf(pool, sizeof pool, "xmemt_%s_%d", tag, (int)getpid());
    char rt[160];
    snprintf(rt, sizeof rt, "%s/rt", dir);
    setenv("XMEM_RUNTIME_DIR", rt, 1);
}

static inline void xgr_teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static inline void write_yaml(const char *yaml)
{
    FILE *f = fopen(graph, "w");
    cr_assert(f != NULL);
    fputs(yaml, f);
    fclose(f);
}

/* Starts `xmem ARGS...` with stdout and stderr into `log`, and `in` as its descriptor `as` (0:
 * stdin; 63: where bash puts a process substitution, <(...)); in -1: none. */
static inline pid_t start_xmem_in(const char *const *args, const char *log, int in, int as)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        if (in >= 0)
            dup2(in, as);
        char *argv[16] = {(char *)XMEM_CLI};
        for (int i = 0; args[i] && i < 14; i++)
            argv[i + 1] = (char *)args[i];
        execv(XMEM_CLI, argv);
        _exit(127);
    }
    return pid;
}

/* Starts `xmem ARGS...` with stdout and stderr into `log`. */
static inline pid_t start_xmem_to(const char *const *args, const char *log)
{
    return start_xmem_in(args, log, -1, 0);
}

/* Starts `xmem ARGS...` with stdout and stderr into log_path. */
static inline pid_t start_xmem(const char *const *args)
{
    return start_xmem_to(args, log_path);
}

static inline int run_xmem(const char *const *args)
{
    return xf_wait(start_xmem(args));
}

static inline char *read_file(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static inline bool log_has(const char *text)
{
    const char *log = read_file(log_path);
    return log && strstr(log, text);
}

#endif
