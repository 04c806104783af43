/* xmem-bench-cuda: GPU hand-off latency between two processes through a pool, against handing
 * the same bytes over through host memory (device -> host -> device, pinned and pageable), for
 * 8 MiB and 64 MiB, in the same run. The xmem figure is publish (the producer's kernel queued and
 * its event recorded) -> the consumer's kernel has read the buffer (its stream waited on the
 * event; measured when the consumer's stream is done). Run it with and without an MPS daemon
 * (scripts/gpu-check does both). Prints a Markdown table. Run: xmem-bench-cuda [--iters N] */
#define _GNU_SOURCE
#include <cuda_runtime_api.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xmem/xmem.h>

#include "cuda_bench_kernels.h"
#include "bench_clock.h"

#define MAX_ITERS 2000
#define WARMUP 10 /* frames not measured: the consumer's first opens its handles (~130 ms) */

typedef struct shared {
    _Atomic int ready;           /* 1: the pool exists; 2: the consumer is subscribed */
    uint64_t seen_ns[MAX_ITERS]; /* consumer: when its kernel had read frame i */
    uint64_t bad;
    int failed;
} shared;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_us(uint64_t *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_u64);
    return (double)v[(int)(p * (n - 1))] / 1e3;
}

static pid_t main_pid;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "xmem-bench-cuda: %s: %s\n", what, msg);
    if (getpid() != main_pid)
        _exit(1); /* a child flushes nothing of the parent's stdout */
    exit(1);
}

/* The consumer process: each frame, its stream waits on the buffer's event, a kernel reads the
 * buffer's first word into a flag; when the stream is done the frame counts as seen. */
static void consumer(const char *pool, const char *endpoint, int iters, shared *sh)
{
    xmem_error_t err;
    xmem_sub_options so;
    xmem_sub_options_init(&so);
    so.policy = XMEM_POLICY_BLOCK;
    so.depth = 1;
    xmem_sub_t *sub = NULL;
    cudaStream_t s;
    unsigned *flag;
    if (xmem_sub_create(pool, &so, &sub, &err) || xmem_sub_connect(sub, endpoint, &err))
        die("consumer", err.msg);
    if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess ||
        cudaMalloc((void **)&flag, sizeof *flag) != cudaSuccess)
        die("consumer", "CUDA setup failed");
    atomic_store(&sh->ready, 2);
    for (int i = -WARMUP; i < iters; i++) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        const void *dev;
        if (xmem_sub_receive(sub, 10000, &g, &err) || xmem_guard_cuda_wait(&g, s, &err) ||
            xmem_guard_cuda_ptr(&g, &dev, NULL, &err))
            die("consumer", err.msg);
        if (xbc_read_first(dev, flag, s) != 0 || cudaStreamSynchronize(s) != cudaSuccess)
            die("consumer", "read kernel failed");
        if (i >= 0)
            sh->seen_ns[i] = now_ns();
        xmem_guard_release(&g, NULL);
    }
    xmem_sub_destroy(&sub);
    _exit(0);
}

static void names(int k, char *pool, size_t plen, char *endpoint, size_t elen)
{
    snprintf(pool, plen, "xmem-bench-cuda-%d-%d", (int)getpid(), k);
    snprintf(endpoint, elen, "ipc:///tmp/xmem-bench-cuda-%d-%d.ipc", (int)getpid(), k);
}

/* Consumers are forked before this process makes its first CUDA call (CUDA does not survive
 * fork): one per measurement, each waiting for its pool. */
static pid_t fork_consumer(int k, int iters, shared *sh)
{
    char pool_name[64], endpoint[128];
    names(k, pool_name, sizeof pool_name, endpoint, sizeof endpoint);
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);    /* never outlives a killed benchmark */
        while (atomic_load(&sh->ready) != 1) /* the pool exists */
            usleep(1000);
        consumer(pool_name, endpoint, iters, sh); /* sets ready to 2 once subscribed */
    }
    return kid;
}

/* One xmem measurement: iters frames of `bytes`, in lock step (the consumer holds one at most). */
static void measure_xmem(int k, pid_t kid, shared *sh, size_t bytes, int iters, uint64_t *lat)
{
    char pool_name[64], endpoint[128];
    names(k, pool_name, sizeof pool_name, endpoint, sizeof endpoint);
    xmem_error_t err;
    xmem_pool_t *pool = NULL;
    xmem_pub_t *pub = NULL;
    if (xmem_pool_create_with_capacity(pool_name, 16, &pool, &err) ||
        xmem_pool_preallocate_cuda(pool, bytes, 4, 0, &err) ||
        xmem_pub_create(pool, endpoint, NULL, &pub, &err))
        die("producer", err.msg);
    atomic_store(&sh->ready, 1);
    while (atomic_load(&sh->ready) != 2) /* the consumer is subscribed */
        usleep(1000);
    if (xmem_pub_wait_subscribers(pub, 1, 20000, &err))
        die("producer", err.msg);
    cudaStream_t s;
    cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    uint64_t *sent = calloc((size_t)iters, sizeof *sent);
    for (int i = -WARMUP; i < iters; i++) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        void *dev;
        if (xmem_pool_acquire_cuda_timeout(pool, bytes, 0, 10000, &g, &err) ||
            xmem_guard_cuda_ptr_mut(&g, &dev, NULL, &err))
            die("producer", err.msg);
        if (xbc_write_first(dev, (unsigned)i, s) != 0)
            die("producer", "write kernel failed");
        if (xmem_guard_cuda_record(&g, s, &err))
            die("producer", err.msg);
        if (i >= 0)
            sent[i] = now_ns();
        if (xmem_pub_publish(pub, &g, &err))
            die("producer", err.msg);
        /* Lock step: wait until the consumer is done with it, so each hand-off is measured alone
         * (a dead consumer's references never come back: stop then). */
        uint64_t deadline = now_ns() + 10000000000ull;
        while (xmem_pool_free_count(pool) < 16) {
            xmem_pub_poll(pub, 0, NULL);
            if (now_ns() > deadline || waitpid(kid, NULL, WNOHANG) == kid)
                die("producer", "the consumer stopped answering");
        }
    }
    waitpid(kid, NULL, 0);
    for (int i = 0; i < iters; i++)
        lat[i] = sh->seen_ns[i] - sent[i];
    free(sent);
    cudaStreamDestroy(s);
    xmem_pub_destroy(&pub);
    xmem_pool_destroy(&pool);
}

/* The other way: device -> host -> device through `host` (what two processes without a shared
 * GPU buffer do), one copy after the other. */
static void measure_copy(size_t bytes, int iters, bool pinned, uint64_t *lat)
{
    void *a, *b, *host;
    if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess)
        die("copy", "cudaMalloc failed");
    if (pinned ? cudaMallocHost(&host, bytes) != cudaSuccess : !(host = malloc(bytes)))
        die("copy", "host buffer");
    memset(host, 1, bytes); /* pageable memory faulted in, as a real process's would be */
    for (int i = -3; i < iters; i++) {
        uint64_t t0 = now_ns();
        if (cudaMemcpy(host, a, bytes, cudaMemcpyDeviceToHost) != cudaSuccess ||
            cudaMemcpy(b, host, bytes, cudaMemcpyHostToDevice) != cudaSuccess)
            die("copy", "cudaMemcpy failed");
        if (i >= 0)
            lat[i] = now_ns() - t0;
    }
    if (pinned)
        cudaFreeHost(host);
    else
        free(host);
    cudaFree(a);
    cudaFree(b);
}

int main(int argc, char **argv)
{
    main_pid = getpid();
    int iters = 200, c;
    static const struct option opts[] = {
        {"iters", required_argument, 0, 'n'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        if (c == 'n')
            iters = atoi(optarg);
        else {
            printf("usage: xmem-bench-cuda [--iters N (default 200, at most %d)]\n", MAX_ITERS);
            return c == 'h' ? 0 : 2;
        }
    }
    if (iters < 10 || iters > MAX_ITERS)
        die("--iters", "out of range");
    pid_t probe = fork(); /* is there a GPU? asked without initialising CUDA here */
    if (probe == 0)
        _exit(xmem_cuda_device_count() > 0 ? 0 : 1);
    int st = 0;
    waitpid(probe, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "xmem-bench-cuda: no CUDA device\n");
        return 77;
    }
    const size_t sizes[] = {8u << 20, 64u << 20};
    const char *mps = getenv("CUDA_MPS_PIPE_DIRECTORY");
    printf("## GPU hand-off between two processes (%s)\n\n", mps ? "with MPS" : "without MPS");
    printf("| size | xmem p50 (us) | xmem p99 (us) | via pinned host p50 (us) | via pageable host "
           "p50 (us) | pinned / xmem | pageable / xmem |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- |\n");
    shared *sh =
        mmap(NULL, 2 * sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        die("mmap", "shared memory");
    memset(sh, 0, 2 * sizeof *sh);
    pid_t kids[2] = {fork_consumer(0, iters, &sh[0]), fork_consumer(1, iters, &sh[1])};
    uint64_t *lat = calloc(MAX_ITERS, sizeof *lat);
    for (int k = 0; k < 2; k++) {
        measure_xmem(k, kids[k], &sh[k], sizes[k], iters, lat);
        double x50 = pct_us(lat, iters, 0.5), x99 = pct_us(lat, iters, 0.99);
        measure_copy(sizes[k], iters / 4 + 10, true, lat);
        double p50 = pct_us(lat, iters / 4 + 10, 0.5);
        measure_copy(sizes[k], iters / 4 + 10, false, lat);
        double g50 = pct_us(lat, iters / 4 + 10, 0.5);
        printf("| %zu MiB | %.1f | %.1f | %.1f | %.1f | %.1fx | %.1fx |\n", sizes[k] >> 20, x50,
               x99, p50, g50, p50 / x50, g50 / x50);
        fflush(stdout);
    }
    free(lat);
    munmap(sh, 2 * sizeof *sh);
    return 0;
}
