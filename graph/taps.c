/* The tap registry of a runtime directory (taps.h). */
#define _GNU_SOURCE
#include "taps.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fail.h"
#include "common/proc.h"
#include <xmem/pool_admin.h>

xmem_err xmemi_tap_register(const char *dir, const char *node, const char *port, char *path,
                            size_t len, xmem_error_t *err)
{
    char taps[512], tmp[600];
    snprintf(taps, sizeof taps, "%s/taps", dir);
    if (mkdir(taps, 0700) != 0 && errno != EEXIST)
        return xmemi_fail(err, XMEM_ESYS, errno, "tap registry %s", taps);
    snprintf(path, len, "%s/%d", taps, (int)getpid());
    snprintf(tmp, sizeof tmp, "%s.new", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return xmemi_fail(err, XMEM_ESYS, errno, "tap registry %s", tmp);
    fprintf(f, "%s %s\n", node, port);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return xmemi_fail(err, XMEM_ESYS, errno, "tap registry %s", path);
    return XMEM_OK;
}

void xmemi_tap_unregister(const char *path)
{
    if (path && *path)
        unlink(path);
}

uint32_t xmemi_taps_list(const char *dir, xmemi_tap_entry *out, uint32_t max)
{
    char taps[512];
    snprintf(taps, sizeof taps, "%s/taps", dir);
    DIR *d = opendir(taps);
    if (!d)
        return 0;
    uint32_t n = 0;
    struct dirent *e;
    while (n < max && (e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (pid <= 0 || *end || !xmemi_proc_alive((pid_t)pid, 0))
            continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%ld", taps, pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        xmemi_tap_entry *t = &out[n];
        t->pid = (pid_t)pid;
        if (fscanf(f, "%63s %63s", t->node, t->port) == 2)
            n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

static bool is_tap(const xmemi_tap_entry *taps, uint32_t n, pid_t pid)
{
    for (uint32_t i = 0; i < n; i++)
        if (taps[i].pid == pid)
            return true;
    return false;
}

bool xmemi_taps_hold_the_rest(const char *dir, const xmem_pool_t *pool, unsigned wait_ms)
{
    for (unsigned waited = 0;; waited += 20) {
        xmemi_tap_entry taps[XMEMI_TAPS_MAX];
        uint32_t n = xmemi_taps_list(dir, taps, XMEMI_TAPS_MAX);
        xmem_pool_holder h[XMEM_POOL_MAX_PROCS];
        uint32_t nh = xmem_pool_holders(pool, h, sizeof h[0], XMEM_POOL_MAX_PROCS);
        bool taps_hold = false;
        for (uint32_t i = 0; i < nh && i < XMEM_POOL_MAX_PROCS; i++) {
            if (!h[i].refs)
                continue;
            if (!is_tap(taps, n, h[i].pid))
                return false;
            taps_hold = true;
        }
        if (!taps_hold || waited >= wait_ms)
            return true;
        usleep(20 * 1000);
    }
}

void xmemi_taps_report(FILE *out, const char *dir, const xmemi_graph *g,
                       const xmemi_stats_file *stats)
{
    xmemi_tap_entry taps[XMEMI_TAPS_MAX];
    uint32_t n = dir ? xmemi_taps_list(dir, taps, XMEMI_TAPS_MAX) : 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t delivered = 0, dropped = 0;
        bool listed = false;
        for (uint32_t k = 0; k < g->n_nodes && k < stats->count; k++) {
            if (strcmp(g->nodes[k].name, taps[i].node) != 0)
                continue;
            xmemi_edge_table t;
            xmemi_edge_table_read(&stats->nodes[k].edges, &t);
            for (uint32_t j = 0; j < t.n_out; j++)
                if (t.out[j].pid == taps[i].pid && strcmp(t.out[j].port, taps[i].port) == 0) {
                    listed = true;
                    delivered += t.out[j].delivered;
                    for (int r = 0; r < XMEMI_EDGE_REASONS; r++)
                        dropped += t.out[j].dropped[r];
                }
        }
        char on[160];
        snprintf(on, sizeof on, "on %s/%s", taps[i].node, taps[i].port);
        fprintf(out, "   %-12s %-10s %7d     %-21s delivered %llu, dropped %llu%s\n", "tap",
                listed ? "attached" : "attaching", (int)taps[i].pid, on,
                (unsigned long long)delivered, (unsigned long long)dropped,
                listed ? "" : " (not subscribed yet)");
    }
}
