/* POSIX shm objects for the pool: 0600, exclusive create with the memory reserved at once, unlink
 * by name, and the room /dev/shm has left. */
#define _GNU_SOURCE
#include "shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/fail.h"
#include "common/size_text.h"
#include "common/user_name.h"

/* A tmpfs call that allocates gives up whole when a signal arrives (EINTR, its pages undone):
 * steps this size finish between the signals of any sane timer, so the reservation progresses. */
#define RESERVE_STEP ((size_t)64 << 20)

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

bool xmemi_shm_space(uint64_t *free_bytes, uint64_t *size_bytes)
{
    struct statvfs st;
    /* A tmpfs mounted without a size reports no blocks at all. */
    if (statvfs(XMEMI_SHM_DIR, &st) != 0 || st.f_blocks == 0)
        return false;
    *free_bytes = (uint64_t)st.f_bavail * st.f_frsize;
    *size_bytes = (uint64_t)st.f_blocks * st.f_frsize;
    return true;
}

/* Allocates every page of the object now (tmpfs really allocates on fallocate), so that a full
 * /dev/shm is an error here and never a SIGBUS at some later first touch, in whichever process
 * touches it. Returns an errno value (posix_fallocate sets no errno), 0 when done. */
static int reserve(int fd, size_t size)
{
    for (size_t done = 0; done < size;) {
        size_t len = size - done < RESERVE_STEP ? size - done : RESERVE_STEP;
        int e = posix_fallocate(fd, (off_t)done, (off_t)len);
        if (e == EINTR)
            continue;
        if (e)
            return e;
        done += len;
    }
    return 0;
}

static xmem_err reserve_failed(xmem_error_t *err, const char *name, size_t size, int e)
{
    if (e != ENOSPC && e != ENOMEM)
        return xmemi_fail(err, XMEM_ESYS, e, "posix_fallocate of shm object '%s' (%zu bytes)", name,
                          size);
    uint64_t free_bytes, total;
    if (!xmemi_shm_space(&free_bytes, &total))
        return xmemi_fail(err, XMEM_ENOMEM, e,
                          "no room in " XMEMI_SHM_DIR " for shm object '%s' (%s)", name,
                          xmemi_size(size).s);
    return xmemi_fail(err, XMEM_ENOMEM, e,
                      "no room in " XMEMI_SHM_DIR
                      " for shm object '%s': it needs %s, %s free of %s",
                      name, xmemi_size(size).s, xmemi_size(free_bytes).s, xmemi_size(total).s);
}

bool xmemi_shm_foreign(const char *name, uid_t *uid)
{
    char path[sizeof XMEMI_SHM_DIR + XMEMI_SHM_NAME_MAX];
    snprintf(path, sizeof path, XMEMI_SHM_DIR "%s", name);
    struct stat st;
    if (lstat(path, &st) != 0 || st.st_uid == geteuid())
        return false;
    *uid = st.st_uid;
    return true;
}

xmem_err xmemi_shm_create(const char *name, size_t size, bool populate, xmemi_shm *out,
                          xmem_error_t *err)
{
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        uid_t owner;
        if (errno == EEXIST && xmemi_shm_foreign(name, &owner))
            return xmemi_fail(err, XMEM_EEXIST, 0,
                              "shm object '%s' already exists and belongs to another user, %s",
                              name, xmemi_user_name(owner).s);
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
    /* Its whole size at once, so an opener never sees part of it; the pages come next. */
    if (ftruncate(fd, (off_t)size) != 0) {
        rc = xmemi_fail(err, errno == ENOSPC ? XMEM_ENOMEM : XMEM_ESYS, errno,
                        "ftruncate of shm object '%s' to %zu bytes", name, size);
        goto fail_unlink;
    }
    int e = reserve(fd, size);
    if (e) {
        rc = reserve_failed(err, name, size, e);
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
        uid_t owner;
        if (errno == EACCES && xmemi_shm_foreign(name, &owner))
            return xmemi_fail(err, XMEM_ESYS, EACCES,
                              "shm object '%s' belongs to another user, %s, and is not open to "
                              "this one",
                              name, xmemi_user_name(owner).s);
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
