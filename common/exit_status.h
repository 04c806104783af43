/* The exit statuses of every `xmem` subcommand: one scheme, listed by `xmem --help` and README. The
 * node host and the launcher produce them too, so they live below both. */
#ifndef XMEM_COMMON_EXIT_STATUS_H
#define XMEM_COMMON_EXIT_STATUS_H

#include <xmem/error.h>

enum {
    XMEMI_EXIT_OK = 0,      /* done */
    XMEMI_EXIT_FAILED = 1,  /* it ran and something failed: a node failed for good, a buffer
                               stayed held, a check did not pass, a pool or socket failed */
    XMEMI_EXIT_USAGE = 2,   /* the command line is wrong: an unknown option, an argument missing
                               or extra, an option's value not of its form or range */
    XMEMI_EXIT_INVALID = 3, /* what it was given is wrong: a graph file, a plugin that is
                               refused, a port or parameter its node does not have or take */
};

/* The status for what checking or running its input returned: XMEM_ECONFIG is invalid input,
 * any other error a failure. */
static inline int xmemi_exit_for(xmem_err rc)
{
    return rc == XMEM_OK        ? XMEMI_EXIT_OK
           : rc == XMEM_ECONFIG ? XMEMI_EXIT_INVALID
                                : XMEMI_EXIT_FAILED;
}

#endif
