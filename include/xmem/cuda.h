/* CUDA device buffers in a pool: the same index space, references and guards as CPU buffers,
 * handed between processes by index like them. Each CUDA slot is one cudaMalloc (rounded up to
 * 2 MiB) made by the pool's creator, whose IPC memory handle and interprocess event handle live in
 * the slot's record; another process opens all of them once, at its first CUDA call on the pool,
 * and keeps them (nothing is opened per frame).
 *
 *   producer:  xmem_pool_acquire_cuda(pool, bytes, 0, &g, &err);
 *              xmem_guard_cuda_ptr_mut(&g, &d, &err); kernel<<<..., stream>>>(d);
 *              xmem_guard_cuda_record(&g, stream, &err);   // the event follows the writes
 *              xmem_pub_publish(pub, &g, &err);
 *   consumer:  xmem_sub_receive(sub, -1, &g, &err);
 *              xmem_guard_cuda_wait(&g, stream, &err);     // the stream waits for the producer
 *              xmem_guard_cuda_ptr(&g, &d, &err); kernel<<<..., stream>>>(d);
 *              xmem_guard_cuda_release_after(&g, stream, &err);  // once the stream is past it
 *
 * Streams are cudaStream_t passed as void * (NULL: the legacy default stream), so this header needs
 * no CUDA header. Built only where the CUDA toolkit was found (xmem_cuda_built()); elsewhere every
 * call fails with XMEM_ECUDA. libxmem links libcudart only, never libcuda. */
#ifndef XMEM_CUDA_H
#define XMEM_CUDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xmem/error.h>
#include <xmem/export.h>
#include <xmem/guard.h>
#include <xmem/pool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CUDA slots are rounded up to this. */
#define XMEM_CUDA_ALIGN (2u << 20)

/* True when this libxmem was built with CUDA. */
XMEM_EXPORT bool xmem_cuda_built(void);

/* The number of CUDA devices this process sees (0 without CUDA, without a driver, or without a
 * device); never fails. */
XMEM_EXPORT int xmem_cuda_device_count(void);

/* Creates `count` CUDA buffers of at least `size` bytes on `device` in the pool, free for
 * xmem_pool_acquire_cuda. Only the pool's creator may: a CUDA allocation lives as long as the
 * process that made it, and the creator outlives every user of the pool. XMEM_EEXHAUSTED when the
 * pool has fewer unused slots; XMEM_ECUDA with the CUDA error text. */
XMEM_EXPORT xmem_err xmem_pool_preallocate_cuda(xmem_pool_t *pool, size_t size, uint32_t count,
                                                int device, xmem_error_t *err);

/* Takes a free CUDA buffer of at least `size` bytes on `device` (the device's ordinal in the
 * creator's process). On success `out` (empty before) owns one read-write reference;
 * XMEM_EEXHAUSTED when none is free (naming the pool and the holders). Never allocates. */
XMEM_EXPORT xmem_err xmem_pool_acquire_cuda(xmem_pool_t *pool, size_t size, int device,
                                            xmem_guard_t *out, xmem_error_t *err);

/* As xmem_pool_acquire_cuda, waiting up to timeout_ms (negative: no limit) for one to be freed. */
XMEM_EXPORT xmem_err xmem_pool_acquire_cuda_timeout(xmem_pool_t *pool, size_t size, int device,
                                                    int timeout_ms, xmem_guard_t *out,
                                                    xmem_error_t *err);

/* True when the guard holds a CUDA buffer. */
XMEM_EXPORT bool xmem_guard_is_cuda(const xmem_guard_t *g);

/* The buffer's device pointer in this process (opened once per process, then cached), and the
 * device ordinal it is on here in *device (may be NULL). XMEM_ESTORAGE for a CPU buffer (and
 * xmem_guard_data() gives NULL for a CUDA one); XMEM_EREADONLY for _mut on a read-only guard. */
XMEM_EXPORT xmem_err xmem_guard_cuda_ptr(const xmem_guard_t *g, const void **out, int *device,
                                         xmem_error_t *err);
XMEM_EXPORT xmem_err xmem_guard_cuda_ptr_mut(xmem_guard_t *g, void **out, int *device,
                                             xmem_error_t *err);

/* Producer: records the buffer's event on `stream` after the writes queued there, so consumers
 * can wait for them. Read-write guard only, once per publication (the event is never re-recorded
 * while others hold the buffer). */
XMEM_EXPORT xmem_err xmem_guard_cuda_record(xmem_guard_t *g, void *stream, xmem_error_t *err);

/* Consumer: makes `stream` wait for the producer's writes (no host synchronisation). */
XMEM_EXPORT xmem_err xmem_guard_cuda_wait(const xmem_guard_t *g, void *stream, xmem_error_t *err);

/* Consumer: gives the guard's reference back once `stream` has run everything queued on it so far
 * (a host function on the stream does it), so a producer never overwrites data that queued GPU
 * work still reads. Empties the guard at once; the reference belongs to the stream until then
 * (and comes back with the process's other references if it dies first). Works for CPU buffers
 * too (the source of an asynchronous upload, say). Destroying the pool handle waits for them. */
XMEM_EXPORT xmem_err xmem_guard_cuda_release_after(xmem_guard_t *g, void *stream,
                                                   xmem_error_t *err);

/* Registers every CPU buffer this process maps from the pool, now and later, with
 * cudaHostRegister (page-locked: host<->device copies at full speed), once per buffer. Later
 * calls return at once (nodes call it per frame); a buffer that failed to register stays
 * pageable, and only the first call reports it. */
XMEM_EXPORT xmem_err xmem_pool_cuda_register_host(xmem_pool_t *pool, xmem_error_t *err);

#ifdef __cplusplus
}
#endif

#endif
