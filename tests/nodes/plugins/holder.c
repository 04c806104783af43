/* A sink that holds buffers, for the stop tests: it keeps the last `keep` input buffers in its
 * state (moved out of the host's guards) and `extra` buffers of its own acquired in init, and
 * logs "holding" once it holds them all. fini releases everything; built with -DLEAK (leaky.so),
 * fini forgets the kept inputs, and the host must give them back itself.
 *   - name: hold
 *     plugin: holder
 *     inputs: {in: src/out}
 *     params: {keep: 4, extra: 2} */
#include <stdlib.h>

#include <xmem/node.h>

#define MAX_HELD 64

typedef struct holder {
    int64_t keep, extra;
    xmem_guard_t kept[MAX_HELD]; /* a ring of the last `keep` inputs */
    uint64_t received;
    xmem_guard_t own[MAX_HELD];
    bool said;
} holder;

static const xmem_node_param params[] = {
    {"keep", XMEM_PARAM_INT, "4", "input buffers kept", 1, MAX_HELD, NULL},
    {"extra", XMEM_PARAM_INT, "2", "own buffers acquired in init", 0, MAX_HELD, NULL},
};

static const xmem_node_port inputs[] = {{"in", "any buffers"}};

static void release_all(xmem_guard_t *g, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        xmem_guard_release(&g[i], NULL);
}

static xmem_err init(xmem_node_t *node, void **state, xmem_error_t *err)
{
    holder *h = calloc(1, sizeof *h);
    if (!h)
        return xmem_node_fail(node, err, "out of memory");
    h->keep = xmem_node_param_int(node, "keep");
    h->extra = xmem_node_param_int(node, "extra");
    for (int64_t i = 0; i < h->extra; i++) {
        xmem_err rc = xmem_node_acquire(node, 4096, &h->own[i], err);
        if (rc) {
            release_all(h->own, i);
            free(h);
            return rc;
        }
    }
    *state = h;
    return XMEM_OK;
}

static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *input,
                        xmem_error_t *err)
{
    (void)port;
    holder *h = state;
    xmem_guard_t *slot = &h->kept[h->received++ % (uint64_t)h->keep];
    xmem_err rc = xmem_guard_release(slot, err);
    if (rc)
        return rc;
    *slot = *input; /* moved: the host's guard no longer owns it */
    *input = (xmem_guard_t)XMEM_GUARD_INIT;
    if (!h->said && h->received >= (uint64_t)h->keep) {
        h->said = true;
        xmem_node_log(node, XMEM_LOG_INFO, "holding %lld inputs and %lld own buffers",
                      (long long)h->keep, (long long)h->extra);
    }
    return XMEM_OK;
}

static void fini(xmem_node_t *node, void *state)
{
    (void)node;
    holder *h = state;
    if (!h)
        return;
#ifndef LEAK
    release_all(h->kept, h->keep);
#endif
    release_all(h->own, h->extra);
    free(h);
}

XMEM_NODE_DEFINE(.name = "holder", .version = "1.0", .description = "holds buffers until it stops",
                 .params = params, .n_params = 2, .inputs = inputs, .n_inputs = 1, .init = init,
                 .process = process, .fini = fini);
