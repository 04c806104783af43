/* The pool's books, for framework code: moving references between attached processes (what the
 * transport does with every frame), giving back a dead process's references (what a launcher
 * does), and diagnostics that read every record. Applications need none of it: they acquire,
 * publish and receive (pool.h, transport.h). Not included by xmem.h.
 *
 * An owner id names one attachment of a process to a pool (one handle): its slot in the pool's
 * process table and which attachment of that slot it is, so an id outlives neither. */
#ifndef XMEM_POOL_ADMIN_H
#define XMEM_POOL_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <xmem/error.h>
#include <xmem/export.h>
#include <xmem/meta.h>
#include <xmem/pool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An owner id that never names an attachment. */
#define XMEM_OWNER_NONE UINT32_MAX

/* This handle's owner id: what xmem_pool_give() takes to address it. */
XMEM_EXPORT uint32_t xmem_pool_owner_id(const xmem_pool_t *pool);

/* Random number fixed at create: two pools of one name made at different times differ. */
XMEM_EXPORT uint64_t xmem_pool_id(const xmem_pool_t *pool);

/* The pid attached as `owner_id`, or 0 if that attachment is gone. */
XMEM_EXPORT pid_t xmem_pool_owner_pid(const xmem_pool_t *pool, uint32_t owner_id);

/* References to `ref` that attachment `owner_id` holds (0 for a stale or free buffer). */
XMEM_EXPORT uint32_t xmem_pool_owned_by(const xmem_pool_t *pool, xmem_buf_ref ref,
                                        uint32_t owner_id);

/* The live buffers this handle holds references to: fills at most `max` names and counts (either
 * array may be NULL when max is 0) and returns how many such buffers there are. A snapshot. */
XMEM_EXPORT uint32_t xmem_pool_list_owned(const xmem_pool_t *pool, xmem_buf_ref *refs,
                                          uint32_t *counts, uint32_t max);

/* Moves `count` of this process's references to `ref` to the attachment `owner_id`; the
 * refcount does not change. XMEM_EINVAL if that attachment is gone (the caller keeps the
 * references); if it goes later, they come back with the rest of its own. XMEM_ENOTOWNER if this
 * process holds fewer. */
XMEM_EXPORT xmem_err xmem_pool_give(xmem_pool_t *pool, xmem_buf_ref ref, uint32_t owner_id,
                                    uint32_t count, xmem_error_t *err);

/* Moves `count` references to `ref` from attachment `owner_id` back to this process: for a sender
 * that gave references with a message it then failed to deliver, so the receiver never learns of
 * them. The caller must hold a reference itself (which keeps the buffer from being recycled while
 * they move). XMEM_ENOTOWNER if it holds none, or if `owner_id` holds fewer (it may have gone: its
 * references came back). */
XMEM_EXPORT xmem_err xmem_pool_take_back(xmem_pool_t *pool, xmem_buf_ref ref, uint32_t owner_id,
                                         uint32_t count, xmem_error_t *err);

/* Fan-out: one more reference to `ref` for each of the n attachments in owner_ids, from the
 * caller, which holds one and keeps it (so the buffer cannot be recycled meanwhile); given[k] says
 * whether owner_ids[k] got it (false for an attachment that is gone, or the caller itself). The
 * references given are theirs: undo one with xmem_pool_revoke() while still holding yours. */
XMEM_EXPORT xmem_err xmem_pool_share(xmem_pool_t *pool, xmem_buf_ref ref, const uint32_t *owner_ids,
                                     uint32_t n, bool *given, xmem_error_t *err);

/* Takes `count` references to `ref` away from attachment `owner_id` (they are dropped, not moved):
 * for a sender that shared a buffer and could not deliver the message naming it. The caller must
 * hold a reference itself. XMEM_ENOTOWNER if `owner_id` holds fewer (it went, and its references
 * came back, or it gave them back). */
XMEM_EXPORT xmem_err xmem_pool_revoke(xmem_pool_t *pool, xmem_buf_ref ref, uint32_t owner_id,
                                      uint32_t count, xmem_error_t *err);

/* A number that grows every time attachment `owner_id` gives a reference back (it wraps). */
XMEM_EXPORT uint32_t xmem_pool_releases(const xmem_pool_t *pool, uint32_t owner_id);

/* Sleeps until attachment `owner_id` has given `need` references back (at least 1) since
 * xmem_pool_releases() returned `seen` (a futex in the pool, woken by the release that reaches
 * the count), or timeout_ms (negative: no limit) passed, or a signal came: XMEM_OK in each case
 * (the caller looks again), and at once if it happened already. A publisher waiting for room
 * uses it. XMEM_ESYS if the wait itself failed. */
XMEM_EXPORT xmem_err xmem_pool_wait_releases(xmem_pool_t *pool, uint32_t owner_id, uint32_t seen,
                                             uint32_t need, int timeout_ms, xmem_error_t *err);

/* Gives back every reference held by the attachments of process `pid`, which must be dead (a
 * launcher calls it once it reaped a child; a live process's attachments are left alone), and
 * frees them. *returned (may be NULL) receives the number of references given back. */
XMEM_EXPORT xmem_err xmem_pool_reclaim_pid(xmem_pool_t *pool, pid_t pid, uint64_t *returned,
                                           xmem_error_t *err);

/* As xmem_pool_reclaim_pid() for every attachment whose process no longer runs (a reused pid is
 * told apart by its start time). Called by create and open too. */
XMEM_EXPORT xmem_err xmem_pool_reclaim_dead(xmem_pool_t *pool, uint64_t *returned,
                                            xmem_error_t *err);

/* Removes the shm objects of pool `name` if it is stale (its creator and every attached process are
 * dead). XMEM_EEXIST naming a live pid if it is in use, XMEM_ENOENT if there is no such pool. */
XMEM_EXPORT xmem_err xmem_pool_remove_stale(const char *name, xmem_error_t *err);

/* References held by every attachment of process `pid` (a process may attach several times:
 * a node's own handle and one per input). Reads every record: for monitoring, not per frame. */
XMEM_EXPORT uint64_t xmem_pool_held_by_pid(const xmem_pool_t *pool, pid_t pid);

/* One line per attached process with the references it holds, for diagnostics; writes at most
 * `len` bytes including the NUL and returns the length of the whole text, without the NUL (as
 * snprintf does). */
XMEM_EXPORT size_t xmem_pool_describe_holders(const xmem_pool_t *pool, char *buf, size_t len);

/* One attached process (or one whose references are still counted) and what it holds: for
 * monitors (`xmem top`). */
typedef struct xmem_pool_holder {
    pid_t pid;
    uint32_t owner_id; /* its attachment (a process may have several: one line each) */
    uint64_t refs;     /* references it holds, all buffers */
    uint32_t buffers;  /* buffers it holds at least one reference to */
} xmem_pool_holder;

/* Fills at most `max` entries of `size` bytes each (the caller's sizeof *out) with the pool's
 * attachments, attached ones and those holding references, and returns how many there are. Reads
 * every record: for monitoring, not per frame. */
XMEM_EXPORT uint32_t xmem_pool_holders(const xmem_pool_t *pool, xmem_pool_holder *out, size_t size,
                                       uint32_t max);

#define XMEM_POOL_CLASS_HOLDERS 8 /* holders listed per size class */

/* The buffers of one size class (and storage): how many exist, how many are handed out and
 * which processes hold those. */
typedef struct xmem_pool_class_usage {
    uint64_t buffer_bytes; /* capacity of each buffer of the class */
    xmem_storage storage;
    int32_t device;   /* CUDA ordinal, -1 for CPU */
    uint32_t buffers; /* buffers of the class (with memory) */
    uint32_t in_use;  /* of them handed out (live) */
    uint32_t n_holders;
    struct {
        pid_t pid;
        uint32_t buffers;               /* live buffers of the class it holds a reference to */
    } holders[XMEM_POOL_CLASS_HOLDERS]; /* the first n_holders (at most 8) processes */
} xmem_pool_class_usage;

/* Fills at most `max` entries of `size` bytes each (the caller's sizeof *out), smallest class
 * first, and returns how many classes have buffers. Reads every record: for monitoring. */
XMEM_EXPORT uint32_t xmem_pool_class_usage_get(const xmem_pool_t *pool, xmem_pool_class_usage *out,
                                               size_t size, uint32_t max);

/* What xmem_pool_audit() found. Counts of buffers unless said otherwise. */
typedef struct xmem_pool_audit_report {
    uint32_t live;           /* handed out, with references */
    uint32_t listed;         /* free, on their free list */
    uint32_t held;           /* free, held off the lists by a process inside acquire or release */
    uint32_t lost;           /* free, on no list and held by nobody: leaked for good */
    uint32_t orphans;        /* live with no reference: leaked for good */
    uint32_t misfiled;       /* on a list not their own, on two lists, or twice on one */
    uint32_t stray_refs;     /* owner counts on a free buffer, or of an attachment that is gone */
    uint32_t broken_lists;   /* free lists with a cycle or an index out of range */
    uint32_t pending;        /* free lists with an operation half done */
    uint32_t procs_attached; /* process slots of live attachments */
    uint32_t procs_stuck;    /* process slots held by a dead process (attached, claiming or
                                reclaiming): their reclaim has not run or not finished */
} xmem_pool_audit_report;

/* Checks the pool's books as they must be when no process is inside a pool call: every buffer is
 * live with references or free on exactly its own list, every owner count belongs to a live
 * attachment, every list is whole, every process slot free or attached by a live process. For
 * tests, tools and post-mortems: run it once the pool is quiet (after reclaiming the dead); on a
 * busy pool it reports the operations in flight. Fills the first `size` bytes of *out (the
 * caller's sizeof). XMEM_ECORRUPT, naming the first problems, when any count from `held` to
 * `pending` or `procs_stuck` is non-zero. Reads every record: not for the hot path. */
XMEM_EXPORT xmem_err xmem_pool_audit(const xmem_pool_t *pool, xmem_pool_audit_report *out,
                                     size_t size, xmem_error_t *err);

#ifdef __cplusplus
}
#endif

#endif
