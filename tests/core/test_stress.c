/* Two processes x four threads hammer one pool: acquire, write, get, release, and random hand-offs
 * of extra references to the other process through a ring in shared memory. Each writer claims its
 * buffer by CAS-ing the first word from 0 to an id nobody else uses, so a buffer handed to two
 * writers at once shows up as a failed CAS; receivers check that a handed-off frame is still the
 * one its producer wrote. At the end every buffer is free. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#include "test_util.h"

/* The full count also under ASan+UBSan (XMEM_SANITIZE): it runs in well under a second there. */
#define TOTAL_CYCLES 1000000u

#define NPROC 2
#define NTHREAD 4
#define RING_CAP 64
#define CAP 512u

typedef struct item {
    xmem_buf_ref ref;
    uint64_t stamp; /* the producer's claim id, written at offset 8 */
    uint32_t size;
    uint32_t refs; /* references given with it */
} item;

typedef struct ring {
    pthread_mutex_t lock; /* process-shared */
    uint32_t head;
    uint32_t count;
    item items[RING_CAP];
} ring;

typedef struct shared {
    ring inbox[NPROC]; /* inbox[p]: references handed to process p */
    _Atomic uint32_t owner_id[NPROC];
    _Atomic int attached;
    _Atomic int go;
    _Atomic int abort;
    _Atomic int producers_done;
    _Atomic int finished[NPROC]; /* threads of each process that have returned */
    _Atomic uint64_t cycles;
    _Atomic uint64_t handed;   /* references given to the other process */
    _Atomic uint64_t received; /* references given back by receivers */
    _Atomic uint64_t cas_failures;
    _Atomic uint64_t claim_lost; /* the claim word changed under its writer */
    _Atomic uint64_t content_errors;
    _Atomic uint64_t call_errors;
    _Atomic int first_error_set;
    char first_error[1024];
} shared;

static char name[64];
static xmem_pool_t *pool;
static shared *sh;

static void setup(void)
{
    pool = xf_pool_create(name, "stress", CAP);
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert(not(eq(ptr, sh, MAP_FAILED)));
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    for (int p = 0; p < NPROC; p++)
        pthread_mutex_init(&sh->inbox[p].lock, &a);
    pthread_mutexattr_destroy(&a);
}

static void teardown(void)
{
    xmem_pool_destroy(&pool);
    if (sh && sh != MAP_FAILED)
        munmap(sh, sizeof *sh);
}

static void fail(const char *what, xmem_err rc, const xmem_error_t *err)
{
    atomic_fetch_add(&sh->call_errors, 1);
    if (atomic_exchange(&sh->first_error_set, 1) == 0)
        snprintf(sh->first_error, sizeof sh->first_error, "pid %ld: %s: %d %s", (long)getpid(),
                 what, (int)rc, err ? err->msg : "");
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

typedef struct worker {
    xmem_pool_t *pool;
    int proc;
    int thread;
    uint32_t cycles;
} worker;

static bool pop(int proc, item *out)
{
    ring *r = &sh->inbox[proc];
    bool got = false;
    pthread_mutex_lock(&r->lock);
    if (r->count > 0) {
        *out = r->items[r->head];
        r->head = (r->head + 1) % RING_CAP;
        r->count--;
        got = true;
    }
    pthread_mutex_unlock(&r->lock);
    return got;
}

/* Takes one handed-off frame: get, check it is the producer's and unclaimed, give the refs back. */
static bool receive_one(worker *w)
{
    item it;
    if (!pop(w->proc, &it))
        return false;
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err;
    xmem_err rc = xmem_pool_get(w->pool, it.ref, &g, &err);
    if (rc) {
        fail("get of a handed-off buffer", rc, &err);
        return true;
    }
    const unsigned char *p = xmem_guard_data(&g);
    uint64_t claim = atomic_load((_Atomic uint64_t *)(void *)p);
    uint64_t stamp = 0;
    memcpy(&stamp, p + 8, sizeof stamp);
    if (claim != 0 || stamp != it.stamp || p[it.size - 1] != (unsigned char)it.stamp)
        atomic_fetch_add(&sh->content_errors, 1);
    if ((rc = xmem_guard_release(&g, &err)))
        fail("release of a handed-off buffer", rc, &err);
    for (uint32_t k = 1; k < it.refs; k++)
        if ((rc = xmem_pool_release(w->pool, it.ref, &err)))
            fail("release of a second handed-off reference", rc, &err);
    atomic_fetch_add(&sh->received, it.refs);
    return true;
}

/* Gives `refs` extra references to the other process and queues the frame, if its inbox has room.
 */
static void hand_off(worker *w, xmem_buf_ref ref, uint64_t stamp, uint32_t size, uint32_t refs)
{
    int to = 1 - w->proc;
    ring *r = &sh->inbox[to];
    xmem_error_t err;
    xmem_err rc;
    pthread_mutex_lock(&r->lock);
    if (r->count < RING_CAP) {
        uint32_t before = 0;
        if ((rc = xmem_pool_ref_count(w->pool, ref, &before, &err)))
            fail("ref_count", rc, &err);
        if (refs == 1)
            rc = xmem_pool_add_ref(w->pool, ref, &err);
        else
            rc = xmem_pool_set_ref_count(w->pool, ref, before + refs, &err);
        if (rc) {
            fail("add_ref / set_ref_count", rc, &err);
        } else if ((rc =
                        xmem_pool_give(w->pool, ref, atomic_load(&sh->owner_id[to]), refs, &err))) {
            fail("give", rc, &err);
        } else {
            r->items[(r->head + r->count) % RING_CAP] =
                (item){.ref = ref, .stamp = stamp, .size = size, .refs = refs};
            r->count++;
            atomic_fetch_add(&sh->handed, refs);
        }
    }
    pthread_mutex_unlock(&r->lock);
}

static void *work(void *arg)
{
    worker *w = arg;
    static const uint32_t sizes[] = {64, 4096, 16384};
    uint64_t rnd = 0x9e3779b97f4a7c15ull ^ ((uint64_t)w->proc << 32) ^ (uint64_t)(w->thread + 1);
    uint64_t writer = ((uint64_t)(w->proc * NTHREAD + w->thread) + 1) << 40;
    xmem_error_t err;
    xmem_err rc;
    while (!atomic_load(&sh->go))
        sched_yield();

    for (uint32_t i = 0; i < w->cycles && !atomic_load(&sh->abort); i++) {
        uint64_t r = next_rand(&rnd);
        uint32_t size = sizes[r % 3];
        xmem_guard_t g = XMEM_GUARD_INIT;
        if ((rc = xmem_pool_acquire_cpu(w->pool, size, &g, &err))) {
            fail("acquire", rc, &err);
            continue;
        }
        void *p = NULL;
        if ((rc = xmem_guard_data_mut(&g, &p, &err))) {
            fail("data_mut", rc, &err);
            xmem_guard_release(&g, NULL);
            continue;
        }
        _Atomic uint64_t *claim = p;
        uint64_t id = writer | (uint64_t)i;
        uint64_t zero = 0;
        if (!atomic_compare_exchange_strong(claim, &zero, id))
            atomic_fetch_add(&sh->cas_failures, 1);
        memcpy((char *)p + 8, &id, sizeof id);
        ((unsigned char *)p)[size - 1] = (unsigned char)id;

        uint32_t variant = (uint32_t)(r >> 8) % 8;
        xmem_buf_ref ref = xmem_guard_ref(&g);
        if (variant == 2 || variant == 3) {
            /* hand the reference from the guard to a new one by name */
            xmem_guard_forget(&g);
            if ((rc = xmem_pool_get_mut(w->pool, ref, &g, &err))) {
                fail("get_mut", rc, &err);
                continue;
            }
            if ((rc = xmem_guard_data_mut(&g, &p, &err)))
                fail("data_mut after get_mut", rc, &err);
        }
        if (atomic_load(claim) != id)
            atomic_fetch_add(&sh->claim_lost, 1);
        atomic_store(claim, 0);
        if (variant < 2)
            hand_off(w, ref, id, size, 1 + (uint32_t)((r >> 16) % 2));
        if ((rc = xmem_guard_release(&g, &err)))
            fail("release", rc, &err);
        atomic_fetch_add(&sh->cycles, 1);
        receive_one(w);
    }

    atomic_fetch_add(&sh->producers_done, 1);
    for (;;) {
        if (receive_one(w))
            continue;
        if (atomic_load(&sh->abort))
            break;
        if (atomic_load(&sh->producers_done) == NPROC * NTHREAD) {
            /* no more pushes: drain what is left, then stop */
            while (receive_one(w))
                ;
            break;
        }
        sched_yield();
    }
    atomic_fetch_add(&sh->finished[w->proc], 1);
    return NULL;
}

typedef struct crew {
    pthread_t t[NTHREAD];
    worker w[NTHREAD];
    int started;
} crew;

static void crew_start(crew *c, xmem_pool_t *p, int proc)
{
    c->started = 0;
    for (int i = 0; i < NTHREAD; i++) {
        c->w[i] = (worker){
            .pool = p, .proc = proc, .thread = i, .cycles = TOTAL_CYCLES / (NPROC * NTHREAD)};
        if (pthread_create(&c->t[i], NULL, work, &c->w[i]) != 0) {
            atomic_store(&sh->abort, 1);
            return;
        }
        c->started++;
    }
}

static int crew_join(crew *c)
{
    for (int i = 0; i < c->started; i++)
        pthread_join(c->t[i], NULL);
    return c->started == NTHREAD ? 0 : -1;
}

Test(stress, two_processes_four_threads, .init = setup, .fini = teardown, .timeout = 240)
{
    atomic_store(&sh->owner_id[0], xmem_pool_owner_id(pool));
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(ge(int, pid, 0));
    if (pid == 0) {
        xmem_pool_t *mine = NULL;
        xmem_error_t err;
        xmem_err rc = xmem_pool_open(name, &mine, &err);
        if (rc) {
            fail("open in the second process", rc, &err);
            atomic_store(&sh->abort, 1);
            _exit(1);
        }
        atomic_store(&sh->owner_id[1], xmem_pool_owner_id(mine));
        atomic_fetch_add(&sh->attached, 1);
        crew c;
        crew_start(&c, mine, 1);
        int st = crew_join(&c);
        xmem_pool_destroy(&mine);
        _exit(st == 0 ? 0 : 1);
    }

    double deadline = (xf_now_ns() / 1e9) + 20;
    while (atomic_load(&sh->attached) == 0 && !atomic_load(&sh->abort) &&
           (xf_now_ns() / 1e9) < deadline)
        sched_yield();
    cr_assert(eq(int, atomic_load(&sh->attached), 1), "the second process did not attach: %s",
              sh->first_error);

    double t0 = (xf_now_ns() / 1e9);
    atomic_store(&sh->go, 1);
    crew c;
    crew_start(&c, pool, 0);
    /* if the other process dies, stop ours instead of waiting for its hand-offs forever */
    int child = -1000;
    bool reaped = false;
    while (atomic_load(&sh->finished[0]) < c.started) {
        int status = 0;
        if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
            reaped = true;
            child = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
            if (child != 0 || atomic_load(&sh->finished[1]) < NTHREAD)
                atomic_store(&sh->abort, 1);
        }
        usleep(2000);
    }
    int st = crew_join(&c);
    if (!reaped)
        child = xf_wait(pid);
    double dt = (xf_now_ns() / 1e9) - t0;
    cr_log_info("%u cycles, %llu references handed across, in %.2f s", TOTAL_CYCLES,
                (unsigned long long)atomic_load(&sh->handed), dt);

    cr_assert(eq(int, st, 0), "could not start the threads");
    cr_assert(eq(int, child, 0), "the second process ended with %d", child);
    cr_assert(eq(u64, atomic_load(&sh->call_errors), 0), "%llu failed calls, first: %s",
              (unsigned long long)atomic_load(&sh->call_errors), sh->first_error);
    cr_assert(eq(u64, atomic_load(&sh->cas_failures), 0),
              "a buffer was handed to two writers (%llu times)",
              (unsigned long long)atomic_load(&sh->cas_failures));
    cr_assert(eq(u64, atomic_load(&sh->claim_lost), 0), "a writer's claim was overwritten");
    cr_assert(eq(u64, atomic_load(&sh->content_errors), 0),
              "%llu handed-off frames were changed before their receiver read them",
              (unsigned long long)atomic_load(&sh->content_errors));
    cr_assert(
        eq(u64, atomic_load(&sh->cycles), TOTAL_CYCLES / (NPROC * NTHREAD) * NPROC * NTHREAD));
    cr_assert(gt(u64, atomic_load(&sh->handed), 0));
    cr_assert(eq(u64, atomic_load(&sh->received), atomic_load(&sh->handed)));
    cr_assert(eq(u32, sh->inbox[0].count + sh->inbox[1].count, 0));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP), "%u buffers still held",
              CAP - xmem_pool_free_count(pool));
}
