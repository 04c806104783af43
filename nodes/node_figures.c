/* What a plugin tells `xmem run` about its own work (include/xmem/node.h): a count of work units,
 * the files it writes and the network link it carries, stored in the node's slot of the launcher's
 * stats file (node_stats.h), which the live table and the summary read. In libxmem, so plugins
 * built out of tree use it too.
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

const char *xmem_link_state_name(xmem_link_state state)
{
    static const char *const names[] = {"connecting", "up", "down", "refused"};
    return (unsigned)state < sizeof names / sizeof names[0] ? names[state] : "unknown";
}

const char *xmem_link_drop_name(xmem_link_drop reason)
{
    static const char *const names[] = {"link-down", "remote-full", "lost", "remote-no-buffer"};
    return (unsigned)reason < XMEM_LINK_DROP_COUNT_ ? names[reason] : "unknown";
}

/* Counters grow by what this life added since it last said: a restarted node's figures run on
 * from its previous life's in the slot. */
static void add_since(uint64_t *slot, uint64_t now, uint64_t *said)
{
    if (now > *said)
        xmemi_stats_add(slot, now - *said);
    *said = now;
}

void xmem_node_report_link(xmem_node_t *node, const xmem_node_link *link, size_t size)
{
    xmemi_node_stats *s = node->stats;
    if (!s || !link || size < sizeof *link)
        return;
    xmemi_link_stat *l = &s->link;
    xmem_node_link *said = &node->link_said;
    add_since(&l->frames, link->frames, &said->frames);
    add_since(&l->bytes, link->bytes, &said->bytes);
    add_since(&l->reconnects, link->reconnects, &said->reconnects);
    add_since(&l->refused, link->refused, &said->refused);
    for (int i = 0; i < XMEM_LINK_DROP_COUNT_; i++)
        add_since(&l->dropped[i], link->dropped[i], &said->dropped[i]);
    __atomic_store_n(&l->rtt_ns, link->rtt_ns, __ATOMIC_RELAXED);
    __atomic_store_n(&l->state, (uint32_t)link->state, __ATOMIC_RELAXED);
    if (!__atomic_load_n(&l->present, __ATOMIC_ACQUIRE) || strcmp(said->peer, link->peer) != 0) {
        /* The peer rarely changes (a new address): readers may see it torn for that moment. */
        snprintf(said->peer, sizeof said->peer, "%s", link->peer);
        memcpy(l->peer, said->peer, sizeof l->peer);
        __atomic_store_n(&l->present, 1, __ATOMIC_RELEASE);
    }
}
