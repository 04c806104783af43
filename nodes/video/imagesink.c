/* imagesink: writes every Nth frame it receives as a PNG image, named by the frame's sequence
 * number (png_writer.h); the summary of `xmem run` counts the images.
 *   - name: snapshots
 *     plugin: imagesink
 *     inputs: {in: src/out}
 *     params: {file: "frames/frame-%06d.png", every: 30} */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#include "common/fail.h"
#include "common/plural.h"
#include "ffmpeg_log.h"
#include "nodes/builtin/builtins.h"
#include "picture.h"
#include "png_writer.h"

typedef struct imagesink {
    xmemi_png_writer png;
    xmemi_pixfmt pixfmt;
    const char *pattern;
    uint64_t every;
    uint64_t received, saved;
} imagesink;

static const xmem_node_param params[] = {
    {"file", XMEM_PARAM_STRING, NULL,
     "image path with the frame's sequence number as %d or %06d (frames/f-%06d.png)", 0, 0, NULL},
    {"every", XMEM_PARAM_INT, "1", "save one frame of every N received", 1, 1e9, NULL},
    {"pixel_format", XMEM_PARAM_ENUM, "rgb24", "pixel format of the frames received", 0, 0,
     xmemi_pixfmt_names},
};

static const xmem_node_port inputs[] = {{"in", "frames"}};

/* The path of frame `seq`; false if the pattern has no number in it. */
static bool image_path(const char *pattern, uint64_t seq, char *buf, size_t len)
{
    return av_get_frame_filename2(buf, (int)len, pattern, (int)(seq % INT_MAX), 0) == 0;
}

/* The pattern numbers its images and their directory takes files: said before the first frame. */
static xmem_err check_pattern(const char *pattern, xmem_error_t *err)
{
    char path[PATH_MAX];
    if (!image_path(pattern, 0, path, sizeof path))
        return xmemi_fail(err, XMEM_ECONFIG, 0,
                          "file '%s': put the frame number in it as %%d or %%06d", pattern);
    char *dir = dirname(path);
    if (access(dir, W_OK) != 0)
        return xmemi_fail(err, XMEM_ESYS, errno, "file '%s': directory '%s'", pattern, dir);
    return XMEM_OK;
}

static xmem_err init(xmem_node_t *node, void **state, xmem_error_t *err)
{
    const char *pattern = xmem_node_param_string(node, "file");
    xmem_err rc = check_pattern(pattern, err);
    if (rc)
        return rc;
    imagesink *s = calloc(1, sizeof *s);
    if (!s)
        return xmem_node_fail(node, err, "out of memory");
    xmemi_ffmpeg_log_attach(node);
    s->pattern = pattern;
    s->every = (uint64_t)xmem_node_param_int(node, "every");
    s->pixfmt = (xmemi_pixfmt)xmem_node_param_enum_index(node, "pixel_format");
    *state = s;
    return XMEM_OK;
}

static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *in,
                        xmem_error_t *err)
{
    (void)port;
    imagesink *s = state;
    if (s->received++ % s->every)
        return XMEM_OK;
    xmemi_picture pic;
    uint64_t seq = 0;
    char path[PATH_MAX];
    xmem_err rc = xmemi_pixfmt_read(in, s->pixfmt, &pic, err);
    if (rc || (rc = xmem_guard_stamp(in, &seq, NULL, err)))
        return rc;
    if (!image_path(s->pattern, seq, path, sizeof path))
        return xmemi_fail(err, XMEM_EINVAL, 0, "file '%s': no path for frame %" PRIu64, s->pattern,
                          seq);
    if ((rc = xmemi_png_write(&s->png, &pic, path, err)))
        return rc;
    s->saved++;
    xmem_node_count_work(node, "saved", 1);
    xmem_node_report_file(node, s->pattern, s->saved, true);
    return XMEM_OK;
}

static void fini(xmem_node_t *node, void *state)
{
    imagesink *s = state;
    if (!s)
        return;
    xmem_node_log(node, XMEM_LOG_INFO, "saved %" PRIu64 " of %" PRIu64 " frame%s as %s", s->saved,
                  s->received, xmemi_s(s->received), s->pattern);
    xmemi_png_writer_free(&s->png);
    xmemi_ffmpeg_log_detach();
    free(s);
}

XMEMI_BUILTIN_MODULE_DEFINE(xmemi_node_imagesink, .name = "imagesink", .version = "1.0",
                            .description = "saves every Nth frame as a PNG image", .params = params,
                            .n_params = sizeof params / sizeof params[0], .inputs = inputs,
                            .n_inputs = 1, .init = init, .process = process, .fini = fini);
