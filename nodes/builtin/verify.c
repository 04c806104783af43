/* verify: the end of a test pipeline. Checks every byte of each test frame (testframe.h) and the
 * continuity of their sequence numbers, so that corruption, early recycling or loss shows up.
 *   - name: check
 *     plugin: verify
 *     inputs: {in: inv/out}
 *     params: {expect: 500, fail_on_error: true, inversions: 1} */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "testframe.h"

#define BAD_LOGGED_MAX 5

typedef struct verify {
    uint64_t expect;    /* 0: any count */
    int64_t inversions; /* -1: any number */
    bool fail_on_error;
    bool failed;       /* we already stopped the node: keep that reason */
    uint64_t received; /* frames, good or bad */
    uint64_t bad;
    uint64_t next; /* the sequence number due next */
    uint64_t gaps, missing, out_of_order;
} verify;

static const xmem_node_param params[] = {
    {"expect", XMEM_PARAM_INT, "0", "frames that must arrive (0: any number)", 0, 1e15, NULL},
    {"fail_on_error", XMEM_PARAM_BOOL, "true", "stop at the first bad frame", 0, 0, NULL},
    {"inversions", XMEM_PARAM_INT, "-1",
     "times every frame must have been inverted on its way (-1: any)", -1, 1e9, NULL},
};

static const xmem_node_port inputs[] = {{"in", "test frames"}};

static xmem_err init(xmem_node_t *node, void **state, xmem_error_t *err)
{
    verify *s = calloc(1, sizeof *s);
    if (!s)
        return xmem_node_fail(node, err, "out of memory");
    s->expect = (uint64_t)xmem_node_param_int(node, "expect");
    s->fail_on_error = xmem_node_param_bool(node, "fail_on_error");
    s->inversions = xmem_node_param_int(node, "inversions");
    *state = s;
    return XMEM_OK;
}

static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *in,
                        xmem_error_t *err)
{
    (void)port;
    verify *s = state;
    const void *data = xmem_guard_data(in);
    if (!data) /* no host view: a CUDA buffer */
        return xmem_node_fail(node, err, "verify reads CPU buffers; put cuda_download before it");
    size_t size = xmem_guard_size(in);
    uint64_t n = s->received++;
    xmemi_testframe_info info;
    char why[256];
    bool good = xmemi_testframe_check(data, size, &info, why, sizeof why);
    if (good && s->inversions >= 0 && info.inversions != (uint64_t)s->inversions) {
        snprintf(why, sizeof why, "frame %" PRIu64 " was inverted %u times, expected %" PRId64,
                 info.sequence, info.inversions, s->inversions);
        good = false;
    }
    if (!good) {
        s->bad++;
        if (s->fail_on_error) {
            s->failed = true;
            return xmem_node_fail(node, err, "bad frame (#%" PRIu64 " received, buffer %u): %s", n,
                                  xmem_guard_index(in), why);
        }
        if (s->bad <= BAD_LOGGED_MAX)
            xmem_node_log(node, XMEM_LOG_WARN, "bad frame (#%" PRIu64 " received, buffer %u): %s%s",
                          n, xmem_guard_index(in), why,
                          s->bad == BAD_LOGGED_MAX ? " (further bad frames not logged)" : "");
    }
    /* A frame that failed its checksum still names its sequence number if the header is intact;
     * without the magic there is no number to trust. testsrc counts from 0, so next starts at 0
     * and frames lost before the first arrival count as missing. */
    if (!xmemi_testframe_header(data, size, &info))
        return XMEM_OK;
    if (info.sequence > s->next) {
        s->gaps++;
        s->missing += info.sequence - s->next;
    } else if (info.sequence < s->next) {
        s->out_of_order++;
        return XMEM_OK;
    }
    s->next = info.sequence + 1;
    return XMEM_OK;
}

/* fini cannot return an error, but the host reads the node's failure after fini, so a count that
 * differs from `expect` (known only once the stream is over) fails the node from here. */
static void fini(xmem_node_t *node, void *state)
{
    verify *s = state;
    if (!s)
        return;
    bool wrong_count = s->expect && s->received != s->expect;
    bool failing = wrong_count || (s->fail_on_error && s->bad);
    xmem_node_log(node, failing ? XMEM_LOG_ERROR : XMEM_LOG_INFO,
                  "verified %" PRIu64 " frames: %" PRIu64 " bad, %" PRIu64 " gaps (%" PRIu64
                  " frames missing), %" PRIu64 " out of order",
                  s->received, s->bad, s->gaps, s->missing, s->out_of_order);
    if (wrong_count && !s->failed)
        xmem_node_fail(node, NULL, "received %" PRIu64 " frames, expected %" PRIu64, s->received,
                       s->expect);
    free(s);
}

XMEMI_BUILTIN_DEFINE(xmemi_node_verify, .name = "verify", .version = "1.0",
                     .description = "checks test frames and their sequence", .params = params,
                     .n_params = sizeof params / sizeof params[0], .inputs = inputs, .n_inputs = 1,
                     .init = init, .process = process, .fini = fini);
