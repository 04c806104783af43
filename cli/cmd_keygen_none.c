/* `xmem keygen` in a build without czmq (XMEM_WITH_CZMQ=OFF or libczmq-dev missing): it says
 * so, as the other optional parts do. */
#include <stdio.h>

#include "commands.h"
#include "common/exit_status.h"

int xmemi_cmd_keygen(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "xmem keygen: this xmem was built without czmq (install libczmq-dev and "
                    "build again)\n");
    return XMEMI_EXIT_FAILED;
}
