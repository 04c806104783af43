/* Pictures: the pixel formats a frame can have in a pool buffer and its layout there, and
 * conversion between any two pictures (libswscale). In a pool buffer a frame is u8 elements, rows x
 * width x channels: rgb24 and bgr24 [height, width, 3], gray [height, width, 1], and the planar
 * 4:2:0 formats with their planes one after another, [height * 3 / 2, width, 1]. */
#ifndef XMEM_NODES_VIDEO_PICTURE_H
#define XMEM_NODES_VIDEO_PICTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>

#include <xmem/guard.h>

typedef enum xmemi_pixfmt {
    XMEMI_PIX_RGB24 = 0,
    XMEMI_PIX_BGR24,
    XMEMI_PIX_GRAY,
    XMEMI_PIX_NV12,
    XMEMI_PIX_YUV420P,
} xmemi_pixfmt;

/* Their names in enum order, NULL-terminated: the choices of the nodes' pixel_format. */
extern const char *const xmemi_pixfmt_names[];

/* A picture in memory, a pool frame or one of FFmpeg's, as the converter sees it. */
typedef struct xmemi_picture {
    enum AVPixelFormat format;
    int width, height;
    uint8_t *data[4];
    int linesize[4];
    enum AVColorSpace colorspace; /* YUV matrix; unspecified: BT.601 */
    bool full_range;              /* YUV in 0..255 (JPEG), not 16..235 */
} xmemi_picture;

enum AVPixelFormat xmemi_pixfmt_av(xmemi_pixfmt f);

/* Bytes of a width x height frame of `f` in a pool buffer. */
size_t xmemi_pixfmt_bytes(xmemi_pixfmt f, int width, int height);

/* XMEM_ECONFIG when width x height cannot be stored as `f` (the 4:2:0 formats need even sizes);
 * the message names `what` ("width=641"). */
xmem_err xmemi_pixfmt_check_size(xmemi_pixfmt f, int width, int height, const char *what,
                                 xmem_error_t *err);

/* Writes a width x height frame of `f`'s layout into a read-write guard's record. */
xmem_err xmemi_pixfmt_set_layout(xmem_guard_t *g, xmemi_pixfmt f, int width, int height,
                                 xmem_error_t *err);

/* Reads a received buffer as a frame of `f`: its layout must say u8 and a shape of that format
 * ([rows, width] is taken for [rows, width, 1]). On success *pic views the buffer's bytes (valid
 * while the guard holds them). XMEM_EINVAL saying what the layout is and what was expected. */
xmem_err xmemi_pixfmt_read(const xmem_guard_t *g, xmemi_pixfmt f, xmemi_picture *pic,
                           xmem_error_t *err);

/* The picture over `data`, a width x height frame of `f` laid out as in a pool buffer. */
void xmemi_pixfmt_picture(xmemi_pixfmt f, int width, int height, void *data, xmemi_picture *out);

/* The picture of an FFmpeg frame (its planes, not a copy), with its colour matrix and range. */
xmemi_picture xmemi_picture_of(const AVFrame *frame);

/* Converts (and scales) pictures; keeps one libswscale context from call to call and makes a new
 * one only when a format or a size changes. Zero it to start; free with xmemi_converter_free. */
typedef struct xmemi_converter {
    struct SwsContext *sws;
    xmemi_picture last_src, last_dst; /* what the context's colour details were set for */
} xmemi_converter;

/* Writes `src` into `dst`, both as they are described. XMEM_EMEDIA if libswscale refuses the
 * pair of formats or sizes (the message names both). */
xmem_err xmemi_convert(xmemi_converter *c, const xmemi_picture *src, const xmemi_picture *dst,
                       xmem_error_t *err);

void xmemi_converter_free(xmemi_converter *c);

#endif
