/* What a buffer's record in the pool's metadata region says about it, as a plain snapshot.
 * The record itself lives in shared memory (core/meta_region.h) and holds atomics; users read it
 * through xmem_guard_meta() and write its layout fields through a read-write guard. */
#ifndef XMEM_META_H
#define XMEM_META_H

#include <stdint.h>

#include <xmem/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XMEM_MAX_NDIM 8

/* Names one buffer across processes: the slot index and the slot's generation, which grows each
 * time the slot is recycled, so a stale name is refused instead of reaching another frame. */
typedef struct xmem_buf_ref {
    uint32_t index;
    uint32_t generation;
} xmem_buf_ref;

typedef struct xmem_meta {
    xmem_buf_ref ref;               /* index and generation */
    uint32_t refcount;              /* total references, all processes */
    xmem_storage storage;           /* CPU shm or CUDA */
    int32_t device;                 /* CUDA device ordinal, -1 for CPU */
    xmem_dtype dtype;               /* element type, XMEM_DTYPE_UNKNOWN until set */
    uint32_t ndim;                  /* number of dimensions in shape, 0..XMEM_MAX_NDIM */
    int64_t shape[XMEM_MAX_NDIM];   /* elements per dimension */
    int64_t strides[XMEM_MAX_NDIM]; /* bytes between consecutive elements of each dimension */
    uint64_t size;                  /* bytes asked for at acquire */
    uint64_t capacity;              /* bytes mapped (>= size, a page multiple) */
    uint64_t timestamp_ns;          /* producer's CLOCK_MONOTONIC time, 0 until set */
    uint64_t sequence;              /* producer's frame number, 0 until set */
} xmem_meta_t;

#ifdef __cplusplus
}
#endif

#endif
