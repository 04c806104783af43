/* `xmem chaos GRAPH`: runs the graph under `xmem run` while hurting a random consumer every
 * --min..--max seconds with one of the --faults kinds (a SIGKILL; a SIGSTOP left for the
 * launcher's watchdog, taken between callbacks or inside one; a SIGSTOP and SIGCONT shorter than
 * the watchdog's limit), and checks what must survive it: every killed node's references back in
 * the pool within --reclaim-limit (measured from the kill, outside the launcher), every stopped
 * one found stuck, killed and its references back within its limit + 1 s, a paused one running
 * on, no frame failing verification (a verify node exits 1 on one; any death that is not one of
 * our faults fails the run), the sources never stalled longer than --stall-limit, and every
 * buffer free at the end. Prints a report; exits 0 only if all of it held. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <libfyaml.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xmem/pool_admin.h>
#include <xmem/node.h>
#include <xmem/pool.h>

#include "cli_util.h"
#include "commands.h"
#include "common/proc.h"
#include "common/exit_status.h"
#include "graph/graph.h"
#include "graph/runtime_dir.h"
#include "graph/watchdog.h"
#include "nodes/node_stats.h"

#define MAX_KILLS 4096

/* The kinds of fault, in --faults. */
typedef enum fault {
    FAULT_KILL,  /* SIGKILL: references back within --reclaim-limit */
    FAULT_STOP,  /* SIGSTOP between callbacks, left: the watchdog kills it within limit + 1 s */
    FAULT_STUCK, /* SIGSTOP inside a callback, left: the watchdog's callback timer, the same */
    FAULT_PAUSE, /* SIGSTOP, SIGCONT after a third of the limit: it must run on */
    FAULT_COUNT_,
} fault;

static const char *const fault_names[] = {"kill", "stop", "stuck", "pause"};

typedef struct kill_record {
    pid_t pid;
    fault kind;
    char node[XMEMI_GRAPH_NAME_MAX];
    uint64_t held;       /* references it held just before the fault */
    uint64_t reclaim_ns; /* fault -> it holds nothing (a stop: and is dead; UINT64_MAX: never);
                          * a pause: 0 if it ran on, UINT64_MAX if it died */
    uint64_t limit_ns;   /* what reclaim_ns must not exceed */
    char callback[16];   /* stuck: the callback it was stopped in */
} kill_record;

/* What chaos knows of a node from the graph. */
typedef struct node_info {
    char name[XMEMI_GRAPH_NAME_MAX];
    uint64_t stuck_limit_ms; /* the watchdog's limit between callbacks and in process */
    bool blocks;             /* an input with policy block: stopping it throttles its source */
} node_info;

typedef struct chaos {
    double duration, min_s, max_s, reclaim_limit_ms, stall_limit_ms;
    unsigned seed;
    bool faults[FAULT_COUNT_];
    const char *graph;
    char summary[256];
    char rundir[200];
    node_info nodes[XMEMI_GRAPH_MAX_NODES];
    uint32_t n_nodes;
    xmemi_stats_map stats; /* the launcher's stats file: which callback a node is in */
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
            "Runs GRAPH with `xmem run` and hurts a random running consumer (a node with\n"
            "inputs) every MIN..MAX seconds with one of the fault kinds:\n"
            "  kill   SIGKILL; its references must be back within the reclaim limit\n"
            "  stop   SIGSTOP, left: the watchdog must find it stuck, kill it and give its\n"
            "         references back within its stuck_after_ms + 1 s\n"
            "  stuck  SIGSTOP while it is inside a callback (the watchdog's callback timer), left\n"
            "  pause  SIGSTOP, then SIGCONT after a third of its stuck_after_ms: it must run on\n"
            "stop, stuck and pause pick consumers without a `block` input (a stopped `block`\n"
            "consumer throttles its source). Checks: the above, no node dies other than by our\n"
            "faults (a verify node that sees a bad frame exits 1), no source stalls longer than\n"
            "the stall limit, and all buffers are free at the end. Consumers need a restart\n"
            "policy (on-failure or always) with a limit above the number of faults. Exit\n"
            "status: 0 when every check held, 1 when one did not (or it was interrupted), 2 on\n"
            "bad usage, 3 when the graph does not validate. GRAPH must be a file (not `-` or a\n"
            "pipe): `xmem run` is given its path and reads it again.\n"
            "\n"
            "  -d, --duration S        seconds to run (default 30)\n"
            "      --min S             shortest pause between kills (default 0.5)\n"
            "      --max S             longest pause between kills (default 2)\n"
            "      --faults LIST       kinds to draw from, comma-separated (default\n"
            "                          kill,stop,stuck,pause)\n"
            "      --reclaim-limit MS  (default 50)\n"
            "      --stall-limit MS    (default 1000)\n"
            "      --seed N            random seed (default: from the clock; printed)\n"
            "  -h, --help              this text\n");
}

static const node_info *info_of(const chaos *c, const char *name, uint32_t *slot)
{
    for (uint32_t i = 0; i < c->n_nodes; i++)
        if (strcmp(c->nodes[i].name, name) == 0) {
            *slot = i;
            return &c->nodes[i];
        }
    return NULL;
}

/* The launcher's node table: a running consumer's pid, chosen at random; for a stop of any kind
 * only one without a `block` input. */
static pid_t pick_victim(const chaos *c, bool stop, char *name, size_t len)
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
           fscanf(f, "%63s %d %15s %u", node, &pid, state, &inputs) == 4) {
        uint32_t slot;
        const node_info *ni = info_of(c, node, &slot);
        if (inputs > 0 && pid > 0 && strcmp(state, "running") == 0 && ni && !(stop && ni->blocks)) {
            snprintf(cand[n].name, sizeof cand[n].name, "%s", node);
            cand[n++].pid = pid;
        }
    }
    fclose(f);
    if (n == 0)
        return 0;
    int k = rand() % n;
    snprintf(name, len, "%s", cand[k].name);
    return cand[k].pid;
}

/* Stops pid now; for `in_callback`, only once it is inside a callback of its plugin (the slot
 * says which; stopped, it can no longer leave it). False if it could not be caught in one. */
static bool stop_node(chaos *c, kill_record *k, uint32_t slot, bool in_callback)
{
    for (int tries = 0; tries < 2000; tries++) {
        const xmemi_node_watch *w = &c->stats.file->nodes[slot].watch;
        if (in_callback && __atomic_load_n(&w->callback, __ATOMIC_ACQUIRE) == XMEMI_CB_NONE) {
            sleep_ns(100000);
            continue;
        }
        if (kill(k->pid, SIGSTOP) != 0)
            return false;
        for (int i = 0; i < 1000 && xmemi_proc_state(k->pid) != 'T'; i++)
            sleep_ns(50000);
        xmemi_callback cb = (xmemi_callback)__atomic_load_n(&w->callback, __ATOMIC_ACQUIRE);
        if (!in_callback || cb != XMEMI_CB_NONE) {
            snprintf(k->callback, sizeof k->callback, "%s", xmemi_callback_name(cb));
            return true;
        }
        kill(k->pid, SIGCONT); /* it left the callback before the stop landed: again */
    }
    return false;
}

/* Waits until pid holds no reference (and, with `dead`, is dead too: a stopped node holding
 * nothing is not yet dealt with): the time since t0, or UINT64_MAX after `wait_ns`. Pool owner
 * ids are not slot numbers, so the pool cannot be asked by slot whether pid is still attached. */
static uint64_t reclaimed_after(xmem_pool_t *pool, pid_t pid, bool dead, uint64_t t0,
                                uint64_t wait_ns)
{
    while (xmem_node_clock_ns() - t0 < wait_ns) {
        if (!(dead && xmemi_proc_alive(pid, 0)) && xmem_pool_held_by_pid(pool, pid) == 0)
            return xmem_node_clock_ns() - t0;
        sleep_ns(200000);
    }
    return UINT64_MAX;
}

static void fault_one(chaos *c, xmem_pool_t *pool)
{
    if (c->n_kills == MAX_KILLS)
        return;
    fault kinds[FAULT_COUNT_];
    int n = 0;
    for (int f = 0; f < FAULT_COUNT_; f++)
        if (c->faults[f] && (f == FAULT_KILL || c->stats.file))
            kinds[n++] = (fault)f;
    if (!n)
        return;
    kill_record *k = &c->kills[c->n_kills];
    *k = (kill_record){.kind = kinds[rand() % n]};
    pid_t pid = pick_victim(c, k->kind != FAULT_KILL, k->node, sizeof k->node);
    uint32_t slot = 0;
    const node_info *ni = pid ? info_of(c, k->node, &slot) : NULL;
    if (!ni)
        return;
    k->pid = pid;
    k->held = xmem_pool_held_by_pid(pool, pid);
    uint64_t limit_ns = ni->stuck_limit_ms * 1000000ull, t0 = xmem_node_clock_ns();
    switch (k->kind) {
    case FAULT_KILL:
        if (kill(pid, SIGKILL) != 0)
            return;
        k->limit_ns = (uint64_t)(c->reclaim_limit_ms * 1e6);
        k->reclaim_ns = reclaimed_after(pool, pid, false, t0, 2000000000ull);
        break;
    case FAULT_STOP:
    case FAULT_STUCK:
        if (!stop_node(c, k, slot, k->kind == FAULT_STUCK))
            return;
        t0 = xmem_node_clock_ns(); /* from the stop, not from the hunt for a callback */
        k->limit_ns = limit_ns + 1000000000ull;
        k->reclaim_ns = reclaimed_after(pool, pid, true, t0, k->limit_ns + 2000000000ull);
        if (k->reclaim_ns == UINT64_MAX)
            kill(pid, SIGKILL); /* not found: do not leave it stopped */
        break;
    case FAULT_PAUSE:
        if (!stop_node(c, k, slot, false))
            return;
        sleep_ns(limit_ns / 3);
        kill(pid, SIGCONT);
        sleep_ns(200000000ull);
        k->reclaim_ns = xmemi_proc_alive(pid, 0) ? 0 : UINT64_MAX;
        break;
    default: return;
    }
    c->n_kills++;
}

static bool parse_faults(chaos *c, const char *list)
{
    memset(c->faults, 0, sizeof c->faults);
    char copy[128];
    snprintf(copy, sizeof copy, "%s", list);
    char *save = NULL;
    bool any = false;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int f = 0;
        while (f < FAULT_COUNT_ && strcmp(t, fault_names[f]) != 0)
            f++;
        if (f == FAULT_COUNT_) {
            fprintf(stderr, "xmem chaos: --faults: unknown kind '%s' (kill, stop, stuck, pause)\n",
                    t);
            return false;
        }
        c->faults[f] = any = true;
    }
    if (!any)
        fprintf(stderr, "xmem chaos: --faults: give at least one kind\n");
    return any;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A SIGKILL of ours, or the watchdog's of a node we stopped (a paused node must not die). */
static bool was_killed(const chaos *c, long pid)
{
    for (uint32_t i = 0; i < c->n_kills; i++)
        if (c->kills[i].pid == pid && c->kills[i].kind != FAULT_PAUSE)
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
    printf("== xmem chaos: %s, %.0f s, seed %u\n", c->graph, c->duration, c->seed);
    uint32_t per_kind[FAULT_COUNT_] = {0};
    for (uint32_t i = 0; i < c->n_kills; i++)
        per_kind[c->kills[i].kind]++;
    printf("  faults: %u (kill %u, stop %u, stuck %u, pause %u) on a random consumer every "
           "%.1f..%.1f s\n",
           c->n_kills, per_kind[FAULT_KILL], per_kind[FAULT_STOP], per_kind[FAULT_STUCK],
           per_kind[FAULT_PAUSE], c->min_s, c->max_s);
    int failures = c->n_kills == 0;
    for (uint32_t i = 0; i < c->n_kills; i++) {
        const kill_record *k = &c->kills[i];
        bool bad = k->reclaim_ns == UINT64_MAX || k->reclaim_ns > k->limit_ns;
        failures += bad;
        printf("    #%-3u %-5s %-12s pid %-7d held %3llu refs, ", i + 1, fault_names[k->kind],
               k->node, (int)k->pid, (unsigned long long)k->held);
        if (k->kind == FAULT_PAUSE)
            printf("%s", bad ? "died" : "ran on after its SIGCONT");
        else if (k->reclaim_ns == UINT64_MAX)
            printf("NEVER back");
        else
            printf("%s%s%s back in %.2f ms (limit %.0f ms)",
                   k->kind == FAULT_STUCK ? "stopped in " : "",
                   k->kind == FAULT_STUCK ? k->callback : "",
                   k->kind == FAULT_KILL ? ""
                                         : (k->kind == FAULT_STUCK ? ", found stuck, killed,"
                                                                   : "found stuck, killed,"),
                   (double)k->reclaim_ns / 1e6, (double)k->limit_ns / 1e6);
        printf("%s\n", bad ? "   <-- FAIL" : "");
    }
    for (int f = 0; f < FAULT_COUNT_; f++) {
        uint64_t lat[MAX_KILLS];
        uint32_t n = 0;
        uint64_t held_max = 0;
        for (uint32_t i = 0; i < c->n_kills; i++)
            if (c->kills[i].kind == (fault)f && f != FAULT_PAUSE) {
                lat[n++] = c->kills[i].reclaim_ns;
                held_max = c->kills[i].held > held_max ? c->kills[i].held : held_max;
            }
        if (!n)
            continue;
        qsort(lat, n, sizeof lat[0], cmp_u64);
        printf("  %s: references back after the fault: p50 %.2f ms, max %.2f ms, most held %llu\n",
               fault_names[f], (double)lat[n / 2] / 1e6,
               lat[n - 1] == UINT64_MAX ? -1.0 : (double)lat[n - 1] / 1e6,
               (unsigned long long)held_max);
    }
    if (c->n_kills == 0)
        printf("  no fault happened   <-- FAIL\n");
    failures += check_summary(c);
    printf("== %s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}

int xmemi_cmd_chaos(int argc, char **argv)
{
    enum { O_MIN = 256, O_MAX, O_RECLAIM, O_STALL, O_SEED, O_FAULTS };
    static const struct option opts[] = {
        {"duration", required_argument, 0, 'd'},
        {"min", required_argument, 0, O_MIN},
        {"max", required_argument, 0, O_MAX},
        {"reclaim-limit", required_argument, 0, O_RECLAIM},
        {"stall-limit", required_argument, 0, O_STALL},
        {"seed", required_argument, 0, O_SEED},
        {"faults", required_argument, 0, O_FAULTS},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    static chaos c;
    c = (chaos){.duration = 30,
                .min_s = 0.5,
                .max_s = 2,
                .reclaim_limit_ms = 50,
                .stall_limit_ms = 1000,
                .seed = (unsigned)xmem_node_clock_ns(),
                .faults = {true, true, true, true}};
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
        case O_FAULTS: ok = parse_faults(&c, optarg); break;
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
    struct stat st;
    if (strcmp(c.graph, "-") == 0 ||
        (stat(c.graph, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
        fprintf(stderr,
                "xmem chaos: %s: give a graph file: `xmem run` is handed its path and reads it "
                "again, and stdin or a pipe can be read only once\n",
                c.graph);
        return XMEMI_EXIT_USAGE;
    }
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
    c.n_nodes = g.n_nodes;
    for (uint32_t i = 0; i < g.n_nodes; i++) {
        node_info *ni = &c.nodes[i];
        snprintf(ni->name, sizeof ni->name, "%s", g.nodes[i].name);
        ni->stuck_limit_ms = xmemi_watchdog_limit_ms(&g.nodes[i], XMEMI_CB_PROCESS);
        for (uint32_t e = 0; e < g.nodes[i].n_inputs; e++)
            ni->blocks |= g.nodes[i].inputs[e].policy == XMEM_POLICY_BLOCK;
    }
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
    char stats_path[256];
    snprintf(stats_path, sizeof stats_path, "%s/stats", c.rundir);
    if (pool && xmemi_stats_open(stats_path, 0, &c.stats, &err) != XMEM_OK)
        fprintf(stderr, "xmem chaos: %s: only kills\n", err.msg);
    if (pool) {
        uint64_t stop_at = start + (uint64_t)((c.duration - 1.0) * 1e9);
        while (!interrupted) {
            double pause = c.min_s + (c.max_s - c.min_s) * ((double)rand() / RAND_MAX);
            uint64_t next = xmem_node_clock_ns() + (uint64_t)(pause * 1e9);
            if (next >= stop_at)
                break;
            sleep_ns(next - xmem_node_clock_ns());
            fault_one(&c, pool);
        }
        xmemi_stats_close(&c.stats);
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
