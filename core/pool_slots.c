/* The slow path of acquire: finding or making a slot when the size class's free list is empty.
 * Each way costs more than the last: system calls to create a shm object, memory wasted in a
 * larger buffer, or replacing a smaller buffer's shm object. EEXHAUSTED only when no buffer at all
 * is free. Every slot taken here is TAKEN by this handle until it is handed out or put back, so a
 * death anywhere in between (a shm object half made, say) leaves it for this slot's reclaim. */
#include "pool_slots.h"

#include <xmem/pool_admin.h>

#include <stdio.h>

#include "buffer.h"
#include "free_list.h"

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

/* Gives a taken slot a shm object of `size_class`; on failure puts it back (unbacked now). */
static xmem_err back(xmem_pool_t *pool, uint32_t slot, uint32_t size_class, xmem_error_t *err)
{
    xmem_err rc = xmemi_buffer_back(pool, slot, size_class, err);
    if (rc)
        xmemi_slot_untake(&pool->region, slot, xmemi_life_load(&pool->region.records[slot]),
                          pool->me);
    return rc;
}

xmem_err xmemi_slot_new(xmem_pool_t *pool, uint32_t size_class, size_t size, uint32_t *index,
                        uint64_t *taken, xmem_error_t *err)
{
    xmemi_meta_region *r = &pool->region;
    uint32_t slot = xmemi_list_pop(r, &r->hdr->unbacked_head, pool->me);
    xmem_err rc = XMEM_OK;
    if (slot != XMEMI_NIL) {
        rc = back(pool, slot, size_class, err);
    } else {
        for (uint32_t c = size_class + 1; c < XMEMI_NUM_CLASSES && slot == XMEMI_NIL; c++)
            slot = xmemi_list_pop(r, &r->hdr->free_heads[c], pool->me);
        for (uint32_t c = size_class; slot == XMEMI_NIL && c-- > 0;)
            if ((slot = xmemi_list_pop(r, &r->hdr->free_heads[c], pool->me)) != XMEMI_NIL)
                rc = back(pool, slot, size_class, err);
        if (slot == XMEMI_NIL)
            return exhausted(pool, size, err);
    }
    if (rc)
        return rc;
    *index = slot;
    *taken = xmemi_life_load(&r->records[slot]);
    return XMEM_OK;
}
