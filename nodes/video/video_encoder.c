/* Encoding and muxing (video_encoder.h). Timestamps are the caller's, in its time base; packets
 * are rescaled to the stream's, which the muxer may have changed at the header. */
#define _GNU_SOURCE
#include "video_encoder.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "common/fail.h"
#include "ffmpeg_log.h"

/* The encoder of codec name `codec`, or the one named `encoder`. */
static const AVCodec *find_encoder(const char *codec, const char *encoder)
{
    if (encoder && encoder[0])
        return avcodec_find_encoder_by_name(encoder);
    if (strcmp(codec, "h264") == 0) { /* the one that Debian's FFmpeg always has */
        const AVCodec *x264 = avcodec_find_encoder_by_name("libx264");
        if (x264)
            return x264;
    }
    const AVCodec *c = avcodec_find_encoder_by_name(codec);
    const AVCodecDescriptor *d = c ? NULL : avcodec_descriptor_get_by_name(codec);
    return c ? c : d ? avcodec_find_encoder(d->id) : NULL;
}

/* "yuv420p, nv12" for messages. */
static void list_formats(const AVCodec *c, char *buf, size_t len)
{
    size_t n = 0;
    snprintf(buf, len, "any");
    for (const enum AVPixelFormat *p = c->pix_fmts; p && *p != AV_PIX_FMT_NONE && n < len; p++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", av_get_pix_fmt_name(*p));
}

static bool supports(const AVCodec *c, enum AVPixelFormat f)
{
    for (const enum AVPixelFormat *p = c->pix_fmts; p && *p != AV_PIX_FMT_NONE; p++)
        if (*p == f)
            return true;
    return !c->pix_fmts;
}

/* Every option name must be the encoder's or a generic codec option; values are checked when the
 * encoder opens. */
static xmem_err check_option_names(const xmemi_encoder *e, xmem_error_t *err)
{
    const AVClass *generic = avcodec_get_class(), *own = e->codec->priv_class;
    const AVDictionaryEntry *o = NULL;
    while ((o = av_dict_get(e->opts, "", o, AV_DICT_IGNORE_SUFFIX)))
        if (!av_opt_find(&generic, o->key, NULL, 0, AV_OPT_SEARCH_FAKE_OBJ) &&
            !(own && av_opt_find(&own, o->key, NULL, 0, AV_OPT_SEARCH_FAKE_OBJ)))
            return xmemi_fail(err, XMEM_ECONFIG, 0, "encoder '%s' has no option '%s'",
                              e->codec->name, o->key);
    return XMEM_OK;
}

static xmem_err check_choices(xmemi_encoder *e, const xmemi_encoder_options *o, xmem_error_t *err)
{
    if (!(e->codec = find_encoder(o->codec, o->encoder)))
        return xmemi_fail(err, XMEM_ECONFIG, 0, "%s '%s': no such encoder in this FFmpeg",
                          o->encoder && o->encoder[0] ? "encoder" : "codec",
                          o->encoder && o->encoder[0] ? o->encoder : o->codec);
    if (e->codec->type != AVMEDIA_TYPE_VIDEO)
        return xmemi_fail(err, XMEM_ECONFIG, 0, "encoder '%s' does not encode video",
                          e->codec->name);
    int rc = av_dict_parse_string(&e->opts, o->options ? o->options : "", "=", ":", 0);
    if (rc < 0)
        return xmemi_av_fail(err, rc, "options '%s' (expected key=value:key=value)", o->options);
    xmem_err bad = check_option_names(e, err);
    if (bad)
        return bad;
    e->pixel_format = AV_PIX_FMT_NONE;
    if (o->pixel_format && o->pixel_format[0]) {
        char list[512];
        list_formats(e->codec, list, sizeof list);
        e->pixel_format = av_get_pix_fmt(o->pixel_format);
        if (e->pixel_format == AV_PIX_FMT_NONE || !supports(e->codec, e->pixel_format))
            return xmemi_fail(err, XMEM_ECONFIG, 0, "pixel format '%s': encoder '%s' takes %s",
                              o->pixel_format, e->codec->name, list);
    }
    return XMEM_OK;
}

xmem_err xmemi_encoder_open(xmemi_encoder *e, const xmemi_encoder_options *o, xmem_error_t *err)
{
    memset(e, 0, sizeof *e);
    e->path = o->path;
    e->threads = o->threads;
    e->time_base = o->time_base;
    e->frame_rate = o->frame_rate;
    xmem_err bad = check_choices(e, o, err);
    if (bad)
        goto fail;
    int rc = avformat_alloc_output_context2(&e->fmt, NULL, NULL, o->path);
    if (rc < 0 || !e->fmt) {
        bad = xmemi_fail(err, XMEM_ECONFIG, 0,
                         "file '%s': no container for that name (end it in .mkv, .mp4, .avi ...)",
                         o->path);
        goto fail;
    }
    if (avformat_query_codec(e->fmt->oformat, e->codec->id, FF_COMPLIANCE_NORMAL) == 0) {
        bad = xmemi_fail(err, XMEM_ECONFIG, 0, "file '%s': a %s file cannot hold %s video", o->path,
                         e->fmt->oformat->name, avcodec_get_name(e->codec->id));
        goto fail;
    }
    if (!(e->fmt->oformat->flags & AVFMT_NOFILE) &&
        (rc = avio_open(&e->fmt->pb, o->path, AVIO_FLAG_WRITE)) < 0) {
        bad = xmemi_av_fail(err, rc, "file '%s'", o->path);
        goto fail;
    }
    if (!(e->frame = av_frame_alloc()) || !(e->pkt = av_packet_alloc())) {
        bad = xmemi_fail(err, XMEM_ENOMEM, 0, "file '%s': out of memory", o->path);
        goto fail;
    }
    return XMEM_OK;
fail:
    xmemi_encoder_close(e);
    return bad;
}

/* The file's pixel format for frames that arrive as `source`: a lossless codec keeps every bit
 * (its best format for the source); a lossy one takes the 4:2:0 every player reads. */
static enum AVPixelFormat file_format(const xmemi_encoder *e, enum AVPixelFormat source)
{
    if (e->pixel_format != AV_PIX_FMT_NONE)
        return e->pixel_format;
    if (!e->codec->pix_fmts)
        return source;
    const AVCodecDescriptor *d = avcodec_descriptor_get(e->codec->id);
    bool lossless = d && (d->props & AV_CODEC_PROP_LOSSLESS) && !(d->props & AV_CODEC_PROP_LOSSY);
    /* JPEG is full-range YUV; the rest take the usual limited range. */
    bool jpeg = e->codec->id == AV_CODEC_ID_MJPEG;
    enum AVPixelFormat wanted[2] = {jpeg ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_YUV420P,
                                    jpeg ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_YUVJ420P};
    for (int i = 0; i < 2 && !lossless; i++)
        if (supports(e->codec, wanted[i]))
            return wanted[i];
    return avcodec_find_best_pix_fmt_of_list(e->codec->pix_fmts, source, 0, NULL);
}

xmem_err xmemi_encoder_start(xmemi_encoder *e, int width, int height, enum AVPixelFormat source,
                             xmem_error_t *err)
{
    if (!(e->enc = avcodec_alloc_context3(e->codec)))
        return xmemi_fail(err, XMEM_ENOMEM, 0, "file '%s': out of memory", e->path);
    AVCodecContext *c = e->enc;
    c->width = width;
    c->height = height;
    c->pix_fmt = file_format(e, source);
    c->time_base = e->time_base;
    c->framerate = e->frame_rate;
    c->thread_count = e->threads;
    const AVPixFmtDescriptor *pd = av_pix_fmt_desc_get(c->pix_fmt);
    if (pd && !(pd->flags & AV_PIX_FMT_FLAG_RGB) && pd->nb_components >= 3) {
        /* What the conversion from the pool's frames writes (picture.c): BT.601 */
        c->colorspace = AVCOL_SPC_SMPTE170M;
        c->color_range = c->pix_fmt == AV_PIX_FMT_YUVJ420P ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    }
    if (e->fmt->oformat->flags & AVFMT_GLOBALHEADER)
        c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (e->codec->id == AV_CODEC_ID_FFV1) { /* a CRC per slice: damage is found when read back */
        av_dict_set(&e->opts, "level", "3", AV_DICT_DONT_OVERWRITE);
        av_dict_set(&e->opts, "slicecrc", "1", AV_DICT_DONT_OVERWRITE);
    }
    int rc = avcodec_open2(c, e->codec, &e->opts);
    if (rc < 0)
        return xmemi_av_fail(err, rc, "file '%s': opening encoder %s for %dx%d %s", e->path,
                             e->codec->name, width, height, av_get_pix_fmt_name(c->pix_fmt));
    if (!(e->st = avformat_new_stream(e->fmt, NULL)))
        return xmemi_fail(err, XMEM_ENOMEM, 0, "file '%s': out of memory", e->path);
    if ((rc = avcodec_parameters_from_context(e->st->codecpar, c)) < 0)
        return xmemi_av_fail(err, rc, "file '%s': stream parameters", e->path);
    e->st->time_base = c->time_base;
    e->st->avg_frame_rate = c->framerate;
    if ((rc = avformat_write_header(e->fmt, NULL)) < 0)
        return xmemi_av_fail(err, rc, "file '%s': writing its header", e->path);
    e->frame->format = c->pix_fmt;
    e->frame->width = width;
    e->frame->height = height;
    e->frame->color_range = c->color_range;
    e->frame->colorspace = c->colorspace;
    if ((rc = av_frame_get_buffer(e->frame, 0)) < 0)
        return xmemi_av_fail(err, rc, "file '%s': a frame buffer", e->path);
    return XMEM_OK;
}

xmem_err xmemi_encoder_picture(xmemi_encoder *e, xmemi_picture *out, xmem_error_t *err)
{
    /* The encoder may still hold the last one (frame threads, lookahead). */
    int rc = av_frame_make_writable(e->frame);
    if (rc < 0)
        return xmemi_av_fail(err, rc, "file '%s': a frame buffer", e->path);
    *out = xmemi_picture_of(e->frame);
    return XMEM_OK;
}

/* Writes every packet the encoder has ready. */
static xmem_err drain(xmemi_encoder *e, xmem_error_t *err)
{
    for (;;) {
        int rc = avcodec_receive_packet(e->enc, e->pkt);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return XMEM_OK;
        if (rc < 0)
            return xmemi_av_fail(err, rc, "file '%s', frame %" PRIu64 ": encoding", e->path,
                                 e->frames);
        av_packet_rescale_ts(e->pkt, e->enc->time_base, e->st->time_base);
        e->pkt->stream_index = e->st->index;
        rc = av_interleaved_write_frame(e->fmt, e->pkt); /* takes the packet */
        if (rc < 0)
            return xmemi_av_fail(err, rc, "file '%s', frame %" PRIu64 ": writing", e->path,
                                 e->frames);
    }
}

xmem_err xmemi_encoder_send(xmemi_encoder *e, int64_t pts, xmem_error_t *err)
{
    e->frame->pts = pts;
    int rc = avcodec_send_frame(e->enc, e->frame);
    if (rc < 0)
        return xmemi_av_fail(err, rc, "file '%s', frame %" PRIu64 ": encoding", e->path, e->frames);
    e->frames++;
    return drain(e, err);
}

xmem_err xmemi_encoder_finish(xmemi_encoder *e, xmem_error_t *err)
{
    if (!e->enc || e->finished)
        return XMEM_OK;
    e->finished = true;
    int rc = avcodec_send_frame(e->enc, NULL);
    xmem_err bad =
        rc < 0 ? xmemi_av_fail(err, rc, "file '%s': draining the encoder", e->path) : drain(e, err);
    /* The trailer even after a failed drain: what was written stays readable. */
    rc = av_write_trailer(e->fmt);
    if (!bad && rc < 0)
        bad = xmemi_av_fail(err, rc, "file '%s': writing its trailer", e->path);
    if (!bad && e->fmt->pb && (rc = avio_closep(&e->fmt->pb)) < 0)
        bad = xmemi_av_fail(err, rc, "file '%s': closing it", e->path);
    return bad;
}

void xmemi_encoder_close(xmemi_encoder *e)
{
    if (e->fmt && !(e->fmt->oformat->flags & AVFMT_NOFILE) && e->fmt->pb) {
        avio_closep(&e->fmt->pb);
        if (!e->frames) /* created at open, never given a frame: nothing to keep */
            unlink(e->path);
    }
    avformat_free_context(e->fmt);
    e->fmt = NULL;
    avcodec_free_context(&e->enc);
    av_frame_free(&e->frame);
    av_packet_free(&e->pkt);
    av_dict_free(&e->opts);
}
