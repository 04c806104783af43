/* The one function that fills error structs. Built into libxmem and, as its own private copy,
 * into the `xmem` program's host code (libxmem keeps it hidden). */
#include "error_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

xmem_err xmemi_fail(xmem_error_t *err, xmem_err code, int sys_errno, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    err->sys_errno = sys_errno;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (sys_errno && n >= 0 && (size_t)n < sizeof err->msg)
        snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(sys_errno));
    return code;
}
