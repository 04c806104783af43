/* This process's CUDA state of one pool handle, shared by the two files built with CUDA: the
 * handles it opened or allocated per slot (cuda.c) and the host registration of CPU buffers
 * (cuda_host.c). */
#ifndef XMEM_CORE_CUDA_STATE_H
#define XMEM_CORE_CUDA_STATE_H

#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pool_internal.h"

typedef struct cuda_entry {
    uint64_t epoch; /* the record's backing_epoch this entry was opened for; 0: not open */
    void *dptr;     /* device pointer in this process */
    cudaEvent_t event;
    int device;      /* ordinal in this process */
    bool own;        /* this process allocated it (the creator): free, do not close */
    bool registered; /* CPU slot: its mapping is cudaHostRegister'ed */
} cuda_entry;

struct xmemi_cuda {
    pthread_mutex_t lock;
    cuda_entry *entries; /* capacity entries */
    bool opened_all;     /* every CUDA slot present at the first CUDA call was opened */
    bool register_host;
    _Atomic uint32_t pending; /* releases queued on streams, not yet run */
    bool stuck;               /* some never ran: the handle must stay allocated */
    uint32_t devices_used;    /* bit per local ordinal touched, for the wait at close */
};

/* The handle's CUDA state, made at its first CUDA call; NULL (err filled) without memory. */
struct xmemi_cuda *xmemi_cuda_state(xmem_pool_t *pool, xmem_error_t *err);

/* XMEM_ECUDA with the formatted text, then the CUDA error's text and name; clears the sticky
 * error. */
xmem_err xmemi_cuda_fail(xmem_error_t *err, cudaError_t e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
