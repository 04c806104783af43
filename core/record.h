/* A record's references: the owner counts (one word per process slot, tagged with the slot's
 * attachment epoch), their sum, and recycling a live buffer nobody holds any more. */
#ifndef XMEM_CORE_RECORD_H
#define XMEM_CORE_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "meta_region.h"

typedef enum xmemi_ref_result {
    XMEMI_REF_OK = 0,
    XMEMI_REF_GONE,     /* the attachment of that epoch is gone (reclaimed, or a newer one) */
    XMEMI_REF_SHORT,    /* it holds fewer references than asked */
    XMEMI_REF_OVERFLOW, /* it would hold more than XMEMI_REF_MAX */
} xmemi_ref_result;

/* Adds n references for the attachment of `epoch`. `held`: only if it holds one already (a
 * process adding to its own, which keeps the buffer alive meanwhile). */
xmemi_ref_result xmemi_ref_add(_Atomic uint64_t *word, uint32_t epoch, uint32_t n, bool held);

/* Takes n references from the attachment of `epoch`; *left (may be NULL) gets what it holds
 * afterwards. */
xmemi_ref_result xmemi_ref_take(_Atomic uint64_t *word, uint32_t epoch, uint32_t n, uint32_t *left);

/* What the attachment of `epoch` holds. */
static inline uint32_t xmemi_ref_held(const _Atomic uint64_t *word, uint32_t epoch)
{
    uint64_t w = atomic_load_explicit((_Atomic uint64_t *)word, memory_order_acquire);
    return xmemi_ref_epoch(w) == epoch ? xmemi_ref_count(w) : 0;
}

/* The reclaim of the attachment of `epoch`: marks the word RECLAIMED (no reference can be added
 * for that epoch any more) and returns what it held. */
uint32_t xmemi_ref_seize(_Atomic uint64_t *word, uint32_t epoch);

/* References to a record: the sum of its owner counts (of the slots ever claimed). */
uint64_t xmemi_record_refs(const xmemi_meta_region *r, const xmemi_record *rec);

/* Recycles a live buffer nobody holds a reference to (one generation on, back on its free list),
 * as process slot `me` (or in the name of the dead one being reclaimed). Safe to race: once every
 * owner count is zero no reference can appear, and one caller wins the life's CAS. */
bool xmemi_record_try_free(xmemi_meta_region *r, uint32_t index, uint32_t me);

#endif
