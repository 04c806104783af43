/* What the two halves of a bridge (bridge_send.c, bridge_recv.c) say to each other over their one
 * ZeroMQ connection: the sender's DEALER to the receiver's ROUTER, CURVE-encrypted unless the graph
 * says otherwise. Every message starts with one fixed header; a frame's payload follows it as a
 * second part, sent straight from the pool buffer.
 *
 *   sender -> receiver: HELLO (link name), FRAME + payload, PING, END
 *   receiver -> sender: WELCOME or REFUSED (to a HELLO), CREDIT (a frame done), PONG (to a PING)
 *
 * Flow control: the sender has at most `depth` frames not yet known done. The receiver handles
 * messages in order, so a PONG to a PING sent after frame N says every frame up to N was done or
 * lost on the way: credits come back even for frames a broken connection ate. The header is in
 * the hosts' own byte order; a peer of the other order is refused by the magic. */
#ifndef XMEM_NODES_BRIDGE_BRIDGE_WIRE_H
#define XMEM_NODES_BRIDGE_BRIDGE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <xmem/error.h>
#include <xmem/meta.h>

#define XMEMI_BRIDGE_MAGIC 0x52424d58u /* "XMBR" */
#define XMEMI_BRIDGE_VERSION 1u
#define XMEMI_BRIDGE_TEXT_MAX 160

typedef enum xmemi_bridge_type {
    XMEMI_BRIDGE_HELLO = 1,
    XMEMI_BRIDGE_WELCOME,
    XMEMI_BRIDGE_REFUSED,
    XMEMI_BRIDGE_FRAME,
    XMEMI_BRIDGE_CREDIT,
    XMEMI_BRIDGE_PING,
    XMEMI_BRIDGE_PONG,
    XMEMI_BRIDGE_END,
} xmemi_bridge_type;

typedef struct xmemi_bridge_msg {
    uint32_t magic;       /* XMEMI_BRIDGE_MAGIC */
    uint16_t version;     /* XMEMI_BRIDGE_VERSION */
    uint16_t type;        /* xmemi_bridge_type */
    uint64_t session;     /* the sender's life (random at its start) */
    uint64_t incarnation; /* the receiver's life (random at its start); 0 from the sender */
    uint64_t seq;         /* FRAME: its number in the session (from 1); PING: the last frame sent
                             before it; PONG: that number echoed; CREDIT: the frame done */
    uint64_t done;        /* WELCOME, CREDIT, PONG: frames of the session the receiver handled */
    uint64_t dropped_far; /* of those, dropped there (its pool had no buffer) */
    uint64_t t_send;      /* the sender's clock when it sent this (HELLO, PING, FRAME) */
    uint64_t t_echo;      /* WELCOME, PONG: the t_send answered */
    uint64_t t_peer;      /* WELCOME, PONG: the receiver's clock when it answered */
    /* FRAME: the buffer's layout and stamp (timestamp in the receiver's clock, 0 unknown) */
    uint64_t stamp_sequence, stamp_ns, size;
    int32_t dtype;
    uint32_t ndim;
    int64_t shape[XMEM_MAX_NDIM], strides[XMEM_MAX_NDIM];
    char text[XMEMI_BRIDGE_TEXT_MAX]; /* HELLO: the link's name; REFUSED: why */
} xmemi_bridge_msg;

/* A header of `type` with the magic and version filled, the rest zero. */
xmemi_bridge_msg xmemi_bridge_msg_make(xmemi_bridge_type type);

/* Checks `len` bytes received as a header: size, magic (naming a peer of the other byte order),
 * version, type. XMEM_ETRANSPORT with what is wrong; `from` names the peer in the message. */
xmem_err xmemi_bridge_msg_check(const void *data, size_t len, const char *from, xmem_error_t *err);

const char *xmemi_bridge_type_name(uint16_t type);

#endif
