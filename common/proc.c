/* Process identity from /proc: start time and liveness (zombies count as dead: their pool
 * references are no longer in use even before their parent reaps them; a process whose main
 * thread exited while others run is alive). */
#define _GNU_SOURCE
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The fields of a stat file this file uses. */
typedef struct stat_fields {
    char state;
    uint64_t utime, stime; /* clock ticks */
    uint64_t start_time;   /* clock ticks since boot */
    uint64_t rss_pages;
} stat_fields;

/* Reads a stat file's fields; false if it does not exist. */
static bool read_stat_fields(const char *path, stat_fields *out)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields restart after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return false;
    p++;
    *out = (stat_fields){.state = '?'};
    for (int field = 3; field <= 24; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return true;
        if (field == 3)
            out->state = *p;
        uint64_t v = field == 3 ? 0 : strtoull(p, NULL, 10);
        if (field == 14)
            out->utime = v;
        else if (field == 15)
            out->stime = v;
        else if (field == 22)
            out->start_time = v;
        else if (field == 24)
            out->rss_pages = v;
        while (*p && *p != ' ')
            p++;
    }
    return true;
}

/* Reads the state letter and start time from a stat file; false if it does not exist. */
static bool read_stat_file(const char *path, char *state, uint64_t *start_time)
{
    stat_fields f;
    if (!read_stat_fields(path, &f))
        return false;
    *state = f.state;
    *start_time = f.start_time;
    return true;
}

static bool read_stat(pid_t pid, char *state, uint64_t *start_time)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return read_stat_file(path, state, start_time);
}

static bool dead_state(char state)
{
    return state == 'Z' || state == 'X';
}

/* The main thread is a zombie: the process lives on while any other thread of it runs. */
static bool other_thread_runs(pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool runs = false;
    struct dirent *e;
    while (!runs && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || atoi(e->d_name) == (int)pid)
            continue;
        char path[sizeof dir + sizeof e->d_name + 8], state;
        uint64_t start;
        snprintf(path, sizeof path, "%s/%s/stat", dir, e->d_name);
        runs = read_stat_file(path, &state, &start) && !dead_state(state);
    }
    closedir(d);
    return runs;
}

uint64_t xmemi_proc_start_time(pid_t pid)
{
    char state;
    uint64_t start;
    return read_stat(pid, &state, &start) ? start : 0;
}

char xmemi_proc_state(pid_t pid)
{
    char state;
    uint64_t start;
    return pid > 0 && read_stat(pid, &state, &start) ? state : 0;
}

bool xmemi_proc_alive(pid_t pid, uint64_t start_time)
{
    if (pid <= 0)
        return false;
    char state;
    uint64_t start;
    if (!read_stat(pid, &state, &start)) {
        /* No /proc: fall back to the signal probe alone. */
        return kill(pid, 0) == 0 || errno == EPERM;
    }
    if (start_time != 0 && start != start_time)
        return false;
    return !dead_state(state) || other_thread_runs(pid);
}

bool xmemi_proc_usage(pid_t pid, xmemi_proc_usage_t *out)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    stat_fields f;
    if (pid <= 0 || !read_stat_fields(path, &f))
        return false;
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    out->cpu_seconds = (double)(f.utime + f.stime) / (double)(tick > 0 ? tick : 100);
    out->rss_bytes = f.rss_pages * (uint64_t)(page > 0 ? page : 4096);
    out->start_time = f.start_time;
    return true;
}
