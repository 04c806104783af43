/* Error texts (xmem_strerror). Filling an error struct is in error_fail.c. */
#include "common/fail.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const texts[XMEM_ERR_COUNT_] = {
    [XMEM_OK] = "success",
    [XMEM_EINVAL] = "invalid argument",
    [XMEM_ENAME] = "invalid pool name",
    [XMEM_ENOENT] = "no such pool",
    [XMEM_EEXIST] = "pool already exists and is in use",
    [XMEM_ELAYOUT] = "shared memory has an incompatible layout",
    [XMEM_ESYS] = "system call failed",
    [XMEM_ENOMEM] = "out of memory",
    [XMEM_EEXHAUSTED] = "pool exhausted",
    [XMEM_ERANGE] = "buffer index out of range",
    [XMEM_ESTALE] = "stale buffer generation (buffer was recycled)",
    [XMEM_EFREED] = "buffer is free",
    [XMEM_ENOTOWNER] = "this process holds no reference to the buffer",
    [XMEM_EREADONLY] = "buffer guard is read-only",
    [XMEM_ESTORAGE] = "buffer has another storage type",
    [XMEM_EFORKED] = "pool handle used in a forked child",
    [XMEM_EPROCS] = "pool process table is full",
    [XMEM_EOVERFLOW] = "reference count overflow",
    [XMEM_ETIMEDOUT] = "timed out",
    [XMEM_ETRANSPORT] = "transport (ZeroMQ) failure",
    [XMEM_EINTERRUPTED] = "interrupted by a signal",
    [XMEM_EEND] = "end of stream",
    [XMEM_EPLUGIN] = "node plugin refused or failed",
    [XMEM_ECONFIG] = "invalid configuration",
    [XMEM_ECUDA] = "CUDA failure or no CUDA support",
    [XMEM_ECORRUPT] = "the pool's books are inconsistent",
    [XMEM_EMEDIA] = "media file, device or codec failure",
};

const char *xmem_strerror(xmem_err err)
{
    if ((unsigned)err >= XMEM_ERR_COUNT_ || !texts[err])
        return "unknown error";
    return texts[err];
}
