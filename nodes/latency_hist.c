/* Log-linear latency histogram (latency_hist.h). */
#include "latency_hist.h"

unsigned xmemi_hist_bucket(uint64_t v)
{
    if (v < XMEMI_HIST_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned sub = (unsigned)(v >> (msb - XMEMI_HIST_SUB_BITS)) & (XMEMI_HIST_SUB - 1);
    return (msb - XMEMI_HIST_SUB_BITS + 1) * XMEMI_HIST_SUB + sub;
}

uint64_t xmemi_hist_upper(unsigned i)
{
    if (i < XMEMI_HIST_SUB)
        return i;
    unsigned shift = i / XMEMI_HIST_SUB - 1;
    uint64_t lower = (uint64_t)(XMEMI_HIST_SUB + i % XMEMI_HIST_SUB) << shift;
    return lower + ((1ull << shift) - 1);
}

uint64_t xmemi_hist_percentile(const uint64_t counts[XMEMI_HIST_BUCKETS], uint64_t samples,
                               uint64_t max_ns, double p)
{
    if (samples == 0)
        return 0;
    uint64_t rank = (uint64_t)(p * (double)samples + 0.999999), seen = 0;
    if (rank == 0)
        rank = 1;
    for (unsigned i = 0; i < XMEMI_HIST_BUCKETS; i++) {
        seen += counts[i];
        if (seen >= rank)
            return xmemi_hist_upper(i) < max_ns ? xmemi_hist_upper(i) : max_ns;
    }
    return max_ns;
}
