/* The checks of a graph's hosts: section against its nodes (graph_hosts.h), run once the whole
 * file is read: placements, keys, addresses and ports that must not collide, and enough ports on
 * each host for the streams it receives. Plus the small look-ups the plan and the check share. */
#define _GNU_SOURCE
#include "graph_hosts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/fail.h"
#include "common/plural.h"

void xmemi_graph_pool_apply(xmemi_graph *g, const xmemi_graph_pool_set *set)
{
    if (set->name_at.line) {
        snprintf(g->pool_name, sizeof g->pool_name, "%s", set->name);
        g->pool_named = true;
    }
    if (set->buffers_at.line) {
        g->buffers = set->buffers;
        g->buffers_at = set->buffers_at;
    }
    if (set->prealloc_at.line) {
        g->prealloc_size = set->prealloc_size;
        g->prealloc_count = set->prealloc_count;
        g->prealloc_at = set->prealloc_at;
    }
    if (set->shm_limit_at.line) {
        g->shm_limit = set->shm_limit;
        g->shm_limit_at = set->shm_limit_at;
    }
    if (set->cuda_at.line) {
        g->cuda_size = set->cuda_size;
        g->cuda_count = set->cuda_count;
        g->cuda_device = set->cuda_device;
        g->cuda_at = set->cuda_at;
    }
}

int xmemi_graph_host_find(const xmemi_graph *g, const char *name)
{
    for (uint32_t i = 0; i < g->n_hosts; i++)
        if (strcmp(g->hosts[i].name, name) == 0)
            return (int)i;
    return -1;
}

void xmemi_graph_host_list(const xmemi_graph *g, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < g->n_hosts && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", g->hosts[i].name);
        used += n > 0 ? (size_t)n : 0;
    }
}

void xmemi_graph_node_cuda(const xmemi_graph *g, const xmemi_graph_node *n, uint32_t *count,
                           int *device)
{
    const xmemi_graph_pool_set *own =
        g->n_hosts && !g->planned && n->host < g->n_hosts ? &g->hosts[n->host].pool : NULL;
    bool host_cuda = own && own->cuda_at.line;
    *count = host_cuda ? own->cuda_count : g->cuda_count;
    *device = host_cuda ? own->cuda_device : g->cuda_device;
}

/* Each node's host: names a host (the first host when it gives none). */
static xmem_err place_nodes(xmemi_graph *g, xmem_error_t *err)
{
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        xmemi_graph_node *n = &g->nodes[i];
        if (!n->host_name) {
            n->host = 0;
            continue;
        }
        if (!g->n_hosts)
            return xmemi_graph_fail(g, err, n->host_at,
                                    "node '%s': host '%s', but the graph has no hosts: section "
                                    "(hosts: - {name: NAME, address: ADDRESS, key: FILE})",
                                    n->name, n->host_name);
        int h = xmemi_graph_host_find(g, n->host_name);
        if (h < 0) {
            char list[512];
            xmemi_graph_host_list(g, list, sizeof list);
            return xmemi_graph_fail(g, err, n->host_at,
                                    "node '%s': there is no host '%s' (hosts: %s)", n->name,
                                    n->host_name, list);
        }
        n->host = (uint32_t)h;
    }
    return XMEM_OK;
}

static xmem_err check_keys(const xmemi_graph *g, xmem_error_t *err)
{
    if (g->insecure_network)
        return XMEM_OK;
    for (uint32_t i = 0; i < g->n_hosts; i++) {
        const xmemi_graph_host *h = &g->hosts[i];
        if (!h->key)
            return xmemi_graph_fail(g, err, h->at,
                                    "host '%s' has no key: give key: FILE (its public "
                                    "certificate, made by xmem keygen), or set "
                                    "options.insecure_network: true for plaintext links",
                                    h->name);
        xmem_err rc = xmemi_host_key_check_public(g, h, err);
        if (rc)
            return rc;
    }
    return XMEM_OK;
}

static xmemi_mark ports_mark(const xmemi_graph_host *h)
{
    return h->ports_at.line ? h->ports_at : h->at;
}

/* Two hosts at one address bind on one machine: their receivers' ports must not meet. */
static xmem_err check_ports_apart(const xmemi_graph *g, xmem_error_t *err)
{
    for (uint32_t j = 1; j < g->n_hosts; j++)
        for (uint32_t i = 0; i < j; i++) {
            const xmemi_graph_host *a = &g->hosts[i], *b = &g->hosts[j];
            if (strcasecmp(a->address, b->address) || a->port_last < b->port_first ||
                b->port_last < a->port_first)
                continue;
            return xmemi_graph_fail(g, err, ports_mark(b),
                                    "hosts '%s' and '%s' are both at %s and their ports overlap "
                                    "(%u-%u and %u-%u): give them ranges apart (ports: "
                                    "FIRST-LAST)",
                                    a->name, b->name, b->address, a->port_first, a->port_last,
                                    b->port_first, b->port_last);
        }
    return XMEM_OK;
}

/* Every stream coming in to a host takes one of its ports. */
static xmem_err check_port_room(const xmemi_graph *g, xmem_error_t *err)
{
    xmemi_stream *streams = NULL;
    uint32_t n = 0;
    xmem_err rc = xmemi_graph_streams(g, &streams, &n, err);
    for (uint32_t h = 0; rc == XMEM_OK && h < g->n_hosts; h++) {
        const xmemi_graph_host *host = &g->hosts[h];
        uint32_t need = 0, have = host->port_last - host->port_first + 1;
        for (uint32_t s = 0; s < n; s++)
            need += (streams[s].to_hosts >> h) & 1;
        if (need > have)
            rc = xmemi_graph_fail(g, err, ports_mark(host),
                                  "host '%s' receives %u stream%s from other hosts, one port "
                                  "each, but its ports %u-%u are %u: it needs %u (ports: "
                                  "FIRST-LAST)",
                                  host->name, need, xmemi_s(need), host->port_first,
                                  host->port_last, have, need);
    }
    free(streams);
    return rc;
}

xmem_err xmemi_graph_check_hosts(xmemi_graph *g, xmem_error_t *err)
{
    xmem_err rc = place_nodes(g, err);
    if (rc || !g->n_hosts)
        return rc;
    if ((rc = check_ports_apart(g, err)) || (rc = check_port_room(g, err)))
        return rc;
    return check_keys(g, err);
}
