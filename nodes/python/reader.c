/* Outside a graph: xmem.Subscriber reads the frames a running graph publishes, from a plain python3
 * process (a notebook, a debugging tool), and xmem.Pool looks at a pool's books. A subscriber is
 * a late-joining consumer like any node's input: under drop_oldest (the default) the graph never
 * waits for it.
 *   sub = xmem.Subscriber("xmem-fanout", xmem.endpoint("xmem-fanout", "src", "out"))
 *   for frame in sub: show(frame.array) */
#include "pyxmem.h"

#include <xmem/pool_admin.h>

typedef struct subscriber {
    PyObject ob_base; /* PyObject_HEAD */
    xmem_sub_t *sub;
    Py_ssize_t frames; /* frames that still hold a reference of its attachment */
} subscriber;

typedef struct pool {
    PyObject ob_base; /* PyObject_HEAD */
    xmem_pool_t *pool;
} pool;

/* ---- Subscriber ---- */

static int sub_init(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"pool", "endpoint", "depth", "policy", NULL};
    const char *pool_name, *endpoint = NULL, *policy = "drop_oldest";
    unsigned depth = 4;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|zIs:Subscriber", kw, &pool_name, &endpoint,
                                     &depth, &policy))
        return -1;
    subscriber *s = (subscriber *)self;
    if (s->sub) {
        PyErr_SetString(PyExc_RuntimeError, "Subscriber is initialised once");
        return -1;
    }
    xmem_sub_options o;
    xmem_sub_options_init(&o);
    o.depth = depth;
    xmem_error_t err;
    xmem_err rc = xmem_queue_policy_from_name(policy, &o.policy, &err);
    if (rc == XMEM_OK)
        rc = xmem_sub_create(pool_name, &o, &s->sub, &err);
    if (rc == XMEM_OK && endpoint && (rc = xmem_sub_connect(s->sub, endpoint, &err)))
        xmem_sub_destroy(&s->sub);
    return rc ? (xmemi_py_raise(rc, &err), -1) : 0;
}

static xmem_sub_t *open_sub(PyObject *self)
{
    subscriber *s = (subscriber *)self;
    if (!s->sub)
        PyErr_SetString(xmemi_py_error, "the subscriber is closed");
    return s->sub;
}

static PyObject *sub_connect(PyObject *self, PyObject *args)
{
    const char *endpoint;
    xmem_sub_t *sub = open_sub(self);
    if (!sub || !PyArg_ParseTuple(args, "s:connect", &endpoint))
        return NULL;
    xmem_error_t err;
    xmem_err rc = xmem_sub_connect(sub, endpoint, &err);
    if (rc)
        return xmemi_py_raise(rc, &err);
    Py_RETURN_NONE;
}

/* The next frame within timeout_ms (negative: no limit); None on a timeout, EndOfStream once
 * every publisher ended. Waits with the GIL released; Ctrl-C raises KeyboardInterrupt. */
static PyObject *receive(PyObject *self, int timeout_ms)
{
    xmem_sub_t *sub = open_sub(self);
    if (!sub)
        return NULL;
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err;
    xmem_err rc;
    for (;;) {
        PyThreadState *py = PyEval_SaveThread();
        rc = xmem_sub_receive(sub, timeout_ms, &g, &err);
        PyEval_RestoreThread(py);
        if (rc != XMEM_EINTERRUPTED)
            break;
        if (PyErr_CheckSignals())
            return NULL;
    }
    if (rc == XMEM_ETIMEDOUT)
        Py_RETURN_NONE;
    if (rc == XMEM_EEND) {
        PyErr_SetString(xmemi_py_end_of_stream, "every publisher ended its stream");
        return NULL;
    }
    if (rc)
        return xmemi_py_raise(rc, &err);
    PyObject *f = xmemi_py_frame_new(&g, self);
    if (!f)
        xmem_guard_release(&g, NULL);
    else
        ((subscriber *)self)->frames++;
    return f;
}

void xmemi_py_subscriber_frame_done(PyObject *owner)
{
    if (PyObject_TypeCheck(owner, &xmemi_py_subscriber_type))
        ((subscriber *)owner)->frames--;
}

static PyObject *sub_receive(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"timeout_ms", NULL};
    int timeout_ms = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|i:receive", kw, &timeout_ms))
        return NULL;
    return receive(self, timeout_ms);
}

static PyObject *sub_next(PyObject *self)
{
    PyObject *f = receive(self, -1);
    if (!f && PyErr_ExceptionMatches(xmemi_py_end_of_stream))
        PyErr_Clear(); /* NULL without an exception ends the iteration */
    return f;
}

static PyObject *sub_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    subscriber *s = (subscriber *)self;
    if (s->frames) {
        PyErr_Format(xmemi_py_error,
                     "%zd frames of this subscriber still hold buffers: release them (or "
                     "drop every view of them) before close()",
                     s->frames);
        return NULL;
    }
    xmem_sub_destroy(&s->sub);
    Py_RETURN_NONE;
}

static PyObject *sub_exit(PyObject *self, PyObject *args)
{
    (void)args;
    return sub_close(self, NULL);
}

static PyObject *sub_stats(PyObject *self, PyObject *unused)
{
    (void)unused;
    xmem_sub_t *sub = open_sub(self);
    if (!sub)
        return NULL;
    xmem_sub_stats st;
    xmem_sub_stats_get(sub, &st, sizeof st);
    return Py_BuildValue("{sKsKsKsK}", "received", (unsigned long long)st.received,
                         "dropped_oldest", (unsigned long long)st.dropped_oldest, "lost_in_flight",
                         (unsigned long long)st.lost_in_flight, "rejected",
                         (unsigned long long)st.rejected_total);
}

static PyObject *return_self(PyObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

static void sub_dealloc(PyObject *self)
{
    /* Frames hold their subscriber: none is alive here, so none holds a buffer. */
    xmem_sub_destroy(&((subscriber *)self)->sub);
    Py_TYPE(self)->tp_free(self);
}

static PyMethodDef sub_methods[] = {
    {"connect", sub_connect, METH_VARARGS,
     "connect(endpoint): also subscribe to this publisher (ipc://PATH or tcp://HOST:PORT)"},
    {"receive", (PyCFunction)(void (*)(void))sub_receive, METH_VARARGS | METH_KEYWORDS,
     "receive(timeout_ms=-1) -> Frame or None: the next frame (read-only), None after the "
     "timeout; raises EndOfStream once every publisher ended"},
    {"stats", sub_stats, METH_NOARGS, "stats() -> dict: received, dropped_oldest, ..."},
    {"close", sub_close, METH_NOARGS,
     "close(): unsubscribes and gives back what is queued (every frame released first)"},
    {"__enter__", return_self, METH_NOARGS, NULL},
    {"__exit__", sub_exit, METH_VARARGS, "closes the subscriber"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject xmemi_py_subscriber_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "xmem.Subscriber",
    .tp_doc = "Subscriber(pool, endpoint=None, depth=4, policy='drop_oldest'): frames published "
              "at an endpoint of a running graph (xmem.endpoint(pool, node, port) names it); "
              "iterating yields frames until the stream ends.",
    .tp_basicsize = sizeof(subscriber),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = sub_init,
    .tp_dealloc = sub_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = sub_next,
    .tp_methods = sub_methods,
};

/* ---- Pool ---- */

static int pool_init(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"name", NULL};
    const char *name;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s:Pool", kw, &name))
        return -1;
    pool *p = (pool *)self;
    xmem_pool_close(&p->pool);
    xmem_error_t err;
    xmem_err rc = xmem_pool_open(name, &p->pool, &err);
    return rc ? (xmemi_py_raise(rc, &err), -1) : 0;
}

static xmem_pool_t *open_pool(PyObject *self)
{
    pool *p = (pool *)self;
    if (!p->pool)
        PyErr_SetString(xmemi_py_error, "the pool is closed");
    return p->pool;
}

static PyObject *pool_get(PyObject *self, void *what)
{
    xmem_pool_t *p = open_pool(self);
    if (!p)
        return NULL;
    switch ((intptr_t)what) {
    case 0: return PyUnicode_FromString(xmem_pool_name(p));
    case 1: return PyLong_FromUnsignedLong(xmem_pool_capacity(p));
    default: return PyLong_FromUnsignedLong(xmem_pool_free_count(p));
    }
}

static PyObject *pool_held_by(PyObject *self, PyObject *args)
{
    int pid;
    xmem_pool_t *p = open_pool(self);
    if (!p || !PyArg_ParseTuple(args, "i:held_by", &pid))
        return NULL;
    return PyLong_FromUnsignedLongLong(xmem_pool_held_by_pid(p, (pid_t)pid));
}

static PyObject *pool_holders(PyObject *self, PyObject *unused)
{
    (void)unused;
    xmem_pool_t *p = open_pool(self);
    if (!p)
        return NULL;
    char text[1024];
    xmem_pool_describe_holders(p, text, sizeof text);
    return PyUnicode_FromString(text);
}

static PyObject *pool_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    xmem_pool_close(&((pool *)self)->pool);
    Py_RETURN_NONE;
}

static PyObject *pool_exit(PyObject *self, PyObject *args)
{
    (void)args;
    return pool_close(self, NULL);
}

static void pool_dealloc(PyObject *self)
{
    xmem_pool_close(&((pool *)self)->pool);
    Py_TYPE(self)->tp_free(self);
}

static PyMethodDef pool_methods[] = {
    {"held_by", pool_held_by, METH_VARARGS, "held_by(pid) -> int: references process pid holds"},
    {"holders", pool_holders, METH_NOARGS, "holders() -> str: who holds buffers, as errors say"},
    {"close", pool_close, METH_NOARGS, "close(): detaches (the pool lives on)"},
    {"__enter__", return_self, METH_NOARGS, NULL},
    {"__exit__", pool_exit, METH_VARARGS, "closes the handle"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef pool_getset[] = {
    {"name", pool_get, NULL, "the pool's name", (void *)0},
    {"capacity", pool_get, NULL, "buffers the pool can hold", (void *)1},
    {"free_count", pool_get, NULL, "buffers nobody holds (a snapshot)", (void *)2},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject xmemi_py_pool_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "xmem.Pool",
    .tp_doc = "Pool(name): an existing pool's books, read without disturbing it",
    .tp_basicsize = sizeof(pool),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = pool_init,
    .tp_dealloc = pool_dealloc,
    .tp_methods = pool_methods,
    .tp_getset = pool_getset,
};
