/* The kernel of the built-in cuda_invert node (cuda_kernels.cu), callable from C. */
#ifndef XMEM_NODES_BUILTIN_CUDA_KERNELS_H
#define XMEM_NODES_BUILTIN_CUDA_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes into `out` the bit-inverse of `in` (`size` bytes each, device memory), on `stream`; a
 * test frame (testframe.h) keeps its header, with its inversion count one higher, so verify still
 * checks it. Returns a cudaError_t as int. */
int xmemi_cuda_invert(const void *in, void *out, size_t size, void *stream);

#ifdef __cplusplus
}
#endif

#endif
