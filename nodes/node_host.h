/* Runs one node in this process: loads its plugin, attaches to the pool, wires its ports, calls
 * its callbacks until it finishes, fails or is told to stop, and gives back everything it holds.
 * `xmem node` (cmd_node.c) fills the configuration from its command line. */
#ifndef XMEM_NODES_NODE_HOST_H
#define XMEM_NODES_NODE_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include <xmem/node.h>
#include <xmem/transport.h>

/* One `port=ENDPOINT` of an input (connect) or an output (bind). */
typedef struct xmemi_binding {
    const char *port;
    const char *endpoint;
} xmemi_binding;

/* Per-port settings: queue depth and policy of an input, subscribers awaited on an output. */
typedef struct xmemi_port_setting {
    const char *port; /* NULL: every port */
    uint32_t value;
} xmemi_port_setting;

#define XMEMI_NODE_MAX_BINDINGS 64

typedef struct xmemi_node_config {
    const char *plugin; /* built-in name, path, or name in XMEM_PLUGIN_PATH */
    const char *name;   /* the node's name (default: the plugin's) */
    const char *pool;
    const char *params[256];
    uint32_t n_params;
    xmemi_binding inputs[XMEMI_NODE_MAX_BINDINGS];
    uint32_t n_inputs;
    xmemi_binding outputs[XMEMI_NODE_MAX_BINDINGS];
    uint32_t n_outputs;
    xmemi_port_setting depths[XMEMI_NODE_MAX_BINDINGS]; /* later entries win */
    uint32_t n_depths;
    xmemi_port_setting policies[XMEMI_NODE_MAX_BINDINGS]; /* value: xmem_queue_policy */
    uint32_t n_policies;
    xmemi_port_setting block_timeouts[XMEMI_NODE_MAX_BINDINGS]; /* value: int32_t, an input's
                                                                    xmem_sub_options' */
    uint32_t n_block_timeouts;
    xmemi_port_setting expects[XMEMI_NODE_MAX_BINDINGS];
    uint32_t n_expects;
    double rate_hz;         /* sources: ticks per second, 0: back to back */
    int acquire_timeout_ms; /* default 1000 */
    int block_timeout_ms;   /* publishers' wait for a full `block` subscriber; default 1000 */
    int start_timeout_ms;   /* wait for the --expect'ed subscribers; default 10000 */
    xmem_log_level log_level;
    const char *stats_path; /* the launcher's stats file (node_stats.h), or NULL */
    uint32_t stats_slot;    /* this node's slot in it */
} xmemi_node_config;

void xmemi_node_config_init(xmemi_node_config *cfg);

/* Runs the node to its end: XMEM_OK when it finished, was stopped or every input ended;
 * XMEM_ECONFIG for a mistake in the configuration (plugin refused, unknown port or parameter, no
 * pool); another code when the pool, a socket or the plugin failed. The node logs its own
 * failures (tagged with its name); a failure it did not log is in *err. */
xmem_err xmemi_node_run(const xmemi_node_config *cfg, xmem_error_t *err);

#endif
