/* Guards: the scoped owner of one reference. Views (read, write, refused write), the record's
 * layout and stamp, forget, release, and XMEM_GUARD_AUTO's release at scope exit. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "test_util.h"

#define CAP 16u

static char name[64];
static xmem_pool_t *pool;

static void setup(void)
{
    pool = xf_pool_create(name, "guard", CAP);
}

static void teardown(void)
{
    xmem_pool_destroy(&pool);
}

Test(guard, empty_guard, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(not(xmem_guard_valid(&g)));
    cr_assert(eq(ptr, (void *)xmem_guard_data(&g), NULL));
    void *p = &g;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_guard_data_mut(&g, &p, &err), XMEM_EINVAL));
    cr_assert(eq(ptr, p, (void *)&g), "*out was touched");
    xmem_meta_t m;
    cr_assert(eq(int, xmem_guard_meta(&g, &m, &err), XMEM_EINVAL));
    int64_t shape[1] = {4};
    cr_assert(
        not(eq(int, xmem_guard_set_layout(&g, XMEM_DTYPE_U8, 1, shape, NULL, &err), XMEM_OK)));
    cr_assert(not(eq(int, xmem_guard_set_stamp(&g, 1, 2, &err), XMEM_OK)));
    /* releasing an empty guard is allowed and does nothing */
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    xmem_guard_forget(&g);
    cr_assert(not(xmem_guard_valid(&g)));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

Test(guard, accessors_of_an_acquired_guard, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 5000, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(xmem_guard_valid(&g));
    cr_assert(eq(int, xmem_guard_mode(&g), XMEM_ACCESS_READ_WRITE));
    cr_assert(eq(sz, xmem_guard_size(&g), 5000));
    xmem_buf_ref ref = xmem_guard_ref(&g);
    cr_assert(eq(u32, xmem_guard_index(&g), ref.index));
    cr_assert(lt(u32, ref.index, CAP));
    void *w = NULL;
    cr_assert(eq(int, xmem_guard_data_mut(&g, &w, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(ptr, w, (void *)xmem_guard_data(&g)));
    cr_assert(eq(u32, xf_refcount(pool, ref), 1));
    cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 1));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
}

/* The plan: a read-only guard refuses a mutable view. */
Test(guard, read_only_guard_refuses_write_view, .init = setup, .fini = teardown)
{
    xmem_guard_t w = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &w, &err), XMEM_OK), "%s", err.msg);
    void *wp = NULL;
    cr_assert(eq(int, xmem_guard_data_mut(&w, &wp, &err), XMEM_OK));
    xt_fill(wp, 4096, 42);
    xmem_buf_ref ref = xmem_guard_ref(&w);
    xmem_guard_forget(&w);

    xmem_guard_t r = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_get(pool, ref, &r, &err), XMEM_OK), "%s", err.msg);
    cr_assert(xmem_guard_valid(&r));
    cr_assert(eq(int, xmem_guard_mode(&r), XMEM_ACCESS_READ));
    cr_assert(eq(u32, xmem_guard_index(&r), ref.index));
    cr_assert(eq(u32, xmem_guard_ref(&r).generation, ref.generation));
    const void *rp = xmem_guard_data(&r);
    cr_assert(not(eq(ptr, (void *)rp, NULL)));
    cr_assert(eq(sz, xt_check(rp, 4096, 42), (size_t)-1));

    void *p = &r;
    memset(&err, 0, sizeof err);
    cr_assert(eq(int, xmem_guard_data_mut(&r, &p, &err), XMEM_EREADONLY));
    cr_assert(eq(ptr, p, (void *)&r), "*out was touched");
    cr_assert(eq(int, err.code, XMEM_EREADONLY));
    cr_assert(gt(sz, strlen(err.msg), 0));
    /* NULL error struct is fine too */
    cr_assert(eq(int, xmem_guard_data_mut(&r, &p, NULL), XMEM_EREADONLY));

    int64_t shape[1] = {4096};
    cr_assert(
        eq(int, xmem_guard_set_layout(&r, XMEM_DTYPE_U8, 1, shape, NULL, &err), XMEM_EREADONLY));
    cr_assert(eq(int, xmem_guard_set_stamp(&r, 1, 2, &err), XMEM_EREADONLY));
    /* the refusals changed nothing */
    cr_assert(eq(u32, xf_refcount(pool, ref), 1));
    xmem_meta_t m;
    cr_assert(eq(int, xmem_guard_meta(&r, &m, &err), XMEM_OK));
    cr_assert(eq(int, m.dtype, XMEM_DTYPE_UNKNOWN));
    cr_assert(eq(u64, m.sequence, 0));

    cr_assert(eq(int, xmem_guard_release(&r, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

Test(guard, get_mut_gives_a_write_view, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 100, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref ref = xmem_guard_ref(&g);
    xmem_guard_forget(&g);
    cr_assert(eq(int, xmem_pool_get_mut(pool, ref, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_guard_mode(&g), XMEM_ACCESS_READ_WRITE));
    void *p = NULL;
    cr_assert(eq(int, xmem_guard_data_mut(&g, &p, &err), XMEM_OK), "%s", err.msg);
    memset(p, 1, 100);
    cr_assert(eq(u32, xf_refcount(pool, ref), 1));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

typedef struct layout_case {
    xmem_dtype dtype;
    uint32_t ndim;
    int64_t shape[XMEM_MAX_NDIM];
    int64_t dense_strides[XMEM_MAX_NDIM];
} layout_case;

static layout_case layout_cases[] = {
    {XMEM_DTYPE_U8, 3, {480, 640, 3}, {1920, 3, 1}},
    {XMEM_DTYPE_F32, 2, {3, 5}, {20, 4}},
    {XMEM_DTYPE_F16, 1, {1000}, {2}},
    {XMEM_DTYPE_BF16, 4, {2, 3, 4, 5}, {120, 40, 10, 2}},
    {XMEM_DTYPE_F64, 1, {1}, {8}},
    {XMEM_DTYPE_I64, 2, {16, 16}, {128, 8}},
    {XMEM_DTYPE_BOOL, 8, {2, 2, 2, 2, 2, 2, 2, 2}, {128, 64, 32, 16, 8, 4, 2, 1}},
    {XMEM_DTYPE_U16, 0, {0}, {0}},
};

ParameterizedTestParameters(guard, set_layout)
{
    return cr_make_param_array(layout_case, layout_cases,
                               sizeof layout_cases / sizeof layout_cases[0]);
}

static size_t layout_bytes(const layout_case *c)
{
    size_t n = xmem_dtype_size(c->dtype);
    for (uint32_t i = 0; i < c->ndim; i++)
        n *= (size_t)c->shape[i];
    return n;
}

/* set_layout with NULL strides records a dense row-major layout; readers see it through get. */
ParameterizedTest(layout_case *c, guard, set_layout, .init = setup, .fini = teardown)
{
    size_t bytes = layout_bytes(c);
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, bytes, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_guard_set_layout(&g, c->dtype, c->ndim, c->shape, NULL, &err), XMEM_OK),
              "%s", err.msg);
    xmem_buf_ref ref = xmem_guard_ref(&g);
    xmem_guard_forget(&g);

    xmem_guard_t r = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_get(pool, ref, &r, &err), XMEM_OK), "%s", err.msg);
    xmem_meta_t m;
    cr_assert(eq(int, xmem_guard_meta(&r, &m, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, m.dtype, c->dtype));
    cr_assert(eq(u32, m.ndim, c->ndim));
    for (uint32_t i = 0; i < c->ndim; i++) {
        cr_assert(eq(i64, m.shape[i], c->shape[i]), "shape[%u]", i);
        cr_assert(eq(i64, m.strides[i], c->dense_strides[i]), "strides[%u]", i);
    }
    cr_assert(eq(int, xmem_guard_release(&r, &err), XMEM_OK), "%s", err.msg);
}

Test(guard, set_layout_with_strides, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    /* a 4x4 f32 view of every other column of a 4x8 f32 image */
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4 * 8 * 4, &g, &err), XMEM_OK), "%s", err.msg);
    int64_t shape[2] = {4, 4}, strides[2] = {32, 8};
    cr_assert(eq(int, xmem_guard_set_layout(&g, XMEM_DTYPE_F32, 2, shape, strides, &err), XMEM_OK),
              "%s", err.msg);
    xmem_meta_t m;
    cr_assert(eq(int, xmem_guard_meta(&g, &m, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(i64, m.strides[0], 32));
    cr_assert(eq(i64, m.strides[1], 8));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
}

Test(guard, set_layout_refuses_bad_shapes, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    int64_t ok[1] = {1024};
    cr_assert(eq(int, xmem_guard_set_layout(&g, XMEM_DTYPE_F32, 1, ok, NULL, &err), XMEM_OK), "%s",
              err.msg);

    int64_t too_big[2] = {1025, 1};
    cr_assert(
        eq(int, xmem_guard_set_layout(&g, XMEM_DTYPE_F32, 2, too_big, NULL, &err), XMEM_EINVAL));
    int64_t huge[2] = {INT64_MAX / 2, 4}; /* the byte count overflows */
    cr_assert(eq(int, xmem_guard_set_layout(&g, XMEM_DTYPE_U8, 2, huge, NULL, &err), XMEM_EINVAL));
    int64_t negative[1] = {-1};
    cr_assert(
        eq(int, xmem_guard_set_layout(&g, XMEM_DTYPE_U8, 1, negative, NULL, &err), XMEM_EINVAL));
    int64_t nine[XMEM_MAX_NDIM + 1] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    cr_assert(eq(int, xmem_guard_set_layout(&g, XMEM_DTYPE_U8, XMEM_MAX_NDIM + 1, nine, NULL, &err),
                 XMEM_EINVAL));
    cr_assert(eq(int, xmem_guard_set_layout(&g, (xmem_dtype)99, 1, ok, NULL, &err), XMEM_EINVAL));

    /* the failed calls left the last good layout alone */
    xmem_meta_t m;
    cr_assert(eq(int, xmem_guard_meta(&g, &m, &err), XMEM_OK));
    cr_assert(eq(int, m.dtype, XMEM_DTYPE_F32));
    cr_assert(eq(u32, m.ndim, 1));
    cr_assert(eq(i64, m.shape[0], 1024));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
}

/* Explicit strides are checked against the buffer too, also when the byte count they reach wraps
 * around 2^64. */
Test(guard, set_layout_refuses_strides_past_the_end, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    int64_t one[1] = {2}, past[1] = {4096};
    cr_assert(eq(int, xmem_guard_set_layout(&g, XMEM_DTYPE_U8, 1, one, past, &err), XMEM_EINVAL));
    int64_t neg[1] = {-4};
    cr_assert(eq(int, xmem_guard_set_layout(&g, XMEM_DTYPE_U8, 1, one, neg, &err), XMEM_EINVAL));
    int64_t five[1] = {5}, far[1] = {INT64_C(1) << 62};
    cr_assert(eq(int, xmem_guard_set_layout(&g, XMEM_DTYPE_U8, 1, five, far, &err), XMEM_EINVAL),
              "shape {5} strides {2^62}: reaching 2^64 bytes accepted for a 4096-byte buffer");
    int64_t two[2] = {3, 3}, wide[2] = {INT64_MAX / 2, INT64_MAX / 2};
    cr_assert(eq(int, xmem_guard_set_layout(&g, XMEM_DTYPE_U8, 2, two, wide, &err), XMEM_EINVAL),
              "shape {3, 3} strides {2^62, 2^62}: accepted for a 4096-byte buffer");
    xmem_meta_t m;
    cr_assert(eq(int, xmem_guard_meta(&g, &m, &err), XMEM_OK));
    cr_assert(eq(int, m.dtype, XMEM_DTYPE_UNKNOWN), "a refused layout was recorded");
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
}

Test(guard, set_stamp, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 64, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_guard_set_stamp(&g, 77, 123456789012345ull, &err), XMEM_OK), "%s",
              err.msg);
    xmem_buf_ref ref = xmem_guard_ref(&g);
    xmem_guard_forget(&g);
    cr_assert(eq(int, xmem_pool_get(pool, ref, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_meta_t m;
    cr_assert(eq(int, xmem_guard_meta(&g, &m, &err), XMEM_OK));
    cr_assert(eq(u64, m.sequence, 77));
    cr_assert(eq(u64, m.timestamp_ns, 123456789012345ull));
    cr_assert(eq(u64, m.size, 64));
    cr_assert(eq(u32, m.refcount, 1));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
}

/* The plan: forget leaves the refcount unchanged. */
Test(guard, forget_leaves_refcount, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref ref = xmem_guard_ref(&g);
    xmem_guard_forget(&g);
    cr_assert(not(xmem_guard_valid(&g)));
    cr_assert(eq(ptr, (void *)xmem_guard_data(&g), NULL));
    cr_assert(eq(u32, xf_refcount(pool, ref), 1));
    cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 1));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 1));
    /* releasing the emptied guard does not touch the buffer */
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    cr_assert(eq(u32, xf_refcount(pool, ref), 1));
    /* the reference is still there to be given back by name */
    cr_assert(eq(int, xmem_pool_release(pool, ref, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

Test(guard, release_empties_and_second_release_is_noop, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref ref = xmem_guard_ref(&g);
    cr_assert(eq(int, xmem_pool_add_ref(pool, ref, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xf_refcount(pool, ref), 2));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(not(xmem_guard_valid(&g)));
    cr_assert(eq(u32, xf_refcount(pool, ref), 1));
    /* an empty guard gives nothing back a second time */
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    cr_assert(eq(u32, xf_refcount(pool, ref), 1));
    cr_assert(eq(int, xmem_pool_release(pool, ref, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

static xmem_buf_ref auto_scope(size_t size, bool forget)
{
    XMEM_GUARD_AUTO xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, size, &g, &err), XMEM_OK), "%s", err.msg);
    void *p = NULL;
    cr_assert(eq(int, xmem_guard_data_mut(&g, &p, &err), XMEM_OK));
    memset(p, 3, size);
    xmem_buf_ref ref = xmem_guard_ref(&g);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 1));
    if (forget)
        xmem_guard_forget(&g);
    return ref;
}

Test(guard, auto_guard_releases_at_scope_exit, .init = setup, .fini = teardown)
{
    for (int i = 0; i < 3; i++) {
        auto_scope(4096, false);
        cr_assert(eq(u32, xmem_pool_free_count(pool), CAP), "round %d: not released", i);
    }
    {
        XMEM_GUARD_AUTO xmem_guard_t g = XMEM_GUARD_INIT;
        xmem_error_t err = {0};
        cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 10, &g, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 1));
    }
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
    {
        XMEM_GUARD_AUTO xmem_guard_t empty = XMEM_GUARD_INIT;
        (void)empty; /* an empty auto guard leaves scope quietly */
    }
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

Test(guard, auto_guard_after_forget_keeps_reference, .init = setup, .fini = teardown)
{
    xmem_buf_ref ref = auto_scope(4096, true);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 1));
    cr_assert(eq(u32, xf_refcount(pool, ref), 1));
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_release(pool, ref, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

Test(guard, auto_guard_after_explicit_release, .init = setup, .fini = teardown)
{
    xmem_buf_ref ref;
    {
        XMEM_GUARD_AUTO xmem_guard_t g = XMEM_GUARD_INIT;
        xmem_error_t err = {0};
        cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 10, &g, &err), XMEM_OK), "%s", err.msg);
        ref = xmem_guard_ref(&g);
        cr_assert(eq(int, xmem_pool_add_ref(pool, ref, &err), XMEM_OK));
        cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    }
    /* the cleanup found an empty guard: the second reference is still there */
    cr_assert(eq(u32, xf_refcount(pool, ref), 1));
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_release(pool, ref, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* Two guards on one buffer (acquire + get of an added reference): each gives back its own. */
Test(guard, two_guards_one_buffer, .init = setup, .fini = teardown)
{
    xmem_guard_t w = XMEM_GUARD_INIT, r = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &w, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref ref = xmem_guard_ref(&w);
    cr_assert(eq(int, xmem_pool_add_ref(pool, ref, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_get(pool, ref, &r, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(ptr, (void *)xmem_guard_data(&w), (void *)xmem_guard_data(&r)),
              "one process maps a buffer once");
    void *p = NULL;
    cr_assert(eq(int, xmem_guard_data_mut(&w, &p, &err), XMEM_OK));
    xt_fill(p, 4096, 9);
    cr_assert(eq(sz, xt_check(xmem_guard_data(&r), 4096, 9), (size_t)-1));
    cr_assert(eq(u32, xf_refcount(pool, ref), 2));
    cr_assert(eq(int, xmem_guard_release(&w, &err), XMEM_OK));
    cr_assert(eq(u32, xf_refcount(pool, ref), 1));
    cr_assert(eq(sz, xt_check(xmem_guard_data(&r), 4096, 9), (size_t)-1));
    cr_assert(eq(int, xmem_guard_release(&r, &err), XMEM_OK));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}
