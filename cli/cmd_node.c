/* `xmem node`: runs one node plugin in this process, wired by its command line. The launcher
 * (`xmem run`) starts one of these per node of a graph; people run them by hand too:
 *   xmem pool demo &
 *   xmem node --plugin verify --pool demo --input in=ipc:///tmp/src &
 *   xmem node --plugin testsrc --pool demo --output out=ipc:///tmp/src --expect out=1 \
 *             --param frames=100 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "common/exit_status.h"
#include "commands.h"
#include "nodes/node_host.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: xmem node --plugin NAME|PATH --pool POOL [options]\n"
        "\n"
        "Runs one node plugin in this process: attaches to the pool, binds its outputs,\n"
        "subscribes its inputs, and calls the plugin until it finishes, fails, every input\n"
        "ended, or SIGINT/SIGTERM (the current buffer is finished, fini runs, every buffer\n"
        "held is given back, downstream nodes are told the stream ended).\n"
        "Exit status: 0 done, 1 the node or its pool failed, 2 bad usage, 3 the plugin is\n"
        "refused or lacks a port or parameter named (or a value does not fit it).\n"
        "\n"
        "  -p, --plugin NAME|PATH      a built-in (`xmem plugins`), a .so file, a Python node\n"
        "                              file (.py), or NAME.so / libNAME.so / NAME.py in a\n"
        "                              directory of XMEM_PLUGIN_PATH, or the plugin there\n"
        "                              that declares NAME\n"
        "  -n, --name NAME             the node's name in logs (default: the plugin's)\n"
        "      --pool POOL             the pool to use; it must exist (`xmem pool POOL`)\n"
        "  -P, --param NAME=VALUE      set a parameter (repeat); `xmem plugins NAME` lists them\n"
        "  -i, --input PORT=ENDPOINT   subscribe input PORT to the publisher at ENDPOINT\n"
        "                              (repeat; several endpoints on one port are merged)\n"
        "  -o, --output PORT=ENDPOINT  publish output PORT at ENDPOINT (ipc://PATH or\n"
        "                              tcp://HOST:PORT), which this node binds\n"
        "      --depth [PORT=]N        buffers an input may hold before its policy applies\n"
        "                              (default 4)\n"
        "      --policy [PORT=]POLICY  drop_oldest (live: keep the newest, default) or block\n"
        "                              (lossless: the publisher waits)\n"
        "      --expect PORT=N         wait for N subscribers on output PORT before starting\n"
        "      --rate HZ               sources: ticks per second (default: back to back)\n"
        "      --acquire-timeout MS    wait for a free buffer at most MS (default 1000)\n"
        "      --block-timeout [PORT=]MS\n"
        "                              MS: this node's publishers wait for a full `block`\n"
        "                              subscriber at most MS, then drop for it until it has\n"
        "                              room (default 1000; -1: while it lives); PORT=MS: input\n"
        "                              PORT asks its publishers for MS instead of theirs\n"
        "      --start-timeout MS      wait for --expect'ed subscribers at most MS (default\n"
        "                              10000)\n"
        "      --log-level LEVEL       error, warn, info (default) or debug\n"
        "      --stats FILE:SLOT       add this node's figures to slot SLOT of a launcher's\n"
        "                              stats file (xmem run passes it)\n"
        "  -h, --help                  this text\n");
}

/* "[PORT=]VALUE": a setting for one port, or for all when there is no '='. */
static bool port_setting(const char *opt, char *arg, xmemi_port_setting *s, uint32_t *n,
                         bool policy, long long min, long long max)
{
    if (*n == XMEMI_NODE_MAX_BINDINGS) {
        fprintf(stderr, "xmem node: %s: at most %d\n", opt, XMEMI_NODE_MAX_BINDINGS);
        return false;
    }
    char *port = NULL, *value = arg;
    if (strchr(arg, '=') && !xmemi_cli_split(opt, arg, &port, &value))
        return false;
    xmemi_port_setting *out = &s[(*n)++];
    out->port = port;
    if (policy) {
        xmem_queue_policy parsed;
        xmem_error_t err;
        if (xmem_queue_policy_from_name(value, &parsed, &err)) {
            fprintf(stderr, "xmem node: %s %s\n", opt, err.msg);
            return false;
        }
        out->value = (uint32_t)parsed;
        return true;
    }
    long long v;
    if (!xmemi_cli_int(opt, value, min, max, &v))
        return false;
    out->value = (uint32_t)(int32_t)v;
    return true;
}

static bool binding(const char *opt, char *arg, xmemi_binding *b, uint32_t *n)
{
    if (*n == XMEMI_NODE_MAX_BINDINGS) {
        fprintf(stderr, "xmem node: %s: at most %d\n", opt, XMEMI_NODE_MAX_BINDINGS);
        return false;
    }
    char *port, *endpoint;
    if (!xmemi_cli_split(opt, arg, &port, &endpoint))
        return false;
    b[*n].port = port;
    b[(*n)++].endpoint = endpoint;
    return true;
}

static bool log_level(const char *text, xmem_log_level *out)
{
    xmem_error_t err;
    if (xmem_log_level_from_name(text, out, &err) == XMEM_OK)
        return true;
    fprintf(stderr, "xmem node: --log-level %s\n", err.msg);
    return false;
}

int xmemi_cmd_node(int argc, char **argv)
{
    /* Under `xmem run` stdout is a pipe to the launcher, which relays it and keeps it in the
     * node's log file (graph/node_logs.h): a plugin's printf reaches them line by line, as on a
     * terminal, not when a 4 KiB buffer fills or the node ends. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    enum {
        O_POOL = 256,
        O_DEPTH,
        O_POLICY,
        O_EXPECT,
        O_RATE,
        O_ACQ,
        O_BLOCK,
        O_START,
        O_LOG,
        O_STATS
    };
    static const struct option opts[] = {
        {"plugin", required_argument, 0, 'p'},
        {"name", required_argument, 0, 'n'},
        {"pool", required_argument, 0, O_POOL},
        {"param", required_argument, 0, 'P'},
        {"input", required_argument, 0, 'i'},
        {"output", required_argument, 0, 'o'},
        {"depth", required_argument, 0, O_DEPTH},
        {"policy", required_argument, 0, O_POLICY},
        {"expect", required_argument, 0, O_EXPECT},
        {"rate", required_argument, 0, O_RATE},
        {"acquire-timeout", required_argument, 0, O_ACQ},
        {"block-timeout", required_argument, 0, O_BLOCK},
        {"start-timeout", required_argument, 0, O_START},
        {"log-level", required_argument, 0, O_LOG},
        {"stats", required_argument, 0, O_STATS},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    static xmemi_node_config cfg; /* large; one per process */
    xmemi_node_config_init(&cfg);
    long long v = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:n:P:i:o:h", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'p': cfg.plugin = optarg; break;
        case 'n': cfg.name = optarg; break;
        case O_POOL: cfg.pool = optarg; break;
        case 'P':
            if (cfg.n_params == sizeof cfg.params / sizeof cfg.params[0]) {
                fprintf(stderr, "xmem node: --param: at most 256\n");
                return XMEMI_EXIT_USAGE;
            }
            if (!strchr(optarg, '=')) {
                fprintf(stderr, "xmem node: --param '%s' is not of the form name=value\n", optarg);
                return XMEMI_EXIT_USAGE;
            }
            cfg.params[cfg.n_params++] = optarg;
            break;
        case 'i': ok = binding("--input", optarg, cfg.inputs, &cfg.n_inputs); break;
        case 'o': ok = binding("--output", optarg, cfg.outputs, &cfg.n_outputs); break;
        case O_DEPTH:
            ok = port_setting("--depth", optarg, cfg.depths, &cfg.n_depths, false, 1,
                              XMEM_QUEUE_DEPTH_MAX);
            break;
        case O_POLICY:
            ok = port_setting("--policy", optarg, cfg.policies, &cfg.n_policies, true, 0, 0);
            break;
        case O_EXPECT:
            ok = port_setting("--expect", optarg, cfg.expects, &cfg.n_expects, false, 1,
                              XMEM_QUEUE_DEPTH_MAX);
            if (ok && !cfg.expects[cfg.n_expects - 1].port) {
                fprintf(stderr, "xmem node: --expect '%s': expected PORT=N\n", optarg);
                ok = false;
            }
            break;
        case O_RATE:
            ok = xmemi_cli_double("--rate", optarg, 0, 1e9, &cfg.rate_hz);
            if (ok && cfg.rate_hz > 0 && cfg.rate_hz < 0.001) {
                fprintf(stderr, "xmem node: --rate %s: 0 (back to back) or at least 0.001\n",
                        optarg);
                ok = false;
            }
            break;
        case O_ACQ:
            ok = xmemi_cli_int("--acquire-timeout", optarg, 0, 86400000, &v);
            cfg.acquire_timeout_ms = (int)v;
            break;
        case O_BLOCK:
            if (strchr(optarg, '=')) { /* one input's */
                ok = port_setting("--block-timeout", optarg, cfg.block_timeouts,
                                  &cfg.n_block_timeouts, false, -1, 86400000);
                break;
            }
            ok = xmemi_cli_int("--block-timeout", optarg, -1, 86400000, &v);
            cfg.block_timeout_ms = (int)v;
            break;
        case O_START:
            ok = xmemi_cli_int("--start-timeout", optarg, 0, 86400000, &v);
            cfg.start_timeout_ms = (int)v;
            break;
        case O_LOG: ok = log_level(optarg, &cfg.log_level); break;
        case O_STATS: {
            char *colon = strrchr(optarg, ':');
            ok = colon && colon != optarg;
            if (ok) {
                *colon = '\0';
                ok = xmemi_cli_int("--stats SLOT", colon + 1, 0, 4095, &v);
                cfg.stats_path = optarg;
                cfg.stats_slot = (uint32_t)v;
            } else
                fprintf(stderr, "xmem node: --stats '%s': expected FILE:SLOT\n", optarg);
            break;
        }
        case 'h': usage(stdout); return XMEMI_EXIT_OK;
        default: usage(stderr); return XMEMI_EXIT_USAGE;
        }
        if (!ok)
            return XMEMI_EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "xmem node: unexpected argument '%s' (see xmem node --help)\n",
                argv[optind]);
        return XMEMI_EXIT_USAGE;
    }
    if (!cfg.plugin) {
        fprintf(stderr, "xmem node: no plugin: give --plugin NAME|PATH (see xmem node --help)\n");
        return XMEMI_EXIT_USAGE;
    }
    if (!cfg.pool) {
        fprintf(stderr, "xmem node: no pool (--pool NAME); see xmem node --help\n");
        return XMEMI_EXIT_USAGE;
    }
    xmem_error_t err;
    xmem_err rc = xmemi_node_run(&cfg, &err);
    if (rc && err.msg[0])
        fprintf(stderr, "xmem node: %s\n", err.msg);
    return xmemi_exit_for(rc);
}
