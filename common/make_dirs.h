/* Making the directories a path needs, as `mkdir -p` makes them: the runtime directory's parents,
 * a fresh keys/ directory for `xmem keygen`. */
#ifndef XMEM_COMMON_MAKE_DIRS_H
#define XMEM_COMMON_MAKE_DIRS_H

#include <sys/types.h>

#include <xmem/error.h>

/* Creates the missing directories above `path` (not `path` itself) with `mode`, which the umask
 * may narrow; existing ones are left as they are. XMEM_ESYS naming the one that could not be
 * made, with the system's reason. */
xmem_err xmemi_make_parents(const char *path, mode_t mode, xmem_error_t *err);

#endif
