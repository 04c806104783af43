/* The pool's free lists: lock-free stacks of free slots whose every step can be finished by
 * someone else (see the list head in meta_region.h), and the futex an acquire sleeps on. */
#ifndef XMEM_CORE_FREE_LIST_H
#define XMEM_CORE_FREE_LIST_H

#include <stdint.h>

#include "meta_region.h"

/* Takes the top slot of a list for process slot `me`: on return (not XMEMI_NIL) it is off every
 * list, TAKEN by `me`, and nobody else's. XMEMI_NIL when the list is empty. */
uint32_t xmemi_list_pop(xmemi_meta_region *r, _Atomic uint64_t *head, uint32_t me);

/* Puts slot `index`, FREEING by `me` with life `life`, on a list; it ends LISTED. */
void xmemi_list_push(xmemi_meta_region *r, _Atomic uint64_t *head, uint32_t index, uint64_t life,
                     uint32_t me);

/* Finishes whatever operation of process slot `actor` is pending on any list head (the reclaim
 * of a dead `actor`, before it looks at the slots `actor` held). */
void xmemi_lists_finish(xmemi_meta_region *r, uint32_t actor);

/* The list a free slot goes back to: its class's (capacity set), else the unbacked one. */
_Atomic uint64_t *xmemi_list_home(xmemi_meta_region *r, uint32_t index, uint32_t *list);

/* Puts a slot held FREEING by `me` (life `life`) back on its list and wakes acquires waiting on
 * that list. */
void xmemi_slot_push_free(xmemi_meta_region *r, uint32_t index, uint64_t life, uint32_t me);

/* Puts a slot held TAKEN (life `taken`) back on its list, one generation on (a slot that was never
 * handed out still gets a new generation, so each FREEING life is new). `me` is the holder, or
 * the reclaimer acting in a dead holder's name. */
void xmemi_slot_untake(xmemi_meta_region *r, uint32_t index, uint64_t taken, uint32_t me);

/* The 32-bit futex word of a free list: the low half of its head, whose tag changes at every
 * step of every push and pop. */
static inline _Atomic uint32_t *xmemi_class_futex(xmemi_meta_region *r, uint32_t list)
{
    _Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the tag is the low half");
    return (_Atomic uint32_t *)&r->hdr->free_heads[list];
}

#endif
