/* Where a new buffer comes from when its size class has no free one: a slot never used, a free
 * buffer of a larger class, or a free buffer of a smaller class given a new shm object. */
#ifndef XMEM_CORE_POOL_SLOTS_H
#define XMEM_CORE_POOL_SLOTS_H

#include <stdint.h>

#include <xmem/error.h>

#include "pool_internal.h"

/* The largest buffer: the top of the last size class with 4 KiB pages. */
#define XMEMI_MAX_BUFFER_SIZE XMEM_BUFFER_SIZE_MAX

/* Takes a slot off the free lists for a buffer of `size_class` (`size` bytes asked) when that
 * class's own list is empty. On success the slot is backed for that size, TAKEN by this handle
 * (life in *taken) and on no list. XMEM_EEXHAUSTED names the holders. */
xmem_err xmemi_slot_new(xmem_pool_t *pool, uint32_t size_class, size_t size, uint32_t *index,
                        uint64_t *taken, xmem_error_t *err);

#endif
