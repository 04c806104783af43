/* `xmem top [GRAPH|POOL]`: a running graph seen from another terminal (observe.h): per node its
 * state, pid, restarts, frames, rate, latency, drops, buffers held, CPU and memory; per edge what
 * went over it and what was dropped; the pool's buffers by size class and who holds them. A full
 * screen (ncurses, top_screen.c) or one plain or JSON sample (--once). It only reads. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_util.h"
#include "commands.h"
#include "common/exit_status.h"
#include "top.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xmem top [options] [GRAPH|POOL]\n"
            "\n"
            "Shows a running graph: GRAPH is its pool name or its graph file; without it, the\n"
            "only graph running. Per node: state, pid, restarts, buffers in and out, rate,\n"
            "latency p50/p99 from the producer's stamp (over the last interval), drops, buffers\n"
            "held, CPU%% and resident memory. Per edge (and per tap): policy, depth, delivered,\n"
            "outstanding, drops by reason. The pool: buffers by size class, in use, and who\n"
            "holds them. A POOL with no graph (made by `xmem pool`) shows the pool alone.\n"
            "It only reads (the shared stats file, the pool's books): the graph never notices.\n"
            "Keys: q quit, up/down (j/k) pick a node, enter its edges and last log lines,\n"
            "s change the sort, p the pool's size classes.\n"
            "Exit status: 0 when quit or the graph ended, 1 when the graph or pool cannot be\n"
            "found or read, 2 on bad usage.\n"
            "\n"
            "  -1, --once          print one sample, taken over one interval, and exit\n"
            "  -j, --json          with --once: as JSON (the summary's field names per node)\n"
            "  -i, --interval S    seconds between samples (default 1)\n"
            "  -s, --sort KEY      graph (its order, default), rate, p99, cpu, held, drops\n"
            "  -h, --help          this text\n");
}

static void sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static bool parse_sort(const char *text, xmemi_top_sort *out)
{
    for (int s = 0; s < XMEMI_SORT_COUNT_; s++)
        if (strcmp(text, xmemi_top_sort_name((xmemi_top_sort)s)) == 0) {
            *out = (xmemi_top_sort)s;
            return true;
        }
    fprintf(stderr, "xmem top: --sort '%s': expected graph, rate, p99, cpu, held or drops\n", text);
    return false;
}

static int once(xmemi_obs *o, double interval, bool json, xmemi_top_sort sort)
{
    xmem_error_t err;
    if (xmemi_obs_sample(o, &err) || (sleep_s(interval), xmemi_obs_sample(o, &err))) {
        fprintf(stderr, "xmem top: %s\n", err.msg);
        return XMEMI_EXIT_FAILED;
    }
    if (json)
        xmemi_obs_json(stdout, o);
    else
        xmemi_top_print(stdout, o, sort);
    return XMEMI_EXIT_OK;
}

int xmemi_cmd_top(int argc, char **argv)
{
    static const struct option opts[] = {
        {"once", no_argument, 0, '1'},           {"json", no_argument, 0, 'j'},
        {"interval", required_argument, 0, 'i'}, {"sort", required_argument, 0, 's'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
    };
    bool one = false, json = false;
    double interval = 1.0;
    xmemi_top_sort sort = XMEMI_SORT_GRAPH;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "1ji:s:h", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case '1': one = true; break;
        case 'j': json = true; break;
        case 'i': ok = xmemi_cli_double("--interval", optarg, 0.01, 3600, &interval); break;
        case 's': ok = parse_sort(optarg, &sort); break;
        case 'h': usage(stdout); return XMEMI_EXIT_OK;
        default: usage(stderr); return XMEMI_EXIT_USAGE;
        }
        if (!ok)
            return XMEMI_EXIT_USAGE;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "xmem top: give at most one GRAPH or POOL (see xmem top --help)\n");
        return XMEMI_EXIT_USAGE;
    }
    if (json && !one) {
        fprintf(stderr, "xmem top: --json goes with --once\n");
        return XMEMI_EXIT_USAGE;
    }
    const char *target = optind < argc ? argv[optind] : NULL;
    char dir[256];
    bool bare = false;
    xmem_error_t err;
    xmem_err rc = xmemi_obs_find(target, dir, sizeof dir, &bare, &err);
    xmemi_obs *o = calloc(1, sizeof *o);
    if (!o) {
        fprintf(stderr, "xmem top: no memory\n");
        return XMEMI_EXIT_FAILED;
    }
    if ((rc && !bare) || (rc = xmemi_obs_open(bare ? NULL : dir, target, NULL, o, &err))) {
        fprintf(stderr, "xmem top: %s\n", err.msg);
        free(o);
        return XMEMI_EXIT_FAILED;
    }
    int status;
    if (one)
        status = once(o, interval, json, sort);
    else if ((rc = xmemi_top_screen(o, interval, sort, &err))) {
        fprintf(stderr, "xmem top: %s\n", err.msg);
        status = XMEMI_EXIT_FAILED;
    } else
        status = XMEMI_EXIT_OK;
    xmemi_obs_close(o);
    free(o);
    return status;
}
