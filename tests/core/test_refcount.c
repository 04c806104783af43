/* Reference counts and who owns them: add_ref, release, set_ref_count, ref_count, owned_count, and
 * the rule that a process can only use, give or take back the references it holds (a forked peer
 * holds the others). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "test_util.h"

#define CAP 16u

static char name[64];
static xmem_pool_t *pool;
static xt_peer peer = {.pid = -1};

static void setup(void)
{
    pool = xf_pool_create(name, "refcount", CAP);
}

static void teardown(void)
{
    if (peer.pid > 0)
        xt_peer_stop(&peer);
    xmem_pool_destroy(&pool);
}

static xmem_buf_ref acquire_forget(size_t size, uint32_t seed)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, size, &g, &err), XMEM_OK), "%s", err.msg);
    void *p = NULL;
    cr_assert(eq(int, xmem_guard_data_mut(&g, &p, &err), XMEM_OK));
    xt_fill(p, size, seed);
    xmem_buf_ref ref = xmem_guard_ref(&g);
    xmem_guard_forget(&g);
    return ref;
}

/* The plan: set_ref_count(2) keeps a buffer alive after its guard ends; get + release frees it. */
Test(refcount, set_ref_count_keeps_buffer_alive, .init = setup, .fini = teardown)
{
    xmem_error_t err = {0};
    xmem_buf_ref ref;
    {
        XMEM_GUARD_AUTO xmem_guard_t g = XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
        void *p = NULL;
        cr_assert(eq(int, xmem_guard_data_mut(&g, &p, &err), XMEM_OK));
        xt_fill(p, 4096, 5);
        ref = xmem_guard_ref(&g);
        cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 2, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(u32, xf_refcount(pool, ref), 2));
        cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 2));
    }
    cr_assert(eq(u32, xf_refcount(pool, ref), 1),
              "the guard's end must take exactly one reference");
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 1));

    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_get(pool, ref, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(sz, xt_check(xmem_guard_data(&g), 4096, 5), (size_t)-1), "content lost");
    cr_assert(eq(u32, xf_refcount(pool, ref), 1), "get must not change the count");
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

Test(refcount, add_ref_and_release, .init = setup, .fini = teardown)
{
    xmem_error_t err = {0};
    xmem_buf_ref ref = acquire_forget(100, 1);
    for (uint32_t i = 2; i <= 10; i++) {
        cr_assert(eq(int, xmem_pool_add_ref(pool, ref, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(u32, xf_refcount(pool, ref), i));
        cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), i));
    }
    for (uint32_t i = 10; i > 1; i--) {
        cr_assert(eq(int, xmem_pool_release(pool, ref, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(u32, xf_refcount(pool, ref), i - 1));
        cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 1), "freed with references left");
    }
    cr_assert(eq(int, xmem_pool_release(pool, ref, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
    cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 0));
}

Test(refcount, set_ref_count_up_down_and_zero, .init = setup, .fini = teardown)
{
    xmem_error_t err = {0};
    xmem_buf_ref ref = acquire_forget(100, 1);
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 5, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xf_refcount(pool, ref), 5));
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 3, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xf_refcount(pool, ref), 3));
    cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 3));
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 3, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xf_refcount(pool, ref), 3));
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 0, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP), "set_ref_count(0) must recycle");
    cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 0));
    uint32_t n = 99;
    cr_assert(not(eq(int, xmem_pool_ref_count(pool, ref, &n, NULL), XMEM_OK)));
}

Test(refcount, ref_count_without_error_struct, .init = setup, .fini = teardown)
{
    xmem_buf_ref ref = acquire_forget(10, 1);
    uint32_t n = 0;
    cr_assert(eq(int, xmem_pool_ref_count(pool, ref, &n, NULL), XMEM_OK));
    cr_assert(eq(u32, n, 1));
    cr_assert(eq(int, xmem_pool_add_ref(pool, ref, NULL), XMEM_OK));
    cr_assert(eq(int, xmem_pool_release(pool, ref, NULL), XMEM_OK));
    cr_assert(eq(int, xmem_pool_release(pool, ref, NULL), XMEM_OK));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* The plan: preallocate gives `count` buffers at refcount 1. */
Test(refcount, preallocated_buffers_start_at_one, .init = setup, .fini = teardown)
{
    xmem_buf_ref ids[4];
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_preallocate_cpu(pool, 1 << 16, 4, ids, &err), XMEM_OK), "%s",
              err.msg);
    for (int i = 0; i < 4; i++) {
        cr_assert(eq(u32, xf_refcount(pool, ids[i]), 1));
        cr_assert(eq(int, xmem_pool_release(pool, ids[i], &err), XMEM_OK), "%s", err.msg);
    }
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* A process that gave its only reference away holds none: every call that spends or uses one is
 * refused with XMEM_ENOTOWNER and nothing changes; looking at the count is still allowed. */
Test(refcount, no_reference_no_use, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    cr_assert(eq(int, xt_peer_start(&peer, name), XMEM_OK));
    xmem_error_t err = {0};
    xmem_buf_ref ref = acquire_forget(4096, 11);
    cr_assert(eq(int, xmem_pool_give(pool, ref, peer.owner_id, 1, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xf_refcount(pool, ref), 1));
    cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 0));
    cr_assert(eq(u32, xt_peer_ref_op(&peer, XT_OP_OWNED, ref).u32, 1));

    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_get(pool, ref, &g, &err), XMEM_ENOTOWNER));
    cr_assert(strstr(err.msg, name) != NULL, "message does not name the pool: %s", err.msg);
    cr_assert(not(xmem_guard_valid(&g)));
    cr_assert(eq(int, xmem_pool_get_mut(pool, ref, &g, &err), XMEM_ENOTOWNER));
    cr_assert(not(xmem_guard_valid(&g)));
    cr_assert(eq(int, xmem_pool_release(pool, ref, &err), XMEM_ENOTOWNER));
    cr_assert(eq(int, xmem_pool_add_ref(pool, ref, &err), XMEM_ENOTOWNER));
    cr_assert(eq(int, xmem_pool_give(pool, ref, peer.owner_id, 1, &err), XMEM_ENOTOWNER));
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 5, &err), XMEM_ENOTOWNER));
    cr_assert(eq(u32, xf_refcount(pool, ref), 1), "a refused call changed the count");
    cr_assert(eq(u32, xt_peer_ref_op(&peer, XT_OP_OWNED, ref).u32, 1));

    xt_reply r = xt_peer_verify(&peer, ref, 4096, 11);
    cr_assert(eq(int, r.rc, XMEM_OK), "peer: %s", r.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* set_ref_count only adds or takes this process's own references. */
Test(refcount, set_ref_count_cannot_take_others_references, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    cr_assert(eq(int, xt_peer_start(&peer, name), XMEM_OK));
    xmem_error_t err = {0};
    xmem_buf_ref ref = acquire_forget(4096, 12);
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 3, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_give(pool, ref, peer.owner_id, 2, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 1));
    cr_assert(eq(u32, xt_peer_ref_op(&peer, XT_OP_OWNED, ref).u32, 2));

    /* 3 -> 1 would take two, and this process holds one */
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 1, &err), XMEM_EINVAL));
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 0, &err), XMEM_EINVAL));
    cr_assert(eq(u32, xf_refcount(pool, ref), 3));
    cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 1));

    /* 3 -> 4 adds one of our own; 4 -> 2 takes our two */
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 4, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 2));
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 2, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 0));
    cr_assert(eq(u32, xf_refcount(pool, ref), 2));

    /* the peer gives both back; the second recycles */
    xt_reply r = xt_peer_ref_op(&peer, XT_OP_RELEASE, ref);
    cr_assert(eq(int, r.rc, XMEM_OK), "peer: %s", r.msg);
    cr_assert(eq(u32, xf_refcount(pool, ref), 1));
    r = xt_peer_verify(&peer, ref, 4096, 12);
    cr_assert(eq(int, r.rc, XMEM_OK), "peer: %s", r.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

Test(refcount, give_more_than_held_is_refused, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    cr_assert(eq(int, xt_peer_start(&peer, name), XMEM_OK));
    xmem_error_t err = {0};
    xmem_buf_ref ref = acquire_forget(64, 1);
    cr_assert(eq(int, xmem_pool_add_ref(pool, ref, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_give(pool, ref, peer.owner_id, 3, &err), XMEM_ENOTOWNER));
    cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 2));
    cr_assert(eq(u32, xt_peer_ref_op(&peer, XT_OP_OWNED, ref).u32, 0));
    cr_assert(eq(u32, xf_refcount(pool, ref), 2));
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 0, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* A count never wraps: at the largest count the pool accepts, one more is XMEM_EOVERFLOW. */
Test(refcount, count_does_not_overflow, .init = setup, .fini = teardown)
{
    xmem_error_t err = {0};
    xmem_buf_ref ref = acquire_forget(64, 1);
    /* find the largest count set_ref_count accepts */
    uint32_t lo = 1, hi = UINT32_MAX;
    xmem_err rc = xmem_pool_set_ref_count(pool, ref, hi, &err);
    if (rc == XMEM_OK) {
        lo = hi;
    } else {
        cr_assert(eq(int, rc, XMEM_EOVERFLOW), "set_ref_count(UINT32_MAX): %s", err.msg);
        while (hi - lo > 1) {
            uint32_t mid = lo + (hi - lo) / 2;
            rc = xmem_pool_set_ref_count(pool, ref, mid, &err);
            if (rc == XMEM_OK) {
                lo = mid;
            } else {
                cr_assert(eq(int, rc, XMEM_EOVERFLOW), "set_ref_count(%u): %s", mid, err.msg);
                hi = mid;
            }
        }
        cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, lo, &err), XMEM_OK), "%s", err.msg);
    }
    cr_assert(ge(u32, lo, 255), "the largest count is only %u", lo);
    cr_assert(eq(u32, xf_refcount(pool, ref), lo));
    cr_assert(eq(int, xmem_pool_add_ref(pool, ref, &err), XMEM_EOVERFLOW), "add_ref at %u", lo);
    cr_assert(eq(u32, xf_refcount(pool, ref), lo));
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 1, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_release(pool, ref, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* owned_by reads another process's count; take_back moves references from it back to us (for a
 * hand-off whose message was never delivered), refusing to take more than it holds. */
Test(refcount, owned_by_and_take_back, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    cr_assert(eq(int, xt_peer_start(&peer, name), XMEM_OK));
    xmem_error_t err = {0};
    xmem_buf_ref ref = acquire_forget(4096, 13);
    uint32_t me = xmem_pool_owner_id(pool), it = peer.owner_id;
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 4, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_give(pool, ref, it, 3, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_owned_by(pool, ref, it), 3));
    cr_assert(eq(u32, xmem_pool_owned_by(pool, ref, me), 1));
    cr_assert(eq(u32, xmem_pool_owned_by(pool, ref, XMEM_OWNER_NONE), 0));

    cr_assert(eq(int, xmem_pool_take_back(pool, ref, it, 2, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_owned_by(pool, ref, it), 1));
    cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 3));
    cr_assert(eq(u32, xt_peer_ref_op(&peer, XT_OP_OWNED, ref).u32, 1));
    cr_assert(eq(u32, xf_refcount(pool, ref), 4), "take_back changed the total");

    cr_assert(eq(int, xmem_pool_take_back(pool, ref, it, 2, &err), XMEM_ENOTOWNER));
    cr_assert(strstr(err.msg, name) != NULL, "message does not name the pool: %s", err.msg);
    cr_assert(eq(int, xmem_pool_take_back(pool, ref, XMEM_OWNER_NONE, 1, &err), XMEM_EINVAL));

    cr_assert(eq(u32, xmem_pool_owned_by(pool, ref, it), 1));
    cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 3));

    /* the rest as usual: the peer gives back its one, we our three */
    xt_reply r = xt_peer_verify(&peer, ref, 4096, 13);
    cr_assert(eq(int, r.rc, XMEM_OK), "peer: %s", r.msg);
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 0, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
    /* stale now */
    cr_assert(eq(u32, xmem_pool_owned_by(pool, ref, it), 0));
}

/* take_back needs a reference of the caller's own: holding none, nothing would keep the buffer
 * from being recycled while references move, so it is refused and moves nothing. */
Test(refcount, take_back_needs_own_reference, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    cr_assert(eq(int, xt_peer_start(&peer, name), XMEM_OK));
    xmem_error_t err = {0};
    xmem_buf_ref ref = acquire_forget(4096, 17);
    cr_assert(eq(int, xmem_pool_give(pool, ref, peer.owner_id, 1, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 0));
    cr_assert(eq(int, xmem_pool_take_back(pool, ref, peer.owner_id, 1, &err), XMEM_ENOTOWNER));
    cr_assert(strstr(err.msg, "needs a reference") != NULL, "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_owned_by(pool, ref, peer.owner_id), 1), "it moved some anyway");
    cr_assert(eq(u32, xf_refcount(pool, ref), 1));
    xt_reply r = xt_peer_verify(&peer, ref, 4096, 17); /* the peer gives it back */
    cr_assert(eq(int, r.rc, XMEM_OK), "peer: %s", r.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}
