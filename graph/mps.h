/* An NVIDIA MPS daemon for the lifetime of one graph: its pipe and log directories live in the
 * graph's runtime directory (private, 0700), the launcher and every node find it through
 * CUDA_MPS_PIPE_DIRECTORY, and it is told to quit when the graph ends. Without MPS, CUDA work of
 * several processes time-slices the GPU (a cross-process event wait: 145 us vs 8 us with MPS on an
 * H100). */
#ifndef XMEM_GRAPH_MPS_H
#define XMEM_GRAPH_MPS_H

#include <stdbool.h>

#include <xmem/error.h>

/* Starts `nvidia-cuda-mps-control -d` with directories under `runtime_dir` and exports them to
 * this process (so to the nodes it starts). Call before any CUDA call. */
xmem_err xmemi_mps_start(const char *runtime_dir, xmem_error_t *err);

/* Tells the daemon started above to quit (no-op if none was started). */
void xmemi_mps_stop(void);

#endif
