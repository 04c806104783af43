/* Test frames (nodes/builtin/testframe.h), the format testsrc writes and verify reads: a filled
 * frame checks out at every size and sequence number, its words are the documented sequence (so
 * verifiers of other builds agree), and any changed byte, a payload of another frame under this
 * header, or a frame mixed from two fail the check. invert's frames check out too. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/builtin/testframe.h"

static const uint64_t sequences[] = {0, 1, 2, 12345, 1ull << 63, UINT64_MAX - 1};
#define N_SEQUENCES (sizeof sequences / sizeof sequences[0])

static bool check(const void *buf, size_t size, char *why, size_t len)
{
    return xmemi_testframe_check(buf, size, NULL, why, len);
}

/* Every payload length from none to 9 words and a tail of 0..7 bytes, then a 1080p frame. */
Test(testframe, fill_checks_at_every_size)
{
    size_t sizes[100], n = 0;
    for (size_t b = 0; b < 80; b++)
        sizes[n++] = XMEMI_TESTFRAME_HEADER + b;
    sizes[n++] = 1920 * 1080 * 3;
    sizes[n++] = 1920 * 1080 * 3 + 5;
    uint8_t *buf = malloc(sizes[n - 1]);
    cr_assert(buf != NULL);
    for (size_t k = 0; k < n; k++)
        for (size_t s = 0; s < N_SEQUENCES; s++) {
            memset(buf, 0xa5, sizes[k]);
            xmemi_testframe_fill(buf, sizes[k], sequences[s], 777);
            char why[160] = "";
            xmemi_testframe_info info;
            cr_assert(xmemi_testframe_check(buf, sizes[k], &info, why, sizeof why),
                      "size %zu sequence %llu: %s", sizes[k], (unsigned long long)sequences[s],
                      why);
            cr_assert(eq(u64, info.sequence, sequences[s]));
            cr_assert(eq(u64, info.timestamp_ns, 777));
            cr_assert(eq(u64, info.payload_bytes, sizes[k] - XMEMI_TESTFRAME_HEADER));
        }
    free(buf);
}

/* The payload's words are (sequence + 1)·0xd6e8feb86659fd93 + i·0x9e3779b97f4a7c15, its tail
 * bytes (sequence + offset): what every build writes and reads. */
Test(testframe, words_are_the_documented_sequence)
{
    uint8_t buf[XMEMI_TESTFRAME_HEADER + 8 * 13 + 3];
    xmemi_testframe_fill(buf, sizeof buf, 41, 0);
    for (uint64_t i = 0; i < 13; i++) {
        uint64_t w;
        memcpy(&w, buf + XMEMI_TESTFRAME_HEADER + 8 * i, 8);
        cr_assert(eq(u64, w, 42 * 0xd6e8feb86659fd93ull + i * 0x9e3779b97f4a7c15ull), "word %llu",
                  (unsigned long long)i);
    }
    for (size_t j = 8 * 13; j < 8 * 13 + 3; j++)
        cr_assert(eq(u8, buf[XMEMI_TESTFRAME_HEADER + j], (uint8_t)(41 + j)));
}

Test(testframe, any_changed_byte_fails)
{
    enum { SIZE = XMEMI_TESTFRAME_HEADER + 8 * 6 + 5 };
    uint8_t good[SIZE], bad[SIZE];
    xmemi_testframe_fill(good, SIZE, 9, 1);
    for (size_t i = 0; i < SIZE; i++) {
        if (i >= 16 && i < 24)
            continue; /* the timestamp is not checked: any time is a time */
        if (i >= 40 && i < 44)
            continue; /* inversions: flipping its low bit is tested below */
        if (i >= 44 && i < XMEMI_TESTFRAME_HEADER)
            continue; /* reserved */
        memcpy(bad, good, SIZE);
        bad[i] ^= 0x10;
        char why[160];
        cr_assert(not(check(bad, SIZE, why, sizeof why)), "byte %zu changed and it passed", i);
    }
    memcpy(bad, good, SIZE);
    bad[40] ^= 1; /* says inverted, is not */
    char why[160];
    cr_assert(not(check(bad, SIZE, why, sizeof why)));
}

/* A buffer recycled too early: the next frame's header over the last one's payload, or half of
 * each. */
Test(testframe, stale_or_mixed_payload_fails)
{
    enum { SIZE = 4096 };
    static uint8_t a[SIZE], b[SIZE], mix[SIZE];
    xmemi_testframe_fill(a, SIZE, 100, 1);
    xmemi_testframe_fill(b, SIZE, 101, 2);
    char why[160];
    memcpy(mix, b, XMEMI_TESTFRAME_HEADER);
    memcpy(mix + XMEMI_TESTFRAME_HEADER, a + XMEMI_TESTFRAME_HEADER, SIZE - XMEMI_TESTFRAME_HEADER);
    cr_assert(not(check(mix, SIZE, why, sizeof why)), "frame 101's header on frame 100's payload");
    cr_assert(not(eq(ptr, strstr(why, "frame 101: checksum"), NULL)), "%s", why);
    memcpy(mix, b, SIZE / 2);
    memcpy(mix + SIZE / 2, a + SIZE / 2, SIZE / 2);
    cr_assert(not(check(mix, SIZE, why, sizeof why)), "half of each");
}

Test(testframe, inverted_frames_check)
{
    enum { SIZE = XMEMI_TESTFRAME_HEADER + 8 * 100 + 7 };
    static uint8_t a[SIZE], b[SIZE], c[SIZE];
    xmemi_testframe_fill(a, SIZE, 5, 1);
    cr_assert(xmemi_testframe_invert(a, b, SIZE));
    cr_assert(xmemi_testframe_invert(b, c, SIZE));
    char why[160] = "";
    xmemi_testframe_info info;
    cr_assert(xmemi_testframe_check(b, SIZE, &info, why, sizeof why), "%s", why);
    cr_assert(eq(u32, info.inversions, 1));
    cr_assert(xmemi_testframe_check(c, SIZE, &info, why, sizeof why), "%s", why);
    cr_assert(eq(u32, info.inversions, 2));
    cr_assert(eq(int,
                 memcmp(a + XMEMI_TESTFRAME_HEADER, c + XMEMI_TESTFRAME_HEADER,
                        SIZE - XMEMI_TESTFRAME_HEADER),
                 0));
}
