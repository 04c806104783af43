/* PNG files (png_writer.h). */
#define _GNU_SOURCE
#include "png_writer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/fail.h"
#include "ffmpeg_log.h"

/* (Re)makes the encoder and its frame for width x height pictures of `format`. */
static xmem_err prepare(xmemi_png_writer *w, int width, int height, enum AVPixelFormat format,
                        xmem_error_t *err)
{
    if (w->enc && w->enc->width == width && w->enc->height == height && w->enc->pix_fmt == format)
        return XMEM_OK;
    avcodec_free_context(&w->enc);
    av_frame_free(&w->frame);
    const AVCodec *png = avcodec_find_encoder(AV_CODEC_ID_PNG);
    if (!png)
        return xmemi_fail(err, XMEM_EMEDIA, 0, "this FFmpeg has no PNG encoder");
    if (!(w->enc = avcodec_alloc_context3(png)) || !(w->frame = av_frame_alloc()) ||
        (!w->pkt && !(w->pkt = av_packet_alloc())))
        return xmemi_fail(err, XMEM_ENOMEM, 0, "PNG encoder: out of memory");
    w->enc->width = width;
    w->enc->height = height;
    w->enc->pix_fmt = format;
    w->enc->time_base = (AVRational){1, 1}; /* required, meaningless for one image */
    int rc = avcodec_open2(w->enc, png, NULL);
    if (rc < 0)
        return xmemi_av_fail(err, rc, "PNG encoder for %dx%d", width, height);
    w->frame->format = format;
    w->frame->width = width;
    w->frame->height = height;
    if ((rc = av_frame_get_buffer(w->frame, 0)) < 0)
        return xmemi_av_fail(err, rc, "PNG encoder: a frame buffer");
    return XMEM_OK;
}

/* Writes the packet to `path` through `path`.tmp and a rename. */
static xmem_err save(const AVPacket *pkt, const char *path, xmem_error_t *err)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return xmemi_fail(err, XMEM_EINVAL, 0, "image '%s': path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return xmemi_fail(err, XMEM_ESYS, errno, "image '%s'", tmp);
    bool ok = fwrite(pkt->data, 1, (size_t)pkt->size, f) == (size_t)pkt->size;
    int saved = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        unlink(tmp);
        return xmemi_fail(err, XMEM_ESYS, saved, "image '%s'", path);
    }
    return XMEM_OK;
}

xmem_err xmemi_png_write(xmemi_png_writer *w, const xmemi_picture *src, const char *path,
                         xmem_error_t *err)
{
    enum AVPixelFormat format =
        src->format == AV_PIX_FMT_GRAY8 ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB24;
    xmem_err bad = prepare(w, src->width, src->height, format, err);
    if (bad)
        return bad;
    int rc = av_frame_make_writable(w->frame);
    if (rc < 0)
        return xmemi_av_fail(err, rc, "image '%s': a frame buffer", path);
    xmemi_picture dst = xmemi_picture_of(w->frame);
    if ((bad = xmemi_convert(&w->conv, src, &dst, err)))
        return bad;
    if ((rc = avcodec_send_frame(w->enc, w->frame)) < 0 ||
        (rc = avcodec_receive_packet(w->enc, w->pkt)) < 0)
        return xmemi_av_fail(err, rc, "image '%s': encoding PNG", path);
    bad = save(w->pkt, path, err);
    av_packet_unref(w->pkt);
    return bad;
}

void xmemi_png_writer_free(xmemi_png_writer *w)
{
    avcodec_free_context(&w->enc);
    av_frame_free(&w->frame);
    av_packet_free(&w->pkt);
    xmemi_converter_free(&w->conv);
}
