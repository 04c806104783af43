/* Plural endings for counts in messages, so that no message says "1 references". */
#ifndef XMEM_COMMON_PLURAL_H
#define XMEM_COMMON_PLURAL_H

/* "" for one, "s" for any other count: printf("%llu reference%s", n, xmemi_s(n)). */
static inline const char *xmemi_s(unsigned long long n)
{
    return n == 1 ? "" : "s";
}

#endif
