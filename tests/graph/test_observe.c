/* Looking at a running graph from another process, with the real program: `xmem ps --json` and
 * `xmem top --once --json` on a running fanout graph report what the run's summary reports (the
 * last sample within an interval of the end); `xmem top`'s full screen under tmux draws the graph
 * and quits on q; `xmem logs` prints a node's lines from its log file; `--dot` writes the graph
 * with its figures; the metrics endpoint of `xmem run --metrics`, fetched with curl while the graph
 * runs, is valid Prometheus text (promtool) with the expected series and values. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "observe_run.h"

static char summary[192];

static void setup(void)
{
    xgr_setup("observe");
    snprintf(summary, sizeof summary, "%s/summary.json", dir);
}

TestSuite(observe, .init = setup, .fini = xgr_teardown, .timeout = XF_TIMEOUT_LONG);

static const char *const names[] = {"src", "check", "latency", "inv", "inv_stats", "sink"};
#define N_NODES 6

static bool have(const char *tool)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

Test(observe, ps_and_top_agree_with_the_summary)
{
    write_fanout();
    pid_t run = start_xmem((const char *[]){"run", "--duration", "4", "--summary", summary,
                                            "--interval", "1", graph, NULL});
    wait_running(run, N_NODES);

    char ps[256], top[256], last[256];
    snprintf(ps, sizeof ps, "%s/ps.json", dir);
    cr_assert(eq(int, capture_xmem((const char *[]){"ps", "--json", NULL}, ps), 0));
    struct fy_document *doc = json_doc(ps);
    cr_assert(doc != NULL, "ps --json is not JSON:\n%s", read_file(ps));
    cr_assert(eq(int, doc_len(doc, "/graphs"), 1));
    cr_assert(eq(str, (char *)doc_str(doc, "/graphs/0/pool"), pool));
    char real[PATH_MAX];
    cr_assert(realpath(graph, real) != NULL);
    cr_assert(eq(str, (char *)doc_str(doc, "/graphs/0/graph"), real));
    cr_assert(eq(int, (int)doc_num(doc, "/graphs/0/launcher_pid"), (int)run));
    cr_assert(eq(str, (char *)doc_str(doc, "/graphs/0/state"), "running"));
    cr_assert(eq(int, (int)doc_num(doc, "/graphs/0/nodes"), N_NODES));
    double up = doc_num(doc, "/graphs/0/uptime_s");
    cr_assert(up > 0 && up < 30, "uptime %.3f s", up);
    fy_document_destroy(doc);

    /* The plain view names every node and edge. */
    snprintf(top, sizeof top, "%s/top.txt", dir);
    cr_assert(
        eq(int, capture_xmem((const char *[]){"top", "--once", "-i", "0.3", pool, NULL}, top), 0));
    const char *text = read_file(top);
    cr_assert(text && strstr(text, "NODE") && strstr(text, "FROM"), "%s", text);
    for (int i = 0; i < N_NODES; i++)
        cr_assert(strstr(text, names[i]) != NULL, "top --once lacks %s:\n%s", names[i], text);

    /* Samples until the run ends; the last one is compared with the summary. */
    snprintf(top, sizeof top, "%s/top.json", dir);
    snprintf(last, sizeof last, "%s/last.json", dir);
    long last_ms = 0;
    int samples = 0;
    while (waitpid(run, NULL, WNOHANG) == 0) {
        int rc = capture_xmem(
            (const char *[]){"top", "--once", "--json", "--interval", "0.2", pool, NULL}, top);
        if (rc != 0)
            continue; /* the run ended during the sample */
        struct fy_document *d = json_doc(top);
        cr_assert(d != NULL, "top --json is not JSON:\n%s", read_file(top));
        fy_document_destroy(d);
        cr_assert(eq(int, rename(top, last), 0));
        last_ms = xf_now_ms();
        samples++;
    }
    long end_ms = xf_now_ms();
    cr_assert(ge(int, samples, 3), "top sampled the run %d times", samples);
    /* The run was reaped by waitpid above; its summary is written. */
    struct fy_document *s = json_doc(summary), *t = json_doc(last);
    cr_assert(s != NULL && t != NULL, "summary or top sample missing");
    cr_assert(eq(int, (int)doc_num(s, "/exit_status"), 0), "%s", read_file(log_path));
    cr_assert(eq(int, doc_len(t, "/nodes"), N_NODES));
    double since = (double)(end_ms - last_ms) / 1000.0;
    cr_assert(lt(dbl, since, 1.5), "the last sample was %.2f s before the end", since);
    /* Frames the source sent after the last sample: at most 100 fps over that time, and never
     * more than one table interval (1 s) of them. */
    double slack = 100.0 * (since < 1.0 ? 1.0 : since) + 5;
    for (int i = 0; i < N_NODES; i++) {
        char p[64];
        snprintf(p, sizeof p, "/nodes/%d/name", i);
        cr_assert(eq(str, (char *)doc_str(t, p), (char *)names[i]));
        cr_assert(eq(str, (char *)doc_str(s, p), (char *)names[i]));
        snprintf(p, sizeof p, "/nodes/%d/plugin", i);
        cr_assert(eq(str, (char *)doc_str(t, p), (char *)doc_str(s, p)));
        snprintf(p, sizeof p, "/nodes/%d/restarts", i);
        cr_assert(eq(int, (int)doc_num(t, p), (int)doc_num(s, p)));
        const char *figures[] = {"in", "out", "latency_us/samples"};
        for (int k = 0; k < 3; k++) {
            snprintf(p, sizeof p, "/nodes/%d/%s", i, figures[k]);
            double seen = doc_num(t, p), final = doc_num(s, p);
            cr_assert(seen <= final && final - seen <= slack,
                      "%s: top saw %.0f, the summary says %.0f (%.2f s later)", p, seen, final,
                      since);
        }
        snprintf(p, sizeof p, "/nodes/%d/out", i);
        if (i == 0)
            cr_assert(gt(dbl, doc_num(t, p), 150), "the source ran in the sample");
    }
    /* Every graph edge, connected, with its queue; the lossless one delivered what check read. */
    cr_assert(eq(int, doc_len(t, "/edges"), 5));
    cr_assert(eq(str, (char *)doc_str(t, "/edges/0/from"), "src/out"));
    cr_assert(eq(str, (char *)doc_str(t, "/edges/0/to"), "check/in"));
    cr_assert(eq(str, (char *)doc_str(t, "/edges/0/policy"), "block"));
    cr_assert(eq(int, (int)doc_num(t, "/edges/0/depth"), 4));
    cr_assert(eq(str, (char *)doc_str(t, "/edges/0/connected"), "true"));
    double delivered = doc_num(t, "/edges/0/delivered"), in = doc_num(t, "/nodes/1/in");
    /* Each end rewrites its table every 20 ms: a few frames apart. */
    cr_assert(delivered - in <= 10 && in - delivered <= 10, "delivered %.0f, received %.0f",
              delivered, in);
    cr_assert(eq(str, (char *)doc_str(t, "/pool/name"), pool));
    cr_assert(eq(int, (int)doc_num(t, "/pool/buffers"), (int)doc_num(s, "/pool/buffers")));
    fy_document_destroy(s);
    fy_document_destroy(t);
}

Test(observe, logs_and_dot)
{
    write_fanout();
    char dot[256];
    snprintf(dot, sizeof dot, "%s/graph.dot", dir);
    pid_t run = start_xmem((const char *[]){"run", "--duration", "3", "--summary", summary, "--dot",
                                            dot, graph, NULL});
    wait_running(run, N_NODES);
    xf_sleep_ms(1500); /* the stats nodes log once a second */
    char out[256], path[512];
    snprintf(out, sizeof out, "%s/logs.txt", dir);
    snprintf(path, sizeof path, "%s/logs/latency.log", run_dir());
    cr_assert(eq(int, access(path, R_OK), 0), "no log file %s", path);
    cr_assert(eq(int, capture_xmem((const char *[]){"logs", pool, "latency", NULL}, out), 0));
    const char *text = read_file(out);
    cr_assert(text && *text, "xmem logs printed nothing");
    char *printed = strdup(text), *file = strdup(read_file(path)); /* read_file's buffer */
    cr_assert(strncmp(file, printed, strlen(printed)) == 0,
              "xmem logs printed what the file holds (the file only grew since):\n%s\n--\n%s",
              printed, file);
    free(printed);
    free(file);
    cr_assert(eq(int, capture_xmem((const char *[]){"logs", "-n", "1", "latency", NULL}, out), 0));
    text = read_file(out);
    cr_assert(text && strchr(text, '\n') == text + strlen(text) - 1, "one line: '%s'", text);
    cr_assert(eq(int, capture_xmem((const char *[]){"logs", pool, "nosuch", NULL}, out), 3));

    cr_assert(eq(int, xf_wait(run), 0), "%s", read_file(log_path));
    /* The node's lines went to the run's output too. */
    cr_assert(log_has("[latency]"), "%s", read_file(log_path));
    text = read_file(dot);
    cr_assert(text && strncmp(text, "digraph", 7) == 0, "dot file:\n%s", text ? text : "none");
    for (int i = 0; i < N_NODES; i++) {
        char decl[64];
        snprintf(decl, sizeof decl, "  \"%s\" [label=\"%s\\n", names[i], names[i]);
        cr_assert(strstr(text, decl) != NULL, "no node %s in:\n%s", names[i], text);
    }
    int arrows = 0;
    for (const char *p = text; (p = strstr(p, " -> \"")); p++) /* not the labels' "out -> in" */
        arrows++;
    cr_assert(eq(int, arrows, 5), "five edges:\n%s", text);
    cr_assert(strstr(text, "block, depth 4") != NULL, "%s", text);
    if (have("dot")) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "dot -Tsvg '%s' -o /dev/null", dot);
        cr_assert(eq(int, system(cmd), 0), "graphviz rejects:\n%s", text);
    }
}

/* A pool with no graph (as `xmem pool` or a program makes one): top shows its books alone. */
Test(observe, top_shows_a_bare_pool)
{
    char name[XMEM_POOL_NAME_MAX + 1], out[256];
    xmem_pool_t *p = xf_pool_create(name, "observe", 16);
    xmem_error_t e;
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(p, 4096, &g, &e), XMEM_OK), "%s", e.msg);
    snprintf(out, sizeof out, "%s/top.json", dir);
    int rc =
        capture_xmem((const char *[]){"top", "--once", "--json", "-i", "0.1", name, NULL}, out);
    cr_assert(eq(int, rc, 0), "%s", read_file(out));
    struct fy_document *doc = json_doc(out);
    cr_assert(doc != NULL, "%s", read_file(out));
    cr_assert(eq(str, (char *)doc_str(doc, "/pool/name"), name));
    cr_assert(eq(int, (int)doc_num(doc, "/pool/buffers"), 16));
    cr_assert(eq(int, (int)doc_num(doc, "/pool/free"), 15), "one buffer held here");
    cr_assert(eq(int, (int)doc_num(doc, "/pool/classes/0/in_use"), 1));
    cr_assert(eq(int, (int)doc_num(doc, "/pool/classes/0/holders/0/pid"), (int)getpid()));
    cr_assert(fy_node_by_path(fy_document_root(doc), "/nodes", FY_NT, FYNWF_DONT_FOLLOW) == NULL,
              "no graph, no nodes");
    fy_document_destroy(doc);
    cr_assert(eq(int, xmem_guard_release(&g, &e), XMEM_OK));
    xmem_pool_destroy(&p);
}

/* The value of the series line that starts with `series` (name and labels) in `text`, or -1. */
static double series_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

static char *fetch(const char *url, const char *file)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "curl -sS -f -D '%s.head' -o '%s' '%s'", file, file, url);
    cr_assert(eq(int, system(cmd), 0), "curl %s failed", url);
    return strdup(read_file(file));
}

Test(observe, metrics_endpoint_serves_prometheus_text)
{
    if (!have("curl"))
        cr_skip_test("curl is not installed (scripts/install-deps installs it)");
    if (!xmem_built_with("metrics"))
        cr_skip_test("this xmem was built without libmicrohttpd");
    write_fanout();
    /* Port 0: the launcher picks one; no address: 127.0.0.1. */
    pid_t run = start_xmem((const char *[]){"run", "--duration", "5", "--summary", summary,
                                            "--metrics", "0", graph, NULL});
    wait_running(run, N_NODES);
    char ps[256];
    snprintf(ps, sizeof ps, "%s/ps.json", dir);
    cr_assert(eq(int, capture_xmem((const char *[]){"ps", "--json", NULL}, ps), 0));
    struct fy_document *doc = json_doc(ps);
    char addr[128];
    snprintf(addr, sizeof addr, "%s", doc_str(doc, "/graphs/0/metrics"));
    fy_document_destroy(doc);
    cr_assert(strncmp(addr, "127.0.0.1:", 10) == 0 && atoi(addr + 10) > 0, "bound to '%s'", addr);

    char url[200], m1[256], m2[256];
    snprintf(url, sizeof url, "http://%s/metrics", addr);
    snprintf(m1, sizeof m1, "%s/m1.txt", dir);
    snprintf(m2, sizeof m2, "%s/m2.txt", dir);
    char *a = fetch(url, m1);
    xf_sleep_ms(500);
    char *b = fetch(url, m2);
    char head[300];
    snprintf(head, sizeof head, "%s.head", m1);
    cr_assert(strstr(read_file(head), "text/plain; version=0.0.4") != NULL, "%s", read_file(head));

    char series[256];
#define SERIES(fmt, ...) (snprintf(series, sizeof series, fmt, __VA_ARGS__), series)
    double out1 =
        series_value(a, SERIES("xmem_node_frames_out_total{graph=\"%s\",node=\"src\"}", pool));
    double out2 = series_value(b, series);
    cr_assert(out1 > 0 && out2 > out1, "frames out of src: %.0f then %.0f\n%s", out1, out2, b);
    for (int i = 0; i < N_NODES; i++) {
        double v =
            series_value(b, SERIES("xmem_node_up{graph=\"%s\",node=\"%s\"}", pool, names[i]));
        cr_assert(eq(dbl, v, 1.0), "%s is up: %g", names[i], v);
    }
    /* The lossless consumer's latency histogram counts what it received. */
    double in =
        series_value(b, SERIES("xmem_node_frames_in_total{graph=\"%s\",node=\"check\"}", pool));
    double count = series_value(
        b, SERIES("xmem_node_latency_seconds_count{graph=\"%s\",node=\"check\"}", pool));
    double inf = series_value(
        b,
        SERIES("xmem_node_latency_seconds_bucket{graph=\"%s\",node=\"check\",le=\"+Inf\"}", pool));
    cr_assert(in > 0 && count >= in - 5 && count <= in + 5 && inf == count,
              "in %.0f, latency count %.0f, +Inf %.0f", in, count, inf);
    double dropped = series_value(
        b, SERIES("xmem_edge_drops_total{graph=\"%s\",from=\"src/out\",to=\"check/in\","
                  "reason=\"block-timeout\"}",
                  pool));
    cr_assert(eq(dbl, dropped, 0), "the lossless edge's block-timeout drops: %g\n%s", dropped, b);
    double free_ = series_value(
        b, SERIES("xmem_pool_buffers{graph=\"%s\",pool=\"%s\",state=\"free\"}", pool, pool));
    double used = series_value(
        b, SERIES("xmem_pool_buffers{graph=\"%s\",pool=\"%s\",state=\"in_use\"}", pool, pool));
    cr_assert(free_ >= 0 && used >= 0 && free_ + used > 0, "pool buffers %g free %g in use", free_,
              used);
    cr_assert(strstr(b, "# TYPE xmem_node_latency_seconds histogram") != NULL);
#undef SERIES

    if (have("promtool")) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "promtool check metrics < '%s' > '%s.lint' 2>&1", m2, m2);
        int rc = system(cmd);
        char lint[300];
        snprintf(lint, sizeof lint, "%s.lint", m2);
        cr_assert(eq(int, rc, 0), "promtool check metrics:\n%s", read_file(lint));
    } else
        cr_log_warn("promtool is not installed: the exposition's lint skipped");

    /* Anything but /metrics is not found. */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' 'http://%s/' > '%s/code'",
             addr, dir);
    cr_assert(eq(int, system(cmd), 0));
    char code[300];
    snprintf(code, sizeof code, "%s/code", dir);
    cr_assert(eq(str, read_file(code), "404"));
    free(a);
    free(b);
    cr_assert(eq(int, xf_wait(run), 0), "%s", read_file(log_path));
    doc = json_doc(summary);
    double final = doc_num(doc, "/nodes/0/out");
    fy_document_destroy(doc);
    cr_assert(ge(dbl, final, out2), "the summary's count %.0f at least the scrape's", final);
}

/* ---- a pane of tmux (a server of the test's own), for what needs a terminal ---- */

static char tsock[64], tstatus[256], tscreen[256];

/* Runs `xmem ARGS` (shell words) in a WIDTH x HEIGHT pane; its exit status goes to tstatus. */
static void tmux_xmem(const char *name, int width, int height, const char *args)
{
    char cmd[1200];
    snprintf(tsock, sizeof tsock, "xmemt-%s-%d", name, (int)getpid());
    snprintf(tstatus, sizeof tstatus, "%s/%s.status", dir, name);
    snprintf(tscreen, sizeof tscreen, "%s/%s.screen", dir, name);
    snprintf(cmd, sizeof cmd,
             "tmux -L %s new-session -d -x %d -y %d "
             "\"XMEM_RUNTIME_DIR='%s/rt' '%s' %s; echo \\$? > '%s'; sleep 30\"",
             tsock, width, height, dir, XMEM_CLI, args, tstatus);
    cr_assert(eq(int, system(cmd), 0), "%s", cmd);
}

/* What the pane shows now ("" when it cannot be read). */
static const char *tmux_screen(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "tmux -L %s capture-pane -p > '%s'", tsock, tscreen);
    const char *text = system(cmd) == 0 ? read_file(tscreen) : NULL;
    return text ? text : "";
}

static void tmux_keys(const char *keys)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "tmux -L %s send-keys %s", tsock, keys);
    cr_assert(eq(int, system(cmd), 0), "%s", cmd);
}

/* Waits up to `ms` for the program to end; its exit status as the shell printed it, or NULL. */
static const char *tmux_status(int ms)
{
    const char *st = NULL;
    for (int i = 0; i < ms / 100 && !((st = read_file(tstatus)) && *st); i++)
        xf_sleep_ms(100);
    return st && *st ? st : NULL;
}

static void tmux_end(void)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "tmux -L %s kill-server 2>/dev/null", tsock);
    if (system(cmd) != 0)
        cr_log_warn("tmux kill-server failed");
}

/* `xmem top`'s full screen in a tmux pane: it draws the nodes, and q ends it with status 0. */
Test(observe, top_screen_under_tmux_quits_on_q)
{
    if (!have("tmux"))
        cr_skip_test("tmux is not installed (scripts/install-deps installs it)");
    if (!xmem_built_with("top-screen"))
        cr_skip_test("this xmem was built without ncursesw");
    write_fanout();
    pid_t run = start_xmem((const char *[]){"run", "--duration", "8", graph, NULL});
    wait_running(run, N_NODES);
    char args[200];
    snprintf(args, sizeof args, "top -i 0.3 %s", pool);
    tmux_xmem("top", 160, 48, args);
    bool drawn = false;
    for (int i = 0; i < 60 && !drawn; i++) {
        xf_sleep_ms(100);
        const char *text = tmux_screen();
        drawn = strstr(text, "NODE") && strstr(text, "inv_stats") && strstr(text, pool) &&
                strstr(text, "running");
    }
    cr_assert(drawn, "the screen:\n%s", tmux_screen());
    /* Down to the second node, enter: its edges and its last log lines. */
    tmux_keys("Down Enter");
    drawn = false;
    for (int i = 0; i < 30 && !drawn; i++, xf_sleep_ms(100))
        drawn = strstr(tmux_screen(), "LAST LINES OF check") != NULL;
    cr_assert(drawn, "the picked node's details:\n%s", tmux_screen());
    /* A key that changes the sort, then q. */
    tmux_keys("s");
    tmux_keys("q");
    const char *st = tmux_status(5000);
    tmux_end();
    cr_assert(st != NULL, "xmem top did not end on q");
    cr_assert(eq(str, (char *)st, "0\n"));
    kill(run, SIGINT);
    cr_assert(eq(int, xf_wait(run), 0), "%s", read_file(log_path));
}

/* `xmem run` on a terminal (a tmux pane): the table is redrawn in place at the bottom, once on
 * the screen however many intervals passed, with the nodes' lines scrolling above it. */
Test(observe, live_table_redraws_in_place_on_a_terminal)
{
    if (!have("tmux"))
        cr_skip_test("tmux is not installed (scripts/install-deps installs it)");
    write_fanout();
    char args[300];
    snprintf(args, sizeof args, "run --duration 4 -i 0.5 '%s'", graph);
    tmux_xmem("live", 150, 40, args);
    xf_sleep_ms(3000); /* five tables or more */
    char *text = strdup(tmux_screen());
    const char *st = tmux_status(10000);
    tmux_end();
    int headers = 0;
    for (const char *p = text; (p = strstr(p, "node         state")); p++)
        headers++;
    cr_assert(eq(int, headers, 1), "one table on the screen:\n%s", text);
    cr_assert(strstr(text, "inv_stats") != NULL, "%s", text);
    /* The stats nodes' lines scroll above the table. */
    const char *log = strstr(text, "[latency]"), *table = strstr(text, "node         state");
    cr_assert(log && log < table, "the nodes' lines above the table:\n%s", text);
    free(text);
    cr_assert(st != NULL, "xmem run did not end");
    cr_assert(eq(str, (char *)st, "0\n"), "xmem run's exit status");
}
