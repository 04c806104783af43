/* Metrics endpoint addresses (metrics_addr.h). */
#define _GNU_SOURCE
#include "metrics_addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fail.h"

xmem_err xmemi_metrics_addr_parse(const char *text, struct sockaddr_in *out, xmem_error_t *err)
{
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    const char *colon = text ? strrchr(text, ':') : NULL;
    const char *port_text = colon ? colon + 1 : text;
    char host[64] = "127.0.0.1";
    if (colon && colon > text) {
        if ((size_t)(colon - text) >= sizeof host)
            goto bad;
        snprintf(host, sizeof host, "%.*s", (int)(colon - text), text);
    }
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    char *end;
    long port = port_text ? strtol(port_text, &end, 10) : -1;
    if (!port_text || !*port_text || *end || port < 0 || port > 65535 ||
        inet_pton(AF_INET, host, &out->sin_addr) != 1)
        goto bad;
    out->sin_port = htons((uint16_t)port);
    return XMEM_OK;
bad:
    return xmemi_fail(err, XMEM_EINVAL, 0,
                      "metrics address '%s': expected PORT or ADDR:PORT (an IPv4 address or "
                      "localhost, a port from 0 to 65535)",
                      text ? text : "");
}
