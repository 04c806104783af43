/* Without the CUDA toolkit: every CUDA call says so (XMEM_ECUDA), and the hooks do nothing. */
#include <xmem/cuda.h>

#include "cuda_internal.h"
#include "common/fail.h"

static xmem_err not_built(xmem_error_t *err)
{
    return xmemi_fail(err, XMEM_ECUDA, 0,
                      "this libxmem was built without CUDA (the CUDA toolkit was not found, or "
                      "XMEM_WITH_CUDA=OFF)");
}

bool xmem_cuda_built(void)
{
    return false;
}

int xmem_cuda_device_count(void)
{
    return 0;
}

xmem_err xmem_pool_preallocate_cuda(xmem_pool_t *pool, size_t size, uint32_t count, int device,
                                    xmem_error_t *err)
{
    (void)pool, (void)size, (void)count, (void)device;
    return not_built(err);
}

xmem_err xmem_pool_acquire_cuda(xmem_pool_t *pool, size_t size, int device, xmem_guard_t *out,
                                xmem_error_t *err)
{
    (void)pool, (void)size, (void)device, (void)out;
    return not_built(err);
}

xmem_err xmem_pool_acquire_cuda_timeout(xmem_pool_t *pool, size_t size, int device, int timeout_ms,
                                        xmem_guard_t *out, xmem_error_t *err)
{
    (void)pool, (void)size, (void)device, (void)timeout_ms, (void)out;
    return not_built(err);
}

bool xmem_guard_is_cuda(const xmem_guard_t *g)
{
    return g && g->pool && g->pool->region.records[g->ref.index].storage == XMEM_STORAGE_CUDA;
}

xmem_err xmem_guard_cuda_ptr(const xmem_guard_t *g, const void **out, int *device,
                             xmem_error_t *err)
{
    (void)g, (void)out, (void)device;
    return not_built(err);
}

xmem_err xmem_guard_cuda_ptr_mut(xmem_guard_t *g, void **out, int *device, xmem_error_t *err)
{
    (void)g, (void)out, (void)device;
    return not_built(err);
}

xmem_err xmem_guard_cuda_record(xmem_guard_t *g, void *stream, xmem_error_t *err)
{
    (void)g, (void)stream;
    return not_built(err);
}

xmem_err xmem_guard_cuda_wait(const xmem_guard_t *g, void *stream, xmem_error_t *err)
{
    (void)g, (void)stream;
    return not_built(err);
}

xmem_err xmem_guard_cuda_release_after(xmem_guard_t *g, void *stream, xmem_error_t *err)
{
    (void)g, (void)stream;
    return not_built(err);
}

xmem_err xmem_pool_cuda_register_host(xmem_pool_t *pool, xmem_error_t *err)
{
    (void)pool;
    return not_built(err);
}

bool xmemi_cuda_close(xmem_pool_t *pool)
{
    (void)pool;
    return true;
}

void xmemi_cuda_forget(xmem_pool_t *pool)
{
    (void)pool;
}

void xmemi_cuda_on_map(xmem_pool_t *pool, uint32_t index, void *addr, size_t len)
{
    (void)pool, (void)index, (void)addr, (void)len;
}

void xmemi_cuda_on_unmap(xmem_pool_t *pool, uint32_t index, void *addr)
{
    (void)pool, (void)index, (void)addr;
}
