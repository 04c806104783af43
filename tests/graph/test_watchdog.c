/* The launcher's watchdog and a start with who is alive, with the real `xmem run`: a `block`
 * consumer stopped with SIGSTOP is found stuck within its limit + 1 s, killed and restarted while
 * the other consumer loses nothing; a consumer spinning forever in `process` is killed; a
 * launcher killed while a node spins takes that node with it within 2 s and the next run starts;
 * a consumer whose init fails does not hold its source; a loss on a `block` edge fails the run
 * (and verify counts it), drops under drop_oldest do not. The test consumer is the `slow` test
 * plugin (tests/nodes/plugins/slow.c: hang_at, fail_init). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <libfyaml.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/proc.h"
#include "fixture.h"
#include "summary.h"
#include "xmem_run.h"

static void setup(void)
{
    xgr_setup("watchdog");
}

TestSuite(watchdog, .init = setup, .fini = xgr_teardown, .timeout = XF_TIMEOUT_LONG);

/* The pid of node `name` in the launcher's node table once it runs, or 0 after 5 s. */
static pid_t node_pid(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/rt/%s/nodes", dir, pool);
    for (int tries = 0; tries < 100; tries++, xf_sleep_ms(50)) {
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        char node[64], state[16];
        int pid = 0;
        unsigned inputs;
        bool found = false;
        while (!found && fscanf(f, "%63s %d %15s %u", node, &pid, state, &inputs) == 4)
            found = strcmp(node, name) == 0 && pid > 0 && strcmp(state, "running") == 0;
        fclose(f);
        if (found)
            return pid;
    }
    return 0;
}

/* A source at 100 fps, a lossless verifier and the test consumer `victim` (both `block`, the
 * victim's input with `victim_in` added) with `victim_extra` in its node mapping. */
static void write_graph_in(const char *victim_in, const char *victim_extra)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "pool: {name: %s}\n"
             "nodes:\n"
             "  - {name: src, plugin: testsrc, rate: 100, params: {width: 64, height: 8}}\n"
             "  - name: check\n"
             "    plugin: verify\n"
             "    inputs: {in: {from: src/out, policy: block}}\n"
             "  - name: victim\n"
             "    plugin: %s\n"
             "    inputs: {in: {from: src/out, %s}}\n"
             "%s",
             pool, PLUGIN_SLOW, victim_in, victim_extra);
    write_yaml(yaml);
}

static void write_graph(const char *victim_extra)
{
    write_graph_in("policy: block", victim_extra);
}

/* The edge of the summary's "edges" array that ends at `to` ("victim/in"), or -1. */
static int edge_to(struct fy_document *doc, const char *to)
{
    for (int k = 0; k < 16; k++) {
        char path[64];
        snprintf(path, sizeof path, "/edges/%d/to", k);
        struct fy_node *n = fy_node_by_path(fy_document_root(doc), path, FY_NT, FYNWF_DONT_FOLLOW);
        const char *t = n ? fy_node_get_scalar0(n) : NULL;
        if (!t)
            return -1;
        if (strcmp(t, to) == 0)
            return k;
    }
    return -1;
}

static long edge_num(struct fy_document *doc, int k, const char *field)
{
    char path[96];
    snprintf(path, sizeof path, "/edges/%d/%s", k, field);
    return summary_num(doc, path);
}

/* Milliseconds until the log has `text`, polled from `t0_ms`; -1 after `limit_ms`. */
static long ms_until_logged(const char *text, long t0_ms, long limit_ms)
{
    while (xf_now_ms() - t0_ms < limit_ms) {
        if (log_has(text))
            return xf_now_ms() - t0_ms;
        xf_sleep_ms(20);
    }
    return -1;
}

/* Starts a run of `duration_s` seconds and stops its `victim` (SIGSTOP) 1 s after it runs. */
static pid_t start_and_stop_victim(const char *duration_s, pid_t *victim)
{
    pid_t run = start_xmem((const char *[]){"run", "--duration", duration_s, "--interval", "0",
                                            "--summary", summary, graph, NULL});
    pid_t pid = node_pid("victim");
    cr_assert(pid > 0, "victim never ran: %s", read_file(log_path));
    xf_sleep_ms(1000);
    cr_assert(eq(int, kill(pid, SIGSTOP), 0));
    *victim = pid;
    return run;
}

Test(watchdog, a_stopped_block_consumer_is_found_stuck_killed_and_restarted)
{
    /* Its publisher stops waiting for it after 200 ms: the source runs on at its rate. */
    write_graph_in("policy: block, block_timeout_ms: 200",
                   "    params: {delay_ms: 0}\n"
                   "    stuck_after_ms: 2500\n"
                   "    restart: {policy: on-failure, limit: 2}\n");
    pid_t victim;
    pid_t run = start_and_stop_victim("9", &victim);
    long t0 = xf_now_ms();
    long detected = ms_until_logged("is stuck", t0, 10000);
    cr_log_info("a stopped consumer found stuck after %ld ms (limit 2500)", detected);
    cr_assert(detected >= 2400 && detected <= 3500, "stuck after 2.5 s, within 1 s: %ld ms\n%s",
              detected, read_file(log_path));
    cr_assert(log_has("is stuck: stopped (SIGSTOP)"), "%s", read_file(log_path));
    xf_sleep_ms(300);
    cr_assert(eq(int, xmemi_proc_alive(victim, 0), 0), "the stuck consumer was killed");
    /* The victim lost frames on a block edge while it was stopped: the run fails, saying so. */
    cr_assert(eq(int, xf_wait(run), 1), "%s", read_file(log_path));
    cr_assert(log_has("edge src/out -> victim (block) lost"), "%s", read_file(log_path));
    struct fy_document *doc = fy_document_build_from_file(NULL, summary);
    cr_assert(doc != NULL);
    /* 100 fps for 9 s, less a second for the start and the drain: the 2.5 s stop cost the source
     * its 200 ms wait, not its rate. */
    long out = summary_num(doc, "/nodes/0/out");
    cr_log_info("source: %ld frames in 9 s, longest pause %.0f ms", out,
                (double)summary_num(doc, "/nodes/0/max_stall_ms"));
    cr_assert(out >= (long)(0.9 * 100 * 8), "the source kept above 90 %% of its rate: %ld", out);
    cr_assert(lt(long, summary_num(doc, "/nodes/0/max_stall_ms"), 1000));
    cr_assert(eq(long, summary_num(doc, "/nodes/2/restarts"), 1), "restarted once");
    cr_assert(eq(long, summary_num(doc, "/nodes/2/stuck"), 1));
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/2/deaths/0/stuck"), "true"));
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/2/state"), "done"),
              "it ran on after its restart");
    cr_assert(gt(long, summary_num(doc, "/nodes/2/in"), 0));
    cr_assert(eq(long, summary_num(doc, "/nodes/1/in"), summary_num(doc, "/nodes/0/out")),
              "the other block consumer lost nothing");
    cr_assert(eq(long, summary_num(doc, "/pool/free_at_end"), summary_num(doc, "/pool/buffers")));
    fy_document_destroy(doc);
}

/* A 5 s run of the graph whose `victim` is stopped for 2 s from 1 s in, then continued; the
 * launcher's pid once the victim runs again. */
static pid_t run_stopping_victim(void)
{
    pid_t victim;
    pid_t run = start_and_stop_victim("5", &victim);
    xf_sleep_ms(2000);
    cr_assert(eq(int, kill(victim, SIGCONT), 0));
    return run;
}

/* A `block` consumer stopped for 2 s past its 100 ms block timeout, then let go on: it loses
 * frames (block-timeout), the run exits 1 naming the edge, the summary lists the edge's drops and
 * the other consumer lost nothing. */
Test(watchdog, a_loss_on_a_block_edge_fails_the_run)
{
    write_graph_in("policy: block, block_timeout_ms: 100", "    params: {delay_ms: 0}\n"
                                                           "    stuck_after_ms: 30000\n");
    pid_t run = run_stopping_victim();
    cr_assert(eq(int, xf_wait(run), 1), "%s", read_file(log_path));
    cr_assert(log_has("edge src/out -> victim (block) lost "), "%s", read_file(log_path));
    cr_assert(log_has("(block-timeout): the run fails"), "%s", read_file(log_path));
    struct fy_document *doc = fy_document_build_from_file(NULL, summary);
    cr_assert(doc != NULL);
    cr_assert(eq(long, summary_num(doc, "/exit_status"), 1));
    int v = edge_to(doc, "victim/in"), c = edge_to(doc, "check/in");
    cr_assert(v >= 0 && c >= 0, "both edges in the summary: %s", read_file(summary));
    cr_assert(eq(str, (char *)summary_str(doc, "/edges/0/from"), "src/out"));
    cr_assert(gt(long, edge_num(doc, v, "dropped/block-timeout"), 50), "%s", read_file(summary));
    cr_assert(eq(long, edge_num(doc, v, "lost"), edge_num(doc, v, "dropped/block-timeout")));
    cr_assert(eq(long, edge_num(doc, c, "lost"), 0), "%s", read_file(summary));
    cr_assert(eq(long, edge_num(doc, c, "dropped/block-timeout"), 0));
    cr_assert(eq(long, summary_num(doc, "/nodes/1/in"), summary_num(doc, "/nodes/0/out")),
              "the other block consumer lost nothing");
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/1/state"), "done"), "verify found no gap");
    cr_assert(eq(long, summary_num(doc, "/pool/free_at_end"), summary_num(doc, "/pool/buffers")));
    fy_document_destroy(doc);
}

/* `verify` as the stopped `block` consumer: its own line counts the frames it never got, as many
 * as the edge lost, and the run fails. */
Test(watchdog, verify_reports_the_frames_a_block_edge_lost)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "pool: {name: %s}\n"
             "nodes:\n"
             "  - {name: src, plugin: testsrc, rate: 100, params: {width: 64, height: 8}}\n"
             "  - name: victim\n"
             "    plugin: verify\n"
             "    stuck_after_ms: 30000\n"
             "    inputs: {in: {from: src/out, policy: block, block_timeout_ms: 100}}\n",
             pool);
    write_yaml(yaml);
    pid_t run = run_stopping_victim();
    cr_assert(eq(int, xf_wait(run), 1), "%s", read_file(log_path));
    cr_assert(log_has("edge src/out -> victim (block) lost "), "%s", read_file(log_path));
    const char *line = strstr(log_text(), "frames missing)");
    cr_assert(line != NULL, "verify's line: %s", read_file(log_path));
    while (line > log_text() && line[-1] != '(')
        line--;
    long missing = strtol(line, NULL, 10);
    struct fy_document *doc = fy_document_build_from_file(NULL, summary);
    cr_assert(doc != NULL);
    int v = edge_to(doc, "victim/in");
    cr_assert(v >= 0, "%s", read_file(summary));
    long lost = edge_num(doc, v, "lost");
    cr_log_info("the edge lost %ld frames, verify found %ld missing", lost, missing);
    cr_assert(gt(long, missing, 50), "%s", read_file(log_path));
    cr_assert(eq(long, missing, lost), "%s", read_file(log_path));
    fy_document_destroy(doc);
}

/* The same stop on a drop_oldest consumer: its drops are its policy's, the run succeeds. */
Test(watchdog, drops_under_drop_oldest_do_not_fail_the_run)
{
    write_graph_in("policy: drop_oldest, depth: 2", "    params: {delay_ms: 0}\n"
                                                    "    stuck_after_ms: 30000\n");
    pid_t run = run_stopping_victim();
    cr_assert(eq(int, xf_wait(run), 0), "%s", read_file(log_path));
    cr_assert(eq(int, log_has("the run fails"), 0), "%s", read_file(log_path));
    struct fy_document *doc = fy_document_build_from_file(NULL, summary);
    cr_assert(doc != NULL);
    int v = edge_to(doc, "victim/in");
    cr_assert(v >= 0, "%s", read_file(summary));
    cr_assert(eq(long, edge_num(doc, v, "lost"), 0));
    cr_assert(
        gt(long, edge_num(doc, v, "dropped/queue-full") + edge_num(doc, v, "dropped/oldest"), 0),
        "the stopped consumer's drops are listed: %s", read_file(summary));
    fy_document_destroy(doc);
}

Test(watchdog, an_endless_loop_in_process_is_killed)
{
    write_graph("    params: {delay_ms: 0, hang_at: 20}\n"
                "    stuck_after_ms: 2500\n");
    long t0 = xf_now_ms();
    pid_t run = start_xmem((const char *[]){"run", "--duration", "6", "--interval", "0",
                                            "--summary", summary, graph, NULL});
    long detected = ms_until_logged("is stuck: in process for", t0, 10000);
    cr_log_info("an endless loop in process found stuck %ld ms after the start", detected);
    cr_assert(detected > 0, "%s", read_file(log_path));
    /* A restart policy of never: the node failed for good, which fails the run. */
    cr_assert(eq(int, xf_wait(run), 1), "%s", read_file(log_path));
    cr_assert(log_has("node 'victim' failed for good"), "%s", read_file(log_path));
    struct fy_document *doc = fy_document_build_from_file(NULL, summary);
    cr_assert(doc != NULL);
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/2/state"), "failed"));
    cr_assert(eq(long, summary_num(doc, "/nodes/2/deaths/0/signal"), SIGKILL));
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/2/deaths/0/stuck"), "true"));
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/1/state"), "done"));
    cr_assert(eq(long, summary_num(doc, "/nodes/1/in"), summary_num(doc, "/nodes/0/out")));
    cr_assert(eq(long, summary_num(doc, "/pool/free_at_end"), summary_num(doc, "/pool/buffers")),
              "what the spinning node held came back");
    fy_document_destroy(doc);
}

Test(watchdog, a_killed_launcher_takes_a_stuck_node_with_it)
{
    /* A limit far away: only the parent-death path can end the spinning node. */
    write_graph("    params: {delay_ms: 0, hang_at: 5}\n"
                "    stuck_after_ms: 60000\n");
    pid_t run = start_xmem((const char *[]){"run", "--interval", "0", graph, NULL});
    pid_t victim = node_pid("victim");
    pid_t src = node_pid("src"), check = node_pid("check");
    cr_assert(victim > 0 && src > 0 && check > 0, "%s", read_file(log_path));
    xf_sleep_ms(1000); /* it spins from its 5th frame on */
    kill(run, SIGKILL);
    xf_wait(run);
    long t0 = xf_now_ms();
    while (
        (xmemi_proc_alive(victim, 0) || xmemi_proc_alive(src, 0) || xmemi_proc_alive(check, 0)) &&
        xf_now_ms() - t0 < 2000)
        xf_sleep_ms(20);
    cr_log_info("nodes gone %ld ms after their launcher's death", xf_now_ms() - t0);
    cr_assert(eq(int, xmemi_proc_alive(victim, 0), 0),
              "the spinning node outlived its launcher by 2 s");
    cr_assert(eq(int, xmemi_proc_alive(src, 0) || xmemi_proc_alive(check, 0), 0));
    write_graph("    params: {delay_ms: 0}\n");
    int rc = run_xmem((const char *[]){"run", "--duration", "2", "--interval", "0", graph, NULL});
    cr_assert(eq(int, rc, 0), "the next run starts: %s", read_file(log_path));
    cr_assert(log_has("left by a dead run"), "%s", read_file(log_path));
}

Test(watchdog, a_consumer_failing_its_init_does_not_hold_the_source)
{
    write_graph("    params: {fail_init: 1}\n");
    pid_t run = start_xmem((const char *[]){"run", "--duration", "3", "--interval", "0",
                                            "--summary", summary, graph, NULL});
    cr_assert(eq(int, xf_wait(run), 1), "a node failed for good: %s", read_file(log_path));
    cr_assert(log_has("node 'victim' never started"), "%s", read_file(log_path));
    cr_assert(log_has("never started: victim"), "the summary table says so:\n%s",
              read_file(log_path));
    struct fy_document *doc = fy_document_build_from_file(NULL, summary);
    cr_assert(doc != NULL);
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/2/started"), "false"));
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/0/started"), "true"));
    long out = summary_num(doc, "/nodes/0/out");
    /* 100 fps for 3 s: the start took (300 - out) / 100 s. Waiting for the dead consumer it
     * would have sent nothing (a 10 s start timeout). */
    cr_log_info("the source started %.2f s into a 3 s run", (300.0 - (double)out) / 100.0);
    cr_assert(ge(long, out, 200), "the source started within 1 s: %ld frames", out);
    cr_assert(eq(long, summary_num(doc, "/nodes/1/in"), out), "the live consumer got every frame");
    fy_document_destroy(doc);
}

/* Whether pid has its SIGTERM handler (its SigCgt mask in /proc/PID/status): a node stopped
 * before that would be ended by the parent-death signal's default action even while stopped. */
static bool catches_sigterm(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    const char *status = read_file(path);
    const char *cgt = status ? strstr(status, "SigCgt:") : NULL;
    return cgt && (strtoull(cgt + 7, NULL, 16) & (1ull << (SIGTERM - 1)));
}

/* A stopped process keeps its parent-death signal pending. When the launcher's death orphans
 * the node's process group the kernel continues it with SIGHUP; but under an init or subreaper
 * of the same session (a container's init, as this test process makes itself) nothing does: the
 * next run finds it in the dead run's node table and kills it, so its pool is free again. */
Test(watchdog, a_node_stopped_when_its_launcher_died_is_killed_by_the_next_run)
{
    cr_assert(eq(int, prctl(PR_SET_CHILD_SUBREAPER, 1), 0));
    write_graph("    params: {delay_ms: 0}\n");
    pid_t run = start_xmem((const char *[]){"run", "--interval", "0", graph, NULL});
    pid_t victim = node_pid("victim");
    cr_assert(victim > 0, "%s", read_file(log_path));
    for (int i = 0; i < 200 && !catches_sigterm(victim); i++)
        xf_sleep_ms(25);
    cr_assert(catches_sigterm(victim), "the node host's handler never came");
    kill(victim, SIGSTOP);
    /* Stopped before its launcher dies: a SIGTERM pending with the SIGSTOP runs its handler
     * first (the lower number), which arms the 1 s kill. */
    for (int i = 0; i < 200 && xmemi_proc_state(victim) != 'T'; i++)
        xf_sleep_ms(5);
    kill(run, SIGKILL);
    xf_wait(run);
    xf_sleep_ms(1500);
    cr_assert(xmemi_proc_alive(victim, 0), "stopped, it could not act on its parent's death");
    int rc = run_xmem((const char *[]){"run", "--duration", "2", "--interval", "0", graph, NULL});
    cr_assert(eq(int, rc, 0), "the next run starts: %s", read_file(log_path));
    cr_assert(log_has("killed 1 node of that run"), "%s", read_file(log_path));
    cr_assert(eq(int, xmemi_proc_alive(victim, 0), 0));
    while (waitpid(-1, NULL, WNOHANG) > 0) { /* the dead run's nodes, adopted */
    }
}

/* A limit below what one callback may wait by itself would kill healthy nodes: refused where it
 * is written. */
Test(watchdog, validate_refuses_a_limit_below_the_hosts_own_waits)
{
    write_graph("    acquire_timeout_ms: 3000\n"
                "    stuck_after_ms: 3500\n");
    cr_assert(eq(int, run_xmem((const char *[]){"validate", graph, NULL}), 3), "%s",
              read_file(log_path));
    cr_assert(log_has("graph.yaml:11:21: node 'victim': stuck_after_ms 3500 is not above the "
                      "4000 ms"),
              "%s", read_file(log_path));
    write_graph("    stuck_after_ms: 50\n");
    cr_assert(eq(int, run_xmem((const char *[]){"validate", graph, NULL}), 3));
    cr_assert(log_has("stuck_after_ms"), "%s", read_file(log_path));
}
