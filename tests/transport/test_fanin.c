/* Fan-in with a publisher killed mid-stream: three publisher processes publish into one subscriber
 * (this process) under policy block; one is SIGKILLed while it publishes, the two others go on.
 * Every frame of the live two must arrive, whole and in order, none dropped anywhere; the dead
 * one's frames that arrive do so in order; and once the dead publisher is reclaimed (as a launcher
 * does) every buffer of the pool is free again while the subscriber still runs: the references the
 * dead one had in flight came back, and only those. Publishers are forked before this process has
 * any ZeroMQ context. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <poll.h>
#include <string.h>

#include "transport_util.h"

#define CAP 64u
#define FRAME 4096u
#define NPUBS 3
#define VICTIM 0
#define DEPTH 4

static char name[64], endpoints[NPUBS][128];
static xmem_pool_t *pool;
static xmem_sub_t *sub;
static pid_t kids[NPUBS] = {-1, -1, -1};
static int kid_cmd[NPUBS] = {-1, -1, -1};

static void setup(void)
{
    xf_pool_name(name, sizeof name, "fanin");
    for (int k = 0; k < NPUBS; k++) {
        char tag[16];
        snprintf(tag, sizeof tag, "fanin%d", k);
        xtt_endpoint(endpoints[k], sizeof endpoints[k], tag);
    }
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name, CAP, &pool, &err), XMEM_OK), "%s",
              err.msg);
}

static void teardown(void)
{
    xmem_sub_destroy(&sub);
    for (int k = 0; k < NPUBS; k++) {
        if (kids[k] > 0) {
            kill(kids[k], SIGKILL);
            xf_wait(kids[k]);
        }
        if (kid_cmd[k] >= 0)
            close(kid_cmd[k]);
        xtt_unlink_endpoint(endpoints[k]);
    }
    xmem_pool_destroy(&pool);
}

/* Frame numbers carry their publisher: frame i of publisher k. */
static uint64_t frame_of(int k, uint64_t i)
{
    return (uint64_t)k << 32 | i;
}

enum { KID_OK = 0, KID_SETUP = 2, KID_PUBLISH = 3, KID_DROPPED = 4 };

/* Publishes `frames` frames, ends its stream, and serves control until its command pipe closes
 * (a node waiting for its graph); exits KID_DROPPED if it dropped any frame. */
static void publisher_main(int k, int cmd_fd, uint64_t frames)
{
    xmem_pool_t *cp = NULL;
    xmem_pub_t *p = NULL;
    xmem_pub_options po;
    xmem_pub_options_init(&po);
    po.block_timeout_ms = -1; /* lossless: wait as long as the subscriber needs */
    if (xmem_pool_open(name, &cp, NULL) != XMEM_OK ||
        xmem_pub_create(cp, endpoints[k], &po, &p, NULL) != XMEM_OK ||
        xmem_pub_wait_subscribers(p, 1, 10000, NULL) != XMEM_OK)
        _exit(KID_SETUP);
    for (uint64_t i = 0; i < frames; i++)
        if (xtt_publish_frame(p, cp, FRAME, frame_of(k, i), 0, NULL) != XMEM_OK)
            _exit(KID_PUBLISH);
    xmem_pub_end(p, NULL);
    struct pollfd pfd = {.fd = cmd_fd, .events = POLLIN};
    while (poll(&pfd, 1, 0) == 0)
        xmem_pub_poll(p, 10, NULL);
    xmem_pub_stats ps;
    xmem_pub_stats_get(p, &ps, sizeof ps);
    uint64_t dropped = 0;
    for (int r = 0; r < XMEM_DROP_COUNT_; r++)
        dropped += ps.dropped[r];
    xmem_pub_destroy(&p);
    xmem_pool_close(&cp);
    _exit(dropped ? KID_DROPPED : KID_OK);
}

static void start_publisher(int k, uint64_t frames)
{
    int cmd[2];
    cr_assert(eq(int, pipe(cmd), 0));
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(ge(i32, pid, 0), "fork failed");
    if (pid == 0) {
        close(cmd[1]);
        for (int j = 0; j < k; j++) /* the others' command pipes end when the parent closes them */
            close(kid_cmd[j]);
        publisher_main(k, cmd[0], frames);
    }
    close(cmd[0]);
    kids[k] = pid;
    kid_cmd[k] = cmd[1];
}

typedef struct kill_case {
    uint64_t after; /* the victim is killed once this many of its frames were received */
} kill_case;

static kill_case cases[] = {{1}, {17}, {77}, {200}, {300}};

ParameterizedTestParameters(fanin, publisher_killed_mid_stream)
{
    return cr_make_param_array(kill_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(kill_case *kc, fanin, publisher_killed_mid_stream, .init = setup,
                  .fini = teardown, .timeout = 60)
{
    const uint64_t live_frames = XF_SCALE(3000, 600);
    for (int k = 0; k < NPUBS; k++)
        start_publisher(k, k == VICTIM ? UINT64_MAX : live_frames);
    xmem_sub_options o;
    xmem_sub_options_init(&o);
    o.depth = DEPTH;
    o.policy = XMEM_POLICY_BLOCK;
    /* Looks at its publishers often, so the death is noticed mid-stream; not so often that a
     * loaded machine (the sanitizers) misses ZeroMQ heartbeats, whose timeout is 5 of these. */
    o.heartbeat_ms = 50;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_sub_create(name, &o, &sub, &err), XMEM_OK), "%s", err.msg);
    for (int k = 0; k < NPUBS; k++)
        cr_assert(eq(int, xmem_sub_connect(sub, endpoints[k], &err), XMEM_OK), "%s", err.msg);

    uint64_t next[NPUBS] = {0};
    pid_t victim = kids[VICTIM];
    uint64_t deadline = xf_now_ns() + 45ull * 1000000000ull;
    /* Until the victim is dead too: its connection may come up after the live ones' (a connect
     * before its bind retries 10 ms later), so they can be done before its first frame. */
    while (next[1] < live_frames || next[2] < live_frames || kids[VICTIM] != -1) {
        cr_assert(lt(u64, xf_now_ns(), deadline),
                  "live frames missing: %llu and %llu of %llu, victim at %llu of %llu",
                  (unsigned long long)next[1], (unsigned long long)next[2],
                  (unsigned long long)live_frames, (unsigned long long)next[VICTIM],
                  (unsigned long long)kc->after);
        xmem_guard_t g = XMEM_GUARD_INIT;
        xmem_err rc = xmem_sub_receive(sub, 200, &g, &err);
        if (rc == XMEM_ETIMEDOUT)
            continue;
        cr_assert(eq(int, rc, XMEM_OK), "%s", err.msg);
        uint64_t f = 0;
        cr_assert(eq(int, xtt_frame_check(xmem_guard_data(&g), xmem_guard_size(&g), &f, NULL),
                     XTT_FRAME_OK));
        int k = (int)(f >> 32);
        cr_assert(lt(i32, k, NPUBS), "frame %llx of no publisher", (unsigned long long)f);
        cr_assert(eq(u64, f & 0xffffffffu, next[k]),
                  "publisher %d: frame %llu arrived where %llu was next (a live frame lost, or "
                  "out of order)",
                  k, (unsigned long long)(f & 0xffffffffu), (unsigned long long)next[k]);
        next[k]++;
        cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
        if (k == VICTIM && next[k] == kc->after) {
            cr_assert(eq(int, kill(victim, SIGKILL), 0));
            cr_assert(eq(int, xf_wait(victim), -SIGKILL));
            kids[VICTIM] = -1;
            cr_assert(eq(int, xmem_pool_reclaim_pid(pool, victim, NULL, &err), XMEM_OK), "%s",
                      err.msg);
        }
    }
    cr_assert(eq(int, kids[VICTIM], -1), "the victim was never killed (%llu of its frames)",
              (unsigned long long)next[VICTIM]);

    /* Everything the dead one had in flight comes back while the subscriber runs on: read, if
     * its descriptors were already in the socket (in order), or given back with its inbox. */
    while (xmem_pool_free_count(pool) != CAP && xf_now_ns() < deadline) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        xmem_err rc = xmem_sub_receive(sub, 20, &g, &err);
        if (rc == XMEM_OK) {
            uint64_t f = 0;
            xtt_frame_check(xmem_guard_data(&g), xmem_guard_size(&g), &f, NULL);
            xmem_guard_release(&g, NULL);
            cr_assert(eq(u64, f, frame_of(VICTIM, next[VICTIM])),
                      "frame %llx after every live one and the dead one's %llu",
                      (unsigned long long)f, (unsigned long long)next[VICTIM]);
            next[VICTIM]++;
        }
    }
    if (xmem_pool_free_count(pool) != CAP) {
        char holders[2048];
        xmem_pool_describe_holders(pool, holders, sizeof holders);
        cr_fatal("%u of %u buffers free with the subscriber alive; holders:\n%s",
                 xmem_pool_free_count(pool), CAP, holders);
    }
    xmem_sub_stats st;
    xmem_sub_stats_get(sub, &st, sizeof st);
    cr_assert(eq(u64, st.received, next[0] + next[1] + next[2]));
    cr_assert(eq(u64, st.dropped_oldest, 0));
    cr_log_info("killed after %llu frames: %llu of its frames received, %llu references lost in "
                "flight given back",
                (unsigned long long)kc->after, (unsigned long long)next[VICTIM],
                (unsigned long long)st.lost_in_flight);

    for (int k = 0; k < NPUBS; k++) {
        if (kids[k] <= 0)
            continue;
        close(kid_cmd[k]);
        kid_cmd[k] = -1;
        cr_assert(eq(int, xf_wait(kids[k]), KID_OK), "live publisher %d", k);
        kids[k] = -1;
    }
    xmem_sub_destroy(&sub);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
    xmem_pool_audit_report rep;
    cr_assert(eq(int, xmem_pool_audit(pool, &rep, sizeof rep, &err), XMEM_OK), "%s", err.msg);
}

/* ---- publisher and subscriber killed at random points ------------------------------------- */

enum { SUB_OK = 0, SUB_SETUP = 2, SUB_FRAME = 3, SUB_LIVE_LOST = 4, SUB_BOOKS = 5, SUB_ORDER = 6 };

static pid_t sub_kid = -1;
static int sub_cmd = -1;

static void kill_teardown(void)
{
    if (sub_kid > 0) {
        kill(sub_kid, SIGKILL);
        xf_wait(sub_kid);
    }
    if (sub_cmd >= 0)
        close(sub_cmd);
    sub_kid = -1;
    sub_cmd = -1;
    teardown();
}

/* A subscriber process reading publishers 0 (the victim) and 1 (the survivor) under block. Every
 * frame of the survivor must come, in order; once told (a byte on `cmd_fd`) that the victim is
 * dead and reclaimed, the pool must come back to all free while it lives: what the victim had in
 * flight to it returned, and nothing else. */
/* Checks a received frame is the next of the survivor (1), or a newer one of the victim (0: one it
 * sent while this subscriber's connection was down, under a heartbeat missed on a loaded machine,
 * it dropped, counted); exits the process if not. Releases it, returns its publisher. */
static int check_next(xmem_guard_t *g, uint64_t next[2])
{
    uint64_t f = 0;
    if (xtt_frame_check(xmem_guard_data(g), xmem_guard_size(g), &f, NULL) != XTT_FRAME_OK)
        _exit(SUB_FRAME);
    int k = (int)(f >> 32);
    if (k == 0 && (f & 0xffffffffu) > next[0])
        next[0] = f & 0xffffffffu;
    if (k > 1 || (f & 0xffffffffu) != next[k]) {
        fprintf(stderr, "subscriber: frame %llu of publisher %d where %llu was next\n",
                (unsigned long long)(f & 0xffffffffu), k, (unsigned long long)next[k & 1]);
        _exit(k == 1 ? SUB_LIVE_LOST : SUB_ORDER);
    }
    next[k]++;
    xmem_guard_release(g, NULL);
    return k;
}

static void subscriber_main(int cmd_fd, uint64_t survivor_frames)
{
    xmem_sub_t *s = NULL;
    xmem_sub_options o;
    xmem_sub_options_init(&o);
    o.depth = DEPTH;
    o.policy = XMEM_POLICY_BLOCK;
    o.heartbeat_ms = 50;
    if (xmem_sub_create(name, &o, &s, NULL) != XMEM_OK ||
        xmem_sub_connect(s, endpoints[0], NULL) != XMEM_OK ||
        xmem_sub_connect(s, endpoints[1], NULL) != XMEM_OK)
        _exit(SUB_SETUP);
    uint64_t next[2] = {0};
    bool victim_gone = false;
    uint64_t deadline = xf_now_ns() + 20ull * 1000000000ull;
    while (next[1] < survivor_frames || !victim_gone) {
        if (xf_now_ns() > deadline)
            _exit(SUB_LIVE_LOST);
        struct pollfd pfd = {.fd = cmd_fd, .events = POLLIN};
        victim_gone = victim_gone || poll(&pfd, 1, 0) == 1;
        xmem_guard_t g = XMEM_GUARD_INIT;
        if (xmem_sub_receive(s, 20, &g, NULL) != XMEM_OK)
            continue;
        check_next(&g, next);
    }
    xmem_pool_t *sp = xmem_sub_pool(s);
    while (xmem_pool_free_count(sp) != CAP) {
        if (xf_now_ns() > deadline) {
            char holders[2048];
            xmem_pool_describe_holders(sp, holders, sizeof holders);
            fprintf(stderr, "subscriber: %u of %u free; holders:\n%s\n", xmem_pool_free_count(sp),
                    CAP, holders);
            _exit(SUB_BOOKS);
        }
        /* Only the victim's last frames, read by libzmq before it died, may still come. */
        xmem_guard_t g = XMEM_GUARD_INIT;
        if (xmem_sub_receive(s, 20, &g, NULL) == XMEM_OK && check_next(&g, next) != 0)
            _exit(SUB_ORDER);
    }
    xmem_sub_destroy(&s);
    _exit(SUB_OK);
}

/* Rounds of: a victim publisher that never stops, a survivor publishing a random number of
 * frames, a block subscriber reading both. The victim is SIGKILLed at a random time (while it
 * publishes, shares, waits for room); in half the rounds the subscriber is SIGKILLed too, a
 * random time later (maybe in the middle of replacing its inbox). Each round ends with every
 * buffer free and the books clean, only this process attached. */
Test(fanin, random_kills, .init = setup, .fini = kill_teardown, .timeout = 240)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    cr_log_info("seed %llu", (unsigned long long)seed);
    const int rounds = XF_SCALE(12, 4);
    for (int round = 0; round < rounds; round++) {
        uint64_t survivor_frames = 200 + xtt_rand_below(&seed, 2000);
        bool kill_sub = xtt_rand_below(&seed, 2);
        start_publisher(0, UINT64_MAX);
        start_publisher(1, survivor_frames);
        int cmd[2];
        cr_assert(eq(int, pipe(cmd), 0));
        fflush(NULL);
        sub_kid = fork();
        cr_assert(ge(i32, sub_kid, 0), "fork failed");
        if (sub_kid == 0) {
            close(cmd[1]);
            for (int k = 0; k < NPUBS; k++)
                if (kid_cmd[k] >= 0)
                    close(kid_cmd[k]);
            subscriber_main(cmd[0], survivor_frames);
        }
        close(cmd[0]);
        sub_cmd = cmd[1];

        xf_sleep_ms(xtt_rand_below(&seed, 300));
        pid_t victim = kids[0];
        cr_assert(eq(int, kill(victim, SIGKILL), 0));
        cr_assert(eq(int, xf_wait(victim), -SIGKILL));
        kids[0] = -1;
        close(kid_cmd[0]);
        kid_cmd[0] = -1;
        xmem_error_t err = {0};
        cr_assert(eq(int, xmem_pool_reclaim_pid(pool, victim, NULL, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(int, (int)write(sub_cmd, "x", 1), 1));
        if (kill_sub) {
            xf_sleep_ms(xtt_rand_below(&seed, 100));
            kill(sub_kid, SIGKILL);
            int st = xf_wait(sub_kid);
            cr_assert(st == -SIGKILL || st == SUB_OK, "round %d: subscriber ended %d", round, st);
            cr_assert(eq(int, xmem_pool_reclaim_pid(pool, sub_kid, NULL, &err), XMEM_OK), "%s",
                      err.msg);
        } else {
            cr_assert(eq(int, xf_wait(sub_kid), SUB_OK),
                      "round %d (%llu survivor frames): subscriber (2: setup, 3: bad frame, 4: a "
                      "live frame lost, 5: the pool's books not back to all free, 6: the "
                      "victim's frames out of order or a survivor's after its last)",
                      round, (unsigned long long)survivor_frames);
        }
        sub_kid = -1;
        close(sub_cmd);
        sub_cmd = -1;
        close(kid_cmd[1]);
        kid_cmd[1] = -1;
        int st = xf_wait(kids[1]);
        kids[1] = -1;
        /* A survivor publishing to a subscriber that died drops (counted, reason gone), or never
         * saw it subscribe. */
        cr_assert(st == KID_OK || (kill_sub && (st == KID_DROPPED || st == KID_SETUP)),
                  "round %d: survivor ended %d", round, st);
        cr_assert(eq(int, xmem_pool_reclaim_dead(pool, NULL, &err), XMEM_OK), "%s", err.msg);
        if (xmem_pool_free_count(pool) != CAP) {
            char holders[2048];
            xmem_pool_describe_holders(pool, holders, sizeof holders);
            cr_fatal("round %d: %u of %u buffers free; holders:\n%s", round,
                     xmem_pool_free_count(pool), CAP, holders);
        }
        xmem_pool_audit_report rep;
        cr_assert(eq(int, xmem_pool_audit(pool, &rep, sizeof rep, &err), XMEM_OK), "round %d: %s",
                  round, err.msg);
        cr_assert(eq(u32, rep.procs_attached, 1), "round %d: only this process attached", round);
    }
}

/* ---- process slots ------------------------------------------------------------------------ */

/* A subscriber takes two of the pool's process slots (its attachment and its inbox): with one left
 * it is refused with an error that says so, and leaves the slot free; with two it is made. */
Test(fanin, subscriber_takes_two_process_slots, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    xmem_pool_t *extra[XMEM_POOL_MAX_PROCS];
    uint32_t n = 0;
    xmem_error_t err = {0};
    /* This process's own attachment is one; leave one. */
    for (; n < XMEM_POOL_MAX_PROCS - 2; n++)
        cr_assert(eq(int, xmem_pool_open(name, &extra[n], &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_sub_create(name, NULL, &sub, &err), XMEM_EPROCS));
    cr_assert(not(eq(ptr, strstr(err.msg, "takes two"), NULL)), "%s", err.msg);
    cr_log_info("%s", err.msg);
    xmem_pool_audit_report rep;
    cr_assert(eq(int, xmem_pool_audit(pool, &rep, sizeof rep, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, rep.procs_attached, XMEM_POOL_MAX_PROCS - 1));
    xmem_pool_close(&extra[--n]);
    cr_assert(eq(int, xmem_sub_create(name, NULL, &sub, &err), XMEM_OK), "%s", err.msg);
    xmem_sub_destroy(&sub);
    while (n > 0)
        xmem_pool_close(&extra[--n]);
    cr_assert(eq(int, xmem_pool_audit(pool, &rep, sizeof rep, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, rep.procs_attached, 1));
}
