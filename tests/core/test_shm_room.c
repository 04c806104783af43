/* A pool in a /dev/shm too small for it, each case in a child with a private tmpfs of 16 KiB or
 * 10 MiB on /dev/shm: create fails with XMEM_ENOMEM naming /dev/shm, the bytes the pool needs and
 * the bytes free, and leaves nothing behind; a pool that fits to the last page is made and every
 * byte of it can be written; a buffer made later that does not fit is an error, not a SIGBUS, and
 * the pool goes on. A SIGBUS shows as the child dying of signal 7. Without root or mount
 * namespaces the program exits 77 (skipped). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "fixture.h"
#include "private_shm.h"

#define KIB 1024ull
#define MIB (1024ull * 1024ull)

static char pool[XMEM_POOL_NAME_MAX + 1];

static void setup(void)
{
    xf_pool_name(pool, sizeof pool, "room");
}

TestSuite(shm_room, .init = setup, .timeout = XF_TIMEOUT);

/* What a child saw, for the test to judge. */
typedef struct outcome {
    int rc;                       /* of the call under test */
    char msg[XMEM_ERROR_MSG_MAX]; /* its message */
    uint64_t need;                /* xmem_pool_shm_bytes of its options */
    int n_left;                   /* entries left in /dev/shm at the end */
    char left[512];
    char note[XMEM_ERROR_MSG_MAX + 64]; /* what else went wrong in the child, or "" */
} outcome;

/* What a child does with the pool's options (NULL: the defaults). */
typedef void (*body_fn)(const xmem_pool_options *opts, outcome *o);

typedef struct job {
    body_fn body;
    const xmem_pool_options *opts;
} job;

/* In the child: the body, then what /dev/shm holds after it. */
static void run_job(void *arg, void *report)
{
    const job *j = arg;
    outcome *o = report;
    j->body(j->opts, o);
    o->n_left = xf_shm_listing(o->left, sizeof o->left);
}

/* Runs body in a child whose /dev/shm is a fresh tmpfs of `bytes`; fails the test if the child
 * died (a SIGBUS is signal 7) or could not report. */
static outcome in_small_shm(size_t bytes, body_fn body, const xmem_pool_options *opts)
{
    outcome o = {.rc = -1};
    job j = {body, opts};
    int status = xf_in_private_shm(bytes, run_job, &j, &o, sizeof o);
    cr_assert(eq(int, status, 0), "the child %s (%d)", status < 0 ? "died of a signal" : "failed",
              status);
    cr_assert(eq(str, o.note, ""));
    return o;
}

/* Creates the pool into *p (NULL on failure): its need, code and message into o. */
static void create_with(const xmem_pool_options *opts, xmem_pool_t **p, outcome *o)
{
    xmem_error_t err = {0};
    o->need = xmem_pool_shm_bytes(opts);
    o->rc = xmem_pool_create_with(pool, opts, p, &err);
    snprintf(o->msg, sizeof o->msg, "%s", err.msg);
}

static void create_only(const xmem_pool_options *opts, outcome *o)
{
    xmem_pool_t *p = NULL;
    create_with(opts, &p, o);
    xmem_pool_destroy(&p);
}

static void assert_says(const outcome *o, const char *text)
{
    cr_assert(not(eq(ptr, strstr(o->msg, text), NULL)), "no \"%s\" in: %s", text, o->msg);
}

/* The message of a pool refused for room: /dev/shm, the pool's need, what is free of its size. */
static void assert_no_room(const outcome *o, uint64_t dev_shm_size)
{
    cr_assert(eq(int, o->rc, XMEM_ENOMEM), "rc %d: %s", o->rc, o->msg);
    char says[200];
    snprintf(says, sizeof says, "pool '%s' needs %llu bytes", pool, (unsigned long long)o->need);
    assert_says(o, says);
    snprintf(says, sizeof says, "/dev/shm has %llu bytes", (unsigned long long)dev_shm_size);
    assert_says(o, says); /* all of it free: the pool gave back what it had made */
    snprintf(says, sizeof says, "free of %llu bytes", (unsigned long long)dev_shm_size);
    assert_says(o, says);
    cr_assert(eq(int, o->n_left, 0), "left in /dev/shm: %s", o->left);
}

/* 16 KiB holds not even the metadata region's header: that is what used to kill the launcher. */
Test(shm_room, a_16k_dev_shm_refuses_the_metadata_region)
{
    outcome o = in_small_shm(16 * KIB, create_only, NULL);
    assert_no_room(&o, 16 * KIB);
    assert_says(&o, "for the metadata of its 1024 buffers");
    assert_says(&o, "docker run --shm-size");
}

/* The metadata fits, the buffers do not: refused before the first buffer, nothing left. */
Test(shm_room, a_10m_dev_shm_refuses_64_buffers_of_8m)
{
    xmem_pool_options opts;
    xmem_pool_options_init(&opts);
    opts.capacity = 64;
    opts.n_classes = 1;
    opts.classes[0] = (xmem_size_class){.size = 8 * MIB, .count = 64};
    outcome o = in_small_shm(10 * MIB, create_only, &opts);
    assert_no_room(&o, 10 * MIB);
    assert_says(&o, "536870912 bytes (512.0 MiB) of it for 64 preallocated buffers");
}

/* Options whose pool takes every page of a 10 MiB tmpfs (`extra` pages more): one buffer of
 * 2048 pages and the rest in buffers of one page, the metadata counted in whole pages. */
static xmem_pool_options filling(uint64_t extra)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), pages = 10 * MIB / page;
    xmem_pool_options opts;
    xmem_pool_options_init(&opts);
    opts.capacity = 1024;
    uint64_t meta = xmem_pool_shm_bytes(&opts) / page;
    opts.n_classes = 2;
    opts.classes[0] = (xmem_size_class){.size = 2048 * page, .count = 1};
    opts.classes[1] =
        (xmem_size_class){.size = page, .count = (uint32_t)(pages - meta - 2048 + extra)};
    return opts;
}

/* Made, written to its last byte (every page really there), destroyed. */
static void create_and_fill(const xmem_pool_options *opts, outcome *o)
{
    xmem_pool_t *p = NULL;
    create_with(opts, &p, o);
    if (o->rc)
        return;
    xmem_error_t err = {0};
    uint32_t n = opts->classes[0].count + opts->classes[1].count;
    for (uint32_t i = 0; i < n; i++) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        size_t size = i == 0 ? opts->classes[0].size : opts->classes[1].size;
        if (xmem_pool_acquire_cpu(p, size, &g, &err)) {
            snprintf(o->note, sizeof o->note, "acquire %u of the preallocated: %s", i, err.msg);
            break;
        }
        void *data;
        if (xmem_guard_data_mut(&g, &data, &err)) {
            snprintf(o->note, sizeof o->note, "buffer %u: %s", i, err.msg);
            break;
        }
        memset(data, 0xa5, size);
        xmem_guard_forget(&g); /* held, so the next acquire takes another buffer */
    }
    xmem_pool_destroy(&p);
}

Test(shm_room, a_pool_filling_dev_shm_to_the_last_page_is_made)
{
    xmem_pool_options opts = filling(0);
    outcome o = in_small_shm(10 * MIB, create_and_fill, &opts);
    cr_assert(eq(int, o.rc, XMEM_OK), "%s", o.msg);
    cr_assert(eq(u64, o.need, 10 * MIB));
    cr_assert(eq(int, o.n_left, 0), "left in /dev/shm: %s", o.left);
}

Test(shm_room, one_page_more_is_refused)
{
    xmem_pool_options opts = filling(1);
    outcome o = in_small_shm(10 * MIB, create_only, &opts);
    cr_assert(eq(u64, o.need, 10 * MIB + (uint64_t)sysconf(_SC_PAGESIZE)));
    assert_no_room(&o, 10 * MIB);
}

/* Two 4 MiB buffers fit beside the metadata, a third does not: its acquire fails naming the
 * object, the bytes it needs and the bytes free, leaves no object of it, and the pool goes on. */
static void acquire_past_the_end(const xmem_pool_options *opts, outcome *o)
{
    xmem_pool_t *p = NULL;
    create_with(opts, &p, o);
    if (o->rc) {
        snprintf(o->note, sizeof o->note, "create: %s", o->msg);
        return;
    }
    xmem_error_t err = {0};
    xmem_guard_t g[3] = {XMEM_GUARD_INIT, XMEM_GUARD_INIT, XMEM_GUARD_INIT};
    for (int i = 0; i < 2; i++) {
        if (xmem_pool_acquire_cpu(p, 4 * MIB, &g[i], &err)) {
            snprintf(o->note, sizeof o->note, "acquire %d: %s", i, err.msg);
            xmem_pool_destroy(&p);
            return;
        }
        void *data = NULL;
        xmem_guard_data_mut(&g[i], &data, NULL);
        memset(data, i + 1, 4 * MIB);
    }
    o->rc = xmem_pool_acquire_cpu(p, 4 * MIB, &g[2], &err);
    snprintf(o->msg, sizeof o->msg, "%s", err.msg);
    char objects[512];
    if (xf_shm_listing(objects, sizeof objects) != 3) /* the metadata and two buffers */
        snprintf(o->note, sizeof o->note, "after the failed acquire: %s", objects);
    /* A released buffer is there for the next acquire, as ever. */
    xmem_guard_release(&g[0], NULL);
    if (!o->note[0] && xmem_pool_acquire_cpu(p, 4 * MIB, &g[0], &err))
        snprintf(o->note, sizeof o->note, "acquire after a release: %s", err.msg);
    xmem_guard_release(&g[0], NULL);
    xmem_guard_release(&g[1], NULL);
    xmem_pool_destroy(&p);
}

Test(shm_room, a_buffer_that_does_not_fit_is_an_error_not_a_sigbus)
{
    xmem_pool_options opts;
    xmem_pool_options_init(&opts);
    opts.capacity = 16;
    outcome o = in_small_shm(10 * MIB, acquire_past_the_end, &opts);
    cr_assert(eq(int, o.rc, XMEM_ENOMEM), "rc %d: %s", o.rc, o.msg);
    char says[200];
    snprintf(says, sizeof says, "pool '%s': cannot create buffer 2 of 4194304 bytes", pool);
    assert_says(&o, says);
    snprintf(says, sizeof says,
             "no room in /dev/shm for shm object '/%s_2': it needs 4194304 bytes", pool);
    assert_says(&o, says);
    assert_says(&o, "free of 10485760 bytes");
    cr_assert(eq(int, o.n_left, 0), "left in /dev/shm: %s", o.left);
}

XF_PRIVATE_SHM_MAIN
