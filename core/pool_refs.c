/* References to buffers: get, add_ref, release, set_ref_count, give, take_back, and the calls that
 * give back a dead process's references. Each changes one owner count in one atomic step (a
 * hand-over adds to the receiver before it takes from the giver), so a process killed anywhere
 * leaves counts its reclaim makes exact. No system call: the counts are atomics in the meta region
 * and mappings are cached per process. */
#define _GNU_SOURCE
#include <xmem/pool.h>
#include <xmem/pool_admin.h>

#include <errno.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "buffer.h"
#include "common/plural.h"
#include "pool_internal.h"
#include "proc_table.h"
#include "record.h"

static const char *slot_state(uint64_t life)
{
    return xmemi_life_live(life) ? "in use" : "free";
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
    uint64_t life = xmemi_life_load(rec);
    uint32_t gen = xmemi_life_generation(life);
    if (__builtin_expect(gen != ref.generation, 0))
        return xmemi_fail(err, XMEM_ESTALE, 0,
                          "pool '%s': buffer %u generation %u is stale (the slot is at generation "
                          "%u, %s)",
                          pool->name, ref.index, ref.generation, gen, slot_state(life));
    if (__builtin_expect(!xmemi_life_live(life), 0))
        return xmemi_fail(err, XMEM_EFREED, 0, "pool '%s': buffer %u generation %u is free",
                          pool->name, ref.index, ref.generation);
    *out = rec;
    return XMEM_OK;
}

/* True while `rec` is still the live buffer `ref` names. */
static bool still(const xmemi_record *rec, xmem_buf_ref ref)
{
    uint64_t life = xmemi_life_load(rec);
    return xmemi_life_live(life) && xmemi_life_generation(life) == ref.generation;
}

/* While this process holds a reference the buffer cannot be recycled, so a generation still equal
 * after the ownership check proves the reference seen belongs to this buffer, not its next life. */
static xmem_err recheck(const xmem_pool_t *pool, xmem_buf_ref ref, xmemi_record *rec,
                        xmem_error_t *err)
{
    if (still(rec, ref))
        return XMEM_OK;
    return lookup(pool, ref, &rec, err);
}

static xmem_err not_owner(const xmem_pool_t *pool, xmem_buf_ref ref, xmem_error_t *err)
{
    return xmemi_fail(err, XMEM_ENOTOWNER, 0,
                      "pool '%s': process %d (owner id %u) holds no reference to buffer %u "
                      "generation %u",
                      pool->name, (int)getpid(), pool->owner_id, ref.index, ref.generation);
}

static xmem_err overflow(const xmem_pool_t *pool, xmem_buf_ref ref, uint32_t owner_id,
                         xmem_error_t *err)
{
    return xmemi_fail(err, XMEM_EOVERFLOW, 0,
                      "pool '%s': owner id %u would hold more than %u references to buffer %u",
                      pool->name, owner_id, XMEMI_REF_MAX, ref.index);
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
    *mine = xmemi_ref_held(&rec->owner_refs[pool->me], pool->epoch);
    if (*mine == 0)
        return not_owner(pool, ref, err);
    rc = recheck(pool, ref, rec, err);
    if (rc)
        return rc;
    *out = rec;
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
    switch (xmemi_ref_add(&rec->owner_refs[pool->me], pool->epoch, 1, true)) {
    case XMEMI_REF_OK: break;
    case XMEMI_REF_OVERFLOW: return overflow(pool, ref, pool->owner_id, err);
    default: return not_owner(pool, ref, err);
    }
    return recheck(pool, ref, rec, err);
}

/* Counts a reference this handle gave back, and wakes a publisher waiting for it to. */
static void note_release(xmem_pool_t *pool)
{
    xmemi_release_word *w = &pool->region.hdr->releases[pool->me];
    uint32_t count = atomic_fetch_add_explicit(&w->count, 1, memory_order_seq_cst) + 1;
    /* Only at the count a waiter asked for: a publisher waiting for room wakes once per batch,
     * not once per buffer. */
    if (atomic_load_explicit(&w->waiters, memory_order_seq_cst) &&
        (int32_t)(count - atomic_load_explicit(&w->wake_at, memory_order_seq_cst)) >= 0)
        syscall(SYS_futex, &w->count, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

xmem_err xmem_pool_release(xmem_pool_t *pool, xmem_buf_ref ref, xmem_error_t *err)
{
    xmemi_record *rec = NULL;
    uint32_t mine, left;
    xmem_err rc = lookup_owned(pool, ref, &rec, &mine, err);
    if (rc)
        return rc;
    if (xmemi_ref_take(&rec->owner_refs[pool->me], pool->epoch, 1, &left) != XMEMI_REF_OK)
        return not_owner(pool, ref, err);
    if (left == 0)
        xmemi_record_try_free(&pool->region, ref.index, pool->me);
    note_release(pool);
    return XMEM_OK;
}

uint32_t xmem_pool_releases(const xmem_pool_t *pool, uint32_t owner_id)
{
    return atomic_load_explicit(&pool->region.hdr->releases[xmemi_owner_slot(owner_id)].count,
                                memory_order_seq_cst);
}

/* Asks to be woken when the count reaches `target`: the earliest target of all waiters wins (a
 * target already reached, left by a waiter gone, is replaced). */
static void ask_wake_at(xmemi_release_word *w, uint32_t target)
{
    uint32_t at = atomic_load_explicit(&w->wake_at, memory_order_seq_cst);
    uint32_t now = atomic_load_explicit(&w->count, memory_order_seq_cst);
    while (((int32_t)(at - now) <= 0 || (int32_t)(target - at) < 0) &&
           !atomic_compare_exchange_weak_explicit(&w->wake_at, &at, target, memory_order_seq_cst,
                                                  memory_order_seq_cst)) {
    }
}

xmem_err xmem_pool_wait_releases(xmem_pool_t *pool, uint32_t owner_id, uint32_t seen, uint32_t need,
                                 int timeout_ms, xmem_error_t *err)
{
    if (xmemi_pool_forked(pool))
        return xmemi_pool_forked_error(pool, err);
    xmemi_release_word *w = &pool->region.hdr->releases[xmemi_owner_slot(owner_id)];
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
    uint32_t target = seen + (need ? need : 1);
    atomic_fetch_add_explicit(&w->waiters, 1, memory_order_seq_cst);
    ask_wake_at(w, target);
    /* Registered before this read: a release reaching the target from here on wakes us, and one
     * in between makes the wait return at once. */
    uint32_t now = atomic_load_explicit(&w->count, memory_order_seq_cst);
    long rc = (int32_t)(now - target) >= 0 ? 0
                                           : syscall(SYS_futex, &w->count, FUTEX_WAIT, now,
                                                     timeout_ms < 0 ? NULL : &ts, NULL, 0);
    int e = errno;
    atomic_fetch_sub_explicit(&w->waiters, 1, memory_order_relaxed);
    if (rc == 0 || e == EAGAIN || e == EINTR || e == ETIMEDOUT)
        return XMEM_OK;
    return xmemi_fail(err, XMEM_ESYS, e, "pool '%s': waiting for owner id %u to give buffers back",
                      pool->name, owner_id);
}

xmem_err xmem_pool_share(xmem_pool_t *pool, xmem_buf_ref ref, const uint32_t *owner_ids, uint32_t n,
                         bool *given, xmem_error_t *err)
{
    xmemi_record *rec = NULL;
    uint32_t mine;
    xmem_err rc = lookup_owned(pool, ref, &rec, &mine, err);
    if (rc)
        return rc;
    /* The caller's reference keeps the buffer this generation's throughout: each add is one
     * step that lands on a live attachment, or is refused for one that is gone. */
    for (uint32_t k = 0; k < n; k++) {
        uint32_t epoch;
        given[k] = owner_ids[k] != pool->owner_id &&
                   xmemi_owner_epoch(&pool->region, owner_ids[k], &epoch) &&
                   xmemi_ref_add(&rec->owner_refs[xmemi_owner_slot(owner_ids[k])], epoch, 1,
                                 false) == XMEMI_REF_OK;
    }
    return XMEM_OK;
}

xmem_err xmem_pool_revoke(xmem_pool_t *pool, xmem_buf_ref ref, uint32_t owner_id, uint32_t count,
                          xmem_error_t *err)
{
    xmemi_record *rec = NULL;
    uint32_t mine, epoch;
    xmem_err rc = lookup_owned(pool, ref, &rec, &mine, err);
    if (rc)
        return rc;
    if (!xmemi_owner_epoch(&pool->region, owner_id, &epoch) ||
        xmemi_ref_take(&rec->owner_refs[xmemi_owner_slot(owner_id)], epoch, count, NULL) !=
            XMEMI_REF_OK)
        return xmemi_fail(err, XMEM_ENOTOWNER, 0,
                          "pool '%s': owner id %u holds fewer than %u reference%s to buffer %u "
                          "(it went, or gave them back)",
                          pool->name, owner_id, count, xmemi_s(count), ref.index);
    return XMEM_OK;
}

xmem_err xmem_pool_set_ref_count(xmem_pool_t *pool, xmem_buf_ref ref, uint32_t count,
                                 xmem_error_t *err)
{
    xmemi_record *rec = NULL;
    uint32_t mine;
    xmem_err rc = lookup_owned(pool, ref, &rec, &mine, err);
    if (rc)
        return rc;
    _Atomic uint64_t *own = &rec->owner_refs[pool->me];
    uint64_t word = atomic_load_explicit(own, memory_order_acquire);
    uint32_t set;
    for (;;) {
        /* Ours may change meanwhile (another thread of this process): every round starts from
         * a count this attachment still holds, so the buffer stays this generation's. */
        mine = xmemi_ref_epoch(word) == pool->epoch ? xmemi_ref_count(word) : 0;
        if (mine == 0)
            return not_owner(pool, ref, err);
        uint64_t total = xmemi_record_refs(&pool->region, rec);
        uint64_t others = total >= mine ? total - mine : 0;
        if (count < others)
            return xmemi_fail(err, XMEM_EINVAL, 0,
                              "pool '%s': set_ref_count(%u) on buffer %u would drop references "
                              "other processes hold (%llu of %llu)",
                              pool->name, count, ref.index, (unsigned long long)others,
                              (unsigned long long)total);
        set = count - (uint32_t)others;
        if (set > XMEMI_REF_MAX)
            return overflow(pool, ref, pool->owner_id, err);
        if (atomic_compare_exchange_weak_explicit(own, &word, xmemi_ref_make(pool->epoch, set),
                                                  memory_order_acq_rel, memory_order_acquire))
            break;
    }
    /* Whenever our count drops to 0, not only for count == 0: another owner may have released
     * its last reference meanwhile, seen ours, and left the recycling to us. */
    if (set == 0)
        xmemi_record_try_free(&pool->region, ref.index, pool->me);
    return XMEM_OK;
}

xmem_err xmem_pool_ref_count(const xmem_pool_t *pool, xmem_buf_ref ref, uint32_t *out,
                             xmem_error_t *err)
{
    xmemi_record *rec = NULL;
    xmem_err rc = lookup(pool, ref, &rec, err);
    if (rc)
        return rc;
    uint64_t n = xmemi_record_refs(&pool->region, rec);
    rc = recheck(pool, ref, rec, err);
    if (rc)
        return rc;
    *out = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    return XMEM_OK;
}

uint32_t xmem_pool_owned_by(const xmem_pool_t *pool, xmem_buf_ref ref, uint32_t owner_id)
{
    uint32_t epoch;
    if (ref.index >= pool->capacity || !xmemi_owner_epoch(&pool->region, owner_id, &epoch))
        return 0;
    xmemi_record *rec = &pool->region.records[ref.index];
    uint32_t n = xmemi_ref_held(&rec->owner_refs[xmemi_owner_slot(owner_id)], epoch);
    return n && still(rec, ref) ? n : 0;
}

uint32_t xmem_pool_list_owned(const xmem_pool_t *pool, xmem_buf_ref *refs, uint32_t *counts,
                              uint32_t max)
{
    if (xmemi_pool_forked(pool))
        return 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < pool->capacity; i++) {
        const xmemi_record *rec = &pool->region.records[i];
        uint64_t life = xmemi_life_load(rec);
        uint32_t mine = xmemi_ref_held(&rec->owner_refs[pool->me], pool->epoch);
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
    return xmem_pool_owned_by(pool, ref, pool->owner_id);
}

/* The start of moving references between this process and `owner_id`: the buffer lives, and the
 * other attachment's slot and epoch. *nothing is set when there is nothing to move (0 of them,
 * or to itself). */
static xmem_err lookup_transfer(const xmem_pool_t *pool, xmem_buf_ref ref, uint32_t owner_id,
                                uint32_t count, xmemi_record **rec, uint32_t *slot, uint32_t *epoch,
                                bool *nothing, xmem_error_t *err)
{
    *nothing = false;
    xmem_err rc = lookup(pool, ref, rec, err);
    if (rc)
        return rc;
    if (!xmemi_owner_epoch(&pool->region, owner_id, epoch))
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "pool '%s': owner id %u is not an attached process (it detached, or "
                          "never was)",
                          pool->name, owner_id);
    *slot = xmemi_owner_slot(owner_id);
    *nothing = count == 0 || owner_id == pool->owner_id;
    return XMEM_OK;
}

xmem_err xmem_pool_give(xmem_pool_t *pool, xmem_buf_ref ref, uint32_t owner_id, uint32_t count,
                        xmem_error_t *err)
{
    xmemi_record *rec = NULL;
    uint32_t slot = 0, epoch = 0;
    bool nothing;
    xmem_err rc = lookup_transfer(pool, ref, owner_id, count, &rec, &slot, &epoch, &nothing, err);
    if (rc || nothing)
        return rc;
    uint32_t mine = xmemi_ref_held(&rec->owner_refs[pool->me], pool->epoch);
    if (mine < count)
        return xmemi_fail(err, XMEM_ENOTOWNER, 0,
                          "pool '%s': cannot give %u reference%s to buffer %u: this process holds "
                          "%u",
                          pool->name, count, xmemi_s(count), ref.index, mine);
    rc = recheck(pool, ref, rec, err);
    if (rc)
        return rc;
    /* Theirs before ours: the sum never drops to zero on the way, and a death between the two
     * steps is made exact by the reclaim of whichever process died. An attachment that is gone
     * refuses the add (its reclaim marked its count), so nothing lands where nobody would give it
     * back. */
    switch (xmemi_ref_add(&rec->owner_refs[slot], epoch, count, false)) {
    case XMEMI_REF_OK: break;
    case XMEMI_REF_OVERFLOW: return overflow(pool, ref, owner_id, err);
    default:
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "pool '%s': owner id %u detached before buffer %u reached it", pool->name,
                          owner_id, ref.index);
    }
    if (xmemi_ref_take(&rec->owner_refs[pool->me], pool->epoch, count, NULL) != XMEMI_REF_OK) {
        /* Ours went meanwhile (another thread): undo, what we added is still theirs alone. */
        xmemi_ref_take(&rec->owner_refs[slot], epoch, count, NULL);
        return not_owner(pool, ref, err);
    }
    return XMEM_OK;
}

xmem_err xmem_pool_take_back(xmem_pool_t *pool, xmem_buf_ref ref, uint32_t owner_id, uint32_t count,
                             xmem_error_t *err)
{
    xmemi_record *rec = NULL;
    uint32_t slot = 0, epoch = 0, mine;
    bool nothing;
    xmem_err rc = lookup_transfer(pool, ref, owner_id, count, &rec, &slot, &epoch, &nothing, err);
    if (rc || nothing)
        return rc;
    /* The caller's own reference keeps the buffer this generation's while the references move:
     * without one, an add could land on the slot's next life (and be counted there by others). */
    if ((rc = lookup_owned(pool, ref, &rec, &mine, err)))
        return rc == XMEM_ENOTOWNER
                   ? xmemi_fail(err, XMEM_ENOTOWNER, 0,
                                "pool '%s': take_back of buffer %u needs a reference of this "
                                "process's own to it (keep one until the hand-off is settled)",
                                pool->name, ref.index)
                   : rc;
    /* Ours before theirs, as give does it: the sum never drops to zero on the way. */
    switch (xmemi_ref_add(&rec->owner_refs[pool->me], pool->epoch, count, true)) {
    case XMEMI_REF_OK: break;
    case XMEMI_REF_OVERFLOW: return overflow(pool, ref, pool->owner_id, err);
    default: return not_owner(pool, ref, err);
    }
    if (xmemi_ref_take(&rec->owner_refs[slot], epoch, count, NULL) != XMEMI_REF_OK) {
        xmemi_ref_take(&rec->owner_refs[pool->me], pool->epoch, count, NULL); /* still ≥ 1 ours */
        return xmemi_fail(err, XMEM_ENOTOWNER, 0,
                          "pool '%s': owner id %u holds fewer than %u reference%s to buffer %u (it "
                          "went, or gave them back)",
                          pool->name, owner_id, count, xmemi_s(count), ref.index);
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
    uint64_t total = xmemi_reclaim_dead_slots(&pool->region, pid, pool->pid, pool->start_time);
    if (returned)
        *returned = total;
    return XMEM_OK;
}

xmem_err xmem_pool_reclaim_dead(xmem_pool_t *pool, uint64_t *returned, xmem_error_t *err)
{
    if (xmemi_pool_forked(pool))
        return xmemi_pool_forked_error(pool, err);
    uint64_t total = xmemi_reclaim_dead_slots(&pool->region, 0, pool->pid, pool->start_time);
    if (returned)
        *returned = total;
    return XMEM_OK;
}
