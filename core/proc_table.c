/* The process table (proc_table.h). A slot's holder changes in one CAS of its `who` word, which
 * always names a process: so a reclaimer killed at any instruction leaves a slot RECLAIMING by a
 * dead process, which the next reclaim takes over and finishes. Everything a reclaim does is done
 * in the dead slot's name (its marks on records and list heads) and can be done again, so a
 * reclaimer needs no slot of its own and a takeover simply runs it again. */
#define _GNU_SOURCE
#include "proc_table.h"

#include <stdio.h>

#include "common/fail.h"
#include "common/proc.h"
#include "free_list.h"
#include "record.h"

xmem_err xmemi_proc_claim(xmemi_meta_region *r, pid_t pid, uint64_t start_time, uint32_t *slot,
                          uint32_t *epoch, xmem_error_t *err)
{
    for (uint32_t i = 0; i < XMEM_POOL_MAX_PROCS; i++) {
        xmemi_proc_entry *p = &r->hdr->procs[i];
        uint64_t free_word = 0;
        uint64_t claiming = xmemi_who_make(XMEMI_PROC_CLAIMING, pid, start_time);
        if (!atomic_compare_exchange_strong(&p->who, &free_word, claiming))
            continue;
        /* A death from here on leaves the slot CLAIMING by a dead process: reclaimed like an
         * attachment (it holds nothing yet). */
        uint32_t e = atomic_load(&p->epoch) + 1;
        atomic_store(&p->epoch, e);
        /* Before any count of this slot can be non-zero: sums read the slots below it only. */
        uint32_t used = atomic_load(&r->hdr->slots_used);
        while (used < i + 1 && !atomic_compare_exchange_weak(&r->hdr->slots_used, &used, i + 1)) {
        }
        p->pid = pid;
        atomic_store_explicit(&p->who, xmemi_who_make(XMEMI_PROC_ATTACHED, pid, start_time),
                              memory_order_release);
        *slot = i;
        *epoch = e;
        return XMEM_OK;
    }
    return xmemi_fail(err, XMEM_EPROCS, 0, "pool '%s': all %d process slots are attached",
                      r->hdr->name, XMEM_POOL_MAX_PROCS);
}

/* Gives back what slot `s` (attachment `epoch`) held, in its name; idempotent. */
static uint64_t reclaim_body(xmemi_meta_region *r, uint32_t s, uint32_t epoch)
{
    /* Its half-done pop or push first: then every slot it marks is off the lists. */
    xmemi_lists_finish(r, s);
    uint64_t returned = 0;
    for (uint32_t i = 0; i < r->hdr->capacity; i++) {
        xmemi_record *rec = &r->records[i];
        returned += xmemi_ref_seize(&rec->owner_refs[s], epoch);
        uint64_t life = xmemi_life_load(rec);
        unsigned state = xmemi_life_state(life);
        if (state == XMEMI_TAKEN && xmemi_life_holder(life) == s)
            xmemi_slot_untake(r, i, life, s); /* died acquiring it */
        else if (state == XMEMI_FREEING && xmemi_life_holder(life) == s)
            xmemi_slot_push_free(r, i, life, s); /* died giving it back */
        else if (state == XMEMI_LIVE)
            /* Also a live buffer nobody owns: its last holder released it but died before
             * recycling it. (A live one is never unowned otherwise: acquire owns before it
             * marks live, and hand-overs add before they take.) */
            xmemi_record_try_free(r, i, s);
    }
    return returned;
}

uint64_t xmemi_proc_reclaim(xmemi_meta_region *r, uint32_t slot, uint64_t who, pid_t pid,
                            uint64_t start_time)
{
    xmemi_proc_entry *p = &r->hdr->procs[slot];
    uint64_t mine = xmemi_who_make(XMEMI_PROC_RECLAIMING, pid, start_time);
    if (!atomic_compare_exchange_strong(&p->who, &who, mine))
        return 0;
    uint64_t returned = reclaim_body(r, slot, atomic_load(&p->epoch));
    p->pid = 0;
    atomic_compare_exchange_strong_explicit(&p->who, &mine, 0, memory_order_release,
                                            memory_order_relaxed);
    return returned;
}

uint64_t xmemi_reclaim_dead_slots(xmemi_meta_region *r, pid_t only_pid, pid_t pid,
                                  uint64_t start_time)
{
    uint64_t total = 0;
    for (uint32_t slot = 0; slot < XMEM_POOL_MAX_PROCS; slot++) {
        uint64_t who = atomic_load_explicit(&r->hdr->procs[slot].who, memory_order_acquire);
        unsigned state = xmemi_who_state(who);
        if (state == XMEMI_PROC_FREE)
            continue;
        /* Whoever the word names (the attached process, or a reclaimer) must be dead. A slot
         * another thread of this process reclaims is alive by that test. */
        if (xmemi_proc_alive(xmemi_who_pid(who), xmemi_who_start(who)))
            continue;
        if (state != XMEMI_PROC_RECLAIMING && only_pid > 0 && xmemi_who_pid(who) != only_pid)
            continue;
        total += xmemi_proc_reclaim(r, slot, who, pid, start_time);
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
        uint64_t who = atomic_load(&((xmemi_meta_header *)h)->procs[i].who);
        if (who && xmemi_proc_alive(xmemi_who_pid(who), xmemi_who_start(who))) {
            *pid = xmemi_who_pid(who);
            return true;
        }
    }
    return false;
}

bool xmemi_owner_epoch(const xmemi_meta_region *r, uint32_t owner_id, uint32_t *epoch)
{
    const xmemi_proc_entry *p = &r->hdr->procs[xmemi_owner_slot(owner_id)];
    uint64_t who = atomic_load_explicit(&((xmemi_proc_entry *)p)->who, memory_order_acquire);
    uint32_t e = atomic_load_explicit(&((xmemi_proc_entry *)p)->epoch, memory_order_acquire);
    if (xmemi_who_state(who) != XMEMI_PROC_ATTACHED ||
        xmemi_owner_id(xmemi_owner_slot(owner_id), e) != owner_id)
        return false;
    *epoch = e;
    return true;
}
