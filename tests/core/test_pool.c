/* The pool's life and its basic calls: create (three ways), open, name, capacity, acquire_cpu over
 * a range of sizes, preallocated size classes and preallocate_cpu. Recycling, refcounts, guards,
 * exhaustion and crashes have files of their own. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

static char name[64];
static char name2[64];
static xmem_pool_t *pool;
static xmem_pool_t *other;

static void setup(void)
{
    xf_pool_name(name, sizeof name, "pool");
    xf_pool_name(name2, sizeof name2, "poolb");
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create(name, &pool, &err), XMEM_OK), "%s", err.msg);
}

static void teardown(void)
{
    xmem_pool_destroy(&other);
    xmem_pool_destroy(&pool);
}

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

Test(pool, create_defaults, .init = setup, .fini = teardown)
{
    cr_assert(not(eq(ptr, pool, NULL)));
    cr_assert(eq(str, (char *)xmem_pool_name(pool), name));
    cr_assert(eq(u32, xmem_pool_capacity(pool), XMEM_POOL_DEFAULT_CAPACITY));
    cr_assert(eq(u32, xmem_pool_free_count(pool), XMEM_POOL_DEFAULT_CAPACITY));
    cr_assert(xmem_pool_is_creator(pool));
    cr_assert(ne(u32, xmem_pool_owner_id(pool), XMEM_OWNER_NONE));
    cr_assert(eq(int, (int)xmem_pool_owner_pid(pool, xmem_pool_owner_id(pool)), (int)getpid()));
}

Test(pool, options_init_fills_defaults)
{
    xmem_pool_options o;
    memset(&o, 0xab, sizeof o);
    xmem_pool_options_init(&o);
    cr_assert(eq(u32, o.capacity, 1024));
    cr_assert(eq(u32, o.n_classes, 0));
    cr_assert(o.replace_stale);
}

Test(pool, create_with_capacity, .init = setup, .fini = teardown)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name2, 8, &other, &err), XMEM_OK), "%s",
              err.msg);
    cr_assert(eq(u32, xmem_pool_capacity(other), 8));
    cr_assert(eq(u32, xmem_pool_free_count(other), 8));
    cr_assert(eq(str, (char *)xmem_pool_name(other), name2));
    cr_assert(xmem_pool_is_creator(other));
}

Test(pool, create_with_capacity_one, .init = setup, .fini = teardown)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name2, 1, &other, &err), XMEM_OK), "%s",
              err.msg);
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(other, 100, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_guard_index(&g), 0));
    cr_assert(eq(u32, xmem_pool_free_count(other), 0));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(other), 1));
}

Test(pool, create_with_null_options_is_default, .init = setup, .fini = teardown)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with(name2, NULL, &other, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_capacity(other), XMEM_POOL_DEFAULT_CAPACITY));
    cr_assert(eq(u32, xmem_pool_free_count(other), XMEM_POOL_DEFAULT_CAPACITY));
}

/* Preallocated classes are on the free list from the start, and acquires of their sizes are served
 * from them: no new buffer is created, so every index stays among the preallocated ones (the
 * records are expected to be taken in order, 0..5 here). */
Test(pool, create_with_size_classes, .init = setup, .fini = teardown)
{
    xmem_pool_options o;
    xmem_pool_options_init(&o);
    o.capacity = 16;
    o.n_classes = 2;
    o.classes[0] = (xmem_size_class){.size = 4096, .count = 4};
    o.classes[1] = (xmem_size_class){.size = 65536, .count = 2};
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with(name2, &o, &other, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_capacity(other), 16));
    cr_assert(eq(u32, xmem_pool_free_count(other), 16), "preallocated buffers must be free");

    for (int round = 0; round < 3; round++) {
        xmem_guard_t g[6];
        bool seen[6] = {false};
        for (int i = 0; i < 6; i++) {
            g[i] = (xmem_guard_t)XMEM_GUARD_INIT;
            size_t size = i < 4 ? 4096 : 65536;
            cr_assert(eq(int, xmem_pool_acquire_cpu(other, size, &g[i], &err), XMEM_OK), "%s",
                      err.msg);
            uint32_t idx = xmem_guard_index(&g[i]);
            cr_assert(lt(u32, idx, 6),
                      "round %d: acquire of %zu got index %u, not a preallocated one", round, size,
                      idx);
            cr_assert(not(seen[idx]), "index %u handed out twice", idx);
            seen[idx] = true;
            xmem_meta_t m;
            cr_assert(eq(int, xmem_guard_meta(&g[i], &m, &err), XMEM_OK), "%s", err.msg);
            cr_assert(ge(u64, m.capacity, size));
            void *p = NULL;
            cr_assert(eq(int, xmem_guard_data_mut(&g[i], &p, &err), XMEM_OK), "%s", err.msg);
            memset(p, 0x5a, size);
        }
        cr_assert(eq(u32, xmem_pool_free_count(other), 10));
        for (int i = 0; i < 6; i++)
            cr_assert(eq(int, xmem_guard_release(&g[i], &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(u32, xmem_pool_free_count(other), 16));
    }
}

/* The original plan's first test. */
Test(pool, fresh_pool_hands_out_index_0, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 1024, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_guard_index(&g), 0));
    cr_assert(eq(u32, xmem_guard_ref(&g).index, 0));
    cr_assert(eq(u32, xmem_pool_free_count(pool), XMEM_POOL_DEFAULT_CAPACITY - 1));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
}

static size_t acquire_sizes[] = {1, 4096, 4097, 1u << 20, (8u << 20) + 1};

ParameterizedTestParameters(pool, acquire_size)
{
    return cr_make_param_array(size_t, acquire_sizes,
                               sizeof acquire_sizes / sizeof acquire_sizes[0]);
}

ParameterizedTest(size_t *size, pool, acquire_size, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, *size, &g, &err), XMEM_OK), "%zu: %s", *size,
              err.msg);
    cr_assert(xmem_guard_valid(&g));
    cr_assert(eq(int, xmem_guard_mode(&g), XMEM_ACCESS_READ_WRITE));
    cr_assert(eq(sz, xmem_guard_size(&g), *size));
    cr_assert(eq(u32, xmem_guard_index(&g), 0));

    xmem_meta_t m;
    cr_assert(eq(int, xmem_guard_meta(&g, &m, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, m.ref.index, xmem_guard_index(&g)));
    cr_assert(eq(u32, m.ref.generation, xmem_guard_ref(&g).generation));
    cr_assert(eq(u32, m.refcount, 1));
    cr_assert(eq(int, m.storage, XMEM_STORAGE_CPU));
    cr_assert(eq(i32, m.device, -1));
    cr_assert(eq(int, m.dtype, XMEM_DTYPE_UNKNOWN));
    cr_assert(eq(u32, m.ndim, 0));
    cr_assert(eq(u64, m.size, *size));
    cr_assert(ge(u64, m.capacity, *size));
    cr_assert(eq(u64, m.capacity % page_size(), 0), "capacity %llu is not a page multiple",
              (unsigned long long)m.capacity);
    cr_assert(eq(u64, m.sequence, 0));
    cr_assert(eq(u64, m.timestamp_ns, 0));

    /* the whole asked-for range is writable, and the read view sees the writes */
    void *p = NULL;
    cr_assert(eq(int, xmem_guard_data_mut(&g, &p, &err), XMEM_OK), "%s", err.msg);
    cr_assert(not(eq(ptr, p, NULL)));
    cr_assert(eq(ptr, (void *)xmem_guard_data(&g), p));
    xt_fill(p, *size, 7);
    cr_assert(eq(sz, xt_check(xmem_guard_data(&g), *size, 7), (size_t)-1));
    /* and so is the rest of the capacity */
    memset((char *)p + *size, 0xee, (size_t)(m.capacity - *size));

    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(not(xmem_guard_valid(&g)));
    cr_assert(eq(u32, xmem_pool_free_count(pool), XMEM_POOL_DEFAULT_CAPACITY));
}

Test(pool, acquires_get_distinct_buffers, .init = setup, .fini = teardown)
{
    enum { N = 8 };
    xmem_guard_t g[N];
    xmem_error_t err = {0};
    for (int i = 0; i < N; i++) {
        g[i] = (xmem_guard_t)XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 8192, &g[i], &err), XMEM_OK), "%s", err.msg);
        void *p = NULL;
        cr_assert(eq(int, xmem_guard_data_mut(&g[i], &p, &err), XMEM_OK), "%s", err.msg);
        xt_fill(p, 8192, (uint32_t)i);
    }
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < i; j++) {
            cr_assert(not(eq(u32, xmem_guard_index(&g[i]), xmem_guard_index(&g[j]))));
            cr_assert(not(eq(ptr, (void *)xmem_guard_data(&g[i]), (void *)xmem_guard_data(&g[j]))));
        }
        cr_assert(eq(sz, xt_check(xmem_guard_data(&g[i]), 8192, (uint32_t)i), (size_t)-1),
                  "buffer %d was overwritten by another one", i);
    }
    cr_assert(eq(u32, xmem_pool_free_count(pool), XMEM_POOL_DEFAULT_CAPACITY - N));
    for (int i = 0; i < N; i++)
        cr_assert(eq(int, xmem_guard_release(&g[i], &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), XMEM_POOL_DEFAULT_CAPACITY));
}

Test(pool, open_in_same_process, .init = setup, .fini = teardown)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_open(name, &other, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(str, (char *)xmem_pool_name(other), name));
    cr_assert(eq(u32, xmem_pool_capacity(other), XMEM_POOL_DEFAULT_CAPACITY));
    cr_assert(not(xmem_pool_is_creator(other)));
    cr_assert(ne(u32, xmem_pool_owner_id(other), xmem_pool_owner_id(pool)), "one id, two handles");
    cr_assert(eq(int, (int)xmem_pool_owner_pid(pool, xmem_pool_owner_id(other)), (int)getpid()));

    /* both handles see the same records */
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(other), XMEM_POOL_DEFAULT_CAPACITY - 1));
    uint32_t rc = 0;
    cr_assert(eq(int, xmem_pool_ref_count(other, xmem_guard_ref(&g), &rc, &err), XMEM_OK), "%s",
              err.msg);
    cr_assert(eq(u32, rc, 1));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(other), XMEM_POOL_DEFAULT_CAPACITY));

    /* closing an opened handle leaves the pool in place */
    xmem_pool_destroy(&other);
    cr_assert(eq(ptr, other, NULL));
    cr_assert(eq(int, xmem_pool_open(name, &other, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
}

Test(pool, open_after_destroy_is_enoent, .init = setup, .fini = teardown)
{
    xmem_pool_destroy(&pool);
    cr_assert(eq(ptr, pool, NULL));
    xmem_error_t err = {0};
    other = (xmem_pool_t *)&err; /* must be reset to NULL on failure */
    cr_assert(eq(int, xmem_pool_open(name, &other, &err), XMEM_ENOENT));
    cr_assert(eq(ptr, other, NULL));
    cr_assert(strstr(err.msg, name) != NULL, "message does not name the pool: %s", err.msg);
    /* and the name can be created again */
    cr_assert(eq(int, xmem_pool_create(name, &pool, &err), XMEM_OK), "%s", err.msg);
}

Test(pool, destroy_accepts_null)
{
    xmem_pool_destroy(NULL);
    xmem_pool_t *p = NULL;
    xmem_pool_destroy(&p);
    cr_assert(eq(ptr, p, NULL));
}

/* The plan's preallocate test: `count` buffers at refcount 1, owned by the caller. */
Test(pool, preallocate_cpu, .init = setup, .fini = teardown)
{
    enum { N = 5 };
    xmem_buf_ref ids[N];
    memset(ids, 0xff, sizeof ids);
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_preallocate_cpu(pool, 65536, N, ids, &err), XMEM_OK), "%s",
              err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), XMEM_POOL_DEFAULT_CAPACITY - N));
    for (int i = 0; i < N; i++) {
        cr_assert(lt(u32, ids[i].index, XMEM_POOL_DEFAULT_CAPACITY));
        for (int j = 0; j < i; j++)
            cr_assert(not(eq(u32, ids[i].index, ids[j].index)));
        uint32_t rc = 0;
        cr_assert(eq(int, xmem_pool_ref_count(pool, ids[i], &rc, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(u32, rc, 1));
        cr_assert(eq(u32, xmem_pool_owned_count(pool, ids[i]), 1));

        xmem_guard_t g = XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_pool_get_mut(pool, ids[i], &g, &err), XMEM_OK), "%s", err.msg);
        xmem_meta_t m;
        cr_assert(eq(int, xmem_guard_meta(&g, &m, &err), XMEM_OK), "%s", err.msg);
        cr_assert(ge(u64, m.capacity, 65536));
        void *p = NULL;
        cr_assert(eq(int, xmem_guard_data_mut(&g, &p, &err), XMEM_OK), "%s", err.msg);
        memset(p, i, 65536);
        xmem_guard_forget(&g);
    }
    /* releasing them fills the free list, and an acquire of that size reuses one of them */
    for (int i = 0; i < N; i++)
        cr_assert(eq(int, xmem_pool_release(pool, ids[i], &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), XMEM_POOL_DEFAULT_CAPACITY));
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 65536, &g, &err), XMEM_OK), "%s", err.msg);
    bool among = false;
    for (int i = 0; i < N; i++)
        among = among || ids[i].index == xmem_guard_index(&g);
    cr_assert(among, "acquire created index %u instead of reusing a preallocated buffer",
              xmem_guard_index(&g));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
}

Test(pool, preallocate_failure_keeps_nothing, .init = setup, .fini = teardown)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name2, 4, &other, &err), XMEM_OK), "%s",
              err.msg);
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(other, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref ids[4];
    xmem_err rc = xmem_pool_preallocate_cpu(other, 4096, 4, ids, &err);
    cr_assert(not(eq(int, rc, XMEM_OK)), "4 buffers preallocated in a pool with 3 free");
    cr_assert(eq(int, err.code, rc));
    cr_assert(eq(u32, xmem_pool_free_count(other), 3), "a failed preallocate kept buffers");
    /* the pool still works at full size */
    cr_assert(eq(int, xmem_pool_preallocate_cpu(other, 4096, 3, ids, &err), XMEM_OK), "%s",
              err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(other), 0));
    for (int i = 0; i < 3; i++)
        cr_assert(eq(int, xmem_pool_release(other, ids[i], &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(other), 4));
}

Test(pool, two_pools_are_independent, .init = setup, .fini = teardown)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name2, 4, &other, &err), XMEM_OK), "%s",
              err.msg);
    xmem_guard_t a = XMEM_GUARD_INIT, b = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &a, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_acquire_cpu(other, 4096, &b, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_guard_index(&a), 0));
    cr_assert(eq(u32, xmem_guard_index(&b), 0));
    void *pa = NULL, *pb = NULL;
    cr_assert(eq(int, xmem_guard_data_mut(&a, &pa, &err), XMEM_OK));
    cr_assert(eq(int, xmem_guard_data_mut(&b, &pb, &err), XMEM_OK));
    cr_assert(not(eq(ptr, pa, pb)));
    xt_fill(pa, 4096, 1);
    xt_fill(pb, 4096, 2);
    cr_assert(eq(sz, xt_check(pa, 4096, 1), (size_t)-1));
    cr_assert(eq(u32, xmem_pool_free_count(pool), XMEM_POOL_DEFAULT_CAPACITY - 1));
    cr_assert(eq(u32, xmem_pool_free_count(other), 3));
    cr_assert(eq(int, xmem_guard_release(&a, &err), XMEM_OK));
    cr_assert(eq(int, xmem_guard_release(&b, &err), XMEM_OK));
}

/* The pool's shm objects in /dev/shm: "<name>_meta" and "<name>_<digits>". Returns how many there
 * are, and fails the test if one of them is not exactly 0600. */
static int pool_objects(const char *pool_name)
{
    DIR *d = opendir("/dev/shm");
    cr_assert(not(eq(ptr, d, NULL)));
    size_t n = strlen(pool_name);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, pool_name, n) != 0 || e->d_name[n] != '_')
            continue;
        const char *rest = e->d_name + n + 1;
        bool ours =
            strcmp(rest, "meta") == 0 || (*rest && strspn(rest, "0123456789") == strlen(rest));
        if (!ours)
            continue;
        char path[300];
        snprintf(path, sizeof path, "/dev/shm/%s", e->d_name);
        struct stat st;
        cr_assert(eq(int, stat(path, &st), 0), "%s", path);
        cr_assert(eq(int, (int)(st.st_mode & 0777), 0600), "%s has mode %o", path,
                  (unsigned)(st.st_mode & 0777));
        count++;
    }
    closedir(d);
    return count;
}

/* Every shm object of a pool is private to its user (0600), and destroy by the creator removes
 * them all, also the ones of buffers still held. */
Test(pool, shm_objects_are_private_and_removed, .init = setup, .fini = teardown)
{
    mode_t old = umask(0); /* a permissive umask must not widen the objects' mode */
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name2, 8, &other, &err), XMEM_OK), "%s",
              err.msg);
    umask(old);
    xmem_guard_t g[3];
    const size_t sizes[3] = {100, 1 << 16, 1 << 20};
    for (int i = 0; i < 3; i++) {
        g[i] = (xmem_guard_t)XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_pool_acquire_cpu(other, sizes[i], &g[i], &err), XMEM_OK), "%s",
                  err.msg);
    }
    cr_assert(ge(int, pool_objects(name2), 1), "no shm object of the pool found");
    cr_assert(eq(int, xmem_guard_release(&g[0], &err), XMEM_OK));
    xmem_guard_forget(&g[1]);
    xmem_guard_forget(&g[2]);
    xmem_pool_destroy(&other);
    cr_assert(eq(int, pool_objects(name2), 0), "destroy left shm objects of the pool");
}

/* pool_id: fixed at create, the same through every handle, new for a new pool of the same name. */
Test(pool, pool_id, .init = setup, .fini = teardown)
{
    uint64_t id = xmem_pool_id(pool);
    cr_assert(not(eq(u64, id, 0)));
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_open(name, &other, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u64, xmem_pool_id(other), id));
    xmem_pool_destroy(&other);
    xmem_pool_destroy(&pool);
    cr_assert(eq(int, xmem_pool_create(name, &pool, &err), XMEM_OK), "%s", err.msg);
    cr_assert(not(eq(u64, xmem_pool_id(pool), id)), "a new pool of the name kept the old id");
}

Test(pool, owner_pid_of_this_process, .init = setup, .fini = teardown)
{
    uint32_t me = xmem_pool_owner_id(pool);
    cr_assert(eq(int, (int)xmem_pool_owner_pid(pool, me), (int)getpid()));
    cr_assert(eq(int, (int)xmem_pool_owner_pid(pool, XMEM_OWNER_NONE), 0));
    cr_assert(eq(int, (int)xmem_pool_owner_pid(pool, me + XMEM_POOL_MAX_PROCS), 0),
              "a later attachment of the same slot is not this one");
    for (uint32_t id = 0; id < 4 * XMEM_POOL_MAX_PROCS; id++)
        if (id != me)
            cr_assert(eq(int, (int)xmem_pool_owner_pid(pool, id), 0), "owner id %u", id);
}
