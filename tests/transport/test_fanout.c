/* Fan-out between real processes: one publisher, 1 or 4 forked subscribers, 8 MiB frames. Every
 * consumer checks every byte of every frame it gets (a checksum the producer wrote into the frame,
 * and a payload derived from the frame number), the frame's record and descriptor; afterwards every
 * buffer of the pool is free again. Also, in one process: frames of several sizes, a pass-through
 * node forwarding the read-only buffer it received, and one subscriber of two publishers. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "transport_util.h"

#define CAP 16u
#define FRAME_SIZE (8u << 20)
#define MAX_SUBS 4

static char name[64], endpoint[128];
static xmem_pool_t *pool;
static xmem_pub_t *pub;
static pid_t kids[MAX_SUBS];
static int kid_fds[MAX_SUBS];

static void setup(void)
{
    xf_pool_name(name, sizeof name, "fanout");
    xtt_endpoint(endpoint, sizeof endpoint, "fanout");
    for (int i = 0; i < MAX_SUBS; i++)
        kids[i] = -1, kid_fds[i] = -1;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name, CAP, &pool, &err), XMEM_OK), "%s",
              err.msg);
}

/* After the consumers are forked: a child of a process with ZeroMQ (or sanitizer) threads may
 * inherit a lock one of them held, so the children are forked while there are none. They connect
 * before the publisher binds, which ZeroMQ allows. */
static void start_pub(void)
{
    xmem_pub_options po;
    xmem_pub_options_init(&po);
    po.block_timeout_ms =
        20000; /* lossless here: a slow (sanitized) consumer must not cause drops */
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_create(pool, endpoint, &po, &pub, &err), XMEM_OK), "%s", err.msg);
}

static void teardown(void)
{
    for (int i = 0; i < MAX_SUBS; i++) {
        if (kids[i] > 0) {
            kill(kids[i], SIGKILL);
            xf_wait(kids[i]);
        }
        if (kid_fds[i] >= 0)
            close(kid_fds[i]);
    }
    xmem_pub_destroy(&pub);
    xmem_pool_destroy(&pool);
    xtt_unlink_endpoint(endpoint);
}

typedef struct fan_case {
    int nsubs;
    int policy;
} fan_case;

static fan_case cases[] = {
    {1, XMEM_POLICY_BLOCK},
    {4, XMEM_POLICY_BLOCK},
    {1, XMEM_POLICY_DROP_OLDEST},
    {4, XMEM_POLICY_DROP_OLDEST},
};

ParameterizedTestParameters(fanout, frames_8mib)
{
    return cr_make_param_array(fan_case, cases, sizeof cases / sizeof cases[0]);
}

/* Publishes the end frame until every consumer has left; returns when all are reaped. */
static void finish(int nsubs, int statuses[])
{
    int left = nsubs;
    uint64_t deadline = xf_now_ns() + 20ull * 1000000000ull;
    uint64_t end_no = 1u << 30;
    while (left > 0) {
        xmem_error_t err = {0};
        cr_assert(eq(int,
                     xtt_publish_frame(pub, pool, XTT_FRAME_MIN, end_no++, XTT_FRAME_END, &err),
                     XMEM_OK),
                  "%s", err.msg);
        xf_sleep_us(10000);
        for (int i = 0; i < nsubs; i++) {
            if (kids[i] <= 0)
                continue;
            int st = xtt_try_wait(kids[i]);
            if (st == -2000)
                continue;
            statuses[i] = st;
            kids[i] = -1;
            left--;
        }
        cr_assert(lt(u64, xf_now_ns(), deadline), "%d consumer(s) never saw the end frame", left);
    }
}

ParameterizedTest(fan_case *fc, fanout, frames_8mib, .init = setup, .fini = teardown,
                  .timeout = 120)
{
    const uint64_t frames = XF_SCALE(32, 16);
    xtt_consumer c = {.pool_name = name, .endpoint = endpoint, .deadline_ms = 60000};
    xmem_sub_options_init(&c.opts);
    c.opts.policy = (xmem_queue_policy)fc->policy;
    c.opts.depth = 4;
    c.strict = fc->policy == XMEM_POLICY_BLOCK;
    for (int i = 0; i < fc->nsubs; i++) {
        kids[i] = xtt_fork_consumer(&c, &kid_fds[i]);
        cr_assert(gt(i32, kids[i], 0), "fork failed");
    }
    start_pub();
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_wait_subscribers(pub, (uint32_t)fc->nsubs, 10000, &err), XMEM_OK),
              "%s", err.msg);

    for (uint64_t f = 0; f < frames; f++)
        cr_assert(eq(int, xtt_publish_frame(pub, pool, FRAME_SIZE, f, 0, &err), XMEM_OK),
                  "frame %llu: %s", (unsigned long long)f, err.msg);
    xmem_pub_stats ps;
    xmem_pub_stats_get(pub, &ps, sizeof ps);
    cr_assert(eq(u64, ps.published, frames));
    if (fc->policy == XMEM_POLICY_BLOCK) {
        /* Lossless: every subscriber was given every frame. */
        cr_assert(eq(u64, ps.delivered, frames * (uint64_t)fc->nsubs));
        for (int r = 0; r < XMEM_DROP_COUNT_; r++)
            cr_assert(eq(u64, ps.dropped[r], 0), "%llu drops (%s) under block",
                      (unsigned long long)ps.dropped[r], xmem_drop_name((xmem_drop)r));
    }

    int statuses[MAX_SUBS];
    finish(fc->nsubs, statuses);
    for (int i = 0; i < fc->nsubs; i++) {
        xtt_report rep;
        cr_assert(xf_read_all(kid_fds[i], &rep, sizeof rep), "consumer %d sent no report", i);
        cr_assert(eq(int, rep.step, XTT_STEP_OK), "consumer %d failed at step %d (rc %d)", i,
                  rep.step, rep.rc);
        cr_assert(eq(u64, rep.content_errors, 0), "consumer %d: %llu frames with wrong content", i,
                  (unsigned long long)rep.content_errors);
        cr_assert(eq(u64, rep.order_errors, 0), "consumer %d: %llu frames out of order", i,
                  (unsigned long long)rep.order_errors);
        cr_assert(eq(u64, rep.rejected_total, 0), "consumer %d refused %llu messages", i,
                  (unsigned long long)rep.rejected_total);
        cr_assert(eq(int, statuses[i], 0), "consumer %d exited %d", i, statuses[i]);
        if (fc->policy == XMEM_POLICY_BLOCK) {
            cr_assert(eq(u64, rep.received, frames), "consumer %d got %llu of %llu frames", i,
                      (unsigned long long)rep.received, (unsigned long long)frames);
            cr_assert(eq(u64, rep.dropped_oldest, 0));
        } else {
            cr_assert(gt(u64, rep.received, 0), "consumer %d got nothing", i);
            cr_assert(le(u64, rep.received, frames));
        }
    }
    /* Everyone is gone: every buffer is back, without the publisher's help. */
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP), "%u of %u buffers free after the run",
              xmem_pool_free_count(pool), CAP);
    cr_assert(eq(int, xmem_pub_poll(pub, 0, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* Frames of several sizes to one consumer: the subscriber's view is exactly the producer's. */
static size_t sizes[] = {XTT_FRAME_MIN, 4096, 4096 + 8, 1u << 20, (8u << 20) + 8};

ParameterizedTestParameters(fanout, frame_sizes)
{
    return cr_make_param_array(size_t, sizes, sizeof sizes / sizeof sizes[0]);
}

ParameterizedTest(size_t *size, fanout, frame_sizes, .init = setup, .fini = teardown,
                  .timeout = XF_TIMEOUT)
{
    xtt_consumer c = {
        .pool_name = name, .endpoint = endpoint, .deadline_ms = 20000, .strict = true};
    xmem_sub_options_init(&c.opts);
    c.opts.policy = XMEM_POLICY_BLOCK;
    kids[0] = xtt_fork_consumer(&c, &kid_fds[0]);
    cr_assert(gt(i32, kids[0], 0));
    start_pub();
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_wait_subscribers(pub, 1, 10000, &err), XMEM_OK), "%s", err.msg);
    for (uint64_t f = 0; f < 8; f++)
        cr_assert(eq(int, xtt_publish_frame(pub, pool, *size, f, 0, &err), XMEM_OK), "%s", err.msg);
    int st[1];
    finish(1, st);
    xtt_report rep;
    cr_assert(xf_read_all(kid_fds[0], &rep, sizeof rep));
    cr_assert(eq(int, rep.step, XTT_STEP_OK), "step %d rc %d", rep.step, rep.rc);
    cr_assert(eq(u64, rep.received, 8));
    cr_assert(eq(u64, rep.content_errors, 0));
    cr_assert(eq(u64, rep.order_errors, 0));
    cr_assert(eq(int, st[0], 0));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* ---- other shapes, in one process ----------------------------------------------------------- */

static xmem_sub_t *in_sub(const char *ep, uint32_t depth, xmem_queue_policy policy)
{
    xmem_sub_options o;
    xmem_sub_options_init(&o);
    o.depth = depth;
    o.policy = policy;
    xmem_sub_t *s = NULL;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_sub_create(name, &o, &s, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_sub_connect(s, ep, &err), XMEM_OK), "%s", err.msg);
    return s;
}

static void wait_one(xmem_pub_t *p, uint32_t n)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_wait_subscribers(p, n, 10000, &err), XMEM_OK), "%s", err.msg);
}

/* A pass-through node: a subscriber forwards the read-only buffer it received through its own
 * publisher; the next subscriber gets the same buffer (no copy) and its reference is the last. */
Test(fanout, forward_read_only, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    char ep2[160];
    xtt_endpoint(ep2, sizeof ep2, "fanout-fwd");
    start_pub();
    xmem_sub_t *mid = in_sub(endpoint, 4, XMEM_POLICY_BLOCK);
    xmem_pub_t *fwd = NULL;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_create(xmem_sub_pool(mid), ep2, NULL, &fwd, &err), XMEM_OK), "%s",
              err.msg);
    xmem_sub_t *last = in_sub(ep2, 4, XMEM_POLICY_BLOCK);
    wait_one(pub, 1);
    wait_one(fwd, 1);
    uint32_t last_owner = xmem_pool_owner_id(xmem_sub_pool(last));

    for (uint64_t f = 0; f < 6; f++) {
        cr_assert(eq(int, xtt_publish_frame(pub, pool, 1u << 20, f, 0, &err), XMEM_OK), "%s",
                  err.msg);
        xmem_guard_t g = XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_sub_receive(mid, 5000, &g, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(int, xmem_guard_mode(&g), XMEM_ACCESS_READ));
        xmem_buf_ref ref = xmem_guard_ref(&g);
        const void *data_mid = xmem_guard_data(&g);
        uint64_t fm = 0;
        cr_assert(eq(int, xtt_frame_check(data_mid, xmem_guard_size(&g), &fm, NULL), XTT_FRAME_OK));
        cr_assert(eq(u64, fm, f));
        cr_assert(eq(int, xmem_pub_publish(fwd, &g, &err), XMEM_OK), "%s", err.msg);
        cr_assert(not(xmem_guard_valid(&g)), "publish must empty the guard");
        uint32_t rc = 0;
        cr_assert(eq(int, xmem_pool_ref_count(pool, ref, &rc, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(u32, rc, 1), "forwarding moves the one reference on");
        cr_assert(eq(u32, xmem_pool_owned_by(pool, ref, last_owner), 0), "in flight: its inbox's");

        xmem_guard_t g2 = XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_sub_receive(last, 5000, &g2, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(u32, xmem_guard_ref(&g2).index, ref.index));
        cr_assert(eq(u32, xmem_guard_ref(&g2).generation, ref.generation));
        cr_assert(eq(int, xtt_frame_check(xmem_guard_data(&g2), xmem_guard_size(&g2), &fm, NULL),
                     XTT_FRAME_OK));
        cr_assert(eq(u64, fm, f));
        cr_assert(eq(u64, xmem_sub_last(last)->sequence, f));
        cr_assert(eq(u32, xmem_sub_last(last)->owner, last_owner));
        cr_assert(eq(u32, xmem_pool_owned_by(pool, ref, last_owner), 1), "received: its own");
        cr_assert(eq(int, xmem_pool_ref_count(pool, ref, &rc, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(u32, rc, 1), "still the one reference");
        cr_assert(eq(int, xmem_guard_release(&g2, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(u32, xmem_pool_free_count(pool), CAP), "frame %llu not recycled",
                  (unsigned long long)f);
    }
    xmem_sub_destroy(&last);
    xmem_pub_destroy(&fwd);
    xmem_sub_destroy(&mid);
    xtt_unlink_endpoint(ep2);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* One subscriber connected to two publishers of the pool: it gets both streams, each in order. */
Test(fanout, two_publishers_one_subscriber, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    char ep2[160];
    xtt_endpoint(ep2, sizeof ep2, "fanout-two");
    start_pub();
    xmem_pub_t *pub2 = NULL;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_create(pool, ep2, NULL, &pub2, &err), XMEM_OK), "%s", err.msg);
    xmem_sub_t *s = in_sub(endpoint, 4, XMEM_POLICY_BLOCK);
    cr_assert(eq(int, xmem_sub_connect(s, ep2, &err), XMEM_OK), "%s", err.msg);
    wait_one(pub, 1);
    wait_one(pub2, 1);

    const uint64_t per_pub = 40;
    uint64_t next[2] = {0, 1};
    for (uint64_t i = 0; i < per_pub; i++) {
        /* Even frames from the first publisher, odd ones from the second. */
        cr_assert(eq(int, xtt_publish_frame(pub, pool, 4096, 2 * i, 0, &err), XMEM_OK), "%s",
                  err.msg);
        cr_assert(eq(int, xtt_publish_frame(pub2, pool, 4096, 2 * i + 1, 0, &err), XMEM_OK), "%s",
                  err.msg);
        for (int k = 0; k < 2; k++) {
            xmem_guard_t g = XMEM_GUARD_INIT;
            cr_assert(eq(int, xmem_sub_receive(s, 5000, &g, &err), XMEM_OK), "%s", err.msg);
            uint64_t f = 0;
            cr_assert(eq(int, xtt_frame_check(xmem_guard_data(&g), xmem_guard_size(&g), &f, NULL),
                         XTT_FRAME_OK));
            cr_assert(eq(u64, f, next[f & 1]), "publisher %d: frame %llu, expected %llu",
                      (int)(f & 1), (unsigned long long)f, (unsigned long long)next[f & 1]);
            cr_assert(eq(u64, xmem_sub_last(s)->sequence, f / 2), "each publisher counts its own");
            next[f & 1] += 2;
            cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
        }
    }
    xmem_sub_stats st;
    xmem_sub_stats_get(s, &st, sizeof st);
    cr_assert(eq(u64, st.received, 2 * per_pub));
    cr_assert(eq(u64, st.rejected_total, 0));
    xmem_sub_destroy(&s);
    xmem_pub_destroy(&pub2);
    xtt_unlink_endpoint(ep2);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* The same hand-off over TCP on loopback (a wildcard port, read back from the publisher): the
 * descriptor crosses a TCP connection, the frame stays in the pool. One process, block policy. */
Test(fanout, over_tcp, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    enum { FRAMES = 12, SIZE = 1 << 20 };
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_create(pool, "tcp://127.0.0.1:*", NULL, &pub, &err), XMEM_OK), "%s",
              err.msg);
    const char *ep = xmem_pub_endpoint(pub);
    cr_assert(eq(int, strncmp(ep, "tcp://127.0.0.1:", 16), 0), "endpoint %s", ep);
    cr_assert(strchr(ep + 16, '*') == NULL, "the wildcard port was not resolved: %s", ep);
    xmem_sub_options so;
    xmem_sub_options_init(&so);
    so.policy = XMEM_POLICY_BLOCK;
    so.depth = FRAMES;
    xmem_sub_t *sub = NULL;
    cr_assert(eq(int, xmem_sub_create(name, &so, &sub, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_sub_connect(sub, ep, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pub_wait_subscribers(pub, 1, 5000, &err), XMEM_OK), "%s", err.msg);
    for (uint64_t f = 0; f < FRAMES; f++) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_pool_acquire_cpu(pool, SIZE, &g, &err), XMEM_OK), "%s", err.msg);
        void *p = NULL;
        cr_assert(eq(int, xmem_guard_data_mut(&g, &p, &err), XMEM_OK));
        xtt_frame_fill(p, SIZE, f, 0);
        cr_assert(eq(int, xmem_pub_publish(pub, &g, &err), XMEM_OK), "%s", err.msg);
    }
    for (uint64_t f = 0; f < FRAMES; f++) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_sub_receive(sub, 5000, &g, &err), XMEM_OK), "frame %llu: %s",
                  (unsigned long long)f, err.msg);
        uint64_t no = 0;
        cr_assert(eq(int, xtt_frame_check(xmem_guard_data(&g), SIZE, &no, NULL), XTT_FRAME_OK));
        cr_assert(eq(u64, no, f));
        cr_assert(eq(u64, xmem_sub_last(sub)->sequence, f));
        cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    }
    xmem_sub_destroy(&sub);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}
