/* A log-linear latency histogram in ns: values below XMEMI_HIST_SUB are exact, then each power of
 * two is cut into XMEMI_HIST_SUB linear buckets, so a percentile is within 1/16 (6 %) of the
 * truth at a fixed 7.8 KiB whatever the latencies. Plain counters: the stats node keeps one per
 * window; the node host keeps one in the launcher's shared stats file (updated atomically). */
#ifndef XMEM_NODES_LATENCY_HIST_H
#define XMEM_NODES_LATENCY_HIST_H

#include <stdint.h>

#define XMEMI_HIST_SUB_BITS 4
#define XMEMI_HIST_SUB (1u << XMEMI_HIST_SUB_BITS)
#define XMEMI_HIST_BUCKETS ((64u - XMEMI_HIST_SUB_BITS + 1) * XMEMI_HIST_SUB)

unsigned xmemi_hist_bucket(uint64_t ns);

/* The largest value bucket i holds. */
uint64_t xmemi_hist_upper(unsigned i);

/* The p-quantile (0..1) of `samples` values counted in `counts`: its bucket's upper bound, never
 * above `max_ns` (known exactly). 0 when there are no samples. */
uint64_t xmemi_hist_percentile(const uint64_t counts[XMEMI_HIST_BUCKETS], uint64_t samples,
                               uint64_t max_ns, double p);

#endif
