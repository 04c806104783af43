/* End of stream and waiting on several subscribers: a subscriber reports XMEM_EEND only after
 * every frame sent before the end and only once all its publishers ended; a publisher that comes
 * back on an ended endpoint reopens it; a late subscriber learns of an end at once; publishing
 * after the end is refused without leaking the buffer; xmem_sub_wait_any names the subscriber
 * that has something, fairly. Publisher and subscribers live in the test process. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "transport_util.h"

#define CAP 16u
#define FRAME 4096u

static char name[64], ep[2][128];
static xmem_pool_t *pool;
static xmem_pub_t *pubs[2];
static xmem_sub_t *subs[2];

static void setup(void)
{
    xf_pool_name(name, sizeof name, "end");
    xtt_endpoint(ep[0], sizeof ep[0], "end-a");
    xtt_endpoint(ep[1], sizeof ep[1], "end-b");
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name, CAP, &pool, &err), XMEM_OK), "%s",
              err.msg);
}

static void teardown(void)
{
    for (int i = 0; i < 2; i++) {
        xmem_sub_destroy(&subs[i]);
        xmem_pub_destroy(&pubs[i]);
        xtt_unlink_endpoint(ep[i]);
    }
    xmem_pool_destroy(&pool);
}

static void make_pub(int i)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_create(pool, ep[i], NULL, &pubs[i], &err), XMEM_OK), "%s", err.msg);
}

/* Subscriber `i` on the given endpoints (bitmask), lossless so nothing is dropped. */
static void make_sub(int i, unsigned endpoints)
{
    xmem_sub_options so;
    xmem_sub_options_init(&so);
    so.policy = XMEM_POLICY_BLOCK;
    so.depth = CAP; /* room for everything: the publisher never waits on a test */
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_sub_create(name, &so, &subs[i], &err), XMEM_OK), "%s", err.msg);
    for (int e = 0; e < 2; e++)
        if (endpoints & (1u << e))
            cr_assert(eq(int, xmem_sub_connect(subs[i], ep[e], &err), XMEM_OK), "%s", err.msg);
}

static void await_subscribers(int i, uint32_t n)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_wait_subscribers(pubs[i], n, 5000, &err), XMEM_OK), "%s", err.msg);
}

static void publish(int i, uint64_t frame_no)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xtt_publish_frame(pubs[i], pool, FRAME, frame_no, 0, &err), XMEM_OK), "%s",
              err.msg);
}

/* Receives one frame and checks it is `frame_no`, whole. */
static void expect_frame(int s, uint64_t frame_no)
{
    xmem_error_t err = {0};
    XMEM_GUARD_AUTO xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_sub_receive(subs[s], 5000, &g, &err), XMEM_OK), "%s", err.msg);
    uint64_t got = ~0ull;
    cr_assert(eq(int, xtt_frame_check(xmem_guard_data(&g), xmem_guard_size(&g), &got, NULL),
                 XTT_FRAME_OK));
    cr_assert(eq(u64, got, frame_no));
}

static xmem_err receive_rc(int s, int timeout_ms)
{
    xmem_error_t err = {0};
    XMEM_GUARD_AUTO xmem_guard_t g = XMEM_GUARD_INIT;
    return xmem_sub_receive(subs[s], timeout_ms, &g, &err);
}

TestSuite(end, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT);

Test(end, after_every_frame_sent_before_it)
{
    make_pub(0);
    make_sub(0, 1);
    await_subscribers(0, 1);
    for (uint64_t f = 0; f < 10; f++)
        publish(0, f);
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_end(pubs[0], &err), XMEM_OK), "%s", err.msg);
    for (uint64_t f = 0; f < 10; f++)
        expect_frame(0, f);
    cr_assert(eq(int, receive_rc(0, 1000), XMEM_EEND));
    cr_assert(eq(int, receive_rc(0, 0), XMEM_EEND), "the end is reported again, not lost");
    xmem_sub_destroy(&subs[0]);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

Test(end, only_once_every_publisher_ended)
{
    make_pub(0);
    make_pub(1);
    make_sub(0, 3);
    await_subscribers(0, 1);
    await_subscribers(1, 1);
    publish(0, 0);
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_end(pubs[0], &err), XMEM_OK), "%s", err.msg);
    expect_frame(0, 0);
    cr_assert(eq(int, receive_rc(0, 300), XMEM_ETIMEDOUT), "one publisher is still open");
    publish(1, 7);
    cr_assert(eq(int, xmem_pub_end(pubs[1], &err), XMEM_OK), "%s", err.msg);
    expect_frame(0, 7);
    cr_assert(eq(int, receive_rc(0, 1000), XMEM_EEND));
}

Test(end, a_restarted_publisher_reopens_the_stream)
{
    make_pub(0);
    make_sub(0, 1);
    await_subscribers(0, 1);
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_end(pubs[0], &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, receive_rc(0, 1000), XMEM_EEND));
    xmem_pub_destroy(&pubs[0]);
    make_pub(0);
    /* The subscriber keeps subscribing while it reports the end; the new publisher learns of
     * it and welcomes it, which reopens the stream. */
    uint64_t deadline = xf_now_ns() + 5000000000ull;
    xmem_pub_stats st = {0};
    while (st.subscribers == 0 && xf_now_ns() < deadline) {
        receive_rc(0, 0);
        xmem_pub_poll(pubs[0], 20, NULL);
        xmem_pub_stats_get(pubs[0], &st, sizeof st);
    }
    cr_assert(eq(u32, st.subscribers, 1));
    /* The WELCOME must be read before the first frame's reference is given: a subscriber that
     * meets a new publisher gives back what the old one left in flight (transport.h). */
    xmem_err rc = XMEM_EEND;
    for (deadline = xf_now_ns() + 5000000000ull; rc == XMEM_EEND && xf_now_ns() < deadline;)
        if ((rc = receive_rc(0, 20)) == XMEM_EEND)
            xf_sleep_us(10000); /* the end is reported at once: do not spin */
    cr_assert(eq(int, rc, XMEM_ETIMEDOUT), "the stream is open again");
    publish(0, 42);
    expect_frame(0, 42);
}

Test(end, reaches_a_late_subscriber)
{
    make_pub(0);
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_end(pubs[0], &err), XMEM_OK), "%s", err.msg);
    make_sub(0, 1);
    await_subscribers(0, 1);
    cr_assert(eq(int, receive_rc(0, 2000), XMEM_EEND));
}

Test(end, publishing_after_it_is_refused_and_releases)
{
    make_pub(0);
    make_sub(0, 1);
    await_subscribers(0, 1);
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_end(pubs[0], &err), XMEM_OK), "%s", err.msg);
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, FRAME, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pub_publish(pubs[0], &g, &err), XMEM_EINVAL));
    cr_assert(not(xmem_guard_valid(&g)), "the guard is emptied");
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP), "and its buffer released");
    cr_assert(eq(int, receive_rc(0, 1000), XMEM_EEND));
}

Test(end, wait_any_names_the_ready_subscriber_fairly)
{
    make_pub(0);
    make_pub(1);
    make_sub(0, 1);
    make_sub(1, 2);
    await_subscribers(0, 1);
    await_subscribers(1, 1);
    xmem_sub_t *const both[2] = {subs[0], subs[1]};
    uint32_t ready = 99;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_sub_wait_any(both, 2, 0, 200, &ready, &err), XMEM_ETIMEDOUT));
    publish(1, 1);
    cr_assert(eq(int, xmem_sub_wait_any(both, 2, 0, 5000, &ready, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, ready, 1));
    publish(0, 0);
    xtt_settle();
    cr_assert(eq(int, xmem_sub_wait_any(both, 2, 0, 5000, &ready, &err), XMEM_OK));
    cr_assert(eq(u32, ready, 0), "both ready: the one looked at first");
    cr_assert(eq(int, xmem_sub_wait_any(both, 2, 1, 5000, &ready, &err), XMEM_OK));
    cr_assert(eq(u32, ready, 1), "rotating `first` serves the other");
    expect_frame(0, 0);
    expect_frame(1, 1);
    cr_assert(eq(int, xmem_sub_wait_any(both, 0, 0, 0, &ready, &err), XMEM_EINVAL));
}
