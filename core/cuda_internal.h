/* CUDA slots inside the core (include/xmem/cuda.h): the part of a record a CUDA allocation uses,
 * and the hooks the pool and the CPU buffer code call. With CUDA they are in cuda.c; without it
 * cuda_none.c makes every public call fail with XMEM_ECUDA and the hooks do nothing. */
#ifndef XMEM_CORE_CUDA_INTERNAL_H
#define XMEM_CORE_CUDA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "meta_region.h"
#include "pool_internal.h"

/* In a CUDA slot's record (xmemi_record.cuda), written by the creator before the slot is first
 * pushed on a free list, read-only afterwards. Handles are kept as their bytes: the core's
 * shared layout does not depend on CUDA headers. */
typedef struct xmemi_cuda_slot {
    uint8_t mem_handle[64];   /* cudaIpcMemHandle_t of the allocation */
    uint8_t event_handle[64]; /* cudaIpcEventHandle_t of the slot's interprocess event */
    uint8_t device_uuid[16];  /* cudaDeviceProp.uuid of the device holding it */
    int32_t exporter_pid;     /* the process that allocated it (the pool's creator) */
    int32_t runtime_version;  /* its cudaRuntimeGetVersion: importers must match */
    uint64_t alloc_bytes;     /* bytes allocated (a multiple of XMEM_CUDA_ALIGN) */
    uint8_t reserved[32];     /* zero */
} xmemi_cuda_slot;

_Static_assert(sizeof(xmemi_cuda_slot) == XMEMI_CUDA_RESERVED, "a CUDA slot fills its record part");

static inline xmemi_cuda_slot *xmemi_cuda_slot_of(xmemi_record *rec)
{
    return (xmemi_cuda_slot *)rec->cuda;
}

/* At destroy (not in a forked child): waits for pending stream releases, unregisters host
 * memory, closes imported handles and frees the creator's allocations. False when releases are
 * still queued and cannot run now: the handle's memory must then stay (it is leaked). */
bool xmemi_cuda_close(xmem_pool_t *pool);

/* Frees this handle's CUDA bookkeeping without a CUDA call (after xmemi_cuda_close, or in a
 * forked child whose copy of it names nothing it may touch). */
void xmemi_cuda_forget(xmem_pool_t *pool);

/* A CPU buffer was mapped / is about to be unmapped in this process (for host registration). */
void xmemi_cuda_on_map(xmem_pool_t *pool, uint32_t index, void *addr, size_t len);
void xmemi_cuda_on_unmap(xmem_pool_t *pool, uint32_t index, void *addr);

#endif
