/* xmem.Node: the base class of a node written in Python. A node file subclasses it, declares its
 * ports and parameters as class attributes and defines init / process(port, frame) / tick /
 * fini; these methods are what its callbacks call into the node host (include/xmem/node.h),
 * valid while the node runs (plugin.c sets the node before init and clears it after fini). */
#include "pyxmem.h"

#include <pthread.h>
#include <stddef.h>

#include <xmem/cuda.h>

static pthread_t main_thread; /* the host calls every callback on it; so must the node */

xmem_node_t *xmemi_py_node_running(PyObject *self)
{
    xmem_node_t *node = ((xmemi_py_node *)self)->node;
    if (!node) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this node is not running: `xmem node` or `xmem run` runs it");
        return NULL;
    }
    if (!pthread_equal(pthread_self(), main_thread)) {
        PyErr_SetString(PyExc_RuntimeError, "node methods are for the node's callbacks, on its "
                                            "main thread (not from threads it started)");
        return NULL;
    }
    return node;
}

void xmemi_py_node_attach(PyObject *self, xmem_node_t *node)
{
    main_thread = pthread_self();
    ((xmemi_py_node *)self)->node = node;
}

/* A frame for `g`, or the guard's reference given back when there is no memory for one. */
static PyObject *frame_of(xmem_guard_t *g)
{
    PyObject *f = xmemi_py_frame_new(g, NULL);
    if (!f)
        xmem_guard_release(g, NULL);
    return f;
}

/* The running node, and the layout and byte count of a buffer of `shape` and `dtype` (default
 * uint8); NULL with an exception. */
static xmem_node_t *layout_of(PyObject *self, PyObject *shape_obj, PyObject *dtype_obj,
                              int64_t *shape, uint32_t *ndim, xmem_dtype *dtype, size_t *bytes)
{
    xmem_node_t *node = xmemi_py_node_running(self);
    *dtype = XMEM_DTYPE_U8;
    if (!node || xmemi_py_shape(shape_obj, shape, ndim) ||
        (dtype_obj && xmemi_py_dtype(dtype_obj, dtype)))
        return NULL;
    *bytes = xmem_dtype_size(*dtype);
    for (uint32_t d = 0; d < *ndim; d++)
        if (__builtin_mul_overflow(*bytes, (size_t)shape[d], bytes)) {
            PyErr_SetString(PyExc_ValueError, "shape: more bytes than a buffer can hold");
            return NULL;
        }
    return node;
}

/* A frame for a new buffer of `shape` and `dtype` (a CPU one when device < 0), stamped; NULL with
 * an exception. The wait for a free buffer lets the node's threads run. */
static PyObject *acquire(PyObject *self, PyObject *shape_obj, PyObject *dtype_obj, int device,
                         uint64_t seq, uint64_t ts)
{
    int64_t shape[XMEM_MAX_NDIM];
    uint32_t ndim;
    xmem_dtype dtype;
    size_t bytes;
    xmem_node_t *node = layout_of(self, shape_obj, dtype_obj, shape, &ndim, &dtype, &bytes);
    if (!node)
        return NULL;
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err;
    PyThreadState *py = PyEval_SaveThread();
    xmem_err rc = device < 0 ? xmem_node_acquire(node, bytes, &g, &err)
                             : xmem_node_acquire_cuda(node, bytes, device, &g, &err);
    PyEval_RestoreThread(py);
    if (rc == XMEM_OK)
        rc = xmem_guard_set_layout(&g, dtype, ndim, shape, NULL, &err);
    if (rc == XMEM_OK)
        rc = xmem_guard_set_stamp(&g, seq, ts ? ts : xmem_node_clock_ns(), &err);
    if (rc) {
        xmem_guard_release(&g, NULL);
        return xmemi_py_raise(rc, &err);
    }
    return frame_of(&g);
}

static PyObject *node_acquire(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"shape", "dtype", "sequence", "timestamp_ns", NULL};
    PyObject *shape_obj, *dtype_obj = NULL;
    unsigned long long seq = 0, ts = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OKK:acquire", kw, &shape_obj, &dtype_obj,
                                     &seq, &ts))
        return NULL;
    return acquire(self, shape_obj, dtype_obj, -1, seq, ts);
}

static PyObject *node_acquire_like(PyObject *self, PyObject *frame)
{
    xmem_node_t *node = xmemi_py_node_running(self);
    xmem_guard_t *in = node ? xmemi_py_frame_guard(frame, "acquire_like") : NULL;
    if (!in)
        return NULL;
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err;
    PyThreadState *py = PyEval_SaveThread();
    xmem_err rc = xmem_node_acquire_like(node, in, &g, &err);
    PyEval_RestoreThread(py);
    return rc ? xmemi_py_raise(rc, &err) : frame_of(&g);
}

static PyObject *node_publish(PyObject *self, PyObject *args)
{
    const char *port;
    PyObject *frame;
    if (!PyArg_ParseTuple(args, "sO:publish", &port, &frame))
        return NULL;
    xmem_node_t *node = xmemi_py_node_running(self);
    if (!node || !xmemi_py_frame_guard(frame, "publish"))
        return NULL;
    return xmemi_py_frame_publish((xmemi_py_frame *)frame, node, port);
}

static PyObject *node_log(PyObject *self, PyObject *args)
{
    const char *msg, *level_name = "info";
    if (!PyArg_ParseTuple(args, "s|s:log", &msg, &level_name))
        return NULL;
    xmem_node_t *node = xmemi_py_node_running(self);
    xmem_log_level level;
    xmem_error_t err;
    if (!node)
        return NULL;
    if (xmem_log_level_from_name(level_name, &level, &err))
        return PyErr_Format(PyExc_ValueError, "log level %s", err.msg);
    xmem_node_log(node, level, "%s", msg);
    Py_RETURN_NONE;
}

static PyObject *node_fail(PyObject *self, PyObject *args)
{
    const char *msg;
    if (!PyArg_ParseTuple(args, "s:fail", &msg))
        return NULL;
    xmem_node_t *node = xmemi_py_node_running(self);
    if (!node)
        return NULL;
    xmem_node_fail(node, NULL, "%s", msg);
    Py_RETURN_NONE;
}

static PyObject *node_finish(PyObject *self, PyObject *unused)
{
    (void)unused;
    xmem_node_t *node = xmemi_py_node_running(self);
    if (!node)
        return NULL;
    xmem_node_finish(node);
    Py_RETURN_NONE;
}

static PyObject *node_output_wired(PyObject *self, PyObject *args)
{
    const char *port;
    if (!PyArg_ParseTuple(args, "s:output_wired", &port))
        return NULL;
    xmem_node_t *node = xmemi_py_node_running(self);
    return node ? PyBool_FromLong(xmem_node_output_wired(node, port)) : NULL;
}

static PyObject *node_acquire_cuda(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"shape", "dtype", "device", "sequence", "timestamp_ns", NULL};
    PyObject *shape_obj, *dtype_obj = NULL;
    int device = 0;
    unsigned long long seq = 0, ts = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OiKK:acquire_cuda", kw, &shape_obj,
                                     &dtype_obj, &device, &seq, &ts))
        return NULL;
    if (device < 0)
        return PyErr_Format(PyExc_ValueError, "acquire_cuda: device %d", device);
    return acquire(self, shape_obj, dtype_obj, device, seq, ts);
}

static PyMethodDef node_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))node_acquire, METH_VARARGS | METH_KEYWORDS,
     "acquire(shape, dtype='uint8', sequence=0, timestamp_ns=now) -> Frame: a writable buffer "
     "from the pool with this layout and stamp (waits up to the acquire timeout)"},
    {"acquire_like", node_acquire_like, METH_O,
     "acquire_like(frame) -> Frame: a writable buffer of the frame's size, layout and stamp"},
    {"acquire_cuda", (PyCFunction)(void (*)(void))node_acquire_cuda, METH_VARARGS | METH_KEYWORDS,
     "acquire_cuda(shape, dtype='uint8', device=0, sequence=0, timestamp_ns=now) -> Frame: a "
     "CUDA buffer (DLPack only)"},
    {"publish", node_publish, METH_VARARGS,
     "publish(port, frame): hands the frame's buffer to the port's subscribers; the frame is "
     "gone afterwards (ReleasedError if used)"},
    {"forward", node_publish, METH_VARARGS,
     "forward(port, frame): passes a received frame on unchanged (publish)"},
    {"log", node_log, METH_VARARGS,
     "log(message, level='info'): one line in the node's log (error, warn, info, debug)"},
    {"fail", node_fail, METH_VARARGS,
     "fail(message): stops the node with this error once the current callback returns"},
    {"finish", node_finish, METH_NOARGS,
     "finish(): ends the node's stream (a source that sent everything)"},
    {"output_wired", node_output_wired, METH_VARARGS,
     "output_wired(port) -> bool: whether anyone subscribes to the output"},
    {NULL, NULL, 0, NULL},
};

static PyObject *get_node_name(PyObject *self, void *unused)
{
    (void)unused;
    xmem_node_t *node = xmemi_py_node_running(self);
    return node ? PyUnicode_FromString(xmem_node_name(node)) : NULL;
}

static PyObject *get_stopping(PyObject *self, void *unused)
{
    (void)unused;
    xmem_node_t *node = xmemi_py_node_running(self);
    return node ? PyBool_FromLong(xmem_node_stopping(node)) : NULL;
}

static PyGetSetDef node_getset[] = {
    {"node_name", get_node_name, NULL, "the node's name in the graph", NULL},
    {"stopping", get_stopping, NULL, "True once the node is stopping: long callbacks return", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static int node_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(((xmemi_py_node *)self)->dict);
    return 0;
}

static int node_clear(PyObject *self)
{
    Py_CLEAR(((xmemi_py_node *)self)->dict);
    return 0;
}

/* A subclass's instance comes here through CPython's subtype_dealloc, which also drops the
 * reference to its (heap) type. */
static void node_dealloc(PyObject *self)
{
    PyObject_GC_UnTrack(self);
    node_clear(self);
    Py_TYPE(self)->tp_free(self);
}

PyTypeObject xmemi_py_node_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "xmem.Node",
    .tp_doc = "Base class of a node written in Python. Class attributes declare it: name, "
              "version, description, inputs and outputs ({port: help}), params ({name: "
              "xmem.Param(...)}). Methods it may define: init(), process(port, frame) (nodes "
              "with inputs), tick() (sources), fini(). self.params holds the parameter values.",
    .tp_basicsize = sizeof(xmemi_py_node),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_dictoffset = offsetof(xmemi_py_node, dict),
    .tp_new = PyType_GenericNew,
    .tp_traverse = node_traverse,
    .tp_clear = node_clear,
    .tp_dealloc = node_dealloc,
    .tp_methods = node_methods,
    .tp_getset = node_getset,
};
