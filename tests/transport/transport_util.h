/* Helpers shared by the transport tests: names that carry the test process's pid, self-checking
 * frames (a header with the frame number and a checksum of the whole frame, and a payload derived
 * from the frame number), a producer step, a forked consumer that reports over a pipe, a raw
 * ZeroMQ ROUTER that plays a hostile publisher, and an independent model of the descriptor's wire
 * form (tests/transport must not trust transport/ to check itself).
 * Forked children never use Criterion's assertions: they report over a pipe and leave with _exit().
 */
#ifndef XMEM_TRANSPORT_TEST_UTIL_H
#define XMEM_TRANSPORT_TEST_UTIL_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <xmem/pool_admin.h>
#include <xmem/xmem.h>

#include "fixture.h"

/* ---- names --------------------------------------------------------------------------------- */

static inline void xtt_endpoint(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "ipc:///tmp/xmemt-%ld-%s.ipc", (long)getpid(), tag);
}

/* Removes an ipc endpoint's socket file (ZeroMQ leaves it behind when a process dies). */
static inline void xtt_unlink_endpoint(const char *endpoint)
{
    if (strncmp(endpoint, "ipc://", 6) == 0)
        unlink(endpoint + 6);
}

/* A subscriber sorts what has reached its socket when it is asked for a buffer; descriptors just
 * published may still be on their way there. Tests that check which ones a drop_oldest
 * subscriber keeps wait this long first, so that all of them have arrived. */
static inline void xtt_settle(void)
{
    xf_sleep_us(200000);
}

/* ---- self-checking frames ------------------------------------------------------------------ */

#define XTT_FRAME_MAGIC 0x314d415246545458ull /* "XTTFRAM1" */
#define XTT_FRAME_END 1u                      /* flags: the producer is done; consumers stop */
#define XTT_FRAME_HDR_WORDS 5                 /* magic, frame_no, size, flags, checksum */
#define XTT_FRAME_MIN (XTT_FRAME_HDR_WORDS * 8)

enum xtt_frame_check {
    XTT_FRAME_OK = 0,
    XTT_FRAME_BAD_MAGIC,
    XTT_FRAME_BAD_SIZE,
    XTT_FRAME_BAD_CHECKSUM,
    XTT_FRAME_BAD_PATTERN,
};

/* Payload word i of frame `frame_no` (splitmix64 of both). */
static inline uint64_t xtt_frame_word(uint64_t frame_no, uint64_t i)
{
    uint64_t z = frame_no * 0x9e3779b97f4a7c15ull + i + 0x632be59bd9b4e019ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t xtt_mix(uint64_t h, uint64_t w)
{
    return (h ^ w) * 0x100000001b3ull;
}

/* Fills a frame of `size` bytes (a multiple of 8, at least XTT_FRAME_MIN): the header, then a
 * payload derived from the frame number; the checksum covers every other word of the frame. */
static inline void xtt_frame_fill(void *buf, size_t size, uint64_t frame_no, uint64_t flags)
{
    uint64_t *w = buf;
    size_t n = size / 8;
    uint64_t h = 0xcbf29ce484222325ull;
    w[1] = frame_no;
    w[2] = size;
    w[3] = flags;
    h = xtt_mix(xtt_mix(xtt_mix(h, w[1]), w[2]), w[3]);
    for (size_t i = XTT_FRAME_HDR_WORDS; i < n; i++) {
        w[i] = xtt_frame_word(frame_no, i);
        h = xtt_mix(h, w[i]);
    }
    w[4] = h;
    w[0] = XTT_FRAME_MAGIC;
}

/* Checks the whole frame: header, checksum of every byte, and the payload expected of its frame
 * number. *frame_no and *flags (may be NULL) receive the header's. */
static inline int xtt_frame_check(const void *buf, size_t size, uint64_t *frame_no, uint64_t *flags)
{
    const uint64_t *w = buf;
    if (size < XTT_FRAME_MIN || size % 8 || w[0] != XTT_FRAME_MAGIC)
        return XTT_FRAME_BAD_MAGIC;
    if (w[2] != size)
        return XTT_FRAME_BAD_SIZE;
    size_t n = size / 8;
    uint64_t h = 0xcbf29ce484222325ull;
    h = xtt_mix(xtt_mix(xtt_mix(h, w[1]), w[2]), w[3]);
    bool pattern = true;
    for (size_t i = XTT_FRAME_HDR_WORDS; i < n; i++) {
        h = xtt_mix(h, w[i]);
        pattern &= w[i] == xtt_frame_word(w[1], i);
    }
    if (h != w[4])
        return XTT_FRAME_BAD_CHECKSUM;
    if (!pattern)
        return XTT_FRAME_BAD_PATTERN;
    if (frame_no)
        *frame_no = w[1];
    if (flags)
        *flags = w[3];
    return XTT_FRAME_OK;
}

/* Acquires a buffer of `size` (waiting, while servicing the publisher, if the pool is exhausted),
 * writes frame `frame_no` with its stamp into it and publishes it. */
static inline xmem_err xtt_publish_frame(xmem_pub_t *pub, xmem_pool_t *pool, size_t size,
                                         uint64_t frame_no, uint64_t flags, xmem_error_t *err)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    uint64_t deadline = xf_now_ns() + 10ull * 1000000000ull;
    for (;;) {
        xmem_err rc = xmem_pool_acquire_cpu(pool, size, &g, err);
        if (rc == XMEM_OK)
            break;
        if (rc != XMEM_EEXHAUSTED || xf_now_ns() > deadline)
            return rc;
        xmem_pub_poll(pub, 1, NULL);
    }
    void *p = NULL;
    xmem_err rc = xmem_guard_data_mut(&g, &p, err);
    if (rc == XMEM_OK) {
        xtt_frame_fill(p, size, frame_no, flags);
        rc = xmem_guard_set_stamp(&g, frame_no, 1000000u + frame_no, err);
    }
    if (rc) {
        xmem_guard_release(&g, NULL);
        return rc;
    }
    return xmem_pub_publish(pub, &g, err);
}

/* ---- pipes and children -------------------------------------------------------------------- */

/* Like test_wait without waiting: -2000 while the child still runs. */
static inline int xtt_try_wait(pid_t pid)
{
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == 0)
        return -2000;
    if (r != pid)
        return -1000;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return -WTERMSIG(status);
    return -1001;
}

/* What a forked consumer says about its run. */
typedef struct xtt_report {
    int32_t step;            /* 0, or the step that failed (enum xtt_step) */
    int32_t rc;              /* the xmem_err of that step */
    uint64_t received;       /* frames received, the end frame not counted */
    uint64_t dropped_oldest; /* from xmem_sub_stats */
    uint64_t rejected_total;
    uint64_t first_frame, last_frame;
    uint64_t order_errors;   /* frame number or descriptor sequence not increasing (or, strict: not
                                the next one) */
    uint64_t content_errors; /* frame check failed, or its record disagrees with the descriptor */
    uint64_t saw_end;
} xtt_report;

enum xtt_step {
    XTT_STEP_OK = 0,
    XTT_STEP_CREATE,
    XTT_STEP_CONNECT,
    XTT_STEP_RECEIVE,
    XTT_STEP_META,
    XTT_STEP_RELEASE,
    XTT_STEP_DEADLINE,
};

typedef struct xtt_consumer {
    const char *pool_name;
    const char *endpoint;
    xmem_sub_options opts;
    long delay_us;        /* sleep per frame while holding it: a slow consumer */
    bool strict;          /* every frame, in order: frame number == descriptor sequence == count */
    int deadline_ms;      /* gives up (XTT_STEP_DEADLINE) after this long */
    uint64_t pause_after; /* once this many frames were received (0: never), */
    long pause_ms;        /* stops receiving for this long: a consumer that hangs a while */
} xtt_consumer;

/* Receives frames until one carries XTT_FRAME_END, checking each whole frame. */
static inline void xtt_consume(const xtt_consumer *c, xtt_report *rep)
{
    memset(rep, 0, sizeof *rep);
    xmem_error_t err;
    xmem_sub_t *sub = NULL;
    xmem_err rc = xmem_sub_create(c->pool_name, &c->opts, &sub, &err);
    if (rc) {
        rep->step = XTT_STEP_CREATE;
        rep->rc = (int32_t)rc;
        return;
    }
    rc = xmem_sub_connect(sub, c->endpoint, &err);
    if (rc) {
        rep->step = XTT_STEP_CONNECT;
        rep->rc = (int32_t)rc;
        xmem_sub_destroy(&sub);
        return;
    }
    uint64_t deadline = xf_now_ns() + (uint64_t)c->deadline_ms * 1000000ull;
    uint64_t last_seq = 0, last_frame = 0;
    bool any = false;
    while (!rep->saw_end) {
        if (xf_now_ns() > deadline) {
            rep->step = XTT_STEP_DEADLINE;
            break;
        }
        xmem_guard_t g = XMEM_GUARD_INIT;
        rc = xmem_sub_receive(sub, 200, &g, &err);
        if (rc == XMEM_ETIMEDOUT)
            continue;
        if (rc) {
            rep->step = XTT_STEP_RECEIVE;
            rep->rc = (int32_t)rc;
            break;
        }
        uint64_t frame_no = 0, flags = 0;
        const xmem_descriptor *d = xmem_sub_last(sub);
        int fc = xtt_frame_check(xmem_guard_data(&g), xmem_guard_size(&g), &frame_no, &flags);
        xmem_meta_t meta;
        if (xmem_guard_meta(&g, &meta, &err)) {
            rep->step = XTT_STEP_META;
            xmem_guard_release(&g, NULL);
            break;
        }
        if (fc != XTT_FRAME_OK || meta.sequence != frame_no ||
            d->timestamp_ns != meta.timestamp_ns || d->ref.index != meta.ref.index ||
            d->ref.generation != meta.ref.generation ||
            d->owner != xmem_pool_owner_id(xmem_sub_pool(sub)))
            rep->content_errors++;
        if (flags & XTT_FRAME_END) {
            rep->saw_end = 1;
        } else {
            if (c->strict) {
                if (frame_no != rep->received || d->sequence != frame_no)
                    rep->order_errors++;
            } else if (any && (frame_no <= last_frame || d->sequence <= last_seq)) {
                rep->order_errors++;
            }
            if (!any)
                rep->first_frame = frame_no;
            rep->last_frame = frame_no;
            last_frame = frame_no;
            last_seq = d->sequence;
            any = true;
            rep->received++;
            if (c->pause_after && rep->received == c->pause_after)
                xf_sleep_ms(c->pause_ms);
            if (c->delay_us)
                xf_sleep_us(c->delay_us);
        }
        if (xmem_guard_release(&g, &err)) {
            rep->step = XTT_STEP_RELEASE;
            break;
        }
    }
    xmem_sub_stats st;
    xmem_sub_stats_get(sub, &st, sizeof st);
    rep->dropped_oldest = st.dropped_oldest;
    rep->rejected_total = st.rejected_total;
    xmem_sub_destroy(&sub);
}

/* Forks a consumer; its report comes back on *report_fd (read it with test_read_all). */
static inline pid_t xtt_fork_consumer(const xtt_consumer *c, int *report_fd)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        xtt_report rep;
        xtt_consume(c, &rep);
        bool ok = xf_write_all(fds[1], &rep, sizeof rep);
        _exit(ok && rep.step == XTT_STEP_OK && rep.content_errors == 0 &&
                      (!c->strict || rep.order_errors == 0)
                  ? 0
                  : 1);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    *report_fd = fds[0];
    return pid;
}

/* ---- little-endian fields, as the wire forms have them ------------------------------------ */

static inline uint64_t xtt_get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline void xtt_put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t xtt_fnv1a32(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* A publisher's WELCOME (transport/control.h): publisher instance `instance` of process `pid`
 * gives into inbox `inbox`. */
static inline void xtt_welcome(uint8_t out[28], uint64_t instance, uint32_t pid, uint32_t inbox)
{
    xtt_put_le(out, 0x31574d58u, 4); /* "XMW1" */
    xtt_put_le(out + 4, 3, 2);       /* version */
    xtt_put_le(out + 6, 0, 2);       /* WELCOME */
    xtt_put_le(out + 8, instance, 8);
    xtt_put_le(out + 16, pid, 4);
    xtt_put_le(out + 20, inbox, 4);
    xtt_put_le(out + 24, xtt_fnv1a32(out, 24), 4);
}

/* ---- a raw ROUTER: a publisher that sends whatever the test wants -------------------------- */

typedef struct xtt_raw {
    void *ctx;
    void *sock;
    uint8_t rid[256];
    size_t rid_len;
    uint32_t inbox; /* from the subscriber's last SUBSCRIBE: where references for it go */
    uint32_t home;  /* and its own attachment */
} xtt_raw;

static inline bool xtt_raw_bind(xtt_raw *r, const char *endpoint)
{
    memset(r, 0, sizeof *r);
    r->ctx = zmq_ctx_new();
    if (!r->ctx)
        return false;
    r->sock = zmq_socket(r->ctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    return r->sock && zmq_setsockopt(r->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one) == 0 &&
           zmq_setsockopt(r->sock, ZMQ_LINGER, &zero, sizeof zero) == 0 &&
           zmq_setsockopt(r->sock, ZMQ_SNDHWM, &zero, sizeof zero) == 0 &&
           zmq_bind(r->sock, endpoint) == 0;
}

/* Waits for a subscriber's next control message and keeps its routing id, inbox and owner id. */
static inline bool xtt_raw_wait_subscriber(xtt_raw *r, int timeout_ms)
{
    zmq_pollitem_t item = {.socket = r->sock, .events = ZMQ_POLLIN};
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return false;
    int n = zmq_recv(r->sock, r->rid, sizeof r->rid, 0);
    if (n <= 0 || (size_t)n > sizeof r->rid)
        return false;
    r->rid_len = (size_t)n;
    uint8_t body[64];
    int more = 0;
    size_t ml = sizeof more;
    zmq_getsockopt(r->sock, ZMQ_RCVMORE, &more, &ml);
    if (!more)
        return false;
    int bl = zmq_recv(r->sock, body, sizeof body, 0);
    /* A SUBSCRIBE (transport/control.h): 44 bytes starting with "XMC1", the inbox at 16, the
     * subscriber's own owner id at 32. */
    if (bl != 44 || memcmp(body, "XMC1", 4) != 0)
        return false;
    r->inbox = (uint32_t)xtt_get_le(body + 16, 4);
    r->home = (uint32_t)xtt_get_le(body + 32, 4);
    return true;
}

/* Sends one message of `nparts` parts to the subscriber. */
static inline bool xtt_raw_send_parts(xtt_raw *r, const void *const *parts, const size_t *lens,
                                      int nparts)
{
    if (zmq_send(r->sock, r->rid, r->rid_len, ZMQ_SNDMORE) < 0)
        return false;
    for (int i = 0; i < nparts; i++)
        if (zmq_send(r->sock, parts[i], lens[i], i + 1 < nparts ? ZMQ_SNDMORE : 0) < 0)
            return false;
    return true;
}

static inline bool xtt_raw_send(xtt_raw *r, const void *buf, size_t len)
{
    const void *parts[1] = {buf};
    size_t lens[1] = {len};
    return xtt_raw_send_parts(r, parts, lens, 1);
}

static inline void xtt_raw_close(xtt_raw *r)
{
    if (r->sock)
        zmq_close(r->sock);
    if (r->ctx)
        zmq_ctx_term(r->ctx);
    memset(r, 0, sizeof *r);
}

/* ---- the descriptor's wire form, modelled independently ------------------------------------ */
/*  0 magic u32 | 4 version u16 | 6 flags u16 | 8 pool_id u64 | 16 index u32 | 20 generation u32
 * 24 sequence u64 | 32 timestamp_ns u64 | 40 owner u32 | 44 checksum u32 (FNV-1a of bytes 0..43) */

/* Rewrites the checksum after a deliberate change, so that a later check is what refuses it. */
static inline void xtt_fix_checksum(uint8_t wire[XMEM_DESCRIPTOR_SIZE])
{
    xtt_put_le(wire + 44, xtt_fnv1a32(wire, 44), 4);
}

/* The model's verdict on a message: -1 if it is a well-formed descriptor (filled into *out),
 * otherwise the xmem_reject the wire checks must give, in the documented order. */
static inline int xtt_model_decode(const uint8_t *p, size_t len, xmem_descriptor *out)
{
    if (!p || len != XMEM_DESCRIPTOR_SIZE)
        return XMEM_REJECT_SIZE;
    if (xtt_get_le(p, 4) != XMEM_DESCRIPTOR_MAGIC)
        return XMEM_REJECT_MAGIC;
    if (xtt_get_le(p + 4, 2) != XMEM_DESCRIPTOR_VERSION)
        return XMEM_REJECT_VERSION;
    if (xtt_get_le(p + 44, 4) != xtt_fnv1a32(p, 44))
        return XMEM_REJECT_CHECKSUM;
    if (xtt_get_le(p + 6, 2) != 0)
        return XMEM_REJECT_FLAGS;
    out->flags = 0;
    out->pool_id = xtt_get_le(p + 8, 8);
    out->ref.index = (uint32_t)xtt_get_le(p + 16, 4);
    out->ref.generation = (uint32_t)xtt_get_le(p + 20, 4);
    out->sequence = xtt_get_le(p + 24, 8);
    out->timestamp_ns = xtt_get_le(p + 32, 8);
    out->owner = (uint32_t)xtt_get_le(p + 40, 4);
    return -1;
}

/* A small deterministic generator (xorshift64*), so a failing fuzz run can be repeated. */
static inline uint64_t xtt_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static inline uint32_t xtt_rand_below(uint64_t *state, uint32_t n)
{
    return (uint32_t)((xtt_rand(state) >> 32) % n);
}

#endif
