/* The clock every benchmark times with: CLOCK_MONOTONIC in nanoseconds, the clock of buffer
 * stamps too (xmem_node_clock_ns), so stamps and timings compare. */
#ifndef XMEM_BENCH_BENCH_CLOCK_H
#define XMEM_BENCH_BENCH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
