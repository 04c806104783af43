/* The Prometheus text exposition of a running graph (metrics.h). */
#define _GNU_SOURCE
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

/* A label value: backslash, quote and newline escaped. */
static void label(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* `name{graph="..",node=".."}` without the closing brace, for more labels. */
static void node_series(FILE *f, const char *name, const xmemi_obs *o, const xmemi_obs_node *n)
{
    fprintf(f, "%s{graph=\"", name);
    label(f, o->pool_name);
    fprintf(f, "\",node=\"");
    label(f, n->run->name);
    fputc('"', f);
}

static void edge_series(FILE *f, const char *name, const xmemi_obs *o, const xmemi_obs_edge *e)
{
    fprintf(f, "%s{graph=\"", name);
    label(f, o->pool_name);
    fprintf(f, "\",from=\"");
    label(f, e->from);
    fputc('/', f);
    label(f, e->from_port);
    fprintf(f, "\",to=\"");
    label(f, e->to);
    if (e->to_port[0]) {
        fputc('/', f);
        label(f, e->to_port);
    }
    fputc('"', f);
}

typedef enum { IN, OUT, DROPPED, RESTARTS, HELD, UP, RSS, CPU } node_figure;

static double node_value(const xmemi_obs_node *n, node_figure w)
{
    switch (w) {
    case IN: return (double)n->total.in;
    case OUT: return (double)n->total.out;
    case DROPPED: return (double)n->total.dropped;
    case RESTARTS: return n->run->restarts;
    case HELD: return (double)n->held;
    case UP: return strcmp(n->run->state, "running") == 0;
    case RSS: return n->have_usage ? (double)n->usage.rss_bytes : 0;
    case CPU: return n->have_usage ? n->usage.cpu_seconds : 0;
    }
    return 0;
}

static void node_family(FILE *f, const xmemi_obs *o, const char *name, const char *type,
                        const char *help, node_figure w)
{
    head(f, name, type, help);
    for (uint32_t i = 0; i < o->n_nodes; i++) {
        node_series(f, name, o, &o->nodes[i]);
        fprintf(f, "} %.17g\n", node_value(&o->nodes[i], w));
    }
}

/* The bridges' links (docs/MULTIHOST.md): one series per bridge node, only for bridges. */
static void link_families(FILE *f, const xmemi_obs *o)
{
    static const struct {
        const char *name, *type, *help;
    } families[] = {
        {"xmem_link_up", "gauge", "1 while the bridge's link is up"},
        {"xmem_link_frames_total", "counter", "Frames the bridge carried"},
        {"xmem_link_bytes_total", "counter", "Payload bytes the bridge carried"},
        {"xmem_link_rtt_seconds", "gauge", "The link's latest round trip"},
        {"xmem_link_reconnects_total", "counter", "Times the link came back after being down"},
        {"xmem_link_refused_total", "counter", "Peers refused (wrong key, another graph)"},
        {"xmem_link_dropped_total", "counter", "Frames not delivered across the link, by reason"},
    };
    bool any = false;
    for (uint32_t i = 0; i < o->n_nodes; i++)
        any |= o->nodes[i].have_link;
    for (size_t k = 0; any && k < sizeof families / sizeof families[0]; k++) {
        head(f, families[k].name, families[k].type, families[k].help);
        for (uint32_t i = 0; i < o->n_nodes; i++) {
            const xmemi_obs_node *n = &o->nodes[i];
            if (!n->have_link)
                continue;
            const xmemi_link_stat *l = &n->link;
            if (k == 6) {
                for (int r = 0; r < XMEM_LINK_DROP_COUNT_; r++) {
                    node_series(f, families[k].name, o, n);
                    fprintf(f, ",reason=\"%s\"} %llu\n", xmem_link_drop_name((xmem_link_drop)r),
                            (unsigned long long)l->dropped[r]);
                }
                continue;
            }
            double v = k == 0   ? (l->state == XMEM_LINK_UP)
                       : k == 1 ? (double)l->frames
                       : k == 2 ? (double)l->bytes
                       : k == 3 ? (double)l->rtt_ns / 1e9
                       : k == 4 ? (double)l->reconnects
                                : (double)l->refused;
            node_series(f, families[k].name, o, n);
            if (k == 0) { /* the peer changes (a receiver learns it): on the gauge only */
                fprintf(f, ",peer=\"");
                label(f, l->peer);
                fputc('"', f);
            }
            fprintf(f, "} %.17g\n", v);
        }
    }
}

static const double latency_bounds_s[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                          0.0025,  0.005,  0.01,    0.025,  0.05,
                                          0.1,     0.25,   0.5,     1,      2.5};
#define N_BOUNDS (sizeof latency_bounds_s / sizeof latency_bounds_s[0])

static void latency_family(FILE *f, const xmemi_obs *o)
{
    const char *name = "xmem_node_latency_seconds";
    head(f, name, "histogram",
         "Producer's stamp to arrival at the node, every buffer received (a bucket counts the "
         "histogram buckets whose values are all at most its bound: within 6 %)");
    uint64_t bounds_ns[N_BOUNDS], counts[N_BOUNDS], total;
    for (size_t b = 0; b < N_BOUNDS; b++)
        bounds_ns[b] = (uint64_t)(latency_bounds_s[b] * 1e9 + 0.5);
    for (uint32_t i = 0; i < o->n_nodes; i++) {
        const xmemi_obs_node *n = &o->nodes[i];
        xmemi_stats_latency_cumulative(&o->stats.file->nodes[i], bounds_ns, N_BOUNDS, counts,
                                       &total);
        for (size_t b = 0; b < N_BOUNDS; b++) {
            node_series(f, "xmem_node_latency_seconds_bucket", o, n);
            fprintf(f, ",le=\"%g\"} %llu\n", latency_bounds_s[b], (unsigned long long)counts[b]);
        }
        node_series(f, "xmem_node_latency_seconds_bucket", o, n);
        fprintf(f, ",le=\"+Inf\"} %llu\n", (unsigned long long)total);
        node_series(f, "xmem_node_latency_seconds_sum", o, n);
        fprintf(f, "} %.9f\n", (double)n->total.sum_ns / 1e9);
        node_series(f, "xmem_node_latency_seconds_count", o, n);
        fprintf(f, "} %llu\n", (unsigned long long)total);
    }
}

static void edge_families(FILE *f, const xmemi_obs *o)
{
    head(f, "xmem_edge_delivered_total", "counter",
         "Buffers the publisher handed to the subscriber (a restart at either end starts again)");
    for (uint32_t i = 0; i < o->n_edges; i++) {
        edge_series(f, "xmem_edge_delivered_total", o, &o->edges[i]);
        fprintf(f, "} %llu\n", (unsigned long long)o->edges[i].delivered);
    }
    head(f, "xmem_edge_drops_total", "counter",
         "Buffers not delivered (publisher: queue-full, block-timeout, hwm, gone) or given back "
         "unread (subscriber: oldest)");
    for (uint32_t i = 0; i < o->n_edges; i++) {
        const xmemi_obs_edge *e = &o->edges[i];
        for (int r = 0; r <= XMEMI_EDGE_REASONS; r++) {
            edge_series(f, "xmem_edge_drops_total", o, e);
            fprintf(
                f, ",reason=\"%s\"} %llu\n",
                r < XMEMI_EDGE_REASONS ? xmem_drop_name((xmem_drop)r) : "oldest",
                (unsigned long long)(r < XMEMI_EDGE_REASONS ? e->dropped[r] : e->dropped_oldest));
        }
    }
    head(f, "xmem_edge_outstanding_buffers", "gauge",
         "Buffers handed to the subscriber and not yet released");
    for (uint32_t i = 0; i < o->n_edges; i++) {
        edge_series(f, "xmem_edge_outstanding_buffers", o, &o->edges[i]);
        fprintf(f, "} %llu\n", (unsigned long long)o->edges[i].outstanding);
    }
}

static void pool_series(FILE *f, const char *name, const xmemi_obs *o)
{
    fprintf(f, "%s{graph=\"", name);
    label(f, o->pool_name);
    fprintf(f, "\",pool=\"");
    label(f, o->pool_name);
    fputc('"', f);
}

static void pool_families(FILE *f, const xmemi_obs *o)
{
    head(f, "xmem_pool_buffers", "gauge", "Buffer records of the pool, free or in use");
    pool_series(f, "xmem_pool_buffers", o);
    fprintf(f, ",state=\"free\"} %u\n", o->pool_free);
    pool_series(f, "xmem_pool_buffers", o);
    fprintf(f, ",state=\"in_use\"} %u\n", o->pool_capacity - o->pool_free);
    head(f, "xmem_pool_class_buffers", "gauge",
         "Buffers with memory, by size class (bytes of each) and state");
    for (uint32_t i = 0; i < o->n_classes; i++) {
        const xmem_pool_class_usage *c = &o->classes[i];
        for (int used = 0; used < 2; used++) {
            pool_series(f, "xmem_pool_class_buffers", o);
            fprintf(f, ",bytes=\"%llu\",storage=\"%s\",state=\"%s\"} %u\n",
                    (unsigned long long)c->buffer_bytes, xmem_storage_name(c->storage),
                    used ? "in_use" : "free", used ? c->in_use : c->buffers - c->in_use);
        }
    }
}

void xmemi_metrics_render(FILE *f, const xmemi_obs *o)
{
    head(f, "xmem_graph_info", "gauge", "The running graph: its file and launcher");
    fprintf(f, "xmem_graph_info{graph=\"");
    label(f, o->pool_name);
    fprintf(f, "\",file=\"");
    label(f, o->desc.graph);
    fprintf(f, "\",launcher_pid=\"%d\"} 1\n", (int)o->desc.launcher);
    head(f, "xmem_graph_uptime_seconds", "gauge", "Seconds since the launcher started the graph");
    fprintf(f, "xmem_graph_uptime_seconds{graph=\"");
    label(f, o->pool_name);
    fprintf(f, "\"} %.3f\n", o->uptime_s);
    node_family(f, o, "xmem_node_up", "gauge", "1 while the node's process runs", UP);
    node_family(f, o, "xmem_node_restarts_total", "counter", "Restarts of the node", RESTARTS);
    node_family(f, o, "xmem_node_frames_in_total", "counter", "Buffers received, all inputs", IN);
    node_family(f, o, "xmem_node_frames_out_total", "counter", "Buffers published, all outputs",
                OUT);
    node_family(f, o, "xmem_node_frames_dropped_total", "counter",
                "Buffers dropped on the node's inputs and outputs", DROPPED);
    latency_family(f, o);
    node_family(f, o, "xmem_node_buffers_held", "gauge",
                "References the node's process holds in the pool", HELD);
    node_family(f, o, "xmem_node_cpu_seconds_total", "counter",
                "CPU time of the node's current process (user and system)", CPU);
    node_family(f, o, "xmem_node_resident_memory_bytes", "gauge",
                "Resident memory of the node's process, the pool pages it maps included", RSS);
    edge_families(f, o);
    link_families(f, o);
    pool_families(f, o);
    head(f, "xmem_taps", "gauge", "Taps (xmem tap) attached to the graph");
    fprintf(f, "xmem_taps{graph=\"");
    label(f, o->pool_name);
    fprintf(f, "\"} %u\n", o->n_taps);
}
