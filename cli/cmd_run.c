/* `xmem run GRAPH`: validates the graph, then runs it (launcher.c) until it ends, is stopped
 * (Ctrl-C, SIGTERM) or --duration runs out, showing a live table and a summary. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <xmem/pool.h>

#include "cli_util.h"
#include "commands.h"
#include "common/exit_status.h"
#include "graph/graph.h"
#include "graph/launcher.h"
#include "graph/metrics.h"
#include "host_pick.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: xmem run [options] GRAPH.yaml\n"
        "\n"
        "Runs a pipeline graph: checks it (as `xmem validate`), creates its pool and a private\n"
        "runtime directory, starts one `xmem node` process per node and wires them, restarts\n"
        "nodes that die as their restart policy says (giving back every buffer they held at\n"
        "once), and prints a table of every node once a second. Ctrl-C, SIGTERM or the end of\n"
        "--duration stops the sources first, lets the rest drain, stops everything, removes\n"
        "the pool and the runtime directory, and prints the summary. On a terminal the table\n"
        "is redrawn in place below the nodes' lines, which also go to logs/NODE.log in the\n"
        "runtime directory (`xmem logs`). A second Ctrl-C stops\n"
        "every node at once. The pool's shared memory (metadata and preallocated buffers) is\n"
        "counted first: above pool.shm_limit (a graph setting, default 3/4 of physical\n"
        "memory) the graph does not validate; more than /dev/shm has free, nothing starts.\n"
        "Exit status: 0 when every node ended well and every buffer came back, 1 when a node\n"
        "failed for good, a buffer was left held or the run could not start (no room in\n"
        "/dev/shm, the pool or runtime directory), 2 on bad usage, 3 when the graph does not\n"
        "validate.\n"
        "\n");
    xmemi_cli_graph_help(out);
    fprintf(
        out,
        "\n"
        "  -d, --duration S     stop after S seconds (default: the graph's options.duration,\n"
        "                       else until stopped or every node ended)\n"
        "  -s, --summary FILE   write the summary (per node: state, restarts, frames in and\n"
        "                       out, rate, latency p50/p99/max, drops, deaths) as JSON\n"
        "  -i, --interval S     seconds between live tables, 0 for none (default 1)\n"
        "  -l, --log-level L    nodes' log level: error, warn, info (default), debug\n"
        "  -p, --pool NAME      the pool's name instead of the graph's pool.name (and so the\n"
        "                       runtime directory's): two runs of one graph side by side\n"
        "  -m, --metrics ADDR:PORT  serve Prometheus metrics at http://ADDR:PORT/metrics\n"
        "                       (ADDR 127.0.0.1 unless given; port 0 picks one; overrides the\n"
        "                       graph's options.metrics)\n"
        "      --dot FILE       write the graph, with every node's and edge's figures, as a\n"
        "                       Graphviz dot file at the end\n"
        "  -H, --host NAME      a graph across hosts (hosts:): run host NAME's part, its nodes\n"
        "                       and the bridges of its edges to other hosts (default: the\n"
        "                       host whose address is this machine's, when exactly one is;\n"
        "                       its pool: xmem-<file stem>-NAME unless the file names one).\n"
        "                       Each host runs `xmem run GRAPH --host NAME` (docs/MULTIHOST.md)\n"
        "  -h, --help           this text\n");
}

int xmemi_cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"duration", required_argument, 0, 'd'}, {"summary", required_argument, 0, 's'},
        {"interval", required_argument, 0, 'i'}, {"log-level", required_argument, 0, 'l'},
        {"pool", required_argument, 0, 'p'},     {"metrics", required_argument, 0, 'm'},
        {"dot", required_argument, 0, 'D'},      {"host", required_argument, 0, 'H'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
    };
    xmemi_run_options ro;
    xmemi_run_options_init(&ro);
    xmem_error_t err;
    int c;
    optind = 1;
    const char *pool = NULL, *host = NULL;
    while ((c = getopt_long(argc, argv, "d:s:i:l:p:m:H:h", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'd': ok = xmemi_cli_double("--duration", optarg, 0, 31536000, &ro.duration_s); break;
        case 's': ro.summary_path = optarg; break;
        case 'i': ok = xmemi_cli_double("--interval", optarg, 0, 3600, &ro.interval_s); break;
        case 'l':
            ok = xmem_log_level_from_name(optarg, &(xmem_log_level){0}, &err) == XMEM_OK;
            if (!ok)
                fprintf(stderr, "xmem run: --log-level %s\n", err.msg);
            ro.log_level = optarg;
            break;
        case 'p':
            ok = xmem_pool_check_name(optarg, &err) == XMEM_OK;
            if (!ok)
                fprintf(stderr, "xmem run: --pool: %s\n", err.msg);
            pool = optarg;
            break;
        case 'm': {
            struct sockaddr_in sa;
            ok = xmemi_metrics_addr_parse(optarg, &sa, &err) == XMEM_OK;
            if (!ok)
                fprintf(stderr, "xmem run: --metrics: %s\n", err.msg);
            else if (!(ok = xmemi_metrics_built()))
                fprintf(stderr, "xmem run: --metrics: this xmem was built without libmicrohttpd "
                                "(install libmicrohttpd-dev and build again)\n");
            ro.metrics = optarg;
            break;
        }
        case 'D': ro.dot_path = optarg; break;
        case 'H': host = optarg; break;
        case 'h': usage(stdout); return XMEMI_EXIT_OK;
        default: usage(stderr); return XMEMI_EXIT_USAGE;
        }
        if (!ok)
            return XMEMI_EXIT_USAGE;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "xmem run: give one graph file (see xmem run --help)\n");
        return XMEMI_EXIT_USAGE;
    }
    static xmemi_graph g;
    xmem_err rc = xmemi_graph_parse(argv[optind], &g, &err);
    if (!rc && g.insecure_network) /* at every start, so that nobody forgets it is on */
        fprintf(stderr, "xmem run: WARNING: options.insecure_network is true: frames cross the "
                        "network in plaintext, and any peer that reaches the ports is accepted\n");
    if (!rc) {
        int status = xmemi_cli_host_part(&g, host, "xmem run");
        if (status != XMEMI_EXIT_OK) {
            xmemi_graph_free(&g);
            return status;
        }
    }
    if (!rc && pool)
        snprintf(g.pool_name, sizeof g.pool_name, "%s", pool);
    if (!rc)
        rc = xmemi_graph_check(&g, &err);
    if (rc) {
        fprintf(stderr, "xmem run: %s\n", err.msg);
        xmemi_graph_free(&g);
        return xmemi_exit_for(rc);
    }
    int status = xmemi_launch(&g, &ro);
    xmemi_graph_free(&g);
    return status;
}
