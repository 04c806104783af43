/* The live table, the final table and the JSON summary of `xmem run` (run_report.h). The JSON is
 * written, never read back here; node and plugin names are [a-z0-9_] and paths are escaped. */

#include "run_report.h"

#include "json_out.h"
#include "taps.h"

#include <xmem/pool_admin.h>

#include <string.h>
#include <sys/wait.h>

#include "common/plural.h"

const char *xmemi_node_state_name(xmemi_node_state s)
{
    static const char *const names[] = {"running", "restarting",  "done",
                                        "failed",  "not started", "stuck"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

static void fmt_us(char *buf, size_t len, uint64_t ns, bool have)
{
    if (have)
        snprintf(buf, len, "%.1f", (double)ns / 1e3);
    else
        snprintf(buf, len, "-");
}

/* The node's own work units and what they are called; false if it reported none. */
static bool work_of(const xmemi_node_stats *s, uint64_t *count,
                    char what[XMEM_NODE_WORK_NAME_MAX + 1])
{
    if (!__atomic_load_n(&s->work_named, __ATOMIC_ACQUIRE))
        return false;
    memcpy(what, s->work_what, XMEM_NODE_WORK_NAME_MAX + 1);
    what[XMEM_NODE_WORK_NAME_MAX] = '\0';
    *count = xmemi_stats_read(&s->work);
    return true;
}

/* "decoded 29.9/s", or "-". */
static void fmt_work_rate(char *buf, size_t len, const xmemi_node_stats *s, uint64_t *prev,
                          double interval_s)
{
    char what[XMEM_NODE_WORK_NAME_MAX + 1];
    uint64_t n;
    if (!work_of(s, &n, what)) {
        snprintf(buf, len, "-");
        return;
    }
    snprintf(buf, len, "%s %.1f/s", what, interval_s > 0 ? (double)(n - *prev) / interval_s : 0.0);
    *prev = n;
}

/* ", 3 link-down, 1 lost" for the non-zero drop reasons, or "". */
static void fmt_link_drops(char *buf, size_t len, const xmemi_link_stat *l)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < XMEM_LINK_DROP_COUNT_ && used < len; i++)
        if (l->dropped[i]) {
            int n = snprintf(buf + used, len - used, ", %llu %s", (unsigned long long)l->dropped[i],
                             xmem_link_drop_name((xmem_link_drop)i));
            used += n > 0 ? (size_t)n : 0;
        }
}

/* "link up 10.0.0.2:7400  186.2 MB/s  rtt 0.41 ms, 2 reconnects, 3 link-down": under a bridge's
 * line of the live table. */
static void link_line(FILE *out, const xmemi_node_stats *s, uint64_t *prev_bytes, double interval_s)
{
    xmemi_link_stat l;
    if (!xmemi_link_read(s, &l))
        return;
    char drops[256];
    fmt_link_drops(drops, sizeof drops, &l);
    double rate = interval_s > 0 && l.bytes >= *prev_bytes
                      ? (double)(l.bytes - *prev_bytes) / interval_s / 1e6
                      : 0.0;
    *prev_bytes = l.bytes;
    char extra[96] = "";
    if (l.reconnects || l.refused)
        snprintf(extra, sizeof extra, ", %llu reconnects, %llu peers refused",
                 (unsigned long long)l.reconnects, (unsigned long long)l.refused);
    fprintf(out, "     link %-10s %-24s %8.1f MB/s  rtt %.2f ms%s%s\n",
            xmem_link_state_name((xmem_link_state)l.state), l.peer, rate, (double)l.rtt_ns / 1e6,
            extra, drops);
}

/* The node column's width: 12, or the longest name (a bridge's, "src.out-to-gpu"). */
static int name_width(const xmemi_graph *g)
{
    int w = 12;
    for (uint32_t i = 0; i < g->n_nodes; i++)
        if ((int)strlen(g->nodes[i].name) > w)
            w = (int)strlen(g->nodes[i].name);
    return w;
}

void xmemi_report_table(FILE *out, const xmemi_run_view *v, double interval_s)
{
    int nw = name_width(v->g);
    fprintf(out, "-- %.1f s  pool '%s': %u of %u buffers free\n", v->elapsed_s,
            xmem_pool_name(v->pool), xmem_pool_free_count(v->pool), xmem_pool_capacity(v->pool));
    fprintf(out, "   %-*s %-10s %7s %3s %10s %10s %9s %9s %9s %8s %5s  %s\n", nw, "node", "state",
            "pid", "rst", "in", "out", "rate/s", "p50 us", "p99 us", "dropped", "held", "work");
    for (uint32_t i = 0; i < v->g->n_nodes; i++) {
        xmemi_node_run *r = &v->runs[i];
        const xmemi_node_stats *s = &v->stats->nodes[i];
        xmemi_stats_delta d;
        xmemi_stats_window_step(s, &r->window, &d);
        uint64_t in = r->window.in, out_n = r->window.out;
        char p50[16], p99[16];
        fmt_us(p50, sizeof p50, d.p50_ns, d.samples);
        fmt_us(p99, sizeof p99, d.p99_ns, d.samples);
        bool source = v->g->nodes[i].n_inputs == 0;
        uint64_t moved = source ? d.out : d.in;
        uint64_t held = r->state == XMEMI_NODE_RUNNING ? xmem_pool_held_by_pid(v->pool, r->pid) : 0;
        char work[48];
        fmt_work_rate(work, sizeof work, s, &r->prev_work, interval_s);
        fprintf(out, "   %-*s %-10s %7d %3u %10llu %10llu %9.1f %9s %9s %8llu %5llu  %s\n", nw,
                v->g->nodes[i].name, xmemi_node_state_name(r->state), (int)r->pid, r->restarts,
                (unsigned long long)in, (unsigned long long)out_n,
                interval_s > 0 ? (double)moved / interval_s : 0.0, p50, p99,
                (unsigned long long)xmemi_stats_read(&s->dropped), (unsigned long long)held, work);
        link_line(out, s, &r->prev_link_bytes, interval_s);
    }
    xmemi_taps_report(out, v->dir, v->g, v->stats);
    fflush(out);
}

/* Whole-run figures of node i. */
typedef struct totals {
    uint64_t in, out, dropped, samples, p50, p99, max;
    double rate;
} totals;

static totals totals_of(const xmemi_run_view *v, uint32_t i)
{
    xmemi_stats_totals st;
    xmemi_stats_totals_read(&v->stats->nodes[i], &st);
    totals t = {
        .in = st.in,
        .out = st.out,
        .dropped = st.dropped,
        .samples = st.samples,
        .p50 = st.p50_ns,
        .p99 = st.p99_ns,
        .max = st.max_ns,
    };
    uint64_t moved = v->g->nodes[i].n_inputs ? t.in : t.out;
    t.rate = v->elapsed_s > 0 ? (double)moved / v->elapsed_s : 0;
    return t;
}

/* File k of a node's slot, copied out; false if unused. */
static bool file_at(const xmemi_node_stats *s, uint32_t k, xmemi_file_stat *out)
{
    const xmemi_file_stat *f = &s->files[k];
    out->state = __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);
    if (out->state == XMEMI_FILE_UNUSED)
        return false;
    out->frames = __atomic_load_n(&f->frames, __ATOMIC_RELAXED);
    memcpy(out->path, f->path, sizeof out->path);
    out->path[sizeof out->path - 1] = '\0';
    return true;
}

static void describe_status(char *buf, size_t len, int status)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "status %d", status);
}

/* Every graph edge that dropped frames: who lost what, and why. */
static void final_edges(FILE *out, const xmemi_run_view *v)
{
    bool head = false;
    for (uint32_t k = 0; v->edges && k < v->edges->n; k++) {
        const xmemi_run_edge_total *e = &v->edges->e[k];
        if (!xmemi_run_edge_has_drops(e))
            continue;
        if (!head)
            fprintf(out, "   %-30s %-11s %10s  %s\n", "edge", "policy", "delivered", "dropped");
        head = true;
        char name[256], drops[256];
        snprintf(name, sizeof name, "%s/%s -> %s", e->from, e->from_port, e->to);
        size_t used = 0;
        drops[0] = '\0';
        for (int d = 0; d < XMEMI_EDGE_REASONS && used < sizeof drops; d++)
            if (e->dropped[d]) {
                int w = snprintf(drops + used, sizeof drops - used, "%s%llu %s", used ? ", " : "",
                                 (unsigned long long)e->dropped[d], xmem_drop_name((xmem_drop)d));
                used += w > 0 ? (size_t)w : 0;
            }
        if (e->dropped_oldest && used < sizeof drops)
            snprintf(drops + used, sizeof drops - used, "%s%llu oldest (by the consumer)",
                     used ? ", " : "", (unsigned long long)e->dropped_oldest);
        fprintf(out, "   %-30s %-11s %10llu  %s\n", name, e->policy,
                (unsigned long long)e->delivered, drops);
    }
}

/* Every bridge's link over the whole run. */
static void final_links(FILE *out, const xmemi_run_view *v)
{
    bool header = false;
    for (uint32_t i = 0; i < v->g->n_nodes; i++) {
        xmemi_link_stat l;
        if (!xmemi_link_read(&v->stats->nodes[i], &l))
            continue;
        if (!header)
            fprintf(out, "   %-30s %-10s %-24s %10s %10s %9s  %s\n", "link (bridge)", "state",
                    "peer", "frames", "MB", "MB/s", "reconnects, refused, drops");
        header = true;
        char drops[256];
        fmt_link_drops(drops, sizeof drops, &l);
        fprintf(out, "   %-30s %-10s %-24s %10llu %10.1f %9.1f  %llu, %llu%s\n",
                v->g->nodes[i].name, xmem_link_state_name((xmem_link_state)l.state), l.peer,
                (unsigned long long)l.frames, (double)l.bytes / 1e6,
                v->elapsed_s > 0 ? (double)l.bytes / 1e6 / v->elapsed_s : 0.0,
                (unsigned long long)l.reconnects, (unsigned long long)l.refused, drops);
    }
}

void xmemi_report_final(FILE *out, const xmemi_run_view *v)
{
    int nw = name_width(v->g);
    fprintf(out, "== summary: %.1f s, pool '%s': %u of %u buffers free\n", v->elapsed_s,
            xmem_pool_name(v->pool), xmem_pool_free_count(v->pool), xmem_pool_capacity(v->pool));
    fprintf(out, "   %-*s %-10s %3s %10s %10s %9s %9s %9s %9s %8s  %-12s %s\n", nw, "node", "state",
            "rst", "in", "out", "rate/s", "p50 us", "p99 us", "max us", "dropped", "last exit",
            "work");
    for (uint32_t i = 0; i < v->g->n_nodes; i++) {
        const xmemi_node_run *r = &v->runs[i];
        totals t = totals_of(v, i);
        char p50[16], p99[16], max[16], status[64];
        fmt_us(p50, sizeof p50, t.p50, t.samples);
        fmt_us(p99, sizeof p99, t.p99, t.samples);
        fmt_us(max, sizeof max, t.max, t.samples);
        describe_status(status, sizeof status, r->last_status);
        char what[XMEM_NODE_WORK_NAME_MAX + 1], work[64] = "-";
        uint64_t units;
        if (work_of(&v->stats->nodes[i], &units, what))
            snprintf(work, sizeof work, "%s %llu (%.1f/s)", what, (unsigned long long)units,
                     v->elapsed_s > 0 ? (double)units / v->elapsed_s : 0.0);
        fprintf(out, "   %-*s %-10s %3u %10llu %10llu %9.1f %9s %9s %9s %8llu  %-12s %s\n", nw,
                v->g->nodes[i].name, xmemi_node_state_name(r->state), r->restarts,
                (unsigned long long)t.in, (unsigned long long)t.out, t.rate, p50, p99, max,
                (unsigned long long)t.dropped, status, work);
    }
    final_edges(out, v);
    final_links(out, v);
    for (uint32_t i = 0; i < v->g->n_nodes; i++)
        for (uint32_t k = 0; k < XMEM_NODE_FILES_MAX; k++) {
            xmemi_file_stat file;
            if (file_at(&v->stats->nodes[i], k, &file))
                fprintf(out, "   file %s: %llu frame%s, written by '%s'%s\n", file.path,
                        (unsigned long long)file.frames, xmemi_s(file.frames), v->g->nodes[i].name,
                        file.state == XMEMI_FILE_FINISHED ? "" : " (not finished)");
        }
    /* Whose init never succeeded: the rest started without them. */
    char never[512];
    size_t used = 0;
    never[0] = '\0';
    for (uint32_t i = 0; i < v->g->n_nodes && used < sizeof never; i++)
        if (!v->runs[i].ever_started) {
            int n = snprintf(never + used, sizeof never - used, "%s%s", used ? ", " : "",
                             v->g->nodes[i].name);
            used += n > 0 ? (size_t)n : 0;
        }
    if (never[0])
        fprintf(out, "   never started: %s\n", never);
}

/* "work": {...} or null, and "files": [...], each followed by ", ". */
static void summary_work_files(FILE *f, const xmemi_node_stats *s, double elapsed_s)
{
    char what[XMEM_NODE_WORK_NAME_MAX + 1];
    uint64_t units;
    if (work_of(s, &units, what)) {
        fprintf(f, "\"work\": {\"what\": ");
        xmemi_json_string(f, what);
        fprintf(f, ", \"count\": %llu, \"rate_per_s\": %.2f}, ", (unsigned long long)units,
                elapsed_s > 0 ? (double)units / elapsed_s : 0.0);
    } else {
        fprintf(f, "\"work\": null, ");
    }
    fprintf(f, "\"files\": [");
    bool first = true;
    for (uint32_t k = 0; k < XMEM_NODE_FILES_MAX; k++) {
        xmemi_file_stat file;
        if (!file_at(s, k, &file))
            continue;
        fprintf(f, "%s{\"path\": ", first ? "" : ", ");
        xmemi_json_string(f, file.path);
        fprintf(f, ", \"frames\": %llu, \"finished\": %s}", (unsigned long long)file.frames,
                file.state == XMEMI_FILE_FINISHED ? "true" : "false");
        first = false;
    }
    fprintf(f, "], ");
}

/* "link": {...} or null, followed by ", ". */
static void summary_link(FILE *f, const xmemi_node_stats *s)
{
    xmemi_link_stat l;
    bool have = xmemi_link_read(s, &l);
    fprintf(f, "\"link\": ");
    xmemi_json_link(f, have ? &l : NULL, NULL);
    fprintf(f, ", ");
}

bool xmemi_report_summary(const char *path, const xmemi_run_view *v, int exit_status,
                          uint32_t free_at_end)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return false;
    }
    fprintf(f, "{\n  \"graph\": ");
    xmemi_json_string(f, v->g->path);
    fprintf(f, ",\n  \"duration_s\": %.3f,\n  \"exit_status\": %d,\n", v->elapsed_s, exit_status);
    fprintf(f, "  \"pool\": {\"name\": ");
    xmemi_json_string(f, xmem_pool_name(v->pool));
    fprintf(f, ", \"buffers\": %u, \"free_at_end\": %u},\n  \"nodes\": [\n",
            xmem_pool_capacity(v->pool), free_at_end);
    for (uint32_t i = 0; i < v->g->n_nodes; i++) {
        const xmemi_node_run *r = &v->runs[i];
        const xmemi_graph_node *n = &v->g->nodes[i];
        totals t = totals_of(v, i);
        fprintf(f, "    {\"name\": \"%s\", \"plugin\": \"%s\", \"state\": \"%s\", ", n->name,
                n->loaded.desc.name, xmemi_node_state_name(r->state));
        fprintf(f, "\"started\": %s, \"stuck\": %u, ", r->ever_started ? "true" : "false",
                r->stuck);
        fprintf(f, "\"restarts\": %u, \"in\": %llu, \"out\": %llu, \"dropped\": %llu, ",
                r->restarts, (unsigned long long)t.in, (unsigned long long)t.out,
                (unsigned long long)t.dropped);
        fprintf(f,
                "\"rate_per_s\": %.2f, \"latency_us\": {\"samples\": %llu, \"p50\": %.1f, "
                "\"p99\": %.1f, \"max\": %.1f}, ",
                t.rate, (unsigned long long)t.samples, (double)t.p50 / 1e3, (double)t.p99 / 1e3,
                (double)t.max / 1e3);
        if (n->n_inputs == 0)
            fprintf(f, "\"max_stall_ms\": %.1f, ", (double)r->max_stall_ns / 1e6);
        summary_work_files(f, &v->stats->nodes[i], v->elapsed_s);
        summary_link(f, &v->stats->nodes[i]);
        fprintf(f, "\"deaths\": [");
        for (uint32_t d = 0; d < r->n_deaths; d++) {
            const xmemi_death *x = &r->deaths[d];
            char status[64];
            describe_status(status, sizeof status, x->status);
            fprintf(f,
                    "%s{\"pid\": %d, \"at_s\": %.3f, \"status\": \"%s\", \"signal\": %d, "
                    "\"exit_code\": %d, \"refs_returned\": %llu, \"reclaim_us\": %.1f, "
                    "\"stuck\": %s, \"started\": %s}",
                    d ? ", " : "", (int)x->pid, x->at_s, status,
                    WIFSIGNALED(x->status) ? WTERMSIG(x->status) : 0,
                    WIFEXITED(x->status) ? WEXITSTATUS(x->status) : -1,
                    (unsigned long long)x->refs_returned, (double)x->reclaim_ns / 1e3,
                    x->stuck ? "true" : "false", x->started ? "true" : "false");
        }
        fprintf(f, "]}%s\n", i + 1 < v->g->n_nodes ? "," : "");
    }
    fprintf(f, "  ],\n  \"edges\": [\n");
    for (uint32_t k = 0; v->edges && k < v->edges->n; k++) {
        const xmemi_run_edge_total *e = &v->edges->e[k];
        fprintf(f,
                "    {\"from\": \"%s/%s\", \"to\": \"%s/%s\", \"policy\": \"%s\", "
                "\"delivered\": %llu, \"received\": %llu, \"lost\": %llu, \"dropped\": {",
                e->from, e->from_port, e->to, e->to_port, e->policy,
                (unsigned long long)e->delivered, (unsigned long long)e->received,
                (unsigned long long)xmemi_run_edge_lost(e));
        for (int d = 0; d < XMEMI_EDGE_REASONS; d++)
            fprintf(f, "\"%s\": %llu, ", xmem_drop_name((xmem_drop)d),
                    (unsigned long long)e->dropped[d]);
        fprintf(f, "\"oldest\": %llu}}%s\n", (unsigned long long)e->dropped_oldest,
                k + 1 < v->edges->n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    bool ok = fclose(f) == 0;
    if (!ok)
        perror(path);
    return ok;
}
