/* Bad input reaching a subscriber from a hostile publisher (a raw ZeroMQ ROUTER that the
 * subscriber connects to): each kind of bad message is refused and counted under its own reason,
 * no refcount changes (the pool's free count, and a live buffer's refcount and per-owner counts,
 * are the same before and after), and the subscriber goes on working. Replayed descriptors are
 * refused too. Last, a publisher fed bad control messages refuses and counts them, and one handed
 * a guard it cannot publish refuses it and still empties it. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <string.h>
#include <sys/resource.h>

#include "transport_util.h"

#define CAP 16u
#define BUF 4096u
#define BUF_STALE 8192u /* its own size class, so markers never reuse the recycled slot */
#define HUGE_MESSAGE (256u << 20)

/* The hostile peers of the last tests run in processes of their own. A plain fork() of this
 * process would copy the locks its ZeroMQ I/O threads (and the sanitizers' allocator) held at
 * that moment, and a child of such a fork hung in calloc under ASan on a loaded machine; so the
 * child execs this program afresh, and the constructor below plays the peer before Criterion
 * starts. XMEMT_BAD_PEER says which: "KIND ENDPOINT FD [HEX]". */
#define PEER_ENV "XMEMT_BAD_PEER"

/* A ROUTER on `ep` that, once a subscriber is there, sends it one oversized message; says "b"
 * on fd `ready` once bound. */
static int peer_router_sends_big(const char *ep, int ready)
{
    xtt_raw r;
    if (!xtt_raw_bind(&r, ep) || write(ready, "b", 1) != 1 || !xtt_raw_wait_subscriber(&r, 5000))
        return 2;
    void *big = calloc(1, HUGE_MESSAGE);
    bool sent = big && xtt_raw_send(&r, big, HUGE_MESSAGE);
    free(big);
    xf_sleep_ms(500); /* let it go out before the socket closes */
    xtt_raw_close(&r);
    return sent ? 0 : 3;
}

/* A DEALER that connects to a publisher at `ep` and sends `len` bytes (`bytes`, or zeros); with
 * `hold` >= 0 it stays connected until that pipe ends. */
static int peer_dealer_sends(const char *ep, const void *bytes, size_t len, int hold)
{
    void *ctx = zmq_ctx_new();
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 3000;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    void *zeros = bytes ? NULL : calloc(1, len);
    bool ok = (bytes || zeros) && zmq_connect(dealer, ep) == 0 &&
              zmq_send(dealer, bytes ? bytes : zeros, len, 0) == (int)len;
    free(zeros);
    char c;
    if (hold >= 0)
        ok &= read(hold, &c, 1) == 0; /* until the parent is done */
    zmq_close(dealer);
    zmq_ctx_term(ctx);
    return ok ? 0 : 1;
}

__attribute__((constructor)) static void hostile_peer(void)
{
    const char *what = getenv(PEER_ENV);
    if (!what)
        return;
    char kind[16], ep[200], hex[256] = "";
    int fd = -1;
    if (sscanf(what, "%15s %199s %d %255s", kind, ep, &fd, hex) < 3)
        _exit(120);
    if (!strcmp(kind, "router-big"))
        _exit(peer_router_sends_big(ep, fd));
    if (!strcmp(kind, "dealer-big"))
        _exit(peer_dealer_sends(ep, NULL, HUGE_MESSAGE, -1));
    if (!strcmp(kind, "dealer")) {
        uint8_t bytes[sizeof hex / 2];
        size_t n = strlen(hex) / 2;
        for (size_t i = 0; i < n; i++)
            if (sscanf(hex + 2 * i, "%2hhx", &bytes[i]) != 1)
                _exit(121);
        _exit(peer_dealer_sends(ep, bytes, n, fd));
    }
    _exit(122);
}

/* Starts a hostile peer (above) as a new process of this program: `fd` is inherited, `close_fd`
 * (the other end of its pipe, or -1) closed in it. */
static pid_t spawn_peer(const char *kind, const char *ep, int fd, int close_fd, const void *bytes,
                        size_t len)
{
    char var[sizeof PEER_ENV + 512];
    int at = snprintf(var, sizeof var, PEER_ENV "=%s %s %d ", kind, ep, fd);
    for (size_t i = 0; i < len && at + 3 < (int)sizeof var; i++)
        at += snprintf(var + at, sizeof var - (size_t)at, "%02x", ((const uint8_t *)bytes)[i]);
    extern char **environ;
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 2, sizeof *envp);
    cr_assert(not(eq(ptr, envp, NULL)));
    memcpy(envp, environ, n * sizeof *envp);
    envp[n] = var;
    char *argv[] = {"/proc/self/exe", NULL};
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (close_fd >= 0)
            close(close_fd);
        execve("/proc/self/exe", argv, envp);
        _exit(127);
    }
    free(envp);
    cr_assert(ge(i32, pid, 0), "fork failed");
    return pid;
}

static char name[64], other_name[64], endpoint[128];
static xmem_pool_t *pool, *other;
static xmem_sub_t *sub;
static xtt_raw raw;
static uint32_t me, sub_owner, sub_inbox; /* ours, the subscriber's, where its references go */
static xmem_buf_ref victim;     /* live: one reference ours, one in the subscriber's inbox */
static xmem_buf_ref foreign;    /* live: ours only */
static xmem_buf_ref stale;      /* acquired and released: its name is stale */
static xmem_pool_t *third;      /* another attachment of the pool (another owner id) */
static xmem_buf_ref given_away; /* live: given to `third` */
static uint64_t seq = 100;

static xmem_buf_ref acquire(size_t size, uint64_t frame_no)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, size, &g, &err), XMEM_OK), "%s", err.msg);
    void *p = NULL;
    cr_assert(eq(int, xmem_guard_data_mut(&g, &p, &err), XMEM_OK), "%s", err.msg);
    xtt_frame_fill(p, size, frame_no, 0);
    xmem_buf_ref r = xmem_guard_ref(&g);
    xmem_guard_forget(&g);
    return r;
}

static void give(xmem_buf_ref r)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_give(pool, r, sub_inbox, 1, &err), XMEM_OK), "%s", err.msg);
}

static uint32_t refcount(xmem_buf_ref r)
{
    uint32_t n = 0;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_ref_count(pool, r, &n, &err), XMEM_OK), "%s", err.msg);
    return n;
}

static void setup(void)
{
    xf_pool_name(name, sizeof name, "bad");
    xf_pool_name(other_name, sizeof other_name, "bad-other");
    xtt_endpoint(endpoint, sizeof endpoint, "bad");
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name, CAP, &pool, &err), XMEM_OK), "%s",
              err.msg);
    cr_assert(eq(int, xmem_pool_create_with_capacity(other_name, 4, &other, &err), XMEM_OK), "%s",
              err.msg);
    cr_assert(xtt_raw_bind(&raw, endpoint), "cannot bind the raw ROUTER: %s", zmq_strerror(errno));
    cr_assert(eq(int, xmem_sub_create(name, NULL, &sub, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_sub_connect(sub, endpoint, &err), XMEM_OK), "%s", err.msg);
    cr_assert(xtt_raw_wait_subscriber(&raw, 5000), "the subscriber never subscribed");
    me = xmem_pool_owner_id(pool);
    sub_owner = xmem_pool_owner_id(xmem_sub_pool(sub));
    sub_inbox = raw.inbox;
    cr_assert(eq(u32, raw.home, sub_owner), "the SUBSCRIBE names the subscriber's attachment");
    cr_assert(ne(u32, me, sub_owner));
    cr_assert(ne(u32, sub_inbox, sub_owner));
    cr_assert(ne(u32, sub_inbox, me));

    victim = acquire(BUF, 1);
    cr_assert(eq(int, xmem_pool_add_ref(pool, victim, &err), XMEM_OK), "%s", err.msg);
    give(victim);
    foreign = acquire(BUF, 2);
    stale = acquire(BUF_STALE, 3);
    cr_assert(eq(int, xmem_pool_release(pool, stale, &err), XMEM_OK), "%s", err.msg);
}

static void teardown(void)
{
    xmem_sub_destroy(&sub);
    xtt_raw_close(&raw);
    xmem_pool_destroy(&third);
    xmem_pool_destroy(&other);
    xmem_pool_destroy(&pool);
    xtt_unlink_endpoint(endpoint);
}

static void descriptor_of(xmem_buf_ref r, uint8_t wire[XMEM_DESCRIPTOR_SIZE])
{
    xmem_descriptor d = {
        .pool_id = xmem_pool_id(pool),
        .ref = r,
        .sequence = seq++,
        .timestamp_ns = 12345,
        .owner = sub_inbox,
    };
    xmem_descriptor_encode(&d, wire);
}

static void send_raw(const void *buf, size_t len)
{
    cr_assert(xtt_raw_send(&raw, buf, len), "raw send: %s", zmq_strerror(errno));
}

/* Receives the next buffer and checks it is `want` with its content. */
static void expect_receive(xmem_buf_ref want, xmem_guard_t *keep)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_sub_receive(sub, 5000, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref got = xmem_guard_ref(&g);
    if (got.index != want.index || got.generation != want.generation) {
        xmem_guard_forget(&g); /* what it holds is in doubt: leave the counts as they are */
        cr_fatal("received buffer %u gen %u, expected %u gen %u: a message that must be refused "
                 "was accepted",
                 got.index, got.generation, want.index, want.generation);
    }
    cr_assert(eq(u32, xmem_sub_last(sub)->ref.index, want.index));
    cr_assert(eq(int, xtt_frame_check(xmem_guard_data(&g), xmem_guard_size(&g), NULL, NULL),
                 XTT_FRAME_OK));
    if (keep)
        *keep = g;
    else
        cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
}

/* A valid descriptor for a new buffer given to the subscriber, sent after whatever came before:
 * once it is received, everything before it has been processed. */
static void sync_marker(void)
{
    xmem_buf_ref m = acquire(BUF, 99);
    give(m);
    uint8_t wire[XMEM_DESCRIPTOR_SIZE];
    descriptor_of(m, wire);
    send_raw(wire, sizeof wire);
    expect_receive(m, NULL);
}

typedef struct snapshot {
    uint32_t free;
    uint32_t victim_rc, victim_sub, victim_home, victim_me;
    uint32_t foreign_rc, foreign_sub, foreign_home;
} snapshot;

static snapshot take_snapshot(void)
{
    return (snapshot){
        .free = xmem_pool_free_count(pool),
        .victim_rc = refcount(victim),
        .victim_sub = xmem_pool_owned_by(pool, victim, sub_inbox),
        .victim_home = xmem_pool_owned_by(pool, victim, sub_owner),
        .victim_me = xmem_pool_owned_by(pool, victim, me),
        .foreign_rc = refcount(foreign),
        .foreign_sub = xmem_pool_owned_by(pool, foreign, sub_inbox),
        .foreign_home = xmem_pool_owned_by(pool, foreign, sub_owner),
    };
}

static void expect_unchanged(const snapshot *before, const char *what)
{
    snapshot now = take_snapshot();
    cr_assert(eq(u32, now.free, before->free), "%s: free count %u -> %u", what, before->free,
              now.free);
    cr_assert(eq(u32, now.victim_rc, before->victim_rc), "%s: refcount %u -> %u", what,
              before->victim_rc, now.victim_rc);
    cr_assert(eq(u32, now.victim_sub, before->victim_sub), "%s", what);
    cr_assert(eq(u32, now.victim_home, before->victim_home), "%s", what);
    cr_assert(eq(u32, now.victim_me, before->victim_me), "%s", what);
    cr_assert(eq(u32, now.foreign_rc, before->foreign_rc), "%s", what);
    cr_assert(eq(u32, now.foreign_sub, before->foreign_sub), "%s", what);
    cr_assert(eq(u32, now.foreign_home, before->foreign_home), "%s", what);
}

static void expect_counts(xmem_reject reason, uint64_t n, uint64_t received, const char *what)
{
    xmem_sub_stats st;
    xmem_sub_stats_get(sub, &st, sizeof st);
    for (int r = 0; r < XMEM_REJECT_COUNT_; r++)
        cr_assert(eq(u64, st.rejected[r], r == (int)reason ? n : 0), "%s: %llu refused as '%s'",
                  what, (unsigned long long)st.rejected[r], xmem_reject_name((xmem_reject)r));
    cr_assert(eq(u64, st.rejected_total, n), "%s", what);
    cr_assert(eq(u64, st.received, received), "%s: %llu accepted", what,
              (unsigned long long)st.received);
}

/* ---- one bad message of each kind ---------------------------------------------------------- */

typedef struct bad_case {
    const char *what;
    xmem_reject reason;
} bad_case;

static const bad_case bad_cases[] = {
    {"another magic", XMEM_REJECT_MAGIC},
    {"a control message's magic", XMEM_REJECT_MAGIC},
    {"version 2", XMEM_REJECT_VERSION},
    {"version 0", XMEM_REJECT_VERSION},
    {"a damaged sequence byte", XMEM_REJECT_CHECKSUM},
    {"a damaged checksum", XMEM_REJECT_CHECKSUM},
    {"an empty message", XMEM_REJECT_SIZE},
    {"47 bytes", XMEM_REJECT_SIZE},
    {"49 bytes", XMEM_REJECT_SIZE},
    {"a valid descriptor with a second part", XMEM_REJECT_SIZE},
    {"a valid descriptor split in two parts", XMEM_REJECT_SIZE},
    {"flags 1", XMEM_REJECT_FLAGS},
    {"flags 0x8000", XMEM_REJECT_FLAGS},
    {"pool id + 1", XMEM_REJECT_POOL},
    {"another live pool's id", XMEM_REJECT_POOL},
    {"index == capacity", XMEM_REJECT_INDEX},
    {"index UINT32_MAX", XMEM_REJECT_INDEX},
    {"a recycled buffer's old generation", XMEM_REJECT_GENERATION},
    {"a live buffer's next generation", XMEM_REJECT_GENERATION},
    {"a free buffer at its current generation", XMEM_REJECT_GENERATION},
    {"a slot never used", XMEM_REJECT_GENERATION},
    {"addressed to the publisher's owner id", XMEM_REJECT_ADDRESS},
    {"addressed to owner 63", XMEM_REJECT_ADDRESS},
    {"a live buffer given to nobody", XMEM_REJECT_NOT_OWNED},
    {"a live buffer given to another owner", XMEM_REJECT_NOT_OWNED},
    {"addressed to the subscriber's own owner id, not its inbox", XMEM_REJECT_ADDRESS},
};

#define NCASES ((int)(sizeof bad_cases / sizeof bad_cases[0]))

static int case_ids[NCASES];

ParameterizedTestParameters(bad_input, each_kind)
{
    for (int i = 0; i < NCASES; i++)
        case_ids[i] = i;
    return cr_make_param_array(int, case_ids, NCASES);
}

/* Re-encodes a descriptor of the victim with one field changed (checksum valid). */
static void victim_with(uint8_t wire[XMEM_DESCRIPTOR_SIZE], int offset, uint64_t value, int bytes)
{
    descriptor_of(victim, wire);
    xtt_put_le(wire + offset, value, bytes);
    xtt_fix_checksum(wire);
}

static void send_case(int k)
{
    uint8_t wire[XMEM_DESCRIPTOR_SIZE];
    descriptor_of(victim, wire);
    switch (k) {
    case 0: victim_with(wire, 0, 0x32444d58u, 4); break;
    case 1: victim_with(wire, 0, 0x31434d58u, 4); break;
    case 2: victim_with(wire, 4, 2, 2); break;
    case 3: victim_with(wire, 4, 0, 2); break;
    case 4: wire[25] ^= 0x40; break;
    case 5: wire[46] ^= 0x01; break;
    case 6: send_raw(wire, 0); return;
    case 7: send_raw(wire, 47); return;
    case 8: {
        uint8_t longer[XMEM_DESCRIPTOR_SIZE + 1];
        memcpy(longer, wire, sizeof wire);
        longer[XMEM_DESCRIPTOR_SIZE] = 0;
        send_raw(longer, sizeof longer);
        return;
    }
    case 9: {
        const void *parts[2] = {wire, "x"};
        size_t lens[2] = {sizeof wire, 1};
        cr_assert(xtt_raw_send_parts(&raw, parts, lens, 2));
        return;
    }
    case 10: {
        const void *parts[2] = {wire, wire + 24};
        size_t lens[2] = {24, 24};
        cr_assert(xtt_raw_send_parts(&raw, parts, lens, 2));
        return;
    }
    case 11: victim_with(wire, 6, 1, 2); break;
    case 12: victim_with(wire, 6, 0x8000, 2); break;
    case 13: victim_with(wire, 8, xmem_pool_id(pool) + 1, 8); break;
    case 14:
        cr_assert(ne(u64, xmem_pool_id(other), xmem_pool_id(pool)));
        victim_with(wire, 8, xmem_pool_id(other), 8);
        break;
    case 15: victim_with(wire, 16, CAP, 4); break;
    case 16: victim_with(wire, 16, UINT32_MAX, 4); break;
    case 17: descriptor_of(stale, wire); break;
    case 18: victim_with(wire, 20, victim.generation + 1, 4); break;
    case 19: {
        uint32_t rc = 0;
        xmem_buf_ref now = {stale.index, stale.generation + 1};
        cr_assert(eq(int, xmem_pool_ref_count(pool, now, &rc, NULL), XMEM_EFREED),
                  "the recycled slot should be free at generation %u", now.generation);
        descriptor_of(now, wire);
        break;
    }
    case 20: {
        uint32_t rc = 0;
        xmem_buf_ref unused = {CAP - 1, 0};
        xmem_err e = xmem_pool_ref_count(pool, unused, &rc, NULL);
        cr_assert(e == XMEM_EFREED || e == XMEM_ESTALE, "slot %u is in use", CAP - 1);
        descriptor_of(unused, wire);
        break;
    }
    case 21: victim_with(wire, 40, me, 4); break;
    case 22: victim_with(wire, 40, 63, 4); break;
    case 23: descriptor_of(foreign, wire); break;
    case 24: descriptor_of(given_away, wire); break;
    case 25: victim_with(wire, 40, sub_owner, 4); break;
    default: cr_fatal("no case %d", k);
    }
    send_raw(wire, sizeof wire);
}

ParameterizedTest(int *k, bad_input, each_kind, .init = setup, .fini = teardown,
                  .timeout = XF_TIMEOUT)
{
    const bad_case *c = &bad_cases[*k];
    if (*k == 24) {
        xmem_error_t err = {0};
        cr_assert(eq(int, xmem_pool_open(name, &third, &err), XMEM_OK), "%s", err.msg);
        given_away = acquire(BUF, 5);
        cr_assert(
            eq(int, xmem_pool_give(pool, given_away, xmem_pool_owner_id(third), 1, &err), XMEM_OK),
            "%s", err.msg);
    }
    snapshot before = take_snapshot();
    cr_assert(eq(u32, before.victim_rc, 2));
    cr_assert(eq(u32, before.victim_sub, 1));
    cr_assert(eq(u32, before.victim_home, 0));
    send_case(*k);
    sync_marker();
    expect_unchanged(&before, c->what);
    expect_counts(c->reason, 1, 1, c->what);

    /* The same message many times over changes nothing either. */
    for (int i = 0; i < 50; i++)
        send_case(*k);
    sync_marker();
    expect_unchanged(&before, c->what);
    expect_counts(c->reason, 51, 2, c->what);

    /* The subscriber still works: the victim's real descriptor is accepted, with its reference. */
    uint8_t wire[XMEM_DESCRIPTOR_SIZE];
    descriptor_of(victim, wire);
    send_raw(wire, sizeof wire);
    expect_receive(victim, NULL);
    cr_assert(eq(u32, refcount(victim), 1), "the subscriber's release gave back its one reference");
    cr_assert(eq(u32, xmem_pool_owned_by(pool, victim, sub_owner), 0));
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_release(pool, victim, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_release(pool, foreign, &err), XMEM_OK), "%s", err.msg);
    xmem_sub_destroy(&sub);
    xmem_pool_destroy(&third);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* ---- replays ------------------------------------------------------------------------------- */

/* The same valid descriptor twice before reading: one reference, so one buffer. */
Test(bad_input, replay_while_queued, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    snapshot before = take_snapshot();
    uint8_t wire[XMEM_DESCRIPTOR_SIZE];
    descriptor_of(victim, wire);
    send_raw(wire, sizeof wire);
    send_raw(wire, sizeof wire);
    expect_receive(victim, NULL);
    sync_marker();
    expect_counts(XMEM_REJECT_NOT_OWNED, 1, 2, "a replay of a queued descriptor");
    cr_assert(eq(u32, refcount(victim), before.victim_rc - 1));
    cr_assert(eq(u32, xmem_pool_owned_by(pool, victim, me), 1));
}

/* A replay of a descriptor the subscriber already received and still holds: its one reference is
 * the held guard's, so a second guard on it must not be handed out. */
Test(bad_input, replay_while_held, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    uint8_t wire[XMEM_DESCRIPTOR_SIZE];
    descriptor_of(victim, wire);
    send_raw(wire, sizeof wire);
    xmem_guard_t held = XMEM_GUARD_INIT;
    expect_receive(victim, &held);
    snapshot before = take_snapshot();
    send_raw(wire, sizeof wire);
    sync_marker();
    expect_unchanged(&before, "a replay of a held buffer's descriptor");
    expect_counts(XMEM_REJECT_HELD, 1, 2, "a replay of a held buffer's descriptor");
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_guard_release(&held, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, refcount(victim), 1));
}

/* A rogue peer's descriptor for the buffer the application holds, under a new number (so no
 * replay check sees it): its one reference is the held guard's, so it is refused as such; the same
 * buffer sent again with a reference of its own is a second, real delivery. */
Test(bad_input, held_buffer_under_a_new_number, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    uint8_t wire[XMEM_DESCRIPTOR_SIZE];
    descriptor_of(victim, wire);
    send_raw(wire, sizeof wire);
    xmem_guard_t held = XMEM_GUARD_INIT;
    expect_receive(victim, &held);
    snapshot before = take_snapshot();
    for (int i = 0; i < 20; i++) {
        descriptor_of(victim, wire); /* each newer than the last */
        send_raw(wire, sizeof wire);
    }
    sync_marker();
    expect_unchanged(&before, "a held buffer's descriptor under a new number");
    expect_counts(XMEM_REJECT_HELD, 20, 2, "a held buffer's descriptor under a new number");

    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_add_ref(pool, victim, &err), XMEM_OK), "%s", err.msg);
    give(victim);
    descriptor_of(victim, wire);
    send_raw(wire, sizeof wire);
    xmem_guard_t second = XMEM_GUARD_INIT;
    expect_receive(victim, &second);
    cr_assert(eq(u32, xmem_pool_owned_by(pool, victim, sub_owner), 2), "two guards, two refs");
    cr_assert(eq(int, xmem_guard_release(&held, &err), XMEM_OK), "%s", err.msg);
    /* Released the first: the second guard's reference is still accounted for. */
    descriptor_of(victim, wire);
    send_raw(wire, sizeof wire);
    sync_marker();
    expect_counts(XMEM_REJECT_HELD, 21, 4, "after one of two guards was released");
    cr_assert(eq(int, xmem_guard_release(&second, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, refcount(victim), 1), "ours alone again");
}

/* A message far over any xmem message's size costs the peer its connection before it is
 * buffered: the subscriber's memory does not grow with it (the peer is another process here, so
 * what it allocates is not counted), and once the peer is back the subscriber works on. */
Test(bad_input, oversized_message_costs_the_connection, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    /* The test's own ROUTER makes way for the peer's on the same endpoint. */
    xtt_raw_close(&raw);
    xtt_unlink_endpoint(endpoint);
    int ready[2];
    cr_assert(eq(int, pipe(ready), 0));
    pid_t child = spawn_peer("router-big", endpoint, ready[1], ready[0], NULL, 0);
    close(ready[1]);
    char b;
    cr_assert(eq(int, (int)read(ready[0], &b, 1), 1), "the hostile peer did not bind");
    close(ready[0]);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    xmem_guard_t g = XMEM_GUARD_INIT;
    uint64_t deadline = xf_now_ns() + 3000000000ull;
    while (xf_now_ns() < deadline) /* keeps reading while the child sends */
        xmem_sub_receive(sub, 50, &g, NULL);
    cr_assert(not(xmem_guard_valid(&g)), "an oversized message was delivered");
    cr_assert(eq(int, xf_wait(child), 0), "the hostile peer could not send");
    getrusage(RUSAGE_SELF, &after);
    cr_assert(lt(long, after.ru_maxrss - before.ru_maxrss, 32 * 1024),
              "the subscriber grew by %ld KiB for a %u MiB message",
              after.ru_maxrss - before.ru_maxrss, HUGE_MESSAGE >> 20);
    xmem_sub_stats st;
    xmem_sub_stats_get(sub, &st, sizeof st);
    cr_assert(eq(u64, st.received, 0));

    /* A peer that behaves is served again on the same endpoint (the subscriber reconnects, and
     * repeats its SUBSCRIBE while it waits for frames). */
    cr_assert(xtt_raw_bind(&raw, endpoint), "rebind: %s", zmq_strerror(errno));
    bool back = false;
    for (int i = 0; i < 100 && !back; i++) {
        xmem_sub_receive(sub, 50, &g, NULL);
        back = xtt_raw_wait_subscriber(&raw, 0);
    }
    cr_assert(back, "the subscriber never came back");
    sync_marker();
}

/* A replay after the subscriber released the buffer: it holds nothing of it any more. */
Test(bad_input, replay_after_release, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    uint8_t wire[XMEM_DESCRIPTOR_SIZE];
    descriptor_of(victim, wire);
    send_raw(wire, sizeof wire);
    expect_receive(victim, NULL);
    snapshot before = take_snapshot();
    cr_assert(eq(u32, before.victim_rc, 1));
    send_raw(wire, sizeof wire);
    sync_marker();
    expect_unchanged(&before, "a replay of a released buffer's descriptor");
    expect_counts(XMEM_REJECT_NOT_OWNED, 1, 2, "a replay of a released buffer's descriptor");
    /* Once recycled, the same replay names a stale buffer. */
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_release(pool, victim, &err), XMEM_OK), "%s", err.msg);
    send_raw(wire, sizeof wire);
    sync_marker();
    xmem_sub_stats st;
    xmem_sub_stats_get(sub, &st, sizeof st);
    cr_assert(eq(u64, st.rejected[XMEM_REJECT_GENERATION], 1));
    cr_assert(eq(u64, st.rejected_total, 2));
}

/* Two buffers given, their descriptors swapped in order: a publisher numbers what it sends in
 * increasing order on one pipe, so the older number is a replay and is refused without touching a
 * count; the newer one is accepted. */
Test(bad_input, out_of_order_is_a_replay, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    xmem_buf_ref b = acquire(BUF, 7);
    give(b);
    uint8_t w1[XMEM_DESCRIPTOR_SIZE], w2[XMEM_DESCRIPTOR_SIZE];
    descriptor_of(victim, w1);
    descriptor_of(b, w2);
    send_raw(w2, sizeof w2);
    expect_receive(b, NULL);
    snapshot before = take_snapshot();
    send_raw(w1, sizeof w1);
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_sub_receive(sub, 200, &g, NULL), XMEM_ETIMEDOUT),
              "an older sequence number was accepted");
    expect_unchanged(&before, "an out-of-order descriptor");
    expect_counts(XMEM_REJECT_NOT_OWNED, 1, 1, "an out-of-order descriptor");
}

/* ---- garbage ------------------------------------------------------------------------------- */

/* Random bytes of random lengths and shapes: all refused, nothing changes, no crash. */
Test(bad_input, garbage_storm, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    snapshot before = take_snapshot();
    uint64_t rng = 0x9d2c5680u ^ (uint64_t)getpid();
    uint8_t buf[200];
    for (int i = 0; i < 2000; i++) {
        size_t len = xtt_rand_below(&rng, sizeof buf + 1);
        for (size_t j = 0; j < len; j++)
            buf[j] = (uint8_t)xtt_rand(&rng);
        if (i % 10 == 0) {
            const void *parts[3] = {buf, buf, buf};
            size_t lens[3] = {len / 3, len / 3, len - 2 * (len / 3)};
            cr_assert(xtt_raw_send_parts(&raw, parts, lens, 3));
        } else {
            send_raw(buf, len);
        }
    }
    sync_marker();
    expect_unchanged(&before, "random garbage");
    xmem_sub_stats st;
    xmem_sub_stats_get(sub, &st, sizeof st);
    cr_assert(eq(u64, st.rejected_total, 2000));
    cr_assert(eq(u64, st.received, 1));
    uint64_t sum = 0;
    for (int r = 0; r < XMEM_REJECT_COUNT_; r++)
        sum += st.rejected[r];
    cr_assert(eq(u64, sum, st.rejected_total));
}

/* ---- a publisher fed bad control messages --------------------------------------------------- */

/* The control message's wire form (transport/control.h), built here on purpose: `inbox` is where
 * references go, `home` the subscriber's own attachment. */
#define CONTROL_SIZE 44

static void control(uint8_t out[CONTROL_SIZE], uint16_t type, uint64_t pool_id, uint32_t inbox,
                    uint32_t pid, uint32_t depth, uint16_t policy, uint32_t home)
{
    memset(out, 0, CONTROL_SIZE);
    xtt_put_le(out, 0x31434d58u, 4);
    xtt_put_le(out + 4, 3, 2);
    xtt_put_le(out + 6, type, 2);
    xtt_put_le(out + 8, pool_id, 8);
    xtt_put_le(out + 16, inbox, 4);
    xtt_put_le(out + 20, pid, 4);
    xtt_put_le(out + 24, depth, 4);
    xtt_put_le(out + 28, policy, 2);
    xtt_put_le(out + 32, home, 4);
    xtt_put_le(out + 40, xtt_fnv1a32(out, 40), 4);
}

Test(bad_input, publisher_refuses_bad_control, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    char pub_ep[160];
    xtt_endpoint(pub_ep, sizeof pub_ep, "bad-pub");
    xmem_pub_t *pub = NULL;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_create(pool, pub_ep, NULL, &pub, &err), XMEM_OK), "%s", err.msg);
    void *ctx = zmq_ctx_new();
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
    cr_assert(eq(int, zmq_connect(dealer, pub_ep), 0));

    uint64_t pid = xmem_pool_id(pool);
    uint32_t in = sub_inbox, home = sub_owner;
    uint32_t mypid = (uint32_t)getpid();
    enum { L = CONTROL_SIZE };
    uint8_t msgs[14][L];
    size_t lens[14];
    int n = 0;
    memcpy(msgs[n], "not a control message", 21), lens[n++] = 21;
    lens[n++] = 0;
    control(msgs[n], 1, pid, in, mypid, 4, 0, home), msgs[n][10] ^= 1, lens[n++] = L; /* damaged */
    control(msgs[n], 1, pid + 1, in, mypid, 4, 0, home), lens[n++] = L;  /* another pool */
    control(msgs[n], 1, pid, in, mypid, 0, 0, home), lens[n++] = L;      /* depth 0 */
    control(msgs[n], 1, pid, in, mypid, 100000, 0, home), lens[n++] = L; /* depth too big */
    control(msgs[n], 1, pid, in, mypid, 4, 7, home), lens[n++] = L;      /* unknown policy */
    control(msgs[n], 1, pid, 63, mypid, 4, 0, home), lens[n++] = L;      /* inbox not attached */
    control(msgs[n], 1, pid, in, mypid, 4, 0, 63), lens[n++] = L;        /* owner not attached */
    control(msgs[n], 1, pid, in, 1, 4, 0, home), lens[n++] = L;          /* not that owner's pid */
    control(msgs[n], 1, pid, 62, 0, 4, 0, 62), lens[n++] = L;            /* free slot, pid 0 */
    control(msgs[n], 9, pid, in, mypid, 4, 0, home), lens[n++] = L;      /* unknown type */
    control(msgs[n], 1, pid, in, mypid, 4, 0, home), lens[n++] = L - 4;  /* version 1's size */
    for (int i = 0; i < n; i++)
        cr_assert(ge(int, zmq_send(dealer, msgs[i], lens[i], 0), 0));
    /* And a two-part one. */
    control(msgs[0], 1, pid, in, mypid, 4, 0, home);
    cr_assert(ge(int, zmq_send(dealer, msgs[0], L, ZMQ_SNDMORE), 0));
    cr_assert(ge(int, zmq_send(dealer, "x", 1, 0), 0));
    const uint64_t want = (uint64_t)n + 1;

    xmem_pub_stats ps;
    uint64_t deadline = xf_now_ns() + 5000000000ull;
    do {
        cr_assert(eq(int, xmem_pub_poll(pub, 10, &err), XMEM_OK), "%s", err.msg);
        xmem_pub_stats_get(pub, &ps, sizeof ps);
    } while (ps.rejected < want && xf_now_ns() < deadline);
    cr_assert(eq(u64, ps.rejected, want));
    cr_assert(eq(u32, ps.subscribers, 0), "a bad control message made a subscriber");

    /* Publishing goes on, to nobody, and leaks nothing. */
    snapshot before = take_snapshot();
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, BUF, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pub_publish(pub, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(not(xmem_guard_valid(&g)));
    expect_unchanged(&before, "publishing after bad control messages");
    xmem_pub_stats_get(pub, &ps, sizeof ps);
    cr_assert(eq(u64, ps.unsubscribed, 1));

    zmq_close(dealer);
    zmq_ctx_term(ctx);
    xmem_pub_destroy(&pub);
    xtt_unlink_endpoint(pub_ep);
}

/* A SUBSCRIBE naming another process's attachment, with that process's pid (both visible to
 * anyone on the host), from a peer that stays connected (so the kernel still says who it is) and
 * from one gone before it was read: both refused, no subscriber made, no reference given. */
Test(bad_input, publisher_refuses_a_forged_subscribe, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    char pub_ep[160];
    xtt_endpoint(pub_ep, sizeof pub_ep, "bad-forge");
    xmem_pub_t *pub = NULL;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_create(pool, pub_ep, NULL, &pub, &err), XMEM_OK), "%s", err.msg);
    uint8_t forged[CONTROL_SIZE];
    control(forged, 1, xmem_pool_id(pool), sub_inbox, (uint32_t)getpid(), 4, 0, sub_owner);
    for (int stays = 1; stays >= 0; stays--) {
        int hold[2];
        cr_assert(eq(int, pipe(hold), 0));
        pid_t child =
            spawn_peer("dealer", pub_ep, stays ? hold[0] : -1, hold[1], forged, CONTROL_SIZE);
        close(hold[0]);
        if (!stays)
            cr_assert(eq(int, xf_wait(child), 0));
        xmem_pub_stats ps;
        uint64_t want = 2 - (uint64_t)stays, deadline = xf_now_ns() + 5000000000ull;
        do {
            cr_assert(eq(int, xmem_pub_poll(pub, 10, &err), XMEM_OK), "%s", err.msg);
            xmem_pub_stats_get(pub, &ps, sizeof ps);
        } while (ps.rejected < want && xf_now_ns() < deadline);
        close(hold[1]);
        if (stays)
            cr_assert(eq(int, xf_wait(child), 0));
        cr_assert(eq(u64, ps.rejected, want), "the forged SUBSCRIBE was not refused (%s)",
                  stays ? "its sender connected" : "its sender gone");
        cr_assert(eq(u32, ps.subscribers, 0), "a forged SUBSCRIBE made a subscriber");
    }
    snapshot before = take_snapshot();
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, BUF, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pub_publish(pub, &g, &err), XMEM_OK), "%s", err.msg);
    expect_unchanged(&before, "publishing after a forged SUBSCRIBE");
    xmem_pub_destroy(&pub);
    xtt_unlink_endpoint(pub_ep);
}

/* The same for a publisher: a peer's oversized message costs it its connection, not the
 * publisher's memory, and the real subscriber is still served. */
Test(bad_input, publisher_refuses_an_oversized_message, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    char pub_ep[160];
    xtt_endpoint(pub_ep, sizeof pub_ep, "bad-big");
    xmem_pub_t *pub = NULL;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_create(pool, pub_ep, NULL, &pub, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_sub_connect(sub, pub_ep, &err), XMEM_OK), "%s", err.msg);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    pid_t child = spawn_peer("dealer-big", pub_ep, -1, -1, NULL, 0);
    uint64_t deadline = xf_now_ns() + 3000000000ull;
    xmem_guard_t g = XMEM_GUARD_INIT;
    while (xf_now_ns() < deadline) {
        cr_assert(eq(int, xmem_pub_poll(pub, 20, &err), XMEM_OK), "%s", err.msg);
        xmem_sub_receive(sub, 1, &g, NULL); /* keeps the subscriber's SUBSCRIBE coming */
    }
    cr_assert(eq(int, xf_wait(child), 0), "the hostile peer could not send");
    getrusage(RUSAGE_SELF, &after);
    cr_assert(lt(long, after.ru_maxrss - before.ru_maxrss, 32 * 1024),
              "the publisher grew by %ld KiB for a %u MiB message",
              after.ru_maxrss - before.ru_maxrss, HUGE_MESSAGE >> 20);
    cr_assert(eq(int, xmem_pub_wait_subscribers(pub, 1, 5000, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, BUF, &g, &err), XMEM_OK), "%s", err.msg);
    void *p = NULL;
    cr_assert(eq(int, xmem_guard_data_mut(&g, &p, &err), XMEM_OK), "%s", err.msg);
    xtt_frame_fill(p, BUF, 42, 0);
    xmem_buf_ref sent = xmem_guard_ref(&g);
    cr_assert(eq(int, xmem_pub_publish(pub, &g, &err), XMEM_OK), "%s", err.msg);
    expect_receive(sent, NULL);
    xmem_pub_destroy(&pub);
    xtt_unlink_endpoint(pub_ep);
}

/* A publisher handed a guard it cannot publish: refused, and the guard still emptied (its buffer
 * back in its own pool); an empty guard is refused without harm. */
Test(bad_input, publisher_refuses_bad_guards, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    char pub_ep[160];
    xtt_endpoint(pub_ep, sizeof pub_ep, "bad-guard");
    xmem_pub_t *pub = NULL;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pub_create(pool, pub_ep, NULL, &pub, &err), XMEM_OK), "%s", err.msg);
    snapshot before = take_snapshot();

    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pub_publish(pub, &g, &err), XMEM_EINVAL));
    cr_assert(eq(int, xmem_pub_publish(pub, NULL, &err), XMEM_EINVAL));

    uint32_t other_free = xmem_pool_free_count(other);
    cr_assert(eq(int, xmem_pool_acquire_cpu(other, BUF, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pub_publish(pub, &g, &err), XMEM_EINVAL));
    cr_assert(gt(sz, strlen(err.msg), 0), "the error names the pools");
    cr_assert(not(xmem_guard_valid(&g)), "publish always empties the guard");
    cr_assert(eq(u32, xmem_pool_free_count(other), other_free));

    expect_unchanged(&before, "refused publishes");
    xmem_pub_stats ps;
    xmem_pub_stats_get(pub, &ps, sizeof ps);
    cr_assert(eq(u64, ps.published, 0));
    xmem_pub_destroy(&pub);
    xtt_unlink_endpoint(pub_ep);
}
