/* Test kernels (kernels.cu), callable from C: fill a buffer with a pattern of a frame number and
 * count the words that differ from it, both on a stream, on the GPU. */
#ifndef XMEM_TESTS_CUDA_KERNELS_H
#define XMEM_TESTS_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Word i of frame f is f * 2654435761 + i (mod 2^32). Returns a cudaError_t as int. */
int xtc_fill(void *dev, size_t bytes, uint32_t frame, void *stream);

/* Adds to *dev_bad (a device counter) the words of `dev` that are not frame f's. */
int xtc_check(const void *dev, size_t bytes, uint32_t frame, unsigned long long *dev_bad,
              void *stream);

#ifdef __cplusplus
}
#endif

#endif
