/* Small helpers shared by the `xmem` subcommands: number and KEY=VALUE arguments, with messages
 * that name the option at fault. */
#ifndef XMEM_CLI_CLI_UTIL_H
#define XMEM_CLI_CLI_UTIL_H

#include <stdbool.h>
#include <stdint.h>

/* Parses an integer in [min, max] for option `opt`; prints why on stderr and returns false. */
bool xmemi_cli_int(const char *opt, const char *text, long long min, long long max, long long *out);
bool xmemi_cli_double(const char *opt, const char *text, double min, double max, double *out);

/* Splits "KEY=VALUE" in place (the '=' becomes '\0'); false, with a message, when there is none
 * or either side is empty. */
bool xmemi_cli_split(const char *opt, char *arg, char **key, char **value);

#endif
