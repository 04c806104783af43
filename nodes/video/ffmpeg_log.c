/* FFmpeg's log and error codes into the node's (ffmpeg_log.h). FFmpeg logs from its worker threads
 * too, and a line may come in pieces, so pieces are gathered under a lock until the newline. */
#include "ffmpeg_log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/log.h>

#include "common/fail.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static xmem_node_t *log_node;
static char pending[1024]; /* the line being gathered, "component: text" */
static int pending_level = AV_LOG_QUIET;
static char first_error[XMEM_ERROR_MSG_MAX / 2];
static int level_before = AV_LOG_INFO; /* FFmpeg's level before attach */

/* Copies `src` into `dst` of `len` bytes, cut short where it does not fit. */
static void copy_cut(char *dst, size_t len, const char *src)
{
    size_t n = strnlen(src, len - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Under the lock: one whole line to the node's log, and kept if it is the first error. */
static void emit(void)
{
    size_t n = strlen(pending);
    while (n && (pending[n - 1] == '\n' || pending[n - 1] == ' '))
        pending[--n] = '\0';
    if (n && pending_level <= AV_LOG_ERROR && !first_error[0])
        copy_cut(first_error, sizeof first_error, pending);
    if (n && log_node)
        xmem_node_log(log_node, pending_level <= AV_LOG_WARNING ? XMEM_LOG_WARN : XMEM_LOG_DEBUG,
                      "ffmpeg: %s", pending);
    pending[0] = '\0';
    pending_level = AV_LOG_QUIET;
}

static void on_log(void *avcl, int level, const char *fmt, va_list ap)
{
    if (level > AV_LOG_INFO)
        return;
    char piece[512];
    vsnprintf(piece, sizeof piece, fmt, ap);
    pthread_mutex_lock(&lock);
    if (!pending[0]) {
        const AVClass *cls = avcl ? *(const AVClass **)avcl : NULL;
        snprintf(pending, sizeof pending, "%s: ", cls ? cls->item_name(avcl) : "ffmpeg");
    }
    size_t used = strlen(pending);
    snprintf(pending + used, sizeof pending - used, "%s", piece);
    if (level < pending_level || pending_level == AV_LOG_QUIET)
        pending_level = level;
    if (strchr(piece, '\n'))
        emit();
    pthread_mutex_unlock(&lock);
}

void xmemi_ffmpeg_log_attach(xmem_node_t *node)
{
    pthread_mutex_lock(&lock);
    log_node = node;
    first_error[0] = pending[0] = '\0';
    pthread_mutex_unlock(&lock);
    level_before = av_log_get_level();
    av_log_set_level(AV_LOG_INFO);
    av_log_set_callback(on_log);
}

void xmemi_ffmpeg_log_detach(void)
{
    av_log_set_callback(av_log_default_callback);
    pthread_mutex_lock(&lock);
    if (pending[0])
        emit();
    log_node = NULL;
    pthread_mutex_unlock(&lock);
    av_log_set_level(level_before);
}

bool xmemi_ffmpeg_log_take_error(char *buf, size_t len)
{
    pthread_mutex_lock(&lock);
    if (pending[0] && pending_level <= AV_LOG_ERROR) /* an error whose line has not ended yet */
        emit();
    bool have = first_error[0] != '\0';
    if (have && buf)
        copy_cut(buf, len, first_error);
    first_error[0] = '\0';
    pthread_mutex_unlock(&lock);
    return have;
}

xmem_err xmemi_av_fail(xmem_error_t *err, int averr, const char *fmt, ...)
{
    char why[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(averr, why, sizeof why);
    va_list ap;
    va_start(ap, fmt);
    xmem_err rc = xmemi_failv(err, XMEM_EMEDIA, 0, NULL, why, fmt, ap);
    va_end(ap);
    return rc;
}
