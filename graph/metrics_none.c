/* Without libmicrohttpd there is no metrics endpoint: starting one says so (metrics.h). */
#include "metrics.h"

#include "common/fail.h"

bool xmemi_metrics_built(void)
{
    return false;
}

xmem_err xmemi_metrics_start(const char *addr, const char *dir, xmem_pool_t *pool,
                             xmemi_metrics **out, char *bound, size_t len, xmem_error_t *err)
{
    (void)dir, (void)pool, (void)bound, (void)len;
    *out = NULL;
    return xmemi_fail(err, XMEM_EINVAL, 0,
                      "metrics endpoint %s: this xmem was built without libmicrohttpd (install "
                      "libmicrohttpd-dev and build again)",
                      addr);
}

void xmemi_metrics_stop(xmemi_metrics **m)
{
    (void)m;
}
