/* The descriptor's wire form: 48 bytes, little-endian.
 *   0 magic u32 | 4 version u16 | 6 flags u16 | 8 pool_id u64 | 16 index u32 | 20 generation u32
 *  24 sequence u64 | 32 timestamp_ns u64 | 40 owner u32 | 44 checksum u32 (FNV-1a of bytes 0..43)
 */
#include <xmem/descriptor.h>

#include "wire.h"

static const char *const reject_names[XMEM_REJECT_COUNT_] = {
    [XMEM_REJECT_SIZE] = "size",       [XMEM_REJECT_MAGIC] = "magic",
    [XMEM_REJECT_VERSION] = "version", [XMEM_REJECT_CHECKSUM] = "checksum",
    [XMEM_REJECT_FLAGS] = "flags",     [XMEM_REJECT_POOL] = "pool",
    [XMEM_REJECT_INDEX] = "index",     [XMEM_REJECT_GENERATION] = "generation",
    [XMEM_REJECT_ADDRESS] = "address", [XMEM_REJECT_NOT_OWNED] = "not-owned",
    [XMEM_REJECT_HELD] = "held",
};

const char *xmem_reject_name(xmem_reject reason)
{
    return (unsigned)reason < XMEM_REJECT_COUNT_ ? reject_names[reason] : "unknown";
}

uint32_t xmemi_descriptor_encode_head(const xmem_descriptor *d, uint8_t out[XMEM_DESCRIPTOR_SIZE])
{
    xmemi_put32(out + 0, XMEM_DESCRIPTOR_MAGIC);
    xmemi_put16(out + 4, XMEM_DESCRIPTOR_VERSION);
    xmemi_put16(out + 6, d->flags);
    xmemi_put64(out + 8, d->pool_id);
    xmemi_put32(out + 16, d->ref.index);
    xmemi_put32(out + 20, d->ref.generation);
    xmemi_put64(out + 24, d->sequence);
    xmemi_put64(out + 32, d->timestamp_ns);
    return xmemi_fnv32(out, 40);
}

void xmemi_descriptor_address(uint8_t wire[XMEM_DESCRIPTOR_SIZE], uint32_t head_state,
                              uint32_t owner)
{
    xmemi_put32(wire + 40, owner);
    xmemi_put32(wire + 44, xmemi_fnv32_more(head_state, wire + 40, 4));
}

void xmem_descriptor_encode(const xmem_descriptor *d, uint8_t out[XMEM_DESCRIPTOR_SIZE])
{
    xmemi_descriptor_address(out, xmemi_descriptor_encode_head(d, out), d->owner);
}

xmem_err xmem_descriptor_decode(const void *buf, size_t len, xmem_descriptor *out,
                                xmem_reject *reason)
{
    const uint8_t *p = buf;
    xmem_reject why;
    if (len != XMEM_DESCRIPTOR_SIZE || !p)
        why = XMEM_REJECT_SIZE;
    else if (xmemi_get32(p) != XMEM_DESCRIPTOR_MAGIC)
        why = XMEM_REJECT_MAGIC;
    else if (xmemi_get16(p + 4) != XMEM_DESCRIPTOR_VERSION)
        why = XMEM_REJECT_VERSION;
    else if (xmemi_get32(p + 44) != xmemi_fnv32(p, 44))
        why = XMEM_REJECT_CHECKSUM;
    else if (xmemi_get16(p + 6) != 0)
        why = XMEM_REJECT_FLAGS;
    else {
        out->flags = 0;
        out->pool_id = xmemi_get64(p + 8);
        out->ref.index = xmemi_get32(p + 16);
        out->ref.generation = xmemi_get32(p + 20);
        out->sequence = xmemi_get64(p + 24);
        out->timestamp_ns = xmemi_get64(p + 32);
        out->owner = xmemi_get32(p + 40);
        return XMEM_OK;
    }
    if (reason)
        *reason = why;
    return XMEM_EINVAL;
}
