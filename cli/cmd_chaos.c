/* `xmem chaos GRAPH`: runs the graph under `xmem run` while SIGKILLing a random consumer every
 * --min..--max seconds, and checks what must survive it: every killed node's references back in
 * the pool within --reclaim-limit (measured from the kill, outside the launcher), no frame
 * failing verification (a verify node exits 1 on one; any death that is not one of our kills
 * fails the run), the sources never stalled longer than --stall-limit, and every buffer free at
 * the end. Prints a report; exits 0 only if all of it held. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <libfyaml.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xmem/pool_admin.h>
#include <xmem/node.h>
#include <xmem/pool.h>

#include "cli_util.h"
#include "commands.h"
#include "common/exit_status.h"
#include "graph/graph.h"
#include "graph/runtime_dir.h"

#define MAX_KILLS 4096

typedef struct kill_record {
    pid_t pid;
    char node[XMEMI_GRAPH_NAME_MAX];
    uint64_t held;       /* references it held just before the kill */
    uint64_t reclaim_ns; /* kill -> its attachments gone and nothing held (UINT64_MAX: never) */
} kill_record;

typedef struct chaos {
    double duration, min_s, max_s, reclaim_limit_ms, stall_limit_ms;
    unsigned seed;
    const char *graph;
    char summary[256];
    char rundir[200];
    kill_record kills[MAX_KILLS];
    uint32_t n_kills;
} chaos;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull),
                          .tv_nsec = (long)(ns % 1000000000ull)};
    nanosleep(&ts, NULL);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xmem chaos [options] GRAPH.yaml\n"
            "\n"
            "Runs GRAPH with `xmem run` and SIGKILLs a random running consumer (a node with\n"
            "inputs) every MIN..MAX seconds. Checks: every killed node's references are back in\n"
            "the pool within the reclaim limit (measured from the kill), no node dies other than\n"
            "by our kills (a verify node that sees a bad frame exits 1), no source stalls longer\n"
            "than the stall limit, and all buffers are free at the end. Consumers need a restart\n"
            "policy (on-failure or always) with a limit above the number of kills. Exit status:\n"
            "0 when every check held, 1 when one did not (or it was interrupted), 2 on bad\n"
            "usage, 3 when the graph does not validate.\n"
            "\n"
            "  -d, --duration S        seconds to run (default 30)\n"
            "      --min S             shortest pause between kills (default 0.5)\n"
            "      --max S             longest pause between kills (default 2)\n"
            "      --reclaim-limit MS  (default 50)\n"
            "      --stall-limit MS    (default 1000)\n"
            "      --seed N            random seed (default: from the clock; printed)\n"
            "  -h, --help              this text\n");
}

/* The launcher's node table: a running consumer's pid, chosen at random. */
static pid_t pick_victim(const chaos *c, char *name, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/nodes", c->rundir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    struct {
        char name[XMEMI_GRAPH_NAME_MAX];
        int pid;
    } cand[XMEMI_GRAPH_MAX_NODES];
    int n = 0, pid;
    unsigned inputs;
    char node[XMEMI_GRAPH_NAME_MAX], state[16];
    while (n < XMEMI_GRAPH_MAX_NODES &&
           fscanf(f, "%63s %d %15s %u", node, &pid, state, &inputs) == 4)
        if (inputs > 0 && pid > 0 && strcmp(state, "running") == 0) {
            snprintf(cand[n].name, sizeof cand[n].name, "%s", node);
            cand[n++].pid = pid;
        }
    fclose(f);
    if (n == 0)
        return 0;
    int k = rand() % n;
    snprintf(name, len, "%s", cand[k].name);
    return cand[k].pid;
}

static bool attached(const xmem_pool_t *pool, pid_t pid)
{
    for (uint32_t id = 0; id < XMEM_POOL_MAX_PROCS; id++)
        if (xmem_pool_owner_pid(pool, id) == pid)
            return true;
    return false;
}

static void kill_one(chaos *c, xmem_pool_t *pool)
{
    if (c->n_kills == MAX_KILLS)
        return;
    kill_record *k = &c->kills[c->n_kills];
    pid_t pid = pick_victim(c, k->node, sizeof k->node);
    if (!pid)
        return;
    k->pid = pid;
    k->held = xmem_pool_held_by_pid(pool, pid);
    uint64_t t0 = xmem_node_clock_ns();
    if (kill(pid, SIGKILL) != 0)
        return;
    c->n_kills++;
    k->reclaim_ns = UINT64_MAX;
    while (xmem_node_clock_ns() - t0 < 2000000000ull) {
        if (!attached(pool, pid) && xmem_pool_held_by_pid(pool, pid) == 0) {
            k->reclaim_ns = xmem_node_clock_ns() - t0;
            break;
        }
        sleep_ns(200000);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool was_killed(const chaos *c, long pid)
{
    for (uint32_t i = 0; i < c->n_kills; i++)
        if (c->kills[i].pid == pid)
            return true;
    return false;
}

static long num(struct fy_node *map, const char *path)
{
    struct fy_node *n = fy_node_by_path(map, path, FY_NT, FYNWF_DONT_FOLLOW);
    const char *s = n ? fy_node_get_scalar0(n) : NULL;
    return s ? strtol(s, NULL, 10) : -1;
}

static double dnum(struct fy_node *map, const char *path)
{
    struct fy_node *n = fy_node_by_path(map, path, FY_NT, FYNWF_DONT_FOLLOW);
    const char *s = n ? fy_node_get_scalar0(n) : NULL;
    return s ? strtod(s, NULL) : -1;
}

/* Reads the launcher's JSON summary (JSON is YAML) and checks deaths, stalls and the pool. */
static int check_summary(const chaos *c)
{
    struct fy_document *doc = fy_document_build_from_file(NULL, c->summary);
    if (!doc) {
        fprintf(stderr, "xmem chaos: cannot read the summary %s\n", c->summary);
        return 1;
    }
    struct fy_node *root = fy_document_root(doc);
    int failures = 0;
    long buffers = num(root, "/pool/buffers"), free_end = num(root, "/pool/free_at_end");
    printf("  pool: %ld of %ld buffers free at the end%s\n", free_end, buffers,
           free_end == buffers && buffers > 0 ? "" : "   <-- FAIL");
    failures += !(free_end == buffers && buffers > 0);
    struct fy_node *nodes = fy_node_by_path(root, "/nodes", FY_NT, FYNWF_DONT_FOLLOW);
    void *it = NULL;
    struct fy_node *n;
    while (nodes && (n = fy_node_sequence_iterate(nodes, &it))) {
        const char *name = fy_node_get_scalar0(fy_node_by_path(n, "/name", FY_NT, 0));
        double stall = dnum(n, "/max_stall_ms");
        long restarts = num(n, "/restarts"), in = num(n, "/in"), out = num(n, "/out");
        printf("  %-12s in %8ld  out %8ld  restarts %3ld", name ? name : "?", in, out, restarts);
        if (stall >= 0) {
            bool ok = stall <= c->stall_limit_ms;
            printf("  longest source stall %.1f ms%s", stall, ok ? "" : "   <-- FAIL");
            failures += !ok;
        }
        printf("\n");
        struct fy_node *deaths = fy_node_by_path(n, "/deaths", FY_NT, FYNWF_DONT_FOLLOW);
        void *jt = NULL;
        struct fy_node *d;
        while (deaths && (d = fy_node_sequence_iterate(deaths, &jt))) {
            long pid = num(d, "/pid"), sig = num(d, "/signal"), code = num(d, "/exit_code");
            bool ours = sig == SIGKILL && was_killed(c, pid);
            if (!ours && code != 0) {
                printf("    death not caused by chaos: pid %ld, signal %ld, exit code %ld   <-- "
                       "FAIL\n",
                       pid, sig, code);
                failures++;
            }
        }
    }
    long status = num(root, "/exit_status");
    printf("  launcher exit status: %ld%s\n", status, status == 0 ? "" : "   <-- FAIL");
    failures += status != 0;
    fy_document_destroy(doc);
    return failures;
}

static int report(const chaos *c)
{
    uint64_t lat[MAX_KILLS];
    uint32_t late = 0, never = 0;
    uint64_t held_max = 0;
    for (uint32_t i = 0; i < c->n_kills; i++) {
        lat[i] = c->kills[i].reclaim_ns;
        late += lat[i] != UINT64_MAX && lat[i] > (uint64_t)(c->reclaim_limit_ms * 1e6);
        never += lat[i] == UINT64_MAX;
        if (c->kills[i].held > held_max)
            held_max = c->kills[i].held;
    }
    qsort(lat, c->n_kills, sizeof lat[0], cmp_u64);
    printf("== xmem chaos: %s, %.0f s, seed %u\n", c->graph, c->duration, c->seed);
    printf("  kills: %u (SIGKILL of a random consumer every %.1f..%.1f s)\n", c->n_kills, c->min_s,
           c->max_s);
    for (uint32_t i = 0; i < c->n_kills; i++)
        printf("    #%-3u %-12s pid %-7d held %3llu refs, back in %s%.2f ms\n", i + 1,
               c->kills[i].node, (int)c->kills[i].pid, (unsigned long long)c->kills[i].held,
               c->kills[i].reclaim_ns == UINT64_MAX ? "NEVER " : "",
               c->kills[i].reclaim_ns == UINT64_MAX ? 0 : (double)c->kills[i].reclaim_ns / 1e6);
    if (c->n_kills)
        printf("  references back after a kill: p50 %.2f ms, max %.2f ms (limit %.0f ms), most "
               "held at a kill %llu%s\n",
               (double)lat[c->n_kills / 2] / 1e6,
               lat[c->n_kills - 1] == UINT64_MAX ? -1.0 : (double)lat[c->n_kills - 1] / 1e6,
               c->reclaim_limit_ms, (unsigned long long)held_max,
               late || never ? "   <-- FAIL" : "");
    int failures = (late > 0) + (never > 0) + (c->n_kills == 0);
    if (c->n_kills == 0)
        printf("  no kill happened   <-- FAIL\n");
    failures += check_summary(c);
    printf("== %s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}

int xmemi_cmd_chaos(int argc, char **argv)
{
    enum { O_MIN = 256, O_MAX, O_RECLAIM, O_STALL, O_SEED };
    static const struct option opts[] = {
        {"duration", required_argument, 0, 'd'},
        {"min", required_argument, 0, O_MIN},
        {"max", required_argument, 0, O_MAX},
        {"reclaim-limit", required_argument, 0, O_RECLAIM},
        {"stall-limit", required_argument, 0, O_STALL},
        {"seed", required_argument, 0, O_SEED},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    static chaos c;
    c = (chaos){.duration = 30,
                .min_s = 0.5,
                .max_s = 2,
                .reclaim_limit_ms = 50,
                .stall_limit_ms = 1000,
                .seed = (unsigned)xmem_node_clock_ns()};
    long long seed;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        bool ok = true;
        switch (opt) {
        case 'd': ok = xmemi_cli_double("--duration", optarg, 3, 86400, &c.duration); break;
        case O_MIN: ok = xmemi_cli_double("--min", optarg, 0.01, 3600, &c.min_s); break;
        case O_MAX: ok = xmemi_cli_double("--max", optarg, 0.01, 3600, &c.max_s); break;
        case O_RECLAIM:
            ok = xmemi_cli_double("--reclaim-limit", optarg, 0.1, 60000, &c.reclaim_limit_ms);
            break;
        case O_STALL:
            ok = xmemi_cli_double("--stall-limit", optarg, 1, 600000, &c.stall_limit_ms);
            break;
        case O_SEED:
            ok = xmemi_cli_int("--seed", optarg, 0, 4294967295ll, &seed);
            c.seed = (unsigned)seed;
            break;
        case 'h': usage(stdout); return XMEMI_EXIT_OK;
        default: usage(stderr); return XMEMI_EXIT_USAGE;
        }
        if (!ok)
            return XMEMI_EXIT_USAGE;
    }
    if (optind + 1 != argc || c.max_s < c.min_s) {
        fprintf(stderr, "xmem chaos: give one graph file, and --min <= --max (see --help)\n");
        return XMEMI_EXIT_USAGE;
    }
    c.graph = argv[optind];
    static xmemi_graph g;
    xmem_error_t err;
    xmem_err rc = xmemi_graph_parse(c.graph, &g, &err);
    if (!rc)
        rc = xmemi_graph_check(&g, &err);
    if (!rc)
        rc = xmemi_runtime_dir_path(g.pool_name, c.rundir, sizeof c.rundir, &err);
    if (rc) {
        fprintf(stderr, "xmem chaos: %s\n", err.msg);
        xmemi_graph_free(&g);
        return xmemi_exit_for(rc);
    }
    char pool_name[XMEMI_GRAPH_NAME_MAX];
    snprintf(pool_name, sizeof pool_name, "%s", g.pool_name);
    xmemi_graph_free(&g);
    srand(c.seed);
    snprintf(c.summary, sizeof c.summary, "/tmp/xmem-chaos-%d.json", (int)getpid());
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        fprintf(stderr, "xmem chaos: cannot read /proc/self/exe: %s\n", strerror(errno));
        return XMEMI_EXIT_FAILED;
    }
    self[sl] = '\0';
    char duration[32];
    snprintf(duration, sizeof duration, "%.3f", c.duration);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    pid_t launcher = fork();
    if (launcher == 0) {
        execl(self, self, "run", "--duration", duration, "--interval", "5", "--summary", c.summary,
              c.graph, (char *)NULL);
        _exit(127);
    }
    if (launcher < 0) {
        fprintf(stderr, "xmem chaos: cannot start `xmem run`: %s\n", strerror(errno));
        return XMEMI_EXIT_FAILED;
    }
    /* The pool exists once the launcher has started its nodes. */
    xmem_pool_t *pool = NULL;
    uint64_t start = xmem_node_clock_ns();
    while (!interrupted && xmem_pool_open(pool_name, &pool, NULL) != XMEM_OK &&
           xmem_node_clock_ns() - start < 10000000000ull)
        sleep_ns(50000000);
    if (pool) {
        uint64_t stop_at = start + (uint64_t)((c.duration - 1.0) * 1e9);
        while (!interrupted) {
            double pause = c.min_s + (c.max_s - c.min_s) * ((double)rand() / RAND_MAX);
            uint64_t next = xmem_node_clock_ns() + (uint64_t)(pause * 1e9);
            if (next >= stop_at)
                break;
            sleep_ns(next - xmem_node_clock_ns());
            kill_one(&c, pool);
        }
        xmem_pool_close(&pool);
    } else
        fprintf(stderr, "xmem chaos: pool '%s' did not appear\n", pool_name);
    if (interrupted)
        kill(launcher, SIGTERM);
    int status;
    while (waitpid(launcher, &status, 0) < 0 && errno == EINTR)
        if (interrupted)
            kill(launcher, SIGTERM);
    int failed = report(&c);
    unlink(c.summary);
    return interrupted || failed ? XMEMI_EXIT_FAILED : XMEMI_EXIT_OK;
}
