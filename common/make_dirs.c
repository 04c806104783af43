/* Making a path's directories (make_dirs.h). */
#include "make_dirs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fail.h"

xmem_err xmemi_make_parents(const char *path, mode_t mode, xmem_error_t *err)
{
    char walk[PATH_MAX];
    snprintf(walk, sizeof walk, "%s", path);
    for (char *slash = strchr(walk + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(walk, mode) != 0 && errno != EEXIST)
            return xmemi_fail(err, XMEM_ESYS, errno, "cannot create %s", walk);
        *slash = '/';
    }
    return XMEM_OK;
}
