/* Buffer data behind a slot: creating a slot's shm object and keeping this process's mapping of it,
 * made once per slot and reused for every later frame in it. */
#ifndef XMEM_CORE_BUFFER_H
#define XMEM_CORE_BUFFER_H

#include <stddef.h>
#include <stdint.h>

#include <xmem/error.h>

#include "pool_internal.h"

/* Gives slot `index` a fresh shm object for `size_class` (replacing any old one), pre-faulted and
 * mapped in this process. The caller holds the slot TAKEN and so alone. On failure, or a death
 * half way, the slot has no shm object (capacity 0) and goes back to the unbacked list. */
xmem_err xmemi_buffer_back(xmem_pool_t *pool, uint32_t index, uint32_t size_class,
                           xmem_error_t *err);

/* Maps a slot whose shm object another process made; the slow path of xmemi_buffer_addr(). */
xmem_err xmemi_buffer_map(xmem_pool_t *pool, uint32_t index, void **addr, xmem_error_t *err);

/* This process's address of a slot's bytes; maps it on first use (or after the slot was given a new
 * shm object), and is a pair of loads afterwards. */
static inline xmem_err xmemi_buffer_addr(xmem_pool_t *pool, uint32_t index, void **addr,
                                         xmem_error_t *err)
{
    const xmemi_record *rec = &pool->region.records[index];
    xmemi_mapping *m = &pool->maps[index];
    uint64_t epoch =
        atomic_load_explicit(&((xmemi_record *)rec)->backing_epoch, memory_order_acquire);
    if (__builtin_expect(
            epoch != 0 && atomic_load_explicit(&m->epoch, memory_order_acquire) == epoch, 1)) {
        *addr = m->addr;
        return XMEM_OK;
    }
    return xmemi_buffer_map(pool, index, addr, err);
}

/* Maps every slot that has a shm object, so the first frame in each costs nothing. */
void xmemi_buffer_map_all(xmem_pool_t *pool);

/* Unmaps everything this process mapped. */
void xmemi_buffer_unmap_all(xmem_pool_t *pool);

/* Removes the shm objects of all slots (the creator, at destroy; or a stale pool's cleaner). */
void xmemi_buffer_unlink_all(const char *pool_name, const xmemi_meta_region *region);

#endif
