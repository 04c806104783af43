/* References to buffers: acquire, get, add_ref, release, set_ref_count, give, and giving back a
 * dead process's references. The steady state makes no system call: free lists, refcounts and
 * per-process owner counts are atomics in the meta region, mappings are cached per process. */
#define _GNU_SOURCE
#include <xmem/pool_admin.h>
#include <xmem/pool.h>

#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "buffer.h"
#include "common/fail.h"
#include "pool_internal.h"
#include "pool_slots.h"
#include "common/proc.h"

static const char *slot_state(const xmemi_record *rec)
{
    return xmemi_life_live(xmemi_life_load(rec)) ? "in use" : "free";
}

/* Finds the record `ref` names, if that buffer still lives. Changes nothing. */
static xmem_err lookup(const xmem_pool_t *pool, xmem_buf_ref ref, xmemi_record **out,
                       xmem_error_t *err)
{
    if (__builtin_expect(xmemi_pool_forked(pool), 0))
        return xmemi_pool_forked_error(pool, err);
    if (__builtin_expect(ref.index >= pool->capacity, 0))
        return xmemi_fail(err, XMEM_ERANGE, 0,
                          "pool '%s': buffer index %u is out of range (capacity %u)", pool->name,
                          ref.index, pool->capacity);
    xmemi_record *rec = &pool->region.records[ref.index];
    uint32_t life = xmemi_life_load(rec);
    uint32_t gen = xmemi_life_generation(life);
    if (__builtin_expect(gen != ref.generation, 0))
        return xmemi_fail(err, XMEM_ESTALE, 0,
                          "pool '%s': buffer %u generation %u is stale (the slot is at generation "
                          "%u, %s)",
                          pool->name, ref.index, ref.generation, gen, slot_state(rec));
    if (__builtin_expect(!xmemi_life_live(life), 0))
        return xmemi_fail(err, XMEM_EFREED, 0, "pool '%s': buffer %u generation %u is free",
                          pool->name, ref.index, ref.generation);
    *out = rec;
    return XMEM_OK;
}

/* While this process holds a reference the buffer cannot be recycled, so a generation still equal
 * after the ownership check proves the reference seen belongs to this buffer, not its next life. */
static xmem_err recheck(const xmem_pool_t *pool, xmem_buf_ref ref, xmemi_record *rec,
                        xmem_error_t *err)
{
    if (xmemi_life_generation(xmemi_life_load(rec)) == ref.generation)
        return XMEM_OK;
    return lookup(pool, ref, &rec, err);
}

static xmem_err not_owner(const xmem_pool_t *pool, xmem_buf_ref ref, xmem_error_t *err)
{
    return xmemi_fail(err, XMEM_ENOTOWNER, 0,
                      "pool '%s': process %d (owner id %u) holds no reference to buffer %u "
                      "generation %u",
                      pool->name, (int)getpid(), pool->me, ref.index, ref.generation);
}

/* As lookup, for a buffer this process holds a reference to; *mine gets how many it holds. The
 * generation is checked again once a reference is seen (it cannot change while one is held), so
 * a stale name never acts on the buffer's next life. */
static xmem_err lookup_owned(const xmem_pool_t *pool, xmem_buf_ref ref, xmemi_record **out,
                             uint32_t *mine, xmem_error_t *err)
{
    xmemi_record *rec = NULL;
    xmem_err rc = lookup(pool, ref, &rec, err);
    if (rc)
        return rc;
    *mine = atomic_load_explicit(&rec->owner_refs[pool->me], memory_order_acquire);
    if (*mine == 0)
        return not_owner(pool, ref, err);
    rc = recheck(pool, ref, rec, err);
    if (rc)
        return rc;
    *out = rec;
    return XMEM_OK;
}

/* Takes `n` of one owner's references to a record, if it holds that many; *left (may be NULL)
 * gets what that owner holds afterwards. */
static bool take_owned(xmemi_record *rec, uint32_t owner, uint32_t n, uint32_t *left)
{
    _Atomic uint32_t *own = &rec->owner_refs[owner];
    uint32_t have = atomic_load_explicit(own, memory_order_relaxed);
    do {
        if (have < n)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(own, &have, have - n, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (left)
        *left = have - n;
    return true;
}

/* Adds `n` to a counter unless that would pass UINT32_MAX / 2 (so 64 of them never overflow). */
static bool add_bounded(_Atomic uint32_t *counter, uint32_t n)
{
    uint32_t have = atomic_load_explicit(counter, memory_order_relaxed);
    do {
        if (n > UINT32_MAX / 2 || have > UINT32_MAX / 2 - n)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(counter, &have, have + n, memory_order_acq_rel,
                                                    memory_order_relaxed));
    return true;
}

/* Adds `n` references for this process, which already holds one: a single atomic step. */
static xmem_err add_owned(const xmem_pool_t *pool, xmemi_record *rec, xmem_buf_ref ref, uint32_t n,
                          xmem_error_t *err)
{
    _Atomic uint32_t *own = &rec->owner_refs[pool->me];
    uint32_t have = atomic_load_explicit(own, memory_order_relaxed);
    do {
        if (have == 0)
            return not_owner(pool, ref, err);
        if (have > UINT32_MAX / 2 - n)
            return xmemi_fail(err, XMEM_EOVERFLOW, 0,
                              "pool '%s': this process holds %u references to buffer %u",
                              pool->name, have, ref.index);
    } while (!atomic_compare_exchange_weak_explicit(own, &have, have + n, memory_order_acq_rel,
                                                    memory_order_relaxed));
    return recheck(pool, ref, rec, err);
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
    uint32_t index = xmemi_free_pop(r, &r->hdr->free_heads[size_class], xmemi_journal(pool));
    if (__builtin_expect(index == XMEMI_NIL, 0)) {
        xmem_err rc = xmemi_slot_new(pool, size_class, size, &index, err);
        if (rc)
            return rc;
    }
    void *addr;
    xmem_err rc = xmemi_buffer_addr(pool, index, &addr, err);
    if (__builtin_expect(rc != XMEM_OK, 0)) {
        xmemi_slot_push_free(r, index);
        xmemi_journal_clear(pool);
        return rc;
    }
    xmemi_slot_hand_out(pool, index, size, addr, out);
    return XMEM_OK;
}

void xmemi_slot_hand_out(xmem_pool_t *pool, uint32_t index, size_t size, void *data,
                         xmem_guard_t *out)
{
    xmemi_record *rec = &pool->region.records[index];
    rec->size = size;
    rec->dtype = XMEM_DTYPE_UNKNOWN;
    rec->ndim = 0;
    rec->timestamp_ns = 0;
    rec->sequence = 0;
    /* Owned, then live, then the journal cleared: a reclaim after a death at any point between
     * finds the slot owned (and frees it) or unowned and on no list (and puts it back). */
    uint32_t life = xmemi_life_load(rec); /* free, and ours alone since the pop */
    atomic_store_explicit(&rec->owner_refs[pool->me], 1, memory_order_relaxed);
    atomic_store_explicit(&rec->life, life | 1u, memory_order_release);
    xmemi_journal_clear(pool);
    *out = (xmem_guard_t){
        .pool = pool,
        .ref = {index, xmemi_life_generation(life)},
        .data = data,
        .size = size,
        .mode = XMEM_ACCESS_READ_WRITE,
    };
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
        ids[n] = g.ref;
        xmem_guard_forget(&g);
    }
    return XMEM_OK;
}

static xmem_err get_guard(xmem_pool_t *pool, xmem_buf_ref ref, xmem_access mode, xmem_guard_t *out,
                          xmem_error_t *err)
{
    if (!out || out->pool)
        return xmemi_fail(err, XMEM_EINVAL, 0, "pool '%s': get needs an empty guard", pool->name);
    xmemi_record *rec = NULL;
    uint32_t mine;
    xmem_err rc = lookup_owned(pool, ref, &rec, &mine, err);
    if (rc)
        return rc;
    void *addr = NULL; /* CUDA buffers have no host view: xmem_guard_cuda_ptr opens them */
    if (rec->storage == XMEM_STORAGE_CPU && (rc = xmemi_buffer_addr(pool, ref.index, &addr, err)))
        return rc;
    *out = (xmem_guard_t){.pool = pool, .ref = ref, .data = addr, .size = rec->size, .mode = mode};
    return XMEM_OK;
}

xmem_err xmem_pool_get(xmem_pool_t *pool, xmem_buf_ref ref, xmem_guard_t *out, xmem_error_t *err)
{
    return get_guard(pool, ref, XMEM_ACCESS_READ, out, err);
}

xmem_err xmem_pool_get_mut(xmem_pool_t *pool, xmem_buf_ref ref, xmem_guard_t *out,
                           xmem_error_t *err)
{
    return get_guard(pool, ref, XMEM_ACCESS_READ_WRITE, out, err);
}

xmem_err xmem_pool_add_ref(xmem_pool_t *pool, xmem_buf_ref ref, xmem_error_t *err)
{
    xmemi_record *rec = NULL;
    xmem_err rc = lookup(pool, ref, &rec, err);
    if (rc)
        return rc;
    return add_owned(pool, rec, ref, 1, err);
}

static xmem_err release_with(xmem_pool_t *pool, xmem_buf_ref ref, _Atomic uint32_t *journal,
                             xmem_error_t *err)
{
    xmemi_record *rec = NULL;
    uint32_t mine;
    xmem_err rc = lookup_owned(pool, ref, &rec, &mine, err);
    if (rc)
        return rc;
    uint32_t left;
    if (!take_owned(rec, pool->me, 1, &left))
        return not_owner(pool, ref, err);
    if (left == 0)
        xmemi_record_try_free(&pool->region, ref.index, journal);
    return XMEM_OK;
}

xmem_err xmem_pool_release(xmem_pool_t *pool, xmem_buf_ref ref, xmem_error_t *err)
{
    return release_with(pool, ref, xmemi_journal(pool), err);
}

void xmemi_pool_release_off_thread(xmem_pool_t *pool, xmem_buf_ref ref)
{
    release_with(pool, ref, NULL, NULL);
}

xmem_err xmem_pool_set_ref_count(xmem_pool_t *pool, xmem_buf_ref ref, uint32_t count,
                                 xmem_error_t *err)
{
    xmemi_record *rec = NULL;
    uint32_t mine;
    xmem_err rc = lookup_owned(pool, ref, &rec, &mine, err);
    if (rc)
        return rc;
    _Atomic uint32_t *own = &rec->owner_refs[pool->me];
    uint32_t set;
    for (;;) {
        uint64_t total = xmemi_record_refs(rec);
        uint64_t others = total >= mine ? total - mine : 0;
        if (count < others)
            return xmemi_fail(err, XMEM_EINVAL, 0,
                              "pool '%s': set_ref_count(%u) on buffer %u would drop references "
                              "other processes hold (%llu of %llu)",
                              pool->name, count, ref.index, (unsigned long long)others,
                              (unsigned long long)total);
        set = count - (uint32_t)others;
        if (set > UINT32_MAX / 2)
            return xmemi_fail(err, XMEM_EOVERFLOW, 0, "pool '%s': set_ref_count(%u) on buffer %u",
                              pool->name, count, ref.index);
        if (atomic_compare_exchange_weak_explicit(own, &mine, set, memory_order_acq_rel,
                                                  memory_order_relaxed))
            break;
    }
    /* Whenever our count drops to 0, not only for count == 0: another owner may have released
     * its last reference meanwhile, seen ours, and left the recycling to us. */
    if (set == 0)
        xmemi_record_try_free(&pool->region, ref.index, xmemi_journal(pool));
    return XMEM_OK;
}

xmem_err xmem_pool_ref_count(const xmem_pool_t *pool, xmem_buf_ref ref, uint32_t *out,
                             xmem_error_t *err)
{
    xmemi_record *rec = NULL;
    xmem_err rc = lookup(pool, ref, &rec, err);
    if (rc)
        return rc;
    uint64_t n = xmemi_record_refs(rec);
    rc = recheck(pool, ref, rec, err);
    if (rc)
        return rc;
    *out = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    return XMEM_OK;
}

uint32_t xmem_pool_owned_by(const xmem_pool_t *pool, xmem_buf_ref ref, uint32_t owner_id)
{
    if (ref.index >= pool->capacity || owner_id >= XMEM_POOL_MAX_PROCS)
        return 0;
    xmemi_record *rec = &pool->region.records[ref.index];
    if (xmemi_life_generation(xmemi_life_load(rec)) != ref.generation)
        return 0;
    return atomic_load_explicit(&rec->owner_refs[owner_id], memory_order_acquire);
}

uint32_t xmem_pool_list_owned(const xmem_pool_t *pool, xmem_buf_ref *refs, uint32_t *counts,
                              uint32_t max)
{
    if (xmemi_pool_forked(pool))
        return 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < pool->capacity; i++) {
        const xmemi_record *rec = &pool->region.records[i];
        uint32_t life = xmemi_life_load(rec);
        uint32_t mine = atomic_load_explicit(&((xmemi_record *)rec)->owner_refs[pool->me],
                                             memory_order_acquire);
        if (!xmemi_life_live(life) || mine == 0)
            continue;
        if (n < max) {
            refs[n] = (xmem_buf_ref){i, xmemi_life_generation(life)};
            counts[n] = mine;
        }
        n++;
    }
    return n;
}

uint32_t xmem_pool_owned_count(const xmem_pool_t *pool, xmem_buf_ref ref)
{
    if (xmemi_pool_forked(pool))
        return 0;
    return xmem_pool_owned_by(pool, ref, pool->me);
}

/* The start of moving references between this process and `owner_id`: the buffer lives and the
 * owner id is in range. *nothing is set when there is nothing to move (0 of them, or to itself). */
static xmem_err lookup_transfer(const xmem_pool_t *pool, xmem_buf_ref ref, uint32_t owner_id,
                                uint32_t count, xmemi_record **rec, bool *nothing,
                                xmem_error_t *err)
{
    *nothing = false;
    xmem_err rc = lookup(pool, ref, rec, err);
    if (rc)
        return rc;
    if (owner_id >= XMEM_POOL_MAX_PROCS)
        return xmemi_fail(err, XMEM_EINVAL, 0, "pool '%s': owner id %u is out of range (0..%d)",
                          pool->name, owner_id, XMEM_POOL_MAX_PROCS - 1);
    *nothing = count == 0 || owner_id == pool->me;
    return XMEM_OK;
}

xmem_err xmem_pool_give(xmem_pool_t *pool, xmem_buf_ref ref, uint32_t owner_id, uint32_t count,
                        xmem_error_t *err)
{
    xmemi_record *rec = NULL;
    bool nothing;
    xmem_err rc = lookup_transfer(pool, ref, owner_id, count, &rec, &nothing, err);
    if (rc || nothing)
        return rc;
    xmemi_proc_entry *to = &pool->region.hdr->procs[owner_id];
    uint32_t epoch = atomic_load_explicit(&to->epoch, memory_order_acquire);
    if (atomic_load_explicit(&to->state, memory_order_acquire) != XMEMI_PROC_ATTACHED)
        return xmemi_fail(err, XMEM_EINVAL, 0, "pool '%s': owner id %u is not an attached process",
                          pool->name, owner_id);
    uint32_t mine = atomic_load_explicit(&rec->owner_refs[pool->me], memory_order_acquire);
    if (mine < count)
        return xmemi_fail(err, XMEM_ENOTOWNER, 0,
                          "pool '%s': cannot give %u references to buffer %u: this process holds "
                          "%u",
                          pool->name, count, ref.index, mine);
    rc = recheck(pool, ref, rec, err);
    if (rc)
        return rc;
    /* Theirs before ours: the sum never drops to zero on the way, and a death between the two
     * steps is made exact by the reclaim of whichever process died. */
    if (!add_bounded(&rec->owner_refs[owner_id], count))
        return xmemi_fail(err, XMEM_EOVERFLOW, 0,
                          "pool '%s': owner id %u would hold too many references to buffer %u",
                          pool->name, owner_id, ref.index);
    if (!take_owned(rec, pool->me, count, NULL)) {
        take_owned(rec, owner_id, count, NULL);
        return not_owner(pool, ref, err);
    }
    if (atomic_load_explicit(&to->state, memory_order_acquire) == XMEMI_PROC_ATTACHED &&
        atomic_load_explicit(&to->epoch, memory_order_acquire) == epoch)
        return XMEM_OK;
    /* The receiver detached meanwhile: its reclaim may have run before our references arrived.
     * Whatever of them is still in its count goes back to the pool now. */
    if (take_owned(rec, owner_id, count, NULL))
        xmemi_record_try_free(&pool->region, ref.index, xmemi_journal(pool));
    return XMEM_OK;
}

xmem_err xmem_pool_take_back(xmem_pool_t *pool, xmem_buf_ref ref, uint32_t owner_id, uint32_t count,
                             xmem_error_t *err)
{
    xmemi_record *rec = NULL;
    bool nothing;
    xmem_err rc = lookup_transfer(pool, ref, owner_id, count, &rec, &nothing, err);
    if (rc || nothing)
        return rc;
    uint32_t theirs = atomic_load_explicit(&rec->owner_refs[owner_id], memory_order_acquire);
    if (theirs < count)
        return xmemi_fail(err, XMEM_ENOTOWNER, 0,
                          "pool '%s': owner id %u holds fewer than %u references to buffer %u",
                          pool->name, owner_id, count, ref.index);
    /* Ours before theirs, as give does it: the sum never drops to zero on the way. */
    if (!add_bounded(&rec->owner_refs[pool->me], count))
        return xmemi_fail(err, XMEM_EOVERFLOW, 0,
                          "pool '%s': this process would hold too many references to buffer %u",
                          pool->name, ref.index);
    if (xmemi_life_generation(xmemi_life_load(rec)) != ref.generation) {
        /* A stale name: what we added belongs to the buffer's next life; take it off again. */
        uint32_t left;
        if (take_owned(rec, pool->me, count, &left) && left == 0)
            xmemi_record_try_free(&pool->region, ref.index, xmemi_journal(pool));
        return lookup(pool, ref, &rec, err);
    }
    if (!take_owned(rec, owner_id, count, NULL)) {
        take_owned(rec, pool->me, count, NULL);
        return xmemi_fail(err, XMEM_ENOTOWNER, 0,
                          "pool '%s': owner id %u gave up its references to buffer %u meanwhile",
                          pool->name, owner_id, ref.index);
    }
    return XMEM_OK;
}

xmem_err xmem_pool_reclaim_pid(xmem_pool_t *pool, pid_t pid, uint64_t *returned, xmem_error_t *err)
{
    if (xmemi_pool_forked(pool))
        return xmemi_pool_forked_error(pool, err);
    if (pid <= 0 || pid == getpid())
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "pool '%s': pid %d is not another process; close its handles instead",
                          pool->name, (int)pid);
    uint64_t total = xmemi_reclaim_dead_slots(&pool->region, pid, xmemi_journal(pool));
    if (returned)
        *returned = total;
    return XMEM_OK;
}

xmem_err xmem_pool_reclaim_dead(xmem_pool_t *pool, uint64_t *returned, xmem_error_t *err)
{
    if (xmemi_pool_forked(pool))
        return xmemi_pool_forked_error(pool, err);
    uint64_t total = xmemi_reclaim_dead_slots(&pool->region, 0, xmemi_journal(pool));
    if (returned)
        *returned = total;
    return XMEM_OK;
}
