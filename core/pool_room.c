/* How much of /dev/shm a pool takes at create, and the error that says, with the whole pool's
 * figures, that it does not fit. Each shm object reserves its own memory (shm.c), which is what
 * keeps a full /dev/shm from ever being a SIGBUS; this is what lets the message speak of the pool
 * rather than of the one object that happened to be the last straw. */
#define _GNU_SOURCE
#include "pool_room.h"

#include <stdio.h>

#include "common/fail.h"
#include "common/plural.h"
#include "common/size_text.h"
#include "meta_region.h"

static uint64_t round_up(uint64_t n, uint64_t page)
{
    return (n + page - 1) / page * page;
}

/* The bytes of the preallocated buffers, saturating at UINT64_MAX. */
static uint64_t buffer_bytes(const xmem_pool_options *o, uint64_t page, uint32_t *count)
{
    uint64_t total = 0;
    *count = 0;
    for (uint32_t i = 0; i < o->n_classes && i < XMEM_POOL_MAX_CLASSES; i++) {
        size_t size = o->classes[i].size;
        if (size == 0 || size > XMEM_BUFFER_SIZE_MAX)
            continue; /* create refuses it before making anything */
        uint64_t each = xmemi_class_capacity(xmemi_size_class(size, page), page), bytes;
        if (__builtin_mul_overflow(each, (uint64_t)o->classes[i].count, &bytes) ||
            __builtin_add_overflow(total, bytes, &total))
            return UINT64_MAX;
        *count += o->classes[i].count;
    }
    return total;
}

uint64_t xmemi_pool_shm_bytes(const xmem_pool_options *o)
{
    uint64_t page = xmemi_page_size(), total;
    uint32_t count;
    uint64_t meta = round_up(xmemi_meta_size(o->capacity), page);
    if (__builtin_add_overflow(meta, buffer_bytes(o, page, &count), &total))
        return UINT64_MAX;
    return total;
}

xmem_err xmemi_pool_check_room(const char *name, const xmem_pool_options *o, uint64_t held,
                               xmem_error_t *err)
{
    uint64_t free_bytes, size, need = xmemi_pool_shm_bytes(o);
    if (!xmemi_shm_space(&free_bytes, &size))
        return XMEM_OK;
    uint64_t page = xmemi_page_size();
    held = round_up(held, page); /* what tmpfs counts it as */
    free_bytes = free_bytes + held < free_bytes ? UINT64_MAX : free_bytes + held;
    if (need <= free_bytes)
        return XMEM_OK;
    uint32_t count;
    uint64_t buffers = buffer_bytes(o, page, &count);
    char what[160];
    if (count)
        snprintf(what, sizeof what, ", %s of it for %u preallocated buffer%s",
                 xmemi_size(buffers).s, count, xmemi_s(count));
    else
        snprintf(what, sizeof what, " for the metadata of its %u buffer%s", o->capacity,
                 xmemi_s(o->capacity));
    return xmemi_fail(err, XMEM_ENOMEM, 0,
                      "pool '%s' needs %s of " XMEMI_SHM_DIR "%s, and " XMEMI_SHM_DIR
                      " has %s free of %s: make it larger (docker run --shm-size) or the pool "
                      "smaller",
                      name, xmemi_size(need).s, what, xmemi_size(free_bytes).s, xmemi_size(size).s);
}
