/* Byte counts in messages: in full, so they can be compared and pasted, and in binary units, so
 * they can be read at a glance ("33595392 bytes (32.0 MiB)"). */
#ifndef XMEM_COMMON_SIZE_TEXT_H
#define XMEM_COMMON_SIZE_TEXT_H

#include <stdint.h>
#include <stdio.h>

/* Room for any count: 20 digits, " bytes (", "1023.9 EiB)" and the NUL. */
#define XMEMI_SIZE_TEXT_MAX 48

typedef struct xmemi_size_text {
    char s[XMEMI_SIZE_TEXT_MAX];
} xmemi_size_text;

/* printf("%s", xmemi_size(n).s): a value, so that one message can hold several. */
static inline xmemi_size_text xmemi_size(uint64_t bytes)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    xmemi_size_text t;
    if (bytes < 1024) {
        snprintf(t.s, sizeof t.s, "%llu byte%s", (unsigned long long)bytes, bytes == 1 ? "" : "s");
        return t;
    }
    double v = (double)bytes / 1024;
    unsigned u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    snprintf(t.s, sizeof t.s, "%llu bytes (%.1f %s)", (unsigned long long)bytes, v, units[u]);
    return t;
}

#endif
