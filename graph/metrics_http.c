/* The metrics endpoint's HTTP server (metrics.h): libmicrohttpd with one thread of its own. Each
 * scrape samples the graph (observe.h) and renders it; only that thread touches its sample. */
#define _GNU_SOURCE
#include "metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "common/fail.h"

struct xmemi_metrics {
    struct MHD_Daemon *daemon;
    char dir[256];
    xmem_pool_t *pool;
    xmemi_obs *obs; /* opened at the first scrape that finds run.json */
};

bool xmemi_metrics_built(void)
{
    return true;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                             const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *msg)
{
    char *body = strdup(msg);
    return body ? reply(c, status, body, strlen(body), "text/plain; charset=utf-8") : MHD_NO;
}

/* Renders one scrape into a malloc'd buffer; NULL (with *why) when the graph cannot be read. */
static char *scrape(xmemi_metrics *m, size_t *len, xmem_error_t *why)
{
    if (!m->obs) {
        xmemi_obs *o = calloc(1, sizeof *o);
        if (!o || xmemi_obs_open(m->dir, NULL, m->pool, o, why)) {
            free(o);
            return NULL;
        }
        m->obs = o;
    }
    if (xmemi_obs_sample(m->obs, why))
        return NULL;
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    xmemi_metrics_render(f, m->obs);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *data_len, void **state)
{
    (void)version, (void)data, (void)data_len, (void)state;
    xmemi_metrics *m = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
    if (strcmp(url, "/metrics") != 0)
        return text(c, MHD_HTTP_NOT_FOUND, "xmem: the metrics are at /metrics\n");
    size_t len = 0;
    xmem_error_t why = {0};
    char *body = scrape(m, &len, &why);
    if (!body) {
        char msg[XMEM_ERROR_MSG_MAX + 64];
        snprintf(msg, sizeof msg, "xmem: the graph cannot be read now: %s\n",
                 why.msg[0] ? why.msg : "no memory");
        return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    }
    return reply(c, MHD_HTTP_OK, body, len, "text/plain; version=0.0.4; charset=utf-8");
}

xmem_err xmemi_metrics_start(const char *addr, const char *dir, xmem_pool_t *pool,
                             xmemi_metrics **out, char *bound, size_t len, xmem_error_t *err)
{
    *out = NULL;
    struct sockaddr_in sa;
    xmem_err rc = xmemi_metrics_addr_parse(addr, &sa, err);
    if (rc)
        return rc;
    xmemi_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return xmemi_fail(err, XMEM_ENOMEM, 0, "metrics endpoint %s: no memory", addr);
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    m->pool = pool;
    m->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                                 handle, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!m->daemon) {
        free(m);
        return xmemi_fail(err, XMEM_ESYS, 0,
                          "metrics endpoint %s: cannot listen there (the port in use, or the "
                          "address not this machine's)",
                          addr);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
    snprintf(bound, len, "%s:%u", host, info ? (unsigned)info->port : (unsigned)ntohs(sa.sin_port));
    *out = m;
    return XMEM_OK;
}

void xmemi_metrics_stop(xmemi_metrics **pm)
{
    xmemi_metrics *m = pm ? *pm : NULL;
    if (!m)
        return;
    MHD_stop_daemon(m->daemon);
    if (m->obs) {
        xmemi_obs_close(m->obs);
        free(m->obs);
    }
    free(m);
    *pm = NULL;
}
