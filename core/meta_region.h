/* The pool's metadata region: one POSIX shm object "/<pool>_meta" holding a header (layout checks,
 * free lists, process table) and one record per buffer. Every process attached to the pool maps it;
 * all shared state of the pool lives here, changed only with atomics. The words that carry the
 * books (a record's life and owner counts, a list head, a process slot's owner) each change in
 * single atomic steps that leave a state someone can finish: docs/CRASH.md says which. */
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
#define XMEMI_META_LAYOUT_VERSION 3u
#define XMEMI_NUM_CLASSES 128    /* size classes: 4 per doubling from 4 KiB up to 1 TiB */
#define XMEMI_MAX_CUDA_DEVICES 8 /* CUDA devices a pool keeps free lists for */
/* Free lists: one per size class for CPU buffers, then one per class for each CUDA device. */
#define XMEMI_NUM_LISTS (XMEMI_NUM_CLASSES * (1 + XMEMI_MAX_CUDA_DEVICES))
#define XMEMI_CUDA_RESERVED 192 /* bytes per record for its CUDA allocation (xmemi_cuda_slot) */

_Static_assert(XMEM_POOL_MAX_PROCS == 64, "process slots are 6 bits in the life and head words");
_Static_assert(XMEM_POOL_MAX_CAPACITY <= (1u << 20), "buffer indices are 21 bits in a list head");

/* ---- a record's life ----------------------------------------------------------------------- */

/* One 64-bit word: generation (32) | state (2, bits 8-9) | process slot (6, bits 0-5). The state
 * says where the slot is, and for the two states that are on no list, which process slot holds it
 * there: if that process dies, its reclaim knows to put the slot back. */
enum xmemi_life_state {
    XMEMI_LISTED = 0,  /* free, on a free list (or the pending head of one) */
    XMEMI_TAKEN = 1,   /* free, taken off a list by `holder`, which is handing it out */
    XMEMI_LIVE = 2,    /* handed out: its references are the owner counts */
    XMEMI_FREEING = 3, /* free, held by `holder` on its way back to a list */
};

static inline uint64_t xmemi_life_make(uint32_t generation, unsigned state, uint32_t holder)
{
    return (uint64_t)generation << 32 | (uint64_t)state << 8 | holder;
}

static inline uint32_t xmemi_life_generation(uint64_t life)
{
    return (uint32_t)(life >> 32);
}

static inline unsigned xmemi_life_state(uint64_t life)
{
    return (unsigned)(life >> 8) & 3u;
}

static inline uint32_t xmemi_life_holder(uint64_t life)
{
    return (uint32_t)life & 63u;
}

static inline bool xmemi_life_live(uint64_t life)
{
    return xmemi_life_state(life) == XMEMI_LIVE;
}

/* ---- owner counts -------------------------------------------------------------------------- */

/* One 64-bit word per record and process slot: the slot's attachment epoch (32) | RECLAIMED (1)
 * | count (31). A count belongs to the attachment of its epoch only: adding to it needs that epoch
 * and no RECLAIMED mark, so a reference given to an attachment that is gone (its reclaim marked
 * the word) fails instead of landing where nobody will ever give it back. */
#define XMEMI_REF_RECLAIMED (1u << 31)
#define XMEMI_REF_MAX (1u << 30) /* references one attachment may hold to one buffer */

static inline uint64_t xmemi_ref_make(uint32_t epoch, uint32_t low)
{
    return (uint64_t)epoch << 32 | low;
}

static inline uint32_t xmemi_ref_epoch(uint64_t word)
{
    return (uint32_t)(word >> 32);
}

/* The references a word holds for its epoch (0 once reclaimed). */
static inline uint32_t xmemi_ref_count(uint64_t word)
{
    return (uint32_t)word & XMEMI_REF_RECLAIMED ? 0 : (uint32_t)word;
}

/* ---- list heads ---------------------------------------------------------------------------- */

/* A free list is a lock-free stack linked through the records' next_free. Its head is one 64-bit
 * word: index (21, top) | actor slot (6) | pending operation (2) | tag (35, bottom). A pop or a
 * push first installs itself as the pending operation, then marks the record, then clears the
 * pending operation; whoever finds one pending (any process, or the reclaim of the actor) finishes
 * it first, so a process stopped or killed half way never blocks a list nor leaves a slot on no
 * list unaccounted for. The tag grows at every change (ABA); its low 32 bits are the futex word
 * waiting acquires sleep on. */
#define XMEMI_NIL 0x1fffffu /* end of a free list */
#define XMEMI_HEAD_TAG_BITS 35
#define XMEMI_HEAD_TAG_MASK ((1ull << XMEMI_HEAD_TAG_BITS) - 1)

enum xmemi_head_op { XMEMI_OP_NONE = 0, XMEMI_OP_POP = 1, XMEMI_OP_PUSH = 2 };

static inline uint64_t xmemi_head_make(uint64_t tag, unsigned op, uint32_t actor, uint32_t index)
{
    return (uint64_t)index << 43 | (uint64_t)actor << 37 | (uint64_t)op << 35 |
           (tag & XMEMI_HEAD_TAG_MASK);
}

static inline uint32_t xmemi_head_index(uint64_t head)
{
    return (uint32_t)(head >> 43);
}

static inline uint32_t xmemi_head_actor(uint64_t head)
{
    return (uint32_t)(head >> 37) & 63u;
}

static inline unsigned xmemi_head_op(uint64_t head)
{
    return (unsigned)(head >> 35) & 3u;
}

static inline uint64_t xmemi_head_tag(uint64_t head)
{
    return head & XMEMI_HEAD_TAG_MASK;
}

/* ---- process slots ------------------------------------------------------------------------- */

/* Who holds a process slot: one 64-bit word, state (2, top) | pid (22) | start time (40, clock
 * ticks since boot), so a slot changes hands in one CAS and its holder is always known: the
 * attached process, the one claiming it, or the one reclaiming it. */
enum xmemi_proc_state {
    XMEMI_PROC_FREE = 0,       /* slot unused (the word is 0) */
    XMEMI_PROC_CLAIMING = 1,   /* the process named is filling in the slot */
    XMEMI_PROC_ATTACHED = 2,   /* the process named holds a live handle */
    XMEMI_PROC_RECLAIMING = 3, /* the process named gives back a dead attachment's references */
};

static inline uint64_t xmemi_who_make(unsigned state, pid_t pid, uint64_t start_time)
{
    if (start_time > (1ull << 40) - 1)
        start_time = 0; /* unknown: liveness then rests on the pid alone */
    return (uint64_t)state << 62 | ((uint64_t)pid & 0x3fffffu) << 40 | start_time;
}

static inline unsigned xmemi_who_state(uint64_t who)
{
    return (unsigned)(who >> 62);
}

static inline pid_t xmemi_who_pid(uint64_t who)
{
    return (pid_t)((who >> 40) & 0x3fffffu);
}

static inline uint64_t xmemi_who_start(uint64_t who)
{
    return who & ((1ull << 40) - 1);
}

/* One process slot (one pool handle), on a cache line of its own. */
typedef struct __attribute__((aligned(64))) xmemi_proc_entry {
    _Atomic uint64_t who;   /* xmemi_who_make(state, pid, start time) */
    _Atomic uint32_t epoch; /* grows at every claim: tells this attachment from earlier ones */
    int32_t pid;            /* the attached process, kept while its attachment is reclaimed */
    uint64_t reserved[6];   /* zero */
} xmemi_proc_entry;

/* Grows at every reference a process slot gives back, on a cache line of its own (written on
 * every release; the process table's line is read on every hand-off). A futex word. */
typedef struct __attribute__((aligned(64))) xmemi_release_word {
    _Atomic uint32_t count;   /* releases so far (wraps) */
    _Atomic uint32_t waiters; /* publishers sleeping on it */
    _Atomic uint32_t wake_at; /* the count at which the earliest of them wants waking */
} xmemi_release_word;

/* ---- records and header -------------------------------------------------------------------- */

/* One buffer. Its reference count is the sum of owner_refs, never a separate number: every change
 * of ownership is then a single atomic step on one counter (or, for a hand-over, an increment of
 * the receiver before the decrement of the giver), so a process killed at any instruction leaves
 * counts that its reclaim makes exact. Fields without _Atomic are written only by the single holder
 * of a read-write guard (layout fields) or by the process that holds the slot TAKEN or FREEING
 * (backing fields; capacity last, released, so a slot is never filed under a capacity it lacks). */
typedef struct __attribute__((aligned(64))) xmemi_record {
    _Atomic uint64_t life;      /* xmemi_life_make(generation, state, holder) */
    _Atomic uint32_t next_free; /* next slot on the free list this slot is on, XMEMI_NIL at end */
    uint32_t index;             /* this record's slot number */
    _Atomic uint64_t
        backing_epoch;         /* grows whenever the slot's shm object changes; 0 = never had one */
    _Atomic uint64_t capacity; /* bytes of the slot's shm object (a class size); 0 = none */
    uint64_t size;             /* bytes asked for at acquire */
    uint8_t storage;           /* xmem_storage */
    uint8_t dtype;             /* xmem_dtype */
    uint16_t size_class;       /* free list the slot returns to */
    int32_t device;            /* CUDA ordinal, -1 for CPU */
    uint32_t ndim;             /* dimensions used in shape/strides */
    uint32_t reserved0;        /* zero */
    int64_t shape[XMEM_MAX_NDIM];      /* elements per dimension */
    int64_t strides[XMEM_MAX_NDIM];    /* bytes per step in each dimension */
    uint64_t timestamp_ns;             /* producer's CLOCK_MONOTONIC stamp */
    uint64_t sequence;                 /* producer's frame number */
    uint8_t cuda[XMEMI_CUDA_RESERVED]; /* CUDA slots: an xmemi_cuda_slot; zero for CPU ones */
    _Atomic uint64_t owner_refs[XMEM_POOL_MAX_PROCS]; /* per process slot: xmemi_ref_make */
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
    _Atomic uint64_t free_heads[XMEMI_NUM_LISTS]; /* backed free slots, by list (xmemi_list_of) */
    _Atomic uint64_t unbacked_head;               /* free slots without a shm object yet */
    _Atomic uint64_t lists_used[(XMEMI_NUM_LISTS + 63) / 64]; /* bit per list ever pushed to:
                                                 only those can hold a pending operation */
    _Atomic uint32_t closed; /* set by the creator's destroy: its names are gone, make no more */
    xmemi_proc_entry procs[XMEM_POOL_MAX_PROCS];     /* attached processes */
    _Atomic uint32_t class_waiters[XMEMI_NUM_LISTS]; /* acquires sleeping on a list */
    _Atomic uint32_t slots_used; /* process slots ever claimed + 1 at most: owner counts of the
                                    slots above are all zero, so sums stop here */
    xmemi_release_word releases[XMEM_POOL_MAX_PROCS]; /* per process slot, what a blocked
                                    publisher sleeps on (xmem_pool_wait_releases) */
} xmemi_meta_header;

/* The free list of a backed slot: its size class for CPU storage, or its class among the lists
 * of its CUDA device. */
static inline uint32_t xmemi_list_of(uint8_t storage, int32_t device, uint32_t size_class)
{
    if (storage == XMEM_STORAGE_CUDA && device >= 0 && device < XMEMI_MAX_CUDA_DEVICES)
        return XMEMI_NUM_CLASSES * (1u + (uint32_t)device) + size_class;
    return size_class;
}

static inline uint64_t xmemi_life_load(const xmemi_record *rec)
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

/* Bytes of the region for `capacity` records, and the page size that capacities are counted in
 * (what a tmpfs allocates by). */
size_t xmemi_meta_size(uint32_t capacity);
uint64_t xmemi_page_size(void);

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

#endif
