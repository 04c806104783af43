/* FFmpeg's messages in xmem's terms: its log lines go to the node's log (tagged with the node's
 * name), the first error it logs is kept for the node to act on (FFmpeg only logs some damage, such
 * as a slice CRC mismatch or a file that ends inside a cluster), and its error codes become
 * xmem_error_t messages carrying av_strerror's text. */
#ifndef XMEM_NODES_VIDEO_FFMPEG_LOG_H
#define XMEM_NODES_VIDEO_FFMPEG_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include <xmem/node.h>

/* Sends FFmpeg's log to `node`'s for the rest of the process (one node per process): errors and
 * warnings as warnings, information at debug level. */
void xmemi_ffmpeg_log_attach(xmem_node_t *node);

/* Back to FFmpeg's own log (on stderr). */
void xmemi_ffmpeg_log_detach(void);

/* The first error-level line FFmpeg logged since the last call, "component: text", into buf;
 * false if there was none. Forgets it. */
bool xmemi_ffmpeg_log_take_error(char *buf, size_t len);

/* Fills err with XMEM_EMEDIA: the formatted text, then ": " and FFmpeg's text for `averr`. */
xmem_err xmemi_av_fail(xmem_error_t *err, int averr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), cold));

#endif
