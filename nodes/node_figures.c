/* What a plugin tells `xmem run` about its own work (include/xmem/node.h): a count of work units
 * and the files it writes, stored in the node's slot of the launcher's stats file (node_stats.h),
 * which the live table and the summary read. In libxmem, so plugins built out of tree use it too.
 */
#include <stdio.h>
#include <string.h>

#include "node_internal.h"
#include "node_stats.h"

void xmem_node_count_work(xmem_node_t *node, const char *what, uint64_t n)
{
    xmemi_node_stats *s = node->stats;
    if (!s)
        return;
    /* A restarted node finds the name already there: the first life's name stays. */
    if (!__atomic_load_n(&s->work_named, __ATOMIC_ACQUIRE)) {
        snprintf(s->work_what, sizeof s->work_what, "%s", what ? what : "work");
        __atomic_store_n(&s->work_named, 1, __ATOMIC_RELEASE);
    }
    xmemi_stats_add(&s->work, n);
}

/* `path` as its slot keeps it: cut to fit, with "..." where it was cut. */
static void cut_path(char out[XMEM_NODE_FILE_PATH_MAX + 1], const char *path)
{
    size_t len = strlen(path);
    if (len <= XMEM_NODE_FILE_PATH_MAX) {
        memcpy(out, path, len + 1);
        return;
    }
    memcpy(out, path, XMEM_NODE_FILE_PATH_MAX - 3);
    memcpy(out + XMEM_NODE_FILE_PATH_MAX - 3, "...", 4);
}

/* The slot already naming `path`, else a free one (given the path), else NULL. */
static xmemi_file_stat *file_slot(xmemi_node_stats *s, const char *path)
{
    char cut[XMEM_NODE_FILE_PATH_MAX + 1];
    cut_path(cut, path);
    xmemi_file_stat *free_slot = NULL;
    for (uint32_t i = 0; i < XMEM_NODE_FILES_MAX; i++) {
        xmemi_file_stat *f = &s->files[i];
        if (__atomic_load_n(&f->state, __ATOMIC_ACQUIRE) == XMEMI_FILE_UNUSED)
            free_slot = free_slot ? free_slot : f;
        else if (strcmp(f->path, cut) == 0)
            return f;
    }
    if (free_slot)
        memcpy(free_slot->path, cut, sizeof cut);
    return free_slot;
}

void xmem_node_report_file(xmem_node_t *node, const char *path, uint64_t frames, bool finished)
{
    if (!node->stats || !path)
        return;
    xmemi_file_stat *f = file_slot(node->stats, path);
    if (!f)
        return;
    __atomic_store_n(&f->frames, frames, __ATOMIC_RELAXED);
    __atomic_store_n(&f->state, finished ? XMEMI_FILE_FINISHED : XMEMI_FILE_WRITING,
                     __ATOMIC_RELEASE);
}
