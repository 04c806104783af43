/* Publishers and subscribers are used by one thread at a time (their ZeroMQ sockets are): in a
 * build with assertions (not NDEBUG), a call that finds another thread inside the same one aborts
 * naming it, instead of corrupting a socket quietly. Calls nest on one thread (receive waits
 * through wait_any). Costs nothing without assertions. */
#ifndef XMEM_TRANSPORT_ONE_THREAD_H
#define XMEM_TRANSPORT_ONE_THREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct xmemi_one_thread {
    _Atomic uintptr_t owner; /* pthread_self() of the thread inside, 0: none */
    unsigned depth;          /* nested calls of that thread */
} xmemi_one_thread;

static inline void xmemi_enter(xmemi_one_thread *t, const char *what, const char *name)
{
#ifndef NDEBUG
    uintptr_t self = (uintptr_t)pthread_self(), none = 0;
    if (atomic_load_explicit(&t->owner, memory_order_relaxed) == self) {
        t->depth++;
        return;
    }
    if (!atomic_compare_exchange_strong(&t->owner, &none, self)) {
        fprintf(stderr,
                "xmem: %s %s is used by two threads at once: one thread at a time (give each "
                "thread its own)\n",
                what, name);
        abort();
    }
    t->depth = 1;
#else
    (void)t, (void)what, (void)name;
#endif
}

static inline void xmemi_leave(xmemi_one_thread *t)
{
#ifndef NDEBUG
    if (--t->depth == 0)
        atomic_store_explicit(&t->owner, 0, memory_order_release);
#else
    (void)t;
#endif
}

#endif
