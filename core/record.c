/* Owner counts and recycling (record.h). */
#include "record.h"

#include "free_list.h"

xmemi_ref_result xmemi_ref_add(_Atomic uint64_t *word, uint32_t epoch, uint32_t n, bool held)
{
    uint64_t w = atomic_load_explicit(word, memory_order_relaxed);
    for (;;) {
        uint64_t want;
        uint32_t have = xmemi_ref_count(w);
        if (xmemi_ref_epoch(w) == epoch) {
            if ((uint32_t)w & XMEMI_REF_RECLAIMED || (held && have == 0))
                return (uint32_t)w & XMEMI_REF_RECLAIMED ? XMEMI_REF_GONE : XMEMI_REF_SHORT;
            if (n > XMEMI_REF_MAX || have > XMEMI_REF_MAX - n)
                return XMEMI_REF_OVERFLOW;
            want = w + n;
        } else if ((int32_t)(epoch - xmemi_ref_epoch(w)) > 0 && !held && have == 0) {
            /* The word still carries an earlier attachment's epoch (reclaimed: it holds none). */
            if (n > XMEMI_REF_MAX)
                return XMEMI_REF_OVERFLOW;
            want = xmemi_ref_make(epoch, n);
        } else {
            return held ? XMEMI_REF_SHORT : XMEMI_REF_GONE;
        }
        if (atomic_compare_exchange_weak_explicit(word, &w, want, memory_order_acq_rel,
                                                  memory_order_relaxed))
            return XMEMI_REF_OK;
    }
}

xmemi_ref_result xmemi_ref_take(_Atomic uint64_t *word, uint32_t epoch, uint32_t n, uint32_t *left)
{
    uint64_t w = atomic_load_explicit(word, memory_order_relaxed);
    do {
        if (xmemi_ref_epoch(w) != epoch || xmemi_ref_count(w) < n)
            return XMEMI_REF_SHORT;
    } while (!atomic_compare_exchange_weak_explicit(word, &w, w - n, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (left)
        *left = xmemi_ref_count(w) - n;
    return XMEMI_REF_OK;
}

uint32_t xmemi_ref_seize(_Atomic uint64_t *word, uint32_t epoch)
{
    uint64_t old = atomic_exchange_explicit(word, xmemi_ref_make(epoch, XMEMI_REF_RECLAIMED),
                                            memory_order_acq_rel);
    return xmemi_ref_epoch(old) == epoch ? xmemi_ref_count(old) : 0;
}

uint64_t xmemi_record_refs(const xmemi_meta_region *r, const xmemi_record *rec)
{
    uint64_t n = 0;
    uint32_t used = atomic_load_explicit(&r->hdr->slots_used, memory_order_acquire);
    for (uint32_t p = 0; p < used && p < XMEM_POOL_MAX_PROCS; p++)
        n += xmemi_ref_count(
            atomic_load_explicit(&((xmemi_record *)rec)->owner_refs[p], memory_order_acquire));
    return n;
}

bool xmemi_record_try_free(xmemi_meta_region *r, uint32_t index, uint32_t me)
{
    xmemi_record *rec = &r->records[index];
    uint64_t life = xmemi_life_load(rec);
    if (!xmemi_life_live(life) || xmemi_record_refs(r, rec) != 0)
        return false;
    /* Live generation g -> freeing generation g + 1: every outstanding name is stale from here
     * on, and the slot is held by `me` until it is on its list again. */
    uint64_t freeing = xmemi_life_make(xmemi_life_generation(life) + 1, XMEMI_FREEING, me);
    if (!atomic_compare_exchange_strong_explicit(&rec->life, &life, freeing, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return false;
    xmemi_slot_push_free(r, index, freeing, me);
    return true;
}
