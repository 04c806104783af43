/* Subscriber -> publisher control messages: SUBSCRIBE (sent at connect and repeated every
 * heartbeat, so a restarted publisher learns of its subscribers) and UNSUBSCRIBE. `owner` is the
 * subscriber's inbox, where the publisher puts the reference of each descriptor it sends; `home`
 * is the subscriber's own attachment, which holds what it received (see transport/inbox.h).
 *   0 magic u32 "XMC1" | 4 version u16 | 6 type u16 | 8 pool_id u64 | 16 owner u32 | 20 pid u32
 *  24 depth u32 | 28 policy u16 | 30 reserved u16 | 32 home u32 | 36 block_timeout_ms i32
 *  40 checksum u32 (FNV-1a of bytes 0..39) */
#ifndef XMEM_TRANSPORT_CONTROL_H
#define XMEM_TRANSPORT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XMEMI_CONTROL_SIZE 44
#define XMEMI_CONTROL_MAGIC 0x31434d58u /* "XMC1" */
#define XMEMI_CONTROL_VERSION 3u

enum xmemi_control_type { XMEMI_SUBSCRIBE = 1, XMEMI_UNSUBSCRIBE = 2 };

typedef struct xmemi_control {
    uint16_t type;
    uint64_t pool_id;
    uint32_t owner; /* the inbox: references in flight go there */
    uint32_t pid;
    uint32_t depth;
    uint16_t policy;
    uint32_t home;            /* the subscriber's own attachment: what it holds is there */
    int32_t block_timeout_ms; /* policy block: how long a publisher may wait for it (0: the
                                 publisher's own timeout, negative: no limit) */
} xmemi_control;

void xmemi_control_encode(const xmemi_control *c, uint8_t out[XMEMI_CONTROL_SIZE]);

/* False for anything that is not a well-formed control message of this version. */
bool xmemi_control_decode(const void *buf, size_t len, xmemi_control *out);

/* Publisher -> subscriber. WELCOME is sent before the first descriptor to a new subscriber, and
 * whenever the subscriber names another inbox: who the publisher is (its process, and a random
 * instance number) and the inbox it gives into from here on (every descriptor before it on the
 * pipe went with a reference to the inbox named before). END follows its last descriptor: the
 * stream is over (xmem_pub_end).
 *   0 magic u32 "XMW1" | 4 version u16 | 6 kind u16 | 8 instance u64 | 16 pid u32 | 20 inbox u32
 *  24 checksum u32 (FNV-1a of bytes 0..23) */
#define XMEMI_WELCOME_SIZE 28
#define XMEMI_WELCOME_MAGIC 0x31574d58u /* "XMW1" */

enum xmemi_welcome_kind { XMEMI_WELCOME = 0, XMEMI_END = 1 };

typedef struct xmemi_welcome {
    uint16_t kind;
    uint64_t instance;
    uint32_t pid;
    uint32_t inbox; /* WELCOME: the owner id it gives into now (XMEM_OWNER_NONE in an END) */
} xmemi_welcome;

void xmemi_welcome_encode(const xmemi_welcome *w, uint8_t out[XMEMI_WELCOME_SIZE]);
bool xmemi_welcome_decode(const void *buf, size_t len, xmemi_welcome *out);

#endif
