/* Reading a graph file with libfyaml into an xmemi_graph (graph.h). Every key is checked against
 * what its mapping accepts, every value against the type it must have, and every message starts
 * with file:line:column, the position of the key or value at fault. Cross-node checks (plugins,
 * ports, cycles, pool size) are in graph_check.c. */
#define _GNU_SOURCE
#include "graph.h"
#include "graph_file.h"
#include "graph_hosts.h"
#include "metrics_addr.h"

#include <errno.h>
#include <libfyaml.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xmem/pool.h>

#include "common/fail.h"

typedef struct parser {
    xmemi_graph *g;
    xmem_error_t *err;
    xmemi_mark here; /* the key whose value is being read: where an empty value is reported */
} parser;

static xmemi_mark mark_of(struct fy_node *n)
{
    if (!n)
        return (xmemi_mark){0, 0};
    if (fy_node_is_scalar(n)) {
        const struct fy_mark *m = fy_token_start_mark(fy_node_get_scalar_token(n));
        return m ? (xmemi_mark){m->line + 1, m->column + 1} : (xmemi_mark){0, 0};
    }
    /* libfyaml 0.7 keeps no position for collections: use their first scalar's. */
    void *it = NULL;
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
        return p ? mark_of(fy_node_pair_key(p)) : (xmemi_mark){0, 0};
    }
    return mark_of(fy_node_sequence_iterate(n, &it));
}

static xmem_err graph_failv(const xmemi_graph *g, xmem_error_t *err, xmem_err code, xmemi_mark at,
                            const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static xmem_err graph_failv(const xmemi_graph *g, xmem_error_t *err, xmem_err code, xmemi_mark at,
                            const char *fmt, va_list ap)
{
    char prefix[XMEM_ERROR_MSG_MAX];
    snprintf(prefix, sizeof prefix, "%s:%d:%d: ", g->path, at.line, at.column);
    return xmemi_failv(err, code, 0, prefix, NULL, fmt, ap);
}

xmem_err xmemi_graph_fail(const xmemi_graph *g, xmem_error_t *err, xmemi_mark at, const char *fmt,
                          ...)
{
    va_list ap;
    va_start(ap, fmt);
    graph_failv(g, err, XMEM_ECONFIG, at, fmt, ap);
    va_end(ap);
    return XMEM_ECONFIG;
}

xmem_err xmemi_graph_fail_code(const xmemi_graph *g, xmem_error_t *err, xmem_err code,
                               xmemi_mark at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    graph_failv(g, err, code, at, fmt, ap);
    va_end(ap);
    return code;
}

/* fail_mark(p, at, fmt, ...): at the position `at` of the file p reads. */
#define fail_mark(p, ...) xmemi_graph_fail((p)->g, (p)->err, __VA_ARGS__)

/* A node's position, or (empty values and mappings have none) its key's. */
static xmemi_mark mark_or_here(const parser *p, struct fy_node *n)
{
    xmemi_mark m = mark_of(n);
    return m.line ? m : p->here;
}

#define fail_at(p, node, ...) fail_mark((p), mark_or_here((p), (node)), __VA_ARGS__)

/* A pair's value, noting its key's position for messages about it. */
static struct fy_node *value_of(parser *p, struct fy_node_pair *pair)
{
    xmemi_mark m = mark_of(fy_node_pair_key(pair));
    if (m.line)
        p->here = m;
    return fy_node_pair_value(pair);
}

/* A scalar's text (NUL-terminated, owned by the document), or an error naming `what`. */
static xmem_err scalar(parser *p, struct fy_node *n, const char *what, const char **out)
{
    if (!n || !fy_node_is_scalar(n) || fy_node_is_alias(n))
        return fail_at(p, n, "%s: expected a single value, found %s", what,
                       !n                       ? "nothing"
                       : fy_node_is_mapping(n)  ? "a mapping"
                       : fy_node_is_sequence(n) ? "a list"
                                                : "an alias");
    *out = fy_node_get_scalar0(n);
    if (!*out)
        return xmemi_fail(p->err, XMEM_ENOMEM, 0, "%s: no memory", p->g->path);
    return XMEM_OK;
}

static xmem_err dup_scalar(parser *p, struct fy_node *n, const char *what, char **out)
{
    const char *s;
    xmem_err rc = scalar(p, n, what, &s);
    if (rc)
        return rc;
    if (!(*out = strdup(s)))
        return xmemi_fail(p->err, XMEM_ENOMEM, 0, "%s: no memory", p->g->path);
    return XMEM_OK;
}

static xmem_err number(parser *p, struct fy_node *n, const char *what, double min, double max,
                       bool integer, double *out)
{
    const char *s;
    xmem_err rc = scalar(p, n, what, &s);
    if (rc)
        return rc;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || (integer && v != floor(v)))
        return fail_at(p, n, "%s: '%s' is not %s", what, s, integer ? "an integer" : "a number");
    if (v < min || v > max)
        return fail_at(p, n, "%s: %s is out of range (expected %g to %g)", what, s, min, max);
    *out = v;
    return XMEM_OK;
}

static xmem_err expect_mapping(parser *p, struct fy_node *n, xmemi_mark fallback, const char *what)
{
    if (n && fy_node_is_mapping(n))
        return XMEM_OK;
    xmemi_mark m = n ? mark_of(n) : fallback;
    return fail_mark(p, m.line ? m : fallback, "%s: expected a mapping (key: value, ...)", what);
}

/* Checks a key against the ones its mapping accepts (a NULL-terminated list). */
static xmem_err known_key(parser *p, struct fy_node *key, const char *where,
                          const char *const *allowed, const char **name)
{
    xmem_err rc = scalar(p, key, where, name);
    if (rc)
        return rc;
    char list[256] = "";
    size_t used = 0;
    for (const char *const *a = allowed; *a; a++) {
        if (strcmp(*a, *name) == 0)
            return XMEM_OK;
        int k = snprintf(list + used, sizeof list - used, "%s%s", a == allowed ? "" : ", ", *a);
        if (k > 0 && (size_t)k < sizeof list - used)
            used += (size_t)k;
    }
    return fail_at(p, key, "unknown key '%s' in %s (expected one of: %s)", *name, where, list);
}

/* "node/port" into its halves. */
static xmem_err parse_from(parser *p, struct fy_node *n, xmemi_graph_edge *e)
{
    const char *s;
    xmem_err rc = scalar(p, n, "input source", &s);
    if (rc)
        return rc;
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/'))
        return fail_at(p, n, "input source '%s': expected NODE/PORT (e.g. src/out)", s);
    e->from_node = strndup(s, (size_t)(slash - s));
    e->from_port = strdup(slash + 1);
    if (!e->from_node || !e->from_port)
        return xmemi_fail(p->err, XMEM_ENOMEM, 0, "%s: no memory", p->g->path);
    e->from_at = mark_of(n);
    return XMEM_OK;
}

static xmem_err add_edge(parser *p, xmemi_graph_node *node, struct fy_node *port,
                         xmemi_graph_edge **out)
{
    xmemi_graph_edge *grown = realloc(node->inputs, (node->n_inputs + 1) * sizeof *grown);
    if (!grown)
        return xmemi_fail(p->err, XMEM_ENOMEM, 0, "%s: no memory", p->g->path);
    node->inputs = grown;
    xmemi_graph_edge *e = &grown[node->n_inputs++];
    *e =
        (xmemi_graph_edge){.depth = 4, .policy = XMEM_POLICY_DROP_OLDEST, .port_at = mark_of(port)};
    *out = e;
    return dup_scalar(p, port, "input port", &e->port);
}

/* One input: `port: node/port`, `port: [a/out, b/out]`, or
 * `port: {from: ..., depth, policy, block_timeout_ms}`. */
static xmem_err parse_input(parser *p, xmemi_graph_node *node, struct fy_node *port,
                            struct fy_node *v)
{
    xmem_err rc;
    xmemi_graph_edge *e;
    if (v && fy_node_is_sequence(v)) {
        void *it = NULL;
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(v, &it)))
            if ((rc = add_edge(p, node, port, &e)) || (rc = parse_from(p, item, e)))
                return rc;
        return XMEM_OK;
    }
    if (!v || !fy_node_is_mapping(v)) {
        if ((rc = add_edge(p, node, port, &e)))
            return rc;
        return parse_from(p, v, e);
    }
    static const char *const keys[] = {"from", "depth", "policy", "block_timeout_ms", NULL};
    uint32_t first = node->n_inputs;
    struct fy_node *from = fy_node_mapping_lookup_by_string(v, "from", FY_NT);
    if (!from)
        return fail_at(p, v, "input '%s': 'from: NODE/PORT' is missing", fy_node_get_scalar0(port));
    if (fy_node_is_sequence(from)) {
        if ((rc = parse_input(p, node, port, from)))
            return rc;
    } else if ((rc = add_edge(p, node, port, &e)) || (rc = parse_from(p, from, e)))
        return rc;
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(v, &it))) {
        const char *key;
        struct fy_node *val = value_of(p, pair);
        if ((rc = known_key(p, fy_node_pair_key(pair), "an input", keys, &key)))
            return rc;
        double d;
        if (strcmp(key, "depth") == 0) {
            if ((rc = number(p, val, "depth", 1, XMEM_QUEUE_DEPTH_MAX, true, &d)))
                return rc;
            for (uint32_t i = first; i < node->n_inputs; i++)
                node->inputs[i].depth = (uint32_t)d;
        } else if (strcmp(key, "policy") == 0) {
            const char *s;
            if ((rc = scalar(p, val, "policy", &s)))
                return rc;
            xmem_queue_policy pol;
            xmem_error_t why;
            if (xmem_queue_policy_from_name(s, &pol, &why))
                return fail_at(p, val, "policy %s", why.msg);
            for (uint32_t i = first; i < node->n_inputs; i++)
                node->inputs[i].policy = pol;
        } else if (strcmp(key, "block_timeout_ms") == 0) {
            if ((rc = number(p, val, "block_timeout_ms", -1, 86400000, true, &d)))
                return rc;
            if (d == 0)
                return fail_at(p, val,
                               "block_timeout_ms: 0 would drop at once; -1 waits while "
                               "the consumer lives, 1 or more is a limit in ms");
            for (uint32_t i = first; i < node->n_inputs; i++)
                node->inputs[i].block_timeout_ms = (int)d;
        }
    }
    for (uint32_t i = first; i < node->n_inputs; i++)
        if (node->inputs[i].block_timeout_ms && node->inputs[i].policy != XMEM_POLICY_BLOCK)
            return fail_at(p, v,
                           "input '%s': block_timeout_ms is for policy block (a drop_oldest "
                           "publisher never waits)",
                           fy_node_get_scalar0(port));
    return XMEM_OK;
}

static xmem_err parse_restart(parser *p, xmemi_graph_node *node, struct fy_node *v)
{
    node->restart_at = mark_of(v);
    struct fy_node *policy = v;
    xmem_err rc;
    if (v && fy_node_is_mapping(v)) {
        static const char *const keys[] = {"policy", "limit", NULL};
        void *it = NULL;
        struct fy_node_pair *pair;
        policy = NULL;
        while ((pair = fy_node_mapping_iterate(v, &it))) {
            const char *key;
            if ((rc = known_key(p, fy_node_pair_key(pair), "restart", keys, &key)))
                return rc;
            double d;
            if (strcmp(key, "policy") == 0)
                policy = value_of(p, pair);
            else if ((rc = number(p, value_of(p, pair), "limit", 0, 1e6, true, &d)))
                return rc;
            else
                node->restart_limit = (uint32_t)d;
        }
        if (!policy)
            return fail_at(p, v, "restart: 'policy: never|on-failure|always' is missing");
    }
    const char *s;
    if ((rc = scalar(p, policy, "restart policy", &s)))
        return rc;
    if (strcmp(s, "never") == 0)
        node->restart = XMEMI_RESTART_NEVER;
    else if (strcmp(s, "on-failure") == 0)
        node->restart = XMEMI_RESTART_ON_FAILURE;
    else if (strcmp(s, "always") == 0)
        node->restart = XMEMI_RESTART_ALWAYS;
    else
        return fail_at(p, policy, "restart policy '%s': expected never, on-failure or always", s);
    return XMEM_OK;
}

static xmem_err parse_params(parser *p, xmemi_graph_node *node, struct fy_node *v,
                             xmemi_mark key_at)
{
    xmem_err rc = expect_mapping(p, v, key_at, "params");
    if (rc)
        return rc;
    node->n_params = (uint32_t)fy_node_mapping_item_count(v);
    node->params = calloc(node->n_params ? node->n_params : 1, sizeof *node->params);
    if (!node->params)
        return xmemi_fail(p->err, XMEM_ENOMEM, 0, "%s: no memory", p->g->path);
    void *it = NULL;
    struct fy_node_pair *pair;
    for (uint32_t i = 0; (pair = fy_node_mapping_iterate(v, &it)); i++) {
        xmemi_graph_param *q = &node->params[i];
        q->key_at = mark_of(fy_node_pair_key(pair));
        q->value_at = mark_or_here(p, value_of(p, pair));
        if ((rc = dup_scalar(p, fy_node_pair_key(pair), "parameter name", &q->name)) ||
            (rc = dup_scalar(p, value_of(p, pair), q->name, &q->value)))
            return rc;
    }
    return XMEM_OK;
}

static xmem_err parse_node(parser *p, struct fy_node *n)
{
    xmemi_graph *g = p->g;
    if (g->n_nodes == XMEMI_GRAPH_MAX_NODES)
        return fail_at(p, n, "more than %d nodes", XMEMI_GRAPH_MAX_NODES);
    xmemi_graph_node *node = &g->nodes[g->n_nodes++];
    node->at = mark_of(n);
    node->restart_limit = 5;
    xmem_err rc = expect_mapping(p, n, node->at, "a node");
    if (rc)
        return rc;
    static const char *const keys[] = {"name",           "plugin",
                                       "params",         "inputs",
                                       "rate",           "restart",
                                       "log_level",      "acquire_timeout_ms",
                                       "stuck_after_ms", "init_stuck_after_ms",
                                       "host",           NULL};
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(n, &it))) {
        const char *key;
        struct fy_node *v = value_of(p, pair);
        xmemi_mark key_at = mark_of(fy_node_pair_key(pair));
        if ((rc = known_key(p, fy_node_pair_key(pair), "a node", keys, &key)))
            return rc;
        double d;
        if (strcmp(key, "name") == 0) {
            if ((rc = dup_scalar(p, v, "name", &node->name)))
                return rc;
            if (!xmemi_valid_name(node->name))
                return fail_at(p, v, "node name '%s': expected [a-z0-9_]+ (63 at most)",
                               node->name);
            for (uint32_t i = 0; i + 1 < g->n_nodes; i++)
                if (g->nodes[i].name && strcmp(g->nodes[i].name, node->name) == 0)
                    return fail_at(p, v, "node name '%s' is used twice (first at line %d)",
                                   node->name, g->nodes[i].at.line);
        } else if (strcmp(key, "plugin") == 0) {
            node->plugin_at = mark_of(v);
            if ((rc = dup_scalar(p, v, "plugin", &node->plugin)))
                return rc;
        } else if (strcmp(key, "params") == 0) {
            if ((rc = parse_params(p, node, v, key_at)))
                return rc;
        } else if (strcmp(key, "inputs") == 0) {
            if ((rc = expect_mapping(p, v, key_at, "inputs")))
                return rc;
            void *jt = NULL;
            struct fy_node_pair *in;
            while ((in = fy_node_mapping_iterate(v, &jt)))
                if ((rc = parse_input(p, node, fy_node_pair_key(in), value_of(p, in))))
                    return rc;
        } else if (strcmp(key, "rate") == 0) {
            if ((rc = number(p, v, "rate", 0, 1e9, false, &node->rate_hz)))
                return rc;
            if (node->rate_hz > 0 && node->rate_hz < 0.001)
                return fail_at(p, v, "rate %g: expected 0 (as fast as it goes) or at least 0.001",
                               node->rate_hz);
        } else if (strcmp(key, "restart") == 0) {
            if ((rc = parse_restart(p, node, v)))
                return rc;
        } else if (strcmp(key, "log_level") == 0) {
            const char *s;
            if ((rc = scalar(p, v, "log_level", &s)))
                return rc;
            xmem_log_level level;
            xmem_error_t why;
            if (xmem_log_level_from_name(s, &level, &why))
                return fail_at(p, v, "log_level %s", why.msg);
            node->log_level = xmem_log_level_name(level);
        } else if (strcmp(key, "acquire_timeout_ms") == 0) {
            if ((rc = number(p, v, "acquire_timeout_ms", 1, 86400000, true, &d)))
                return rc;
            node->acquire_timeout_ms = (int)d;
        } else if (strcmp(key, "stuck_after_ms") == 0 || strcmp(key, "init_stuck_after_ms") == 0) {
            if ((rc = number(p, v, key, 100, 86400000, true, &d)))
                return rc;
            *(key[0] == 's' ? &node->stuck_after_ms : &node->init_stuck_after_ms) = (int)d;
            if (key[0] == 's')
                node->stuck_at = mark_of(v);
        } else if (strcmp(key, "host") == 0) {
            node->host_at = mark_or_here(p, v);
            if ((rc = dup_scalar(p, v, "host", &node->host_name)))
                return rc;
        }
    }
    if (!node->name)
        return fail_mark(p, node->at, "a node without 'name'");
    if (!node->plugin)
        return fail_mark(p, node->at, "node '%s' has no 'plugin'", node->name);
    return XMEM_OK;
}

/* A pool: mapping into *set; `where` names it in messages ("pool", "host 'cam' pool"). */
static xmem_err parse_pool_set(parser *p, struct fy_node *v, xmemi_mark key_at, const char *where,
                               xmemi_graph_pool_set *set)
{
    xmem_err rc = expect_mapping(p, v, key_at, where);
    if (rc)
        return rc;
    static const char *const keys[] = {"name", "buffers", "preallocate", "cuda", "shm_limit", NULL};
    static const char *const pre_keys[] = {"size", "count", NULL};
    static const char *const cuda_keys[] = {"size", "count", "device", NULL};
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(v, &it))) {
        const char *key, *s;
        struct fy_node *val = value_of(p, pair);
        double d;
        if ((rc = known_key(p, fy_node_pair_key(pair), where, keys, &key)))
            return rc;
        if (strcmp(key, "name") == 0) {
            if ((rc = scalar(p, val, "pool name", &s)))
                return rc;
            xmem_error_t why;
            if (xmem_pool_check_name(s, &why))
                return fail_at(p, val, "%s", why.msg);
            snprintf(set->name, sizeof set->name, "%s", s);
            set->name_at = mark_of(val);
        } else if (strcmp(key, "buffers") == 0) {
            set->buffers_at = mark_of(val);
            if ((rc = number(p, val, "buffers", 1, 1 << 20, true, &d)))
                return rc;
            set->buffers = (uint32_t)d;
        } else if (strcmp(key, "shm_limit") == 0) {
            set->shm_limit_at = mark_of(val);
            /* 2^62: beyond any machine, and still exact enough as a double to mean what it says */
            if ((rc = number(p, val, "shm_limit", 1, 0x1p62, true, &d)))
                return rc;
            set->shm_limit = (uint64_t)d;
        } else if (strcmp(key, "cuda") == 0) {
            set->cuda_at = mark_of(fy_node_pair_key(pair));
            if ((rc = expect_mapping(p, val, set->cuda_at, "cuda")))
                return rc;
            void *jt = NULL;
            struct fy_node_pair *q;
            while ((q = fy_node_mapping_iterate(val, &jt))) {
                if ((rc = known_key(p, fy_node_pair_key(q), "pool.cuda", cuda_keys, &key)))
                    return rc;
                double lim = strcmp(key, "size") == 0    ? (double)XMEM_BUFFER_SIZE_MAX
                             : strcmp(key, "count") == 0 ? 65536
                                                         : 7;
                if ((rc = number(p, value_of(p, q), key, strcmp(key, "device") ? 1 : 0, lim, true,
                                 &d)))
                    return rc;
                if (strcmp(key, "size") == 0)
                    set->cuda_size = (uint64_t)d;
                else if (strcmp(key, "count") == 0)
                    set->cuda_count = (uint32_t)d;
                else
                    set->cuda_device = (int)d;
            }
            if (!set->cuda_size || !set->cuda_count)
                return fail_at(p, val, "cuda: give size (bytes) and count (device: default 0)");
        } else {
            set->prealloc_at = mark_of(fy_node_pair_key(pair));
            if ((rc = expect_mapping(p, val, set->prealloc_at, "preallocate")))
                return rc;
            void *jt = NULL;
            struct fy_node_pair *q;
            while ((q = fy_node_mapping_iterate(val, &jt))) {
                if ((rc = known_key(p, fy_node_pair_key(q), "preallocate", pre_keys, &key)))
                    return rc;
                bool size = strcmp(key, "size") == 0;
                if ((rc = number(p, value_of(p, q), key, 1,
                                 size ? (double)XMEM_BUFFER_SIZE_MAX : 65536, true, &d)))
                    return rc;
                if (size)
                    set->prealloc_size = (uint64_t)d;
                else
                    set->prealloc_count = (uint32_t)d;
            }
            if (!set->prealloc_size || !set->prealloc_count)
                return fail_at(p, val, "preallocate: give both size (bytes) and count");
        }
    }
    return XMEM_OK;
}

static xmem_err parse_pool(parser *p, struct fy_node *v, xmemi_mark key_at)
{
    xmemi_graph_pool_set set = {0};
    p->g->pool_at = key_at;
    xmem_err rc = parse_pool_set(p, v, key_at, "pool", &set);
    if (rc == XMEM_OK)
        xmemi_graph_pool_apply(p->g, &set);
    return rc;
}

/* options.metrics: the address of the run's Prometheus endpoint (metrics.h). */
static xmem_err metrics_option(parser *p, struct fy_node *v)
{
    const char *s;
    xmem_err rc = scalar(p, v, "metrics", &s);
    if (rc)
        return rc;
    struct sockaddr_in sa;
    xmem_error_t why;
    if (xmemi_metrics_addr_parse(s, &sa, &why) || strlen(s) >= sizeof p->g->metrics)
        return fail_at(p, v, "metrics '%s': expected PORT or ADDR:PORT (an IPv4 address)", s);
    snprintf(p->g->metrics, sizeof p->g->metrics, "%s", s);
    return XMEM_OK;
}

static xmem_err parse_options(parser *p, struct fy_node *v, xmemi_mark key_at)
{
    xmem_err rc = expect_mapping(p, v, key_at, "options");
    if (rc)
        return rc;
    static const char *const keys[] = {"duration", "drain_timeout",    "mps",
                                       "metrics",  "insecure_network", NULL};
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(v, &it))) {
        const char *key;
        if ((rc = known_key(p, fy_node_pair_key(pair), "options", keys, &key)))
            return rc;
        if (strcmp(key, "mps") == 0 || strcmp(key, "insecure_network") == 0) {
            const char *s;
            bool mps = key[0] == 'm';
            if ((rc = scalar(p, value_of(p, pair), key, &s)))
                return rc;
            if (strcmp(s, "true") && strcmp(s, "false"))
                return fail_at(p, value_of(p, pair), "%s '%s': expected true or false", key, s);
            *(mps ? &p->g->mps : &p->g->insecure_network) = strcmp(s, "true") == 0;
            if (!mps)
                p->g->insecure_at = mark_of(value_of(p, pair));
            continue;
        }
        if (strcmp(key, "metrics") == 0) {
            if ((rc = metrics_option(p, value_of(p, pair))))
                return rc;
            continue;
        }
        double *out = strcmp(key, "duration") == 0 ? &p->g->duration_s : &p->g->drain_timeout_s;
        if ((rc = number(p, value_of(p, pair), key, 0, 31536000, false, out)))
            return rc;
    }
    return XMEM_OK;
}

/* ports: "FIRST-LAST" or one port. */
static xmem_err parse_ports(parser *p, struct fy_node *v, xmemi_graph_host *h)
{
    const char *s;
    xmem_err rc = scalar(p, v, "ports", &s);
    if (rc)
        return rc;
    h->ports_at = mark_of(v);
    if (!xmemi_host_ports_parse(s, &h->port_first, &h->port_last))
        return fail_at(
            p, v, "ports '%s': expected FIRST-LAST (1 <= FIRST <= LAST <= 65535) or one port", s);
    return XMEM_OK;
}

static xmem_err parse_host(parser *p, struct fy_node *n)
{
    xmemi_graph *g = p->g;
    if (g->n_hosts == XMEMI_GRAPH_MAX_HOSTS)
        return fail_at(p, n, "more than %d hosts", XMEMI_GRAPH_MAX_HOSTS);
    xmemi_graph_host *h = &g->hosts[g->n_hosts++];
    h->at = mark_of(n);
    h->port_first = XMEMI_HOST_PORTS_FIRST;
    h->port_last = XMEMI_HOST_PORTS_LAST;
    xmem_err rc = expect_mapping(p, n, h->at, "a host");
    if (rc)
        return rc;
    static const char *const keys[] = {"name", "address", "ports", "key", "pool", NULL};
    char *key_text = NULL;
    void *it = NULL;
    struct fy_node_pair *pair;
    while (rc == XMEM_OK && (pair = fy_node_mapping_iterate(n, &it))) {
        const char *key;
        struct fy_node *v = value_of(p, pair);
        xmemi_mark key_at = mark_of(fy_node_pair_key(pair));
        if ((rc = known_key(p, fy_node_pair_key(pair), "a host", keys, &key)))
            break;
        if (strcmp(key, "name") == 0) {
            if ((rc = dup_scalar(p, v, "host name", &h->name)))
                break;
            if (!xmemi_valid_name(h->name))
                rc = fail_at(p, v, "host name '%s': expected [a-z0-9_]+ (63 at most)", h->name);
            for (uint32_t i = 0; rc == XMEM_OK && i + 1 < g->n_hosts; i++)
                if (g->hosts[i].name && strcmp(g->hosts[i].name, h->name) == 0)
                    rc = fail_at(p, v, "host name '%s' is used twice (first at line %d)", h->name,
                                 g->hosts[i].at.line);
        } else if (strcmp(key, "address") == 0) {
            h->address_at = mark_of(v);
            if ((rc = dup_scalar(p, v, "address", &h->address)))
                break;
            if (!xmemi_host_address_ok(h->address))
                rc = fail_at(p, v,
                             "address '%s': expected an IPv4 or IPv6 address or a host name "
                             "(letters, digits and '-' in labels of 63 at most, split by '.')",
                             h->address);
        } else if (strcmp(key, "ports") == 0) {
            rc = parse_ports(p, v, h);
        } else if (strcmp(key, "key") == 0) {
            h->key_at = mark_of(v);
            free(key_text);
            key_text = NULL;
            rc = dup_scalar(p, v, "key", &key_text);
        } else {
            h->pool_at = key_at;
            h->has_pool = true;
            rc = parse_pool_set(p, v, key_at, "a host's pool", &h->pool);
        }
    }
    if (rc == XMEM_OK && key_text) {
        /* Relative to the graph file, as plugin paths are. */
        if (key_text[0] == '/')
            h->key = key_text, key_text = NULL;
        else if (asprintf(&h->key, "%s/%s", g->dir, key_text) < 0)
            h->key = NULL, rc = xmemi_fail(p->err, XMEM_ENOMEM, 0, "%s: no memory", g->path);
    }
    free(key_text);
    if (rc)
        return rc;
    if (!h->name)
        return fail_mark(p, h->at, "a host without 'name'");
    if (!h->address)
        return fail_mark(p, h->at, "host '%s' has no 'address' (where the other hosts reach it)",
                         h->name);
    return XMEM_OK;
}

static xmem_err parse_hosts(parser *p, struct fy_node *v, xmemi_mark key_at)
{
    p->g->hosts_at = key_at;
    if (!v || !fy_node_is_sequence(v) || fy_node_sequence_item_count(v) == 0)
        return fail_mark(p, v && mark_of(v).line ? mark_of(v) : key_at,
                         "hosts: expected a list of hosts (- {name: N, address: A, key: FILE})");
    void *it = NULL;
    struct fy_node *n;
    xmem_err rc = XMEM_OK;
    while (rc == XMEM_OK && (n = fy_node_sequence_iterate(v, &it)))
        rc = parse_host(p, n);
    return rc;
}

static xmem_err parse_root(parser *p, struct fy_node *root)
{
    xmem_err rc = expect_mapping(p, root, (xmemi_mark){1, 1}, "the graph file");
    if (rc)
        return rc;
    static const char *const keys[] = {"pool", "nodes", "options", "hosts", NULL};
    struct fy_node *nodes = NULL;
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(root, &it))) {
        const char *key;
        struct fy_node *v = value_of(p, pair);
        xmemi_mark key_at = mark_of(fy_node_pair_key(pair));
        if ((rc = known_key(p, fy_node_pair_key(pair), "the graph", keys, &key)))
            return rc;
        if (strcmp(key, "pool") == 0)
            rc = parse_pool(p, v, key_at);
        else if (strcmp(key, "options") == 0)
            rc = parse_options(p, v, key_at);
        else if (strcmp(key, "hosts") == 0)
            rc = parse_hosts(p, v, key_at);
        else if (!v || !fy_node_is_sequence(v))
            rc = fail_mark(p, v ? mark_of(v) : key_at, "nodes: expected a list of nodes");
        else
            nodes = v;
        if (rc)
            return rc;
    }
    if (!nodes || fy_node_sequence_item_count(nodes) == 0)
        return fail_mark(p, (xmemi_mark){1, 1}, "no nodes: expected 'nodes:' with a list");
    it = NULL;
    struct fy_node *n;
    while ((n = fy_node_sequence_iterate(nodes, &it)))
        if ((rc = parse_node(p, n)))
            return rc;
    /* hosts:, nodes: and options: may come in any order: placed and checked once all are read */
    return xmemi_graph_check_hosts(p->g, p->err);
}

/* A mapping's key, for finding those written twice. */
typedef struct key_ref {
    const char *text;
    size_t len;
    struct fy_node *node;
    size_t order; /* its place in the mapping */
} key_ref;

static bool same_text(const key_ref *x, const key_ref *y)
{
    return x->len == y->len && memcmp(x->text, y->text, x->len) == 0;
}

static int by_text_then_order(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    int c = memcmp(x->text, y->text, x->len < y->len ? x->len : y->len);
    if (c == 0)
        c = (x->len > y->len) - (x->len < y->len);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* Refuses a key written twice in any mapping, at the second, the first in the file when there
 * are more. libfyaml's own check compares each key with every one before it (two minutes for a
 * mapping of 40000 keys, which a file under the size limit can hold), so it is off and this one
 * sorts. Keys that are not plain scalars are left to the walk, which refuses them. */
static xmem_err unique_keys(parser *p, struct fy_node *n)
{
    void *it = NULL;
    xmem_err rc = XMEM_OK;
    if (n && fy_node_is_sequence(n)) {
        struct fy_node *item;
        while (!rc && (item = fy_node_sequence_iterate(n, &it)))
            rc = unique_keys(p, item);
        return rc;
    }
    if (!n || !fy_node_is_mapping(n))
        return XMEM_OK;
    int count = fy_node_mapping_item_count(n);
    key_ref *keys = malloc((count > 0 ? (size_t)count : 1) * sizeof *keys);
    if (!keys)
        return xmemi_fail(p->err, XMEM_ENOMEM, 0, "%s: no memory", p->g->path);
    size_t used = 0;
    struct fy_node_pair *pair;
    for (size_t order = 0; (pair = fy_node_mapping_iterate(n, &it)); order++) {
        key_ref *k = &keys[used];
        *k = (key_ref){.node = fy_node_pair_key(pair), .order = order};
        if (k->node && fy_node_is_scalar(k->node) && !fy_node_is_alias(k->node) &&
            (k->text = fy_node_get_scalar(k->node, &k->len)))
            used++;
    }
    qsort(keys, used, sizeof *keys, by_text_then_order);
    const key_ref *again = NULL, *first = NULL; /* of the key repeated first */
    for (size_t i = 1; i < used; i++)
        if (same_text(&keys[i - 1], &keys[i]) && (i < 2 || !same_text(&keys[i - 2], &keys[i])) &&
            (!again || keys[i].order < again->order)) {
            first = &keys[i - 1];
            again = &keys[i];
        }
    /* What is written before the repeated key comes first. */
    it = NULL;
    for (size_t order = 0;
         !rc && (!again || order < again->order) && (pair = fy_node_mapping_iterate(n, &it));
         order++)
        rc = unique_keys(p, fy_node_pair_value(pair));
    if (!rc && again) {
        xmemi_mark at = mark_of(first->node);
        rc = fail_at(p, again->node, "duplicate key '%.*s' (first at line %d, column %d)",
                     (int)again->len, again->text, at.line, at.column);
    }
    free(keys);
    return rc;
}

/* libfyaml's first diagnostic line, "FILE:LINE:COLUMN: error: WHAT" (its collected-errors API
 * leaks in 0.7, so the text it prints is caught instead). */
typedef struct diag_text {
    char line[XMEM_ERROR_MSG_MAX];
    bool have;
} diag_text;

static void catch_first_line(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    diag_text *t = user;
    if (t->have)
        return;
    size_t n = strcspn(buf, "\n");
    n = n < len ? n : len;
    snprintf(t->line, sizeof t->line, "%.*s", (int)n, buf);
    t->have = true;
}

/* A syntax error in our format: position and text from libfyaml's line, whose file name is its
 * own label for the text in memory ("<memory-@...>", with no ':'). */
static xmem_err syntax_error(parser *p, const diag_text *t)
{
    const char *colon = t->have ? strchr(t->line, ':') : NULL;
    int line = 0, column = 0, used = 0;
    if (colon && sscanf(colon, ":%d:%d: %n", &line, &column, &used) == 2 && used > 0) {
        const char *what = colon + used;
        if (strncmp(what, "error: ", 7) == 0)
            what += 7;
        return fail_mark(p, (xmemi_mark){line, column}, "YAML syntax: %s", what);
    }
    /* No positioned diagnostic: libfyaml found no document at all (empty, or comments only). */
    return xmemi_fail(p->err, XMEM_ECONFIG, 0,
                      "%s: no YAML document in it (expected pool:, nodes: and options:)",
                      p->g->path);
}

/* The default pool name: xmem-<file name up to its first '.'>, with what a pool name cannot hold
 * as '-'; xmem-stdin for stdin. */
static void default_pool_name(xmemi_graph *g, const char *path)
{
    const char *base = strcmp(path, "-") == 0 ? "stdin" : strrchr(path, '/');
    base = !base ? path : base[0] == '/' ? base + 1 : base;
    size_t stem = strcspn(base, "."), n = snprintf(g->pool_name, sizeof g->pool_name, "xmem-");
    for (size_t i = 0; i < stem && n + 1 < sizeof g->pool_name && n < XMEM_POOL_NAME_MAX; i++) {
        char c = base[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        g->pool_name[n++] = ok ? c : '-';
    }
    g->pool_name[n] = '\0';
}

/* Relative plugin paths start at the graph file's directory, as a compose file's do. A graph
 * from stdin or a pipe has none, and neither has one named through /dev or /proc (/dev/stdin,
 * /dev/fd/N, even when stdin is a file): those start at the current directory. */
static char *plugin_dir(const char *path, bool stream)
{
    if (stream || strcmp(path, "-") == 0 || strncmp(path, "/dev/", 5) == 0 ||
        strncmp(path, "/proc/", 6) == 0)
        return strdup(".");
    char *copy = strdup(path), *dir = copy ? strdup(dirname(copy)) : NULL;
    free(copy);
    return dir;
}

/* libfyaml parses the text in memory (it must outlive the document), reporting to `text`. */
static xmem_err parse_text(parser *p, const xmemi_graph_text *t)
{
    diag_text text = {.have = false};
    struct fy_diag_cfg dc;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.output_fn = catch_first_line;
    dc.user = &text;
    dc.colorize = false;
    dc.show_source = false;
    dc.show_position = true;
    dc.show_type = true;
    dc.show_module = false;
    struct fy_diag *diag = fy_diag_create(&dc);
    struct fy_parse_cfg pc = {
        .flags = FYPCF_QUIET | FYPCF_DEFAULT_PARSE | FYPCF_ALLOW_DUPLICATE_KEYS, .diag = diag};
    struct fy_parser *fyp = diag ? fy_parser_create(&pc) : NULL;
    struct fy_document *doc = NULL, *more = NULL;
    if (!fyp) {
        if (diag)
            fy_diag_unref(diag);
        return xmemi_fail(p->err, XMEM_ENOMEM, 0, "%s: no memory for the YAML parser", p->g->path);
    }
    if (fy_parser_set_string(fyp, t->data, t->len) == 0 && (doc = fy_parse_load_document(fyp)))
        more = fy_parse_load_document(fyp); /* a graph is one document: say so of a second */
    xmem_err rc = !doc   ? syntax_error(p, &text)
                  : more ? fail_mark(p, (xmemi_mark){1, 1},
                                     "more than one YAML document ('---'): a graph file holds one")
                         : unique_keys(p, fy_document_root(doc));
    if (doc && !more && rc == XMEM_OK)
        rc = parse_root(p, fy_document_root(doc));
    fy_parse_document_destroy(fyp, more);
    fy_parse_document_destroy(fyp, doc);
    fy_parser_destroy(fyp);
    fy_diag_unref(diag);
    return rc;
}

xmem_err xmemi_graph_parse(const char *path, xmemi_graph *g, xmem_error_t *err)
{
    memset(g, 0, sizeof *g);
    g->drain_timeout_s = 5;
    parser p = {.g = g, .err = err};
    if (!(g->path = strdup(strcmp(path, "-") == 0 ? "<stdin>" : path)))
        return xmemi_fail(err, XMEM_ENOMEM, 0, "%s: no memory", path);
    xmemi_graph_text text;
    xmem_err rc =
        xmemi_graph_file_read(g, path, XMEMI_GRAPH_FILE_MAX, XMEMI_GRAPH_FILE_WAIT_MS, &text, err);
    if (rc == XMEM_OK && !(g->dir = plugin_dir(path, text.stream)))
        rc = xmemi_fail(err, XMEM_ENOMEM, 0, "%s: no memory", g->path);
    if (rc == XMEM_OK)
        rc = parse_text(&p, &text);
    xmemi_graph_text_free(&text);
    if (rc == XMEM_OK && !g->pool_name[0])
        default_pool_name(g, path);
    if (rc)
        xmemi_graph_free(g);
    return rc;
}

void xmemi_graph_node_free(xmemi_graph_node *n)
{
    free(n->name);
    free(n->plugin);
    free(n->host_name);
    for (uint32_t k = 0; k < n->n_params; k++) {
        free(n->params[k].name);
        free(n->params[k].value);
    }
    free(n->params);
    for (uint32_t k = 0; k < n->n_inputs; k++) {
        free(n->inputs[k].port);
        free(n->inputs[k].from_node);
        free(n->inputs[k].from_port);
    }
    free(n->inputs);
    xmemi_plugin_close(&n->loaded);
    memset(n, 0, sizeof *n);
}

void xmemi_graph_free(xmemi_graph *g)
{
    for (uint32_t i = 0; i < g->n_nodes; i++)
        xmemi_graph_node_free(&g->nodes[i]);
    for (uint32_t i = 0; i < g->n_hosts; i++) {
        free(g->hosts[i].name);
        free(g->hosts[i].address);
        free(g->hosts[i].key);
    }
    free(g->path);
    free(g->dir);
    memset(g, 0, sizeof *g);
}
