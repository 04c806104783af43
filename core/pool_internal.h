/* The pool handle, shared by the core's pool, reference, buffer and guard code. */
#ifndef XMEM_CORE_POOL_INTERNAL_H
#define XMEM_CORE_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>
#include <unistd.h>

#include <xmem/pool.h>

#include "common/fail.h"
#include "meta_region.h"

/* This process's mapping of one slot's shm object, valid while epoch equals the record's
 * backing_epoch. Written under map_lock; epoch is stored last so lock-free readers see a whole one.
 */
typedef struct xmemi_mapping {
    _Atomic uint64_t epoch;
    void *addr;
    size_t len;
} xmemi_mapping;

/* Any thread of the process may use a handle: the books it changes are atomics in the meta
 * region, marked with the handle's process slot (which all its threads share), and its own
 * state is the mapping cache (map_lock) and the CUDA state (its own lock). */
struct xmem_pool {
    char name[XMEM_POOL_NAME_MAX + 1];
    xmemi_meta_region region;
    uint32_t capacity;
    uint32_t me;         /* this handle's process slot */
    uint32_t epoch;      /* its attachment's epoch: the tag of its owner counts */
    uint32_t owner_id;   /* xmemi_owner_id(me, epoch) */
    pid_t pid;           /* the process that made it */
    uint64_t start_time; /* that process's start time (its identity with the pid) */
    bool creator;        /* removes the shm objects at destroy */
    unsigned fork_gen;   /* xmemi_fork_gen when the handle was made */
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

static inline xmem_err xmemi_pool_forked_error(const xmem_pool_t *pool, xmem_error_t *err)
{
    return xmemi_fail(err, XMEM_EFORKED, 0,
                      "pool '%s': this handle was made before fork(); open the pool again in the "
                      "child process (pid %d)",
                      pool->name, (int)getpid());
}

/* A handle for pool `name` of `capacity` records, attached to nothing yet; NULL without memory.
 * Watches fork() from its first call on. */
xmem_pool_t *xmemi_handle_new(const char *name, uint32_t capacity);

/* Unmaps what the handle mapped (CUDA state, buffers, the region) and frees it. */
void xmemi_handle_free(xmem_pool_t *pool);

/* This handle's owner count on a record. */
static inline _Atomic uint64_t *xmemi_my_refs(xmem_pool_t *pool, uint32_t index)
{
    return &pool->region.records[index].owner_refs[pool->me];
}

/* Hands out free slot `index` (popped off a list by this handle: TAKEN by it, life `taken`): one
 * reference owned by this handle, live; `out` gets a read-write guard. */
void xmemi_slot_hand_out(xmem_pool_t *pool, uint32_t index, uint64_t taken, size_t size, void *data,
                         xmem_guard_t *out);

/* One try of an acquire: XMEM_EEXHAUSTED when nothing was free. */
typedef xmem_err (*xmemi_try_acquire)(xmem_pool_t *pool, const void *what, xmem_guard_t *out,
                                      xmem_error_t *err);

/* Tries `attempt` until it succeeds, fails otherwise than by exhaustion, or timeout_ms passes
 * (negative: no limit), sleeping on free list `list`'s futex in between. */
xmem_err xmemi_acquire_waiting(xmem_pool_t *pool, uint32_t list, int timeout_ms,
                               xmemi_try_acquire attempt, const void *what, xmem_guard_t *out,
                               xmem_error_t *err);

#endif
