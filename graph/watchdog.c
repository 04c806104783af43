/* The launcher's watchdog (watchdog.h). */
#define _GNU_SOURCE
#include "watchdog.h"

#include <stdio.h>
#include <string.h>

#include "common/proc.h"

#define PROC_LOOK_NS 100000000ull /* /proc at most every 100 ms per node */

/* What one callback of node n may wait by itself: its acquire timeout, then a publish blocked
 * on a `block` subscriber. */
static int own_waits_ms(const xmemi_graph_node *n)
{
    return (n->acquire_timeout_ms ? n->acquire_timeout_ms : XMEMI_HOST_WAIT_MS) +
           XMEMI_HOST_WAIT_MS;
}

uint64_t xmemi_watchdog_limit_ms(const xmemi_graph_node *n, xmemi_callback cb)
{
    if (cb == XMEMI_CB_INIT)
        return n->init_stuck_after_ms ? (uint64_t)n->init_stuck_after_ms
                                      : XMEMI_INIT_STUCK_AFTER_MS;
    if (n->stuck_after_ms)
        return (uint64_t)n->stuck_after_ms;
    /* A node given a long acquire timeout may legitimately wait that long in one callback. */
    uint64_t waits = (uint64_t)own_waits_ms(n);
    return waits + 1000 > XMEMI_STUCK_AFTER_MS ? waits + 1000 : XMEMI_STUCK_AFTER_MS;
}

xmem_err xmemi_watchdog_check(const xmemi_graph *g, const xmemi_graph_node *n, xmem_error_t *err)
{
    int waits = own_waits_ms(n);
    int acquire = waits - XMEMI_HOST_WAIT_MS;
    if (n->stuck_after_ms && n->stuck_after_ms <= waits)
        return xmemi_graph_fail(g, err, n->stuck_at,
                                "node '%s': stuck_after_ms %d is not above the %d ms one callback "
                                "may wait by itself (acquire_timeout_ms %d plus a %d ms publish "
                                "blocked on a `block` subscriber): give more",
                                n->name, n->stuck_after_ms, waits, acquire, XMEMI_HOST_WAIT_MS);
    return XMEM_OK;
}

bool xmemi_watchdog_stuck(const xmemi_graph_node *n, xmemi_node_run *r, const xmemi_node_stats *s,
                          uint64_t now, char *why, size_t len)
{
    const xmemi_node_watch *w = &s->watch;
    xmemi_callback cb = (xmemi_callback)__atomic_load_n(&w->callback, __ATOMIC_ACQUIRE);
    uint64_t since = __atomic_load_n(&w->since_ns, __ATOMIC_RELAXED);
    /* A slot's callback may be the previous incarnation's, left by a kill mid-callback. */
    if (cb != XMEMI_CB_NONE && since >= r->started_ns && now > since) {
        uint64_t limit = xmemi_watchdog_limit_ms(n, cb);
        if (now - since > limit * 1000000ull) {
            snprintf(why, len, "in %s for %.1f s (%s %llu)", xmemi_callback_name(cb),
                     (double)(now - since) / 1e9,
                     cb == XMEMI_CB_INIT ? "init_stuck_after_ms" : "stuck_after_ms",
                     (unsigned long long)limit);
            return true;
        }
    }
    /* Stopped between callbacks looks idle to the clock above: only the kernel can tell. */
    if (now < r->next_proc_ns)
        return false;
    r->next_proc_ns = now + PROC_LOOK_NS;
    if (xmemi_proc_state(r->pid) != 'T') { /* 't' is a debugger's stop: someone is looking at it */
        r->stopped_since_ns = 0;
        return false;
    }
    if (!r->stopped_since_ns)
        r->stopped_since_ns = now;
    uint64_t limit = xmemi_watchdog_limit_ms(n, XMEMI_CB_NONE);
    if (now - r->stopped_since_ns < limit * 1000000ull)
        return false;
    snprintf(why, len, "stopped (SIGSTOP) for %.1f s (stuck_after_ms %llu)",
             (double)(now - r->stopped_since_ns) / 1e9, (unsigned long long)limit);
    return true;
}

uint32_t xmemi_watchdog_subscribers(const xmemi_graph *g, const xmemi_node_run *runs, uint32_t i,
                                    const char *port, bool or_restarting)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < g->n_nodes; k++) {
        xmemi_node_state st = runs[k].state;
        /* A stuck one is being killed; its restart policy may bring it back. */
        if (st != XMEMI_NODE_RUNNING &&
            !(or_restarting && (st == XMEMI_NODE_RESTARTING || st == XMEMI_NODE_STUCK)))
            continue;
        for (uint32_t e = 0; e < g->nodes[k].n_inputs; e++)
            n += g->nodes[k].inputs[e].from == i &&
                 strcmp(g->nodes[k].inputs[e].from_port, port) == 0;
    }
    return n;
}

void xmemi_watchdog_publish_alive(const xmemi_graph *g, const xmemi_node_run *runs,
                                  xmemi_stats_file *stats)
{
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const xmem_node_plugin *p = &g->nodes[i].loaded.desc;
        xmemi_node_watch *w = &stats->nodes[i].watch;
        for (uint32_t k = 0; k < p->n_outputs && k < XMEM_NODE_MAX_PORTS; k++)
            __atomic_store_n(&w->alive[k],
                             xmemi_watchdog_subscribers(g, runs, i, p->outputs[k].name, false),
                             __ATOMIC_RELAXED);
        __atomic_store_n(&w->alive_set, 1u, __ATOMIC_RELEASE);
    }
}
