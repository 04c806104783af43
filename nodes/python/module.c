/* The xmem._xmem extension module: its exceptions, dtype and shape conversions shared by its
 * types, the clock, and the capsule through which the node host (host.c) loads node files. The
 * Python package around it is nodes/python/xmem/. */
#include "pyxmem.h"

#include <string.h>

PyObject *xmemi_py_error;
PyObject *xmemi_py_released_error;
PyObject *xmemi_py_end_of_stream;

PyObject *xmemi_py_raise(xmem_err rc, const xmem_error_t *err)
{
    PyErr_SetString(xmemi_py_error, err && err->msg[0] ? err->msg : xmem_strerror(rc));
    return NULL;
}

/* numpy's names, by xmem dtype. */
static const char *const numpy_names[XMEM_DTYPE_COUNT_] = {
    [XMEM_DTYPE_UNKNOWN] = "uint8", [XMEM_DTYPE_U8] = "uint8",      [XMEM_DTYPE_I8] = "int8",
    [XMEM_DTYPE_U16] = "uint16",    [XMEM_DTYPE_I16] = "int16",     [XMEM_DTYPE_U32] = "uint32",
    [XMEM_DTYPE_I32] = "int32",     [XMEM_DTYPE_U64] = "uint64",    [XMEM_DTYPE_I64] = "int64",
    [XMEM_DTYPE_F16] = "float16",   [XMEM_DTYPE_BF16] = "bfloat16", [XMEM_DTYPE_F32] = "float32",
    [XMEM_DTYPE_F64] = "float64",   [XMEM_DTYPE_BOOL] = "bool",
};

const char *xmemi_py_dtype_numpy_name(xmem_dtype dtype)
{
    return (unsigned)dtype < XMEM_DTYPE_COUNT_ ? numpy_names[dtype] : "unknown";
}

static bool dtype_by_name(const char *name, xmem_dtype *out)
{
    if (xmem_dtype_from_name(name, out, NULL) == XMEM_OK && *out != XMEM_DTYPE_UNKNOWN)
        return true;
    for (int d = XMEM_DTYPE_U8; d < XMEM_DTYPE_COUNT_; d++)
        if (strcmp(name, numpy_names[d]) == 0) {
            *out = (xmem_dtype)d;
            return true;
        }
    return false;
}

int xmemi_py_dtype(PyObject *obj, xmem_dtype *out)
{
    if (PyUnicode_Check(obj)) {
        const char *s = PyUnicode_AsUTF8(obj);
        if (!s)
            return -1;
        if (dtype_by_name(s, out))
            return 0;
    }
    /* numpy.dtype(obj).name: np.uint8, np.dtype("<f4"), "f4" ... (numpy only on this path) */
    PyObject *np = PyImport_ImportModule("numpy");
    PyObject *dt = np ? PyObject_CallMethod(np, "dtype", "O", obj) : NULL;
    PyObject *name = dt ? PyObject_GetAttrString(dt, "name") : NULL;
    const char *s = name ? PyUnicode_AsUTF8(name) : NULL;
    int rc = s && dtype_by_name(s, out) ? 0 : -1;
    if (rc && (s || PyErr_ExceptionMatches(PyExc_TypeError)))
        PyErr_Format(PyExc_TypeError,
                     "dtype %R: xmem buffers hold uint8..int64, float16/32/64, "
                     "bfloat16 or bool",
                     obj);
    Py_XDECREF(name);
    Py_XDECREF(dt);
    Py_XDECREF(np);
    return rc;
}

int xmemi_py_shape(PyObject *obj, int64_t *shape, uint32_t *ndim)
{
    PyObject *seq = PyLong_Check(obj) ? PyTuple_Pack(1, obj)
                                      : PySequence_Fast(obj, "shape: an int or a sequence of ints");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    int rc = 0;
    if (n < 1 || n > XMEM_MAX_NDIM) {
        PyErr_Format(PyExc_ValueError, "shape: 1 to %d dimensions, not %zd", XMEM_MAX_NDIM, n);
        rc = -1;
    }
    for (Py_ssize_t i = 0; rc == 0 && i < n; i++) {
        long long v = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
        if (v == -1 && PyErr_Occurred())
            rc = -1;
        else if (v < 1) {
            PyErr_Format(PyExc_ValueError, "shape: dimension %zd is %lld (at least 1)", i, v);
            rc = -1;
        } else
            shape[i] = v;
    }
    *ndim = (uint32_t)n;
    Py_DECREF(seq);
    return rc;
}

PyObject *xmemi_py_plugin_module(void)
{
    static PyObject *mod;
    if (!mod)
        mod = PyImport_ImportModule("xmem._plugin");
    return mod;
}

static PyObject *clock_ns(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyLong_FromUnsignedLongLong(xmem_node_clock_ns());
}

static PyMethodDef functions[] = {
    {"clock_ns", clock_ns, METH_NOARGS,
     "clock_ns() -> int: the clock of frame timestamps (CLOCK_MONOTONIC, ns)"},
    {NULL, NULL, 0, NULL},
};

static const xmemi_python_api api = {
    .size = sizeof(xmemi_python_api),
    .load = xmemi_py_plugin_load,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "xmem._xmem",
    .m_doc = "xmem's frames, nodes and subscribers (the package xmem re-exports them)",
    .m_size = -1,
    .m_methods = functions,
};

static int add_exception(PyObject *m, PyObject **slot, const char *name, PyObject *base,
                         const char *doc)
{
    *slot = PyErr_NewExceptionWithDoc(name, doc, base, NULL);
    return *slot ? PyModule_AddObjectRef(m, strrchr(name, '.') + 1, *slot) : -1;
}

static int add_param_types(PyObject *m)
{
    PyObject *types =
        Py_BuildValue("{sisisisisi}", "int", XMEM_PARAM_INT, "float", XMEM_PARAM_FLOAT, "string",
                      XMEM_PARAM_STRING, "bool", XMEM_PARAM_BOOL, "enum", XMEM_PARAM_ENUM);
    int rc = types ? PyModule_AddObjectRef(m, "PARAM_TYPES", types) : -1;
    Py_XDECREF(types);
    return rc;
}

PyMODINIT_FUNC PyInit__xmem(void);

PyMODINIT_FUNC PyInit__xmem(void)
{
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    PyObject *capsule = PyCapsule_New((void *)&api, XMEMI_PYTHON_API_CAPSULE, NULL);
    PyTypeObject *types[] = {&xmemi_py_frame_type, &xmemi_py_node_type, &xmemi_py_pool_type,
                             &xmemi_py_subscriber_type};
    int rc = capsule ? PyModule_AddObjectRef(m, "_host_api", capsule) : -1;
    Py_XDECREF(capsule);
    for (size_t i = 0; rc == 0 && i < sizeof types / sizeof types[0]; i++)
        rc = PyModule_AddType(m, types[i]);
    if (rc == 0)
        rc = add_exception(m, &xmemi_py_error, "xmem.Error", NULL,
                           "A failed xmem call; the message names the pool, buffer or port.");
    if (rc == 0)
        rc = add_exception(m, &xmemi_py_released_error, "xmem.ReleasedError", xmemi_py_error,
                           "A frame used after it was released or published.");
    if (rc == 0)
        rc = add_exception(m, &xmemi_py_end_of_stream, "xmem.EndOfStream", xmemi_py_error,
                           "Every publisher a subscriber listens to ended its stream.");
    if (rc == 0)
        rc = add_param_types(m);
    if (rc) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
