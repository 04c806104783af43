/* The table of built-in nodes. The video nodes (nodes/video/) are built-ins kept in a module of
 * their own, opened the first time one of them is asked for: they link FFmpeg, some two hundred
 * libraries that would otherwise cost every node process 0.1 s and 40 MB at start. */
#define _GNU_SOURCE
#include "builtins.h"

#include <dlfcn.h>
#include <limits.h>
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

#ifdef XMEM_HAVE_FFMPEG
/* Name and exported descriptor symbol of each node of the video module. */
static const char *const video_nodes[][2] = {
    {"videosrc", "xmemi_node_videosrc"},
    {"videosink", "xmemi_node_videosink"},
    {"imagesink", "xmemi_node_imagesink"},
};
#define N_VIDEO (sizeof video_nodes / sizeof video_nodes[0])
#else
#define N_VIDEO 0
#endif

static const xmem_node_plugin *all[N_TABLE + N_VIDEO + 1];
static uint32_t n_all;
static char video_why[4 * PATH_MAX];   /* why the video module could not be opened */
static char video_path[PATH_MAX + 64]; /* the one opened */

#ifdef XMEM_HAVE_FFMPEG
/* The module beside the program (a build tree), where an install puts it (relative to the
 * program, so a moved prefix works), then where this build made it (for test programs). */
static void *open_video_module(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    char paths[3][PATH_MAX + 64];
    snprintf(paths[0], sizeof paths[0], "%s/%s", exe, XMEM_VIDEO_MODULE);
    snprintf(paths[1], sizeof paths[1], "%s/../%s/%s", exe, XMEM_VIDEO_MODULE_DIR,
             XMEM_VIDEO_MODULE);
    snprintf(paths[2], sizeof paths[2], "%s", XMEM_VIDEO_MODULE_BUILD_PATH);
    for (int i = 0; i < 3; i++) {
        if (access(paths[i], F_OK) != 0)
            continue;
        void *h = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
        if (!h)
            snprintf(video_why, sizeof video_why, "%s", dlerror());
        else
            memcpy(video_path, paths[i], sizeof video_path);
        return h;
    }
    snprintf(video_why, sizeof video_why, "%s is in none of %s, %s, %s", XMEM_VIDEO_MODULE,
             paths[0], paths[1], paths[2]);
    return NULL;
}
#endif

/* One of the video module's nodes, by name. */
static bool is_video_node(const char *name)
{
#ifdef XMEM_HAVE_FFMPEG
    for (size_t i = 0; i < N_VIDEO; i++)
        if (strcmp(video_nodes[i][0], name) == 0)
            return true;
#endif
    (void)name;
    return false;
}

/* Fills `all` once: the table, then the video nodes if their module opens. */
static void fill(void)
{
    if (n_all)
        return;
    memcpy(all, table, sizeof table);
    n_all = N_TABLE;
#ifdef XMEM_HAVE_FFMPEG
    void *h = open_video_module();
    for (size_t i = 0; h && i < N_VIDEO; i++) {
        const xmem_node_plugin *p = dlsym(h, video_nodes[i][1]);
        if (p)
            all[n_all++] = p;
        else
            snprintf(video_why, sizeof video_why, "%s: no %s", XMEM_VIDEO_MODULE,
                     video_nodes[i][1]);
    }
#endif
}

const xmem_node_plugin *const *xmemi_builtins(uint32_t *n)
{
    fill();
    *n = n_all;
    return all;
}

const xmem_node_plugin *xmemi_builtin_find(const char *name)
{
    for (size_t i = 0; i < N_TABLE; i++) /* without opening the video module */
        if (strcmp(table[i]->name, name) == 0)
            return table[i];
    if (!is_video_node(name)) /* a plugin's name: no reason to load FFmpeg */
        return NULL;
    fill();
    for (uint32_t i = N_TABLE; i < n_all; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

const char *xmemi_builtin_origin(const char *name)
{
    static char origin[sizeof video_path + 16];
    for (size_t i = 0; i < N_TABLE; i++)
        if (strcmp(table[i]->name, name) == 0)
            return "built-in";
    snprintf(origin, sizeof origin, "built-in, %s", video_path);
    return video_path[0] ? origin : "built-in";
}

const char *xmemi_builtin_missing(const char *name)
{
    return is_video_node(name) && !xmemi_builtin_find(name) ? video_why : NULL;
}
