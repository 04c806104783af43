/* Runtime directories of graphs (runtime_dir.h). */
#define _GNU_SOURCE
#include "runtime_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fail.h"
#include "common/make_dirs.h"
#include "common/proc.h"
#include "common/user_name.h"

/* The directory must be ours and closed to others: ipc sockets there accept whoever can reach
 * them. Made 0700 when missing; one that exists is never changed, only explained. */
static xmem_err ensure_private_dir(const char *path, xmem_error_t *err)
{
    /* Each parent 0700: the umask cannot widen that. */
    xmem_err rc = xmemi_make_parents(path, 0700, err);
    if (rc)
        return xmemi_fail_cause(err, rc, err, "runtime directory %s", path);
    if (mkdir(path, 0700) == 0) {
        if (chmod(path, 0700) != 0) /* a umask that took the owner's bits */
            return xmemi_fail(err, XMEM_ESYS, errno, "runtime directory %s", path);
    } else if (errno != EEXIST)
        return xmemi_fail(err, XMEM_ESYS, errno, "runtime directory %s: cannot create it", path);
    struct stat st;
    if (lstat(path, &st) != 0)
        return xmemi_fail(err, XMEM_ESYS, errno, "runtime directory %s", path);
    if (S_ISLNK(st.st_mode))
        return xmemi_fail(err, XMEM_ESYS, 0,
                          "runtime directory %s is a symbolic link (it could lead anywhere): set "
                          "XMEM_RUNTIME_DIR to a real directory",
                          path);
    if (!S_ISDIR(st.st_mode))
        return xmemi_fail(err, XMEM_ESYS, 0,
                          "runtime directory %s exists and is not a directory: remove it, or set "
                          "XMEM_RUNTIME_DIR to another path",
                          path);
    if (st.st_uid != getuid())
        return xmemi_fail(err, XMEM_ESYS, 0,
                          "runtime directory %s belongs to %s, not to this user, %s: set "
                          "XMEM_RUNTIME_DIR to a directory of your own",
                          path, xmemi_user_name(st.st_uid).s, xmemi_user_name(getuid()).s);
    if ((st.st_mode & 0777) != 0700)
        return xmemi_fail(err, XMEM_ESYS, 0,
                          "runtime directory %s has mode %04o; it must be 0700 (others could "
                          "reach its sockets): run `chmod 700 %s`",
                          path, (unsigned)(st.st_mode & 0777), path);
    return XMEM_OK;
}

void xmemi_runtime_dir_base(char *buf, size_t len)
{
    const char *env = getenv("XMEM_RUNTIME_DIR");
    if (env && *env)
        snprintf(buf, len, "%s", env);
    else
        snprintf(buf, len, "/tmp/xmem-%u", (unsigned)getuid());
}

xmem_err xmemi_runtime_dir_path(const char *pool, char *buf, size_t len, xmem_error_t *err)
{
    if (!pool || !*pool || strchr(pool, '/') || strcmp(pool, ".") == 0 || strcmp(pool, "..") == 0)
        return xmemi_fail(err, XMEM_EINVAL, 0, "'%s' cannot name a runtime directory",
                          pool ? pool : "(null)");
    char base[128];
    xmemi_runtime_dir_base(base, sizeof base);
    /* ipc socket paths must fit sockaddr_un (108 bytes) with "/node.port" after this. */
    int n = snprintf(buf, len, "%s/%s", base, pool);
    if (n < 0 || (size_t)n >= len || n > 80)
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "runtime directory %s/%s: too long for ipc socket paths (80 at most)",
                          base, pool);
    return XMEM_OK;
}

/* Only what a launcher makes there: its sockets, files and MPS directories (a runtime directory
 * set by mistake to a folder of the user's loses nothing else). */
static bool ours(const char *name, bool dir)
{
    static const char *const files[] = {"stats", "nodes", "nodes.new", "run.json", "run.json.new"};
    static const char *const dirs[] = {"mps-pipe", "mps-log", "logs", "taps"};
    for (size_t i = 0; i < (dir ? 4u : 5u); i++)
        if (strcmp(name, dir ? dirs[i] : files[i]) == 0)
            return true;
    return false;
}

static int remove_any(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    remove(path);
    return 0;
}

static void remove_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISSOCK(st.st_mode) || (S_ISREG(st.st_mode) && ours(e->d_name, false)))
            unlink(path);
        else if (S_ISDIR(st.st_mode) && ours(e->d_name, true))
            nftw(path, remove_any, 8, FTW_DEPTH | FTW_PHYS);
    }
    closedir(d);
}

/* Whether pid runs `xmem node ... --pool=POOL` (a pid of the table may have been reused since). */
static bool node_of_pool(pid_t pid, const char *pool)
{
    char path[64], cmd[4096], want[128];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    snprintf(want, sizeof want, "--pool=%s", pool);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, cmd, sizeof cmd - 1);
    close(fd);
    if (n <= 0)
        return false;
    cmd[n] = '\0';
    bool node = false, ours = false;
    int arg = 0;
    for (char *a = cmd; a < cmd + n; a += strlen(a) + 1, arg++) {
        node |= arg == 1 && strcmp(a, "node") == 0;
        ours |= strcmp(a, want) == 0;
    }
    return node && ours;
}

/* The nodes of a dead run's table that still run: SIGKILLed (a stopped process takes no other
 * signal), and waited for a second at most, so that its pool has no live user left. */
static uint32_t kill_leftovers(const char *dir, const char *pool)
{
    char path[256];
    snprintf(path, sizeof path, "%s/nodes", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    pid_t killed[64];
    uint32_t n = 0;
    char name[64], state[16];
    int pid;
    unsigned inputs;
    while (n < 64 && fscanf(f, "%63s %d %15s %u", name, &pid, state, &inputs) == 4)
        if (pid > 0 && node_of_pool(pid, pool) && kill(pid, SIGKILL) == 0)
            killed[n++] = pid;
    fclose(f);
    for (uint32_t i = 0, tries = 0; i < n && tries < 1000; tries++) {
        if (!xmemi_proc_alive(killed[i], 0))
            i++;
        else
            usleep(1000);
    }
    return n;
}

xmem_err xmemi_runtime_dir_claim(const char *pool, xmemi_runtime_dir *out, bool *was_stale,
                                 xmem_error_t *err)
{
    out->lock_fd = -1;
    out->leftovers_killed = 0;
    *was_stale = false;
    char base[128];
    xmemi_runtime_dir_base(base, sizeof base);
    xmem_err rc;
    if ((rc = ensure_private_dir(base, err)) ||
        (rc = xmemi_runtime_dir_path(pool, out->path, sizeof out->path, err)) ||
        (rc = ensure_private_dir(out->path, err)))
        return rc;
    char lock[256];
    snprintf(lock, sizeof lock, "%s/launcher.lock", out->path);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return xmemi_fail(err, XMEM_ESYS, errno, "lock file %s", lock);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "?";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 1] = '\0';
        pid[strcspn(pid, "\n")] = '\0'; /* written as a line */
        close(fd);
        return xmemi_fail(err, XMEM_EEXIST, 0,
                          "a graph with pool '%s' is already running (launcher pid %s, %s): stop "
                          "it, or give this graph another pool name",
                          pool, pid, out->path);
    }
    DIR *d = opendir(out->path);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "launcher.lock"))
            *was_stale = true;
    if (d)
        closedir(d);
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size > 0)
        *was_stale = true; /* a lock file with a pid in it: its launcher died without cleaning */
    out->leftovers_killed = *was_stale ? kill_leftovers(out->path, pool) : 0;
    remove_files(out->path);
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        close(fd);
        return xmemi_fail(err, XMEM_ESYS, errno, "lock file %s", lock);
    }
    out->lock_fd = fd;
    return XMEM_OK;
}

void xmemi_runtime_dir_remove(xmemi_runtime_dir *d)
{
    if (d->lock_fd < 0)
        return;
    remove_files(d->path);
    char lock[256];
    snprintf(lock, sizeof lock, "%s/launcher.lock", d->path);
    unlink(lock);
    rmdir(d->path);
    close(d->lock_fd);
    d->lock_fd = -1;
}

pid_t xmemi_runtime_dir_launcher(const char *path)
{
    char lock[256], text[32] = "";
    snprintf(lock, sizeof lock, "%s/launcher.lock", path);
    FILE *f = fopen(lock, "r");
    if (!f)
        return 0;
    bool got = fgets(text, sizeof text, f) != NULL;
    fclose(f);
    /* Only looked at, never locked: a reader holding the lock even briefly would turn a
     * launcher starting on this directory away. */
    long pid = got ? strtol(text, NULL, 10) : 0;
    return pid > 0 && xmemi_proc_alive((pid_t)pid, 0) ? (pid_t)pid : 0;
}
