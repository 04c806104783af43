/* Without ncurses `xmem top` has its plain view only (top.h). */
#include "top.h"

#include "common/fail.h"

bool xmemi_top_screen_built(void)
{
    return false;
}

xmem_err xmemi_top_screen(xmemi_obs *o, double interval_s, xmemi_top_sort sort, xmem_error_t *err)
{
    (void)o, (void)interval_s, (void)sort;
    return xmemi_fail(err, XMEM_EINVAL, 0,
                      "this xmem was built without ncurses (install libncurses-dev and build "
                      "again): use --once");
}
