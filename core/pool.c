/* Pool lifecycle: create (replacing a stale leftover), open, close and destroy, and what a pool
 * can say about itself. Acquire is in acquire.c, reference operations in pool_refs.c. */
#define _GNU_SOURCE
#include <xmem/pool_admin.h>
#include <xmem/pool.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xmem/pool_admin.h>

#include "buffer.h"
#include "common/fail.h"
#include "common/user_name.h"
#include "common/proc.h"
#include "cuda_internal.h"
#include "free_list.h"
#include "pool_internal.h"
#include "pool_room.h"
#include "pool_slots.h"
#include "proc_table.h"

void xmem_pool_options_init(xmem_pool_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->capacity = XMEM_POOL_DEFAULT_CAPACITY;
    opts->replace_stale = true;
}

static xmem_err check_options(const char *name, const xmem_pool_options *o, xmem_error_t *err)
{
    if (o->capacity == 0 || o->capacity > XMEM_POOL_MAX_CAPACITY)
        return xmemi_fail(err, XMEM_EINVAL, 0, "pool '%s': capacity %u is outside 1..%u", name,
                          o->capacity, XMEM_POOL_MAX_CAPACITY);
    if (o->n_classes > XMEM_POOL_MAX_CLASSES)
        return xmemi_fail(err, XMEM_EINVAL, 0, "pool '%s': %u size classes, at most %d", name,
                          o->n_classes, XMEM_POOL_MAX_CLASSES);
    uint64_t total = 0;
    for (uint32_t i = 0; i < o->n_classes; i++) {
        if (o->classes[i].size == 0 || o->classes[i].size > XMEMI_MAX_BUFFER_SIZE)
            return xmemi_fail(err, XMEM_EINVAL, 0,
                              "pool '%s': size class %u has size %zu, outside 1..%llu", name, i,
                              o->classes[i].size, (unsigned long long)XMEMI_MAX_BUFFER_SIZE);
        total += o->classes[i].count;
    }
    if (total > o->capacity)
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "pool '%s': size classes preallocate %llu buffers, capacity is %u", name,
                          (unsigned long long)total, o->capacity);
    return XMEM_OK;
}

static void unlink_pool(const char *name, const xmemi_meta_region *region)
{
    xmemi_buffer_unlink_all(name, region);
    char meta[XMEMI_SHM_NAME_MAX];
    xmemi_meta_shm_name(name, meta);
    xmemi_shm_unlink(meta, NULL);
}

typedef enum meta_readiness { META_ABSENT, META_UNREADY, META_READY } meta_readiness;

/* Whether the meta object exists and has its magic published. One of zero bytes (its creator
 * died before sizing it) or with no magic yet is unready. */
static meta_readiness meta_probe(const char *name)
{
    char meta[XMEMI_SHM_NAME_MAX];
    xmemi_meta_shm_name(name, meta);
    xmemi_shm shm;
    xmem_err rc = xmemi_shm_open(meta, 0, false, &shm, NULL);
    if (rc == XMEM_ELAYOUT)
        return META_UNREADY;
    if (rc)
        return META_ABSENT;
    bool ready = shm.size >= sizeof(uint64_t) && atomic_load((_Atomic uint64_t *)shm.addr) != 0;
    xmemi_shm_close(&shm);
    return ready ? META_READY : META_UNREADY;
}

/* A meta object whose magic was never published: its creator is still writing it, or died doing
 * so. Waits a little for the first case. */
static bool still_unready(const char *name)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        if (meta_probe(name) != META_UNREADY)
            return false;
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    return true;
}

xmem_err xmem_pool_remove_stale(const char *name, xmem_error_t *err)
{
    xmem_err rc = xmemi_pool_name_check(name, err);
    if (rc)
        return rc;
    xmemi_meta_region region;
    xmem_error_t cause;
    rc = xmemi_meta_open(name, &region, &cause);
    if (rc == XMEM_ELAYOUT) {
        /* Only a region that never became ready is ours to remove; anything else may belong to
         * another program or another xmem version, and is reported. */
        char meta[XMEMI_SHM_NAME_MAX];
        xmemi_meta_shm_name(name, meta);
        meta_readiness m = meta_probe(name);
        if (m == META_UNREADY && still_unready(name)) {
            xmemi_shm_unlink(meta, NULL);
            return XMEM_OK;
        }
        if (m == META_UNREADY)
            return xmemi_fail(err, XMEM_EEXIST, 0, "pool '%s' was created meanwhile", name);
        if (m == META_ABSENT)
            return xmemi_fail(err, XMEM_ENOENT, 0, "pool '%s' was removed meanwhile", name);
        return xmemi_fail(err, XMEM_ELAYOUT, 0, "%s; remove /dev/shm%s by hand if it is garbage",
                          cause.msg, meta);
    }
    if (rc) {
        if (err)
            *err = cause;
        return rc;
    }
    pid_t pid;
    if (xmemi_meta_in_use(&region, &pid)) {
        xmemi_meta_close(&region);
        return xmemi_fail(err, XMEM_EEXIST, 0, "pool '%s' exists and is in use by pid %d", name,
                          (int)pid);
    }
    unlink_pool(name, &region);
    xmemi_meta_close(&region);
    return XMEM_OK;
}

static xmem_err prefill_classes(xmem_pool_t *pool, const xmem_pool_options *o, xmem_error_t *err)
{
    for (uint32_t i = 0; i < o->n_classes; i++) {
        uint32_t size_class = xmemi_size_class(o->classes[i].size, pool->region.hdr->page_size);
        for (uint32_t n = 0; n < o->classes[i].count; n++) {
            uint32_t index;
            uint64_t taken;
            xmem_err rc = xmemi_slot_new(pool, size_class, o->classes[i].size, &index, &taken, err);
            if (rc)
                return rc;
            xmemi_slot_untake(&pool->region, index, taken, pool->me); /* onto its class's list */
        }
    }
    return XMEM_OK;
}

/* Takes a process slot for this handle. */
static xmem_err attach(xmem_pool_t *pool, xmem_error_t *err)
{
    xmem_err rc =
        xmemi_proc_claim(&pool->region, pool->pid, pool->start_time, &pool->me, &pool->epoch, err);
    if (rc == XMEM_OK)
        pool->owner_id = xmemi_owner_id(pool->me, pool->epoch);
    return rc;
}

xmem_err xmem_pool_create_with(const char *name, const xmem_pool_options *opts, xmem_pool_t **out,
                               xmem_error_t *err)
{
    if (!out)
        return xmemi_fail(err, XMEM_EINVAL, 0, "xmem_pool_create: out is NULL");
    *out = NULL;
    xmem_pool_options defaults;
    if (!opts) {
        xmem_pool_options_init(&defaults);
        opts = &defaults;
    }
    xmem_err rc = xmemi_pool_name_check(name, err);
    if (rc)
        return rc;
    rc = check_options(name, opts, err);
    if (rc)
        return rc;

    xmem_pool_t *pool = xmemi_handle_new(name, opts->capacity);
    if (!pool)
        return xmemi_fail(err, XMEM_ENOMEM, 0, "pool '%s': no memory for the handle", name);
    rc = xmemi_meta_create(name, opts->capacity, &pool->region, err);
    char meta[XMEMI_SHM_NAME_MAX];
    uid_t owner;
    xmemi_meta_shm_name(name, meta);
    if (rc == XMEM_EEXIST && xmemi_shm_foreign(meta, &owner)) {
        /* Not even root replaces another user's pool, stale or not: it may be in use by a
         * process that cannot be seen from here (another pid namespace). */
        rc = xmemi_fail(err, XMEM_EEXIST, 0,
                        "pool '%s' is taken by another user, %s (" XMEMI_SHM_DIR "%s is theirs): "
                        "choose another pool name",
                        name, xmemi_user_name(owner).s, meta);
        goto fail_handle;
    }
    if (rc == XMEM_EEXIST) {
        if (!opts->replace_stale) {
            rc = xmemi_fail(err, XMEM_EEXIST, 0, "pool '%s' already exists", name);
            goto fail_handle;
        }
        rc = xmem_pool_remove_stale(name, err);
        if (rc)
            goto fail_handle;
        rc = xmemi_meta_create(name, opts->capacity, &pool->region, err);
    }
    if (rc)
        goto fail_handle;
    pool->creator = true;
    rc = attach(pool, err);
    if (rc)
        goto fail_region;
    /* Any stale namesake is gone by now, so what is free is what the pool can have: refused
     * here, a preallocation too large for /dev/shm does not first fill it buffer by buffer. */
    rc = xmemi_pool_check_room(name, opts, pool->region.shm.size, err);
    if (rc)
        goto fail_region;
    rc = prefill_classes(pool, opts, err);
    if (rc)
        goto fail_region;
    *out = pool;
    return XMEM_OK;

fail_region:
    unlink_pool(name, &pool->region);
fail_handle:
    xmemi_handle_free(pool);
    /* Out of room for one object (the region, a buffer), or short of it as seen above: said
     * with the whole pool's figures once all of it is given back (pages stay while mapped). An
     * XMEM_ENOMEM that room does not explain (an mmap) keeps its own message. */
    if (rc == XMEM_ENOMEM)
        xmemi_pool_check_room(name, opts, 0, err);
    return rc;
}

uint64_t xmem_pool_shm_bytes(const xmem_pool_options *opts)
{
    xmem_pool_options defaults;
    if (!opts)
        xmem_pool_options_init(&defaults);
    return xmemi_pool_shm_bytes(opts ? opts : &defaults);
}

xmem_err xmem_pool_check_room(const char *name, const xmem_pool_options *opts, xmem_error_t *err)
{
    if (!name)
        return xmemi_fail(err, XMEM_EINVAL, 0, "xmem_pool_check_room: name is NULL");
    xmem_pool_options defaults;
    if (!opts)
        xmem_pool_options_init(&defaults);
    return xmemi_pool_check_room(name, opts ? opts : &defaults, 0, err);
}

xmem_err xmem_pool_create(const char *name, xmem_pool_t **out, xmem_error_t *err)
{
    return xmem_pool_create_with(name, NULL, out, err);
}

xmem_err xmem_pool_create_with_capacity(const char *name, uint32_t capacity, xmem_pool_t **out,
                                        xmem_error_t *err)
{
    xmem_pool_options opts;
    xmem_pool_options_init(&opts);
    opts.capacity = capacity;
    return xmem_pool_create_with(name, &opts, out, err);
}

xmem_err xmem_pool_open(const char *name, xmem_pool_t **out, xmem_error_t *err)
{
    if (!out)
        return xmemi_fail(err, XMEM_EINVAL, 0, "xmem_pool_open: out is NULL");
    *out = NULL;
    xmem_err rc = xmemi_pool_name_check(name, err);
    if (rc)
        return rc;

    xmemi_meta_region region;
    rc = xmemi_meta_open(name, &region, err);
    /* A pool being created right now has no magic yet: give its creator a moment. */
    if (rc == XMEM_ELAYOUT && !still_unready(name))
        rc = xmemi_meta_open(name, &region, err);
    if (rc)
        return rc;
    xmem_pool_t *pool = xmemi_handle_new(name, region.hdr->capacity);
    if (!pool) {
        xmemi_meta_close(&region);
        return xmemi_fail(err, XMEM_ENOMEM, 0, "pool '%s': no memory for the handle", name);
    }
    pool->region = region;
    /* The dead first: a full table may be full of them, and a reclaim needs no slot (it acts in
     * the dead slot's name). */
    xmemi_reclaim_dead_slots(&pool->region, 0, pool->pid, pool->start_time);
    rc = attach(pool, err);
    if (rc) {
        xmemi_handle_free(pool);
        return rc;
    }
    xmemi_buffer_map_all(pool);
    *out = pool;
    return XMEM_OK;
}

void xmem_pool_close(xmem_pool_t **pool_ptr)
{
    /* One path for both verbs: what differs is decided by who made the handle. */
    xmem_pool_destroy(pool_ptr);
}

void xmem_pool_destroy(xmem_pool_t **pool_ptr)
{
    if (!pool_ptr || !*pool_ptr)
        return;
    xmem_pool_t *pool = *pool_ptr;
    *pool_ptr = NULL;
    /* A child's copy of its parent's handle touches nothing shared: the parent still owns it. */
    bool keep = false; /* stream releases that cannot run: the handle must outlive them */
    if (!xmemi_pool_forked(pool)) {
        keep = !xmemi_cuda_close(pool); /* stream releases pending on this pool run first */
        /* Detaching is this attachment's own reclaim: killed half way, it is finished by the
         * next one, as any dead attachment's. */
        xmemi_proc_reclaim(&pool->region, pool->me,
                           xmemi_who_make(XMEMI_PROC_ATTACHED, pool->pid, pool->start_time),
                           pool->pid, pool->start_time);
        if (pool->creator) {
            /* Processes still attached keep what they mapped, but must not create objects
             * under the removed names again: nobody would remove those. */
            atomic_store(&pool->region.hdr->closed, 1);
            unlink_pool(pool->name, &pool->region);
        }
    }
    if (!keep)
        xmemi_handle_free(pool);
}

xmem_err xmem_pool_check_name(const char *name, xmem_error_t *err)
{
    return xmemi_pool_name_check(name, err);
}

const char *xmem_pool_name(const xmem_pool_t *pool)
{
    return pool->name;
}

uint32_t xmem_pool_capacity(const xmem_pool_t *pool)
{
    return pool->capacity;
}

bool xmem_pool_is_creator(const xmem_pool_t *pool)
{
    return pool->creator;
}

uint32_t xmem_pool_owner_id(const xmem_pool_t *pool)
{
    return pool->owner_id;
}

uint64_t xmem_pool_id(const xmem_pool_t *pool)
{
    return pool->region.hdr->pool_id;
}

pid_t xmem_pool_owner_pid(const xmem_pool_t *pool, uint32_t owner_id)
{
    uint32_t epoch;
    if (!xmemi_owner_epoch(&pool->region, owner_id, &epoch))
        return 0;
    return pool->region.hdr->procs[xmemi_owner_slot(owner_id)].pid;
}

uint32_t xmem_pool_free_count(const xmem_pool_t *pool)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < pool->capacity; i++)
        n += !xmemi_life_live(xmemi_life_load(&pool->region.records[i]));
    return n;
}
