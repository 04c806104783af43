/* Writing video: frames encoded with libavcodec and muxed by libavformat into a file whose
 * container follows its name. What can be checked without a frame (container, encoder, option
 * names, pixel format, that the file can be created) is checked at open; the encoder starts at the
 * first frame, whose size it takes. Finishing drains the encoder and writes the container's
 * trailer, so the file is complete and seekable. */
#ifndef XMEM_NODES_VIDEO_VIDEO_ENCODER_H
#define XMEM_NODES_VIDEO_VIDEO_ENCODER_H

#include <stdbool.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include <xmem/error.h>

#include "picture.h"

typedef struct xmemi_encoder_options {
    const char *path;
    const char *codec;        /* FFmpeg's codec name: ffv1, h264, mjpeg ... */
    const char *encoder;      /* "" for the codec's usual encoder (h264: libx264) */
    const char *options;      /* encoder options, "key=value:key=value" (preset=veryfast) */
    const char *pixel_format; /* the file's, "" for the codec's usual one */
    int threads;              /* encoder threads, 0: FFmpeg's choice */
    AVRational time_base;     /* of the timestamps given to xmemi_encoder_send */
    AVRational frame_rate;    /* nominal, for rate control and the container */
} xmemi_encoder_options;

typedef struct xmemi_encoder {
    const char *path;
    const AVCodec *codec;
    AVDictionary *opts;              /* the encoder options, until the encoder opens */
    enum AVPixelFormat pixel_format; /* asked for, or AV_PIX_FMT_NONE */
    int threads;
    AVRational time_base, frame_rate;
    AVFormatContext *fmt;
    AVCodecContext *enc; /* NULL until the first frame */
    AVStream *st;
    AVFrame *frame;
    AVPacket *pkt;
    uint64_t frames; /* frames given to the encoder */
    bool finished;   /* the trailer is written */
} xmemi_encoder;

/* Checks the options and creates the file. On failure nothing is left open and no file made. */
xmem_err xmemi_encoder_open(xmemi_encoder *e, const xmemi_encoder_options *o, xmem_error_t *err);

/* Starts the encoder for width x height frames that arrive as `source` (which picks the file's
 * pixel format when none was asked for) and writes the file's header. */
xmem_err xmemi_encoder_start(xmemi_encoder *e, int width, int height, enum AVPixelFormat source,
                             xmem_error_t *err);

/* The picture of the next frame, writable, for the caller to fill (after start). */
xmem_err xmemi_encoder_picture(xmemi_encoder *e, xmemi_picture *out, xmem_error_t *err);

/* Encodes that picture with presentation time `pts` (in the time base, larger than the last) and
 * writes what the encoder gives back. */
xmem_err xmemi_encoder_send(xmemi_encoder *e, int64_t pts, xmem_error_t *err);

/* Drains the encoder and writes the trailer: the file is complete. */
xmem_err xmemi_encoder_finish(xmemi_encoder *e, xmem_error_t *err);

/* Closes the file (removed if no frame was encoded into it) and frees everything. */
void xmemi_encoder_close(xmemi_encoder *e);

#endif
