/* xmem-bench-python: what a node written in Python costs per frame, against the same node in C in
 * the same run. Each plugin is loaded as `xmem node` loads it (the loader, its descriptor, init)
 * and its process callback is called with 1920x1080x3 test frames from a pool, one after the
 * other, as the node host calls it; its output port is unwired, so a publish hands the buffer back
 * at once. Rows: a pass-through (C: forward; Python: bench/passthrough.py) and an invert (C: the
 * built-in; Python: examples/python/invert.py, numpy). Prints a Markdown table.
 * Run: xmem-bench-python [--frames N] */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xmem/xmem.h>

#include "nodes/builtin/testframe.h"
#include "nodes/node_internal.h"
#include "nodes/plugin_loader.h"

#define WIDTH 1920
#define HEIGHT 1080
#define FRAME_BYTES ((size_t)WIDTH * HEIGHT * 3)
#define INPUTS 4 /* frames cycled through (a node sees a few buffers in turn) */

static xmem_err forward(xmem_node_t *node, void *state, const char *port, xmem_guard_t *in,
                        xmem_error_t *err)
{
    (void)state;
    (void)port;
    return xmem_node_forward(node, "out", in, err);
}

static const xmem_node_port ports_in[] = {{"in", "any buffers"}};
static const xmem_node_port ports_out[] = {{"out", "the same buffers"}};

/* The C baseline of the pass-through, as small as a plugin gets (docs/PLUGINS.md). */
static const xmem_node_plugin c_passthrough = {
    .magic = XMEM_NODE_ABI_MAGIC,
    .abi_version = XMEM_NODE_ABI_VERSION,
    .size = sizeof(xmem_node_plugin),
    .name = "passthrough",
    .inputs = ports_in,
    .n_inputs = 1,
    .outputs = ports_out,
    .n_outputs = 1,
    .process = forward,
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what, const xmem_error_t *err)
{
    fprintf(stderr, "xmem-bench-python: %s: %s\n", what, err->msg);
    exit(1);
}

typedef struct timing {
    double p50_ns, mean_ns;
} timing;

/* Runs `frames` process calls of `plugin` (a checked descriptor) on `inputs`, each call given a
 * new reference as a read-only guard, as the host gives one per received buffer. */
static timing run(const xmem_node_plugin *plugin, xmem_pool_t *pool, const xmem_guard_t *inputs,
                  uint32_t frames)
{
    xmem_node_t node = {.plugin = plugin,
                        .name = plugin->name,
                        .pool = pool,
                        .acquire_timeout_ms = 1000,
                        .log_level = XMEM_LOG_WARN};
    xmemi_output out = {.port = &plugin->outputs[0]}; /* unwired: publishing releases */
    node.outputs = &out;
    node.n_outputs = 1;
    xmem_error_t err = {0};
    void *state = NULL;
    if (xmemi_params_set(&node, NULL, 0, &err))
        die(plugin->name, &err);
    if (plugin->init && plugin->init(&node, &state, &err))
        die("init", &err);
    uint64_t *ns = calloc(frames, sizeof *ns), total = 0;
    for (uint32_t i = 0; i < frames + frames / 10; i++) { /* the first tenth warms up */
        const xmem_guard_t *src = &inputs[i % INPUTS];
        xmem_guard_t g = XMEM_GUARD_INIT;
        if (xmem_pool_add_ref(pool, xmem_guard_ref(src), &err) ||
            xmem_pool_get(pool, xmem_guard_ref(src), &g, &err))
            die("add_ref", &err);
        uint64_t t0 = xmem_node_clock_ns();
        if (plugin->process(&node, state, plugin->inputs[0].name, &g, &err))
            die("process", &err);
        xmem_guard_release(&g, NULL); /* what the host does when process kept nothing */
        uint64_t dt = xmem_node_clock_ns() - t0;
        if (i >= frames / 10) {
            ns[i - frames / 10] = dt;
            total += dt;
        }
    }
    if (plugin->fini)
        plugin->fini(&node, state);
    xmemi_params_free(&node);
    qsort(ns, frames, sizeof *ns, cmp_u64);
    timing t = {(double)ns[frames / 2], (double)total / frames};
    free(ns);
    return t;
}

static xmemi_plugin load(const char *spec)
{
    xmemi_plugin p;
    xmem_error_t err;
    if (xmemi_plugin_load(spec, &p, &err))
        die(spec, &err);
    return p;
}

int main(int argc, char **argv)
{
    uint32_t frames = 2000;
    static const struct option opts[] = {{"frames", required_argument, 0, 'n'}, {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "n:", opts, NULL)) != -1;) {
        if (c != 'n' || (frames = (uint32_t)strtoul(optarg, NULL, 10)) < 10) {
            fprintf(stderr, "usage: xmem-bench-python [--frames N (at least 10)]\n");
            return 2;
        }
    }
    char name[64];
    snprintf(name, sizeof name, "xmem-bench-python-%d", (int)getpid());
    xmem_pool_t *pool;
    xmem_error_t err;
    if (xmem_pool_create_with_capacity(name, 16, &pool, &err))
        die("pool", &err);
    xmem_guard_t inputs[INPUTS];
    for (uint32_t i = 0; i < INPUTS; i++) {
        inputs[i] = (xmem_guard_t)XMEM_GUARD_INIT;
        void *data;
        if (xmem_pool_acquire_cpu(pool, FRAME_BYTES, &inputs[i], &err) ||
            xmem_guard_data_mut(&inputs[i], &data, &err) ||
            xmem_guard_set_layout(&inputs[i], XMEM_DTYPE_U8, 3, (int64_t[]){HEIGHT, WIDTH, 3}, NULL,
                                  &err))
            die("input frame", &err);
        xmemi_testframe_fill(data, FRAME_BYTES, i, xmem_node_clock_ns());
    }
    xmemi_plugin c_pass = {0}, c_inv = load("invert");
    if (xmemi_plugin_check(&c_passthrough, sizeof c_passthrough, "bench", &c_pass.desc, &err))
        die("passthrough", &err);
    xmemi_plugin py_pass = load(XMEM_BENCH_DIR "/passthrough.py");
    xmemi_plugin py_inv = load(XMEM_EXAMPLES "/python/invert.py");
    /* Twice each, alternating C and Python, so drifts of a shared machine fall on both. */
    timing t[4] = {0};
    const xmemi_plugin *order[4] = {&c_pass, &py_pass, &c_inv, &py_inv};
    for (int round = 0; round < 2; round++)
        for (int k = 0; k < 4; k++) {
            timing r = run(&order[k]->desc, pool, inputs, k < 2 ? frames * 10 : frames / 4 + 10);
            t[k].p50_ns += r.p50_ns / 2;
            t[k].mean_ns += r.mean_ns / 2;
        }
    printf(
        "Python nodes, per frame (1920x1080x3 u8, process callback as the node host calls it)\n\n");
    printf("| node | C p50 | C mean | Python p50 | Python mean | Python - C (p50) | Python / C "
           "(p50) |\n");
    printf("|---|---|---|---|---|---|---|\n");
    const char *rows[2] = {"pass-through (forward the input)", "invert (a new frame, every byte)"};
    for (int r = 0; r < 2; r++) {
        timing c = t[2 * r], p = t[2 * r + 1];
        printf("| %s | %.2f us | %.2f us | %.2f us | %.2f us | %+.2f us | %.2f |\n", rows[r],
               c.p50_ns / 1e3, c.mean_ns / 1e3, p.p50_ns / 1e3, p.mean_ns / 1e3,
               (p.p50_ns - c.p50_ns) / 1e3, p.p50_ns / c.p50_ns);
    }
    for (uint32_t i = 0; i < INPUTS; i++)
        xmem_guard_release(&inputs[i], NULL);
    xmemi_plugin_close(&py_pass);
    xmemi_plugin_close(&py_inv);
    xmemi_plugin_close(&c_inv);
    xmem_pool_destroy(&pool);
    return 0;
}
