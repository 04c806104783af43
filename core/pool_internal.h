/* The pool handle, shared by the core's pool, reference, buffer and guard code. */
#ifndef XMEM_CORE_POOL_INTERNAL_H
#define XMEM_CORE_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include <xmem/pool.h>

#include "meta_region.h"

/* This process's mapping of one slot's shm object, valid while epoch equals the record's
 * backing_epoch. Written under map_lock; epoch is stored last so lock-free readers see a whole one.
 */
typedef struct xmemi_mapping {
    _Atomic uint64_t epoch;
    void *addr;
    size_t len;
} xmemi_mapping;

struct xmem_pool {
    char name[XMEM_POOL_NAME_MAX + 1];
    xmemi_meta_region region;
    uint32_t capacity;
    uint32_t me;       /* this handle's process slot (owner id) */
    bool creator;      /* removes the shm objects at destroy */
    unsigned fork_gen; /* xmemi_fork_gen when the handle was made */
    pthread_mutex_t map_lock;
    xmemi_mapping *maps;     /* capacity entries */
    struct xmemi_cuda *cuda; /* this process's CUDA handles of the pool (cuda.c), or NULL */
};

/* Incremented in every child after fork(); a handle made before it refuses to work. */
extern _Atomic unsigned xmemi_fork_gen;

static inline bool xmemi_pool_forked(const xmem_pool_t *pool)
{
    return pool->fork_gen != atomic_load_explicit(&xmemi_fork_gen, memory_order_relaxed);
}

xmem_err xmemi_pool_forked_error(const xmem_pool_t *pool, xmem_error_t *err);

/* This handle's acquire journal (see xmemi_free_pop). */
static inline _Atomic uint32_t *xmemi_journal(xmem_pool_t *pool)
{
    return &pool->region.hdr->procs[pool->me].acquiring;
}

/* Ends an acquire: the slot is owned (or back on a list) and needs no repair any more. */
static inline void xmemi_journal_clear(xmem_pool_t *pool)
{
    atomic_store_explicit(xmemi_journal(pool), XMEMI_NIL, memory_order_release);
}

/* Hands out free slot `index` (popped off a list by this handle, named by its journal): one
 * reference owned by this handle, live, journal cleared; `out` gets a read-write guard. */
void xmemi_slot_hand_out(xmem_pool_t *pool, uint32_t index, size_t size, void *data,
                         xmem_guard_t *out);

/* A release from a thread that is not the handle's user (a CUDA stream's host function): it
 * leaves the handle's journal alone, which the user's thread may be writing. A SIGKILL between
 * the last reference's free and its push back on a list then loses that slot (a window of a few
 * instructions, in a process that is being killed anyway). */
void xmemi_pool_release_off_thread(xmem_pool_t *pool, xmem_buf_ref ref);

/* One try of an acquire: XMEM_EEXHAUSTED when nothing was free. */
typedef xmem_err (*xmemi_try_acquire)(xmem_pool_t *pool, const void *what, xmem_guard_t *out,
                                      xmem_error_t *err);

/* Tries `attempt` until it succeeds, fails otherwise than by exhaustion, or timeout_ms passes
 * (negative: no limit), sleeping on free list `list`'s futex in between. */
xmem_err xmemi_acquire_waiting(xmem_pool_t *pool, uint32_t list, int timeout_ms,
                               xmemi_try_acquire attempt, const void *what, xmem_guard_t *out,
                               xmem_error_t *err);

#endif
