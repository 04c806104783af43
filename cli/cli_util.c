/* Argument helpers of the `xmem` subcommands. */
#include "cli_util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_file.h"

bool xmemi_cli_int(const char *opt, const char *text, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || errno || v < min || v > max) {
        fprintf(stderr, "xmem: %s '%s': expected an integer from %lld to %lld\n", opt, text, min,
                max);
        return false;
    }
    *out = v;
    return true;
}

bool xmemi_cli_double(const char *opt, const char *text, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v) || v < min || v > max) {
        fprintf(stderr, "xmem: %s '%s': expected a number from %g to %g\n", opt, text, min, max);
        return false;
    }
    *out = v;
    return true;
}

bool xmemi_cli_split(const char *opt, char *arg, char **key, char **value)
{
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) {
        fprintf(stderr, "xmem: %s '%s': expected NAME=VALUE\n", opt, arg);
        return false;
    }
    *eq = '\0';
    *key = arg;
    *value = eq + 1;
    return true;
}

void xmemi_cli_graph_help(FILE *out)
{
    fprintf(out,
            "GRAPH is a file, `-` for stdin, or a pipe (/dev/stdin, <(command)). It is read\n"
            "whole before parsing: at most %zu KiB of UTF-8 text without NUL bytes; a pipe or\n"
            "FIFO that gives nothing for %d s is refused. Relative plugin paths start at the\n"
            "graph file's directory, or at the current directory for stdin and pipes.\n",
            XMEMI_GRAPH_FILE_MAX >> 10, XMEMI_GRAPH_FILE_WAIT_MS / 1000);
}
