/* Frames in Python nodes, run as real `xmem node` processes on a pool this test creates: a frame
 * kept past process keeps its buffer (its bytes never change, the pool shows it held by the
 * node) until released, a released frame refuses every use and cannot be published, an input
 * refuses writes; an exception in process puts its traceback (file:line) in the node's log and
 * fails the node; whatever ends the node, every buffer comes back to the pool.
 *   xmem node --plugin tests/python/nodes/keeper.py --pool P --param keep=4 --input in=ipc://D/src
 *   xmem node --plugin testsrc --pool P --param frames=200 --expect out=1 --output out=ipc://D/src
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <string.h>

#include <xmem/pool_admin.h>

#include "run_util.h"

#define CAPACITY 32u

static char pool_name[64];
static xmem_pool_t *pool;
static xnt_child src, sink;
static char src_out[300], sink_in[300];

static void setup(void)
{
    cr_assert(xnt_setup(), "cannot make a scratch directory");
    pool = xf_pool_create(pool_name, "pyframes", CAPACITY);
    char ep[256];
    xnt_endpoint(ep, sizeof ep, "src");
    snprintf(src_out, sizeof src_out, "out=%s", ep);
    snprintf(sink_in, sizeof sink_in, "in=%s", ep);
}

static void teardown(void)
{
    xnt_cleanup();
    xmem_pool_destroy(&pool);
}

/* Starts `xmem node --pool <the pool> ARGS...`; publishers wait for `block` subscribers as long
 * as they live, so no timing makes a test fail on a loaded machine. */
static void start_node(xnt_child *c, const char *tag, const char *const *args)
{
    const char *argv[40] = {XMEM_CLI,          "node", "--pool",          pool_name,
                            "--block-timeout", "-1",   "--start-timeout", "30000"};
    size_t n = 8;
    for (size_t i = 0; args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    cr_assert(xnt_spawn(argv, tag, c) > 0, "cannot start %s", tag);
}

#define NODE(c, tag, ...) start_node(c, tag, (const char *[]){__VA_ARGS__, NULL})

/* 64x48x3 test frames: `frames` of them (0: until stopped) at `rate` (NULL: back to back). */
static void start_source(const char *frames, const char *rate)
{
    if (rate)
        NODE(&src, "testsrc", "--plugin", "testsrc", "--param", frames, "--param", "width=64",
             "--param", "height=48", "--rate", rate, "--expect", "out=1", "--output", src_out);
    else
        NODE(&src, "testsrc", "--plugin", "testsrc", "--param", frames, "--param", "width=64",
             "--param", "height=48", "--expect", "out=1", "--output", src_out);
}

static void expect_all_free(void)
{
    char holders[512] = "";
    xmem_pool_describe_holders(pool, holders, sizeof holders);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAPACITY), "held by %s", holders);
}

/* (A `block` input's depth must exceed what the node keeps, or its publisher waits for ever.)
 * Every frame of a lossless stream is kept past process, checked unchanged when released, and
 * refuses use and publishing afterwards; every input refused a write. */
Test(py_frames, kept_frames_stay_and_come_back, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    NODE(&sink, "keeper", "--plugin", PY_NODES "/keeper.py", "--param", "keep=4", "--policy",
         "block", "--depth", "8", "--input", sink_in);
    start_source("frames=200", NULL);
    xnt_expect_exit(&src, 0);
    xnt_expect_exit(&sink, 0);
    xnt_expect_text(&sink, "keeper: 200 frames, 200 unchanged after being kept, 600 uses and 200 "
                           "publishes of released frames refused, 200 writes to inputs refused");
    xnt_expect_text(&sink, "every input ended: 200 buffers in");
    xnt_expect_no_text(&sink, "still held");
    expect_all_free();
}

/* While it runs, the frames a Python node keeps are held by its process in the pool's books;
 * SIGTERM stops it between callbacks and every one comes back. */
Test(py_frames, kept_frames_show_as_held, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    NODE(&sink, "keeper", "--plugin", PY_NODES "/keeper.py", "--param", "keep=6", "--input",
         sink_in);
    start_source("frames=0", "200");
    cr_assert(xnt_wait_for_err(&sink, "holding 6 frames", XNT_WAIT_MS),
              "the keeper never held its frames:\n%s", sink.err);
    for (int i = 0; i < 10; i++, xf_sleep_ms(10)) {
        uint64_t held = xmem_pool_held_by_pid(pool, sink.pid);
        cr_assert(ge(u64, held, 6), "sample %d: the node holds %llu", i, (unsigned long long)held);
    }
    cr_assert(eq(int, kill(sink.pid, SIGTERM), 0));
    cr_assert(eq(int, kill(src.pid, SIGTERM), 0));
    xnt_expect_exit(&sink, 0);
    xnt_expect_exit(&src, 0);
    xnt_expect_text(&sink, "stopped by SIGTERM");
    xnt_expect_no_text(&sink, "broken");
    xnt_expect_no_text(&sink, "still held");
    expect_all_free();
}

/* Frames a node file leaves in a module global past fini: the host says so and gives them back. */
Test(py_frames, frames_left_past_fini_are_reported, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    NODE(&sink, "keeper", "--plugin", PY_NODES "/keeper.py", "--param", "keep=4", "--param",
         "leak=true", "--policy", "block", "--depth", "8", "--input", sink_in);
    start_source("frames=50", NULL);
    xnt_expect_exit(&src, 0);
    xnt_expect_exit(&sink, 0);
    xnt_expect_text(&sink,
                    "plugin 'keeper' still held 4 buffer(s) after fini (0 of its own, 4 inputs)");
    expect_all_free();
}

/* An exception in process: the traceback, with the file and line of each frame, in the node's
 * log; the node fails (exit 1) naming file:line; the buffers it held come back. */
Test(py_frames, exception_in_process_fails_the_node, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    NODE(&sink, "boom", "--plugin", PY_NODES "/boom.py", "--param", "at=5", "--policy", "block",
         "--depth", "8", "--input", sink_in);
    start_source("frames=0", "200");
    xnt_expect_exit(&sink, 1);
    cr_assert(eq(int, kill(src.pid, SIGTERM), 0));
    xnt_expect_exit(&src, 0);
    xnt_expect_text(&sink, "[boom] error: Traceback (most recent call last):");
    xnt_expect_text(&sink, "[boom] error:   File \"" PY_NODES "/boom.py\", line 24, in process");
    xnt_expect_text(&sink, "[boom] error:   File \"" PY_NODES "/boom.py\", line 7, in explode");
    xnt_expect_text(&sink, "[boom] error: RuntimeError: boom at frame 5");
    xnt_expect_text(&sink, "process failed: " PY_NODES "/boom.py:7: RuntimeError: boom at frame 5");
    xnt_expect_text(&sink, "failed: 5 buffers in");
    expect_all_free();
}
