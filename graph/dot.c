/* Graphviz output of a sampled graph (dot.h). Node IDs are quoted: a graph across hosts has
 * bridge nodes named NODE.PORT-to-HOST, which are no bare dot IDs; labels are quoted, with the
 * graph file's path escaped. */
#include "dot.h"

#include <string.h>

static void quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void node(FILE *f, const xmemi_obs *o, const xmemi_obs_node *n)
{
    uint64_t moved = n->source ? n->total.out : n->total.in;
    double rate = o->uptime_s > 0 ? (double)moved / o->uptime_s : 0;
    fprintf(f, "  \"%s\" [label=\"%s\\n%s\\n%s, %u restart%s\\nin %llu, out %llu, %.1f/s\\n",
            n->run->name, n->run->name, n->run->plugin, n->run->state, n->run->restarts,
            n->run->restarts == 1 ? "" : "s", (unsigned long long)n->total.in,
            (unsigned long long)n->total.out, rate);
    if (n->total.samples)
        fprintf(f, "latency p50 %.1f us, p99 %.1f us\\n", (double)n->total.p50_ns / 1e3,
                (double)n->total.p99_ns / 1e3);
    fprintf(f, "dropped %llu\"%s];\n", (unsigned long long)n->total.dropped,
            strcmp(n->run->state, "failed") == 0 ? ", color=red" : "");
}

static void edge(FILE *f, const xmemi_obs_edge *e)
{
    uint64_t dropped = e->dropped_oldest;
    for (int r = 0; r < XMEMI_EDGE_REASONS; r++)
        dropped += e->dropped[r];
    if (e->external)
        fprintf(f, "  \"%s\" [shape=note];\n", e->to);
    fprintf(f,
            "  \"%s\" -> \"%s\" [label=\"%s -> %s\\n%s, depth %u\\ndelivered %llu, dropped "
            "%llu\"%s];\n",
            e->from, e->to, e->from_port, e->to_port[0] ? e->to_port : "tap", e->policy, e->depth,
            (unsigned long long)e->delivered, (unsigned long long)dropped,
            e->external ? ", style=dashed" : "");
}

void xmemi_dot_write(FILE *f, const xmemi_obs *o)
{
    fprintf(f, "digraph xmem {\n  label=");
    char title[1200];
    snprintf(title, sizeof title, "%s (pool %s), %.1f s: %u of %u buffers free", o->desc.graph,
             o->pool_name, o->uptime_s, o->pool_free, o->pool_capacity);
    quoted(f, title);
    fprintf(f, ";\n  labelloc=t;\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n"
               "  edge [fontname=\"monospace\", fontsize=10];\n");
    for (uint32_t i = 0; i < o->n_nodes; i++)
        node(f, o, &o->nodes[i]);
    for (uint32_t i = 0; i < o->n_edges; i++)
        edge(f, &o->edges[i]);
    fprintf(f, "}\n");
}
