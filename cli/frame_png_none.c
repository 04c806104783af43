/* Without libpng, `xmem tap --save` writes every frame as .npy (frame_save.h). */
#include "common/fail.h"
#include "frame_save.h"

bool xmemi_frame_png_built(void)
{
    return false;
}

xmem_err xmemi_frame_save_png(const char *path, const xmem_meta_t *m, const void *data,
                              const char *const *text, xmem_error_t *err)
{
    (void)m, (void)data, (void)text;
    return xmemi_fail(err, XMEM_EINVAL, 0,
                      "%s: this xmem was built without libpng (install libpng-dev and build again)",
                      path);
}
