/* The descriptor's wire form: encode/decode round trips, the documented little-endian layout, and
 * each refusal the wire checks give (size, magic, version, checksum, flags), in their order. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "transport_util.h"

static const xmem_descriptor samples[] = {
    {0},
    {.pool_id = 0x0123456789abcdefull,
     .ref = {.index = 7, .generation = 3},
     .sequence = 42,
     .timestamp_ns = 1700000000123456789ull,
     .owner = 5},
    {.pool_id = UINT64_MAX,
     .ref = {.index = UINT32_MAX, .generation = UINT32_MAX},
     .sequence = UINT64_MAX,
     .timestamp_ns = UINT64_MAX,
     .owner = UINT32_MAX},
    {.pool_id = 1, .ref = {.index = 0, .generation = 1}, .sequence = 1ull << 63, .owner = 63},
};

#define NSAMPLES (sizeof samples / sizeof samples[0])

static void encode_sample(size_t i, uint8_t wire[XMEM_DESCRIPTOR_SIZE])
{
    memset(wire, 0xa5, XMEM_DESCRIPTOR_SIZE);
    xmem_descriptor_encode(&samples[i], wire);
}

static void expect_reject(const uint8_t *wire, size_t len, xmem_reject want)
{
    xmem_descriptor d;
    xmem_reject why = XMEM_REJECT_COUNT_;
    cr_assert(eq(int, xmem_descriptor_decode(wire, len, &d, &why), XMEM_EINVAL),
              "a message that must be refused (%s) was accepted", xmem_reject_name(want));
    cr_assert(eq(int, why, want), "refused as '%s', expected '%s'", xmem_reject_name(why),
              xmem_reject_name(want));
    /* NULL reason is allowed. */
    cr_assert(eq(int, xmem_descriptor_decode(wire, len, &d, NULL), XMEM_EINVAL));
}

Test(descriptor, round_trip)
{
    for (size_t i = 0; i < NSAMPLES; i++) {
        uint8_t wire[XMEM_DESCRIPTOR_SIZE];
        encode_sample(i, wire);
        xmem_descriptor d;
        memset(&d, 0x5a, sizeof d);
        xmem_reject why = XMEM_REJECT_COUNT_;
        cr_assert(eq(int, xmem_descriptor_decode(wire, sizeof wire, &d, &why), XMEM_OK),
                  "sample %zu refused as %s", i, xmem_reject_name(why));
        cr_assert(eq(u64, d.pool_id, samples[i].pool_id), "sample %zu", i);
        cr_assert(eq(u32, d.ref.index, samples[i].ref.index), "sample %zu", i);
        cr_assert(eq(u32, d.ref.generation, samples[i].ref.generation), "sample %zu", i);
        cr_assert(eq(u64, d.sequence, samples[i].sequence), "sample %zu", i);
        cr_assert(eq(u64, d.timestamp_ns, samples[i].timestamp_ns), "sample %zu", i);
        cr_assert(eq(u32, d.owner, samples[i].owner), "sample %zu", i);
        cr_assert(eq(u16, d.flags, 0), "sample %zu", i);
        /* Decoding then encoding again gives the same bytes. */
        uint8_t again[XMEM_DESCRIPTOR_SIZE];
        xmem_descriptor_encode(&d, again);
        cr_assert(eq(int, memcmp(wire, again, sizeof wire), 0), "sample %zu", i);
    }
}

/* Every field lands where descriptor.c documents it, little-endian, whatever the host's order. */
Test(descriptor, wire_layout)
{
    uint8_t wire[XMEM_DESCRIPTOR_SIZE];
    encode_sample(1, wire);
    const xmem_descriptor *s = &samples[1];
    cr_assert(eq(int, memcmp(wire, "XMD1", 4), 0), "magic is not \"XMD1\"");
    cr_assert(eq(u64, xtt_get_le(wire + 4, 2), XMEM_DESCRIPTOR_VERSION));
    cr_assert(eq(u64, xtt_get_le(wire + 6, 2), 0));
    cr_assert(eq(u64, xtt_get_le(wire + 8, 8), s->pool_id));
    cr_assert(eq(u64, xtt_get_le(wire + 16, 4), s->ref.index));
    cr_assert(eq(u64, xtt_get_le(wire + 20, 4), s->ref.generation));
    cr_assert(eq(u64, xtt_get_le(wire + 24, 8), s->sequence));
    cr_assert(eq(u64, xtt_get_le(wire + 32, 8), s->timestamp_ns));
    cr_assert(eq(u64, xtt_get_le(wire + 40, 4), s->owner));
    cr_assert(eq(u64, xtt_get_le(wire + 44, 4), xtt_fnv1a32(wire, 44)));
    /* The model agrees. */
    xmem_descriptor d;
    cr_assert(eq(int, xtt_model_decode(wire, sizeof wire, &d), -1));
}

/* Each field changes the bytes (and the checksum): nothing is left out of the wire form. */
Test(descriptor, every_field_is_encoded)
{
    uint8_t base[XMEM_DESCRIPTOR_SIZE], other[XMEM_DESCRIPTOR_SIZE];
    xmem_descriptor d = samples[1];
    xmem_descriptor_encode(&d, base);
    for (int field = 0; field < 6; field++) {
        xmem_descriptor e = d;
        switch (field) {
        case 0: e.pool_id++; break;
        case 1: e.ref.index++; break;
        case 2: e.ref.generation++; break;
        case 3: e.sequence++; break;
        case 4: e.timestamp_ns++; break;
        default: e.owner++; break;
        }
        xmem_descriptor_encode(&e, other);
        cr_assert(ne(int, memcmp(base, other, sizeof base), 0), "field %d not encoded", field);
        cr_assert(ne(u64, xtt_get_le(base + 44, 4), xtt_get_le(other + 44, 4)),
                  "field %d not covered by the checksum", field);
    }
}

static size_t bad_sizes[] = {0, 1, 8, 36, 44, 47, 49, 56, 64, 96, 4096};

ParameterizedTestParameters(descriptor, reject_size)
{
    return cr_make_param_array(size_t, bad_sizes, sizeof bad_sizes / sizeof bad_sizes[0]);
}

ParameterizedTest(size_t *len, descriptor, reject_size)
{
    /* A valid descriptor at the start of a longer (or cut) buffer is still the wrong size. */
    uint8_t buf[4096];
    memset(buf, 0, sizeof buf);
    encode_sample(1, buf);
    expect_reject(buf, *len, XMEM_REJECT_SIZE);
}

Test(descriptor, reject_null_buffer)
{
    expect_reject(NULL, XMEM_DESCRIPTOR_SIZE, XMEM_REJECT_SIZE);
    expect_reject(NULL, 0, XMEM_REJECT_SIZE);
}

Test(descriptor, reject_magic)
{
    static const uint32_t magics[] = {0, 0x32444d58u /* "XMD2" */, 0x31434d58u /* control */,
                                      0x584d4431u /* byte-swapped */, UINT32_MAX};
    for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++) {
        uint8_t wire[XMEM_DESCRIPTOR_SIZE];
        encode_sample(1, wire);
        xtt_put_le(wire, magics[i], 4);
        xtt_fix_checksum(wire);
        expect_reject(wire, sizeof wire, XMEM_REJECT_MAGIC);
        /* Magic comes before everything but the size: a bad checksum too says "magic". */
        wire[44] ^= 1;
        expect_reject(wire, sizeof wire, XMEM_REJECT_MAGIC);
    }
}

Test(descriptor, reject_version)
{
    static const uint16_t versions[] = {0, 2, 3, 0x0100, UINT16_MAX};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        uint8_t wire[XMEM_DESCRIPTOR_SIZE];
        encode_sample(1, wire);
        xtt_put_le(wire + 4, versions[i], 2);
        xtt_fix_checksum(wire);
        expect_reject(wire, sizeof wire, XMEM_REJECT_VERSION);
        /* A future version may change the checksum too: still "version". */
        wire[44] ^= 1;
        expect_reject(wire, sizeof wire, XMEM_REJECT_VERSION);
    }
}

/* Every single-bit change is caught, and by the first check that covers the byte. */
Test(descriptor, reject_every_bit_flip)
{
    for (size_t s = 0; s < NSAMPLES; s++) {
        for (int byte = 0; byte < XMEM_DESCRIPTOR_SIZE; byte++) {
            for (int bit = 0; bit < 8; bit++) {
                uint8_t wire[XMEM_DESCRIPTOR_SIZE];
                encode_sample(s, wire);
                wire[byte] ^= (uint8_t)(1u << bit);
                xmem_reject want = byte < 4   ? XMEM_REJECT_MAGIC
                                   : byte < 6 ? XMEM_REJECT_VERSION
                                              : XMEM_REJECT_CHECKSUM;
                xmem_descriptor d;
                xmem_reject why = XMEM_REJECT_COUNT_;
                cr_assert(eq(int, xmem_descriptor_decode(wire, sizeof wire, &d, &why), XMEM_EINVAL),
                          "sample %zu byte %d bit %d flipped: accepted", s, byte, bit);
                cr_assert(eq(int, why, want), "sample %zu byte %d bit %d: '%s', expected '%s'", s,
                          byte, bit, xmem_reject_name(why), xmem_reject_name(want));
            }
        }
    }
}

Test(descriptor, reject_flags)
{
    static const uint16_t flags[] = {1, 2, 0x8000, UINT16_MAX};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        xmem_descriptor d = samples[1];
        d.flags = flags[i];
        uint8_t wire[XMEM_DESCRIPTOR_SIZE];
        xmem_descriptor_encode(&d, wire);
        cr_assert(eq(u64, xtt_get_le(wire + 6, 2), flags[i]), "encode dropped the flags");
        expect_reject(wire, sizeof wire, XMEM_REJECT_FLAGS);
        /* Checksum comes first: a damaged message with flags says "checksum". */
        wire[30] ^= 0x10;
        expect_reject(wire, sizeof wire, XMEM_REJECT_CHECKSUM);
    }
}

/* Each reason and each drop has its own short, non-empty name; an unknown one still gets a string.
 */
Test(descriptor, reject_and_drop_names)
{
    for (int r = 0; r < XMEM_REJECT_COUNT_; r++) {
        const char *n = xmem_reject_name((xmem_reject)r);
        cr_assert(not(eq(ptr, (void *)n, NULL)));
        cr_assert(gt(sz, strlen(n), 0));
        for (int o = 0; o < r; o++)
            cr_assert(ne(str, (char *)n, (char *)xmem_reject_name((xmem_reject)o)));
    }
    cr_assert(eq(str, (char *)xmem_reject_name(XMEM_REJECT_SIZE), "size"));
    cr_assert(eq(str, (char *)xmem_reject_name(XMEM_REJECT_MAGIC), "magic"));
    cr_assert(not(eq(ptr, (void *)xmem_reject_name(XMEM_REJECT_COUNT_), NULL)));
    cr_assert(not(eq(ptr, (void *)xmem_reject_name((xmem_reject)-1), NULL)));
    for (int r = 0; r < XMEM_DROP_COUNT_; r++) {
        const char *n = xmem_drop_name((xmem_drop)r);
        cr_assert(not(eq(ptr, (void *)n, NULL)));
        cr_assert(gt(sz, strlen(n), 0));
        for (int o = 0; o < r; o++)
            cr_assert(ne(str, (char *)n, (char *)xmem_drop_name((xmem_drop)o)));
    }
    cr_assert(not(eq(ptr, (void *)xmem_drop_name(XMEM_DROP_COUNT_), NULL)));
}
