/* The benchmark's kernels (cuda_bench_kernels.cu): a one-thread write and read of a buffer's
 * first word, so the measured time is the hand-off, not the work. Return cudaError_t as int. */
#ifndef XMEM_BENCH_CUDA_KERNELS_H
#define XMEM_BENCH_CUDA_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

int xbc_write_first(void *dev, unsigned value, void *stream);
int xbc_read_first(const void *dev, unsigned *flag, void *stream);

#ifdef __cplusplus
}
#endif

#endif
