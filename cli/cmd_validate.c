/* `xmem validate GRAPH`: everything `xmem run` checks before it starts anything, and nothing
 * else: the file parses, every plugin loads, every parameter, port and edge is right, no cycle,
 * the pool is large enough. */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "graph/graph.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: xmem validate GRAPH.yaml\n"
                 "\n"
                 "Checks a graph without running it: YAML syntax, known keys and value types,\n"
                 "plugins (loaded and ABI-checked), parameters (names, types, ranges), inputs\n"
                 "(existing nodes and ports), cycles, and that the pool holds every queue plus\n"
                 "what is in flight. Errors name file:line:column. Exit status 0 when valid, 1\n"
                 "when not, 2 on bad usage.\n"
                 "\n"
                 "  -h, --help   this text\n");
}

int xmemi_cmd_validate(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        usage(stderr);
        return 2;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "xmem validate: give one graph file (see xmem validate --help)\n");
        return 2;
    }
    xmemi_graph g;
    xmem_error_t err;
    if (xmemi_graph_parse(argv[optind], &g, &err) || xmemi_graph_check(&g, &err)) {
        fprintf(stderr, "xmem validate: %s\n", err.msg);
        xmemi_graph_free(&g);
        return 1;
    }
    char detail[1024];
    uint32_t need = xmemi_graph_buffers_needed(&g, detail, sizeof detail);
    printf("%s: valid: %u nodes, pool '%s' with %u buffers (%u needed)\n", g.path, g.n_nodes,
           g.pool_name, g.buffers, need);
    for (uint32_t i = 0; i < g.n_nodes; i++) {
        const xmemi_graph_node *n = &g.nodes[g.order[i]];
        printf("  %-12s %-10s", n->name, n->loaded.desc.name);
        for (uint32_t k = 0; k < n->n_inputs; k++)
            printf(" %s<-%s/%s", n->inputs[k].port, n->inputs[k].from_node, n->inputs[k].from_port);
        printf("\n");
    }
    xmemi_graph_free(&g);
    return 0;
}
