/* xmem_python_host.so: embeds CPython in an `xmem` process so a node file loads as a plugin. The
 * plugin loader opens this module RTLD_LOCAL like any plugin, which would hide libpython's
 * symbols from the extension modules Python opens later (numpy's, the xmem module itself): they
 * are made global before the interpreter starts. The interpreter starts once per process, on
 * the first node file, with every signal blocked, so threads it or the file's imports start
 * (OpenBLAS's) never take the node's or the launcher's signals; it keeps the signal handlers of
 * its host (SIGINT and SIGTERM stop the node between callbacks). Everything Python-side is done
 * by the extension xmem._xmem, reached through its capsule. */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/fail.h"
#include "python_host.h"

static const xmemi_python_api *api; /* set once the interpreter runs */

/* The folder holding the xmem package: this module lives in <folder>/xmem/. */
static xmem_err package_folder(char *buf, size_t len, xmem_error_t *err)
{
    Dl_info info;
    if (!dladdr((void *)package_folder, &info) || !info.dli_fname)
        return xmemi_fail(err, XMEM_EPLUGIN, 0, "cannot tell where %s is", XMEMI_PYTHON_HOST_FILE);
    char path[PATH_MAX];
    if (!realpath(info.dli_fname, path))
        return xmemi_fail(err, XMEM_EPLUGIN, errno, "%s", info.dli_fname);
    snprintf(buf, len, "%s", dirname(dirname(path)));
    return XMEM_OK;
}

/* The pending exception's text (the interpreter is up); "" when there is none. */
static void exception_text(char *buf, size_t len)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *s = value ? PyObject_Str(value) : NULL;
    const char *t = s ? PyUnicode_AsUTF8(s) : NULL;
    snprintf(buf, len, "%s%s%s", type ? ((PyTypeObject *)type)->tp_name : "", t ? ": " : "",
             t ? t : "");
    PyErr_Clear();
    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

static xmem_err start(xmem_error_t *err)
{
    /* Promote libpython (already loaded as this module's dependency) to global symbols. */
    Dl_info info;
    if (!dladdr((void *)Py_InitializeFromConfig, &info) || !info.dli_fname ||
        !dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD)) {
        const char *e = dlerror();
        return xmemi_fail(err, XMEM_EPLUGIN, 0, "cannot make libpython's symbols global: %s",
                          e ? e : "libpython not found");
    }
    char folder[PATH_MAX];
    xmem_err rc = package_folder(folder, sizeof folder, err);
    if (rc)
        return rc;
    PyStatus st;
#ifdef XMEM_SANITIZE
    /* Every Python object a malloc block AddressSanitizer watches: pymalloc's arenas would hide
     * them, and the pointers inside them from LeakSanitizer. */
    PyPreConfig pre;
    PyPreConfig_InitPythonConfig(&pre);
    pre.allocator = PYMEM_ALLOCATOR_MALLOC;
    st = Py_PreInitialize(&pre);
    if (PyStatus_Exception(st))
        return xmemi_fail(err, XMEM_EPLUGIN, 0, "cannot start Python: %s",
                          st.err_msg ? st.err_msg : "unknown error");
#endif
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0; /* the node host's SIGINT/SIGTERM handlers stay */
    config.buffered_stdio = 0;          /* print() lines reach the node's log as they happen */
    config.parse_argv = 0;
    /* The interpreter xmem was built against, not whatever `python3` is first on PATH: its
     * prefix decides the standard library and site-packages (numpy) it finds. */
    st = PyConfig_SetBytesString(&config, &config.program_name, XMEM_PYTHON_EXECUTABLE);
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st))
        return xmemi_fail(err, XMEM_EPLUGIN, 0, "cannot start Python: %s%s%s",
                          st.func ? st.func : "", st.func ? ": " : "",
                          st.err_msg ? st.err_msg : "unknown error");
    PyObject *path = PySys_GetObject("path"); /* borrowed */
    PyObject *dir = PyUnicode_DecodeFSDefault(folder);
    if (!path || !dir || PyList_Insert(path, 0, dir) ||
        !(api = PyCapsule_Import(XMEMI_PYTHON_API_CAPSULE, 0)) || api->size < sizeof *api) {
        char why[400];
        exception_text(why, sizeof why);
        api = NULL;
        rc = xmemi_fail(err, XMEM_EPLUGIN, 0, "cannot import the xmem module from %s: %s", folder,
                        why[0] ? why : "its API is older than this host");
    }
    Py_XDECREF(dir);
    /* Between callbacks the GIL is free, so threads a node starts can run. */
    PyEval_SaveThread();
    return rc;
}

__attribute__((visibility("default"))) xmem_err
xmemi_python_host_load(const char *path, xmemi_foreign_plugin *out, xmem_error_t *err);

xmem_err xmemi_python_host_load(const char *path, xmemi_foreign_plugin *out, xmem_error_t *err)
{
    memset(out, 0, sizeof *out);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    xmem_err rc = XMEM_OK;
    if (!api && Py_IsInitialized())
        rc = xmemi_fail(err, XMEM_EPLUGIN, 0, "Python failed to start in this process before");
    else if (!api)
        rc = start(err);
    if (rc == XMEM_OK) {
        PyGILState_STATE gil = PyGILState_Ensure();
        rc = api->load(path, out, err);
        PyGILState_Release(gil);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
