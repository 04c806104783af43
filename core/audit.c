/* The audit of a pool's books (xmem_pool_audit): walks every free list and every record and
 * checks the invariants docs/CRASH.md argues for. It only reads. */
#define _GNU_SOURCE
#include <xmem/pool_admin.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/abi.h"
#include "common/plural.h"
#include "common/proc.h"
#include "pool_internal.h"
#include "record.h"

/* Notes one problem in the text (the first few are kept) and counts it. */
static void note(char *text, size_t len, uint32_t *count, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void note(char *text, size_t len, uint32_t *count, const char *fmt, ...)
{
    (*count)++;
    size_t used = strlen(text);
    if (used + 2 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (used)
        used += (size_t)snprintf(text + used, len - used, "; ");
    if (used < len)
        vsnprintf(text + used, len - used, fmt, ap);
    va_end(ap);
}

/* Walks one list, counting each slot's appearances in seen[] and checking it is filed there. */
static void walk(const xmem_pool_t *pool, _Atomic uint64_t *head, uint32_t list, uint8_t *seen,
                 xmem_pool_audit_report *rep, char *text, size_t len)
{
    const xmemi_meta_region *r = &pool->region;
    uint64_t h = atomic_load(head);
    if (xmemi_head_op(h) != XMEMI_OP_NONE)
        note(text, len, &rep->pending, "list %d: %s of slot %u by process slot %u half done",
             (int)list, xmemi_head_op(h) == XMEMI_OP_POP ? "pop" : "push", xmemi_head_index(h),
             xmemi_head_actor(h));
    uint32_t at = xmemi_head_index(h);
    for (uint32_t steps = 0; at != XMEMI_NIL; steps++) {
        if (at >= pool->capacity || steps > pool->capacity) {
            note(text, len, &rep->broken_lists, "list %d: %s", (int)list,
                 at >= pool->capacity ? "index out of range" : "a cycle");
            return;
        }
        const xmemi_record *rec = &r->records[at];
        uint64_t capacity = atomic_load(&((xmemi_record *)rec)->capacity);
        int home = capacity ? (int)xmemi_list_of(rec->storage, rec->device, rec->size_class) : -1;
        if (seen[at] < 255)
            seen[at]++;
        if (seen[at] == 2)
            note(text, len, &rep->misfiled, "slot %u is on a list twice", at);
        else if (home != (int)list)
            note(text, len, &rep->misfiled, "slot %u is on list %d, its own is %d", at, (int)list,
                 home);
        at = atomic_load(&((xmemi_record *)rec)->next_free);
    }
}

xmem_err xmem_pool_audit(const xmem_pool_t *pool, xmem_pool_audit_report *out, size_t size,
                         xmem_error_t *err)
{
    const xmemi_meta_region *r = &pool->region;
    xmem_pool_audit_report rep = {0};
    char text[XMEM_ERROR_MSG_MAX] = "";
    uint8_t *seen = calloc(pool->capacity, 1);
    if (!seen)
        return xmemi_fail(err, XMEM_ENOMEM, 0, "pool '%s': no memory for the audit", pool->name);
    for (uint32_t c = 0; c < XMEMI_NUM_LISTS; c++)
        walk(pool, &r->hdr->free_heads[c], c, seen, &rep, text, sizeof text);
    walk(pool, &r->hdr->unbacked_head, (uint32_t)-1, seen, &rep, text, sizeof text);

    uint32_t epochs[XMEM_POOL_MAX_PROCS];
    bool attached[XMEM_POOL_MAX_PROCS];
    for (uint32_t p = 0; p < XMEM_POOL_MAX_PROCS; p++) {
        const xmemi_proc_entry *e = &r->hdr->procs[p];
        uint64_t who = atomic_load(&((xmemi_proc_entry *)e)->who);
        epochs[p] = atomic_load(&((xmemi_proc_entry *)e)->epoch);
        bool alive = who && xmemi_proc_alive(xmemi_who_pid(who), xmemi_who_start(who));
        attached[p] = xmemi_who_state(who) == XMEMI_PROC_ATTACHED && alive;
        if (attached[p])
            rep.procs_attached++;
        else if (who && !alive)
            note(text, sizeof text, &rep.procs_stuck, "process slot %u: %s by dead pid %d", p,
                 xmemi_who_state(who) == XMEMI_PROC_RECLAIMING ? "reclaimed" : "attached",
                 (int)xmemi_who_pid(who));
    }

    for (uint32_t i = 0; i < pool->capacity; i++) {
        xmemi_record *rec = &r->records[i];
        uint64_t life = xmemi_life_load(rec);
        unsigned state = xmemi_life_state(life);
        uint64_t refs = 0;
        for (uint32_t p = 0; p < XMEM_POOL_MAX_PROCS; p++) {
            uint64_t w = atomic_load(&rec->owner_refs[p]);
            uint32_t n = xmemi_ref_count(w);
            refs += n;
            if (n && (state != XMEMI_LIVE || !attached[p] || xmemi_ref_epoch(w) != epochs[p]))
                note(text, sizeof text, &rep.stray_refs,
                     "slot %u: %u reference%s of process slot %u (%s)", i, n, xmemi_s(n), p,
                     state != XMEMI_LIVE ? "the buffer is free" : "its attachment is gone");
        }
        if (state == XMEMI_LIVE) {
            rep.live++;
            if (refs == 0)
                note(text, sizeof text, &rep.orphans, "slot %u is live with no reference", i);
            if (seen[i])
                note(text, sizeof text, &rep.misfiled, "slot %u is live and on a free list", i);
        } else if (state == XMEMI_LISTED) {
            if (seen[i])
                rep.listed++;
            else
                note(text, sizeof text, &rep.lost, "slot %u is free and on no list", i);
        } else {
            uint32_t by = xmemi_life_holder(life);
            if (attached[by])
                note(text, sizeof text, &rep.held, "slot %u is held %s by process slot %u", i,
                     state == XMEMI_TAKEN ? "taken" : "freeing", by);
            else
                note(text, sizeof text, &rep.lost,
                     "slot %u is held %s by process slot %u, which is gone", i,
                     state == XMEMI_TAKEN ? "taken" : "freeing", by);
        }
    }
    free(seen);
    if (out)
        xmemi_copy_sized(out, size, &rep, sizeof rep);
    if (rep.held || rep.lost || rep.orphans || rep.misfiled || rep.stray_refs || rep.broken_lists ||
        rep.pending || rep.procs_stuck)
        return xmemi_fail(err, XMEM_ECORRUPT, 0, "pool '%s': %s", pool->name, text);
    return XMEM_OK;
}
