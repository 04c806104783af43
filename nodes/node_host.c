/* The node host: one node per process (see node_host.h). Sources are ticked at their rate; other
 * nodes wait on all their inputs at once and get one buffer per process call. SIGINT and SIGTERM
 * let the current callback finish, then fini runs and every reference is given back; a clean stop
 * tells downstream nodes that the stream ended, so they drain and stop in turn. */
#define _GNU_SOURCE
#include "node_host.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xmem/pool_admin.h>

#include "common/fail.h"
#include "common/plural.h"
#include "node_internal.h"
#include "node_stats.h"
#include "plugin_loader.h"

#define EDGE_SYNC_NS (20ull * 1000000ull)
#define WAKE_EVERY_NS (100ull * 1000000ull) /* a plugin's wake, at least this often */

static volatile sig_atomic_t signalled;
static pid_t parent;        /* at start: a stop signal after it has gone is its death's */
static timer_t death_timer; /* SIGKILLs this process 1 s after the parent's death */
static bool have_death_timer;

static void on_signal(int sig)
{
    signalled = sig;
    /* The launcher died (the parent-death signal, or any stop after it): a node stuck in a
     * callback would never act on the flag, and a dead launcher reclaims nothing, so the orderly
     * stop gets one second and then the kernel ends this process whatever it is doing. */
    if (getppid() != parent) {
        struct itimerspec once = {.it_value = {.tv_sec = 1}};
        if (!have_death_timer || timer_settime(death_timer, 0, &once, NULL) != 0)
            alarm(1);
    }
}

static void install_signals(void)
{
    parent = getppid();
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGKILL};
    have_death_timer = timer_create(CLOCK_MONOTONIC, &ev, &death_timer) == 0;
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: waits return EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* The launcher starts nodes with these blocked, so that one sent before this point waits
     * for the handlers above instead of killing the node half-started. */
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &stops, NULL);
}

void xmemi_node_config_init(xmemi_node_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->acquire_timeout_ms = 1000;
    cfg->block_timeout_ms = 1000;
    cfg->start_timeout_ms = 10000;
    cfg->log_level = XMEM_LOG_INFO;
}

/* The value for `port` among settings (the last that names it or every port), or `fallback`. */
static uint32_t setting(const xmemi_port_setting *s, uint32_t n, const char *port,
                        uint32_t fallback)
{
    for (uint32_t i = n; i-- > 0;)
        if (!s[i].port || strcmp(s[i].port, port) == 0)
            return s[i].value;
    return fallback;
}

typedef struct input {
    const xmem_node_port *port;
    xmem_sub_t *sub;
    bool ended;
    uint64_t received;
    xmem_buf_ref *kept; /* inputs the plugin took into its state and still holds */
    uint32_t n_kept;
} input;

typedef struct host {
    const xmemi_node_config *cfg;
    xmemi_plugin plugin;
    xmem_node_t node;
    input inputs[XMEM_NODE_MAX_PORTS];
    uint32_t n_inputs; /* wired inputs */
    xmem_sub_t *waiting[XMEM_NODE_MAX_PORTS];
    uint32_t waiting_input[XMEM_NODE_MAX_PORTS]; /* inputs[] index of each waiting[] entry */
    uint32_t n_waiting;                          /* wired inputs not ended yet */
    void *state;
    const char *why_stopped;
    xmemi_stats_map stats_map;
    xmemi_node_stats *stats;           /* this node's slot, or NULL */
    uint64_t synced_out, synced_drops; /* what the slot has been told so far */
    uint64_t next_edges_ns;            /* when the slot's edge table is rewritten next */
    uint64_t next_wake_ns;             /* when the plugin's wake is due without a reason */
    bool ran;                          /* init succeeded: fini was called */
} host;

/* Every port named on the command line must exist. */
static xmem_err check_ports(const host *h, xmem_error_t *err)
{
    const xmemi_node_config *cfg = h->cfg;
    const xmem_node_plugin *p = &h->plugin.desc;
    struct {
        const char *opt;
        const char *port;
        bool input;
    } named[6 * XMEMI_NODE_MAX_BINDINGS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < cfg->n_inputs; i++)
        named[n++] = (typeof(named[0])){"--input", cfg->inputs[i].port, true};
    for (uint32_t i = 0; i < cfg->n_outputs; i++)
        named[n++] = (typeof(named[0])){"--output", cfg->outputs[i].port, false};
    for (uint32_t i = 0; i < cfg->n_depths; i++)
        named[n++] = (typeof(named[0])){"--depth", cfg->depths[i].port, true};
    for (uint32_t i = 0; i < cfg->n_policies; i++)
        named[n++] = (typeof(named[0])){"--policy", cfg->policies[i].port, true};
    for (uint32_t i = 0; i < cfg->n_block_timeouts; i++)
        named[n++] = (typeof(named[0])){"--block-timeout", cfg->block_timeouts[i].port, true};
    for (uint32_t i = 0; i < cfg->n_expects; i++)
        named[n++] = (typeof(named[0])){"--expect", cfg->expects[i].port, false};
    for (uint32_t i = 0; i < n; i++) {
        if (!named[i].port)
            continue;
        const xmem_node_port *ports = named[i].input ? p->inputs : p->outputs;
        uint32_t np = named[i].input ? p->n_inputs : p->n_outputs;
        if (xmemi_port_find(ports, np, named[i].port))
            continue;
        char list[512];
        xmemi_port_list(ports, np, list, sizeof list);
        return xmemi_fail(err, XMEM_ECONFIG, 0,
                          "%s: node '%s' (plugin '%s') has no %s port '%s' (it has: %s)",
                          named[i].opt, cfg->name ? cfg->name : p->name, p->name,
                          named[i].input ? "input" : "output", named[i].port, list);
    }
    return XMEM_OK;
}

static xmem_err wire_outputs(host *h, xmem_error_t *err)
{
    const xmemi_node_config *cfg = h->cfg;
    xmem_node_t *node = &h->node;
    node->n_outputs = h->plugin.desc.n_outputs;
    node->outputs = calloc(node->n_outputs ? node->n_outputs : 1, sizeof *node->outputs);
    if (!node->outputs)
        return xmemi_fail(err, XMEM_ENOMEM, 0, "node '%s': no memory", node->name);
    xmem_pub_options po;
    xmem_pub_options_init(&po);
    po.block_timeout_ms = cfg->block_timeout_ms;
    for (uint32_t i = 0; i < node->n_outputs; i++)
        node->outputs[i].port = &h->plugin.desc.outputs[i];
    for (uint32_t b = 0; b < cfg->n_outputs; b++) {
        xmemi_output *out = NULL;
        for (uint32_t i = 0; i < node->n_outputs; i++)
            if (strcmp(node->outputs[i].port->name, cfg->outputs[b].port) == 0)
                out = &node->outputs[i];
        if (out->pub)
            return xmemi_fail(err, XMEM_EINVAL, 0,
                              "--output: node '%s': port '%s' is bound twice (one endpoint per "
                              "output; every subscriber connects to it)",
                              node->name, out->port->name);
        xmem_err rc = xmem_pub_create(node->pool, cfg->outputs[b].endpoint, &po, &out->pub, err);
        if (rc)
            return xmemi_fail_cause(err, rc, err, "node '%s', output '%s'", node->name,
                                    out->port->name);
    }
    return XMEM_OK;
}

static xmem_err wire_inputs(host *h, xmem_error_t *err)
{
    const xmemi_node_config *cfg = h->cfg;
    const xmem_node_plugin *p = &h->plugin.desc;
    for (uint32_t i = 0; i < p->n_inputs; i++) {
        const xmem_node_port *port = &p->inputs[i];
        input *in = NULL;
        for (uint32_t b = 0; b < cfg->n_inputs; b++) {
            if (strcmp(cfg->inputs[b].port, port->name) != 0)
                continue;
            xmem_err rc;
            if (!in) {
                in = &h->inputs[h->n_inputs];
                in->port = port;
                xmem_sub_options so;
                xmem_sub_options_init(&so);
                so.depth = setting(cfg->depths, cfg->n_depths, port->name, so.depth);
                so.policy = (xmem_queue_policy)setting(cfg->policies, cfg->n_policies, port->name,
                                                       (uint32_t)so.policy);
                so.block_timeout_ms =
                    (int32_t)setting(cfg->block_timeouts, cfg->n_block_timeouts, port->name, 0);
                if ((rc = xmem_sub_create(cfg->pool, &so, &in->sub, err)))
                    return xmemi_fail_cause(err, rc, err, "node '%s', input '%s'", h->node.name,
                                            port->name);
                in->kept = calloc(xmem_pool_capacity(xmem_sub_pool(in->sub)), sizeof *in->kept);
                h->n_inputs++;
            }
            if ((rc = xmem_sub_connect(in->sub, cfg->inputs[b].endpoint, err)))
                return xmemi_fail_cause(err, rc, err, "node '%s', input '%s'", h->node.name,
                                        port->name);
        }
        if (!in)
            xmem_node_log(&h->node, XMEM_LOG_WARN, "input '%s' is not wired (--input %s=ENDPOINT)",
                          port->name, port->name);
    }
    for (uint32_t i = 0; i < h->n_inputs; i++) {
        h->waiting[i] = h->inputs[i].sub;
        h->waiting_input[i] = i;
    }
    h->n_waiting = h->n_inputs;
    if (p->n_inputs && !h->n_inputs)
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "node '%s' (plugin '%s') has inputs but none is wired: give --input "
                          "PORT=ENDPOINT",
                          h->node.name, p->name);
    return XMEM_OK;
}

/* The watchdog's view of this host (node_watch.h): the callback it is in and since when. */
static void enter(host *h, xmemi_callback cb)
{
    if (h->stats)
        xmemi_watch_enter(&h->stats->watch, cb, xmem_node_clock_ns());
}

static void leave(host *h)
{
    if (h->stats)
        xmemi_watch_leave(&h->stats->watch);
}

/* Subscribers to wait for on output i: those expected, but no more than the launcher says are
 * alive (one that died or failed its init will never come; the rest must not wait for it). */
static uint32_t wanted(const host *h, uint32_t i, uint32_t expected)
{
    if (!h->stats || !__atomic_load_n(&h->stats->watch.alive_set, __ATOMIC_ACQUIRE))
        return expected;
    uint32_t alive = __atomic_load_n(&h->stats->watch.alive[i], __ATOMIC_RELAXED);
    return alive < expected ? alive : expected;
}

/* Sources wait for the subscribers they were told to expect, so no frame goes to nobody. The
 * failure is logged as the node's own (it is not a usage error): err stays empty. */
static xmem_err await_subscribers(host *h, xmem_error_t *err)
{
    const xmemi_node_config *cfg = h->cfg;
    for (uint32_t i = 0; i < h->node.n_outputs; i++) {
        xmemi_output *out = &h->node.outputs[i];
        uint32_t want = setting(cfg->expects, cfg->n_expects, out->port->name, 0);
        if (!out->pub || !want)
            continue;
        uint64_t deadline = xmem_node_clock_ns() + (uint64_t)cfg->start_timeout_ms * 1000000ull;
        xmem_err rc;
        while ((rc = xmem_pub_wait_subscribers(out->pub, wanted(h, i, want), 100, err)) ==
               XMEM_ETIMEDOUT) {
            if (signalled) /* the run loop sees it and stops at once */
                return XMEM_OK;
            if (xmem_node_clock_ns() >= deadline)
                break;
        }
        if (rc) {
            xmem_pub_stats ps;
            xmem_pub_stats_get(out->pub, &ps, sizeof ps);
            xmem_node_log(&h->node, XMEM_LOG_ERROR,
                          "output '%s': %u of %u subscribers after %d ms (--start-timeout)%s%s",
                          out->port->name, ps.subscribers, want, cfg->start_timeout_ms,
                          rc == XMEM_ETIMEDOUT ? "" : ": ", rc == XMEM_ETIMEDOUT ? "" : err->msg);
            err->msg[0] = '\0';
            return rc;
        }
    }
    return XMEM_OK;
}

/* Keeps a callback's failure as the node's reason (the first wins, named with its callback); the
 * node then stops and says it once, in its last line. */
static void callback_failed(host *h, const char *what, xmem_err rc, const xmem_error_t *err)
{
    char msg[sizeof h->node.fail_msg];
    snprintf(msg, sizeof msg, "%s",
             err->code != XMEM_OK && err->msg[0] ? err->msg
             : h->node.fail_msg[0]               ? h->node.fail_msg
                                                 : xmem_strerror(rc));
    /* A reason the callback gave through xmem_node_fail is this one: name the callback too. */
    if (!h->node.fail_msg[0] || strcmp(h->node.fail_msg, msg) == 0)
        snprintf(h->node.fail_msg, sizeof h->node.fail_msg, "%s failed: %.*s", what,
                 (int)(sizeof msg - 32), msg);
    h->node.failed = true;
}

/* Rewrites the slot's edge table (edge_stats.h), at most every EDGE_SYNC_NS unless forced. */
static void sync_edges(host *h, bool force)
{
    uint64_t now = xmem_node_clock_ns();
    if (!h->stats || (!force && now < h->next_edges_ns))
        return;
    h->next_edges_ns = now + EDGE_SYNC_NS;
    xmemi_edge_source ports[2 * XMEM_NODE_MAX_PORTS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < h->node.n_outputs; i++)
        if (h->node.outputs[i].pub)
            ports[n++] = (xmemi_edge_source){.port = h->node.outputs[i].port->name,
                                             .pub = h->node.outputs[i].pub};
    for (uint32_t i = 0; i < h->n_inputs; i++)
        ports[n++] = (xmemi_edge_source){.port = h->inputs[i].port->name,
                                         .sub = h->inputs[i].sub,
                                         .received = h->inputs[i].received};
    xmemi_edge_table_write(&h->stats->edges, ports, n);
}

/* Adds to the launcher's figures what happened since the last call (counters only grow). */
static void sync_stats(host *h)
{
    if (!h->stats)
        return;
    sync_edges(h, false);
    uint64_t out = 0, drops = 0;
    for (uint32_t i = 0; i < h->node.n_outputs; i++) {
        out += h->node.outputs[i].published;
        if (!h->node.outputs[i].pub)
            continue;
        xmem_pub_stats ps;
        xmem_pub_stats_get(h->node.outputs[i].pub, &ps, sizeof ps);
        for (int k = 0; k < XMEM_DROP_COUNT_; k++)
            drops += ps.dropped[k];
    }
    for (uint32_t i = 0; i < h->n_inputs; i++) {
        xmem_sub_stats ss;
        xmem_sub_stats_get(h->inputs[i].sub, &ss, sizeof ss);
        drops += ss.dropped_oldest;
    }
    xmemi_stats_add(&h->stats->out, out - h->synced_out);
    xmemi_stats_add(&h->stats->dropped, drops - h->synced_drops);
    h->synced_out = out;
    h->synced_drops = drops;
}

/* Counts a received buffer and how long it took from its producer's stamp. */
static void count_input(host *h, const xmem_guard_t *g)
{
    if (!h->stats)
        return;
    xmemi_stats_add(&h->stats->in, 1);
    uint64_t stamp = 0, now = xmem_node_clock_ns();
    if (xmem_guard_stamp(g, NULL, &stamp, NULL) == XMEM_OK && stamp)
        xmemi_stats_latency(h->stats, now > stamp ? now - stamp : 0);
}

static void run_source(host *h)
{
    const xmem_node_plugin *p = &h->plugin.desc;
    uint64_t period = h->cfg->rate_hz > 0 ? (uint64_t)(1e9 / h->cfg->rate_hz) : 0;
    uint64_t next = xmem_node_clock_ns();
    while (!xmem_node_stopping(&h->node)) {
        xmem_error_t err = {0};
        enter(h, XMEMI_CB_TICK);
        xmem_err rc = p->tick(&h->node, h->state, &err);
        leave(h);
        sync_stats(h);
        if (rc) {
            callback_failed(h, "tick", rc, &err);
            break;
        }
        if (!period)
            continue;
        next += period;
        uint64_t now = xmem_node_clock_ns();
        if (now >= next + period) { /* fell behind: keep the rate, do not burst to catch up */
            next = now;
            continue;
        }
        struct timespec ts = {.tv_sec = (time_t)(next / 1000000000ull),
                              .tv_nsec = (long)(next % 1000000000ull)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
}

static void input_ended(host *h, uint32_t w)
{
    h->inputs[h->waiting_input[w]].ended = true;
    xmem_node_log(&h->node, XMEM_LOG_DEBUG, "input '%s' ended",
                  h->inputs[h->waiting_input[w]].port->name);
    h->n_waiting--;
    h->waiting[w] = h->waiting[h->n_waiting];
    h->waiting_input[w] = h->waiting_input[h->n_waiting];
}

/* Inputs a plugin did not leave to the host: published ones left this attachment, kept ones
 * are still owned by it. The list holds only those still owned, so it stays as short as what the
 * plugin holds. */
static void note_kept(input *in, xmem_buf_ref ref)
{
    xmem_pool_t *pool = xmem_sub_pool(in->sub);
    uint32_t me = xmem_pool_owner_id(pool), w = 0;
    bool listed = false;
    for (uint32_t i = 0; i < in->n_kept; i++) {
        if (!xmem_pool_owned_by(pool, in->kept[i], me))
            continue;
        listed |= in->kept[i].index == ref.index && in->kept[i].generation == ref.generation;
        in->kept[w++] = in->kept[i];
    }
    in->n_kept = w;
    if (!listed && in->kept && in->n_kept < xmem_pool_capacity(pool) &&
        xmem_pool_owned_by(pool, ref, me))
        in->kept[in->n_kept++] = ref;
}

/* The plugin's wake (xmem_node_plugin): when something it watches is readable, and at least every
 * WAKE_EVERY_NS besides. False when it failed (the node stops). */
static bool wake(host *h, bool due_only)
{
    const xmem_node_plugin *p = &h->plugin.desc;
    if (!p->wake) /* most plugins: not even the clock, on every buffer */
        return true;
    uint64_t now = xmem_node_clock_ns();
    if (due_only && now < h->next_wake_ns)
        return true;
    h->next_wake_ns = now + WAKE_EVERY_NS;
    xmem_error_t err = {0};
    enter(h, XMEMI_CB_WAKE);
    xmem_err rc = p->wake(&h->node, h->state, &err);
    leave(h);
    sync_stats(h);
    if (rc)
        callback_failed(h, "wake", rc, &err);
    return rc == XMEM_OK;
}

static void run_filter(host *h)
{
    const xmem_node_plugin *p = &h->plugin.desc;
    xmem_node_t *node = &h->node;
    uint32_t next_first = 0;
    int idle_ms = p->wake ? (int)(WAKE_EVERY_NS / 1000000) : 200;
    while (!xmem_node_stopping(node)) {
        if (h->n_waiting == 0) {
            h->why_stopped = "every input ended";
            xmem_node_finish(node);
            break;
        }
        uint32_t w;
        xmem_error_t err = {0};
        xmem_err rc = xmem_sub_wait_any_or(h->waiting, h->n_waiting, next_first % h->n_waiting,
                                           node->watched, node->n_watched, idle_ms, &w, &err);
        if (rc == XMEM_ETIMEDOUT || rc == XMEM_EINTERRUPTED) {
            for (uint32_t i = 0; i < node->n_outputs; i++) /* welcome new subscribers */
                if (node->outputs[i].pub)
                    xmem_pub_poll(node->outputs[i].pub, 0, NULL);
            sync_edges(h, false);
            if (!wake(h, false))
                break;
            continue;
        }
        if (rc) {
            callback_failed(h, "receive", rc, &err);
            break;
        }
        if (w == h->n_waiting) { /* something the plugin watches */
            if (!wake(h, false))
                break;
            continue;
        }
        next_first = w + 1;
        input *in = &h->inputs[h->waiting_input[w]];
        XMEM_GUARD_AUTO xmem_guard_t g = XMEM_GUARD_INIT;
        rc = xmem_sub_receive(in->sub, 0, &g, &err);
        if (rc == XMEM_EEND) {
            input_ended(h, w);
            continue;
        }
        if (rc == XMEM_ETIMEDOUT)
            continue;
        if (rc) {
            xmem_node_log(node, XMEM_LOG_WARN, "input '%s': %s", in->port->name, err.msg);
            continue;
        }
        in->received++;
        count_input(h, &g);
        xmem_buf_ref ref = xmem_guard_ref(&g);
        enter(h, XMEMI_CB_PROCESS);
        rc = p->process(node, h->state, in->port->name, &g, &err);
        leave(h);
        if (!xmem_guard_valid(&g))
            note_kept(in, ref);
        sync_stats(h);
        if (rc) {
            callback_failed(h, "process", rc, &err);
            break;
        }
        if (!wake(h, true)) /* a node kept busy by its inputs still gets its wakes */
            break;
    }
    node->n_watched = 0; /* fini closes what was watched */
}

/* References of an attachment: all of them, summed over buffers. */
static uint64_t owned_total(xmem_pool_t *pool, xmem_buf_ref *refs, uint32_t *counts, uint32_t cap)
{
    uint32_t n = xmem_pool_list_owned(pool, refs, counts, cap);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n && i < cap; i++)
        sum += counts[i];
    return sum;
}

/* A plugin that kept references past fini: say so, so its author can find the leak; detaching
 * from the pool gives them back in any case. Its own buffers are those of the node's attachment;
 * inputs it kept are those it took from the host and that their attachment still owns. */
static void report_leftovers(host *h)
{
    uint32_t cap = xmem_pool_capacity(h->node.pool);
    xmem_buf_ref *refs = calloc(cap, sizeof *refs);
    uint32_t *counts = calloc(cap, sizeof *counts);
    if (refs && counts) {
        uint64_t own = owned_total(h->node.pool, refs, counts, cap), inputs = 0;
        for (uint32_t i = 0; i < h->n_inputs; i++) {
            input *in = &h->inputs[i];
            xmem_pool_t *pool = xmem_sub_pool(in->sub);
            for (uint32_t k = 0; k < in->n_kept; k++)
                inputs += xmem_pool_owned_by(pool, in->kept[k], xmem_pool_owner_id(pool)) > 0;
        }
        if (own || inputs)
            xmem_node_log(&h->node, XMEM_LOG_WARN,
                          "plugin '%s' still held %llu buffer(s) after fini (%llu of its own, "
                          "%llu inputs); giving them back",
                          h->plugin.desc.name, (unsigned long long)(own + inputs),
                          (unsigned long long)own, (unsigned long long)inputs);
    }
    free(refs);
    free(counts);
}

static void teardown(host *h, bool clean)
{
    sync_stats(h); /* what the last drain dropped, too */
    sync_edges(h, true);
    if (h->node.pool && h->ran)
        report_leftovers(h);
    for (uint32_t i = 0; i < h->n_inputs; i++) {
        xmem_sub_destroy(&h->inputs[i].sub);
        free(h->inputs[i].kept);
    }
    for (uint32_t i = 0; i < h->node.n_outputs; i++) {
        xmemi_output *out = &h->node.outputs[i];
        xmem_error_t err;
        if (out->pub && clean && xmem_pub_end(out->pub, &err))
            xmem_node_log(&h->node, XMEM_LOG_WARN, "output '%s': %s", out->port->name, err.msg);
        xmem_pub_destroy(&out->pub);
    }
    free(h->node.outputs);
    h->node.outputs = NULL;
    xmem_pool_close(&h->node.pool);
    xmemi_params_free(&h->node);
    xmemi_stats_close(&h->stats_map);
}

xmem_err xmemi_node_run(const xmemi_node_config *cfg, xmem_error_t *err)
{
    install_signals();
    host h = {.cfg = cfg};
    *err = (xmem_error_t){0};
    xmem_err rc = xmemi_plugin_load(cfg->plugin, &h.plugin, err);
    if (rc) { /* a plugin that cannot be used is a mistake in the command line */
        err->code = XMEM_ECONFIG;
        return XMEM_ECONFIG;
    }
    xmem_node_t *node = &h.node;
    node->plugin = &h.plugin.desc;
    node->name = cfg->name ? cfg->name : h.plugin.desc.name;
    node->acquire_timeout_ms = cfg->acquire_timeout_ms;
    node->log_level = cfg->log_level;
    node->signalled = &signalled;
    if ((rc = check_ports(&h, err)) ||
        (rc = xmemi_params_set(node, cfg->params, cfg->n_params, err)))
        goto out;
    if (!cfg->pool) {
        rc = xmemi_fail(err, XMEM_ECONFIG, 0, "node '%s': no pool (--pool NAME)", node->name);
        goto out;
    }
    if ((rc = xmem_pool_open(cfg->pool, &node->pool, err))) {
        xmem_error_t cause = *err;
        xmemi_fail(err, rc, 0,
                   "node '%s': %s (start one with `xmem pool %s`, or run the graph with `xmem "
                   "run`)",
                   node->name, cause.msg, cfg->pool);
        goto out;
    }
    if (cfg->stats_path) {
        if ((rc = xmemi_stats_open(cfg->stats_path, cfg->stats_slot, &h.stats_map, err))) {
            xmemi_fail_cause(err, rc, err, "node '%s'", node->name);
            goto out;
        }
        h.stats = &h.stats_map.file->nodes[cfg->stats_slot];
        node->stats = h.stats;
    }
    /* Ready from downstream up: this node subscribes to its inputs only once its own
     * subscribers are there, so no upstream sends to it while it still waits for them (under
     * drop_oldest those frames would be lost). */
    if ((rc = wire_outputs(&h, err)) || (rc = await_subscribers(&h, err)) ||
        (rc = wire_inputs(&h, err)))
        goto out;
    if (h.plugin.desc.init) {
        xmem_error_t why = {0};
        enter(&h, XMEMI_CB_INIT);
        rc = h.plugin.desc.init(node, &h.state, &why);
        leave(&h);
        if (rc) {
            callback_failed(&h, "init", rc, &why);
            xmem_node_log(node, XMEM_LOG_ERROR, "%s", node->fail_msg); /* its last line */
            rc = XMEM_EPLUGIN;
            goto out;
        }
    }
    if (h.stats)
        __atomic_fetch_add(&h.stats->watch.inits, 1, __ATOMIC_RELEASE);
    xmem_node_log(node, XMEM_LOG_DEBUG, "running plugin '%s' from %s", h.plugin.desc.name,
                  xmemi_plugin_origin(&h.plugin));
    if (h.plugin.desc.n_inputs)
        run_filter(&h);
    else
        run_source(&h);
    if (h.plugin.desc.fini) {
        enter(&h, XMEMI_CB_FINI);
        h.plugin.desc.fini(node, h.state);
        leave(&h);
    }
    h.ran = true;
    if (node->failed)
        h.why_stopped = "failed";
    else if (signalled)
        h.why_stopped = signalled == SIGINT ? "stopped by SIGINT" : "stopped by SIGTERM";
    else if (!h.why_stopped)
        h.why_stopped = "finished";
    uint64_t in = 0, out = 0;
    for (uint32_t i = 0; i < h.n_inputs; i++)
        in += h.inputs[i].received;
    for (uint32_t i = 0; i < node->n_outputs; i++)
        out += node->outputs[i].published;
    xmem_node_log(node, node->failed ? XMEM_LOG_ERROR : XMEM_LOG_INFO,
                  "%s: %llu buffer%s in, %llu out%s%s", h.why_stopped, (unsigned long long)in,
                  xmemi_s(in), (unsigned long long)out, node->failed ? ": " : "",
                  node->failed ? node->fail_msg : "");
    rc = node->failed ? XMEM_EPLUGIN : XMEM_OK;
out:
    teardown(&h, rc == XMEM_OK);
    /* The plugin stays loaded (its code may still be named by atexit handlers or threads it
     * started); only the loader's copy of its path goes. */
    free(h.plugin.path);
    h.plugin.path = NULL;
    return rc;
}
