/* Who holds a pool's buffers, for the messages of an exhausted pool and for monitoring: each read
 * walks every record, so none of it is for the hot path. */
#include <xmem/pool_admin.h>

#include <stdio.h>

#include "pool_internal.h"

/* References held per process slot, all records summed. */
static void count_held(const xmem_pool_t *pool, uint64_t held[XMEM_POOL_MAX_PROCS])
{
    for (uint32_t i = 0; i < pool->capacity; i++)
        for (uint32_t p = 0; p < XMEM_POOL_MAX_PROCS; p++)
            held[p] += xmemi_ref_count(
                atomic_load_explicit(&pool->region.records[i].owner_refs[p], memory_order_relaxed));
}

uint64_t xmem_pool_held_by_pid(const xmem_pool_t *pool, pid_t pid)
{
    uint64_t held[XMEM_POOL_MAX_PROCS] = {0}, sum = 0;
    count_held(pool, held);
    for (uint32_t p = 0; p < XMEM_POOL_MAX_PROCS; p++)
        if (held[p] && pool->region.hdr->procs[p].pid == pid)
            sum += held[p];
    return sum;
}

size_t xmem_pool_describe_holders(const xmem_pool_t *pool, char *buf, size_t len)
{
    uint64_t held[XMEM_POOL_MAX_PROCS] = {0};
    count_held(pool, held);
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (uint32_t p = 0; p < XMEM_POOL_MAX_PROCS; p++) {
        if (!held[p])
            continue;
        const xmemi_proc_entry *e = &pool->region.hdr->procs[p];
        int n = snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0,
                         "%spid %d%s (%llu ref%s)", used ? ", " : "", (int)e->pid,
                         p == pool->me ? " [this process]" : "", (unsigned long long)held[p],
                         held[p] == 1 ? "" : "s");
        if (n > 0)
            used += (size_t)n;
    }
    return used;
}
