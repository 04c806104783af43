/* Recycling with generations: a buffer whose count reaches 0 goes back to the free list, comes back
 * under the same index with the next generation, and every name of its old life is refused without
 * touching the new one's count. */
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

static void setup(void)
{
    xf_pool_name(name, sizeof name, "recycle");
    xf_pool_name(name2, sizeof name2, "recycleb");
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name, CAP, &pool, &err), XMEM_OK), "%s",
              err.msg);
}

static void teardown(void)
{
    xmem_pool_destroy(&other);
    xmem_pool_destroy(&pool);
}

static bool is_gone(xmem_err rc)
{
    return rc == XMEM_ESTALE || rc == XMEM_EFREED;
}

static size_t recycle_sizes[] = {1, 4096, 4097, 1u << 20, (8u << 20) + 1};

ParameterizedTestParameters(recycle, same_index_next_generation)
{
    return cr_make_param_array(size_t, recycle_sizes,
                               sizeof recycle_sizes / sizeof recycle_sizes[0]);
}

/* Release to 0 frees; the next acquire of that size reuses the index with generation + 1, and the
 * process's mapping of it (no new mapping on the hot path). */
ParameterizedTest(size_t *size, recycle, same_index_next_generation, .init = setup,
                  .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, *size, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref first = xmem_guard_ref(&g);
    const void *data = xmem_guard_data(&g);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 1));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP), "release to 0 must free the buffer");

    xmem_buf_ref prev = first;
    for (int round = 1; round <= 5; round++) {
        cr_assert(eq(int, xmem_pool_acquire_cpu(pool, *size, &g, &err), XMEM_OK), "%s", err.msg);
        xmem_buf_ref ref = xmem_guard_ref(&g);
        cr_assert(eq(u32, ref.index, first.index), "round %d: another index", round);
        cr_assert(eq(u32, ref.generation, prev.generation + 1), "round %d: generation %u after %u",
                  round, ref.generation, prev.generation);
        cr_assert(eq(ptr, (void *)xmem_guard_data(&g), (void *)data),
                  "round %d: the buffer was mapped again", round);
        cr_assert(eq(u32, xf_refcount(pool, ref), 1));
        cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
        prev = ref;
    }
}

/* A new life starts with a clean record: the old layout and stamp do not leak into it. */
Test(recycle, record_is_reset, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    int64_t shape[2] = {32, 32};
    cr_assert(eq(int, xmem_guard_set_layout(&g, XMEM_DTYPE_F32, 2, shape, NULL, &err), XMEM_OK));
    cr_assert(eq(int, xmem_guard_set_stamp(&g, 5, 6, &err), XMEM_OK));
    uint32_t index = xmem_guard_index(&g);
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));

    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4000, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_guard_index(&g), index));
    xmem_meta_t m;
    cr_assert(eq(int, xmem_guard_meta(&g, &m, &err), XMEM_OK));
    cr_assert(eq(u64, m.size, 4000), "size of the old life");
    cr_assert(eq(sz, xmem_guard_size(&g), 4000));
    cr_assert(eq(int, m.dtype, XMEM_DTYPE_UNKNOWN), "dtype of the old life");
    cr_assert(eq(u32, m.ndim, 0), "shape of the old life");
    cr_assert(eq(u64, m.sequence, 0), "sequence of the old life");
    cr_assert(eq(u64, m.timestamp_ns, 0), "timestamp of the old life");
    cr_assert(eq(u32, m.refcount, 1));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
}

/* Every call that names the old generation is refused with XMEM_ESTALE, and the new buffer's count
 * and owners do not move. */
Test(recycle, stale_generation_is_refused, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref old = xmem_guard_ref(&g);
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref cur = xmem_guard_ref(&g);
    cr_assert(eq(u32, cur.index, old.index));
    cr_assert(eq(u32, cur.generation, old.generation + 1));

    xmem_guard_t h = XMEM_GUARD_INIT;
    uint32_t n = 1234;
    memset(&err, 0, sizeof err);
    cr_assert(eq(int, xmem_pool_get(pool, old, &h, &err), XMEM_ESTALE));
    cr_assert(eq(int, err.code, XMEM_ESTALE));
    cr_assert(strstr(err.msg, name) != NULL, "message does not name the pool: %s", err.msg);
    cr_assert(not(xmem_guard_valid(&h)));
    cr_assert(eq(int, xmem_pool_get_mut(pool, old, &h, &err), XMEM_ESTALE));
    cr_assert(not(xmem_guard_valid(&h)));
    cr_assert(eq(int, xmem_pool_add_ref(pool, old, &err), XMEM_ESTALE));
    cr_assert(eq(int, xmem_pool_release(pool, old, &err), XMEM_ESTALE));
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, old, 5, &err), XMEM_ESTALE));
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, old, 0, &err), XMEM_ESTALE));
    cr_assert(eq(int, xmem_pool_ref_count(pool, old, &n, &err), XMEM_ESTALE));
    cr_assert(eq(int, xmem_pool_give(pool, old, xmem_pool_owner_id(pool), 1, &err), XMEM_ESTALE));
    cr_assert(eq(u32, xmem_pool_owned_count(pool, old), 0));

    /* a generation from the future is no better */
    xmem_buf_ref future = {cur.index, cur.generation + 7};
    cr_assert(eq(int, xmem_pool_get(pool, future, &h, &err), XMEM_ESTALE));
    cr_assert(eq(int, xmem_pool_add_ref(pool, future, &err), XMEM_ESTALE));
    cr_assert(eq(int, xmem_pool_release(pool, future, &err), XMEM_ESTALE));

    cr_assert(eq(u32, xf_refcount(pool, cur), 1), "a stale name changed the new buffer's count");
    cr_assert(eq(u32, xmem_pool_owned_count(pool, cur), 1));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 1));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* A free slot is refused by every call. The header gives XMEM_EFREED for "the buffer is free" and
 * XMEM_ESTALE for "recycled: its generation is not the one named"; whether the generation moves at
 * release or at the next acquire is the pool's business, so of the two names (g, g+1) that a freed
 * slot could answer to, both must be refused with one of these codes and at least one of them must
 * say XMEM_EFREED. */
Test(recycle, freed_slot_is_refused, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref old = xmem_guard_ref(&g);
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));

    bool said_freed = false;
    for (uint32_t d = 0; d <= 1; d++) {
        xmem_buf_ref ref = {old.index, old.generation + d};
        xmem_guard_t h = XMEM_GUARD_INIT;
        uint32_t n = 0;
        xmem_err rc = xmem_pool_get(pool, ref, &h, &err);
        cr_assert(is_gone(rc), "get of a free slot (gen +%u): %d %s", d, rc, err.msg);
        cr_assert(strstr(err.msg, name) != NULL, "message does not name the pool: %s", err.msg);
        cr_assert(not(xmem_guard_valid(&h)));
        said_freed = said_freed || rc == XMEM_EFREED;
        cr_assert(is_gone(xmem_pool_get_mut(pool, ref, &h, &err)));
        cr_assert(is_gone(xmem_pool_add_ref(pool, ref, &err)));
        cr_assert(is_gone(xmem_pool_release(pool, ref, &err)));
        cr_assert(is_gone(xmem_pool_set_ref_count(pool, ref, 1, &err)));
        cr_assert(is_gone(xmem_pool_ref_count(pool, ref, &n, &err)));
        cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 0));
        cr_assert(eq(u32, xmem_pool_free_count(pool), CAP), "a call on a free slot took it");
    }
    cr_assert(said_freed, "no call said XMEM_EFREED for a free slot");

    /* the refusals did not disturb the free list: the slot comes back with the next generation */
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_guard_index(&g), old.index));
    cr_assert(eq(u32, xmem_guard_ref(&g).generation, old.generation + 1));
    cr_assert(eq(u32, xf_refcount(pool, xmem_guard_ref(&g)), 1));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
}

/* The same for a slot that has never been used. */
Test(recycle, never_used_slot_is_refused, .init = setup, .fini = teardown)
{
    bool said_freed = false;
    for (uint32_t gen = 0; gen <= 1; gen++) {
        xmem_buf_ref ref = {CAP - 1, gen};
        xmem_guard_t h = XMEM_GUARD_INIT;
        xmem_error_t err = {0};
        uint32_t n = 0;
        xmem_err rc = xmem_pool_get(pool, ref, &h, &err);
        cr_assert(is_gone(rc), "get of a never used slot (gen %u): %d %s", gen, rc, err.msg);
        said_freed = said_freed || rc == XMEM_EFREED;
        cr_assert(is_gone(xmem_pool_release(pool, ref, &err)));
        cr_assert(is_gone(xmem_pool_add_ref(pool, ref, &err)));
        cr_assert(is_gone(xmem_pool_ref_count(pool, ref, &n, &err)));
    }
    cr_assert(said_freed, "no call said XMEM_EFREED for a free slot");
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* Releasing once too often is an error and changes nothing: not the free count, and not the
 * buffer that took the slot meanwhile. */
Test(recycle, double_release_is_refused, .init = setup, .fini = teardown)
{
    xmem_error_t err = {0};
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref ref = xmem_guard_ref(&g);
    xmem_guard_forget(&g);
    cr_assert(eq(int, xmem_pool_release(pool, ref, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
    memset(&err, 0, sizeof err);
    xmem_err rc = xmem_pool_release(pool, ref, &err);
    cr_assert(is_gone(rc), "second release: %d %s", rc, err.msg);
    cr_assert(eq(int, err.code, rc));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));

    /* slot taken again: the old name's release must not give back the new owner's reference */
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_guard_index(&g), ref.index));
    cr_assert(eq(int, xmem_pool_release(pool, ref, &err), XMEM_ESTALE));
    cr_assert(eq(u32, xf_refcount(pool, xmem_guard_ref(&g)), 1));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 1));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));

    /* a guard released twice: the second is a no-op */
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* Free buffers are reused by size; when the only free records hold buffers of another size, one is
 * recycled for the new size rather than the pool reporting exhaustion. */
Test(recycle, free_records_serve_other_sizes, .init = setup, .fini = teardown)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name2, 2, &other, &err), XMEM_OK), "%s",
              err.msg);
    xmem_guard_t a = XMEM_GUARD_INIT, b = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(other, 4096, &a, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_acquire_cpu(other, 4096, &b, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_guard_release(&a, &err), XMEM_OK));
    cr_assert(eq(int, xmem_guard_release(&b, &err), XMEM_OK));
    cr_assert(eq(u32, xmem_pool_free_count(other), 2));

    for (int round = 0; round < 3; round++) {
        size_t size = round == 1 ? 4096 : (size_t)(2u << 20);
        cr_assert(eq(int, xmem_pool_acquire_cpu(other, size, &a, &err), XMEM_OK),
                  "round %d, %zu bytes: %s", round, size, err.msg);
        cr_assert(eq(int, xmem_pool_acquire_cpu(other, size, &b, &err), XMEM_OK),
                  "round %d, %zu bytes: %s", round, size, err.msg);
        void *pa = NULL, *pb = NULL;
        cr_assert(eq(int, xmem_guard_data_mut(&a, &pa, &err), XMEM_OK));
        cr_assert(eq(int, xmem_guard_data_mut(&b, &pb, &err), XMEM_OK));
        xt_fill(pa, size, 1);
        xt_fill(pb, size, 2);
        cr_assert(eq(sz, xt_check(pa, size, 1), (size_t)-1));
        xmem_meta_t m;
        cr_assert(eq(int, xmem_guard_meta(&a, &m, &err), XMEM_OK));
        cr_assert(ge(u64, m.capacity, size));
        cr_assert(eq(int, xmem_guard_release(&a, &err), XMEM_OK));
        cr_assert(eq(int, xmem_guard_release(&b, &err), XMEM_OK));
        cr_assert(eq(u32, xmem_pool_free_count(other), 2));
    }
}

/* Many short lives of one slot: the generation counts them all. */
Test(recycle, many_cycles, .init = setup, .fini = teardown)
{
    xmem_error_t err = {0};
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 256, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref first = xmem_guard_ref(&g);
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    enum { N = 20000 };
    for (uint32_t i = 1; i <= N; i++) {
        if (xmem_pool_acquire_cpu(pool, 256, &g, &err) != XMEM_OK)
            cr_fatal("cycle %u: %s", i, err.msg);
        xmem_buf_ref ref = xmem_guard_ref(&g);
        if (ref.index != first.index || ref.generation != first.generation + i)
            cr_fatal("cycle %u: got (%u, %u)", i, ref.index, ref.generation);
        if (xmem_guard_release(&g, &err) != XMEM_OK)
            cr_fatal("cycle %u: %s", i, err.msg);
    }
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* Buffers released out of order all come back, each once. */
Test(recycle, out_of_order_release, .init = setup, .fini = teardown)
{
    xmem_error_t err = {0};
    xmem_guard_t g[CAP];
    for (uint32_t i = 0; i < CAP; i++) {
        g[i] = (xmem_guard_t)XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 512, &g[i], &err), XMEM_OK), "%s", err.msg);
    }
    cr_assert(eq(u32, xmem_pool_free_count(pool), 0));
    static const int order[CAP] = {5, 0, 7, 2, 3, 6, 1, 4};
    for (uint32_t i = 0; i < CAP; i++) {
        cr_assert(eq(int, xmem_guard_release(&g[order[i]], &err), XMEM_OK));
        cr_assert(eq(u32, xmem_pool_free_count(pool), i + 1));
    }
    bool seen[CAP] = {false};
    for (uint32_t i = 0; i < CAP; i++) {
        cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 512, &g[i], &err), XMEM_OK), "%s", err.msg);
        uint32_t idx = xmem_guard_index(&g[i]);
        cr_assert(lt(u32, idx, CAP));
        cr_assert(not(seen[idx]), "index %u handed out twice", idx);
        seen[idx] = true;
    }
    for (uint32_t i = 0; i < CAP; i++)
        cr_assert(eq(int, xmem_guard_release(&g[i], &err), XMEM_OK));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}
