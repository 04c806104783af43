/* An exhausted pool: acquire fails with XMEM_EEXHAUSTED and says which pool and which processes
 * hold its buffers; nothing is taken, and freeing one buffer makes acquire work again. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>
#include <time.h>

#include "test_util.h"

#define CAP 4u

static char name[64];
static xmem_pool_t *pool;
static xt_peer peer = {.pid = -1};

static void setup(void)
{
    pool = xf_pool_create(name, "exhaust", CAP);
}

static void teardown(void)
{
    if (peer.pid > 0)
        xt_peer_stop(&peer);
    xmem_pool_destroy(&pool);
}

static bool names_pid(const char *msg, pid_t pid)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", (long)pid);
    return strstr(msg, buf) != NULL;
}

Test(exhaustion, fifth_acquire_fails, .init = setup, .fini = teardown)
{
    xmem_guard_t g[CAP];
    xmem_error_t err = {0};
    for (uint32_t i = 0; i < CAP; i++) {
        g[i] = (xmem_guard_t)XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g[i], &err), XMEM_OK), "%s", err.msg);
    }
    cr_assert(eq(u32, xmem_pool_free_count(pool), 0));

    xmem_guard_t fifth = XMEM_GUARD_INIT;
    memset(&err, 0, sizeof err);
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &fifth, &err), XMEM_EEXHAUSTED));
    cr_assert(eq(int, err.code, XMEM_EEXHAUSTED));
    cr_assert(not(xmem_guard_valid(&fifth)));
    cr_assert(strstr(err.msg, name) != NULL, "message does not name the pool: %s", err.msg);
    cr_assert(names_pid(err.msg, getpid()), "message does not name the holder %ld: %s",
              (long)getpid(), err.msg);
    /* another size is no different, and nothing was taken */
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 1, &fifth, &err), XMEM_EEXHAUSTED));
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 1 << 20, &fifth, &err), XMEM_EEXHAUSTED));
    xmem_buf_ref ids[1];
    cr_assert(eq(int, xmem_pool_preallocate_cpu(pool, 4096, 1, ids, &err), XMEM_EEXHAUSTED));
    cr_assert(eq(u32, xmem_pool_free_count(pool), 0));

    /* one back, one more out */
    uint32_t freed = xmem_guard_index(&g[2]);
    cr_assert(eq(int, xmem_guard_release(&g[2], &err), XMEM_OK));
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &fifth, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_guard_index(&fifth), freed));
    cr_assert(eq(int, xmem_guard_release(&fifth, &err), XMEM_OK));
    for (uint32_t i = 0; i < CAP; i++)
        cr_assert(eq(int, xmem_guard_release(&g[i], &err), XMEM_OK));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

Test(exhaustion, without_error_struct, .init = setup, .fini = teardown)
{
    xmem_buf_ref ids[CAP];
    cr_assert(eq(int, xmem_pool_preallocate_cpu(pool, 64, CAP, ids, NULL), XMEM_OK));
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 64, &g, NULL), XMEM_EEXHAUSTED));
    for (uint32_t i = 0; i < CAP; i++)
        cr_assert(eq(int, xmem_pool_release(pool, ids[i], NULL), XMEM_OK));
}

/* Holders in two processes: the message names both pids. */
Test(exhaustion, message_names_every_holder, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    cr_assert(eq(int, xt_peer_start(&peer, name), XMEM_OK));
    xt_reply r1 = xt_peer_acquire(&peer, 4096, 1);
    cr_assert(eq(int, r1.rc, XMEM_OK), "peer: %s", r1.msg);
    xt_reply r2 = xt_peer_acquire(&peer, 4096, 2);
    cr_assert(eq(int, r2.rc, XMEM_OK), "peer: %s", r2.msg);
    xmem_guard_t a = XMEM_GUARD_INIT, b = XMEM_GUARD_INIT, c = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &a, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &b, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &c, &err), XMEM_EEXHAUSTED));
    cr_assert(strstr(err.msg, name) != NULL, "message does not name the pool: %s", err.msg);
    cr_assert(names_pid(err.msg, getpid()), "message does not name %ld: %s", (long)getpid(),
              err.msg);
    cr_assert(names_pid(err.msg, peer.pid), "message does not name %ld: %s", (long)peer.pid,
              err.msg);

    /* the peer sees it too */
    xt_reply r3 = xt_peer_acquire(&peer, 4096, 3);
    cr_assert(eq(int, r3.rc, XMEM_EEXHAUSTED));

    /* describe_holders lists both, with snprintf's contract */
    size_t need = xmem_pool_describe_holders(pool, NULL, 0);
    cr_assert(gt(sz, need, 0));
    char full[4096];
    cr_assert(lt(sz, need, sizeof full));
    cr_assert(eq(sz, xmem_pool_describe_holders(pool, full, need + 1), need));
    cr_assert(eq(sz, strlen(full), need));
    cr_assert(names_pid(full, getpid()), "%s", full);
    cr_assert(names_pid(full, peer.pid), "%s", full);
    char small[8];
    memset(small, 'x', sizeof small);
    cr_assert(eq(sz, xmem_pool_describe_holders(pool, small, sizeof small), need));
    cr_assert(eq(int, small[sizeof small - 1], '\0'));
    cr_assert(eq(int, strncmp(small, full, sizeof small - 1), 0));

    cr_assert(eq(int, xt_peer_ref_op(&peer, XT_OP_RELEASE, r1.ref).rc, XMEM_OK));
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &c, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xt_peer_ref_op(&peer, XT_OP_RELEASE, r2.ref).rc, XMEM_OK));
    cr_assert(eq(int, xmem_guard_release(&a, &err), XMEM_OK));
    cr_assert(eq(int, xmem_guard_release(&b, &err), XMEM_OK));
    cr_assert(eq(int, xmem_guard_release(&c, &err), XMEM_OK));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* A process that releases a buffer a while later: forked, with its own handle, given the
 * references to all of them, it releases one after `delay_ms` and exits after `linger_ms`. */
static pid_t releaser(const xmem_buf_ref *refs, uint32_t n, int delay_ms, int linger_ms)
{
    int ready[2], owner_pipe[2];
    cr_assert(eq(int, pipe(ready), 0));
    cr_assert(eq(int, pipe(owner_pipe), 0));
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(ge(int, pid, 0));
    if (pid == 0) {
        xmem_pool_t *p = NULL;
        if (xmem_pool_open(name, &p, NULL) != XMEM_OK)
            _exit(1);
        uint32_t me = xmem_pool_owner_id(p);
        xf_write_all(owner_pipe[1], &me, sizeof me);
        char go;
        if (!xf_read_all(ready[0], &go, 1))
            _exit(2);
        usleep((useconds_t)delay_ms * 1000);
        if (xmem_pool_release(p, refs[0], NULL) != XMEM_OK)
            _exit(3);
        usleep((useconds_t)linger_ms * 1000);
        xmem_pool_destroy(&p); /* gives back the rest */
        _exit(0);
    }
    uint32_t owner;
    cr_assert(xf_read_all(owner_pipe[0], &owner, sizeof owner));
    for (uint32_t i = 0; i < n; i++)
        cr_assert(eq(int, xmem_pool_give(pool, refs[i], owner, 1, NULL), XMEM_OK));
    char go = 1;
    cr_assert(xf_write_all(ready[1], &go, 1));
    close(ready[0]), close(ready[1]), close(owner_pipe[0]), close(owner_pipe[1]);
    return pid;
}

/* acquire with a timeout sleeps until another process releases a buffer, and wakes soon after. */
Test(exhaustion, timeout_acquire_waits_for_a_release, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    xmem_buf_ref refs[CAP];
    xmem_error_t err = {0};
    for (uint32_t i = 0; i < CAP; i++) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
        refs[i] = xmem_guard_ref(&g);
        xmem_guard_forget(&g);
    }
    pid_t pid = releaser(refs, CAP, 150, 300);
    uint64_t t0 = (uint64_t)xf_now_ms();
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu_timeout(pool, 4096, 5000, &g, &err), XMEM_OK), "%s",
              err.msg);
    uint64_t waited = (uint64_t)xf_now_ms() - t0;
    cr_assert(ge(u64, waited, 100), "returned after %llu ms, before the release",
              (unsigned long long)waited);
    cr_assert(lt(u64, waited, 2000), "woke %llu ms after a release at 150 ms",
              (unsigned long long)waited);
    cr_assert(eq(u32, xmem_guard_index(&g), refs[0].index));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    cr_assert(eq(int, xf_wait(pid), 0));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* Nothing is released: the wait ends at the timeout with XMEM_EEXHAUSTED naming pool and wait. */
Test(exhaustion, timeout_acquire_times_out, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    xmem_guard_t g[CAP];
    xmem_error_t err = {0};
    for (uint32_t i = 0; i < CAP; i++) {
        g[i] = (xmem_guard_t)XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g[i], &err), XMEM_OK), "%s", err.msg);
    }
    uint64_t t0 = (uint64_t)xf_now_ms();
    xmem_guard_t extra = XMEM_GUARD_INIT;
    cr_assert(
        eq(int, xmem_pool_acquire_cpu_timeout(pool, 4096, 80, &extra, &err), XMEM_EEXHAUSTED));
    uint64_t waited = (uint64_t)xf_now_ms() - t0;
    cr_assert(ge(u64, waited, 80));
    cr_assert(lt(u64, waited, 1000));
    cr_assert(not(xmem_guard_valid(&extra)));
    cr_assert(strstr(err.msg, name) != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "after waiting 80 ms") != NULL, "%s", err.msg);
    /* 0 means no wait at all */
    cr_assert(eq(int, xmem_pool_acquire_cpu_timeout(pool, 4096, 0, &extra, &err), XMEM_EEXHAUSTED));
    for (uint32_t i = 0; i < CAP; i++)
        cr_assert(eq(int, xmem_guard_release(&g[i], &err), XMEM_OK));
}
