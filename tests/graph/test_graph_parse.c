/* The graph file parser and checker: a valid graph reads back as written (nodes, edges, queue
 * settings, restart policies, an order with upstream first, a derived pool size), and every kind
 * of mistake is refused with its file:line:column and what was expected. Each case writes a
 * small YAML file and parses it the way `xmem validate` does. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph/graph.h"

static char path[128];

static void write_graph(const char *yaml)
{
    snprintf(path, sizeof path, "/tmp/xmemt-graph-%d.yaml", (int)getpid());
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fputs(yaml, f);
    fclose(f);
}

static void remove_graph(void)
{
    unlink(path);
}

/* Parses and checks; returns the error code, message in *err. */
static xmem_err load(const char *yaml, xmemi_graph *g, xmem_error_t *err)
{
    write_graph(yaml);
    xmem_err rc = xmemi_graph_parse(path, g, err);
    if (rc == XMEM_OK && (rc = xmemi_graph_check(g, err)) != XMEM_OK)
        xmemi_graph_free(g);
    return rc;
}

TestSuite(graph_parse, .fini = remove_graph);

Test(graph_parse, a_valid_graph_reads_back)
{
    xmemi_graph g;
    xmem_error_t err = {0};
    cr_assert(
        eq(int,
           load("pool: {name: xmemt_gp}\n"
                "options: {duration: 2.5, drain_timeout: 3}\n"
                "nodes:\n"
                "  - name: sink\n"
                "    plugin: verify\n"
                "    inputs:\n"
                "      in: {from: inv/out, depth: 8, policy: block}\n"
                "    restart: {policy: on-failure, limit: 7}\n"
                "  - name: inv\n"
                "    plugin: invert\n"
                "    inputs: {in: src/out}\n"
                "    restart: always\n"
                "  - {name: src, plugin: testsrc, rate: 50, params: {width: 32, height: 8}}\n",
                &g, &err),
           XMEM_OK),
        "%s", err.msg);
    cr_assert(eq(str, g.pool_name, "xmemt_gp"));
    cr_assert(eq(dbl, g.duration_s, 2.5));
    cr_assert(eq(dbl, g.drain_timeout_s, 3.0));
    cr_assert(eq(u32, g.n_nodes, 3));
    const xmemi_graph_node *sink = &g.nodes[0], *inv = &g.nodes[1], *src = &g.nodes[2];
    cr_assert(eq(str, sink->inputs[0].from_node, "inv"));
    cr_assert(eq(u32, sink->inputs[0].depth, 8));
    cr_assert(eq(int, sink->inputs[0].policy, XMEM_POLICY_BLOCK));
    cr_assert(eq(int, sink->restart, XMEMI_RESTART_ON_FAILURE));
    cr_assert(eq(u32, sink->restart_limit, 7));
    cr_assert(eq(int, inv->restart, XMEMI_RESTART_ALWAYS));
    cr_assert(eq(int, inv->inputs[0].policy, XMEM_POLICY_DROP_OLDEST), "the default policy");
    cr_assert(eq(u32, inv->inputs[0].depth, 4), "the default depth");
    cr_assert(eq(dbl, src->rate_hz, 50.0));
    cr_assert(eq(u32, src->n_params, 2));
    cr_assert(eq(u32, g.order[0], 2), "src first");
    cr_assert(eq(u32, g.order[1], 1), "then inv");
    cr_assert(eq(u32, g.order[2], 0), "then sink");
    /* 8 (block) + 2 x 4 (drop_oldest) + 2 outputs being filled + 2 spare = 20 */
    cr_assert(eq(u32, xmemi_graph_buffers_needed(&g, NULL, 0), 20));
    cr_assert(eq(u32, g.buffers, 20), "derived from the graph");
    xmemi_graph_free(&g);
}

Test(graph_parse, a_default_pool_name_comes_from_the_file)
{
    xmemi_graph g;
    xmem_error_t err = {0};
    cr_assert(eq(int, load("nodes: [{name: src, plugin: testsrc}]\n", &g, &err), XMEM_OK), "%s",
              err.msg);
    char want[64];
    snprintf(want, sizeof want, "xmem-xmemt-graph-%d", (int)getpid());
    cr_assert(eq(str, g.pool_name, want));
    xmemi_graph_free(&g);
}

/* One mistake, where it is (line:column) and words the message must contain. */
typedef struct bad_case {
    const char *yaml;
    int line, column;
    const char *says;
} bad_case;

static const bad_case bad_cases[] = {
    /* YAML itself */
    {"nodes: [\n  {name: a\n", 3, 1, "YAML syntax"},
    {"nodes:\n  - name: a\n   plugin: x\n", 3, 4, "YAML syntax"},
    /* unknown keys, at the key */
    {"pol: {buffers: 4}\nnodes: [{name: s, plugin: testsrc}]\n", 1, 1, "unknown key 'pol'"},
    {"nodes:\n  - name: s\n    plugn: testsrc\n", 3, 5, "unknown key 'plugn' in a node"},
    {"pool: {buffer: 4}\nnodes: [{name: s, plugin: testsrc}]\n", 1, 8, "unknown key 'buffer'"},
    {"nodes:\n  - {name: s, plugin: testsrc}\n  - name: v\n    plugin: verify\n"
     "    inputs: {in: {from: s/out, deep: 2}}\n",
     5, 32, "unknown key 'deep' in an input"},
    /* shapes and values */
    {"nodes: {name: s}\n", 1, 9, "expected a list of nodes"},
    {"nodes:\n  - name: s\n    plugin: [testsrc]\n", 3, 14, "expected a single value"},
    {"nodes:\n  - {name: s, plugin: testsrc, rate: fast}\n", 2, 38, "'fast' is not a number"},
    {"nodes:\n  - {name: s, plugin: testsrc, rate: -1}\n", 2, 38, "out of range"},
    {"nodes:\n  - {name: Src, plugin: testsrc}\n", 2, 12, "expected [a-z0-9_]+"},
    {"nodes:\n  - {name: s, plugin: testsrc}\n  - {name: s, plugin: testsrc}\n", 3, 12,
     "used twice"},
    {"nodes:\n  - {plugin: testsrc}\n", 2, 6, "without 'name'"},
    {"nodes:\n  - {name: s}\n", 2, 6, "has no 'plugin'"},
    {"nodes:\n  - {name: s, plugin: testsrc, restart: sometimes}\n", 2, 41,
     "expected never, on-failure or always"},
    {"nodes:\n  - {name: s, plugin: testsrc}\n  - name: v\n    plugin: verify\n"
     "    inputs: {in: {from: s/out, policy: fifo}}\n",
     5, 40, "expected block or drop_oldest"},
    {"nodes:\n  - {name: s, plugin: testsrc}\n  - {name: v, plugin: verify, inputs: {in: s}}\n", 3,
     44, "expected NODE/PORT"},
    {"pool: {name: \"..\"}\nnodes: [{name: s, plugin: testsrc}]\n", 1, 15, "starts with '.'"},
    {"nodes:\n  - name:\n    plugin: testsrc\n", 2, 5, "node name ''"},
    {"nodes:\n  - {name: s, plugin: testsrc, rate: 1e-9}\n", 2, 38, "at least 0.001"},
    {"", 0, 0, "no YAML document"},
    {"nodes: [{name: s, plugin: testsrc}]\n---\nnodes: []\n", 1, 1, "more than one YAML document"},
    /* plugins, parameters and ports, checked against the plugin */
    {"nodes:\n  - {name: s, plugin: nosuchplugin}\n", 2, 23, "not found"},
    {"nodes:\n  - name: s\n    plugin: testsrc\n    params: {width: wide}\n", 4, 21,
     "not an integer"},
    {"nodes:\n  - name: s\n    plugin: testsrc\n    params: {width: 0}\n", 4, 21, "out of range"},
    {"nodes:\n  - name: s\n    plugin: testsrc\n    params: {dtype: u7}\n", 4, 21,
     "not one of the choices"},
    {"nodes:\n  - name: s\n    plugin: testsrc\n    params: {colour: red}\n", 4, 14,
     "has no parameter 'colour'"},
    {"nodes:\n  - {name: s, plugin: testsrc}\n  - {name: v, plugin: verify, inputs: {in: x/out}}\n",
     3, 44, "there is no node 'x'"},
    {"nodes:\n  - {name: s, plugin: testsrc}\n  - {name: v, plugin: verify, inputs: {in: "
     "s/video}}\n",
     3, 44, "has no output port 'video'"},
    {"nodes:\n  - {name: s, plugin: testsrc}\n  - {name: v, plugin: verify, inputs: {frames: "
     "s/out}}\n",
     3, 40, "has no input port 'frames'"},
    {"nodes:\n  - {name: v, plugin: verify}\n", 2, 6, "none is wired"},
    /* the graph as a whole */
    {"nodes:\n  - {name: a, plugin: invert, inputs: {in: b/out}}\n"
     "  - {name: b, plugin: invert, inputs: {in: a/out}}\n",
     2, 44, "closes a cycle"},
    {"pool: {buffers: 3}\nnodes:\n  - {name: s, plugin: testsrc}\n"
     "  - {name: v, plugin: verify, inputs: {in: s/out}}\n",
     1, 17, "the graph needs 11 (s/out -> v/in: 8"},
    /* the pool's memory against its limit, at the setting that asks for it */
    {"pool: {shm_limit: 0}\nnodes: [{name: s, plugin: testsrc}]\n", 1, 19, "out of range"},
    {"pool: {buffers: 16, shm_limit: 4096}\nnodes: [{name: s, plugin: testsrc}]\n", 1, 17,
     "needs 40960 bytes (40.0 KiB) of shared memory (16 buffers), more than the 4096 bytes "
     "(4.0 KiB) it may take (pool.shm_limit at line 1)"},
    {"pool:\n  shm_limit: 10000000\n  preallocate: {size: 1048576, count: 10}\n"
     "nodes: [{name: s, plugin: testsrc}]\n",
     3, 3, "(16 buffers, 10 preallocated of 1048576 bytes each), more than the 10000000 bytes"},
};

/* Indices, not the cases: Criterion may run a parameterized test in a fresh process image,
 * where pointers into this one would dangle. */
#define N_BAD (sizeof bad_cases / sizeof bad_cases[0])

ParameterizedTestParameters(graph_parse, refuses_with_position)
{
    static int index[N_BAD];
    for (size_t i = 0; i < N_BAD; i++)
        index[i] = (int)i;
    return cr_make_param_array(int, index, N_BAD);
}

ParameterizedTest(int *i, graph_parse, refuses_with_position, .fini = remove_graph)
{
    const bad_case *c = &bad_cases[*i];
    xmemi_graph g;
    xmem_error_t err = {0};
    xmem_err rc = load(c->yaml, &g, &err);
    cr_assert(eq(int, rc, XMEM_ECONFIG), "accepted (or failed otherwise: %s):\n%s", err.msg,
              c->yaml);
    char where[200];
    if (c->column)
        snprintf(where, sizeof where, "%s:%d:%d: ", path, c->line, c->column);
    else if (c->line)
        snprintf(where, sizeof where, "%s:%d:", path, c->line);
    else /* nothing to point at */
        snprintf(where, sizeof where, "%s: ", path);
    cr_assert(eq(int, strncmp(err.msg, where, strlen(where)), 0),
              "expected the message to start with '%s': %s", where, err.msg);
    cr_assert(not(eq(ptr, strstr(err.msg, c->says), NULL)), "expected '%s' in: %s", c->says,
              err.msg);
}

Test(graph_parse, a_missing_file_is_named)
{
    xmemi_graph g;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_graph_parse("/nonexistent/g.yaml", &g, &err), XMEM_ECONFIG));
    cr_assert(not(eq(ptr, strstr(err.msg, "/nonexistent/g.yaml"), NULL)), "%s", err.msg);
}
