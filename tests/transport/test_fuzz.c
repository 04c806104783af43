/* Fuzzing the descriptor checks. 100 000 random and mutated messages through
 * xmem_descriptor_decode, each compared with an independent model of the wire checks; then tens of
 * thousands through a raw ROUTER to a live subscriber, each compared with a model of the whole
 * check (wire, pool, index, addressee, generation, ownership): a message is accepted exactly when
 * it is a well-formed descriptor of this pool, addressed to this subscriber's inbox, naming a live
 * buffer the inbox was given a reference to and no earlier message accounted for. Accepted buffers
 * must come out in order with their content; nothing crashes; the pool ends as it began. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "transport_util.h"

/* ---- decode alone -------------------------------------------------------------------------- */

static void random_descriptor(uint64_t *rng, xmem_descriptor *d)
{
    d->pool_id = xtt_rand(rng);
    d->ref.index = (uint32_t)xtt_rand(rng);
    d->ref.generation = (uint32_t)xtt_rand(rng);
    d->sequence = xtt_rand(rng);
    d->timestamp_ns = xtt_rand(rng);
    d->owner = (uint32_t)xtt_rand(rng);
    d->flags = 0;
}

/* One field of a valid encoding changed to another value, checksum rewritten. */
static void mutate_field(uint64_t *rng, uint8_t wire[XMEM_DESCRIPTOR_SIZE], int field)
{
    static const int off[] = {0, 4, 6, 8, 16, 20, 24, 32, 40};
    static const int len[] = {4, 2, 2, 8, 4, 4, 8, 8, 4};
    uint64_t old = xtt_get_le(wire + off[field], len[field]);
    uint64_t v;
    uint64_t mask = len[field] == 8 ? UINT64_MAX : (1ull << (8 * len[field])) - 1;
    do
        v = (xtt_rand_below(rng, 4) == 0 ? xtt_rand_below(rng, 4) : xtt_rand(rng)) & mask;
    while (v == old);
    xtt_put_le(wire + off[field], v, len[field]);
    xtt_fix_checksum(wire);
}

Test(fuzz, decode_100k, .timeout = 60)
{
    uint64_t rng = 0x5eed0001u;
    uint64_t seen[XMEM_REJECT_COUNT_] = {0}, accepted = 0;
    for (uint32_t n = 0; n < 100000; n++) {
        uint8_t buf[64];
        size_t len = XMEM_DESCRIPTOR_SIZE;
        xmem_descriptor src;
        random_descriptor(&rng, &src);
        xmem_descriptor_encode(&src, buf);
        uint32_t kind = xtt_rand_below(&rng, 10);
        if (kind < 3) { /* random bytes, random length */
            len = xtt_rand_below(&rng, 65);
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)xtt_rand(&rng);
        } else if (kind < 6) { /* 1..4 bytes of a valid encoding changed, checksum not fixed */
            int k = 1 + (int)xtt_rand_below(&rng, 4);
            for (int i = 0; i < k; i++)
                buf[xtt_rand_below(&rng, XMEM_DESCRIPTOR_SIZE)] = (uint8_t)xtt_rand(&rng);
        } else if (kind < 8) { /* one field changed, checksum fixed */
            mutate_field(&rng, buf, (int)xtt_rand_below(&rng, 9));
        } else if (kind < 9) { /* a valid encoding cut or extended */
            len = xtt_rand_below(&rng, 65);
            for (size_t i = XMEM_DESCRIPTOR_SIZE; i < len; i++)
                buf[i] = (uint8_t)xtt_rand(&rng);
        } /* else: the valid encoding as it is */

        xmem_descriptor want, got;
        memset(&got, 0, sizeof got);
        int verdict = xtt_model_decode(buf, len, &want);
        xmem_reject why = XMEM_REJECT_COUNT_;
        xmem_err rc = xmem_descriptor_decode(buf, len, &got, &why);
        if (verdict >= 0) {
            cr_assert(eq(int, rc, XMEM_EINVAL), "message %u (kind %u, %zu bytes) accepted", n, kind,
                      len);
            cr_assert(eq(int, why, verdict), "message %u (kind %u): '%s', expected '%s'", n, kind,
                      xmem_reject_name(why), xmem_reject_name((xmem_reject)verdict));
            seen[verdict]++;
        } else {
            cr_assert(eq(int, rc, XMEM_OK), "message %u (kind %u) refused as '%s'", n, kind,
                      xmem_reject_name(why));
            cr_assert(eq(int, memcmp(&got.ref, &want.ref, sizeof want.ref), 0), "message %u", n);
            cr_assert(eq(u64, got.pool_id, want.pool_id), "message %u", n);
            cr_assert(eq(u64, got.sequence, want.sequence), "message %u", n);
            cr_assert(eq(u64, got.timestamp_ns, want.timestamp_ns), "message %u", n);
            cr_assert(eq(u32, got.owner, want.owner), "message %u", n);
            cr_assert(eq(u16, got.flags, 0), "message %u", n);
            accepted++;
        }
    }
    /* The generator reached every wire check, and valid messages. */
    for (int r = XMEM_REJECT_SIZE; r <= XMEM_REJECT_FLAGS; r++)
        cr_assert(gt(u64, seen[r], 100), "only %llu '%s' refusals", (unsigned long long)seen[r],
                  xmem_reject_name((xmem_reject)r));
    cr_assert(gt(u64, accepted, 1000));
}

/* ---- through a socket to a subscriber ------------------------------------------------------ */

#define CAP 64u
#define BUF 4096u
#define PER_BATCH 24 /* buffers given to the subscriber per batch */
#define ACCEPT (-1)
#define MAX_STALE 256

static char name[64], endpoint[128];
static xmem_pool_t *pool;
static xmem_sub_t *sub;
static xtt_raw raw;
static uint32_t sub_inbox; /* where the subscriber's references go, from its SUBSCRIBE */

static void setup(void)
{
    xf_pool_name(name, sizeof name, "fuzz");
    xtt_endpoint(endpoint, sizeof endpoint, "fuzz");
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name, CAP, &pool, &err), XMEM_OK), "%s",
              err.msg);
    cr_assert(xtt_raw_bind(&raw, endpoint), "cannot bind the raw ROUTER: %s", zmq_strerror(errno));
    /* block: the subscriber itself gives nothing back, so the model needs no queue of its own. */
    xmem_sub_options o;
    xmem_sub_options_init(&o);
    o.depth = 64;
    o.policy = XMEM_POLICY_BLOCK;
    cr_assert(eq(int, xmem_sub_create(name, &o, &sub, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_sub_connect(sub, endpoint, &err), XMEM_OK), "%s", err.msg);
    cr_assert(xtt_raw_wait_subscriber(&raw, 5000), "the subscriber never subscribed");
    sub_inbox = raw.inbox;
}

static void teardown(void)
{
    xmem_sub_destroy(&sub);
    xtt_raw_close(&raw);
    xmem_pool_destroy(&pool);
    xtt_unlink_endpoint(endpoint);
}

typedef struct batch {
    xmem_buf_ref refs[PER_BATCH];
    bool sent[PER_BATCH]; /* a message that accounts for its reference went out */
    xmem_buf_ref accepted[PER_BATCH];
    int naccepted;
} batch;

static int find_ref(const batch *b, xmem_buf_ref r)
{
    for (int j = 0; j < PER_BATCH; j++)
        if (b->refs[j].index == r.index && b->refs[j].generation == r.generation)
            return j;
    return -1;
}

/* The model: what the subscriber must make of `msg`, given what the pool holds now and what was
 * sent before in this batch. Pool-level checks in the order transport/subscriber.c documents. */
/* Sequence numbers: the subscriber accepts from one publisher only what is newer than the last
 * it accepted from it (older is a replay). valid_wire numbers above everything accepted. */
static uint64_t last_accepted_seq;
static bool have_accepted_seq;
static uint64_t next_seq = 1;

static void note_accepted(const uint8_t *msg, size_t len)
{
    xmem_descriptor d;
    if (xtt_model_decode(msg, len, &d) >= 0)
        return;
    last_accepted_seq = d.sequence;
    have_accepted_seq = true;
    if (next_seq <= d.sequence)
        next_seq = d.sequence + 1;
}

static int model(const batch *b, const uint8_t *msg, size_t len, bool multipart, int *which)
{
    *which = -1;
    if (multipart)
        return XMEM_REJECT_SIZE;
    xmem_descriptor d;
    int v = xtt_model_decode(msg, len, &d);
    if (v >= 0)
        return v;
    if (d.pool_id != xmem_pool_id(pool))
        return XMEM_REJECT_POOL;
    if (d.ref.index >= CAP)
        return XMEM_REJECT_INDEX;
    if (d.owner != sub_inbox)
        return XMEM_REJECT_ADDRESS;
    uint32_t rc = 0;
    if (xmem_pool_ref_count(pool, d.ref, &rc, NULL) != XMEM_OK)
        return XMEM_REJECT_GENERATION;
    int j = find_ref(b, d.ref);
    if (j < 0 || b->sent[j])
        return XMEM_REJECT_NOT_OWNED;
    if (have_accepted_seq && d.sequence <= last_accepted_seq)
        return XMEM_REJECT_NOT_OWNED; /* a replay by its number */
    *which = j;
    return ACCEPT;
}

/* True if `msg` is a well-formed descriptor, for this subscriber, of a batch buffer already sent.
 */
static bool replays_sent(const batch *b, const uint8_t *msg, size_t len)
{
    xmem_descriptor d;
    if (xtt_model_decode(msg, len, &d) >= 0 || d.owner != sub_inbox ||
        d.pool_id != xmem_pool_id(pool))
        return false;
    int j = find_ref(b, d.ref);
    return j >= 0 && b->sent[j];
}

static void valid_wire(xmem_buf_ref r, uint64_t *rng, uint8_t wire[XMEM_DESCRIPTOR_SIZE])
{
    xmem_descriptor d = {
        .pool_id = xmem_pool_id(pool),
        .ref = r,
        .sequence = next_seq++,
        .timestamp_ns = xtt_rand(rng),
        .owner = sub_inbox,
    };
    xmem_descriptor_encode(&d, wire);
}

Test(fuzz, subscriber_socket, .init = setup, .fini = teardown, .timeout = 120)
{
    const int batches = 25, per_batch = 1000;
    uint64_t rng = 0x5eed0002u;
    uint64_t want[XMEM_REJECT_COUNT_] = {0}, want_received = 0;
    xmem_buf_ref stale[MAX_STALE];
    int nstale = 0;
    xmem_error_t err = {0};

    /* A live buffer that stays ours throughout: never the subscriber's. */
    xmem_guard_t mine = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, BUF, &mine, &err), XMEM_OK), "%s", err.msg);
    const uint32_t free_base = xmem_pool_free_count(pool);

    for (int bn = 0; bn < batches; bn++) {
        batch b = {0};
        for (int j = 0; j < PER_BATCH; j++) {
            xmem_guard_t g = XMEM_GUARD_INIT;
            cr_assert(eq(int, xmem_pool_acquire_cpu(pool, BUF, &g, &err), XMEM_OK), "%s", err.msg);
            void *p = NULL;
            cr_assert(eq(int, xmem_guard_data_mut(&g, &p, &err), XMEM_OK));
            xtt_frame_fill(p, BUF, (uint64_t)bn * PER_BATCH + (uint64_t)j, 0);
            b.refs[j] = xmem_guard_ref(&g);
            cr_assert(eq(int, xmem_pool_give(pool, b.refs[j], sub_inbox, 1, &err), XMEM_OK), "%s",
                      err.msg);
            xmem_guard_forget(&g);
        }
        const int marker = PER_BATCH - 1; /* sent last, so its arrival means all came before */

        for (int n = 0; n < per_batch; n++) {
            uint8_t msg[64];
            size_t len = XMEM_DESCRIPTOR_SIZE;
            bool multipart = false;
            xmem_buf_ref base = b.refs[xtt_rand_below(&rng, PER_BATCH - 1)];
            valid_wire(base, &rng, msg);
            uint32_t r = xtt_rand_below(&rng, 100);
            if (r < 20) { /* junk */
                len = xtt_rand_below(&rng, 65);
                for (size_t i = 0; i < len; i++)
                    msg[i] = (uint8_t)xtt_rand(&rng);
                multipart = len > 1 && xtt_rand_below(&rng, 10) == 0;
            } else if (r < 40) { /* damaged bytes */
                int k = 1 + (int)xtt_rand_below(&rng, 3);
                for (int i = 0; i < k; i++)
                    msg[xtt_rand_below(&rng, XMEM_DESCRIPTOR_SIZE)] = (uint8_t)xtt_rand(&rng);
            } else if (r < 45) { /* cut or extended */
                len = xtt_rand_below(&rng, 65);
            } else if (r < 70) { /* one field changed, checksum fixed */
                static const int off[] = {0, 4, 6, 8, 16, 16, 20, 20, 24, 32, 40};
                static const int width[] = {4, 2, 2, 8, 4, 4, 4, 4, 8, 8, 4};
                int f = (int)xtt_rand_below(&rng, 11);
                uint64_t v;
                switch (f) {
                case 4: v = CAP + xtt_rand_below(&rng, 1000); break; /* index beyond */
                case 5: v = xtt_rand_below(&rng, CAP); break;        /* another slot */
                case 6: v = base.generation + 1 + xtt_rand_below(&rng, 3); break;
                case 7: v = base.generation - 1 - xtt_rand_below(&rng, 3); break;
                case 10: v = (sub_inbox + 1 + xtt_rand_below(&rng, 200)) & 0xffffffffu; break;
                default: v = xtt_rand(&rng); break;
                }
                if (f <= 3 && v == xtt_get_le(msg + off[f], width[f]))
                    v ^= 1;
                xtt_put_le(msg + off[f], v, width[f]);
                xtt_fix_checksum(msg);
            } else if (r < 85) { /* the exact descriptor of a buffer given to it (maybe sent) */
            } else if (r < 93) { /* a buffer of an earlier batch: recycled since */
                if (nstale)
                    valid_wire(stale[xtt_rand_below(&rng, (uint32_t)nstale)], &rng, msg);
            } else { /* our own live buffer */
                valid_wire(xmem_guard_ref(&mine), &rng, msg);
            }
            int which;
            int verdict = model(&b, msg, len, multipart, &which);
            if (which == marker)
                continue; /* keep the marker for last */
            /* A replay of a buffer accepted earlier in this batch: whether the subscriber has
             * handed that buffer out yet depends on timing here, so the step-by-step tests in
             * test_bad_input.c (replay_while_queued / _held) cover it instead. */
            if (verdict == XMEM_REJECT_NOT_OWNED && replays_sent(&b, msg, len))
                continue;
            if (multipart) {
                size_t half = len / 2;
                const void *parts[2] = {msg, msg + half};
                size_t lens[2] = {half, len - half};
                cr_assert(xtt_raw_send_parts(&raw, parts, lens, 2));
            } else {
                cr_assert(xtt_raw_send(&raw, msg, len), "raw send: %s", zmq_strerror(errno));
            }
            if (verdict == ACCEPT) {
                b.sent[which] = true;
                b.accepted[b.naccepted++] = b.refs[which];
                note_accepted(msg, len);
            } else {
                want[verdict]++;
            }
        }
        /* Whatever was never sent, and the marker last. */
        for (int j = 0; j < PER_BATCH; j++) {
            if (b.sent[j])
                continue;
            uint8_t msg[XMEM_DESCRIPTOR_SIZE];
            valid_wire(b.refs[j], &rng, msg);
            cr_assert(xtt_raw_send(&raw, msg, sizeof msg));
            note_accepted(msg, sizeof msg);
            b.sent[j] = true;
            b.accepted[b.naccepted++] = b.refs[j];
        }
        cr_assert(eq(int, b.naccepted, PER_BATCH));
        cr_assert(eq(u32, b.accepted[PER_BATCH - 1].index, b.refs[marker].index));

        /* Held until the marker is in: releasing would recycle buffers that messages not yet
         * processed name, and change what they must be refused as. */
        xmem_guard_t held[PER_BATCH];
        for (int j = 0; j < b.naccepted; j++) {
            xmem_guard_t g = XMEM_GUARD_INIT;
            xmem_err rc = xmem_sub_receive(sub, 5000, &g, &err);
            cr_assert(eq(int, rc, XMEM_OK), "batch %d, buffer %d of %d: %s", bn, j, b.naccepted,
                      err.msg);
            xmem_buf_ref got = xmem_guard_ref(&g);
            if (got.index != b.accepted[j].index || got.generation != b.accepted[j].generation) {
                xmem_guard_forget(&g);
                cr_fatal("batch %d: received buffer %u gen %u, expected %u gen %u", bn, got.index,
                         got.generation, b.accepted[j].index, b.accepted[j].generation);
            }
            cr_assert(eq(int, xtt_frame_check(xmem_guard_data(&g), BUF, NULL, NULL), XTT_FRAME_OK));
            held[j] = g;
        }
        want_received += (uint64_t)b.naccepted;
        xmem_guard_t extra = XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_sub_receive(sub, 0, &extra, NULL), XMEM_ETIMEDOUT),
                  "batch %d: a buffer more than the model accepts", bn);
        for (int j = 0; j < b.naccepted; j++)
            cr_assert(eq(int, xmem_guard_release(&held[j], &err), XMEM_OK), "%s", err.msg);

        xmem_sub_stats st;
        xmem_sub_stats_get(sub, &st, sizeof st);
        uint64_t total = 0;
        for (int rr = 0; rr < XMEM_REJECT_COUNT_; rr++) {
            cr_assert(eq(u64, st.rejected[rr], want[rr]),
                      "batch %d: %llu '%s' refusals, model %llu", bn,
                      (unsigned long long)st.rejected[rr], xmem_reject_name((xmem_reject)rr),
                      (unsigned long long)want[rr]);
            total += want[rr];
        }
        cr_assert(eq(u64, st.rejected_total, total));
        cr_assert(eq(u64, st.received, want_received));
        cr_assert(eq(u64, st.dropped_oldest, 0));
        cr_assert(eq(u32, xmem_pool_free_count(pool), free_base), "batch %d: buffers stuck", bn);
        cr_assert(eq(u32, xmem_pool_owned_count(pool, xmem_guard_ref(&mine)), 1));

        for (int j = 0; j < PER_BATCH; j++) {
            if (nstale < MAX_STALE)
                stale[nstale++] = b.refs[j];
            else
                stale[xtt_rand_below(&rng, MAX_STALE)] = b.refs[j];
        }
    }
    /* Every kind of refusal came up. */
    for (int rr = 0; rr < XMEM_REJECT_COUNT_; rr++)
        cr_assert(gt(u64, want[rr], 0), "the fuzzer never produced a '%s' refusal",
                  xmem_reject_name((xmem_reject)rr));
    uint64_t refused = 0;
    for (int rr = 0; rr < XMEM_REJECT_COUNT_; rr++)
        refused += want[rr];
    cr_log_info("%llu messages through the socket: %llu accepted, %llu refused",
                (unsigned long long)(refused + want_received), (unsigned long long)want_received,
                (unsigned long long)refused);
    cr_assert(eq(int, xmem_guard_release(&mine, &err), XMEM_OK), "%s", err.msg);
    xmem_sub_destroy(&sub);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}
