/* Every way a reference can get stuck between publisher and subscriber, each ending with every
 * buffer of the pool free: a subscriber whose queue is full (drop_oldest and block), one that
 * joined late, one destroyed with descriptors unread or still in transit, one that left without
 * reading, one that died without detaching, ones killed with SIGKILL while holding buffers (given
 * back by xmem_pool_reclaim_pid, or by the publisher's liveness check while publishing goes on,
 * also before the dead one is reaped), a dead block subscriber that must not stall the publisher,
 * and a publisher destroyed before its subscriber. Subscriber processes are forked before this
 * process has any ZeroMQ context (see start_kid). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "transport_util.h"

#define CAP 32u
#define FRAME (64u << 10)
#define MAX_KIDS 2

static char name[64], endpoint[128], endpoint2[128]; /* endpoint2: a second publisher's */
static xmem_pool_t *pool;
static xmem_pub_t *pub;
static xmem_sub_t *subs[3];
static pid_t kids[MAX_KIDS] = {-1, -1};
static int kid_in[MAX_KIDS] = {-1, -1}, kid_out[MAX_KIDS] = {-1, -1};

static void setup(void)
{
    xf_pool_name(name, sizeof name, "leaks");
    xtt_endpoint(endpoint, sizeof endpoint, "leaks");
    xtt_endpoint(endpoint2, sizeof endpoint2, "leaks2");
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name, CAP, &pool, &err), XMEM_OK), "%s",
              err.msg);
}

static void teardown(void)
{
    for (int i = 0; i < 3; i++)
        xmem_sub_destroy(&subs[i]);
    for (int i = 0; i < MAX_KIDS; i++) {
        if (kids[i] > 0) {
            kill(kids[i], SIGKILL);
            xf_wait(kids[i]);
        }
        if (kid_in[i] >= 0)
            close(kid_in[i]);
        if (kid_out[i] >= 0)
            close(kid_out[i]);
    }
    xmem_pub_destroy(&pub);
    xmem_pool_destroy(&pool);
    xtt_unlink_endpoint(endpoint);
    xtt_unlink_endpoint(endpoint2);
}

static void make_pub_at(const char *ep, int block_timeout_ms)
{
    xmem_pub_options po;
    xmem_pub_options_init(&po);
    po.block_timeout_ms = block_timeout_ms;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_create(pool, ep, &po, &pub, &err), XMEM_OK), "%s", err.msg);
}

static void make_pub(int block_timeout_ms)
{
    make_pub_at(endpoint, block_timeout_ms);
}

/* A subscriber in this process (its own attachment, as another process would have). */
static xmem_sub_t *make_sub(uint32_t depth, xmem_queue_policy policy)
{
    xmem_sub_options o;
    xmem_sub_options_init(&o);
    o.depth = depth;
    o.policy = policy;
    xmem_sub_t *s = NULL;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_sub_create(name, &o, &s, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_sub_connect(s, endpoint, &err), XMEM_OK), "%s", err.msg);
    return s;
}

static void wait_subs(uint32_t n)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_wait_subscribers(pub, n, 10000, &err), XMEM_OK), "%s", err.msg);
}

static void publish(uint64_t frame_no)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xtt_publish_frame(pub, pool, FRAME, frame_no, 0, &err), XMEM_OK), "%s",
              err.msg);
}

/* Receives one frame, checks it whole, returns its number (the guard stays held when `keep`). */
static uint64_t receive(xmem_sub_t *s, xmem_guard_t *keep)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_sub_receive(s, 5000, &g, &err), XMEM_OK), "%s", err.msg);
    uint64_t f = 0;
    cr_assert(
        eq(int, xtt_frame_check(xmem_guard_data(&g), xmem_guard_size(&g), &f, NULL), XTT_FRAME_OK));
    if (keep)
        *keep = g;
    else
        cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    return f;
}

static void expect_nothing(xmem_sub_t *s, int timeout_ms)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_err rc = xmem_sub_receive(s, timeout_ms, &g, NULL);
    if (rc == XMEM_OK) {
        uint64_t f = 0;
        xtt_frame_check(xmem_guard_data(&g), xmem_guard_size(&g), &f, NULL);
        xmem_guard_release(&g, NULL);
        cr_fatal("received frame %llu where nothing was expected", (unsigned long long)f);
    }
    cr_assert(eq(int, rc, XMEM_ETIMEDOUT));
}

static void expect_all_free(const char *when)
{
    uint32_t free_now = xmem_pool_free_count(pool);
    if (free_now != CAP) {
        char holders[2048];
        xmem_pool_describe_holders(pool, holders, sizeof holders);
        cr_fatal("%s: %u of %u buffers free; holders:\n%s", when, free_now, CAP, holders);
    }
}

static xmem_pub_sub_stats sub_stats(uint32_t i)
{
    xmem_pub_sub_stats st[4];
    uint32_t n = xmem_pub_subscriber_stats_get(pub, st, sizeof st[0], 4);
    cr_assert(gt(u32, n, i), "the publisher knows %u subscribers", n);
    return st[i];
}

/* ---- a forked subscriber that holds what it received until told what to do --------------- */

typedef struct hold_report {
    int32_t rc;
    uint32_t owner;
    uint64_t received;
} hold_report;

enum { KID_DESTROY = 'd', KID_EXIT = 'x' };

/* Subscribes, receives `hold` frames and keeps them, reports, then waits for a command: destroy
 * (release and destroy the subscriber) or exit (leave with everything still held). */
static void kid_main(int in_fd, int out_fd, uint32_t depth, xmem_queue_policy policy, int hold)
{
    hold_report rep = {0};
    xmem_sub_options o;
    xmem_sub_options_init(&o);
    o.depth = depth;
    o.policy = policy;
    xmem_sub_t *s = NULL;
    xmem_guard_t held[16];
    rep.rc = (int32_t)xmem_sub_create(name, &o, &s, NULL);
    if (!rep.rc)
        rep.rc = (int32_t)xmem_sub_connect(s, endpoint, NULL);
    if (!rep.rc)
        rep.owner = xmem_pool_owner_id(xmem_sub_pool(s));
    for (int i = 0; i < hold && !rep.rc; i++) {
        held[i] = (xmem_guard_t)XMEM_GUARD_INIT;
        rep.rc = (int32_t)xmem_sub_receive(s, 10000, &held[i], NULL);
        if (!rep.rc) {
            rep.received++;
            if (xtt_frame_check(xmem_guard_data(&held[i]), xmem_guard_size(&held[i]), NULL, NULL))
                rep.rc = 1000;
        }
    }
    if (!xf_write_all(out_fd, &rep, sizeof rep) || rep.rc)
        _exit(2);
    char cmd = 0;
    if (!xf_read_all(in_fd, &cmd, 1))
        _exit(3);
    if (cmd == KID_EXIT)
        _exit(0);
    for (uint64_t i = 0; i < rep.received; i++)
        xmem_guard_release(&held[i], NULL);
    xmem_sub_destroy(&s);
    _exit(0);
}

/* Call before this process has ZeroMQ threads (no publisher or subscriber yet): a child of a
 * process with threads may inherit a lock one of them held (ASan's allocator's, say) and hang. */
static void start_kid(int k, uint32_t depth, xmem_queue_policy policy, int hold)
{
    cr_assert(pub == NULL, "fork before the publisher exists");
    int to[2], from[2];
    cr_assert(eq(int, pipe(to), 0));
    cr_assert(eq(int, pipe(from), 0));
    pid_t pid = fork();
    cr_assert(ge(i32, pid, 0), "fork failed");
    if (pid == 0) {
        close(to[1]);
        close(from[0]);
        kid_main(to[0], from[1], depth, policy, hold);
    }
    close(to[0]);
    close(from[1]);
    kids[k] = pid;
    kid_in[k] = to[1];
    kid_out[k] = from[0];
}

static hold_report kid_report(int k)
{
    hold_report rep;
    cr_assert(xf_read_all(kid_out[k], &rep, sizeof rep), "subscriber process %d sent no report", k);
    cr_assert(eq(i32, rep.rc, 0), "subscriber process %d failed: %d", k, rep.rc);
    return rep;
}

static void kid_command(int k, char cmd)
{
    cr_assert(xf_write_all(kid_in[k], &cmd, 1));
    cr_assert(eq(int, xf_wait(kids[k]), 0));
    kids[k] = -1;
}

static void kid_kill_reap(int k)
{
    cr_assert(eq(int, xf_wait(kids[k]), -SIGKILL));
    kids[k] = -1;
}

static void kid_kill(int k)
{
    cr_assert(eq(int, kill(kids[k], SIGKILL), 0));
    cr_assert(eq(int, xf_wait(kids[k]), -SIGKILL));
    kids[k] = -1;
}

/* Publishes (and lets `reader` read each frame) until every buffer but the reader's is back and
 * the publisher has dropped the dead; fails after `ms`. */
static uint64_t publish_until_recovered(uint64_t frame_no, xmem_sub_t *reader, uint32_t subscribers,
                                        int ms)
{
    uint64_t deadline = xf_now_ns() + (uint64_t)ms * 1000000ull;
    for (;;) {
        publish(frame_no);
        if (reader)
            cr_assert(eq(u64, receive(reader, NULL), frame_no));
        frame_no++;
        xmem_pub_stats ps;
        xmem_pub_stats_get(pub, &ps, sizeof ps);
        if (xmem_pool_free_count(pool) == CAP && ps.subscribers == subscribers)
            return frame_no;
        if (xf_now_ns() > deadline) {
            char holders[2048];
            xmem_pool_describe_holders(pool, holders, sizeof holders);
            cr_fatal("not recovered after %d ms: %u of %u free, %u subscribers; holders:\n%s", ms,
                     xmem_pool_free_count(pool), CAP, ps.subscribers, holders);
        }
        xf_sleep_us(10000);
    }
}

/* ---- queue full ---------------------------------------------------------------------------- */

/* A drop_oldest subscriber that does not read: the publisher sends it 2 x depth and then drops
 * (queue-full); reading later gives the newest `depth`, the older ones go back to the pool. */
Test(leaks, queue_full_then_drained, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    make_pub(1000);
    subs[0] = make_sub(2, XMEM_POLICY_DROP_OLDEST);
    wait_subs(1);
    for (uint64_t f = 0; f < 10; f++)
        publish(f);
    xmem_pub_sub_stats ss = sub_stats(0);
    cr_assert(eq(u64, ss.delivered, 4));
    cr_assert(eq(u64, ss.dropped[XMEM_DROP_QUEUE_FULL], 6));
    cr_assert(eq(u32, ss.outstanding, 4));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 4));

    xtt_settle();
    cr_assert(eq(u64, receive(subs[0], NULL), 2));
    cr_assert(eq(u64, receive(subs[0], NULL), 3));
    expect_nothing(subs[0], 50);
    xmem_sub_stats st;
    xmem_sub_stats_get(subs[0], &st, sizeof st);
    cr_assert(eq(u64, st.received, 4));
    cr_assert(eq(u64, st.dropped_oldest, 2));
    cr_assert(eq(u64, st.rejected_total, 0));
    expect_all_free("after draining");

    /* It has room again. */
    publish(10);
    cr_assert(eq(u64, receive(subs[0], NULL), 10));
    xmem_sub_destroy(&subs[0]);
    expect_all_free("after destroy");
}

Test(leaks, queue_full_then_destroyed, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    make_pub(1000);
    subs[0] = make_sub(3, XMEM_POLICY_DROP_OLDEST);
    wait_subs(1);
    for (uint64_t f = 0; f < 20; f++)
        publish(f);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 6));
    xmem_sub_destroy(&subs[0]);
    expect_all_free("after destroying a full subscriber");
    /* The publisher forgets it and keeps going. */
    for (uint64_t f = 20; f < 25; f++)
        publish(f);
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_poll(pub, 50, &err), XMEM_OK), "%s", err.msg);
    xmem_pub_stats ps;
    xmem_pub_stats_get(pub, &ps, sizeof ps);
    cr_assert(eq(u32, ps.subscribers, 0));
    expect_all_free("after publishing on");
}

/* A block subscriber that does not read: the publisher waits block_timeout_ms for the next buffer,
 * then drops it (block-timeout) and the ones after without waiting (it is lagging) until it reads;
 * nothing is held but the `depth` it was given. */
Test(leaks, block_queue_full_times_out, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    make_pub(50);
    subs[0] = make_sub(2, XMEM_POLICY_BLOCK);
    wait_subs(1);
    uint64_t t0 = xf_now_ns();
    for (uint64_t f = 0; f < 5; f++)
        publish(f);
    uint64_t ms = (xf_now_ns() - t0) / 1000000;
    cr_assert(ge(u64, ms, 50 - 10), "3 blocked publishes took %llu ms", (unsigned long long)ms);
    cr_assert(lt(u64, ms, 2 * 50), "3 blocked publishes took %llu ms: more than one waited",
              (unsigned long long)ms);
    xmem_pub_sub_stats ss = sub_stats(0);
    cr_assert(eq(u64, ss.delivered, 2));
    cr_assert(eq(u64, ss.dropped[XMEM_DROP_BLOCK_TIMEOUT], 3));
    cr_assert(eq(u64, ss.dropped[XMEM_DROP_QUEUE_FULL], 0));
    cr_assert(eq(u32, ss.lagging, 1));
    cr_assert(eq(u32, ss.lag_episodes, 1));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 2));
    cr_assert(eq(u64, receive(subs[0], NULL), 0));
    cr_assert(eq(u64, receive(subs[0], NULL), 1));
    expect_nothing(subs[0], 50);
    expect_all_free("after draining");
    publish(5); /* it has room again: it gets frames, and is no longer lagging */
    cr_assert(eq(u64, receive(subs[0], NULL), 5));
    ss = sub_stats(0);
    cr_assert(eq(u64, ss.delivered, 3));
    cr_assert(eq(u32, ss.lagging, 0));
    expect_all_free("after catching up");
    xmem_sub_destroy(&subs[0]);
    expect_all_free("after destroy");
}

/* ---- late joiner --------------------------------------------------------------------------- */

/* Nothing published before a subscriber joined reaches it, and nothing of it leaks. */
Test(leaks, late_joiner, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    make_pub(1000);
    for (uint64_t f = 0; f < 5; f++)
        publish(f);
    xmem_pub_stats ps;
    xmem_pub_stats_get(pub, &ps, sizeof ps);
    cr_assert(eq(u64, ps.unsubscribed, 5));
    expect_all_free("after publishing to nobody");

    subs[0] = make_sub(16, XMEM_POLICY_DROP_OLDEST);
    wait_subs(1);
    for (uint64_t f = 5; f < 10; f++)
        publish(f);
    subs[1] = make_sub(16, XMEM_POLICY_DROP_OLDEST);
    wait_subs(2);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 5));
    for (uint64_t f = 10; f < 15; f++)
        publish(f);

    for (uint64_t f = 10; f < 15; f++)
        cr_assert(eq(u64, receive(subs[1], NULL), f));
    expect_nothing(subs[1], 100);
    for (uint64_t f = 5; f < 15; f++)
        cr_assert(eq(u64, receive(subs[0], NULL), f));
    expect_nothing(subs[0], 20);
    expect_all_free("after both read everything");
    xmem_sub_destroy(&subs[1]);
    xmem_sub_destroy(&subs[0]);
    expect_all_free("after destroy");
}

/* ---- disconnects --------------------------------------------------------------------------- */

/* Destroyed with descriptors queued in the subscriber and more still in the socket. */
Test(leaks, destroy_with_unread_and_in_transit, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    make_pub(1000);
    subs[0] = make_sub(8, XMEM_POLICY_DROP_OLDEST);
    subs[1] = make_sub(8, XMEM_POLICY_DROP_OLDEST); /* a bystander that reads everything */
    wait_subs(2);
    for (uint64_t f = 0; f < 3; f++)
        publish(f);
    /* One read drains all three into the subscriber's queue. */
    cr_assert(eq(u64, receive(subs[0], NULL), 0));
    for (uint64_t f = 3; f < 6; f++)
        publish(f);
    xmem_sub_destroy(&subs[0]); /* 2 queued, 3 in transit */
    for (uint64_t f = 0; f < 6; f++)
        cr_assert(eq(u64, receive(subs[1], NULL), f));
    expect_all_free("after destroying a subscriber with unread buffers");

    /* The publisher carries on with the one left. */
    for (uint64_t f = 6; f < 12; f++) {
        publish(f);
        cr_assert(eq(u64, receive(subs[1], NULL), f));
    }
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_poll(pub, 50, &err), XMEM_OK), "%s", err.msg);
    xmem_pub_stats ps;
    xmem_pub_stats_get(pub, &ps, sizeof ps);
    cr_assert(eq(u32, ps.subscribers, 1));
    expect_all_free("after publishing on");
    xmem_sub_destroy(&subs[1]);
    expect_all_free("after destroy");
}

/* Holding a received guard, then more arrive, then everything is released and destroyed. */
Test(leaks, destroy_after_releasing_held, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    make_pub(1000);
    subs[0] = make_sub(4, XMEM_POLICY_BLOCK);
    wait_subs(1);
    publish(0);
    publish(1);
    xmem_guard_t held = XMEM_GUARD_INIT;
    cr_assert(eq(u64, receive(subs[0], &held), 0));
    publish(2);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 3));
    cr_assert(eq(int, xmem_guard_release(&held, NULL), XMEM_OK));
    xmem_sub_destroy(&subs[0]);
    expect_all_free("after destroy");
}

/* A subscriber process that leaves without reading anything: descriptors lost in transit. */
Test(leaks, process_leaves_without_reading, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    start_kid(0, 8, XMEM_POLICY_DROP_OLDEST, 0);
    make_pub(1000);
    hold_report rep = kid_report(0);
    wait_subs(1);
    for (uint64_t f = 0; f < 5; f++)
        publish(f);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 5));
    cr_assert(eq(u32, sub_stats(0).owner, rep.owner));
    kid_command(0, KID_DESTROY);
    expect_all_free("after the subscriber process destroyed its subscriber");
}

/* A subscriber process that exits without destroying its subscriber (no unsubscribe, no detach):
 * its references stay with its dead slot until reclaimed. */
Test(leaks, process_exits_without_destroy, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    start_kid(0, 8, XMEM_POLICY_DROP_OLDEST, 2);
    make_pub(1000);
    wait_subs(1);
    publish(0);
    publish(1);
    kid_report(0);
    for (uint64_t f = 2; f < 5; f++)
        publish(f);
    kid_command(0, KID_EXIT);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 5));
    uint64_t returned = 0;
    xmem_error_t err = {0};
    pid_t gone = sub_stats(0).pid;
    cr_assert(eq(int, xmem_pool_reclaim_pid(pool, gone, &returned, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u64, returned, 5));
    expect_all_free("after reclaim_pid");
    publish(5);
    cr_assert(eq(int, xmem_pub_poll(pub, 0, &err), XMEM_OK));
    expect_all_free("after publishing on");
}

/* ---- SIGKILL ------------------------------------------------------------------------------- */

/* Killed holding two received buffers and with three more in transit; the parent reclaims. */
Test(leaks, sigkill_holding_then_reclaim_pid, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    start_kid(0, 8, XMEM_POLICY_DROP_OLDEST, 2);
    make_pub(1000);
    wait_subs(1);
    publish(0);
    publish(1);
    hold_report rep = kid_report(0);
    cr_assert(eq(u64, rep.received, 2));
    for (uint64_t f = 2; f < 5; f++)
        publish(f);
    pid_t pid = kids[0];
    kid_kill(0);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 5));
    uint64_t returned = 0;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_reclaim_pid(pool, pid, &returned, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u64, returned, 5));
    expect_all_free("after reclaim_pid");
    /* The publisher notices the slot is gone and drops the subscriber. */
    publish_until_recovered(5, NULL, 0, 3000);
}

/* Killed while publishing goes on to it and to a live subscriber; the publisher's own liveness
 * check gives the dead one's references back, and the live one misses nothing. */
Test(leaks, sigkill_recovered_by_publisher, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    start_kid(0, 8, XMEM_POLICY_DROP_OLDEST, 2);
    make_pub(1000);
    subs[0] = make_sub(64, XMEM_POLICY_DROP_OLDEST);
    wait_subs(2);
    uint64_t f = 0;
    for (; f < 2; f++) {
        publish(f);
        cr_assert(eq(u64, receive(subs[0], NULL), f));
    }
    kid_report(0);
    for (; f < 5; f++) {
        publish(f);
        cr_assert(eq(u64, receive(subs[0], NULL), f));
    }
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 5));
    kid_kill(0);
    f = publish_until_recovered(f, subs[0], 1, 3000);
    xmem_pub_sub_stats ss = sub_stats(0);
    cr_assert(eq(u32, ss.owner, xmem_pool_owner_id(xmem_sub_pool(subs[0]))));
    cr_assert(eq(u64, ss.delivered, f));
    xmem_sub_stats st;
    xmem_sub_stats_get(subs[0], &st, sizeof st);
    cr_assert(eq(u64, st.received, f));
    cr_assert(eq(u64, st.dropped_oldest, 0));
    xmem_sub_destroy(&subs[0]);
    expect_all_free("after destroy");
}

/* Killed and not yet reaped (a zombie): its references are no longer in use, and the publisher's
 * liveness check gives them back as it would a reaped one's. */
Test(leaks, sigkill_zombie_recovered_by_publisher, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    start_kid(0, 8, XMEM_POLICY_DROP_OLDEST, 1);
    make_pub(1000);
    wait_subs(1);
    publish(0);
    kid_report(0);
    publish(1);
    publish(2);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 3));
    cr_assert(eq(int, kill(kids[0], SIGKILL), 0));
    /* Wait until it is a zombie, without reaping it. */
    char path[64], stat[256] = {0};
    snprintf(path, sizeof path, "/proc/%d/stat", (int)kids[0]);
    uint64_t deadline = xf_now_ns() + 5000000000ull;
    for (;;) {
        FILE *f = fopen(path, "re");
        cr_assert(not(eq(ptr, f, NULL)));
        size_t n = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[n] = 0;
        char *p = strrchr(stat, ')');
        if (p && p[1] == ' ' && p[2] == 'Z')
            break;
        cr_assert(lt(u64, xf_now_ns(), deadline), "the killed subscriber never became a zombie");
        xf_sleep_us(1000);
    }
    publish_until_recovered(3, NULL, 0, 3000);
    kid_kill_reap(0);
}

/* The publisher goes first: what it had sent stays the subscriber's, and comes back when the
 * subscriber is destroyed, whether or not it was read. */
Test(leaks, publisher_destroyed_first, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    make_pub(1000);
    subs[0] = make_sub(8, XMEM_POLICY_DROP_OLDEST);
    wait_subs(1);
    for (uint64_t f = 0; f < 4; f++)
        publish(f);
    cr_assert(eq(u64, receive(subs[0], NULL), 0));
    xmem_pub_destroy(&pub);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 3));
    /* Whatever still arrives is intact and in order. */
    uint64_t next = 1;
    xmem_guard_t g = XMEM_GUARD_INIT;
    while (xmem_sub_receive(subs[0], 100, &g, NULL) == XMEM_OK) {
        uint64_t f = 0;
        cr_assert(eq(int, xtt_frame_check(xmem_guard_data(&g), xmem_guard_size(&g), &f, NULL),
                     XTT_FRAME_OK));
        cr_assert(eq(u64, f, next));
        next++;
        cr_assert(eq(int, xmem_guard_release(&g, NULL), XMEM_OK));
    }
    xmem_sub_destroy(&subs[0]);
    expect_all_free("after destroying the subscriber");
}

/* A block subscriber killed while full: the publisher must not wait its block timeout for it. */
Test(leaks, sigkill_block_subscriber_does_not_stall, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    start_kid(0, 2, XMEM_POLICY_BLOCK, 0);
    make_pub(10000);
    kid_report(0);
    wait_subs(1);
    publish(0);
    publish(1); /* it holds its depth now */
    kid_kill(0);
    uint64_t t0 = xf_now_ns();
    publish(2);
    uint64_t ms = (xf_now_ns() - t0) / 1000000;
    cr_assert(lt(u64, ms, 2000), "publishing past a dead block subscriber took %llu ms",
              (unsigned long long)ms);
    xmem_pub_stats ps;
    xmem_pub_stats_get(pub, &ps, sizeof ps);
    cr_assert(eq(u64, ps.dropped[XMEM_DROP_BLOCK_TIMEOUT], 0));
    expect_all_free("after the dead subscriber was dropped");
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_poll(pub, 0, &err), XMEM_OK), "%s", err.msg);
    xmem_pub_stats_get(pub, &ps, sizeof ps);
    cr_assert(eq(u32, ps.subscribers, 0));
}

/* A publisher that dies with descriptors in flight while another keeps publishing to the same
 * subscriber (fan-in, policy block): the references given with the dead one's lost descriptors are
 * in the subscriber's inbox, mixed with the live one's in flight. The subscriber learns the dead
 * publisher's pid from its welcome, notices the death while it reads, replaces its inbox, and once
 * the live publisher says it gives into the new one, gives back exactly what the dead one left:
 * every live frame arrives, in order, and the pool ends full without destroying the subscriber.
 * The dying publisher is a raw ROUTER in a child: it gives 8 references and sends 3 descriptors. */
Test(leaks, publisher_dies_with_descriptors_in_flight, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    enum { GIVEN = 8, SENT = 3, DEPTH = 4 };
    int from_kid[2];
    cr_assert(eq(int, pipe(from_kid), 0));
    fflush(NULL);
    pid_t kid = fork();
    cr_assert(ge(int, kid, 0));
    if (kid == 0) {
        close(from_kid[0]);
        xmem_pool_t *cp = NULL;
        xtt_raw raw;
        if (xmem_pool_open(name, &cp, NULL) != XMEM_OK || !xtt_raw_bind(&raw, endpoint) ||
            !xtt_raw_wait_subscriber(&raw, 5000))
            _exit(2);
        uint8_t welcome[28];
        xtt_welcome(welcome, 0x5eed, (uint32_t)getpid(), raw.inbox);
        if (!xtt_raw_send(&raw, welcome, sizeof welcome))
            _exit(3);
        for (int j = 0; j < GIVEN; j++) {
            xmem_guard_t g = XMEM_GUARD_INIT;
            void *p = NULL;
            if (xmem_pool_acquire_cpu(cp, FRAME, &g, NULL) != XMEM_OK ||
                xmem_guard_data_mut(&g, &p, NULL) != XMEM_OK)
                _exit(4);
            xtt_frame_fill(p, FRAME, 1000 + (uint64_t)j, 0);
            if (xmem_pool_give(cp, xmem_guard_ref(&g), raw.inbox, 1, NULL) != XMEM_OK)
                _exit(4);
            xmem_descriptor d = {.pool_id = xmem_pool_id(cp),
                                 .ref = xmem_guard_ref(&g),
                                 .sequence = (uint64_t)j + 1,
                                 .timestamp_ns = xf_now_ns(),
                                 .owner = raw.inbox};
            xmem_guard_forget(&g);
            uint8_t wire[XMEM_DESCRIPTOR_SIZE];
            xmem_descriptor_encode(&d, wire);
            if (j < SENT && !xtt_raw_send(&raw, wire, sizeof wire))
                _exit(5);
        }
        char done = 1;
        xf_write_all(from_kid[1], &done, 1);
        for (;;)
            pause(); /* killed with the rest in flight */
    }
    close(from_kid[1]);
    kids[0] = kid;
    make_pub_at(endpoint2, 20000); /* the live one: lossless here */
    xmem_error_t err = {0};
    xmem_sub_options o;
    xmem_sub_options_init(&o);
    o.depth = DEPTH;
    o.policy = XMEM_POLICY_BLOCK;
    o.heartbeat_ms = 20; /* notices the death sooner */
    cr_assert(eq(int, xmem_sub_create(name, &o, &subs[0], &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_sub_connect(subs[0], endpoint, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_sub_connect(subs[0], endpoint2, &err), XMEM_OK), "%s", err.msg);
    wait_subs(1);
    char done = 0;
    cr_assert(xf_read_all(from_kid[0], &done, 1), "the publisher child failed");
    close(from_kid[0]);
    for (int j = 0; j < SENT; j++) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        uint64_t f = 0;
        cr_assert(eq(int, xmem_sub_receive(subs[0], 5000, &g, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(int, xtt_frame_check(xmem_guard_data(&g), xmem_guard_size(&g), &f, NULL),
                     XTT_FRAME_OK));
        cr_assert(eq(u64, f, 1000 + (uint64_t)j));
        cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    }
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - (GIVEN - SENT)));

    /* The live publisher fills the subscriber's queue: DEPTH frames in flight at the death. */
    uint64_t sent = 0, got = 0;
    for (; sent < DEPTH; sent++)
        publish(sent);
    kill(kid, SIGKILL);
    cr_assert(eq(int, xf_wait(kid), -SIGKILL));
    kids[0] = -1;
    cr_assert(eq(int, xmem_pool_reclaim_pid(pool, kid, NULL, &err), XMEM_OK), "%s", err.msg);

    /* Reading on, one publish per frame read, until the dead one's references are back. */
    xmem_sub_stats st;
    uint64_t deadline = xf_now_ns() + 5000000000ull;
    do {
        cr_assert(eq(u64, receive(subs[0], NULL), got), "a live frame went missing");
        got++;
        publish(sent++);
        xmem_sub_stats_get(subs[0], &st, sizeof st);
        cr_assert(lt(u64, xf_now_ns(), deadline),
                  "the dead publisher's references never came back");
        xf_sleep_us(1000);
    } while (st.lost_in_flight == 0);
    while (got < sent)
        cr_assert(eq(u64, receive(subs[0], NULL), got++), "a live frame went missing");
    expect_nothing(subs[0], 50);
    xmem_sub_stats_get(subs[0], &st, sizeof st);
    cr_assert(eq(u64, st.lost_in_flight, GIVEN - SENT), "exactly what the dead one left");
    cr_assert(eq(u64, st.received, SENT + sent));
    cr_assert(eq(u64, st.rejected_total, 0));
    cr_assert(eq(u64, st.dropped_oldest, 0));
    xmem_pub_stats ps;
    xmem_pub_stats_get(pub, &ps, sizeof ps);
    for (int r = 0; r < XMEM_DROP_COUNT_; r++)
        cr_assert(eq(u64, ps.dropped[r], 0), "%s drops", xmem_drop_name((xmem_drop)r));
    expect_all_free("with the subscriber alive, after the dead publisher's references came back");
    xmem_sub_destroy(&subs[0]);
    expect_all_free("after destroy");
}
