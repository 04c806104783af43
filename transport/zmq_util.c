/* libzmq helpers: uniform error text and option setting. */
#include "zmq_util.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "common/fail.h"

xmem_err xmemi_zmq_fail(xmem_error_t *err, const char *what, const char *endpoint)
{
    int e = errno;
    return xmemi_fail(err, XMEM_ETRANSPORT, 0, "%s '%s': %s", what, endpoint, zmq_strerror(e));
}

xmem_err xmemi_zmq_setint(void *sock, int option, int value, const char *endpoint,
                          xmem_error_t *err)
{
    if (zmq_setsockopt(sock, option, &value, sizeof value) != 0)
        return xmemi_zmq_fail(err, "zmq_setsockopt on", endpoint);
    return XMEM_OK;
}

xmem_err xmemi_zmq_limit_messages(void *sock, const char *endpoint, xmem_error_t *err)
{
    int64_t max = XMEMI_MAX_MESSAGE;
    if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0)
        return xmemi_zmq_fail(err, "zmq_setsockopt(MAXMSGSIZE) on", endpoint);
    return XMEM_OK;
}

xmem_err xmemi_zmq_heartbeat(void *sock, int hb_ms, const char *endpoint, xmem_error_t *err)
{
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return XMEM_OK;
    xmem_err rc = xmemi_zmq_setint(sock, ZMQ_HEARTBEAT_IVL, hb_ms, endpoint, err);
    return rc ? rc : xmemi_zmq_setint(sock, ZMQ_HEARTBEAT_TIMEOUT, 5 * hb_ms, endpoint, err);
}

uint64_t xmemi_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
