/* The metadata region: layout checks at open, the lock-free free lists, the process table and
 * giving back a dead process's references. */
#define _GNU_SOURCE
#include "meta_region.h"

#include <linux/futex.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
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

static size_t region_size(uint32_t capacity)
{
    return sizeof(xmemi_meta_header) + (size_t)capacity * sizeof(xmemi_record);
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
    xmem_err rc = xmemi_shm_create(name, region_size(capacity), true, &out->shm, err);
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
    long page = sysconf(_SC_PAGESIZE);
    h->page_size = page > 0 ? (uint64_t)page : 4096;
    for (uint32_t c = 0; c < XMEMI_NUM_LISTS; c++)
        atomic_init(&h->free_heads[c], XMEMI_NIL);
    atomic_init(&h->unbacked_head, XMEMI_NIL);
    for (uint32_t i = 0; i < capacity; i++) {
        xmemi_record *rec = &out->records[i];
        rec->index = i;
        rec->device = -1;
    }
    /* Pushed in reverse so a fresh pool hands out index 0 first. */
    for (uint32_t i = capacity; i-- > 0;)
        xmemi_free_push(out, &h->unbacked_head, i);
    for (uint32_t p = 0; p < XMEM_POOL_MAX_PROCS; p++)
        atomic_init(&h->procs[p].acquiring, XMEMI_NIL);
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
        shm->size < region_size(h->capacity))
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

static inline uint64_t head_pack(uint64_t tag, uint32_t index)
{
    return (tag << 32) | index;
}

uint32_t xmemi_free_pop(xmemi_meta_region *r, _Atomic uint64_t *head, _Atomic uint32_t *journal)
{
    uint64_t old = atomic_load_explicit(head, memory_order_acquire);
    for (;;) {
        uint32_t index = (uint32_t)old;
        if (index == XMEMI_NIL)
            return XMEMI_NIL;
        /* Published before the CAS (whose release orders it): a reclaimer that finds this
         * process dead knows which slot it may have taken. */
        atomic_store_explicit(journal, index, memory_order_relaxed);
        uint32_t next = atomic_load_explicit(&r->records[index].next_free, memory_order_relaxed);
        uint64_t new_head = head_pack((old >> 32) + 1, next);
        if (atomic_compare_exchange_weak_explicit(head, &old, new_head, memory_order_acq_rel,
                                                  memory_order_acquire))
            return index;
    }
}

void xmemi_free_push(xmemi_meta_region *r, _Atomic uint64_t *head, uint32_t index)
{
    uint64_t old = atomic_load_explicit(head, memory_order_relaxed);
    for (;;) {
        atomic_store_explicit(&r->records[index].next_free, (uint32_t)old, memory_order_relaxed);
        uint64_t new_head = head_pack((old >> 32) + 1, index);
        if (atomic_compare_exchange_weak_explicit(head, &old, new_head, memory_order_release,
                                                  memory_order_relaxed))
            return;
    }
}

void xmemi_slot_push_free(xmemi_meta_region *r, uint32_t index)
{
    xmemi_record *rec = &r->records[index];
    if (!rec->capacity) {
        xmemi_free_push(r, &r->hdr->unbacked_head, index);
        return;
    }
    uint32_t c = xmemi_list_of(rec->storage, rec->device, rec->size_class);
    xmemi_free_push(r, &r->hdr->free_heads[c], index);
    /* A load of a word nobody writes while nobody waits: no system call in the common case. */
    if (atomic_load_explicit(&r->hdr->class_waiters[c], memory_order_seq_cst))
        syscall(SYS_futex, xmemi_class_futex(r, c), FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

uint64_t xmemi_record_refs(const xmemi_record *rec)
{
    uint64_t n = 0;
    for (uint32_t p = 0; p < XMEM_POOL_MAX_PROCS; p++)
        n += atomic_load_explicit(&((xmemi_record *)rec)->owner_refs[p], memory_order_acquire);
    return n;
}

bool xmemi_record_try_free(xmemi_meta_region *r, uint32_t index, _Atomic uint32_t *journal)
{
    xmemi_record *rec = &r->records[index];
    uint32_t life = xmemi_life_load(rec);
    if (!xmemi_life_live(life) || xmemi_record_refs(rec) != 0)
        return false;
    /* Between the free and the push the slot is on no list: journaled like a pop. */
    if (journal)
        atomic_store_explicit(journal, index, memory_order_relaxed);
    /* Live generation g -> free generation g + 1: every outstanding name is stale from here on. */
    bool won = atomic_compare_exchange_strong_explicit(&rec->life, &life, life + 1,
                                                       memory_order_acq_rel, memory_order_relaxed);
    if (won)
        xmemi_slot_push_free(r, index);
    if (journal)
        atomic_store_explicit(journal, XMEMI_NIL, memory_order_release);
    return won;
}

/* Heads of every free list, to tell whether the lists changed during a walk. */
static void snapshot_heads(const xmemi_meta_region *r, uint64_t *out)
{
    for (uint32_t c = 0; c < XMEMI_NUM_LISTS; c++)
        out[c] = atomic_load_explicit(&r->hdr->free_heads[c], memory_order_acquire);
    out[XMEMI_NUM_LISTS] = atomic_load_explicit(&r->hdr->unbacked_head, memory_order_acquire);
}

static bool on_a_list(const xmemi_meta_region *r, const uint64_t *heads, uint32_t index)
{
    for (uint32_t c = 0; c <= XMEMI_NUM_LISTS; c++) {
        uint32_t at = (uint32_t)heads[c];
        for (uint32_t steps = 0; at != XMEMI_NIL && steps <= r->hdr->capacity; steps++) {
            if (at == index)
                return true;
            if (at >= r->hdr->capacity)
                break;
            at = atomic_load_explicit(&r->records[at].next_free, memory_order_acquire);
        }
    }
    return false;
}

/* True if a journal other than the dead slot's and `mine` names `index`. */
static bool journaled_by_live(const xmemi_meta_region *r, uint32_t dead_slot, uint32_t index,
                              const _Atomic uint32_t *mine)
{
    for (uint32_t p = 0; p < XMEM_POOL_MAX_PROCS; p++) {
        _Atomic uint32_t *j = &((xmemi_meta_region *)r)->hdr->procs[p].acquiring;
        if (p == dead_slot || j == mine)
            continue;
        if (atomic_load(j) == index)
            return true;
    }
    return false;
}

/* The dead process was taking `index` off a free list. If the pop happened but no owner count
 * followed, the slot is on no list and owned by nobody: put it back. The lists are walked only
 * while no other process changes them (same heads before and after), else retried; after too
 * many retries the slot is left out rather than risk putting it on a list twice. */
static void recover_acquiring(xmemi_meta_region *r, uint32_t dead_slot, uint32_t index,
                              _Atomic uint32_t *journal)
{
    if (index >= r->hdr->capacity)
        return;
    xmemi_record *rec = &r->records[index];
    uint64_t before[XMEMI_NUM_LISTS + 1], after[XMEMI_NUM_LISTS + 1];
    for (int attempt = 0; attempt < 1000; attempt++) {
        uint32_t life = xmemi_life_load(rec);
        if (xmemi_life_live(life) || xmemi_record_refs(rec) != 0 ||
            journaled_by_live(r, dead_slot, index, journal))
            return; /* it was handed out after all, or another process is taking it */
        snapshot_heads(r, before);
        bool listed = on_a_list(r, before, index);
        snapshot_heads(r, after);
        if (memcmp(before, after, sizeof before) != 0) {
            sched_yield();
            continue;
        }
        if (listed)
            return;
        /* Our own journal names it from here on, so no other recovery takes it too. */
        if (journal)
            atomic_store(journal, index);
        /* One generation on (still free): only one recoverer wins this CAS. */
        if (journaled_by_live(r, dead_slot, index, journal) ||
            !atomic_compare_exchange_strong(&rec->life, &life, life + 2)) {
            if (journal)
                atomic_store(journal, XMEMI_NIL);
            return;
        }
        xmemi_slot_push_free(r, index);
        if (journal)
            atomic_store_explicit(journal, XMEMI_NIL, memory_order_release);
        return;
    }
}

xmem_err xmemi_proc_claim(xmemi_meta_region *r, pid_t pid, uint64_t start_time, uint32_t *slot,
                          xmem_error_t *err)
{
    for (uint32_t i = 0; i < XMEM_POOL_MAX_PROCS; i++) {
        xmemi_proc_entry *p = &r->hdr->procs[i];
        uint32_t expected = XMEMI_PROC_FREE;
        if (!atomic_compare_exchange_strong(&p->state, &expected, XMEMI_PROC_CLAIMING))
            continue;
        p->pid = pid;
        p->start_time = start_time;
        atomic_store(&p->acquiring, XMEMI_NIL);
        atomic_store(&p->reclaimer, 0);
        atomic_fetch_add(&p->epoch, 1);
        atomic_store_explicit(&p->state, XMEMI_PROC_ATTACHED, memory_order_release);
        *slot = i;
        return XMEM_OK;
    }
    return xmemi_fail(err, XMEM_EPROCS, 0, "pool '%s': all %d process slots are attached",
                      r->hdr->name, XMEM_POOL_MAX_PROCS);
}

/* Gives back what the slot's counts hold and repairs its journal; idempotent, so a reclaimer that
 * takes over from a dead one simply runs it again. */
static uint64_t reclaim_body(xmemi_meta_region *r, uint32_t slot, _Atomic uint32_t *journal)
{
    xmemi_proc_entry *p = &r->hdr->procs[slot];
    uint64_t returned = 0;
    for (uint32_t i = 0; i < r->hdr->capacity; i++) {
        xmemi_record *rec = &r->records[i];
        uint32_t n = atomic_exchange_explicit(&rec->owner_refs[slot], 0, memory_order_acq_rel);
        returned += n;
        /* Also a live buffer nobody owns: the dead process released its last reference but died
         * before recycling it. (A live one is never unowned otherwise: acquire owns before it
         * marks live, and hand-overs add before they take.) */
        if (xmemi_life_live(xmemi_life_load(rec)))
            xmemi_record_try_free(r, i, journal);
    }
    uint32_t acquiring = atomic_load(&p->acquiring);
    if (acquiring != XMEMI_NIL)
        recover_acquiring(r, slot, acquiring, journal);
    atomic_store(&p->acquiring, XMEMI_NIL);
    p->pid = 0;
    p->start_time = 0;
    atomic_store(&p->reclaimer, 0);
    atomic_store_explicit(&p->state, XMEMI_PROC_FREE, memory_order_release);
    return returned;
}

uint64_t xmemi_proc_reclaim(xmemi_meta_region *r, uint32_t slot, uint32_t epoch,
                            _Atomic uint32_t *journal)
{
    xmemi_proc_entry *p = &r->hdr->procs[slot];
    uint32_t expected = XMEMI_PROC_ATTACHED;
    if (!atomic_compare_exchange_strong(&p->state, &expected, XMEMI_PROC_RECLAIMING))
        return 0;
    if (atomic_load(&p->epoch) != epoch) {
        /* Freed and claimed by another process since the caller looked: not ours to take. */
        atomic_store(&p->state, XMEMI_PROC_ATTACHED);
        return 0;
    }
    atomic_store(&p->reclaimer, (int32_t)getpid());
    return reclaim_body(r, slot, journal);
}

uint64_t xmemi_reclaim_dead_slots(xmemi_meta_region *r, pid_t only_pid, _Atomic uint32_t *journal)
{
    uint64_t total = 0;
    for (uint32_t slot = 0; slot < XMEM_POOL_MAX_PROCS; slot++) {
        xmemi_proc_entry *p = &r->hdr->procs[slot];
        uint32_t epoch = atomic_load_explicit(&p->epoch, memory_order_acquire);
        uint32_t state = atomic_load_explicit(&p->state, memory_order_acquire);
        pid_t pid = p->pid;
        if (state == XMEMI_PROC_RECLAIMING) {
            /* Its reclaimer died half way: take over (only one taker wins the CAS). */
            int32_t by = atomic_load(&p->reclaimer);
            if (by > 0 && by != (int32_t)getpid() && !xmemi_proc_alive(by, 0) &&
                atomic_compare_exchange_strong(&p->reclaimer, &by, (int32_t)getpid()))
                total += reclaim_body(r, slot, journal);
            continue;
        }
        if (state != XMEMI_PROC_ATTACHED && state != XMEMI_PROC_CLAIMING)
            continue;
        /* A claimer killed before it wrote its pid leaves 0 there: never alive, never matched. */
        if (pid <= 0 || (only_pid > 0 && pid != only_pid))
            continue;
        if (only_pid <= 0 && xmemi_proc_alive(pid, p->start_time))
            continue;
        if (state == XMEMI_PROC_CLAIMING &&
            !atomic_compare_exchange_strong(&p->state, &state, XMEMI_PROC_ATTACHED))
            continue;
        total += xmemi_proc_reclaim(r, slot, epoch, journal);
    }
    return total;
}

bool xmemi_meta_in_use(const xmemi_meta_region *r, pid_t *pid)
{
    const xmemi_meta_header *h = r->hdr;
    if (xmemi_proc_alive(h->creator_pid, h->creator_start_time)) {
        *pid = h->creator_pid;
        return true;
    }
    for (uint32_t i = 0; i < XMEM_POOL_MAX_PROCS; i++) {
        const xmemi_proc_entry *p = &h->procs[i];
        uint32_t state = atomic_load(&((xmemi_proc_entry *)p)->state);
        if (state == XMEMI_PROC_FREE)
            continue;
        if (xmemi_proc_alive(p->pid, p->start_time)) {
            *pid = p->pid;
            return true;
        }
    }
    return false;
}
