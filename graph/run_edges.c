/* The run's per-edge figures (run_edges.h). */
#include "run_edges.h"

#include <stdlib.h>
#include <string.h>

static void set(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src);
}

static void add_pub(xmemi_run_edge_total *to, const xmemi_run_edge_total *from)
{
    to->delivered += from->delivered;
    for (int d = 0; d < XMEMI_EDGE_REASONS; d++)
        to->dropped[d] += from->dropped[d];
}

static void add_sub(xmemi_run_edge_total *to, const xmemi_run_edge_total *from)
{
    to->received += from->received;
    to->dropped_oldest += from->dropped_oldest;
}

void xmemi_run_edges_take(xmemi_run_edges *r, const char *dir, xmem_pool_t *pool,
                          const uint32_t *gen)
{
    xmem_error_t err;
    if (!r->obs) {
        r->obs = calloc(1, sizeof *r->obs);
        if (!r->obs)
            return;
        if (xmemi_obs_open(dir, NULL, pool, r->obs, &err)) {
            free(r->obs);
            r->obs = NULL;
            return;
        }
    }
    xmemi_obs *o = r->obs;
    if (xmemi_obs_sample(o, &err))
        return;
    /* The graph edges come first in the join, in run.json's order. */
    uint32_t n = o->desc.n_edges < o->n_edges ? o->desc.n_edges : o->n_edges;
    for (uint32_t k = r->n; k < n; k++) {
        xmemi_run_edge_total *t = &r->e[k];
        const xmemi_obs_edge *e = &o->edges[k];
        memset(t, 0, sizeof *t);
        set(t->from, sizeof t->from, e->from);
        set(t->from_port, sizeof t->from_port, e->from_port);
        set(t->to, sizeof t->to, e->to);
        set(t->to_port, sizeof t->to_port, e->to_port);
        set(t->policy, sizeof t->policy, o->desc.edges[k].policy);
        memset(&r->done[k], 0, sizeof r->done[k]);
        memset(&r->last[k], 0, sizeof r->last[k]);
    }
    if (n > r->n)
        r->n = n;
    for (uint32_t k = 0; k < n; k++) {
        const xmemi_run_edge *g = &o->desc.edges[k];
        const xmemi_obs_edge *e = &o->edges[k];
        xmemi_run_edge_total *last = &r->last[k], *done = &r->done[k];
        /* The publisher's record of a subscriber belongs to both processes; the consumer's own
         * counts to the consumer's. A new key: the previous processes' figures are final. */
        uint64_t pub_key = ((uint64_t)gen[g->from] << 32) | gen[g->to];
        if (e->connected) {
            if (pub_key != last->pub_key) {
                add_pub(done, last);
                last->pub_key = pub_key;
            }
            last->delivered = e->delivered;
            memcpy(last->dropped, e->dropped, sizeof last->dropped);
        }
        if (e->received || e->dropped_oldest) {
            if (gen[g->to] != last->sub_key) {
                add_sub(done, last);
                last->sub_key = gen[g->to];
            }
            last->received = e->received;
            last->dropped_oldest = e->dropped_oldest;
        }
        xmemi_run_edge_total *t = &r->e[k];
        t->delivered = t->received = t->dropped_oldest = 0;
        memset(t->dropped, 0, sizeof t->dropped);
        add_pub(t, done);
        add_pub(t, last);
        add_sub(t, done);
        add_sub(t, last);
    }
}

static bool lossy_reason(int d)
{
    return d == XMEM_DROP_QUEUE_FULL || d == XMEM_DROP_BLOCK_TIMEOUT || d == XMEM_DROP_HWM;
}

uint64_t xmemi_run_edge_lost(const xmemi_run_edge_total *e)
{
    if (strcmp(e->policy, "block") != 0)
        return 0;
    uint64_t n = 0;
    for (int d = 0; d < XMEMI_EDGE_REASONS; d++)
        if (lossy_reason(d))
            n += e->dropped[d];
    return n;
}

void xmemi_run_edge_lost_why(const xmemi_run_edge_total *e, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int d = 0; d < XMEMI_EDGE_REASONS && used < len; d++)
        if (lossy_reason(d) && e->dropped[d]) {
            int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                             xmem_drop_name((xmem_drop)d));
            used += w > 0 ? (size_t)w : 0;
        }
}

bool xmemi_run_edge_has_drops(const xmemi_run_edge_total *e)
{
    if (e->dropped_oldest)
        return true;
    for (int d = 0; d < XMEMI_EDGE_REASONS; d++)
        if (e->dropped[d])
            return true;
    return false;
}

void xmemi_run_edges_close(xmemi_run_edges *r)
{
    if (r->obs) {
        xmemi_obs_close(r->obs);
        free(r->obs);
        r->obs = NULL;
    }
}
