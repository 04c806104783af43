/* Telling live processes from dead ones: a pid plus its start time names a process, so a reused
 * pid is not mistaken for the one that attached to a pool. */
#ifndef XMEM_COMMON_PROC_H
#define XMEM_COMMON_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Start time of `pid` in clock ticks since boot (/proc/PID/stat field 22); 0 if unknown. */
uint64_t xmemi_proc_start_time(pid_t pid);

/* The state letter of /proc/PID/stat: 'R', 'S', 'D', 'T' (stopped: SIGSTOP), 't' (stopped by a
 * debugger), 'Z' (zombie)...; 0 when there is no such process. */
char xmemi_proc_state(pid_t pid);

/* True if `pid` runs (not a zombie) and, when start_time is non-zero, started at that time. */
bool xmemi_proc_alive(pid_t pid, uint64_t start_time);

/* What a process costs: CPU time (user + system) and resident memory (which counts the pool's
 * shared pages it has mapped), from /proc/PID/stat. */
typedef struct xmemi_proc_usage_t {
    double cpu_seconds;
    uint64_t rss_bytes;
    uint64_t start_time; /* tells a restarted process (a new pid may reuse an old one) */
} xmemi_proc_usage_t;

/* False if `pid` does not exist. */
bool xmemi_proc_usage(pid_t pid, xmemi_proc_usage_t *out);

#endif
