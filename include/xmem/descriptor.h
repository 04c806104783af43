/* The message that names a published buffer: 48 bytes, little-endian, versioned, with a checksum.
 * It carries the pool's identity, the buffer's (index, generation), the publisher's sequence number
 * and timestamp, and the owner id of the subscriber the reference was given to. Never the payload.
 */
#ifndef XMEM_DESCRIPTOR_H
#define XMEM_DESCRIPTOR_H

#include <stddef.h>
#include <stdint.h>

#include <xmem/error.h>
#include <xmem/export.h>
#include <xmem/meta.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XMEM_DESCRIPTOR_SIZE 48
#define XMEM_DESCRIPTOR_MAGIC 0x31444d58u /* "XMD1" */
#define XMEM_DESCRIPTOR_VERSION 1u

typedef struct xmem_descriptor {
    uint64_t pool_id;      /* xmem_pool_id() of the pool holding the buffer */
    xmem_buf_ref ref;      /* the buffer */
    uint64_t sequence;     /* the publisher's count of publishes, from 0 */
    uint64_t timestamp_ns; /* the producer's CLOCK_MONOTONIC stamp */
    uint32_t owner;        /* owner id the reference was given to: the addressee */
    uint16_t flags;        /* zero in version 1 */
} xmem_descriptor;

/* Why a message was refused; each kind is counted separately. */
typedef enum xmem_reject {
    XMEM_REJECT_SIZE = 0,   /* not XMEM_DESCRIPTOR_SIZE bytes */
    XMEM_REJECT_MAGIC,      /* not a descriptor at all */
    XMEM_REJECT_VERSION,    /* a descriptor of another version */
    XMEM_REJECT_CHECKSUM,   /* damaged */
    XMEM_REJECT_FLAGS,      /* flags this version does not know */
    XMEM_REJECT_POOL,       /* names another pool */
    XMEM_REJECT_INDEX,      /* index outside the pool */
    XMEM_REJECT_GENERATION, /* the buffer was recycled (stale) or the generation is not yet used */
    XMEM_REJECT_ADDRESS,    /* addressed to another subscriber */
    XMEM_REJECT_NOT_OWNED,  /* this subscriber holds no reference to the buffer */
    XMEM_REJECT_HELD,       /* the application holds the buffer, and no reference came with it */
    XMEM_REJECT_COUNT_      /* not a reason: the number of reasons */
} xmem_reject;

/* Room for reject reasons in the stats structs: new reasons fill it without moving a field. */
#define XMEM_REJECT_SLOTS 16

/* Short name of a reason ("size", "magic", ...); static storage. */
XMEM_EXPORT const char *xmem_reject_name(xmem_reject reason);

/* Writes the 48-byte wire form. */
XMEM_EXPORT void xmem_descriptor_encode(const xmem_descriptor *d,
                                        uint8_t out[XMEM_DESCRIPTOR_SIZE]);

/* Reads and checks the wire form (size, magic, version, checksum, flags). On failure *reason says
 * why and *out is unspecified; XMEM_EINVAL is returned. Checks needing the pool are separate. */
XMEM_EXPORT xmem_err xmem_descriptor_decode(const void *buf, size_t len, xmem_descriptor *out,
                                            xmem_reject *reason);

#ifdef __cplusplus
}
#endif

#endif
