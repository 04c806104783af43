/* The values of a host entry that are checked by their text alone (graph_hosts.h): its address
 * (an IP literal or a host name) and its port range, and the endpoint text the bridges get. */
#include "graph_hosts.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int xmemi_host_address_family(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, s, buf) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, s, buf) == 1)
        return AF_INET6;
    return 0;
}

/* RFC 1123: labels of 1 to 63 letters, digits and '-', not starting or ending with '-'; 253
 * characters in all. A last label of digits only is an IP address gone wrong, not a name. */
static bool host_name_ok(const char *s)
{
    size_t total = strlen(s), label = 0;
    if (total == 0 || total > 253)
        return false;
    bool digits_only = true;
    for (size_t i = 0; i <= total; i++) {
        char c = s[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            if (c == '\0')
                break;
            label = 0;
            digits_only = true;
            continue;
        }
        if (!(isalnum((unsigned char)c) || c == '-') || (label == 0 && c == '-') || ++label > 63)
            return false;
        digits_only &= isdigit((unsigned char)c) != 0;
    }
    return !digits_only;
}

bool xmemi_host_address_ok(const char *s)
{
    return xmemi_host_address_family(s) || host_name_ok(s);
}

/* A port number: digits only, 1 to 65535. */
static bool port_number(const char *s, size_t len, uint32_t *out)
{
    if (len == 0 || len > 5)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    *out = v;
    return v >= 1 && v <= 65535;
}

bool xmemi_host_ports_parse(const char *s, uint32_t *first, uint32_t *last)
{
    const char *dash = strchr(s, '-');
    if (!dash)
        return port_number(s, strlen(s), first) && (*last = *first, true);
    return port_number(s, (size_t)(dash - s), first) &&
           port_number(dash + 1, strlen(dash + 1), last) && *first <= *last;
}

void xmemi_host_endpoint(const char *address, uint32_t port, char *buf, size_t len)
{
    bool v6 = xmemi_host_address_family(address) == AF_INET6;
    snprintf(buf, len, "%s%s%s:%u", v6 ? "[" : "", address, v6 ? "]" : "", port);
}
