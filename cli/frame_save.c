/* Frames as .npy files, and which frames are images (frame_save.h). The .npy header is numpy's
 * format 1.0: magic, version, a little-endian header length, then a Python dict literal padded
 * with spaces to a multiple of 64 bytes. */
#define _GNU_SOURCE
#include "frame_save.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/fail.h"

/* Whether the strides (when set) are those of a dense row-major array. */
static bool dense(const xmem_meta_t *m)
{
    int64_t step = (int64_t)xmem_dtype_size(m->dtype);
    for (uint32_t d = m->ndim; d-- > 0;) {
        if (m->strides[d] && m->strides[d] != step)
            return false;
        step *= m->shape[d];
    }
    return true;
}

static uint64_t layout_bytes(const xmem_meta_t *m)
{
    uint64_t n = xmem_dtype_size(m->dtype);
    for (uint32_t d = 0; d < m->ndim; d++)
        n *= (uint64_t)m->shape[d];
    return n;
}

bool xmemi_frame_is_image(const xmem_meta_t *m, uint32_t *width, uint32_t *height,
                          uint32_t *channels)
{
    if (m->dtype != XMEM_DTYPE_U8 || (m->ndim != 2 && m->ndim != 3) || !dense(m) ||
        layout_bytes(m) > m->size)
        return false;
    uint32_t c = m->ndim == 3 ? (uint32_t)m->shape[2] : 1;
    if ((c != 1 && c != 3 && c != 4) || m->shape[0] <= 0 || m->shape[1] <= 0 ||
        m->shape[0] > 1000000 || m->shape[1] > 1000000)
        return false;
    *height = (uint32_t)m->shape[0];
    *width = (uint32_t)m->shape[1];
    *channels = c;
    return true;
}

static const char *npy_descr(xmem_dtype t)
{
    switch (t) {
    case XMEM_DTYPE_U8: return "|u1";
    case XMEM_DTYPE_I8: return "|i1";
    case XMEM_DTYPE_U16: return "<u2";
    case XMEM_DTYPE_I16: return "<i2";
    case XMEM_DTYPE_U32: return "<u4";
    case XMEM_DTYPE_I32: return "<i4";
    case XMEM_DTYPE_U64: return "<u8";
    case XMEM_DTYPE_I64: return "<i8";
    case XMEM_DTYPE_F16: return "<f2";
    case XMEM_DTYPE_BF16: return "<u2"; /* numpy has no bfloat16: its bits */
    case XMEM_DTYPE_F32: return "<f4";
    case XMEM_DTYPE_F64: return "<f8";
    case XMEM_DTYPE_BOOL: return "|b1";
    default: return NULL;
    }
}

xmem_err xmemi_frame_save_npy(const char *path, const xmem_meta_t *m, const void *data,
                              xmem_error_t *err)
{
    const char *descr = npy_descr(m->dtype);
    bool shaped = descr && m->ndim > 0 && dense(m) && layout_bytes(m) <= m->size;
    char dict[512];
    int n;
    if (shaped) {
        char shape[256] = "";
        size_t used = 0;
        for (uint32_t d = 0; d < m->ndim; d++)
            used += (size_t)snprintf(shape + used, sizeof shape - used, "%lld, ",
                                     (long long)m->shape[d]);
        if (m->ndim > 1)
            shape[used - 2] = '\0'; /* (h, w) without the trailing ", "; (n,) keeps its comma */
        else
            shape[used - 1] = '\0';
        n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                     descr, shape);
    } else
        n = snprintf(dict, sizeof dict,
                     "{'descr': '|u1', 'fortran_order': False, 'shape': (%llu,), }",
                     (unsigned long long)m->size);
    uint64_t bytes = shaped ? layout_bytes(m) : m->size;
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f)
        return xmemi_fail(err, XMEM_ESYS, errno, "cannot write %s", path);
    uint16_t hlen = (uint16_t)(n + pad + 1);
    unsigned char head[10] = {0x93,
                              'N',
                              'U',
                              'M',
                              'P',
                              'Y',
                              1,
                              0,
                              (unsigned char)(hlen & 0xff),
                              (unsigned char)(hlen >> 8)};
    fwrite(head, 1, sizeof head, f);
    fwrite(dict, 1, (size_t)n, f);
    for (size_t i = 0; i < pad; i++)
        fputc(' ', f);
    fputc('\n', f);
    fwrite(data, 1, bytes, f);
    if (fclose(f) != 0)
        return xmemi_fail(err, XMEM_ESYS, errno, "cannot write %s", path);
    return XMEM_OK;
}
