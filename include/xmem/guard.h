/* Scoped access to one buffer of a pool. A guard owns one reference: it gives it back when released
 * (or when the scope of an XMEM_GUARD_AUTO variable ends), or hands it on with xmem_guard_forget().
 *
 *   XMEM_GUARD_AUTO xmem_guard_t g = XMEM_GUARD_INIT;
 *   if (xmem_pool_acquire_cpu(pool, 4096, &g, &err)) return ...;
 *   void *p; xmem_guard_data_mut(&g, &p, NULL);   // refcount 1, released at scope exit
 *
 * A guard is a value owned by one thread at a time: move it (copy, then forget the original),
 * never use one struct from two threads. */
#ifndef XMEM_GUARD_H
#define XMEM_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include <xmem/error.h>
#include <xmem/export.h>
#include <xmem/meta.h>
#include <xmem/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xmem_pool xmem_pool_t;

/* Lives on the caller's stack (or in a plugin's state, moved there by copying the struct and
 * emptying the original with XMEM_GUARD_INIT, never by copying and releasing both); treat the
 * fields as private and use the functions below. Its size is part of the plugin ABI (64 bytes on
 * 64-bit platforms): later fields come out of `reserved`. */
typedef struct xmem_guard {
    xmem_pool_t *pool; /* NULL when the guard holds nothing */
    xmem_buf_ref ref;
    void *data;  /* this process's mapping of the buffer */
    size_t size; /* bytes asked for at acquire */
    xmem_access mode;
    void *reserved[3]; /* the library's: zero in a guard made by XMEM_GUARD_INIT */
} xmem_guard_t;

#define XMEM_GUARD_INIT                                                                            \
    {                                                                                              \
        0                                                                                          \
    }

/* Declares a guard released when it leaves scope (GNU C cleanup attribute). */
#define XMEM_GUARD_AUTO __attribute__((cleanup(xmem_guard_cleanup)))

/* Every accessor accepts NULL and an empty guard: the getters then give zeros (NULL, an empty
 * name, XMEM_ACCESS_READ), the calls that can fail XMEM_EINVAL. */

/* True while the guard holds a reference. */
XMEM_EXPORT bool xmem_guard_valid(const xmem_guard_t *g);

/* The buffer's name (index and generation); {0, 0} for an empty guard, so meaningful only while
 * valid. */
XMEM_EXPORT xmem_buf_ref xmem_guard_ref(const xmem_guard_t *g);
XMEM_EXPORT uint32_t xmem_guard_index(const xmem_guard_t *g);

/* Read-only (received buffers) or read-write (acquired ones). */
XMEM_EXPORT xmem_access xmem_guard_mode(const xmem_guard_t *g);

/* The pool handle the guard's reference belongs to (a subscriber's own, for received buffers);
 * owned by whoever made the guard. NULL for an empty guard. */
XMEM_EXPORT xmem_pool_t *xmem_guard_pool(const xmem_guard_t *g);

/* Bytes asked for at acquire (the view may extend to the capacity in xmem_guard_meta()). */
XMEM_EXPORT size_t xmem_guard_size(const xmem_guard_t *g);

/* Read view; NULL for an invalid guard. The pointer stays valid while the guard holds its
 * reference. */
XMEM_EXPORT const void *xmem_guard_data(const xmem_guard_t *g);

/* Write view. XMEM_EREADONLY on a read-only guard, XMEM_EINVAL on an invalid one; *out untouched
 * then. */
XMEM_EXPORT xmem_err xmem_guard_data_mut(xmem_guard_t *g, void **out, xmem_error_t *err);

/* Snapshot of the buffer's record. XMEM_EINVAL on an invalid guard. */
XMEM_EXPORT xmem_err xmem_guard_meta(const xmem_guard_t *g, xmem_meta_t *out, xmem_error_t *err);

/* The producer's sequence number and timestamp (either pointer may be NULL), as
 * xmem_guard_meta() has them but read alone: for every frame, where the rest is not needed.
 * XMEM_EINVAL on an invalid guard. */
XMEM_EXPORT xmem_err xmem_guard_stamp(const xmem_guard_t *g, uint64_t *sequence,
                                      uint64_t *timestamp_ns, xmem_error_t *err);

/* Sets dtype and shape in the record; strides may be NULL for a dense row-major layout. Needs a
 * read-write guard (XMEM_EREADONLY) and a shape whose bytes fit the buffer (XMEM_EINVAL). */
XMEM_EXPORT xmem_err xmem_guard_set_layout(xmem_guard_t *g, xmem_dtype dtype, uint32_t ndim,
                                           const int64_t *shape, const int64_t *strides,
                                           xmem_error_t *err);

/* Sets the producer's sequence number and timestamp in the record. Needs a read-write guard. */
XMEM_EXPORT xmem_err xmem_guard_set_stamp(xmem_guard_t *g, uint64_t sequence, uint64_t timestamp_ns,
                                          xmem_error_t *err);

/* Copies `src`'s layout (dtype, shape and strides, when set) and stamp (sequence, timestamp) into
 * `dst`'s record: a transform's output describes the frame it came from. `dst` must be read-write
 * (XMEM_EREADONLY) and large enough for the shape (XMEM_EINVAL). */
XMEM_EXPORT xmem_err xmem_guard_copy_layout(xmem_guard_t *dst, const xmem_guard_t *src,
                                            xmem_error_t *err);

/* Gives the guard's reference back to the pool (the last one recycles the buffer) and empties the
 * guard. An empty guard is left as it is and XMEM_OK returned. */
XMEM_EXPORT xmem_err xmem_guard_release(xmem_guard_t *g, xmem_error_t *err);

/* Empties the guard without touching the refcount: the reference now belongs to whoever the caller
 * handed it to (another guard via xmem_pool_get, or another process via xmem_pool_give). */
XMEM_EXPORT void xmem_guard_forget(xmem_guard_t *g);

/* Cleanup hook for XMEM_GUARD_AUTO: releases, and reports a failure on stderr since it cannot
 * return it. */
XMEM_EXPORT void xmem_guard_cleanup(xmem_guard_t *g);

#ifdef __cplusplus
}
#endif

#endif
