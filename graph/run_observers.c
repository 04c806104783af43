/* The launcher's observers (run_observers.h). */
#define _GNU_SOURCE
#include "run_observers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dot.h"
#include "run_info.h"

void xmemi_run_observers_init(xmemi_run_observers *r)
{
    memset(r, 0, sizeof *r);
    xmemi_node_logs_init(&r->logs);
}

xmem_err xmemi_run_observers_start(xmemi_run_observers *r, const char *dir, const xmemi_graph *g,
                                   const xmemi_run_options *o, xmem_pool_t *pool, xmem_error_t *err)
{
    r->dir = dir;
    r->g = g;
    r->o = o;
    r->started_unix = xmemi_obs_unix_now();
    xmemi_live_table_init(&r->live, stdout);
    xmem_err rc = xmemi_node_logs_open(&r->logs, dir, g, err);
    if (rc)
        return rc;
    const char *addr = o->metrics ? o->metrics : g->metrics;
    if (addr && *addr) {
        if ((rc = xmemi_metrics_start(addr, dir, pool, &r->metrics, r->metrics_addr,
                                      sizeof r->metrics_addr, err)))
            return rc;
        fprintf(stderr, "xmem run: metrics at http://%s/metrics\n", r->metrics_addr);
    }
    return XMEM_OK;
}

void xmemi_run_observers_publish(const xmemi_run_observers *r, const xmemi_node_run *runs,
                                 bool stopping)
{
    if (!r->dir)
        return;
    xmemi_run_info info = {
        .g = r->g,
        .runs = runs,
        .started_unix = r->started_unix,
        .stopping = stopping,
        .interval_s = r->o->interval_s,
        .metrics = r->metrics ? r->metrics_addr : NULL,
    };
    if (!xmemi_run_info_write(r->dir, &info))
        fprintf(stderr, "xmem run: cannot write %s/" XMEMI_RUN_INFO_FILE ": %s\n", r->dir,
                strerror(errno));
}

static bool write_dot(const xmemi_run_observers *r, xmem_pool_t *pool)
{
    xmemi_obs *o = calloc(1, sizeof *o);
    xmem_error_t err;
    if (!o || xmemi_obs_open(r->dir, NULL, pool, o, &err) || xmemi_obs_sample(o, &err)) {
        fprintf(stderr, "xmem run: --dot %s: %s\n", r->o->dot_path, o ? err.msg : "no memory");
        if (o)
            xmemi_obs_close(o);
        free(o);
        return false;
    }
    FILE *f = fopen(r->o->dot_path, "w");
    if (f)
        xmemi_dot_write(f, o);
    bool ok = f && fclose(f) == 0;
    if (!ok)
        fprintf(stderr, "xmem run: --dot %s: %s\n", r->o->dot_path, strerror(errno));
    xmemi_obs_close(o);
    free(o);
    return ok;
}

bool xmemi_run_observers_finish(xmemi_run_observers *r, xmem_pool_t *pool)
{
    xmemi_node_logs_drain(&r->logs);
    xmemi_live_table_end(&r->live);
    xmemi_metrics_stop(&r->metrics);
    bool ok = true;
    if (r->dir && pool && r->o->dot_path)
        ok = write_dot(r, pool);
    xmemi_node_logs_close(&r->logs);
    r->dir = NULL; /* once */
    return ok;
}
