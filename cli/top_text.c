/* The rows of `xmem top` (top.h) and its plain view. */
#define _GNU_SOURCE
#include "top.h"

#include <stdlib.h>
#include <string.h>

const char *xmemi_top_sort_name(xmemi_top_sort s)
{
    static const char *const names[] = {"graph", "rate", "p99", "cpu", "held", "drops"};
    return (unsigned)s < XMEMI_SORT_COUNT_ ? names[s] : "graph";
}

static double key(const xmemi_obs_node *n, xmemi_top_sort s)
{
    switch (s) {
    case XMEMI_SORT_RATE: return n->rate;
    case XMEMI_SORT_P99: return (double)n->window.p99_ns;
    case XMEMI_SORT_CPU: return n->cpu_percent;
    case XMEMI_SORT_HELD: return (double)n->held;
    case XMEMI_SORT_DROPS: return (double)n->total.dropped;
    default: return 0;
    }
}

void xmemi_top_order(const xmemi_obs *o, xmemi_top_sort s, uint32_t *order)
{
    for (uint32_t i = 0; i < o->n_nodes; i++)
        order[i] = i;
    if (s == XMEMI_SORT_GRAPH)
        return;
    for (uint32_t i = 1; i < o->n_nodes; i++) /* insertion sort: stable, at most 64 nodes */
        for (uint32_t j = i; j > 0 && key(&o->nodes[order[j]], s) > key(&o->nodes[order[j - 1]], s);
             j--) {
            uint32_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
}

static void uptime(char *buf, size_t len, double s)
{
    long t = (long)s;
    if (t < 3600)
        snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
}

void xmemi_top_title(char *buf, size_t len, const xmemi_obs *o)
{
    if (!o->graph) {
        snprintf(buf, len,
                 "pool '%s' (no graph: made by `xmem pool` or a program): %u of %u "
                 "buffers free",
                 o->pool_name, o->pool_free, o->pool_capacity);
        return;
    }
    char up[32];
    uptime(up, sizeof up, o->uptime_s);
    snprintf(buf, len, "%s  pool '%s'  launcher %d  up %s  %s  %u of %u buffers free",
             o->desc.graph, o->pool_name, (int)o->desc.launcher, up,
             !o->alive          ? "ENDED"
             : o->desc.stopping ? "stopping"
                                : "running",
             o->pool_free, o->pool_capacity);
}

void xmemi_top_node_header(char *buf, size_t len)
{
    snprintf(buf, len, "%-12s %-10s %7s %3s %10s %10s %8s %9s %9s %8s %5s %6s %8s", "NODE", "STATE",
             "PID", "RST", "IN", "OUT", "RATE/s", "P50 us", "P99 us", "DROPPED", "HELD", "CPU%",
             "RSS MiB");
}

static void us(char *buf, size_t len, uint64_t ns, uint64_t samples)
{
    if (samples)
        snprintf(buf, len, "%.1f", (double)ns / 1e3);
    else
        snprintf(buf, len, "-");
}

void xmemi_top_node_row(char *buf, size_t len, const xmemi_obs_node *n)
{
    char p50[16], p99[16], cpu[16], rss[16];
    us(p50, sizeof p50, n->window.p50_ns, n->window.samples);
    us(p99, sizeof p99, n->window.p99_ns, n->window.samples);
    if (n->cpu_percent >= 0)
        snprintf(cpu, sizeof cpu, "%.1f", n->cpu_percent);
    else
        snprintf(cpu, sizeof cpu, "-");
    if (n->have_usage)
        snprintf(rss, sizeof rss, "%.1f", (double)n->usage.rss_bytes / 1048576.0);
    else
        snprintf(rss, sizeof rss, "-");
    snprintf(buf, len, "%-12s %-10s %7d %3u %10llu %10llu %8.1f %9s %9s %8llu %5llu %6s %8s",
             n->run->name, n->run->state, (int)n->run->pid, n->run->restarts,
             (unsigned long long)n->total.in, (unsigned long long)n->total.out, n->rate, p50, p99,
             (unsigned long long)n->total.dropped, (unsigned long long)n->held, cpu, rss);
}

void xmemi_top_edge_header(char *buf, size_t len)
{
    /* HELD: handed to the subscriber, not yet released; then the drops by reason (publisher:
     * queue-full, block-timeout, hwm, gone; subscriber: oldest given back unread). */
    snprintf(buf, len, "%-24s %-24s %-11s %5s %10s %5s %7s %7s %7s %7s %7s", "FROM", "TO", "POLICY",
             "DEPTH", "DELIVERED", "HELD", "FULL", "TIMEOUT", "HWM", "GONE", "OLDEST");
}

void xmemi_top_edge_row(char *buf, size_t len, const xmemi_obs_edge *e)
{
    char from[160], to[160];
    snprintf(from, sizeof from, "%s/%s", e->from, e->from_port);
    snprintf(to, sizeof to, "%s%s%s", e->to, e->to_port[0] ? "/" : "", e->to_port);
    snprintf(buf, len, "%-24s %-24s %-11s %5u %10llu %5llu %7llu %7llu %7llu %7llu %7llu%s", from,
             to, e->policy, e->depth, (unsigned long long)e->delivered,
             (unsigned long long)e->outstanding, (unsigned long long)e->dropped[0],
             (unsigned long long)e->dropped[1], (unsigned long long)e->dropped[2],
             (unsigned long long)e->dropped[3], (unsigned long long)e->dropped_oldest,
             e->connected ? "" : "  (not subscribed)");
}

void xmemi_top_link_header(char *buf, size_t len)
{
    snprintf(buf, len, "%-24s %-10s %-24s %10s %9s %8s %5s %5s %8s %8s %8s %8s", "LINK (BRIDGE)",
             "STATE", "PEER", "FRAMES", "MB/s", "RTT ms", "RECON", "REFUS", "DOWN", "FULL", "LOST",
             "FAR");
}

bool xmemi_top_link_row(char *buf, size_t len, const xmemi_obs_node *n)
{
    if (!n->have_link)
        return false;
    const xmemi_link_stat *l = &n->link;
    snprintf(buf, len, "%-24s %-10s %-24s %10llu %9.1f %8.2f %5llu %5llu %8llu %8llu %8llu %8llu",
             n->run->name, xmem_link_state_name((xmem_link_state)l->state), l->peer,
             (unsigned long long)l->frames, n->link_bytes_rate / 1e6, (double)l->rtt_ns / 1e6,
             (unsigned long long)l->reconnects, (unsigned long long)l->refused,
             (unsigned long long)l->dropped[XMEM_LINK_DROP_DOWN],
             (unsigned long long)l->dropped[XMEM_LINK_DROP_FULL],
             (unsigned long long)l->dropped[XMEM_LINK_DROP_LOST],
             (unsigned long long)l->dropped[XMEM_LINK_DROP_FAR]);
    return true;
}

void xmemi_top_who(char *buf, size_t len, const xmemi_obs *o, pid_t pid)
{
    for (uint32_t i = 0; i < o->n_nodes; i++)
        if (o->desc.nodes[i].pid == pid) {
            snprintf(buf, len, "%s", o->desc.nodes[i].name);
            return;
        }
    for (uint32_t i = 0; i < o->n_taps; i++)
        if (o->taps[i].pid == pid) {
            snprintf(buf, len, "tap:%d", (int)pid);
            return;
        }
    if (o->graph && pid == o->desc.launcher) {
        snprintf(buf, len, "launcher");
        return;
    }
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "r");
    if (f) {
        if (fgets(comm, sizeof comm, f))
            comm[strcspn(comm, "\n")] = '\0';
        fclose(f);
    }
    snprintf(buf, len, "%s:%d", comm[0] ? comm : "pid", (int)pid);
}

void xmemi_top_class_header(char *buf, size_t len)
{
    snprintf(buf, len, "%-14s %-6s %7s %7s  %s", "BUFFER BYTES", "WHERE", "MADE", "IN USE",
             "HELD BY");
}

void xmemi_top_class_row(char *buf, size_t len, const xmemi_obs *o, const xmem_pool_class_usage *c)
{
    char holders[256] = "";
    size_t used = 0;
    for (uint32_t k = 0; k < c->n_holders && used < sizeof holders; k++) {
        char who[64];
        xmemi_top_who(who, sizeof who, o, c->holders[k].pid);
        int n = snprintf(holders + used, sizeof holders - used, "%s%s %u", k ? ", " : "", who,
                         c->holders[k].buffers);
        used += n > 0 ? (size_t)n : 0;
    }
    snprintf(buf, len, "%-14llu %-6s %7u %7u  %s", (unsigned long long)c->buffer_bytes,
             xmem_storage_name(c->storage), c->buffers, c->in_use, holders);
}

void xmemi_top_print(FILE *out, const xmemi_obs *o, xmemi_top_sort sort)
{
    char line[512];
    xmemi_top_title(line, sizeof line, o);
    fprintf(out, "%s\n", line);
    if (o->graph) {
        uint32_t order[XMEMI_GRAPH_MAX_NODES];
        xmemi_top_order(o, sort, order);
        xmemi_top_node_header(line, sizeof line);
        fprintf(out, "\n%s\n", line);
        for (uint32_t i = 0; i < o->n_nodes; i++) {
            xmemi_top_node_row(line, sizeof line, &o->nodes[order[i]]);
            fprintf(out, "%s\n", line);
        }
        xmemi_top_edge_header(line, sizeof line);
        fprintf(out, "\n%s\n", line);
        for (uint32_t i = 0; i < o->n_edges; i++) {
            xmemi_top_edge_row(line, sizeof line, &o->edges[i]);
            fprintf(out, "%s\n", line);
        }
        bool header = false;
        for (uint32_t i = 0; i < o->n_nodes; i++) {
            char row[512];
            if (!xmemi_top_link_row(row, sizeof row, &o->nodes[i]))
                continue;
            if (!header) {
                xmemi_top_link_header(line, sizeof line);
                fprintf(out, "\n%s\n", line);
                header = true;
            }
            fprintf(out, "%s\n", row);
        }
    }
    xmemi_top_class_header(line, sizeof line);
    fprintf(out, "\n%s\n", line);
    for (uint32_t i = 0; i < o->n_classes; i++) {
        xmemi_top_class_row(line, sizeof line, o, &o->classes[i]);
        fprintf(out, "%s\n", line);
    }
    fprintf(out, "\n%-20s %8s %6s %7s\n", "ATTACHED", "PID", "REFS", "BUFFERS");
    for (uint32_t i = 0; i < o->n_holders; i++) {
        char who[64];
        xmemi_top_who(who, sizeof who, o, o->holders[i].pid);
        fprintf(out, "%-20s %8d %6llu %7u\n", who, (int)o->holders[i].pid,
                (unsigned long long)o->holders[i].refs, o->holders[i].buffers);
    }
}
