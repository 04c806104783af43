/* The one fixture every test file builds on: names of pools and endpoints that carry the test
 * process's pid (tests/check_no_shm.sh finds leftovers by them), the clock, timeouts, whole pipe
 * reads and writes that survive EINTR, a child's fate as one number, and the pool helpers the
 * tests keep repeating (create a pool or fail the test, read a refcount or fail the test).
 * Forked children use only the parts that do not assert; they report over a pipe and _exit(). */
#ifndef XMEM_TESTS_FIXTURE_H
#define XMEM_TESTS_FIXTURE_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xmem/xmem.h>

/* Seconds a test that forks or does IPC may run before Criterion kills it; the long one for
 * tests that run whole `xmem` processes. */
#define XF_TIMEOUT 30
#define XF_TIMEOUT_LONG 60

/* Counts scaled down under ASan+UBSan, where every byte touched costs several times more. */
#ifdef XMEM_SANITIZE
#define XF_SCALE(normal, sanitized) (sanitized)
#else
#define XF_SCALE(normal, sanitized) (normal)
#endif

/* ---- names --------------------------------------------------------------------------------- */

/* Pool names are xmemt_<tag>_<pid> with a tag of [a-z.-] (tests/check_no_shm.sh parses them). */
static inline void xf_pool_name(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "xmemt_%s_%ld", tag, (long)getpid());
}

/* ---- time ---------------------------------------------------------------------------------- */

static inline uint64_t xf_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline long xf_now_ms(void)
{
    return (long)(xf_now_ns() / 1000000ull);
}

static inline void xf_sleep_us(long us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static inline void xf_sleep_ms(long ms)
{
    xf_sleep_us(ms * 1000);
}

/* ---- pipes and children -------------------------------------------------------------------- */

static inline bool xf_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static inline bool xf_read_all(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

/* Exit status of a child, or -(signal) if it was killed, or -1000 if waitpid failed. */
static inline int xf_wait(pid_t pid)
{
    int status = 0;
    pid_t r;
    do
        r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    if (r != pid)
        return -1000;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return -WTERMSIG(status);
    return -1001;
}

/* ---- the pool ------------------------------------------------------------------------------ */

/* Creates pool xmemt_<tag>_<pid> (its name into `name`, XMEM_POOL_NAME_MAX + 1 bytes) with
 * `capacity` buffers, or fails the test. */
static inline xmem_pool_t *xf_pool_create(char *name, const char *tag, uint32_t capacity)
{
    xf_pool_name(name, XMEM_POOL_NAME_MAX + 1, tag);
    xmem_pool_t *pool = NULL;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name, capacity, &pool, &err), XMEM_OK), "%s",
              err.msg);
    return pool;
}

/* The refcount of a live buffer, or fails the test. */
static inline uint32_t xf_refcount(const xmem_pool_t *pool, xmem_buf_ref ref)
{
    uint32_t n = 0;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_ref_count(pool, ref, &n, &err), XMEM_OK), "%s", err.msg);
    return n;
}

#endif
