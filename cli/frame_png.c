/* Frames as PNG images with libpng (frame_save.h): 8-bit grey, RGB or RGBA, the frame's bytes as
 * they are, row by row. */
#define _GNU_SOURCE
#include <errno.h>
#include <png.h>
#include <stdio.h>

#include "common/fail.h"
#include "frame_save.h"

bool xmemi_frame_png_built(void)
{
    return true;
}

xmem_err xmemi_frame_save_png(const char *path, const xmem_meta_t *m, const void *data,
                              const char *const *text, xmem_error_t *err)
{
    uint32_t w, h, c;
    if (!xmemi_frame_is_image(m, &w, &h, &c))
        return xmemi_fail(err, XMEM_EINVAL, 0, "%s: the frame is not a u8 image", path);
    FILE *f = fopen(path, "wb");
    if (!f)
        return xmemi_fail(err, XMEM_ESYS, errno, "cannot write %s", path);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    /* volatile: read after the longjmp back here */
    volatile xmem_err rc = XMEM_ESYS;
    if (!info || setjmp(png_jmpbuf(png)))
        goto done;
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, 8,
                 c == 1   ? PNG_COLOR_TYPE_GRAY
                 : c == 3 ? PNG_COLOR_TYPE_RGB
                          : PNG_COLOR_TYPE_RGBA,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_text chunks[8];
    int n = 0;
    for (; text && text[2 * n] && n < 8; n++)
        chunks[n] = (png_text){.compression = PNG_TEXT_COMPRESSION_NONE,
                               .key = (char *)text[2 * n],
                               .text = (char *)text[2 * n + 1]};
    if (n)
        png_set_text(png, info, chunks, n);
    png_set_compression_level(png, 1); /* a tap keeps up with the stream rather than shrinking */
    png_write_info(png, info);
    for (uint32_t y = 0; y < h; y++)
        png_write_row(png, (png_const_bytep)data + (size_t)y * w * c);
    png_write_end(png, info);
    rc = XMEM_OK;
done:
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0 && rc == XMEM_OK)
        rc = XMEM_ESYS;
    if (rc)
        return xmemi_fail(err, rc, errno, "cannot write %s as PNG", path);
    return XMEM_OK;
}
