/* Free lists (free_list.h). A pop or a push is three steps: install the operation in the head
 * (one CAS, naming the slot and the actor), mark the slot's life (TAKEN by the popper, or LISTED
 * for a push), clear the operation. Anyone who finds an operation pending finishes it before
 * doing its own, so every list is only ever half way through one operation, which any process can
 * complete: a slot is on a list, or marked with the process slot that holds it. */
#define _GNU_SOURCE
#include "free_list.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Finishes the operation pending in head value `h`, read from *head just before, if it is still
 * there. The slot's life and link are read while `h` is seen in the head, so they belong to the
 * operation `h` names (a slot at a pending head changes only by that operation's mark). */
static void finish(xmemi_meta_region *r, _Atomic uint64_t *head, uint64_t h)
{
    uint32_t index = xmemi_head_index(h);
    xmemi_record *rec = &r->records[index];
    uint64_t life = atomic_load_explicit(&rec->life, memory_order_acquire);
    uint32_t next = atomic_load_explicit(&rec->next_free, memory_order_acquire);
    if (atomic_load_explicit(head, memory_order_acquire) != h)
        return; /* finished by someone else meanwhile */
    uint32_t actor = xmemi_head_actor(h);
    uint32_t gen = xmemi_life_generation(life);
    if (xmemi_head_op(h) == XMEMI_OP_POP) {
        if (xmemi_life_state(life) == XMEMI_LISTED)
            atomic_compare_exchange_strong_explicit(&rec->life, &life,
                                                    xmemi_life_make(gen, XMEMI_TAKEN, actor),
                                                    memory_order_acq_rel, memory_order_relaxed);
        atomic_compare_exchange_strong_explicit(
            head, &h, xmemi_head_make(xmemi_head_tag(h) + 1, XMEMI_OP_NONE, 0, next),
            memory_order_acq_rel, memory_order_relaxed);
    } else {
        if (xmemi_life_state(life) == XMEMI_FREEING && xmemi_life_holder(life) == actor)
            atomic_compare_exchange_strong_explicit(&rec->life, &life,
                                                    xmemi_life_make(gen, XMEMI_LISTED, 0),
                                                    memory_order_acq_rel, memory_order_relaxed);
        atomic_compare_exchange_strong_explicit(
            head, &h, xmemi_head_make(xmemi_head_tag(h) + 1, XMEMI_OP_NONE, 0, index),
            memory_order_acq_rel, memory_order_relaxed);
    }
}

uint32_t xmemi_list_pop(xmemi_meta_region *r, _Atomic uint64_t *head, uint32_t me)
{
    for (;;) {
        uint64_t h = atomic_load_explicit(head, memory_order_acquire);
        if (xmemi_head_op(h) != XMEMI_OP_NONE) {
            finish(r, head, h);
            continue;
        }
        uint32_t index = xmemi_head_index(h);
        if (index == XMEMI_NIL)
            return XMEMI_NIL;
        xmemi_record *rec = &r->records[index];
        /* Read after the head: if the CAS below succeeds the head did not change since, so these
         * are the values of a slot at the top of the list, LISTED, with its link. */
        uint64_t life = atomic_load_explicit(&rec->life, memory_order_acquire);
        uint32_t next = atomic_load_explicit(&rec->next_free, memory_order_acquire);
        uint64_t pending = xmemi_head_make(xmemi_head_tag(h) + 1, XMEMI_OP_POP, me, index);
        if (!atomic_compare_exchange_weak_explicit(head, &h, pending, memory_order_acq_rel,
                                                   memory_order_relaxed))
            continue;
        /* Ours from here. Either step may already have been done by a helper: a failed CAS then
         * only means it is done. */
        atomic_compare_exchange_strong_explicit(
            &rec->life, &life, xmemi_life_make(xmemi_life_generation(life), XMEMI_TAKEN, me),
            memory_order_acq_rel, memory_order_relaxed);
        atomic_compare_exchange_strong_explicit(
            head, &pending, xmemi_head_make(xmemi_head_tag(h) + 2, XMEMI_OP_NONE, 0, next),
            memory_order_acq_rel, memory_order_relaxed);
        return index;
    }
}

/* Notes that a class list holds (or held) slots, so a reclaim looks at it: of the 1152 lists a
 * pool has, a graph uses a handful. */
static void mark_used(xmemi_meta_region *r, _Atomic uint64_t *head)
{
    if (head == &r->hdr->unbacked_head)
        return; /* always looked at */
    size_t list = (size_t)(head - r->hdr->free_heads);
    _Atomic uint64_t *word = &r->hdr->lists_used[list / 64];
    uint64_t bit = 1ull << (list % 64);
    if (!(atomic_load_explicit(word, memory_order_relaxed) & bit))
        atomic_fetch_or_explicit(word, bit, memory_order_release);
}

void xmemi_list_push(xmemi_meta_region *r, _Atomic uint64_t *head, uint32_t index, uint64_t life,
                     uint32_t me)
{
    xmemi_record *rec = &r->records[index];
    mark_used(r, head); /* before the push can be pending */
    for (;;) {
        uint64_t h = atomic_load_explicit(head, memory_order_acquire);
        if (xmemi_head_op(h) != XMEMI_OP_NONE) {
            finish(r, head, h);
            continue;
        }
        atomic_store_explicit(&rec->next_free, xmemi_head_index(h), memory_order_relaxed);
        uint64_t pending = xmemi_head_make(xmemi_head_tag(h) + 1, XMEMI_OP_PUSH, me, index);
        if (!atomic_compare_exchange_weak_explicit(head, &h, pending, memory_order_acq_rel,
                                                   memory_order_relaxed))
            continue;
        /* A FREEING life is entered once per generation, so this CAS cannot act on a later one. */
        atomic_compare_exchange_strong_explicit(
            &rec->life, &life, xmemi_life_make(xmemi_life_generation(life), XMEMI_LISTED, 0),
            memory_order_acq_rel, memory_order_relaxed);
        atomic_compare_exchange_strong_explicit(
            head, &pending, xmemi_head_make(xmemi_head_tag(h) + 2, XMEMI_OP_NONE, 0, index),
            memory_order_acq_rel, memory_order_relaxed);
        return;
    }
}

static void finish_head(xmemi_meta_region *r, _Atomic uint64_t *head, uint32_t actor)
{
    uint64_t h = atomic_load_explicit(head, memory_order_acquire);
    if (xmemi_head_op(h) != XMEMI_OP_NONE && xmemi_head_actor(h) == actor)
        finish(r, head, h);
}

void xmemi_lists_finish(xmemi_meta_region *r, uint32_t actor)
{
    /* A pop installs itself only on a list with a slot on it, so a list never pushed to has none
     * pending. */
    for (uint32_t w = 0; w < (XMEMI_NUM_LISTS + 63) / 64; w++) {
        uint64_t used = atomic_load_explicit(&r->hdr->lists_used[w], memory_order_acquire);
        for (; used; used &= used - 1)
            finish_head(r, &r->hdr->free_heads[w * 64 + (uint32_t)__builtin_ctzll(used)], actor);
    }
    finish_head(r, &r->hdr->unbacked_head, actor);
}

_Atomic uint64_t *xmemi_list_home(xmemi_meta_region *r, uint32_t index, uint32_t *list)
{
    xmemi_record *rec = &r->records[index];
    if (!atomic_load_explicit(&rec->capacity, memory_order_acquire)) {
        *list = UINT32_MAX;
        return &r->hdr->unbacked_head;
    }
    *list = xmemi_list_of(rec->storage, rec->device, rec->size_class);
    return &r->hdr->free_heads[*list];
}

void xmemi_slot_push_free(xmemi_meta_region *r, uint32_t index, uint64_t life, uint32_t me)
{
    uint32_t list;
    _Atomic uint64_t *head = xmemi_list_home(r, index, &list);
    xmemi_list_push(r, head, index, life, me);
    /* A load of a word nobody writes while nobody waits: no system call in the common case. */
    if (list != UINT32_MAX &&
        atomic_load_explicit(&r->hdr->class_waiters[list], memory_order_seq_cst))
        syscall(SYS_futex, xmemi_class_futex(r, list), FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

void xmemi_slot_untake(xmemi_meta_region *r, uint32_t index, uint64_t taken, uint32_t me)
{
    uint64_t freeing = xmemi_life_make(xmemi_life_generation(taken) + 1, XMEMI_FREEING, me);
    if (atomic_compare_exchange_strong_explicit(&r->records[index].life, &taken, freeing,
                                                memory_order_acq_rel, memory_order_relaxed))
        xmemi_slot_push_free(r, index, freeing, me);
}
