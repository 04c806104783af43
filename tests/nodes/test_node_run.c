/* Pipelines of real `xmem node` processes on a pool this test creates: frames arrive whole and
 * complete, queue policies hold, nodes stopped by SIGTERM give back every buffer (also when the
 * plugin forgets to), and the command line refuses what it cannot run with a clear message.
 *   xmem node --plugin verify --pool P --policy block --param expect=200 --input in=ipc://D/src
 *   xmem node --plugin testsrc --pool P --param frames=200 --expect out=1 --output out=ipc://D/src
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <xmem/pool_admin.h>
#include <xmem/xmem.h>

#include "run_util.h"

#define CAPACITY 32u

static char pool_name[64];
static xmem_pool_t *pool;

static void setup(void)
{
    cr_assert(xnt_setup(), "cannot make a scratch directory");
    unsetenv("XMEM_PLUGIN_PATH");
    xf_pool_name(pool_name, sizeof pool_name, "noderun");
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(pool_name, CAPACITY, &pool, &err), XMEM_OK),
              "%s", err.msg);
}

static void teardown(void)
{
    xnt_cleanup();
    xmem_pool_destroy(&pool);
}

/* Starts `xmem node --pool <the pool> ARGS...` with its output in `tag`.out/.err. No timing
 * makes a test fail on a loaded machine: publishers wait for a `block` subscriber as long as it
 * lives, and for the --expect'ed ones up to 30 s. */
static void start_node(xnt_child *c, const char *tag, const char *const *args)
{
    const char *argv[64] = {XMEM_CLI,          "node", "--pool",          pool_name,
                            "--block-timeout", "-1",   "--start-timeout", "30000"};
    const size_t fixed = 8;
    size_t n = fixed;
    for (; args[n - fixed] && n < 63; n++)
        argv[n] = args[n - fixed];
    argv[n] = NULL;
    cr_assert(xnt_spawn(argv, tag, c) > 0, "cannot start %s", tag);
}

#define NODE(c, tag, ...) start_node(c, tag, (const char *[]){__VA_ARGS__, NULL})

/* Every buffer back in the pool: nobody holds any. */
static void expect_all_free(void)
{
    char holders[512] = "";
    xmem_pool_describe_holders(pool, holders, sizeof holders);
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAPACITY), "held by %s", holders);
}

static xnt_child src, mid, sink;

/* The two ends of one link: `--input in=E` of the subscriber, `--output out=E` of the publisher,
 * E an ipc endpoint `name` in the scratch directory. */
typedef struct ends {
    char in[300], out[300];
} ends;

static ends wire(const char *name)
{
    char ep[256];
    ends l;
    xnt_endpoint(ep, sizeof ep, name);
    snprintf(l.in, sizeof l.in, "in=%s", ep);
    snprintf(l.out, sizeof l.out, "out=%s", ep);
    return l;
}

/* (a) Two processes: every frame arrives and checks out, then both end and nothing is held. */
Test(node_run, source_to_verify, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT_LONG)
{
    ends l = wire("src");
    NODE(&sink, "verify", "--plugin", "verify", "--policy", "block", "--param", "expect=200",
         "--input", l.in);
    NODE(&src, "testsrc", "--plugin", "testsrc", "--param", "frames=200", "--param", "width=320",
         "--param", "height=240", "--expect", "out=1", "--output", l.out);
    xnt_expect_exit(&src, 0);
    xnt_expect_exit(&sink, 0);
    xnt_expect_text(&src, "sent 200 frames of 230400 bytes");
    xnt_expect_text(&sink, "verified 200 frames: 0 bad, 0 gaps (0 frames missing), 0 out of order");
    xnt_expect_text(&sink, "every input ended: 200 buffers in");
    expect_all_free();
}

/* verify's count is a real check: fewer frames than expected fail the node (exit 1). */
Test(node_run, verify_counts, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT_LONG)
{
    ends l = wire("src");
    NODE(&sink, "verify", "--plugin", "verify", "--policy", "block", "--param", "expect=20",
         "--input", l.in);
    NODE(&src, "testsrc", "--plugin", "testsrc", "--param", "frames=10", "--param", "width=64",
         "--param", "height=48", "--expect", "out=1", "--output", l.out);
    xnt_expect_exit(&src, 0);
    xnt_expect_exit(&sink, 1);
    xnt_expect_text(&sink, "verified 10 frames: 0 bad");
    xnt_expect_text(&sink, "received 10 frames, expected 20");
    expect_all_free();
}

/* (b) Three processes: every frame goes through invert (a new buffer each) and still checks. */
Test(node_run, source_invert_verify, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT_LONG)
{
    ends a = wire("src"), b = wire("inv");
    NODE(&sink, "verify", "--plugin", "verify", "--policy", "block", "--param", "expect=200",
         "--input", b.in);
    NODE(&mid, "invert", "--plugin", "invert", "--policy", "block", "--input", a.in, "--output",
         b.out, "--expect", "out=1");
    NODE(&src, "testsrc", "--plugin", "testsrc", "--param", "frames=200", "--param", "width=320",
         "--param", "height=240", "--expect", "out=1", "--output", a.out);
    xnt_expect_exit(&src, 0);
    xnt_expect_exit(&mid, 0);
    xnt_expect_exit(&sink, 0);
    xnt_expect_text(&mid, "200 buffers in, 200 out");
    xnt_expect_text(&sink, "verified 200 frames: 0 bad, 0 gaps (0 frames missing), 0 out of order");
    expect_all_free();
}

/* Ready from downstream up: a filter subscribes to its input only once its own subscriber is
 * there, so a source it would hold up loses nothing under drop_oldest while the filter waits (its
 * subscriber comes 400 ms later, twice what the source takes to send everything). */
Test(node_run, filter_subscribes_once_its_subscribers_are_there, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    ends a = wire("src"), b = wire("inv");
    NODE(&mid, "invert", "--plugin", "invert", "--input", a.in, "--output", b.out, "--expect",
         "out=1");
    NODE(&src, "testsrc", "--plugin", "testsrc", "--rate", "100", "--param", "frames=20", "--param",
         "width=64", "--param", "height=48", "--expect", "out=1", "--output", a.out);
    xf_sleep_ms(400);
    NODE(&sink, "verify", "--plugin", "verify", "--param", "expect=20", "--input", b.in);
    xnt_expect_exit(&src, 0);
    xnt_expect_exit(&mid, 0);
    xnt_expect_exit(&sink, 0);
    xnt_expect_text(&sink, "verified 20 frames: 0 bad, 0 gaps (0 frames missing), 0 out of order");
    expect_all_free();
}

/* Reads slow's summary line; false if it is not there. */
static bool slow_summary(xnt_child *c, unsigned long long *received, unsigned long long *missing)
{
    const char *line = strstr(xnt_read_err(c), "slow: received ");
    return line && sscanf(line, "slow: received %llu frames, %llu missing", received, missing) == 2;
}

/* (c) A subscriber with policy block and depth 2 that takes 5 ms a frame: the source waits for it
 * and no frame is lost. */
Test(node_run, block_policy_slow_consumer, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    ends l = wire("src");
    NODE(&sink, "slow", "--plugin", PLUGIN_SLOW, "--policy", "block", "--depth", "2", "--param",
         "delay_ms=5", "--input", l.in);
    NODE(&src, "testsrc", "--plugin", "testsrc", "--param", "frames=100", "--param", "width=64",
         "--param", "height=48", "--expect", "out=1", "--output", l.out);
    xnt_expect_exit(&src, 0);
    xnt_expect_exit(&sink, 0);
    unsigned long long received = 0, missing = 0;
    cr_assert(slow_summary(&sink, &received, &missing), "no summary in:\n%s", sink.err);
    cr_assert(eq(u64, received, 100));
    cr_assert(eq(u64, missing, 0));
    expect_all_free();
}

/* The same consumer under drop_oldest does lose frames: the test above would notice a policy that
 * was not applied. */
Test(node_run, drop_oldest_slow_consumer_loses, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    ends l = wire("src");
    NODE(&sink, "slow", "--plugin", PLUGIN_SLOW, "--policy", "drop_oldest", "--depth", "2",
         "--param", "delay_ms=5", "--input", l.in);
    NODE(&src, "testsrc", "--plugin", "testsrc", "--param", "frames=100", "--param", "width=64",
         "--param", "height=48", "--expect", "out=1", "--output", l.out);
    xnt_expect_exit(&src, 0);
    xnt_expect_exit(&sink, 0);
    unsigned long long received = 0, missing = 0;
    cr_assert(slow_summary(&sink, &received, &missing), "no summary in:\n%s", sink.err);
    cr_assert(gt(u64, received, 0));
    cr_assert(lt(u64, received, 100), "a 5 ms consumer kept up with a free-running source");
    expect_all_free();
}

/* How many times `text` is in `s`. */
static int count_of(const char *s, const char *text)
{
    int n = 0;
    for (const char *p = strstr(s, text); p; p = strstr(p + 1, text))
        n++;
    return n;
}

/* A callback's failure is said once, in the node's last line, naming the callback. */
Test(node_run, failure_said_once, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT_LONG)
{
    ends l = wire("src");
    NODE(&sink, "slow", "--plugin", PLUGIN_SLOW, "--policy", "block", "--param", "delay_ms=0",
         "--param", "fail_at=3", "--input", l.in);
    NODE(&src, "testsrc", "--plugin", "testsrc", "--param", "frames=50", "--param", "width=64",
         "--param", "height=48", "--expect", "out=1", "--output", l.out);
    xnt_expect_exit(&sink, 1);
    xnt_expect_text(&sink, "error: failed: 3 buffers in, 0 out: process failed: asked to fail at "
                           "buffer 3\n");
    cr_assert(eq(int, count_of(sink.err, "asked to fail"), 1), "said more than once:\n%s",
              sink.err);
    xnt_wait(&src, XNT_WAIT_MS); /* it may fail too, having lost its only subscriber */
    expect_all_free();
}

/* So is init's, which is the node's last line. */
Test(node_run, init_failure_said_once, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT_LONG)
{
    ends l = wire("src");
    NODE(&src, "testsrc", "--plugin", "testsrc", "--param", "size=10", "--output", l.out);
    xnt_expect_exit(&src, 1);
    xnt_expect_text(&src, "error: init failed: size=10 is smaller than a test frame's");
    cr_assert(eq(int, count_of(src.err, "size=10"), 1), "said more than once:\n%s", src.err);
    expect_all_free();
}

/* shm objects named like this test's (xmemt_..._<pid>) that are not `pool_name`'s. */
static int foreign_shm_objects(const char *keep_prefix)
{
    char pid[32];
    snprintf(pid, sizeof pid, "_%ld", (long)getpid());
    DIR *d = opendir("/dev/shm");
    cr_assert(not(eq(ptr, d, NULL)));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = strncmp(e->d_name, "sem.", 4) == 0 ? e->d_name + 4 : e->d_name;
        if (strncmp(name, "xmemt_", 6) != 0 || !strstr(name, pid))
            continue;
        if (keep_prefix && strncmp(name, keep_prefix, strlen(keep_prefix)) == 0)
            continue;
        cr_log_warn("foreign shm object: %s", e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

/* (d, e) testsrc at 200 Hz feeding holder (or leaky); once holder holds its buffers, SIGTERM
 * stops both cleanly and every buffer comes back. */
static void stop_holder(const char *plugin, bool leaks)
{
    ends l = wire("src");
    NODE(&sink, "holder", "--plugin", plugin, "--param", "keep=4", "--param", "extra=2", "--input",
         l.in);
    NODE(&src, "testsrc", "--plugin", "testsrc", "--rate", "200", "--param", "width=64", "--param",
         "height=48", "--expect", "out=1", "--output", l.out);
    cr_assert(xnt_wait_for_err(&sink, "holding 4 inputs and 2 own buffers", XNT_WAIT_MS),
              "holder never held its buffers:\n%s\ntestsrc:\n%s", sink.err, xnt_read_err(&src));
    /* Holding for real: 4 kept + 2 own are never free, sampled over 100 ms of traffic. */
    for (int i = 0; i < 10; i++) {
        cr_assert(le(u32, xmem_pool_free_count(pool), CAPACITY - 6), "sample %d", i);
        xf_sleep_ms(10);
    }
    cr_assert(eq(int, kill(sink.pid, SIGTERM), 0));
    cr_assert(eq(int, kill(src.pid, SIGTERM), 0));
    xnt_expect_exit(&sink, 0);
    xnt_expect_exit(&src, 0);
    xnt_expect_text(&sink, "stopped by SIGTERM");
    xnt_expect_text(&src, "stopped by SIGTERM");
    expect_all_free();
    cr_assert(eq(int, foreign_shm_objects(pool_name), 0));
    xmem_pool_destroy(&pool);
    cr_assert(eq(int, foreign_shm_objects(NULL), 0), "the pool left shm objects behind");
    /* A plugin's leak is the host's to report, so that its author can find it. */
    if (leaks)
        xnt_expect_text(&sink, "still held");
    else
        xnt_expect_no_text(&sink, "still held");
}

Test(node_run, sigterm_gives_back_held, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT_LONG)
{
    stop_holder(PLUGIN_HOLDER, false);
}

/* fini forgets the 4 kept inputs: the host gives them back and says so. */
Test(node_run, sigterm_gives_back_leaked, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    stop_holder(PLUGIN_LEAKY, true);
}

/* (f) A command line `xmem node` cannot run: its exit status (2: the command line's form, 3: what
 * it names does not exist or fit the plugin, 1: the pool failed) and what stderr must say. "@POOL"
 * stands for the test's pool, "@ABSENT" for a pool that does not exist. (Criterion copies
 * parameters byte for byte into the test's process: text, not pointers.) */
typedef struct usage_error {
    char args[8][80];
    int status;
    char says[2][96];
} usage_error;

static usage_error usage_errors[] = {
    {{"--plugin", "testsrc", "--pool", "@POOL", "--param", "nope=1"},
     3,
     {"no parameter 'nope'", "(it has: width, height"}},
    {{"--plugin", "testsrc", "--pool", "@POOL", "--param", "width=wide"}, 3, {"'width' = 'wide'"}},
    {{"--plugin", "testsrc", "--pool", "@POOL", "--param", "width"},
     2,
     {"not of the form name=value"}},
    {{"--plugin", "verify", "--pool", "@POOL", "--input", "bogus=ipc:///tmp/xmemt-none"},
     3,
     {"--input: node 'verify' (plugin 'verify') has no input port 'bogus'", "(it has: in)"}},
    {{"--plugin", "testsrc", "--pool", "@POOL", "--output", "video=ipc:///tmp/xmemt-none"},
     3,
     {"has no output port 'video'", "(it has: out)"}},
    {{"--plugin", "testsrc", "--pool", "@POOL", "--input", "in=ipc:///tmp/xmemt-none"},
     3,
     {"has no input port 'in'", "(it has: none)"}},
    {{"--plugin", "verify", "--pool", "@POOL", "--depth", "out=2"}, 3, {"no input port 'out'"}},
    {{"--plugin", "verify", "--pool", "@POOL", "--block-timeout", "out=200"},
     3,
     {"--block-timeout: node 'verify'", "no input port 'out'"}},
    {{"--plugin", "verify", "--pool", "@POOL", "--block-timeout", "in=-2"}, 2, {"--block-timeout"}},
    {{"--plugin", "testsrc"}, 2, {"no pool (--pool NAME)"}},
    {{"--plugin", "testsrc", "--pool", "@ABSENT"}, 1, {"@ABSENT", "xmem pool @ABSENT"}},
    {{"--pool", "@POOL"}, 2, {"no plugin"}},
    {{"--plugin", "nosuch", "--pool", "@POOL"}, 3, {"'nosuch' not found", "testsrc"}},
    {{"--plugin", "verify", "--pool", "@POOL", "--policy", "sometimes"},
     2,
     {"expected block or drop_oldest"}},
    {{"--plugin", "verify", "--pool", "@POOL", "--depth", "0"}, 2, {"--depth '0'"}},
    {{"--plugin", "verify", "--pool", "@POOL", "--input", "in"}, 2, {"expected NAME=VALUE"}},
    {{"--plugin", "testsrc", "--pool", "@POOL", "--expect", "1"}, 2, {"expected PORT=N"}},
    {{"--plugin", "testsrc", "--pool", "@POOL", "--rate", "fast"}, 2, {"--rate 'fast'"}},
    {{"--plugin", "testsrc", "--pool", "@POOL", "--log-level", "loud"}, 2, {"--log-level 'loud'"}},
    {{"--plugin", "testsrc", "--pool", "@POOL", "extra"}, 2, {"unexpected argument 'extra'"}},
    {{"--plugin", "testsrc", "--pool", "@POOL", "--frobnicate"}, 2, {"usage: xmem node"}},
};

ParameterizedTestParameters(node_run, usage_error)
{
    return cr_make_param_array(usage_error, usage_errors,
                               sizeof usage_errors / sizeof usage_errors[0]);
}

/* `text` with @POOL and @ABSENT replaced. */
static const char *expand(const char *text, char *buf, size_t len)
{
    static char absent[64];
    xf_pool_name(absent, sizeof absent, "absent");
    const char *at = strchr(text, '@');
    if (!at)
        return text;
    const char *name = strncmp(at, "@POOL", 5) == 0 ? pool_name : absent;
    size_t skip = strncmp(at, "@POOL", 5) == 0 ? 5 : 7;
    snprintf(buf, len, "%.*s%s%s", (int)(at - text), text, name, at + skip);
    return buf;
}

ParameterizedTest(usage_error *u, node_run, usage_error, .init = setup, .fini = teardown,
                  .timeout = XF_TIMEOUT_LONG)
{
    char bufs[8][128];
    const char *argv[11] = {XMEM_CLI, "node"};
    for (size_t i = 0; i < 8 && u->args[i][0]; i++)
        argv[i + 2] = expand(u->args[i], bufs[i], sizeof bufs[i]);
    cr_assert(xnt_spawn(argv, "node", &sink) > 0);
    xnt_expect_exit(&sink, u->status);
    for (int i = 0; i < 2 && u->says[i][0]; i++) {
        char says[256];
        xnt_expect_text(&sink, expand(u->says[i], says, sizeof says));
    }
    expect_all_free();
}

/* (g) `xmem plugins` and the help texts. */
Test(node_run, plugins_lists_builtins, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT_LONG)
{
    static xnt_child c;
    const char *argv[] = {XMEM_CLI, "plugins", NULL};
    cr_assert(eq(int, xnt_run(argv, "plugins", &c), 0), "stderr: %s", c.err);
    const char *names[] = {
        "testsrc",     "verify",      "stats",         "invert", "null",
#ifdef XMEM_HAVE_CUDA /* built with the CUDA toolkit */
        "cuda_upload", "cuda_invert", "cuda_download",
#endif
#ifdef XMEM_HAVE_FFMPEG /* built with FFmpeg's libraries */
        "videosrc",    "videosink",   "imagesink",
#endif
#ifdef XMEM_HAVE_CZMQ /* built with czmq */
        "bridge_send", "bridge_recv",
#endif
    };
    int n = (int)(sizeof names / sizeof names[0]), lines = 0;
    for (const char *p = c.out; *p; p++)
        lines += *p == '\n';
    cr_assert(eq(int, lines, n), "stdout:\n%s", c.out);
    for (int i = 0; i < n; i++) {
        char line[64];
        snprintf(line, sizeof line, "%s%-14s", i ? "\n" : "", names[i]);
        cr_assert(not(eq(ptr, strstr(c.out, line), NULL)), "no %s in:\n%s", names[i], c.out);
    }
    cr_assert(eq(str, c.err, ""));
}

/* With XMEM_PLUGIN_PATH, the plugins found there are listed after the built-ins. */
Test(node_run, plugins_lists_plugin_path, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", PLUGIN_SLOW);
    *strrchr(dir, '/') = '\0';
    cr_assert(eq(int, setenv("XMEM_PLUGIN_PATH", dir, 1), 0));
    static xnt_child c;
    const char *argv[] = {XMEM_CLI, "plugins", NULL};
    cr_assert(eq(int, xnt_run(argv, "plugins", &c), 0), "stderr: %s", c.err);
    cr_assert(not(eq(ptr, strstr(c.out, PLUGIN_SLOW), NULL)), "stdout:\n%s", c.out);
    cr_assert(not(eq(ptr, strstr(c.out, PLUGIN_HOLDER), NULL)), "stdout:\n%s", c.out);
    cr_assert(eq(int, strncmp(c.out, "testsrc ", 8), 0), "built-ins first:\n%s", c.out);
}

Test(node_run, plugins_describes_one, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT_LONG)
{
    static xnt_child c;
    const char *argv[] = {XMEM_CLI, "plugins", "testsrc", PLUGIN_GOOD, NULL};
    cr_assert(eq(int, xnt_run(argv, "plugins", &c), 0), "stderr: %s", c.err);
    cr_assert(not(eq(ptr, strstr(c.out, "param  width"), NULL)), "stdout:\n%s", c.out);
    cr_assert(not(eq(ptr, strstr(c.out, "int in [1, 65536], default 640"), NULL)), "stdout:\n%s",
              c.out);
    cr_assert(not(eq(ptr, strstr(c.out, "input  aux"), NULL)), "stdout:\n%s", c.out);
    cr_assert(not(eq(ptr, strstr(c.out, "enum: near|far, default far"), NULL)), "stdout:\n%s",
              c.out);
    /* Ints in full, whatever their size: not 1.71799e+10. */
    cr_assert(not(eq(ptr, strstr(c.out, "param  size           int in [0, 17179869184]"), NULL)),
              "stdout:\n%s", c.out);
    cr_assert(not(eq(ptr, strstr(c.out, "int in [0, 1000000000000000]"), NULL)), "stdout:\n%s",
              c.out);
    cr_assert(eq(ptr, strstr(c.out, "e+"), NULL), "stdout:\n%s", c.out);
}

Test(node_run, plugins_refuses_bad, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT_LONG)
{
    static xnt_child c;
    const char *argv[] = {XMEM_CLI, "plugins", PLUGIN_BAD_MAGIC, NULL};
    cr_assert(eq(int, xnt_run(argv, "plugins", &c), 3), "stderr: %s", c.err);
    cr_assert(not(eq(ptr, strstr(c.err, "wrong magic"), NULL)), "stderr: %s", c.err);
    cr_assert(not(eq(ptr, strstr(c.err, PLUGIN_BAD_MAGIC), NULL)), "stderr: %s", c.err);
    /* A good one named with it is still described, and the status is still 3. */
    const char *both[] = {XMEM_CLI, "plugins", PLUGIN_GOOD, PLUGIN_NO_TICK, NULL};
    cr_assert(eq(int, xnt_run(both, "plugins2", &c), 3), "stderr: %s", c.err);
    cr_assert(not(eq(ptr, strstr(c.out, "good"), NULL)), "stdout:\n%s", c.out);
    cr_assert(not(eq(ptr, strstr(c.err, "tick"), NULL)), "stderr: %s", c.err);
}

typedef struct help_case {
    char args[2][16];
    char usage[32];
} help_case;

static help_case helps[] = {
    {{"--help"}, "usage: xmem COMMAND"},
    {{"node", "--help"}, "usage: xmem node --plugin"},
    {{"node", "-h"}, "usage: xmem node --plugin"},
    {{"plugins", "--help"}, "usage: xmem plugins"},
    {{"pool", "--help"}, "usage: xmem pool"},
};

ParameterizedTestParameters(node_run, help)
{
    return cr_make_param_array(help_case, helps, sizeof helps / sizeof helps[0]);
}

ParameterizedTest(help_case *h, node_run, help, .init = setup, .fini = teardown,
                  .timeout = XF_TIMEOUT_LONG)
{
    static xnt_child c;
    const char *argv[] = {XMEM_CLI, h->args[0], h->args[1][0] ? h->args[1] : NULL, NULL};
    cr_assert(eq(int, xnt_run(argv, "help", &c), 0), "stderr: %s", c.err);
    cr_assert(eq(int, strncmp(c.out, h->usage, strlen(h->usage)), 0), "stdout:\n%s", c.out);
    cr_assert(eq(str, c.err, ""));
}

Test(node_run, no_command, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT_LONG)
{
    static xnt_child c;
    const char *none[] = {XMEM_CLI, NULL};
    cr_assert(eq(int, xnt_run(none, "none", &c), 2));
    cr_assert(not(eq(ptr, strstr(c.err, "usage: xmem"), NULL)), "stderr: %s", c.err);
    const char *unknown[] = {XMEM_CLI, "frobnicate", NULL};
    cr_assert(eq(int, xnt_run(unknown, "unknown", &c), 2));
    cr_assert(not(eq(ptr, strstr(c.err, "unknown command 'frobnicate'"), NULL)), "stderr: %s",
              c.err);
}
