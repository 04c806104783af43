/* The subscriber: one ZeroMQ DEALER socket per publisher it connects to, its own attachment to the
 * pool, and a local queue of accepted descriptors (where drop_oldest gives back older buffers).
 * Every message is checked before anything touches a refcount. */
#define _GNU_SOURCE
#include <xmem/pool_admin.h>
#include <xmem/transport.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "control.h"
#include "one_thread.h"
#include "common/abi.h"
#include "common/fail.h"
#include "common/proc.h"
#include "core/guard_tally.h"
#include "zmq_util.h"

#define MAX_PUBLISHERS XMEM_SUB_MAX_PUBLISHERS

struct xmem_sub {
    xmemi_one_thread one_thread; /* debug builds: who is inside */
    xmem_pool_t *pool;           /* the subscriber's own attachment */
    uint64_t pool_id;
    uint32_t owner;
    uint32_t capacity;
    xmem_sub_options opts;
    void *ctx;
    zmq_pollitem_t items[MAX_PUBLISHERS];
    char *endpoints[MAX_PUBLISHERS];
    uint32_t nsocks;
    uint32_t next_sock;     /* where a block subscriber's next read starts */
    xmem_descriptor *queue; /* accepted, not yet returned; oldest at tail */
    uint32_t qcap;
    uint64_t qhead, qtail;
    xmem_descriptor last;
    uint64_t last_seq[MAX_PUBLISHERS];     /* newest sequence accepted from each publisher */
    bool have_seq[MAX_PUBLISHERS];         /* false until the first, and after a welcome */
    uint64_t pub_instance[MAX_PUBLISHERS]; /* who is publishing there (its welcome), 0: unknown */
    int32_t pub_pid[MAX_PUBLISHERS];       /* its process, 0 once it was found gone */
    bool ended[MAX_PUBLISHERS];            /* it sent END (until it welcomes us again) */
    uint32_t nended;
    uint32_t *held;             /* per slot: guards receive handed out that still hold their
                                   reference (core/guard_tally.h; atomic: any thread may release) */
    uint32_t *queued;           /* per slot: its descriptors in the queue (all of one generation:
                                   we hold a reference for each, so it cannot be recycled) */
    xmem_buf_ref *scratch_refs; /* capacity entries, for release_lost */
    uint32_t *scratch_counts;
    uint64_t next_refresh_ns;
    xmem_sub_stats stats;
    bool logged[XMEM_REJECT_COUNT_];
};

void xmem_sub_options_init(xmem_sub_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->depth = 4;
    opts->policy = XMEM_POLICY_DROP_OLDEST;
    opts->heartbeat_ms = 200;
}

xmem_err xmem_sub_create(const char *pool_name, const xmem_sub_options *opts, xmem_sub_t **out,
                         xmem_error_t *err)
{
    if (!out)
        return xmemi_fail(err, XMEM_EINVAL, 0, "xmem_sub_create: out is NULL");
    *out = NULL;
    xmem_sub_t *sub = calloc(1, sizeof *sub);
    if (!sub)
        return xmemi_fail(err, XMEM_ENOMEM, 0, "subscriber of pool '%s': no memory", pool_name);
    if (opts)
        sub->opts = *opts;
    else
        xmem_sub_options_init(&sub->opts);
    xmem_err rc;
    if (sub->opts.depth == 0 || sub->opts.depth > XMEM_QUEUE_DEPTH_MAX ||
        (unsigned)sub->opts.policy > XMEM_POLICY_BLOCK) {
        rc = xmemi_fail(err, XMEM_EINVAL, 0,
                        "subscriber of pool '%s': depth %u (1..%u) or policy %d is invalid",
                        pool_name, sub->opts.depth, XMEM_QUEUE_DEPTH_MAX, (int)sub->opts.policy);
        goto fail_sub;
    }
    if (sub->opts.heartbeat_ms <= 0)
        sub->opts.heartbeat_ms = 200;
    rc = xmem_pool_open(pool_name, &sub->pool, err);
    if (rc)
        goto fail_sub;
    sub->pool_id = xmem_pool_id(sub->pool);
    sub->owner = xmem_pool_owner_id(sub->pool);
    sub->capacity = xmem_pool_capacity(sub->pool);
    sub->held = calloc(sub->capacity, sizeof *sub->held);
    sub->queued = calloc(sub->capacity, sizeof *sub->queued);
    sub->scratch_refs = calloc(sub->capacity, sizeof *sub->scratch_refs);
    sub->scratch_counts = calloc(sub->capacity, sizeof *sub->scratch_counts);
    if (!sub->held || !sub->queued || !sub->scratch_refs || !sub->scratch_counts) {
        rc = xmemi_fail(err, XMEM_ENOMEM, 0, "subscriber of pool '%s': no memory", pool_name);
        goto fail_pool;
    }
    sub->ctx = zmq_ctx_new();
    if (!sub->ctx) {
        rc = xmemi_zmq_fail(err, "zmq_ctx_new for subscriber of pool", pool_name);
        goto fail_pool;
    }
    *out = sub;
    return XMEM_OK;

fail_pool:
    xmem_pool_close(&sub->pool);
    free(sub->held);
    free(sub->queued);
    free(sub->scratch_refs);
    free(sub->scratch_counts);
fail_sub:
    free(sub);
    return rc;
}

/* False when the socket has no connection to queue it on (see refresh). */
static bool send_control(xmem_sub_t *sub, void *sock, uint16_t type)
{
    xmemi_control c = {
        .type = type,
        .pool_id = sub->pool_id,
        .owner = sub->owner,
        .pid = (uint32_t)getpid(),
        .depth = sub->opts.depth,
        .policy = (uint16_t)sub->opts.policy,
    };
    uint8_t wire[XMEMI_CONTROL_SIZE];
    xmemi_control_encode(&c, wire);
    return zmq_send(sock, wire, sizeof wire, ZMQ_DONTWAIT) >= 0 || errno != EAGAIN;
}

/* Room for what the publishers may have in flight: 2 x depth each under drop_oldest. */
static xmem_err grow_queue(xmem_sub_t *sub, xmem_error_t *err)
{
    uint32_t want = 2 * sub->opts.depth * (sub->nsocks + 1);
    if (want <= sub->qcap)
        return XMEM_OK;
    xmem_descriptor *q = malloc(want * sizeof *q);
    if (!q)
        return xmemi_fail(err, XMEM_ENOMEM, 0, "subscriber of pool '%s': no memory for its queue",
                          xmem_pool_name(sub->pool));
    uint64_t n = 0;
    for (uint64_t i = sub->qtail; i < sub->qhead; i++)
        q[n++] = sub->queue[i % sub->qcap];
    free(sub->queue);
    sub->queue = q;
    sub->qcap = want;
    sub->qtail = 0;
    sub->qhead = n;
    return XMEM_OK;
}

static xmem_err connect_to(xmem_sub_t *sub, const char *endpoint, xmem_error_t *err)
{
    if (sub->nsocks == MAX_PUBLISHERS)
        return xmemi_fail(err, XMEM_EINVAL, 0, "subscriber of pool '%s': %d publishers at most",
                          xmem_pool_name(sub->pool), MAX_PUBLISHERS);
    xmem_err rc = grow_queue(sub, err);
    if (rc)
        return rc;
    void *sock = zmq_socket(sub->ctx, ZMQ_DEALER);
    if (!sock)
        return xmemi_zmq_fail(err, "zmq_socket(DEALER) for", endpoint);
    char rid[64];
    int rid_len =
        snprintf(rid, sizeof rid, "xmem-sub-%d-%u-%u", (int)getpid(), sub->owner, sub->nsocks);
    int hb = sub->opts.heartbeat_ms;
    /* A graph starts downstream first, so the first connect usually finds no publisher yet:
     * retry after 10 ms (libzmq waits 100), backing off to 1 s for one that stays away. */
    if ((rc = xmemi_zmq_setint(sock, ZMQ_LINGER, 100, endpoint, err)) ||
        (rc = xmemi_zmq_setint(sock, ZMQ_RCVHWM, 100000, endpoint, err)) ||
        (rc = xmemi_zmq_setint(sock, ZMQ_RECONNECT_IVL, 10, endpoint, err)) ||
        (rc = xmemi_zmq_setint(sock, ZMQ_RECONNECT_IVL_MAX, 1000, endpoint, err)) ||
        /* A peer's oversized message costs it the connection, never our memory. */
        (rc = xmemi_zmq_limit_messages(sock, endpoint, err)) ||
        (rc = xmemi_zmq_heartbeat(sock, hb, endpoint, err)))
        goto fail;
    if (zmq_setsockopt(sock, ZMQ_ROUTING_ID, rid, (size_t)rid_len) != 0) {
        rc = xmemi_zmq_fail(err, "zmq_setsockopt(ROUTING_ID) for", endpoint);
        goto fail;
    }
    if (zmq_connect(sock, endpoint) != 0) {
        rc = xmemi_zmq_fail(err, "subscriber cannot connect to", endpoint);
        goto fail;
    }
    sub->endpoints[sub->nsocks] = strdup(endpoint);
    sub->items[sub->nsocks] = (zmq_pollitem_t){.socket = sock, .events = ZMQ_POLLIN};
    sub->nsocks++;
    send_control(sub, sock, XMEMI_SUBSCRIBE);
    return XMEM_OK;

fail:
    zmq_close(sock);
    return rc;
}

xmem_err xmem_sub_connect(xmem_sub_t *sub, const char *endpoint, xmem_error_t *err)
{
    xmemi_enter(&sub->one_thread, "subscriber of pool", xmem_pool_name(sub->pool));
    xmem_err rc = connect_to(sub, endpoint, err);
    xmemi_leave(&sub->one_thread);
    return rc;
}

static void reject(xmem_sub_t *sub, xmem_reject why, const char *endpoint, const char *detail)
{
    sub->stats.rejected[why]++;
    sub->stats.rejected_total++;
    if (sub->logged[why])
        return;
    sub->logged[why] = true;
    fprintf(stderr,
            "xmem: subscriber of pool '%s' (owner %u): refused a message from %s (%s): %s; "
            "further ones of this kind are only counted\n",
            xmem_pool_name(sub->pool), sub->owner, endpoint, xmem_reject_name(why), detail);
}

/* References to `ref` already accounted for: its descriptors in the queue, and the guards on it
 * the application holds (each of those pins its generation, so they are of this one). */
static uint32_t accounted(const xmem_sub_t *sub, xmem_buf_ref ref)
{
    return sub->queued[ref.index] + __atomic_load_n(&sub->held[ref.index], __ATOMIC_ACQUIRE);
}

static void enqueue(xmem_sub_t *sub, const xmem_descriptor *d)
{
    sub->queue[sub->qhead++ % sub->qcap] = *d;
    sub->queued[d->ref.index]++;
}

static xmem_descriptor dequeue(xmem_sub_t *sub)
{
    xmem_descriptor d = sub->queue[sub->qtail++ % sub->qcap];
    sub->queued[d.ref.index]--;
    return d;
}

/* Gives back the oldest queued buffer unread. */
static void drop_oldest(xmem_sub_t *sub)
{
    xmem_pool_release(sub->pool, dequeue(sub).ref, NULL);
    sub->stats.dropped_oldest++;
}

/* A publisher went away (died, or was replaced by a new one): descriptors it had in flight to us
 * are lost, and the references given with them would stay ours until we close. Gives back every
 * reference held that is neither queued nor held by the application. (One still in flight from
 * another publisher may be among them: its descriptor is refused on arrival, that frame is lost,
 * nothing leaks.) */
static void release_lost(xmem_sub_t *sub)
{
    uint32_t n =
        xmem_pool_list_owned(sub->pool, sub->scratch_refs, sub->scratch_counts, sub->capacity);
    for (uint32_t i = 0; i < n && i < sub->capacity; i++) {
        xmem_buf_ref ref = sub->scratch_refs[i];
        for (uint32_t k = accounted(sub, ref); k < sub->scratch_counts[i]; k++)
            if (xmem_pool_release(sub->pool, ref, NULL) == XMEM_OK)
                sub->stats.lost_in_flight++;
    }
}

static void on_welcome(xmem_sub_t *sub, uint32_t sock, const xmemi_welcome *w)
{
    if (w->kind == XMEMI_END) {
        /* Only from the publisher we know there (an END from an unknown one came without
         * its WELCOME: ignore it, the stream from this endpoint is not known to be over). */
        if (sub->pub_instance[sock] == w->instance && !sub->ended[sock]) {
            sub->ended[sock] = true;
            sub->nended++;
        }
        return;
    }
    if (sub->ended[sock]) { /* a publisher (re)started there: its stream is open again */
        sub->ended[sock] = false;
        sub->nended--;
    }
    /* Another publisher than before on this endpoint: the old one's undelivered buffers are lost.
     */
    if (sub->pub_instance[sock] && sub->pub_instance[sock] != w->instance)
        release_lost(sub);
    sub->pub_instance[sock] = w->instance;
    sub->pub_pid[sock] = (int32_t)w->pid;
    sub->have_seq[sock] = false; /* its numbering starts afresh */
}

static void on_message(xmem_sub_t *sub, uint32_t sock, const void *msg, size_t len)
{
    const char *endpoint = sub->endpoints[sock];
    xmemi_welcome w;
    if (xmemi_welcome_decode(msg, len, &w))
        return on_welcome(sub, sock, &w);
    xmem_descriptor d;
    xmem_reject why;
    if (xmem_descriptor_decode(msg, len, &d, &why) != XMEM_OK)
        return reject(sub, why, endpoint, "not a valid descriptor");
    if (d.pool_id != sub->pool_id)
        return reject(sub, XMEM_REJECT_POOL, endpoint, "descriptor of another pool");
    if (d.ref.index >= sub->capacity)
        return reject(sub, XMEM_REJECT_INDEX, endpoint, "buffer index beyond the pool");
    if (d.owner != sub->owner)
        return reject(sub, XMEM_REJECT_ADDRESS, endpoint, "addressed to another subscriber");
    /* References we hold to this buffer that nothing accounts for yet (0 as well for a stale
     * generation, told apart below, off the common path): one must have come with it. */
    uint32_t owned = xmem_pool_owned_by(sub->pool, d.ref, sub->owner);
    uint32_t count;
    if (owned == 0 && xmem_pool_ref_count(sub->pool, d.ref, &count, NULL) != XMEM_OK)
        return reject(sub, XMEM_REJECT_GENERATION, endpoint, "stale or free buffer");
    uint32_t queued = sub->queued[d.ref.index];
    if (owned <= accounted(sub, d.ref))
        return owned > queued
                   ? reject(sub, XMEM_REJECT_HELD, endpoint,
                            "the application holds this buffer, and no reference came with it")
                   : reject(sub, XMEM_REJECT_NOT_OWNED, endpoint, "no reference was given with it");
    /* A publisher numbers what it sends in increasing order, so anything not newer than the last
     * accepted from it is a replay, whose reference was accounted for already (maybe by a guard
     * the application still holds). */
    if (sub->have_seq[sock] && d.sequence <= sub->last_seq[sock])
        return reject(sub, XMEM_REJECT_NOT_OWNED, endpoint,
                      "a replay: not newer than the last descriptor from this publisher");
    sub->have_seq[sock] = true;
    sub->last_seq[sock] = d.sequence;
    if (sub->qhead - sub->qtail == sub->qcap)
        drop_oldest(sub); /* more than the publishers may send: stay bounded */
    enqueue(sub, &d);
    sub->stats.received++;
    if (sub->opts.policy == XMEM_POLICY_DROP_OLDEST)
        while (sub->qhead - sub->qtail > sub->opts.depth)
            drop_oldest(sub);
}

/* Reads what waits on the sockets: everything (`all`), or until one descriptor is queued. A
 * socket found empty costs ZeroMQ a poll() system call, so stopping at the first descriptor
 * leaves that cost to the time the socket really is empty, as a blocking receive would. */
static void drain(xmem_sub_t *sub, bool all)
{
    for (uint32_t k = 0; k < sub->nsocks; k++) {
        uint32_t i = (sub->next_sock + k) % sub->nsocks; /* each publisher served in turn */
        void *sock = sub->items[i].socket;
        uint8_t msg[XMEM_DESCRIPTOR_SIZE + 1];
        int n;
        while ((all || sub->qhead == sub->qtail) &&
               (n = zmq_recv(sock, msg, sizeof msg, ZMQ_DONTWAIT)) >= 0) {
            int more = 0;
            size_t ml = sizeof more;
            zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
            bool multipart = more;
            while (more) {
                zmq_recv(sock, msg, 0, 0);
                zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
            }
            /* A truncated or multipart message can only fail the size check. */
            size_t len = multipart || (size_t)n > XMEM_DESCRIPTOR_SIZE ? sizeof msg : (size_t)n;
            on_message(sub, i, msg, len);
        }
        if (!all && sub->qhead != sub->qtail) {
            sub->next_sock = i + 1;
            return;
        }
    }
}

static void refresh(xmem_sub_t *sub)
{
    uint64_t now = xmemi_now_ns();
    if (now < sub->next_refresh_ns)
        return;
    sub->next_refresh_ns = now + (uint64_t)sub->opts.heartbeat_ms * 1000000ull;
    for (uint32_t i = 0; i < sub->nsocks; i++) {
        /* A connection libzmq gave up on (a peer broke the protocol, e.g. a message over
         * ZMQ_MAXMSGSIZE) is never retried, and leaves the socket nothing to queue on: connect
         * afresh, so a real publisher that comes back there is heard again. (While a connection is
         * merely down the message queues, as for a publisher not started yet.) */
        if (!send_control(sub, sub->items[i].socket, XMEMI_SUBSCRIBE)) {
            zmq_disconnect(sub->items[i].socket, sub->endpoints[i]);
            zmq_connect(sub->items[i].socket, sub->endpoints[i]);
            send_control(sub, sub->items[i].socket, XMEMI_SUBSCRIBE);
        }
        /* A publisher that died takes the descriptors it had in flight with it. */
        if (sub->pub_pid[i] > 0 && !xmemi_proc_alive(sub->pub_pid[i], 0)) {
            sub->pub_pid[i] = 0;
            release_lost(sub);
        }
    }
}

/* Something for receive to return: a queued descriptor, or the end of every stream. */
static bool has_news(xmem_sub_t *sub)
{
    /* Under drop_oldest the newest must be known, so everything waiting is read first; under
     * block what is queued goes first, and the sockets are read one descriptor at a time. */
    if (sub->opts.policy == XMEM_POLICY_DROP_OLDEST)
        drain(sub, true);
    else if (sub->qhead == sub->qtail)
        drain(sub, false);
    return sub->qhead != sub->qtail || (sub->nsocks > 0 && sub->nended == sub->nsocks);
}

#define MAX_POLL_ITEMS 256

static xmem_err wait_any(xmem_sub_t *const *subs, uint32_t n, uint32_t first, int timeout_ms,
                         uint32_t *ready, xmem_error_t *err)
{
    if (n == 0 || !subs || !ready)
        return xmemi_fail(err, XMEM_EINVAL, 0, "xmem_sub_wait_any: no subscriber to wait on");
    zmq_pollitem_t many[MAX_POLL_ITEMS];
    zmq_pollitem_t *items = n == 1 ? subs[0]->items : many; /* receive's path copies nothing */
    uint32_t nitems = n == 1 ? subs[0]->nsocks : 0;
    for (uint32_t i = 0; i < n && n > 1; i++) {
        if (nitems + subs[i]->nsocks > MAX_POLL_ITEMS)
            return xmemi_fail(err, XMEM_EINVAL, 0,
                              "xmem_sub_wait_any: more than %d connections in all", MAX_POLL_ITEMS);
        memcpy(many + nitems, subs[i]->items, subs[i]->nsocks * sizeof *items);
        nitems += subs[i]->nsocks;
    }
    const char *name = xmem_pool_name(subs[0]->pool);
    uint64_t deadline = 0; /* set once the first look finds nothing */
    for (;;) {
        for (uint32_t k = 0; k < n; k++) {
            uint32_t i = (first + k) % n;
            if (has_news(subs[i])) {
                *ready = i;
                return XMEM_OK;
            }
        }
        int heartbeat_ms = subs[0]->opts.heartbeat_ms;
        for (uint32_t i = 0; i < n; i++) {
            refresh(subs[i]);
            if (subs[i]->opts.heartbeat_ms < heartbeat_ms)
                heartbeat_ms = subs[i]->opts.heartbeat_ms;
        }
        uint64_t now = xmemi_now_ns();
        if (deadline == 0)
            deadline = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * 1000000ull;
        if (now >= deadline)
            return xmemi_fail(err, XMEM_ETIMEDOUT, 0,
                              "subscriber of pool '%s': nothing received in %d ms", name,
                              timeout_ms);
        uint64_t wait_ms = (deadline - now + 999999) / 1000000;
        if (wait_ms > (uint64_t)heartbeat_ms)
            wait_ms = (uint64_t)heartbeat_ms;
        if (zmq_poll(items, (int)nitems, (long)wait_ms) < 0) {
            /* A signal: return, so the caller can look at why (a stop request, say). */
            if (errno == EINTR)
                return xmemi_fail(err, XMEM_EINTERRUPTED, 0,
                                  "subscriber of pool '%s': interrupted by a signal", name);
            return xmemi_zmq_fail(err, "zmq_poll for subscriber of pool", name);
        }
    }
}

xmem_err xmem_sub_wait_any(xmem_sub_t *const *subs, uint32_t n, uint32_t first, int timeout_ms,
                           uint32_t *ready, xmem_error_t *err)
{
    for (uint32_t i = 0; subs && i < n; i++)
        xmemi_enter(&subs[i]->one_thread, "subscriber of pool", xmem_pool_name(subs[i]->pool));
    xmem_err rc = wait_any(subs, n, first, timeout_ms, ready, err);
    for (uint32_t i = 0; subs && i < n; i++)
        xmemi_leave(&subs[i]->one_thread);
    return rc;
}

static xmem_err receive(xmem_sub_t *sub, int timeout_ms, xmem_guard_t *out, xmem_error_t *err)
{
    if (!out || xmem_guard_valid(out))
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "subscriber of pool '%s': receive needs an empty guard",
                          xmem_pool_name(sub->pool));
    uint32_t ready;
    xmem_err rc = wait_any(&sub, 1, 0, timeout_ms, &ready, err);
    if (rc)
        return rc;
    if (sub->qhead == sub->qtail) {
        refresh(sub); /* keeps subscribing: a publisher restarted there reopens the stream */
        return xmemi_fail(err, XMEM_EEND, 0,
                          "subscriber of pool '%s': all %u publishers ended their streams",
                          xmem_pool_name(sub->pool), sub->nsocks);
    }
    xmem_descriptor d = dequeue(sub);
    rc = xmem_pool_get(sub->pool, d.ref, out, err);
    if (rc == XMEM_OK) {
        sub->last = d;
        xmemi_guard_tally(out, &sub->held[d.ref.index]);
    } else /* it cannot be handed out (unmappable, say): give its reference back */
        xmem_pool_release(sub->pool, d.ref, NULL);
    return rc;
}

xmem_err xmem_sub_receive(xmem_sub_t *sub, int timeout_ms, xmem_guard_t *out, xmem_error_t *err)
{
    xmemi_enter(&sub->one_thread, "subscriber of pool", xmem_pool_name(sub->pool));
    xmem_err rc = receive(sub, timeout_ms, out, err);
    xmemi_leave(&sub->one_thread);
    return rc;
}

const xmem_descriptor *xmem_sub_last(const xmem_sub_t *sub)
{
    return &sub->last;
}

xmem_pool_t *xmem_sub_pool(xmem_sub_t *sub)
{
    return sub->pool;
}

void xmem_sub_stats_get(const xmem_sub_t *sub, xmem_sub_stats *out, size_t size)
{
    xmemi_copy_sized(out, size, &sub->stats, sizeof sub->stats);
}

void xmem_sub_destroy(xmem_sub_t **sub_ptr)
{
    if (!sub_ptr || !*sub_ptr)
        return;
    xmem_sub_t *sub = *sub_ptr;
    *sub_ptr = NULL;
    xmemi_enter(&sub->one_thread, "subscriber of pool", xmem_pool_name(sub->pool));
    for (uint32_t i = 0; i < sub->nsocks; i++) {
        send_control(sub, sub->items[i].socket, XMEMI_UNSUBSCRIBE);
        zmq_close(sub->items[i].socket);
        free(sub->endpoints[i]);
    }
    zmq_ctx_term(sub->ctx);
    /* Detaching gives back every reference of this attachment: queued ones and any whose
     * descriptor is still in flight. */
    xmem_pool_close(&sub->pool);
    free(sub->queue);
    free(sub->held);
    free(sub->queued);
    free(sub->scratch_refs);
    free(sub->scratch_counts);
    free(sub);
}
