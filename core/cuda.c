/* CUDA slots (include/xmem/cuda.h), built when the CUDA toolkit is found. The creator allocates;
 * every other process opens all CUDA slots of the pool at its first CUDA call (the memory handle,
 * and the slot's interprocess event), finds the device by UUID (ordinals differ between processes
 * under CUDA_VISIBLE_DEVICES), and keeps them until it detaches. Only the CUDA runtime is used. */
#define _GNU_SOURCE
#include <xmem/pool_admin.h>
#include <xmem/cuda.h>

#include <cuda_runtime_api.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda_internal.h"
#include "cuda_state.h"
#include "free_list.h"
#include "common/fail.h"

bool xmem_cuda_built(void)
{
    return true;
}

int xmem_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

/* The local ordinal of the device with this UUID. */
static xmem_err device_by_uuid(const xmem_pool_t *pool, uint32_t index, const uint8_t uuid[16],
                               int *out, xmem_error_t *err)
{
    int n = xmem_cuda_device_count();
    for (int d = 0; d < n; d++) {
        struct cudaDeviceProp prop;
        if (cudaGetDeviceProperties(&prop, d) == cudaSuccess &&
            memcmp(prop.uuid.bytes, uuid, 16) == 0) {
            *out = d;
            return XMEM_OK;
        }
    }
    cudaGetLastError();
    return xmemi_fail(err, XMEM_ECUDA, 0,
                      "pool '%s': CUDA buffer %u is on a device this process does not see (%d "
                      "visible; check CUDA_VISIBLE_DEVICES)",
                      pool->name, index, n);
}

/* Opens slot `index` in this process if it is not open for its current allocation. */
static xmem_err open_slot(xmem_pool_t *pool, struct xmemi_cuda *c, uint32_t index,
                          xmem_error_t *err)
{
    xmemi_record *rec = &pool->region.records[index];
    cuda_entry *e = &c->entries[index];
    uint64_t epoch = atomic_load_explicit(&rec->backing_epoch, memory_order_acquire);
    if (e->epoch == epoch && epoch)
        return XMEM_OK;
    const xmemi_cuda_slot *slot = xmemi_cuda_slot_of(rec);
    if (rec->storage != XMEM_STORAGE_CUDA || !epoch)
        return xmemi_fail(err, XMEM_ESTORAGE, 0, "pool '%s': buffer %u is not a CUDA buffer",
                          pool->name, index);
    if (slot->exporter_pid == getpid())
        return xmemi_fail(err, XMEM_ECUDA, 0,
                          "pool '%s': CUDA buffer %u was allocated by this process through its "
                          "creator handle: use that handle (CUDA cannot open its own IPC handles)",
                          pool->name, index);
    int version = 0;
    cudaRuntimeGetVersion(&version);
    if (version != slot->runtime_version)
        return xmemi_fail(err, XMEM_ECUDA, 0,
                          "pool '%s': CUDA buffer %u was made with CUDA runtime %d (pid %d); this "
                          "process has %d: both must match",
                          pool->name, index, slot->runtime_version, (int)slot->exporter_pid,
                          version);
    int device = 0;
    xmem_err rc = device_by_uuid(pool, index, slot->device_uuid, &device, err);
    if (rc)
        return rc;
    int before = 0;
    cudaGetDevice(&before);
    cudaSetDevice(device);
    cudaIpcMemHandle_t mh;
    cudaIpcEventHandle_t eh;
    memcpy(&mh, slot->mem_handle, sizeof mh);
    memcpy(&eh, slot->event_handle, sizeof eh);
    void *dptr = NULL;
    cudaEvent_t ev = NULL;
    cudaError_t ce = cudaIpcOpenMemHandle(&dptr, mh, cudaIpcMemLazyEnablePeerAccess);
    if (ce == cudaSuccess && (ce = cudaIpcOpenEventHandle(&ev, eh)) != cudaSuccess)
        cudaIpcCloseMemHandle(dptr);
    cudaSetDevice(before);
    if (ce != cudaSuccess)
        return xmemi_cuda_fail(err, ce, "pool '%s': opening CUDA buffer %u (exported by pid %d)",
                               pool->name, index, (int)slot->exporter_pid);
    if (e->epoch && !e->own) { /* an older allocation of the slot (a re-created pool) */
        cudaIpcCloseMemHandle(e->dptr);
        cudaEventDestroy(e->event);
    }
    *e = (cuda_entry){.dptr = dptr, .event = ev, .device = device};
    c->devices_used |= 1u << (device & 31);
    __atomic_store_n(&e->epoch, epoch, __ATOMIC_RELEASE); /* lock-free readers see it whole */
    return XMEM_OK;
}

/* The first CUDA call of a process opens every CUDA slot there is, so none is opened per frame
 * (an open costs 40-80 us, the first one in a process ~130 ms). */
static xmem_err open_entry(xmem_pool_t *pool, uint32_t index, cuda_entry **out, xmem_error_t *err)
{
    struct xmemi_cuda *c = xmemi_cuda_state(pool, err);
    if (!c)
        return XMEM_ENOMEM;
    cuda_entry *e = &c->entries[index];
    uint64_t epoch =
        atomic_load_explicit(&pool->region.records[index].backing_epoch, memory_order_acquire);
    if (__builtin_expect(epoch && __atomic_load_n(&e->epoch, __ATOMIC_ACQUIRE) == epoch, 1)) {
        *out = e;
        return XMEM_OK;
    }
    pthread_mutex_lock(&c->lock);
    xmem_err rc = XMEM_OK;
    if (!c->opened_all) {
        c->opened_all = true;
        for (uint32_t i = 0; i < pool->capacity; i++)
            if (pool->region.records[i].storage == XMEM_STORAGE_CUDA && i != index)
                open_slot(pool, c, i, NULL); /* a failure is reported when that slot is used */
    }
    rc = open_slot(pool, c, index, err);
    pthread_mutex_unlock(&c->lock);
    if (rc == XMEM_OK)
        *out = e;
    return rc;
}

static size_t rounded(size_t size)
{
    return (size + XMEM_CUDA_ALIGN - 1) / XMEM_CUDA_ALIGN * XMEM_CUDA_ALIGN;
}

/* Allocates one CUDA slot into the free slot `index` (popped off the unbacked list). */
static xmem_err make_slot(xmem_pool_t *pool, struct xmemi_cuda *c, uint32_t index, size_t bytes,
                          int device, const struct cudaDeviceProp *prop, xmem_error_t *err)
{
    xmemi_record *rec = &pool->region.records[index];
    void *dptr = NULL;
    cudaEvent_t ev = NULL;
    cudaIpcMemHandle_t mh;
    cudaIpcEventHandle_t eh;
    cudaError_t ce = cudaMalloc(&dptr, bytes);
    if (ce != cudaSuccess)
        return xmemi_cuda_fail(err, ce,
                               "pool '%s': cudaMalloc of %zu bytes on device %d for buffer %u",
                               pool->name, bytes, device, index);
    if ((ce = cudaIpcGetMemHandle(&mh, dptr)) != cudaSuccess ||
        (ce = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming | cudaEventInterprocess)) !=
            cudaSuccess ||
        (ce = cudaIpcGetEventHandle(&eh, ev)) != cudaSuccess) {
        if (ev)
            cudaEventDestroy(ev);
        cudaFree(dptr);
        return xmemi_cuda_fail(err, ce, "pool '%s': IPC handles for CUDA buffer %u", pool->name,
                               index);
    }
    xmemi_cuda_slot *slot = xmemi_cuda_slot_of(rec);
    memset(slot, 0, sizeof *slot);
    memcpy(slot->mem_handle, &mh, sizeof mh);
    memcpy(slot->event_handle, &eh, sizeof eh);
    memcpy(slot->device_uuid, prop->uuid.bytes, 16);
    slot->exporter_pid = getpid();
    cudaRuntimeGetVersion(&slot->runtime_version);
    slot->alloc_bytes = bytes;
    rec->size_class = (uint16_t)xmemi_size_class(bytes, pool->region.hdr->page_size);
    rec->storage = XMEM_STORAGE_CUDA;
    rec->device = device;
    uint64_t epoch = atomic_load_explicit(&rec->backing_epoch, memory_order_relaxed) + 1;
    c->entries[index] = (cuda_entry){.dptr = dptr, .event = ev, .device = device, .own = true};
    __atomic_store_n(&c->entries[index].epoch, epoch, __ATOMIC_RELEASE);
    c->devices_used |= 1u << (device & 31);
    atomic_store_explicit(&rec->backing_epoch, epoch, memory_order_release);
    /* Last: from here the slot files under its device's class (xmemi_list_home). */
    atomic_store_explicit(&rec->capacity, bytes, memory_order_release);
    return XMEM_OK;
}

xmem_err xmem_pool_preallocate_cuda(xmem_pool_t *pool, size_t size, uint32_t count, int device,
                                    xmem_error_t *err)
{
    if (xmemi_pool_forked(pool))
        return xmemi_pool_forked_error(pool, err);
    if (!pool->creator)
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "pool '%s': only its creator (pid %d) may allocate CUDA buffers: a CUDA "
                          "allocation lives as long as the process that made it",
                          pool->name, (int)pool->region.hdr->creator_pid);
    if (size == 0 || device < 0 || device >= XMEMI_MAX_CUDA_DEVICES)
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "pool '%s': CUDA buffers of %zu bytes on device %d (size > 0, device "
                          "0..%d)",
                          pool->name, size, device, XMEMI_MAX_CUDA_DEVICES - 1);
    struct xmemi_cuda *c = xmemi_cuda_state(pool, err);
    if (!c)
        return XMEM_ENOMEM;
    struct cudaDeviceProp prop;
    cudaError_t ce = cudaGetDeviceProperties(&prop, device);
    if (ce != cudaSuccess)
        return xmemi_cuda_fail(err, ce, "pool '%s': CUDA device %d", pool->name, device);
    int before = 0;
    cudaGetDevice(&before);
    cudaSetDevice(device);
    xmemi_meta_region *r = &pool->region;
    xmem_err rc = XMEM_OK;
    pthread_mutex_lock(&c->lock);
    for (uint32_t n = 0; n < count && rc == XMEM_OK; n++) {
        uint32_t index = xmemi_list_pop(r, &r->hdr->unbacked_head, pool->me);
        if (index == XMEMI_NIL) {
            rc = xmemi_fail(err, XMEM_EEXHAUSTED, 0,
                            "pool '%s': no unused slot left for CUDA buffer %u of %u (capacity "
                            "%u)",
                            pool->name, n + 1, count, pool->capacity);
            break;
        }
        uint64_t taken = xmemi_life_load(&r->records[index]);
        rc = make_slot(pool, c, index, rounded(size), device, &prop, err);
        /* Onto its device's class list when made, back onto the unbacked one when not. */
        xmemi_slot_untake(r, index, taken, pool->me);
    }
    pthread_mutex_unlock(&c->lock);
    cudaSetDevice(before);
    return rc;
}

static xmem_err exhausted(const xmem_pool_t *pool, size_t size, int device, xmem_error_t *err)
{
    if (!err)
        return XMEM_EEXHAUSTED;
    char holders[320];
    xmem_pool_describe_holders(pool, holders, sizeof holders);
    return xmemi_fail(err, XMEM_EEXHAUSTED, 0,
                      "pool '%s': no free CUDA buffer of %zu bytes on device %d (preallocate "
                      "more: xmem_pool_preallocate_cuda, or pool.cuda in a graph); held by %s",
                      pool->name, size, device, holders[0] ? holders : "no attached process");
}

xmem_err xmem_pool_acquire_cuda(xmem_pool_t *pool, size_t size, int device, xmem_guard_t *out,
                                xmem_error_t *err)
{
    if (xmemi_pool_forked(pool))
        return xmemi_pool_forked_error(pool, err);
    if (!out || out->pool)
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "pool '%s': acquire needs an empty guard (XMEM_GUARD_INIT)", pool->name);
    if (size == 0 || device < 0 || device >= XMEMI_MAX_CUDA_DEVICES)
        return xmemi_fail(err, XMEM_EINVAL, 0, "pool '%s': CUDA buffer of %zu bytes on device %d",
                          pool->name, size, device);
    xmemi_meta_region *r = &pool->region;
    uint32_t index = XMEMI_NIL;
    for (uint32_t cls = xmemi_size_class(rounded(size), r->hdr->page_size);
         cls < XMEMI_NUM_CLASSES && index == XMEMI_NIL; cls++)
        index = xmemi_list_pop(
            r, &r->hdr->free_heads[xmemi_list_of(XMEM_STORAGE_CUDA, device, cls)], pool->me);
    if (index == XMEMI_NIL)
        return exhausted(pool, size, device, err);
    /* No host view: xmem_guard_cuda_ptr opens the device pointer. */
    xmemi_slot_hand_out(pool, index, xmemi_life_load(&r->records[index]), size, NULL, out);
    return XMEM_OK;
}

typedef struct cuda_request {
    size_t size;
    int device;
} cuda_request;

static xmem_err try_cuda(xmem_pool_t *pool, const void *what, xmem_guard_t *out, xmem_error_t *err)
{
    const cuda_request *q = what;
    return xmem_pool_acquire_cuda(pool, q->size, q->device, out, err);
}

xmem_err xmem_pool_acquire_cuda_timeout(xmem_pool_t *pool, size_t size, int device, int timeout_ms,
                                        xmem_guard_t *out, xmem_error_t *err)
{
    if (size == 0 || device < 0 || device >= XMEMI_MAX_CUDA_DEVICES)
        return xmem_pool_acquire_cuda(pool, size, device, out, err);
    cuda_request q = {size, device};
    uint32_t list = xmemi_list_of(XMEM_STORAGE_CUDA, device,
                                  xmemi_size_class(rounded(size), pool->region.hdr->page_size));
    return xmemi_acquire_waiting(pool, list, timeout_ms, try_cuda, &q, out, err);
}

bool xmem_guard_is_cuda(const xmem_guard_t *g)
{
    return xmem_guard_valid(g) &&
           g->pool->region.records[g->ref.index].storage == XMEM_STORAGE_CUDA;
}

static xmem_err cuda_entry_of(const xmem_guard_t *g, cuda_entry **e, xmem_error_t *err)
{
    if (!xmem_guard_valid(g))
        return xmemi_fail(err, XMEM_EINVAL, 0, "the guard holds no buffer");
    if (!xmem_guard_is_cuda(g))
        return xmemi_fail(err, XMEM_ESTORAGE, 0,
                          "pool '%s': buffer %u is a CPU buffer: use xmem_guard_data",
                          g->pool->name, g->ref.index);
    return open_entry(g->pool, g->ref.index, e, err);
}

xmem_err xmem_guard_cuda_ptr(const xmem_guard_t *g, const void **out, int *device,
                             xmem_error_t *err)
{
    cuda_entry *e = NULL;
    xmem_err rc = cuda_entry_of(g, &e, err);
    if (rc)
        return rc;
    *out = e->dptr;
    if (device)
        *device = e->device;
    return XMEM_OK;
}

xmem_err xmem_guard_cuda_ptr_mut(xmem_guard_t *g, void **out, int *device, xmem_error_t *err)
{
    if (xmem_guard_valid(g) && g->mode != XMEM_ACCESS_READ_WRITE)
        return xmemi_fail(err, XMEM_EREADONLY, 0,
                          "pool '%s': guard on CUDA buffer %u generation %u is read-only",
                          g->pool->name, g->ref.index, g->ref.generation);
    const void *p = NULL;
    xmem_err rc = xmem_guard_cuda_ptr(g, &p, device, err);
    if (rc == XMEM_OK)
        *out = (void *)p; /* the writer's own buffer: writable */
    return rc;
}

xmem_err xmem_guard_cuda_record(xmem_guard_t *g, void *stream, xmem_error_t *err)
{
    if (xmem_guard_valid(g) && g->mode != XMEM_ACCESS_READ_WRITE)
        return xmemi_fail(err, XMEM_EREADONLY, 0,
                          "pool '%s': only the writer of CUDA buffer %u records its event",
                          g->pool->name, g->ref.index);
    cuda_entry *e = NULL;
    xmem_err rc = cuda_entry_of(g, &e, err);
    if (rc)
        return rc;
    cudaError_t ce = cudaEventRecord(e->event, (cudaStream_t)stream);
    if (ce != cudaSuccess)
        return xmemi_cuda_fail(err, ce, "pool '%s': recording the event of CUDA buffer %u",
                               g->pool->name, g->ref.index);
    return XMEM_OK;
}

xmem_err xmem_guard_cuda_wait(const xmem_guard_t *g, void *stream, xmem_error_t *err)
{
    cuda_entry *e = NULL;
    xmem_err rc = cuda_entry_of(g, &e, err);
    if (rc)
        return rc;
    cudaError_t ce = cudaStreamWaitEvent((cudaStream_t)stream, e->event, 0);
    if (ce != cudaSuccess)
        return xmemi_cuda_fail(err, ce, "pool '%s': waiting for the event of CUDA buffer %u",
                               g->pool->name, g->ref.index);
    return XMEM_OK;
}

typedef struct stream_release {
    xmem_pool_t *pool;
    xmem_buf_ref ref;
} stream_release;

/* Runs on a CUDA runtime thread: no CUDA call allowed here, and xmem_pool_release makes none. A
 * handle serves any thread, so this is a release like any other. */
static void CUDART_CB release_on_stream(void *arg)
{
    stream_release *s = arg;
    xmem_pool_t *pool = s->pool;
    xmem_pool_release(pool, s->ref, NULL);
    free(s);
    atomic_fetch_sub_explicit(&pool->cuda->pending, 1, memory_order_release);
}

xmem_err xmem_guard_cuda_release_after(xmem_guard_t *g, void *stream, xmem_error_t *err)
{
    if (!xmem_guard_valid(g))
        return xmemi_fail(err, XMEM_EINVAL, 0, "the guard holds no buffer");
    if (!xmemi_cuda_state(g->pool, err))
        return XMEM_ENOMEM;
    stream_release *s = malloc(sizeof *s);
    if (!s)
        return xmemi_fail(err, XMEM_ENOMEM, 0, "pool '%s': no memory", g->pool->name);
    *s = (stream_release){.pool = g->pool, .ref = g->ref};
    atomic_fetch_add_explicit(&g->pool->cuda->pending, 1, memory_order_relaxed);
    cudaError_t ce = cudaLaunchHostFunc((cudaStream_t)stream, release_on_stream, s);
    if (ce != cudaSuccess) {
        atomic_fetch_sub_explicit(&g->pool->cuda->pending, 1, memory_order_relaxed);
        free(s);
        return xmemi_cuda_fail(err, ce, "pool '%s': queueing the release of CUDA buffer %u",
                               g->pool->name, g->ref.index);
    }
    xmem_guard_forget(g);
    return XMEM_OK;
}

bool xmemi_cuda_close(xmem_pool_t *pool)
{
    struct xmemi_cuda *c = pool->cuda;
    if (!c)
        return true;
    /* Releases queued on streams would touch the pool after it is gone: let them run (a CPU
     * buffer's release may sit on a stream of a device this handle never opened a slot on). A
     * synchronise that fails (a faulted context) means they never will. */
    bool healthy = true;
    uint64_t waited_ms = 0;
    while (atomic_load_explicit(&c->pending, memory_order_acquire) && healthy &&
           waited_ms < 60000) {
        int before = 0;
        cudaGetDevice(&before);
        healthy = cudaDeviceSynchronize() == cudaSuccess;
        for (int d = 0; d < 32 && healthy; d++)
            if (c->devices_used & (1u << d) && cudaSetDevice(d) == cudaSuccess)
                healthy = cudaDeviceSynchronize() == cudaSuccess;
        cudaSetDevice(before);
        if (atomic_load_explicit(&c->pending, memory_order_acquire)) {
            usleep(1000);
            waited_ms++;
        }
    }
    if (atomic_load_explicit(&c->pending, memory_order_acquire)) {
        c->stuck = true; /* the caller keeps the handle's memory alive for them */
        fprintf(stderr,
                "xmem: pool '%s': %u buffer releases still queued on CUDA streams (%s); the "
                "handle is leaked so that they can run safely\n",
                pool->name, atomic_load(&c->pending),
                healthy ? "they did not run in 60 s" : "the CUDA context failed");
        cudaGetLastError();
        return false;
    }
    for (uint32_t i = 0; i < pool->capacity; i++) {
        cuda_entry *e = &c->entries[i];
        if (e->registered && pool->maps[i].addr)
            cudaHostUnregister(pool->maps[i].addr);
        e->registered = false;
        if (!e->epoch)
            continue;
        cudaEventDestroy(e->event);
        if (e->own)
            cudaFree(e->dptr);
        else
            cudaIpcCloseMemHandle(e->dptr);
        e->epoch = 0;
    }
    cudaGetLastError();
    return true;
}
