/* Little-endian loads and stores for the wire formats, whatever the host's byte order. */
#ifndef XMEM_TRANSPORT_WIRE_H
#define XMEM_TRANSPORT_WIRE_H

#include <stdint.h>

static inline void xmemi_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void xmemi_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void xmemi_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t xmemi_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t xmemi_get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t xmemi_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* FNV-1a, 32 bits: catches damaged messages, not an adversary. `h` continues a hash (start
 * with XMEMI_FNV32_START), so a prefix shared by many messages is hashed once. */
#define XMEMI_FNV32_START 2166136261u

static inline uint32_t xmemi_fnv32_more(uint32_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static inline uint32_t xmemi_fnv32(const uint8_t *p, size_t n)
{
    return xmemi_fnv32_more(XMEMI_FNV32_START, p, n);
}

struct xmem_descriptor;

/* A publish sends one descriptor per subscriber, equal but for the addressee: the wire form
 * without it, and the checksum state over the 40 bytes before it... */
uint32_t xmemi_descriptor_encode_head(const struct xmem_descriptor *d, uint8_t out[48]);

/* ...then, per subscriber, its owner id and the checksum. */
void xmemi_descriptor_address(uint8_t wire[48], uint32_t head_state, uint32_t owner);

#endif
