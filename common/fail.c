/* The functions that fill error structs (fail.h). */
#include "fail.h"

#include <stdio.h>
#include <string.h>

/* Appends to the message as snprintf would, never past its end. */
static void append(xmem_error_t *err, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void append(xmem_error_t *err, size_t *used, const char *fmt, ...)
{
    if (*used >= sizeof err->msg)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg + *used, sizeof err->msg - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used += (size_t)n;
}

xmem_err xmemi_failv(xmem_error_t *err, xmem_err code, int sys_errno, const char *prefix,
                     const char *cause, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    /* The cause may be err's own message: keep it before writing over it. */
    char why[XMEM_ERROR_MSG_MAX];
    if (cause)
        snprintf(why, sizeof why, "%s", cause);
    err->code = code;
    err->sys_errno = sys_errno;
    err->msg[0] = '\0';
    size_t used = 0;
    if (prefix)
        append(err, &used, "%s", prefix);
    if (used < sizeof err->msg) {
        int n = vsnprintf(err->msg + used, sizeof err->msg - used, fmt, ap);
        if (n > 0)
            used += (size_t)n;
    }
    if (cause)
        append(err, &used, ": %s", why);
    if (sys_errno)
        append(err, &used, ": %s", strerror(sys_errno));
    return code;
}

xmem_err xmemi_fail(xmem_error_t *err, xmem_err code, int sys_errno, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    xmemi_failv(err, code, sys_errno, NULL, NULL, fmt, ap);
    va_end(ap);
    return code;
}

xmem_err xmemi_fail_cause(xmem_error_t *err, xmem_err code, const xmem_error_t *cause,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    xmemi_failv(err, code, 0, NULL, cause ? cause->msg : NULL, fmt, ap);
    va_end(ap);
    return code;
}
