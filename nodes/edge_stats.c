/* The per-edge table of a node's stats slot (edge_stats.h). A sequence lock over plain words:
 * the writer is the node's one thread, readers copy word by word with atomic loads and retry when
 * the version moved, so neither side ever waits for the other. */
#include "edge_stats.h"

#include <stdio.h>
#include <string.h>

#include <xmem/pool_admin.h>

#define WORDS (sizeof(xmemi_edge_table) / sizeof(uint64_t))
_Static_assert(sizeof(xmemi_edge_table) % sizeof(uint64_t) == 0, "copied as whole words");

static void fill(xmemi_edge_table *t, const xmemi_edge_source *ports, uint32_t n)
{
    memset(t, 0, sizeof *t);
    for (uint32_t i = 0; i < n; i++) {
        const xmemi_edge_source *s = &ports[i];
        if (s->pub) {
            xmem_pub_sub_stats subs[XMEMI_EDGE_MAX_OUT];
            uint32_t k = xmem_pub_subscriber_stats_get(s->pub, subs, sizeof subs[0],
                                                       XMEMI_EDGE_MAX_OUT - t->n_out);
            for (uint32_t j = 0; j < k && t->n_out < XMEMI_EDGE_MAX_OUT; j++) {
                xmemi_edge_out *o = &t->out[t->n_out++];
                snprintf(o->port, sizeof o->port, "%s", s->port);
                o->owner = subs[j].owner;
                o->pid = subs[j].pid;
                o->depth = subs[j].depth;
                o->policy = (uint32_t)subs[j].policy;
                o->outstanding = subs[j].outstanding;
                o->delivered = subs[j].delivered;
                memcpy(o->dropped, subs[j].dropped, sizeof o->dropped);
            }
        }
        if (s->sub && t->n_in < XMEMI_EDGE_MAX_IN) {
            xmemi_edge_in *in = &t->in[t->n_in++];
            xmem_sub_stats ss;
            xmem_sub_stats_get(s->sub, &ss, sizeof ss);
            snprintf(in->port, sizeof in->port, "%s", s->port);
            in->owner = xmem_pool_owner_id(xmem_sub_pool(s->sub));
            in->received = s->received;
            in->dropped_oldest = ss.dropped_oldest;
        }
    }
}

void xmemi_edge_table_write(xmemi_edge_table *t, const xmemi_edge_source *ports, uint32_t n)
{
    xmemi_edge_table next;
    fill(&next, ports, n);
    uint64_t v = __atomic_load_n(&t->version, __ATOMIC_RELAXED);
    __atomic_store_n(&t->version, v + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    const uint64_t *src = (const uint64_t *)&next;
    uint64_t *dst = (uint64_t *)t;
    for (size_t i = 1; i < WORDS; i++) /* word 0 is the version */
        __atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
    __atomic_store_n(&t->version, v + 2, __ATOMIC_RELEASE);
}

void xmemi_edge_table_read(const xmemi_edge_table *t, xmemi_edge_table *out)
{
    const uint64_t *src = (const uint64_t *)t;
    uint64_t *dst = (uint64_t *)out;
    for (int tries = 0; tries < 100; tries++) {
        uint64_t v = __atomic_load_n(&t->version, __ATOMIC_ACQUIRE);
        for (size_t i = 1; i < WORDS; i++)
            dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (!(v & 1) && __atomic_load_n(&t->version, __ATOMIC_RELAXED) == v)
            break;
    }
    dst[0] = 0;
    if (out->n_out > XMEMI_EDGE_MAX_OUT) /* a torn copy of a dead writer: never past the end */
        out->n_out = XMEMI_EDGE_MAX_OUT;
    if (out->n_in > XMEMI_EDGE_MAX_IN)
        out->n_in = XMEMI_EDGE_MAX_IN;
    for (uint32_t i = 0; i < out->n_out; i++)
        out->out[i].port[XMEMI_EDGE_PORT_MAX - 1] = '\0';
    for (uint32_t i = 0; i < out->n_in; i++)
        out->in[i].port[XMEMI_EDGE_PORT_MAX - 1] = '\0';
}
