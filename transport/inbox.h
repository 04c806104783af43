/* A subscriber's inbox: a second attachment to the pool, which holds exactly the references of the
 * descriptors sent to the subscriber and not read yet. Publishers give into it (the SUBSCRIBE
 * message names it); the subscriber moves a descriptor's reference into its own attachment (its
 * home) when it accepts the descriptor, so the inbox never holds anything the application or the
 * queue holds. When a publisher dies, what it had in flight stays in the inbox, mixed with what the
 * live publishers have in flight: the subscriber then opens a fresh inbox, tells every publisher,
 * and once each live one has answered that it gives into the new one (a WELCOME naming it, after
 * everything it gave into the old one, on the same ordered pipe) the old inbox holds exactly the
 * dead publishers' references, and closing it gives those back. docs/CRASH.md has the argument. */
#ifndef XMEM_TRANSPORT_INBOX_H
#define XMEM_TRANSPORT_INBOX_H

#include <stdint.h>

#include <xmem/error.h>
#include <xmem/pool.h>

typedef struct xmemi_inbox {
    xmem_pool_t *home;     /* the subscriber's own attachment (not owned) */
    uint32_t home_id;      /* its owner id */
    xmem_pool_t *current;  /* owned: what SUBSCRIBE names */
    uint32_t current_id;   /* its owner id */
    xmem_pool_t *retiring; /* owned: the inbox before, until its publishers moved on; or NULL */
    uint32_t retiring_id;  /* its owner id, XMEM_OWNER_NONE without one */
    uint32_t retired_id;   /* the last inbox closed (late descriptors may still name it) */
    xmem_buf_ref *refs;    /* capacity entries: what a retiring inbox still holds */
    uint32_t *counts;
    uint32_t capacity;
} xmemi_inbox;

/* Attaches a subscriber to pool `pool_name` once more (`what`: its own attachment, an inbox);
 * XMEM_EPROCS says that a subscriber takes two process slots. */
xmem_err xmemi_sub_attach(const char *pool_name, const char *what, xmem_pool_t **out,
                          xmem_error_t *err);

/* Opens the first inbox of a subscriber whose own attachment is `home`: a new attachment of the
 * same pool (XMEM_EPROCS when the pool has no process slot left). The caller owns *in and closes it
 * with xmemi_inbox_close(). */
xmem_err xmemi_inbox_open(xmemi_inbox *in, xmem_pool_t *home, xmem_error_t *err);

/* Gives back everything the inboxes hold (descriptors never read) and detaches them. */
void xmemi_inbox_close(xmemi_inbox *in);

/* The inbox a descriptor addressed to `owner` took its reference from: the current one or the one
 * retiring; NULL for any other owner id. */
static inline xmem_pool_t *xmemi_inbox_of(const xmemi_inbox *in, uint32_t owner)
{
    if (owner == in->current_id)
        return in->current;
    return in->retiring && owner == in->retiring_id ? in->retiring : NULL;
}

/* Moves one reference to `ref` from inbox `box` (xmemi_inbox_of) into home: the descriptor was
 * accepted. XMEM_ENOTOWNER if the inbox holds none. */
xmem_err xmemi_inbox_accept(xmemi_inbox *in, xmem_pool_t *box, xmem_buf_ref ref, xmem_error_t *err);

/* Starts replacing the current inbox (a publisher went away with references in it): a fresh one
 * becomes current, the old one retiring. Needs none retiring. XMEM_EPROCS and the like when no
 * attachment can be made (nothing changes then: try again later). */
xmem_err xmemi_inbox_replace(xmemi_inbox *in, xmem_error_t *err);

/* Ends a replacement: every publisher that gave into the retiring inbox has moved on or is gone,
 * and every descriptor they sent into it that can still be read was. What it still holds was in
 * flight from publishers that went away: detaching gives it back. Returns how many references. */
uint64_t xmemi_inbox_retire(xmemi_inbox *in);

#endif
