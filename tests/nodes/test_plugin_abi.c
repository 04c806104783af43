/* The node plugin loader: every way a shared library can fail to be a plugin is refused with
 * XMEM_EPLUGIN and a message naming the file and the reason (by the loader, and by `xmem node`
 * with exit status 2); a good plugin's descriptor reads back as declared; built-ins load by name;
 * names are looked up in XMEM_PLUGIN_PATH. The plugins are built from tests/nodes/plugins/. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <dlfcn.h>
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/builtin/builtins.h"
#include "nodes/plugin_loader.h"
#include "run_util.h"

static void setup(void)
{
    unsetenv("XMEM_PLUGIN_PATH");
    cr_assert(xnt_setup(), "cannot make a scratch directory");
}

static void teardown(void)
{
    xnt_cleanup();
}

/* The directory of a plugin file (for XMEM_PLUGIN_PATH). */
static void dir_of(const char *path, char *buf, size_t len)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", path);
    snprintf(buf, len, "%s", dirname(copy));
}

/* A plugin that must be refused, and two pieces of text its refusal must contain. Criterion copies
 * parameters into the test's process byte for byte, so they hold text, not pointers. */
typedef struct refusal {
    char path[512];
    char reason[64];
    char detail[64];
} refusal;

static refusal refusals[] = {
    {PLUGIN_BAD_MAGIC, "wrong magic", "0x12345678"},
    {PLUGIN_NEWER_ABI, "ABI version", "version 3"},
    {PLUGIN_OLDER_ABI, "ABI version", "version 1;"},
    {PLUGIN_SMALL_SIZE, "descriptor size", "smaller than ABI version 2"},
    {PLUGIN_NO_SYMBOL, "no symbol", "'" XMEM_NODE_SYMBOL "'"},
    {PLUGIN_UNRESOLVED, "cannot load", "xmemt_defined_nowhere"},
    {PLUGIN_NO_PROCESS, "no process callback", "has inputs"},
    {PLUGIN_NO_TICK, "tick", "no inputs"},
    {PLUGIN_BAD_DEFAULT, "default of parameter 'count'", "'abc': not an integer"},
    {PLUGIN_DUP_PORT, "declared twice", "input port 'in'"},
    {PLUGIN_BAD_NAME, "name", "[a-z0-9_]+"},
};

ParameterizedTestParameters(plugin_abi, bad_plugin_refused)
{
    return cr_make_param_array(refusal, refusals, sizeof refusals / sizeof refusals[0]);
}

ParameterizedTest(refusal *r, plugin_abi, bad_plugin_refused, .init = setup, .fini = teardown)
{
    xmemi_plugin p;
    memset(&p, 0xa5, sizeof p);
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_plugin_open_file(r->path, &p, &err), XMEM_EPLUGIN), "%s accepted",
              r->path);
    cr_assert(eq(int, err.code, XMEM_EPLUGIN));
    cr_assert(not(eq(ptr, strstr(err.msg, r->path), NULL)), "no path in: %s", err.msg);
    cr_assert(not(eq(ptr, strstr(err.msg, r->reason), NULL)), "no '%s' in: %s", r->reason, err.msg);
    cr_assert(not(eq(ptr, strstr(err.msg, r->detail), NULL)), "no '%s' in: %s", r->detail, err.msg);
    /* Refused means empty: nothing to close, nothing left loaded. */
    cr_assert(eq(ptr, p.handle, NULL));
    cr_assert(eq(ptr, p.path, NULL));
    cr_assert(eq(u32, p.desc.magic, 0));

    /* Named by path, the general entry point gives the same answer. */
    xmem_error_t again = {0};
    cr_assert(eq(int, xmemi_plugin_load(r->path, &p, &again), XMEM_EPLUGIN));
    cr_assert(eq(str, again.msg, err.msg));
}

/* `xmem node` refuses it too, before looking at the pool: exit 3 (what it was given is wrong) and
 * the reason on stderr. */
ParameterizedTestParameters(plugin_abi, cli_refuses_bad_plugin)
{
    return cr_make_param_array(refusal, refusals, sizeof refusals / sizeof refusals[0]);
}

ParameterizedTest(refusal *r, plugin_abi, cli_refuses_bad_plugin, .init = setup, .fini = teardown,
                  .timeout = XF_TIMEOUT_LONG)
{
    static xnt_child c;
    const char *argv[] = {XMEM_CLI, "node", "--plugin", r->path, "--pool", "x", NULL};
    cr_assert(eq(int, xnt_run(argv, "node", &c), 3), "stderr: %s", c.err);
    cr_assert(not(eq(ptr, strstr(c.err, r->path), NULL)), "stderr: %s", c.err);
    cr_assert(not(eq(ptr, strstr(c.err, r->reason), NULL)), "stderr: %s", c.err);
    cr_assert(not(eq(ptr, strstr(c.err, "refused"), NULL)), "stderr: %s", c.err);
}

/* What the loader copies out is what the library exports, field by field. */
Test(plugin_abi, good_plugin_reads_back, .init = setup, .fini = teardown)
{
    xmemi_plugin p;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_plugin_open_file(PLUGIN_GOOD, &p, &err), XMEM_OK), "%s", err.msg);
    const xmem_node_plugin *d = &p.desc;
    cr_assert(not(eq(ptr, p.handle, NULL)));
    cr_assert(eq(str, p.path, PLUGIN_GOOD));
    cr_assert(eq(str, (char *)xmemi_plugin_origin(&p), PLUGIN_GOOD));
    cr_assert(eq(u32, d->magic, XMEM_NODE_ABI_MAGIC));
    cr_assert(eq(u32, d->abi_version, XMEM_NODE_ABI_VERSION));
    cr_assert(eq(u32, d->size, (uint32_t)sizeof(xmem_node_plugin)));
    cr_assert(eq(str, (char *)d->name, "good"));
    cr_assert(eq(str, (char *)d->version, "2.5"));
    cr_assert(eq(str, (char *)d->description, "forwards its input"));
    cr_assert(eq(u32, d->n_params, 2));
    cr_assert(eq(str, (char *)d->params[0].name, "level"));
    cr_assert(eq(int, d->params[0].type, XMEM_PARAM_INT));
    cr_assert(eq(str, (char *)d->params[0].default_value, "3"));
    cr_assert(eq(dbl, d->params[0].min, 1));
    cr_assert(eq(dbl, d->params[0].max, 9));
    cr_assert(eq(str, (char *)d->params[1].name, "mode"));
    cr_assert(eq(int, d->params[1].type, XMEM_PARAM_ENUM));
    cr_assert(eq(str, (char *)d->params[1].choices[1], "far"));
    cr_assert(eq(ptr, (void *)d->params[1].choices[2], NULL));
    cr_assert(eq(u32, d->n_inputs, 2));
    cr_assert(eq(str, (char *)d->inputs[0].name, "in"));
    cr_assert(eq(str, (char *)d->inputs[1].name, "aux"));
    cr_assert(eq(str, (char *)d->inputs[1].help, "side channel"));
    cr_assert(eq(u32, d->n_outputs, 1));
    cr_assert(eq(str, (char *)d->outputs[0].name, "out"));
    cr_assert(not(eq(ptr, (void *)d->process, NULL)));
    cr_assert(eq(ptr, (void *)d->tick, NULL));
    cr_assert(eq(ptr, (void *)d->init, NULL));
    cr_assert(eq(ptr, (void *)d->fini, NULL));

    /* Byte for byte the library's own symbol (this host and the plugin share one ABI). */
    void *h = dlopen(PLUGIN_GOOD, RTLD_NOW | RTLD_LOCAL);
    cr_assert(not(eq(ptr, h, NULL)), "%s", dlerror());
    const xmem_node_plugin *sym = dlsym(h, XMEM_NODE_SYMBOL);
    cr_assert(not(eq(ptr, (void *)sym, NULL)));
    cr_assert(eq(int, memcmp(sym, d, sizeof *d), 0));
    dlclose(h);

    xmemi_plugin_close(&p);
    cr_assert(eq(ptr, p.handle, NULL));
    cr_assert(eq(ptr, p.path, NULL));
    xmemi_plugin_close(&p); /* closing an empty one is harmless */
}

typedef struct builtin_name {
    char name[16];
} builtin_name;

static builtin_name builtin_names[] = {
    {"testsrc"},     {"verify"},      {"stats"},         {"invert"}, {"null"},
#ifdef XMEM_HAVE_CUDA /* built with the CUDA toolkit */
    {"cuda_upload"}, {"cuda_invert"}, {"cuda_download"},
#endif
#ifdef XMEM_HAVE_FFMPEG /* built with FFmpeg's libraries: their module, opened when asked for */
    {"videosrc"},    {"videosink"},   {"imagesink"},
#endif
#ifdef XMEM_HAVE_CZMQ /* built with czmq: the bridges' module, opened when asked for */
    {"bridge_send"}, {"bridge_recv"},
#endif
};
#define N_BUILTINS (sizeof builtin_names / sizeof builtin_names[0])

ParameterizedTestParameters(plugin_abi, builtin_loads_by_name)
{
    return cr_make_param_array(builtin_name, builtin_names, N_BUILTINS);
}

/* Built-ins go through the same checks as files, and are not files. */
ParameterizedTest(builtin_name *b, plugin_abi, builtin_loads_by_name, .init = setup,
                  .fini = teardown)
{
    const char *name = b->name;
    xmemi_plugin p;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_plugin_load(name, &p, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(str, (char *)p.desc.name, b->name));
    cr_assert(eq(u32, p.desc.abi_version, XMEM_NODE_ABI_VERSION));
    cr_assert(eq(ptr, p.handle, NULL));
    cr_assert(eq(ptr, p.path, NULL));
    cr_assert(p.desc.n_inputs ? p.desc.process != NULL : p.desc.tick != NULL);
    xmemi_plugin_close(&p);
}

/* The table has exactly these, each of which passes the check on its own. */
Test(plugin_abi, builtin_table, .init = setup, .fini = teardown)
{
    uint32_t n = 0;
    const xmem_node_plugin *const *all = xmemi_builtins(&n);
    cr_assert(eq(u32, n, N_BUILTINS));
    for (uint32_t i = 0; i < n; i++) {
        cr_assert(eq(str, (char *)all[i]->name, builtin_names[i].name));
        cr_assert(eq(ptr, (void *)xmemi_builtin_find(builtin_names[i].name), (void *)all[i]));
        xmem_node_plugin out;
        xmem_error_t err = {0};
        cr_assert(
            eq(int, xmemi_plugin_check(all[i], sizeof *all[i], "built-in", &out, &err), XMEM_OK),
            "%s", err.msg);
    }
    cr_assert(eq(ptr, (void *)xmemi_builtin_find("nosuch"), NULL));
}

#ifdef XMEM_HAVE_FFMPEG
/* True when this process has the video module (and so FFmpeg) mapped. */
static bool video_module_loaded(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert(f != NULL);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, "/xmem_video.so") != NULL;
    fclose(f);
    return found;
}

/* Looking up a built-in of the table or a plugin's name leaves FFmpeg out of the process; only a
 * video node's name opens the module. */
Test(plugin_abi, only_a_video_node_opens_the_video_module, .init = setup, .fini = teardown)
{
    cr_assert(not(video_module_loaded()), "open before any lookup");
    cr_assert(xmemi_builtin_find("testsrc") != NULL);
    cr_assert(eq(ptr, (void *)xmemi_builtin_find("my_threshold"), NULL));
    cr_assert(not(video_module_loaded()), "a lookup of another name opened the video module");
    cr_assert(xmemi_builtin_find("videosrc") != NULL);
    cr_assert(video_module_loaded());
}
#endif

Test(plugin_abi, unknown_name_lists_builtins, .init = setup, .fini = teardown)
{
    xmemi_plugin p;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_plugin_load("nosuch", &p, &err), XMEM_EPLUGIN));
    cr_assert(not(eq(ptr, strstr(err.msg, "'nosuch' not found"), NULL)), "%s", err.msg);
    for (size_t i = 0; i < N_BUILTINS; i++)
        cr_assert(not(eq(ptr, strstr(err.msg, builtin_names[i].name), NULL)), "no %s in: %s",
                  builtin_names[i].name, err.msg);
    cr_assert(not(eq(ptr, strstr(err.msg, "XMEM_PLUGIN_PATH (not set)"), NULL)), "%s", err.msg);

    /* With a search path, the message says where it looked. */
    cr_assert(eq(int, setenv("XMEM_PLUGIN_PATH", "/nonexistent/a:/nonexistent/b", 1), 0));
    cr_assert(eq(int, xmemi_plugin_load("nosuch", &p, &err), XMEM_EPLUGIN));
    cr_assert(not(eq(ptr, strstr(err.msg, "/nonexistent/a:/nonexistent/b"), NULL)), "%s", err.msg);

    cr_assert(eq(int, xmemi_plugin_load("", &p, &err), XMEM_EPLUGIN));
    cr_assert(eq(int, xmemi_plugin_load(NULL, &p, &err), XMEM_EPLUGIN));
}

/* NAME finds NAME.so in the first directory of XMEM_PLUGIN_PATH that has it. */
Test(plugin_abi, plugin_path_lookup, .init = setup, .fini = teardown)
{
    char dir[512], path[4096], want[600];
    dir_of(PLUGIN_SLOW, dir, sizeof dir);
    snprintf(path, sizeof path, "/nonexistent:%s:%s", xnt_dir, dir);
    cr_assert(eq(int, setenv("XMEM_PLUGIN_PATH", path, 1), 0));

    const char *names[] = {"good", "slow", "holder"};
    for (size_t i = 0; i < 3; i++) {
        xmemi_plugin p;
        xmem_error_t err = {0};
        cr_assert(eq(int, xmemi_plugin_load(names[i], &p, &err), XMEM_OK), "%s: %s", names[i],
                  err.msg);
        snprintf(want, sizeof want, "%s/%s.so", dir, names[i]);
        cr_assert(eq(str, p.path, want));
        cr_assert(eq(str, (char *)p.desc.name, (char *)names[i]));
        cr_assert(not(eq(ptr, p.handle, NULL)));
        xmemi_plugin_close(&p);
    }
}

/* libNAME.so is found too; NAME.so wins over it; an earlier directory wins over a later one; and
 * a bad file found by name is refused for its fault, not "not found". */
Test(plugin_abi, plugin_path_lib_prefix_and_order, .init = setup, .fini = teardown)
{
    char link[600], dir[512], path[1200];
    dir_of(PLUGIN_SLOW, dir, sizeof dir);
    struct {
        const char *file, *target;
    } links[] = {
        {"libonlylib.so", PLUGIN_SLOW},  {"twin.so", PLUGIN_GOOD}, {"libtwin.so", PLUGIN_SLOW},
        {"holder.so", PLUGIN_GOOD}, /* shadows the real holder.so in the later directory */
        {"broken.so", PLUGIN_BAD_MAGIC},
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        xnt_path(link, sizeof link, links[i].file);
        cr_assert(eq(int, symlink(links[i].target, link), 0), "symlink %s", link);
    }
    snprintf(path, sizeof path, "%s:%s", xnt_dir, dir);
    cr_assert(eq(int, setenv("XMEM_PLUGIN_PATH", path, 1), 0));

    struct {
        const char *spec, *file, *name;
    } finds[] = {
        {"onlylib", "libonlylib.so", "slow"},
        {"twin", "twin.so", "good"},
        {"holder", "holder.so", "good"},
    };
    for (size_t i = 0; i < sizeof finds / sizeof finds[0]; i++) {
        xmemi_plugin p;
        xmem_error_t err = {0};
        cr_assert(eq(int, xmemi_plugin_load(finds[i].spec, &p, &err), XMEM_OK), "%s: %s",
                  finds[i].spec, err.msg);
        xnt_path(link, sizeof link, finds[i].file);
        cr_assert(eq(str, p.path, link));
        cr_assert(eq(str, (char *)p.desc.name, (char *)finds[i].name));
        xmemi_plugin_close(&p);
    }

    xmemi_plugin p;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_plugin_load("broken", &p, &err), XMEM_EPLUGIN));
    cr_assert(not(eq(ptr, strstr(err.msg, "wrong magic"), NULL)), "%s", err.msg);
    xnt_path(link, sizeof link, "broken.so");
    cr_assert(not(eq(ptr, strstr(err.msg, link), NULL)), "%s", err.msg);
}

/* Copies a plugin file (a file of its own, unlike a symlink) into the scratch directory. */
static void copy_plugin(const char *from, const char *file)
{
    char to[600], cmd[1400];
    xnt_path(to, sizeof to, file);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    cr_assert(eq(int, system(cmd), 0), "%s", cmd);
}

/* A name no file is called finds the plugin that declares it (what `xmem plugins` lists), in any
 * directory of XMEM_PLUGIN_PATH; two files declaring one name are refused, both named. */
Test(plugin_abi, lookup_by_declared_name, .init = setup, .fini = teardown)
{
    copy_plugin(PLUGIN_SLOW, "xmem_slowpoke.so");
    char path[1200];
    snprintf(path, sizeof path, "/nonexistent:%s", xnt_dir);
    cr_assert(eq(int, setenv("XMEM_PLUGIN_PATH", path, 1), 0));
    xmemi_plugin p;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_plugin_load("slow", &p, &err), XMEM_OK), "%s", err.msg);
    char want[600];
    xnt_path(want, sizeof want, "xmem_slowpoke.so");
    cr_assert(eq(str, p.path, want));
    cr_assert(eq(str, (char *)p.desc.name, "slow"));
    xmemi_plugin_close(&p);

    /* A second file declaring "slow": neither is taken. */
    copy_plugin(PLUGIN_SLOW, "vendor_slow.so");
    cr_assert(eq(int, xmemi_plugin_load("slow", &p, &err), XMEM_EPLUGIN));
    cr_assert(not(eq(ptr, strstr(err.msg, "ambiguous"), NULL)), "%s", err.msg);
    cr_assert(not(eq(ptr, strstr(err.msg, "xmem_slowpoke.so"), NULL)), "%s", err.msg);
    cr_assert(not(eq(ptr, strstr(err.msg, "vendor_slow.so"), NULL)), "%s", err.msg);

    /* One file reached through two directories of the path is one plugin, not two. */
    unlink(want);
    snprintf(path, sizeof path, "%s:%s", xnt_dir, xnt_dir);
    cr_assert(eq(int, setenv("XMEM_PLUGIN_PATH", path, 1), 0));
    cr_assert(eq(int, xmemi_plugin_load("slow", &p, &err), XMEM_OK), "%s", err.msg);
    xmemi_plugin_close(&p);
}

/* A built-in name is never shadowed by a file of that name in the search path. */
Test(plugin_abi, builtin_wins_over_plugin_path, .init = setup, .fini = teardown)
{
    char link[600];
    xnt_path(link, sizeof link, "verify.so");
    cr_assert(eq(int, symlink(PLUGIN_GOOD, link), 0));
    cr_assert(eq(int, setenv("XMEM_PLUGIN_PATH", xnt_dir, 1), 0));
    xmemi_plugin p;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_plugin_load("verify", &p, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(ptr, p.path, NULL));
    cr_assert(eq(str, (char *)p.desc.name, "verify"));
    xmemi_plugin_close(&p);
}

/* ---- the descriptor check on its own, with symbol sizes no compiler would produce ---------- */

static xmem_err tick(xmem_node_t *node, void *state, xmem_error_t *err)
{
    (void)node;
    (void)state;
    (void)err;
    return XMEM_OK;
}

static const xmem_node_port out_port[] = {{"out", "x"}};

static xmem_node_plugin source_descriptor(void)
{
    return (xmem_node_plugin){.magic = XMEM_NODE_ABI_MAGIC,
                              .abi_version = XMEM_NODE_ABI_VERSION,
                              .size = sizeof(xmem_node_plugin),
                              .name = "src",
                              .outputs = out_port,
                              .n_outputs = 1,
                              .tick = tick};
}

Test(plugin_abi, check_symbol_sizes)
{
    xmem_node_plugin d = source_descriptor(), out;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_plugin_check(&d, sizeof d, "here", &out, &err), XMEM_OK), "%s",
              err.msg);
    cr_assert(eq(int, xmemi_plugin_check(&d, 0, "here", &out, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(str, (char *)out.version, ""), "a missing version reads as empty");
    cr_assert(eq(str, (char *)out.description, ""));

    /* A symbol too small to hold even magic, version and size. */
    cr_assert(eq(int, xmemi_plugin_check(&d, 8, "here", &out, &err), XMEM_EPLUGIN));
    cr_assert(not(eq(ptr, strstr(err.msg, "too small"), NULL)), "%s", err.msg);
    cr_assert(not(eq(ptr, strstr(err.msg, "here"), NULL)), "%s", err.msg);

    /* A symbol smaller than the size the descriptor claims: reading it would overrun. */
    cr_assert(eq(int, xmemi_plugin_check(&d, sizeof d - 8, "here", &out, &err), XMEM_EPLUGIN));
    cr_assert(not(eq(ptr, strstr(err.msg, "but its descriptor claims"), NULL)), "%s", err.msg);
}

/* A descriptor with fields this host does not know (a later ABI v1 minor) is accepted, and only the
 * known part is copied. */
Test(plugin_abi, check_longer_descriptor)
{
    struct {
        xmem_node_plugin known;
        uint64_t later[4];
    } big = {.known = source_descriptor(), .later = {1, 2, 3, 4}};
    big.known.size = sizeof big;
    xmem_node_plugin out;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_plugin_check(&big.known, sizeof big, "big", &out, &err), XMEM_OK), "%s",
              err.msg);
    cr_assert(eq(u32, out.size, (uint32_t)sizeof big));
    cr_assert(eq(ptr, (void *)out.tick, (void *)tick));
}

Test(plugin_abi, check_port_and_param_arrays)
{
    xmem_node_plugin d = source_descriptor(), out;
    xmem_error_t err = {0};
    d.outputs = NULL;
    cr_assert(eq(int, xmemi_plugin_check(&d, sizeof d, "here", &out, &err), XMEM_EPLUGIN));
    cr_assert(not(eq(ptr, strstr(err.msg, "no array"), NULL)), "%s", err.msg);

    static const xmem_node_param enum_without_choices[] = {
        {"mode", XMEM_PARAM_ENUM, NULL, "", 0, 0, NULL}};
    d = source_descriptor();
    d.params = enum_without_choices;
    d.n_params = 1;
    cr_assert(eq(int, xmemi_plugin_check(&d, sizeof d, "here", &out, &err), XMEM_EPLUGIN));
    cr_assert(not(eq(ptr, strstr(err.msg, "no choices"), NULL)), "%s", err.msg);

    static const xmem_node_param unnamed[] = {{"Bad Name", XMEM_PARAM_INT, "1", "", 0, 0, NULL}};
    d.params = unnamed;
    cr_assert(eq(int, xmemi_plugin_check(&d, sizeof d, "here", &out, &err), XMEM_EPLUGIN));
    cr_assert(not(eq(ptr, strstr(err.msg, "parameter 0 has no valid name"), NULL)), "%s", err.msg);

    static const xmem_node_param twice[] = {{"n", XMEM_PARAM_INT, "1", "", 0, 0, NULL},
                                            {"n", XMEM_PARAM_FLOAT, "1", "", 0, 0, NULL}};
    d.params = twice;
    d.n_params = 2;
    cr_assert(eq(int, xmemi_plugin_check(&d, sizeof d, "here", &out, &err), XMEM_EPLUGIN));
    cr_assert(not(eq(ptr, strstr(err.msg, "parameter 'n' is declared twice"), NULL)), "%s",
              err.msg);
}
