/* `xmem run` end to end, with the real program: examples/fanout.yaml runs for a few seconds with
 * every frame verified and the summary written, and leaves nothing in /dev/shm or the runtime
 * directory; Ctrl-C stops it cleanly; a launcher killed with SIGKILL takes its nodes with it and
 * the next run cleans up after it; a node that fails for good makes the run fail while the rest
 * runs on; `xmem validate` says where a graph is wrong. Each test copies the example under a
 * pool name of its own (xmemt_<tag>_<pid>) and a runtime directory of its own. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "summary.h"
#include "xmem_run.h"

#define TIMEOUT XF_TIMEOUT_LONG

static void setup(void)
{
    xgr_setup("launcher");
}

TestSuite(launcher, .init = setup, .fini = xgr_teardown, .timeout = TIMEOUT);

Test(launcher, fanout_runs_verified_and_cleans_up)
{
    write_example("fanout.yaml");
    int rc =
        run_xmem((const char *[]){"run", "--duration", "3", "--summary", summary, graph, NULL});
    cr_assert(eq(int, rc, 0), "xmem run failed:\n%s", read_file(log_path));
    cr_assert(log_has("-- 1.0 s"), "a live table each second:\n%s", read_file(log_path));
    cr_assert(log_has("== summary"));
    struct fy_document *doc = summary_doc();
    cr_assert(eq(long, summary_num(doc, "/exit_status"), 0));
    long buffers = summary_num(doc, "/pool/buffers");
    cr_assert(eq(long, summary_num(doc, "/pool/free_at_end"), buffers));
    const char *names[] = {"src", "check", "latency", "inv", "inv_stats", "sink"};
    long sent = summary_num(doc, "/nodes/0/out");
    cr_assert(ge(long, sent, 45), "30 fps for 3 s: %ld frames", sent);
    assert_all_done(doc, names, 6);
    /* The lossless verifier saw every frame the source sent, each checked byte by byte (a bad
     * one would have made it exit 1 and the node would not be "done" without restarts). */
    cr_assert(eq(long, summary_num(doc, "/nodes/1/in"), sent));
    cr_assert(gt(long, summary_num(doc, "/nodes/4/in"), 0), "invert's frames reached inv_stats");
    cr_assert(gt(long, summary_num(doc, "/nodes/1/latency_us/samples"), 0));
    fy_document_destroy(doc);
    assert_clean();
}

Test(launcher, sigint_stops_sources_first_and_drains)
{
    write_example("fanout.yaml");
    pid_t pid = start_xmem((const char *[]){"run", "--summary", summary, graph, NULL});
    xf_sleep_ms(2500);
    kill(pid, SIGINT);
    cr_assert(eq(int, xf_wait(pid), 0), "%s", read_file(log_path));
    cr_assert(log_has("interrupted: stopping the sources"));
    struct fy_document *doc = summary_doc();
    cr_assert(eq(long, summary_num(doc, "/nodes/1/in"), summary_num(doc, "/nodes/0/out")),
              "the lossless consumer drained everything the source sent");
    fy_document_destroy(doc);
    assert_clean();
}

Test(launcher, a_killed_launcher_is_cleaned_up_by_the_next_run)
{
    write_example("fanout.yaml");
    pid_t pid = start_xmem((const char *[]){"run", graph, NULL});
    pid_t pids[16];
    int n = 0;
    for (int i = 0; i < 100 && n < 6; i++, xf_sleep_ms(50))
        n = node_pids(pids, 16);
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
    int rc =
        run_xmem((const char *[]){"run", "--duration", "2", "--summary", summary, graph, NULL});
    cr_assert(eq(int, rc, 0), "%s", read_file(log_path));
    cr_assert(log_has("left by a dead run"), "%s", read_file(log_path));
    assert_clean();
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
             pool);
    write_yaml(yaml);
    int rc =
        run_xmem((const char *[]){"run", "--duration", "2", "--summary", summary, graph, NULL});
    cr_assert(eq(int, rc, 1), "%s", read_file(log_path));
    cr_assert(log_has("node 'broken' failed for good"), "%s", read_file(log_path));
    struct fy_document *doc = summary_doc();
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/2/state"), "failed"));
    cr_assert(eq(long, summary_num(doc, "/nodes/2/restarts"), 2));
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/1/state"), "done"), "the rest ran on");
    cr_assert(gt(long, summary_num(doc, "/nodes/1/in"), 50));
    fy_document_destroy(doc);
    assert_clean();
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
        pool);
    write_yaml(yaml);
    pid_t pid = start_xmem((const char *[]){"run", "--summary", summary, graph, NULL});
    pid_t pids[8];
    int n = 0;
    for (int i = 0; i < 100 && n < 3; i++, xf_sleep_ms(50))
        n = node_pids(pids, 8);
    cr_assert(eq(int, n, 3));
    xf_sleep_ms(800);
    kill(pids[1], SIGKILL); /* inv: restart never */
    cr_assert(eq(int, xf_wait(pid), 1), "inv failed for good: %s", read_file(log_path));
    cr_assert(log_has("node 'sink' has no upstream left"), "%s", read_file(log_path));
    struct fy_document *doc = summary_doc();
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/1/state"), "failed"));
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/2/state"), "done"), "stopped cleanly");
    cr_assert(eq(long, summary_num(doc, "/pool/free_at_end"), summary_num(doc, "/pool/buffers")));
    fy_document_destroy(doc);
    assert_clean();
}

Test(launcher, validate_says_where)
{
    write_example("fanout.yaml");
    cr_assert(eq(int, run_xmem((const char *[]){"validate", graph, NULL}), 0), "%s",
              read_file(log_path));
    cr_assert(log_has("valid: 6 nodes"));
    write_yaml("nodes:\n  - {name: s, plugin: testsrc, params: {width: many}}\n");
    cr_assert(eq(int, run_xmem((const char *[]){"validate", graph, NULL}), 3));
    char where[256];
    snprintf(where, sizeof where, "%s:2:48: node 's': parameter 'width' = 'many'", graph);
    cr_assert(log_has(where), "%s", read_file(log_path));
    cr_assert(eq(int, run_xmem((const char *[]){"run", graph, NULL}), 3), "run refuses it too");
}

/* A terabyte of preallocation is refused by validate and run at the pool's preallocate, before
 * anything starts: above the default limit (3/4 of memory) it is the file's fault (3); raised by
 * pool.shm_limit, /dev/shm's room is what is missing (1). */
Test(launcher, a_terabyte_preallocation_is_refused_where_it_is_written)
{
    char yaml[512], says[512];
    snprintf(yaml, sizeof yaml,
             "pool:\n"
             "  name: %s\n"
             "  preallocate: {size: 1000000000000, count: 1}\n"
             "nodes:\n"
             "  - {name: src, plugin: testsrc, params: {frames: 5, width: 64, height: 8}}\n",
             pool);
    write_yaml(yaml);
    xmem_pool_options o;
    xmem_pool_options_init(&o);
    o.capacity = 16;
    o.n_classes = 1;
    o.classes[0] = (xmem_size_class){.size = 1000000000000ull, .count = 1};
    unsigned long long need = (unsigned long long)xmem_pool_shm_bytes(&o);
    bool over_limit = need > (unsigned long long)sysconf(_SC_PHYS_PAGES) / 4 * 3 *
                                 (unsigned long long)sysconf(_SC_PAGESIZE);
    snprintf(says, sizeof says, "%s:3:3: pool '%s' needs %llu bytes (1.0 TiB) of %s", graph, pool,
             need, over_limit ? "shared memory" : "/dev/shm");
    cr_assert(eq(int, run_xmem((const char *[]){"validate", graph, NULL}), over_limit ? 3 : 1),
              "%s", read_file(log_path));
    cr_assert(log_has(says), "no \"%s\" in:\n%s", says, read_file(log_path));
    if (over_limit)
        cr_assert(log_has("(3/4 of this machine's memory; pool.shm_limit raises it)"), "%s",
                  read_file(log_path));
    cr_assert(eq(int, run_xmem((const char *[]){"run", graph, NULL}), over_limit ? 3 : 1), "%s",
              read_file(log_path));
    cr_assert(log_has(says), "no \"%s\" in:\n%s", says, read_file(log_path));
    cr_assert(not(log_has("[src]")), "a node started:\n%s", read_file(log_path));
    assert_clean();

    snprintf(yaml, sizeof yaml,
             "pool:\n"
             "  name: %s\n"
             "  preallocate: {size: 1000000000000, count: 1}\n"
             "  shm_limit: 2000000000000\n"
             "nodes:\n"
             "  - {name: src, plugin: testsrc, params: {frames: 5, width: 64, height: 8}}\n",
             pool);
    write_yaml(yaml);
    snprintf(says, sizeof says, "%s:3:3: pool '%s' needs %llu bytes (1.0 TiB) of /dev/shm", graph,
             pool, need);
    cr_assert(eq(int, run_xmem((const char *[]){"validate", graph, NULL}), 1), "%s",
              read_file(log_path));
    cr_assert(log_has(says), "no \"%s\" in:\n%s", says, read_file(log_path));
    cr_assert(eq(int, run_xmem((const char *[]){"run", graph, NULL}), 1), "%s",
              read_file(log_path));
    cr_assert(log_has(says), "no \"%s\" in:\n%s", says, read_file(log_path));
    assert_clean();
}

/* validate's table is as wide as its longest names, so the inputs line up. */
Test(launcher, validate_lines_up_long_names)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "pool: {name: %s}\n"
             "nodes:\n"
             "  - {name: src, plugin: testsrc}\n"
             "  - {name: a_rather_long_consumer_name, plugin: verify, inputs: {in: src/out}}\n"
             "  - {name: inv, plugin: invert, inputs: {in: src/out}}\n",
             pool);
    write_yaml(yaml);
    cr_assert(eq(int, run_xmem((const char *[]){"validate", graph, NULL}), 0), "%s",
              read_file(log_path));
    cr_assert(log_has("\n  src                         testsrc\n"), "%s", read_file(log_path));
    cr_assert(log_has("\n  a_rather_long_consumer_name verify  in<-src/out\n"), "%s",
              read_file(log_path));
    cr_assert(log_has("\n  inv                         invert  in<-src/out\n"), "%s",
              read_file(log_path));
}

/* One scheme for every command: 2 for the command line, 3 for what it names, 1 for a failure. */
typedef struct exit_case {
    char args[6][48];
    int status;
    char says[64];
} exit_case;

static exit_case exit_cases[] = {
    {{"validate", "@GRAPH"}, 3, "parameter 'width' = 'many'"},
    {{"run", "@GRAPH"}, 3, "parameter 'width' = 'many'"},
    {{"chaos", "--duration", "3", "@GRAPH"}, 3, "parameter 'width' = 'many'"},
    {{"validate", "/nonexistent/graph.yaml"}, 3, "graph file /nonexistent/graph.yaml"},
    {{"run", "/nonexistent/graph.yaml"}, 3, "graph file /nonexistent/graph.yaml"},
    {{"validate"}, 2, "give one graph file"},
    {{"validate", "@GRAPH", "extra"}, 2, "give one graph file"},
    {{"run", "--duration", "soon", "@GRAPH"}, 2, "--duration"},
    {{"run", "--frobnicate", "@GRAPH"}, 2, "usage: xmem run"},
    {{"chaos", "--min", "5", "--max", "1", "@GRAPH"}, 2, "--min <= --max"},
    {{"chaos", "-"}, 2, "-: give a graph file"},
    {{"pool"}, 2, "give one pool NAME"},
    {{"pool", "--capacity", "0", "p"}, 2, "--capacity"},
    {{"pool", ".hidden"}, 3, "pool name '.hidden' starts with '.'"},
    {{"frobnicate"}, 2, "unknown command 'frobnicate'"},
};

ParameterizedTestParameters(launcher, exit_status)
{
    return cr_make_param_array(exit_case, exit_cases, sizeof exit_cases / sizeof exit_cases[0]);
}

ParameterizedTest(exit_case *e, launcher, exit_status)
{
    write_yaml("nodes:\n  - {name: s, plugin: testsrc, params: {width: many}}\n");
    const char *args[7] = {0};
    for (int i = 0; i < 6 && e->args[i][0]; i++)
        args[i] = strcmp(e->args[i], "@GRAPH") == 0 ? graph : e->args[i];
    cr_assert(eq(int, run_xmem(args), e->status), "xmem %s: %s", args[0], read_file(log_path));
    cr_assert(log_has(e->says), "no \"%s\" in:\n%s", e->says, read_file(log_path));
}

/* A graph that ends by itself in a moment. */
static const char *short_graph_text(void)
{
    static char yaml[512];
    snprintf(yaml, sizeof yaml,
             "pool: {name: %s}\n"
             "nodes:\n"
             "  - {name: src, plugin: testsrc, params: {frames: 5, width: 64, height: 8}}\n"
             "  - {name: sink, plugin: null, inputs: {in: src/out}}\n",
             pool);
    return yaml;
}

static void write_short_graph(void)
{
    write_yaml(short_graph_text());
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    cr_assert(eq(int, lstat(path, &st), 0), "%s is not there", path);
    bool is_dir = S_ISDIR(st.st_mode);
    cr_assert(is_dir, "%s is not a directory", path);
    return (unsigned)(st.st_mode & 0777);
}

/* XMEM_RUNTIME_DIR is made 0700 when missing (parents too); one that is open to others is
 * refused with the command that fixes it, and left as it was. */
Test(launcher, runtime_dir_made_private_or_explained)
{
    write_short_graph();
    char deep[256], parent[256];
    snprintf(parent, sizeof parent, "%s/made", dir);
    snprintf(deep, sizeof deep, "%s/made/here", dir);
    setenv("XMEM_RUNTIME_DIR", deep, 1);
    cr_assert(eq(int, run_xmem((const char *[]){"run", graph, NULL}), 0), "%s",
              read_file(log_path));
    cr_assert(eq(u32, mode_of(deep), 0700));
    cr_assert(eq(u32, mode_of(parent), 0700));

    char loose[200], says[700];
    snprintf(loose, sizeof loose, "%s/loose", dir);
    cr_assert(eq(int, mkdir(loose, 0755), 0));
    cr_assert(eq(int, chmod(loose, 0755), 0)); /* as a plain mkdir makes it under umask 022 */
    setenv("XMEM_RUNTIME_DIR", loose, 1);
    cr_assert(eq(int, run_xmem((const char *[]){"run", graph, NULL}), 1), "%s",
              read_file(log_path));
    snprintf(says, sizeof says,
             "runtime directory %s has mode 0755; it must be 0700 (others could reach its "
             "sockets): run `chmod 700 %s`",
             loose, loose);
    cr_assert(log_has(says), "no \"%s\" in:\n%s", says, read_file(log_path));
    cr_assert(eq(u32, mode_of(loose), 0755), "left as it was");
    cr_assert(eq(int, chmod(loose, 0700), 0)); /* doing what it said makes it run */
    cr_assert(eq(int, run_xmem((const char *[]){"run", graph, NULL}), 0), "%s",
              read_file(log_path));

    char file[256];
    snprintf(file, sizeof file, "%s/file", dir);
    FILE *f = fopen(file, "w");
    cr_assert(f != NULL);
    fclose(f);
    setenv("XMEM_RUNTIME_DIR", file, 1);
    cr_assert(eq(int, run_xmem((const char *[]){"run", graph, NULL}), 1));
    cr_assert(log_has("exists and is not a directory"), "%s", read_file(log_path));

    if (geteuid() == 0) { /* someone else's: only root can make one */
        char other[256];
        snprintf(other, sizeof other, "%s/other", dir);
        cr_assert(eq(int, mkdir(other, 0700), 0));
        cr_assert(eq(int, chown(other, 65534, 65534), 0));
        setenv("XMEM_RUNTIME_DIR", other, 1);
        cr_assert(eq(int, run_xmem((const char *[]){"run", graph, NULL}), 1));
        cr_assert(log_has("belongs to nobody (uid 65534), not to this user, root (uid 0)"), "%s",
                  read_file(log_path));
    }
    char rt[160];
    snprintf(rt, sizeof rt, "%s/rt", dir);
    setenv("XMEM_RUNTIME_DIR", rt, 1);
    assert_clean();
}

/* `--pool` renames a run's pool (and runtime directory): two runs of one graph side by side. */
Test(launcher, two_runs_of_one_graph_with_their_own_pools)
{
    write_example("fanout.yaml");
    char first_log[256], other[80];
    snprintf(first_log, sizeof first_log, "%s/first.log", dir);
    snprintf(other, sizeof other, "%s_b", pool);
    pid_t first = start_xmem_to((const char *[]){"run", "--duration", "3", graph, NULL}, first_log);
    int rc = run_xmem((const char *[]){"run", "--duration", "2", "--pool", other, graph, NULL});
    cr_assert(eq(int, rc, 0), "the second run: %s", read_file(log_path));
    char says[160];
    snprintf(says, sizeof says, "pool '%s'", other);
    cr_assert(log_has(says), "%s", read_file(log_path));
    cr_assert(eq(int, xf_wait(first), 0), "the first run: %s", read_file(first_log));
    cr_assert(eq(int, run_xmem((const char *[]){"run", "--pool", "no/slash", graph, NULL}), 2));
    cr_assert(log_has("--pool: "), "%s", read_file(log_path));
    assert_clean();
}

/* A second run of a graph's pool is refused, naming the first's launcher on one line. */
Test(launcher, a_second_run_of_a_pool_is_refused_naming_the_first)
{
    write_example("fanout.yaml");
    char first_log[256];
    snprintf(first_log, sizeof first_log, "%s/first.log", dir);
    pid_t first = start_xmem_to((const char *[]){"run", graph, NULL}, first_log);
    pid_t pids[16];
    int n = 0;
    for (int i = 0; i < 200 && n < 6; i++, xf_sleep_ms(50))
        n = node_pids(pids, 16);
    cr_assert(eq(int, n, 6), "the first run started its nodes");
    cr_assert(eq(int, run_xmem((const char *[]){"run", graph, NULL}), 1), "%s",
              read_file(log_path));
    char says[512];
    snprintf(says, sizeof says,
             "a graph with pool '%s' is already running (launcher pid %d, %s/rt/%s): stop it, or "
             "give this graph another pool name\n",
             pool, (int)first, dir, pool);
    cr_assert(log_has(says), "no \"%s\" in:\n%s", says, read_file(log_path));
    kill(first, SIGINT);
    cr_assert(eq(int, xf_wait(first), 0), "%s", read_file(first_log));
    assert_clean();
}

/* A stop that comes while the nodes are still starting (Ctrl-C right after `xmem run`) stops
 * them in order: a node that had no handler yet used to die of the SIGTERM and fail the run. */
Test(launcher, a_stop_while_nodes_start_is_a_clean_stop)
{
    write_example("fanout.yaml");
    for (int round = 0; round < 5; round++) {
        char log[256];
        snprintf(log, sizeof log, "%s/early-%d.log", dir, round);
        pid_t run = start_xmem_to((const char *[]){"run", graph, NULL}, log);
        pid_t pids[16];
        int n = 0;
        for (int i = 0; i < 20000 && n < 6; i++) {
            n = node_pids(pids, 16);
            if (n < 6)
                xf_sleep_ms(1);
        }
        cr_assert(eq(int, n, 6), "the run started its nodes:\n%s", read_file(log));
        kill(run, SIGINT);
        cr_assert(eq(int, xf_wait(run), 0), "%s", read_file(log));
        cr_assert(eq(ptr, strstr(read_file(log), "failed"), NULL), "%s", read_file(log));
        assert_clean();
    }
}

/* ---- graphs from pipes, and what is no graph text ---------------------------------------- */

/* Runs `xmem ARGS...` with `total` bytes piped into its descriptor `as`: `text` once, then
 * `fill` repeated (the writing stops when xmem stops reading). Its exit status; its peak memory
 * into *max_rss_kib. */
static int run_xmem_piped(const char *const *args, int as, const char *text, char fill,
                          size_t total, long *max_rss_kib)
{
    int p[2];
    cr_assert(eq(int, pipe(p), 0));
    /* xmem must not hold the write end, or no end of file comes */
    cr_assert(eq(int, fcntl(p[1], F_SETFD, FD_CLOEXEC), 0));
    pid_t pid = start_xmem_in(args, log_path, p[0], as);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    static char chunk[1 << 16];
    memset(chunk, fill, sizeof chunk);
    size_t sent = strlen(text);
    bool open_end = xf_write_all(p[1], text, sent);
    while (open_end && sent < total) {
        size_t n = total - sent < sizeof chunk ? total - sent : sizeof chunk;
        open_end = xf_write_all(p[1], chunk, n);
        sent += n;
    }
    close(p[1]);
    int status;
    struct rusage ru;
    cr_assert(eq(int, wait4(pid, &status, 0, &ru), pid));
    if (max_rss_kib)
        *max_rss_kib = ru.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

/* The same on its stdin. */
static int run_xmem_fed(const char *const *args, const char *text, char fill, size_t total,
                        long *max_rss_kib)
{
    return run_xmem_piped(args, 0, text, fill, total, max_rss_kib);
}

/* The ways a graph comes through a pipe: /dev/stdin (where libfyaml crashed), `-`, and a
 * process substitution (`xmem run <(...)`: a pipe bash puts on descriptor 63). */
typedef struct pipe_case {
    const char *arg;
    int fd;
    const char *named; /* in messages */
} pipe_case;

static const pipe_case pipe_cases[] = {
    {"/dev/stdin", 0, "/dev/stdin"},
    {"-", 0, "<stdin>"},
    {"/dev/fd/63", 63, "/dev/fd/63"},
};

#define N_PIPE (sizeof pipe_cases / sizeof pipe_cases[0])

ParameterizedTestParameters(launcher, a_graph_from_a_pipe_validates_and_runs)
{
    static int index[N_PIPE];
    for (size_t i = 0; i < N_PIPE; i++)
        index[i] = (int)i;
    return cr_make_param_array(int, index, N_PIPE);
}

ParameterizedTest(int *i, launcher, a_graph_from_a_pipe_validates_and_runs)
{
    const pipe_case *c = &pipe_cases[*i];
    const char *yaml = short_graph_text();
    size_t len = strlen(yaml);
    int rc = run_xmem_piped((const char *[]){"validate", c->arg, NULL}, c->fd, yaml, 0, len, NULL);
    cr_assert(eq(int, rc, 0), "validate %s: %s", c->arg, read_file(log_path));
    char says[200];
    snprintf(says, sizeof says, "%s: valid: 2 nodes", c->named);
    cr_assert(log_has(says), "no \"%s\" in:\n%s", says, read_file(log_path));
    rc = run_xmem_piped((const char *[]){"run", "--interval", "0", c->arg, NULL}, c->fd, yaml, 0,
                        len, NULL);
    cr_assert(eq(int, rc, 0), "run %s: %s", c->arg, read_file(log_path));
    cr_assert(log_has("== summary"), "%s", read_file(log_path));
    assert_clean();
}

/* A FIFO nobody opens for writing: refused after the wait, not a hang. */
Test(launcher, a_fifo_with_no_writer_is_given_up)
{
    char fifo[256], says[400];
    snprintf(fifo, sizeof fifo, "%s/graph.fifo", dir);
    cr_assert(eq(int, mkfifo(fifo, 0600), 0));
    long t0 = xf_now_ms(), took;
    pid_t pid = start_xmem((const char *[]){"validate", fifo, NULL});
    int status;
    while (waitpid(pid, &status, WNOHANG) == 0 && (took = xf_now_ms() - t0) < 15000)
        xf_sleep_ms(20);
    took = xf_now_ms() - t0;
    if (took >= 15000) { /* it hangs: not beyond the test */
        kill(pid, SIGKILL);
        xf_wait(pid);
        cr_fatal("xmem validate still waits for a writer after %ld ms", took);
    }
    cr_assert(eq(int, WIFEXITED(status) ? WEXITSTATUS(status) : -1, 3), "%s", read_file(log_path));
    cr_assert(ge(long, took, 4900), "took %ld ms", took);
    snprintf(says, sizeof says, "xmem validate: graph file %s: no data for 5 s", fifo);
    cr_assert(log_has(says), "no \"%s\" in:\n%s", says, read_file(log_path));
}

/* A NUL at a line's start, after which libfyaml saw nothing ("valid: 2 nodes" for this graph of
 * three), and one inside a line. */
Test(launcher, a_nul_byte_is_refused_where_it_is)
{
    static const char third[] = "  - {name: v, plugin: verify, inputs: {in: src/out}}\n";
    char says[400];
    for (int at = 0; at < 2; at++) {
        FILE *f = fopen(graph, "w");
        cr_assert(f != NULL);
        fputs(short_graph_text(), f);
        fwrite(third, 1, (size_t)(at ? 13 : 0), f);
        fputc('\0', f);
        fputs(third + (at ? 13 : 0), f);
        fclose(f);
        cr_assert(eq(int, run_xmem((const char *[]){"validate", graph, NULL}), 3), "%s",
                  read_file(log_path));
        snprintf(says, sizeof says, "xmem validate: %s:5:%d: a NUL byte", graph, at ? 14 : 1);
        cr_assert(log_has(says), "no \"%s\" in:\n%s", says, read_file(log_path));
    }
}

Test(launcher, invalid_utf8_is_refused_where_it_is)
{
    char says[400];
    write_yaml("nodes:\n  - {name: s\xe9, plugin: testsrc}\n");
    cr_assert(eq(int, run_xmem((const char *[]){"run", graph, NULL}), 3), "%s",
              read_file(log_path));
    snprintf(says, sizeof says, "xmem run: %s:2:13: invalid UTF-8 (byte 0xe9)", graph);
    cr_assert(log_has(says), "no \"%s\" in:\n%s", says, read_file(log_path));
}

Test(launcher, a_directory_is_refused)
{
    char says[400];
    cr_assert(eq(int, run_xmem((const char *[]){"validate", dir, NULL}), 3));
    snprintf(says, sizeof says, "xmem validate: graph file %s is a directory, not a file", dir);
    cr_assert(log_has(says), "no \"%s\" in:\n%s", says, read_file(log_path));
}

/* The peak memory of validating the short graph from a file: what any graph takes. */
static long small_graph_kib(void)
{
    write_short_graph();
    long kib;
    cr_assert(eq(int, run_xmem_fed((const char *[]){"validate", graph, NULL}, "", 0, 0, &kib), 0),
              "%s", read_file(log_path));
    return kib;
}

/* A 15 MB graph file (libfyaml took 900 MB for it) is refused by its size, unread: memory stays
 * what a small graph takes. */
Test(launcher, a_huge_graph_file_is_refused_in_bounded_memory)
{
    long small_kib = small_graph_kib(), file_kib;
    FILE *f = fopen(graph, "w");
    cr_assert(f != NULL);
    fputs(short_graph_text(), f);
    for (int i = 0; i < 220000; i++)
        fprintf(f, "  - {name: n%06d, plugin: testsrc, params: {width: 64, height: 8}}\n", i);
    long size = ftell(f);
    fclose(f);
    cr_assert(ge(long, size, 15000000));
    cr_assert(
        eq(int, run_xmem_fed((const char *[]){"validate", graph, NULL}, "", 0, 0, &file_kib), 3),
        "%s", read_file(log_path));
    cr_assert(lt(long, file_kib, small_kib + 8192), "%ld KiB for a 15 MB file, %ld for a graph",
              file_kib, small_kib);
    char says[400];
    snprintf(says, sizeof says, "graph file %s is %ld bytes: a graph file may hold at most 256 KiB",
             graph, size);
    cr_assert(log_has(says), "no \"%s\" in:\n%s", says, read_file(log_path));
}

/* 64 MB piped in is refused once the limit is passed, holding no more than the limit. */
Test(launcher, a_huge_graph_piped_is_refused_in_bounded_memory)
{
    long small_kib = small_graph_kib(), pipe_kib;
    cr_assert(eq(int,
                 run_xmem_fed((const char *[]){"validate", "-", NULL}, short_graph_text(), '#',
                              64 << 20, &pipe_kib),
                 3),
              "%s", read_file(log_path));
    cr_assert(log_has("graph file <stdin> holds more than 262144 bytes: a graph file may hold at "
                      "most 256 KiB"),
              "%s", read_file(log_path));
    cr_assert(lt(long, pipe_kib, small_kib + 8192), "%ld KiB for 64 MB piped, %ld for a graph",
              pipe_kib, small_kib);
}
