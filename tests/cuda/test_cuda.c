/* CUDA buffers in the pool, on a real GPU: acquire, recycle and storage checks in one process; a
 * producer process filling CUDA buffers with a kernel while two consumer processes check them on
 * the GPU (ordering by the slot's interprocess event, release after the consumer's stream), with
 * every buffer back at the end; a consumer SIGKILLed while holding CUDA buffers gives them back;
 * CPU buffers registered for staging. Without a CUDA device the whole file exits 77 (ctest:
 * skipped); the GPU machine runs it (scripts/gpu-check). Children are forked before this process
 * touches CUDA: CUDA does not survive fork(). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <cuda_runtime_api.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xmem/pool_admin.h>
#include <xmem/xmem.h>

#include "fixture.h"
#include "kernels.h"
#include "skip_main.h"

#define FRAME (8u << 20)
#define NBUF 8u
#define CAP 32u
#define FRAMES 200u

static char pool_name[64], endpoint[128];
static xmem_pool_t *pool;

static void setup(void)
{
    snprintf(pool_name, sizeof pool_name, "xmemt_cuda_%d", (int)getpid());
    snprintf(endpoint, sizeof endpoint, "ipc:///tmp/xmemt-cuda-%d.ipc", (int)getpid());
}

static void teardown(void)
{
    xmem_pool_destroy(&pool);
    unlink(endpoint + 6);
}

static void make_pool(void)
{
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(pool_name, CAP, &pool, &err), XMEM_OK), "%s",
              err.msg);
    cr_assert(eq(int, xmem_pool_preallocate_cuda(pool, FRAME, NBUF, 0, &err), XMEM_OK), "%s",
              err.msg);
}

TestSuite(cuda, .init = setup, .fini = teardown, .timeout = 30);

Test(cuda, acquire_recycles_and_checks_storage)
{
    make_pool();
    xmem_error_t err = {0};
    xmem_buf_ref first[NBUF];
    for (uint32_t i = 0; i < NBUF; i++) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_pool_acquire_cuda(pool, FRAME, 0, &g, &err), XMEM_OK), "%s",
                  err.msg);
        cr_assert(xmem_guard_is_cuda(&g));
        cr_assert(eq(ptr, (void *)xmem_guard_data(&g), NULL), "no host view of device memory");
        void *host;
        cr_assert(eq(int, xmem_guard_data_mut(&g, &host, NULL), XMEM_ESTORAGE));
        void *dev = NULL;
        int device = -1;
        cr_assert(eq(int, xmem_guard_cuda_ptr_mut(&g, &dev, &device, &err), XMEM_OK), "%s",
                  err.msg);
        cr_assert(not(eq(ptr, dev, NULL)));
        cr_assert(eq(int, device, 0));
        first[i] = g.ref;
        xmem_guard_forget(&g);
    }
    xmem_guard_t extra = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cuda(pool, FRAME, 0, &extra, &err), XMEM_EEXHAUSTED));
    cr_assert(not(eq(ptr, strstr(err.msg, "no free CUDA buffer"), NULL)), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &extra, &err), XMEM_OK),
              "CPU buffers come from other slots: %s", err.msg);
    const void *p;
    cr_assert(eq(int, xmem_guard_cuda_ptr(&extra, &p, NULL, NULL), XMEM_ESTORAGE));
    xmem_guard_release(&extra, NULL);
    for (uint32_t i = 0; i < NBUF; i++)
        cr_assert(eq(int, xmem_pool_release(pool, first[i], &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
    xmem_guard_t again = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cuda(pool, 1000, 0, &again, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, again.ref.generation > 0, 1), "a recycled slot, next generation");
    xmem_guard_release(&again, NULL);
    /* Only the creator allocates: another handle (even in this process) is refused. */
    xmem_pool_t *other = NULL;
    cr_assert(eq(int, xmem_pool_open(pool_name, &other, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_preallocate_cuda(other, FRAME, 1, 0, &err), XMEM_EINVAL));
    cr_assert(not(eq(ptr, strstr(err.msg, "only its creator"), NULL)), "%s", err.msg);
    xmem_pool_destroy(&other);
}

Test(cuda, event_and_stream_release_in_one_process)
{
    make_pool();
    xmem_error_t err = {0};
    cudaStream_t s;
    cr_assert(eq(int, cudaStreamCreate(&s), cudaSuccess));
    unsigned long long *bad;
    cr_assert(
        eq(int, cudaMallocManaged((void **)&bad, sizeof *bad, cudaMemAttachGlobal), cudaSuccess));
    *bad = 0;
    for (uint32_t f = 0; f < 50; f++) {
        xmem_guard_t w = XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_pool_acquire_cuda_timeout(pool, FRAME, 0, 2000, &w, &err), XMEM_OK),
                  "%s", err.msg);
        void *dev;
        cr_assert(eq(int, xmem_guard_cuda_ptr_mut(&w, &dev, NULL, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(int, xtc_fill(dev, FRAME, f, s), 0));
        cr_assert(eq(int, xmem_guard_cuda_record(&w, s, &err), XMEM_OK), "%s", err.msg);
        /* The reader: its stream waits on the event, checks, and releases when done. */
        xmem_guard_t r = XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_pool_get(pool, w.ref, &r, &err), XMEM_OK), "%s", err.msg);
        xmem_guard_forget(&w);
        cr_assert(eq(int, xmem_guard_cuda_wait(&r, s, &err), XMEM_OK), "%s", err.msg);
        const void *cdev;
        cr_assert(eq(int, xmem_guard_cuda_ptr(&r, &cdev, NULL, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(int, xtc_check(cdev, FRAME, f, bad, s), 0));
        cr_assert(eq(int, xmem_guard_cuda_record(&r, s, NULL), XMEM_EREADONLY));
        cr_assert(eq(int, xmem_guard_cuda_release_after(&r, s, &err), XMEM_OK), "%s", err.msg);
        cr_assert(not(xmem_guard_valid(&r)), "the stream holds the reference now");
    }
    cr_assert(eq(int, cudaStreamSynchronize(s), cudaSuccess));
    cr_assert(eq(u64, *bad, 0));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP), "every release ran on the stream");
    cudaFree(bad);
    cudaStreamDestroy(s);
}

Test(cuda, host_registration_of_cpu_buffers)
{
    make_pool();
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_cuda_register_host(pool, &err), XMEM_OK), "%s", err.msg);
    XMEM_GUARD_AUTO xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, FRAME, &g, &err), XMEM_OK), "%s", err.msg);
    void *host;
    cr_assert(eq(int, xmem_guard_data_mut(&g, &host, &err), XMEM_OK));
    struct cudaPointerAttributes a;
    cr_assert(eq(int, cudaPointerGetAttributes(&a, host), cudaSuccess));
    cr_assert(eq(int, a.type, cudaMemoryTypeHost), "page-locked and known to CUDA");
}

/* ---- across processes ------------------------------------------------------------------- */

typedef struct report {
    uint64_t received, bad, ended;
    int32_t rc;
} report;

/* A consumer: waits for `go`, then checks every frame on its own stream until the end. */
static void consume(int go, int out, bool hold)
{
    report rep = {0};
    char c;
    if (!xf_read_all(go, &c, 1))
        _exit(2);
    xmem_error_t err;
    xmem_sub_options so;
    xmem_sub_options_init(&so);
    so.policy = XMEM_POLICY_BLOCK;
    so.depth = 4;
    xmem_sub_t *sub = NULL;
    cudaStream_t s;
    unsigned long long *bad = NULL;
    if (xmem_sub_create(pool_name, &so, &sub, &err) || xmem_sub_connect(sub, endpoint, &err) ||
        cudaStreamCreate(&s) != cudaSuccess ||
        cudaMallocManaged((void **)&bad, sizeof *bad, cudaMemAttachGlobal) != cudaSuccess) {
        fprintf(stderr, "consumer: %s\n", err.msg);
        rep.rc = -1;
        xf_write_all(out, &rep, sizeof rep);
        _exit(1);
    }
    *bad = 0;
    uint32_t nheld = 0;
    for (;;) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        xmem_err rc = xmem_sub_receive(sub, 10000, &g, &err);
        if (rc == XMEM_EEND) {
            rep.ended = 1;
            break;
        }
        if (rc) {
            rep.rc = (int32_t)rc;
            fprintf(stderr, "consumer: %s\n", err.msg);
            break;
        }
        xmem_meta_t m;
        const void *dev;
        if (xmem_guard_meta(&g, &m, &err) || xmem_guard_cuda_wait(&g, s, &err) ||
            xmem_guard_cuda_ptr(&g, &dev, NULL, &err) ||
            xtc_check(dev, xmem_guard_size(&g), (uint32_t)m.sequence, bad, s) != 0) {
            rep.rc = -2;
            fprintf(stderr, "consumer: %s\n", err.msg);
            break;
        }
        rep.received++;
        if (hold) { /* keep the reference (forgotten, still ours): the test kills us holding them */
            xmem_guard_forget(&g);
            if (++nheld == 4) {
                xf_write_all(out, &rep, sizeof rep);
                pause();
            }
            continue;
        }
        if (xmem_guard_cuda_release_after(&g, s, &err)) {
            rep.rc = -3;
            break;
        }
    }
    cudaStreamSynchronize(s);
    rep.bad = *bad;
    xmem_sub_destroy(&sub);
    xf_write_all(out, &rep, sizeof rep);
    _exit(rep.rc == 0 && rep.ended ? 0 : 1);
}

typedef struct kid {
    pid_t pid;
    int go, out;
} kid;

static kid fork_consumer(bool hold)
{
    int go[2], out[2];
    cr_assert(eq(int, pipe(go), 0));
    cr_assert(eq(int, pipe(out), 0));
    pid_t pid = fork();
    if (pid == 0) {
        close(go[1]);
        close(out[0]);
        consume(go[0], out[1], hold);
    }
    close(go[0]);
    close(out[1]);
    return (kid){pid, go[1], out[0]};
}

static void produce(xmem_pub_t *pub, uint32_t frames)
{
    xmem_error_t err = {0};
    cudaStream_t s;
    cr_assert(eq(int, cudaStreamCreate(&s), cudaSuccess));
    for (uint32_t f = 0; f < frames; f++) {
        XMEM_GUARD_AUTO xmem_guard_t g = XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_pool_acquire_cuda_timeout(pool, FRAME, 0, 5000, &g, &err), XMEM_OK),
                  "frame %u: %s", f, err.msg);
        void *dev;
        cr_assert(eq(int, xmem_guard_cuda_ptr_mut(&g, &dev, NULL, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(int, xtc_fill(dev, FRAME, f, s), 0));
        cr_assert(eq(int, xmem_guard_cuda_record(&g, s, &err), XMEM_OK), "%s", err.msg);
        cr_assert(eq(int, xmem_guard_set_stamp(&g, f, f + 1, &err), XMEM_OK));
        cr_assert(eq(int, xmem_pub_publish(pub, &g, &err), XMEM_OK), "%s", err.msg);
    }
    cudaStreamDestroy(s);
}

Test(cuda, two_consumer_processes_check_every_frame_on_the_gpu)
{
    kid a = fork_consumer(false), b = fork_consumer(false);
    make_pool();
    xmem_error_t err = {0};
    xmem_pub_t *pub = NULL;
    cr_assert(eq(int, xmem_pub_create(pool, endpoint, NULL, &pub, &err), XMEM_OK), "%s", err.msg);
    cr_assert(xf_write_all(a.go, "g", 1) && xf_write_all(b.go, "g", 1));
    cr_assert(eq(int, xmem_pub_wait_subscribers(pub, 2, 20000, &err), XMEM_OK), "%s", err.msg);
    produce(pub, FRAMES);
    cr_assert(eq(int, xmem_pub_end(pub, &err), XMEM_OK), "%s", err.msg);
    kid kids[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        report rep;
        cr_assert(xf_read_all(kids[i].out, &rep, sizeof rep), "consumer %d reported", i);
        cr_assert(eq(int, rep.rc, 0));
        cr_assert(eq(u64, rep.received, FRAMES), "lossless: every frame");
        cr_assert(eq(u64, rep.bad, 0), "every word of every frame as written");
        cr_assert(eq(int, xf_wait(kids[i].pid), 0));
    }
    xmem_pub_destroy(&pub);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP), "every CUDA buffer came back");
}

Test(cuda, a_killed_consumer_gives_its_cuda_buffers_back)
{
    kid k = fork_consumer(true);
    make_pool();
    xmem_error_t err = {0};
    xmem_pub_t *pub = NULL;
    cr_assert(eq(int, xmem_pub_create(pool, endpoint, NULL, &pub, &err), XMEM_OK), "%s", err.msg);
    cr_assert(xf_write_all(k.go, "g", 1));
    cr_assert(eq(int, xmem_pub_wait_subscribers(pub, 1, 20000, &err), XMEM_OK), "%s", err.msg);
    produce(pub, 4);
    report rep;
    cr_assert(xf_read_all(k.out, &rep, sizeof rep), "the consumer holds 4 buffers");
    cr_assert(eq(u64, rep.received, 4));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 4));
    kill(k.pid, SIGKILL);
    cr_assert(eq(int, xf_wait(k.pid), -SIGKILL));
    uint64_t returned = 0;
    cr_assert(eq(int, xmem_pool_reclaim_pid(pool, k.pid, &returned, &err), XMEM_OK), "%s", err.msg);
    cr_assert(ge(u64, returned, 4));
    xmem_pub_destroy(&pub);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
    /* And they are usable again. */
    xmem_guard_t g[NBUF];
    for (uint32_t i = 0; i < NBUF; i++) {
        g[i] = (xmem_guard_t)XMEM_GUARD_INIT;
        cr_assert(eq(int, xmem_pool_acquire_cuda(pool, FRAME, 0, &g[i], &err), XMEM_OK), "%s",
                  err.msg);
    }
    for (uint32_t i = 0; i < NBUF; i++)
        xmem_guard_release(&g[i], NULL);
}

/* Whether a GPU is there, asked in a child: this process must not initialise CUDA before the
 * tests fork theirs. */
static bool have_gpu(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(xmem_cuda_device_count() > 0 ? 0 : 1);
    return pid > 0 && xf_wait(pid) == 0;
}

XF_MAIN_SKIPPED_UNLESS(have_gpu(), "no CUDA device here: the CUDA tests are skipped (exit 77)")
