/* What the tests that run the real `xmem` share (tests/graph, tests/video): a scratch directory
 * per test process with the graph file, the program's log and its JSON summary, a pool name of the
 * test's own (xmemt_<tag>_<pid>, which tests/check_no_shm.sh knows) and a runtime directory of its
 * own; starting `xmem ARGS...` with its output in the log, reading the log and the summary back,
 * and checking that a run left nothing behind. Needs XMEM_CLI (the program's path), XMEM_EXAMPLES
 * (examples/) and libfyaml. */
#ifndef XMEM_TESTS_GRAPH_XMEM_RUN_H
#define XMEM_TESTS_GRAPH_XMEM_RUN_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "summary.h"

static char dir[128], graph[192], log_path[192], summary[192], pool[64];

/* Makes /tmp/xmemt-<tag>-<pid> and points XMEM_RUNTIME_DIR into it; the pool is
 * xmemt_<tag>_<pid>. */
static inline void xgr_setup(const char *tag)
{
    snprintf(dir, sizeof dir, "/tmp/xmemt-%s-%d", tag, (int)getpid());
    mkdir(dir, 0700);
    snprintf(graph, sizeof graph, "%s/graph.yaml", dir);
    snprintf(log_path, sizeof log_path, "%s/run.log", dir);
    snprintf(summary, sizeof summary, "%s/summary.json", dir);
    xf_pool_name(pool, sizeof pool, tag);
    char rt[160];
    snprintf(rt, sizeof rt, "%s/rt", dir);
    setenv("XMEM_RUNTIME_DIR", rt, 1);
}

static inline void xgr_teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* `name` in the scratch directory. */
static inline void scratch_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static inline void write_yaml(const char *yaml)
{
    FILE *f = fopen(graph, "w");
    cr_assert(f != NULL);
    fputs(yaml, f);
    fclose(f);
}

/* Example `example` of examples/ (XMEM_EXAMPLES) as the graph file, under the test's pool name
 * (its line "  name: xmem-...") and with every `replace` (when not NULL) replaced by `with`. */
static inline void write_example_with(const char *example, const char *replace, const char *with)
{
    char src[256];
    snprintf(src, sizeof src, "%s/%s", XMEM_EXAMPLES, example);
    FILE *in = fopen(src, "r"), *out = fopen(graph, "w");
    cr_assert(in != NULL && out != NULL, "%s", src);
    char line[512];
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "  name: xmem-", 13) == 0) {
            fprintf(out, "  name: %s\n", pool);
            continue;
        }
        const char *p = line, *at;
        while (replace && (at = strstr(p, replace))) {
            fprintf(out, "%.*s%s", (int)(at - p), p, with);
            p = at + strlen(replace);
        }
        fputs(p, out);
    }
    fclose(in);
    fclose(out);
}

/* The example graph under this test's pool name. */
static inline void write_example(const char *example)
{
    write_example_with(example, NULL, NULL);
}

/* Pids of the nodes, in graph order, from the launcher's node table; how many. */
static inline int node_pids(pid_t *pids, int max)
{
    char path[256];
    snprintf(path, sizeof path, "%s/rt/%s/nodes", dir, pool);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0, pid;
    char name[64], state[16];
    unsigned inputs;
    while (n < max && fscanf(f, "%63s %d %15s %u", name, &pid, state, &inputs) == 4)
        pids[n++] = pid;
    fclose(f);
    return n;
}

/* Starts `xmem ARGS...` with stdout into `out`, stderr into `err` (NULL: into `out` too) and `in`
 * as its descriptor `as` (0: stdin; 63: where bash puts a process substitution, <(...)); in -1:
 * none. */
static inline pid_t start_xmem_full(const char *const *args, const char *out, const char *err,
                                    int in, int as)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int efd = err ? open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600) : fd;
        dup2(fd, 1);
        dup2(efd, 2);
        if (in >= 0)
            dup2(in, as);
        char *argv[20] = {(char *)XMEM_CLI};
        for (int i = 0; args[i] && i < 18; i++)
            argv[i + 1] = (char *)args[i];
        execv(XMEM_CLI, argv);
        _exit(127);
    }
    return pid;
}

/* Starts `xmem ARGS...` with stdout into `out` and stderr into `err` (NULL: into `out` too). */
static inline pid_t start_xmem_io(const char *const *args, const char *out, const char *err)
{
    return start_xmem_full(args, out, err, -1, 0);
}

/* Starts `xmem ARGS...` with stdout and stderr into `log`, and `in` as its descriptor `as`. */
static inline pid_t start_xmem_in(const char *const *args, const char *log, int in, int as)
{
    return start_xmem_full(args, log, NULL, in, as);
}

/* Starts `xmem ARGS...` with stdout and stderr into `log`. */
static inline pid_t start_xmem_to(const char *const *args, const char *log)
{
    return start_xmem_in(args, log, -1, 0);
}

/* Starts `xmem ARGS...` with stdout and stderr into log_path. */
static inline pid_t start_xmem(const char *const *args)
{
    return start_xmem_to(args, log_path);
}

static inline int run_xmem(const char *const *args)
{
    return xf_wait(start_xmem(args));
}

static inline char *read_file(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static inline const char *log_text(void)
{
    const char *log = read_file(log_path);
    return log ? log : "(no log)";
}

static inline bool log_has(const char *text)
{
    const char *log = read_file(log_path);
    return log && strstr(log, text);
}

/* Nothing of the pool in /dev/shm and no runtime directory. */
static inline void assert_clean(void)
{
    DIR *d = opendir("/dev/shm");
    cr_assert(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)))
        cr_assert(ne(int, strncmp(e->d_name, pool, strlen(pool)), 0), "left behind: /dev/shm/%s",
                  e->d_name);
    closedir(d);
    char rt[256];
    snprintf(rt, sizeof rt, "%s/rt/%s", dir, pool);
    cr_assert(ne(int, access(rt, F_OK), 0), "runtime directory %s left behind", rt);
}

/* The summary as a document (destroy it with fy_document_destroy), or a failed test. */
static inline struct fy_document *summary_doc(void)
{
    struct fy_document *doc = fy_document_build_from_file(NULL, summary);
    cr_assert(doc != NULL, "summary %s not written or not JSON; log:\n%s", summary, log_text());
    return doc;
}

/* True when the summary has `path`. */
static inline bool summary_has(struct fy_document *doc, const char *path)
{
    return fy_node_by_path(fy_document_root(doc), path, FY_NT, FYNWF_DONT_FOLLOW) != NULL;
}

/* The summary lists nodes `names` in this order, each done (ended well) without a restart. */
static inline void assert_all_done(struct fy_document *doc, const char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof path, "/nodes/%d/name", i);
        cr_assert(eq(str, (char *)summary_str(doc, path), (char *)names[i]));
        snprintf(path, sizeof path, "/nodes/%d/state", i);
        cr_assert(eq(str, (char *)summary_str(doc, path), "done"), "node %s:\n%s", names[i],
                  log_text());
        snprintf(path, sizeof path, "/nodes/%d/restarts", i);
        cr_assert(eq(long, summary_num(doc, path), 0), "node %s", names[i]);
    }
}

#endif
