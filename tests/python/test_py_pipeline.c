/* Graphs that mix Python and C nodes, run by the real `xmem run`: the examples of
 * examples/python/ as they ship (a numpy invert between testsrc and verify, which checks every
 * byte and that each frame was inverted once; a Python source and a Python sink around the C
 * invert, the sink checking every byte), and a Python node whose exception makes it restart as
 * its policy says, then fail for good, while every buffer comes back. Each test copies its graph
 * under a pool name of its own (xmemt_<tag>_<pid>), with the node files' absolute paths. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_util.h"

static char pool_name[64], graph[300], summary[300];
static xnt_child run;

static void setup(void)
{
    cr_assert(xnt_setup(), "cannot make a scratch directory");
    xf_pool_name(pool_name, sizeof pool_name, "pypipe");
    xnt_path(graph, sizeof graph, "graph.yaml");
    xnt_path(summary, sizeof summary, "summary.json");
    char rt[300];
    xnt_path(rt, sizeof rt, "rt");
    setenv("XMEM_RUNTIME_DIR", rt, 1);
}

static void teardown(void)
{
    xnt_cleanup();
}

/* examples/python/NAME under this test's pool name: node files given by absolute path, and each
 * `from`/`to` pair of `edits` replaced (rates and counts that fit a test). */
static void write_example(const char *name, const char *const *edits)
{
    char src[512], line[512];
    snprintf(src, sizeof src, "%s/python/%s", XMEM_EXAMPLES, name);
    FILE *in = fopen(src, "r"), *out = fopen(graph, "w");
    cr_assert(in && out, "cannot copy %s to %s", src, graph);
    while (fgets(line, sizeof line, in)) {
        char *py = strstr(line, "plugin: ");
        if (strncmp(line, "  name: xmem-", 13) == 0)
            fprintf(out, "  name: %s\n", pool_name);
        else if (py && strstr(line, ".py"))
            fprintf(out, "%.*splugin: %s/python/%s", (int)(py - line), line, XMEM_EXAMPLES, py + 8);
        else {
            for (const char *const *e = edits; e && *e; e += 2) {
                char *at = strstr(line, e[0]);
                if (at) {
                    char rest[512];
                    snprintf(rest, sizeof rest, "%s", at + strlen(e[0]));
                    snprintf(at, sizeof line - (size_t)(at - line), "%s%s", e[1], rest);
                }
            }
            fputs(line, out);
        }
    }
    fclose(in);
    fclose(out);
}

/* Runs `xmem run --interval 0 --summary S GRAPH EXTRA...`: its exit status; the log in run. */
static int run_graph(const char *extra)
{
    const char *argv[] = {XMEM_CLI,    "run",   "--interval", "0",
                          "--summary", summary, graph,        extra ? "--duration" : NULL,
                          extra,       NULL};
    return xnt_run(argv, "run", &run);
}

/* True when the run's output (the table, the launcher's lines, the nodes' logs) has `text`. */
static bool logged(const char *text)
{
    return strstr(run.out, text) || strstr(run.err, text);
}

static struct fy_document *doc;

static const char *at(const char *path)
{
    struct fy_node *n = fy_node_by_path(fy_document_root(doc), path, FY_NT, FYNWF_DONT_FOLLOW);
    cr_assert(not(eq(ptr, n, NULL)), "no %s in the summary", path);
    return fy_node_get_scalar0(n);
}

static long num(const char *path)
{
    return strtol(at(path), NULL, 10);
}

static void read_summary(void)
{
    doc = fy_document_build_from_file(NULL, summary);
    cr_assert(not(eq(ptr, doc, NULL)), "no summary; the run said:\n%s%s", run.out, run.err);
    cr_assert(eq(long, num("/pool/free_at_end"), num("/pool/buffers")), "buffers left held");
}

/* Node `i`: its name, its state, and no restarts. */
static void expect_node(int i, const char *name, const char *state)
{
    char path[64];
    snprintf(path, sizeof path, "/nodes/%d/name", i);
    cr_assert(eq(str, (char *)at(path), (char *)name));
    snprintf(path, sizeof path, "/nodes/%d/state", i);
    cr_assert(eq(str, (char *)at(path), (char *)state), "node %s; the run said:\n%s", name,
              run.err);
    snprintf(path, sizeof path, "/nodes/%d/restarts", i);
    cr_assert(eq(long, num(path), 0), "node %s", name);
}

Test(py_pipeline, numpy_invert_between_c_nodes, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    write_example("invert.yaml",
                  (const char *[]){"rate: 30", "rate: 100", "width: 1280", "width: 320",
                                   "height: 720", "height: 240", NULL});
    cr_assert(eq(int, run_graph("3"), 0), "%s%s", run.out, run.err);
    read_summary();
    expect_node(0, "src", "done");
    expect_node(1, "inv", "done");
    expect_node(2, "check", "done"); /* verify stops at the first bad frame, or one not inverted */
    expect_node(3, "latency", "done");
    long sent = num("/nodes/0/out");
    cr_assert(ge(long, sent, 100), "100 fps for 3 s: %ld frames", sent);
    cr_assert(eq(long, num("/nodes/1/in"), sent), "the Python node saw every frame");
    cr_assert(eq(long, num("/nodes/1/out"), sent));
    cr_assert(eq(long, num("/nodes/2/in"), sent), "verify checked every frame");
    cr_assert(logged("[check] info: verified "), "%s", run.err);
    cr_assert(logged(" frames: 0 bad, 0 gaps (0 frames missing), 0 out of order"), "%s", run.err);
    fy_document_destroy(doc);
}

Test(py_pipeline, python_source_and_sink_around_c, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    write_example("gradient.yaml", (const char *[]){"rate: 30", "rate: 200", NULL});
    cr_assert(eq(int, run_graph(NULL), 0), "%s%s", run.out, run.err);
    read_summary();
    expect_node(0, "src", "done");
    expect_node(1, "inv", "done");
    expect_node(2, "check", "done"); /* it fails unless all 300 arrived, every byte right */
    cr_assert(eq(long, num("/nodes/0/out"), 300));
    cr_assert(eq(long, num("/nodes/2/in"), 300));
    cr_assert(logged("[check] info: checked 300 frames: 0 bad, 0 gaps"), "%s", run.err);
    fy_document_destroy(doc);
}

/* A Python node that raises at its 5th frame, restarted twice (on-failure, limit 2): three
 * tracebacks in the log, then it fails for good and the run exits 1; its buffers come back each
 * time. */
Test(py_pipeline, exception_restarts_by_policy, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    FILE *f = fopen(graph, "w");
    cr_assert(not(eq(ptr, f, NULL)));
    fprintf(f,
            "pool: {name: %s}\n"
            "nodes:\n"
            "  - {name: src, plugin: testsrc, rate: 200, params: {width: 64, height: 48}}\n"
            "  - name: boom\n"
            "    plugin: %s/boom.py\n"
            "    params: {at: 5}\n"
            "    inputs: {in: src/out}\n"
            "    restart: {policy: on-failure, limit: 2}\n"
            "  - {name: sink, plugin: \"null\", inputs: {in: boom/out}}\n",
            pool_name, PY_NODES);
    fclose(f);
    cr_assert(eq(int, run_graph("4"), 1), "%s%s", run.out, run.err);
    read_summary();
    cr_assert(eq(str, (char *)at("/nodes/1/state"), "failed"));
    cr_assert(eq(long, num("/nodes/1/restarts"), 2));
    const char *tb = "[boom] error:   File \"" PY_NODES "/boom.py\", line 24, in process";
    int tracebacks = 0;
    for (const char *p = run.err; (p = strstr(p, tb)); p++)
        tracebacks++;
    cr_assert(eq(int, tracebacks, 3), "one traceback per run:\n%s", run.err);
    cr_assert(logged("boom.py:7: RuntimeError: boom at frame 5"), "%s", run.err);
    cr_assert(logged("node 'boom' failed for good"), "%s", run.err);
    fy_document_destroy(doc);
}
