/* Named POSIX shared memory objects: create (0600, exclusive, its memory reserved), open, map,
 * unlink, and the room left for them. The pool's meta region and each CPU buffer are one such
 * object. */
#ifndef XMEM_CORE_SHM_H
#define XMEM_CORE_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <xmem/error.h>

/* Where shm_open puts its objects (glibc on Linux): the tmpfs whose size bounds every pool. */
#define XMEMI_SHM_DIR "/dev/shm"

/* Longest shm object name we build, with the leading '/' and the NUL. */
#define XMEMI_SHM_NAME_MAX 96

typedef struct xmemi_shm {
    void *addr;  /* mapping, NULL when closed */
    size_t size; /* bytes mapped */
} xmemi_shm;

/* Creates `name` exclusively with mode 0600, sizes it, allocates its memory and maps it
 * read-write, pre-faulting every page when `populate`. XMEM_EEXIST if it exists; XMEM_ENOMEM when
 * /dev/shm has no room for it, naming the bytes it needs and the bytes free. On failure nothing is
 * left behind. */
xmem_err xmemi_shm_create(const char *name, size_t size, bool populate, xmemi_shm *out,
                          xmem_error_t *err);

/* Opens and maps an existing object. With size 0 the object's own size is mapped.
 * XMEM_ENOENT if it does not exist; XMEM_ELAYOUT if it is smaller than `size`. */
xmem_err xmemi_shm_open(const char *name, size_t size, bool populate, xmemi_shm *out,
                        xmem_error_t *err);

/* Bytes free in /dev/shm and its size. false when unknown: no /dev/shm, or a tmpfs without a
 * size limit (its room is then the machine's memory). */
bool xmemi_shm_space(uint64_t *free_bytes, uint64_t *size_bytes);

/* Whether object `name` exists and belongs to another user than this process's effective one
 * (whose objects xmem never opens, replaces or removes); its owner into *uid. */
bool xmemi_shm_foreign(const char *name, uid_t *uid);

/* Unmaps (the object stays). Accepts a closed one. */
void xmemi_shm_close(xmemi_shm *shm);

/* Removes the name; mappings stay valid. ENOENT is not an error. */
xmem_err xmemi_shm_unlink(const char *name, xmem_error_t *err);

#endif
