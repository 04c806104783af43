/* The bridge's message header (bridge_wire.h): made and checked in one place. */
#include "bridge_wire.h"

#include <string.h>

#include "common/fail.h"

xmemi_bridge_msg xmemi_bridge_msg_make(xmemi_bridge_type type)
{
    xmemi_bridge_msg m;
    memset(&m, 0, sizeof m);
    m.magic = XMEMI_BRIDGE_MAGIC;
    m.version = XMEMI_BRIDGE_VERSION;
    m.type = (uint16_t)type;
    return m;
}

const char *xmemi_bridge_type_name(uint16_t type)
{
    static const char *const names[] = {"?",      "HELLO", "WELCOME", "REFUSED", "FRAME",
                                        "CREDIT", "PING",  "PONG",    "END"};
    return type < sizeof names / sizeof names[0] ? names[type] : "?";
}

xmem_err xmemi_bridge_msg_check(const void *data, size_t len, const char *from, xmem_error_t *err)
{
    if (len != sizeof(xmemi_bridge_msg))
        return xmemi_fail(err, XMEM_ETRANSPORT, 0,
                          "%s sent a %zu-byte header where a bridge's is %zu bytes (another xmem "
                          "version, or not a bridge)",
                          from, len, sizeof(xmemi_bridge_msg));
    xmemi_bridge_msg m;
    memcpy(&m, data, sizeof m);
    if (m.magic == __builtin_bswap32(XMEMI_BRIDGE_MAGIC))
        return xmemi_fail(err, XMEM_ETRANSPORT, 0,
                          "%s is a host of the other byte order: bridges join hosts of one byte "
                          "order only",
                          from);
    if (m.magic != XMEMI_BRIDGE_MAGIC)
        return xmemi_fail(err, XMEM_ETRANSPORT, 0, "%s sent something that is not a bridge's",
                          from);
    if (m.version != XMEMI_BRIDGE_VERSION)
        return xmemi_fail(err, XMEM_ETRANSPORT, 0,
                          "%s speaks bridge version %u, this side %u: run one xmem version on "
                          "every host",
                          from, m.version, XMEMI_BRIDGE_VERSION);
    if (m.type < XMEMI_BRIDGE_HELLO || m.type > XMEMI_BRIDGE_END)
        return xmemi_fail(err, XMEM_ETRANSPORT, 0, "%s sent a message of unknown type %u", from,
                          m.type);
    return XMEM_OK;
}
