/* Guards: a scoped reference to one buffer, with the views and record fields it gives access to. */
#include <xmem/guard.h>

#include <stdio.h>
#include <string.h>

#include <xmem/pool.h>

#include "common/fail.h"
#include "pool_internal.h"
#include "record.h"

_Static_assert(sizeof(void *) != 8 || sizeof(xmem_guard_t) == 64,
               "xmem_guard_t is part of the plugin ABI: grow it out of its reserved words");

bool xmem_guard_valid(const xmem_guard_t *g)
{
    return g && g->pool;
}

xmem_buf_ref xmem_guard_ref(const xmem_guard_t *g)
{
    return xmem_guard_valid(g) ? g->ref : (xmem_buf_ref){0, 0};
}

uint32_t xmem_guard_index(const xmem_guard_t *g)
{
    return xmem_guard_ref(g).index;
}

xmem_access xmem_guard_mode(const xmem_guard_t *g)
{
    return xmem_guard_valid(g) ? g->mode : XMEM_ACCESS_READ;
}

xmem_pool_t *xmem_guard_pool(const xmem_guard_t *g)
{
    return xmem_guard_valid(g) ? g->pool : NULL;
}

size_t xmem_guard_size(const xmem_guard_t *g)
{
    return xmem_guard_valid(g) ? g->size : 0;
}

const void *xmem_guard_data(const xmem_guard_t *g)
{
    return xmem_guard_valid(g) ? g->data : NULL;
}

static xmem_err need_valid(const xmem_guard_t *g, xmem_error_t *err)
{
    if (!g || !g->pool)
        return xmemi_fail(err, XMEM_EINVAL, 0, "the guard holds no buffer");
    return XMEM_OK;
}

static xmem_err need_writable(const xmem_guard_t *g, xmem_error_t *err)
{
    xmem_err rc = need_valid(g, err);
    if (rc)
        return rc;
    if (g->mode != XMEM_ACCESS_READ_WRITE)
        return xmemi_fail(err, XMEM_EREADONLY, 0,
                          "pool '%s': guard on buffer %u generation %u is read-only", g->pool->name,
                          g->ref.index, g->ref.generation);
    return XMEM_OK;
}

xmem_err xmem_guard_data_mut(xmem_guard_t *g, void **out, xmem_error_t *err)
{
    xmem_err rc = need_writable(g, err);
    if (rc)
        return rc;
    if (!g->data) /* only CUDA buffers have no host view */
        return xmemi_fail(err, XMEM_ESTORAGE, 0,
                          "pool '%s': buffer %u is in CUDA device memory: use "
                          "xmem_guard_cuda_ptr_mut",
                          g->pool->name, g->ref.index);
    *out = g->data;
    return XMEM_OK;
}

xmem_err xmem_guard_meta(const xmem_guard_t *g, xmem_meta_t *out, xmem_error_t *err)
{
    xmem_err rc = need_valid(g, err);
    if (rc)
        return rc;
    xmemi_record *rec = &g->pool->region.records[g->ref.index];
    memset(out, 0, sizeof *out);
    out->ref = g->ref;
    uint64_t refs = xmemi_record_refs(&g->pool->region, rec);
    out->refcount = refs > UINT32_MAX ? UINT32_MAX : (uint32_t)refs;
    out->storage = (xmem_storage)rec->storage;
    out->device = rec->device;
    out->dtype = (xmem_dtype)rec->dtype;
    out->ndim = rec->ndim;
    memcpy(out->shape, rec->shape, sizeof(int64_t) * rec->ndim);
    memcpy(out->strides, rec->strides, sizeof(int64_t) * rec->ndim);
    out->size = rec->size;
    out->capacity = rec->capacity;
    out->timestamp_ns = rec->timestamp_ns;
    out->sequence = rec->sequence;
    return XMEM_OK;
}

xmem_err xmem_guard_stamp(const xmem_guard_t *g, uint64_t *sequence, uint64_t *timestamp_ns,
                          xmem_error_t *err)
{
    xmem_err rc = need_valid(g, err);
    if (rc)
        return rc;
    const xmemi_record *rec = &g->pool->region.records[g->ref.index];
    if (sequence)
        *sequence = rec->sequence;
    if (timestamp_ns)
        *timestamp_ns = rec->timestamp_ns;
    return XMEM_OK;
}

xmem_err xmem_guard_set_layout(xmem_guard_t *g, xmem_dtype dtype, uint32_t ndim,
                               const int64_t *shape, const int64_t *strides, xmem_error_t *err)
{
    xmem_err rc = need_writable(g, err);
    if (rc)
        return rc;
    const char *pool = g->pool->name;
    size_t elem = xmem_dtype_size(dtype);
    if (elem == 0)
        return xmemi_fail(err, XMEM_EINVAL, 0, "pool '%s': buffer %u: dtype %d is not a type", pool,
                          g->ref.index, (int)dtype);
    if (ndim > XMEM_MAX_NDIM || (ndim && !shape))
        return xmemi_fail(err, XMEM_EINVAL, 0, "pool '%s': buffer %u: %u dimensions, at most %d",
                          pool, g->ref.index, ndim, XMEM_MAX_NDIM);
    int64_t dense[XMEM_MAX_NDIM];
    int64_t step = (int64_t)elem;
    for (uint32_t d = ndim; d-- > 0;) {
        dense[d] = step;
        if (shape[d] < 0 || (shape[d] && step > INT64_MAX / shape[d]))
            return xmemi_fail(err, XMEM_EINVAL, 0, "pool '%s': buffer %u: dimension %u is %lld",
                              pool, g->ref.index, d, (long long)shape[d]);
        step *= shape[d];
    }
    const int64_t *st = strides ? strides : dense;
    /* The furthest byte any index reaches must lie inside the buffer. */
    uint64_t extent = elem;
    bool empty = false, overflow = false;
    for (uint32_t d = 0; d < ndim; d++) {
        if (st[d] < 0)
            return xmemi_fail(err, XMEM_EINVAL, 0, "pool '%s': buffer %u: stride %u is negative",
                              pool, g->ref.index, d);
        uint64_t reach;
        if (shape[d] == 0)
            empty = true;
        else if (__builtin_mul_overflow((uint64_t)(shape[d] - 1), (uint64_t)st[d], &reach) ||
                 __builtin_add_overflow(extent, reach, &extent))
            overflow = true;
    }
    if (!empty && (overflow || extent > g->size))
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "pool '%s': buffer %u: a %s layout reaching %llu bytes does not fit its "
                          "%zu bytes",
                          pool, g->ref.index, xmem_dtype_name(dtype), (unsigned long long)extent,
                          g->size);
    xmemi_record *rec = &g->pool->region.records[g->ref.index];
    rec->dtype = (uint8_t)dtype;
    rec->ndim = ndim;
    memset(rec->shape, 0, sizeof rec->shape);
    memset(rec->strides, 0, sizeof rec->strides);
    if (ndim) {
        memcpy(rec->shape, shape, sizeof(int64_t) * ndim);
        memcpy(rec->strides, st, sizeof(int64_t) * ndim);
    }
    return XMEM_OK;
}

xmem_err xmem_guard_set_stamp(xmem_guard_t *g, uint64_t sequence, uint64_t timestamp_ns,
                              xmem_error_t *err)
{
    xmem_err rc = need_writable(g, err);
    if (rc)
        return rc;
    xmemi_record *rec = &g->pool->region.records[g->ref.index];
    rec->sequence = sequence;
    rec->timestamp_ns = timestamp_ns;
    return XMEM_OK;
}

xmem_err xmem_guard_release(xmem_guard_t *g, xmem_error_t *err)
{
    if (!g || !g->pool)
        return XMEM_OK;
    xmem_pool_t *pool = g->pool;
    xmem_buf_ref ref = g->ref;
    xmem_guard_forget(g);
    return xmem_pool_release(pool, ref, err);
}

void xmem_guard_forget(xmem_guard_t *g)
{
    if (!g)
        return;
    *g = (xmem_guard_t)XMEM_GUARD_INIT;
}

void xmem_guard_cleanup(xmem_guard_t *g)
{
    xmem_error_t err;
    if (xmem_guard_release(g, &err) != XMEM_OK)
        fprintf(stderr, "xmem: releasing a guard at scope exit failed: %s\n", err.msg);
}

xmem_err xmem_guard_copy_layout(xmem_guard_t *dst, const xmem_guard_t *src, xmem_error_t *err)
{
    xmem_meta_t meta;
    xmem_err rc = xmem_guard_meta(src, &meta, err);
    if (rc == XMEM_OK && meta.dtype != XMEM_DTYPE_UNKNOWN && meta.ndim > 0)
        rc = xmem_guard_set_layout(dst, meta.dtype, meta.ndim, meta.shape, meta.strides, err);
    if (rc == XMEM_OK)
        rc = xmem_guard_set_stamp(dst, meta.sequence, meta.timestamp_ns, err);
    return rc;
}
