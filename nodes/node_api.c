/* What a plugin calls (include/xmem/node.h): parameters, buffers, publishing, logging, stopping.
 * Lives in libxmem so that plugins link against xmem::xmem alone; the host fills the node. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xmem/cuda.h>

#include "common/fail.h"
#include "node_internal.h"

const char *xmem_node_name(const xmem_node_t *node)
{
    return node->name;
}

xmem_pool_t *xmem_node_pool(xmem_node_t *node)
{
    return node->pool;
}

/* A getter asked for what the plugin never declared: a bug in the plugin, stop it loudly. */
static const xmemi_param_value *param(const xmem_node_t *node, const char *name,
                                      xmem_param_type type)
{
    for (uint32_t i = 0; i < node->n_params; i++) {
        const xmemi_param_value *v = &node->params[i];
        if (strcmp(v->def->name, name) != 0)
            continue;
        if (v->def->type != type) {
            fprintf(stderr,
                    "xmem: node '%s' (plugin '%s'): parameter '%s' is declared %d but read as "
                    "type %d: a bug in the plugin\n",
                    node->name, node->plugin->name, name, (int)v->def->type, (int)type);
            abort();
        }
        return v;
    }
    fprintf(stderr,
            "xmem: node '%s' (plugin '%s'): reads parameter '%s' it never declared: a bug "
            "in the plugin\n",
            node->name, node->plugin->name, name);
    abort();
}

int64_t xmem_node_param_int(const xmem_node_t *node, const char *name)
{
    return param(node, name, XMEM_PARAM_INT)->i;
}

double xmem_node_param_float(const xmem_node_t *node, const char *name)
{
    return param(node, name, XMEM_PARAM_FLOAT)->f;
}

bool xmem_node_param_bool(const xmem_node_t *node, const char *name)
{
    return param(node, name, XMEM_PARAM_BOOL)->b;
}

const char *xmem_node_param_string(const xmem_node_t *node, const char *name)
{
    return param(node, name, XMEM_PARAM_STRING)->text;
}

const char *xmem_node_param_enum(const xmem_node_t *node, const char *name)
{
    return param(node, name, XMEM_PARAM_ENUM)->text;
}

uint32_t xmem_node_param_enum_index(const xmem_node_t *node, const char *name)
{
    return param(node, name, XMEM_PARAM_ENUM)->choice;
}

xmem_err xmem_node_acquire(xmem_node_t *node, size_t size, xmem_guard_t *out, xmem_error_t *err)
{
    return xmem_pool_acquire_cpu_timeout(node->pool, size, node->acquire_timeout_ms, out, err);
}

xmem_err xmem_node_acquire_like(xmem_node_t *node, const xmem_guard_t *input, xmem_guard_t *out,
                                xmem_error_t *err)
{
    xmem_err rc = xmem_node_acquire(node, xmem_guard_size(input), out, err);
    if (rc == XMEM_OK && (rc = xmem_guard_copy_layout(out, input, err)))
        xmem_guard_release(out, NULL);
    return rc;
}

xmem_err xmem_node_acquire_cuda(xmem_node_t *node, size_t size, int device, xmem_guard_t *out,
                                xmem_error_t *err)
{
    return xmem_pool_acquire_cuda_timeout(node->pool, size, device, node->acquire_timeout_ms, out,
                                          err);
}

static xmemi_output *output(xmem_node_t *node, const char *port)
{
    for (uint32_t i = 0; i < node->n_outputs; i++)
        if (strcmp(node->outputs[i].port->name, port) == 0)
            return &node->outputs[i];
    return NULL;
}

xmem_err xmem_node_publish(xmem_node_t *node, const char *port, xmem_guard_t *guard,
                           xmem_error_t *err)
{
    xmemi_output *out = port ? output(node, port) : NULL;
    if (!out) {
        xmem_guard_release(guard, NULL);
        return xmemi_fail(err, XMEM_EINVAL, 0, "node '%s': plugin '%s' has no output port '%s'",
                          node->name, node->plugin->name, port ? port : "(null)");
    }
    if (!out->pub) { /* not wired: nobody would receive it */
        xmem_guard_release(guard, NULL);
        return XMEM_OK;
    }
    xmem_err rc = xmem_pub_publish(out->pub, guard, err);
    if (rc == XMEM_OK)
        out->published++;
    return rc;
}

xmem_err xmem_node_forward(xmem_node_t *node, const char *port, xmem_guard_t *input,
                           xmem_error_t *err)
{
    return xmem_node_publish(node, port, input, err);
}

bool xmem_node_output_wired(const xmem_node_t *node, const char *port)
{
    xmemi_output *out = output((xmem_node_t *)node, port);
    return out && out->pub;
}

static const char *const level_names[] = {
    [XMEM_LOG_ERROR] = "error",
    [XMEM_LOG_WARN] = "warn",
    [XMEM_LOG_INFO] = "info",
    [XMEM_LOG_DEBUG] = "debug",
};

const char *xmem_log_level_name(xmem_log_level level)
{
    return (unsigned)level <= XMEM_LOG_DEBUG ? level_names[level] : "unknown";
}

xmem_err xmem_log_level_from_name(const char *name, xmem_log_level *out, xmem_error_t *err)
{
    for (unsigned i = 0; name && i <= XMEM_LOG_DEBUG; i++)
        if (strcmp(name, level_names[i]) == 0) {
            *out = (xmem_log_level)i;
            return XMEM_OK;
        }
    return xmemi_fail(err, XMEM_EINVAL, 0, "'%s': expected %s, %s, %s or %s",
                      name ? name : "(null)", level_names[0], level_names[1], level_names[2],
                      level_names[3]);
}

static void vlog(const xmem_node_t *node, xmem_log_level level, const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    /* One write per line, so the lines of nodes sharing a terminal do not interleave. */
    fprintf(stderr, "[%s] %s: %s\n", node->name, level_names[level], line);
}

void xmem_node_log(const xmem_node_t *node, xmem_log_level level, const char *fmt, ...)
{
    if ((unsigned)level > XMEM_LOG_DEBUG || level > node->log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(node, level, fmt, ap);
    va_end(ap);
}

xmem_err xmem_node_fail(xmem_node_t *node, xmem_error_t *err, const char *fmt, ...)
{
    char msg[XMEM_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!node->failed) /* the first reason is the one reported */
        snprintf(node->fail_msg, sizeof node->fail_msg, "%s", msg);
    node->failed = true;
    return xmemi_fail(err, XMEM_EPLUGIN, 0, "%s", msg);
}

void xmem_node_finish(xmem_node_t *node)
{
    node->finished = true;
}

bool xmem_node_stopping(const xmem_node_t *node)
{
    return node->failed || node->finished || (node->signalled && *node->signalled);
}

uint64_t xmem_node_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

xmem_err xmem_node_watch(xmem_node_t *node, void *zmq_socket, int fd, xmem_error_t *err)
{
    if (!node->plugin->wake || node->plugin->n_inputs == 0)
        return xmemi_fail(err, XMEM_EINVAL, 0,
                          "node '%s' (plugin '%s'): xmem_node_watch needs a plugin with inputs "
                          "and a wake callback",
                          node->name, node->plugin->name);
    if (!zmq_socket && fd < 0)
        return xmemi_fail(err, XMEM_EINVAL, 0, "node '%s': xmem_node_watch of nothing", node->name);
    if (node->n_watched == XMEM_NODE_MAX_WATCHED)
        return xmemi_fail(err, XMEM_EINVAL, 0, "node '%s': more than %u watched sockets",
                          node->name, XMEM_NODE_MAX_WATCHED);
    node->watched[node->n_watched++] = (xmem_wait_item){.zmq_socket = zmq_socket, .fd = fd};
    return XMEM_OK;
}
