/* `xmem pool`: creates a pool and keeps it alive for nodes started by hand (as iceoryx's RouDi
 * does for its users), printing its use; Ctrl-C removes it. `xmem run` does this itself. */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <xmem/pool_admin.h>
#include <xmem/pool.h>

#include "cli_util.h"
#include "commands.h"
#include "common/exit_status.h"
#include "common/plural.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    stop = sig;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: xmem pool [options] NAME\n"
                 "\n"
                 "Creates pool NAME (/dev/shm/NAME_*, mode 0600), replacing a stale one left by a\n"
                 "crashed run, and keeps it until SIGINT/SIGTERM, then removes it. Prints a line\n"
                 "every --interval seconds: buffers free and who holds the others. Nodes attach\n"
                 "with `xmem node --pool NAME`. Exit status: 0 when it was stopped, 1 when the\n"
                 "pool could not be made, 2 on bad usage, 3 when NAME cannot name a pool.\n"
                 "\n"
                 "  -c, --capacity N   buffer slots (default 64)\n"
                 "  -i, --interval S   seconds between status lines, 0 for none (default 1)\n"
                 "  -h, --help         this text\n");
}

int xmemi_cmd_pool(int argc, char **argv)
{
    static const struct option opts[] = {
        {"capacity", required_argument, 0, 'c'},
        {"interval", required_argument, 0, 'i'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    long long capacity = 64;
    double interval = 1.0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:i:h", opts, NULL)) != -1) {
        bool ok = true;
        if (c == 'c')
            ok = xmemi_cli_int("--capacity", optarg, 1, 1 << 20, &capacity);
        else if (c == 'i')
            ok = xmemi_cli_double("--interval", optarg, 0, 86400, &interval);
        else if (c == 'h') {
            usage(stdout);
            return XMEMI_EXIT_OK;
        } else {
            usage(stderr);
            return XMEMI_EXIT_USAGE;
        }
        if (!ok)
            return XMEMI_EXIT_USAGE;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "xmem pool: give one pool NAME (see xmem pool --help)\n");
        return XMEMI_EXIT_USAGE;
    }
    const char *name = argv[optind];
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    xmem_pool_options po;
    xmem_pool_options_init(&po);
    po.capacity = (uint32_t)capacity;
    xmem_pool_t *pool = NULL;
    xmem_error_t err;
    xmem_err rc = xmem_pool_create_with(name, &po, &pool, &err);
    if (rc) {
        fprintf(stderr, "xmem pool: %s\n", err.msg);
        return rc == XMEM_ENAME ? XMEMI_EXIT_INVALID : XMEMI_EXIT_FAILED;
    }
    fprintf(stderr, "xmem pool: '%s' ready, %u buffers; Ctrl-C removes it\n", name,
            xmem_pool_capacity(pool));
    while (!stop) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
        for (double waited = 0; !stop && (interval == 0 || waited < interval); waited += 0.1)
            nanosleep(&ts, NULL);
        if (stop)
            break;
        /* Nodes that died without detaching: their references come back here too. */
        uint64_t returned = 0;
        xmem_pool_reclaim_dead(pool, &returned, NULL);
        char holders[512];
        xmem_pool_describe_holders(pool, holders, sizeof holders);
        fprintf(stderr, "xmem pool: '%s': %u/%u free%s%s", name, xmem_pool_free_count(pool),
                xmem_pool_capacity(pool), holders[0] ? "; held by " : "", holders);
        if (returned)
            fprintf(stderr, "; %llu reference%s of dead processes given back",
                    (unsigned long long)returned, xmemi_s(returned));
        fputc('\n', stderr);
    }
    fprintf(stderr, "xmem pool: '%s': %u/%u free at exit; removed\n", name,
            xmem_pool_free_count(pool), xmem_pool_capacity(pool));
    xmem_pool_destroy(&pool);
    return XMEMI_EXIT_OK;
}
