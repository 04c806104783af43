/* Pool lifecycle: create (replacing a stale leftover), open, destroy, and what a pool can say about
 * itself. Reference operations are in pool_refs.c. */
#define _GNU_SOURCE
#include <xmem/pool_admin.h>
#include <xmem/pool.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buffer.h"
#include "cuda_internal.h"
#include "common/fail.h"
#include "pool_internal.h"
#include "pool_slots.h"
#include "common/proc.h"

_Atomic unsigned xmemi_fork_gen;

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    atomic_fetch_add_explicit(&xmemi_fork_gen, 1, memory_order_relaxed);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

xmem_err xmemi_pool_forked_error(const xmem_pool_t *pool, xmem_error_t *err)
{
    return xmemi_fail(err, XMEM_EFORKED, 0,
                      "pool '%s': this handle was made before fork(); open the pool again in the "
                      "child process (pid %d)",
                      pool->name, (int)getpid());
}

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

static xmem_pool_t *handle_new(const char *name, uint32_t capacity)
{
    xmem_pool_t *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->maps = calloc(capacity, sizeof *pool->maps);
    if (!pool->maps) {
        free(pool);
        return NULL;
    }
    snprintf(pool->name, sizeof pool->name, "%s", name);
    pool->capacity = capacity;
    pthread_mutex_init(&pool->map_lock, NULL);
    pool->fork_gen = atomic_load(&xmemi_fork_gen);
    return pool;
}

static void handle_free(xmem_pool_t *pool)
{
    xmemi_cuda_forget(pool);
    xmemi_buffer_unmap_all(pool);
    xmemi_meta_close(&pool->region);
    pthread_mutex_destroy(&pool->map_lock);
    free(pool->maps);
    free(pool);
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
            xmem_err rc = xmemi_slot_new(pool, size_class, o->classes[i].size, &index, err);
            if (rc)
                return rc;
            xmemi_free_push(&pool->region, &pool->region.hdr->free_heads[size_class], index);
            xmemi_journal_clear(pool);
        }
    }
    return XMEM_OK;
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
    pthread_once(&atfork_once, register_atfork);

    xmem_pool_t *pool = handle_new(name, opts->capacity);
    if (!pool)
        return xmemi_fail(err, XMEM_ENOMEM, 0, "pool '%s': no memory for the handle", name);
    rc = xmemi_meta_create(name, opts->capacity, &pool->region, err);
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
    rc = xmemi_proc_claim(&pool->region, getpid(), xmemi_proc_start_time(getpid()), &pool->me, err);
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
    handle_free(pool);
    return rc;
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
    pthread_once(&atfork_once, register_atfork);

    xmemi_meta_region region;
    rc = xmemi_meta_open(name, &region, err);
    /* A pool being created right now has no magic yet: give its creator a moment. */
    if (rc == XMEM_ELAYOUT && !still_unready(name))
        rc = xmemi_meta_open(name, &region, err);
    if (rc)
        return rc;
    xmem_pool_t *pool = handle_new(name, region.hdr->capacity);
    if (!pool) {
        xmemi_meta_close(&region);
        return xmemi_fail(err, XMEM_ENOMEM, 0, "pool '%s': no memory for the handle", name);
    }
    pool->region = region;
    /* A slot first, so that reclaiming dead processes below writes this handle's own journal;
     * only a full table is reclaimed before, without one (the dead may hold the slots). */
    pid_t self = getpid();
    uint64_t started = xmemi_proc_start_time(self);
    rc = xmemi_proc_claim(&pool->region, self, started, &pool->me, err);
    if (rc == XMEM_EPROCS) {
        xmemi_reclaim_dead_slots(&pool->region, 0, NULL);
        rc = xmemi_proc_claim(&pool->region, self, started, &pool->me, err);
    }
    if (rc) {
        handle_free(pool);
        return rc;
    }
    xmem_pool_reclaim_dead(pool, NULL, NULL);
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
        xmemi_proc_reclaim(&pool->region, pool->me,
                           atomic_load(&pool->region.hdr->procs[pool->me].epoch),
                           xmemi_journal(pool));
        if (pool->creator) {
            /* Processes still attached keep what they mapped, but must not create objects
             * under the removed names again: nobody would remove those. */
            atomic_store(&pool->region.hdr->closed, 1);
            unlink_pool(pool->name, &pool->region);
        }
    }
    if (!keep)
        handle_free(pool);
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
    return pool->me;
}

uint64_t xmem_pool_id(const xmem_pool_t *pool)
{
    return pool->region.hdr->pool_id;
}

pid_t xmem_pool_owner_pid(const xmem_pool_t *pool, uint32_t owner_id)
{
    if (owner_id >= XMEM_POOL_MAX_PROCS)
        return 0;
    xmemi_proc_entry *p = &pool->region.hdr->procs[owner_id];
    if (atomic_load_explicit(&p->state, memory_order_acquire) != XMEMI_PROC_ATTACHED)
        return 0;
    return p->pid;
}

uint32_t xmem_pool_free_count(const xmem_pool_t *pool)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < pool->capacity; i++)
        n += !xmemi_life_live(xmemi_life_load(&pool->region.records[i]));
    return n;
}

/* References held per process-table entry, all records summed. */
static void count_held(const xmem_pool_t *pool, uint64_t held[XMEM_POOL_MAX_PROCS])
{
    for (uint32_t i = 0; i < pool->capacity; i++)
        for (uint32_t p = 0; p < XMEM_POOL_MAX_PROCS; p++)
            held[p] +=
                atomic_load_explicit(&pool->region.records[i].owner_refs[p], memory_order_relaxed);
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
