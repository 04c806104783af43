/* What the launcher's watchdog (graph/watchdog.c) and a node host tell each other through the
 * node's slot of the shared stats file (node_stats.h): the host says which callback of its plugin
 * it is in and since when, and whether init ever succeeded; the launcher says how many of the
 * subscribers a source was told to expect are alive, so that a source does not wait at its start
 * for a consumer that died or failed its init. Plain atomics: no system call on either side. */
#ifndef XMEM_NODES_NODE_WATCH_H
#define XMEM_NODES_NODE_WATCH_H

#include <stdint.h>

#include <xmem/node.h>

typedef enum xmemi_callback {
    XMEMI_CB_NONE = 0, /* between callbacks: waiting for input, sleeping to its rate */
    XMEMI_CB_INIT,
    XMEMI_CB_TICK,
    XMEMI_CB_PROCESS,
    XMEMI_CB_FINI,
    XMEMI_CB_WAKE,
} xmemi_callback;

typedef struct xmemi_node_watch {
    uint64_t since_ns; /* xmem_node_clock_ns() when `callback` was entered */
    uint32_t callback; /* xmemi_callback */
    uint32_t inits; /* inits that succeeded, all incarnations: one that never grew never started */
    uint32_t alive_set; /* the launcher has written alive[] (0: a host without a launcher) */
    uint32_t alive[XMEM_NODE_MAX_PORTS]; /* per output (the plugin's order): subscribers alive */
} xmemi_node_watch;

/* The host enters a callback: the time first, so a reader that sees the callback sees its time. */
static inline void xmemi_watch_enter(xmemi_node_watch *w, xmemi_callback cb, uint64_t now_ns)
{
    __atomic_store_n(&w->since_ns, now_ns, __ATOMIC_RELAXED);
    __atomic_store_n(&w->callback, (uint32_t)cb, __ATOMIC_RELEASE);
}

static inline void xmemi_watch_leave(xmemi_node_watch *w)
{
    __atomic_store_n(&w->callback, (uint32_t)XMEMI_CB_NONE, __ATOMIC_RELEASE);
}

const char *xmemi_callback_name(xmemi_callback cb);

#endif
