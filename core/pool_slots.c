/* The slow path of acquire: finding or making a slot when the size class's free list is empty.
 * Each way costs more than the last: system calls to create a shm object, memory wasted in a
 * larger buffer, or replacing a smaller buffer's shm object. EEXHAUSTED only when no buffer at all
 * is free. */

#include "pool_slots.h"

#include <xmem/pool_admin.h>

#include <stdio.h>

#include "buffer.h"
#include "common/fail.h"

static xmem_err exhausted(const xmem_pool_t *pool, size_t size, xmem_error_t *err)
{
    if (!err) /* a caller polling for a free buffer: skip the diagnosis */
        return XMEM_EEXHAUSTED;
    char holders[320];
    xmem_pool_describe_holders(pool, holders, sizeof holders);
    return xmemi_fail(err, XMEM_EEXHAUSTED, 0,
                      "pool '%s' exhausted: all %u buffers are in use (asked for %zu bytes); held "
                      "by %s",
                      pool->name, pool->capacity, size,
                      holders[0] ? holders : "no attached process");
}

xmem_err xmemi_slot_new(xmem_pool_t *pool, uint32_t size_class, size_t size, uint32_t *index,
                        xmem_error_t *err)
{
    xmemi_meta_region *r = &pool->region;
    _Atomic uint32_t *journal = xmemi_journal(pool);
    uint32_t slot = xmemi_free_pop(r, &r->hdr->unbacked_head, journal);
    if (slot != XMEMI_NIL) {
        xmem_err rc = xmemi_buffer_back(pool, slot, size_class, err);
        if (rc) {
            xmemi_free_push(r, &r->hdr->unbacked_head, slot);
            xmemi_journal_clear(pool);
        } else {
            *index = slot;
        }
        return rc;
    }
    for (uint32_t c = size_class + 1; c < XMEMI_NUM_CLASSES; c++) {
        slot = xmemi_free_pop(r, &r->hdr->free_heads[c], journal);
        if (slot != XMEMI_NIL) {
            *index = slot;
            return XMEM_OK;
        }
    }
    for (uint32_t c = size_class; c-- > 0;) {
        slot = xmemi_free_pop(r, &r->hdr->free_heads[c], journal);
        if (slot == XMEMI_NIL)
            continue;
        xmem_err rc = xmemi_buffer_back(pool, slot, size_class, err);
        if (rc) {
            xmemi_free_push(r, &r->hdr->unbacked_head, slot);
            xmemi_journal_clear(pool);
            return rc;
        }
        *index = slot;
        return XMEM_OK;
    }
    xmemi_journal_clear(pool);
    return exhausted(pool, size, err);
}
