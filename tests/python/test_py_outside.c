/* The xmem module in a plain python3 process, outside any graph: scripts/read_frames.py subscribes
 * to a running `xmem node testsrc`, reads every frame in place and checks what docs/PYTHON.md
 * promises there (read-only numpy views, DLPack over the same bytes, torch where installed, held
 * frames in the pool's books, released frames refusing use, the end of the stream); afterwards
 * nothing of the pool is held.
 *   PYTHONPATH=build/python python3 tests/python/scripts/read_frames.py POOL ENDPOINT 60 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xmem/pool_admin.h>

#include "run_util.h"

#define CAPACITY 16u

static char pool_name[64];
static xmem_pool_t *pool;

static void setup(void)
{
    cr_assert(xnt_setup(), "cannot make a scratch directory");
    pool = xf_pool_create(pool_name, "pyoutside", CAPACITY);
    setenv("PYTHONPATH", XMEM_PYTHON_PATH, 1);
    /* A sanitized extension in an unsanitized python3: the ASan runtime must load first, and
     * python3's own leaks at exit are not this test's. */
    if (XMEM_ASAN_RUNTIME[0]) {
        setenv("LD_PRELOAD", XMEM_ASAN_RUNTIME, 1);
        setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", 1);
    }
}

static void teardown(void)
{
    xnt_cleanup();
    xmem_pool_destroy(&pool);
}

static xnt_child src, reader;

Test(py_outside, plain_python_reads_a_running_source, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    char ep[256], out[300];
    xnt_endpoint(ep, sizeof ep, "src");
    snprintf(out, sizeof out, "out=%s", ep);
    const char *node[] = {
        XMEM_CLI,          "node",      "--plugin", "testsrc",  "--pool",   pool_name,
        "--param",         "frames=60", "--param",  "width=64", "--param",  "height=48",
        "--block-timeout", "-1",        "--expect", "out=1",    "--output", out,
        "--start-timeout", "30000",     NULL};
    /* The source runs without the sanitizer's preload (it is a sanitized program itself). */
    char *preload = getenv("LD_PRELOAD") ? strdup(getenv("LD_PRELOAD")) : NULL;
    unsetenv("LD_PRELOAD");
    cr_assert(gt(int, xnt_spawn(node, "testsrc", &src), 0));
    if (preload)
        setenv("LD_PRELOAD", preload, 1);
    free(preload);
    const char *script[] = {XMEM_PYTHON, PY_SCRIPTS "/read_frames.py", pool_name, ep, "60", NULL};
    int status = xnt_run(script, "reader", &reader);
    cr_assert(eq(int, status, 0), "python3 read_frames.py: %d\n%s%s", status, reader.out,
              reader.err);
    cr_assert(
        not(eq(ptr, strstr(reader.out, "outside: 60 frames checked, DLPack ok, torch "), NULL)),
        "%s", reader.out);
    cr_assert(eq(int, xnt_wait(&src, XNT_WAIT_MS), 0), "%s", xnt_read_err(&src));
    char holders[512] = "";
    xmem_pool_describe_holders(pool, holders, sizeof holders);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAPACITY), "held by %s", holders);
}

/* Without a publisher, receive() times out with None, and a closed subscriber refuses use. */
Test(py_outside, receive_times_out_and_close_ends, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    char code[1024];
    snprintf(code, sizeof code,
             "import xmem\n"
             "s = xmem.Subscriber('%s', 'ipc://%s/nobody.ipc')\n"
             "assert s.receive(timeout_ms=50) is None\n"
             "s.close()\n"
             "try:\n"
             "    s.receive(timeout_ms=0)\n"
             "    raise SystemExit('a closed subscriber received')\n"
             "except xmem.Error as e:\n"
             "    print('closed:', e)\n"
             "p = xmem.Pool('%s')\n"
             "print('pool', p.name, p.capacity, p.free_count)\n",
             pool_name, xnt_dir, pool_name);
    const char *argv[] = {XMEM_PYTHON, "-c", code, NULL};
    int status = xnt_run(argv, "python", &reader);
    cr_assert(eq(int, status, 0), "%s%s", reader.out, reader.err);
    cr_assert(not(eq(ptr, strstr(reader.out, "closed: the subscriber is closed"), NULL)), "%s",
              reader.out);
    char line[128];
    snprintf(line, sizeof line, "pool %s %u %u", pool_name, CAPACITY, CAPACITY);
    cr_assert(not(eq(ptr, strstr(reader.out, line), NULL)), "%s", reader.out);
}
