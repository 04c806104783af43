/* Node parameters: parsing a value for its declared type and range, and filling a node's values
 * from `name=value` assignments plus the plugin's defaults. Graph files and the command line go
 * through the same code, so a value means the same wherever it is written. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/fail.h"
#include "node_internal.h"

const char *xmemi_param_type_name(xmem_param_type type)
{
    static const char *const names[] = {"int", "float", "string", "bool", "enum"};
    return (unsigned)type < sizeof names / sizeof names[0] ? names[type] : "unknown";
}

static bool ranged(const xmem_node_param *def)
{
    return (def->type == XMEM_PARAM_INT || def->type == XMEM_PARAM_FLOAT) && def->min < def->max;
}

/* An int's bound in full (%g would print 17179869184 as 1.71799e+10); doubles hold every int up
 * to 2^53 exactly, and a bound beyond that is no real limit, so %g serves it. */
static void print_bound(const xmem_node_param *def, double v, char *buf, size_t len)
{
    if (def->type == XMEM_PARAM_INT && fabs(v) <= 9007199254740992.0)
        snprintf(buf, len, "%lld", (long long)v);
    else
        snprintf(buf, len, "%g", v);
}

void xmemi_param_describe(const xmem_node_param *def, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s", xmemi_param_type_name(def->type));
    if (n < 0 || (size_t)n >= len)
        return;
    if (ranged(def)) {
        char lo[32], hi[32];
        print_bound(def, def->min, lo, sizeof lo);
        print_bound(def, def->max, hi, sizeof hi);
        snprintf(buf + n, len - (size_t)n, " in [%s, %s]", lo, hi);
    } else if (def->type == XMEM_PARAM_ENUM && def->choices) {
        for (const char *const *c = def->choices; *c && (size_t)n < len; c++) {
            int k = snprintf(buf + n, len - (size_t)n, "%s%s", c == def->choices ? ": " : "|", *c);
            if (k < 0)
                return;
            n += k;
        }
    }
}

static xmem_err bad(const char *node, const xmem_node_param *def, const char *text,
                    const char *where, const char *why, xmem_error_t *err)
{
    char accepts[256];
    xmemi_param_describe(def, accepts, sizeof accepts);
    return xmemi_fail(err, XMEM_ECONFIG, 0,
                      "%s: node '%s': parameter '%s' = '%s': %s (expected %s)", where, node,
                      def->name, text, why, accepts);
}

static bool parse_bool(const char *t, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(t, yes[i]) == 0)
            return *out = true, true;
        if (strcasecmp(t, no[i]) == 0)
            return *out = false, true;
    }
    return false;
}

xmem_err xmemi_param_parse(const char *node, const xmem_node_param *def, const char *text,
                           const char *where, xmemi_param_value *out, xmem_error_t *err)
{
    xmemi_param_value v = {.def = def};
    char *end = NULL;
    errno = 0;
    switch (def->type) {
    case XMEM_PARAM_INT: {
        long long x = strtoll(text, &end, 0);
        if (end == text || *end != '\0')
            return bad(node, def, text, where, "not an integer", err);
        if (errno == ERANGE || (ranged(def) && ((double)x < def->min || (double)x > def->max)))
            return bad(node, def, text, where, "out of range", err);
        v.i = x;
        v.f = (double)x;
        break;
    }
    case XMEM_PARAM_FLOAT: {
        double x = strtod(text, &end);
        if (end == text || *end != '\0' || !isfinite(x))
            return bad(node, def, text, where, "not a finite number", err);
        if (errno == ERANGE || (ranged(def) && (x < def->min || x > def->max)))
            return bad(node, def, text, where, "out of range", err);
        v.f = x;
        break;
    }
    case XMEM_PARAM_BOOL:
        if (!parse_bool(text, &v.b))
            return bad(node, def, text, where, "not a boolean (true/false, yes/no, on/off, 1/0)",
                       err);
        break;
    case XMEM_PARAM_ENUM: {
        bool found = false;
        for (uint32_t i = 0; def->choices && def->choices[i]; i++)
            if (strcmp(def->choices[i], text) == 0) {
                v.choice = i;
                found = true;
            }
        if (!found)
            return bad(node, def, text, where, "not one of the choices", err);
        break;
    }
    case XMEM_PARAM_STRING: break;
    default: return bad(node, def, text, where, "the plugin declares an unknown type", err);
    }
    v.text = strdup(text);
    if (!v.text)
        return xmemi_fail(err, XMEM_ENOMEM, 0, "node '%s': no memory for parameter '%s'", node,
                          def->name);
    *out = v;
    return XMEM_OK;
}

void xmemi_param_value_clear(xmemi_param_value *v)
{
    free(v->text);
    v->text = NULL;
}

void xmemi_params_free(xmem_node_t *node)
{
    for (uint32_t i = 0; i < node->n_params; i++)
        xmemi_param_value_clear(&node->params[i]);
    free(node->params);
    node->params = NULL;
    node->n_params = 0;
}

const xmem_node_param *xmemi_param_find(const xmem_node_plugin *p, const char *name, size_t len,
                                        uint32_t *index)
{
    for (uint32_t i = 0; i < p->n_params; i++)
        if (strlen(p->params[i].name) == len && strncmp(p->params[i].name, name, len) == 0) {
            *index = i;
            return &p->params[i];
        }
    return NULL;
}

void xmemi_param_list(const xmem_node_plugin *p, char *buf, size_t len)
{
    size_t used = 0;
    snprintf(buf, len, "none");
    for (uint32_t i = 0; i < p->n_params && used < len; i++) {
        int k = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", p->params[i].name);
        if (k < 0)
            return;
        used += (size_t)k;
    }
}

static xmem_err unknown(const xmem_node_t *node, const char *a, size_t len, xmem_error_t *err)
{
    char names[384];
    xmemi_param_list(node->plugin, names, sizeof names);
    return xmemi_fail(err, XMEM_ECONFIG, 0,
                      "--param: node '%s': plugin '%s' has no parameter '%.*s' (it has: %s)",
                      node->name, node->plugin->name, (int)len, a, names);
}

xmem_err xmemi_params_set(xmem_node_t *node, const char *const *assignments, uint32_t n,
                          xmem_error_t *err)
{
    const xmem_node_plugin *p = node->plugin;
    uint32_t count = p->n_params;
    xmemi_param_value *vals = calloc(count ? count : 1, sizeof *vals);
    if (!vals)
        return xmemi_fail(err, XMEM_ENOMEM, 0, "node '%s': no memory for parameters", node->name);
    xmem_err rc = XMEM_OK;
    for (uint32_t a = 0; a < n; a++) {
        const char *eq = strchr(assignments[a], '=');
        if (!eq) {
            rc = xmemi_fail(err, XMEM_ECONFIG, 0,
                            "--param: node '%s': '%s' is not of the form name=value", node->name,
                            assignments[a]);
            goto fail;
        }
        uint32_t i;
        const xmem_node_param *def =
            xmemi_param_find(p, assignments[a], (size_t)(eq - assignments[a]), &i);
        if (!def) {
            rc = unknown(node, assignments[a], (size_t)(eq - assignments[a]), err);
            goto fail;
        }
        if (vals[i].text) {
            rc = xmemi_fail(err, XMEM_ECONFIG, 0, "--param: node '%s': parameter '%s' given twice",
                            node->name, def->name);
            goto fail;
        }
        if ((rc = xmemi_param_parse(node->name, def, eq + 1, "--param", &vals[i], err)))
            goto fail;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (vals[i].text)
            continue;
        const xmem_node_param *def = &p->params[i];
        if (!def->default_value) {
            char accepts[256];
            xmemi_param_describe(def, accepts, sizeof accepts);
            rc = xmemi_fail(err, XMEM_ECONFIG, 0,
                            "node '%s': parameter '%s' (%s) is required: give --param %s=VALUE",
                            node->name, def->name, accepts, def->name);
            goto fail;
        }
        if ((rc = xmemi_param_parse(node->name, def, def->default_value, "default", &vals[i], err)))
            goto fail;
    }
    node->params = vals;
    node->n_params = count;
    return XMEM_OK;

fail:
    for (uint32_t i = 0; i < count; i++)
        xmemi_param_value_clear(&vals[i]);
    free(vals);
    return rc;
}
