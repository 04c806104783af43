/* The pool's metadata region: one POSIX shm object "/<pool>_meta" holding a header (layout checks,
 * free lists, process table) and one record per buffer. Every process attached to the pool maps it;
 * all shared state of the pool lives here, changed only with atomics. */
#ifndef XMEM_CORE_META_REGION_H
#define XMEM_CORE_META_REGION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <xmem/error.h>
#include <xmem/meta.h>
#include <xmem/pool.h>

#include "shm.h"

#define XMEMI_META_MAGIC 0x314c4f4f504d4d58ull /* "XMMPOOL1" little-endian */
#define XMEMI_META_LAYOUT_VERSION 2u
#define XMEMI_NUM_CLASSES 128    /* size classes: 4 per doubling from 4 KiB up to 1 TiB */
#define XMEMI_MAX_CUDA_DEVICES 8 /* CUDA devices a pool keeps free lists for */
/* Free lists: one per size class for CPU buffers, then one per class for each CUDA device. */
#define XMEMI_NUM_LISTS (XMEMI_NUM_CLASSES * (1 + XMEMI_MAX_CUDA_DEVICES))
#define XMEMI_NIL UINT32_MAX    /* end of a free list */
#define XMEMI_CUDA_RESERVED 192 /* bytes per record for its CUDA allocation (xmemi_cuda_slot) */

enum xmemi_proc_state {
    XMEMI_PROC_FREE = 0,       /* slot unused */
    XMEMI_PROC_CLAIMING = 1,   /* a process is filling in its pid */
    XMEMI_PROC_ATTACHED = 2,   /* pid holds a live handle */
    XMEMI_PROC_RECLAIMING = 3, /* its references are being given back */
};

/* One attached process (one pool handle), on a cache line of its own: its journal is written on
 * every acquire and free, and must not share a line with another process's. */
typedef struct __attribute__((aligned(64))) xmemi_proc_entry {
    _Atomic uint32_t state;     /* enum xmemi_proc_state */
    _Atomic uint32_t epoch;     /* grows at every claim, so a reused slot is told apart */
    int32_t pid;                /* the attached process */
    _Atomic uint32_t acquiring; /* slot it is taking off a free list, XMEMI_NIL otherwise: if it
                                   dies there, the slot would be on no list and owned by nobody */
    uint64_t start_time;        /* its start time (/proc/PID/stat field 22), to tell a reused pid */
    _Atomic int32_t reclaimer;  /* pid giving back this slot's references (RECLAIMING) */
    uint32_t reserved;          /* zero */
} xmemi_proc_entry;

/* One buffer. Its reference count is the sum of owner_refs, never a separate number: every change
 * of ownership is then a single atomic step on one counter (or, for a hand-over, an increment of
 * the receiver before the decrement of the giver), so a process killed at any instruction leaves
 * counts that its reclaim makes exact. Fields without _Atomic are written only by the single holder
 * of a read-write guard (layout fields) or by the process that popped the slot off a free list
 * (backing fields). */
typedef struct __attribute__((aligned(64))) xmemi_record {
    _Atomic uint32_t life;      /* 2 x generation, + 1 while handed out (see xmemi_life_*) */
    uint32_t reserved1;         /* zero */
    _Atomic uint32_t next_free; /* next slot on the free list this slot is on, XMEMI_NIL at end */
    uint32_t index;             /* this record's slot number */
    _Atomic uint64_t
        backing_epoch;   /* grows whenever the slot's shm object changes; 0 = never had one */
    uint64_t capacity;   /* bytes of the slot's shm object (a class size); 0 = none */
    uint64_t size;       /* bytes asked for at acquire */
    uint8_t storage;     /* xmem_storage */
    uint8_t dtype;       /* xmem_dtype */
    uint16_t size_class; /* free list the slot returns to */
    int32_t device;      /* CUDA ordinal, -1 for CPU */
    uint32_t ndim;       /* dimensions used in shape/strides */
    uint32_t reserved0;  /* zero */
    int64_t shape[XMEM_MAX_NDIM];      /* elements per dimension */
    int64_t strides[XMEM_MAX_NDIM];    /* bytes per step in each dimension */
    uint64_t timestamp_ns;             /* producer's CLOCK_MONOTONIC stamp */
    uint64_t sequence;                 /* producer's frame number */
    uint8_t cuda[XMEMI_CUDA_RESERVED]; /* CUDA slots: an xmemi_cuda_slot; zero for CPU ones */
    _Atomic uint32_t owner_refs[XMEM_POOL_MAX_PROCS]; /* references each process slot holds */
} xmemi_record;

/* Start of the region. Written once by the creator before `magic` is published, except the
 * free-list heads and the process table, which change atomically. */
typedef struct __attribute__((aligned(64))) xmemi_meta_header {
    _Atomic uint64_t magic;  /* XMEMI_META_MAGIC, stored last at create: its presence means ready */
    uint32_t layout_version; /* XMEMI_META_LAYOUT_VERSION */
    uint32_t header_size;    /* sizeof(xmemi_meta_header) */
    uint32_t record_size;    /* sizeof(xmemi_record) */
    uint32_t capacity;       /* number of records */
    uint32_t max_procs;      /* XMEM_POOL_MAX_PROCS */
    uint32_t num_classes;    /* XMEMI_NUM_CLASSES */
    uint32_t num_lists;      /* XMEMI_NUM_LISTS */
    char name[XMEM_POOL_NAME_MAX + 1]; /* the pool's name, for diagnostics */
    int32_t creator_pid;               /* the process that created the pool */
    uint64_t creator_start_time;       /* its start time */
    uint64_t page_size;                /* granularity of buffer capacities */
    uint64_t pool_id; /* random at create: tells this pool from an older one of the name */
    /* Free lists: (tag << 32 | index) heads of lock-free stacks linked through next_free. The tag
     * grows at every change so a slot popped and pushed back meanwhile fails the CAS (ABA). */
    _Atomic uint64_t free_heads[XMEMI_NUM_LISTS]; /* backed free slots, by list (xmemi_list_of) */
    _Atomic uint64_t unbacked_head;               /* free slots without a shm object yet */
    _Atomic uint32_t closed; /* set by the creator's destroy: its names are gone, make no more */
    xmemi_proc_entry procs[XMEM_POOL_MAX_PROCS];     /* attached processes */
    _Atomic uint32_t class_waiters[XMEMI_NUM_LISTS]; /* acquires sleeping on a list */
} xmemi_meta_header;

/* The free list of a backed slot: its size class for CPU storage, or its class among the lists
 * of its CUDA device. */
static inline uint32_t xmemi_list_of(uint8_t storage, int32_t device, uint32_t size_class)
{
    if (storage == XMEM_STORAGE_CUDA && device >= 0 && device < XMEMI_MAX_CUDA_DEVICES)
        return XMEMI_NUM_CLASSES * (1u + (uint32_t)device) + size_class;
    return size_class;
}

/* A record's life is one word, so that freeing a buffer and starting its next generation is a
 * single CAS from "generation g, live" to "generation g + 1, free": a CAS that read an earlier life
 * can never free a later one (the ABA a separate state and generation would allow). */
static inline uint32_t xmemi_life_generation(uint32_t life)
{
    return life >> 1;
}

static inline bool xmemi_life_live(uint32_t life)
{
    return life & 1u;
}

static inline uint32_t xmemi_life_load(const xmemi_record *rec)
{
    return atomic_load_explicit(&((xmemi_record *)rec)->life, memory_order_acquire);
}

typedef struct xmemi_meta_region {
    xmemi_shm shm;
    xmemi_meta_header *hdr;
    xmemi_record *records;
} xmemi_meta_region;

/* "/<pool>_meta" and "/<pool>_<index>". `out` holds XMEMI_SHM_NAME_MAX bytes. */
void xmemi_meta_shm_name(const char *pool, char *out);
void xmemi_buffer_shm_name(const char *pool, uint32_t index, char *out);

/* Checks a pool name: XMEM_ENAME naming what is wrong. */
xmem_err xmemi_pool_name_check(const char *name, xmem_error_t *err);

/* Creates and initialises the region (all slots free and unbacked, index 0 first). XMEM_EEXIST if
 * the shm object exists. The caller owns the mapping. */
xmem_err xmemi_meta_create(const char *pool, uint32_t capacity, xmemi_meta_region *out,
                           xmem_error_t *err);

/* Opens and checks an existing region. XMEM_ENOENT or XMEM_ELAYOUT (naming the pool and field). */
xmem_err xmemi_meta_open(const char *pool, xmemi_meta_region *out, xmem_error_t *err);

void xmemi_meta_close(xmemi_meta_region *region);

/* Size class of a byte count and the capacity of a class, in bytes (page_size granularity). */
uint32_t xmemi_size_class(uint64_t size, uint64_t page_size);
uint64_t xmemi_class_capacity(uint32_t size_class, uint64_t page_size);

/* Lock-free free lists. pop writes the slot it is about to take to *journal first (a process's
 * `acquiring`), so a death between the pop and the first owner count can be repaired. */
uint32_t xmemi_free_pop(xmemi_meta_region *r, _Atomic uint64_t *head, _Atomic uint32_t *journal);
void xmemi_free_push(xmemi_meta_region *r, _Atomic uint64_t *head, uint32_t index);

/* Puts a free slot back on the list its storage belongs to (its class, or unbacked), and wakes
 * acquires waiting on that class. */
void xmemi_slot_push_free(xmemi_meta_region *r, uint32_t index);

/* The 32-bit futex word of a free list: the tag half of its head, which changes at every push
 * and pop. */
static inline _Atomic uint32_t *xmemi_class_futex(xmemi_meta_region *r, uint32_t list)
{
    _Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the tag is the upper half");
    return (_Atomic uint32_t *)&r->hdr->free_heads[list] + 1;
}

/* References to a record: the sum of its owner counts. */
uint64_t xmemi_record_refs(const xmemi_record *rec);

/* Claims a process slot for (pid, start_time); XMEM_EPROCS when the table is full. */
xmem_err xmemi_proc_claim(xmemi_meta_region *r, pid_t pid, uint64_t start_time, uint32_t *slot,
                          xmem_error_t *err);

/* Gives back every reference process slot `slot` holds and frees the slot, if it is still the
 * attachment of `epoch` (a slot freed and claimed again meanwhile is left alone); returns how
 * many. Only one caller wins the slot. `journal` is the caller's own, NULL before it has one. */
uint64_t xmemi_proc_reclaim(xmemi_meta_region *r, uint32_t slot, uint32_t epoch,
                            _Atomic uint32_t *journal);

/* Reclaims every slot whose process died: attached, dead while claiming, or left half reclaimed
 * by a reclaimer that died too. `only_pid` > 0 limits it to that pid (taken as dead). */
uint64_t xmemi_reclaim_dead_slots(xmemi_meta_region *r, pid_t only_pid, _Atomic uint32_t *journal);

/* Recycles a live buffer nobody holds a reference to (generation + 1, back on its free list).
 * Safe to race: once every owner count is zero no reference can appear, and one caller wins.
 * `journal` (the caller's `acquiring`, or NULL) names the slot while it is on no list. */
bool xmemi_record_try_free(xmemi_meta_region *r, uint32_t index, _Atomic uint32_t *journal);

/* True if any process in the table (or the creator) still runs; *pid gets one of them. */
bool xmemi_meta_in_use(const xmemi_meta_region *r, pid_t *pid);

#endif
