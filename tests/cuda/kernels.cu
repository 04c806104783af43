// Test kernels (kernels.h): a pattern per frame, written and checked on the GPU.
#include "kernels.h"

#include <cuda_runtime.h>

__global__ static void fill(uint32_t *w, size_t n, uint32_t frame)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        w[i] = frame * 2654435761u + (uint32_t)i;
}

__global__ static void check(const uint32_t *w, size_t n, uint32_t frame, unsigned long long *bad)
{
    unsigned long long mine = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        mine += w[i] != frame * 2654435761u + (uint32_t)i;
    if (mine)
        atomicAdd(bad, mine);
}

extern "C" int xtc_fill(void *dev, size_t bytes, uint32_t frame, void *stream)
{
    fill<<<264, 256, 0, (cudaStream_t)stream>>>((uint32_t *)dev, bytes / 4, frame);
    return (int)cudaGetLastError();
}

extern "C" int xtc_check(const void *dev, size_t bytes, uint32_t frame,
                         unsigned long long *dev_bad, void *stream)
{
    check<<<264, 256, 0, (cudaStream_t)stream>>>((const uint32_t *)dev, bytes / 4, frame, dev_bad);
    return (int)cudaGetLastError();
}
