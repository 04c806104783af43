/* A graph's private runtime directory: <base>/<pool> under a 0700 base owned by the user
 * (XMEM_RUNTIME_DIR, or /tmp/xmem-<uid>). It holds the ipc sockets, the stats file and the node
 * table, and a lock the launcher holds for its lifetime, so a directory left by a killed launcher
 * is told from one in use and cleaned. */
#ifndef XMEM_GRAPH_RUNTIME_DIR_H
#define XMEM_GRAPH_RUNTIME_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <xmem/error.h>

typedef struct xmemi_runtime_dir {
    char path[200];
    int lock_fd;               /* -1 when not held */
    uint32_t leftovers_killed; /* nodes of a dead run still there, killed by the claim */
} xmemi_runtime_dir;

/* Where runtime directories are made: $XMEM_RUNTIME_DIR, or /tmp/xmem-<uid>. */
void xmemi_runtime_dir_base(char *buf, size_t len);

/* The live launcher that holds the directory at `path` (the pid in its lock file, if that process
 * runs), or 0: none, or one that died. Takes no lock. */
pid_t xmemi_runtime_dir_launcher(const char *path);

/* The directory a graph with pool `pool` uses (whether or not it exists). */
xmem_err xmemi_runtime_dir_path(const char *pool, char *buf, size_t len, xmem_error_t *err);

/* Creates the directory (0700) and takes its lock. A directory whose lock is free was left by a
 * dead run: nodes of its node table still running (`xmem node --pool=POOL`: stopped when their
 * launcher died, they never got its parent-death signal) are killed, its files removed and
 * *was_stale set. XMEM_EEXIST when a live launcher holds it. */
xmem_err xmemi_runtime_dir_claim(const char *pool, xmemi_runtime_dir *out, bool *was_stale,
                                 xmem_error_t *err);

/* Removes every file in it and the directory, then drops the lock. */
void xmemi_runtime_dir_remove(xmemi_runtime_dir *d);

#endif
