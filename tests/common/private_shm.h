/* A small /dev/shm of a test's own: a forked child enters a mount namespace of its own and mounts
 * a fresh tmpfs of a given size on /dev/shm, so what a full /dev/shm does can be tried without
 * filling the machine's. It needs root (CAP_SYS_ADMIN) and namespaces allowed: a test program
 * built on it asks xf_private_shm_works() first and exits 77 (ctest: skipped) when they are not. */
#ifndef XMEM_TESTS_PRIVATE_SHM_H
#define XMEM_TESTS_PRIVATE_SHM_H

/* unshare() needs _GNU_SOURCE, defined by the including file before its first include. */
#include <dirent.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "skip_main.h"

/* Puts the calling process (a forked child: it is never undone) and its future children in a
 * mount namespace of their own whose /dev/shm is an empty tmpfs of `bytes`. Mounts made here
 * reach no other namespace (the tree is made private first). */
static inline bool xf_private_shm(size_t bytes)
{
    char opts[64];
    snprintf(opts, sizeof opts, "size=%zu,mode=1777", bytes);
    return unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
           mount("xmemt", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, opts) == 0;
}

/* Whether xf_private_shm works here, tried in a child so this process keeps the real /dev/shm. */
static inline bool xf_private_shm_works(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct statvfs st;
        bool ok = xf_private_shm(16384) && statvfs("/dev/shm", &st) == 0 &&
                  st.f_blocks * st.f_frsize == 16384;
        _exit(ok ? 0 : 1);
    }
    int status;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

/* The main() of a test program whose every test needs xf_private_shm. */
#define XF_PRIVATE_SHM_MAIN                                                                        \
    XF_MAIN_SKIPPED_UNLESS(xf_private_shm_works(),                                                 \
                           "no private /dev/shm here (needs root and mount namespaces): these "    \
                           "tests are skipped (exit 77)")

/* xf_in_private_shm's result when the child could not have its own /dev/shm. */
#define XF_NO_PRIVATE_SHM 99

/* Runs body(arg, report) in a forked child whose /dev/shm is a fresh tmpfs of `bytes`; the `len`
 * bytes of `report` the child filled come back into `report`. Returns the child's fate as xf_wait
 * gives it: 0 when it reported, XF_NO_PRIVATE_SHM, -1002 when it sent no report, or minus the
 * signal that killed it (a SIGBUS is -7). */
static inline int xf_in_private_shm(size_t bytes, void (*body)(void *arg, void *report), void *arg,
                                    void *report, size_t len)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1000;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        if (!xf_private_shm(bytes))
            _exit(XF_NO_PRIVATE_SHM);
        body(arg, report);
        _exit(xf_write_all(fd[1], report, len) ? 0 : 1);
    }
    close(fd[1]);
    bool got = pid > 0 && xf_read_all(fd[0], report, len);
    close(fd[0]);
    int status = pid > 0 ? xf_wait(pid) : -1000;
    return status == 0 && !got ? -1002 : status;
}

/* What /dev/shm holds, as "name name ..." into buf; returns how many entries. */
static inline int xf_shm_listing(char *buf, size_t len)
{
    int n = 0;
    size_t used = 0;
    buf[0] = '\0';
    DIR *d = opendir("/dev/shm");
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        int w = snprintf(buf + used, len - used, "%s%s", used ? " " : "", e->d_name);
        if (w > 0 && (size_t)w < len - used)
            used += (size_t)w;
    }
    closedir(d);
    return n;
}

#endif
