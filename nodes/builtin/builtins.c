/* The table of built-in nodes (the video ones live in nodes/video/). */
#include "builtins.h"

#include <string.h>

static const xmem_node_plugin *const table[] = {
    &xmemi_node_testsrc,     &xmemi_node_verify,      &xmemi_node_stats,
    &xmemi_node_invert,      &xmemi_node_null,
#ifdef XMEM_HAVE_FFMPEG
    &xmemi_node_videosrc,    &xmemi_node_videosink,   &xmemi_node_imagesink,
#endif
#ifdef XMEM_HAVE_CUDA
    &xmemi_node_cuda_upload, &xmemi_node_cuda_invert, &xmemi_node_cuda_download,
#endif
};

const xmem_node_plugin *const *xmemi_builtins(uint32_t *n)
{
    *n = sizeof table / sizeof table[0];
    return table;
}

const xmem_node_plugin *xmemi_builtin_find(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i]->name, name) == 0)
            return table[i];
    return NULL;
}
