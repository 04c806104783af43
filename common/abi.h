/* Filling a caller's struct whose size the caller states, so public structs can grow: a program
 * built against an older header passes a smaller size and gets the fields it knows. */
#ifndef XMEM_COMMON_ABI_H
#define XMEM_COMMON_ABI_H

#include <stddef.h>
#include <string.h>

/* Copies the library's whole struct `full` (full_size bytes) into `out` of `size` bytes: the
 * common prefix, then zeros where the caller's struct is longer. */
static inline void xmemi_copy_sized(void *out, size_t size, const void *full, size_t full_size)
{
    memcpy(out, full, size < full_size ? size : full_size);
    if (size > full_size)
        memset((char *)out + full_size, 0, size - full_size);
}

#endif
