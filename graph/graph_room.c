/* The graph's pool against the memory it may take: what it takes of /dev/shm at create (its
 * metadata and its preallocated buffers, as core counts them) is refused before anything starts
 * when it is more than the limit or more than /dev/shm has free, at the pool setting that asks for
 * it. Buffers the nodes make later are not known here; each is reserved when made, and a node
 * that finds no room gets an error, not a SIGBUS. */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

#include "common/size_text.h"
#include "graph.h"

void xmemi_graph_pool_options(const xmemi_graph *g, xmem_pool_options *out)
{
    xmem_pool_options_init(out);
    out->capacity = g->buffers;
    if (g->prealloc_count) {
        out->n_classes = 1;
        out->classes[0].size = g->prealloc_size;
        out->classes[0].count = g->prealloc_count;
    }
}

uint64_t xmemi_graph_default_shm_limit(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return UINT64_MAX; /* unknown: /dev/shm's own size still bounds it */
    return (uint64_t)pages * (uint64_t)page / 4 * 3;
}

/* The setting that asks for the bytes: the preallocation when there is one (it is most of them),
 * else the buffer count, else the pool (or, with no pool key at all, the first node). */
static xmemi_mark pool_setting(const xmemi_graph *g)
{
    if (g->prealloc_count)
        return g->prealloc_at;
    if (g->buffers_at.line)
        return g->buffers_at;
    return g->pool_at.line ? g->pool_at : g->nodes[0].at;
}

xmem_err xmemi_graph_check_room(const xmemi_graph *g, xmem_error_t *err)
{
    xmem_pool_options po;
    xmemi_graph_pool_options(g, &po);
    uint64_t need = xmem_pool_shm_bytes(&po);
    uint64_t limit = g->shm_limit ? g->shm_limit : xmemi_graph_default_shm_limit();
    if (need > limit) {
        char why[96];
        if (g->shm_limit)
            snprintf(why, sizeof why, "pool.shm_limit at line %d", g->shm_limit_at.line);
        else
            snprintf(why, sizeof why, "3/4 of this machine's memory; pool.shm_limit raises it");
        char what[96] = "";
        if (g->prealloc_count)
            snprintf(what, sizeof what, ", %u preallocated of %llu bytes each", g->prealloc_count,
                     (unsigned long long)g->prealloc_size);
        return xmemi_graph_fail(g, err, pool_setting(g),
                                "pool '%s' needs %s of shared memory (%u buffers%s), more than "
                                "the %s it may take (%s)",
                                g->pool_name, xmemi_size(need).s, g->buffers, what,
                                xmemi_size(limit).s, why);
    }
    xmem_error_t room;
    xmem_err rc = xmem_pool_check_room(g->pool_name, &po, &room);
    if (rc)
        return xmemi_graph_fail_code(g, err, rc, pool_setting(g), "%s", room.msg);
    return XMEM_OK;
}
