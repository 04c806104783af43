/* A subscriber's inboxes (inbox.h): opening, accepting a reference out of one, replacing one. */
#include "inbox.h"

#include <stdlib.h>

#include <xmem/pool_admin.h>

#include "common/fail.h"

xmem_err xmemi_sub_attach(const char *pool_name, const char *what, xmem_pool_t **out,
                          xmem_error_t *err)
{
    xmem_err rc = xmem_pool_open(pool_name, out, err);
    if (rc == XMEM_EPROCS)
        return xmemi_fail_cause(err, rc, err,
                                "subscriber of pool '%s': no process slot left for %s (a "
                                "subscriber takes two of the pool's %d, its own and its inbox, "
                                "besides its process's; close subscribers or spread them over "
                                "more pools)",
                                pool_name, what, XMEM_POOL_MAX_PROCS);
    return rc;
}

xmem_err xmemi_inbox_open(xmemi_inbox *in, xmem_pool_t *home, xmem_error_t *err)
{
    *in = (xmemi_inbox){
        .home = home,
        .home_id = xmem_pool_owner_id(home),
        .current_id = XMEM_OWNER_NONE,
        .retiring_id = XMEM_OWNER_NONE,
        .retired_id = XMEM_OWNER_NONE,
        .capacity = xmem_pool_capacity(home),
    };
    in->refs = calloc(in->capacity, sizeof *in->refs);
    in->counts = calloc(in->capacity, sizeof *in->counts);
    xmem_err rc = XMEM_OK;
    if (!in->refs || !in->counts)
        rc = xmemi_fail(err, XMEM_ENOMEM, 0, "subscriber of pool '%s': no memory for its inbox",
                        xmem_pool_name(home));
    else
        rc = xmemi_sub_attach(xmem_pool_name(home), "its inbox", &in->current, err);
    if (rc) {
        free(in->refs);
        free(in->counts);
        *in = (xmemi_inbox){0};
        return rc;
    }
    in->current_id = xmem_pool_owner_id(in->current);
    return XMEM_OK;
}

void xmemi_inbox_close(xmemi_inbox *in)
{
    xmem_pool_close(&in->retiring);
    xmem_pool_close(&in->current);
    free(in->refs);
    free(in->counts);
    *in = (xmemi_inbox){0};
}

xmem_err xmemi_inbox_accept(xmemi_inbox *in, xmem_pool_t *box, xmem_buf_ref ref, xmem_error_t *err)
{
    /* Added to home before it leaves the inbox (xmem_pool_give): a publisher counting what the
     * subscriber holds, which reads the inbox first, sees it on its way in one or the other. */
    return xmem_pool_give(box, ref, in->home_id, 1, err);
}

xmem_err xmemi_inbox_replace(xmemi_inbox *in, xmem_error_t *err)
{
    if (in->retiring)
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "subscriber of pool '%s': its inbox is being replaced already",
                          xmem_pool_name(in->home));
    xmem_pool_t *fresh = NULL;
    xmem_err rc = xmemi_sub_attach(xmem_pool_name(in->home), "a new inbox", &fresh, err);
    if (rc)
        return rc;
    in->retiring = in->current;
    in->retiring_id = in->current_id;
    in->current = fresh;
    in->current_id = xmem_pool_owner_id(fresh);
    return XMEM_OK;
}

uint64_t xmemi_inbox_retire(xmemi_inbox *in)
{
    if (!in->retiring)
        return 0;
    uint64_t lost = 0;
    uint32_t n = xmem_pool_list_owned(in->retiring, in->refs, in->counts, in->capacity);
    for (uint32_t i = 0; i < n && i < in->capacity; i++)
        lost += in->counts[i];
    in->retired_id = in->retiring_id;
    in->retiring_id = XMEM_OWNER_NONE;
    xmem_pool_close(&in->retiring);
    return lost;
}
