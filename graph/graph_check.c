/* Checking a parsed graph against the plugins it names: each plugin loads and passes the ABI
 * check, every parameter is declared and parses for its type, every input names an existing
 * node's output, there is no cycle, the pool can hold every queue plus what is in flight, and its
 * memory fits (graph_room.c). Errors point at the line and column of the value at fault. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fail.h"
#include "common/plural.h"
#include "graph.h"
#include "graph_hosts.h"
#include "watchdog.h"
#include "nodes/node_internal.h"
#include "runtime_dir.h"

/* A relative plugin path starts at the graph's directory (g->dir, graph_parse.c). */
static xmem_err resolve_plugin(const xmemi_graph *g, xmemi_graph_node *n, xmem_error_t *err)
{
    if (!xmemi_plugin_spec_is_path(n->plugin) || n->plugin[0] == '/')
        return XMEM_OK;
    char *full = NULL;
    if (asprintf(&full, "%s/%s", g->dir, n->plugin) < 0)
        full = NULL;
    if (!full)
        return xmemi_fail(err, XMEM_ENOMEM, 0, "%s: no memory", g->path);
    char *real = realpath(full, NULL);
    free(n->plugin);
    n->plugin = real ? real : full;
    if (real)
        free(full);
    return XMEM_OK;
}

static xmem_err check_params(const xmemi_graph *g, xmemi_graph_node *n, xmem_error_t *err)
{
    const xmem_node_plugin *p = &n->loaded.desc;
    for (uint32_t i = 0; i < n->n_params; i++) {
        const xmemi_graph_param *q = &n->params[i];
        uint32_t index;
        const xmem_node_param *def = xmemi_param_find(p, q->name, strlen(q->name), &index);
        if (!def) {
            char names[384];
            xmemi_param_list(p, names, sizeof names);
            return xmemi_graph_fail(g, err, q->key_at,
                                    "node '%s': plugin '%s' has no parameter '%s' (it has: %s)",
                                    n->name, p->name, q->name, names);
        }
        char where[300];
        snprintf(where, sizeof where, "%s:%d:%d", g->path, q->value_at.line, q->value_at.column);
        xmemi_param_value v;
        xmem_err rc = xmemi_param_parse(n->name, def, q->value, where, &v, err);
        if (rc)
            return rc;
        xmemi_param_value_clear(&v);
    }
    for (uint32_t k = 0; k < p->n_params; k++) {
        if (p->params[k].default_value)
            continue;
        bool given = false;
        for (uint32_t i = 0; i < n->n_params; i++)
            given |= strcmp(n->params[i].name, p->params[k].name) == 0;
        if (!given)
            return xmemi_graph_fail(g, err, n->at,
                                    "node '%s': parameter '%s' of plugin '%s' is required", n->name,
                                    p->params[k].name, p->name);
    }
    return XMEM_OK;
}

static xmem_err check_inputs(xmemi_graph *g, xmemi_graph_node *n, xmem_error_t *err)
{
    const xmem_node_plugin *p = &n->loaded.desc;
    char list[512];
    for (uint32_t i = 0; i < n->n_inputs; i++) {
        xmemi_graph_edge *e = &n->inputs[i];
        if (!xmemi_port_find(p->inputs, p->n_inputs, e->port)) {
            xmemi_port_list(p->inputs, p->n_inputs, list, sizeof list);
            return xmemi_graph_fail(g, err, e->port_at,
                                    "node '%s': plugin '%s' has no input port '%s' (it has: %s)",
                                    n->name, p->name, e->port, list);
        }
        uint32_t from = g->n_nodes;
        for (uint32_t k = 0; k < g->n_nodes; k++)
            if (strcmp(g->nodes[k].name, e->from_node) == 0)
                from = k;
        if (from == g->n_nodes)
            return xmemi_graph_fail(g, err, e->from_at,
                                    "node '%s', input '%s': there is no node '%s'", n->name,
                                    e->port, e->from_node);
        const xmem_node_plugin *up = &g->nodes[from].loaded.desc;
        if (!xmemi_port_find(up->outputs, up->n_outputs, e->from_port)) {
            xmemi_port_list(up->outputs, up->n_outputs, list, sizeof list);
            return xmemi_graph_fail(
                g, err, e->from_at,
                "node '%s', input '%s': node '%s' (plugin '%s') has no output port "
                "'%s' (it has: %s)",
                n->name, e->port, e->from_node, up->name, e->from_port, list);
        }
        if (&g->nodes[from] == n)
            return xmemi_graph_fail(g, err, e->from_at, "node '%s' takes its own output: a cycle",
                                    n->name);
        e->from = from;
    }
    if (p->n_inputs && !n->n_inputs)
        return xmemi_graph_fail(g, err, n->at,
                                "node '%s' (plugin '%s') has inputs but none is wired: add "
                                "inputs: {%s: NODE/PORT}",
                                n->name, p->name, p->inputs[0].name);
    return XMEM_OK;
}

/* Kahn's order; what is left over lies on a cycle, reported at one of its edges. */
static xmem_err order_nodes(xmemi_graph *g, xmem_error_t *err)
{
    uint32_t indeg[XMEMI_GRAPH_MAX_NODES] = {0}, done = 0;
    bool placed[XMEMI_GRAPH_MAX_NODES] = {false};
    for (uint32_t i = 0; i < g->n_nodes; i++)
        indeg[i] = g->nodes[i].n_inputs;
    while (done < g->n_nodes) {
        uint32_t next = g->n_nodes;
        for (uint32_t i = 0; i < g->n_nodes && next == g->n_nodes; i++)
            if (!placed[i] && indeg[i] == 0)
                next = i;
        if (next == g->n_nodes)
            break;
        placed[next] = true;
        g->order[done++] = next;
        for (uint32_t i = 0; i < g->n_nodes; i++)
            for (uint32_t k = 0; k < g->nodes[i].n_inputs; k++)
                if (g->nodes[i].inputs[k].from == next)
                    indeg[i]--;
    }
    if (done == g->n_nodes)
        return XMEM_OK;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        if (placed[i])
            continue;
        for (uint32_t k = 0; k < g->nodes[i].n_inputs; k++) {
            const xmemi_graph_edge *e = &g->nodes[i].inputs[k];
            if (!placed[e->from])
                return xmemi_graph_fail(
                    g, err, e->from_at,
                    "node '%s', input '%s' from '%s/%s' closes a cycle: a graph "
                    "must flow one way",
                    g->nodes[i].name, e->port, e->from_node, e->from_port);
        }
    }
    return xmemi_graph_fail(g, err, g->nodes[0].at, "the graph has a cycle");
}

uint32_t xmemi_graph_buffers_needed(const xmemi_graph *g, char *detail, size_t len)
{
    uint32_t total = 2 + g->cuda_count; /* slack: one recycled while another is acquired */
    size_t used = 0;
    if (detail && len)
        detail[0] = '\0';
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const xmemi_graph_node *n = &g->nodes[i];
        total += n->loaded.desc.n_outputs; /* one being filled per output */
        for (uint32_t k = 0; k < n->n_inputs; k++) {
            const xmemi_graph_edge *e = &n->inputs[k];
            /* A drop_oldest subscriber may hold up to twice its depth before its publisher
             * drops for it; a block one holds its depth. */
            uint32_t q = e->policy == XMEM_POLICY_BLOCK ? e->depth : 2 * e->depth;
            total += q;
            if (detail && used < len) {
                int w = snprintf(detail + used, len - used, "%s%s/%s -> %s/%s: %u",
                                 used ? "; " : "", e->from_node, e->from_port, n->name, e->port, q);
                if (w > 0)
                    used += (size_t)w;
            }
        }
    }
    return total;
}

/* What would only fail once running: socket paths too long for ipc, more pool attachments than
 * a pool has process slots, more publishers on one input port than a subscriber takes. */
static xmem_err check_limits(const xmemi_graph *g, xmem_error_t *err)
{
    char dir[256];
    xmem_err rc = xmemi_runtime_dir_path(g->pool_name, dir, sizeof dir, err);
    if (rc)
        return xmemi_graph_fail(g, err, g->pool_at.line ? g->pool_at : g->nodes[0].at, "%s",
                                err->msg);
    uint32_t attachments = 2; /* the launcher, and one to spare (xmem chaos, a monitor) */
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const xmemi_graph_node *n = &g->nodes[i];
        const xmem_node_plugin *p = &n->loaded.desc;
        for (uint32_t k = 0; k < p->n_outputs; k++) {
            size_t len = strlen(dir) + 1 + strlen(n->name) + 1 + strlen(p->outputs[k].name);
            if (len > 107) /* sizeof sockaddr_un.sun_path - 1 */
                return xmemi_graph_fail(
                    g, err, n->at,
                    "node '%s', output '%s': its socket %s/%s.%s is %zu characters, "
                    "ipc allows 107: shorten the node, port or pool name (or "
                    "XMEM_RUNTIME_DIR)",
                    n->name, p->outputs[k].name, dir, n->name, p->outputs[k].name, len);
        }
        attachments++; /* the node's own */
        for (uint32_t k = 0; k < p->n_inputs; k++) {
            uint32_t edges = 0;
            for (uint32_t e = 0; e < n->n_inputs; e++)
                edges += strcmp(n->inputs[e].port, p->inputs[k].name) == 0;
            attachments += edges > 0 ? 2 : 0; /* a subscriber per wired input port, and its
                                                  inbox (transport/inbox.h) */
            if (edges > XMEM_SUB_MAX_PUBLISHERS)
                return xmemi_graph_fail(
                    g, err, n->at, "node '%s', input '%s': %u sources, a port takes 64 at most",
                    n->name, p->inputs[k].name, edges);
        }
    }
    if (attachments > XMEM_POOL_MAX_PROCS)
        return xmemi_graph_fail(
            g, err, g->nodes[0].at,
            "the graph needs %u pool attachments (one per node, two per wired input "
            "port, the launcher's, one spare); a pool has %d",
            attachments, XMEM_POOL_MAX_PROCS);
    return XMEM_OK;
}

/* The CUDA nodes have CUDA buffers on their device: the pool's, or (a graph across hosts, whole)
 * the pool of each node's host. */
static xmem_err check_cuda(const xmemi_graph *g, xmem_error_t *err)
{
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const xmemi_graph_node *n = &g->nodes[i];
        if (!(n->loaded.desc.flags & XMEM_NODE_USES_CUDA))
            continue;
        uint32_t count;
        int device;
        xmemi_graph_node_cuda(g, n, &count, &device);
        bool per_host = g->n_hosts && !g->planned;
        for (uint32_t k = 0; k < n->n_params; k++)
            if (strcmp(n->params[k].name, "device") == 0 && atoi(n->params[k].value) != device)
                return xmemi_graph_fail(
                    g, err, n->params[k].value_at,
                    "node '%s': device %s, but the pool's CUDA buffers are on device "
                    "%d (%s)",
                    n->name, n->params[k].value, device,
                    per_host ? "its host's pool.cuda.device" : "pool.cuda.device");
        if (!count && per_host)
            return xmemi_graph_fail(g, err, n->plugin_at,
                                    "node '%s' (plugin '%s') works on CUDA buffers, but the pool "
                                    "of its host '%s' has none: give it some (pool: {cuda: "
                                    "{size: BYTES, count: N, device: 0}} in its hosts: entry)",
                                    n->name, n->loaded.desc.name, g->hosts[n->host].name);
        if (!count)
            return xmemi_graph_fail(g, err, n->plugin_at,
                                    "node '%s' (plugin '%s') works on CUDA buffers: give the pool "
                                    "some (pool: {cuda: {size: BYTES, count: N, device: 0}})",
                                    n->name, n->loaded.desc.name);
    }
    return XMEM_OK;
}

xmem_err xmemi_graph_check(xmemi_graph *g, xmem_error_t *err)
{
    xmem_err rc;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        xmemi_graph_node *n = &g->nodes[i];
        xmem_error_t why;
        if ((rc = resolve_plugin(g, n, err)))
            return rc;
        if (xmemi_plugin_load(n->plugin, &n->loaded, &why))
            return xmemi_graph_fail(g, err, n->plugin_at, "node '%s': %s", n->name, why.msg);
        if ((rc = check_params(g, n, err)) || (rc = xmemi_watchdog_check(g, n, err)))
            return rc;
    }
    for (uint32_t i = 0; i < g->n_nodes; i++)
        if ((rc = check_inputs(g, &g->nodes[i], err)))
            return rc;
    if ((rc = order_nodes(g, err)))
        return rc;
    if ((rc = check_cuda(g, err)))
        return rc;
    /* A graph across hosts, whole: each host's pool and sockets hold only that host's part (and
     * its bridges), and are checked when the host runs it (or validates with --host). */
    if (g->n_hosts && !g->planned)
        return XMEM_OK;
    if ((rc = check_limits(g, err)))
        return rc;
    char detail[1024];
    uint32_t need = xmemi_graph_buffers_needed(g, detail, sizeof detail);
    if (g->buffers == 0)
        g->buffers = need < 16 ? 16 : need;
    else if (g->buffers < need)
        return xmemi_graph_fail(
            g, err, g->buffers_at,
            "pool: %u buffer%s cannot hold every queue plus what is in flight: the "
            "graph needs %u (%s; plus one per output being filled, the CUDA "
            "buffers and 2 spare)",
            g->buffers, xmemi_s(g->buffers), need, detail);
    if (g->prealloc_count > g->buffers)
        return xmemi_graph_fail(g, err, g->pool_at, "pool: preallocate count %u exceeds buffers %u",
                                g->prealloc_count, g->buffers);
    return xmemi_graph_check_room(g, err);
}
