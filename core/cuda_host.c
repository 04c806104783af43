/* Host registration of a pool's CPU buffers in this process (cudaHostRegister, for fast copies
 * to and from the GPU), and the CUDA state those hooks and cuda.c share. The CPU buffer code calls
 * the hooks as it maps and unmaps; they do nothing until a process asks for registration. */
#define _GNU_SOURCE
#include <xmem/cuda.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cuda_internal.h"
#include "cuda_state.h"

xmem_err xmemi_cuda_fail(xmem_error_t *err, cudaError_t e, const char *fmt, ...)
{
    char cause[160];
    snprintf(cause, sizeof cause, "%s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
    cudaGetLastError(); /* a failed call leaves the error sticky for the next check otherwise */
    va_list ap;
    va_start(ap, fmt);
    xmemi_failv(err, XMEM_ECUDA, 0, NULL, cause, fmt, ap);
    va_end(ap);
    return XMEM_ECUDA;
}

struct xmemi_cuda *xmemi_cuda_state(xmem_pool_t *pool, xmem_error_t *err)
{
    if (pool->cuda)
        return pool->cuda;
    struct xmemi_cuda *c = calloc(1, sizeof *c);
    cuda_entry *e = c ? calloc(pool->capacity, sizeof *e) : NULL;
    if (!e) {
        free(c);
        xmemi_fail(err, XMEM_ENOMEM, 0, "pool '%s': no memory for CUDA handles", pool->name);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->entries = e;
    /* A race between two threads making it: the loser frees its copy. */
    struct xmemi_cuda *expected = NULL;
    if (!__atomic_compare_exchange_n(&pool->cuda, &expected, c, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        pthread_mutex_destroy(&c->lock);
        free(e);
        free(c);
        return expected;
    }
    return c;
}

xmem_err xmem_pool_cuda_register_host(xmem_pool_t *pool, xmem_error_t *err)
{
    struct xmemi_cuda *c = xmemi_cuda_state(pool, err);
    if (!c)
        return XMEM_ENOMEM;
    pthread_mutex_lock(&pool->map_lock);
    if (c->register_host) { /* done before; every mapping since was registered as it was made */
        pthread_mutex_unlock(&pool->map_lock);
        return XMEM_OK;
    }
    c->register_host = true;
    xmem_err rc = XMEM_OK;
    for (uint32_t i = 0; i < pool->capacity && rc == XMEM_OK; i++) {
        xmemi_mapping *m = &pool->maps[i];
        if (!m->addr || c->entries[i].registered)
            continue;
        cudaError_t ce = cudaHostRegister(m->addr, m->len, cudaHostRegisterPortable);
        if (ce != cudaSuccess)
            rc = xmemi_cuda_fail(err, ce, "pool '%s': cudaHostRegister of buffer %u (%zu bytes)",
                                 pool->name, i, m->len);
        else
            c->entries[i].registered = true;
    }
    pthread_mutex_unlock(&pool->map_lock);
    return rc;
}

/* Called under map_lock by the CPU buffer code. */
void xmemi_cuda_on_map(xmem_pool_t *pool, uint32_t index, void *addr, size_t len)
{
    struct xmemi_cuda *c = pool->cuda;
    if (!c || !c->register_host) /* no CUDA call in processes that never asked */
        return;
    if (cudaHostRegister(addr, len, cudaHostRegisterPortable) == cudaSuccess)
        c->entries[index].registered = true;
    else
        cudaGetLastError(); /* left unregistered: copies to it are slower, still correct */
}

void xmemi_cuda_on_unmap(xmem_pool_t *pool, uint32_t index, void *addr)
{
    struct xmemi_cuda *c = pool->cuda;
    if (c && c->entries[index].registered) {
        cudaHostUnregister(addr);
        c->entries[index].registered = false;
    }
}

void xmemi_cuda_forget(xmem_pool_t *pool)
{
    struct xmemi_cuda *c = pool->cuda;
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->entries);
    free(c);
    pool->cuda = NULL;
}
