/* Node files as plugins: `xmem plugins` describes a Python node's kind, ports and typed parameters
 * (defaults, ranges, choices, help) as it does a C plugin's, finds node files by name in
 * XMEM_PLUGIN_PATH, and refuses broken ones naming the file and line; `xmem validate` checks a
 * graph's parameters against a node file's declarations without running it; a node gets its
 * parameters typed as declared.
 *   xmem plugins -v examples/python/gradient.py
 *   xmem validate graph.yaml          (a node with plugin: some_node.py) */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "run_util.h"

static char pool_name[64];
static xmem_pool_t *pool;

static void setup(void)
{
    cr_assert(xnt_setup(), "cannot make a scratch directory");
    unsetenv("XMEM_PLUGIN_PATH");
    pool = xf_pool_create(pool_name, "pyplugin", 16);
}

static void teardown(void)
{
    xnt_cleanup();
    xmem_pool_destroy(&pool);
}

static xnt_child c;

/* Runs `xmem ARGS...`: its exit status, with stdout and stderr in c. */
static int xmem(const char *const *args)
{
    const char *argv[16] = {XMEM_CLI};
    for (int i = 0; args[i] && i < 14; i++)
        argv[i + 1] = args[i];
    return xnt_run(argv, "xmem", &c);
}

#define XMEM(...) xmem((const char *[]){__VA_ARGS__, NULL})

static void expect_in(const char *text, const char *where, const char *name)
{
    cr_assert(not(eq(ptr, strstr(where, text), NULL)), "no \"%s\" in %s:\n%s", text, name, where);
}

Test(py_plugin, describes_a_source, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT_LONG)
{
    cr_assert(eq(int, XMEM("plugins", "-v", XMEM_EXAMPLES "/python/gradient.py"), 0), "%s", c.err);
    expect_in("py_gradient    1.0      " XMEM_EXAMPLES "/python/gradient.py", c.out, "stdout");
    expect_in("  a moving colour gradient, height x width x 3 uint8", c.out, "stdout");
    expect_in("kind: source (tick, at --rate)", c.out, "stdout");
    expect_in("output out            gradient frames", c.out, "stdout");
    expect_in("param  width          int in [1, 16384], default 640", c.out, "stdout");
    expect_in("frame width in pixels", c.out, "stdout");
    expect_in("param  frames         int in [0, 1000000000000], default 0", c.out, "stdout");
}

Test(py_plugin, describes_every_parameter_type, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    cr_assert(eq(int, XMEM("plugins", PY_NODES "/typed.py"), 0), "%s", c.err);
    expect_in("param  count          int in [1, 10], default 3", c.out, "stdout");
    expect_in("param  ratio          float in [0, 1], default 0.5", c.out, "stdout");
    expect_in("param  label          string, required", c.out, "stdout");
    expect_in("param  on             bool, default false", c.out, "stdout");
    expect_in("param  mode           enum: fast|exact, default fast", c.out, "stdout");
    expect_in("an enum", c.out, "stdout");
}

/* The node reads its parameters as Python values of the declared types, defaults filled in. */
Test(py_plugin, parameters_arrive_typed, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    cr_assert(
        eq(int,
           XMEM("node", "--plugin", PY_NODES "/typed.py", "--pool", pool_name, "--param",
                "label=hi", "--param", "count=7", "--param", "on=yes", "--param", "mode=exact"),
           0),
        "%s", c.err);
    expect_in("typed: count=7:int ratio=0.5:float label='hi':str on=True:bool mode='exact':str",
              c.err, "stderr");
}

Test(py_plugin, wrong_parameter_stops_the_node, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    cr_assert(eq(int,
                 XMEM("node", "--plugin", PY_NODES "/typed.py", "--pool", pool_name, "--param",
                      "label=hi", "--param", "count=many"),
                 3),
              "%s", c.err);
    expect_in("parameter 'count' = 'many': not an integer (expected int in [1, 10])", c.err,
              "stderr");
    cr_assert(eq(int, XMEM("node", "--plugin", PY_NODES "/typed.py", "--pool", pool_name), 3));
    expect_in("parameter 'label' (string) is required", c.err, "stderr");
}

/* A name in XMEM_PLUGIN_PATH finds NAME.py; listing the path shows node files with the rest. */
Test(py_plugin, found_in_plugin_path, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT_LONG)
{
    cr_assert(eq(int, setenv("XMEM_PLUGIN_PATH", PY_NODES, 1), 0));
    cr_assert(eq(int, XMEM("plugins", "keeper"), 0), "%s", c.err);
    expect_in("keeper         1.0      " PY_NODES "/keeper.py", c.out, "stdout");
    expect_in("param  keep           int in [1, 64], default 4", c.out, "stdout");
    cr_assert(eq(int, XMEM("plugins"), 0), "%s", c.err);
    expect_in("\nboom           1.0      " PY_NODES "/boom.py", c.out, "stdout");
    expect_in("\ntyped          1.0      " PY_NODES "/typed.py", c.out, "stdout");
}

/* A node file that cannot be a node: what `xmem plugins` says (exit 1). */
typedef struct refusal {
    char file[32];
    char says[96];
} refusal;

static refusal refusals[] = {
    {"syntax_error.py", "bad/syntax_error.py:6: SyntaxError: expected ':'"},
    {"import_error.py",
     "bad/import_error.py:4: ModuleNotFoundError: No module named 'no_such_module_here'"},
    {"raises.py", "bad/raises.py:5: ZeroDivisionError: division by zero"},
    {"no_class.py", "defines no node class (a subclass of xmem.Node)"},
    {"two_classes.py", "defines 2 node classes (One, Two): one per file"},
    {"no_process.py", "node 'no_process' has inputs but no process callback"},
    {"bad_default.py", "parameter 'size': default 'big' is not an int"},
    {"absent.py", "no such file"},
};

ParameterizedTestParameters(py_plugin, refused)
{
    return cr_make_param_array(refusal, refusals, sizeof refusals / sizeof refusals[0]);
}

ParameterizedTest(refusal *r, py_plugin, refused, .init = setup, .fini = teardown,
                  .timeout = XF_TIMEOUT_LONG)
{
    char path[512], prefix[600];
    snprintf(path, sizeof path, "%s/bad/%s", PY_NODES, r->file);
    snprintf(prefix, sizeof prefix, "xmem plugins: plugin %s refused: ", path);
    cr_assert(eq(int, XMEM("plugins", path), 3), "accepted:\n%s", c.out);
    expect_in(prefix, c.err, "stderr");
    expect_in(r->says, c.err, "stderr");
}

/* `xmem validate` on a graph naming a node file: file:line:column of the graph, then the node
 * file's own line. */
static char graph[600];

static void write_graph(const char *src_plugin, const char *src_params)
{
    xnt_path(graph, sizeof graph, "graph.yaml");
    FILE *f = fopen(graph, "w");
    cr_assert(not(eq(ptr, f, NULL)));
    fprintf(f,
            "pool: {name: %s}\n"
            "nodes:\n"
            "  - name: src\n"
            "    plugin: %s\n"
            "    params: %s\n"
            "  - {name: sink, plugin: \"null\", inputs: {in: src/out}}\n",
            pool_name, src_plugin, src_params);
    fclose(f);
}

Test(py_plugin, validate_checks_parameters, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    write_graph(XMEM_EXAMPLES "/python/gradient.py", "{width: 320, frames: 10}");
    cr_assert(eq(int, XMEM("validate", graph), 0), "%s", c.err);
    expect_in("\n  src  py_gradient\n", c.out, "stdout");
    write_graph(XMEM_EXAMPLES "/python/gradient.py", "{width: wide}");
    cr_assert(eq(int, XMEM("validate", graph), 3), "%s", c.out);
    expect_in("graph.yaml:5:21: node 'src': parameter 'width' = 'wide': not an integer (expected "
              "int in [1, 16384])",
              c.err, "stderr");
    write_graph(XMEM_EXAMPLES "/python/gradient.py", "{depth: 3}");
    cr_assert(eq(int, XMEM("validate", graph), 3), "%s", c.out);
    expect_in("graph.yaml:5:14: node 'src': plugin 'py_gradient' has no parameter 'depth' (it "
              "has: width, height, frames)",
              c.err, "stderr");
}

Test(py_plugin, validate_names_the_broken_line, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT_LONG)
{
    write_graph(PY_NODES "/bad/syntax_error.py", "{}");
    cr_assert(eq(int, XMEM("validate", graph), 3), "%s", c.out);
    expect_in("graph.yaml:4:13: node 'src': plugin " PY_NODES
              "/bad/syntax_error.py refused: " PY_NODES "/bad/syntax_error.py:6: SyntaxError",
              c.err, "stderr");
    write_graph(PY_NODES "/bad/import_error.py", "{}");
    cr_assert(eq(int, XMEM("validate", graph), 3), "%s", c.out);
    expect_in("import_error.py:4: ModuleNotFoundError: No module named 'no_such_module_here'",
              c.err, "stderr");
}
