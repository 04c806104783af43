/* PNG images through FFmpeg's PNG encoder (no second image library): a picture of any format,
 * converted to RGB (gray stays gray), written under a temporary name and renamed, so a reader never
 * sees half an image. imagesink writes with it; `xmem tap --save` would too. */
#ifndef XMEM_NODES_VIDEO_PNG_WRITER_H
#define XMEM_NODES_VIDEO_PNG_WRITER_H

#include <libavcodec/avcodec.h>

#include <xmem/error.h>

#include "picture.h"

/* Zero it to start; the encoder is made for the first picture's size and remade when it changes. */
typedef struct xmemi_png_writer {
    AVCodecContext *enc;
    AVFrame *frame;
    AVPacket *pkt;
    xmemi_converter conv;
} xmemi_png_writer;

/* Writes `src` as a PNG image at `path` (replaced if it exists). */
xmem_err xmemi_png_write(xmemi_png_writer *w, const xmemi_picture *src, const char *path,
                         xmem_error_t *err);

void xmemi_png_writer_free(xmemi_png_writer *w);

#endif
