/* Test frames (format in testframe.h). The checksum is Fletcher-like over 64-bit words (two running
 * sums, so every word's value and position count) and cheap enough to check 6 MB at video rate.
 * The writer never reads the frame back: its words are an arithmetic sequence, whose two sums have
 * a closed form, so a fill costs one pass of stores (less than copying a cached frame) while every
 * word still depends on the sequence number and verify still reads every byte. */
#include "testframe.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

/* A bijective 64-bit mixer (every input bit reaches every output bit), so that a change in the
 * sums' high bits is not cancelled out in the fold. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint64_t fold(sums s)
{
    return mix(s.a ^ mix(s.b));
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

/* checksum() of the words first, first + step, ..., first + (n-1)·step, without them: a = Σ x_i
 * and b = Σ (n-i)·x_i, i.e. a = n·first + step·n(n-1)/2 and
 * b = first·n(n+1)/2 + step·(n·n(n-1)/2 - (n-1)n(2n-1)/6). The divisions are exact in 128 bits
 * (n < 2^42; frames are at most 2^34 bytes), and a product mod 2^64 is the product of the
 * residues. */
static sums arithmetic_sums(uint64_t first, uint64_t step, uint64_t n)
{
    typedef unsigned __int128 u128;
    if (n == 0)
        return (sums){0, 0};
    u128 t1 = (u128)n * (n - 1) / 2;               /* Σ i */
    u128 t2 = (u128)n * (n + 1) / 2;               /* Σ (n-i) */
    u128 sq = (u128)(n - 1) * n * (2 * n - 1) / 6; /* Σ i² */
    u128 cross = (u128)n * t1 - sq;                /* Σ i(n-i) */
    return (sums){n * first + step * (uint64_t)t1, first * (uint64_t)t2 + step * (uint64_t)cross};
}

static uint64_t first_word(uint64_t sequence)
{
    return (sequence + 1) * 0xd6e8feb86659fd93ull;
}

static uint8_t tail_byte(uint64_t sequence, size_t offset)
{
    return (uint8_t)(sequence + offset);
}

/* checksum() of frame `sequence`'s payload of n bytes, as fill writes it. */
static sums pattern_sums(uint64_t sequence, size_t n)
{
    sums s = arithmetic_sums(first_word(sequence), PATTERN_STEP, n / 8);
    for (size_t j = n / 8 * 8; j < n; j++) {
        s.a += tail_byte(sequence, j);
        s.b += s.a;
    }
    return s;
}

/* Writes words first, first + PATTERN_STEP, ... With SSE2, by streaming stores: a frame is written
 * for other processes and never read back here, so the cache need not fetch the lines it is about
 * to overwrite (that fetch is half of a plain fill's memory traffic). */
static void write_words(uint8_t *dst, size_t words, uint64_t first)
{
    uint64_t w = first;
    size_t i = 0;
#ifdef __SSE2__
    for (; i < words && ((uintptr_t)(dst + 8 * i) & 15); i++, w += PATTERN_STEP)
        memcpy(dst + 8 * i, &w, 8);
    if (i + 2 <= words) {
        __m128i v = _mm_set_epi64x((long long)(w + PATTERN_STEP), (long long)w);
        const __m128i step = _mm_set1_epi64x((long long)(2 * PATTERN_STEP));
        for (; i + 2 <= words; i += 2) {
            _mm_stream_si128((__m128i *)(void *)(dst + 8 * i), v);
            v = _mm_add_epi64(v, step);
        }
        w = (uint64_t)_mm_cvtsi128_si64(v);
        _mm_sfence(); /* streamed stores are weakly ordered: all land before the publish */
    }
#endif
    for (; i < words; i++, w += PATTERN_STEP)
        memcpy(dst + 8 * i, &w, 8);
}

void xmemi_testframe_fill(void *buf, size_t size, uint64_t sequence, uint64_t timestamp_ns)
{
    uint8_t *p = buf;
    size_t n = size - XMEMI_TESTFRAME_HEADER;
    uint8_t *payload = p + XMEMI_TESTFRAME_HEADER;
    size_t words = n / 8;
    write_words(payload, words, first_word(sequence));
    for (size_t j = words * 8; j < n; j++)
        payload[j] = tail_byte(sequence, j);
    memset(p, 0, XMEMI_TESTFRAME_HEADER);
    put64(p + 0, XMEMI_TESTFRAME_MAGIC);
    put64(p + 8, sequence);
    put64(p + 16, timestamp_ns);
    put64(p + 24, n);
    put64(p + 32, fold(pattern_sums(sequence, n)));
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
    /* Bytes and header agree; they must also be this frame's, not another's under its number. */
    uint64_t own = fold(pattern_sums(in.sequence, in.payload_bytes));
    if (want != own) {
        snprintf(why, why_len,
                 "frame %llu: payload and checksum %016llx are another frame's (frame %llu's is "
                 "%016llx)",
                 (unsigned long long)in.sequence, (unsigned long long)want,
                 (unsigned long long)in.sequence, (unsigned long long)own);
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
