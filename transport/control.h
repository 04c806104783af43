/* Subscriber -> publisher control messages: SUBSCRIBE (sent at connect and repeated every
 * heartbeat, so a restarted publisher learns of its subscribers) and UNSUBSCRIBE.
 *   0 magic u32 "XMC1" | 4 version u16 | 6 type u16 | 8 pool_id u64 | 16 owner u32 | 20 pid u32
 *  24 depth u32 | 28 policy u16 | 30 reserved u16 | 32 checksum u32 (FNV-1a of bytes 0..31) */
#ifndef XMEM_TRANSPORT_CONTROL_H
#define XMEM_TRANSPORT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XMEMI_CONTROL_SIZE 36
#define XMEMI_CONTROL_MAGIC 0x31434d58u /* "XMC1" */
#define XMEMI_CONTROL_VERSION 1u

enum xmemi_control_type { XMEMI_SUBSCRIBE = 1, XMEMI_UNSUBSCRIBE = 2 };

typedef struct xmemi_control {
    uint16_t type;
    uint64_t pool_id;
    uint32_t owner;
    uint32_t pid;
    uint32_t depth;
    uint16_t policy;
} xmemi_control;

void xmemi_control_encode(const xmemi_control *c, uint8_t out[XMEMI_CONTROL_SIZE]);

/* False for anything that is not a well-formed control message of this version. */
bool xmemi_control_decode(const void *buf, size_t len, xmemi_control *out);

/* Publisher -> subscriber. WELCOME is sent before the first descriptor to a new subscriber: who
 * the publisher is (its process, and a random instance number), and that its numbering starts
 * afresh. END follows its last descriptor: the stream is over (xmem_pub_end).
 *   0 magic u32 "XMW1" | 4 version u16 | 6 kind u16 | 8 instance u64 | 16 pid u32
 *  20 checksum u32 (FNV-1a of bytes 0..19) */
#define XMEMI_WELCOME_SIZE 24
#define XMEMI_WELCOME_MAGIC 0x31574d58u /* "XMW1" */

enum xmemi_welcome_kind { XMEMI_WELCOME = 0, XMEMI_END = 1 };

typedef struct xmemi_welcome {
    uint16_t kind;
    uint64_t instance;
    uint32_t pid;
} xmemi_welcome;

void xmemi_welcome_encode(const xmemi_welcome *w, uint8_t out[XMEMI_WELCOME_SIZE]);
bool xmemi_welcome_decode(const void *buf, size_t len, xmemi_welcome *out);

#endif
