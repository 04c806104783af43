/* `xmem logs [GRAPH] NODE`: what a node of a running graph wrote (its stdout and stderr, which the
 * launcher copies to logs/NODE.log in the runtime directory, node_logs.h); -f follows it until the
 * graph ends. The file goes with the runtime directory when the run ends. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_util.h"
#include "commands.h"
#include "common/exit_status.h"
#include "graph/node_logs.h"
#include "graph/observe.h"
#include "graph/runtime_dir.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: xmem logs [options] [GRAPH] NODE\n"
                 "\n"
                 "Prints what NODE of the running graph GRAPH (its pool name or graph file;\n"
                 "without it, the only graph running) wrote to its stdout and stderr since the\n"
                 "run started, restarts included. `xmem run` copies it to its own terminal too.\n"
                 "Exit status: 0 when printed (with -f, when the graph ended or on Ctrl-C), 1\n"
                 "when the graph cannot be found, 2 on bad usage, 3 when it has no such node.\n"
                 "\n"
                 "  -n, --lines N   only the last N lines\n"
                 "  -f, --follow    keep printing what it writes until the graph ends\n"
                 "  -h, --help      this text\n");
}

static int follow(const char *dir, const char *path, pid_t launcher, off_t from)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return XMEMI_EXIT_FAILED;
    lseek(fd, from, SEEK_SET);
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n || fflush(stdout) != 0)
                break; /* its reader went away */
            continue;
        }
        if (xmemi_runtime_dir_launcher(dir) != launcher)
            break;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    close(fd);
    return XMEMI_EXIT_OK;
}

int xmemi_cmd_logs(int argc, char **argv)
{
    static const struct option opts[] = {
        {"lines", required_argument, 0, 'n'},
        {"follow", no_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    long long lines = 0;
    bool follow_it = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:fh", opts, NULL)) != -1) {
        if (c == 'n') {
            if (!xmemi_cli_int("--lines", optarg, 1, 1000000, &lines))
                return XMEMI_EXIT_USAGE;
        } else if (c == 'f')
            follow_it = true;
        else if (c == 'h') {
            usage(stdout);
            return XMEMI_EXIT_OK;
        } else {
            usage(stderr);
            return XMEMI_EXIT_USAGE;
        }
    }
    int left = argc - optind;
    if (left < 1 || left > 2) {
        fprintf(stderr, "xmem logs: give [GRAPH] NODE (see xmem logs --help)\n");
        return XMEMI_EXIT_USAGE;
    }
    const char *node = argv[argc - 1];
    char dir[256];
    bool bare;
    xmem_error_t err;
    xmemi_run_desc d;
    if (xmemi_obs_find(left == 2 ? argv[optind] : NULL, dir, sizeof dir, &bare, &err) ||
        xmemi_run_desc_read(dir, &d, &err)) {
        fprintf(stderr, "xmem logs: %s\n", err.msg);
        return XMEMI_EXIT_FAILED;
    }
    bool known = xmemi_run_desc_node(&d, node) >= 0;
    pid_t launcher = d.launcher;
    xmemi_run_desc_free(&d);
    if (!known) {
        fprintf(stderr, "xmem logs: graph in %s has no node '%s'\n", dir, node);
        return XMEMI_EXIT_INVALID;
    }
    char path[512];
    xmemi_node_log_path(dir, node, path, sizeof path);
    off_t end = 0;
    if (lines) {
        static char text[65536];
        xmemi_node_log_tail(dir, node, (unsigned)lines, text, sizeof text);
        fputs(text, stdout);
        FILE *f = fopen(path, "r");
        if (f) {
            fseek(f, 0, SEEK_END);
            end = ftell(f);
            fclose(f);
        }
    } else if (!follow_it) {
        FILE *f = fopen(path, "r");
        if (!f) {
            fprintf(stderr, "xmem logs: %s: the node wrote nothing yet\n", path);
            return XMEMI_EXIT_OK;
        }
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            fwrite(buf, 1, n, stdout);
        fclose(f);
    }
    fflush(stdout);
    return follow_it ? follow(dir, path, launcher, end) : XMEMI_EXIT_OK;
}
