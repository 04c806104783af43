/* Queue policies. drop_oldest: a slow subscriber never slows the publisher (each publish returns
 * at once, the burst takes far less than the consumer would), drops are counted on both sides, the
 * frames that arrive are intact and in increasing order, and the subscriber keeps its newest
 * `depth`. block: nothing is dropped, every frame arrives in order, and the publisher is paced by
 * the consumer. Both: every buffer is free afterwards. Also a mix of the two on one publisher, the
 * descriptor's sequence counting every publish, so that a subscriber can see what it missed, and a
 * block consumer that stops for a while without stopping the others (it becomes lagging). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "transport_util.h"

#define CAP 32u
#define FRAME (64u << 10)

static char name[64], endpoint[128];
static xmem_pool_t *pool;
static xmem_pub_t *pub;
static xmem_sub_t *subs[2];
static pid_t kids[2] = {-1, -1};
static int kid_fds[2] = {-1, -1};

static void setup(void)
{
    xf_pool_name(name, sizeof name, "policy");
    xtt_endpoint(endpoint, sizeof endpoint, "policy");
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name, CAP, &pool, &err), XMEM_OK), "%s",
              err.msg);
}

/* After the consumers are forked: a child of a process with ZeroMQ (or sanitizer) threads may
 * inherit a lock one of them held, so the children are forked while there are none. */
static void start_pub(void)
{
    xmem_pub_options po;
    xmem_pub_options_init(&po);
    po.block_timeout_ms = 20000;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_create(pool, endpoint, &po, &pub, &err), XMEM_OK), "%s", err.msg);
}

static void teardown(void)
{
    for (int i = 0; i < 2; i++) {
        xmem_sub_destroy(&subs[i]);
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

static void expect_all_free(const char *when)
{
    uint32_t free_now = xmem_pool_free_count(pool);
    if (free_now != CAP) {
        char holders[2048];
        xmem_pool_describe_holders(pool, holders, sizeof holders);
        cr_fatal("%s: %u of %u buffers free; holders:\n%s", when, free_now, CAP, holders);
    }
}

static void publish(uint64_t frame_no, uint64_t flags)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xtt_publish_frame(pub, pool, FRAME, frame_no, flags, &err), XMEM_OK), "%s",
              err.msg);
}

/* Publishes the end frame every 20 ms until consumer k has exited; returns its report. */
static xtt_report finish(int k)
{
    uint64_t deadline = xf_now_ns() + 30ull * 1000000000ull;
    uint64_t end_no = 1u << 30;
    int st;
    while ((st = xtt_try_wait(kids[k])) == -2000) {
        cr_assert(lt(u64, xf_now_ns(), deadline), "the consumer never saw the end frame");
        publish(end_no++, XTT_FRAME_END);
        xf_sleep_us(20000);
    }
    kids[k] = -1;
    xtt_report rep;
    cr_assert(xf_read_all(kid_fds[k], &rep, sizeof rep), "the consumer sent no report");
    cr_assert(eq(int, rep.step, XTT_STEP_OK), "consumer failed at step %d (rc %d)", rep.step,
              rep.rc);
    cr_assert(eq(u64, rep.content_errors, 0), "%llu frames with wrong content",
              (unsigned long long)rep.content_errors);
    cr_assert(eq(u64, rep.order_errors, 0), "%llu frames out of order",
              (unsigned long long)rep.order_errors);
    cr_assert(eq(int, st, 0), "the consumer exited %d", st);
    return rep;
}

static uint64_t receive(xmem_sub_t *s)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_sub_receive(s, 5000, &g, &err), XMEM_OK), "%s", err.msg);
    uint64_t f = 0;
    cr_assert(
        eq(int, xtt_frame_check(xmem_guard_data(&g), xmem_guard_size(&g), &f, NULL), XTT_FRAME_OK));
    cr_assert(eq(u64, xmem_sub_last(s)->sequence, f));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    return f;
}

/* In one process, step by step: the subscriber keeps the newest `depth` of what reached it, and
 * the publisher stops sending at 2 x depth outstanding. */
Test(policy, drop_oldest_keeps_newest, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    xmem_sub_options o;
    xmem_sub_options_init(&o);
    cr_assert(eq(int, o.policy, XMEM_POLICY_DROP_OLDEST), "drop_oldest is the default");
    o.depth = 3;
    start_pub();
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_sub_create(name, &o, &subs[0], &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_sub_connect(subs[0], endpoint, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pub_wait_subscribers(pub, 1, 10000, &err), XMEM_OK), "%s", err.msg);

    for (uint64_t f = 0; f < 6; f++)
        publish(f, 0);
    xtt_settle();
    for (uint64_t f = 3; f < 6; f++)
        cr_assert(eq(u64, receive(subs[0]), f));
    xmem_sub_stats st;
    xmem_sub_stats_get(subs[0], &st, sizeof st);
    cr_assert(eq(u64, st.received, 6));
    cr_assert(eq(u64, st.dropped_oldest, 3));
    expect_all_free("after the first round");

    for (uint64_t f = 6; f < 16; f++)
        publish(f, 0);
    xmem_pub_stats ps;
    xmem_pub_stats_get(pub, &ps, sizeof ps);
    cr_assert(eq(u64, ps.dropped[XMEM_DROP_QUEUE_FULL], 4), "frames 12..15 find it full");
    cr_assert(eq(u64, ps.delivered, 12));
    xtt_settle();
    for (uint64_t f = 9; f < 12; f++)
        cr_assert(eq(u64, receive(subs[0]), f));
    xmem_sub_stats_get(subs[0], &st, sizeof st);
    cr_assert(eq(u64, st.received, 12));
    cr_assert(eq(u64, st.dropped_oldest, 6));
    cr_assert(eq(u64, st.rejected_total, 0));
    expect_all_free("after the second round");
    xmem_sub_destroy(&subs[0]);
    expect_all_free("after destroy");
}

/* A forked consumer that needs `delay` per frame; the producer publishes a burst as fast as it
 * can. The burst must take far less than the consumer would need, no publish may wait for it, and
 * drops must be counted. */
Test(policy, slow_consumer_drop_oldest, .init = setup, .fini = teardown, .timeout = 60)
{
    const uint64_t frames = 200;
    const long delay_us = 10000;
    xtt_consumer c = {
        .pool_name = name, .endpoint = endpoint, .deadline_ms = 30000, .delay_us = delay_us};
    xmem_sub_options_init(&c.opts);
    c.opts.depth = 2;
    kids[0] = xtt_fork_consumer(&c, &kid_fds[0]);
    cr_assert(gt(i32, kids[0], 0));
    start_pub();
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_wait_subscribers(pub, 1, 10000, &err), XMEM_OK), "%s", err.msg);

    uint64_t worst = 0, t0 = xf_now_ns();
    for (uint64_t f = 0; f < frames; f++) {
        uint64_t t = xf_now_ns();
        publish(f, 0);
        uint64_t d = xf_now_ns() - t;
        worst = d > worst ? d : worst;
    }
    uint64_t total_ms = (xf_now_ns() - t0) / 1000000;
    uint64_t consumer_ms = frames * (uint64_t)delay_us / 1000;
    cr_assert(lt(u64, total_ms, consumer_ms / 4),
              "%llu publishes took %llu ms; the consumer needs %llu ms for them: the publisher "
              "waited for it",
              (unsigned long long)frames, (unsigned long long)total_ms,
              (unsigned long long)consumer_ms);
    cr_assert(lt(u64, worst / 1000000, 10 * (uint64_t)delay_us / 1000), "one publish took %llu ms",
              (unsigned long long)(worst / 1000000));

    xmem_pub_stats ps;
    xmem_pub_stats_get(pub, &ps, sizeof ps);
    cr_assert(eq(u64, ps.published, frames));
    cr_assert(eq(u64, ps.dropped[XMEM_DROP_BLOCK_TIMEOUT], 0));
    uint64_t pub_dropped = ps.dropped[XMEM_DROP_QUEUE_FULL];
    cr_assert(
        eq(u64, ps.delivered + pub_dropped + ps.dropped[XMEM_DROP_HWM] + ps.dropped[XMEM_DROP_GONE],
           frames));

    xtt_report rep = finish(0);
    cr_assert(gt(u64, rep.received, 0));
    cr_assert(lt(u64, rep.received, frames), "a consumer this slow cannot have had every frame");
    cr_assert(gt(u64, pub_dropped + rep.dropped_oldest, 0), "drops were not counted");
    cr_assert(eq(u64, rep.rejected_total, 0));
    expect_all_free("after the consumer left");
}

/* The same burst to a block consumer: every frame arrives, in order, and the publisher was paced.
 */
Test(policy, slow_consumer_block, .init = setup, .fini = teardown, .timeout = 60)
{
    const uint64_t frames = 100;
    const long delay_us = 3000;
    xtt_consumer c = {.pool_name = name,
                      .endpoint = endpoint,
                      .deadline_ms = 30000,
                      .delay_us = delay_us,
                      .strict = true};
    xmem_sub_options_init(&c.opts);
    c.opts.depth = 2;
    c.opts.policy = XMEM_POLICY_BLOCK;
    kids[0] = xtt_fork_consumer(&c, &kid_fds[0]);
    cr_assert(gt(i32, kids[0], 0));
    start_pub();
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_wait_subscribers(pub, 1, 10000, &err), XMEM_OK), "%s", err.msg);

    uint64_t t0 = xf_now_ns();
    for (uint64_t f = 0; f < frames; f++)
        publish(f, 0);
    uint64_t total_ms = (xf_now_ns() - t0) / 1000000;
    /* It can run at most `depth` frames ahead of a consumer that holds each frame for delay. */
    uint64_t paced_ms = (frames - 2 * c.opts.depth) * (uint64_t)delay_us / 1000 / 2;
    cr_assert(ge(u64, total_ms, paced_ms), "%llu publishes took %llu ms: not paced by the consumer",
              (unsigned long long)frames, (unsigned long long)total_ms);

    xmem_pub_stats ps;
    xmem_pub_stats_get(pub, &ps, sizeof ps);
    cr_assert(eq(u64, ps.delivered, frames));
    for (int r = 0; r < XMEM_DROP_COUNT_; r++)
        cr_assert(eq(u64, ps.dropped[r], 0), "%llu drops (%s) under block",
                  (unsigned long long)ps.dropped[r], xmem_drop_name((xmem_drop)r));
    xtt_report rep = finish(0);
    cr_assert(eq(u64, rep.received, frames), "got %llu of %llu frames",
              (unsigned long long)rep.received, (unsigned long long)frames);
    cr_assert(eq(u64, rep.first_frame, 0));
    cr_assert(eq(u64, rep.last_frame, frames - 1));
    cr_assert(eq(u64, rep.dropped_oldest, 0));
    expect_all_free("after the consumer left");
}

/* One slow drop_oldest consumer and one block consumer on the same publisher: the block one gets
 * everything in order, the slow one only drops. */
Test(policy, mixed_subscribers, .init = setup, .fini = teardown, .timeout = 60)
{
    const uint64_t frames = 100;
    xtt_consumer slow = {
        .pool_name = name, .endpoint = endpoint, .deadline_ms = 30000, .delay_us = 20000};
    xmem_sub_options_init(&slow.opts);
    slow.opts.depth = 2;
    xtt_consumer fast = {
        .pool_name = name, .endpoint = endpoint, .deadline_ms = 30000, .strict = true};
    xmem_sub_options_init(&fast.opts);
    fast.opts.policy = XMEM_POLICY_BLOCK;
    fast.opts.depth = 4;
    kids[0] = xtt_fork_consumer(&slow, &kid_fds[0]);
    cr_assert(gt(i32, kids[0], 0));
    kids[1] = xtt_fork_consumer(&fast, &kid_fds[1]);
    cr_assert(gt(i32, kids[1], 0));
    start_pub();
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_wait_subscribers(pub, 2, 10000, &err), XMEM_OK), "%s", err.msg);
    uint64_t t0 = xf_now_ns();
    for (uint64_t f = 0; f < frames; f++)
        publish(f, 0);
    uint64_t total_ms = (xf_now_ns() - t0) / 1000000;
    cr_assert(lt(u64, total_ms, frames * 20 / 4), "the slow consumer slowed the publisher: %llu ms",
              (unsigned long long)total_ms);
    xmem_pub_sub_stats ss[2];
    cr_assert(eq(u32, xmem_pub_subscriber_stats_get(pub, ss, sizeof ss[0], 2), 2));
    for (int i = 0; i < 2; i++) {
        cr_assert(eq(u64, ss[i].dropped[XMEM_DROP_BLOCK_TIMEOUT], 0));
        if (ss[i].policy == XMEM_POLICY_BLOCK)
            cr_assert(eq(u64, ss[i].delivered, frames));
        else
            cr_assert(gt(u64, ss[i].dropped[XMEM_DROP_QUEUE_FULL], 0));
    }
    xtt_report fr = finish(1);
    cr_assert(eq(u64, fr.received, frames));
    xtt_report sr = finish(0);
    cr_assert(lt(u64, sr.received, frames));
    expect_all_free("after both consumers left");
}

/* The descriptor's sequence is "the publisher's count of publishes, from 0", so a subscriber sees
 * a gap where the publisher dropped frames for it (queue-full), and where nobody was subscribed. */
Test(policy, sequence_counts_every_publish, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    start_pub();
    publish(0, 0); /* to nobody */
    publish(1, 0);
    xmem_sub_options o;
    xmem_sub_options_init(&o);
    o.depth = 1;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_sub_create(name, &o, &subs[0], &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_sub_connect(subs[0], endpoint, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pub_wait_subscribers(pub, 1, 10000, &err), XMEM_OK), "%s", err.msg);
    for (uint64_t f = 2; f < 7; f++) /* 2 and 3 sent, 4..6 dropped: 2 x depth outstanding */
        publish(f, 0);
    xmem_pub_stats ps;
    xmem_pub_stats_get(pub, &ps, sizeof ps);
    cr_assert(eq(u64, ps.published, 7));
    cr_assert(eq(u64, ps.dropped[XMEM_DROP_QUEUE_FULL], 3));
    xtt_settle();
    cr_assert(eq(u64, receive(subs[0]), 3), "the newest of what reached it");
    publish(7, 0);
    cr_assert(eq(u64, receive(subs[0]), 7));
    expect_all_free("after reading");
}

/* Block without collapse: a source publishing at 200 Hz to two block consumers, one of which stops
 * taking frames for 3 s. That one asks for a 100 ms block timeout (the publisher's own is 20 s):
 * after it, the publisher stops waiting for it (lagging) until it has room again. Over every 3 s
 * window the source keeps above 90 % of its rate, the other consumer gets every frame in order,
 * and the drops are counted against the one that stopped, which gets frames again once it
 * resumes. */
Test(policy, block_consumer_stops_without_collapse, .init = setup, .fini = teardown, .timeout = 90)
{
    const uint64_t rate_hz = 200, frames = 6 * rate_hz, period_ns = 1000000000ull / rate_hz;
    const uint64_t window_ns = 3000000000ull;
    xtt_consumer steady = {
        .pool_name = name, .endpoint = endpoint, .deadline_ms = 60000, .strict = true};
    xmem_sub_options_init(&steady.opts);
    steady.opts.policy = XMEM_POLICY_BLOCK;
    xtt_consumer stops = {.pool_name = name,
                          .endpoint = endpoint,
                          .deadline_ms = 60000,
                          .pause_after = rate_hz,
                          .pause_ms = 3000};
    xmem_sub_options_init(&stops.opts);
    stops.opts.policy = XMEM_POLICY_BLOCK;
    stops.opts.block_timeout_ms = 100;
    kids[0] = xtt_fork_consumer(&steady, &kid_fds[0]);
    cr_assert(gt(i32, kids[0], 0));
    kids[1] = xtt_fork_consumer(&stops, &kid_fds[1]);
    cr_assert(gt(i32, kids[1], 0));
    start_pub();
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_wait_subscribers(pub, 2, 10000, &err), XMEM_OK), "%s", err.msg);

    uint64_t *done = calloc(frames, sizeof *done);
    cr_assert(not(eq(ptr, done, NULL)));
    uint64_t t0 = xf_now_ns(), worst = 0;
    for (uint64_t f = 0; f < frames; f++) {
        uint64_t due = t0 + f * period_ns, now = xf_now_ns();
        if (now < due)
            xf_sleep_us((long)((due - now) / 1000));
        uint64_t t = xf_now_ns();
        publish(f, 0);
        done[f] = xf_now_ns();
        worst = done[f] - t > worst ? done[f] - t : worst;
    }
    /* The fewest frames published in any 3 s window of the run. */
    uint64_t fewest = frames;
    for (uint64_t i = 0, j = 0; i < frames && done[i] + window_ns <= done[frames - 1]; i++) {
        while (j < frames && done[j] < done[i] + window_ns)
            j++;
        fewest = j - i < fewest ? j - i : fewest;
    }
    free(done);
    uint64_t expected = window_ns / period_ns;
    cr_log_info("fewest frames in a 3 s window: %llu of %llu; longest publish %llu ms",
                (unsigned long long)fewest, (unsigned long long)expected,
                (unsigned long long)(worst / 1000000));
    cr_assert(gt(u64, fewest * 10, expected * 9),
              "the source fell to %llu frames in a 3 s window (%llu at its rate): it waited for "
              "the stopped consumer",
              (unsigned long long)fewest, (unsigned long long)expected);
    cr_assert(lt(u64, worst / 1000000, 1000), "one publish waited %llu ms",
              (unsigned long long)(worst / 1000000));

    xmem_pub_sub_stats ss[2];
    cr_assert(eq(u32, xmem_pub_subscriber_stats_get(pub, ss, sizeof ss[0], 2), 2));
    for (int i = 0; i < 2; i++) {
        uint64_t dropped = 0;
        for (int r = 0; r < XMEM_DROP_COUNT_; r++)
            dropped += ss[i].dropped[r];
        cr_assert(eq(u64, ss[i].delivered + dropped, frames));
        if (ss[i].pid == kids[0]) {
            cr_assert(eq(u64, dropped, 0), "the steady consumer lost %llu frames",
                      (unsigned long long)dropped);
            cr_assert(eq(u32, ss[i].lag_episodes, 0));
            cr_assert(eq(i32, ss[i].block_timeout_ms, 20000));
        } else {
            cr_assert(eq(i32, ss[i].pid, kids[1]));
            cr_assert(eq(i32, ss[i].block_timeout_ms, 100), "its own block timeout");
            cr_assert(gt(u64, ss[i].dropped[XMEM_DROP_BLOCK_TIMEOUT], 0), "drops not counted");
            cr_assert(eq(u64, dropped, ss[i].dropped[XMEM_DROP_BLOCK_TIMEOUT]));
            cr_assert(ge(u32, ss[i].lag_episodes, 1));
            cr_assert(eq(u32, ss[i].lagging, 0), "it caught up after it resumed");
            cr_log_info("the stopped consumer: %llu delivered, %llu dropped, lagging %u times",
                        (unsigned long long)ss[i].delivered, (unsigned long long)dropped,
                        ss[i].lag_episodes);
        }
    }
    xmem_pub_stats ps;
    xmem_pub_stats_get(pub, &ps, sizeof ps);
    cr_assert(eq(u32, ps.lagging, 0));
    xtt_report sr = finish(0);
    cr_assert(eq(u64, sr.received, frames), "the steady consumer got %llu of %llu frames",
              (unsigned long long)sr.received, (unsigned long long)frames);
    xtt_report lr = finish(1);
    cr_assert(gt(u64, lr.received, stops.pause_after + 2 * stops.opts.depth),
              "the stopped consumer got frames again after it resumed");
    cr_assert(lt(u64, lr.received, frames));
    expect_all_free("after both consumers left");
}
