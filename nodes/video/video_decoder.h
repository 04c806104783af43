/* Reading video: a file, a URL or a camera (/dev/videoN, through libavdevice) opened with
 * libavformat, its best video stream decoded with libavcodec one frame at a time. Damage is an
 * error at the frame where it shows, including the kinds FFmpeg only logs (see ffmpeg_log.h).
 * Hardware decoding would go in at open: a decoder by name is already taken, a device context
 * would join it. */
#ifndef XMEM_NODES_VIDEO_VIDEO_DECODER_H
#define XMEM_NODES_VIDEO_VIDEO_DECODER_H

#include <stdbool.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include <xmem/error.h>

typedef struct xmemi_decoder_options {
    const char *url;     /* a file, a URL FFmpeg reads, or /dev/videoN */
    const char *format;  /* demuxer or device name, "" to guess (v4l2 for /dev/video*) */
    const char *options; /* demuxer or device options, "key=value:key=value" */
    const char *decoder; /* decoder name, "" for the codec's usual one */
    int threads;         /* decoder threads, 0: FFmpeg's choice */
    bool tolerate;       /* damage FFmpeg only logs is logged, not an error */
} xmemi_decoder_options;

typedef struct xmemi_decoder {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame; /* the frame xmemi_decoder_next returned */
    int stream;     /* index of the video stream */
    const char *url;
    bool tolerate;
    bool draining;   /* the input ended: the decoder gives what it still holds */
    uint64_t frames; /* frames returned since open or the last rewind */
} xmemi_decoder;

/* Opens the input, finds its video stream and opens a decoder for it. A missing or unreadable
 * file, an input FFmpeg cannot read, no video stream, an unknown format, decoder or option: each
 * its own XMEM_EMEDIA (XMEM_ECONFIG for an unknown name) message naming the input. On failure
 * nothing is left open. */
xmem_err xmemi_decoder_open(xmemi_decoder *d, const xmemi_decoder_options *o, xmem_error_t *err);

/* Decodes the next frame into d->frame (valid until the next call): XMEM_OK, XMEM_EEND once the
 * stream is over, or an error naming the input and the frame where it broke. */
xmem_err xmemi_decoder_next(xmemi_decoder *d, xmem_error_t *err);

/* Back to the start for another pass (loop); XMEM_EMEDIA if the input cannot seek. */
xmem_err xmemi_decoder_rewind(xmemi_decoder *d, xmem_error_t *err);

/* d->frame's presentation time in ns from the stream's start, or INT64_MIN if it has none. */
int64_t xmemi_decoder_pts_ns(const xmemi_decoder *d);

/* One frame's duration in ns at the stream's rate (1/30 s when the stream does not say). */
int64_t xmemi_decoder_frame_ns(const xmemi_decoder *d);

/* The video stream's picture size. */
void xmemi_decoder_size(const xmemi_decoder *d, int *width, int *height);

void xmemi_decoder_close(xmemi_decoder *d);

#endif
