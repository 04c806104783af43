/* CPU buffer storage: one POSIX shm object "/<pool>_<index>" per slot, sized to the slot's size
 * class, created and pre-faulted once; every process maps it once and keeps the mapping. */
#define _GNU_SOURCE
#include "buffer.h"

#include <sys/mman.h>

#include "cuda_internal.h"
#include "common/fail.h"
#include "shm.h"

static void cache_store(xmem_pool_t *pool, uint32_t index, void *addr, size_t len, uint64_t epoch)
{
    xmemi_mapping *m = &pool->maps[index];
    if (m->addr) {
        xmemi_cuda_on_unmap(pool, index, m->addr);
        munmap(m->addr, m->len);
    }
    m->addr = addr;
    m->len = len;
    xmemi_cuda_on_map(pool, index, addr, len);
    atomic_store_explicit(&m->epoch, epoch, memory_order_release);
}

xmem_err xmemi_buffer_back(xmem_pool_t *pool, uint32_t index, uint32_t size_class,
                           xmem_error_t *err)
{
    xmemi_record *rec = &pool->region.records[index];
    if (atomic_load(&pool->region.hdr->closed))
        return xmemi_fail(err, XMEM_ENOENT, 0,
                          "pool '%s' was destroyed by its creator (pid %d): no new buffers",
                          pool->name, (int)pool->region.hdr->creator_pid);
    /* Unbacked until the new object exists: a death in between leaves a slot a later backing
     * cleans up, never one that claims an object of the wrong size. */
    atomic_store_explicit(&rec->capacity, 0, memory_order_release);
    uint64_t capacity = xmemi_class_capacity(size_class, pool->region.hdr->page_size);
    char name[XMEMI_SHM_NAME_MAX];
    xmemi_buffer_shm_name(pool->name, index, name);
    /* The slot is ours alone: an object of that name is an old backing, or a crashed run's. */
    xmemi_shm_unlink(name, NULL);
    xmemi_shm shm;
    xmem_error_t cause;
    xmem_err rc = xmemi_shm_create(name, capacity, true, &shm, &cause);
    /* The old object is gone either way: every process's cached mapping of it must miss (epochs
     * only grow, so a later backing never matches an old cache). */
    uint64_t epoch = atomic_load_explicit(&rec->backing_epoch, memory_order_relaxed) + 1;
    atomic_store_explicit(&rec->backing_epoch, epoch, memory_order_release);
    if (rc)
        return xmemi_fail_cause(err, rc, &cause, "pool '%s': cannot create buffer %u of %llu bytes",
                                pool->name, index, (unsigned long long)capacity);
    rec->size_class = (uint16_t)size_class;
    rec->storage = XMEM_STORAGE_CPU;
    rec->device = -1;
    pthread_mutex_lock(&pool->map_lock);
    cache_store(pool, index, shm.addr, shm.size, epoch);
    pthread_mutex_unlock(&pool->map_lock);
    /* Last: from here the slot files under its class (xmemi_list_home). */
    atomic_store_explicit(&rec->capacity, capacity, memory_order_release);
    return XMEM_OK;
}

xmem_err xmemi_buffer_map(xmem_pool_t *pool, uint32_t index, void **addr, xmem_error_t *err)
{
    xmemi_record *rec = &pool->region.records[index];
    xmemi_mapping *m = &pool->maps[index];
    xmem_err rc = XMEM_OK;
    pthread_mutex_lock(&pool->map_lock);
    uint64_t epoch = atomic_load_explicit(&rec->backing_epoch, memory_order_acquire);
    uint64_t capacity = atomic_load_explicit(&rec->capacity, memory_order_acquire);
    if (capacity == 0) {
        rc = xmemi_fail(err, XMEM_EFREED, 0, "pool '%s': buffer %u has no storage yet", pool->name,
                        index);
        goto out;
    }
    if (rec->storage != XMEM_STORAGE_CPU) {
        rc = xmemi_fail(err, XMEM_ESTORAGE, 0,
                        "pool '%s': buffer %u is in CUDA device memory, not mappable on the host",
                        pool->name, index);
        goto out;
    }
    if (atomic_load_explicit(&m->epoch, memory_order_relaxed) != epoch) {
        char name[XMEMI_SHM_NAME_MAX];
        xmemi_buffer_shm_name(pool->name, index, name);
        xmemi_shm shm;
        xmem_error_t cause;
        rc = xmemi_shm_open(name, capacity, true, &shm, &cause);
        if (rc) {
            rc = xmemi_fail_cause(err, rc, &cause, "pool '%s': cannot map buffer %u", pool->name,
                                  index);
            goto out;
        }
        cache_store(pool, index, shm.addr, shm.size, epoch);
    }
    *addr = m->addr;
out:
    pthread_mutex_unlock(&pool->map_lock);
    return rc;
}

void xmemi_buffer_map_all(xmem_pool_t *pool)
{
    for (uint32_t i = 0; i < pool->capacity; i++) {
        void *addr;
        if (atomic_load_explicit(&pool->region.records[i].backing_epoch, memory_order_acquire) &&
            atomic_load_explicit(&pool->region.records[i].capacity, memory_order_acquire) &&
            pool->region.records[i].storage == XMEM_STORAGE_CPU)
            xmemi_buffer_map(pool, i, &addr, NULL); /* a failure here is reported at first use */
    }
}

void xmemi_buffer_unmap_all(xmem_pool_t *pool)
{
    for (uint32_t i = 0; i < pool->capacity; i++) {
        xmemi_mapping *m = &pool->maps[i];
        if (m->addr) {
            xmemi_cuda_on_unmap(pool, i, m->addr);
            munmap(m->addr, m->len);
        }
        m->addr = NULL;
        m->len = 0;
        atomic_store(&m->epoch, 0);
    }
}

void xmemi_buffer_unlink_all(const char *pool_name, const xmemi_meta_region *region)
{
    /* Every index, not only backed ones: a process may have died between creating a slot's
     * object and recording it. */
    for (uint32_t i = 0; i < region->hdr->capacity; i++) {
        char name[XMEMI_SHM_NAME_MAX];
        xmemi_buffer_shm_name(pool_name, i, name);
        xmemi_shm_unlink(name, NULL);
    }
}
