/* Error codes and error messages. Every fallible xmem call returns an xmem_err (XMEM_OK == 0) and,
 * where an xmem_error_t pointer is given, fills it with a message that names the thing at fault. */
#ifndef XMEM_ERROR_H
#define XMEM_ERROR_H

#include <xmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum xmem_err {
    XMEM_OK = 0,       /* success is zero, so `if (rc)` means failure */
    XMEM_EINVAL,       /* an argument is out of its domain */
    XMEM_ENAME,        /* a pool name is empty, too long, or has a forbidden character */
    XMEM_ENOENT,       /* the pool (or shm object) does not exist */
    XMEM_EEXIST,       /* a pool of that name exists and is in use */
    XMEM_ELAYOUT,      /* a shm object has another magic, layout version or size */
    XMEM_ESYS,         /* a system call failed; the error's sys_errno says which errno */
    XMEM_ENOMEM,       /* out of memory: the process's, or room in /dev/shm for shared memory */
    XMEM_EEXHAUSTED,   /* every buffer of the pool is in use */
    XMEM_ERANGE,       /* a buffer index is outside the pool */
    XMEM_ESTALE,       /* the buffer was recycled: its generation is not the one named */
    XMEM_EFREED,       /* the buffer is free (refcount 0) */
    XMEM_ENOTOWNER,    /* this process holds no reference to the buffer */
    XMEM_EREADONLY,    /* a write view was asked of a read-only guard */
    XMEM_ESTORAGE,     /* the buffer lives in another storage (CPU vs CUDA) */
    XMEM_EFORKED,      /* a pool handle was used in a child process after fork */
    XMEM_EPROCS,       /* the pool's process table is full */
    XMEM_EOVERFLOW,    /* a reference count would overflow */
    XMEM_ETIMEDOUT,    /* nothing arrived before the timeout */
    XMEM_ETRANSPORT,   /* a ZeroMQ call failed; the message names the endpoint */
    XMEM_EINTERRUPTED, /* a signal interrupted a wait; look at why, then call again */
    XMEM_EEND,         /* the stream ended: every publisher a subscriber listens to finished */
    XMEM_EPLUGIN,      /* a node plugin was refused (bad ABI, missing symbol) or failed */
    XMEM_ECONFIG,      /* a parameter, command line or graph file is invalid */
    XMEM_ECUDA,        /* a CUDA call failed, or this build has no CUDA */
    XMEM_ECORRUPT,     /* an audit found the pool's books inconsistent (xmem_pool_audit) */
    XMEM_EMEDIA,       /* a video file, device or codec failed (FFmpeg's reason in the message) */
    XMEM_ERR_COUNT_    /* not an error: the number of codes */
} xmem_err;

#define XMEM_ERROR_MSG_MAX 512

/* Filled by a failing call when the caller passes one; plain data, owned by the caller. */
typedef struct xmem_error {
    xmem_err code;                /* the code the call returned */
    int sys_errno;                /* errno of the failed system call, or 0 */
    char msg[XMEM_ERROR_MSG_MAX]; /* one line, names the pool, buffer or file at fault */
} xmem_error_t;

/* A static, thread-safe description of a code ("unknown error" for codes out of range). */
XMEM_EXPORT const char *xmem_strerror(xmem_err err);

#ifdef __cplusplus
}
#endif

#endif
