/* Names of the transport's enums, the one place they are spelled: queue policies (as graph files
 * and `xmem node --policy` write them) and drop reasons. */
#include <xmem/transport.h>

#include <string.h>

#include "common/fail.h"

_Static_assert(XMEM_DROP_COUNT_ <= XMEM_DROP_SLOTS, "drop reasons outgrew the stats structs");
_Static_assert(XMEM_REJECT_COUNT_ <= XMEM_REJECT_SLOTS, "reject reasons outgrew the stats structs");

static const char *const policy_names[] = {
    [XMEM_POLICY_DROP_OLDEST] = "drop_oldest",
    [XMEM_POLICY_BLOCK] = "block",
};

static const char *const drop_names[XMEM_DROP_COUNT_] = {
    [XMEM_DROP_QUEUE_FULL] = "queue-full",
    [XMEM_DROP_BLOCK_TIMEOUT] = "block-timeout",
    [XMEM_DROP_HWM] = "hwm",
    [XMEM_DROP_GONE] = "gone",
};

const char *xmem_queue_policy_name(xmem_queue_policy policy)
{
    return (unsigned)policy <= XMEM_POLICY_BLOCK ? policy_names[policy] : "unknown";
}

xmem_err xmem_queue_policy_from_name(const char *name, xmem_queue_policy *out, xmem_error_t *err)
{
    for (unsigned i = 0; name && i <= XMEM_POLICY_BLOCK; i++)
        if (strcmp(name, policy_names[i]) == 0) {
            *out = (xmem_queue_policy)i;
            return XMEM_OK;
        }
    return xmemi_fail(err, XMEM_EINVAL, 0, "'%s': expected %s or %s", name ? name : "(null)",
                      policy_names[XMEM_POLICY_BLOCK], policy_names[XMEM_POLICY_DROP_OLDEST]);
}

const char *xmem_drop_name(xmem_drop reason)
{
    return (unsigned)reason < XMEM_DROP_COUNT_ ? drop_names[reason] : "unknown";
}
