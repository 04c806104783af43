/* xmem.Frame: one pool buffer seen from Python, holding one reference. Its bytes are exposed in
 * place through the buffer protocol (frame.array is numpy's view of them: read-only for received
 * frames, writable for acquired ones) and DLPack (dlpack.c). A frame keeps its reference while
 * Python holds it or any view of it; release() and publishing end the frame at once, and the
 * reference follows when the last view dies, so no view ever sees a recycled buffer. */
#include "pyxmem.h"

#include <string.h>

#include <xmem/cuda.h>

static bool orphaned; /* the node's fini has run: see xmemi_py_frames_orphan */

void xmemi_py_frames_orphan(void)
{
    orphaned = true;
}

/* Gives the guard's reference back, or, once the node host is closing its pool handles, leaves
 * it to the host (which gives back whatever its attachments still hold, and reports it). */
static void give_back(xmemi_py_frame *f)
{
    if (!xmem_guard_valid(&f->guard))
        return;
    if (orphaned && !f->owner)
        xmem_guard_forget(&f->guard);
    else
        xmem_guard_release(&f->guard, NULL);
    if (f->owner)
        xmemi_py_subscriber_frame_done(f->owner);
}

PyObject *xmemi_py_frame_new(xmem_guard_t *guard, PyObject *owner)
{
    xmemi_py_frame *f = PyObject_New(xmemi_py_frame, &xmemi_py_frame_type);
    if (!f)
        return NULL;
    f->guard = *guard;
    *guard = (xmem_guard_t)XMEM_GUARD_INIT;
    f->owner = owner;
    Py_XINCREF(owner);
    f->views = 0;
    f->gone = NULL;
    f->has_layout = false;
    return (PyObject *)f;
}

static void frame_dealloc(PyObject *self)
{
    xmemi_py_frame *f = (xmemi_py_frame *)self;
    give_back(f);
    Py_XDECREF(f->owner);
    PyObject_Free(self);
}

xmem_guard_t *xmemi_py_frame_guard(PyObject *obj, const char *what)
{
    if (!PyObject_TypeCheck(obj, &xmemi_py_frame_type)) {
        PyErr_Format(PyExc_TypeError, "%s: expected an xmem.Frame, got %s", what,
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    xmemi_py_frame *f = (xmemi_py_frame *)obj;
    if (f->gone) {
        xmem_buf_ref r = xmem_guard_ref(&f->guard);
        PyErr_Format(xmemi_py_released_error, "%s: frame (buffer %u) was %s: it may be recycled",
                     what, r.index, f->gone);
        return NULL;
    }
    return &f->guard;
}

void xmemi_py_frame_view_done(xmemi_py_frame *f)
{
    if (--f->views == 0 && f->gone)
        give_back(f);
}

int xmemi_py_frame_layout(xmemi_py_frame *f)
{
    if (f->has_layout)
        return 0;
    xmem_meta_t m;
    xmem_error_t err;
    xmem_err rc = xmem_guard_meta(&f->guard, &m, &err);
    if (rc) {
        xmemi_py_raise(rc, &err);
        return -1;
    }
    f->cuda = m.storage == XMEM_STORAGE_CUDA;
    f->dtype = m.ndim ? m.dtype : XMEM_DTYPE_UNKNOWN;
    if (f->dtype == XMEM_DTYPE_UNKNOWN) { /* no layout: the bytes asked for */
        f->ndim = 1;
        f->itemsize = 1;
        f->shape[0] = f->nbytes = (Py_ssize_t)m.size;
        f->strides[0] = 1;
        f->has_layout = true;
        return 0;
    }
    f->ndim = (int)m.ndim;
    f->itemsize = (Py_ssize_t)xmem_dtype_size(m.dtype);
    /* The record is shared memory any process can write: never trust it past the mapping. */
    int64_t lo = 0, hi = 0, count = 1;
    for (int d = 0; d < f->ndim; d++) {
        f->shape[d] = (Py_ssize_t)m.shape[d];
        f->strides[d] = (Py_ssize_t)m.strides[d];
        int64_t span = (m.shape[d] - 1) * m.strides[d];
        if (m.shape[d] < 0 || __builtin_mul_overflow(count, m.shape[d], &count))
            count = -1;
        if (m.shape[d] > 0) {
            lo += span < 0 ? span : 0;
            hi += span > 0 ? span : 0;
        }
    }
    if (count < 0 || lo < 0 || (count && (uint64_t)(hi + f->itemsize) > m.capacity)) {
        PyErr_Format(xmemi_py_error,
                     "pool %s, buffer %u: its layout (%s, %d dimensions) does not fit its %llu "
                     "bytes",
                     xmem_pool_name(xmem_guard_pool(&f->guard)), m.ref.index,
                     xmem_dtype_name(m.dtype), f->ndim, (unsigned long long)m.capacity);
        return -1;
    }
    f->nbytes = (Py_ssize_t)count * f->itemsize;
    f->has_layout = true;
    return 0;
}

/* ---- the buffer protocol ---- */

static const char *const formats[XMEM_DTYPE_COUNT_] = {
    [XMEM_DTYPE_UNKNOWN] = "B", [XMEM_DTYPE_U8] = "B",  [XMEM_DTYPE_I8] = "b",
    [XMEM_DTYPE_U16] = "H",     [XMEM_DTYPE_I16] = "h", [XMEM_DTYPE_U32] = "I",
    [XMEM_DTYPE_I32] = "i",     [XMEM_DTYPE_U64] = "Q", [XMEM_DTYPE_I64] = "q",
    [XMEM_DTYPE_F16] = "e",     [XMEM_DTYPE_F32] = "f", [XMEM_DTYPE_F64] = "d",
    [XMEM_DTYPE_BOOL] = "?",
};

static int frame_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
    xmemi_py_frame *f = (xmemi_py_frame *)self;
    view->obj = NULL;
    if (!xmemi_py_frame_guard(self, "view") || xmemi_py_frame_layout(f))
        return -1;
    if (f->cuda) {
        PyErr_SetString(PyExc_BufferError, "a CUDA frame has no host view: use DLPack "
                                           "(torch.from_dlpack(frame), cupy.from_dlpack(frame))");
        return -1;
    }
    const char *format = formats[f->dtype];
    if (!format) {
        PyErr_Format(PyExc_BufferError, "%s has no buffer format (numpy lacks it): use DLPack",
                     xmem_dtype_name(f->dtype));
        return -1;
    }
    bool readonly = xmem_guard_mode(&f->guard) == XMEM_ACCESS_READ;
    if ((flags & PyBUF_WRITABLE) && readonly) {
        PyErr_SetString(PyExc_BufferError, "a received frame is read-only: other nodes read the "
                                           "same bytes (acquire a frame to write)");
        return -1;
    }
    bool dense = true;
    Py_ssize_t step = f->itemsize;
    for (int d = f->ndim - 1; d >= 0; d--) {
        dense &= f->strides[d] == step || f->shape[d] == 1;
        step *= f->shape[d];
    }
    if (!dense && (flags & PyBUF_STRIDES) != PyBUF_STRIDES) {
        PyErr_SetString(PyExc_BufferError, "the frame is strided: ask for strides");
        return -1;
    }
    view->buf = (void *)xmem_guard_data(&f->guard);
    view->obj = Py_NewRef(self);
    view->len = f->nbytes;
    view->readonly = readonly;
    view->itemsize = f->itemsize;
    view->format = (flags & PyBUF_FORMAT) ? (char *)format : NULL;
    view->ndim = f->ndim;
    view->shape = (flags & PyBUF_ND) == PyBUF_ND ? f->shape : NULL;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? f->strides : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    f->views++;
    return 0;
}

static void frame_releasebuffer(PyObject *self, Py_buffer *view)
{
    (void)view;
    xmemi_py_frame_view_done((xmemi_py_frame *)self);
}

static PyBufferProcs buffer_procs = {
    .bf_getbuffer = frame_getbuffer,
    .bf_releasebuffer = frame_releasebuffer,
};

/* ---- methods ---- */

static PyObject *frame_release(PyObject *self, PyObject *unused)
{
    (void)unused;
    xmemi_py_frame *f = (xmemi_py_frame *)self;
    if (!f->gone) {
        f->gone = "released";
        if (f->views == 0)
            give_back(f);
    }
    Py_RETURN_NONE;
}

static PyObject *frame_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

static PyObject *frame_exit(PyObject *self, PyObject *args)
{
    (void)args;
    return frame_release(self, NULL);
}

PyObject *xmemi_py_frame_publish(xmemi_py_frame *f, xmem_node_t *node, const char *port)
{
    xmem_guard_t *g = xmemi_py_frame_guard((PyObject *)f, "publish");
    if (!g)
        return NULL;
    xmem_error_t err = {0};
    xmem_guard_t keep = XMEM_GUARD_INIT;
    xmem_pool_t *pool = xmem_guard_pool(g);
    xmem_buf_ref ref = xmem_guard_ref(g);
    /* Views still alive read (or write) the bytes: they keep a reference of this process. */
    xmem_err rc = f->views ? xmem_pool_add_ref(pool, ref, &err) : XMEM_OK;
    if (rc == XMEM_OK && f->views && (rc = xmem_pool_get(pool, ref, &keep, &err)))
        xmem_pool_release(pool, ref, NULL);
    if (rc)
        return xmemi_py_raise(rc, &err);
    rc = xmem_node_publish(node, port, g, &err);
    f->gone = "published";
    f->guard = keep;
    if (rc)
        return xmemi_py_raise(rc, &err);
    Py_RETURN_NONE;
}

static PyObject *frame_cuda_record(PyObject *self, PyObject *args)
{
    PyObject *stream = Py_None;
    if (!PyArg_ParseTuple(args, "|O:cuda_record", &stream))
        return NULL;
    xmem_guard_t *g = xmemi_py_frame_guard(self, "cuda_record");
    void *s = stream == Py_None ? NULL : PyLong_AsVoidPtr(stream);
    if (!g || PyErr_Occurred())
        return NULL;
    xmem_error_t err;
    xmem_err rc = xmem_guard_cuda_record(g, s, &err);
    if (rc)
        return xmemi_py_raise(rc, &err);
    Py_RETURN_NONE;
}

static PyMethodDef frame_methods[] = {
    {"release", frame_release, METH_NOARGS,
     "release(): gives the buffer back now (once no view of it is alive); using the frame "
     "afterwards raises ReleasedError. Repeating it does nothing."},
    {"__enter__", frame_enter, METH_NOARGS, NULL},
    {"__exit__", frame_exit, METH_VARARGS, "releases the frame"},
    {"__dlpack__", (PyCFunction)(void (*)(void))xmemi_py_frame_dlpack, METH_VARARGS | METH_KEYWORDS,
     "__dlpack__(*, stream=None, max_version=None, dl_device=None, copy=None): a DLPack "
     "capsule viewing the buffer (no copy)"},
    {"__dlpack_device__", xmemi_py_frame_dlpack_device, METH_NOARGS,
     "__dlpack_device__() -> (device type, device id): (1, 0) CPU, (2, n) CUDA device n"},
    {"cuda_record", frame_cuda_record, METH_VARARGS,
     "cuda_record(stream=None): a CUDA output frame, after the writes queued on `stream` (an "
     "int cudaStream_t, None: the legacy default stream): consumers wait for them"},
    {NULL, NULL, 0, NULL},
};

/* ---- attributes ---- */

static xmem_guard_t *live(PyObject *self)
{
    return xmemi_py_frame_guard(self, "frame");
}

static PyObject *get_stamp(PyObject *self, void *which)
{
    xmem_guard_t *g = live(self);
    uint64_t v[2];
    xmem_error_t err;
    if (!g)
        return NULL;
    xmem_err rc = xmem_guard_stamp(g, &v[0], &v[1], &err);
    return rc ? xmemi_py_raise(rc, &err) : PyLong_FromUnsignedLongLong(v[which != NULL]);
}

static int set_stamp(PyObject *self, PyObject *value, void *which)
{
    xmem_guard_t *g = live(self);
    uint64_t v[2];
    xmem_error_t err;
    if (!g)
        return -1;
    if (!value) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete a frame's stamp");
        return -1;
    }
    xmem_err rc = xmem_guard_stamp(g, &v[0], &v[1], &err);
    if (rc == XMEM_OK) {
        v[which != NULL] = PyLong_AsUnsignedLongLong(value);
        if (PyErr_Occurred())
            return -1;
        rc = xmem_guard_set_stamp(g, v[0], v[1], &err);
    }
    if (rc == XMEM_EREADONLY) {
        PyErr_SetString(PyExc_AttributeError, "a received frame's stamp is read-only");
        return -1;
    }
    return rc ? (xmemi_py_raise(rc, &err), -1) : 0;
}

static PyObject *laid_out(PyObject *self)
{
    if (!live(self) || xmemi_py_frame_layout((xmemi_py_frame *)self))
        return NULL;
    return self;
}

static PyObject *tuple_of(const Py_ssize_t *v, int n)
{
    PyObject *t = PyTuple_New(n);
    for (int i = 0; t && i < n; i++)
        PyTuple_SET_ITEM(t, i, PyLong_FromSsize_t(v[i]));
    return t;
}

static PyObject *get_shape(PyObject *self, void *unused)
{
    (void)unused;
    xmemi_py_frame *f = (xmemi_py_frame *)laid_out(self);
    return f ? tuple_of(f->shape, f->ndim) : NULL;
}

static PyObject *get_strides(PyObject *self, void *unused)
{
    (void)unused;
    xmemi_py_frame *f = (xmemi_py_frame *)laid_out(self);
    return f ? tuple_of(f->strides, f->ndim) : NULL;
}

static PyObject *get_dtype(PyObject *self, void *unused)
{
    (void)unused;
    xmemi_py_frame *f = (xmemi_py_frame *)laid_out(self);
    return f ? PyUnicode_FromString(xmemi_py_dtype_numpy_name(f->dtype)) : NULL;
}

static PyObject *get_nbytes(PyObject *self, void *unused)
{
    (void)unused;
    xmemi_py_frame *f = (xmemi_py_frame *)laid_out(self);
    return f ? PyLong_FromSsize_t(f->nbytes) : NULL;
}

static PyObject *get_size(PyObject *self, void *unused)
{
    (void)unused;
    xmem_guard_t *g = live(self);
    return g ? PyLong_FromSize_t(xmem_guard_size(g)) : NULL;
}

static PyObject *get_ref(PyObject *self, void *generation)
{
    xmem_guard_t *g = live(self);
    if (!g)
        return NULL;
    xmem_buf_ref r = xmem_guard_ref(g);
    return PyLong_FromUnsignedLong(generation ? r.generation : r.index);
}

static PyObject *get_readonly(PyObject *self, void *unused)
{
    (void)unused;
    xmem_guard_t *g = live(self);
    return g ? PyBool_FromLong(xmem_guard_mode(g) == XMEM_ACCESS_READ) : NULL;
}

static PyObject *get_released(PyObject *self, void *unused)
{
    (void)unused;
    return PyBool_FromLong(((xmemi_py_frame *)self)->gone != NULL);
}

static PyObject *get_is_cuda(PyObject *self, void *unused)
{
    (void)unused;
    xmem_guard_t *g = live(self);
    return g ? PyBool_FromLong(xmem_guard_is_cuda(g)) : NULL;
}

/* numpy.asarray, looked up once: numpy is imported by the first frame that needs it. */
static PyObject *asarray;

static PyObject *get_array(PyObject *self, void *unused)
{
    (void)unused;
    if (!live(self))
        return NULL;
    if (!asarray) {
        PyObject *np = PyImport_ImportModule("numpy");
        asarray = np ? PyObject_GetAttrString(np, "asarray") : NULL;
        Py_XDECREF(np);
        if (!asarray)
            return NULL;
    }
    return PyObject_CallOneArg(asarray, self);
}

static PyGetSetDef frame_getset[] = {
    {"array", get_array, NULL,
     "numpy's view of the buffer (no copy): read-only for received frames, writable for acquired "
     "ones; it keeps the buffer alive as long as it lives",
     NULL},
    {"sequence", get_stamp, set_stamp, "the producer's frame number (settable on acquired frames)",
     NULL},
    {"timestamp_ns", get_stamp, set_stamp,
     "the producer's clock_ns() at capture (settable on acquired frames)", (void *)1},
    {"shape", get_shape, NULL, "dimensions (raw bytes: (size,))", NULL},
    {"strides", get_strides, NULL, "bytes between elements of each dimension", NULL},
    {"dtype", get_dtype, NULL, "numpy's name of the element type ('uint8', ...)", NULL},
    {"nbytes", get_nbytes, NULL, "bytes the layout covers", NULL},
    {"size", get_size, NULL, "bytes asked for at acquire", NULL},
    {"index", get_ref, NULL, "the buffer's slot in the pool", NULL},
    {"generation", get_ref, NULL, "the slot's generation (grows at each recycling)", (void *)1},
    {"readonly", get_readonly, NULL, "True for received frames", NULL},
    {"released", get_released, NULL, "True once released or published", NULL},
    {"is_cuda", get_is_cuda, NULL, "True for a CUDA buffer (DLPack only)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyObject *frame_repr(PyObject *self)
{
    xmemi_py_frame *f = (xmemi_py_frame *)self;
    xmem_buf_ref r = xmem_guard_ref(&f->guard);
    if (f->gone)
        return PyUnicode_FromFormat("<xmem.Frame %s>", f->gone);
    uint64_t seq = 0;
    xmem_guard_stamp(&f->guard, &seq, NULL, NULL);
    return PyUnicode_FromFormat("<xmem.Frame buffer %u/%u seq %llu, %zu bytes, %s>", r.index,
                                r.generation, (unsigned long long)seq, xmem_guard_size(&f->guard),
                                xmem_guard_mode(&f->guard) == XMEM_ACCESS_READ ? "read-only"
                                                                               : "writable");
}

PyTypeObject xmemi_py_frame_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "xmem.Frame",
    .tp_doc = "A pool buffer holding one reference: frame.array (numpy), DLPack, its stamp and "
              "layout. Made by subscribers and nodes, not by hand.",
    .tp_basicsize = sizeof(xmemi_py_frame),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = frame_dealloc,
    .tp_repr = frame_repr,
    .tp_as_buffer = &buffer_procs,
    .tp_methods = frame_methods,
    .tp_getset = frame_getset,
};
