/* bridge_send: the sending half of a cross-host edge (docs/MULTIHOST.md). Subscribes locally like
 * any consumer, and sends each frame (its layout, stamp and payload) to the bridge_recv of the
 * far host over one ZeroMQ DEALER connection, CURVE-encrypted. The payload goes straight from the
 * pool buffer: a zero-copy message whose free function, called on libzmq's I/O thread once the
 * bytes are out, hands the buffer's slot back through a locked list and an eventfd; the node's own
 * thread then releases the reference (wake). At most `depth` frames are on their way at once
 * (credits, bridge_wire.h); frames that wait for credit queue under `block` (so the local
 * publisher blocks once this node holds its depth) and are replaced by newer ones under
 * `drop_oldest`, each drop counted by reason. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bridge_link.h"
#include "bridge_wire.h"
#include "common/fail.h"
#include "nodes/builtin/builtins.h"

#define HELLO_EVERY_NS (500ull * 1000000ull)
#define PING_EVERY_NS (250ull * 1000000ull)
#define REPORT_EVERY_NS (100ull * 1000000ull)
#define FLUSH_NS (3000ull * 1000000ull)      /* fini's wait for the last frames to be done */
#define START_WAIT_NS (2000ull * 1000000ull) /* init's wait for the link */
#define PAST_LIVES 4
/* Silence that makes the link down without libzmq closing the connection: longer than a far
 * `block` consumer may hold the receiver in one publish (its block timeout), since the
 * connection itself is watched by libzmq's heartbeats (a closed one is down at once). */
#define SILENT_NS (10000ull * 1000000ull)

typedef struct tx tx;

/* What the free function of one frame's message is given: where to say that it left. */
typedef struct flight {
    tx *t;
    uint32_t slot;
} flight;

struct tx {
    xmem_node_t *node;
    const char *peer, *link;
    uint32_t depth;
    bool block;
    int64_t max_message;
    zsock_t *sock, *mon;
    zcert_t *cert;
    int efd;
    /* frames handed to libzmq, by slot; slots come back through `returned` */
    uint32_t cap;
    xmem_guard_t *flying;
    flight *flights;
    uint32_t *free_slots, n_free, n_flying;
    pthread_mutex_t lock;
    uint32_t *returned, n_returned; /* written by libzmq's I/O thread */
    /* frames waiting for credit, a ring of cap */
    xmem_guard_t *pending;
    uint32_t p_head, p_count;
    /* the protocol (bridge_wire.h) */
    uint64_t session, incarnation, sent_seq, acked_seq;
    uint64_t past[PAST_LIVES]; /* receivers' lives before the current one */
    uint32_t n_past;
    uint64_t done_base, done_cur, far_base, far_cur; /* per receiver life, and before it */
    uint64_t last_heard_ns, next_hello_ns, next_ping_ns, next_report_ns;
    int64_t offset_ns; /* receiver clock - this clock */
    uint64_t best_rtt_ns, offset_at_ns;
    bool have_offset, ever_up;
    char refused_why[XMEMI_BRIDGE_TEXT_MAX];
    xmem_node_link fig;
};

static const char *const policies[] = {"block", "drop_oldest", NULL};

static const xmem_node_param params[] = {
    {"peer", XMEM_PARAM_STRING, NULL, "ADDRESS:PORT of the far host's bridge_recv", 0, 0, NULL},
    {"link", XMEM_PARAM_STRING, NULL, "the edge's name, the same on both sides", 0, 0, NULL},
    {"depth", XMEM_PARAM_INT, "4", "frames on their way at once (the far input's depth)", 1, 65536,
     NULL},
    {"policy", XMEM_PARAM_ENUM, "drop_oldest", "when the far side is full or the link down", 0, 0,
     policies},
    {"key", XMEM_PARAM_STRING, "", "this host's public key file (KEY_secret beside it)", 0, 0,
     NULL},
    {"peer_key", XMEM_PARAM_STRING, "", "the far host's public key file", 0, 0, NULL},
    {"insecure", XMEM_PARAM_BOOL, "false", "plaintext, no keys", 0, 0, NULL},
    {"max_message", XMEM_PARAM_INT, "268435456", "the largest frame in bytes", 1, 4e9, NULL},
};

static const xmem_node_port inputs[] = {{"in", "frames to carry to the far host"}};

/* libzmq's I/O thread, once a frame's bytes are out (or dropped with its connection). Only says
 * so: the pool reference is released on the node's thread. */
static void on_sent(void *data, void *hint)
{
    (void)data;
    flight *f = hint;
    tx *t = f->t;
    uint64_t one = 1;
    /* All under the lock: once the node's thread has seen the slot back it may free t. */
    pthread_mutex_lock(&t->lock);
    t->returned[t->n_returned++] = f->slot;
    ssize_t n = write(t->efd, &one, sizeof one);
    pthread_mutex_unlock(&t->lock);
    (void)n;
}

static void drain_returned(tx *t)
{
    uint64_t count;
    ssize_t n = read(t->efd, &count, sizeof count);
    (void)n;
    uint32_t slots[256];
    for (;;) {
        pthread_mutex_lock(&t->lock);
        uint32_t k = t->n_returned < 256 ? t->n_returned : 256;
        t->n_returned -= k;
        memcpy(slots, t->returned + t->n_returned, k * sizeof *slots);
        pthread_mutex_unlock(&t->lock);
        if (!k)
            return;
        for (uint32_t i = 0; i < k; i++) {
            xmem_guard_release(&t->flying[slots[i]], NULL);
            t->free_slots[t->n_free++] = slots[i];
            t->n_flying--;
        }
    }
}

static uint64_t lost(const tx *t)
{
    uint64_t done = t->done_base + t->done_cur;
    return t->acked_seq > done ? t->acked_seq - done : 0;
}

static void report(tx *t, bool force)
{
    uint64_t now = xmem_node_clock_ns();
    if (!force && now < t->next_report_ns)
        return;
    t->next_report_ns = now + REPORT_EVERY_NS;
    t->fig.dropped[XMEM_LINK_DROP_LOST] = lost(t);
    t->fig.dropped[XMEM_LINK_DROP_FAR] = t->far_base + t->far_cur;
    xmem_node_report_link(t->node, &t->fig, sizeof t->fig);
}

static void set_state(tx *t, xmem_link_state s, const char *why)
{
    if (t->fig.state == s)
        return;
    xmem_link_state was = t->fig.state;
    t->fig.state = s;
    if (s == XMEM_LINK_REFUSED)
        t->fig.refused++; /* a sender counts the times its peer refused it */
    if (s == XMEM_LINK_UP) {
        if (t->ever_up && was == XMEM_LINK_DOWN)
            t->fig.reconnects++;
        t->ever_up = true;
        xmem_node_log(t->node, XMEM_LOG_INFO, "link to %s up (%s)", t->peer, t->link);
    } else if (s == XMEM_LINK_DOWN) {
        xmem_node_log(t->node, XMEM_LOG_WARN,
                      "link to %s down: %s (%" PRIu64 " frames on their way are lost or late)",
                      t->peer, why, t->sent_seq - t->acked_seq);
    }
    report(t, true);
}

static bool can_send(const tx *t)
{
    return t->fig.state == XMEM_LINK_UP && t->sent_seq - t->acked_seq < t->depth && t->n_free;
}

static void send_control(tx *t, xmemi_bridge_msg *m)
{
    m->session = t->session;
    m->t_send = xmem_node_clock_ns();
    zmq_send(zsock_resolve(t->sock), m, sizeof *m, ZMQ_DONTWAIT); /* none: no connection yet */
}

/* HELLO names the link, so that the receiver refuses a sender of another one; answered by
 * WELCOME. */
static void say_hello(tx *t, uint64_t now)
{
    xmemi_bridge_msg m = xmemi_bridge_msg_make(XMEMI_BRIDGE_HELLO);
    snprintf(m.text, sizeof m.text, "%s", t->link);
    send_control(t, &m);
    t->next_hello_ns = now + HELLO_EVERY_NS;
}

/* Hands one frame to libzmq, moving the guard into the flight table. False when it cannot go
 * now (no connection): the guard stays with the caller. */
static bool send_frame(tx *t, xmem_guard_t *g, xmem_error_t *err, xmem_err *rc)
{
    *rc = XMEM_OK;
    xmem_meta_t meta;
    if ((*rc = xmem_guard_meta(g, &meta, err)))
        return false;
    const void *data = xmem_guard_data(g);
    if (meta.storage != XMEM_STORAGE_CPU || (!data && meta.size)) {
        *rc = xmem_node_fail(t->node, err,
                             "bridge_send carries CPU buffers (buffer %u is CUDA memory); put a "
                             "cuda_download before the host boundary",
                             meta.ref.index);
        return false;
    }
    if ((int64_t)meta.size > t->max_message) {
        *rc = xmem_node_fail(t->node, err,
                             "a frame of %" PRIu64 " bytes is larger than max_message %" PRId64,
                             meta.size, t->max_message);
        return false;
    }
    xmemi_bridge_msg m = xmemi_bridge_msg_make(XMEMI_BRIDGE_FRAME);
    m.session = t->session;
    m.seq = t->sent_seq + 1;
    m.t_send = xmem_node_clock_ns();
    m.stamp_sequence = meta.sequence;
    m.stamp_ns = meta.timestamp_ns && t->have_offset
                     ? (uint64_t)((int64_t)meta.timestamp_ns + t->offset_ns)
                     : 0;
    m.size = meta.size;
    m.dtype = (int32_t)meta.dtype;
    m.ndim = meta.ndim;
    memcpy(m.shape, meta.shape, sizeof m.shape);
    memcpy(m.strides, meta.strides, sizeof m.strides);
    void *raw = zsock_resolve(t->sock);
    if (zmq_send(raw, &m, sizeof m, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return false; /* EAGAIN: no connection (ZMQ_IMMEDIATE) or its queue is full */
    uint32_t slot = t->free_slots[--t->n_free];
    t->flying[slot] = *g;
    *g = (xmem_guard_t)XMEM_GUARD_INIT;
    t->n_flying++;
    zmq_msg_t payload;
    if (meta.size == 0) {
        zmq_msg_init(&payload);
        on_sent(NULL, &t->flights[slot]); /* nothing of the buffer goes out */
    } else {
        zmq_msg_init_data(&payload, (void *)data, meta.size, on_sent, &t->flights[slot]);
    }
    /* The rest of a message whose first part was taken is taken too; if it is not, the
     * connection holds half a message that the next frame would complete wrongly: start again. */
    if (zmq_msg_send(&payload, raw, ZMQ_DONTWAIT) < 0) {
        int e = errno;
        zmq_msg_close(&payload); /* calls on_sent */
        *rc = xmem_node_fail(t->node, err, "sending frame %" PRIu64 " to %s failed mid-message: %s",
                             t->sent_seq + 1, t->peer, zmq_strerror(e));
        return false;
    }
    t->sent_seq++;
    t->fig.frames++;
    t->fig.bytes += meta.size;
    return true;
}

static void drop(tx *t, xmem_guard_t *g)
{
    t->fig.dropped[t->fig.state == XMEM_LINK_UP ? XMEM_LINK_DROP_FULL : XMEM_LINK_DROP_DOWN]++;
    xmem_guard_release(g, NULL);
}

/* The oldest frame waiting for credit, never sent: dropped as drop() counts it. */
static void drop_oldest_pending(tx *t)
{
    drop(t, &t->pending[t->p_head]);
    t->p_head = (t->p_head + 1) % t->cap;
    t->p_count--;
}

/* Sends what waits, as credit allows. */
static xmem_err send_pending(tx *t, xmem_error_t *err)
{
    while (t->p_count && can_send(t)) {
        xmem_err rc;
        if (!send_frame(t, &t->pending[t->p_head], err, &rc))
            return rc;
        t->p_head = (t->p_head + 1) % t->cap;
        t->p_count--;
    }
    return XMEM_OK;
}

/* The receiver's clock from a PONG or WELCOME: the sample with the shortest round trip of the last
 * few seconds is the closest. */
static void clock_sample(tx *t, const xmemi_bridge_msg *m, uint64_t now)
{
    if (!m->t_echo || now < m->t_echo)
        return;
    uint64_t rtt = now - m->t_echo;
    t->fig.rtt_ns = rtt;
    if (!t->have_offset || rtt <= t->best_rtt_ns || now - t->offset_at_ns > 5000000000ull) {
        t->offset_ns = (int64_t)m->t_peer - (int64_t)(m->t_echo + rtt / 2);
        t->best_rtt_ns = rtt;
        t->offset_at_ns = now;
        t->have_offset = true;
    }
}

/* A receiver's life this sender talked to before the current one: its late messages (credits
 * still queued when it died) must neither count nor make the link look up. */
static bool past_incarnation(const tx *t, uint64_t incarnation)
{
    for (int i = 0; i < PAST_LIVES; i++)
        if (t->past[i] == incarnation)
            return true;
    return false;
}

/* A receiver we have not talked to (a first one, or one restarted): whatever was on its way to
 * the last one is done or lost. */
static void new_incarnation(tx *t, const xmemi_bridge_msg *m)
{
    if (t->incarnation) {
        xmem_node_log(t->node, XMEM_LOG_INFO, "%s restarted: %" PRIu64 " frames to it lost",
                      t->peer, t->sent_seq - t->acked_seq);
        t->past[t->n_past++ % PAST_LIVES] = t->incarnation;
    }
    t->done_base += t->done_cur;
    t->far_base += t->far_cur;
    t->done_cur = t->far_cur = 0;
    t->acked_seq = t->sent_seq;
    t->incarnation = m->incarnation;
}

static void on_message(tx *t, xmemi_bridge_msg *m, uint64_t now)
{
    m->text[sizeof m->text - 1] = '\0'; /* the peer's text, whatever it sent */
    if (m->session != t->session)
        return; /* meant for an earlier life of this node */
    if (m->type == XMEMI_BRIDGE_REFUSED) {
        if (strcmp(t->refused_why, m->text) != 0)
            xmem_node_log(t->node, XMEM_LOG_ERROR, "%s refused this link: %s", t->peer, m->text);
        snprintf(t->refused_why, sizeof t->refused_why, "%s", m->text);
        set_state(t, XMEM_LINK_REFUSED, m->text);
        return;
    }
    if (!m->incarnation || past_incarnation(t, m->incarnation))
        return;
    /* Any message of a life not seen before means the receiver restarted, a WELCOME or not (a
     * reconnection may carry frames to the new one before its WELCOME arrives). */
    if (m->incarnation != t->incarnation)
        new_incarnation(t, m);
    t->last_heard_ns = now;
    t->refused_why[0] = '\0';
    if (m->type == XMEMI_BRIDGE_CREDIT || m->type == XMEMI_BRIDGE_PONG) {
        if (m->seq > t->acked_seq && m->seq <= t->sent_seq)
            t->acked_seq = m->seq;
    }
    if (m->done > t->done_cur)
        t->done_cur = m->done;
    if (m->dropped_far > t->far_cur)
        t->far_cur = m->dropped_far;
    if (m->type == XMEMI_BRIDGE_PONG || m->type == XMEMI_BRIDGE_WELCOME)
        clock_sample(t, m, now);
    set_state(t, XMEM_LINK_UP, NULL);
}

static void read_messages(tx *t)
{
    void *raw = zsock_resolve(t->sock);
    for (int k = 0; k < 1024; k++) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, raw, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return;
        }
        xmem_error_t why;
        xmemi_bridge_msg m;
        bool ok = !zmq_msg_more(&part) &&
                  !xmemi_bridge_msg_check(zmq_msg_data(&part), zmq_msg_size(&part), t->peer, &why);
        if (ok)
            memcpy(&m, zmq_msg_data(&part), sizeof m);
        else if (zmq_msg_more(&part))
            xmem_node_log(t->node, XMEM_LOG_WARN, "%s sent a message of several parts", t->peer);
        else
            xmem_node_log(t->node, XMEM_LOG_WARN, "%s", why.msg);
        while (zmq_msg_more(&part)) { /* a bad message's other parts */
            zmq_msg_close(&part);
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, raw, 0) < 0)
                break;
        }
        zmq_msg_close(&part);
        if (ok)
            on_message(t, &m, xmem_node_clock_ns());
    }
}

static void read_monitor(tx *t)
{
    uint16_t ev;
    uint32_t value;
    char addr[256];
    while (xmemi_bridge_monitor_read(t->mon, &ev, &value, addr, sizeof addr)) {
        if (xmemi_bridge_event_refused(ev)) {
            char why[XMEMI_BRIDGE_TEXT_MAX];
            snprintf(why, sizeof why, "%s (status %u)", xmemi_bridge_event_name(ev), value);
            if (strcmp(t->refused_why, why) != 0)
                xmem_node_log(t->node, XMEM_LOG_ERROR,
                              "%s refused this host: %s; is this host's key the one the graph "
                              "lists for it there, and the peer_key that host's?",
                              t->peer, why);
            snprintf(t->refused_why, sizeof t->refused_why, "%s", why);
            set_state(t, XMEM_LINK_REFUSED, why);
        } else if (ev == ZMQ_EVENT_DISCONNECTED && t->fig.state == XMEM_LINK_UP) {
            set_state(t, XMEM_LINK_DOWN, "the connection closed");
        } else if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            /* A new connection, maybe to a new receiver: hello now, whatever the state. */
            say_hello(t, xmem_node_clock_ns());
        }
    }
}

/* Everything the node does besides taking frames: returned buffers, messages, timers, credit. */
static xmem_err pump(tx *t, xmem_error_t *err)
{
    drain_returned(t);
    read_monitor(t);
    read_messages(t);
    uint64_t now = xmem_node_clock_ns();
    if (t->fig.state == XMEM_LINK_UP && now - t->last_heard_ns > SILENT_NS)
        set_state(t, XMEM_LINK_DOWN, "nothing heard for 10 s");
    if (t->fig.state != XMEM_LINK_UP && now >= t->next_hello_ns)
        say_hello(t, now);
    if (t->fig.state == XMEM_LINK_UP && now >= t->next_ping_ns) {
        xmemi_bridge_msg m = xmemi_bridge_msg_make(XMEMI_BRIDGE_PING);
        m.seq = t->sent_seq;
        m.t_echo = t->fig.rtt_ns; /* the receiver shows it too */
        send_control(t, &m);
        t->next_ping_ns = now + PING_EVERY_NS;
    }
    if (t->fig.state != XMEM_LINK_UP && !t->block) /* drop_oldest keeps only the newest */
        while (t->p_count > 1)
            drop_oldest_pending(t);
    xmem_err rc = send_pending(t, err);
    report(t, false);
    return rc;
}

/* Outside the host's loop (init's wait for the link, fini's flush): up to 20 ms for the
 * connection or its monitor to say something. */
static void wait_briefly(tx *t)
{
    zmq_pollitem_t items[] = {{zsock_resolve(t->sock), 0, ZMQ_POLLIN, 0},
                              {zsock_resolve(t->mon), 0, ZMQ_POLLIN, 0}};
    zmq_poll(items, 2, 20);
}

static void destroy(tx *t)
{
    zsock_destroy(&t->mon);
    zsock_destroy(&t->sock);
    zcert_destroy(&t->cert);
    /* libzmq drops what it still had queued and calls on_sent for each, on its own thread:
     * wait for them, so no reference is released after the pool handle has gone. */
    for (int i = 0; i < 200 && t->n_flying; i++) {
        drain_returned(t);
        if (t->n_flying)
            usleep(10000);
    }
    for (uint32_t i = 0; i < t->p_count; i++)
        xmem_guard_release(&t->pending[(t->p_head + i) % t->cap], NULL);
    if (t->n_flying) { /* libzmq still has them: leave t to its free function, never freed */
        xmem_node_log(t->node, XMEM_LOG_WARN,
                      "%u frames still with libzmq at exit; the pool takes them back", t->n_flying);
        return;
    }
    pthread_mutex_lock(&t->lock); /* the last on_sent has let go of t */
    pthread_mutex_unlock(&t->lock);
    pthread_mutex_destroy(&t->lock);
    if (t->efd >= 0)
        close(t->efd);
    free(t->flying);
    free(t->flights);
    free(t->free_slots);
    free(t->returned);
    free(t->pending);
    free(t);
}

static xmem_err setup(tx *t, xmem_error_t *err)
{
    xmem_node_t *node = t->node;
    bool insecure = xmem_node_param_bool(node, "insecure");
    const char *key = xmem_node_param_string(node, "key");
    const char *peer_key = xmem_node_param_string(node, "peer_key");
    char ep[512];
    bool ipv6;
    xmem_err rc = xmemi_bridge_endpoint(t->peer, ep, sizeof ep, &ipv6, err);
    if (rc)
        return rc;
    t->sock = zsock_new(ZMQ_DEALER);
    if (!t->sock)
        return xmemi_fail(err, XMEM_ETRANSPORT, errno, "a DEALER socket: %s", zmq_strerror(errno));
    xmemi_bridge_tune(t->sock, t->max_message, (int)t->depth * 2 + 64, ipv6);
    zsock_set_immediate(t->sock, 1); /* never queue frames for a connection not there */
    if (!insecure) {
        if (!key[0] || !peer_key[0])
            return xmemi_fail(err, XMEM_ECONFIG, 0,
                              "key and peer_key are needed unless insecure is true");
        zcert_t *far = NULL;
        if ((rc = xmemi_bridge_load_secret(key, &t->cert, err)) ||
            (rc = xmemi_bridge_load_public(peer_key, &far, err)))
            return rc;
        zcert_apply(t->cert, t->sock);
        zsock_set_curve_serverkey(t->sock, zcert_public_txt(far));
        zcert_destroy(&far);
    }
    if ((rc = xmemi_bridge_monitor(t->sock, xmem_node_name(node), &t->mon, err)))
        return rc;
    if (zsock_connect(t->sock, "%s", ep) != 0)
        return xmemi_fail(err, XMEM_ETRANSPORT, errno, "connect %s: %s", ep, zmq_strerror(errno));
    if ((rc = xmem_node_watch(node, zsock_resolve(t->sock), -1, err)) ||
        (rc = xmem_node_watch(node, zsock_resolve(t->mon), -1, err)) ||
        (rc = xmem_node_watch(node, NULL, t->efd, err)))
        return rc;
    xmem_node_log(node, XMEM_LOG_INFO, "carrying %s to %s (%s, depth %u, %s)", t->link, ep,
                  insecure ? "PLAINTEXT" : "CURVE", t->depth, t->block ? "block" : "drop_oldest");
    return XMEM_OK;
}

static xmem_err init(xmem_node_t *node, void **state, xmem_error_t *err)
{
    xmemi_bridge_czmq_init(xmem_node_name(node));
    tx *t = calloc(1, sizeof *t);
    if (!t)
        return xmem_node_fail(node, err, "out of memory");
    t->node = node;
    t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    t->peer = xmem_node_param_string(node, "peer");
    t->link = xmem_node_param_string(node, "link");
    t->depth = (uint32_t)xmem_node_param_int(node, "depth");
    t->block = xmem_node_param_enum_index(node, "policy") == 0;
    t->max_message = xmem_node_param_int(node, "max_message");
    t->session = xmemi_bridge_random64();
    t->cap = xmem_pool_capacity(xmem_node_pool(node));
    pthread_mutex_init(&t->lock, NULL);
    t->flying = calloc(t->cap, sizeof *t->flying);
    t->flights = calloc(t->cap, sizeof *t->flights);
    t->free_slots = calloc(t->cap, sizeof *t->free_slots);
    t->returned = calloc(t->cap, sizeof *t->returned);
    t->pending = calloc(t->cap, sizeof *t->pending);
    snprintf(t->fig.peer, sizeof t->fig.peer, "%s", t->peer);
    if (t->efd < 0 || !t->flying || !t->flights || !t->free_slots || !t->returned || !t->pending) {
        destroy(t);
        return xmem_node_fail(node, err, "out of memory (or eventfd)");
    }
    for (uint32_t i = 0; i < t->cap; i++) {
        t->flights[i] = (flight){.t = t, .slot = i};
        t->free_slots[t->n_free++] = t->cap - 1 - i;
    }
    xmem_err rc = setup(t, err);
    if (rc) {
        destroy(t);
        return rc;
    }
    /* The far side is usually there already (downstream starts first): frames are not dropped
     * for a link still shaking hands. One that is not there yet is not waited for long. */
    uint64_t deadline = xmem_node_clock_ns() + START_WAIT_NS;
    while (t->fig.state != XMEM_LINK_UP && !xmem_node_stopping(node) &&
           xmem_node_clock_ns() < deadline) {
        if ((rc = pump(t, err))) {
            destroy(t);
            return rc;
        }
        wait_briefly(t);
    }
    if (t->fig.state != XMEM_LINK_UP)
        xmem_node_log(node, XMEM_LOG_WARN, "%s is not there yet; frames are %s until it is",
                      t->peer, t->block ? "held (block)" : "dropped (drop_oldest)");
    report(t, true);
    *state = t;
    return XMEM_OK;
}

static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *in,
                        xmem_error_t *err)
{
    (void)node;
    (void)port;
    tx *t = state;
    xmem_err rc = pump(t, err);
    if (rc)
        return rc;
    if (!t->p_count && can_send(t)) {
        if (send_frame(t, in, err, &rc) || rc)
            return rc;
    }
    if (!t->block && t->p_count) /* drop_oldest: the newest waits, alone */
        drop_oldest_pending(t);
    if (t->p_count == t->cap) { /* cannot happen while the pool holds cap buffers */
        drop(t, in);
        return XMEM_OK;
    }
    t->pending[(t->p_head + t->p_count) % t->cap] = *in;
    *in = (xmem_guard_t)XMEM_GUARD_INIT;
    t->p_count++;
    return XMEM_OK;
}

static xmem_err wake(xmem_node_t *node, void *state, xmem_error_t *err)
{
    (void)node;
    return pump(state, err);
}

/* The stream ended here (every input ended, or the node was told to stop): the frames still
 * waiting get FLUSH_NS to be done on the far side, then END says the stream is over there too. */
static void fini(xmem_node_t *node, void *state)
{
    tx *t = state;
    uint64_t deadline = xmem_node_clock_ns() + FLUSH_NS;
    xmem_error_t err;
    while ((t->p_count || t->acked_seq < t->sent_seq) && t->fig.state == XMEM_LINK_UP &&
           xmem_node_clock_ns() < deadline) {
        if (pump(t, &err))
            break;
        wait_briefly(t);
    }
    if (t->fig.state == XMEM_LINK_UP) {
        xmemi_bridge_msg m = xmemi_bridge_msg_make(XMEMI_BRIDGE_END);
        m.seq = t->sent_seq;
        zsock_set_linger(t->sock, 1000); /* END must leave before the socket closes */
        send_control(t, &m);
    }
    while (t->p_count) /* never sent */
        drop_oldest_pending(t);
    drain_returned(t);
    report(t, true);
    xmem_node_log(node, XMEM_LOG_INFO,
                  "sent %" PRIu64 " frames (%.1f MB) to %s; lost %" PRIu64 ", not sent: %" PRIu64
                  " (link down) %" PRIu64 " (far side full), dropped there: %" PRIu64,
                  t->fig.frames, (double)t->fig.bytes / 1e6, t->peer, lost(t),
                  t->fig.dropped[XMEM_LINK_DROP_DOWN], t->fig.dropped[XMEM_LINK_DROP_FULL],
                  t->far_base + t->far_cur);
    destroy(t);
}

XMEMI_BUILTIN_MODULE_DEFINE(xmemi_node_bridge_send, .name = "bridge_send", .version = "1.0",
                            .description = "carries frames to another host's bridge_recv "
                                           "(made by `xmem run --host` for cross-host edges)",
                            .params = params, .n_params = sizeof params / sizeof params[0],
                            .inputs = inputs, .n_inputs = 1, .init = init, .process = process,
                            .fini = fini, .wake = wake);
