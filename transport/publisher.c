/* The publisher: a ZeroMQ ROUTER socket that knows each subscriber by its routing id and sends it
 * descriptors addressed to it (ROUTER_MANDATORY), so it knows at send time who got a buffer and
 * gives references only to them, into the inbox the subscriber named (transport/inbox.h). Flow
 * control reads the pool: a subscriber's outstanding buffers are those given to it that it still
 * holds, in its inbox or its own attachment, with no acknowledgement messages. */
#define _GNU_SOURCE
#include <xmem/pool_admin.h>
#include <xmem/transport.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "control.h"
#include "one_thread.h"
#include "wire.h"
#include "common/abi.h"
#include "common/fail.h"
#include "zmq_util.h"

#define RID_MAX 255
#define LIVENESS_PERIOD_NS (100ull * 1000 * 1000)
#define CONTROL_PERIOD_NS (1000ull * 1000)

typedef struct sub_entry {
    uint8_t rid[RID_MAX];
    size_t rid_len;
    uint32_t home;       /* the subscriber's own attachment: what it received is there */
    uint32_t inbox;      /* where its references go: what is in flight to it is there */
    uint32_t prev_inbox; /* the inbox before a switch, while it is attached (XMEM_OWNER_NONE) */
    int32_t pid;
    uint32_t depth;
    xmem_queue_policy policy;
    int32_t block_timeout_ms; /* as it asked; 0: the publisher's */
    bool lagging;             /* full past its block timeout: not waited for until it has room */
    bool warned_lagging;
    uint32_t lag_episodes;
    bool gone;          /* to be removed at the next service */
    xmem_buf_ref *sent; /* ring of buffers given to it, oldest at tail */
    uint32_t sent_cap;
    uint64_t sent_head, sent_tail;
    uint64_t delivered;
    uint64_t dropped[XMEM_DROP_COUNT_];
} sub_entry;

struct xmem_pub {
    xmemi_one_thread one_thread; /* debug builds: who is inside */
    xmem_pool_t *pool;
    uint64_t pool_id;
    void *ctx;
    void *sock;
    char endpoint[256];
    xmem_pub_options opts;
    sub_entry *subs;
    uint32_t nsubs, cap;
    uint32_t *eligible; /* scratch, cap entries: subscribers a publish goes to */
    uint32_t *owners;   /* scratch, cap entries: their owner ids */
    bool *given;        /* scratch, cap entries: which got a reference */
    uint64_t seq;
    uint64_t instance; /* random: tells a restarted publisher from the old one */
    uint64_t next_liveness_ns;
    uint64_t next_control_ns;
    xmem_pub_stats stats;
    bool logged_reject;
    bool ended; /* xmem_pub_end was called: late subscribers get END after their WELCOME */
};

void xmem_pub_options_init(xmem_pub_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->block_timeout_ms = 1000;
    opts->heartbeat_ms = 200;
}

static uint32_t sub_limit(const sub_entry *s)
{
    return s->policy == XMEM_POLICY_BLOCK ? s->depth : 2 * s->depth;
}

/* True while the subscriber holds `r`: in flight in an inbox, or received into its attachment.
 * The inboxes are read first: accepting a descriptor adds its reference to the attachment before
 * taking it out of the inbox, so one on its way is seen in one or the other. */
static bool holds(xmem_pool_t *pool, const sub_entry *s, xmem_buf_ref r)
{
    return xmem_pool_owned_by(pool, r, s->inbox) ||
           (s->prev_inbox != XMEM_OWNER_NONE && xmem_pool_owned_by(pool, r, s->prev_inbox)) ||
           xmem_pool_owned_by(pool, r, s->home);
}

/* Forgets the buffers the subscriber has released; compacts the ring when it looks full, since a
 * subscriber may keep an old buffer while releasing newer ones. Returns the outstanding count. */
static uint32_t reap(xmem_pool_t *pool, sub_entry *s)
{
    while (s->sent_tail < s->sent_head && !holds(pool, s, s->sent[s->sent_tail % s->sent_cap]))
        s->sent_tail++;
    uint32_t out = (uint32_t)(s->sent_head - s->sent_tail);
    if (out < sub_limit(s))
        return out;
    uint64_t keep = s->sent_tail;
    for (uint64_t i = s->sent_tail; i < s->sent_head; i++) {
        xmem_buf_ref r = s->sent[i % s->sent_cap];
        if (holds(pool, s, r))
            s->sent[keep++ % s->sent_cap] = r;
    }
    s->sent_head = keep;
    return (uint32_t)(s->sent_head - s->sent_tail);
}

static void remove_gone(xmem_pub_t *pub)
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < pub->nsubs; i++) {
        if (pub->subs[i].gone) {
            free(pub->subs[i].sent);
            continue;
        }
        pub->subs[w++] = pub->subs[i];
    }
    pub->nsubs = w;
    pub->stats.subscribers = w;
}

/* The live entry of a routing id (one marked gone waits for removal and is never matched). */
static sub_entry *find_sub(xmem_pub_t *pub, const uint8_t *rid, size_t len)
{
    for (uint32_t i = 0; i < pub->nsubs; i++)
        if (!pub->subs[i].gone && pub->subs[i].rid_len == len &&
            memcmp(pub->subs[i].rid, rid, len) == 0)
            return &pub->subs[i];
    return NULL;
}

static void reject(xmem_pub_t *pub, const char *why)
{
    pub->stats.rejected++;
    if (!pub->logged_reject)
        fprintf(stderr,
                "xmem: publisher %s (pool '%s'): refused a control message: %s (further ones are "
                "only counted)\n",
                pub->endpoint, xmem_pool_name(pub->pool), why);
    pub->logged_reject = true;
}

/* Sends WELCOME or END to one subscriber, retrying up to wait_ms while its pipe is full. */
static bool send_announce(xmem_pub_t *pub, const sub_entry *s, uint16_t kind, int wait_ms)
{
    uint8_t msg[XMEMI_WELCOME_SIZE];
    xmemi_welcome_encode(
        &(xmemi_welcome){
            .kind = kind, .instance = pub->instance, .pid = (uint32_t)getpid(), .inbox = s->inbox},
        msg);
    uint64_t deadline = xmemi_now_ns() + (uint64_t)wait_ms * 1000000ull;
    for (;;) {
        if (zmq_send(pub->sock, s->rid, s->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
            return zmq_send(pub->sock, msg, sizeof msg, 0) >= 0;
        if (errno != EAGAIN || xmemi_now_ns() >= deadline)
            return false;
        nanosleep(&(struct timespec){.tv_nsec = 1000 * 1000}, NULL);
    }
}

/* The process at the other end of the connection a message came on, as the kernel knows it (ipc:
 * SO_PEERCRED of the socket libzmq read it from): PEER_UNKNOWN over tcp, PEER_GONE when that
 * connection closed before the message was read (its socket may then be closed, or another's). */
enum { PEER_UNKNOWN = 0, PEER_GONE = -1 };

static pid_t peer_pid(const xmem_pub_t *pub, zmq_msg_t *msg)
{
    if (strncmp(pub->endpoint, "ipc://", 6) != 0)
        return PEER_UNKNOWN;
    int fd = zmq_msg_get(msg, ZMQ_SRCFD);
    int domain = 0;
    struct ucred cred;
    socklen_t len = sizeof domain;
    if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_UNIX)
        return PEER_GONE;
    len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.pid <= 0)
        return PEER_GONE;
    return cred.pid;
}

/* `peer`: the process that sent it (peer_pid). */
static void on_control(xmem_pub_t *pub, const uint8_t *rid, size_t rid_len, const void *msg,
                       size_t len, pid_t peer)
{
    xmemi_control c;
    if (!xmemi_control_decode(msg, len, &c))
        return reject(pub, "not a well-formed control message");
    if (c.pool_id != pub->pool_id)
        return reject(pub, "subscriber of another pool");
    sub_entry *s = find_sub(pub, rid, rid_len);
    if (c.type == XMEMI_UNSUBSCRIBE) {
        if (s)
            s->gone = true;
        return;
    }
    if (c.depth == 0 || c.depth > XMEM_QUEUE_DEPTH_MAX || c.policy > XMEM_POLICY_BLOCK)
        return reject(pub, "queue depth or policy out of range");
    if ((int32_t)c.pid <= 0 || xmem_pool_owner_pid(pub->pool, c.home) != (pid_t)c.pid) {
        /* A subscriber that died with this still queued: expected after every crash, counted
         * without a log line. A live process sending it is worth one. */
        if ((int32_t)c.pid > 0 && kill((pid_t)c.pid, 0) != 0 && errno == ESRCH) {
            pub->stats.rejected++;
            return;
        }
        return reject(pub, "owner id not attached to the pool by that pid");
    }
    if (xmem_pool_owner_pid(pub->pool, c.owner) != (pid_t)c.pid) {
        /* Queued before its subscriber replaced that inbox (while this publisher was not there
         * to read it): the SUBSCRIBE behind it names the new one. Counted, no log line. */
        pub->stats.rejected++;
        return;
    }
    /* Over ipc the kernel says who is asking: a process may only subscribe its own attachment
     * (references are given to the owner named, so a forged one would pile them on another). One
     * whose sender cannot be told any more is refused too: a live subscriber repeats its
     * SUBSCRIBE every heartbeat. */
    if (peer == PEER_GONE)
        return reject(pub, "its connection closed before it was read: who sent it is unknown");
    if (peer != PEER_UNKNOWN && peer != (pid_t)c.pid)
        return reject(pub, "it names another process's attachment");
    if (s && s->home == c.home && s->pid == (int32_t)c.pid) {
        /* A refresh. The depth may change within the ring kept for it. */
        s->policy = (xmem_queue_policy)c.policy;
        s->block_timeout_ms = c.block_timeout_ms;
        if (2 * c.depth <= s->sent_cap)
            s->depth = c.depth;
        if (s->inbox == c.owner)
            return;
        /* It replaced its inbox (a publisher of its died): give into the new one from here on,
         * and say so after everything given into the old one, which it can then retire. */
        s->prev_inbox = s->inbox;
        s->inbox = c.owner;
        if (!send_announce(pub, s, XMEMI_WELCOME, 0) ||
            (pub->ended && !send_announce(pub, s, XMEMI_END, 0)))
            s->gone = true;
        return;
    }
    if (s) /* the routing id now names another attachment: start it afresh */
        s->gone = true;
    if (pub->nsubs == pub->cap) {
        uint32_t cap = pub->cap ? pub->cap * 2 : 8;
        sub_entry *subs = realloc(pub->subs, cap * sizeof *subs);
        if (!subs)
            return reject(pub, "out of memory");
        pub->subs = subs;
        uint32_t *el = realloc(pub->eligible, cap * sizeof *el);
        if (el)
            pub->eligible = el;
        uint32_t *ow = realloc(pub->owners, cap * sizeof *ow);
        if (ow)
            pub->owners = ow;
        bool *gv = realloc(pub->given, cap * sizeof *gv);
        if (gv)
            pub->given = gv;
        if (!el || !ow || !gv)
            return reject(pub, "out of memory");
        pub->cap = cap;
    }
    s = &pub->subs[pub->nsubs];
    memset(s, 0, sizeof *s);
    s->sent_cap = 2 * c.depth;
    s->sent = calloc(s->sent_cap, sizeof *s->sent);
    if (!s->sent)
        return reject(pub, "out of memory");
    memcpy(s->rid, rid, rid_len);
    s->rid_len = rid_len;
    s->home = c.home;
    s->inbox = c.owner;
    s->prev_inbox = XMEM_OWNER_NONE;
    s->pid = (int32_t)c.pid;
    s->depth = c.depth;
    s->policy = (xmem_queue_policy)c.policy;
    s->block_timeout_ms = c.block_timeout_ms;
    pub->nsubs++;
    pub->stats.subscribers = pub->nsubs;
    /* Ahead of any descriptor on this pipe: the subscriber restarts its replay check. */
    if (!send_announce(pub, s, XMEMI_WELCOME, 0) ||
        (pub->ended && !send_announce(pub, s, XMEMI_END, 0)))
        s->gone = true;
}

/* Reads every waiting control message. */
static void drain_control(xmem_pub_t *pub)
{
    for (;;) {
        uint8_t rid[RID_MAX], msg[64];
        int rl = zmq_recv(pub->sock, rid, sizeof rid, ZMQ_DONTWAIT);
        if (rl < 0)
            return;
        int more = 0;
        size_t ml = sizeof more;
        zmq_getsockopt(pub->sock, ZMQ_RCVMORE, &more, &ml);
        if (!more) {
            reject(pub, "a message without a body");
            continue;
        }
        zmq_msg_t body;
        zmq_msg_init(&body);
        int n = zmq_msg_recv(&body, pub->sock, 0);
        pid_t peer = n >= 0 ? peer_pid(pub, &body) : PEER_UNKNOWN;
        if (n >= 0)
            memcpy(msg, zmq_msg_data(&body), (size_t)n < sizeof msg ? (size_t)n : sizeof msg);
        zmq_msg_close(&body);
        bool extra = false;
        for (;;) { /* swallow any further parts */
            zmq_getsockopt(pub->sock, ZMQ_RCVMORE, &more, &ml);
            if (!more)
                break;
            extra = true;
            zmq_recv(pub->sock, msg, 0, 0);
        }
        if (n < 0 || extra || (size_t)rl > RID_MAX) {
            reject(pub, "a message of the wrong shape");
            continue;
        }
        on_control(pub, rid, (size_t)rl, msg, (size_t)n > sizeof msg ? sizeof msg + 1 : (size_t)n,
                   peer);
    }
}

/* Subscribers whose process detached or died are dropped, and a dead one's references come back.
 * An inbox a subscriber retired is forgotten. */
static void check_liveness(xmem_pub_t *pub, uint64_t now)
{
    if (now < pub->next_liveness_ns)
        return;
    pub->next_liveness_ns = now + LIVENESS_PERIOD_NS;
    xmem_pool_reclaim_dead(pub->pool, NULL, NULL);
    for (uint32_t i = 0; i < pub->nsubs; i++) {
        sub_entry *s = &pub->subs[i];
        if (xmem_pool_owner_pid(pub->pool, s->home) != s->pid)
            s->gone = true;
        if (s->prev_inbox != XMEM_OWNER_NONE &&
            xmem_pool_owner_pid(pub->pool, s->prev_inbox) != s->pid)
            s->prev_inbox = XMEM_OWNER_NONE;
    }
}

/* Called on every publish: an empty zmq_recv costs libzmq a poll() system call, so control
 * messages are read at most once per CONTROL_PERIOD_NS; subscribing takes that much longer. */
static void service(xmem_pub_t *pub)
{
    uint64_t now = xmemi_now_ns();
    if (now >= pub->next_control_ns) {
        pub->next_control_ns = now + CONTROL_PERIOD_NS;
        drain_control(pub);
    }
    check_liveness(pub, now);
    remove_gone(pub);
}

xmem_err xmem_pub_create(xmem_pool_t *pool, const char *endpoint, const xmem_pub_options *opts,
                         xmem_pub_t **out, xmem_error_t *err)
{
    if (!out || !pool || !endpoint)
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "xmem_pub_create: pool, endpoint and out are needed");
    *out = NULL;
    xmem_pub_t *pub = calloc(1, sizeof *pub);
    if (!pub)
        return xmemi_fail(err, XMEM_ENOMEM, 0, "publisher '%s': no memory", endpoint);
    if (opts)
        pub->opts = *opts;
    else
        xmem_pub_options_init(&pub->opts);
    pub->pool = pool;
    pub->pool_id = xmem_pool_id(pool);
    if (getrandom(&pub->instance, sizeof pub->instance, 0) != sizeof pub->instance)
        pub->instance = xmemi_now_ns() ^ (uint64_t)getpid() << 32;
    snprintf(pub->endpoint, sizeof pub->endpoint, "%s", endpoint);
    xmem_err rc;
    pub->ctx = zmq_ctx_new();
    if (!pub->ctx) {
        rc = xmemi_zmq_fail(err, "zmq_ctx_new for publisher", endpoint);
        goto fail_pub;
    }
    pub->sock = zmq_socket(pub->ctx, ZMQ_ROUTER);
    if (!pub->sock) {
        rc = xmemi_zmq_fail(err, "zmq_socket(ROUTER) for publisher", endpoint);
        goto fail_ctx;
    }
    int hb = pub->opts.heartbeat_ms > 0 ? pub->opts.heartbeat_ms : 200;
    if ((rc = xmemi_zmq_setint(pub->sock, ZMQ_ROUTER_MANDATORY, 1, endpoint, err)) ||
        /* Descriptors queued at destroy still reach live subscribers (they own those buffers). */
        (rc = xmemi_zmq_setint(pub->sock, ZMQ_LINGER, 1000, endpoint, err)) ||
        (rc = xmemi_zmq_setint(pub->sock, ZMQ_SNDHWM, 100000, endpoint, err)) ||
        (rc = xmemi_zmq_limit_messages(pub->sock, endpoint, err)) ||
        (rc = xmemi_zmq_heartbeat(pub->sock, hb, endpoint, err)))
        goto fail_sock;
    if (zmq_bind(pub->sock, endpoint) != 0) {
        rc = xmemi_zmq_fail(err, "publisher cannot bind", endpoint);
        goto fail_sock;
    }
    size_t len = sizeof pub->endpoint;
    zmq_getsockopt(pub->sock, ZMQ_LAST_ENDPOINT, pub->endpoint, &len);
    *out = pub;
    return XMEM_OK;

fail_sock:
    zmq_close(pub->sock);
fail_ctx:
    zmq_ctx_term(pub->ctx);
fail_pub:
    free(pub);
    return rc;
}

void xmem_pub_destroy(xmem_pub_t **pub_ptr)
{
    if (!pub_ptr || !*pub_ptr)
        return;
    xmem_pub_t *pub = *pub_ptr;
    *pub_ptr = NULL;
    xmemi_enter(&pub->one_thread, "publisher", pub->endpoint); /* nobody else may be inside */
    zmq_close(pub->sock);
    zmq_ctx_term(pub->ctx);
    for (uint32_t i = 0; i < pub->nsubs; i++)
        free(pub->subs[i].sent);
    free(pub->subs);
    free(pub->eligible);
    free(pub->owners);
    free(pub->given);
    free(pub);
}

const char *xmem_pub_endpoint(const xmem_pub_t *pub)
{
    return pub->endpoint;
}

/* Waits (policy block) until the subscriber holds fewer than its depth, or the timeout passes:
 * asleep on the pool's count of its releases, woken by the one that makes room. (Waiting for
 * half the queue to drain, as a ZeroMQ pipe's low-water mark does, measured slower: a blocked
 * publisher is bound by the round trip, and a half-empty queue halves what flows per trip.) */
static int block_timeout_of(const xmem_pub_t *pub, const sub_entry *s)
{
    return s->block_timeout_ms ? s->block_timeout_ms : pub->opts.block_timeout_ms;
}

static bool wait_for_room(xmem_pub_t *pub, sub_entry *s)
{
    uint64_t start = xmemi_now_ns();
    int timeout_ms = block_timeout_of(pub, s);
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : start + (uint64_t)timeout_ms * 1000000ull;
    uint64_t next_check = start + LIVENESS_PERIOD_NS / 10;
    for (;;) {
        /* Read before the check: a release after it changes the count and ends the sleep. */
        uint32_t seen = xmem_pool_releases(pub->pool, s->home);
        uint32_t out = reap(pub->pool, s);
        if (out < sub_limit(s))
            return true;
        uint64_t now = xmemi_now_ns();
        if (now >= deadline)
            return false;
        if (now >= next_check) {
            /* A dead subscriber never frees room: stop waiting for it. */
            xmem_pool_reclaim_dead(pub->pool, NULL, NULL);
            if (xmem_pool_owner_pid(pub->pool, s->home) != s->pid) {
                s->gone = true;
                return false;
            }
            next_check = now + LIVENESS_PERIOD_NS / 10;
        }
        uint64_t left_ms = deadline == UINT64_MAX ? 10 : (deadline - now + 999999) / 1000000;
        xmem_pool_wait_releases(pub->pool, s->home, seen, out - sub_limit(s) + 1,
                                left_ms < 10 ? (int)left_ms : 10, NULL);
    }
}

static void count_drop(xmem_pub_t *pub, sub_entry *s, xmem_drop why)
{
    s->dropped[why]++;
    pub->stats.dropped[why]++;
}

/* A block subscriber stayed full for its whole block timeout (stopped, hung, or far too slow):
 * waiting for it on every buffer would hold every other subscriber to its pace, so it is left
 * behind until it has room again. */
static void start_lagging(xmem_pub_t *pub, sub_entry *s)
{
    s->lagging = true;
    s->lag_episodes++;
    if (!s->warned_lagging)
        fprintf(stderr,
                "xmem: publisher %s (pool '%s'): block subscriber pid %d (owner %u) took no buffer "
                "for %d ms: it is lagging, and buffers for it are dropped without waiting until it "
                "has room again (counted as block-timeout; this is said once)\n",
                pub->endpoint, xmem_pool_name(pub->pool), (int)s->pid, s->home,
                block_timeout_of(pub, s));
    s->warned_lagging = true;
}

static xmem_err publish(xmem_pub_t *pub, xmem_guard_t *guard, xmem_error_t *err)
{
    if (!guard || !xmem_guard_valid(guard))
        return xmemi_fail(err, XMEM_EINVAL, 0, "publisher %s: the guard holds no buffer",
                          pub->endpoint);
    if (pub->ended) {
        xmem_guard_release(guard, NULL);
        return xmemi_fail(err, XMEM_EINVAL, 0, "publisher %s: its stream has ended", pub->endpoint);
    }
    xmem_pool_t *pool = guard->pool;
    xmem_buf_ref ref = guard->ref;
    if (xmem_pool_id(pool) != pub->pool_id) {
        xmem_guard_release(guard, NULL);
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "publisher %s serves pool '%s'; the buffer is from pool '%s'",
                          pub->endpoint, xmem_pool_name(pub->pool), xmem_pool_name(pool));
    }
    service(pub);
    uint64_t stamp = 0;
    xmem_guard_stamp(guard, NULL, &stamp, NULL);

    uint32_t n = 0;
    for (uint32_t i = 0; i < pub->nsubs; i++) {
        sub_entry *s = &pub->subs[i];
        if (reap(pub->pool, s) >= sub_limit(s)) {
            if (s->policy == XMEM_POLICY_DROP_OLDEST) {
                count_drop(pub, s, XMEM_DROP_QUEUE_FULL);
                continue;
            }
            if (s->lagging) {
                count_drop(pub, s, XMEM_DROP_BLOCK_TIMEOUT);
                continue;
            }
            if (!wait_for_room(pub, s)) {
                if (!s->gone)
                    start_lagging(pub, s);
                count_drop(pub, s, s->gone ? XMEM_DROP_GONE : XMEM_DROP_BLOCK_TIMEOUT);
                continue;
            }
        }
        s->lagging = false; /* it has room: caught up */
        pub->eligible[n++] = i;
    }
    pub->stats.published++;
    /* Counted whoever receives it, so a subscriber sees in the gaps what it missed. */
    uint64_t seq = pub->seq++;
    if (n == 0) {
        if (pub->nsubs == 0)
            pub->stats.unsubscribed++;
        return xmem_guard_release(guard, err);
    }
    /* One reference per receiver, into its inbox, from the guard's, which stays ours until every
     * descriptor is out: a send that fails takes its receiver's back without the buffer ever
     * being able to go. */
    for (uint32_t k = 0; k < n; k++)
        pub->owners[k] = pub->subs[pub->eligible[k]].inbox;
    xmem_err rc = xmem_pool_share(pool, ref, pub->owners, n, pub->given, err);
    if (rc) {
        xmem_guard_release(guard, NULL);
        return rc;
    }
    xmem_descriptor d = {
        .pool_id = pub->pool_id,
        .ref = ref,
        .sequence = seq,
        .timestamp_ns = stamp ? stamp : xmemi_now_ns(),
    };
    uint8_t wire[XMEM_DESCRIPTOR_SIZE];
    uint32_t head = xmemi_descriptor_encode_head(&d, wire); /* then only the addressee differs */
    for (uint32_t k = 0; k < n; k++) {
        sub_entry *s = &pub->subs[pub->eligible[k]];
        if (!pub->given[k]) { /* its inbox went */
            s->gone = true;
            count_drop(pub, s, XMEM_DROP_GONE);
            continue;
        }
        xmemi_descriptor_address(wire, head, s->inbox);
        if (zmq_send(pub->sock, s->rid, s->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(pub->sock, wire, sizeof wire, ZMQ_DONTWAIT) < 0) {
            xmem_drop why = errno == EAGAIN ? XMEM_DROP_HWM : XMEM_DROP_GONE;
            if (why == XMEM_DROP_GONE)
                s->gone = true;
            count_drop(pub, s, why);
            /* It never learns of this reference: take it away. If its attachment went meanwhile
             * the reference came back with the rest. */
            xmem_pool_revoke(pool, ref, s->inbox, 1, NULL);
            continue;
        }
        s->sent[s->sent_head++ % s->sent_cap] = ref;
        s->delivered++;
        pub->stats.delivered++;
    }
    remove_gone(pub);
    return xmem_guard_release(guard, err);
}

xmem_err xmem_pub_publish(xmem_pub_t *pub, xmem_guard_t *guard, xmem_error_t *err)
{
    xmemi_enter(&pub->one_thread, "publisher", pub->endpoint);
    xmem_err rc = publish(pub, guard, err);
    xmemi_leave(&pub->one_thread);
    return rc;
}

static xmem_err end_stream(xmem_pub_t *pub, xmem_error_t *err)
{
    pub->next_control_ns = 0;
    service(pub);
    pub->ended = true;
    uint32_t failed = 0;
    for (uint32_t i = 0; i < pub->nsubs; i++)
        if (!pub->subs[i].gone &&
            !send_announce(pub, &pub->subs[i], XMEMI_END,
                           pub->opts.block_timeout_ms < 0 ? 1000 : pub->opts.block_timeout_ms))
            failed++;
    if (failed)
        return xmemi_fail(err, XMEM_ETRANSPORT, 0,
                          "publisher %s: the end of stream did not reach %u of %u subscribers",
                          pub->endpoint, failed, pub->nsubs);
    return XMEM_OK;
}

xmem_err xmem_pub_end(xmem_pub_t *pub, xmem_error_t *err)
{
    xmemi_enter(&pub->one_thread, "publisher", pub->endpoint);
    xmem_err rc = end_stream(pub, err);
    xmemi_leave(&pub->one_thread);
    return rc;
}

static xmem_err poll_control(xmem_pub_t *pub, int timeout_ms, xmem_error_t *err)
{
    zmq_pollitem_t item = {.socket = pub->sock, .events = ZMQ_POLLIN};
    if (timeout_ms != 0 && zmq_poll(&item, 1, timeout_ms) < 0 && errno != EINTR)
        return xmemi_zmq_fail(err, "zmq_poll on publisher", pub->endpoint);
    pub->next_control_ns = 0;
    service(pub);
    return XMEM_OK;
}

xmem_err xmem_pub_poll(xmem_pub_t *pub, int timeout_ms, xmem_error_t *err)
{
    xmemi_enter(&pub->one_thread, "publisher", pub->endpoint);
    xmem_err rc = poll_control(pub, timeout_ms, err);
    xmemi_leave(&pub->one_thread);
    return rc;
}

static xmem_err wait_subscribers(xmem_pub_t *pub, uint32_t count, int timeout_ms, xmem_error_t *err)
{
    uint64_t deadline =
        timeout_ms < 0 ? UINT64_MAX : xmemi_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    for (;;) {
        xmem_err rc = poll_control(pub, 10, err);
        if (rc)
            return rc;
        if (pub->nsubs >= count)
            return XMEM_OK;
        if (xmemi_now_ns() >= deadline)
            return xmemi_fail(err, XMEM_ETIMEDOUT, 0,
                              "publisher %s: %u of %u subscribers after %d ms", pub->endpoint,
                              pub->nsubs, count, timeout_ms);
    }
}

xmem_err xmem_pub_wait_subscribers(xmem_pub_t *pub, uint32_t count, int timeout_ms,
                                   xmem_error_t *err)
{
    xmemi_enter(&pub->one_thread, "publisher", pub->endpoint);
    xmem_err rc = wait_subscribers(pub, count, timeout_ms, err);
    xmemi_leave(&pub->one_thread);
    return rc;
}

void xmem_pub_stats_get(const xmem_pub_t *pub, xmem_pub_stats *out, size_t size)
{
    xmem_pub_stats st = pub->stats;
    st.subscribers = pub->nsubs;
    st.lagging = 0;
    for (uint32_t i = 0; i < pub->nsubs; i++)
        st.lagging += pub->subs[i].lagging;
    xmemi_copy_sized(out, size, &st, sizeof st);
}

static uint32_t subscriber_stats(xmem_pub_t *pub, xmem_pub_sub_stats *out, size_t size,
                                 uint32_t max)
{
    for (uint32_t i = 0; i < pub->nsubs && i < max; i++) {
        sub_entry *s = &pub->subs[i];
        xmem_pub_sub_stats st = {
            .owner = s->home,
            .pid = s->pid,
            .depth = s->depth,
            .policy = s->policy,
            .outstanding = reap(pub->pool, s),
            .delivered = s->delivered,
            .block_timeout_ms = block_timeout_of(pub, s),
            .lagging = s->lagging,
            .lag_episodes = s->lag_episodes,
        };
        memcpy(st.dropped, s->dropped, sizeof s->dropped);
        xmemi_copy_sized((char *)out + i * size, size, &st, sizeof st);
    }
    return pub->nsubs;
}

uint32_t xmem_pub_subscriber_stats_get(xmem_pub_t *pub, xmem_pub_sub_stats *out, size_t size,
                                       uint32_t max)
{
    xmemi_enter(&pub->one_thread, "publisher", pub->endpoint);
    uint32_t n = subscriber_stats(pub, out, size, max);
    xmemi_leave(&pub->one_thread);
    return n;
}
