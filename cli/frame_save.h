/* Writing a received frame to a file for `xmem tap --save`: u8 images of 1, 3 or 4 channels as
 * PNG (libpng; frame_png.c), everything else as .npy (numpy's format: its dtype and shape, or the
 * raw bytes when the buffer has no layout). */
#ifndef XMEM_CLI_FRAME_SAVE_H
#define XMEM_CLI_FRAME_SAVE_H

#include <stdbool.h>
#include <stdint.h>

#include <xmem/error.h>
#include <xmem/meta.h>

/* Whether the frame is an image PNG can hold: u8, dense row-major, [H, W] or [H, W, C] with C of
 * 1, 3 or 4. */
bool xmemi_frame_is_image(const xmem_meta_t *m, uint32_t *width, uint32_t *height,
                          uint32_t *channels);

/* Whether this build writes PNG. */
bool xmemi_frame_png_built(void);

/* Writes the image (xmemi_frame_is_image) with `text` pairs as tEXt chunks (key, value, ...,
 * NULL). XMEM_ESYS naming the file when it cannot. */
xmem_err xmemi_frame_save_png(const char *path, const xmem_meta_t *m, const void *data,
                              const char *const *text, xmem_error_t *err);

/* Writes the frame as a .npy array of its dtype and shape (bytes of a dtype numpy lacks, bf16,
 * as u2; a frame without a layout, or one with strides, as its raw bytes, u1). */
xmem_err xmemi_frame_save_npy(const char *path, const xmem_meta_t *m, const void *data,
                              xmem_error_t *err);

#endif
