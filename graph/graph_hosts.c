/* One host's part of a graph across hosts (graph_hosts.h): the streams between hosts, the TCP
 * port each takes on its receiving host, and the rewriting of the parsed graph into the nodes
 * one host runs, with a bridge node at each end of every stream. Every host computes the same
 * names, ports and link names from the same file; nothing here looks at the machine it runs on
 * but the host's secret key. */
#define _GNU_SOURCE
#include "graph_hosts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xmem/pool.h>

#include "common/fail.h"

static int node_index(const xmemi_graph *g, const char *name)
{
    for (uint32_t i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0)
            return (int)i;
    return -1;
}

xmem_err xmemi_graph_streams(const xmemi_graph *g, xmemi_stream **out, uint32_t *n,
                             xmem_error_t *err)
{
    *out = NULL;
    *n = 0;
    uint32_t edges = 0;
    for (uint32_t i = 0; i < g->n_nodes; i++)
        edges += g->nodes[i].n_inputs;
    xmemi_stream *s = calloc(edges ? edges : 1, sizeof *s);
    if (!s)
        return xmemi_fail(err, XMEM_ENOMEM, 0, "%s: no memory", g->path);
    uint32_t used = 0;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const xmemi_graph_node *c = &g->nodes[i];
        for (uint32_t k = 0; k < c->n_inputs; k++) {
            const xmemi_graph_edge *e = &c->inputs[k];
            int r = node_index(g, e->from_node);
            if (r < 0 || g->nodes[r].host == c->host)
                continue;
            uint32_t t = 0;
            while (t < used &&
                   !(s[t].producer == (uint32_t)r && strcmp(s[t].port, e->from_port) == 0))
                t++;
            if (t == used) {
                s[t] =
                    (xmemi_stream){.producer = (uint32_t)r, .port = e->from_port, .at = e->from_at};
                snprintf(s[t].key, sizeof s[t].key, "%s.%s@%s", e->from_node, e->from_port,
                         g->hosts[g->nodes[r].host].name);
                used++;
            }
            s[t].to_hosts |= 1u << c->host;
        }
    }
    *out = s;
    *n = used;
    return XMEM_OK;
}

uint32_t xmemi_stream_port(const xmemi_graph *g, const xmemi_stream *streams, uint32_t n,
                           uint32_t s, uint32_t h)
{
    if (!((streams[s].to_hosts >> h) & 1))
        return UINT32_MAX;
    uint32_t before = 0;
    for (uint32_t t = 0; t < n; t++)
        before += ((streams[t].to_hosts >> h) & 1) && strcmp(streams[t].key, streams[s].key) < 0;
    return g->hosts[h].port_first + before;
}

/* ---- building the bridge nodes ----------------------------------------------------------------
 */

typedef struct plan {
    xmemi_graph *g;
    xmem_error_t *err;
    uint32_t host; /* the host planned for */
    const xmemi_stream *streams;
    uint32_t n_streams;
    xmemi_graph_node *bridges;
    uint32_t n_bridges, max_bridges;
} plan;

static xmem_err no_memory(const plan *pl)
{
    return xmemi_fail(pl->err, XMEM_ENOMEM, 0, "%s: no memory", pl->g->path);
}

static xmem_err add_param(const plan *pl, xmemi_graph_node *b, const char *name, const char *value)
{
    xmemi_graph_param *more = realloc(b->params, (b->n_params + 1) * sizeof *more);
    if (!more)
        return no_memory(pl);
    b->params = more;
    xmemi_graph_param *q = &b->params[b->n_params];
    *q = (xmemi_graph_param){
        .name = strdup(name), .value = strdup(value), .key_at = b->at, .value_at = b->at};
    if (!q->name || !q->value) {
        free(q->name);
        free(q->value);
        return no_memory(pl);
    }
    b->n_params++;
    return XMEM_OK;
}

/* A new bridge node `name` (R.P-to-H, R.P-from-S) at the mark of the edge that needs it. */
static xmem_err new_bridge(plan *pl, const char *name, const char *plugin, xmemi_mark at,
                           xmemi_graph_node **out)
{
    const xmemi_graph *g = pl->g;
    if (strlen(name) >= XMEMI_GRAPH_NAME_MAX)
        return xmemi_graph_fail(g, pl->err, at,
                                "this edge crosses hosts through a bridge node '%s' of %zu "
                                "characters, %d at most: shorten the node, port or host name",
                                name, strlen(name), XMEMI_GRAPH_NAME_MAX - 1);
    if (pl->n_bridges == pl->max_bridges)
        return xmemi_graph_fail(g, pl->err, at,
                                "host '%s' would run more than %d nodes with the bridges of its "
                                "edges to other hosts",
                                g->hosts[pl->host].name, XMEMI_GRAPH_MAX_NODES);
    xmemi_graph_node *b = &pl->bridges[pl->n_bridges];
    *b = (xmemi_graph_node){.at = at,
                            .plugin_at = at,
                            .host = pl->host,
                            .restart = XMEMI_RESTART_ON_FAILURE,
                            .restart_limit = XMEMI_BRIDGE_RESTART_LIMIT};
    if (!(b->name = strdup(name)) || !(b->plugin = strdup(plugin))) {
        xmemi_graph_node_free(b);
        return no_memory(pl);
    }
    pl->n_bridges++;
    *out = b;
    return XMEM_OK;
}

/* The key paths a bridge gets: "" on an insecure network. */
static const char *key_of(const plan *pl, uint32_t h)
{
    return pl->g->insecure_network || !pl->g->hosts[h].key ? "" : pl->g->hosts[h].key;
}

/* The parameters both ends of a link share. */
static xmem_err link_params(const plan *pl, xmemi_graph_node *b, const xmemi_stream *s, uint32_t to)
{
    const xmemi_graph *g = pl->g;
    char link[4 * XMEMI_GRAPH_NAME_MAX], max[32];
    snprintf(link, sizeof link, "%s.%s@%s->%s", g->nodes[s->producer].name, s->port,
             g->hosts[g->nodes[s->producer].host].name, g->hosts[to].name);
    snprintf(max, sizeof max, "%u", XMEMI_BRIDGE_MAX_MESSAGE);
    xmem_err rc;
    if ((rc = add_param(pl, b, "link", link)) ||
        (rc = add_param(pl, b, "insecure", g->insecure_network ? "true" : "false")) ||
        (rc = add_param(pl, b, "max_message", max)))
        return rc;
    return XMEM_OK;
}

static uint32_t stream_port(const plan *pl, uint32_t s, uint32_t h)
{
    return xmemi_stream_port(pl->g, pl->streams, pl->n_streams, s, h);
}

/* The sender of stream s to host `to`: its queue is the deepest of the consumers there, block
 * when any of them blocks (the link then carries their back-pressure), with the longest wait. */
static xmem_err add_sender(plan *pl, uint32_t s, uint32_t to)
{
    const xmemi_graph *g = pl->g;
    const xmemi_stream *st = &pl->streams[s];
    const char *producer = g->nodes[st->producer].name;
    xmemi_graph_edge in = {.depth = 0, .policy = XMEM_POLICY_DROP_OLDEST};
    bool found = false;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].host != to)
            continue;
        for (uint32_t k = 0; k < g->nodes[i].n_inputs; k++) {
            const xmemi_graph_edge *e = &g->nodes[i].inputs[k];
            if (strcmp(e->from_node, producer) || strcmp(e->from_port, st->port))
                continue;
            if (!found)
                in.port_at = e->port_at, in.from_at = e->from_at;
            found = true;
            in.depth = e->depth > in.depth ? e->depth : in.depth;
            if (e->policy == XMEM_POLICY_BLOCK) {
                in.policy = XMEM_POLICY_BLOCK;
                if (in.block_timeout_ms >= 0 &&
                    (e->block_timeout_ms < 0 || e->block_timeout_ms > in.block_timeout_ms))
                    in.block_timeout_ms = e->block_timeout_ms;
            }
        }
    }
    char name[4 * XMEMI_GRAPH_NAME_MAX], text[256];
    snprintf(name, sizeof name, "%s.%s-to-%s", producer, st->port, g->hosts[to].name);
    xmemi_graph_node *b;
    xmem_err rc = new_bridge(pl, name, "bridge_send", in.from_at, &b);
    if (rc)
        return rc;
    if (!(b->inputs = calloc(1, sizeof *b->inputs)))
        return no_memory(pl);
    xmemi_graph_edge *e = &b->inputs[0];
    *e = in;
    b->n_inputs = 1;
    if (!(e->port = strdup("in")) || !(e->from_node = strdup(producer)) ||
        !(e->from_port = strdup(st->port)))
        return no_memory(pl);
    xmemi_host_endpoint(g->hosts[to].address, stream_port(pl, s, to), text, sizeof text);
    if ((rc = add_param(pl, b, "peer", text)))
        return rc;
    snprintf(text, sizeof text, "%u", in.depth);
    if ((rc = add_param(pl, b, "depth", text)) ||
        (rc = add_param(pl, b, "policy", xmem_queue_policy_name(in.policy))) ||
        (rc = add_param(pl, b, "key", key_of(pl, pl->host))) ||
        (rc = add_param(pl, b, "peer_key", key_of(pl, to))))
        return rc;
    return link_params(pl, b, st, to);
}

/* The one receiver of stream s on this host, and its local consumers rewired to it. */
static xmem_err add_receiver(plan *pl, uint32_t s)
{
    xmemi_graph *g = pl->g;
    const xmemi_stream *st = &pl->streams[s];
    const char *producer = g->nodes[st->producer].name;
    uint32_t from = g->nodes[st->producer].host;
    xmemi_mark at = {0, 0};
    for (uint32_t i = 0; i < g->n_nodes && !at.line; i++)
        for (uint32_t k = 0; g->nodes[i].host == pl->host && k < g->nodes[i].n_inputs; k++)
            if (!at.line && strcmp(g->nodes[i].inputs[k].from_node, producer) == 0 &&
                strcmp(g->nodes[i].inputs[k].from_port, st->port) == 0)
                at = g->nodes[i].inputs[k].from_at;
    char name[4 * XMEMI_GRAPH_NAME_MAX], text[256];
    snprintf(name, sizeof name, "%s.%s-from-%s", producer, st->port, g->hosts[from].name);
    xmemi_graph_node *b;
    xmem_err rc = new_bridge(pl, name, "bridge_recv", at, &b);
    if (rc)
        return rc;
    const xmemi_graph_host *me = &g->hosts[pl->host];
    uint32_t port = stream_port(pl, s, pl->host);
    if (xmemi_host_address_family(me->address))
        xmemi_host_endpoint(me->address, port, text, sizeof text);
    else /* a name may resolve to an address of another interface: take them all */
        snprintf(text, sizeof text, "*:%u", port);
    if ((rc = add_param(pl, b, "bind", text)) ||
        (rc = add_param(pl, b, "key", key_of(pl, pl->host))) ||
        (rc = add_param(pl, b, "allow", key_of(pl, from))))
        return rc;
    return link_params(pl, b, st, pl->host);
}

/* Local edges from the producer of a stream coming in now take its receiver's output. The
 * streams point at these edges' port names: this runs after every bridge is made. */
static xmem_err rewire(plan *pl)
{
    xmemi_graph *g = pl->g;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].host != pl->host)
            continue;
        for (uint32_t k = 0; k < g->nodes[i].n_inputs; k++) {
            xmemi_graph_edge *e = &g->nodes[i].inputs[k];
            int r = node_index(g, e->from_node);
            if (r < 0 || g->nodes[r].host == pl->host)
                continue;
            char *node = NULL, *port = strdup("out");
            if (asprintf(&node, "%s.%s-from-%s", e->from_node, e->from_port,
                         g->hosts[g->nodes[r].host].name) < 0)
                node = NULL;
            if (!node || !port) {
                free(node);
                free(port);
                return no_memory(pl);
            }
            free(e->from_node);
            free(e->from_port);
            e->from_node = node;
            e->from_port = port;
        }
    }
    return XMEM_OK;
}

/* xmem-<file stem>-<host>: two hosts of one graph on one machine (a test on loopback addresses)
 * must not share a pool. */
static xmem_err host_pool_name(xmemi_graph *g, const xmemi_graph_host *h, xmem_error_t *err)
{
    if (g->pool_named)
        return XMEM_OK;
    size_t len = strlen(g->pool_name) + 1 + strlen(h->name);
    if (len > XMEM_POOL_NAME_MAX)
        return xmemi_graph_fail(g, err, h->at,
                                "host '%s': its pool's default name %s-%s is %zu characters, %d "
                                "at most: give it one (pool: {name: NAME} in this host's entry)",
                                h->name, g->pool_name, h->name, len, XMEM_POOL_NAME_MAX);
    size_t used = strlen(g->pool_name);
    snprintf(g->pool_name + used, sizeof g->pool_name - used, "-%s", h->name);
    return XMEM_OK;
}

/* The graph becomes the host's own nodes, the receivers before them and the senders after. */
static xmem_err keep_local(plan *pl, uint32_t receivers)
{
    xmemi_graph *g = pl->g;
    xmemi_graph_node *kept = calloc(XMEMI_GRAPH_MAX_NODES, sizeof *kept);
    if (!kept)
        return no_memory(pl);
    uint32_t n = 0;
    for (uint32_t i = 0; i < receivers; i++)
        kept[n++] = pl->bridges[i];
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].host == pl->host)
            kept[n++] = g->nodes[i];
        else
            xmemi_graph_node_free(&g->nodes[i]);
    }
    for (uint32_t i = receivers; i < pl->n_bridges; i++)
        kept[n++] = pl->bridges[i];
    memcpy(g->nodes, kept, n * sizeof *kept);
    free(kept);
    g->n_nodes = n;
    pl->n_bridges = 0;
    return XMEM_OK;
}

xmem_err xmemi_graph_for_host(xmemi_graph *g, const char *host, xmem_error_t *err)
{
    char list[512];
    if (!g->n_hosts || g->planned)
        return xmemi_fail(err, XMEM_EINVAL, 0, "%s: %s", g->path,
                          g->planned ? "already one host's part" : "no hosts: section");
    int h = xmemi_graph_host_find(g, host);
    if (h < 0) {
        xmemi_graph_host_list(g, list, sizeof list);
        return xmemi_fail(err, XMEM_ECONFIG, 0, "%s: there is no host '%s' (hosts: %s)", g->path,
                          host, list);
    }
    uint32_t local = 0;
    for (uint32_t i = 0; i < g->n_nodes; i++)
        local += g->nodes[i].host == (uint32_t)h;
    if (!local)
        return xmemi_fail(err, XMEM_ECONFIG, 0, "host '%s' has no nodes in %s", host, g->path);
    xmem_err rc;
    if (!g->insecure_network && (rc = xmemi_host_key_check_secret(g, &g->hosts[h], err)))
        return rc;
    plan pl = {
        .g = g, .err = err, .host = (uint32_t)h, .max_bridges = XMEMI_GRAPH_MAX_NODES - local};
    xmemi_stream *streams = NULL;
    if ((rc = xmemi_graph_streams(g, &streams, &pl.n_streams, err)))
        return rc;
    pl.streams = streams;
    pl.bridges = calloc(XMEMI_GRAPH_MAX_NODES, sizeof *pl.bridges);
    rc = pl.bridges ? XMEM_OK : no_memory(&pl);
    /* Receivers first, so that they come first in the graph (keep_local). */
    for (uint32_t s = 0; rc == XMEM_OK && s < pl.n_streams; s++)
        if (g->nodes[streams[s].producer].host != pl.host && ((streams[s].to_hosts >> h) & 1))
            rc = add_receiver(&pl, s);
    uint32_t receivers = pl.n_bridges;
    for (uint32_t s = 0; rc == XMEM_OK && s < pl.n_streams; s++)
        for (uint32_t to = 0; rc == XMEM_OK && to < g->n_hosts; to++)
            if (g->nodes[streams[s].producer].host == pl.host && ((streams[s].to_hosts >> to) & 1))
                rc = add_sender(&pl, s, to);
    if (rc == XMEM_OK)
        rc = rewire(&pl);
    if (rc == XMEM_OK)
        rc = host_pool_name(g, &g->hosts[h], err);
    if (rc == XMEM_OK)
        rc = keep_local(&pl, receivers);
    if (rc == XMEM_OK) {
        xmemi_graph_pool_apply(g, &g->hosts[h].pool);
        g->planned = true;
        g->local_host = (uint32_t)h;
    }
    for (uint32_t i = 0; i < pl.n_bridges; i++)
        xmemi_graph_node_free(&pl.bridges[i]);
    free(pl.bridges);
    free(streams);
    return rc;
}
