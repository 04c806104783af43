/* A slow sink for the queue-policy tests: sleeps `delay_ms` per buffer and counts the frames that
 * never reached it (gaps in the producer's sequence numbers), reporting both at the end. With
 * `fail_at` N its process fails on the Nth buffer (the node host's failure report is tested);
 * with `hang_at` N it spins forever in process on the Nth buffer, deaf to every stop (the
 * launcher's watchdog is tested); with `fail_init` 1 its init fails.
 *   - name: slow
 *     plugin: slow
 *     inputs: {in: src/out}
 *     params: {delay_ms: 5} */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include <xmem/node.h>

typedef struct slow {
    int64_t delay_ms;
    int64_t fail_at;
    int64_t hang_at;
    uint64_t received;
    uint64_t next; /* the sequence number due next (testsrc counts from 0) */
    uint64_t missing;
} slow;

static const xmem_node_param params[] = {
    {"delay_ms", XMEM_PARAM_INT, "5", "sleep per buffer", 0, 10000, NULL},
    {"fail_at", XMEM_PARAM_INT, "0", "fail on this buffer (0: never)", 0, 1000000, NULL},
    {"hang_at", XMEM_PARAM_INT, "0", "spin forever on this buffer (0: never)", 0, 1000000, NULL},
    {"fail_init", XMEM_PARAM_INT, "0", "1: init fails", 0, 1, NULL},
};

static const xmem_node_port inputs[] = {{"in", "stamped buffers"}};

static xmem_err init(xmem_node_t *node, void **state, xmem_error_t *err)
{
    if (xmem_node_param_int(node, "fail_init"))
        return xmem_node_fail(node, err, "asked to fail its init");
    slow *s = calloc(1, sizeof *s);
    if (!s)
        return xmem_node_fail(node, err, "out of memory");
    s->delay_ms = xmem_node_param_int(node, "delay_ms");
    s->fail_at = xmem_node_param_int(node, "fail_at");
    s->hang_at = xmem_node_param_int(node, "hang_at");
    *state = s;
    return XMEM_OK;
}

static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *input,
                        xmem_error_t *err)
{
    (void)port;
    slow *s = state;
    xmem_meta_t meta;
    xmem_err rc = xmem_guard_meta(input, &meta, err);
    if (rc)
        return rc;
    s->received++;
    if (s->fail_at > 0 && s->received == (uint64_t)s->fail_at)
        return xmem_node_fail(node, err, "asked to fail at buffer %" PRIu64, s->received);
    if (s->hang_at > 0 && s->received == (uint64_t)s->hang_at)
        for (volatile uint64_t spin = 0;; spin++) { /* an endless loop: only SIGKILL ends it */
        }
    if (meta.sequence > s->next)
        s->missing += meta.sequence - s->next;
    if (meta.sequence >= s->next)
        s->next = meta.sequence + 1;
    struct timespec ts = {.tv_sec = s->delay_ms / 1000, .tv_nsec = (s->delay_ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && !xmem_node_stopping(node)) {
    }
    return XMEM_OK;
}

static void fini(xmem_node_t *node, void *state)
{
    slow *s = state;
    if (!s)
        return;
    xmem_node_log(node, XMEM_LOG_INFO, "slow: received %" PRIu64 " frames, %" PRIu64 " missing",
                  s->received, s->missing);
    free(s);
}

XMEM_NODE_DEFINE(.name = "slow", .version = "1.0", .description = "a sink that takes its time",
                 .params = params, .n_params = 4, .inputs = inputs, .n_inputs = 1, .init = init,
                 .process = process, .fini = fini);
