/* Small helpers shared by the `xmem` subcommands: number and KEY=VALUE arguments, with messages
 * that name the option at fault, and help text they share. */
#ifndef XMEM_CLI_CLI_UTIL_H
#define XMEM_CLI_CLI_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Parses an integer in [min, max] for option `opt`; prints why on stderr and returns false. */
bool xmemi_cli_int(const char *opt, const char *text, long long min, long long max, long long *out);
bool xmemi_cli_double(const char *opt, const char *text, double min, double max, double *out);

/* Splits "KEY=VALUE" in place (the '=' becomes '\0'); false, with a message, when there is none
 * or either side is empty. */
bool xmemi_cli_split(const char *opt, char *arg, char **key, char **value);

/* The paragraph of `validate` and `run --help` on what GRAPH may be (graph/graph_file.h). */
void xmemi_cli_graph_help(FILE *out);

#endif
