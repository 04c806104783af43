/* `xmem ps`: the graphs running for this user, from their runtime directories (observe.h): graph
 * file, pool, launcher pid, uptime, nodes running of all, state; --json for scripts. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "common/exit_status.h"
#include "graph/json_out.h"
#include "graph/observe.h"
#include "graph/runtime_dir.h"

#define MAX_RUNS 128

static void usage(FILE *out)
{
    fprintf(out, "usage: xmem ps [--json]\n"
                 "\n"
                 "Lists the graphs `xmem run` runs for this user (their runtime directories under\n"
                 "$XMEM_RUNTIME_DIR, default /tmp/xmem-UID): pool, launcher pid, uptime, nodes\n"
                 "running of all, state (running, stopping, or dead: a killed launcher's, which\n"
                 "the next run of the graph cleans up), metrics endpoint and graph file.\n"
                 "Exit status: 0 (also when none runs), 2 on bad usage.\n"
                 "\n"
                 "  -j, --json   one JSON object: {\"graphs\": [...]}\n"
                 "  -h, --help   this text\n");
}

static const char *state_of(const xmemi_obs_entry *e)
{
    return !e->alive ? "dead" : e->stopping ? "stopping" : "running";
}

static void print_json(const xmemi_obs_entry *e, uint32_t n, double now)
{
    printf("{\"graphs\": [");
    for (uint32_t i = 0; i < n; i++) {
        printf("%s\n  {\"pool\": ", i ? "," : "");
        xmemi_json_string(stdout, e[i].pool);
        printf(", \"graph\": ");
        xmemi_json_string(stdout, e[i].graph);
        printf(", \"launcher_pid\": %d, \"state\": \"%s\", \"uptime_s\": %.3f, \"nodes\": %u, "
               "\"running\": %u, \"metrics\": ",
               (int)e[i].launcher, state_of(&e[i]), now - e[i].started_unix, e[i].n_nodes,
               e[i].n_running);
        xmemi_json_string(stdout, e[i].metrics);
        printf(", \"runtime_dir\": ");
        xmemi_json_string(stdout, e[i].dir);
        printf("}");
    }
    printf("\n]}\n");
}

static void print_table(const xmemi_obs_entry *e, uint32_t n, double now)
{
    if (!n) {
        char base[200];
        xmemi_runtime_dir_base(base, sizeof base);
        printf("no graph runs (runtime directories under %s)\n", base);
        return;
    }
    printf("%-20s %8s %10s %7s %-9s %-21s %s\n", "POOL", "PID", "UPTIME", "NODES", "STATE",
           "METRICS", "GRAPH");
    for (uint32_t i = 0; i < n; i++) {
        char nodes[24], up[48];
        snprintf(nodes, sizeof nodes, "%u/%u", e[i].n_running, e[i].n_nodes);
        long s = (long)(now - e[i].started_unix);
        if (s < 3600)
            snprintf(up, sizeof up, "%ldm%02lds", s / 60, s % 60);
        else
            snprintf(up, sizeof up, "%ldh%02ldm", s / 3600, s / 60 % 60);
        printf("%-20s %8d %10s %7s %-9s %-21s %s\n", e[i].pool, (int)e[i].launcher, up, nodes,
               state_of(&e[i]), e[i].metrics[0] ? e[i].metrics : "-", e[i].graph);
    }
}

int xmemi_cmd_ps(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        if (c == 'j')
            json = true;
        else if (c == 'h') {
            usage(stdout);
            return XMEMI_EXIT_OK;
        } else {
            usage(stderr);
            return XMEMI_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "xmem ps: takes no arguments (see xmem ps --help)\n");
        return XMEMI_EXIT_USAGE;
    }
    xmemi_obs_entry *e = calloc(MAX_RUNS, sizeof *e);
    if (!e) {
        fprintf(stderr, "xmem ps: no memory\n");
        return XMEMI_EXIT_FAILED;
    }
    uint32_t n = xmemi_obs_list(e, MAX_RUNS);
    double now = xmemi_obs_unix_now();
    if (json)
        print_json(e, n, now);
    else
        print_table(e, n, now);
    free(e);
    return XMEMI_EXIT_OK;
}
