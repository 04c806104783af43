/* Node parameters: xmemi_params_set fills a node's values from `name=value` assignments and the
 * plugin's defaults, as the host does for `--param`; every value is parsed for its declared type
 * and range, and every refusal is XMEM_ECONFIG with a message naming the node, the parameter and
 * what it accepts. The typed getters of node.h read the results. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <signal.h>
#include <string.h>

#include "nodes/node_internal.h"
#include "nodes/plugin_loader.h"

static const char *const modes[] = {"fast", "slow", "exact", NULL};

static const xmem_node_param params[] = {
    {"count", XMEM_PARAM_INT, "10", "how many", 1, 100, NULL},
    {"offset", XMEM_PARAM_INT, "0", "unbounded", 0, 0, NULL},
    {"gain", XMEM_PARAM_FLOAT, "0.5", "a factor", 0, 2, NULL},
    {"enabled", XMEM_PARAM_BOOL, "true", "on or off", 0, 0, NULL},
    {"label", XMEM_PARAM_STRING, "cam", "free text", 0, 0, NULL},
    {"mode", XMEM_PARAM_ENUM, "fast", "how", 0, 0, modes},
    {"device", XMEM_PARAM_STRING, NULL, "required", 0, 0, NULL},
};
#define N_PARAMS (sizeof params / sizeof params[0])

static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *in,
                        xmem_error_t *err)
{
    (void)node;
    (void)state;
    (void)port;
    (void)in;
    (void)err;
    return XMEM_OK;
}

static const xmem_node_port inputs[] = {{"in", "frames"}};

static const xmem_node_plugin plugin = {
    .magic = XMEM_NODE_ABI_MAGIC,
    .abi_version = XMEM_NODE_ABI_VERSION,
    .size = sizeof(xmem_node_plugin),
    .name = "camera",
    .params = params,
    .n_params = N_PARAMS,
    .inputs = inputs,
    .n_inputs = 1,
    .process = process,
};

/* A node as the host sets it up before the parameters: its plugin and its name. */
static xmem_node_t node;

static void setup(void)
{
    memset(&node, 0, sizeof node);
    node.plugin = &plugin;
    node.name = "cam0";
    node.log_level = XMEM_LOG_INFO;
}

static void teardown(void)
{
    xmemi_params_free(&node);
}

/* The descriptor itself is one the loader accepts (its defaults parse). */
Test(params, descriptor_is_valid)
{
    xmem_node_plugin out;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_plugin_check(&plugin, sizeof plugin, "test", &out, &err), XMEM_OK),
              "%s", err.msg);
}

Test(params, defaults_applied, .init = setup, .fini = teardown)
{
    const char *a[] = {"device=/dev/video0"};
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_params_set(&node, a, 1, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, node.n_params, (uint32_t)N_PARAMS));
    for (uint32_t i = 0; i < node.n_params; i++)
        cr_assert(eq(ptr, (void *)node.params[i].def, (void *)&params[i]),
                  "values in declaration order");
    cr_assert(eq(i64, xmem_node_param_int(&node, "count"), 10));
    cr_assert(eq(i64, xmem_node_param_int(&node, "offset"), 0));
    cr_assert(eq(dbl, xmem_node_param_float(&node, "gain"), 0.5));
    cr_assert(xmem_node_param_bool(&node, "enabled"));
    cr_assert(eq(str, (char *)xmem_node_param_string(&node, "label"), "cam"));
    cr_assert(eq(str, (char *)xmem_node_param_enum(&node, "mode"), "fast"));
    cr_assert(eq(u32, xmem_node_param_enum_index(&node, "mode"), 0));
    cr_assert(eq(str, (char *)xmem_node_param_string(&node, "device"), "/dev/video0"));

    xmemi_params_free(&node);
    cr_assert(eq(ptr, node.params, NULL));
    cr_assert(eq(u32, node.n_params, 0));
}

/* Every parameter given at once, none from its default. */
Test(params, all_given, .init = setup, .fini = teardown)
{
    const char *a[] = {"mode=exact", "device=d",    "count=0x10", "offset=-3",
                       "gain=1e-3",  "enabled=off", "label=a=b"};
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_params_set(&node, a, 7, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(i64, xmem_node_param_int(&node, "count"), 16));
    cr_assert(eq(i64, xmem_node_param_int(&node, "offset"), -3));
    cr_assert(eq(dbl, xmem_node_param_float(&node, "gain"), 1e-3));
    cr_assert(not(xmem_node_param_bool(&node, "enabled")));
    cr_assert(eq(str, (char *)xmem_node_param_string(&node, "label"), "a=b"),
              "the value is everything after the first '='");
    cr_assert(eq(str, (char *)xmem_node_param_enum(&node, "mode"), "exact"));
    cr_assert(eq(u32, xmem_node_param_enum_index(&node, "mode"), 2));
}

/* One accepted value: `assignment` sets `param`, which then reads back as the expected value of
 * its type. (Criterion copies parameters byte for byte into the test's process: text, not
 * pointers.) */
typedef struct good_value {
    char assignment[64];
    char param[16];
    int64_t i;
    double f;
    bool b;
    char text[32];
    uint32_t choice;
} good_value;

static good_value good_values[] = {
    {"count=0x10", "count", .i = 16},
    {"count=1", "count", .i = 1},     /* the range is inclusive */
    {"count=100", "count", .i = 100}, /* at both ends */
    {"count=010", "count", .i = 8},   /* C's prefixes: octal too */
    {"offset=-3", "offset", .i = -3},
    {"offset=-0x10", "offset", .i = -16},
    {"offset=9223372036854775807", "offset", .i = INT64_MAX},
    {"gain=1e-3", "gain", .f = 1e-3},
    {"gain=2", "gain", .f = 2.0},
    {"gain=0", "gain", .f = 0.0},
    {"enabled=yes", "enabled", .b = true},
    {"enabled=off", "enabled", .b = false},
    {"enabled=1", "enabled", .b = true},
    {"enabled=0", "enabled", .b = false},
    {"enabled=FALSE", "enabled", .b = false},
    {"enabled=On", "enabled", .b = true},
    {"label=", "label", .text = ""},
    {"label=hello world", "label", .text = "hello world"},
    {"mode=slow", "mode", .text = "slow", .choice = 1},
    {"mode=exact", "mode", .text = "exact", .choice = 2},
};

ParameterizedTestParameters(params, value_parsed)
{
    return cr_make_param_array(good_value, good_values, sizeof good_values / sizeof good_values[0]);
}

ParameterizedTest(good_value *v, params, value_parsed, .init = setup, .fini = teardown)
{
    const char *a[] = {v->assignment, "device=x"};
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_params_set(&node, a, 2, &err), XMEM_OK), "%s: %s", v->assignment,
              err.msg);
    const xmem_node_param *def = NULL;
    for (size_t i = 0; i < N_PARAMS; i++)
        if (strcmp(params[i].name, v->param) == 0)
            def = &params[i];
    cr_assert(not(eq(ptr, (void *)def, NULL)));
    switch (def->type) {
    case XMEM_PARAM_INT:
        cr_assert(eq(i64, xmem_node_param_int(&node, v->param), v->i), "%s", v->assignment);
        break;
    case XMEM_PARAM_FLOAT:
        cr_assert(eq(dbl, xmem_node_param_float(&node, v->param), v->f), "%s", v->assignment);
        break;
    case XMEM_PARAM_BOOL:
        cr_assert(eq(int, xmem_node_param_bool(&node, v->param), v->b), "%s", v->assignment);
        break;
    case XMEM_PARAM_STRING:
        cr_assert(eq(str, (char *)xmem_node_param_string(&node, v->param), v->text));
        break;
    case XMEM_PARAM_ENUM:
        cr_assert(eq(str, (char *)xmem_node_param_enum(&node, v->param), v->text));
        cr_assert(eq(u32, xmem_node_param_enum_index(&node, v->param), v->choice));
        break;
    }
}

/* A refused set of assignments, and what the message must say besides the node's name. */
typedef struct bad_values {
    char assignments[3][64];
    uint32_t n;
    char says[3][96];
} bad_values;

static bad_values bad[] = {
    /* unknown parameter: the message lists the ones there are */
    {{"colour=red", "device=x"},
     2,
     {"no parameter 'colour'", "plugin 'camera'",
      "(it has: count, offset, gain, enabled, label, mode, device)"}},
    /* wrong type */
    {{"count=ten", "device=x"},
     2,
     {"parameter 'count' = 'ten'", "not an integer", "int in [1, 100]"}},
    {{"count=12abc", "device=x"}, 2, {"parameter 'count'", "not an integer"}},
    {{"count=", "device=x"}, 2, {"parameter 'count'", "not an integer"}},
    {{"count=1.5", "device=x"}, 2, {"parameter 'count'", "not an integer"}},
    {{"gain=fast", "device=x"}, 2, {"parameter 'gain' = 'fast'", "not a finite number"}},
    {{"gain=nan", "device=x"}, 2, {"parameter 'gain'", "not a finite number"}},
    {{"gain=inf", "device=x"}, 2, {"parameter 'gain'", "not a finite number"}},
    {{"enabled=maybe", "device=x"},
     2,
     {"parameter 'enabled' = 'maybe'", "not a boolean", "yes/no"}},
    {{"enabled=", "device=x"}, 2, {"parameter 'enabled'", "not a boolean"}},
    /* out of range */
    {{"count=0", "device=x"}, 2, {"parameter 'count' = '0'", "out of range", "int in [1, 100]"}},
    {{"count=101", "device=x"}, 2, {"parameter 'count'", "out of range"}},
    {{"count=-1", "device=x"}, 2, {"parameter 'count'", "out of range"}},
    {{"offset=9223372036854775808", "device=x"}, 2, {"parameter 'offset'", "out of range"}},
    {{"gain=2.5", "device=x"}, 2, {"parameter 'gain' = '2.5'", "out of range", "float in [0, 2]"}},
    {{"gain=-0.1", "device=x"}, 2, {"parameter 'gain'", "out of range"}},
    {{"gain=1e999", "device=x"}, 2, {"parameter 'gain'"}},
    /* not a choice: the message lists the choices */
    {{"mode=medium", "device=x"},
     2,
     {"parameter 'mode' = 'medium'", "not one of the choices", "enum: fast|slow|exact"}},
    {{"mode=FAST", "device=x"}, 2, {"parameter 'mode'", "not one of the choices"}},
    /* required parameter missing: the message says how to give it */
    {{"count=5"}, 1, {"parameter 'device'", "is required", "--param device=VALUE"}},
    {{""}, 0, {"parameter 'device'", "is required"}},
    /* given twice, even with the same value */
    {{"count=5", "device=x", "count=5"}, 3, {"parameter 'count'", "given twice"}},
    /* not an assignment */
    {{"count", "device=x"}, 2, {"'count'", "not of the form name=value"}},
    {{"=5", "device=x"}, 2, {"no parameter ''"}},
};

ParameterizedTestParameters(params, refused)
{
    return cr_make_param_array(bad_values, bad, sizeof bad / sizeof bad[0]);
}

ParameterizedTest(bad_values *b, params, refused, .init = setup, .fini = teardown)
{
    const char *a[3] = {b->assignments[0], b->assignments[1], b->assignments[2]};
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_params_set(&node, a, b->n, &err), XMEM_ECONFIG), "accepted: %s %s %s",
              b->assignments[0], b->n > 1 ? b->assignments[1] : "",
              b->n > 2 ? b->assignments[2] : "");
    cr_assert(eq(int, err.code, XMEM_ECONFIG));
    cr_assert(not(eq(ptr, strstr(err.msg, "node 'cam0'"), NULL)), "no node name in: %s", err.msg);
    for (int i = 0; i < 3 && b->says[i][0]; i++)
        cr_assert(not(eq(ptr, strstr(err.msg, b->says[i]), NULL)), "no \"%s\" in: %s", b->says[i],
                  err.msg);
    /* On failure nothing is left set. */
    cr_assert(eq(ptr, node.params, NULL));
    cr_assert(eq(u32, node.n_params, 0));
}

/* A plugin without parameters takes none, and says so. */
Test(params, plugin_without_parameters, .init = setup, .fini = teardown)
{
    xmem_node_plugin none = plugin;
    none.params = NULL;
    none.n_params = 0;
    node.plugin = &none;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_params_set(&node, NULL, 0, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, node.n_params, 0));
    xmemi_params_free(&node);
    const char *a[] = {"count=1"};
    cr_assert(eq(int, xmemi_params_set(&node, a, 1, &err), XMEM_ECONFIG));
    cr_assert(not(eq(ptr, strstr(err.msg, "(it has: none)"), NULL)), "%s", err.msg);
}

/* The parser on its own: the origin it is given ends up in the message (a graph file's line). */
Test(params, parse_names_origin)
{
    xmemi_param_value v;
    xmem_error_t err = {0};
    cr_assert(
        eq(int, xmemi_param_parse("cam0", &params[0], "7", "graph.yaml:12:7", &v, &err), XMEM_OK),
        "%s", err.msg);
    cr_assert(eq(i64, v.i, 7));
    cr_assert(eq(str, v.text, "7"));
    xmemi_param_value_clear(&v);
    cr_assert(eq(ptr, v.text, NULL));
    cr_assert(eq(int, xmemi_param_parse("cam0", &params[0], "700", "graph.yaml:12:7", &v, &err),
                 XMEM_ECONFIG));
    const char *head = "graph.yaml:12:7: node 'cam0': parameter 'count' = '700': out of range";
    cr_assert(eq(int, strncmp(err.msg, head, strlen(head)), 0), "%s", err.msg);
}

Test(params, describe)
{
    char buf[256];
    xmemi_param_describe(&params[0], buf, sizeof buf);
    cr_assert(eq(str, buf, "int in [1, 100]"));
    xmemi_param_describe(&params[1], buf, sizeof buf);
    cr_assert(eq(str, buf, "int"), "no range when min == max");
    xmemi_param_describe(&params[2], buf, sizeof buf);
    cr_assert(eq(str, buf, "float in [0, 2]"));
    xmemi_param_describe(&params[3], buf, sizeof buf);
    cr_assert(eq(str, buf, "bool"));
    xmemi_param_describe(&params[5], buf, sizeof buf);
    cr_assert(eq(str, buf, "enum: fast|slow|exact"));
    /* Ints in full, whatever their size; a float's range as %g. */
    const xmem_node_param big[] = {
        {"bytes", XMEM_PARAM_INT, "0", "", 0, 17179869184.0, NULL},
        {"delta", XMEM_PARAM_INT, "0", "", -1e15, 1e15, NULL},
        {"huge", XMEM_PARAM_INT, "0", "", 0, 1e300, NULL},
        {"scale", XMEM_PARAM_FLOAT, "0", "", 0.001, 1e12, NULL},
    };
    xmemi_param_describe(&big[0], buf, sizeof buf);
    cr_assert(eq(str, buf, "int in [0, 17179869184]"));
    xmemi_param_describe(&big[1], buf, sizeof buf);
    cr_assert(eq(str, buf, "int in [-1000000000000000, 1000000000000000]"));
    xmemi_param_describe(&big[2], buf, sizeof buf);
    cr_assert(eq(str, buf, "int in [0, 1e+300]"), "beyond 2^53 no int is exact: %%g");
    xmemi_param_describe(&big[3], buf, sizeof buf);
    cr_assert(eq(str, buf, "float in [0.001, 1e+12]"));
    char tiny[6];
    xmemi_param_describe(&params[5], tiny, sizeof tiny);
    cr_assert(eq(str, tiny, "enum:"), "truncated, still terminated");
    cr_assert(eq(str, (char *)xmemi_param_type_name((xmem_param_type)99), "unknown"));
}

/* Reading a parameter with another type's getter, or one never declared, is a bug in the plugin:
 * the node aborts rather than return something made up. */
Test(params, getter_of_wrong_type_aborts, .init = setup, .fini = teardown, .signal = SIGABRT)
{
    const char *a[] = {"device=x"};
    cr_assert(eq(int, xmemi_params_set(&node, a, 1, NULL), XMEM_OK));
    (void)xmem_node_param_float(&node, "count");
}

Test(params, getter_of_undeclared_aborts, .init = setup, .fini = teardown, .signal = SIGABRT)
{
    const char *a[] = {"device=x"};
    cr_assert(eq(int, xmemi_params_set(&node, a, 1, NULL), XMEM_OK));
    (void)xmem_node_param_int(&node, "nosuch");
}
