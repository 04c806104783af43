// The benchmark's kernels (cuda_bench_kernels.h).
#include "cuda_bench_kernels.h"

#include <cuda_runtime.h>

__global__ static void write_first(unsigned *w, unsigned v)
{
    w[0] = v;
}

__global__ static void read_first(const unsigned *w, unsigned *flag)
{
    flag[0] = w[0];
}

extern "C" int xbc_write_first(void *dev, unsigned value, void *stream)
{
    write_first<<<1, 1, 0, (cudaStream_t)stream>>>((unsigned *)dev, value);
    return (int)cudaGetLastError();
}

extern "C" int xbc_read_first(const void *dev, unsigned *flag, void *stream)
{
    read_first<<<1, 1, 0, (cudaStream_t)stream>>>((const unsigned *)dev, flag);
    return (int)cudaGetLastError();
}
