/* The pool's process table: attaching a process (claiming a slot), giving back everything a dead
 * attachment held (its reclaim), and owner ids, which name one attachment of one slot. */
#ifndef XMEM_CORE_PROC_TABLE_H
#define XMEM_CORE_PROC_TABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <xmem/error.h>

#include "meta_region.h"

/* Claims a free process slot for (pid, start_time): *slot and *epoch name the attachment.
 * XMEM_EPROCS when the table is full. */
xmem_err xmemi_proc_claim(xmemi_meta_region *r, pid_t pid, uint64_t start_time, uint32_t *slot,
                          uint32_t *epoch, xmem_error_t *err);

/* Reclaims the attachment in `slot` if its word still is `who` (attached or claiming): the word
 * becomes RECLAIMING by (pid, start_time), every reference and slot it held goes back, and the
 * slot is freed. Returns the references given back; 0 if the slot had moved on. */
uint64_t xmemi_proc_reclaim(xmemi_meta_region *r, uint32_t slot, uint64_t who, pid_t pid,
                            uint64_t start_time);

/* Reclaims every slot whose process died: attached, dead while claiming, or left half reclaimed
 * by a reclaimer that died too. `only_pid` > 0 limits it to that pid. (pid, start_time) is the
 * caller, who becomes the reclaimer: it needs no slot of its own. */
uint64_t xmemi_reclaim_dead_slots(xmemi_meta_region *r, pid_t only_pid, pid_t pid,
                                  uint64_t start_time);

/* True if any process in the table (or the creator) still runs; *pid gets one of them. */
bool xmemi_meta_in_use(const xmemi_meta_region *r, pid_t *pid);

/* Owner ids: the slot in the low 6 bits, the attachment's epoch above (modulo 2^26 - 1, so an id
 * is never XMEM_OWNER_NONE). */
static inline uint32_t xmemi_owner_id(uint32_t slot, uint32_t epoch)
{
    return (epoch % 0x3ffffffu) << 6 | slot;
}

static inline uint32_t xmemi_owner_slot(uint32_t owner_id)
{
    return owner_id & 63u;
}

/* The full epoch of the attachment `owner_id` names, if that attachment is still the slot's:
 * false once the slot was freed or claimed again. */
bool xmemi_owner_epoch(const xmemi_meta_region *r, uint32_t owner_id, uint32_t *epoch);

#endif
