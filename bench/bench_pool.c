/* xmem-bench-pool: what the pool's steady state costs. Times acquire+release, add_ref+get+release
 * and a cross-process acquire -> give -> get -> release hand-off, each with the page faults and
 * system calls it makes per operation, against the baseline of a fresh shm object per buffer (what
 * sharing a buffer costs without a pool). Run: xmem-bench-pool [--iterations N] */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <xmem/pool_admin.h>
#include <xmem/xmem.h>

#include "syscall_counter.h"
#include "bench_clock.h"

#define RING_SLOTS 256u

/* One producer, one consumer, in memory shared across fork(). */
typedef struct ring {
    _Atomic uint64_t head; /* next slot the producer writes */
    char pad0[56];
    _Atomic uint64_t tail; /* next slot the consumer reads */
    char pad1[56];
    _Atomic uint32_t consumer_owner; /* consumer's owner id, UINT32_MAX until attached */
    _Atomic uint32_t consumer_done;
    double consumer_faults_per_op;
    double consumer_syscalls_per_op;
    int consumer_failed;
    xmem_buf_ref slots[RING_SLOTS];
} ring;

typedef struct result {
    const char *what;
    size_t size;
    double ns_per_op;
    double faults_per_op;
    double syscalls_per_op;
    const char *note;
} result;

static syscall_counter counter;
static bool have_counter;

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_minflt + ru.ru_majflt;
}

typedef struct probe {
    uint64_t t0;
    long faults0;
} probe;

static probe probe_start(void)
{
    probe p = {.faults0 = minor_faults()};
    syscall_counter_start(&counter);
    p.t0 = now_ns();
    return p;
}

static void probe_stop(probe p, uint64_t ops, result *r)
{
    uint64_t t1 = now_ns();
    uint64_t sys = syscall_counter_stop(&counter);
    long faults = minor_faults() - p.faults0;
    r->ns_per_op = (double)(t1 - p.t0) / (double)ops;
    r->faults_per_op = (double)faults / (double)ops;
    r->syscalls_per_op = have_counter ? (double)sys / (double)ops : -1;
}

static void die(const char *what, const xmem_error_t *err)
{
    fprintf(stderr, "xmem-bench-pool: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

static void bench_acquire_release(xmem_pool_t *pool, size_t size, uint64_t iters, result *r)
{
    xmem_error_t err;
    for (int warm = 0; warm < 1000; warm++) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        if (xmem_pool_acquire_cpu(pool, size, &g, &err))
            die("acquire", &err);
        xmem_guard_release(&g, NULL);
    }
    probe p = probe_start();
    for (uint64_t i = 0; i < iters; i++) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        if (__builtin_expect(xmem_pool_acquire_cpu(pool, size, &g, &err) != XMEM_OK, 0))
            die("acquire", &err);
        xmem_guard_release(&g, NULL);
    }
    probe_stop(p, iters, r);
    *r = (result){"acquire+release", size, r->ns_per_op, r->faults_per_op, r->syscalls_per_op, ""};
}

static void bench_get_release(xmem_pool_t *pool, size_t size, uint64_t iters, result *r)
{
    xmem_error_t err;
    xmem_guard_t owner = XMEM_GUARD_INIT;
    if (xmem_pool_acquire_cpu(pool, size, &owner, &err))
        die("acquire", &err);
    xmem_buf_ref ref = xmem_guard_ref(&owner);
    probe p = probe_start();
    for (uint64_t i = 0; i < iters; i++) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        if (__builtin_expect(
                xmem_pool_add_ref(pool, ref, &err) || xmem_pool_get(pool, ref, &g, &err), 0))
            die("add_ref+get", &err);
        xmem_guard_release(&g, NULL);
    }
    probe_stop(p, iters, r);
    xmem_guard_release(&owner, NULL);
    *r = (result){"add_ref+get+release", size, r->ns_per_op, r->faults_per_op,
                  r->syscalls_per_op,    ""};
}

static void consumer_loop(const char *name, ring *q, uint64_t total, uint64_t measured_from)
{
    xmem_error_t err;
    xmem_pool_t *pool = NULL;
    if (xmem_pool_open(name, &pool, &err)) {
        fprintf(stderr, "consumer: %s\n", err.msg);
        q->consumer_failed = 1;
        atomic_store(&q->consumer_owner, 0);
        _exit(1);
    }
    syscall_counter local;
    const char *why;
    bool counting = syscall_counter_open(&local, &why);
    atomic_store(&q->consumer_owner, xmem_pool_owner_id(pool));
    uint64_t tail = 0;
    long faults0 = 0;
    volatile uint8_t sink = 0;
    while (tail < total) {
        if (tail == measured_from) {
            faults0 = minor_faults();
            syscall_counter_start(&local);
        }
        while (atomic_load_explicit(&q->head, memory_order_acquire) == tail)
            ;
        xmem_buf_ref ref = q->slots[tail % RING_SLOTS];
        atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
        xmem_guard_t g = XMEM_GUARD_INIT;
        if (xmem_pool_get(pool, ref, &g, &err)) {
            fprintf(stderr, "consumer: %s\n", err.msg);
            q->consumer_failed = 1;
            break;
        }
        sink ^= *(const volatile uint8_t *)xmem_guard_data(&g);
        xmem_guard_release(&g, NULL);
        tail++;
    }
    uint64_t ops = total - measured_from;
    q->consumer_syscalls_per_op =
        counting ? (double)syscall_counter_stop(&local) / (double)ops : -1;
    q->consumer_faults_per_op = (double)(minor_faults() - faults0) / (double)ops;
    atomic_store(&q->consumer_done, 1);
    xmem_pool_close(&pool);
    _exit(q->consumer_failed);
}

static void bench_cross_process(const char *name, xmem_pool_t *pool, size_t size, uint64_t iters,
                                result *prod, result *cons)
{
    ring *q = mmap(NULL, sizeof *q, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED)
        die("mmap ring", NULL);
    memset(q, 0, sizeof *q);
    atomic_store(&q->consumer_owner, UINT32_MAX);
    uint64_t warm = iters / 10 + 1000;
    uint64_t total = warm + iters;
    fflush(stdout);
    pid_t child = fork();
    if (child == 0)
        consumer_loop(name, q, total, warm);
    uint32_t owner;
    while ((owner = atomic_load(&q->consumer_owner)) == UINT32_MAX)
        sched_yield();
    if (q->consumer_failed)
        die("consumer could not open the pool", NULL);
    xmem_error_t err;
    probe p = {0};
    for (uint64_t head = 0; head < total; head++) {
        if (head == warm)
            p = probe_start();
        xmem_guard_t g = XMEM_GUARD_INIT;
        xmem_err rc;
        /* Back-pressure: all buffers of this size are with the consumer. No error text wanted. */
        while ((rc = xmem_pool_acquire_cpu(pool, size, &g, NULL)) == XMEM_EEXHAUSTED)
            ;
        if (rc && xmem_pool_acquire_cpu(pool, size, &g, &err))
            die("acquire", &err);
        *(uint8_t *)g.data = (uint8_t)head;
        if (xmem_pool_give(pool, g.ref, owner, 1, &err))
            die("give", &err);
        while (head - atomic_load_explicit(&q->tail, memory_order_acquire) >= RING_SLOTS)
            ;
        q->slots[head % RING_SLOTS] = g.ref;
        atomic_store_explicit(&q->head, head + 1, memory_order_release);
        xmem_guard_forget(&g);
    }
    while (!atomic_load(&q->consumer_done))
        ;
    probe_stop(p, iters, prod);
    int status;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status))
        die("consumer failed", NULL);
    *prod = (result){"cross-process acquire->give->get->release (producer)",
                     size,
                     prod->ns_per_op,
                     prod->faults_per_op,
                     prod->syscalls_per_op,
                     "ns/op = pipeline throughput"};
    *cons = (result){"cross-process acquire->give->get->release (consumer)",
                     size,
                     prod->ns_per_op,
                     q->consumer_faults_per_op,
                     q->consumer_syscalls_per_op,
                     ""};
    munmap(q, sizeof *q);
}

/* Without a pool: a new shm object per buffer, mapped, written once, unmapped and removed. */
static void bench_baseline(size_t size, uint64_t iters, result *r)
{
    char name[64];
    snprintf(name, sizeof name, "/xmem-bench-baseline-%d", (int)getpid());
    probe p = probe_start();
    for (uint64_t i = 0; i < iters; i++) {
        int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || ftruncate(fd, (off_t)size))
            die("baseline shm", NULL);
        uint8_t *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED)
            die("baseline mmap", NULL);
        for (size_t off = 0; off < size; off += 4096)
            m[off] = (uint8_t)i; /* a producer writes the whole frame */
        munmap(m, size);
        close(fd);
        shm_unlink(name);
    }
    probe_stop(p, iters, r);
    *r = (result){"baseline: new shm object per buffer (create, map, write, unmap)",
                  size,
                  r->ns_per_op,
                  r->faults_per_op,
                  r->syscalls_per_op,
                  "no pool"};
}

static void print_size(char *out, size_t len, size_t size)
{
    if (size >= (1u << 20) && size % (1u << 20) == 0)
        snprintf(out, len, "%zu MiB", size >> 20);
    else if (size >= 1024 && size % 1024 == 0)
        snprintf(out, len, "%zu KiB", size >> 10);
    else
        snprintf(out, len, "%zu B", size);
}

static void print_row(const result *r)
{
    char size[32], sys[32];
    print_size(size, sizeof size, r->size);
    if (r->syscalls_per_op < 0)
        snprintf(sys, sizeof sys, "n/a");
    else
        snprintf(sys, sizeof sys, "%.4f", r->syscalls_per_op);
    printf("| %-62s | %7s | %12.1f | %9.4f | %11s | %s\n", r->what, size, r->ns_per_op,
           r->faults_per_op, sys, r->note);
}

int main(int argc, char **argv)
{
    uint64_t iters = 2000000;
    static const struct option opts[] = {
        {"iterations", required_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'}, {0}};
    for (int c; (c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1;) {
        if (c == 'n') {
            iters = strtoull(optarg, NULL, 10);
        } else {
            FILE *out = c == 'h' ? stdout : stderr;
            fprintf(out,
                    "usage: xmem-bench-pool [--iterations N]\n\n"
                    "Times the pool's steady state (acquire+release, add_ref+get+release, a\n"
                    "cross-process hand-off) with page faults and system calls per operation,\n"
                    "against a fresh shm object per buffer. Prints a Markdown table.\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (iters < 1000)
        iters = 1000;
    const char *why = NULL;
    have_counter = syscall_counter_open(&counter, &why);

    static const size_t sizes[] = {4096, 1u << 20, 8u << 20, 64u << 20};
    const size_t nsizes = sizeof sizes / sizeof *sizes;
    result rows[32];
    size_t n = 0;
    bool leaked = false;
    /* One pool per size, of that size only: what a video pipeline creates. */
    for (size_t i = 0; i < nsizes; i++) {
        char name[64];
        snprintf(name, sizeof name, "xmem-bench-%d-%zu", (int)getpid(), i);
        xmem_pool_options po;
        xmem_pool_options_init(&po);
        po.capacity = 16;
        po.n_classes = 1;
        po.classes[0] = (xmem_size_class){sizes[i], 16};
        xmem_error_t err;
        xmem_pool_t *pool = NULL;
        if (xmem_pool_create_with(name, &po, &pool, &err))
            die("create pool", &err);
        bench_acquire_release(pool, sizes[i], iters, &rows[n++]);
        if (i == 0 || i == nsizes - 1) {
            bench_get_release(pool, sizes[i], iters, &rows[n++]);
            bench_cross_process(name, pool, sizes[i], iters / 2, &rows[n], &rows[n + 1]);
            n += 2;
        }
        leaked |= xmem_pool_free_count(pool) != po.capacity;
        xmem_pool_destroy(&pool);
    }
    double pooled_8m = rows[5].ns_per_op; /* acquire+release, 8 MiB */
    for (size_t i = 0; i < nsizes; i += 2)
        bench_baseline(sizes[i], sizes[i] > (1u << 20) ? 200 : 20000, &rows[n++]);

    printf("| %-62s | %7s | %12s | %9s | %11s | %s\n", "operation", "size", "ns/op", "faults/op",
           "syscalls/op", "note");
    printf("|%s|%s|%s|%s|%s|---\n",
           "----------------------------------------------------------------", "---------",
           "--------------", "-----------", "-------------");
    for (size_t i = 0; i < n; i++)
        print_row(&rows[i]);
    printf("\nacquire+release of 8 MiB vs. a fresh shm object of 8 MiB: %.0fx faster\n",
           rows[n - 1].ns_per_op / pooled_8m);
    if (!have_counter)
        printf("syscalls/op: n/a (%s)\n", why);
    printf("every pool had all its buffers free at the end: %s\n", leaked ? "NO" : "yes");
    syscall_counter_close(&counter);
    return leaked ? 1 : 0;
}
