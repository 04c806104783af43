/* The slow path of acquire: finding or making a slot when the size class's free list is empty.
 * Each way costs more than the last: system calls to create a shm object, or memory wasted in a
 * larger buffer, or replacing a smaller buffer's shm object. */
#include "pool_slots.h"

#include <stdio.h>

#include "buffer.h"
#include "error_internal.h"

static xmem_err exhausted(const xmem_pool_t *pool, uint32_t size_class, xmem_error_t *err)
{
    if (!err) /* a caller polling for a free buffer: skip the diagnosis */
        return XMEM_EEXHAUSTED;
    const xmemi_meta_region *r = &pool->region;
    uint32_t backed = atomic_load_explicit(&r->hdr->class_backed[size_class], memory_order_relaxed);
    char holders[320];
    xmem_pool_describe_holders(pool, holders, sizeof holders);
    return xmemi_fail(err, XMEM_EEXHAUSTED, 0,
                      "pool '%s' exhausted: %u buffers of up to %llu bytes, all in use (capacity "
                      "%u); held by %s",
                      pool->name, backed,
                      (unsigned long long)xmemi_class_capacity(size_class, r->hdr->page_size),
                      pool->capacity, holders[0] ? holders : "no attached process");
}

xmem_err xmemi_slot_new(xmem_pool_t *pool, uint32_t size_class, uint32_t *index,
                        xmem_error_t *err)
{
    xmemi_meta_region *r = &pool->region;
    uint32_t slot = xmemi_free_pop(r, &r->hdr->unbacked_head);
    if (slot != XMEMI_NIL) {
        xmem_err rc = xmemi_buffer_back(pool, slot, size_class, err);
        if (rc)
            xmemi_free_push(r, &r->hdr->unbacked_head, slot);
        else
            *index = slot;
        return rc;
    }
    /* Buffers of this size exist and are all in use: they come back, and taking another size's
     * buffers would starve its users and (for smaller ones) cost new shm objects on every frame. */
    if (atomic_load_explicit(&r->hdr->class_backed[size_class], memory_order_relaxed))
        return exhausted(pool, size_class, err);
    for (uint32_t c = size_class + 1; c < XMEMI_NUM_CLASSES; c++) {
        slot = xmemi_free_pop(r, &r->hdr->free_heads[c]);
        if (slot != XMEMI_NIL) {
            *index = slot;
            return XMEM_OK;
        }
    }
    for (uint32_t c = size_class; c-- > 0;) {
        slot = xmemi_free_pop(r, &r->hdr->free_heads[c]);
        if (slot == XMEMI_NIL)
            continue;
        xmem_err rc = xmemi_buffer_back(pool, slot, size_class, err);
        if (rc) {
            xmemi_free_push(r, &r->hdr->unbacked_head, slot);
            return rc;
        }
        *index = slot;
        return XMEM_OK;
    }
    return exhausted(pool, size_class, err);
}
