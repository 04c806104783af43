/* `xmem validate` and `xmem run` with a /dev/shm too small for the graph's pool, each run of the
 * real program in a child with a private tmpfs of 16 KiB or 10 MiB on /dev/shm: the graph is
 * refused before anything starts (exit 1: the machine lacks the room, not the file) at the pool
 * setting's file:line:column, naming the bytes needed and free; a node whose buffer does not fit
 * fails with that said, not of a SIGBUS; a graph that fits runs. Nothing is left in /dev/shm or
 * the runtime directory. Without root or mount namespaces the program exits 77 (skipped). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "fixture.h"
#include "private_shm.h"
#include "xmem_run.h"

#define MIB (1024ull * 1024ull)

static void setup(void)
{
    xgr_setup("room");
}

TestSuite(shm_room, .init = setup, .fini = xgr_teardown, .timeout = XF_TIMEOUT_LONG);

/* Writes the graph: `pool_extra` goes into the pool mapping, `src_params` to the source. */
static void write_graph(const char *pool_extra, const char *src_params)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "pool: {name: %s%s}\n"
             "nodes:\n"
             "  - {name: src, plugin: testsrc, params: {frames: 5, %s}}\n"
             "  - {name: sink, plugin: \"null\", inputs: {in: src/out}}\n",
             pool, pool_extra, src_params);
    write_yaml(yaml);
}

typedef struct ran {
    int status; /* of `xmem`, as xf_wait gives it (a signal is negative) */
    int n_left; /* entries in the private /dev/shm once it ended */
    char left[512];
} ran;

/* In the child: `xmem ARGS...` to its end, then what /dev/shm holds. */
static void run_in_child(void *args, void *report)
{
    ran *r = report;
    r->status = xf_wait(start_xmem(args));
    r->n_left = xf_shm_listing(r->left, sizeof r->left);
}

/* Runs `xmem ARGS...` (its output into log_path) in a child whose /dev/shm is a fresh tmpfs of
 * `bytes`. */
static ran xmem_in_small_shm(size_t bytes, const char *const *args)
{
    ran r = {0};
    int status = xf_in_private_shm(bytes, run_in_child, (void *)args, &r, sizeof r);
    cr_assert(eq(int, status, 0), "the child failed (%d)", status);
    return r;
}

static void assert_log_has(const char *text)
{
    cr_assert(log_has(text), "no \"%s\" in:\n%s", text, read_file(log_path));
}

static void assert_log_lacks(const char *text)
{
    cr_assert(not(log_has(text)), "\"%s\" in:\n%s", text, read_file(log_path));
}

/* Nothing in the private /dev/shm, no runtime directory. */
static void assert_room_clean(const ran *r)
{
    cr_assert(eq(int, r->n_left, 0), "left in /dev/shm: %s", r->left);
    char rt[256];
    snprintf(rt, sizeof rt, "%s/rt/%s", dir, pool);
    cr_assert(ne(int, access(rt, F_OK), 0), "runtime directory %s left behind", rt);
}

/* What `xmem run` prints once it would start nodes: none of it may be there. */
static void assert_nothing_started(void)
{
    assert_log_lacks("runtime directory");
    assert_log_lacks("[src]");
    assert_log_lacks("[sink]");
}

/* The bytes of a pool of `capacity` buffers and `count` preallocated of `size`. */
static unsigned long long pool_bytes(uint32_t capacity, size_t size, uint32_t count)
{
    xmem_pool_options o;
    xmem_pool_options_init(&o);
    o.capacity = capacity;
    if (count) {
        o.n_classes = 1;
        o.classes[0] = (xmem_size_class){.size = size, .count = count};
    }
    return (unsigned long long)xmem_pool_shm_bytes(&o);
}

/* 16 KiB holds not even the metadata: this used to kill the launcher with SIGBUS (exit 135). */
Test(shm_room, a_16k_dev_shm_refuses_the_graph_before_anything_starts)
{
    write_graph(", buffers: 16", "width: 64, height: 8");
    int column = (int)(strlen("pool: {name: ") + strlen(pool) + strlen(", buffers: ")) + 1;
    char says[1024];
    snprintf(says, sizeof says,
             "%s:1:%d: pool '%s' needs %llu bytes (40.0 KiB) of /dev/shm for the metadata of its "
             "16 buffers, and /dev/shm has 16384 bytes (16.0 KiB) free of 16384 bytes",
             graph, column, pool, pool_bytes(16, 0, 0));
    ran r = xmem_in_small_shm(16384, (const char *[]){"validate", graph, NULL});
    cr_assert(eq(int, r.status, 1), "%s", read_file(log_path));
    assert_log_has(says);
    r = xmem_in_small_shm(16384, (const char *[]){"run", "--interval", "0", graph, NULL});
    cr_assert(eq(int, r.status, 1), "%s", read_file(log_path));
    assert_log_has(says);
    assert_nothing_started();
    assert_room_clean(&r);
}

Test(shm_room, a_10m_dev_shm_refuses_a_preallocation_that_does_not_fit)
{
    write_graph(", preallocate: {size: 8388608, count: 2}", "width: 64, height: 8");
    int column = (int)(strlen("pool: {name: ") + strlen(pool) + strlen(", ")) + 1;
    char says[1024];
    snprintf(
        says, sizeof says,
        "%s:1:%d: pool '%s' needs %llu bytes (16.0 MiB) of /dev/shm, 16777216 bytes (16.0 MiB) "
        "of it for 2 preallocated buffers, and /dev/shm has 10485760 bytes (10.0 MiB) free of "
        "10485760 bytes",
        graph, column, pool, pool_bytes(16, 8 * MIB, 2));
    ran r = xmem_in_small_shm(10 * MIB, (const char *[]){"validate", graph, NULL});
    cr_assert(eq(int, r.status, 1), "%s", read_file(log_path));
    assert_log_has(says);
    r = xmem_in_small_shm(10 * MIB, (const char *[]){"run", "--interval", "0", graph, NULL});
    cr_assert(eq(int, r.status, 1), "%s", read_file(log_path));
    assert_log_has(says);
    assert_nothing_started();
    assert_room_clean(&r);
}

/* The pool fits, a node's 12 MiB frame does not: the source fails saying why, the run fails, and
 * nobody dies of a signal. */
Test(shm_room, a_node_whose_buffer_does_not_fit_fails_without_sigbus)
{
    write_graph("", "width: 4096, height: 1024");
    ran r = xmem_in_small_shm(10 * MIB, (const char *[]){"run", "--interval", "0", graph, NULL});
    cr_assert(eq(int, r.status, 1), "%s", read_file(log_path));
    char says[1024];
    snprintf(says, sizeof says,
             "cannot create buffer 0 of 12582912 bytes: no room in /dev/shm for shm object "
             "'/%s_0': it needs 12582912 bytes (12.0 MiB)",
             pool);
    assert_log_has(says);
    assert_log_has("node 'src' failed for good (exited with status 1)");
    assert_log_lacks("killed by signal");
    assert_room_clean(&r);
}

/* The same graph with frames that fit runs to its end in the same /dev/shm: all 16 buffers of
 * 256 KiB each (the class of 230400 bytes) take 4 MiB at most. */
Test(shm_room, a_graph_that_fits_runs)
{
    write_graph("", "width: 320, height: 240");
    ran r = xmem_in_small_shm(10 * MIB, (const char *[]){"run", "--interval", "0", graph, NULL});
    cr_assert(eq(int, r.status, 0), "%s", read_file(log_path));
    assert_log_has("[src] info: sent 5 frames of 230400 bytes");
    assert_room_clean(&r);
}

XF_PRIVATE_SHM_MAIN
