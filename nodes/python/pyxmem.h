/* Private to the xmem Python extension (xmem._xmem): its types (Frame, Node, Pool, Subscriber),
 * its exceptions, and the helpers its files share. Python.h comes first, as CPython asks. */
#ifndef XMEM_NODES_PYTHON_PYXMEM_H
#define XMEM_NODES_PYTHON_PYXMEM_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdbool.h>

#include <xmem/xmem.h>

#include "python_host.h"

/* ---- errors (module.c) ---- */

extern PyObject *xmemi_py_error;          /* xmem.Error: a failed xmem call, its message */
extern PyObject *xmemi_py_released_error; /* xmem.ReleasedError: a frame used after release */
extern PyObject *xmemi_py_end_of_stream;  /* xmem.EndOfStream: every publisher ended */

/* Raises xmem.Error with the call's message (or the code's text); returns NULL. */
PyObject *xmemi_py_raise(xmem_err rc, const xmem_error_t *err);

/* The xmem dtype named by `obj`: an xmem name ("u8"), a numpy name ("uint8"), or anything
 * numpy.dtype() takes. -1 with TypeError otherwise. */
int xmemi_py_dtype(PyObject *obj, xmem_dtype *out);

/* numpy's name of an xmem dtype ("uint8"; "bfloat16", which numpy lacks). */
const char *xmemi_py_dtype_numpy_name(xmem_dtype dtype);

/* A shape given as an int or a sequence of ints (XMEM_MAX_NDIM at most): its dimensions into
 * shape[], the count into *ndim. -1 with an exception otherwise. */
int xmemi_py_shape(PyObject *obj, int64_t *shape, uint32_t *ndim);

/* ---- frames (frame.c, dlpack.c) ---- */

typedef struct xmemi_py_frame {
    PyObject ob_base;   /* PyObject_HEAD */
    xmem_guard_t guard; /* the frame's reference; empty once given back */
    PyObject *owner;    /* what the guard's pool handle belongs to (a Subscriber), or NULL: the
                           node host's, valid until the node's fini */
    Py_ssize_t views;   /* buffer views and DLPack tensors alive: each needs the reference */
    const char *gone;   /* NULL, or why Python may no longer use it: "released", "published" */
    bool has_layout;    /* the fields below are read (once: a frame's layout does not change) */
    bool cuda;          /* a CUDA buffer: no host view */
    xmem_dtype dtype;   /* XMEM_DTYPE_UNKNOWN: raw bytes, seen as 1-D uint8 */
    int ndim;           /* 1 for raw bytes */
    Py_ssize_t itemsize, nbytes;
    Py_ssize_t shape[XMEM_MAX_NDIM];
    Py_ssize_t strides[XMEM_MAX_NDIM]; /* bytes */
} xmemi_py_frame;

extern PyTypeObject xmemi_py_frame_type;

/* A Frame that takes over `guard`'s reference (the guard is emptied). `owner` (may be NULL) is
 * kept alive as long as the frame. NULL with an exception (the guard is then untouched). */
PyObject *xmemi_py_frame_new(xmem_guard_t *guard, PyObject *owner);

/* The frame's guard for an operation named `what`; NULL with ReleasedError when it is gone, or
 * TypeError when `obj` is not a Frame. */
xmem_guard_t *xmemi_py_frame_guard(PyObject *obj, const char *what);

/* Reads the frame's layout once (dtype, shape, strides), checking it lies inside the buffer. */
int xmemi_py_frame_layout(xmemi_py_frame *f);

/* Publishes the frame's buffer on `port` of `node`: the frame is gone afterwards. Views of it
 * still alive keep a reference of their own until they die (the buffer is not recycled under
 * them). NULL with an exception. */
PyObject *xmemi_py_frame_publish(xmemi_py_frame *f, xmem_node_t *node, const char *port);

/* A view (buffer view or DLPack tensor) went away: the last one of a gone frame gives its
 * reference back. */
void xmemi_py_frame_view_done(xmemi_py_frame *f);

/* After the node's fini: frames still alive belong to pool handles the host is closing, whose
 * references the host gives back itself; they must not touch them any more. */
void xmemi_py_frames_orphan(void);

/* The DLPack protocol of frames (dlpack.c): frame.__dlpack__(...) and __dlpack_device__(). */
PyObject *xmemi_py_frame_dlpack(PyObject *self, PyObject *args, PyObject *kwargs);
PyObject *xmemi_py_frame_dlpack_device(PyObject *self, PyObject *unused);

/* ---- nodes (node.c, plugin.c) ---- */

typedef struct xmemi_py_node {
    PyObject ob_base; /* PyObject_HEAD */
    PyObject *dict;
    xmem_node_t *node; /* set by the host while the node runs; NULL otherwise */
} xmemi_py_node;

extern PyTypeObject xmemi_py_node_type;

/* The node a Node method works on; NULL with RuntimeError outside a running node. */
xmem_node_t *xmemi_py_node_running(PyObject *self);

/* Sets the node `self` works on (NULL after fini); callbacks run on the calling thread. */
void xmemi_py_node_attach(PyObject *self, xmem_node_t *node);

/* Loads a node file (the capsule's load, see python_host.h). */
xmem_err xmemi_py_plugin_load(const char *path, xmemi_foreign_plugin *out, xmem_error_t *err);

/* ---- outside a graph (reader.c) ---- */

extern PyTypeObject xmemi_py_pool_type;
extern PyTypeObject xmemi_py_subscriber_type;

/* A frame of a Subscriber gave its reference back (its count of frames holding one). */
void xmemi_py_subscriber_frame_done(PyObject *owner);

/* The module xmem._plugin (imported once). */
PyObject *xmemi_py_plugin_module(void);

#endif
