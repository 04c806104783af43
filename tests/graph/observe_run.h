/* What the tests of the tools that look at a running graph share (test_observe.c, test_tap.c):
 * a fanout graph of small frames under the test's pool, waiting until its nodes all run, running
 * `xmem ARGS...` with its output captured, and reading JSON (`ps --json`, `top --json`, the
 * summary) back with libfyaml. Builds on xmem_run.h. */
#ifndef XMEM_TESTS_GRAPH_OBSERVE_RUN_H
#define XMEM_TESTS_GRAPH_OBSERVE_RUN_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <libfyaml.h>
#include <signal.h>
#include <sys/wait.h>

#include "xmem_run.h"

/* examples/fanout.yaml's shape with frames of 64x48x3 bytes at 100 fps: a lossless verifier
 * (block), two stats nodes, an inverter and a sink. */
static inline void write_fanout(void)
{
    char yaml[1400];
    snprintf(yaml, sizeof yaml,
             "pool: {name: %s}\n"
             "options: {drain_timeout: 5}\n"
             "nodes:\n"
             "  - {name: src, plugin: testsrc, rate: 100,"
             " params: {width: 64, height: 48, channels: 3, dtype: u8}}\n"
             "  - {name: check, plugin: verify,"
             " inputs: {in: {from: src/out, depth: 4, policy: block}}}\n"
             "  - {name: latency, plugin: stats, params: {interval: 1}, inputs: {in: src/out}}\n"
             "  - {name: inv, plugin: invert, inputs: {in: src/out}}\n"
             "  - {name: inv_stats, plugin: stats, params: {interval: 1},"
             " inputs: {in: inv/out}}\n"
             "  - {name: sink, plugin: \"null\", inputs: {in: src/out}}\n",
             pool);
    write_yaml(yaml);
}

/* The runtime directory of the test's run. */
static inline const char *run_dir(void)
{
    static char rt[256];
    snprintf(rt, sizeof rt, "%s/rt/%s", dir, pool);
    return rt;
}

/* Runs `xmem ARGS...` to its end with stdout into `out` and stderr into `out`.err; returns its
 * exit status. */
static inline int capture_xmem(const char *const *args, const char *out)
{
    char err[300];
    snprintf(err, sizeof err, "%s.err", out);
    return xf_wait(start_xmem_io(args, out, err));
}

/* Whether `xmem --version` says this build has `part` (top-screen, png, metrics). */
static inline bool xmem_built_with(const char *part)
{
    char out[256], without[64];
    snprintf(out, sizeof out, "%s/version", dir);
    snprintf(without, sizeof without, "without %s", part);
    capture_xmem((const char *[]){"--version", NULL}, out);
    const char *text = read_file(out);
    return text && !strstr(text, without);
}

static inline struct fy_document *json_doc(const char *path)
{
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_JSON_AUTO};
    return fy_document_build_from_file(&cfg, path);
}

static inline const char *doc_str(struct fy_document *doc, const char *path)
{
    struct fy_node *n = fy_node_by_path(fy_document_root(doc), path, FY_NT, FYNWF_DONT_FOLLOW);
    cr_assert(n != NULL && fy_node_is_scalar(n), "no %s in the document", path);
    return fy_node_get_scalar0(n);
}

static inline double doc_num(struct fy_document *doc, const char *path)
{
    return strtod(doc_str(doc, path), NULL);
}

static inline int doc_len(struct fy_document *doc, const char *path)
{
    struct fy_node *n = fy_node_by_path(fy_document_root(doc), path, FY_NT, FYNWF_DONT_FOLLOW);
    cr_assert(n != NULL && fy_node_is_sequence(n), "no list %s in the document", path);
    return fy_node_sequence_item_count(n);
}

/* Waits (up to 20 s) until `xmem ps --json` lists the run with all `nodes` running and the source
 * has sent frames; fails the test if the run (pid `run`) ends first. */
static inline void wait_running(pid_t run, int nodes)
{
    char out[256];
    snprintf(out, sizeof out, "%s/ps.json", dir);
    for (int i = 0; i < 400; i++, xf_sleep_ms(50)) {
        cr_assert(eq(int, waitpid(run, NULL, WNOHANG), 0), "the run ended:\n%s",
                  read_file(log_path));
        if (capture_xmem((const char *[]){"ps", "--json", NULL}, out) != 0)
            continue;
        struct fy_document *doc = json_doc(out);
        bool up =
            doc &&
            fy_node_by_path(fy_document_root(doc), "/graphs/0/running", FY_NT, FYNWF_DONT_FOLLOW) &&
            (int)doc_num(doc, "/graphs/0/running") == nodes;
        fy_document_destroy(doc);
        if (up) {
            xf_sleep_ms(500); /* frames flowing */
            return;
        }
    }
    cr_fatal("the graph did not start:\n%s", read_file(log_path));
}

#endif
