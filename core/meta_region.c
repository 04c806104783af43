/* The metadata region: its shm object's name, creating it with every slot free, and the layout
 * checks at open; and the size classes. The books kept in it are in free_list.c, record.c and
 * proc_table.c. */
#define _GNU_SOURCE
#include "meta_region.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/fail.h"
#include "common/proc.h"

void xmemi_meta_shm_name(const char *pool, char *out)
{
    snprintf(out, XMEMI_SHM_NAME_MAX, "/%s_meta", pool);
}

void xmemi_buffer_shm_name(const char *pool, uint32_t index, char *out)
{
    snprintf(out, XMEMI_SHM_NAME_MAX, "/%s_%u", pool, index);
}

xmem_err xmemi_pool_name_check(const char *name, xmem_error_t *err)
{
    if (!name || !*name)
        return xmemi_fail(err, XMEM_ENAME, 0, "pool name is empty");
    size_t len = strlen(name);
    if (len > XMEM_POOL_NAME_MAX)
        return xmemi_fail(err, XMEM_ENAME, 0, "pool name '%.*s...' is %zu characters, at most %d",
                          16, name, len, XMEM_POOL_NAME_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok)
            return xmemi_fail(err, XMEM_ENAME, 0,
                              "pool name '%s' has '%c' at position %zu (letters, digits, '.', '_' "
                              "and '-' only)",
                              name, c, i);
    }
    if (name[0] == '.')
        return xmemi_fail(err, XMEM_ENAME, 0, "pool name '%s' starts with '.'", name);
    return XMEM_OK;
}

size_t xmemi_meta_size(uint32_t capacity)
{
    return sizeof(xmemi_meta_header) + (size_t)capacity * sizeof(xmemi_record);
}

uint64_t xmemi_page_size(void)
{
    long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (uint64_t)page : 4096;
}

static void bind_region(xmemi_meta_region *r)
{
    r->hdr = r->shm.addr;
    r->records = (xmemi_record *)((char *)r->shm.addr + sizeof(xmemi_meta_header));
}

xmem_err xmemi_meta_create(const char *pool, uint32_t capacity, xmemi_meta_region *out,
                           xmem_error_t *err)
{
    char name[XMEMI_SHM_NAME_MAX];
    xmemi_meta_shm_name(pool, name);
    xmem_err rc = xmemi_shm_create(name, xmemi_meta_size(capacity), true, &out->shm, err);
    if (rc)
        return rc;
    bind_region(out);
    xmemi_meta_header *h = out->hdr;
    /* ftruncate gave zeroes: only non-zero fields are written. */
    h->layout_version = XMEMI_META_LAYOUT_VERSION;
    h->header_size = sizeof(xmemi_meta_header);
    h->record_size = sizeof(xmemi_record);
    h->capacity = capacity;
    h->max_procs = XMEM_POOL_MAX_PROCS;
    h->num_classes = XMEMI_NUM_CLASSES;
    h->num_lists = XMEMI_NUM_LISTS;
    snprintf(h->name, sizeof h->name, "%s", pool);
    h->creator_pid = getpid();
    h->creator_start_time = xmemi_proc_start_time(h->creator_pid);
    if (getrandom(&h->pool_id, sizeof h->pool_id, 0) != sizeof h->pool_id || h->pool_id == 0)
        h->pool_id = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL) ^ (uintptr_t)out->shm.addr;
    h->page_size = xmemi_page_size();
    /* Nobody else sees the region before its magic: the lists are built in place. Every slot
     * is free, unbacked, generation 0, and index 0 comes first. */
    for (uint32_t c = 0; c < XMEMI_NUM_LISTS; c++)
        atomic_init(&h->free_heads[c], xmemi_head_make(0, XMEMI_OP_NONE, 0, XMEMI_NIL));
    for (uint32_t i = 0; i < capacity; i++) {
        xmemi_record *rec = &out->records[i];
        rec->index = i;
        rec->device = -1;
        atomic_init(&rec->life, xmemi_life_make(0, XMEMI_LISTED, 0));
        atomic_init(&rec->next_free, i + 1 < capacity ? i + 1 : XMEMI_NIL);
    }
    atomic_init(&h->unbacked_head, xmemi_head_make(0, XMEMI_OP_NONE, 0, 0));
    atomic_store_explicit(&h->magic, XMEMI_META_MAGIC, memory_order_release);
    return XMEM_OK;
}

static xmem_err check_header(const char *pool, const xmemi_shm *shm, xmem_error_t *err)
{
    const xmemi_meta_header *h = shm->addr;
    uint64_t magic = atomic_load_explicit(&((xmemi_meta_header *)h)->magic, memory_order_acquire);
    if (magic != XMEMI_META_MAGIC)
        return xmemi_fail(err, XMEM_ELAYOUT, 0,
                          "pool '%s': meta region has magic 0x%016llx, expected 0x%016llx (not an "
                          "xmem pool, or still being created)",
                          pool, (unsigned long long)magic, (unsigned long long)XMEMI_META_MAGIC);
    if (h->layout_version != XMEMI_META_LAYOUT_VERSION)
        return xmemi_fail(err, XMEM_ELAYOUT, 0,
                          "pool '%s': meta region layout version %u, this library reads %u", pool,
                          h->layout_version, XMEMI_META_LAYOUT_VERSION);
    if (h->header_size != sizeof(xmemi_meta_header) || h->record_size != sizeof(xmemi_record) ||
        h->max_procs != XMEM_POOL_MAX_PROCS || h->num_classes != XMEMI_NUM_CLASSES ||
        h->num_lists != XMEMI_NUM_LISTS)
        return xmemi_fail(err, XMEM_ELAYOUT, 0,
                          "pool '%s': meta region header %u/record %u bytes, %u procs, %u classes; "
                          "this library expects %zu/%zu, %d, %d",
                          pool, h->header_size, h->record_size, h->max_procs, h->num_classes,
                          sizeof(xmemi_meta_header), sizeof(xmemi_record), XMEM_POOL_MAX_PROCS,
                          XMEMI_NUM_CLASSES);
    if (h->capacity == 0 || h->capacity > XMEM_POOL_MAX_CAPACITY ||
        shm->size < xmemi_meta_size(h->capacity))
        return xmemi_fail(err, XMEM_ELAYOUT, 0,
                          "pool '%s': meta region of %zu bytes cannot hold its capacity of %u "
                          "buffers",
                          pool, shm->size, h->capacity);
    if (strncmp(h->name, pool, sizeof h->name) != 0)
        return xmemi_fail(err, XMEM_ELAYOUT, 0, "pool '%s': meta region names pool '%.*s'", pool,
                          (int)sizeof h->name, h->name);
    return XMEM_OK;
}

xmem_err xmemi_meta_open(const char *pool, xmemi_meta_region *out, xmem_error_t *err)
{
    char name[XMEMI_SHM_NAME_MAX];
    xmemi_meta_shm_name(pool, name);
    xmem_err rc = xmemi_shm_open(name, 0, true, &out->shm, err);
    if (rc == XMEM_ENOENT)
        return xmemi_fail(err, XMEM_ENOENT, 0, "pool '%s' does not exist (no shm object '%s')",
                          pool, name);
    if (rc == XMEM_ELAYOUT)
        return xmemi_fail(err, XMEM_ELAYOUT, 0, "pool '%s': meta region '%s' is empty or truncated",
                          pool, name);
    if (rc)
        return rc;
    if (out->shm.size < sizeof(xmemi_meta_header)) {
        size_t size = out->shm.size;
        xmemi_shm_close(&out->shm);
        return xmemi_fail(err, XMEM_ELAYOUT, 0,
                          "pool '%s': meta region '%s' is %zu bytes, smaller than its header", pool,
                          name, size);
    }
    rc = check_header(pool, &out->shm, err);
    if (rc) {
        xmemi_shm_close(&out->shm);
        return rc;
    }
    bind_region(out);
    return XMEM_OK;
}

void xmemi_meta_close(xmemi_meta_region *region)
{
    xmemi_shm_close(&region->shm);
    region->hdr = NULL;
    region->records = NULL;
}

uint32_t xmemi_size_class(uint64_t size, uint64_t page_size)
{
    uint64_t pages = size ? (size + page_size - 1) / page_size : 1;
    if (pages <= 4)
        return (uint32_t)(pages - 1);
    uint64_t m = pages - 1;
    uint32_t b = 63u - (uint32_t)__builtin_clzll(m);
    uint32_t sub = (uint32_t)(m >> (b - 2)) & 3u;
    return 4u + (b - 2u) * 4u + sub;
}

uint64_t xmemi_class_capacity(uint32_t size_class, uint64_t page_size)
{
    if (size_class < 4)
        return (size_class + 1u) * page_size;
    uint32_t b = (size_class - 4u) / 4u + 2u;
    uint32_t sub = (size_class - 4u) % 4u;
    return ((uint64_t)(4u + sub + 1u) << (b - 2u)) * page_size;
}
