/* The subscriber: one ZeroMQ DEALER socket per publisher it connects to, its own attachment to the
 * pool, an inbox publishers put the references in flight into (inbox.h), and a local queue of
 * accepted descriptors (where drop_oldest gives back older buffers). Every message is checked
 * before anything touches a refcount. When a publisher goes away, the inbox is replaced and the old
 * one retired once every live publisher has moved on to the new one (advance_switch). */
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
#include "inbox.h"
#include "one_thread.h"
#include "common/abi.h"
#include "common/fail.h"
#include "common/proc.h"
#include "zmq_util.h"

#define MAX_PUBLISHERS XMEM_SUB_MAX_PUBLISHERS
#define REFRESH_EVERY 64 /* receives between looks at the clock for a refresh */

struct xmem_sub {
    xmemi_one_thread one_thread; /* debug builds: who is inside */
    xmem_pool_t *pool;           /* the subscriber's own attachment: what it accepted */
    xmemi_inbox inbox;           /* what is in flight to it */
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
    bool moved[MAX_PUBLISHERS]; /* it said it gives into the current inbox (while one retires) */
    bool switch_wanted;         /* a publisher went away: replace the inbox */
    uint64_t next_switch_ns;    /* when to try again after a replacement could not start */
    uint32_t *queued;           /* per slot: its descriptors in the queue (all of one generation:
                                   we hold a reference for each, so it cannot be recycled) */
    uint32_t receives;          /* since the last refresh was looked at */
    uint64_t next_refresh_ns;
    xmem_sub_stats stats;
    bool logged[XMEM_REJECT_COUNT_];
    bool logged_switch;
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
    rc = xmemi_sub_attach(pool_name, "its attachment", &sub->pool, err);
    if (rc)
        goto fail_sub;
    sub->pool_id = xmem_pool_id(sub->pool);
    sub->owner = xmem_pool_owner_id(sub->pool);
    sub->capacity = xmem_pool_capacity(sub->pool);
    sub->queued = calloc(sub->capacity, sizeof *sub->queued);
    if (!sub->queued) {
        rc = xmemi_fail(err, XMEM_ENOMEM, 0, "subscriber of pool '%s': no memory", pool_name);
        goto fail_pool;
    }
    if ((rc = xmemi_inbox_open(&sub->inbox, sub->pool, err)))
        goto fail_pool;
    sub->ctx = zmq_ctx_new();
    if (!sub->ctx) {
        rc = xmemi_zmq_fail(err, "zmq_ctx_new for subscriber of pool", pool_name);
        goto fail_inbox;
    }
    *out = sub;
    return XMEM_OK;

fail_inbox:
    xmemi_inbox_close(&sub->inbox);
fail_pool:
    xmem_pool_close(&sub->pool);
    free(sub->queued);
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
        .owner = sub->inbox.current_id,
        .pid = (uint32_t)getpid(),
        .depth = sub->opts.depth,
        .policy = (uint16_t)sub->opts.policy,
        .home = sub->owner,
        .block_timeout_ms = sub->opts.block_timeout_ms,
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
    if (sub->pub_instance[sock] != w->instance) {
        /* Another publisher than before on this endpoint: the one before went away, and what it
         * had in flight is in the inbox. Its numbering starts afresh. */
        if (sub->pub_instance[sock])
            sub->switch_wanted = true;
        sub->have_seq[sock] = false;
    }
    sub->pub_instance[sock] = w->instance;
    sub->pub_pid[sock] = (int32_t)w->pid;
    sub->moved[sock] = w->inbox == sub->inbox.current_id;
}

/* Why a descriptor naming no reference in the inbox is refused. */
static void refuse_unowned(xmem_sub_t *sub, const xmem_descriptor *d, const char *endpoint)
{
    uint32_t count;
    if (xmem_pool_ref_count(sub->pool, d->ref, &count, NULL) != XMEM_OK)
        return reject(sub, XMEM_REJECT_GENERATION, endpoint, "stale or free buffer");
    if (xmem_pool_owned_count(sub->pool, d->ref) > sub->queued[d->ref.index])
        return reject(sub, XMEM_REJECT_HELD, endpoint,
                      "the application holds this buffer, and no reference came with it");
    return reject(sub, XMEM_REJECT_NOT_OWNED, endpoint, "no reference was given with it");
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
    xmem_pool_t *box = xmemi_inbox_of(&sub->inbox, d.owner);
    if (!box)
        return d.owner == sub->inbox.retired_id
                   ? reject(sub, XMEM_REJECT_NOT_OWNED, endpoint,
                            "its reference went back with the inbox of a publisher gone")
                   : reject(sub, XMEM_REJECT_ADDRESS, endpoint, "addressed to another subscriber");
    /* The inbox holds exactly the references of descriptors not read yet, so one must be there
     * for this one (0 as well for a stale generation, told apart off the common path). */
    if (xmem_pool_owned_count(box, d.ref) == 0)
        return refuse_unowned(sub, &d, endpoint);
    /* A publisher numbers what it sends in increasing order, so anything not newer than the last
     * accepted from it is a replay, whose reference was taken already (another one in the inbox
     * belongs to a descriptor still to come). */
    if (sub->have_seq[sock] && d.sequence <= sub->last_seq[sock])
        return reject(sub, XMEM_REJECT_NOT_OWNED, endpoint,
                      "a replay: not newer than the last descriptor from this publisher");
    if (xmemi_inbox_accept(&sub->inbox, box, d.ref, NULL) != XMEM_OK)
        return reject(sub, XMEM_REJECT_NOT_OWNED, endpoint, "its reference left the inbox");
    sub->have_seq[sock] = true;
    sub->last_seq[sock] = d.sequence;
    d.owner = sub->owner; /* the reference is ours now */
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

/* Publishers that may still give into the retiring inbox: any live one that has not said it gives
 * into the current one. One that ended gives no more, and one found dead none at all. */
static bool publishers_moved(const xmem_sub_t *sub)
{
    for (uint32_t i = 0; i < sub->nsocks; i++)
        if (!sub->moved[i] && sub->pub_pid[i] > 0 && !sub->ended[i])
            return false;
    return true;
}

/* Asks every publisher to give into the current inbox from now on. */
static void subscribe_all(xmem_sub_t *sub)
{
    for (uint32_t i = 0; i < sub->nsocks; i++) {
        sub->moved[i] = false;
        send_control(sub, sub->items[i].socket, XMEMI_SUBSCRIBE);
    }
}

/* The inbox's replacement, one step at a time (never blocking): once every live publisher moved on
 * and what already came was read, the retiring inbox holds only what went away with the dead, and
 * closing it gives that back; a publisher gone meanwhile (switch_wanted) starts the next one. */
static void advance_switch(xmem_sub_t *sub)
{
    if (sub->inbox.retiring) {
        if (!publishers_moved(sub))
            return;
        drain(sub, true); /* a descriptor already here is a frame, not a loss */
        if (!publishers_moved(sub))
            return;
        sub->stats.lost_in_flight += xmemi_inbox_retire(&sub->inbox);
    }
    if (!sub->switch_wanted)
        return;
    uint64_t now = xmemi_now_ns();
    if (now < sub->next_switch_ns)
        return;
    xmem_error_t err;
    if (xmemi_inbox_replace(&sub->inbox, &err) != XMEM_OK) {
        /* No process slot, say: what the dead had in flight stays in the inbox until it can. */
        sub->next_switch_ns = now + (uint64_t)sub->opts.heartbeat_ms * 1000000ull;
        if (!sub->logged_switch)
            fprintf(stderr, "xmem: %s; retrying every %d ms\n", err.msg, sub->opts.heartbeat_ms);
        sub->logged_switch = true;
        return;
    }
    sub->switch_wanted = false;
    subscribe_all(sub);
    if (publishers_moved(sub)) /* only dead or ended publishers: nothing to wait for */
        advance_switch(sub);
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
        /* A publisher that died leaves what it had in flight in the inbox. */
        if (sub->pub_pid[i] > 0 && !xmemi_proc_alive(sub->pub_pid[i], 0)) {
            sub->pub_pid[i] = 0;
            sub->switch_wanted = true;
        }
    }
    advance_switch(sub);
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
    if (__builtin_expect(sub->inbox.retiring || sub->switch_wanted, 0))
        advance_switch(sub);
    return sub->qhead != sub->qtail || (sub->nsocks > 0 && sub->nended == sub->nsocks);
}

#define MAX_POLL_ITEMS 256

/* Waits for news on one of the subscribers or for one of the extra items to be readable. */
static xmem_err wait_any(xmem_sub_t *const *subs, uint32_t n, uint32_t first, xmem_wait_item *extra,
                         uint32_t n_extra, int timeout_ms, uint32_t *ready, xmem_error_t *err)
{
    if ((n == 0 && n_extra == 0) || (n && !subs) || !ready)
        return xmemi_fail(err, XMEM_EINVAL, 0, "xmem_sub_wait_any: nothing to wait on");
    zmq_pollitem_t many[MAX_POLL_ITEMS];
    bool direct = n == 1 && n_extra == 0; /* receive's path copies nothing */
    zmq_pollitem_t *items = direct ? subs[0]->items : many;
    uint32_t nitems = direct ? subs[0]->nsocks : 0;
    for (uint32_t i = 0; i < n && !direct; i++) {
        if (nitems + subs[i]->nsocks + n_extra > MAX_POLL_ITEMS)
            return xmemi_fail(err, XMEM_EINVAL, 0,
                              "xmem_sub_wait_any: more than %d connections in all", MAX_POLL_ITEMS);
        memcpy(many + nitems, subs[i]->items, subs[i]->nsocks * sizeof *items);
        nitems += subs[i]->nsocks;
    }
    uint32_t first_extra = nitems;
    for (uint32_t i = 0; i < n_extra; i++) {
        if (nitems == MAX_POLL_ITEMS)
            return xmemi_fail(err, XMEM_EINVAL, 0,
                              "xmem_sub_wait_any: more than %d connections in all", MAX_POLL_ITEMS);
        extra[i].ready = false;
        many[nitems++] = (zmq_pollitem_t){.socket = extra[i].zmq_socket,
                                          .fd = extra[i].zmq_socket ? 0 : extra[i].fd,
                                          .events = ZMQ_POLLIN};
    }
    const char *name = n ? xmem_pool_name(subs[0]->pool) : "(none)";
    uint64_t deadline = 0; /* set once the first look finds nothing */
    for (;;) {
        for (uint32_t k = 0; k < n; k++) {
            uint32_t i = (first + k) % n;
            if (has_news(subs[i])) {
                *ready = i;
                return XMEM_OK;
            }
        }
        int heartbeat_ms = n ? subs[0]->opts.heartbeat_ms : 1000;
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
        bool any = false;
        for (uint32_t i = 0; i < n_extra; i++)
            any |= extra[i].ready = (many[first_extra + i].revents & ZMQ_POLLIN) != 0;
        if (any) {
            *ready = n;
            return XMEM_OK;
        }
    }
}

xmem_err xmem_sub_wait_any(xmem_sub_t *const *subs, uint32_t n, uint32_t first, int timeout_ms,
                           uint32_t *ready, xmem_error_t *err)
{
    return xmem_sub_wait_any_or(subs, n, first, NULL, 0, timeout_ms, ready, err);
}

xmem_err xmem_sub_wait_any_or(xmem_sub_t *const *subs, uint32_t n, uint32_t first,
                              xmem_wait_item *items, uint32_t n_items, int timeout_ms,
                              uint32_t *ready, xmem_error_t *err)
{
    for (uint32_t i = 0; subs && i < n; i++)
        xmemi_enter(&subs[i]->one_thread, "subscriber of pool", xmem_pool_name(subs[i]->pool));
    xmem_err rc = wait_any(subs, n, first, items, n_items, timeout_ms, ready, err);
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
    xmem_err rc = wait_any(&sub, 1, 0, NULL, 0, timeout_ms, &ready, err);
    if (rc)
        return rc;
    if (sub->qhead == sub->qtail) {
        refresh(sub); /* keeps subscribing: a publisher restarted there reopens the stream */
        return xmemi_fail(err, XMEM_EEND, 0,
                          "subscriber of pool '%s': all %u publishers ended their streams",
                          xmem_pool_name(sub->pool), sub->nsocks);
    }
    /* Waiting refreshes only when nothing is there: a subscriber kept busy looks at its
     * publishers (and says it is still there) every so many buffers instead. */
    if (++sub->receives >= REFRESH_EVERY) {
        sub->receives = 0;
        refresh(sub);
    }
    xmem_descriptor d = dequeue(sub);
    rc = xmem_pool_get(sub->pool, d.ref, out, err);
    if (rc == XMEM_OK)
        sub->last = d;
    else /* it cannot be handed out (unmappable, say): give its reference back */
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
    /* Detaching gives back every reference of these attachments: those of descriptors still in
     * flight (the inboxes) and queued ones. */
    xmemi_inbox_close(&sub->inbox);
    xmem_pool_close(&sub->pool);
    free(sub->queue);
    free(sub->queued);
    free(sub);
}
