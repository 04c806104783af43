/* The table of built-in nodes. Nodes that link a large library are built-ins kept in a module of
 * their own, opened the first time one of them is asked for: the video nodes (nodes/video/) link
 * FFmpeg, some two hundred libraries that would otherwise cost every node process 0.1 s and 40 MB
 * at start; the bridges of graphs across hosts (nodes/bridge/) link czmq. */
#define _GNU_SOURCE
#include "builtins.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const xmem_node_plugin *const table[] = {
    &xmemi_node_testsrc,     &xmemi_node_verify,      &xmemi_node_stats,
    &xmemi_node_invert,      &xmemi_node_null,
#ifdef XMEM_HAVE_CUDA
    &xmemi_node_cuda_upload, &xmemi_node_cuda_invert, &xmemi_node_cuda_download,
#endif
};
#define N_TABLE (sizeof table / sizeof table[0])

/* A module of built-ins: its file, where an install puts it (relative to the program's prefix),
 * where this build made it, and the name and exported descriptor symbol of each of its nodes. A
 * module this build left out is listed all the same, with what the build lacks (`not_built`): a
 * node of it asked for by name (a graph across hosts plans bridges whatever the build) is refused
 * with that. */
typedef struct module {
    const char *file, *install_dir, *build_path;
    const char *not_built;
    const char *const (*nodes)[2];
    size_t n_nodes;
    bool tried;
    void *handle;
    char why[4 * PATH_MAX]; /* why it could not be opened */
    char path[PATH_MAX + 64];
} module;

static const char *const video_nodes[][2] = {
    {"videosrc", "xmemi_node_videosrc"},
    {"videosink", "xmemi_node_videosink"},
    {"imagesink", "xmemi_node_imagesink"},
};
static const char *const bridge_nodes[][2] = {
    {"bridge_send", "xmemi_node_bridge_send"},
    {"bridge_recv", "xmemi_node_bridge_recv"},
};

static module modules[] = {
    {.nodes = video_nodes,
     .n_nodes = sizeof video_nodes / sizeof video_nodes[0],
#ifdef XMEM_HAVE_FFMPEG
     .file = XMEM_VIDEO_MODULE,
     .install_dir = XMEM_MODULE_DIR,
     .build_path = XMEM_VIDEO_MODULE_BUILD_PATH},
#else
     .not_built = "this xmem was built without FFmpeg's libraries (libav*-dev: install them and "
                  "build again)"},
#endif
    {.nodes = bridge_nodes,
     .n_nodes = sizeof bridge_nodes / sizeof bridge_nodes[0],
#ifdef XMEM_HAVE_CZMQ
     .file = XMEM_BRIDGE_MODULE,
     .install_dir = XMEM_MODULE_DIR,
     .build_path = XMEM_BRIDGE_MODULE_BUILD_PATH},
#else
     .not_built = "this xmem was built without czmq, which graphs across hosts need "
                  "(libczmq-dev: install it and build again)"},
#endif
};
#define N_MODULES (sizeof modules / sizeof modules[0])

static const xmem_node_plugin *all[N_TABLE + 8 * N_MODULES];
static uint32_t n_all;

/* The module beside the program (a build tree), where an install puts it (relative to the
 * program, so a moved prefix works), then where this build made it (for test programs). Opened
 * once; its nodes are added to `all`. */
static void open_module(module *m)
{
    if (m->tried)
        return;
    m->tried = true;
    if (m->not_built) {
        snprintf(m->why, sizeof m->why, "%s", m->not_built);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    char paths[3][PATH_MAX + 64];
    snprintf(paths[0], sizeof paths[0], "%s/%s", exe, m->file);
    snprintf(paths[1], sizeof paths[1], "%s/../%s/%s", exe, m->install_dir, m->file);
    snprintf(paths[2], sizeof paths[2], "%s", m->build_path);
    int found = -1;
    for (int i = 0; i < 3 && found < 0; i++)
        if (access(paths[i], F_OK) == 0)
            found = i;
    if (found < 0) {
        snprintf(m->why, sizeof m->why, "%s is in none of %s, %s, %s", m->file, paths[0], paths[1],
                 paths[2]);
        return;
    }
    m->handle = dlopen(paths[found], RTLD_NOW | RTLD_LOCAL);
    if (!m->handle) {
        snprintf(m->why, sizeof m->why, "%s", dlerror());
        return;
    }
    memcpy(m->path, paths[found], sizeof m->path);
    for (size_t i = 0; i < m->n_nodes; i++) {
        const xmem_node_plugin *p = dlsym(m->handle, m->nodes[i][1]);
        if (p && n_all < sizeof all / sizeof all[0])
            all[n_all++] = p;
        else
            snprintf(m->why, sizeof m->why, "%s: no %s", m->file, m->nodes[i][1]);
    }
}

/* The module that holds node `name`, or NULL. */
static module *module_of(const char *name)
{
    for (size_t k = 0; k < N_MODULES; k++)
        for (size_t i = 0; i < modules[k].n_nodes; i++)
            if (strcmp(modules[k].nodes[i][0], name) == 0)
                return &modules[k];
    return NULL;
}

static void fill_table(void)
{
    if (n_all)
        return;
    memcpy(all, table, sizeof table);
    n_all = N_TABLE;
}

const xmem_node_plugin *const *xmemi_builtins(uint32_t *n)
{
    fill_table();
    for (size_t k = 0; k < N_MODULES; k++)
        open_module(&modules[k]);
    *n = n_all;
    return all;
}

const xmem_node_plugin *xmemi_builtin_find(const char *name)
{
    for (size_t i = 0; i < N_TABLE; i++) /* without opening a module */
        if (strcmp(table[i]->name, name) == 0)
            return table[i];
    module *m = module_of(name);
    if (!m) /* a plugin's name: no reason to load FFmpeg or czmq */
        return NULL;
    fill_table();
    open_module(m);
    for (uint32_t i = N_TABLE; i < n_all; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

const char *xmemi_builtin_origin(const char *name)
{
    static char origin[PATH_MAX + 96];
    module *m = module_of(name);
    if (!m || !m->path[0])
        return "built-in";
    snprintf(origin, sizeof origin, "built-in, %s", m->path);
    return origin;
}

const char *xmemi_builtin_missing(const char *name)
{
    module *m = module_of(name);
    return m && !xmemi_builtin_find(name) ? m->why : NULL;
}
