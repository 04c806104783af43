/* Filling an xmem_error_t: every failure path of the library goes through xmemi_fail(). */
#ifndef XMEM_CORE_ERROR_INTERNAL_H
#define XMEM_CORE_ERROR_INTERNAL_H

#include <xmem/error.h>

/* Fills *err (when not NULL) with code, errno and the formatted message; returns code. */
xmem_err xmemi_fail(xmem_error_t *err, xmem_err code, int sys_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), cold));

#endif
