/* Demuxing and decoding (video_decoder.h). Strict by default: decoders are asked to report damage
 * rather than hide it, and whatever FFmpeg logs as an error while a frame is read or decoded fails
 * that frame. */
#define _GNU_SOURCE
#include "video_decoder.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavdevice/avdevice.h>

#include "common/fail.h"
#include "ffmpeg_log.h"

#define NS                                                                                         \
    (AVRational)                                                                                   \
    {                                                                                              \
        1, 1000000000                                                                              \
    }

/* A file (not a URL or a device FFmpeg opens itself): it must be there and readable, said at once
 * rather than as FFmpeg's guess at what went wrong. */
static xmem_err check_file(const char *url, xmem_error_t *err)
{
    int fd = open(url, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return xmemi_fail(err, XMEM_ESYS, errno, "file '%s'", url);
    struct stat st;
    bool dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    close(fd);
    if (dir)
        return xmemi_fail(err, XMEM_ESYS, EISDIR, "file '%s'", url);
    return XMEM_OK;
}

static bool is_camera(const char *url)
{
    return strncmp(url, "/dev/video", 10) == 0;
}

/* The names of the options FFmpeg did not take, "a, b", into buf; false if it took them all. */
static bool leftovers(AVDictionary *left, char *buf, size_t len)
{
    const AVDictionaryEntry *e = NULL;
    size_t n = 0;
    buf[0] = '\0';
    while ((e = av_dict_get(left, "", e, AV_DICT_IGNORE_SUFFIX)) && n < len)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", e->key);
    return n > 0;
}

/* "audio flac, subtitle ass" for a message saying what an input has instead of video. */
static void describe_streams(const AVFormatContext *fmt, char *buf, size_t len)
{
    size_t n = 0;
    snprintf(buf, len, "no streams");
    for (unsigned i = 0; i < fmt->nb_streams && n < len; i++) {
        const AVCodecParameters *p = fmt->streams[i]->codecpar;
        const char *type = av_get_media_type_string(p->codec_type);
        n += (size_t)snprintf(buf + n, len - n, "%s%s %s", n ? ", " : "", type ? type : "data",
                              avcodec_get_name(p->codec_id));
    }
}

/* An error FFmpeg logged since the last look, as the error of frame d->frames. */
static xmem_err logged(const xmemi_decoder *d, xmem_error_t *err)
{
    char msg[XMEM_ERROR_MSG_MAX / 2];
    if (!xmemi_ffmpeg_log_take_error(msg, sizeof msg) || d->tolerate)
        return XMEM_OK;
    return xmemi_fail(err, XMEM_EMEDIA, 0, "file '%s', frame %" PRIu64 ": %s", d->url, d->frames,
                      msg);
}

static xmem_err open_input(xmemi_decoder *d, const xmemi_decoder_options *o, xmem_error_t *err)
{
    const char *fmt_name = o->format && o->format[0] ? o->format
                           : is_camera(o->url)       ? "video4linux2"
                                                     : NULL;
    const AVInputFormat *ifmt = NULL;
    if (fmt_name && !(ifmt = av_find_input_format(fmt_name)))
        return xmemi_fail(err, XMEM_ECONFIG, 0,
                          "format '%s': no such input format or device in this FFmpeg", fmt_name);
    bool device = ifmt && ifmt->priv_class && AV_IS_INPUT_DEVICE(ifmt->priv_class->category);
    if (!strstr(o->url, "://") && !device) { /* lavfi's "testsrc2", x11grab's ":0.0" ... */
        xmem_err rc = check_file(o->url, err);
        if (rc)
            return rc;
    }
    AVDictionary *opts = NULL;
    int rc = av_dict_parse_string(&opts, o->options ? o->options : "", "=", ":", 0);
    if (rc < 0) {
        av_dict_free(&opts);
        return xmemi_av_fail(err, rc, "options '%s' (expected key=value:key=value)", o->options);
    }
    rc = avformat_open_input(&d->fmt, o->url, ifmt, &opts);
    char left[256];
    bool unknown = rc >= 0 && leftovers(opts, left, sizeof left);
    av_dict_free(&opts);
    if (rc < 0)
        return xmemi_av_fail(err, rc, "file '%s'", o->url);
    if (unknown)
        return xmemi_fail(err, XMEM_ECONFIG, 0, "file '%s': format '%s' has no option %s", o->url,
                          d->fmt->iformat->name, left);
    if ((rc = avformat_find_stream_info(d->fmt, NULL)) < 0)
        return xmemi_av_fail(err, rc, "file '%s': reading its streams", o->url);
    d->stream = av_find_best_stream(d->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (d->stream < 0) {
        char streams[256];
        describe_streams(d->fmt, streams, sizeof streams);
        return xmemi_fail(err, XMEM_EMEDIA, 0, "file '%s': no video stream (it has %s)", o->url,
                          streams);
    }
    return XMEM_OK;
}

static xmem_err open_decoder(xmemi_decoder *d, const xmemi_decoder_options *o, xmem_error_t *err)
{
    const AVStream *st = d->fmt->streams[d->stream];
    enum AVCodecID id = st->codecpar->codec_id;
    const AVCodec *codec;
    if (o->decoder && o->decoder[0]) {
        if (!(codec = avcodec_find_decoder_by_name(o->decoder)))
            return xmemi_fail(err, XMEM_ECONFIG, 0, "decoder '%s': no such decoder in this FFmpeg",
                              o->decoder);
        if (codec->id != id)
            return xmemi_fail(err, XMEM_ECONFIG, 0,
                              "decoder '%s' decodes %s; file '%s' holds %s video", o->decoder,
                              avcodec_get_name(codec->id), o->url, avcodec_get_name(id));
    } else if (!(codec = avcodec_find_decoder(id))) {
        return xmemi_fail(err, XMEM_EMEDIA, 0, "file '%s': no decoder for its %s video", o->url,
                          avcodec_get_name(id));
    }
    if (!(d->dec = avcodec_alloc_context3(codec)) || !(d->pkt = av_packet_alloc()) ||
        !(d->frame = av_frame_alloc()))
        return xmemi_fail(err, XMEM_ENOMEM, 0, "file '%s': out of memory", o->url);
    int rc = avcodec_parameters_to_context(d->dec, st->codecpar);
    if (rc < 0)
        return xmemi_av_fail(err, rc, "file '%s': decoder %s", o->url, codec->name);
    d->dec->pkt_timebase = st->time_base;
    d->dec->thread_count = o->threads;
    if (!o->tolerate) /* report damage (a CRC, a short slice) instead of concealing it */
        d->dec->err_recognition |= AV_EF_CRCCHECK | AV_EF_BITSTREAM | AV_EF_BUFFER | AV_EF_EXPLODE;
    if ((rc = avcodec_open2(d->dec, codec, NULL)) < 0)
        return xmemi_av_fail(err, rc, "file '%s': opening decoder %s", o->url, codec->name);
    return XMEM_OK;
}

xmem_err xmemi_decoder_open(xmemi_decoder *d, const xmemi_decoder_options *o, xmem_error_t *err)
{
    memset(d, 0, sizeof *d);
    d->url = o->url;
    d->tolerate = o->tolerate;
    avdevice_register_all();
    xmemi_ffmpeg_log_take_error(NULL, 0); /* what came before is not this input's */
    xmem_err rc = open_input(d, o, err);
    if (!rc)
        rc = open_decoder(d, o, err);
    if (!rc)
        rc = logged(d, err); /* damage seen while probing */
    if (rc)
        xmemi_decoder_close(d);
    return rc;
}

xmem_err xmemi_decoder_next(xmemi_decoder *d, xmem_error_t *err)
{
    for (;;) {
        int rc = avcodec_receive_frame(d->dec, d->frame);
        xmem_err bad = logged(d, err);
        if (bad)
            return bad;
        if (rc == 0) {
            d->frames++;
            return XMEM_OK;
        }
        if (rc == AVERROR_EOF)
            return XMEM_EEND;
        if (rc != AVERROR(EAGAIN))
            return xmemi_av_fail(err, rc, "file '%s', frame %" PRIu64 ": decoding", d->url,
                                 d->frames);
        if (d->draining) /* a decoder that neither gives a frame nor says it is done */
            return XMEM_EEND;
        rc = av_read_frame(d->fmt, d->pkt);
        if ((bad = logged(d, err))) {
            av_packet_unref(d->pkt);
            return bad;
        }
        if (rc == AVERROR_EOF) {
            d->draining = true;
            avcodec_send_packet(d->dec, NULL);
            continue;
        }
        if (rc < 0)
            return xmemi_av_fail(err, rc, "file '%s', frame %" PRIu64 ": reading", d->url,
                                 d->frames);
        if (d->pkt->stream_index != d->stream) {
            av_packet_unref(d->pkt);
            continue;
        }
        if ((d->pkt->flags & AV_PKT_FLAG_CORRUPT) && !d->tolerate) {
            av_packet_unref(d->pkt);
            return xmemi_fail(err, XMEM_EMEDIA, 0,
                              "file '%s', frame %" PRIu64 ": its data is cut short or damaged",
                              d->url, d->frames);
        }
        rc = avcodec_send_packet(d->dec, d->pkt);
        av_packet_unref(d->pkt);
        if (rc < 0 && rc != AVERROR(EAGAIN) && !(d->tolerate && rc == AVERROR_INVALIDDATA))
            return xmemi_av_fail(err, rc, "file '%s', frame %" PRIu64 ": decoding", d->url,
                                 d->frames);
    }
}

xmem_err xmemi_decoder_rewind(xmemi_decoder *d, xmem_error_t *err)
{
    const AVStream *st = d->fmt->streams[d->stream];
    int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    int rc = av_seek_frame(d->fmt, d->stream, start, AVSEEK_FLAG_BACKWARD);
    if (rc < 0)
        return xmemi_av_fail(err, rc, "file '%s': going back to its start to loop", d->url);
    avcodec_flush_buffers(d->dec);
    d->draining = false;
    d->frames = 0;
    return XMEM_OK;
}

int64_t xmemi_decoder_pts_ns(const xmemi_decoder *d)
{
    const AVStream *st = d->fmt->streams[d->stream];
    int64_t ts = d->frame->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE)
        return INT64_MIN;
    int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    return av_rescale_q(ts - start, st->time_base, NS);
}

int64_t xmemi_decoder_frame_ns(const xmemi_decoder *d)
{
    const AVStream *st = d->fmt->streams[d->stream];
    AVRational rate = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
    if (rate.num <= 0 || rate.den <= 0)
        rate = (AVRational){30, 1};
    return av_rescale_q(1, av_inv_q(rate), NS);
}

void xmemi_decoder_size(const xmemi_decoder *d, int *width, int *height)
{
    *width = d->dec->width;
    *height = d->dec->height;
}

void xmemi_decoder_close(xmemi_decoder *d)
{
    av_frame_free(&d->frame);
    av_packet_free(&d->pkt);
    avcodec_free_context(&d->dec);
    avformat_close_input(&d->fmt);
}
