/* A named pool of shared buffers. One process creates it; others open it by name. Every buffer has
 * a record in the pool's metadata region (POSIX shm "/<name>_meta") with its refcount and the count
 * of references each attached process holds, so a dead process's references can be given back.
 * Buffers are recycled at refcount 0 and named by (index, generation) so stale names fail cleanly.
 *
 * A handle is for one process, and any of its threads may use it at once: after fork(), open the
 * pool again in the child (XMEM_EFORKED). Close or destroy it once no other thread uses it. */
#ifndef XMEM_POOL_H
#define XMEM_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <xmem/error.h>
#include <xmem/export.h>
#include <xmem/guard.h>
#include <xmem/meta.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XMEM_POOL_DEFAULT_CAPACITY 1024u
#define XMEM_POOL_MAX_CAPACITY (1u << 20)
#define XMEM_POOL_NAME_MAX 48             /* characters, without the terminating NUL */
#define XMEM_POOL_MAX_PROCS 64            /* processes attached at once */
#define XMEM_POOL_MAX_CLASSES 16          /* fixed size classes in xmem_pool_options */
#define XMEM_BUFFER_SIZE_MAX (1ull << 40) /* the largest buffer, in bytes (1 TiB) */

typedef struct xmem_pool xmem_pool_t;

/* `count` buffers of `size` bytes each, created, pre-faulted and put on the free list at create. */
typedef struct xmem_size_class {
    size_t size;
    uint32_t count;
} xmem_size_class;

typedef struct xmem_pool_options {
    uint32_t capacity;                              /* buffer records; default 1024 */
    uint32_t n_classes;                             /* entries used in classes[] */
    xmem_size_class classes[XMEM_POOL_MAX_CLASSES]; /* preallocated buffers */
    bool replace_stale; /* default true: a leftover pool whose creator and users are dead is removed
                         */
} xmem_pool_options;

/* Zeroes *opts, then fills the defaults: capacity 1024, no preallocated classes, replace_stale
 * true. */
XMEM_EXPORT void xmem_pool_options_init(xmem_pool_options *opts);

/* Checks a pool name as create and open do: XMEM_ENAME with what is wrong. */
XMEM_EXPORT xmem_err xmem_pool_check_name(const char *name, xmem_error_t *err);

/* Creates the pool `name` (letters, digits, '.', '_' and '-'; at most XMEM_POOL_NAME_MAX) with the
 * default options. On success the caller owns *out and destroys it with xmem_pool_destroy(), which
 * also removes the pool's shm objects; on failure *out is NULL and nothing is left behind. The
 * memory of the metadata region and of the preallocated buffers is allocated here, so a /dev/shm
 * without room for them is XMEM_ENOMEM naming the bytes needed and the bytes free, never a SIGBUS
 * when the memory is first touched. */
XMEM_EXPORT xmem_err xmem_pool_create(const char *name, xmem_pool_t **out, xmem_error_t *err);

/* As xmem_pool_create() with a capacity (1..XMEM_POOL_MAX_CAPACITY). Same ownership. */
XMEM_EXPORT xmem_err xmem_pool_create_with_capacity(const char *name, uint32_t capacity,
                                                    xmem_pool_t **out, xmem_error_t *err);

/* As xmem_pool_create() with options (NULL: defaults). Same ownership. */
XMEM_EXPORT xmem_err xmem_pool_create_with(const char *name, const xmem_pool_options *opts,
                                           xmem_pool_t **out, xmem_error_t *err);

/* Bytes of /dev/shm that xmem_pool_create_with(opts) takes at once (NULL: the defaults): the
 * metadata region and every preallocated buffer, each in whole pages of its size class. A buffer
 * made later takes its class's size when made. UINT64_MAX when that does not fit 64 bits. */
XMEM_EXPORT uint64_t xmem_pool_shm_bytes(const xmem_pool_options *opts);

/* XMEM_ENOMEM when /dev/shm, where pools live, has less free than a pool created with `opts`
 * (NULL: the defaults) would take at once, naming the pool, the bytes it needs and the bytes
 * free: what xmem_pool_create_with() says when it fails for room. XMEM_OK when it fits, or when
 * the room is unknown (a tmpfs without a size limit, whose limit is the machine's memory). */
XMEM_EXPORT xmem_err xmem_pool_check_room(const char *name, const xmem_pool_options *opts,
                                          xmem_error_t *err);

/* Opens an existing pool and attaches this process to it. On success the caller owns *out and
 * closes it with xmem_pool_close(); on failure *out is NULL. XMEM_ENOENT if there is no such
 * pool, XMEM_ELAYOUT if it is incompatible. */
XMEM_EXPORT xmem_err xmem_pool_open(const char *name, xmem_pool_t **out, xmem_error_t *err);

/* Closes a handle made by xmem_pool_open(): gives back every reference it holds, detaches and
 * unmaps. Takes ownership of *pool, sets it to NULL, and accepts NULL or a pointer to NULL. On
 * the creator's handle it is xmem_pool_destroy(): a pool does not outlive its creator. */
XMEM_EXPORT void xmem_pool_close(xmem_pool_t **pool);

/* Destroys a pool made by xmem_pool_create(): gives back the handle's references, detaches, and
 * removes the pool's shm objects. Processes still attached keep their mappings and their free
 * buffers, but can make no new ones (XMEM_ENOENT). Same ownership as xmem_pool_close(); on a
 * handle from xmem_pool_open() it is xmem_pool_close(). */
XMEM_EXPORT void xmem_pool_destroy(xmem_pool_t **pool);

/* The pool's name; valid as long as the handle. */
XMEM_EXPORT const char *xmem_pool_name(const xmem_pool_t *pool);
XMEM_EXPORT uint32_t xmem_pool_capacity(const xmem_pool_t *pool);
XMEM_EXPORT bool xmem_pool_is_creator(const xmem_pool_t *pool);

/* Buffers with refcount 0 (recycled or never used). A snapshot. */
XMEM_EXPORT uint32_t xmem_pool_free_count(const xmem_pool_t *pool);

/* Hands a read-write guard (refcount 1, owned by this process) on a buffer of at least `size`
 * bytes (1..XMEM_BUFFER_SIZE_MAX). A free buffer of the same size class is reused without a
 * system call; otherwise one is created, its memory allocated and pre-faulted (XMEM_ENOMEM,
 * naming /dev/shm's free bytes, when it has no room). `out` must be empty; on success it owns the
 * reference. XMEM_EEXHAUSTED names the processes that hold the pool's buffers. */
XMEM_EXPORT xmem_err xmem_pool_acquire_cpu(xmem_pool_t *pool, size_t size, xmem_guard_t *out,
                                           xmem_error_t *err);

/* As xmem_pool_acquire_cpu(), but when every buffer is in use it waits up to timeout_ms (negative:
 * no limit) for one to be released, asleep (a futex in the pool, woken by the release). Same
 * ownership. XMEM_EEXHAUSTED after the timeout, naming the holders. */
XMEM_EXPORT xmem_err xmem_pool_acquire_cpu_timeout(xmem_pool_t *pool, size_t size, int timeout_ms,
                                                   xmem_guard_t *out, xmem_error_t *err);

/* Creates `count` buffers of `size` bytes, each at refcount 1 owned by this process; their names go
 * to ids[0..count). The caller owns those references (release them to fill the free list). On
 * failure no buffer is kept. */
XMEM_EXPORT xmem_err xmem_pool_preallocate_cpu(xmem_pool_t *pool, size_t size, uint32_t count,
                                               xmem_buf_ref *ids, xmem_error_t *err);

/* Adopts one reference this process holds on `ref` into a read-only guard (get) or a read-write
 * guard (get_mut); the refcount does not change and the guard's release gives the reference back.
 * Fails without touching any count: XMEM_ERANGE, XMEM_ESTALE (recycled), XMEM_EFREED, or
 * XMEM_ENOTOWNER when this process holds no reference to it. The pool counts references per
 * process, not per guard: call get once for each reference received (two guards on one reference
 * give it back twice). */
XMEM_EXPORT xmem_err xmem_pool_get(xmem_pool_t *pool, xmem_buf_ref ref, xmem_guard_t *out,
                                   xmem_error_t *err);
XMEM_EXPORT xmem_err xmem_pool_get_mut(xmem_pool_t *pool, xmem_buf_ref ref, xmem_guard_t *out,
                                       xmem_error_t *err);

/* One more reference, owned by this process, to a live buffer this process holds a reference to. */
XMEM_EXPORT xmem_err xmem_pool_add_ref(xmem_pool_t *pool, xmem_buf_ref ref, xmem_error_t *err);

/* Gives back one reference this process holds; the last one recycles the buffer. */
XMEM_EXPORT xmem_err xmem_pool_release(xmem_pool_t *pool, xmem_buf_ref ref, xmem_error_t *err);

/* Sets the total refcount of a live buffer this process holds a reference to. The difference is
 * added to (or taken from) this process's own references; XMEM_EINVAL if that would take
 * references other processes hold. Setting 0 recycles the buffer. */
XMEM_EXPORT xmem_err xmem_pool_set_ref_count(xmem_pool_t *pool, xmem_buf_ref ref, uint32_t count,
                                             xmem_error_t *err);

/* Total references of a live buffer; XMEM_ESTALE / XMEM_EFREED / XMEM_ERANGE otherwise. */
XMEM_EXPORT xmem_err xmem_pool_ref_count(const xmem_pool_t *pool, xmem_buf_ref ref, uint32_t *out,
                                         xmem_error_t *err);

/* References to `ref` that this process holds (0 for a stale or free buffer). */
XMEM_EXPORT uint32_t xmem_pool_owned_count(const xmem_pool_t *pool, xmem_buf_ref ref);

#ifdef __cplusplus
}
#endif

#endif
