/* Looking at a running graph from outside (observe.h). */
#define _GNU_SOURCE
#include "observe.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xmem/node.h>

#include "common/fail.h"
#include "json_out.h"
#include "runtime_dir.h"

double xmemi_obs_unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- finding a graph ---------------------------------------------------------------------- */

uint32_t xmemi_obs_list(xmemi_obs_entry *out, uint32_t max)
{
    char base[200];
    xmemi_runtime_dir_base(base, sizeof base);
    DIR *d = opendir(base);
    if (!d)
        return 0;
    uint32_t n = 0;
    struct dirent *e;
    while (n < max && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        xmemi_obs_entry *c = &out[n];
        memset(c, 0, sizeof *c);
        snprintf(c->dir, sizeof c->dir, "%s/%.55s", base, e->d_name);
        xmemi_run_desc desc;
        if (xmemi_run_desc_read(c->dir, &desc, NULL) != XMEM_OK)
            continue; /* not a graph's (or its launcher is only starting) */
        c->alive = xmemi_runtime_dir_launcher(c->dir) == desc.launcher;
        snprintf(c->pool, sizeof c->pool, "%s", desc.pool);
        snprintf(c->graph, sizeof c->graph, "%s", desc.graph);
        snprintf(c->metrics, sizeof c->metrics, "%s", desc.metrics);
        c->launcher = desc.launcher;
        c->started_unix = desc.started_unix;
        c->stopping = desc.stopping;
        c->n_nodes = desc.n_nodes;
        for (uint32_t i = 0; i < desc.n_nodes; i++)
            c->n_running += strcmp(desc.nodes[i].state, "running") == 0;
        xmemi_run_desc_free(&desc);
        n++;
    }
    closedir(d);
    return n;
}

typedef xmemi_obs_entry candidate;

/* Runtime directories under the base whose launcher runs. */
static uint32_t running(candidate *out, uint32_t max)
{
    uint32_t n = xmemi_obs_list(out, max), w = 0;
    for (uint32_t i = 0; i < n; i++)
        if (out[i].alive)
            out[w++] = out[i];
    return w;
}

static void list_pools(const candidate *c, uint32_t n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < n && used < len; i++) {
        int k = snprintf(buf + used, len - used, "%s%s (%s)", i ? ", " : "", c[i].pool, c[i].graph);
        used += k > 0 ? (size_t)k : 0;
    }
}

static bool pool_exists(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/%s_meta", name);
    return xmem_pool_check_name(name, NULL) == XMEM_OK && access(path, F_OK) == 0;
}

static xmem_err find(candidate *c, const char *target, char *dir, size_t len, bool *bare_pool,
                     xmem_error_t *err);

xmem_err xmemi_obs_find(const char *target, char *dir, size_t len, bool *bare_pool,
                        xmem_error_t *err)
{
    enum { MAX = 64 };
    candidate *c = calloc(MAX, sizeof *c);
    if (!c)
        return xmemi_fail(err, XMEM_ENOMEM, 0, "finding the graph '%s': no memory",
                          target ? target : "");
    xmem_err rc = find(c, target, dir, len, bare_pool, err);
    free(c);
    return rc;
}

static xmem_err find(candidate *c, const char *target, char *dir, size_t len, bool *bare_pool,
                     xmem_error_t *err)
{
    enum { MAX = 64 };
    uint32_t n = running(c, MAX);
    *bare_pool = false;
    char names[1024];
    list_pools(c, n, names, sizeof names);
    char base[200];
    xmemi_runtime_dir_base(base, sizeof base);
    if (!target || !*target) {
        if (n == 1) {
            snprintf(dir, len, "%s", c[0].dir);
            return XMEM_OK;
        }
        if (n == 0)
            return xmemi_fail(err, XMEM_ENOENT, 0,
                              "no graph is running for this user (runtime directories under %s; "
                              "XMEM_RUNTIME_DIR sets where)",
                              base);
        return xmemi_fail(err, XMEM_EINVAL, 0, "%u graphs are running: name one of %s", n, names);
    }
    char *real = realpath(target, NULL);
    struct stat st;
    bool is_dir = real && stat(real, &st) == 0 && S_ISDIR(st.st_mode);
    uint32_t found = 0, which = 0;
    for (uint32_t i = 0; i < n; i++) {
        char *rdir = is_dir ? realpath(c[i].dir, NULL) : NULL;
        bool match = strcmp(c[i].pool, target) == 0 ||
                     (real && !is_dir && strcmp(c[i].graph, real) == 0) ||
                     (rdir && strcmp(rdir, real) == 0);
        free(rdir);
        if (match) {
            found++;
            which = i;
        }
    }
    free(real);
    if (found == 1) {
        snprintf(dir, len, "%s", c[which].dir);
        return XMEM_OK;
    }
    if (found > 1)
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "graph file %s runs %u times: name its pool, one of %s", target, found,
                          names);
    *bare_pool = pool_exists(target);
    return xmemi_fail(err, XMEM_ENOENT, 0,
                      "no running graph is '%s' (neither its pool name nor its graph file)%s%s%s",
                      target, n ? "; running: " : "; no graph is running", n ? names : "",
                      *bare_pool ? "; a pool of that name exists" : "");
}

/* ---- opening and sampling ------------------------------------------------------------------- */

xmem_err xmemi_obs_open(const char *dir, const char *pool_name, xmem_pool_t *pool, xmemi_obs *o,
                        xmem_error_t *err)
{
    memset(o, 0, sizeof *o);
    xmem_err rc;
    if (dir) {
        snprintf(o->dir, sizeof o->dir, "%s", dir);
        if ((rc = xmemi_run_desc_read(dir, &o->desc, err)))
            return rc;
        o->graph = true;
        snprintf(o->pool_name, sizeof o->pool_name, "%s", o->desc.pool);
        char path[512];
        snprintf(path, sizeof path, "%s/stats", dir);
        if ((rc = xmemi_stats_open(path, 0, &o->stats, err))) {
            xmemi_obs_close(o);
            return rc;
        }
    } else
        snprintf(o->pool_name, sizeof o->pool_name, "%s", pool_name);
    o->pool = pool;
    if (!pool) {
        if ((rc = xmem_pool_open(o->pool_name, &o->pool, err))) {
            xmemi_obs_close(o);
            return rc;
        }
        o->own_pool = true;
    }
    return XMEM_OK;
}

void xmemi_obs_close(xmemi_obs *o)
{
    xmemi_run_desc_free(&o->desc);
    xmemi_stats_close(&o->stats);
    if (o->own_pool)
        xmem_pool_close(&o->pool);
    o->pool = NULL;
}

static void sample_node(xmemi_obs *o, uint32_t i, double window_s)
{
    xmemi_obs_node *n = &o->nodes[i];
    n->run = &o->desc.nodes[i];
    n->source = n->run->n_inputs == 0;
    const xmemi_node_stats *s = &o->stats.file->nodes[i];
    xmemi_stats_totals_read(s, &n->total);
    xmemi_stats_window_step(s, &n->prev, &n->window);
    uint64_t moved = n->source ? n->window.out : n->window.in;
    n->rate = window_s > 0 ? (double)moved / window_s : 0;
    uint64_t link_bytes = n->have_link ? n->link.bytes : 0;
    n->have_link = xmemi_link_read(s, &n->link);
    n->link_bytes_rate = n->have_link && window_s > 0 && n->link.bytes >= link_bytes
                             ? (double)(n->link.bytes - link_bytes) / window_s
                             : 0;
    bool running = strcmp(n->run->state, "running") == 0 && n->run->pid > 0;
    n->held = running ? xmem_pool_held_by_pid(o->pool, n->run->pid) : 0;
    xmemi_proc_usage_t u;
    bool have = running && xmemi_proc_usage(n->run->pid, &u);
    n->cpu_percent = -1;
    if (have && n->have_usage && n->prev_pid == n->run->pid &&
        u.start_time == n->usage.start_time && window_s > 0)
        n->cpu_percent = 100.0 * (u.cpu_seconds - n->usage.cpu_seconds) / window_s;
    n->have_usage = have;
    if (have)
        n->usage = u;
    n->prev_pid = n->run->pid;
}

/* A bounded copy of a name (the buffers of one sample may be copied into each other). */
static void set(char *dst, size_t len, const char *src)
{
    size_t n = strnlen(src, len - 1);
    memmove(dst, src, n);
    dst[n] = '\0';
}

static const xmemi_edge_in *find_in(const xmemi_edge_table *t, const char *port)
{
    for (uint32_t k = 0; k < t->n_in; k++)
        if (strcmp(t->in[k].port, port) == 0)
            return &t->in[k];
    return NULL;
}

static const char *tap_of(const xmemi_obs *o, pid_t pid)
{
    for (uint32_t k = 0; k < o->n_taps; k++)
        if (o->taps[k].pid == pid)
            return "tap";
    return NULL;
}

static void fill_from_pub(xmemi_obs_edge *e, const xmemi_edge_out *p)
{
    e->connected = true;
    e->pid = p->pid;
    e->depth = p->depth;
    set(e->policy, sizeof e->policy, xmem_queue_policy_name((xmem_queue_policy)p->policy));
    e->delivered = p->delivered;
    e->outstanding = p->outstanding;
    memcpy(e->dropped, p->dropped, sizeof e->dropped);
}

/* Graph edges first (publisher's record of the consumer's current subscriber, found by its
 * attachment), then every subscriber a publisher lists that no graph edge claimed. */
static void join_edges(xmemi_obs *o)
{
    xmemi_edge_table *tables = o->tables;
    bool claimed[XMEMI_GRAPH_MAX_NODES][XMEMI_EDGE_MAX_OUT] = {{0}};
    for (uint32_t i = 0; i < o->n_nodes; i++)
        xmemi_edge_table_read(&o->stats.file->nodes[i].edges, &tables[i]);
    o->n_edges = 0;
    for (uint32_t k = 0; k < o->desc.n_edges && o->n_edges < XMEMI_OBS_EDGES; k++) {
        const xmemi_run_edge *g = &o->desc.edges[k];
        xmemi_obs_edge *e = &o->edges[o->n_edges++];
        memset(e, 0, sizeof *e);
        set(e->from, sizeof e->from, o->desc.nodes[g->from].name);
        set(e->from_port, sizeof e->from_port, g->from_port);
        set(e->to, sizeof e->to, o->desc.nodes[g->to].name);
        set(e->to_port, sizeof e->to_port, g->port);
        e->depth = g->depth;
        set(e->policy, sizeof e->policy, g->policy);
        const xmemi_edge_in *in = find_in(&tables[g->to], g->port);
        bool first = true; /* a port fed by several sources: its own drops go to the first edge */
        for (uint32_t j = 0; j < k; j++)
            first &= !(o->desc.edges[j].to == g->to && strcmp(o->desc.edges[j].port, g->port) == 0);
        if (in) {
            e->received = first ? in->received : 0;
            e->dropped_oldest = first ? in->dropped_oldest : 0;
        }
        const xmemi_edge_table *pub = &tables[g->from];
        for (uint32_t j = 0; in && j < pub->n_out; j++)
            if (pub->out[j].owner == in->owner && strcmp(pub->out[j].port, g->from_port) == 0) {
                fill_from_pub(e, &pub->out[j]);
                claimed[g->from][j] = true;
            }
    }
    for (uint32_t i = 0; i < o->n_nodes; i++)
        for (uint32_t j = 0; j < tables[i].n_out && o->n_edges < XMEMI_OBS_EDGES; j++) {
            if (claimed[i][j])
                continue;
            const xmemi_edge_out *p = &tables[i].out[j];
            /* A subscriber that died (its publisher drops it within 100 ms), or a restarted
             * consumer's before it listed its own: not someone outside the graph. */
            bool stale = !xmemi_proc_alive(p->pid, 0);
            for (uint32_t c = 0; c < o->n_nodes; c++)
                stale |= o->desc.nodes[c].pid == p->pid;
            if (stale)
                continue;
            xmemi_obs_edge *e = &o->edges[o->n_edges++];
            memset(e, 0, sizeof *e);
            e->external = true;
            set(e->from, sizeof e->from, o->desc.nodes[i].name);
            set(e->from_port, sizeof e->from_port, p->port);
            const char *kind = tap_of(o, p->pid);
            snprintf(e->to, sizeof e->to, "%s:%d", kind ? kind : "pid", (int)p->pid);
            fill_from_pub(e, p);
        }
}

static void sample_pool(xmemi_obs *o)
{
    o->pool_free = xmem_pool_free_count(o->pool);
    o->pool_capacity = xmem_pool_capacity(o->pool);
    uint32_t n =
        xmem_pool_class_usage_get(o->pool, o->classes, sizeof o->classes[0], XMEMI_OBS_CLASSES);
    o->n_classes = n < XMEMI_OBS_CLASSES ? n : XMEMI_OBS_CLASSES;
    n = xmem_pool_holders(o->pool, o->holders, sizeof o->holders[0], XMEM_POOL_MAX_PROCS);
    o->n_holders = n < XMEM_POOL_MAX_PROCS ? n : XMEM_POOL_MAX_PROCS;
}

xmem_err xmemi_obs_sample(xmemi_obs *o, xmem_error_t *err)
{
    uint64_t now = xmem_node_clock_ns();
    double window = o->sampled_ns ? (double)(now - o->sampled_ns) / 1e9 : 0;
    o->window_s = window;
    o->sampled_ns = now;
    if (o->graph) {
        /* run.json changes when a node starts or ends (a new file renamed over the old): parsed
         * again only then, so a sample every 100 ms costs no JSON parse. */
        char path[512];
        snprintf(path, sizeof path, "%s/" XMEMI_RUN_INFO_FILE, o->dir);
        struct stat st;
        if (stat(path, &st) != 0)
            return xmemi_fail(err, XMEM_ENOENT, errno, "%s: the run ended", path);
        if (st.st_ino != o->desc_ino || st.st_mtim.tv_sec != o->desc_mtime.tv_sec ||
            st.st_mtim.tv_nsec != o->desc_mtime.tv_nsec) {
            xmemi_run_desc desc;
            xmem_err rc = xmemi_run_desc_read(o->dir, &desc, err);
            if (rc)
                return rc; /* the run ended and took its directory along */
            xmemi_run_desc_free(&o->desc);
            o->desc = desc;
            o->desc_ino = st.st_ino;
            o->desc_mtime = st.st_mtim;
        }
        o->alive = xmemi_runtime_dir_launcher(o->dir) == o->desc.launcher;
        o->uptime_s = xmemi_obs_unix_now() - o->desc.started_unix;
        o->n_nodes =
            o->desc.n_nodes < o->stats.file->count ? o->desc.n_nodes : o->stats.file->count;
        o->n_taps = xmemi_taps_list(o->dir, o->taps, XMEMI_TAPS_MAX);
        for (uint32_t i = 0; i < o->n_nodes; i++)
            sample_node(o, i, window);
        join_edges(o);
    }
    sample_pool(o);
    return XMEM_OK;
}

/* ---- JSON -------------------------------------------------------------------------------------
 */

static void json_node(FILE *f, const xmemi_obs_node *n)
{
    fprintf(f, "    {\"name\": ");
    xmemi_json_string(f, n->run->name);
    fprintf(f, ", \"plugin\": ");
    xmemi_json_string(f, n->run->plugin);
    fprintf(f, ", \"state\": ");
    xmemi_json_string(f, n->run->state);
    fprintf(f, ", \"pid\": %d, \"restarts\": %u, \"in\": %llu, \"out\": %llu, \"dropped\": %llu, ",
            (int)n->run->pid, n->run->restarts, (unsigned long long)n->total.in,
            (unsigned long long)n->total.out, (unsigned long long)n->total.dropped);
    fprintf(f,
            "\"rate_per_s\": %.2f, \"latency_us\": {\"samples\": %llu, \"p50\": %.1f, "
            "\"p99\": %.1f, \"max\": %.1f}, \"window_latency_us\": {\"samples\": %llu, "
            "\"p50\": %.1f, \"p99\": %.1f}, ",
            n->rate, (unsigned long long)n->total.samples, (double)n->total.p50_ns / 1e3,
            (double)n->total.p99_ns / 1e3, (double)n->total.max_ns / 1e3,
            (unsigned long long)n->window.samples, (double)n->window.p50_ns / 1e3,
            (double)n->window.p99_ns / 1e3);
    fprintf(f, "\"held\": %llu, \"cpu_percent\": ", (unsigned long long)n->held);
    if (n->cpu_percent >= 0)
        fprintf(f, "%.1f", n->cpu_percent);
    else
        fprintf(f, "null");
    fprintf(f, ", \"rss_bytes\": %llu, \"link\": ",
            (unsigned long long)(n->have_usage ? n->usage.rss_bytes : 0));
    xmemi_json_link(f, n->have_link ? &n->link : NULL, &n->link_bytes_rate);
    fprintf(f, "}");
}

static void json_edge(FILE *f, const xmemi_obs_edge *e)
{
    fprintf(f, "    {\"from\": \"%s/%s\", \"to\": ", e->from, e->from_port);
    char to[160];
    snprintf(to, sizeof to, "%s%s%s", e->to, e->to_port[0] ? "/" : "", e->to_port);
    xmemi_json_string(f, to);
    fprintf(f,
            ", \"external\": %s, \"connected\": %s, \"pid\": %d, \"depth\": %u, \"policy\": "
            "\"%s\", \"delivered\": %llu, \"outstanding\": %llu, \"received\": %llu, "
            "\"dropped\": {",
            e->external ? "true" : "false", e->connected ? "true" : "false", (int)e->pid, e->depth,
            e->policy, (unsigned long long)e->delivered, (unsigned long long)e->outstanding,
            (unsigned long long)e->received);
    for (int r = 0; r < XMEMI_EDGE_REASONS; r++)
        fprintf(f, "\"%s\": %llu, ", xmem_drop_name((xmem_drop)r),
                (unsigned long long)e->dropped[r]);
    fprintf(f, "\"oldest\": %llu}}", (unsigned long long)e->dropped_oldest);
}

static void json_pool(FILE *f, const xmemi_obs *o)
{
    fprintf(f, "  \"pool\": {\"name\": ");
    xmemi_json_string(f, o->pool_name);
    fprintf(f, ", \"buffers\": %u, \"free\": %u,\n    \"classes\": [", o->pool_capacity,
            o->pool_free);
    for (uint32_t i = 0; i < o->n_classes; i++) {
        const xmem_pool_class_usage *c = &o->classes[i];
        fprintf(f,
                "%s\n      {\"bytes\": %llu, \"storage\": \"%s\", \"buffers\": %u, \"in_use\": %u, "
                "\"holders\": [",
                i ? "," : "", (unsigned long long)c->buffer_bytes, xmem_storage_name(c->storage),
                c->buffers, c->in_use);
        for (uint32_t k = 0; k < c->n_holders; k++)
            fprintf(f, "%s{\"pid\": %d, \"buffers\": %u}", k ? ", " : "", (int)c->holders[k].pid,
                    c->holders[k].buffers);
        fprintf(f, "]}");
    }
    fprintf(f, "],\n    \"holders\": [");
    for (uint32_t i = 0; i < o->n_holders; i++)
        fprintf(f, "%s{\"pid\": %d, \"refs\": %llu, \"buffers\": %u}", i ? ", " : "",
                (int)o->holders[i].pid, (unsigned long long)o->holders[i].refs,
                o->holders[i].buffers);
    fprintf(f, "]}");
}

void xmemi_obs_json(FILE *f, const xmemi_obs *o)
{
    fprintf(f, "{\n");
    if (o->graph) {
        fprintf(f, "  \"graph\": ");
        xmemi_json_string(f, o->desc.graph);
        fprintf(f, ",\n  \"runtime_dir\": ");
        xmemi_json_string(f, o->dir);
        fprintf(f,
                ",\n  \"launcher_pid\": %d, \"state\": \"%s\", \"uptime_s\": %.3f, "
                "\"window_s\": %.3f,\n",
                (int)o->desc.launcher,
                !o->alive          ? "ended"
                : o->desc.stopping ? "stopping"
                                   : "running",
                o->uptime_s, o->window_s);
        fprintf(f, "  \"nodes\": [\n");
        for (uint32_t i = 0; i < o->n_nodes; i++) {
            json_node(f, &o->nodes[i]);
            fprintf(f, "%s\n", i + 1 < o->n_nodes ? "," : "");
        }
        fprintf(f, "  ],\n  \"edges\": [\n");
        for (uint32_t i = 0; i < o->n_edges; i++) {
            json_edge(f, &o->edges[i]);
            fprintf(f, "%s\n", i + 1 < o->n_edges ? "," : "");
        }
        fprintf(f, "  ],\n  \"taps\": [");
        for (uint32_t i = 0; i < o->n_taps; i++)
            fprintf(f, "%s{\"pid\": %d, \"on\": \"%s/%s\"}", i ? ", " : "", (int)o->taps[i].pid,
                    o->taps[i].node, o->taps[i].port);
        fprintf(f, "],\n");
    }
    json_pool(f, o);
    fprintf(f, "\n}\n");
}
