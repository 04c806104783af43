/* DLPack for frames: frame.__dlpack__() hands numpy.from_dlpack, torch.from_dlpack and others a
 * tensor over the pool buffer itself (CPU, or CUDA in builds with CUDA), no copy. The structs are
 * DLPack's stable C ABI (dlpack.h v0.8 for the "dltensor" capsule, v1.0 for
 * "dltensor_versioned", whose read-only flag marks received frames), written out here so the
 * build needs no dlpack.h. The tensor holds the frame (one view) until its consumer deletes it. */
#include "pyxmem.h"

#include <stdlib.h>

#include <xmem/cuda.h>

enum { DL_CPU = 1, DL_CUDA = 2 };                                           /* DLDeviceType */
enum { DL_INT = 0, DL_UINT = 1, DL_FLOAT = 2, DL_BFLOAT = 4, DL_BOOL = 6 }; /* DLDataTypeCode */
#define DL_FLAG_READ_ONLY 1ull

typedef struct {
    int32_t device_type, device_id;
} dl_device;

typedef struct {
    uint8_t code, bits;
    uint16_t lanes;
} dl_dtype;

typedef struct {
    void *data;
    dl_device device;
    int32_t ndim;
    dl_dtype dtype;
    int64_t *shape, *strides; /* strides in elements */
    uint64_t byte_offset;
} dl_tensor;

typedef struct dl_managed {
    dl_tensor t;
    void *manager_ctx;
    void (*deleter)(struct dl_managed *self);
} dl_managed;

typedef struct dl_managed_versioned {
    struct {
        uint32_t major, minor;
    } version;
    void *manager_ctx;
    void (*deleter)(struct dl_managed_versioned *self);
    uint64_t flags;
    dl_tensor t;
} dl_managed_versioned;

/* One allocation per export: either header, then the shape and strides it points to. */
typedef struct export
{
    union {
        dl_managed plain;
        dl_managed_versioned versioned;
    } m;
    int64_t shape[XMEM_MAX_NDIM], strides[XMEM_MAX_NDIM];
}
export;

static const dl_dtype dtypes[XMEM_DTYPE_COUNT_] = {
    [XMEM_DTYPE_UNKNOWN] = {DL_UINT, 8, 1}, [XMEM_DTYPE_U8] = {DL_UINT, 8, 1},
    [XMEM_DTYPE_I8] = {DL_INT, 8, 1},       [XMEM_DTYPE_U16] = {DL_UINT, 16, 1},
    [XMEM_DTYPE_I16] = {DL_INT, 16, 1},     [XMEM_DTYPE_U32] = {DL_UINT, 32, 1},
    [XMEM_DTYPE_I32] = {DL_INT, 32, 1},     [XMEM_DTYPE_U64] = {DL_UINT, 64, 1},
    [XMEM_DTYPE_I64] = {DL_INT, 64, 1},     [XMEM_DTYPE_F16] = {DL_FLOAT, 16, 1},
    [XMEM_DTYPE_BF16] = {DL_BFLOAT, 16, 1}, [XMEM_DTYPE_F32] = {DL_FLOAT, 32, 1},
    [XMEM_DTYPE_F64] = {DL_FLOAT, 64, 1},   [XMEM_DTYPE_BOOL] = {DL_BOOL, 8, 1},
};

/* The consumer is done: the view ends (consumers may call this on any thread). */
static void done(void *ctx, export *e)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    xmemi_py_frame *f = ctx;
    xmemi_py_frame_view_done(f);
    Py_DECREF(f);
    free(e);
    PyGILState_Release(gil);
}

static void delete_plain(dl_managed *m)
{
    done(m->manager_ctx, (export *)m);
}

static void delete_versioned(dl_managed_versioned *m)
{
    done(m->manager_ctx, (export *)m);
}

/* A capsule nobody consumed still owns its tensor (the DLPack rule: consumers rename it). */
static void capsule_plain(PyObject *capsule)
{
    dl_managed *m = PyCapsule_GetPointer(capsule, "dltensor");
    if (m)
        m->deleter(m);
    else
        PyErr_Clear();
}

static void capsule_versioned(PyObject *capsule)
{
    dl_managed_versioned *m = PyCapsule_GetPointer(capsule, "dltensor_versioned");
    if (m)
        m->deleter(m);
    else
        PyErr_Clear();
}

/* The buffer's device and address; for a CUDA input, `stream` waits for its producer first
 * (the DLPack rule: None and 1 the legacy default stream, 2 the per-thread one, -1 no wait). */
static int locate(xmemi_py_frame *f, PyObject *stream, dl_tensor *t)
{
    if (!f->cuda) {
        t->device = (dl_device){DL_CPU, 0};
        t->data = (void *)xmem_guard_data(&f->guard);
        return 0;
    }
    xmem_error_t err;
    const void *ptr;
    int device = 0;
    xmem_err rc = xmem_guard_cuda_ptr(&f->guard, &ptr, &device, &err);
    long long s = stream == Py_None ? 1 : PyLong_AsLongLong(stream);
    if (s == -1 && PyErr_Occurred())
        return -1;
    if (rc == XMEM_OK && s != -1 && xmem_guard_mode(&f->guard) == XMEM_ACCESS_READ)
        rc = xmem_guard_cuda_wait(&f->guard, s == 1 ? NULL : (void *)(intptr_t)s, &err);
    if (rc) {
        xmemi_py_raise(rc, &err);
        return -1;
    }
    t->device = (dl_device){DL_CUDA, device};
    t->data = (void *)ptr;
    return 0;
}

PyObject *xmemi_py_frame_dlpack(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"stream", "max_version", "dl_device", "copy", NULL};
    PyObject *stream = Py_None, *max_version = Py_None, *dl_dev = Py_None, *copy = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$OOOO:__dlpack__", kw, &stream, &max_version,
                                     &dl_dev, &copy))
        return NULL;
    xmemi_py_frame *f = (xmemi_py_frame *)self;
    if (!xmemi_py_frame_guard(self, "__dlpack__") || xmemi_py_frame_layout(f))
        return NULL;
    if (copy == Py_True) {
        PyErr_SetString(PyExc_BufferError, "xmem frames are views: __dlpack__ does not copy");
        return NULL;
    }
    bool versioned = false;
    if (max_version != Py_None) {
        PyObject *first = PySequence_GetItem(max_version, 0);
        long major = first ? PyLong_AsLong(first) : -1;
        Py_XDECREF(first);
        if (major == -1 && PyErr_Occurred())
            return NULL;
        versioned = major >= 1;
    }
    export *e = calloc(1, sizeof *e);
    if (!e)
        return PyErr_NoMemory();
    dl_tensor t = {
        .ndim = f->ndim, .dtype = dtypes[f->dtype], .shape = e->shape, .strides = e->strides};
    for (int d = 0; d < f->ndim; d++) {
        e->shape[d] = f->shape[d];
        e->strides[d] = f->strides[d] / f->itemsize;
        if (f->strides[d] % f->itemsize) {
            free(e);
            PyErr_SetString(PyExc_BufferError, "DLPack strides count elements: this frame's "
                                               "byte strides are not whole elements");
            return NULL;
        }
    }
    if (locate(f, stream, &t)) {
        free(e);
        return NULL;
    }
    PyObject *capsule;
    if (versioned) {
        e->m.versioned = (dl_managed_versioned){
            .version = {1, 0},
            .manager_ctx = f,
            .deleter = delete_versioned,
            .flags = xmem_guard_mode(&f->guard) == XMEM_ACCESS_READ ? DL_FLAG_READ_ONLY : 0,
            .t = t,
        };
        capsule = PyCapsule_New(&e->m.versioned, "dltensor_versioned", capsule_versioned);
    } else {
        e->m.plain = (dl_managed){.t = t, .manager_ctx = f, .deleter = delete_plain};
        capsule = PyCapsule_New(&e->m.plain, "dltensor", capsule_plain);
    }
    if (!capsule) {
        free(e);
        return NULL;
    }
    Py_INCREF(f);
    f->views++;
    return capsule;
}

PyObject *xmemi_py_frame_dlpack_device(PyObject *self, PyObject *unused)
{
    (void)unused;
    xmemi_py_frame *f = (xmemi_py_frame *)self;
    if (!xmemi_py_frame_guard(self, "__dlpack_device__") || xmemi_py_frame_layout(f))
        return NULL;
    if (!f->cuda)
        return Py_BuildValue("(ii)", DL_CPU, 0);
    int device = 0;
    xmem_error_t err;
    xmem_err rc = xmem_guard_cuda_ptr(&f->guard, &(const void *){NULL}, &device, &err);
    return rc ? xmemi_py_raise(rc, &err) : Py_BuildValue("(ii)", DL_CUDA, device);
}
