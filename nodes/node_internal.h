/* The host's side of a running node: what the xmem_node_* calls a plugin makes (node_api.c, in
 * libxmem) read and change, and what the node host (node_host.c, in the `xmem` program) sets up.
 * Both are built from this one tree, so the layout is private. */
#ifndef XMEM_NODES_NODE_INTERNAL_H
#define XMEM_NODES_NODE_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <xmem/node.h>
#include <xmem/transport.h>

/* A parameter's value, parsed for its declared type. */
typedef struct xmemi_param_value {
    const xmem_node_param *def;
    int64_t i;
    double f;
    bool b;
    uint32_t choice;
    char *text; /* owned: the value as given (string and enum values point here) */
} xmemi_param_value;

typedef struct xmemi_output {
    const xmem_node_port *port;
    xmem_pub_t *pub; /* NULL when the output is not wired */
    uint64_t published;
} xmemi_output;

struct xmem_node {
    const xmem_node_plugin *plugin;
    const char *name;
    xmem_pool_t *pool; /* the node's own attachment: acquires and publishes */
    xmemi_param_value *params;
    uint32_t n_params;
    xmemi_output *outputs; /* one per declared output port, in declaration order */
    uint32_t n_outputs;
    int acquire_timeout_ms;
    xmem_log_level log_level;
    volatile sig_atomic_t *signalled; /* set by the host's SIGINT/SIGTERM handler */
    bool failed;                      /* xmem_node_fail was called: exit non-zero */
    bool finished;                    /* xmem_node_finish was called: end the stream */
    struct xmemi_node_stats *stats; /* the launcher's slot for this node (node_stats.h), or NULL */
    xmem_wait_item watched[XMEM_NODE_MAX_WATCHED]; /* xmem_node_watch */
    uint32_t n_watched;
    xmem_node_link link_said; /* the link's totals as last reported: the slot gets increments */
    char fail_msg[XMEM_ERROR_MSG_MAX];
};

/* Parses `text` as parameter `def` into *out (its `text` is a copy the caller frees with
 * xmemi_param_value_clear). `node` and `where` name the origin in the message
 * ("--param", "graph.yaml:12:7"). XMEM_ECONFIG with the reason on a bad value. */
xmem_err xmemi_param_parse(const char *node, const xmem_node_param *def, const char *text,
                           const char *where, xmemi_param_value *out, xmem_error_t *err);
void xmemi_param_value_clear(xmemi_param_value *v);

/* Fills node->params from `assignments` ("name=value" each) and the plugin's defaults: unknown
 * names, repeated names, bad values and missing required parameters are XMEM_ECONFIG errors that
 * name the node, the parameter and what it accepts. On failure node->params is left empty. */
xmem_err xmemi_params_set(xmem_node_t *node, const char *const *assignments, uint32_t n,
                          xmem_error_t *err);
void xmemi_params_free(xmem_node_t *node);

/* The parameter of `p` named by the `len` bytes at `name` (*index: its position), or NULL. */
const xmem_node_param *xmemi_param_find(const xmem_node_plugin *p, const char *name, size_t len,
                                        uint32_t *index);

/* "width, height" (or "none") for messages, at most len bytes. */
void xmemi_param_list(const xmem_node_plugin *p, char *buf, size_t len);

/* "int in [1, 65536]", "enum: u8|u16|f32", ... for help texts and error messages. */
void xmemi_param_describe(const xmem_node_param *def, char *buf, size_t len);
const char *xmemi_param_type_name(xmem_param_type type);

#endif
