/* Small helpers around libzmq shared by the publisher and the subscriber. */
#ifndef XMEM_TRANSPORT_ZMQ_UTIL_H
#define XMEM_TRANSPORT_ZMQ_UTIL_H

#include <stdint.h>

#include <xmem/error.h>

/* Fails with XMEM_ETRANSPORT naming what was being done and zmq_strerror(errno). */
xmem_err xmemi_zmq_fail(xmem_error_t *err, const char *what, const char *endpoint);

/* Sets an int socket option; XMEM_ETRANSPORT on failure. */
xmem_err xmemi_zmq_setint(void *sock, int option, int value, const char *endpoint,
                          xmem_error_t *err);

/* The largest message either end of an xmem link sends (a descriptor, a control message, a
 * welcome: under 64 bytes), with room to spare. Every socket refuses larger ones from its peers
 * (ZMQ_MAXMSGSIZE: the peer is disconnected before the message is buffered). */
#define XMEMI_MAX_MESSAGE 256

/* Sets ZMQ_MAXMSGSIZE (an int64 option) to XMEMI_MAX_MESSAGE. */
xmem_err xmemi_zmq_limit_messages(void *sock, const char *endpoint, xmem_error_t *err);

/* ZeroMQ heartbeats (interval hb_ms, timeout 5x) on tcp:// endpoints only: a remote peer can
 * vanish silently, a local one cannot (the kernel closes its ipc socket, and the pool's liveness
 * checks catch its death). libzmq 4.3.4 can also abort an I/O thread on a connection that fails
 * while a heartbeat is pending (zeromq/libzmq#4364): local edges never arm one. */
xmem_err xmemi_zmq_heartbeat(void *sock, int hb_ms, const char *endpoint, xmem_error_t *err);

uint64_t xmemi_now_ns(void);

#endif
