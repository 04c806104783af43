/* Test frames (format in testframe.h). The checksum is Fletcher-like over 64-bit words (two running
 * sums, so every word's value and position count) and cheap enough to check 6 MB at video rate. */
#include "testframe.h"

#include <stdio.h>
#include <string.h>

#define PATTERN_STEP 0x9e3779b97f4a7c15ull

typedef struct sums {
    uint64_t a, b;
} sums;

/* Words of the payload, each XORed with `mask` (all ones undoes an odd number of inversions),
 * then the tail bytes the same way. */
static sums checksum(const uint8_t *p, size_t n, uint64_t mask)
{
    sums s = {0, 0};
    size_t words = n / 8;
    for (size_t i = 0; i < words; i++) {
        uint64_t w;
        memcpy(&w, p + 8 * i, 8);
        s.a += w ^ mask;
        s.b += s.a;
    }
    for (size_t i = words * 8; i < n; i++) {
        s.a += (uint64_t)(p[i] ^ (uint8_t)mask);
        s.b += s.a;
    }
    return s;
}

static uint64_t fold(sums s)
{
    return s.a ^ (s.b * 0xff51afd7ed558ccdull);
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

void xmemi_testframe_fill(void *buf, size_t size, uint64_t sequence, uint64_t timestamp_ns)
{
    uint8_t *p = buf;
    size_t n = size - XMEMI_TESTFRAME_HEADER;
    uint8_t *payload = p + XMEMI_TESTFRAME_HEADER;
    uint64_t w = (sequence + 1) * 0xd6e8feb86659fd93ull;
    size_t words = n / 8;
    for (size_t i = 0; i < words; i++, w += PATTERN_STEP)
        memcpy(payload + 8 * i, &w, 8);
    for (size_t i = words * 8; i < n; i++)
        payload[i] = (uint8_t)(sequence + i);
    memset(p, 0, XMEMI_TESTFRAME_HEADER);
    put64(p + 0, XMEMI_TESTFRAME_MAGIC);
    put64(p + 8, sequence);
    put64(p + 16, timestamp_ns);
    put64(p + 24, n);
    put64(p + 32, fold(checksum(payload, n, 0)));
}

bool xmemi_testframe_header(const void *buf, size_t size, xmemi_testframe_info *info)
{
    const uint8_t *p = buf;
    if (size < XMEMI_TESTFRAME_HEADER)
        return false;
    /* Inverted whole: every header word reads inverted, and the payload once more. */
    uint64_t flip = get64(p) == ~XMEMI_TESTFRAME_MAGIC ? ~0ull : 0;
    if ((get64(p) ^ flip) != XMEMI_TESTFRAME_MAGIC)
        return false;
    uint32_t inversions;
    memcpy(&inversions, p + 40, 4);
    *info = (xmemi_testframe_info){
        .sequence = get64(p + 8) ^ flip,
        .timestamp_ns = get64(p + 16) ^ flip,
        .payload_bytes = get64(p + 24) ^ flip,
        .inversions = (inversions ^ (uint32_t)flip) + (flip ? 1 : 0),
    };
    return true;
}

bool xmemi_testframe_check(const void *buf, size_t size, xmemi_testframe_info *info, char *why,
                           size_t why_len)
{
    const uint8_t *p = buf;
    xmemi_testframe_info in;
    if (!xmemi_testframe_header(buf, size, &in)) {
        snprintf(why, why_len, "not a test frame (no header magic)");
        return false;
    }
    if (info)
        *info = in;
    if (in.payload_bytes > size - XMEMI_TESTFRAME_HEADER) {
        snprintf(why, why_len, "frame %llu claims %llu payload bytes, the buffer holds %zu",
                 (unsigned long long)in.sequence, (unsigned long long)in.payload_bytes,
                 size - XMEMI_TESTFRAME_HEADER);
        return false;
    }
    uint64_t mask = (in.inversions & 1) ? ~0ull : 0;
    uint64_t want = get64(p + 32) ^ (get64(p) == XMEMI_TESTFRAME_MAGIC ? 0 : ~0ull);
    uint64_t got = fold(checksum(p + XMEMI_TESTFRAME_HEADER, in.payload_bytes, mask));
    if (got != want) {
        snprintf(why, why_len, "frame %llu: checksum %016llx, header says %016llx",
                 (unsigned long long)in.sequence, (unsigned long long)got,
                 (unsigned long long)want);
        return false;
    }
    return true;
}

bool xmemi_testframe_invert(const void *in, void *out, size_t size)
{
    const uint8_t *src = in;
    uint8_t *dst = out;
    if (size < XMEMI_TESTFRAME_HEADER || get64(src) != XMEMI_TESTFRAME_MAGIC)
        return false;
    size_t n = size - XMEMI_TESTFRAME_HEADER;
    memcpy(dst, src, XMEMI_TESTFRAME_HEADER);
    uint32_t inversions;
    memcpy(&inversions, src + 40, 4);
    inversions++;
    memcpy(dst + 40, &inversions, 4);
    size_t words = n / 8;
    const uint8_t *s = src + XMEMI_TESTFRAME_HEADER;
    uint8_t *d = dst + XMEMI_TESTFRAME_HEADER;
    for (size_t i = 0; i < words; i++) {
        uint64_t w;
        memcpy(&w, s + 8 * i, 8);
        w = ~w;
        memcpy(d + 8 * i, &w, 8);
    }
    for (size_t i = words * 8; i < n; i++)
        d[i] = (uint8_t)~s[i];
    return true;
}
