/* Shared parts of the two bridge halves (bridge_link.h). */
#define _GNU_SOURCE
#include "bridge_link.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "common/fail.h"

void xmemi_bridge_czmq_init(const char *node_name)
{
    zsys_handler_set(NULL);
    zsys_set_logstream(stderr);
    zsys_set_logsystem(false);
    zsys_set_logident(node_name);
    zsys_init();
}

static xmem_err load_cert(const char *path, const char *what, zcert_t **out, xmem_error_t *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return xmemi_fail(err, XMEM_ECONFIG, errno, "%s %s: %s", what, path, strerror(errno));
    *out = zcert_load(path);
    if (!*out)
        return xmemi_fail(err, XMEM_ECONFIG, 0,
                          "%s %s: not a certificate file (make one with `xmem keygen`)", what,
                          path);
    return XMEM_OK;
}

xmem_err xmemi_bridge_load_secret(const char *key_path, zcert_t **out, xmem_error_t *err)
{
    char secret[4096];
    snprintf(secret, sizeof secret, "%s_secret", key_path);
    struct stat st;
    if (stat(secret, &st) != 0)
        return xmemi_fail(err, XMEM_ECONFIG, errno,
                          "this host's secret key %s: %s (it is written by `xmem keygen` beside "
                          "the public key %s, and stays on this host)",
                          secret, strerror(errno), key_path);
    if (st.st_mode & 077)
        return xmemi_fail(err, XMEM_ECONFIG, 0,
                          "this host's secret key %s can be read by others (mode %03o): run "
                          "`chmod 600 %s`",
                          secret, (unsigned)(st.st_mode & 0777), secret);
    xmem_err rc = load_cert(secret, "this host's secret key", out, err);
    if (rc)
        return rc;
    static const char zero_key[41] = "0000000000000000000000000000000000000000";
    if (strcmp(zcert_secret_txt(*out), zero_key) == 0) {
        zcert_destroy(out);
        return xmemi_fail(err, XMEM_ECONFIG, 0,
                          "%s holds no secret key (a public certificate where the secret one "
                          "should be)",
                          secret);
    }
    return XMEM_OK;
}

xmem_err xmemi_bridge_load_public(const char *path, zcert_t **out, xmem_error_t *err)
{
    return load_cert(path, "public key", out, err);
}

xmem_err xmemi_bridge_endpoint(const char *addr_port, char *out, size_t len, bool *ipv6,
                               xmem_error_t *err)
{
    const char *colon = strrchr(addr_port, ':');
    if (!colon || colon == addr_port || !colon[1])
        return xmemi_fail(err, XMEM_ECONFIG, 0, "'%s': expected ADDRESS:PORT", addr_port);
    int alen = (int)(colon - addr_port);
    *ipv6 = memchr(addr_port, ':', (size_t)alen) != NULL;
    bool bracketed = addr_port[0] == '[';
    int n = snprintf(out, len, *ipv6 && !bracketed ? "tcp://[%.*s]:%s" : "tcp://%.*s:%s", alen,
                     addr_port, colon + 1);
    if (n < 0 || (size_t)n >= len)
        return xmemi_fail(err, XMEM_ECONFIG, 0, "'%s': too long for an endpoint", addr_port);
    return XMEM_OK;
}

void xmemi_bridge_tune(zsock_t *s, int64_t max_message, int hwm, bool ipv6)
{
    zsock_set_linger(s, 0);
    zsock_set_sndhwm(s, hwm);
    zsock_set_rcvhwm(s, hwm);
    zsock_set_maxmsgsize(s, (int)(max_message + XMEMI_BRIDGE_HEADER_ROOM > INT32_MAX
                                      ? -1
                                      : max_message + XMEMI_BRIDGE_HEADER_ROOM));
    zsock_set_heartbeat_ivl(s, XMEMI_BRIDGE_HEARTBEAT_MS);
    zsock_set_heartbeat_timeout(s, XMEMI_BRIDGE_DEAD_MS);
    zsock_set_heartbeat_ttl(s, XMEMI_BRIDGE_DEAD_MS);
    zsock_set_reconnect_ivl(s, 100);
    zsock_set_reconnect_ivl_max(s, 1000);
    zsock_set_tcp_keepalive(s, 1);
    zsock_set_ipv6(s, ipv6);
}

xmem_err xmemi_bridge_monitor(zsock_t *s, const char *name, zsock_t **out, xmem_error_t *err)
{
    char ep[128];
    snprintf(ep, sizeof ep, "inproc://xmem-bridge-monitor-%s-%p", name, (void *)s);
    int events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
    if (zmq_socket_monitor(zsock_resolve(s), ep, events) != 0)
        return xmemi_fail(err, XMEM_ETRANSPORT, errno, "zmq_socket_monitor: %s",
                          zmq_strerror(errno));
    *out = zsock_new(ZMQ_PAIR);
    if (!*out || zsock_connect(*out, "%s", ep) != 0) {
        zsock_destroy(out);
        return xmemi_fail(err, XMEM_ETRANSPORT, errno, "monitor %s: %s", ep, zmq_strerror(errno));
    }
    return XMEM_OK;
}

bool xmemi_bridge_monitor_read(zsock_t *mon, uint16_t *event, uint32_t *value, char *addr,
                               size_t len)
{
    void *raw = zsock_resolve(mon);
    zmq_msg_t part;
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, raw, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&part);
        return false;
    }
    const uint8_t *d = zmq_msg_data(&part);
    bool ok = zmq_msg_size(&part) >= 6;
    if (ok) {
        memcpy(event, d, 2);
        memcpy(value, d + 2, 4);
    }
    addr[0] = '\0';
    while (zmq_msg_more(&part)) {
        zmq_msg_close(&part);
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, raw, 0) < 0)
            break;
        snprintf(addr, len, "%.*s", (int)zmq_msg_size(&part), (const char *)zmq_msg_data(&part));
    }
    zmq_msg_close(&part);
    return ok;
}

bool xmemi_bridge_event_refused(uint16_t event)
{
    return event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
           event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
           event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
}

const char *xmemi_bridge_event_name(uint16_t event)
{
    switch (event) {
    case ZMQ_EVENT_CONNECTED: return "connected";
    case ZMQ_EVENT_ACCEPTED: return "accepted a connection";
    case ZMQ_EVENT_DISCONNECTED: return "disconnected";
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: return "handshake failed";
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: return "handshake failed (protocol: wrong keys?)";
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: return "authentication failed (key not allowed)";
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: return "handshake succeeded";
    default: return "event";
    }
}

uint64_t xmemi_bridge_random64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != sizeof v) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v = (uint64_t)ts.tv_nsec * 2654435761u ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid() << 32;
    }
    return v ? v : 1;
}
