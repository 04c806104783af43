/* `xmem validate GRAPH`: everything `xmem run` checks before it starts anything, and nothing
 * else: the file parses, every plugin loads, every parameter, port and edge is right, no cycle,
 * the pool is large enough and its memory fits. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "common/exit_status.h"
#include "common/size_text.h"
#include "graph/graph.h"
#include "host_pick.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: xmem validate [--host NAME] GRAPH.yaml\n"
                 "\n"
                 "Checks a graph without running it: YAML syntax, known keys and value types,\n"
                 "plugins (loaded and ABI-checked), parameters (names, types, ranges), inputs\n"
                 "(existing nodes and ports), cycles, that the pool holds every queue plus what\n"
                 "is in flight, and that its shared memory (metadata and preallocated buffers)\n"
                 "is within pool.shm_limit (default 3/4 of physical memory) and fits in what\n"
                 "/dev/shm has free. Errors name file:line:column. Exit status: 0 when valid, 3\n"
                 "when not (or the file cannot be read), 2 on bad usage, 1 when something else\n"
                 "failed (no room in /dev/shm for the pool, no memory).\n"
                 "\n");
    xmemi_cli_graph_help(out);
    fprintf(out,
            "\n"
            "A graph across hosts (hosts:) is checked whole: every node's host, the hosts'\n"
            "addresses, ports and public keys, every plugin, parameter and edge, CUDA nodes on\n"
            "hosts with CUDA buffers. Each host's pool is checked with its part:\n"
            "\n"
            "  -H, --host NAME   check host NAME's part as `xmem run --host NAME` runs it: its\n"
            "                    nodes and bridges, its pool, and its secret key (KEY_secret,\n"
            "                    mode 0600)\n"
            "  -h, --help        this text\n");
}

/* A graph across hosts, whole: which nodes each host runs. */
static void print_hosts(const xmemi_graph *g)
{
    printf("%s: valid: %u nodes on %u hosts (each host's pool: xmem validate --host NAME)\n",
           g->path, g->n_nodes, g->n_hosts);
    for (uint32_t h = 0; h < g->n_hosts; h++) {
        printf("  %s (%s, ports %u-%u):", g->hosts[h].name, g->hosts[h].address,
               g->hosts[h].port_first, g->hosts[h].port_last);
        for (uint32_t i = 0; i < g->n_nodes; i++)
            if (g->nodes[g->order[i]].host == h)
                printf(" %s", g->nodes[g->order[i]].name);
        printf("\n");
    }
}

int xmemi_cmd_validate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", required_argument, 0, 'H'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *host = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "H:h", opts, NULL)) != -1) {
        if (c == 'H') {
            host = optarg;
            continue;
        }
        if (c == 'h') {
            usage(stdout);
            return XMEMI_EXIT_OK;
        }
        usage(stderr);
        return XMEMI_EXIT_USAGE;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "xmem validate: give one graph file (see xmem validate --help)\n");
        return XMEMI_EXIT_USAGE;
    }
    xmemi_graph g;
    xmem_error_t err;
    xmem_err rc = xmemi_graph_parse(argv[optind], &g, &err);
    if (!rc && host) {
        int status = xmemi_cli_host_part(&g, host, "xmem validate");
        if (status != XMEMI_EXIT_OK) {
            xmemi_graph_free(&g);
            return status;
        }
    }
    if (!rc)
        rc = xmemi_graph_check(&g, &err);
    if (rc) {
        fprintf(stderr, "xmem validate: %s\n", err.msg);
        xmemi_graph_free(&g);
        return xmemi_exit_for(rc);
    }
    if (g.n_hosts && !g.planned) {
        print_hosts(&g);
        xmemi_graph_free(&g);
        return XMEMI_EXIT_OK;
    }
    char detail[1024];
    uint32_t need = xmemi_graph_buffers_needed(&g, detail, sizeof detail);
    xmem_pool_options po;
    xmemi_graph_pool_options(&g, &po);
    printf("%s: valid: %u nodes, pool '%s' with %u buffers (%u needed), %s of /dev/shm at start\n",
           g.path, g.n_nodes, g.pool_name, g.buffers, need, xmemi_size(xmem_pool_shm_bytes(&po)).s);
    int name_w = 0, plugin_w = 0; /* as wide as the longest, so the inputs line up */
    for (uint32_t i = 0; i < g.n_nodes; i++) {
        int nw = (int)strlen(g.nodes[i].name), pw = (int)strlen(g.nodes[i].loaded.desc.name);
        name_w = nw > name_w ? nw : name_w;
        plugin_w = pw > plugin_w ? pw : plugin_w;
    }
    for (uint32_t i = 0; i < g.n_nodes; i++) {
        const xmemi_graph_node *n = &g.nodes[g.order[i]];
        printf("  %-*s %-*s", name_w, n->name, plugin_w, n->loaded.desc.name);
        for (uint32_t k = 0; k < n->n_inputs; k++)
            printf(" %s<-%s/%s", n->inputs[k].port, n->inputs[k].from_node, n->inputs[k].from_port);
        printf("\n");
    }
    xmemi_graph_free(&g);
    return XMEMI_EXIT_OK;
}
