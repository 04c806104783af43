/* run.json (run_info.h): written by hand as JSON, read back with libfyaml. */
#define _GNU_SOURCE
#include "run_info.h"

#include <errno.h>
#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fail.h"
#include "json_out.h"
#include "run_report.h"

static void write_node(FILE *f, const xmemi_run_info *info, uint32_t i)
{
    const xmemi_graph_node *n = &info->g->nodes[i];
    const xmemi_node_run *r = &info->runs[i];
    fprintf(f, "    {\"name\": ");
    xmemi_json_string(f, n->name);
    fprintf(f, ", \"plugin\": ");
    xmemi_json_string(f, n->loaded.desc.name ? n->loaded.desc.name : n->plugin);
    fprintf(f, ", \"state\": \"%s\", \"pid\": %d, \"restarts\": %u,\n     \"outputs\": [",
            xmemi_node_state_name(r->state), (int)r->pid, r->restarts);
    for (uint32_t k = 0; k < n->loaded.desc.n_outputs; k++) {
        fprintf(f, "%s", k ? ", " : "");
        xmemi_json_string(f, n->loaded.desc.outputs[k].name);
    }
    fprintf(f, "],\n     \"inputs\": [");
    for (uint32_t k = 0; k < n->n_inputs; k++) {
        const xmemi_graph_edge *e = &n->inputs[k];
        fprintf(f, "%s{\"port\": ", k ? ", " : "");
        xmemi_json_string(f, e->port);
        fprintf(f, ", \"from\": ");
        xmemi_json_string(f, e->from_node);
        fprintf(f, ", \"from_port\": ");
        xmemi_json_string(f, e->from_port);
        fprintf(f, ", \"depth\": %u, \"policy\": \"%s\"}", e->depth,
                xmem_queue_policy_name(e->policy));
    }
    fprintf(f, "]}%s\n", i + 1 < info->g->n_nodes ? "," : "");
}

bool xmemi_run_info_write(const char *dir, const xmemi_run_info *info)
{
    char path[512], tmp[520];
    snprintf(path, sizeof path, "%s/" XMEMI_RUN_INFO_FILE, dir);
    snprintf(tmp, sizeof tmp, "%s.new", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return false;
    char *graph = realpath(info->g->path, NULL);
    fprintf(f, "{\n  \"graph\": ");
    xmemi_json_string(f, graph ? graph : info->g->path);
    free(graph);
    fprintf(f, ",\n  \"pool\": ");
    xmemi_json_string(f, info->g->pool_name);
    fprintf(f, ",\n  \"launcher_pid\": %d,\n  \"started_unix\": %.3f,\n", (int)getpid(),
            info->started_unix);
    fprintf(f, "  \"state\": \"%s\",\n  \"interval_s\": %.3f,\n  \"metrics\": ",
            info->stopping ? "stopping" : "running", info->interval_s);
    xmemi_json_string(f, info->metrics ? info->metrics : "");
    fprintf(f, ",\n  \"nodes\": [\n");
    for (uint32_t i = 0; i < info->g->n_nodes; i++)
        write_node(f, info, i);
    fprintf(f, "  ]\n}\n");
    if (fclose(f) != 0)
        return false;
    return rename(tmp, path) == 0;
}

/* ---- reading ----------------------------------------------------------------------------------
 */

static const char *text_at(struct fy_node *n, const char *key)
{
    struct fy_node *v = n ? fy_node_mapping_lookup_by_string(n, key, FY_NT) : NULL;
    const char *s = v && fy_node_is_scalar(v) ? fy_node_get_scalar0(v) : NULL;
    return s ? s : "";
}

static double number_at(struct fy_node *n, const char *key)
{
    return strtod(text_at(n, key), NULL);
}

static void copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src);
}

/* Every input of node `to` into d->edges (appended), once every node is known. */
static bool read_inputs(xmemi_run_desc *d, uint32_t to, struct fy_node *inputs)
{
    void *it = NULL;
    struct fy_node *e;
    while (inputs && (e = fy_node_sequence_iterate(inputs, &it))) {
        int from = xmemi_run_desc_node(d, text_at(e, "from"));
        if (from < 0)
            return false;
        xmemi_run_edge *x = realloc(d->edges, (d->n_edges + 1) * sizeof *x);
        if (!x)
            return false;
        d->edges = x;
        x = &d->edges[d->n_edges++];
        memset(x, 0, sizeof *x);
        x->to = to;
        x->from = (uint32_t)from;
        copy(x->port, sizeof x->port, text_at(e, "port"));
        copy(x->from_port, sizeof x->from_port, text_at(e, "from_port"));
        x->depth = (uint32_t)number_at(e, "depth");
        copy(x->policy, sizeof x->policy, text_at(e, "policy"));
        d->nodes[to].n_inputs++;
    }
    return true;
}

static bool read_outputs(xmemi_run_desc *d, uint32_t node, struct fy_node *outputs)
{
    void *it = NULL;
    struct fy_node *o;
    while (outputs && (o = fy_node_sequence_iterate(outputs, &it))) {
        xmemi_run_port *x = realloc(d->outputs, (d->n_outputs + 1) * sizeof *x);
        if (!x)
            return false;
        d->outputs = x;
        x = &d->outputs[d->n_outputs++];
        x->node = node;
        copy(x->name, sizeof x->name, fy_node_get_scalar0(o) ? fy_node_get_scalar0(o) : "");
    }
    return true;
}

static bool read_doc(struct fy_node *root, xmemi_run_desc *d)
{
    copy(d->graph, sizeof d->graph, text_at(root, "graph"));
    copy(d->pool, sizeof d->pool, text_at(root, "pool"));
    copy(d->metrics, sizeof d->metrics, text_at(root, "metrics"));
    d->launcher = (pid_t)number_at(root, "launcher_pid");
    d->started_unix = number_at(root, "started_unix");
    d->interval_s = number_at(root, "interval_s");
    d->stopping = strcmp(text_at(root, "state"), "stopping") == 0;
    struct fy_node *nodes = fy_node_mapping_lookup_by_string(root, "nodes", FY_NT);
    if (!nodes || !fy_node_is_sequence(nodes) || !d->pool[0] || d->launcher <= 0)
        return false;
    void *it = NULL;
    struct fy_node *n;
    while ((n = fy_node_sequence_iterate(nodes, &it)) && d->n_nodes < XMEMI_GRAPH_MAX_NODES) {
        xmemi_run_node *x = &d->nodes[d->n_nodes++];
        copy(x->name, sizeof x->name, text_at(n, "name"));
        copy(x->plugin, sizeof x->plugin, text_at(n, "plugin"));
        copy(x->state, sizeof x->state, text_at(n, "state"));
        x->pid = (pid_t)number_at(n, "pid");
        x->restarts = (uint32_t)number_at(n, "restarts");
    }
    it = NULL;
    for (uint32_t i = 0; (n = fy_node_sequence_iterate(nodes, &it)) && i < d->n_nodes; i++)
        if (!read_inputs(d, i, fy_node_mapping_lookup_by_string(n, "inputs", FY_NT)) ||
            !read_outputs(d, i, fy_node_mapping_lookup_by_string(n, "outputs", FY_NT)))
            return false;
    return true;
}

xmem_err xmemi_run_desc_read(const char *dir, xmemi_run_desc *out, xmem_error_t *err)
{
    memset(out, 0, sizeof *out);
    char path[512];
    snprintf(path, sizeof path, "%s/" XMEMI_RUN_INFO_FILE, dir);
    if (access(path, R_OK) != 0)
        return xmemi_fail(err, errno == ENOENT ? XMEM_ENOENT : XMEM_ESYS, errno, "%s", path);
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_JSON_AUTO};
    struct fy_document *doc = fy_document_build_from_file(&cfg, path);
    bool ok = doc && read_doc(fy_document_root(doc), out);
    fy_document_destroy(doc);
    if (!ok) {
        xmemi_run_desc_free(out);
        return xmemi_fail(err, XMEM_ECONFIG, 0, "%s: not a run description of xmem run", path);
    }
    return XMEM_OK;
}

void xmemi_run_desc_free(xmemi_run_desc *d)
{
    free(d->edges);
    free(d->outputs);
    d->edges = NULL;
    d->outputs = NULL;
    d->n_edges = d->n_outputs = 0;
}

int xmemi_run_desc_node(const xmemi_run_desc *d, const char *name)
{
    for (uint32_t i = 0; i < d->n_nodes; i++)
        if (strcmp(d->nodes[i].name, name) == 0)
            return (int)i;
    return -1;
}
