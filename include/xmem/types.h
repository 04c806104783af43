/* Element types, storage kinds and access modes shared by buffers, guards and descriptors. */
#ifndef XMEM_TYPES_H
#define XMEM_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include <xmem/error.h>
#include <xmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Stored as one byte in shared memory: values are fixed forever, new ones are appended. */
typedef enum xmem_dtype {
    XMEM_DTYPE_UNKNOWN = 0,
    XMEM_DTYPE_U8,
    XMEM_DTYPE_I8,
    XMEM_DTYPE_U16,
    XMEM_DTYPE_I16,
    XMEM_DTYPE_U32,
    XMEM_DTYPE_I32,
    XMEM_DTYPE_U64,
    XMEM_DTYPE_I64,
    XMEM_DTYPE_F16,
    XMEM_DTYPE_BF16,
    XMEM_DTYPE_F32,
    XMEM_DTYPE_F64,
    XMEM_DTYPE_BOOL,
    XMEM_DTYPE_COUNT_ /* not a type: the number of values */
} xmem_dtype;

/* Where a buffer's bytes live. Stored as one byte in shared memory. */
typedef enum xmem_storage {
    XMEM_STORAGE_CPU = 0,  /* a POSIX shared memory object */
    XMEM_STORAGE_CUDA = 1, /* CUDA device memory shared by IPC handle */
} xmem_storage;

typedef enum xmem_access {
    XMEM_ACCESS_READ = 0,       /* read-only view: consumers */
    XMEM_ACCESS_READ_WRITE = 1, /* read-write view: the single writer after acquire */
} xmem_access;

/* Size of one element in bytes; 0 for XMEM_DTYPE_UNKNOWN or a value out of range. */
XMEM_EXPORT size_t xmem_dtype_size(xmem_dtype dtype);

/* Lower-case name ("u8", "f32", "bf16" ...); "unknown" for a value out of range. Static storage. */
XMEM_EXPORT const char *xmem_dtype_name(xmem_dtype dtype);

/* Parses a name as printed by xmem_dtype_name(). XMEM_EINVAL, naming the text, if it is none. */
XMEM_EXPORT xmem_err xmem_dtype_from_name(const char *name, xmem_dtype *out, xmem_error_t *err);

/* "cpu" or "cuda". Static storage. */
XMEM_EXPORT const char *xmem_storage_name(xmem_storage storage);

#ifdef __cplusplus
}
#endif

#endif
