/* A node file as a node plugin: xmem._plugin.load imports it and describes its node class; this
 * file turns the description into an xmem_node_plugin (checked by the loader like any other)
 * whose callbacks create the node object and call its init / process / tick / fini with the GIL
 * held. A frame given to process goes back to the host when Python kept no reference to it. */
#include "pyxmem.h"

#include <stdlib.h>
#include <string.h>

#include "common/fail.h"

/* A loaded node file. Every string of `desc` points into `described`, which it keeps alive. */
typedef struct pyplugin {
    xmem_node_plugin desc;
    PyObject *cls;          /* the node class */
    PyObject *described;    /* xmem._plugin.describe's tuple */
    PyObject **input_names; /* the input ports' names as str, for process's `port` */
    xmem_node_port *ports;  /* inputs, then outputs */
    xmem_node_param *params;
    const char **choices; /* each enum's choices, NULL-terminated, one after another */
} pyplugin;

/* The node the host runs: its object and the bound methods called per frame. */
typedef struct running {
    const pyplugin *plugin;
    PyObject *node, *process, *tick;
} running;

/* init is the one callback without a state to tell which file it runs, so each loaded file gets
 * an init of its own: slot i's init_i runs slots[i] (a graph has 64 nodes at most). */
#define SLOT_COUNT 64
static pyplugin *slots[SLOT_COUNT];

/* The pending exception, cleared, with its traceback attached (NULL when none is pending). */
static PyObject *fetch_exception(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value && tb)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

/* The pending exception as the node's failure: its traceback into the node's log, line by line,
 * and "file:line: Type: message" as the reason the node stops. */
static xmem_err failed(xmem_node_t *node, xmem_error_t *err)
{
    PyObject *value = fetch_exception();
    PyObject *mod = xmemi_py_plugin_module();
    PyObject *res = mod && value ? PyObject_CallMethod(mod, "report", "O", value) : NULL;
    const char *where = NULL;
    PyObject *lines = NULL;
    if (res && PyArg_ParseTuple(res, "sO", &where, &lines) && PyList_Check(lines)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); i++) {
            const char *line = PyUnicode_AsUTF8(PyList_GET_ITEM(lines, i));
            if (line)
                xmem_node_log(node, XMEM_LOG_ERROR, "%s", line);
        }
    }
    PyErr_Clear();
    xmem_err rc = xmem_node_fail(node, err, "%s",
                                 where ? where : "a Python exception that could not be described");
    Py_XDECREF(res);
    Py_XDECREF(value);
    return rc;
}

static PyObject *param_value(const xmem_node_t *node, const xmem_node_param *def)
{
    switch (def->type) {
    case XMEM_PARAM_INT: return PyLong_FromLongLong(xmem_node_param_int(node, def->name));
    case XMEM_PARAM_FLOAT: return PyFloat_FromDouble(xmem_node_param_float(node, def->name));
    case XMEM_PARAM_BOOL: return PyBool_FromLong(xmem_node_param_bool(node, def->name));
    case XMEM_PARAM_ENUM: return PyUnicode_FromString(xmem_node_param_enum(node, def->name));
    default: return PyUnicode_FromString(xmem_node_param_string(node, def->name));
    }
}

/* self.params: an xmem._plugin.Params of the values, typed as declared. */
static int set_params(PyObject *obj, const xmem_node_t *node, const pyplugin *p)
{
    PyObject *values = PyDict_New();
    for (uint32_t i = 0; values && i < p->desc.n_params; i++) {
        PyObject *v = param_value(node, &p->params[i]);
        if (!v || PyDict_SetItemString(values, p->params[i].name, v)) {
            Py_XDECREF(v);
            Py_CLEAR(values);
            break;
        }
        Py_DECREF(v);
    }
    PyObject *mod = xmemi_py_plugin_module();
    PyObject *params = values && mod ? PyObject_CallMethod(mod, "Params", "O", values) : NULL;
    int rc = params ? PyObject_SetAttrString(obj, "params", params) : -1;
    Py_XDECREF(params);
    Py_XDECREF(values);
    return rc;
}

static void running_free(running *r)
{
    Py_XDECREF(r->process);
    Py_XDECREF(r->tick);
    if (r->node) {
        xmemi_py_node_attach(r->node, NULL);
        Py_DECREF(r->node);
    }
    free(r);
    /* Frames the node object held in cycles go now, while the host's pool handles are open. */
    PyGC_Collect();
}

static xmem_err py_init(const pyplugin *p, xmem_node_t *node, void **state, xmem_error_t *err)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    running *r = calloc(1, sizeof *r);
    xmem_err rc = XMEM_OK;
    if (!p || !r) {
        rc = xmem_node_fail(node, err, p ? "out of memory" : "its Python node file was unloaded");
        free(r);
        PyGILState_Release(gil);
        return rc;
    }
    r->plugin = p;
    r->node = PyObject_CallNoArgs(p->cls);
    if (r->node)
        xmemi_py_node_attach(r->node, node);
    if (!r->node || set_params(r->node, node, p) ||
        (p->desc.process && !(r->process = PyObject_GetAttrString(r->node, "process"))) ||
        (p->desc.tick && !(r->tick = PyObject_GetAttrString(r->node, "tick"))))
        rc = failed(node, err);
    if (rc == XMEM_OK && PyObject_HasAttrString(r->node, "init")) {
        PyObject *res = PyObject_CallMethod(r->node, "init", NULL);
        rc = res ? XMEM_OK : failed(node, err);
        Py_XDECREF(res);
    }
    if (rc)
        running_free(r); /* the host calls no fini after a failed init */
    else
        *state = r;
    PyGILState_Release(gil);
    return rc;
}

/* A table laid out by hand: clang-format does not settle on one layout for it. */
/* clang-format off */
#define SLOTS(M)                                                                                   \
    M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15) \
    M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23) M(24) M(25) M(26) M(27) M(28) M(29) M(30) M(31) \
    M(32) M(33) M(34) M(35) M(36) M(37) M(38) M(39) M(40) M(41) M(42) M(43) M(44) M(45) M(46) M(47) \
    M(48) M(49) M(50) M(51) M(52) M(53) M(54) M(55) M(56) M(57) M(58) M(59) M(60) M(61) M(62) M(63)
#define DEFINE_INIT(i)                                                                             \
    static xmem_err init_##i(xmem_node_t *node, void **state, xmem_error_t *err)                   \
    {                                                                                              \
        return py_init(slots[i], node, state, err);                                                \
    }
#define NAME_INIT(i) init_##i,
SLOTS(DEFINE_INIT)
static xmem_err (*const inits[SLOT_COUNT])(xmem_node_t *, void **, xmem_error_t *) = {
    SLOTS(NAME_INIT)
};
/* clang-format on */

/* The port's name as a str: the host passes the descriptor's own pointer. */
static PyObject *port_name(const pyplugin *p, const char *port)
{
    for (uint32_t i = 0; i < p->desc.n_inputs; i++)
        if (p->ports[i].name == port || strcmp(p->ports[i].name, port) == 0)
            return p->input_names[i];
    return NULL;
}

static xmem_err py_process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *input,
                           xmem_error_t *err)
{
    running *r = state;
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *frame = xmemi_py_frame_new(input, NULL);
    PyObject *args[2] = {port_name(r->plugin, port), frame};
    PyObject *res = frame && args[0] ? PyObject_Vectorcall(r->process, args, 2, NULL) : NULL;
    xmem_err rc = res ? XMEM_OK : failed(node, err);
    Py_XDECREF(res);
    xmemi_py_frame *f = (xmemi_py_frame *)frame;
    /* Not kept, not given away: back to the host, which releases it (the failure's traceback,
     * which held it, is gone already). */
    if (f && Py_REFCNT(frame) == 1 && !f->gone && f->views == 0) {
        *input = f->guard;
        f->guard = (xmem_guard_t)XMEM_GUARD_INIT;
    }
    Py_XDECREF(frame);
    PyGILState_Release(gil);
    return rc;
}

static xmem_err py_tick(xmem_node_t *node, void *state, xmem_error_t *err)
{
    running *r = state;
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *res = PyObject_CallNoArgs(r->tick);
    xmem_err rc = res ? XMEM_OK : failed(node, err);
    Py_XDECREF(res);
    PyGILState_Release(gil);
    return rc;
}

static void py_fini(xmem_node_t *node, void *state)
{
    running *r = state;
    PyGILState_STATE gil = PyGILState_Ensure();
    if (PyObject_HasAttrString(r->node, "fini")) {
        PyObject *res = PyObject_CallMethod(r->node, "fini", NULL);
        if (!res)
            failed(node, NULL);
        Py_XDECREF(res);
    }
    running_free(r);
    xmemi_py_frames_orphan();
    PyGILState_Release(gil);
}

/* ---- the descriptor ---- */

static void unload(void *ctx)
{
    pyplugin *p = ctx;
    if (!p)
        return;
    PyGILState_STATE gil = PyGILState_Ensure();
    for (int i = 0; i < SLOT_COUNT; i++)
        if (slots[i] == p)
            slots[i] = NULL;
    Py_XDECREF(p->cls);
    Py_XDECREF(p->described);
    free(p->input_names);
    free(p->ports);
    free(p->params);
    free(p->choices);
    free(p);
    PyGILState_Release(gil);
}

static int fill_ports(PyObject *list, xmem_node_port *ports)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++)
        if (!PyArg_ParseTuple(PyList_GET_ITEM(list, i), "ss", &ports[i].name, &ports[i].help))
            return -1;
    return 0;
}

static int fill_params(pyplugin *p, PyObject *list)
{
    Py_ssize_t n = PyList_GET_SIZE(list), n_choices = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PyList_GET_ITEM(list, i);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 7) {
            PyErr_SetString(PyExc_TypeError, "a described parameter is a 7-tuple");
            return -1;
        }
        PyObject *c = PyTuple_GET_ITEM(t, 6);
        n_choices += PyList_Check(c) ? PyList_GET_SIZE(c) + 1 : 0;
    }
    p->params = calloc(n > 0 ? (size_t)n : 1, sizeof *p->params);
    p->choices = calloc(n_choices > 0 ? (size_t)n_choices : 1, sizeof *p->choices);
    if (!p->params || !p->choices) {
        PyErr_NoMemory();
        return -1;
    }
    const char **next = p->choices;
    for (Py_ssize_t i = 0; i < n; i++) {
        xmem_node_param *d = &p->params[i];
        int type;
        PyObject *choices;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(list, i), "sizsddO", &d->name, &type,
                              &d->default_value, &d->help, &d->min, &d->max, &choices))
            return -1;
        d->type = (xmem_param_type)type;
        if (!PyList_Check(choices))
            continue;
        d->choices = next;
        for (Py_ssize_t k = 0; k < PyList_GET_SIZE(choices); k++)
            if (!(*next++ = PyUnicode_AsUTF8(PyList_GET_ITEM(choices, k))))
                return -1;
        *next++ = NULL;
    }
    p->desc.params = p->params;
    p->desc.n_params = (uint32_t)n;
    return 0;
}

/* Fills p->desc from `described` (see xmem._plugin.describe). */
static int build(pyplugin *p, PyObject *described)
{
    PyObject *inputs, *outputs, *params;
    int has_process, has_tick;
    xmem_node_plugin *d = &p->desc;
    if (!PyArg_ParseTuple(described, "sssO!O!O!pp", &d->name, &d->version, &d->description,
                          &PyList_Type, &inputs, &PyList_Type, &outputs, &PyList_Type, &params,
                          &has_process, &has_tick))
        return -1;
    size_t n_in = (size_t)PyList_GET_SIZE(inputs), n_out = (size_t)PyList_GET_SIZE(outputs);
    p->ports = calloc(n_in + n_out + 1, sizeof *p->ports);
    p->input_names = calloc(n_in + 1, sizeof *p->input_names);
    if (!p->ports || !p->input_names) {
        PyErr_NoMemory();
        return -1;
    }
    if (fill_ports(inputs, p->ports) || fill_ports(outputs, p->ports + n_in) ||
        fill_params(p, params))
        return -1;
    for (size_t i = 0; i < n_in; i++) /* borrowed: `described` holds them */
        p->input_names[i] = PyTuple_GET_ITEM(PyList_GET_ITEM(inputs, i), 0);
    d->magic = XMEM_NODE_ABI_MAGIC;
    d->abi_version = XMEM_NODE_ABI_VERSION;
    d->size = sizeof *d;
    d->inputs = p->ports;
    d->n_inputs = (uint32_t)n_in;
    d->outputs = p->ports + n_in;
    d->n_outputs = (uint32_t)n_out;
    for (int i = 0; i < SLOT_COUNT && !d->init; i++)
        if (!slots[i]) {
            slots[i] = p;
            d->init = inits[i];
        }
    if (!d->init) {
        PyErr_Format(PyExc_RuntimeError, "%d node files are loaded in this process already",
                     SLOT_COUNT);
        return -1;
    }
    d->process = has_process ? py_process : NULL;
    d->tick = has_tick ? py_tick : NULL;
    d->fini = py_fini;
    return 0;
}

/* The pending exception as the reason a file is refused: a LoadError's own text, otherwise
 * where it happened. */
static xmem_err refused(xmem_error_t *err)
{
    PyObject *value = fetch_exception();
    PyObject *mod = xmemi_py_plugin_module();
    PyObject *load_error = mod ? PyObject_GetAttrString(mod, "LoadError") : NULL;
    PyObject *msg = NULL;
    if (value && load_error && PyObject_IsInstance(value, load_error) == 1)
        msg = PyObject_Str(value);
    else if (value && mod)
        msg = PyObject_CallMethod(mod, "where", "O", value);
    const char *text = msg ? PyUnicode_AsUTF8(msg) : NULL;
    PyErr_Clear();
    xmem_err rc = xmemi_fail(err, XMEM_EPLUGIN, 0, "%s",
                             text ? text : "a Python error that could not be described");
    Py_XDECREF(msg);
    Py_XDECREF(load_error);
    Py_XDECREF(value);
    return rc;
}

xmem_err xmemi_py_plugin_load(const char *path, xmemi_foreign_plugin *out, xmem_error_t *err)
{
    memset(out, 0, sizeof *out);
    PyObject *mod = xmemi_py_plugin_module();
    PyObject *res = mod ? PyObject_CallMethod(mod, "load", "s", path) : NULL;
    if (!res)
        return refused(err);
    pyplugin *p = calloc(1, sizeof *p);
    if (!p) {
        Py_DECREF(res);
        return xmemi_fail(err, XMEM_ENOMEM, 0, "no memory");
    }
    if (!PyArg_ParseTuple(res, "OO!", &p->cls, &PyTuple_Type, &p->described)) {
        Py_DECREF(res);
        free(p);
        return refused(err);
    }
    Py_INCREF(p->cls);
    Py_INCREF(p->described);
    Py_DECREF(res);
    if (build(p, p->described)) {
        xmem_err rc = refused(err);
        unload(p);
        return rc;
    }
    out->desc = &p->desc;
    out->ctx = p;
    out->unload = unload;
    return XMEM_OK;
}
