/* The graph file parser and checker: a valid graph reads back as written (nodes, edges, queue
 * settings, restart policies, an order with upstream first, a derived pool size), and every kind
 * of mistake is refused with its file:line:column and what was expected. Each case writes a
 * small YAML file and parses it the way `xmem validate` does. The reading itself: NUL bytes and
 * bad UTF-8 refused where they are, files over the size limit, directories, FIFOs that wait for
 * a writer (or time out), stdin, and duplicate keys found without libfyaml's quadratic check. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "graph/graph.h"
#include "graph/graph_file.h"

static char path[128];

static void write_graph(const char *yaml)
{
    snprintf(path, sizeof path, "/tmp/xmemt-graph-%d.yaml", (int)getpid());
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fputs(yaml, f);
    fclose(f);
}

static void remove_graph(void)
{
    unlink(path);
}

/* Parses and checks; returns the error code, message in *err. */
static xmem_err load(const char *yaml, xmemi_graph *g, xmem_error_t *err)
{
    write_graph(yaml);
    xmem_err rc = xmemi_graph_parse(path, g, err);
    if (rc == XMEM_OK && (rc = xmemi_graph_check(g, err)) != XMEM_OK)
        xmemi_graph_free(g);
    return rc;
}

TestSuite(graph_parse, .fini = remove_graph);

Test(graph_parse, a_valid_graph_reads_back)
{
    xmemi_graph g;
    xmem_error_t err = {0};
    cr_assert(
        eq(int,
           load("pool: {name: xmemt_gp}\n"
                "options: {duration: 2.5, drain_timeout: 3, metrics: '0.0.0.0:9464'}\n"
                "nodes:\n"
                "  - name: sink\n"
                "    plugin: verify\n"
                "    inputs:\n"
                "      in: {from: inv/out, depth: 8, policy: block, block_timeout_ms: 250}\n"
                "    restart: {policy: on-failure, limit: 7}\n"
                "  - name: inv\n"
                "    plugin: invert\n"
                "    inputs: {in: src/out}\n"
                "    restart: always\n"
                "  - {name: src, plugin: testsrc, rate: 50, params: {width: 32, height: 8}}\n",
                &g, &err),
           XMEM_OK),
        "%s", err.msg);
    cr_assert(eq(str, g.pool_name, "xmemt_gp"));
    cr_assert(eq(dbl, g.duration_s, 2.5));
    cr_assert(eq(dbl, g.drain_timeout_s, 3.0));
    cr_assert(eq(str, g.metrics, "0.0.0.0:9464"));
    cr_assert(eq(u32, g.n_nodes, 3));
    const xmemi_graph_node *sink = &g.nodes[0], *inv = &g.nodes[1], *src = &g.nodes[2];
    cr_assert(eq(str, sink->inputs[0].from_node, "inv"));
    cr_assert(eq(u32, sink->inputs[0].depth, 8));
    cr_assert(eq(int, sink->inputs[0].policy, XMEM_POLICY_BLOCK));
    cr_assert(eq(int, sink->inputs[0].block_timeout_ms, 250));
    cr_assert(eq(int, inv->inputs[0].block_timeout_ms, 0), "the publisher's own by default");
    cr_assert(eq(int, sink->restart, XMEMI_RESTART_ON_FAILURE));
    cr_assert(eq(u32, sink->restart_limit, 7));
    cr_assert(eq(int, inv->restart, XMEMI_RESTART_ALWAYS));
    cr_assert(eq(int, inv->inputs[0].policy, XMEM_POLICY_DROP_OLDEST), "the default policy");
    cr_assert(eq(u32, inv->inputs[0].depth, 4), "the default depth");
    cr_assert(eq(dbl, src->rate_hz, 50.0));
    cr_assert(eq(u32, src->n_params, 2));
    cr_assert(eq(u32, g.order[0], 2), "src first");
    cr_assert(eq(u32, g.order[1], 1), "then inv");
    cr_assert(eq(u32, g.order[2], 0), "then sink");
    /* 8 (block) + 2 x 4 (drop_oldest) + 2 outputs being filled + 2 spare = 20 */
    cr_assert(eq(u32, xmemi_graph_buffers_needed(&g, NULL, 0), 20));
    cr_assert(eq(u32, g.buffers, 20), "derived from the graph");
    xmemi_graph_free(&g);
}

Test(graph_parse, a_default_pool_name_comes_from_the_file)
{
    xmemi_graph g;
    xmem_error_t err = {0};
    cr_assert(eq(int, load("nodes: [{name: src, plugin: testsrc}]\n", &g, &err), XMEM_OK), "%s",
              err.msg);
    char want[64];
    snprintf(want, sizeof want, "xmem-xmemt-graph-%d", (int)getpid());
    cr_assert(eq(str, g.pool_name, want));
    xmemi_graph_free(&g);
}

/* One mistake, where it is (line:column) and words the message must contain. */
typedef struct bad_case {
    const char *yaml;
    int line, column;
    const char *says;
} bad_case;

static const bad_case bad_cases[] = {
    /* YAML itself */
    {"nodes: [\n  {name: a\n", 3, 1, "YAML syntax"},
    {"nodes:\n  - name: a\n   plugin: x\n", 3, 4, "YAML syntax"},
    /* unknown keys, at the key */
    {"pol: {buffers: 4}\nnodes: [{name: s, plugin: testsrc}]\n", 1, 1, "unknown key 'pol'"},
    {"nodes:\n  - name: s\n    plugn: testsrc\n", 3, 5, "unknown key 'plugn' in a node"},
    {"pool: {buffer: 4}\nnodes: [{name: s, plugin: testsrc}]\n", 1, 8, "unknown key 'buffer'"},
    {"nodes:\n  - {name: s, plugin: testsrc}\n  - name: v\n    plugin: verify\n"
     "    inputs: {in: {from: s/out, deep: 2}}\n",
     5, 32, "unknown key 'deep' in an input"},
    /* shapes and values */
    {"options: {metrics: 'example.com:80'}\nnodes: [{name: s, plugin: testsrc}]\n", 1, 21,
     "expected PORT or ADDR:PORT"},
    {"options: {metrics: 70000}\nnodes: [{name: s, plugin: testsrc}]\n", 1, 20, "metrics '70000'"},
    {"nodes: {name: s}\n", 1, 9, "expected a list of nodes"},
    {"nodes:\n  - name: s\n    plugin: [testsrc]\n", 3, 14, "expected a single value"},
    {"nodes:\n  - {name: s, plugin: testsrc, rate: fast}\n", 2, 38, "'fast' is not a number"},
    {"nodes:\n  - {name: s, plugin: testsrc, rate: -1}\n", 2, 38, "out of range"},
    {"nodes:\n  - {name: Src, plugin: testsrc}\n", 2, 12, "expected [a-z0-9_]+"},
    {"nodes:\n  - {name: s, plugin: testsrc}\n  - {name: s, plugin: testsrc}\n", 3, 12,
     "used twice"},
    {"nodes:\n  - {plugin: testsrc}\n", 2, 6, "without 'name'"},
    {"nodes:\n  - {name: s}\n", 2, 6, "has no 'plugin'"},
    {"nodes:\n  - {name: s, plugin: testsrc, restart: sometimes}\n", 2, 41,
     "expected never, on-failure or always"},
    {"nodes:\n  - {name: s, plugin: testsrc}\n  - name: v\n    plugin: verify\n"
     "    inputs: {in: {from: s/out, policy: fifo}}\n",
     5, 40, "expected block or drop_oldest"},
    {"nodes:\n  - {name: s, plugin: testsrc}\n  - name: v\n    plugin: verify\n"
     "    inputs: {in: {from: s/out, policy: block, block_timeout_ms: 0}}\n",
     5, 65, "0 would drop at once"},
    {"nodes:\n  - {name: s, plugin: testsrc}\n  - name: v\n    plugin: verify\n"
     "    inputs: {in: {from: s/out, block_timeout_ms: 100}}\n",
     5, 19, "block_timeout_ms is for policy block"},
    {"nodes:\n  - {name: s, plugin: testsrc}\n  - {name: v, plugin: verify, inputs: {in: s}}\n", 3,
     44, "expected NODE/PORT"},
    {"pool: {name: \"..\"}\nnodes: [{name: s, plugin: testsrc}]\n", 1, 15, "starts with '.'"},
    {"nodes:\n  - name:\n    plugin: testsrc\n", 2, 5, "node name ''"},
    {"nodes:\n  - {name: s, plugin: testsrc, rate: 1e-9}\n", 2, 38, "at least 0.001"},
    {"", 0, 0, "no YAML document"},
    /* libfyaml counts columns in characters: the reader's own positions (below) do too */
    {"nodes: [\"\xc3\xa9\", ]]\n", 1, 15, "YAML syntax"},
    {"nodes:\n  - {name: s, plugin: testsrc, name: t}\n", 2, 32,
     "duplicate key 'name' (first at line 2, column 6)"},
    {"nodes:\n  - name: s\n    plugin: testsrc\n    params: {width: 8, height: 8, width: 9}\n"
     "pool: {}\npool: {}\n",
     4, 35, "duplicate key 'width' (first at line 4, column 14)"},
    {"nodes: [{name: s, plugin: testsrc}]\n---\nnodes: []\n", 1, 1, "more than one YAML document"},
    /* plugins, parameters and ports, checked against the plugin */
    {"nodes:\n  - {name: s, plugin: nosuchplugin}\n", 2, 23, "not found"},
    {"nodes:\n  - name: s\n    plugin: testsrc\n    params: {width: wide}\n", 4, 21,
     "not an integer"},
    {"nodes:\n  - name: s\n    plugin: testsrc\n    params: {width: 0}\n", 4, 21, "out of range"},
    {"nodes:\n  - name: s\n    plugin: testsrc\n    params: {dtype: u7}\n", 4, 21,
     "not one of the choices"},
    {"nodes:\n  - name: s\n    plugin: testsrc\n    params: {colour: red}\n", 4, 14,
     "has no parameter 'colour'"},
    {"nodes:\n  - {name: s, plugin: testsrc}\n  - {name: v, plugin: verify, inputs: {in: x/out}}\n",
     3, 44, "there is no node 'x'"},
    {"nodes:\n  - {name: s, plugin: testsrc}\n  - {name: v, plugin: verify, inputs: {in: "
     "s/video}}\n",
     3, 44, "has no output port 'video'"},
    {"nodes:\n  - {name: s, plugin: testsrc}\n  - {name: v, plugin: verify, inputs: {frames: "
     "s/out}}\n",
     3, 40, "has no input port 'frames'"},
    {"nodes:\n  - {name: v, plugin: verify}\n", 2, 6, "none is wired"},
    /* the graph as a whole */
    {"nodes:\n  - {name: a, plugin: invert, inputs: {in: b/out}}\n"
     "  - {name: b, plugin: invert, inputs: {in: a/out}}\n",
     2, 44, "closes a cycle"},
    {"pool: {buffers: 3}\nnodes:\n  - {name: s, plugin: testsrc}\n"
     "  - {name: v, plugin: verify, inputs: {in: s/out}}\n",
     1, 17, "the graph needs 11 (s/out -> v/in: 8"},
    /* the pool's memory against its limit, at the setting that asks for it */
    {"pool: {shm_limit: 0}\nnodes: [{name: s, plugin: testsrc}]\n", 1, 19, "out of range"},
    {"pool: {buffers: 16, shm_limit: 4096}\nnodes: [{name: s, plugin: testsrc}]\n", 1, 17,
     "needs 40960 bytes (40.0 KiB) of shared memory (16 buffers), more than the 4096 bytes "
     "(4.0 KiB) it may take (pool.shm_limit at line 1)"},
    {"pool:\n  shm_limit: 10000000\n  preallocate: {size: 1048576, count: 10}\n"
     "nodes: [{name: s, plugin: testsrc}]\n",
     3, 3, "(16 buffers, 10 preallocated of 1048576 bytes each), more than the 10000000 bytes"},
};

/* Indices, not the cases: Criterion may run a parameterized test in a fresh process image,
 * where pointers into this one would dangle. */
#define N_BAD (sizeof bad_cases / sizeof bad_cases[0])

ParameterizedTestParameters(graph_parse, refuses_with_position)
{
    static int index[N_BAD];
    for (size_t i = 0; i < N_BAD; i++)
        index[i] = (int)i;
    return cr_make_param_array(int, index, N_BAD);
}

ParameterizedTest(int *i, graph_parse, refuses_with_position, .fini = remove_graph)
{
    const bad_case *c = &bad_cases[*i];
    xmemi_graph g;
    xmem_error_t err = {0};
    xmem_err rc = load(c->yaml, &g, &err);
    cr_assert(eq(int, rc, XMEM_ECONFIG), "accepted (or failed otherwise: %s):\n%s", err.msg,
              c->yaml);
    char where[200];
    if (c->column)
        snprintf(where, sizeof where, "%s:%d:%d: ", path, c->line, c->column);
    else if (c->line)
        snprintf(where, sizeof where, "%s:%d:", path, c->line);
    else /* nothing to point at */
        snprintf(where, sizeof where, "%s: ", path);
    cr_assert(eq(int, strncmp(err.msg, where, strlen(where)), 0),
              "expected the message to start with '%s': %s", where, err.msg);
    cr_assert(not(eq(ptr, strstr(err.msg, c->says), NULL)), "expected '%s' in: %s", c->says,
              err.msg);
}

Test(graph_parse, a_missing_file_is_named)
{
    xmemi_graph g;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_graph_parse("/nonexistent/g.yaml", &g, &err), XMEM_ECONFIG));
    cr_assert(not(eq(ptr, strstr(err.msg, "/nonexistent/g.yaml"), NULL)), "%s", err.msg);
}

/* ---- reading the file ------------------------------------------------------------------------ */

static void write_bytes(const char *bytes, size_t len)
{
    snprintf(path, sizeof path, "/tmp/xmemt-graph-%d.yaml", (int)getpid());
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    cr_assert(eq(sz, fwrite(bytes, 1, len, f), len));
    fclose(f);
}

/* Bytes that are not UTF-8 text, and where the first of them is. */
typedef struct byte_case {
    const char *bytes;
    size_t len;
    int line, column;
    const char *says;
} byte_case;

#define BYTES(literal) literal, sizeof literal - 1

static const byte_case byte_cases[] = {
    /* a NUL that libfyaml took for the end: "valid: 1 nodes" for a graph of two */
    {BYTES("nodes:\n  - {name: a, plugin: testsrc}\n\0  - {name: b, plugin: verify, inputs: {in: "
           "a/out}}\n"),
     3, 1, "a NUL byte"},
    {BYTES("nodes: [{name: a,\0 plugin: testsrc}]\n"), 1, 18, "a NUL byte"},
    {BYTES("nodes: [\"\xc3\xa9\", \xff]]\n"), 1, 14, "invalid UTF-8 (byte 0xff)"},
    {BYTES("# caf\xc3\xa9 \xc3\nnodes: []\n"), 1, 8, "invalid UTF-8 (byte 0xc3)"}, /* cut short */
    {BYTES("# \xf0\x9f\x98\x80 \x80\n"), 1, 5, "invalid UTF-8 (byte 0x80)"},       /* a lone tail */
    {BYTES("a: \xc0\xaf\n"), 1, 4, "invalid UTF-8 (byte 0xc0)"},         /* overlong '/' */
    {BYTES("a: \xe0\x80\xaf\n"), 1, 4, "invalid UTF-8 (byte 0xe0)"},     /* overlong '/' */
    {BYTES("a: \xed\xa0\x80\n"), 1, 4, "invalid UTF-8 (byte 0xed)"},     /* a surrogate */
    {BYTES("a: \xf4\x90\x80\x80\n"), 1, 4, "invalid UTF-8 (byte 0xf4)"}, /* above U+10FFFF */
    {BYTES("a: \xe2\x82"), 1, 4, "invalid UTF-8 (byte 0xe2)"},           /* cut by the end */
    {BYTES("a: 1\r\nb: 2\rc: \xfe\n"), 3, 4, "invalid UTF-8 (byte 0xfe)"},
    {BYTES("\xef\xbb\xbf"
           "a: \xff\n"),
     1, 4, "invalid UTF-8 (byte 0xff)"},                          /* after a BOM */
    {BYTES("\xff\xfen\0o\0"), 1, 1, "invalid UTF-8 (byte 0xff)"}, /* UTF-16 */
};

#define N_BYTES (sizeof byte_cases / sizeof byte_cases[0])

ParameterizedTestParameters(graph_parse, refuses_what_is_not_utf8_text)
{
    static int index[N_BYTES];
    for (size_t i = 0; i < N_BYTES; i++)
        index[i] = (int)i;
    return cr_make_param_array(int, index, N_BYTES);
}

ParameterizedTest(int *i, graph_parse, refuses_what_is_not_utf8_text, .fini = remove_graph)
{
    const byte_case *c = &byte_cases[*i];
    write_bytes(c->bytes, c->len);
    xmemi_graph g;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_graph_parse(path, &g, &err), XMEM_ECONFIG), "accepted: case %d", *i);
    char want[300];
    snprintf(want, sizeof want, "%s:%d:%d: %s", path, c->line, c->column, c->says);
    cr_assert(eq(int, strncmp(err.msg, want, strlen(want)), 0), "expected '%s...': %s", want,
              err.msg);
}

/* UTF-8 of every length, a byte order mark and CRLF line ends are text: read as written. */
Test(graph_parse, utf8_text_with_a_bom_and_crlf_reads, .fini = remove_graph)
{
    write_bytes(BYTES("\xef\xbb\xbf# caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\r\n"
                      "nodes:\r\n  - {name: src, plugin: testsrc} # \xc2\xb5\r\n"));
    xmemi_graph g;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_graph_parse(path, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, g.n_nodes, 1));
    cr_assert(eq(str, g.nodes[0].plugin, "testsrc"));
    xmemi_graph_free(&g);
}

Test(graph_parse, a_file_over_the_limit_is_refused_unread, .fini = remove_graph)
{
    write_bytes(BYTES(""));
    /* Sparse: refused by its size, not by reading 2 GiB of zeros. */
    cr_assert(eq(int, truncate(path, (off_t)2 << 30), 0));
    xmemi_graph g;
    xmem_error_t err = {0};
    long t0 = (long)clock();
    cr_assert(eq(int, xmemi_graph_parse(path, &g, &err), XMEM_ECONFIG));
    cr_assert(lt(long, (long)clock() - t0, (long)CLOCKS_PER_SEC / 10), "it read the file");
    char want[300];
    snprintf(want, sizeof want,
             "graph file %s is 2147483648 bytes: a graph file may hold at most %zu KiB", path,
             XMEMI_GRAPH_FILE_MAX >> 10);
    cr_assert(eq(int, strncmp(err.msg, want, strlen(want)), 0), "expected '%s': %s", want, err.msg);
}

/* Exactly the limit is read: a graph and a comment to fill it. */
Test(graph_parse, a_file_of_exactly_the_limit_reads, .fini = remove_graph)
{
    static char text[XMEMI_GRAPH_FILE_MAX];
    const char *graph = "nodes: [{name: src, plugin: testsrc}]\n#";
    memset(text, ' ', sizeof text);
    memcpy(text, graph, strlen(graph));
    text[sizeof text - 1] = '\n';
    write_bytes(text, sizeof text);
    xmemi_graph g;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_graph_parse(path, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, g.n_nodes, 1));
    xmemi_graph_free(&g);
}

Test(graph_parse, a_directory_is_refused)
{
    xmemi_graph g;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_graph_parse("/tmp", &g, &err), XMEM_ECONFIG));
    cr_assert(eq(str, err.msg, "graph file /tmp is a directory, not a file"));
}

static void make_fifo(void)
{
    snprintf(path, sizeof path, "/tmp/xmemt-graph-%d.fifo", (int)getpid());
    unlink(path);
    cr_assert(eq(int, mkfifo(path, 0600), 0));
}

/* A FIFO nobody writes to is given up on: opening it does not wait for a writer, and reading
 * waits only as long as it is told. */
Test(graph_parse, a_fifo_with_no_writer_times_out, .fini = remove_graph, .timeout = 10)
{
    make_fifo();
    xmemi_graph g = {.path = path};
    xmemi_graph_text text;
    xmem_error_t err = {0};
    long t0 = xf_now_ms();
    cr_assert(eq(int, xmemi_graph_file_read(&g, path, XMEMI_GRAPH_FILE_MAX, 300, &text, &err),
                 XMEM_ECONFIG));
    long took = xf_now_ms() - t0;
    cr_assert(ge(long, took, 290), "took %ld ms", took);
    cr_assert(lt(long, took, 2000), "took %ld ms", took);
    char want[300];
    snprintf(want, sizeof want, "graph file %s: no data for 0.3 s (is anything writing to it?)",
             path);
    cr_assert(eq(str, err.msg, want));
}

/* A writer that comes late and writes in pieces is waited for, to its end: no false end of file
 * before it opens, none between its writes. */
Test(graph_parse, a_fifo_is_read_to_its_writers_end, .fini = remove_graph, .timeout = 20)
{
    make_fifo();
    pid_t writer = fork();
    cr_assert(ge(int, writer, 0));
    if (writer == 0) {
        alarm(10); /* its open waits for a reader: not forever when the test failed */
        xf_sleep_ms(300);
        int fd = open(path, O_WRONLY);
        const char *a = "nodes:\n  - {name: src, plugin: testsrc}\n",
                   *b = "  - {name: v, plugin: verify, inputs: {in: src/out}}\n";
        bool ok = fd >= 0 && xf_write_all(fd, a, strlen(a));
        xf_sleep_ms(300);
        _exit(ok && xf_write_all(fd, b, strlen(b)) ? 0 : 1);
    }
    xmemi_graph g;
    xmem_error_t err = {0};
    xmem_err rc = xmemi_graph_parse(path, &g, &err);
    cr_assert(eq(int, xf_wait(writer), 0));
    cr_assert(eq(int, rc, XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, g.n_nodes, 2), "both writes were read");
    cr_assert(eq(str, g.dir, "."), "a FIFO has no directory of its own");
    xmemi_graph_free(&g);
}

/* Feeds `text` to this process's stdin through a pipe. */
static void stdin_from(const char *text)
{
    int p[2];
    cr_assert(eq(int, pipe(p), 0));
    cr_assert(xf_write_all(p[1], text, strlen(text)));
    close(p[1]);
    cr_assert(eq(int, dup2(p[0], STDIN_FILENO), STDIN_FILENO));
    close(p[0]);
}

/* "-" is stdin, named <stdin> in messages; relative plugin paths start at the current directory
 * and the pool is xmem-stdin. */
Test(graph_parse, dash_reads_stdin)
{
    stdin_from("nodes:\n  - {name: src, plugin: testsrc}\n  - {name: x, plugin: lib/x.so}\n");
    xmemi_graph g;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_graph_parse("-", &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(str, g.path, "<stdin>"));
    cr_assert(eq(str, g.dir, "."));
    cr_assert(eq(str, g.pool_name, "xmem-stdin"));
    cr_assert(eq(int, xmemi_graph_check(&g, &err), XMEM_ECONFIG));
    cr_assert(not(eq(ptr, strstr(err.msg, "<stdin>:3:23: node 'x': plugin ./lib/x.so"), NULL)),
              "%s", err.msg);
    xmemi_graph_free(&g);
    stdin_from("nodes: [{name: src, plugin: testsrc}, ]]\n");
    cr_assert(eq(int, xmemi_graph_parse("-", &g, &err), XMEM_ECONFIG));
    cr_assert(eq(str, err.msg,
                 "<stdin>:1:40: YAML syntax: flow sequence with invalid extra closing bracket"));
}

/* A file's relative plugin paths start at its own directory. */
Test(graph_parse, relative_plugins_start_at_the_file, .fini = remove_graph)
{
    write_graph("nodes: [{name: x, plugin: lib/x.so}]\n");
    xmemi_graph g;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmemi_graph_parse(path, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(str, g.dir, "/tmp"));
    cr_assert(eq(int, xmemi_graph_check(&g, &err), XMEM_ECONFIG));
    cr_assert(not(eq(ptr, strstr(err.msg, "plugin /tmp/lib/x.so refused"), NULL)), "%s", err.msg);
    xmemi_graph_free(&g);
}

/* libfyaml's duplicate-key check compares each key with every one before it: 30000 keys, which
 * fit under the size limit, took it over a minute. Ours sorts. */
Test(graph_parse, many_keys_are_checked_for_duplicates_fast, .fini = remove_graph, .timeout = 60)
{
    static char text[XMEMI_GRAPH_FILE_MAX];
    size_t used = (size_t)snprintf(text, sizeof text, "nodes: [{name: s, plugin: testsrc}]\n");
    int keys = 0;
    while (used + 16 < sizeof text)
        used += (size_t)snprintf(text + used, sizeof text - used, "k%d: 1\n", keys++);
    used += (size_t)snprintf(text + used, sizeof text - used, "k7: 2\n");
    cr_assert(gt(int, keys, 25000));
    write_bytes(text, used);
    xmemi_graph g;
    xmem_error_t err = {0};
    long t0 = xf_now_ms();
    cr_assert(eq(int, xmemi_graph_parse(path, &g, &err), XMEM_ECONFIG));
    long took = xf_now_ms() - t0;
    char want[300];
    snprintf(want, sizeof want, "%s:%d:1: duplicate key 'k7' (first at line 9, column 1)", path,
             keys + 2);
    cr_assert(eq(str, err.msg, want));
    cr_assert(lt(long, took, 5000), "%d keys took %ld ms", keys, took);
}
