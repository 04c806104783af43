/* The test frame format of the built-in nodes: testsrc writes it, verify checks it, invert flips
 * its payload. A 64-byte header, then a pattern that depends on the frame's sequence number, so a
 * buffer recycled too early, overwritten or stale fails the check: payload words
 * (sequence + 1)·0xd6e8feb86659fd93 + i·0x9e3779b97f4a7c15, tail bytes (sequence + offset). A
 * frame inverted whole, header and all (numpy's `~frame`, a Python node's invert), checks too:
 * its magic reads inverted, and it counts as one more inversion.
 *   0 magic u64 "XMTFRAME" | 8 sequence u64 | 16 timestamp_ns u64 | 24 payload_bytes u64
 *  32 checksum u64 (of the payload as testsrc wrote it) | 40 inversions u32 | 44 reserved (0) */
#ifndef XMEM_NODES_BUILTIN_TESTFRAME_H
#define XMEM_NODES_BUILTIN_TESTFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XMEMI_TESTFRAME_HEADER 64u
#define XMEMI_TESTFRAME_MAGIC 0x454d415246544d58ull /* "XMTFRAME" little-endian */

typedef struct xmemi_testframe_info {
    uint64_t sequence;
    uint64_t timestamp_ns;
    uint64_t payload_bytes;
    uint32_t inversions; /* including a whole-frame inversion */
} xmemi_testframe_info;

/* Writes a whole frame of `size` bytes (>= XMEMI_TESTFRAME_HEADER) into buf. */
void xmemi_testframe_fill(void *buf, size_t size, uint64_t sequence, uint64_t timestamp_ns);

/* Reads the header of a test frame, upright or inverted whole, into *info; false when `buf` holds
 * no test frame's magic either way. */
bool xmemi_testframe_header(const void *buf, size_t size, xmemi_testframe_info *info);

/* Checks every byte of a frame of `size` bytes (the bytes the buffer holds): false with the reason
 * in `why` when the header is not a test frame's, the payload does not fit, the checksum fails,
 * or payload and checksum agree but are not those of the frame the header numbers. `info` is filled
 * from the header whenever its magic matched. */
bool xmemi_testframe_check(const void *buf, size_t size, xmemi_testframe_info *info, char *why,
                           size_t why_len);

/* Writes into `out` the frame in `in` with its payload bit-inverted (inversions + 1), so that
 * verify still checks it; `size` bytes each. False (out untouched) if `in` is not a test frame. */
bool xmemi_testframe_invert(const void *in, void *out, size_t size);

#endif
