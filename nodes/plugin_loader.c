/* Loading and checking node plugins (see plugin_loader.h). The ABI check reads only the fields
 * every version has before trusting the rest, and the symbol's size from the ELF symbol table, so
 * a wrong or truncated descriptor is refused instead of read past its end. A Python node file
 * goes through the Python host module, found beside libxmem, whose descriptor gets the same
 * check. */
#define _GNU_SOURCE
#include "plugin_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <link.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodes/builtin/builtins.h"
#include "nodes/python/python_host.h"
#include "common/fail.h"
#include "node_internal.h"

/* The smallest descriptor: everything up to and including fini (the last field of the first
 * release; later fields are appended). */
#define ABI_MIN_SIZE (offsetof(xmem_node_plugin, fini) + sizeof(void (*)(void)))

static xmem_err refuse(xmem_error_t *err, const char *origin, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static xmem_err refuse(xmem_error_t *err, const char *origin, const char *fmt, ...)
{
    char prefix[320];
    snprintf(prefix, sizeof prefix, "plugin %s refused: ", origin);
    va_list ap;
    va_start(ap, fmt);
    xmemi_failv(err, XMEM_EPLUGIN, 0, prefix, NULL, fmt, ap);
    va_end(ap);
    return XMEM_EPLUGIN;
}

bool xmemi_valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 63)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

const xmem_node_port *xmemi_port_find(const xmem_node_port *ports, uint32_t n, const char *name)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(ports[i].name, name) == 0)
            return &ports[i];
    return NULL;
}

void xmemi_port_list(const xmem_node_port *ports, uint32_t n, char *buf, size_t len)
{
    size_t used = 0;
    snprintf(buf, len, "none");
    for (uint32_t i = 0; i < n && used < len; i++) {
        int k = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", ports[i].name);
        if (k < 0)
            return;
        used += (size_t)k;
    }
}

static xmem_err check_ports(const xmem_node_port *ports, uint32_t n, const char *dir,
                            const char *origin, xmem_error_t *err)
{
    if (n > XMEM_NODE_MAX_PORTS)
        return refuse(err, origin, "%u %s ports (%u at most)", n, dir, XMEM_NODE_MAX_PORTS);
    if (n && !ports)
        return refuse(err, origin, "declares %u %s ports but no array of them", n, dir);
    for (uint32_t i = 0; i < n; i++) {
        if (!xmemi_valid_name(ports[i].name))
            return refuse(err, origin, "%s port %u has no valid name ([a-z0-9_]+, 63 at most)", dir,
                          i);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(ports[i].name, ports[j].name) == 0)
                return refuse(err, origin, "%s port '%s' is declared twice", dir, ports[i].name);
    }
    return XMEM_OK;
}

static xmem_err check_params(const xmem_node_plugin *p, const char *origin, xmem_error_t *err)
{
    if (p->n_params > 256)
        return refuse(err, origin, "%u parameters (256 at most)", p->n_params);
    if (p->n_params && !p->params)
        return refuse(err, origin, "declares %u parameters but no array of them", p->n_params);
    for (uint32_t i = 0; i < p->n_params; i++) {
        const xmem_node_param *d = &p->params[i];
        if (!xmemi_valid_name(d->name))
            return refuse(err, origin, "parameter %u has no valid name ([a-z0-9_]+)", i);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(d->name, p->params[j].name) == 0)
                return refuse(err, origin, "parameter '%s' is declared twice", d->name);
        if ((unsigned)d->type > XMEM_PARAM_ENUM)
            return refuse(err, origin, "parameter '%s' has unknown type %d", d->name, (int)d->type);
        if (d->type == XMEM_PARAM_ENUM && (!d->choices || !d->choices[0]))
            return refuse(err, origin, "enum parameter '%s' has no choices", d->name);
        if (d->default_value) {
            xmemi_param_value v;
            xmem_error_t why;
            if (xmemi_param_parse(p->name, d, d->default_value, "default", &v, &why))
                return refuse(err, origin, "the default of parameter '%s' is invalid: %s", d->name,
                              why.msg);
            xmemi_param_value_clear(&v);
        }
    }
    return XMEM_OK;
}

xmem_err xmemi_plugin_check(const xmem_node_plugin *p, size_t symbol_size, const char *origin,
                            xmem_node_plugin *out, xmem_error_t *err)
{
    const size_t head = offsetof(xmem_node_plugin, reserved);
    if (symbol_size && symbol_size < head)
        return refuse(err, origin, "symbol '%s' is %zu bytes, too small for a node descriptor",
                      XMEM_NODE_SYMBOL, symbol_size);
    if (p->magic != XMEM_NODE_ABI_MAGIC)
        return refuse(err, origin,
                      "wrong magic 0x%08x in '%s' (expected 0x%08x): not an xmem node plugin",
                      p->magic, XMEM_NODE_SYMBOL, XMEM_NODE_ABI_MAGIC);
    if (p->abi_version < XMEM_NODE_ABI_VERSION_MIN || p->abi_version > XMEM_NODE_ABI_VERSION)
        return refuse(err, origin,
                      "built for node ABI version %u; this xmem supports versions %u to %u: "
                      "rebuild it against this xmem",
                      p->abi_version, XMEM_NODE_ABI_VERSION_MIN, XMEM_NODE_ABI_VERSION);
    if (p->size < ABI_MIN_SIZE)
        return refuse(err, origin, "descriptor size %u is smaller than ABI version %u's %zu bytes",
                      p->size, p->abi_version, ABI_MIN_SIZE);
    if (symbol_size && symbol_size < p->size)
        return refuse(err, origin, "symbol '%s' is %zu bytes but its descriptor claims %u",
                      XMEM_NODE_SYMBOL, symbol_size, p->size);
    /* Fields appended after the plugin was built read as zero. */
    memset(out, 0, sizeof *out);
    memcpy(out, p, p->size < sizeof *out ? p->size : sizeof *out);
    if (!xmemi_valid_name(out->name))
        return refuse(err, origin, "its name is missing or not [a-z0-9_]+ (63 at most)");
    if (!out->version)
        out->version = "";
    if (!out->description)
        out->description = "";
    xmem_err rc;
    if ((rc = check_params(out, origin, err)) ||
        (rc = check_ports(out->inputs, out->n_inputs, "input", origin, err)) ||
        (rc = check_ports(out->outputs, out->n_outputs, "output", origin, err)))
        return rc;
    if (out->n_inputs && !out->process)
        return refuse(err, origin, "node '%s' has inputs but no process callback", out->name);
    if (!out->n_inputs && !out->tick)
        return refuse(err, origin,
                      "node '%s' has no inputs and no tick callback (a source needs tick)",
                      out->name);
    return XMEM_OK;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

bool xmemi_plugin_is_python(const char *path)
{
    return has_suffix(path, ".py");
}

#ifdef XMEM_HAVE_PYTHON
/* The Python host: beside libxmem in the build tree, or in the installed package. */
static xmem_err find_python_host(char *buf, size_t len, xmem_error_t *err)
{
    Dl_info info;
    if (!dladdr((void *)xmem_pool_open, &info) || !info.dli_fname)
        return xmemi_fail(err, XMEM_EPLUGIN, 0, "cannot tell where libxmem is");
    char *slash = strrchr(info.dli_fname, '/');
    int dir_len = slash ? (int)(slash - info.dli_fname) : 1;
    const char *dir = slash ? info.dli_fname : ".";
    static const char *const from_lib[] = {XMEM_PYTHON_HOST_FROM_LIB_BUILD,
                                           XMEM_PYTHON_HOST_FROM_LIB};
    for (size_t i = 0; i < 2; i++) {
        snprintf(buf, len, "%.*s/%s", dir_len, dir, from_lib[i]);
        if (access(buf, F_OK) == 0)
            return XMEM_OK;
    }
    return xmemi_fail(err, XMEM_EPLUGIN, 0, "no Python host (%s) beside %.*s: install xmem again",
                      XMEMI_PYTHON_HOST_FILE, dir_len, dir);
}

static xmem_err open_python(const char *path, xmemi_plugin *out, xmem_error_t *err)
{
    char host[4096];
    xmem_error_t why = {0};
    xmemi_foreign_plugin loaded = {0};
    xmemi_python_host_load_fn load = NULL;
    /* NODELETE: the interpreter it starts outlives any one node file. */
    void *h = find_python_host(host, sizeof host, &why) == XMEM_OK
                  ? dlopen(host, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)
                  : NULL;
    if (h)
        *(void **)&load = dlsym(h, XMEMI_PYTHON_HOST_SYMBOL);
    else if (!why.msg[0]) {
        const char *e = dlerror();
        xmemi_fail(&why, XMEM_EPLUGIN, 0, "cannot load the Python host: %s",
                   e ? e : "unknown dlopen error");
    }
    if (h && !load)
        xmemi_fail(&why, XMEM_EPLUGIN, 0, "%s has no %s", host, XMEMI_PYTHON_HOST_SYMBOL);
    if (!load || load(path, &loaded, &why))
        return xmemi_fail(err, XMEM_EPLUGIN, 0, "plugin %s refused: %s", path, why.msg);
    xmem_err rc = xmemi_plugin_check(loaded.desc, 0, path, &out->desc, err);
    if (rc == XMEM_OK && !(out->path = strdup(path)))
        rc = xmemi_fail(err, XMEM_ENOMEM, 0, "plugin %s: no memory", path);
    if (rc) {
        loaded.unload(loaded.ctx);
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->handle = h;
    out->unload = loaded.unload;
    out->unload_ctx = loaded.ctx;
    return XMEM_OK;
}
#else
static xmem_err open_python(const char *path, xmemi_plugin *out, xmem_error_t *err)
{
    (void)out;
    return xmemi_fail(err, XMEM_EPLUGIN, 0,
                      "plugin %s refused: this xmem was built without Python nodes (it needs "
                      "python3-dev and numpy at build time; see docs/PYTHON.md)",
                      path);
}
#endif

xmem_err xmemi_plugin_open_file(const char *path, xmemi_plugin *out, xmem_error_t *err)
{
    memset(out, 0, sizeof *out);
    if (xmemi_plugin_is_python(path))
        return open_python(path, out, err);
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        return xmemi_fail(err, XMEM_EPLUGIN, 0, "plugin %s refused: cannot load it: %s", path,
                          e ? e : "unknown dlopen error");
    }
    dlerror();
    const xmem_node_plugin *desc = dlsym(h, XMEM_NODE_SYMBOL);
    if (!desc) {
        const char *e = dlerror();
        xmem_err rc = xmemi_fail(
            err, XMEM_EPLUGIN, 0,
            "plugin %s refused: no symbol '%s' (define the node with XMEM_NODE_DEFINE): %s", path,
            XMEM_NODE_SYMBOL, e ? e : "symbol is NULL");
        dlclose(h);
        return rc;
    }
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    size_t symbol_size = 0;
    if (dladdr1(desc, &info, (void **)&sym, RTLD_DL_SYMENT) && sym)
        symbol_size = sym->st_size;
    xmem_err rc = xmemi_plugin_check(desc, symbol_size, path, &out->desc, err);
    if (rc == XMEM_OK && !(out->path = strdup(path)))
        rc = xmemi_fail(err, XMEM_ENOMEM, 0, "plugin %s: no memory", path);
    if (rc) {
        dlclose(h);
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->handle = h;
    return XMEM_OK;
}

bool xmemi_plugin_spec_is_path(const char *spec)
{
    return strchr(spec, '/') || has_suffix(spec, ".so") || xmemi_plugin_is_python(spec);
}

static void builtin_names(char *buf, size_t len)
{
    uint32_t n;
    const xmem_node_plugin *const *all = xmemi_builtins(&n);
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < n && used < len; i++) {
        int k = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", all[i]->name);
        if (k < 0)
            return;
        used += (size_t)k;
    }
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Adds one directory's plugins that declare `name` (what `xmem plugins` lists) to *out; a second
 * file declaring it is an error naming both. Files that cannot be loaded are not candidates. */
static xmem_err search_declared(const char *dir, const char *name, xmemi_plugin *out, bool *found,
                                xmem_error_t *err)
{
    struct dirent **entries;
    int n = scandir(dir, &entries, NULL, alphasort);
    xmem_err rc = XMEM_OK;
    for (int i = 0; i < n; i++) {
        const char *file = entries[i]->d_name;
        size_t len = strlen(file);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        xmemi_plugin p;
        if (!rc && len > 3 && strcmp(file + len - 3, ".so") == 0 &&
            xmemi_plugin_open_file(path, &p, NULL) == XMEM_OK) {
            if (strcmp(p.desc.name, name) != 0 || (*found && same_file(out->path, path))) {
                xmemi_plugin_close(&p);
            } else if (*found) {
                rc = xmemi_fail(err, XMEM_EPLUGIN, 0,
                                "plugin '%s' is ambiguous: %s and %s both declare that name (in "
                                "XMEM_PLUGIN_PATH): remove one, or name the file by its path",
                                name, out->path, path);
                xmemi_plugin_close(&p);
                xmemi_plugin_close(out);
                *found = false;
            } else {
                *out = p;
                *found = true;
            }
        }
        free(entries[i]);
    }
    if (n > 0)
        free(entries);
    return rc;
}

/* NAME in XMEM_PLUGIN_PATH: the first directory with a file NAME.so, libNAME.so or NAME.py has
 * it, as a shell's PATH would; failing that, the one .so plugin in any of them that declares the
 * name (a .py file is not opened for that: it would start Python). */
static xmem_err find_in_path(const char *name, const char *search, xmemi_plugin *out, bool *found,
                             xmem_error_t *err)
{
    char *dirs = strdup(search);
    char *again = strdup(search);
    xmem_err rc = XMEM_OK;
    if (!dirs || !again) {
        rc = xmemi_fail(err, XMEM_ENOMEM, 0, "plugin %s: no memory", name);
        goto out;
    }
    char *save = NULL;
    for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        static const char *const forms[][2] = {{"", ".so"}, {"lib", ".so"}, {"", ".py"}};
        for (size_t f = 0; f < 3; f++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s%s%s", dir, forms[f][0], name, forms[f][1]);
            if (access(path, F_OK) != 0)
                continue;
            *found = true; /* a file asked for by its name: its refusal is the answer */
            rc = xmemi_plugin_open_file(path, out, err);
            goto out;
        }
    }
    for (char *dir = strtok_r(again, ":", &save); dir && !rc; dir = strtok_r(NULL, ":", &save))
        rc = search_declared(dir, name, out, found, err);
out:
    free(dirs);
    free(again);
    return rc;
}

xmem_err xmemi_plugin_load(const char *spec, xmemi_plugin *out, xmem_error_t *err)
{
    memset(out, 0, sizeof *out);
    if (!spec || !*spec)
        return xmemi_fail(err, XMEM_EPLUGIN, 0, "no plugin named (--plugin NAME or PATH)");
    if (xmemi_plugin_spec_is_path(spec))
        return xmemi_plugin_open_file(spec, out, err);
    const xmem_node_plugin *b = xmemi_builtin_find(spec);
    const char *missing = b ? NULL : xmemi_builtin_missing(spec);
    if (missing)
        return xmemi_fail(err, XMEM_EPLUGIN, 0, "built-in '%s' cannot be loaded: %s", spec,
                          missing);
    if (b) {
        char origin[96];
        snprintf(origin, sizeof origin, "built-in %s", spec);
        return xmemi_plugin_check(b, sizeof *b, origin, &out->desc, err);
    }
    const char *search = getenv("XMEM_PLUGIN_PATH");
    bool found = false;
    xmem_err rc = search && *search ? find_in_path(spec, search, out, &found, err) : XMEM_OK;
    if (rc || found)
        return rc;
    char names[256];
    builtin_names(names, sizeof names);
    return xmemi_fail(err, XMEM_EPLUGIN, 0,
                      "plugin '%s' not found: not a built-in (%s), and XMEM_PLUGIN_PATH (%s) "
                      "has no %s.so, lib%s.so, %s.py or plugin that declares the name",
                      spec, names, search && *search ? search : "not set", spec, spec, spec);
}

void xmemi_plugin_close(xmemi_plugin *p)
{
    if (p->unload)
        p->unload(p->unload_ctx);
    if (p->handle)
        dlclose(p->handle);
    free(p->path);
    memset(p, 0, sizeof *p);
}

const char *xmemi_plugin_origin(const xmemi_plugin *p)
{
    return p->path ? p->path : xmemi_builtin_origin(p->desc.name);
}
