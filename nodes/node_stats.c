/* The shared stats file of a running graph (node_stats.h). */
#define _GNU_SOURCE
#include "node_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fail.h"

static size_t file_len(uint32_t count)
{
    return sizeof(xmemi_stats_file) + (size_t)count * sizeof(xmemi_node_stats);
}

xmem_err xmemi_stats_create(const char *path, uint32_t count, xmemi_stats_map *out,
                            xmem_error_t *err)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return xmemi_fail(err, XMEM_ESYS, errno, "stats file %s", path);
    size_t len = file_len(count);
    /* Allocated now: on a full tmpfs (/tmp often is one) the writes through the mapping, the
     * launcher's and every node's, would otherwise die of SIGBUS. */
    int e;
    while ((e = posix_fallocate(fd, 0, (off_t)len)) == EINTR) {
    }
    if (e) {
        xmem_err rc =
            xmemi_fail(err, XMEM_ESYS, e, "stats file %s: cannot allocate %zu bytes", path, len);
        close(fd);
        return rc;
    }
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return xmemi_fail(err, XMEM_ESYS, errno, "stats file %s: mmap", path);
    out->file = p;
    out->len = len;
    out->file->version = XMEMI_STATS_VERSION;
    out->file->record_size = sizeof(xmemi_node_stats);
    out->file->count = count;
    __atomic_store_n(&out->file->magic, XMEMI_STATS_MAGIC, __ATOMIC_RELEASE);
    return XMEM_OK;
}

xmem_err xmemi_stats_open(const char *path, uint32_t slot, xmemi_stats_map *out, xmem_error_t *err)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return xmemi_fail(err, XMEM_ESYS, errno, "stats file %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(xmemi_stats_file)) {
        close(fd);
        return xmemi_fail(err, XMEM_ELAYOUT, 0, "stats file %s: too small", path);
    }
    size_t len = (size_t)st.st_size;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return xmemi_fail(err, XMEM_ESYS, errno, "stats file %s: mmap", path);
    xmemi_stats_file *f = p;
    if (__atomic_load_n(&f->magic, __ATOMIC_ACQUIRE) != XMEMI_STATS_MAGIC ||
        f->version != XMEMI_STATS_VERSION || f->record_size != sizeof(xmemi_node_stats) ||
        len < file_len(f->count) || slot >= f->count) {
        munmap(p, len);
        return xmemi_fail(err, XMEM_ELAYOUT, 0,
                          "stats file %s: not a version %u stats file with a slot %u", path,
                          XMEMI_STATS_VERSION, slot);
    }
    out->file = f;
    out->len = len;
    return XMEM_OK;
}

void xmemi_stats_close(xmemi_stats_map *m)
{
    if (m->file)
        munmap(m->file, m->len);
    memset(m, 0, sizeof *m);
}

void xmemi_stats_latency(xmemi_node_stats *s, uint64_t ns)
{
    xmemi_stats_add(&s->latency[xmemi_hist_bucket(ns)], 1);
    xmemi_stats_add(&s->latency_samples, 1);
    xmemi_stats_add(&s->latency_sum_ns, ns);
    uint64_t max = xmemi_stats_read(&s->latency_max_ns);
    while (ns > max && !__atomic_compare_exchange_n(&s->latency_max_ns, &max, ns, true,
                                                    __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

const char *xmemi_callback_name(xmemi_callback cb)
{
    static const char *const names[] = {"none", "init", "tick", "process", "fini", "wake"};
    return (unsigned)cb < sizeof names / sizeof names[0] ? names[cb] : "?";
}
