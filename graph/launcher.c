/* The launcher (launcher.h). One process per node, started as `xmem node` from this very
 * executable, each in its own process group (a terminal's Ctrl-C reaches only the launcher, which
 * stops sources first) and with PR_SET_PDEATHSIG (a killed launcher takes its nodes with it).
 * Deaths arrive as SIGCHLD on a signalfd: the dead node's references are given back at once, then
 * its restart policy applies. A stop sends SIGTERM to the sources; their end-of-stream marks
 * drain the rest, which is terminated only if it has not ended by the drain timeout. */
#define _GNU_SOURCE
#include "launcher.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xmem/pool_admin.h>
#include <xmem/cuda.h>
#include <xmem/node.h>
#include <xmem/pool.h>

#include "common/exit_status.h"
#include "common/fail.h"
#include "common/plural.h"
#include "mps.h"
#include "nodes/node_stats.h"
#include "run_edges.h"
#include "run_observers.h"
#include "run_report.h"
#include "runtime_dir.h"
#include "taps.h"
#include "watchdog.h"

#define TICK_MS 20
#define KILL_GRACE_NS (2ull * 1000000000ull)
#define EDGES_EVERY_NS (50ull * 1000000ull) /* the edge figures sampled */

typedef struct launcher {
    xmemi_graph *g;
    const xmemi_run_options *o;
    xmem_pool_t *pool;
    xmemi_runtime_dir dir;
    xmemi_stats_map stats;
    char stats_path[256];
    char self[PATH_MAX];
    xmemi_node_run runs[XMEMI_GRAPH_MAX_NODES];
    int sfd;
    uint64_t start_ns, end_ns; /* end_ns: when --duration runs out (0: never) */
    bool stopping;
    uint64_t drain_deadline_ns, kill_deadline_ns;
    bool terminated_all, killed_all;
    uint64_t next_table_ns, next_edges_ns;
    xmemi_run_observers observers;       /* node logs, live table, run.json, metrics, dot */
    uint32_t gen[XMEMI_GRAPH_MAX_NODES]; /* processes started per node */
    xmemi_run_edges edges;               /* per-edge figures over the whole run */
} launcher;

void xmemi_run_options_init(xmemi_run_options *o)
{
    memset(o, 0, sizeof *o);
    o->duration_s = -1;
    o->interval_s = 1.0;
    o->log_level = "info";
}

static void endpoint(const launcher *l, const char *node, const char *port, char *buf, size_t len)
{
    snprintf(buf, len, "ipc://%s/%s.%s", l->dir.path, node, port);
}

static bool live(xmemi_node_state s)
{
    return s == XMEMI_NODE_RUNNING || s == XMEMI_NODE_RESTARTING || s == XMEMI_NODE_STUCK;
}

/* Subscribers to wait for on output `port` of node i: the edges that name it from nodes that
 * run (or will run again). A restarted publisher must not wait for one that ended for good. */
static uint32_t subscribers(const launcher *l, uint32_t i, const char *port)
{
    return xmemi_watchdog_subscribers(l->g, l->runs, i, port, true);
}

/* The argument list of node i's `xmem node`; the strings live in `arena`. */
typedef struct args {
    char *argv[512];
    int argc;
    char arena[32768];
    size_t used;
} args;

static void add(args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends one argument; one that does not fit marks the list broken (argc -1): never a node
 * started with part of its wiring. */
static void add(args *a, const char *fmt, ...)
{
    if (a->argc < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(a->arena + a->used, sizeof a->arena - a->used, fmt, ap);
    va_end(ap);
    if (n < 0 || a->used + (size_t)n + 1 > sizeof a->arena || a->argc + 2 > 512) {
        a->argc = -1;
        return;
    }
    a->argv[a->argc++] = a->arena + a->used;
    a->used += (size_t)n + 1;
}

static bool node_args(const launcher *l, uint32_t i, args *a)
{
    const xmemi_graph_node *n = &l->g->nodes[i];
    char ep[256];
    a->argc = 0;
    a->used = 0;
    add(a, "%s", l->self);
    add(a, "node");
    add(a, "--plugin=%s", n->plugin);
    add(a, "--name=%s", n->name);
    add(a, "--pool=%s", l->g->pool_name);
    add(a, "--stats=%s:%u", l->stats_path, i);
    add(a, "--log-level=%s", n->log_level ? n->log_level : l->o->log_level);
    if (n->rate_hz > 0)
        add(a, "--rate=%.9g", n->rate_hz);
    if (n->acquire_timeout_ms)
        add(a, "--acquire-timeout=%d", n->acquire_timeout_ms);
    for (uint32_t k = 0; k < n->n_params; k++)
        add(a, "--param=%s=%s", n->params[k].name, n->params[k].value);
    for (uint32_t k = 0; k < n->n_inputs; k++) {
        const xmemi_graph_edge *e = &n->inputs[k];
        endpoint(l, e->from_node, e->from_port, ep, sizeof ep);
        add(a, "--input=%s=%s", e->port, ep);
        add(a, "--depth=%s=%u", e->port, e->depth);
        add(a, "--policy=%s=%s", e->port, xmem_queue_policy_name(e->policy));
        if (e->block_timeout_ms)
            add(a, "--block-timeout=%s=%d", e->port, e->block_timeout_ms);
    }
    const xmem_node_plugin *p = &n->loaded.desc;
    for (uint32_t k = 0; k < p->n_outputs; k++) {
        uint32_t subs = subscribers(l, i, p->outputs[k].name);
        if (!subs)
            continue; /* nobody listens: what it publishes there is released at once */
        endpoint(l, n->name, p->outputs[k].name, ep, sizeof ep);
        add(a, "--output=%s=%s", p->outputs[k].name, ep);
        add(a, "--expect=%s=%u", p->outputs[k].name, subs);
    }
    if (a->argc < 0)
        return false;
    a->argv[a->argc] = NULL;
    return true;
}

/* The table chaos tests and people read: "name pid state" per node, replaced atomically. */
static void write_node_table(const launcher *l)
{
    char path[256], tmp[260];
    snprintf(path, sizeof path, "%s/nodes", l->dir.path);
    snprintf(tmp, sizeof tmp, "%s.new", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    for (uint32_t i = 0; i < l->g->n_nodes; i++)
        fprintf(f, "%s %d %s %u\n", l->g->nodes[i].name, (int)l->runs[i].pid,
                xmemi_node_state_name(l->runs[i].state), l->g->nodes[i].n_inputs);
    if (fclose(f) == 0)
        rename(tmp, path);
    xmemi_run_observers_publish(&l->observers, l->runs, l->stopping);
    /* Every change of state passes here: sources waiting at their start learn who is alive. */
    xmemi_watchdog_publish_alive(l->g, l->runs, l->stats.file);
}

static bool spawn(launcher *l, uint32_t i)
{
    args *a = malloc(sizeof *a);
    if (!a || !node_args(l, i, a)) {
        fprintf(stderr, "xmem run: cannot start node '%s': its command line does not fit\n",
                l->g->nodes[i].name);
        free(a);
        return false;
    }
    /* The edge table of a previous process goes: the new one starts its figures again. */
    l->stats.file->nodes[i].edges.n_out = 0;
    l->stats.file->nodes[i].edges.n_in = 0;
    l->gen[i]++;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        setpgid(0, 0);
        /* SIGTERM and SIGINT stay blocked through exec until the node host has its handlers
         * (it unblocks them then): a stop that comes while a node is still starting then stops
         * it in order, where the default action killed it and it counted as failed. */
        sigset_t stops;
        sigemptyset(&stops);
        sigaddset(&stops, SIGTERM);
        sigaddset(&stops, SIGINT);
        sigprocmask(SIG_SETMASK, &stops, NULL);
        xmemi_node_logs_child(&l->observers.logs, i);
        execv(a->argv[0], a->argv);
        fprintf(stderr, "xmem run: cannot start node '%s': exec %s: %s\n", l->g->nodes[i].name,
                a->argv[0], strerror(errno));
        _exit(127);
    }
    free(a);
    if (pid > 0)
        setpgid(pid, pid); /* also here: a signal to it must not reach ours before it runs */
    if (pid < 0) {
        fprintf(stderr, "xmem run: cannot start node '%s': fork: %s\n", l->g->nodes[i].name,
                strerror(errno));
        return false;
    }
    xmemi_node_run *r = &l->runs[i];
    r->pid = pid;
    r->state = XMEMI_NODE_RUNNING;
    r->orphan_deadline_ns = 0;
    r->last_progress_ns = xmem_node_clock_ns();
    r->last_out = xmemi_stats_read(&l->stats.file->nodes[i].out);
    r->started_ns = r->last_progress_ns;
    r->stopped_since_ns = 0;
    r->next_proc_ns = 0;
    r->inits_at_spawn = __atomic_load_n(&l->stats.file->nodes[i].watch.inits, __ATOMIC_ACQUIRE);
    write_node_table(l);
    return true;
}

/* Every node feeding node i has ended for good (a source has none). */
static bool orphaned(const launcher *l, uint32_t i)
{
    const xmemi_graph_node *n = &l->g->nodes[i];
    for (uint32_t k = 0; k < n->n_inputs; k++)
        if (live(l->runs[n->inputs[k].from].state))
            return false;
    return n->n_inputs > 0;
}

static bool should_restart(const launcher *l, uint32_t i, bool clean)
{
    const xmemi_graph_node *n = &l->g->nodes[i];
    /* Restarted with nothing upstream left, it would wait for a stream that never comes. */
    if (l->stopping || l->runs[i].restarts >= n->restart_limit || orphaned(l, i))
        return false;
    return n->restart == XMEMI_RESTART_ALWAYS || (n->restart == XMEMI_RESTART_ON_FAILURE && !clean);
}

static void on_death(launcher *l, uint32_t i, int status, uint64_t noticed_ns)
{
    xmemi_node_run *r = &l->runs[i];
    const char *name = l->g->nodes[i].name;
    uint64_t returned = 0;
    xmem_error_t err;
    if (xmem_pool_reclaim_pid(l->pool, r->pid, &returned, &err) != XMEM_OK)
        fprintf(stderr, "xmem run: node '%s' (pid %d): %s\n", name, (int)r->pid, err.msg);
    uint64_t reclaimed_ns = xmem_node_clock_ns();
    bool started = __atomic_load_n(&l->stats.file->nodes[i].watch.inits, __ATOMIC_ACQUIRE) !=
                   r->inits_at_spawn;
    r->ever_started |= started;
    /* Its figures on its edges, before its publishers forget its subscriptions. */
    xmemi_run_edges_take(&l->edges, l->dir.path, l->pool, l->gen);
    if (r->n_deaths < XMEMI_MAX_DEATHS)
        r->deaths[r->n_deaths++] = (xmemi_death){
            .pid = r->pid,
            .status = status,
            .refs_returned = returned,
            .reclaim_ns = reclaimed_ns - noticed_ns,
            .at_s = (double)(noticed_ns - l->start_ns) / 1e9,
            .stuck = r->state == XMEMI_NODE_STUCK,
            .started = started,
        };
    r->last_status = status;
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    char how[96];
    if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
    if (!clean || returned)
        fprintf(stderr,
                "xmem run: node '%s' (pid %d) %s; %llu reference%s it held given back in "
                "%.2f ms\n",
                name, (int)r->pid, how, (unsigned long long)returned, xmemi_s(returned),
                (double)(reclaimed_ns - noticed_ns) / 1e6);
    if (!started && !clean && !l->stopping && l->g->nodes[i].n_inputs)
        fprintf(stderr,
                "xmem run: node '%s' never started (it died before its init succeeded); the "
                "nodes it subscribes to start without it\n",
                name);
    r->pid = 0;
    if (should_restart(l, i, clean)) {
        uint64_t backoff_ms = 100u << (r->restarts < 4 ? r->restarts : 4);
        r->state = XMEMI_NODE_RESTARTING;
        r->restart_at_ns = reclaimed_ns + backoff_ms * 1000000ull;
        r->restarts++;
        fprintf(stderr, "xmem run: restarting node '%s' in %llu ms (restart %u of %u)\n", name,
                (unsigned long long)backoff_ms, r->restarts, l->g->nodes[i].restart_limit);
    } else if (!clean && !l->stopping && orphaned(l, i) &&
               l->g->nodes[i].restart != XMEMI_RESTART_NEVER &&
               r->restarts < l->g->nodes[i].restart_limit) {
        /* Its policy would restart it, but nothing upstream is left to feed it. */
        r->state = XMEMI_NODE_DONE;
        fprintf(stderr, "xmem run: node '%s' not restarted: every node upstream has ended\n", name);
    } else {
        /* Also one killed by our own escalation after the drain timeout: it did not stop. */
        r->state = clean ? XMEMI_NODE_DONE : XMEMI_NODE_FAILED;
        if (!clean)
            fprintf(stderr, "xmem run: node '%s' failed for good (%s)%s\n", name, how,
                    l->stopping ? " while the graph was stopping" : "; the rest runs on");
    }
    write_node_table(l);
}

static void reap(launcher *l)
{
    uint64_t noticed = xmem_node_clock_ns();
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        for (uint32_t i = 0; i < l->g->n_nodes; i++)
            if (l->runs[i].pid == pid &&
                (l->runs[i].state == XMEMI_NODE_RUNNING || l->runs[i].state == XMEMI_NODE_STUCK))
                on_death(l, i, status, noticed);
    }
}

static void signal_nodes(launcher *l, bool sources_only, int sig)
{
    for (uint32_t i = 0; i < l->g->n_nodes; i++)
        if (l->runs[i].state == XMEMI_NODE_RUNNING && l->runs[i].pid > 0 &&
            (!sources_only || l->g->nodes[i].n_inputs == 0))
            kill(l->runs[i].pid, sig);
}

static void begin_stop(launcher *l, const char *why)
{
    if (l->stopping)
        return;
    l->stopping = true;
    fprintf(stderr, "xmem run: %s: stopping the sources, draining the rest (%.1f s at most)\n", why,
            l->g->drain_timeout_s);
    for (uint32_t i = 0; i < l->g->n_nodes; i++)
        if (l->runs[i].state == XMEMI_NODE_RESTARTING)
            l->runs[i].state = XMEMI_NODE_DONE; /* not started again */
    signal_nodes(l, true, SIGTERM);
    l->drain_deadline_ns = xmem_node_clock_ns() + (uint64_t)(l->g->drain_timeout_s * 1e9);
    write_node_table(l);
}

static bool all_ended(const launcher *l)
{
    for (uint32_t i = 0; i < l->g->n_nodes; i++)
        if (live(l->runs[i].state)) /* a stuck one too: killed, not reaped yet */
            return false;
    return true;
}

/* A node stuck in a callback, or stopped, is killed: its references come back as for any death
 * (on_death) and its restart policy applies. */
static void watch_stuck(launcher *l, uint64_t now)
{
    for (uint32_t i = 0; i < l->g->n_nodes; i++) {
        xmemi_node_run *r = &l->runs[i];
        char why[128];
        if (r->state != XMEMI_NODE_RUNNING || r->pid <= 0 ||
            !xmemi_watchdog_stuck(&l->g->nodes[i], r, &l->stats.file->nodes[i], now, why,
                                  sizeof why))
            continue;
        r->state = XMEMI_NODE_STUCK;
        r->stuck++;
        fprintf(stderr, "xmem run: node '%s' (pid %d) is stuck: %s; killing it\n",
                l->g->nodes[i].name, (int)r->pid, why);
        kill(r->pid, SIGKILL);
        write_node_table(l);
    }
}

/* Sources' longest pause between frames, sampled every tick while they run. */
static void watch_sources(launcher *l, uint64_t now)
{
    for (uint32_t i = 0; i < l->g->n_nodes; i++) {
        xmemi_node_run *r = &l->runs[i];
        if (l->g->nodes[i].n_inputs || r->state != XMEMI_NODE_RUNNING)
            continue;
        uint64_t out = xmemi_stats_read(&l->stats.file->nodes[i].out);
        if (out != r->last_out) {
            r->last_out = out;
            r->last_progress_ns = now;
        } else if (out > 0 && now - r->last_progress_ns > r->max_stall_ns && !l->stopping)
            r->max_stall_ns = now - r->last_progress_ns;
    }
}

static void handle_signals(launcher *l)
{
    struct signalfd_siginfo si;
    while (read(l->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGCHLD)
            reap(l);
        else if (!l->stopping)
            begin_stop(l, si.ssi_signo == SIGINT   ? "interrupted"
                          : si.ssi_signo == SIGHUP ? "hung up"
                                                   : "terminated");
        else if (!l->terminated_all) { /* asked twice: stop everything now */
            fprintf(stderr, "xmem run: stopping every node now\n");
            signal_nodes(l, false, SIGTERM);
            l->terminated_all = true;
            l->kill_deadline_ns = xmem_node_clock_ns() + KILL_GRACE_NS;
        }
    }
}

/* A node whose upstreams all ended for good gets no more input: if one of them failed, no end of
 * stream will come either, so it is stopped at once; after clean ends it has drain_timeout to
 * finish by itself. Its stop (SIGTERM: finish, end its own stream) passes the end downstream. */
static void stop_orphans(launcher *l, uint64_t now)
{
    if (l->stopping)
        return; /* the stop's own drain deadline covers everyone */
    for (uint32_t i = 0; i < l->g->n_nodes; i++) {
        xmemi_node_run *r = &l->runs[i];
        if (r->state != XMEMI_NODE_RUNNING || !orphaned(l, i))
            continue;
        if (!r->orphan_deadline_ns) {
            bool failed_upstream = false;
            const xmemi_graph_node *n = &l->g->nodes[i];
            for (uint32_t k = 0; k < n->n_inputs; k++)
                failed_upstream |= l->runs[n->inputs[k].from].state != XMEMI_NODE_DONE;
            r->orphan_deadline_ns =
                failed_upstream ? now : now + (uint64_t)(l->g->drain_timeout_s * 1e9);
            if (failed_upstream)
                fprintf(stderr,
                        "xmem run: node '%s' has no upstream left (one failed): stopping it\n",
                        n->name);
        }
        if (now >= r->orphan_deadline_ns && r->pid > 0) {
            kill(r->pid, SIGTERM);
            r->orphan_deadline_ns = UINT64_MAX; /* once */
        }
    }
}

static void supervise(launcher *l)
{
    double interval = l->o->interval_s;
    l->next_table_ns = l->start_ns + (uint64_t)(interval * 1e9);
    xmemi_run_view view = {
        .g = l->g, .runs = l->runs, .stats = l->stats.file, .pool = l->pool, .dir = l->dir.path};
    while (!all_ended(l)) {
        if (xmemi_node_logs_wait(&l->observers.logs, l->sfd, TICK_MS))
            handle_signals(l);
        reap(l); /* a SIGCHLD merged with another is still reaped */
        uint64_t now = xmem_node_clock_ns();
        watch_sources(l, now);
        watch_stuck(l, now);
        if (l->end_ns && now >= l->end_ns && !l->stopping)
            begin_stop(l, "duration reached");
        for (uint32_t i = 0; i < l->g->n_nodes; i++)
            if (l->runs[i].state == XMEMI_NODE_RESTARTING && now >= l->runs[i].restart_at_ns &&
                !spawn(l, i))
                l->runs[i].state = XMEMI_NODE_FAILED;
        if (l->stopping && !l->terminated_all && now >= l->drain_deadline_ns) {
            fprintf(stderr, "xmem run: drain timeout: terminating the nodes still running\n");
            signal_nodes(l, false, SIGTERM);
            l->terminated_all = true;
            l->kill_deadline_ns = now + KILL_GRACE_NS;
        }
        if (l->terminated_all && !l->killed_all && now >= l->kill_deadline_ns) {
            fprintf(stderr, "xmem run: killing the nodes that ignored SIGTERM\n");
            signal_nodes(l, false, SIGKILL);
            l->killed_all = true;
        }
        stop_orphans(l, now);
        if (now >= l->next_edges_ns) { /* before a dead consumer's publisher forgets it */
            xmemi_run_edges_take(&l->edges, l->dir.path, l->pool, l->gen);
            l->next_edges_ns = now + EDGES_EVERY_NS;
        }
        if (interval > 0 && now >= l->next_table_ns) {
            /* The tick's own time: a late wake-up does not shift the labels. */
            view.elapsed_s = (double)(l->next_table_ns - l->start_ns) / 1e9;
            xmemi_live_table_show(&l->observers.live, &view, interval);
            if (ferror(stdout) && !l->stopping) /* its reader is gone (`| head`, a closed pipe) */
                begin_stop(l, "the table's output was closed");
            l->next_table_ns += (uint64_t)(interval * 1e9);
            if (l->next_table_ns < now)
                l->next_table_ns = now + (uint64_t)(interval * 1e9);
        }
    }
}

static xmem_err start(launcher *l, sigset_t *old_mask, xmem_error_t *err)
{
    /* Blocked before anything starts threads (the CUDA runtime's, by the CUDA buffers below):
     * threads inherit the mask, and a signal taken by one of them would kill us uncleanly. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP); /* the terminal went away: stop as for Ctrl-C */
    sigaddset(&mask, SIGQUIT);
    sigprocmask(SIG_BLOCK, &mask, old_mask);
    signal(SIGPIPE, SIG_IGN); /* the table's reader went away (`| head`): keep on, clean up */
    bool stale = false;
    xmem_err rc = xmemi_runtime_dir_claim(l->g->pool_name, &l->dir, &stale, err);
    if (rc)
        return rc;
    if (stale)
        fprintf(stderr, "xmem run: cleaned up the runtime directory %s left by a dead run\n",
                l->dir.path);
    if (l->dir.leftovers_killed)
        fprintf(stderr,
                "xmem run: killed %u node%s of that run still there (stopped when it died)\n",
                l->dir.leftovers_killed, xmemi_s(l->dir.leftovers_killed));
    uint32_t cuda_nodes = 0;
    for (uint32_t i = 0; i < l->g->n_nodes; i++)
        cuda_nodes += (l->g->nodes[i].loaded.desc.flags & XMEM_NODE_USES_CUDA) != 0;
    /* Before this process makes its first CUDA call (the CUDA buffers below). */
    if (l->g->mps && cuda_nodes && (rc = xmemi_mps_start(l->dir.path, err)))
        return rc;
    if (!l->g->mps && cuda_nodes > 1)
        fprintf(stderr,
                "xmem run: %u CUDA nodes in separate processes time-slice the GPU without MPS (a "
                "cross-process event wait: 145 us, 8 us with MPS on an H100): set options.mps: "
                "true\n",
                cuda_nodes);
    xmem_pool_options po;
    xmemi_graph_pool_options(l->g, &po);
    if ((rc = xmem_pool_create_with(l->g->pool_name, &po, &l->pool, err)))
        return rc;
    if (l->g->cuda_count &&
        (rc = xmem_pool_preallocate_cuda(l->pool, l->g->cuda_size, l->g->cuda_count,
                                         l->g->cuda_device, err)))
        return rc;
    snprintf(l->stats_path, sizeof l->stats_path, "%s/stats", l->dir.path);
    if ((rc = xmemi_stats_create(l->stats_path, l->g->n_nodes, &l->stats, err)))
        return rc;
    l->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (l->sfd < 0)
        return xmemi_fail(err, XMEM_ESYS, errno, "signalfd");
    ssize_t n = readlink("/proc/self/exe", l->self, sizeof l->self - 1);
    if (n <= 0)
        return xmemi_fail(err, XMEM_ESYS, errno, "readlink /proc/self/exe");
    l->self[n] = '\0';
    return xmemi_run_observers_start(&l->observers, l->dir.path, l->g, l->o, l->pool, err);
}

int xmemi_launch(xmemi_graph *g, const xmemi_run_options *o)
{
    static launcher l; /* large; one per process */
    memset(&l, 0, sizeof l);
    l.g = g;
    l.o = o;
    l.sfd = -1;
    l.dir.lock_fd = -1;
    xmemi_run_observers_init(&l.observers);
    sigset_t old_mask;
    sigemptyset(&old_mask);
    xmem_error_t err;
    int status = XMEMI_EXIT_FAILED;
    if (start(&l, &old_mask, &err)) {
        fprintf(stderr, "xmem run: %s\n", err.msg);
        goto out;
    }
    fprintf(stderr, "xmem run: %s: %u nodes, pool '%s' (%u buffers), runtime directory %s\n",
            g->path, g->n_nodes, g->pool_name, g->buffers, l.dir.path);
    l.start_ns = xmem_node_clock_ns();
    double duration = o->duration_s >= 0 ? o->duration_s : g->duration_s;
    l.end_ns = duration > 0 ? l.start_ns + (uint64_t)(duration * 1e9) : 0;
    for (uint32_t i = 0; i < g->n_nodes; i++)
        l.runs[i].state = XMEMI_NODE_NOT_STARTED;
    /* Downstream first, so every subscriber is there when its source starts publishing. */
    for (uint32_t k = g->n_nodes; k-- > 0;) {
        uint32_t i = g->order[k];
        if (!spawn(&l, i)) {
            l.runs[i].state = XMEMI_NODE_FAILED;
            begin_stop(&l, "a node could not start");
            break;
        }
    }
    supervise(&l);
    reap(&l);
    bool observed = xmemi_run_observers_finish(&l.observers, l.pool);
    xmemi_run_view view = {
        .g = g,
        .runs = l.runs,
        .stats = l.stats.file,
        .pool = l.pool,
        .elapsed_s = (double)(xmem_node_clock_ns() - l.start_ns) / 1e9,
    };
    uint32_t free_at_end = xmem_pool_free_count(l.pool);
    status = XMEMI_EXIT_OK;
    for (uint32_t i = 0; i < g->n_nodes; i++)
        if (l.runs[i].state == XMEMI_NODE_FAILED || l.runs[i].state == XMEMI_NODE_NOT_STARTED)
            status = XMEMI_EXIT_FAILED;
    bool taps_hold = false; /* what a tap outside the graph (xmem tap) holds is not a leak */
    if (free_at_end != xmem_pool_capacity(l.pool) &&
        (taps_hold = xmemi_taps_hold_the_rest(l.dir.path, l.pool, 1000)))
        free_at_end = xmem_pool_free_count(l.pool);
    if (free_at_end != xmem_pool_capacity(l.pool)) {
        char holders[512];
        xmem_pool_describe_holders(l.pool, holders, sizeof holders);
        uint32_t held = xmem_pool_capacity(l.pool) - free_at_end;
        fprintf(stderr, "xmem run: %u buffer%s still held at the end: %s%s\n", held, xmemi_s(held),
                holders, taps_hold ? " (taps, outside the graph)" : "");
        if (!taps_hold)
            status = XMEMI_EXIT_FAILED;
    }
    xmemi_run_edges_take(&l.edges, l.dir.path, l.pool, l.gen);
    view.edges = &l.edges;
    for (uint32_t k = 0; k < l.edges.n; k++) {
        const xmemi_run_edge_total *e = &l.edges.e[k];
        uint64_t lost = xmemi_run_edge_lost(e);
        if (!lost)
            continue;
        char why[64];
        xmemi_run_edge_lost_why(e, why, sizeof why);
        fprintf(stderr,
                "xmem run: edge %s/%s -> %s (block) lost %llu frame%s (%s): the run fails\n",
                e->from, e->from_port, e->to, (unsigned long long)lost, xmemi_s(lost), why);
        status = XMEMI_EXIT_FAILED;
    }
    xmemi_report_final(stdout, &view);
    if (o->summary_path && !xmemi_report_summary(o->summary_path, &view, status, free_at_end))
        status = XMEMI_EXIT_FAILED;
    if (!observed)
        status = XMEMI_EXIT_FAILED;
out:
    xmemi_run_observers_finish(&l.observers, NULL);
    xmemi_run_edges_close(&l.edges);
    if (l.sfd >= 0)
        close(l.sfd);
    xmemi_stats_close(&l.stats);
    xmem_pool_destroy(&l.pool);
    xmemi_mps_stop();
    xmemi_runtime_dir_remove(&l.dir);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    return status;
}
