/* Acquire: taking a free slot off its class's list (or making one, pool_slots.c) and handing it out
 * as a read-write guard with one reference; the waiting variant sleeps on the list's futex; and
 * preallocation. The steady state makes no system call: a pop, an owner count, a store. */
#define _GNU_SOURCE
#include <xmem/pool.h>

#include <assert.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "buffer.h"
#include "free_list.h"
#include "pool_internal.h"
#include "pool_slots.h"
#include "record.h"

void xmemi_slot_hand_out(xmem_pool_t *pool, uint32_t index, uint64_t taken, size_t size, void *data,
                         xmem_guard_t *out)
{
    xmemi_record *rec = &pool->region.records[index];
    rec->size = size;
    rec->dtype = XMEM_DTYPE_UNKNOWN;
    rec->ndim = 0;
    rec->timestamp_ns = 0;
    rec->sequence = 0;
    /* Owned, then live: a reclaim after a death between the two finds the slot TAKEN by this
     * handle and puts it back (the count goes with the attachment's others). */
    xmemi_ref_result owned = xmemi_ref_add(xmemi_my_refs(pool, index), pool->epoch, 1, false);
    (void)owned;
    assert(owned == XMEMI_REF_OK && "a live handle's own count takes a reference");
    uint32_t generation = xmemi_life_generation(taken);
    atomic_store_explicit(&rec->life, xmemi_life_make(generation, XMEMI_LIVE, 0),
                          memory_order_release);
    *out = (xmem_guard_t){
        .pool = pool,
        .ref = {index, generation},
        .data = data,
        .size = size,
        .mode = XMEM_ACCESS_READ_WRITE,
    };
}

xmem_err xmem_pool_acquire_cpu(xmem_pool_t *pool, size_t size, xmem_guard_t *out, xmem_error_t *err)
{
    if (__builtin_expect(xmemi_pool_forked(pool), 0))
        return xmemi_pool_forked_error(pool, err);
    if (!out || out->pool)
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "pool '%s': acquire needs an empty guard (XMEM_GUARD_INIT)", pool->name);
    if (size == 0 || size > XMEMI_MAX_BUFFER_SIZE)
        return xmemi_fail(err, XMEM_EINVAL, 0, "pool '%s': buffer size %zu is outside 1..%llu",
                          pool->name, size, (unsigned long long)XMEMI_MAX_BUFFER_SIZE);
    xmemi_meta_region *r = &pool->region;
    uint32_t size_class = xmemi_size_class(size, r->hdr->page_size);
    uint32_t index = xmemi_list_pop(r, &r->hdr->free_heads[size_class], pool->me);
    uint64_t taken;
    if (__builtin_expect(index == XMEMI_NIL, 0)) {
        xmem_err rc = xmemi_slot_new(pool, size_class, size, &index, &taken, err);
        if (rc)
            return rc;
    } else {
        taken = xmemi_life_load(&r->records[index]);
    }
    void *addr;
    xmem_err rc = xmemi_buffer_addr(pool, index, &addr, err);
    if (__builtin_expect(rc != XMEM_OK, 0)) {
        xmemi_slot_untake(r, index, taken, pool->me);
        return rc;
    }
    xmemi_slot_hand_out(pool, index, taken, size, addr, out);
    return XMEM_OK;
}

xmem_err xmemi_acquire_waiting(xmem_pool_t *pool, uint32_t list, int timeout_ms,
                               xmemi_try_acquire attempt, const void *what, xmem_guard_t *out,
                               xmem_error_t *err)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t start_ms = (int64_t)t0.tv_sec * 1000 + t0.tv_nsec / 1000000;
    xmemi_meta_region *r = &pool->region;
    _Atomic uint32_t *word = xmemi_class_futex(r, list);
    _Atomic uint32_t *waiters = &r->hdr->class_waiters[list];
    for (;;) {
        /* The list's tag is read before trying: a release after that changes it, so the wait
         * below returns at once instead of missing the wake-up. A release on another list
         * (taken over by a slow path) is noticed within 10 ms. */
        uint32_t tag = atomic_load_explicit(word, memory_order_acquire);
        xmem_err rc = attempt(pool, what, out, NULL);
        if (rc != XMEM_EEXHAUSTED) /* the diagnosis only for a failure to report */
            return rc ? attempt(pool, what, out, err) : XMEM_OK;
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        int64_t waited = (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000 - start_ms;
        if (timeout_ms >= 0 && waited >= timeout_ms) {
            rc = attempt(pool, what, out, err);
            if (rc == XMEM_EEXHAUSTED && err) {
                size_t used = strlen(err->msg);
                if (used < sizeof err->msg)
                    snprintf(err->msg + used, sizeof err->msg - used, " (after waiting %d ms)",
                             timeout_ms);
            }
            return rc;
        }
        int64_t left = timeout_ms < 0 ? 10 : timeout_ms - waited;
        struct timespec ts = {0, (long)(left < 10 ? left : 10) * 1000000};
        atomic_fetch_add_explicit(waiters, 1, memory_order_seq_cst);
        syscall(SYS_futex, word, FUTEX_WAIT, tag, &ts, NULL, 0);
        atomic_fetch_sub_explicit(waiters, 1, memory_order_relaxed);
    }
}

static xmem_err try_cpu(xmem_pool_t *pool, const void *size, xmem_guard_t *out, xmem_error_t *err)
{
    return xmem_pool_acquire_cpu(pool, *(const size_t *)size, out, err);
}

xmem_err xmem_pool_acquire_cpu_timeout(xmem_pool_t *pool, size_t size, int timeout_ms,
                                       xmem_guard_t *out, xmem_error_t *err)
{
    if (size == 0 || size > XMEMI_MAX_BUFFER_SIZE) /* no class to wait on: acquire says why */
        return xmem_pool_acquire_cpu(pool, size, out, err);
    return xmemi_acquire_waiting(pool, xmemi_size_class(size, pool->region.hdr->page_size),
                                 timeout_ms, try_cpu, &size, out, err);
}

xmem_err xmem_pool_preallocate_cpu(xmem_pool_t *pool, size_t size, uint32_t count,
                                   xmem_buf_ref *ids, xmem_error_t *err)
{
    if (count && !ids)
        return xmemi_fail(err, XMEM_EINVAL, 0, "pool '%s': preallocate needs an ids array",
                          pool->name);
    for (uint32_t n = 0; n < count; n++) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        xmem_err rc = xmem_pool_acquire_cpu(pool, size, &g, err);
        if (rc) {
            while (n-- > 0)
                xmem_pool_release(pool, ids[n], NULL);
            return rc;
        }
        ids[n] = g.ref; /* the reference is the caller's now: the guard is simply dropped */
    }
    return XMEM_OK;
}
