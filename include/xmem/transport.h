/* Handing pool buffers between processes over ZeroMQ. A publisher binds an endpoint (ipc:// or
 * tcp://); subscribers connect to it. Publishing gives one reference to each subscriber that will
 * receive the buffer and sends it a 48-byte descriptor; a subscriber receives a read-only guard
 * that owns that reference. No payload byte crosses the socket.
 *
 * The books are exact whichever end dies, wherever it is killed. Each subscriber attaches to the
 * pool on its own, twice (two of the pool's XMEM_POOL_MAX_PROCS process slots; xmem_sub_create
 * fails with XMEM_EPROCS, saying so, when they are not there): its own attachment holds what it
 * received (queued or handed to the application), and its inbox exactly the references of
 * descriptors sent to it and not read yet (publishers give into the inbox its SUBSCRIBE names;
 * accepting a descriptor moves the reference over). A dead subscriber's attachments are reclaimed
 * with everything in them. A dead publisher's descriptors in flight are lost, their references left
 * in the inbox among those of the live publishers' descriptors: the subscriber opens a new inbox
 * and names it to every publisher, each live one answers (a WELCOME after everything it gave into
 * the old inbox, on the same ordered pipe), and then the old inbox holds only what went away with
 * the dead; closing it gives that back (xmem_sub_stats.lost_in_flight) and no live publisher's
 * frame is lost. Until every live publisher has answered (one that does not publish or poll answers
 * late; one that ended needs not), those references wait. docs/CRASH.md ("Transport books") has the
 * argument. Release every guard received from a subscriber before destroying it.
 *
 * Neither end trusts its peer. A subscriber accepts a descriptor only with a reference of its own
 * that came with it: one its inbox holds, which only a give puts there (what the application holds,
 * received or taken on the subscriber's pool itself, is in the other attachment). So one for a
 * buffer the application already holds is refused (xmem_sub_stats.rejected under XMEM_REJECT_HELD)
 * unless another reference came with it; so is one for another pool, a stale buffer, or a number
 * already seen from that publisher. A publisher accepts a SUBSCRIBE only for attachments of the
 * process that sent it (over ipc the kernel says which). Either end drops a peer that sends a
 * message over 256 bytes (none of xmem's is), before buffering it.
 *
 * Publishers and subscribers run ZeroMQ I/O threads: fork() worker processes before creating them
 * (a child never uses its parent's; ZeroMQ lets a subscriber connect before the publisher binds).
 * Each is used by one thread at a time, as its ZeroMQ socket must be (handing it to another thread
 * is fine); builds with assertions abort on two threads inside one at once, naming it.
 */
#ifndef XMEM_TRANSPORT_H
#define XMEM_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <xmem/descriptor.h>
#include <xmem/error.h>
#include <xmem/export.h>
#include <xmem/guard.h>
#include <xmem/pool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xmem_pub xmem_pub_t;
typedef struct xmem_sub xmem_sub_t;

#define XMEM_QUEUE_DEPTH_MAX 65536u /* the deepest subscriber queue */
#define XMEM_SUB_MAX_PUBLISHERS                                                                    \
    64u /* publishers one subscriber connects to (sources of a port)                               \
         */

typedef enum xmem_queue_policy {
    XMEM_POLICY_DROP_OLDEST = 0, /* live video: the publisher never waits; a slow subscriber keeps
                                    its newest `depth` buffers and gives the older ones back */
    XMEM_POLICY_BLOCK = 1,       /* lossless: the publisher waits while the subscriber already
                                    holds `depth` buffers, up to its block timeout; one still full
                                    then is `lagging`: the publisher drops for it without waiting
                                    until it has room again (the others get every buffer) */
} xmem_queue_policy;

/* Why a publisher did not deliver a buffer to a subscriber. */
typedef enum xmem_drop {
    XMEM_DROP_QUEUE_FULL = 0, /* drop_oldest subscriber not draining: it holds 2 x depth already */
    XMEM_DROP_BLOCK_TIMEOUT,  /* block subscriber still full after the block timeout, or full
                                 while lagging (not waited for) */
    XMEM_DROP_HWM,            /* ZeroMQ's send queue to it was full */
    XMEM_DROP_GONE,           /* it disconnected or died */
    XMEM_DROP_COUNT_
} xmem_drop;

/* Room for drop reasons in the stats structs: new reasons fill it without moving a field. */
#define XMEM_DROP_SLOTS 8

/* "drop_oldest" or "block", as graph files write them ("unknown" out of range); static storage. */
XMEM_EXPORT const char *xmem_queue_policy_name(xmem_queue_policy policy);

/* Parses a name written by xmem_queue_policy_name. XMEM_EINVAL naming the text otherwise. */
XMEM_EXPORT xmem_err xmem_queue_policy_from_name(const char *name, xmem_queue_policy *out,
                                                 xmem_error_t *err);

/* "queue-full", "block-timeout", "hwm", "gone" ("unknown" out of range); static storage. */
XMEM_EXPORT const char *xmem_drop_name(xmem_drop reason);

typedef struct xmem_pub_options {
    int block_timeout_ms; /* longest wait for a `block` subscriber that names none itself
                             (xmem_sub_options.block_timeout_ms); negative: no limit (a dead
                             subscriber still ends the wait); default 1000 */
    int heartbeat_ms;     /* ZeroMQ heartbeat on tcp:// (a silent peer is dropped after 5x);
                             default 200 */
} xmem_pub_options;

XMEM_EXPORT void xmem_pub_options_init(xmem_pub_options *opts);

typedef struct xmem_pub_sub_stats {
    uint32_t owner; /* the subscriber's owner id in the pool */
    int32_t pid;    /* its process */
    uint32_t depth; /* its queue depth */
    xmem_queue_policy policy;
    uint32_t outstanding;              /* buffers given to it and not yet released */
    uint64_t delivered;                /* descriptors sent to it */
    uint64_t dropped[XMEM_DROP_SLOTS]; /* buffers not sent to it, by reason (xmem_drop) */
    int32_t block_timeout_ms;          /* the wait for it in effect (negative: no limit) */
    uint32_t lagging;                  /* 1 while the publisher does not wait for it: it stayed
                                          full for its block timeout and has no room yet */
    uint32_t lag_episodes;             /* times it became lagging */
} xmem_pub_sub_stats;

typedef struct xmem_pub_stats {
    uint64_t published;                /* xmem_pub_publish calls that took a buffer */
    uint64_t delivered;                /* descriptors sent, all subscribers */
    uint64_t unsubscribed;             /* buffers published with no subscriber (released at once) */
    uint64_t dropped[XMEM_DROP_SLOTS]; /* all subscribers, by reason (xmem_drop) */
    uint64_t rejected;                 /* control messages refused (garbage, wrong pool ...) */
    uint32_t subscribers;              /* connected now */
    uint32_t lagging;                  /* of them, lagging now (xmem_pub_sub_stats) */
} xmem_pub_stats;

/* Binds `endpoint` for buffers of `pool`. The caller keeps owning `pool` (it must outlive the
 * publisher) and owns *out on success; destroy with xmem_pub_destroy(). */
XMEM_EXPORT xmem_err xmem_pub_create(xmem_pool_t *pool, const char *endpoint,
                                     const xmem_pub_options *opts, xmem_pub_t **out,
                                     xmem_error_t *err);

/* Closes the socket. References already given to subscribers stay theirs. Accepts NULL. */
XMEM_EXPORT void xmem_pub_destroy(xmem_pub_t **pub);

/* The bound endpoint, with a wildcard port resolved ("tcp://127.0.0.1:41234"); valid as long as
 * the publisher. */
XMEM_EXPORT const char *xmem_pub_endpoint(const xmem_pub_t *pub);

/* Publishes the guard's buffer to every subscriber that can take it, and always empties the guard:
 * its reference becomes the subscribers' (one each), or is released if none receives it. The guard
 * may be read-write (a producer's) or read-only (forwarding an input buffer). */
XMEM_EXPORT xmem_err xmem_pub_publish(xmem_pub_t *pub, xmem_guard_t *guard, xmem_error_t *err);

/* Ends the stream: every subscriber gets an end mark after the descriptors already sent to it
 * (and one that subscribes later gets it at once); once all its publishers ended and its queue is
 * empty, a subscriber's receive returns XMEM_EEND. Publishing afterwards is refused. Waits up to
 * the block timeout for a full pipe; XMEM_ETRANSPORT names how many it did not reach. */
XMEM_EXPORT xmem_err xmem_pub_end(xmem_pub_t *pub, xmem_error_t *err);

/* Handles subscribe and unsubscribe messages, waiting up to timeout_ms for one (0: no wait). */
XMEM_EXPORT xmem_err xmem_pub_poll(xmem_pub_t *pub, int timeout_ms, xmem_error_t *err);

/* Waits until at least `count` subscribers are connected; XMEM_ETIMEDOUT after timeout_ms. */
XMEM_EXPORT xmem_err xmem_pub_wait_subscribers(xmem_pub_t *pub, uint32_t count, int timeout_ms,
                                               xmem_error_t *err);

/* The publisher's figures. Stats getters fill the first `size` bytes of *out, `size` being the
 * caller's sizeof *out: a program built against an older, shorter struct gets the fields it
 * knows, one built against a newer one gets zeros in the fields this library does not have. */
XMEM_EXPORT void xmem_pub_stats_get(const xmem_pub_t *pub, xmem_pub_stats *out, size_t size);

/* Per-subscriber figures: fills at most `max` entries of `size` bytes each (the caller's
 * sizeof *out, as above) and returns how many subscribers there are. */
XMEM_EXPORT uint32_t xmem_pub_subscriber_stats_get(xmem_pub_t *pub, xmem_pub_sub_stats *out,
                                                   size_t size, uint32_t max);

typedef struct xmem_sub_options {
    uint32_t depth;           /* buffers held at most before the policy applies; default 4 */
    xmem_queue_policy policy; /* default XMEM_POLICY_DROP_OLDEST */
    int heartbeat_ms;         /* subscribe refresh, and ZeroMQ heartbeat on tcp://; default 200 */
    int block_timeout_ms;     /* policy block: how long a publisher waits for this subscriber's
                                 room before it counts it lagging (0, the default: the
                                 publisher's xmem_pub_options.block_timeout_ms; negative: no
                                 limit) */
} xmem_sub_options;

XMEM_EXPORT void xmem_sub_options_init(xmem_sub_options *opts);

typedef struct xmem_sub_stats {
    uint64_t received;       /* descriptors accepted */
    uint64_t dropped_oldest; /* given back unread under drop_oldest */
    uint64_t lost_in_flight; /* given back because their publisher went away before their
                                descriptors arrived (exactly those: see the top of this file) */
    uint64_t rejected[XMEM_REJECT_SLOTS]; /* messages refused, by reason (xmem_reject) */
    uint64_t rejected_total;
} xmem_sub_stats;

/* Attaches to pool `pool_name` on its own, with its inbox (two of the pool's process slots, three
 * while an inbox is replaced; see the top of this file). On success the caller owns *out and
 * destroys it with xmem_sub_destroy(). */
XMEM_EXPORT xmem_err xmem_sub_create(const char *pool_name, const xmem_sub_options *opts,
                                     xmem_sub_t **out, xmem_error_t *err);

/* Connects to a publisher's endpoint and subscribes; may be called for several publishers. */
XMEM_EXPORT xmem_err xmem_sub_connect(xmem_sub_t *sub, const char *endpoint, xmem_error_t *err);

/* Waits up to timeout_ms (negative: forever) for a buffer. On success `out` (empty before) owns
 * one reference as a read-only guard; XMEM_ETIMEDOUT if none came, XMEM_EINTERRUPTED if a signal
 * arrived (so a node can look at its stop flag), XMEM_EEND once every publisher it connected to
 * ended its stream (xmem_pub_end) and everything they sent was received. A publisher that comes
 * back on an ended endpoint (a restart) reopens it. */
XMEM_EXPORT xmem_err xmem_sub_receive(xmem_sub_t *sub, int timeout_ms, xmem_guard_t *out,
                                      xmem_error_t *err);

/* Waits up to timeout_ms (negative: forever) until one of the n subscribers has something for
 * xmem_sub_receive (a buffer, or its end); *ready is its position. Looks at subs[first] first, so
 * a caller rotating `first` serves them fairly. Errors as xmem_sub_receive (never XMEM_EEND). */
XMEM_EXPORT xmem_err xmem_sub_wait_any(xmem_sub_t *const *subs, uint32_t n, uint32_t first,
                                       int timeout_ms, uint32_t *ready, xmem_error_t *err);

/* Something else to wait on with the subscribers (xmem_sub_wait_any_or): a libzmq socket the
 * caller owns (`zmq_socket`, else NULL) or a file descriptor (`fd`, else -1); `ready` is set when
 * it is readable. */
typedef struct xmem_wait_item {
    void *zmq_socket;
    int fd;
    bool ready;
} xmem_wait_item;

/* xmem_sub_wait_any that also returns when one of the `n_items` items is readable: then *ready is
 * n (past the subscribers) and each readable item has `ready` set. n may be 0 (items only). */
XMEM_EXPORT xmem_err xmem_sub_wait_any_or(xmem_sub_t *const *subs, uint32_t n, uint32_t first,
                                          xmem_wait_item *items, uint32_t n_items, int timeout_ms,
                                          uint32_t *ready, xmem_error_t *err);

/* The descriptor of the buffer last returned by xmem_sub_receive (its sequence and timestamp; its
 * owner is the subscriber's own owner id, where the reference now is, not the inbox it was
 * addressed to); owned by the subscriber, overwritten by the next receive. */
XMEM_EXPORT const xmem_descriptor *xmem_sub_last(const xmem_sub_t *sub);

/* The subscriber's own handle of the pool, which holds what it received (owned by the
 * subscriber). */
XMEM_EXPORT xmem_pool_t *xmem_sub_pool(xmem_sub_t *sub);

/* The subscriber's figures, filled as xmem_pub_stats_get() fills its struct. */
XMEM_EXPORT void xmem_sub_stats_get(const xmem_sub_t *sub, xmem_sub_stats *out, size_t size);

/* Unsubscribes, gives back every reference the subscriber still holds (queued, or in its inbox),
 * and detaches from the pool. Guards it returned must be released before. Accepts NULL. */
XMEM_EXPORT void xmem_sub_destroy(xmem_sub_t **sub);

#ifdef __cplusplus
}
#endif

#endif
