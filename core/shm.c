/* POSIX shm objects for the pool: 0600, exclusive create, unlink by name. */
#define _GNU_SOURCE
#include "shm.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fail.h"

static xmem_err map_fd(int fd, const char *name, size_t size, bool populate, xmemi_shm *out,
                       xmem_error_t *err)
{
    int flags = MAP_SHARED | (populate ? MAP_POPULATE : 0);
    void *addr = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (addr == MAP_FAILED)
        return xmemi_fail(err, errno == ENOMEM ? XMEM_ENOMEM : XMEM_ESYS, errno,
                          "mmap of shm object '%s' (%zu bytes)", name, size);
    out->addr = addr;
    out->size = size;
    return XMEM_OK;
}

xmem_err xmemi_shm_create(const char *name, size_t size, bool populate, xmemi_shm *out,
                          xmem_error_t *err)
{
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return xmemi_fail(err, XMEM_EEXIST, 0, "shm object '%s' already exists", name);
        return xmemi_fail(err, XMEM_ESYS, errno, "shm_open('%s', create)", name);
    }
    xmem_err rc;
    /* The umask may have narrowed the mode; make sure it is exactly 0600. */
    if (fchmod(fd, 0600) != 0) {
        rc = xmemi_fail(err, XMEM_ESYS, errno, "fchmod of shm object '%s'", name);
        goto fail_unlink;
    }
    if (ftruncate(fd, (off_t)size) != 0) {
        rc = xmemi_fail(err, errno == ENOSPC ? XMEM_ENOMEM : XMEM_ESYS, errno,
                        "ftruncate of shm object '%s' to %zu bytes", name, size);
        goto fail_unlink;
    }
    rc = map_fd(fd, name, size, populate, out, err);
    if (rc)
        goto fail_unlink;
    close(fd);
    return XMEM_OK;

fail_unlink:
    shm_unlink(name);
    close(fd);
    return rc;
}

xmem_err xmemi_shm_open(const char *name, size_t size, bool populate, xmemi_shm *out,
                        xmem_error_t *err)
{
    int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
        if (errno == ENOENT)
            return xmemi_fail(err, XMEM_ENOENT, 0, "shm object '%s' does not exist", name);
        return xmemi_fail(err, XMEM_ESYS, errno, "shm_open('%s')", name);
    }
    xmem_err rc;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = xmemi_fail(err, XMEM_ESYS, errno, "fstat of shm object '%s'", name);
        goto out;
    }
    if (size == 0)
        size = (size_t)st.st_size;
    if (size == 0 || (size_t)st.st_size < size) {
        rc = xmemi_fail(err, XMEM_ELAYOUT, 0,
                        "shm object '%s' holds %lld bytes, expected at least %zu", name,
                        (long long)st.st_size, size ? size : (size_t)1);
        goto out;
    }
    rc = map_fd(fd, name, size, populate, out, err);
out:
    close(fd);
    return rc;
}

void xmemi_shm_close(xmemi_shm *shm)
{
    if (shm->addr)
        munmap(shm->addr, shm->size);
    shm->addr = NULL;
    shm->size = 0;
}

xmem_err xmemi_shm_unlink(const char *name, xmem_error_t *err)
{
    if (shm_unlink(name) != 0 && errno != ENOENT)
        return xmemi_fail(err, XMEM_ESYS, errno, "shm_unlink('%s')", name);
    return XMEM_OK;
}
