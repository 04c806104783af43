/* Who holds a pool's buffers, for the messages of an exhausted pool and for monitoring: each read
 * walks every record, so none of it is for the hot path. */
#include <xmem/pool_admin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/abi.h"
#include "pool_internal.h"
#include "proc_table.h"

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

uint32_t xmem_pool_holders(const xmem_pool_t *pool, xmem_pool_holder *out, size_t size,
                           uint32_t max)
{
    uint64_t held[XMEM_POOL_MAX_PROCS] = {0};
    uint32_t buffers[XMEM_POOL_MAX_PROCS] = {0};
    for (uint32_t i = 0; i < pool->capacity; i++)
        for (uint32_t p = 0; p < XMEM_POOL_MAX_PROCS; p++) {
            uint32_t n = xmemi_ref_count(
                atomic_load_explicit(&pool->region.records[i].owner_refs[p], memory_order_relaxed));
            held[p] += n;
            buffers[p] += n > 0;
        }
    uint32_t count = 0;
    for (uint32_t p = 0; p < XMEM_POOL_MAX_PROCS; p++) {
        const xmemi_proc_entry *e = &pool->region.hdr->procs[p];
        uint64_t who = atomic_load_explicit(&((xmemi_proc_entry *)e)->who, memory_order_acquire);
        if (xmemi_who_state(who) != XMEMI_PROC_ATTACHED && !held[p])
            continue;
        if (count < max) {
            xmem_pool_holder h = {
                .pid = e->pid,
                .owner_id = xmemi_owner_id(
                    p, atomic_load_explicit(&((xmemi_proc_entry *)e)->epoch, memory_order_relaxed)),
                .refs = held[p],
                .buffers = buffers[p],
            };
            xmemi_copy_sized((char *)out + count * size, size, &h, sizeof h);
        }
        count++;
    }
    return count;
}

/* The row of `rows` for a class and storage, added (zeroed) when new; NULL when full. */
static xmem_pool_class_usage *class_row(xmem_pool_class_usage *rows, uint32_t *n, uint32_t cap,
                                        uint64_t bytes, xmem_storage storage, int32_t device)
{
    for (uint32_t i = 0; i < *n; i++)
        if (rows[i].buffer_bytes == bytes && rows[i].storage == storage && rows[i].device == device)
            return &rows[i];
    if (*n == cap)
        return NULL;
    xmem_pool_class_usage *r = &rows[(*n)++];
    memset(r, 0, sizeof *r);
    r->buffer_bytes = bytes;
    r->storage = storage;
    r->device = device;
    return r;
}

static void count_holders(const xmem_pool_t *pool, const xmemi_record *rec,
                          xmem_pool_class_usage *row)
{
    for (uint32_t p = 0; p < XMEM_POOL_MAX_PROCS; p++) {
        if (!xmemi_ref_count(
                atomic_load_explicit(&((xmemi_record *)rec)->owner_refs[p], memory_order_relaxed)))
            continue;
        pid_t pid = pool->region.hdr->procs[p].pid;
        uint32_t k = 0;
        while (k < row->n_holders && row->holders[k].pid != pid)
            k++;
        if (k == row->n_holders) {
            if (k == XMEM_POOL_CLASS_HOLDERS)
                continue;
            row->holders[row->n_holders++].pid = pid;
        }
        row->holders[k].buffers++;
    }
}

static int by_size(const void *a, const void *b)
{
    const xmem_pool_class_usage *x = a, *y = b;
    if (x->storage != y->storage)
        return (int)x->storage - (int)y->storage;
    if (x->device != y->device)
        return x->device - y->device;
    return x->buffer_bytes < y->buffer_bytes ? -1 : x->buffer_bytes > y->buffer_bytes;
}

uint32_t xmem_pool_class_usage_get(const xmem_pool_t *pool, xmem_pool_class_usage *out, size_t size,
                                   uint32_t max)
{
    /* At most one row per free list: CPU classes and each CUDA device's. */
    enum { CAP = 64 };
    xmem_pool_class_usage rows[CAP];
    uint32_t n = 0;
    for (uint32_t i = 0; i < pool->capacity; i++) {
        const xmemi_record *rec = &pool->region.records[i];
        uint64_t life = xmemi_life_load(rec);
        uint64_t bytes =
            atomic_load_explicit(&((xmemi_record *)rec)->capacity, memory_order_acquire);
        if (!bytes)
            continue; /* never made */
        xmem_pool_class_usage *row =
            class_row(rows, &n, CAP, bytes, (xmem_storage)rec->storage,
                      rec->storage == XMEM_STORAGE_CUDA ? rec->device : -1);
        if (!row)
            continue;
        row->buffers++;
        if (xmemi_life_live(life)) {
            row->in_use++;
            count_holders(pool, rec, row);
        }
    }
    qsort(rows, n, sizeof rows[0], by_size);
    for (uint32_t i = 0; i < n && i < max; i++)
        xmemi_copy_sized((char *)out + i * size, size, &rows[i], sizeof rows[i]);
    return n;
}
