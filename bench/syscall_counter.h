/* Counts the system calls the calling thread makes between start and stop, through the kernel's
 * raw_syscalls:sys_enter tracepoint (perf_event_open). Needs tracefs (mounted here if root may). */
#ifndef XMEM_BENCH_SYSCALL_COUNTER_H
#define XMEM_BENCH_SYSCALL_COUNTER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct syscall_counter {
    int fd;          /* perf event, -1 when unavailable */
    uint64_t offset; /* syscalls the counter itself adds to one start/stop pair */
} syscall_counter;

/* Opens the counter; on failure fd is -1 and why says why (static text). */
bool syscall_counter_open(syscall_counter *c, const char **why);
void syscall_counter_start(syscall_counter *c);
/* Syscalls since start, less the counter's own. */
uint64_t syscall_counter_stop(syscall_counter *c);
void syscall_counter_close(syscall_counter *c);

#endif
