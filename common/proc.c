/* Process identity from /proc: start time and liveness (zombies count as dead: their pool
 * references are no longer in use even before their parent reaps them). */
#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads the state letter and start time; false if the process does not exist. */
static bool read_stat(pid_t pid, char *state, uint64_t *start_time)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
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
    *state = '?';
    *start_time = 0;
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return true;
        if (field == 3)
            *state = *p;
        if (field == 22)
            *start_time = strtoull(p, NULL, 10);
        while (*p && *p != ' ')
            p++;
    }
    return true;
}

uint64_t xmemi_proc_start_time(pid_t pid)
{
    char state;
    uint64_t start;
    return read_stat(pid, &state, &start) ? start : 0;
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
    if (state == 'Z' || state == 'X')
        return false;
    return start_time == 0 || start == start_time;
}
