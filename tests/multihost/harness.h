/* What the multihost tests share: running one scenario of two_hosts.sh (TWO_HOSTS, with the built
 * `xmem` at XMEM_CLI) to its end, its output kept in a file and shown whole when it fails. The
 * script does the checks (it is also run by hand); a test passes when it says PASSED, is skipped
 * when it exits 77 (no root or no namespaces here). */
#ifndef XMEM_TESTS_MULTIHOST_HARNESS_H
#define XMEM_TESTS_MULTIHOST_HARNESS_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A scenario runs two launchers for up to 12 s of frames, then waits for both to drain; on a
 * loaded two-core machine a run takes up to about a minute. */
#define MH_TIMEOUT 150

static char mh_output[1 << 17];

/* Runs `two_hosts.sh XMEM_CLI scenario`; returns its exit status (-1: killed) with its output in
 * mh_output. */
static inline int mh_run(const char *scenario)
{
    char path[] = "/tmp/xmemt-mh-out-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        execl("/bin/bash", "bash", TWO_HOSTS, XMEM_CLI, scenario, (char *)NULL);
        _exit(127);
    }
    int status = -1;
    while (pid > 0 && waitpid(pid, &status, 0) < 0) {
    }
    ssize_t n = pread(fd, mh_output, sizeof mh_output - 1, 0);
    mh_output[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The scenario passes, or the test is skipped when the script found no namespaces. */
static inline void mh_expect_pass(const char *scenario)
{
    int status = mh_run(scenario);
    if (status == 77)
        cr_skip_test("%s", mh_output);
    char passed[64];
    snprintf(passed, sizeof passed, "PASSED: %s", scenario);
    cr_assert(eq(int, status, 0), "two_hosts.sh %s exited %d:\n%s", scenario, status, mh_output);
    cr_assert(strstr(mh_output, passed) != NULL, "%s", mh_output);
    /* The figures the script read, in the test's log even when it passes. */
    cr_log_info("%s", mh_output);
}

#endif
