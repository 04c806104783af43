/* `xmem run` end to end, with the real program: examples/fanout.yaml runs for a few seconds with
 * every frame verified and the summary written, and leaves nothing in /dev/shm or the runtime
 * directory; Ctrl-C stops it cleanly; a launcher killed with SIGKILL takes its nodes with it and
 * the next run cleans up after it; a node that fails for good makes the run fail while the rest
 * runs on; `xmem validate` says where a graph is wrong. Each test copies the example under a
 * pool name of its own (xmemt_<tag>_<pid>) and a runtime directory of its own. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "graph_run.h"

#define TIMEOUT XF_TIMEOUT_LONG

static void setup(void)
{
    xgr_setup("launch");
}

TestSuite(launcher, .init = setup, .fini = xgr_teardown, .timeout = TIMEOUT);

Test(launcher, fanout_runs_verified_and_cleans_up)
{
    xgr_write_example("fanout.yaml", NULL, NULL);
    int rc = xgr_run(
        (const char *[]){"run", "--duration", "3", "--summary", xgr_summary, xgr_graph, NULL});
    cr_assert(eq(int, rc, 0), "xmem run failed:\n%s", xgr_log_text());
    cr_assert(xgr_log_has("-- 1.0 s"), "a live table each second:\n%s", xgr_log_text());
    cr_assert(xgr_log_has("== summary"));
    struct fy_document *doc = xgr_summary_doc();
    cr_assert(eq(long, xgr_summary_num(doc, "/exit_status"), 0));
    long buffers = xgr_summary_num(doc, "/pool/buffers");
    cr_assert(eq(long, xgr_summary_num(doc, "/pool/free_at_end"), buffers));
    const char *names[] = {"src", "check", "latency", "inv", "inv_stats", "sink"};
    long sent = xgr_summary_num(doc, "/nodes/0/out");
    cr_assert(ge(long, sent, 45), "30 fps for 3 s: %ld frames", sent);
    xgr_assert_all_done(doc, names, 6);
    /* The lossless verifier saw every frame the source sent, each checked byte by byte (a bad
     * one would have made it exit 1 and the node would not be "done" without restarts). */
    cr_assert(eq(long, xgr_summary_num(doc, "/nodes/1/in"), sent));
    cr_assert(gt(long, xgr_summary_num(doc, "/nodes/4/in"), 0),
              "invert's frames reached inv_stats");
    cr_assert(gt(long, xgr_summary_num(doc, "/nodes/1/latency_us/samples"), 0));
    fy_document_destroy(doc);
    xgr_assert_clean();
}

Test(launcher, sigint_stops_sources_first_and_drains)
{
    xgr_write_example("fanout.yaml", NULL, NULL);
    pid_t pid = xgr_start((const char *[]){"run", "--summary", xgr_summary, xgr_graph, NULL});
    xf_sleep_ms(2500);
    kill(pid, SIGINT);
    cr_assert(eq(int, xf_wait(pid), 0), "%s", xgr_log_text());
    cr_assert(xgr_log_has("interrupted: stopping the sources"));
    struct fy_document *doc = xgr_summary_doc();
    cr_assert(doc != NULL);
    cr_assert(eq(long, xgr_summary_num(doc, "/nodes/1/in"), xgr_summary_num(doc, "/nodes/0/out")),
              "the lossless consumer drained everything the source sent");
    fy_document_destroy(doc);
    xgr_assert_clean();
}

Test(launcher, a_killed_launcher_is_cleaned_up_by_the_next_run)
{
    xgr_write_example("fanout.yaml", NULL, NULL);
    pid_t pid = xgr_start((const char *[]){"run", xgr_graph, NULL});
    pid_t pids[16];
    int n = 0;
    for (int i = 0; i < 100 && n < 6; i++, xf_sleep_ms(50))
        n = xgr_node_pids(pids, 16);
    cr_assert(eq(int, n, 6), "the node table lists 6 nodes");
    xf_sleep_ms(1000);
    kill(pid, SIGKILL);
    xf_wait(pid);
    /* Its nodes follow it (parent-death signal), none is left running. */
    for (int i = 0; i < n; i++) {
        int tries = 0;
        while (kill(pids[i], 0) == 0 && tries++ < 400) /* a clean stop; slow under ASan */
            xf_sleep_ms(50);
        cr_assert(ne(int, kill(pids[i], 0), 0), "node pid %d outlived its launcher", pids[i]);
    }
    int rc = xgr_run(
        (const char *[]){"run", "--duration", "2", "--summary", xgr_summary, xgr_graph, NULL});
    cr_assert(eq(int, rc, 0), "%s", xgr_log_text());
    cr_assert(xgr_log_has("left by a dead run"), "%s", xgr_log_text());
    xgr_assert_clean();
}

Test(launcher, a_node_failing_for_good_fails_the_run_but_not_the_rest)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "pool: {name: %s}\n"
             "nodes:\n"
             "  - {name: src, plugin: testsrc, rate: 100, params: {width: 64, height: 8}}\n"
             "  - {name: check, plugin: verify, inputs: {in: src/out}}\n"
             "  - name: broken\n"
             "    plugin: testsrc\n"
             "    params: {size: 8}\n" /* smaller than a test frame's header: init fails */
             "    restart: {policy: on-failure, limit: 2}\n",
             xgr_pool);
    xgr_write_yaml(yaml);
    int rc = xgr_run(
        (const char *[]){"run", "--duration", "2", "--summary", xgr_summary, xgr_graph, NULL});
    cr_assert(eq(int, rc, 1), "%s", xgr_log_text());
    cr_assert(xgr_log_has("node 'broken' failed for good"), "%s", xgr_log_text());
    struct fy_document *doc = xgr_summary_doc();
    cr_assert(doc != NULL);
    cr_assert(eq(str, (char *)xgr_summary_str(doc, "/nodes/2/state"), "failed"));
    cr_assert(eq(long, xgr_summary_num(doc, "/nodes/2/restarts"), 2));
    cr_assert(eq(str, (char *)xgr_summary_str(doc, "/nodes/1/state"), "done"), "the rest ran on");
    cr_assert(gt(long, xgr_summary_num(doc, "/nodes/1/in"), 50));
    fy_document_destroy(doc);
    xgr_assert_clean();
}

/* A node that dies for good leaves its downstream without input and without an end of stream:
 * the launcher stops it at once, and the run ends instead of waiting forever. */
Test(launcher, downstream_of_a_dead_node_is_stopped)
{
    char yaml[1024];
    snprintf(
        yaml, sizeof yaml,
        "pool: {name: %s}\n"
        "nodes:\n"
        "  - {name: src, plugin: testsrc, rate: 20, params: {frames: 60, width: 64, height: 8}}\n"
        "  - {name: inv, plugin: invert, inputs: {in: src/out}}\n"
        "  - {name: sink, plugin: verify, inputs: {in: inv/out}}\n",
        xgr_pool);
    xgr_write_yaml(yaml);
    pid_t pid = xgr_start((const char *[]){"run", "--summary", xgr_summary, xgr_graph, NULL});
    pid_t pids[8];
    int n = 0;
    for (int i = 0; i < 100 && n < 3; i++, xf_sleep_ms(50))
        n = xgr_node_pids(pids, 8);
    cr_assert(eq(int, n, 3));
    xf_sleep_ms(800);
    kill(pids[1], SIGKILL); /* inv: restart never */
    cr_assert(eq(int, xf_wait(pid), 1), "inv failed for good: %s", xgr_log_text());
    cr_assert(xgr_log_has("node 'sink' has no upstream left"), "%s", xgr_log_text());
    struct fy_document *doc = xgr_summary_doc();
    cr_assert(doc != NULL);
    cr_assert(eq(str, (char *)xgr_summary_str(doc, "/nodes/1/state"), "failed"));
    cr_assert(eq(str, (char *)xgr_summary_str(doc, "/nodes/2/state"), "done"), "stopped cleanly");
    cr_assert(
        eq(long, xgr_summary_num(doc, "/pool/free_at_end"), xgr_summary_num(doc, "/pool/buffers")));
    fy_document_destroy(doc);
    xgr_assert_clean();
}

Test(launcher, validate_says_where)
{
    xgr_write_example("fanout.yaml", NULL, NULL);
    cr_assert(eq(int, xgr_run((const char *[]){"validate", xgr_graph, NULL}), 0), "%s",
              xgr_log_text());
    cr_assert(xgr_log_has("valid: 6 nodes"));
    xgr_write_yaml("nodes:\n  - {name: s, plugin: testsrc, params: {width: many}}\n");
    cr_assert(eq(int, xgr_run((const char *[]){"validate", xgr_graph, NULL}), 1));
    char where[256];
    snprintf(where, sizeof where, "%s:2:48: node 's': parameter 'width' = 'many'", xgr_graph);
    cr_assert(xgr_log_has(where), "%s", xgr_log_text());
    cr_assert(eq(int, xgr_run((const char *[]){"run", xgr_graph, NULL}), 2), "run refuses it too");
}
