/* Dead processes: a SIGKILLed holder's references come back through reclaim_pid / reclaim_dead (or
 * the next open), references given to live processes are untouched, the process table does not
 * fill up with the dead, and a pool whose creator was killed is detected as stale and replaced. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "test_util.h"

#define CAP 16u
#define NPEERS (XMEM_POOL_MAX_PROCS + 2)

static char name[64];
static char name2[64];
static xmem_pool_t *pool;
static xmem_pool_t *other;
static xt_peer peers[NPEERS];
static pid_t creator = -1; /* a child that created pool name2 */
static int creator_fd = -1;

static void setup(void)
{
    for (int i = 0; i < NPEERS; i++)
        peers[i].pid = -1;
    xf_pool_name(name, sizeof name, "reclaim");
    xf_pool_name(name2, sizeof name2, "stale");
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name, CAP, &pool, &err), XMEM_OK), "%s",
              err.msg);
}

static void teardown(void)
{
    for (int i = 0; i < NPEERS; i++)
        if (peers[i].pid > 0)
            xt_peer_stop(&peers[i]);
    if (creator > 0) {
        kill(creator, SIGKILL);
        xf_wait(creator);
        creator = -1;
    }
    if (creator_fd >= 0)
        close(creator_fd);
    xmem_pool_destroy(&other);
    xmem_pool_destroy(&pool);
    xmem_pool_remove_stale(name2, NULL);
}

static void assert_names_pool_msg(const xmem_error_t *err)
{
    cr_assert(strstr(err->msg, name) != NULL, "message does not name the pool: %s", err->msg);
}

static void start_peer(int i)
{
    int rc = xt_peer_start(&peers[i], name);
    cr_assert(eq(int, rc, XMEM_OK), "peer %d could not open %s: %d", i, name, rc);
}

static xmem_buf_ref peer_acquire(int i, size_t size)
{
    xt_reply r = xt_peer_acquire(&peers[i], size, (uint32_t)i);
    cr_assert(eq(int, r.rc, XMEM_OK), "peer %d: %s", i, r.msg);
    return r.ref;
}

/* A buffer of the parent's with `total` references: the parent keeps one, the rest go to peers in
 * the order given, `each` per peer. */
static xmem_buf_ref shared_buffer(uint32_t seed, const int *to, int nto, uint32_t each)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 8192, &g, &err), XMEM_OK), "%s", err.msg);
    void *p = NULL;
    cr_assert(eq(int, xmem_guard_data_mut(&g, &p, &err), XMEM_OK));
    xt_fill(p, 8192, seed);
    xmem_buf_ref ref = xmem_guard_ref(&g);
    xmem_guard_forget(&g);
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 1 + (uint32_t)nto * each, &err), XMEM_OK),
              "%s", err.msg);
    for (int k = 0; k < nto; k++)
        cr_assert(eq(int, xmem_pool_give(pool, ref, peers[to[k]].owner_id, each, &err), XMEM_OK),
                  "%s", err.msg);
    return ref;
}

/* The killed peer held three buffers of its own and two references to one of the parent's. */
static void kill_holder_then(bool by_pid)
{
    start_peer(0);
    for (int i = 0; i < 3; i++)
        peer_acquire(0, 4096 << i);
    int to[1] = {0};
    xmem_buf_ref mine = shared_buffer(1, to, 1, 2);
    cr_assert(eq(u32, xf_refcount(pool, mine), 3));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 4));

    pid_t pid = peers[0].pid;
    cr_assert(eq(int, xt_peer_kill(&peers[0]), -SIGKILL));
    /* nothing is given back by the death alone */
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 4));

    uint64_t returned = 0;
    xmem_error_t err = {0};
    if (by_pid)
        cr_assert(eq(int, xmem_pool_reclaim_pid(pool, pid, &returned, &err), XMEM_OK), "%s",
                  err.msg);
    else
        cr_assert(eq(int, xmem_pool_reclaim_dead(pool, &returned, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u64, returned, 5));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 1));
    cr_assert(eq(u32, xf_refcount(pool, mine), 1), "the parent's own reference was taken");
    cr_assert(eq(u32, xmem_pool_owned_count(pool, mine), 1));

    /* a second pass finds nothing more */
    returned = 99;
    cr_assert(eq(int, xmem_pool_reclaim_dead(pool, &returned, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u64, returned, 0));

    cr_assert(eq(int, xmem_pool_release(pool, mine, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

Test(reclaim, reclaim_pid_after_sigkill, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    kill_holder_then(true);
}

Test(reclaim, reclaim_dead_after_sigkill, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    kill_holder_then(false);
}

Test(reclaim, returned_may_be_null, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    start_peer(0);
    peer_acquire(0, 100);
    pid_t pid = peers[0].pid;
    xt_peer_kill(&peers[0]);
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_reclaim_pid(pool, pid, NULL, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
    cr_assert(eq(int, xmem_pool_reclaim_dead(pool, NULL, NULL), XMEM_OK));
}

/* References given to a live process survive the reclaim of a dead one, and stay usable. */
Test(reclaim, live_holders_are_untouched, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    start_peer(0); /* will die */
    start_peer(1); /* lives */
    peer_acquire(0, 4096);
    peer_acquire(0, 4096);
    xmem_buf_ref lives = peer_acquire(1, 4096);
    int to[2] = {0, 1};
    xmem_buf_ref shared = shared_buffer(9, to, 2, 1);
    cr_assert(eq(u32, xf_refcount(pool, shared), 3));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 4));

    xt_peer_kill(&peers[0]);
    uint64_t returned = 0;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_reclaim_dead(pool, &returned, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u64, returned, 3));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 2));
    cr_assert(eq(u32, xf_refcount(pool, shared), 2));
    cr_assert(eq(u32, xf_refcount(pool, lives), 1));
    cr_assert(eq(u32, xt_peer_ref_op(&peers[1], XT_OP_OWNED, shared).u32, 1));

    /* the living peer reclaiming finds nothing more */
    xt_reply r = xt_peer_call(&peers[1], (xt_cmd){.op = XT_OP_RECLAIM_DEAD});
    cr_assert(eq(int, r.rc, XMEM_OK), "%s", r.msg);
    cr_assert(eq(u64, r.u64, 0));

    r = xt_peer_verify(&peers[1], shared, 8192, 9);
    cr_assert(eq(int, r.rc, XMEM_OK), "live peer: %s", r.msg);
    r = xt_peer_verify(&peers[1], lives, 4096, 1);
    cr_assert(eq(int, r.rc, XMEM_OK), "live peer: %s", r.msg);
    cr_assert(eq(int, xmem_pool_release(pool, shared, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* Opening the pool reclaims whatever dead processes left. */
Test(reclaim, open_reclaims_the_dead, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    start_peer(0);
    peer_acquire(0, 4096);
    peer_acquire(0, 1 << 20);
    xt_peer_kill(&peers[0]);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 2));
    start_peer(1);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* A process that detaches while holding references does not leak them. */
Test(reclaim, detach_with_references_leaks_nothing, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    start_peer(0);
    peer_acquire(0, 4096);
    peer_acquire(0, 4096);
    int to[1] = {0};
    xmem_buf_ref shared = shared_buffer(3, to, 1, 1);
    cr_assert(eq(int, xt_peer_stop(&peers[0]), 0));
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_reclaim_dead(pool, NULL, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 1));
    cr_assert(eq(u32, xf_refcount(pool, shared), 1));
    cr_assert(eq(int, xmem_pool_release(pool, shared, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* A give to a process that has left loses nothing: the header says the references are given back;
 * the pool may instead refuse the give (XMEM_EINVAL, the giver keeps them). Either way no reference
 * is stranded in the departed process's count. */
Test(reclaim, give_to_departed_process, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    start_peer(0);
    uint32_t gone = peers[0].owner_id;
    cr_assert(eq(int, xt_peer_stop(&peers[0]), 0));
    xmem_error_t err = {0};
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 64, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref ref = xmem_guard_ref(&g);
    cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 3, &err), XMEM_OK), "%s", err.msg);
    xmem_err rc = xmem_pool_give(pool, ref, gone, 2, &err);
    if (rc == XMEM_OK) {
        cr_assert(eq(u32, xf_refcount(pool, ref), 1),
                  "references given to a departed process were kept");
        cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 1));
    } else {
        cr_assert(eq(int, rc, XMEM_EINVAL), "give to a departed process: %d %s", rc, err.msg);
        assert_names_pool_msg(&err);
        cr_assert(eq(u32, xf_refcount(pool, ref), 3), "a refused give changed the count");
        cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 3));
        cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 1, &err), XMEM_OK), "%s", err.msg);
    }
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* A give to a process that was killed but not yet reclaimed lands in its count, and the reclaim
 * gives it back with the rest. */
Test(reclaim, give_to_killed_process_comes_back, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    start_peer(0);
    peer_acquire(0, 4096);
    uint32_t dead = peers[0].owner_id;
    xt_peer_kill(&peers[0]);
    xmem_error_t err = {0};
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 64, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref ref = xmem_guard_ref(&g);
    cr_assert(eq(int, xmem_pool_add_ref(pool, ref, &err), XMEM_OK), "%s", err.msg);
    xmem_err rc = xmem_pool_give(pool, ref, dead, 1, &err);
    cr_assert(rc == XMEM_OK || rc == XMEM_EINVAL, "give to a killed process: %d %s", rc, err.msg);
    uint64_t returned = 0;
    cr_assert(eq(int, xmem_pool_reclaim_dead(pool, &returned, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u64, returned, rc == XMEM_OK ? 2u : 1u));
    cr_assert(eq(u32, xf_refcount(pool, ref), rc == XMEM_OK ? 1u : 2u));
    if (rc != XMEM_OK)
        cr_assert(eq(int, xmem_pool_release(pool, ref, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* Dead processes do not keep their slots in the process table. */
Test(reclaim, process_table_slots_come_back, .init = setup, .fini = teardown, .timeout = 120)
{
    for (int round = 0; round < XMEM_POOL_MAX_PROCS + 8; round++) {
        int rc = xt_peer_start(&peers[0], name);
        cr_assert(eq(int, rc, XMEM_OK), "round %d: open failed with %d", round, rc);
        peer_acquire(0, 4096);
        if (round % 2) {
            pid_t pid = peers[0].pid;
            xt_peer_kill(&peers[0]);
            xmem_error_t err = {0};
            cr_assert(eq(int, xmem_pool_reclaim_pid(pool, pid, NULL, &err), XMEM_OK), "%s",
                      err.msg);
        } else {
            xt_peer_kill(&peers[0]); /* left for the next open to find */
        }
    }
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_reclaim_dead(pool, NULL, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* A full process table is XMEM_EPROCS, naming the pool; one leaving makes room again. */
Test(reclaim, process_table_full, .init = setup, .fini = teardown, .timeout = 120)
{
    int started = 0, rc = XMEM_OK;
    while (started < NPEERS) {
        rc = xt_peer_start(&peers[started], name);
        if (rc != XMEM_OK)
            break;
        started++;
    }
    cr_assert(eq(int, rc, XMEM_EPROCS), "open number %d: %d", started + 1, rc);
    cr_assert(ge(int, started, XMEM_POOL_MAX_PROCS - 1));
    cr_assert(le(int, started, XMEM_POOL_MAX_PROCS));
    xf_wait(peers[started].pid);
    peers[started].pid = -1;
    close(peers[started].to);
    close(peers[started].from);

    cr_assert(eq(int, xt_peer_stop(&peers[0]), 0));
    cr_assert(eq(int, xt_peer_start(&peers[0], name), XMEM_OK));
}

/* ---- stale pools --------------------------------------------------------------------------- */

/* Forks a child that creates pool name2, acquires `hold` buffers and waits to be killed. */
static void start_creator(uint32_t hold)
{
    int fds[2];
    cr_assert(eq(int, pipe(fds), 0));
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(ge(int, pid, 0));
    if (pid == 0) {
        close(fds[0]);
        xmem_pool_t *p = NULL;
        xmem_error_t e = {0};
        int32_t rc = xmem_pool_create_with_capacity(name2, 8, &p, &e);
        for (uint32_t i = 0; rc == XMEM_OK && i < hold; i++) {
            xmem_guard_t g = XMEM_GUARD_INIT;
            rc = xmem_pool_acquire_cpu(p, 4096, &g, &e);
            xmem_guard_forget(&g);
        }
        xf_write_all(fds[1], &rc, sizeof rc);
        for (;;)
            pause();
    }
    close(fds[1]);
    creator = pid;
    creator_fd = fds[0];
    int32_t rc = -1;
    cr_assert(xf_read_all(creator_fd, &rc, sizeof rc), "the creator died");
    cr_assert(eq(int, rc, XMEM_OK), "the creator failed: %d", rc);
}

static void kill_creator(void)
{
    kill(creator, SIGKILL);
    cr_assert(eq(int, xf_wait(creator), -SIGKILL));
    creator = -1;
    close(creator_fd);
    creator_fd = -1;
}

Test(reclaim, stale_pool_is_replaced_by_create, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    start_creator(3);
    kill_creator();
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name2, 4, &other, &err), XMEM_OK), "%s",
              err.msg);
    cr_assert(eq(u32, xmem_pool_capacity(other), 4), "the old pool was kept");
    cr_assert(eq(u32, xmem_pool_free_count(other), 4));
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(other, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_guard_index(&g), 0));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
}

Test(reclaim, stale_pool_kept_when_replace_stale_is_off, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    start_creator(1);
    kill_creator();
    xmem_pool_options o;
    xmem_pool_options_init(&o);
    o.capacity = 4;
    o.replace_stale = false;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with(name2, &o, &other, &err), XMEM_EEXIST));
    cr_assert(eq(ptr, other, NULL));
    cr_assert(strstr(err.msg, name2) != NULL, "message does not name the pool: %s", err.msg);
    cr_assert(eq(int, xmem_pool_remove_stale(name2, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_create_with(name2, &o, &other, &err), XMEM_OK), "%s", err.msg);
}

Test(reclaim, remove_stale, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_remove_stale(name2, &err), XMEM_ENOENT));
    start_creator(2);
    /* while its creator lives the pool is in use */
    cr_assert(eq(int, xmem_pool_remove_stale(name2, &err), XMEM_EEXIST));
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)creator);
    cr_assert(strstr(err.msg, pid) != NULL, "message does not name the live pid %s: %s", pid,
              err.msg);
    cr_assert(eq(int, xmem_pool_open(name2, &other, &err), XMEM_OK), "%s", err.msg);
    xmem_pool_destroy(&other);

    kill_creator();
    cr_assert(eq(int, xmem_pool_remove_stale(name2, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_open(name2, &other, &err), XMEM_ENOENT));
    cr_assert(eq(int, xmem_pool_remove_stale(name2, &err), XMEM_ENOENT));

    /* our own live pool is not stale either */
    cr_assert(eq(int, xmem_pool_remove_stale(name, &err), XMEM_EEXIST));
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    cr_assert(strstr(err.msg, pid) != NULL, "message does not name the live pid %s: %s", pid,
              err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* A pool whose creator died but which a live process still uses is not stale: create refuses it
 * and names that process; once it leaves, create replaces the pool. */
Test(reclaim, pool_with_live_user_is_not_stale, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    start_creator(1);
    int rc = xt_peer_start(&peers[0], name2);
    cr_assert(eq(int, rc, XMEM_OK), "peer could not open %s: %d", name2, rc);
    xt_reply r = xt_peer_acquire(&peers[0], 4096, 4);
    cr_assert(eq(int, r.rc, XMEM_OK), "%s", r.msg);
    kill_creator();
    /* the user gives back what the dead creator held */
    xt_reply d = xt_peer_call(&peers[0], (xt_cmd){.op = XT_OP_RECLAIM_DEAD});
    cr_assert(eq(int, d.rc, XMEM_OK), "%s", d.msg);
    cr_assert(eq(u64, d.u64, 1));
    cr_assert(eq(u32, xt_peer_call(&peers[0], (xt_cmd){.op = XT_OP_FREE_COUNT}).u32, 7));

    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name2, 4, &other, &err), XMEM_EEXIST));
    cr_assert(eq(ptr, other, NULL));
    cr_assert(strstr(err.msg, name2) != NULL, "message does not name the pool: %s", err.msg);
    cr_assert(eq(int, xmem_pool_remove_stale(name2, &err), XMEM_EEXIST));
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)peers[0].pid);
    cr_assert(strstr(err.msg, pid) != NULL, "message does not name the user %s: %s", pid, err.msg);
    /* the user carries on */
    r = xt_peer_verify(&peers[0], r.ref, 4096, 4);
    cr_assert(eq(int, r.rc, XMEM_OK), "%s", r.msg);

    cr_assert(eq(int, xt_peer_stop(&peers[0]), 0));
    cr_assert(eq(int, xmem_pool_create_with_capacity(name2, 4, &other, &err), XMEM_OK), "%s",
              err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(other), 4));
}

/* A killed process that its parent has not reaped yet (a zombie) no longer runs: reclaim_dead gives
 * its references back at once, as a launcher acting on SIGCHLD needs. */
Test(reclaim, zombie_counts_as_dead, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    start_peer(0);
    peer_acquire(0, 4096);
    peer_acquire(0, 4096);
    pid_t pid = peers[0].pid;
    cr_assert(eq(int, kill(pid, SIGKILL), 0));
    /* wait until it is a zombie, without reaping it */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    cr_assert(eq(int, waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0));
    uint64_t returned = 0;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_reclaim_dead(pool, &returned, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u64, returned, 2), "a zombie's references were not given back");
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
    xt_peer_kill(&peers[0]); /* reaps it */
}

/* A process SIGKILLed at a random moment of its hot loop (acquire, write, add_ref, get, release)
 * leaks nothing: after reclaim every buffer is free, and all of them can be acquired at once (a
 * slot taken off the free list but never counted would pass the first check only). */
Test(reclaim, killed_in_hot_loop_leaks_nothing, .init = setup, .fini = teardown, .timeout = 120)
{
    for (int round = 0; round < 40; round++) {
        int fds[2];
        cr_assert(eq(int, pipe(fds), 0));
        fflush(NULL);
        pid_t pid = fork();
        cr_assert(ge(int, pid, 0));
        if (pid == 0) {
            close(fds[0]);
            xmem_pool_t *p = NULL;
            if (xmem_pool_open(name, &p, NULL) != XMEM_OK)
                _exit(1);
            char c = 1;
            xf_write_all(fds[1], &c, 1);
            for (uint64_t i = 0;; i++) {
                xmem_guard_t g = XMEM_GUARD_INIT;
                if (xmem_pool_acquire_cpu(p, 4096, &g, NULL) != XMEM_OK)
                    continue;
                void *d = NULL;
                xmem_guard_data_mut(&g, &d, NULL);
                memset(d, (int)i, 64);
                xmem_buf_ref ref = xmem_guard_ref(&g);
                xmem_pool_add_ref(p, ref, NULL);
                xmem_guard_forget(&g);
                xmem_pool_get(p, ref, &g, NULL);
                xmem_guard_release(&g, NULL);
                xmem_pool_release(p, ref, NULL);
            }
        }
        close(fds[1]);
        char c = 0;
        cr_assert(xf_read_all(fds[0], &c, 1), "round %d: the child could not open the pool", round);
        close(fds[0]);
        usleep((useconds_t)(200 + (round * 7919) % 5000));
        kill(pid, SIGKILL);
        cr_assert(eq(int, xf_wait(pid), -SIGKILL));
        xmem_error_t err = {0};
        cr_assert(eq(int, xmem_pool_reclaim_pid(pool, pid, NULL, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(u32, xmem_pool_free_count(pool), CAP),
                  "round %d: %u buffers leaked by a SIGKILL", round,
                  CAP - xmem_pool_free_count(pool));
        xmem_guard_t all[CAP];
        for (uint32_t i = 0; i < CAP; i++) {
            all[i] = (xmem_guard_t)XMEM_GUARD_INIT;
            xmem_err rc = xmem_pool_acquire_cpu(pool, 4096, &all[i], &err);
            cr_assert(eq(int, rc, XMEM_OK), "round %d: buffer %u of %u cannot be acquired: %s",
                      round, i + 1, CAP, err.msg);
        }
        for (uint32_t i = 0; i < CAP; i++)
            cr_assert(eq(int, xmem_guard_release(&all[i], &err), XMEM_OK));
    }
}
