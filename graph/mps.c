/* The graph's MPS daemon (mps.h), run through nvidia-cuda-mps-control, found in PATH. */
#define _GNU_SOURCE
#include "mps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <signal.h>
#include <time.h>

#ifdef XMEM_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include "common/fail.h"

static bool started;

/* Runs nvidia-cuda-mps-control with `input` on its stdin (NULL: -d); its exit status. */
static int control(const char *input)
{
    int fds[2];
    if (input && pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none; /* the launcher blocks its signals for its signalfd */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (input) {
            dup2(fds[0], STDIN_FILENO);
            close(fds[0]);
            close(fds[1]);
        }
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        if (input)
            execlp("nvidia-cuda-mps-control", "nvidia-cuda-mps-control", (char *)NULL);
        else
            execlp("nvidia-cuda-mps-control", "nvidia-cuda-mps-control", "-d", (char *)NULL);
        _exit(127);
    }
    if (input) {
        close(fds[0]);
        if (pid > 0 && write(fds[1], input, strlen(input)) < 0)
            perror("nvidia-cuda-mps-control");
        close(fds[1]);
    }
    /* At most 10 s: a control client that hangs must not hang the graph's end. */
    int status = 0;
    for (int waited = 0; pid > 0; waited++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (r < 0 || waited == 1000) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return -1;
        }
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    return -1;
}

xmem_err xmemi_mps_start(const char *runtime_dir, xmem_error_t *err)
{
    char pipe_dir[256], log_dir[256];
    snprintf(pipe_dir, sizeof pipe_dir, "%s/mps-pipe", runtime_dir);
    snprintf(log_dir, sizeof log_dir, "%s/mps-log", runtime_dir);
    if ((mkdir(pipe_dir, 0700) != 0 && errno != EEXIST) ||
        (mkdir(log_dir, 0700) != 0 && errno != EEXIST))
        return xmemi_fail(err, XMEM_ESYS, errno, "MPS directories in %s", runtime_dir);
    setenv("CUDA_MPS_PIPE_DIRECTORY", pipe_dir, 1);
    setenv("CUDA_MPS_LOG_DIRECTORY", log_dir, 1);
    int rc = control(NULL);
    if (rc != 0)
        return xmemi_fail(err, XMEM_ECUDA, 0,
                          "options.mps: `nvidia-cuda-mps-control -d` %s (is the NVIDIA driver's "
                          "MPS installed, and is no other MPS daemon using the GPU?)",
                          rc == 127 ? "was not found in PATH" : "failed");
    /* The daemon is in the background when -d returns, its socket maybe not yet: a CUDA call
     * before it exists would quietly run without MPS. */
    char control_socket[300];
    snprintf(control_socket, sizeof control_socket, "%s/control", pipe_dir);
    for (int i = 0; i < 200 && access(control_socket, F_OK) != 0; i++)
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    started = true;
    return XMEM_OK;
}

void xmemi_mps_stop(void)
{
    if (!started)
        return;
    started = false;
#ifdef XMEM_HAVE_CUDA
    /* This process is an MPS client too (it made the CUDA buffers): end its contexts first, or
     * the daemon would wait for it while it waits for the daemon. */
    int n = 0;
    if (cudaGetDeviceCount(&n) == cudaSuccess)
        for (int d = 0; d < n; d++)
            if (cudaSetDevice(d) == cudaSuccess)
                cudaDeviceReset();
    cudaGetLastError();
#endif
    if (control("quit\n") != 0)
        fprintf(stderr, "xmem run: the MPS daemon did not take `quit`; see its log in "
                        "$CUDA_MPS_LOG_DIRECTORY\n");
}
