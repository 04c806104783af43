/* What the video tests share: making a test video with the real `xmem` (testsrc through
 * videosink, as users would), and reading a file back through FFmpeg's libraries, apart from
 * xmem, to see what is really in it (codec, size, frames, their times). Builds on graph_run.h. */
#ifndef XMEM_TESTS_VIDEO_UTIL_H
#define XMEM_TESTS_VIDEO_UTIL_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>

#include "xmem_run.h"

#define XVT_MAX_TIMES 256

typedef struct xvt_probe {
    char codec[32], pix_fmt[32];
    int width, height;
    long frames;                   /* decoded to the end */
    int64_t pts_ms[XVT_MAX_TIMES]; /* the first frames' presentation times, ms */
    bool errors;                   /* the decoder refused a packet or a frame */
} xvt_probe;

/* Decodes the whole file's video; false if it cannot be opened or has no video. */
static inline bool xvt_probe_file(const char *path, xvt_probe *p)
{
    memset(p, 0, sizeof *p);
    av_log_set_level(AV_LOG_QUIET); /* a file that is not there is an answer, not news */
    AVFormatContext *fmt = NULL;
    if (avformat_open_input(&fmt, path, NULL, NULL) < 0)
        return false;
    int vs = avformat_find_stream_info(fmt, NULL) < 0
                 ? -1
                 : av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    const AVCodec *codec =
        vs < 0 ? NULL : avcodec_find_decoder(fmt->streams[vs]->codecpar->codec_id);
    AVCodecContext *dec = codec ? avcodec_alloc_context3(codec) : NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    bool ok = dec && avcodec_parameters_to_context(dec, fmt->streams[vs]->codecpar) >= 0 &&
              avcodec_open2(dec, codec, NULL) >= 0;
    if (ok) {
        AVStream *st = fmt->streams[vs];
        snprintf(p->codec, sizeof p->codec, "%s", codec->name);
        p->width = dec->width;
        p->height = dec->height;
        bool flushing = false;
        for (;;) {
            int rc = avcodec_receive_frame(dec, frame);
            if (rc == 0) {
                if (p->frames < XVT_MAX_TIMES)
                    p->pts_ms[p->frames] = av_rescale_q(frame->best_effort_timestamp, st->time_base,
                                                        (AVRational){1, 1000});
                snprintf(p->pix_fmt, sizeof p->pix_fmt, "%s", av_get_pix_fmt_name(frame->format));
                p->frames++;
                continue;
            }
            if (rc == AVERROR_EOF || (rc != AVERROR(EAGAIN)) || flushing) {
                p->errors |= rc != AVERROR_EOF;
                break;
            }
            if (av_read_frame(fmt, pkt) < 0) {
                avcodec_send_packet(dec, NULL);
                flushing = true;
                continue;
            }
            if (pkt->stream_index == vs && avcodec_send_packet(dec, pkt) < 0)
                p->errors = true;
            av_packet_unref(pkt);
        }
    }
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return ok;
}

/* One node of a test graph; `params` is the inside of its params mapping ("file: 'a.mkv'"),
 * `extra` more keys of the node ("rate: 30", "restart: always") or NULL. */
typedef struct xvt_node {
    const char *name, *plugin, *params, *extra;
} xvt_node;

/* Writes the graph file: nodes[0] is the source, every other node takes its frames (block
 * policy: nothing is lost on the way). */
static inline void xvt_write_graph(const xvt_node *nodes, int n)
{
    char yaml[4096];
    int used = snprintf(yaml, sizeof yaml, "pool: {name: %s}\nnodes:\n", pool);
    for (int i = 0; i < n && used < (int)sizeof yaml; i++)
        used += snprintf(yaml + used, sizeof yaml - (size_t)used,
                         "  - {name: %s, plugin: '%s', params: {%s}%s%s%s}\n", nodes[i].name,
                         nodes[i].plugin, nodes[i].params,
                         i ? ", inputs: {in: {from: src/out, policy: block}}" : "",
                         nodes[i].extra ? ", " : "", nodes[i].extra ? nodes[i].extra : "");
    cr_assert(lt(int, used, (int)sizeof yaml));
    write_yaml(yaml);
}

/* Runs the graph file with --summary; the exit status. */
static inline int xvt_run_graph(void)
{
    return run_xmem((const char *[]){"run", "--interval", "0", "--summary", summary, graph, NULL});
}

/* Writes `frames` test frames of width x rows x channels (testsrc) into `path` through
 * videosink, with `sink_params` ("codec: ffv1, pixel_format: gray"), and checks the run went
 * well. The graph file is overwritten. */
static inline void xvt_make_video(const char *path, int width, int rows, int channels, int frames,
                                  const char *sink_params)
{
    char src[160], rec[512];
    snprintf(src, sizeof src, "width: %d, height: %d, channels: %d, frames: %d", width, rows,
             channels, frames);
    snprintf(rec, sizeof rec, "file: '%s', %s", path, sink_params);
    xvt_write_graph((xvt_node[]){{"src", "testsrc", src, NULL}, {"rec", "videosink", rec, NULL}},
                    2);
    cr_assert(eq(int, xvt_run_graph(), 0), "making %s failed:\n%s", path, log_text());
}

/* Writes the graph src (videosrc reading `in`, `src_params` added) -> rec (videosink writing
 * `out`, `rec_params` added), and `also` (when not NULL) as a third node fed by src. */
static inline void xvt_write_copy(const char *in, const char *src_params, const char *out,
                                  const char *rec_params, const xvt_node *also)
{
    char src[512], rec[512];
    snprintf(src, sizeof src, "file: '%s'%s%s", in, src_params[0] ? ", " : "", src_params);
    snprintf(rec, sizeof rec, "file: '%s'%s%s", out, rec_params[0] ? ", " : "", rec_params);
    xvt_node nodes[3] = {{"src", "videosrc", src, NULL}, {"rec", "videosink", rec, NULL}};
    if (also)
        nodes[2] = *also;
    xvt_write_graph(nodes, also ? 3 : 2);
}

/* The pool had every buffer back at the end and nothing is left of the run. */
static inline void xvt_assert_pool_free(struct fy_document *doc)
{
    cr_assert(eq(long, summary_num(doc, "/pool/free_at_end"), summary_num(doc, "/pool/buffers")),
              "buffers still held at the end:\n%s", log_text());
    assert_clean();
}

#endif
