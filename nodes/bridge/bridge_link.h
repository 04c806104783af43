/* What both halves of a bridge need from czmq and libzmq: czmq kept from taking the node's signals,
 * CURVE certificates read and checked, one set of socket options (heartbeats, limits), endpoints
 * made from "ADDRESS:PORT", and the socket monitor that tells a refused handshake from a dead
 * peer. */
#ifndef XMEM_NODES_BRIDGE_BRIDGE_LINK_H
#define XMEM_NODES_BRIDGE_BRIDGE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <czmq.h>
#include <xmem/error.h>
#include <xmem/node.h>

#define XMEMI_BRIDGE_HEARTBEAT_MS 500  /* ZMQ_HEARTBEAT_IVL: a PING when the link is quiet */
#define XMEMI_BRIDGE_DEAD_MS 2000      /* no word for this long: the link is down */
#define XMEMI_BRIDGE_HEADER_ROOM 65536 /* beyond max_message, for the header part */

/* Before any other czmq call: czmq must not install its own SIGINT/SIGTERM handlers (the node
 * host's decide when the node stops), and its log lines (zauth's, naming refused peers by
 * address) go to the node's log. */
void xmemi_bridge_czmq_init(const char *node_name);

/* The host's key pair from `key_path`'s secret half, KEY_PATH_secret as `xmem keygen` writes it:
 * refused when group or others can read it. `*out` owned by the caller (zcert_destroy). */
xmem_err xmemi_bridge_load_secret(const char *key_path, zcert_t **out, xmem_error_t *err);

/* A public certificate (a peer's). `*out` owned by the caller. */
xmem_err xmemi_bridge_load_public(const char *path, zcert_t **out, xmem_error_t *err);

/* "tcp://ADDRESS:PORT" from "ADDRESS:PORT" (an IPv6 address in brackets, the socket told to use
 * IPv6); "*" binds every interface. */
xmem_err xmemi_bridge_endpoint(const char *addr_port, char *out, size_t len, bool *ipv6,
                               xmem_error_t *err);

/* The options every bridge socket gets: heartbeats (a dead peer is noticed within
 * XMEMI_BRIDGE_DEAD_MS and reconnected to), high-water marks, the largest message accepted,
 * no linger, reconnects every 100 ms up to 1 s. */
void xmemi_bridge_tune(zsock_t *s, int64_t max_message, int hwm, bool ipv6);

/* A monitor of `s`'s connection events, read with xmemi_bridge_monitor_read. `*out` owned by the
 * caller (zsock_destroy, before `s`). */
xmem_err xmemi_bridge_monitor(zsock_t *s, const char *name, zsock_t **out, xmem_error_t *err);

/* One event from a monitor (non-blocking): false when none is waiting. */
bool xmemi_bridge_monitor_read(zsock_t *mon, uint16_t *event, uint32_t *value, char *addr,
                               size_t len);

/* A handshake that failed: the peer refused, or was refused (wrong or no key). */
bool xmemi_bridge_event_refused(uint16_t event);

/* The event's meaning for a log line ("authentication failed", "disconnected"). */
const char *xmemi_bridge_event_name(uint16_t event);

uint64_t xmemi_bridge_random64(void);

#endif
