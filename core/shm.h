/* Named POSIX shared memory objects: create (0600, exclusive), open, map, unlink. The pool's meta
 * region and each CPU buffer are one such object. */
#ifndef XMEM_CORE_SHM_H
#define XMEM_CORE_SHM_H

#include <stdbool.h>
#include <stddef.h>

#include <xmem/error.h>

/* Longest shm object name we build, with the leading '/' and the NUL. */
#define XMEMI_SHM_NAME_MAX 96

typedef struct xmemi_shm {
    void *addr;  /* mapping, NULL when closed */
    size_t size; /* bytes mapped */
} xmemi_shm;

/* Creates `name` exclusively with mode 0600, sizes it and maps it read-write, pre-faulting every
 * page when `populate`. XMEM_EEXIST if it exists. On failure nothing is left behind. */
xmem_err xmemi_shm_create(const char *name, size_t size, bool populate, xmemi_shm *out,
                          xmem_error_t *err);

/* Opens and maps an existing object. With size 0 the object's own size is mapped.
 * XMEM_ENOENT if it does not exist; XMEM_ELAYOUT if it is smaller than `size`. */
xmem_err xmemi_shm_open(const char *name, size_t size, bool populate, xmemi_shm *out,
                        xmem_error_t *err);

/* Unmaps (the object stays). Accepts a closed one. */
void xmemi_shm_close(xmemi_shm *shm);

/* Removes the name; mappings stay valid. ENOENT is not an error. */
xmem_err xmemi_shm_unlink(const char *name, xmem_error_t *err);

#endif
