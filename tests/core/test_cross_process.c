/* Buffers between real processes: a forked producer writes a frame and gives its reference to the
 * consumer, fan-out to two consumers with set_ref_count, counts and generations as each side sees
 * them, and a pool handle used across fork() (XMEM_EFORKED). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "test_util.h"

#define CAP 8u

static char name[64];
static char name2[64];
static xmem_pool_t *pool;
static xmem_pool_t *other;
static xt_peer peers[3] = {{.pid = -1}, {.pid = -1}, {.pid = -1}};

static void setup(void)
{
    xf_pool_name(name, sizeof name, "xproc");
    xf_pool_name(name2, sizeof name2, "xprocb");
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name, CAP, &pool, &err), XMEM_OK), "%s",
              err.msg);
}

static void teardown(void)
{
    for (int i = 0; i < 3; i++)
        if (peers[i].pid > 0)
            xt_peer_stop(&peers[i]);
    xmem_pool_destroy(&other);
    xmem_pool_destroy(&pool);
}

static void start_peer(int i)
{
    int rc = xt_peer_start(&peers[i], name);
    cr_assert(eq(int, rc, XMEM_OK), "peer %d could not open %s: %d", i, name, rc);
}

/* Consumer side of a produced frame: a read-only guard with the producer's bytes and record. */
static void consume(xmem_buf_ref ref, size_t size, uint32_t seed)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_get(pool, ref, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_guard_mode(&g), XMEM_ACCESS_READ));
    cr_assert(eq(sz, xt_check(xmem_guard_data(&g), size, seed), (size_t)-1),
              "frame content differs from what the producer wrote");
    xmem_meta_t m;
    cr_assert(eq(int, xmem_guard_meta(&g, &m, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, m.ref.index, ref.index));
    cr_assert(eq(u32, m.ref.generation, ref.generation));
    cr_assert(eq(u32, m.refcount, 1));
    cr_assert(eq(int, m.dtype, XMEM_DTYPE_U8));
    cr_assert(eq(u32, m.ndim, 1));
    cr_assert(eq(i64, m.shape[0], (int64_t)size));
    cr_assert(eq(u64, m.size, size));
    cr_assert(eq(u64, m.sequence, seed));
    cr_assert(eq(u64, m.timestamp_ns, 1000u + seed));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
}

static size_t frame_sizes[] = {1, 4096, 4097, 1u << 20, (8u << 20) + 1};

ParameterizedTestParameters(cross_process, producer_to_consumer)
{
    return cr_make_param_array(size_t, frame_sizes, sizeof frame_sizes / sizeof frame_sizes[0]);
}

ParameterizedTest(size_t *size, cross_process, producer_to_consumer, .init = setup,
                  .fini = teardown, .timeout = XF_TIMEOUT)
{
    start_peer(0);
    cr_assert(not(eq(u32, peers[0].owner_id, xmem_pool_owner_id(pool))));
    xt_reply r = xt_peer_produce(&peers[0], *size, 21, xmem_pool_owner_id(pool));
    cr_assert(eq(int, r.rc, XMEM_OK), "producer: %s", r.msg);
    cr_assert(eq(u32, xf_refcount(pool, r.ref), 1));
    cr_assert(eq(u32, xmem_pool_owned_count(pool, r.ref), 1), "the reference was not handed over");
    cr_assert(eq(u32, xt_peer_ref_op(&peers[0], XT_OP_OWNED, r.ref).u32, 0));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 1));

    consume(r.ref, *size, 21);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
    cr_assert(eq(u32, xt_peer_call(&peers[0], (xt_cmd){.op = XT_OP_FREE_COUNT}).u32, CAP),
              "the producer does not see the buffer freed");
    cr_assert(eq(int, xt_peer_stop(&peers[0]), 0));
}

/* The producer detaches and exits before the consumer reads: the frame lives on. */
Test(cross_process, consumer_outlives_producer, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    start_peer(0);
    xt_reply r = xt_peer_produce(&peers[0], 65536, 3, xmem_pool_owner_id(pool));
    cr_assert(eq(int, r.rc, XMEM_OK), "producer: %s", r.msg);
    cr_assert(eq(int, xt_peer_stop(&peers[0]), 0));
    uint64_t returned = 99;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_reclaim_dead(pool, &returned, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u64, returned, 0), "the producer held nothing when it left");
    cr_assert(eq(u32, xf_refcount(pool, r.ref), 1));
    consume(r.ref, 65536, 3);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* One frame to two consumers: set_ref_count(3), one reference to each child, one kept. Every
 * process sees the counts fall, the last release frees the buffer, and everyone then sees the
 * slot's next life under a new generation while the old name is refused. */
Test(cross_process, fan_out_to_two_children, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    start_peer(0);
    start_peer(1);
    cr_assert(not(eq(u32, peers[0].owner_id, peers[1].owner_id)));

    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 1 << 16, &g, &err), XMEM_OK), "%s", err.msg);
    void *p = NULL;
    cr_assert(eq(int, xmem_guard_data_mut(&g, &p, &err), XMEM_OK));
    xt_fill(p, 1 << 16, 77);
    xmem_buf_ref ref = xmem_guard_ref(&g);
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 3, &err), XMEM_OK), "%s", err.msg);
    for (int i = 0; i < 2; i++)
        cr_assert(eq(int, xmem_pool_give(pool, ref, peers[i].owner_id, 1, &err), XMEM_OK), "%s",
                  err.msg);
    cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 1));
    for (int i = 0; i < 2; i++) {
        xt_reply c = xt_peer_ref_op(&peers[i], XT_OP_REF_COUNT, ref);
        cr_assert(eq(int, c.rc, XMEM_OK), "peer %d: %s", i, c.msg);
        cr_assert(eq(u32, c.u32, 3), "peer %d sees %u", i, c.u32);
        cr_assert(eq(u32, xt_peer_ref_op(&peers[i], XT_OP_OWNED, ref).u32, 1));
    }

    xt_reply v = xt_peer_verify(&peers[0], ref, 1 << 16, 77);
    cr_assert(eq(int, v.rc, XMEM_OK), "peer 0: %s", v.msg);
    cr_assert(eq(u32, xf_refcount(pool, ref), 2));
    cr_assert(eq(u32, xt_peer_ref_op(&peers[1], XT_OP_REF_COUNT, ref).u32, 2));
    /* the parent lets its guard go before the second child reads */
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xf_refcount(pool, ref), 1));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 1));
    v = xt_peer_verify(&peers[1], ref, 1 << 16, 77);
    cr_assert(eq(int, v.rc, XMEM_OK), "peer 1: %s", v.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP), "not freed after the last release");
    for (int i = 0; i < 2; i++)
        cr_assert(eq(u32, xt_peer_call(&peers[i], (xt_cmd){.op = XT_OP_FREE_COUNT}).u32, CAP));

    /* next life of the slot */
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 1 << 16, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref next = xmem_guard_ref(&g);
    cr_assert(eq(u32, next.index, ref.index));
    cr_assert(eq(u32, next.generation, ref.generation + 1));
    for (int i = 0; i < 2; i++) {
        xt_reply c = xt_peer_ref_op(&peers[i], XT_OP_REF_COUNT, ref);
        cr_assert(eq(int, c.rc, XMEM_ESTALE), "peer %d: ref_count of the old name: %d %s", i, c.rc,
                  c.msg);
        c = xt_peer_ref_op(&peers[i], XT_OP_GET_RC, ref);
        cr_assert(eq(int, c.rc, XMEM_ESTALE), "peer %d: get of the old name: %d %s", i, c.rc,
                  c.msg);
        c = xt_peer_ref_op(&peers[i], XT_OP_RELEASE, ref);
        cr_assert(eq(int, c.rc, XMEM_ESTALE), "peer %d: release of the old name: %d", i, c.rc);
        c = xt_peer_ref_op(&peers[i], XT_OP_REF_COUNT, next);
        cr_assert(eq(int, c.rc, XMEM_OK), "peer %d: %s", i, c.msg);
        cr_assert(eq(u32, c.u32, 1));
    }
    cr_assert(eq(u32, xf_refcount(pool, next), 1));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* Two non-creator processes: one gives to the other directly. */
Test(cross_process, peer_to_peer, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    start_peer(0);
    start_peer(1);
    xt_reply r = xt_peer_produce(&peers[0], 10000, 5, peers[1].owner_id);
    cr_assert(eq(int, r.rc, XMEM_OK), "producer: %s", r.msg);
    cr_assert(eq(u32, xmem_pool_owned_count(pool, r.ref), 0));
    cr_assert(eq(u32, xf_refcount(pool, r.ref), 1));
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_get(pool, r.ref, &g, &err), XMEM_ENOTOWNER));
    xt_reply v = xt_peer_verify(&peers[1], r.ref, 10000, 5);
    cr_assert(eq(int, v.rc, XMEM_OK), "consumer: %s", v.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* Frame after frame between two processes: the one slot is recycled each time, the generation
 * counts the frames, and no frame is mixed up with the one before. */
Test(cross_process, many_handoffs_recycle_one_slot, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    start_peer(0);
    xmem_buf_ref first = {0, 0};
    for (uint32_t i = 0; i < 300; i++) {
        xt_reply r = xt_peer_produce(&peers[0], 3000, i, xmem_pool_owner_id(pool));
        cr_assert(eq(int, r.rc, XMEM_OK), "frame %u: %s", i, r.msg);
        if (i == 0)
            first = r.ref;
        cr_assert(eq(u32, r.ref.index, first.index), "frame %u", i);
        cr_assert(eq(u32, r.ref.generation, first.generation + i), "frame %u", i);
        consume(r.ref, 3000, i);
    }
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* A handle does not survive fork(): every call on the parent's handle in the child is
 * XMEM_EFORKED and changes nothing; the child opens its own handle and that one works. */
Test(cross_process, forked_handle_is_refused, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref ref = xmem_guard_ref(&g);
    int fds[2];
    cr_assert(eq(int, pipe(fds), 0));
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(ge(int, pid, 0));
    if (pid == 0) {
        close(fds[0]);
        /* one bit per call that was not refused with XMEM_EFORKED */
        uint32_t bad = 0;
        xmem_guard_t h = XMEM_GUARD_INIT;
        uint32_t n = 0;
        uint64_t ret = 0;
        xmem_buf_ref ids[1];
        xmem_error_t e = {0};
        if (xmem_pool_acquire_cpu(pool, 4096, &h, &e) != XMEM_EFORKED)
            bad |= 1u << 0;
        if (xmem_pool_get(pool, ref, &h, &e) != XMEM_EFORKED)
            bad |= 1u << 1;
        if (xmem_pool_get_mut(pool, ref, &h, &e) != XMEM_EFORKED)
            bad |= 1u << 2;
        if (xmem_pool_add_ref(pool, ref, &e) != XMEM_EFORKED)
            bad |= 1u << 3;
        if (xmem_pool_release(pool, ref, &e) != XMEM_EFORKED)
            bad |= 1u << 4;
        if (xmem_pool_set_ref_count(pool, ref, 5, &e) != XMEM_EFORKED)
            bad |= 1u << 5;
        if (xmem_pool_give(pool, ref, 0, 1, &e) != XMEM_EFORKED)
            bad |= 1u << 6;
        if (xmem_pool_preallocate_cpu(pool, 4096, 1, ids, &e) != XMEM_EFORKED)
            bad |= 1u << 7;
        if (xmem_pool_reclaim_dead(pool, &ret, &e) != XMEM_EFORKED)
            bad |= 1u << 8;
        if (xmem_pool_ref_count(pool, ref, &n, &e) != XMEM_EFORKED)
            bad |= 1u << 9;
        if (xmem_guard_release(&g, &e) != XMEM_EFORKED) /* the parent's guard, copied */
            bad |= 1u << 10;
        if (h.pool != NULL)
            bad |= 1u << 11;
        /* the child's own handle works */
        xmem_pool_t *mine = NULL;
        if (xmem_pool_open(name, &mine, &e) != XMEM_OK) {
            bad |= 1u << 12;
        } else {
            if (xmem_pool_acquire_cpu(mine, 4096, &h, &e) != XMEM_OK ||
                xmem_guard_release(&h, &e) != XMEM_OK)
                bad |= 1u << 13;
            xmem_pool_destroy(&mine);
        }
        xf_write_all(fds[1], &bad, sizeof bad);
        _exit(0);
    }
    close(fds[1]);
    uint32_t bad = 0xffffffffu;
    bool got = xf_read_all(fds[0], &bad, sizeof bad);
    close(fds[0]);
    cr_assert(eq(int, xf_wait(pid), 0));
    cr_assert(got, "the child did not report");
    cr_assert(eq(u32, bad, 0), "calls not refused with XMEM_EFORKED (bit mask): %#x", bad);
    /* nothing changed in the parent's view */
    cr_assert(xmem_guard_valid(&g));
    cr_assert(eq(u32, xf_refcount(pool, ref), 1));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 1));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* A child that destroys the copy of the creator's handle it inherited must not remove the pool or
 * give back the parent's references: that handle is not its own. */
Test(cross_process, destroy_of_forked_handle_leaves_pool, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref ref = xmem_guard_ref(&g);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(ge(int, pid, 0));
    if (pid == 0) {
        xmem_pool_destroy(&pool);
        _exit(pool == NULL ? 0 : 1);
    }
    cr_assert(eq(int, xf_wait(pid), 0));
    cr_assert(eq(u32, xf_refcount(pool, ref), 1));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 1));
    start_peer(0); /* the pool can still be opened by name */
    xt_reply c = xt_peer_ref_op(&peers[0], XT_OP_REF_COUNT, ref);
    cr_assert(eq(int, c.rc, XMEM_OK), "%s", c.msg);
    cr_assert(eq(u32, c.u32, 1));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* owner_pid names the process behind an owner id, for as long as it is attached. */
Test(cross_process, owner_pid_of_peers, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    start_peer(0);
    start_peer(1);
    cr_assert(eq(int, (int)xmem_pool_owner_pid(pool, peers[0].owner_id), (int)peers[0].pid));
    cr_assert(eq(int, (int)xmem_pool_owner_pid(pool, peers[1].owner_id), (int)peers[1].pid));
    cr_assert(eq(int, (int)xmem_pool_owner_pid(pool, xmem_pool_owner_id(pool)), (int)getpid()));
    uint32_t id0 = peers[0].owner_id;
    cr_assert(eq(int, xt_peer_stop(&peers[0]), 0));
    cr_assert(eq(int, (int)xmem_pool_owner_pid(pool, id0), 0), "a detached slot still has a pid");
}

/* One slot, backed first by a small buffer that this process has mapped, is backed anew by another
 * process for a larger size: this process must see the new buffer, not its old mapping. */
Test(cross_process, slot_backed_anew_by_another_process, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name2, 1, &other, &err), XMEM_OK), "%s",
              err.msg);
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(other, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    void *p = NULL;
    cr_assert(eq(int, xmem_guard_data_mut(&g, &p, &err), XMEM_OK));
    xt_fill(p, 4096, 1);
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));

    int rc = xt_peer_start(&peers[0], name2);
    cr_assert(eq(int, rc, XMEM_OK), "peer could not open %s: %d", name2, rc);
    const size_t big = 2u << 20;
    xt_reply r = xt_peer_produce(&peers[0], big, 2, xmem_pool_owner_id(other));
    cr_assert(eq(int, r.rc, XMEM_OK), "producer: %s", r.msg);
    cr_assert(eq(u32, r.ref.index, 0));

    cr_assert(eq(int, xmem_pool_get(other, r.ref, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_meta_t m;
    cr_assert(eq(int, xmem_guard_meta(&g, &m, &err), XMEM_OK));
    cr_assert(ge(u64, m.capacity, big));
    cr_assert(eq(sz, xmem_guard_size(&g), big));
    cr_assert(eq(sz, xt_check(xmem_guard_data(&g), big, 2), (size_t)-1),
              "this process reads another buffer than the producer wrote");
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));

    /* and back the other way: this process backs it small again, the peer reads it */
    cr_assert(eq(int, xmem_pool_acquire_cpu(other, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_guard_data_mut(&g, &p, &err), XMEM_OK));
    xt_fill(p, 4096, 3);
    xmem_buf_ref ref = xmem_guard_ref(&g);
    cr_assert(eq(int, xmem_pool_give(other, ref, peers[0].owner_id, 1, &err), XMEM_OK), "%s",
              err.msg);
    xmem_guard_forget(&g);
    r = xt_peer_verify(&peers[0], ref, 4096, 3);
    cr_assert(eq(int, r.rc, XMEM_OK), "peer: %s", r.msg);
    cr_assert(eq(u32, xmem_pool_free_count(other), 1));
}
