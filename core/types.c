/* Element types and storage names. The dtype table is the single source of sizes and names. */
#include <xmem/types.h>

#include <string.h>

#include "common/fail.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[XMEM_DTYPE_COUNT_] = {
    [XMEM_DTYPE_UNKNOWN] = {"unknown", 0}, [XMEM_DTYPE_U8] = {"u8", 1},
    [XMEM_DTYPE_I8] = {"i8", 1},           [XMEM_DTYPE_U16] = {"u16", 2},
    [XMEM_DTYPE_I16] = {"i16", 2},         [XMEM_DTYPE_U32] = {"u32", 4},
    [XMEM_DTYPE_I32] = {"i32", 4},         [XMEM_DTYPE_U64] = {"u64", 8},
    [XMEM_DTYPE_I64] = {"i64", 8},         [XMEM_DTYPE_F16] = {"f16", 2},
    [XMEM_DTYPE_BF16] = {"bf16", 2},       [XMEM_DTYPE_F32] = {"f32", 4},
    [XMEM_DTYPE_F64] = {"f64", 8},         [XMEM_DTYPE_BOOL] = {"bool", 1},
};

size_t xmem_dtype_size(xmem_dtype dtype)
{
    return (unsigned)dtype < XMEM_DTYPE_COUNT_ ? dtypes[dtype].size : 0;
}

const char *xmem_dtype_name(xmem_dtype dtype)
{
    return (unsigned)dtype < XMEM_DTYPE_COUNT_ ? dtypes[dtype].name : "unknown";
}

xmem_err xmem_dtype_from_name(const char *name, xmem_dtype *out, xmem_error_t *err)
{
    if (name) {
        for (int i = XMEM_DTYPE_UNKNOWN + 1; i < XMEM_DTYPE_COUNT_; i++) {
            if (strcmp(name, dtypes[i].name) == 0) {
                *out = (xmem_dtype)i;
                return XMEM_OK;
            }
        }
    }
    return xmemi_fail(err, XMEM_EINVAL, 0,
                      "unknown dtype '%s' (expected one of u8 i8 u16 i16 u32 i32 u64 i64 f16 bf16 "
                      "f32 f64 bool)",
                      name ? name : "(null)");
}

const char *xmem_storage_name(xmem_storage storage)
{
    switch (storage) {
    case XMEM_STORAGE_CPU: return "cpu";
    case XMEM_STORAGE_CUDA: return "cuda";
    }
    return "unknown";
}
