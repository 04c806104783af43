/* System-call counting for the benchmarks' "syscalls/op" column. */
#define _GNU_SOURCE
#include "syscall_counter.h"

#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static long read_id(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long id = -1;
    if (fscanf(f, "%ld", &id) != 1)
        id = -1;
    fclose(f);
    return id;
}

static long tracepoint_id(void)
{
    static const char *paths[] = {
        "/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
        "/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
    };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        long id = read_id(paths[i]);
        if (id >= 0)
            return id;
    }
    /* Not mounted: mount tracefs privately for long enough to read the id. */
    char dir[] = "/tmp/xmem-bench-tracefs-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    long id = -1;
    if (mount("nodev", dir, "tracefs", 0, NULL) == 0) {
        char path[128];
        snprintf(path, sizeof path, "%s/events/raw_syscalls/sys_enter/id", dir);
        id = read_id(path);
        umount(dir);
    }
    rmdir(dir);
    return id;
}

bool syscall_counter_open(syscall_counter *c, const char **why)
{
    c->fd = -1;
    c->offset = 0;
    long id = tracepoint_id();
    if (id < 0) {
        *why = "no tracefs (raw_syscalls:sys_enter): run as root or mount tracefs";
        return false;
    }
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_TRACEPOINT;
    attr.config = (uint64_t)id;
    attr.disabled = 1;
    attr.sample_period = 1;
    int fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0) {
        *why = "perf_event_open of raw_syscalls:sys_enter refused (perf_event_paranoid?)";
        return false;
    }
    c->fd = fd;
    syscall_counter_start(c);
    c->offset = syscall_counter_stop(c);
    return true;
}

void syscall_counter_start(syscall_counter *c)
{
    if (c->fd < 0)
        return;
    ioctl(c->fd, PERF_EVENT_IOC_RESET, 0);
    ioctl(c->fd, PERF_EVENT_IOC_ENABLE, 0);
}

uint64_t syscall_counter_stop(syscall_counter *c)
{
    if (c->fd < 0)
        return 0;
    ioctl(c->fd, PERF_EVENT_IOC_DISABLE, 0);
    uint64_t n = 0;
    if (read(c->fd, &n, sizeof n) != (ssize_t)sizeof n)
        return 0;
    return n >= c->offset ? n - c->offset : 0;
}

void syscall_counter_close(syscall_counter *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}
