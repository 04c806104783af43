/* Filling an xmem_error_t: every failure path of every layer goes through these, so a message is
 * built one way everywhere. Built into libxmem (hidden) and, as a private copy, into the static
 * libraries of the `xmem` program. */
#ifndef XMEM_COMMON_FAIL_H
#define XMEM_COMMON_FAIL_H

#include <stdarg.h>

#include <xmem/error.h>

/* Fills *err (when not NULL) with code, errno and the formatted message; returns code. */
xmem_err xmemi_fail(xmem_error_t *err, xmem_err code, int sys_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), cold));

/* As xmemi_fail, with the message of the error that caused this one appended after ": " (its
 * code is not kept: `code` is what the caller reports). `cause` may be NULL, or `err` itself. */
xmem_err xmemi_fail_cause(xmem_error_t *err, xmem_err code, const xmem_error_t *cause,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5), cold));

/* The one formatter behind both, for wrappers with a format of their own: the message is
 * `prefix` (may be NULL: "graph.yaml:3:7: ", "plugin x.so refused: "), the formatted text, then
 * ": cause" when `cause` is not NULL, then ": strerror(sys_errno)" when sys_errno is set. */
xmem_err xmemi_failv(xmem_error_t *err, xmem_err code, int sys_errno, const char *prefix,
                     const char *cause, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0), cold));

#endif
