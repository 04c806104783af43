/* Eight processes race on one small pool while a killer SIGKILLs and SIGSTOPs them at random, a
 * few thousand times; then the books are audited. Each worker process has two threads sharing one
 * handle (acquire, write, add_ref, set_ref_count, give to another worker, take_back, release) and a
 * second handle that only receives: a thread there takes what others gave it and announced in its
 * mailbox (as a descriptor would), checks it and gives it back, and now and then closes that handle
 * and opens it again while others give to it. A gift taken back is never announced, as a
 * publisher takes back only what it could not send. A killed
 * worker is reaped, reclaimed (as a launcher does, or left for the next open) and started again; a
 * stopped one is resumed after a while.
 *
 * Double hand-outs are caught twice: every acquire swaps (generation, writer) into a table slot of
 * the buffer and finds the previous generation older, and every holder checks, before it gives a
 * buffer back, that the name the writer put in its first word is still its own. At the end every
 * worker leaves, the pool must audit clean (nothing lost, no stray reference, no process slot
 * stuck) and every buffer must be acquirable once. XMEM_STRESS_SECONDS sets the killing time. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <xmem/pool_admin.h>

#include "test_util.h"

#define WORKERS 8
#define THREADS 2
#define CAP 48u
#define HOLD 3     /* buffers a thread keeps across iterations */
#define MAILBOX 32 /* gifts announced to a worker and not yet taken */

typedef struct shared {
    _Atomic int stop;
    _Atomic uint32_t inbox[WORKERS]; /* owner id of each worker's receiving handle, 0: none */
    _Atomic uint64_t mailbox[WORKERS][MAILBOX]; /* gifts announced to each: packed name + 1, 0 */
    _Atomic uint64_t claim[CAP]; /* (generation + 1) << 32 | writer, of the last hand-out */
    _Atomic uint64_t cycles, gives, take_backs, received, reopens;
    _Atomic uint64_t double_handouts, content_errors, call_errors;
    _Atomic int error_noted;
    char first_error[1024];
} shared;

static shared *sh;
static char name[64];

static void note_error(_Atomic uint64_t *counter, const char *what, xmem_err rc,
                       const xmem_error_t *err)
{
    atomic_fetch_add(counter, 1);
    int expected = 0;
    if (atomic_compare_exchange_strong(&sh->error_noted, &expected, 1))
        snprintf(sh->first_error, sizeof sh->first_error, "pid %d: %s: %s (%s)", (int)getpid(),
                 what, xmem_strerror(rc), err ? err->msg : "");
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* What a writer puts in the first three words: the buffer's name, a token and its check. */
static void stamp(void *p, xmem_buf_ref ref, uint64_t token)
{
    uint64_t *w = p;
    w[0] = (uint64_t)ref.generation << 32 | ref.index;
    w[1] = token;
    w[2] = token * 0x9e3779b97f4a7c15ull + 1;
}

static bool stamped(const void *p, xmem_buf_ref ref)
{
    const uint64_t *w = p;
    return w[0] == ((uint64_t)ref.generation << 32 | ref.index) &&
           w[2] == w[1] * 0x9e3779b97f4a7c15ull + 1;
}

typedef struct worker {
    int index;
    xmem_pool_t *work, *inbox;
} worker;

typedef struct thread_ctx {
    worker *w;
    uint64_t rng;
    xmem_guard_t held[HOLD];
} thread_ctx;

/* Acquires, claims and stamps a buffer into *g; false when the pool was full. */
static bool take_new(thread_ctx *t, xmem_guard_t *g)
{
    static const size_t sizes[] = {4096, 8192, 20000, 65536};
    xmem_error_t err;
    xmem_err rc = xmem_pool_acquire_cpu(t->w->work, sizes[next_rand(&t->rng) % 4], g, &err);
    if (rc == XMEM_EEXHAUSTED)
        return false;
    if (rc) {
        note_error(&sh->call_errors, "acquire", rc, &err);
        return false;
    }
    xmem_buf_ref ref = xmem_guard_ref(g);
    uint64_t mine = ((uint64_t)ref.generation + 1) << 32 | (uint32_t)getpid();
    uint64_t before = atomic_exchange(&sh->claim[ref.index], mine);
    if ((before >> 32) >= (mine >> 32) && (uint32_t)(before >> 32) != 0)
        note_error(&sh->double_handouts, "acquire: generation handed out before", XMEM_OK, NULL);
    void *p;
    xmem_guard_data_mut(g, &p, NULL);
    stamp(p, ref, next_rand(&t->rng));
    return true;
}

/* Checks the stamp, then gives the guard back. */
static void give_back(xmem_guard_t *g)
{
    if (!xmem_guard_valid(g))
        return;
    if (!stamped(xmem_guard_data(g), xmem_guard_ref(g)))
        note_error(&sh->content_errors, "a held buffer changed under its holder", XMEM_OK, NULL);
    xmem_error_t err;
    xmem_err rc = xmem_guard_release(g, &err);
    if (rc)
        note_error(&sh->call_errors, "release", rc, &err);
}

static uint64_t pack(xmem_buf_ref ref)
{
    return ((uint64_t)ref.generation << 32 | ref.index) + 1;
}

/* Tells worker w about a gift, as a descriptor would; false when its mailbox is full. */
static bool announce(uint32_t w, xmem_buf_ref ref)
{
    for (int i = 0; i < MAILBOX; i++) {
        uint64_t empty = 0;
        if (atomic_compare_exchange_strong(&sh->mailbox[w][i], &empty, pack(ref)))
            return true;
    }
    return false;
}

/* One thing a work thread does with a buffer it holds. */
static void play(thread_ctx *t, xmem_guard_t *g)
{
    xmem_pool_t *pool = t->w->work;
    xmem_buf_ref ref = xmem_guard_ref(g);
    xmem_error_t err;
    xmem_err rc;
    switch (next_rand(&t->rng) % 4) {
    case 0: /* more references, then back to one */
        for (int i = 0; i < 3; i++)
            if ((rc = xmem_pool_add_ref(pool, ref, &err)))
                note_error(&sh->call_errors, "add_ref", rc, &err);
        for (int i = 0; i < 3; i++)
            if ((rc = xmem_pool_release(pool, ref, &err)))
                note_error(&sh->call_errors, "release", rc, &err);
        break;
    case 1:
        if ((rc = xmem_pool_set_ref_count(pool, ref, 4, &err)) ||
            (rc = xmem_pool_set_ref_count(pool, ref, 1, &err)))
            note_error(&sh->call_errors, "set_ref_count", rc, &err);
        break;
    default: { /* a hand-off to another worker, taken back one time in three */
        uint32_t w = (uint32_t)(next_rand(&t->rng) % WORKERS);
        uint32_t to = atomic_load(&sh->inbox[w]);
        if (!to || (rc = xmem_pool_add_ref(pool, ref, &err)))
            break;
        rc = xmem_pool_give(pool, ref, to, 1, &err);
        if (rc) {
            if (rc != XMEM_EINVAL) /* the receiver is gone: the reference stays ours */
                note_error(&sh->call_errors, "give", rc, &err);
            xmem_pool_release(pool, ref, NULL);
            break;
        }
        atomic_fetch_add(&sh->gives, 1);
        if (next_rand(&t->rng) % 3 && announce(w, ref))
            break;
        {
            rc = xmem_pool_take_back(pool, ref, to, 1, &err);
            if (rc == XMEM_OK) {
                atomic_fetch_add(&sh->take_backs, 1);
                xmem_pool_release(pool, ref, NULL);
            } else if (rc != XMEM_ENOTOWNER && rc != XMEM_EINVAL) {
                /* ENOTOWNER: it took and released it already; EINVAL: it is gone */
                note_error(&sh->call_errors, "take_back", rc, &err);
            }
        }
    }
    }
}

static void *work_thread(void *arg)
{
    thread_ctx *t = arg;
    while (!atomic_load(&sh->stop)) {
        int slot = (int)(next_rand(&t->rng) % HOLD);
        if (xmem_guard_valid(&t->held[slot]))
            give_back(&t->held[slot]);
        if (take_new(t, &t->held[slot]))
            play(t, &t->held[slot]);
        atomic_fetch_add(&sh->cycles, 1);
    }
    for (int i = 0; i < HOLD; i++)
        give_back(&t->held[i]);
    return NULL;
}

/* The receiving handle: everything it owns was given to it. */
static void *inbox_thread(void *arg)
{
    worker *w = arg;
    uint64_t rng = (uint64_t)getpid() * 104729u + 7;
    while (!atomic_load(&sh->stop)) {
        if (next_rand(&rng) % 500 == 0) {
            /* Gone and back under another owner id: what was given meanwhile comes back with
             * the close, or is refused to its giver. */
            atomic_store(&sh->inbox[w->index], 0);
            xmem_pool_close(&w->inbox);
            xmem_error_t err;
            xmem_err rc = xmem_pool_open(name, &w->inbox, &err);
            if (rc) {
                note_error(&sh->call_errors, "reopen", rc, &err);
                return NULL;
            }
            atomic_store(&sh->inbox[w->index], xmem_pool_owner_id(w->inbox));
            atomic_fetch_add(&sh->reopens, 1);
        }
        for (int i = 0; i < MAILBOX; i++) {
            uint64_t packed = atomic_exchange(&sh->mailbox[w->index][i], 0);
            if (!packed--)
                continue;
            xmem_buf_ref ref = {(uint32_t)packed, (uint32_t)(packed >> 32)};
            xmem_guard_t g = XMEM_GUARD_INIT;
            /* Refused when it was given to this worker's previous incarnation or inbox (which
             * gave it back when it went). */
            if (xmem_pool_get(w->inbox, ref, &g, NULL) != XMEM_OK)
                continue;
            atomic_fetch_add(&sh->received, 1);
            give_back(&g);
        }
        sched_yield();
    }
    return NULL;
}

static void worker_main(int index)
{
    /* 24 busy threads on a small machine: below the killer, so its clock stays its own. */
    if (nice(10) == -1)
        _exit(4);
    worker w = {.index = index};
    xmem_error_t err;
    if (xmem_pool_open(name, &w.work, &err) || xmem_pool_open(name, &w.inbox, &err)) {
        note_error(&sh->call_errors, "worker open", err.code, &err);
        _exit(3);
    }
    atomic_store(&sh->inbox[index], xmem_pool_owner_id(w.inbox));
    thread_ctx t[THREADS];
    pthread_t th[THREADS + 1];
    for (int i = 0; i < THREADS; i++) {
        t[i] = (thread_ctx){.w = &w, .rng = (uint64_t)getpid() * 7919u + (uint64_t)i + 1};
        for (int k = 0; k < HOLD; k++)
            t[i].held[k] = (xmem_guard_t)XMEM_GUARD_INIT;
        pthread_create(&th[i], NULL, work_thread, &t[i]);
    }
    pthread_create(&th[THREADS], NULL, inbox_thread, &w);
    for (int i = 0; i <= THREADS; i++)
        pthread_join(th[i], NULL);
    atomic_store(&sh->inbox[index], 0);
    xmem_pool_close(&w.inbox); /* gives back whatever reached it since its last look */
    xmem_pool_close(&w.work);
    _exit(0);
}

static pid_t spawn(int index)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        worker_main(index);
    return pid;
}

Test(kill_stress, eight_processes_killed_and_stopped, .timeout = 600)
{
    xmem_pool_t *pool = xf_pool_create(name, "killstress", CAP);
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert(sh != MAP_FAILED);
    double seconds =
        getenv("XMEM_STRESS_SECONDS") ? atof(getenv("XMEM_STRESS_SECONDS")) : XF_SCALE(60.0, 30.0);
    pid_t pids[WORKERS];
    bool dying[WORKERS] = {0};
    for (int i = 0; i < WORKERS; i++)
        pids[i] = spawn(i);
    uint64_t rng = (uint64_t)getpid() | 1, kills = 0, stops = 0, reaped_by_launcher = 0;
    uint64_t end = xf_now_ns() + (uint64_t)(seconds * 1e9);
    while (xf_now_ns() < end) {
        xf_sleep_us(1000 + (long)(next_rand(&rng) % 6000));
        /* The dead are reaped as they finish dying (a killed process with busy threads takes a
         * while on a small machine), reclaimed as a launcher does (one time in five left to the
         * next open's reclaim), and started again. */
        for (int i = 0; i < WORKERS; i++) {
            if (!dying[i] || waitpid(pids[i], NULL, WNOHANG) != pids[i])
                continue;
            if (next_rand(&rng) % 5) {
                xmem_pool_reclaim_pid(pool, pids[i], NULL, NULL);
                reaped_by_launcher++;
            }
            dying[i] = false;
            pids[i] = spawn(i);
        }
        int i = (int)(next_rand(&rng) % WORKERS);
        if (dying[i])
            continue;
        if (next_rand(&rng) % 4) {
            kill(pids[i], SIGKILL);
            dying[i] = true;
            kills++;
        } else {
            kill(pids[i], SIGSTOP);
            xf_sleep_us(200 + (long)(next_rand(&rng) % 5000));
            kill(pids[i], SIGCONT);
            stops++;
        }
    }
    atomic_store(&sh->stop, 1);
    for (int i = 0; i < WORKERS; i++) {
        kill(pids[i], SIGCONT);
        int st = xf_wait(pids[i]);
        cr_expect(dying[i] || st == 0, "worker %d ended with %d", i, st);
    }

    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_reclaim_dead(pool, NULL, &err), XMEM_OK), "%s", err.msg);
    xmem_pool_audit_report rep;
    xmem_err audit = xmem_pool_audit(pool, &rep, sizeof rep, &err);
    printf("kill stress: %.0f s, %llu kills (%llu reclaimed by the launcher), %llu stops, %llu "
           "cycles, %llu gives, %llu taken back, %llu received, %llu reopens; audit: %u live, %u "
           "lost, %u stray references, %u process slots stuck; %llu double hand-outs, %llu "
           "changed under a holder, %llu call errors\n",
           seconds, (unsigned long long)kills, (unsigned long long)reaped_by_launcher,
           (unsigned long long)stops, (unsigned long long)atomic_load(&sh->cycles),
           (unsigned long long)atomic_load(&sh->gives),
           (unsigned long long)atomic_load(&sh->take_backs),
           (unsigned long long)atomic_load(&sh->received),
           (unsigned long long)atomic_load(&sh->reopens), rep.live, rep.lost, rep.stray_refs,
           rep.procs_stuck, (unsigned long long)atomic_load(&sh->double_handouts),
           (unsigned long long)atomic_load(&sh->content_errors),
           (unsigned long long)atomic_load(&sh->call_errors));
    fflush(stdout);
    cr_expect(eq(int, audit, XMEM_OK), "audit: %s", err.msg);
    cr_expect(eq(u32, rep.live, 0), "buffers still held after every worker left");
    cr_expect(eq(u32, rep.procs_attached, 1));
    cr_expect(eq(u64, atomic_load(&sh->double_handouts), 0));
    cr_expect(eq(u64, atomic_load(&sh->content_errors), 0));
    cr_expect(eq(u64, atomic_load(&sh->call_errors), 0), "first: %s", sh->first_error);
    cr_expect(gt(u64, kills, (uint64_t)(seconds * 25)), "too few kills to mean anything");

    xmem_guard_t g[CAP];
    uint32_t got = 0;
    for (; got < CAP; got++) {
        g[got] = (xmem_guard_t)XMEM_GUARD_INIT;
        if (xmem_pool_acquire_cpu(pool, 4096, &g[got], &err))
            break;
    }
    cr_expect(eq(u32, got, CAP), "%s", err.msg);
    for (uint32_t i = 0; i < got; i++)
        xmem_guard_release(&g[i], NULL);
    munmap(sh, sizeof *sh);
    xmem_pool_destroy(&pool);
}
