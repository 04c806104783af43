/* Pool frame layouts and conversion between pictures (picture.h). */
#include "picture.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "common/fail.h"
#include "ffmpeg_log.h"

const char *const xmemi_pixfmt_names[] = {"rgb24", "bgr24", "gray", "nv12", "yuv420p", NULL};

static const struct {
    enum AVPixelFormat av;
    int channels;   /* the shape's last dimension */
    bool planar420; /* planes stacked as rows: height * 3 / 2 of them */
} formats[] = {
    [XMEMI_PIX_RGB24] = {AV_PIX_FMT_RGB24, 3, false},
    [XMEMI_PIX_BGR24] = {AV_PIX_FMT_BGR24, 3, false},
    [XMEMI_PIX_GRAY] = {AV_PIX_FMT_GRAY8, 1, false},
    [XMEMI_PIX_NV12] = {AV_PIX_FMT_NV12, 1, true},
    [XMEMI_PIX_YUV420P] = {AV_PIX_FMT_YUV420P, 1, true},
};

enum AVPixelFormat xmemi_pixfmt_av(xmemi_pixfmt f)
{
    return formats[f].av;
}

size_t xmemi_pixfmt_bytes(xmemi_pixfmt f, int width, int height)
{
    return (size_t)av_image_get_buffer_size(formats[f].av, width, height, 1);
}

xmem_err xmemi_pixfmt_check_size(xmemi_pixfmt f, int width, int height, const char *what,
                                 xmem_error_t *err)
{
    if (width < 1 || height < 1)
        return xmemi_fail(err, XMEM_ECONFIG, 0, "%s: %dx%d is not a picture size", what, width,
                          height);
    if (formats[f].planar420 && (width % 2 || height % 2))
        return xmemi_fail(err, XMEM_ECONFIG, 0, "%s: %s needs an even width and height, not %dx%d",
                          what, xmemi_pixfmt_names[f], width, height);
    return XMEM_OK;
}

/* The shape of a width x height frame: rows, width, channels. */
static void shape_of(xmemi_pixfmt f, int width, int height, int64_t shape[3])
{
    shape[0] = formats[f].planar420 ? (int64_t)height * 3 / 2 : height;
    shape[1] = width;
    shape[2] = formats[f].channels;
}

xmem_err xmemi_pixfmt_set_layout(xmem_guard_t *g, xmemi_pixfmt f, int width, int height,
                                 xmem_error_t *err)
{
    int64_t shape[3];
    shape_of(f, width, height, shape);
    return xmem_guard_set_layout(g, XMEM_DTYPE_U8, 3, shape, NULL, err);
}

/* True when the record's strides (0: not set) are those of a dense [rows, width, channels]. */
static bool dense(const xmem_meta_t *m, int64_t width, int64_t channels)
{
    if (m->strides[0] == 0)
        return true;
    if (m->ndim == 2)
        return m->strides[1] == 1 && m->strides[0] == width;
    return m->strides[2] == 1 && m->strides[1] == channels && m->strides[0] == width * channels;
}

xmem_err xmemi_pixfmt_read(const xmem_guard_t *g, xmemi_pixfmt f, xmemi_picture *pic,
                           xmem_error_t *err)
{
    xmem_meta_t m;
    xmem_err rc = xmem_guard_meta(g, &m, err);
    if (rc)
        return rc;
    int64_t rows = m.ndim >= 2 ? m.shape[0] : 0, width = m.ndim >= 2 ? m.shape[1] : 0;
    int64_t channels = m.ndim == 3 ? m.shape[2] : 1;
    bool planar = formats[f].planar420;
    int64_t height = planar ? rows * 2 / 3 : rows;
    bool fits = m.dtype == XMEM_DTYPE_U8 && (m.ndim == 2 || m.ndim == 3) &&
                channels == formats[f].channels && rows > 0 && width > 0 && width <= INT32_MAX &&
                rows <= INT32_MAX &&
                (!planar || (rows % 3 == 0 && height % 2 == 0 && width % 2 == 0));
    if (fits && !dense(&m, width, channels))
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "frame %" PRIu64 ": strided layouts are not read; give a dense one",
                          m.sequence);
    if (fits && (uint64_t)xmemi_pixfmt_bytes(f, (int)width, (int)height) > m.size)
        fits = false;
    if (!fits) {
        char shape[96] = "";
        for (uint32_t i = 0, n = 0; i < m.ndim && n < sizeof shape; i++)
            n += (size_t)snprintf(shape + n, sizeof shape - n, "%s%" PRId64, i ? ", " : "",
                                  m.shape[i]);
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "frame %" PRIu64 ": a %s [%s] buffer of %" PRIu64
                          " bytes is not a %s frame (expected u8 %s)",
                          m.sequence, xmem_dtype_name(m.dtype), shape, m.size,
                          xmemi_pixfmt_names[f],
                          planar                     ? "[height * 3 / 2, width, 1], even sizes"
                          : formats[f].channels == 3 ? "[height, width, 3]"
                                                     : "[height, width, 1]");
    }
    xmemi_pixfmt_picture(f, (int)width, (int)height, (void *)xmem_guard_data(g), pic);
    return XMEM_OK;
}

void xmemi_pixfmt_picture(xmemi_pixfmt f, int width, int height, void *data, xmemi_picture *out)
{
    *out = (xmemi_picture){.format = formats[f].av, .width = width, .height = height};
    av_image_fill_arrays(out->data, out->linesize, data, formats[f].av, width, height, 1);
}

/* The "J" formats are their plain twins in full range; libswscale wants the twin and the range
 * (and warns about the J format otherwise). */
static enum AVPixelFormat plain(enum AVPixelFormat f, bool *full_range)
{
    switch (f) {
    case AV_PIX_FMT_YUVJ420P: *full_range = true; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full_range = true; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full_range = true; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full_range = true; return AV_PIX_FMT_YUV440P;
    default: return f;
    }
}

xmemi_picture xmemi_picture_of(const AVFrame *frame)
{
    xmemi_picture p = {
        .format = frame->format,
        .width = frame->width,
        .height = frame->height,
        .colorspace = frame->colorspace,
        .full_range = frame->color_range == AVCOL_RANGE_JPEG,
    };
    for (int i = 0; i < 4; i++) {
        p.data[i] = frame->data[i];
        p.linesize[i] = frame->linesize[i];
    }
    return p;
}

static bool same_kind(const xmemi_picture *a, const xmemi_picture *b)
{
    return a->format == b->format && a->width == b->width && a->height == b->height &&
           a->colorspace == b->colorspace && a->full_range == b->full_range;
}

static int sws_colorspace(enum AVColorSpace cs)
{
    return cs == AVCOL_SPC_UNSPECIFIED || cs == AVCOL_SPC_RGB ? SWS_CS_DEFAULT : (int)cs;
}

xmem_err xmemi_convert(xmemi_converter *c, const xmemi_picture *src, const xmemi_picture *dst,
                       xmem_error_t *err)
{
    bool src_full = src->full_range, dst_full = dst->full_range;
    enum AVPixelFormat sf = plain(src->format, &src_full), df = plain(dst->format, &dst_full);
    c->sws = sws_getCachedContext(c->sws, src->width, src->height, sf, dst->width, dst->height, df,
                                  SWS_BICUBIC, NULL, NULL, NULL);
    if (!c->sws)
        return xmemi_fail(err, XMEM_EMEDIA, 0, "libswscale cannot convert %dx%d %s to %dx%d %s",
                          src->width, src->height, av_get_pix_fmt_name(src->format), dst->width,
                          dst->height, av_get_pix_fmt_name(dst->format));
    if (!same_kind(src, &c->last_src) || !same_kind(dst, &c->last_dst)) {
        /* Refused (-1) for pairs without YUV, where there is nothing to set. */
        sws_setColorspaceDetails(c->sws, sws_getCoefficients(sws_colorspace(src->colorspace)),
                                 src_full, sws_getCoefficients(sws_colorspace(dst->colorspace)),
                                 dst_full, 0, 1 << 16, 1 << 16);
        c->last_src = *src;
        c->last_dst = *dst;
    }
    int rows = sws_scale(c->sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
                         dst->data, dst->linesize);
    if (rows <= 0)
        return xmemi_av_fail(err, rows < 0 ? rows : AVERROR(EINVAL),
                             "converting %dx%d %s to %dx%d %s", src->width, src->height,
                             av_get_pix_fmt_name(src->format), dst->width, dst->height,
                             av_get_pix_fmt_name(dst->format));
    return XMEM_OK;
}

void xmemi_converter_free(xmemi_converter *c)
{
    sws_freeContext(c->sws);
    memset(c, 0, sizeof *c);
}
