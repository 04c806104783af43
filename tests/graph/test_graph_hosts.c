/* Graphs across hosts: the hosts: section and host: placements are refused where they are wrong
 * (file:line:column and what was expected), and xmemi_graph_for_host rewrites a graph into one
 * host's part: its own nodes, one sender per stream and consuming host, one receiver per stream
 * coming in with the local consumers rewired to it, and ports every host computes alike. Also
 * `xmem keygen`, run as a program: a key pair czmq reads back, the secret 0600, no overwriting
 * without --force. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef XMEM_HAVE_CZMQ
#include <czmq.h>
#endif

#include "fixture.h"
#include "graph/graph.h"
#include "graph/graph_hosts.h"

static char dir[128], path[192];

/* A scratch directory per test process, with the graph file in it (keys are relative to it). */
static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/xmemt-hosts-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/hosts.yaml", dir);
}

static void teardown(void)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static void write_text(const char *name, const char *text, mode_t mode)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    cr_assert(fd >= 0, "%s", p);
    cr_assert(xf_write_all(fd, text, strlen(text)));
    close(fd);
    cr_assert(eq(int, chmod(p, mode), 0));
}

/* A key pair as xmem keygen writes it (czmq's certificate format), keys/NAME.key and _secret. */
static void write_keys(const char *name, mode_t secret_mode)
{
    char p[256], text[512];
    snprintf(p, sizeof p, "%s/keys", dir);
    mkdir(p, 0700);
    const char *pub = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
               *sec = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
    snprintf(text, sizeof text, "metadata\n    name = \"%s\"\ncurve\n    public-key = \"%s\"\n",
             name, pub);
    snprintf(p, sizeof p, "keys/%s.key", name);
    write_text(p, text, 0644);
    snprintf(
        text, sizeof text,
        "metadata\n    name = \"%s\"\ncurve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n",
        name, pub, sec);
    snprintf(p, sizeof p, "keys/%s.key_secret", name);
    write_text(p, text, secret_mode);
}

static xmem_err parse(const char *yaml, xmemi_graph *g, xmem_error_t *err)
{
    write_text("hosts.yaml", yaml, 0600);
    return xmemi_graph_parse(path, g, err);
}

/* Parses (and, with `check`, checks) and expects XMEM_ECONFIG at line:column saying `says`. */
static void refused(const char *yaml, bool check, int line, int column, const char *says)
{
    xmemi_graph g;
    xmem_error_t err = {0};
    xmem_err rc = parse(yaml, &g, &err);
    if (rc == XMEM_OK) { /* parsed: checked or not, the graph is ours to free */
        if (check)
            rc = xmemi_graph_check(&g, &err);
        xmemi_graph_free(&g);
    }
    cr_assert(eq(int, rc, XMEM_ECONFIG), "accepted (or failed otherwise: %s):\n%s", err.msg, yaml);
    char where[300];
    snprintf(where, sizeof where, "%s:%d:%d: ", path, line, column);
    cr_assert(eq(int, strncmp(err.msg, where, strlen(where)), 0),
              "expected the message to start with '%s': %s", where, err.msg);
    cr_assert(not(eq(ptr, strstr(err.msg, says), NULL)), "expected '%s' in: %s", says, err.msg);
}

#define INSECURE "options: {insecure_network: true}\n"
#define TWO_HOSTS                                                                                  \
    "hosts:\n  - {name: cam, address: 10.0.0.1}\n  - {name: gpu, address: 10.0.0.2}\n" INSECURE

TestSuite(graph_hosts, .init = setup, .fini = teardown);

Test(graph_hosts, an_unknown_host_is_named_with_the_known_ones)
{
    refused(TWO_HOSTS "nodes:\n  - {name: s, plugin: testsrc, host: tpu}\n", false, 6, 38,
            "node 's': there is no host 'tpu' (hosts: cam, gpu)");
}

Test(graph_hosts, host_without_a_hosts_section_is_refused)
{
    refused("nodes:\n  - {name: s, plugin: testsrc, host: cam}\n", false, 2, 38,
            "the graph has no hosts: section");
}

Test(graph_hosts, a_host_name_twice_is_refused)
{
    refused("hosts:\n  - {name: cam, address: 10.0.0.1}\n  - {name: cam, address: 10.0.0.2}\n"
            "nodes: [{name: s, plugin: testsrc}]\n" INSECURE,
            false, 3, 12, "host name 'cam' is used twice (first at line 2)");
}

Test(graph_hosts, bad_addresses_are_refused)
{
    static const char *const bad[] = {"10.0.0.256", "-cam.lan", "cam..lan", "cam_1", "fe80::1::2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml,
                 "hosts:\n  - {name: cam, address: '%s'}\nnodes: [{name: s, plugin: "
                 "testsrc}]\n" INSECURE,
                 bad[i]);
        refused(yaml, false, 2, 27, "expected an IPv4 or IPv6 address or a host name");
    }
    /* and what is good */
    static const char *const good[] = {"10.0.0.1", "fd00::1", "cam", "cam-1.lan.example.org"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert(xmemi_host_address_ok(good[i]), "%s", good[i]);
}

Test(graph_hosts, bad_port_ranges_are_refused)
{
    static const char *const bad[] = {"0-10", "7500-7400", "7400-70000", "74x", "7400-", "-7400"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml,
                 "hosts:\n  - {name: cam, address: 10.0.0.1, ports: '%s'}\n"
                 "nodes: [{name: s, plugin: testsrc}]\n" INSECURE,
                 bad[i]);
        refused(yaml, false, 2, 44, "expected FIRST-LAST (1 <= FIRST <= LAST <= 65535)");
    }
    uint32_t a, b;
    cr_assert(xmemi_host_ports_parse("7400", &a, &b) && a == 7400 && b == 7400);
    cr_assert(xmemi_host_ports_parse("1-65535", &a, &b) && a == 1 && b == 65535);
}

Test(graph_hosts, overlapping_ports_on_one_address_are_refused)
{
    refused("hosts:\n  - {name: a, address: 127.0.0.1, ports: 7400-7410}\n"
            "  - {name: b, address: 127.0.0.1, ports: 7410-7420}\n"
            "nodes: [{name: s, plugin: testsrc}]\n" INSECURE,
            false, 3, 42, "hosts 'a' and 'b' are both at 127.0.0.1 and their ports overlap");
}

Test(graph_hosts, a_host_with_too_few_ports_says_how_many_it_needs)
{
    refused("hosts:\n  - {name: cam, address: 10.0.0.1}\n"
            "  - {name: gpu, address: 10.0.0.2, ports: 7400}\n" INSECURE "nodes:\n"
            "  - {name: a, plugin: testsrc, host: cam}\n  - {name: b, plugin: testsrc, host: cam}\n"
            "  - {name: x, plugin: verify, host: gpu, inputs: {in: a/out}}\n"
            "  - {name: y, plugin: verify, host: gpu, inputs: {in: b/out}}\n",
            false, 3, 43,
            "host 'gpu' receives 2 streams from other hosts, one port each, but "
            "its ports 7400-7400 are 1: it needs 2");
}

Test(graph_hosts, a_missing_key_is_refused)
{
    refused("hosts:\n  - {name: cam, address: 10.0.0.1}\nnodes: [{name: s, plugin: testsrc}]\n",
            false, 2, 6, "host 'cam' has no key: give key: FILE");
    refused("hosts:\n  - {name: cam, address: 10.0.0.1, key: keys/none.key}\n"
            "nodes: [{name: s, plugin: testsrc}]\n",
            false, 2, 41, "keys/none.key: No such file or directory");
}

Test(graph_hosts, a_key_that_is_no_certificate_is_refused)
{
    write_text("bad.key", "not a certificate\n", 0644);
    refused("hosts:\n  - {name: cam, address: 10.0.0.1, key: bad.key}\n"
            "nodes: [{name: s, plugin: testsrc}]\n",
            false, 2, 41, "is not a public certificate");
}

Test(graph_hosts, insecure_network_is_a_bool)
{
    refused("hosts:\n  - {name: cam, address: 10.0.0.1}\noptions: {insecure_network: yes}\n"
            "nodes: [{name: s, plugin: testsrc}]\n",
            false, 3, 29, "insecure_network 'yes': expected true or false");
}

Test(graph_hosts, a_hosts_pool_takes_pool_keys_only)
{
    refused("hosts:\n  - {name: cam, address: 10.0.0.1, pool: {bufers: 8}}\n"
            "nodes: [{name: s, plugin: testsrc}]\n" INSECURE,
            false, 2, 43, "unknown key 'bufers' in a host's pool");
}

Test(graph_hosts, a_cuda_node_on_a_host_without_cuda_is_refused)
{
#ifndef XMEM_HAVE_CUDA
    cr_skip("built without CUDA: no CUDA node to place");
#endif
    refused("hosts:\n  - {name: cam, address: 10.0.0.1}\n"
            "  - {name: gpu, address: 10.0.0.2, pool: {cuda: {size: 4096, count: 4}}}\n" INSECURE
            "nodes:\n  - {name: s, plugin: testsrc, host: cam}\n"
            "  - {name: up, plugin: cuda_upload, host: gpu, inputs: {in: s/out}}\n"
            "  - {name: inv, plugin: cuda_invert, host: cam, inputs: {in: up/out}}\n",
            true, 8, 25,
            "node 'inv' (plugin 'cuda_invert') works on CUDA buffers, but the pool "
            "of its host 'cam' has none");
}

/* ---- one host's part --------------------------------------------------------------------------
 */

/* cam makes frames; gpu inverts them and takes their statistics (two consumers of src/out, one
 * deeper and blocking); rec checks both the frames and the inverted ones. */
static const char three_hosts[] =
    "hosts:\n"
    "  - {name: cam, address: 10.77.0.1, key: keys/cam.key}\n"
    "  - {name: gpu, address: 10.77.0.2, ports: 7500-7509, key: keys/gpu.key}\n"
    "  - {name: rec, address: rec.lan, key: keys/rec.key}\n"
    "nodes:\n"
    "  - {name: src, plugin: testsrc, host: cam, rate: 30}\n"
    "  - {name: inv, plugin: invert, host: gpu, inputs: {in: {from: src/out, depth: 2}}}\n"
    "  - name: stats\n"
    "    plugin: stats\n"
    "    host: gpu\n"
    "    inputs: {in: {from: src/out, depth: 6, policy: block, block_timeout_ms: 300}}\n"
    "  - {name: vsrc, plugin: verify, host: rec, inputs: {in: src/out}}\n"
    "  - {name: vinv, plugin: verify, host: rec, inputs: {in: inv/out}}\n";

static void plan_for(const char *host, xmemi_graph *g)
{
    write_keys("cam", 0600);
    write_keys("gpu", 0600);
    write_keys("rec", 0600);
    xmem_error_t err = {0};
    cr_assert(eq(int, parse(three_hosts, g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmemi_graph_for_host(g, host, &err), XMEM_OK), "%s", err.msg);
}

static const xmemi_graph_node *node(const xmemi_graph *g, uint32_t i, const char *name,
                                    const char *plugin)
{
    cr_assert(lt(u32, i, g->n_nodes));
    cr_assert(eq(str, g->nodes[i].name, (char *)name), "node %u", i);
    cr_assert(eq(str, g->nodes[i].plugin, (char *)plugin), "node %s", name);
    return &g->nodes[i];
}

static const char *param(const xmemi_graph_node *n, const char *name)
{
    for (uint32_t i = 0; i < n->n_params; i++)
        if (strcmp(n->params[i].name, name) == 0)
            return n->params[i].value;
    cr_assert(false, "node %s has no parameter %s", n->name, name);
    return NULL;
}

static void assert_param(const xmemi_graph_node *n, const char *name, const char *want)
{
    cr_assert(eq(str, (char *)param(n, name), (char *)want), "node %s, parameter %s", n->name,
              name);
}

/* A key parameter: the path of keys/FILE in the graph's directory. */
static void assert_key(const xmemi_graph_node *n, const char *name, const char *file)
{
    char want[512];
    snprintf(want, sizeof want, "%s/keys/%s", dir, file);
    assert_param(n, name, want);
}

static void assert_bridge_restart(const xmemi_graph_node *n)
{
    cr_assert(eq(int, n->restart, XMEMI_RESTART_ON_FAILURE), "%s", n->name);
    cr_assert(eq(u32, n->restart_limit, 1000), "%s", n->name);
    assert_param(n, "max_message", "268435456");
    assert_param(n, "insecure", "false");
}

/* cam: its source and one sender per consuming host, each with the queue of the consumers
 * there: gpu's deepest (6) and blocking, rec's the default. */
Test(graph_hosts, the_producers_host_gets_a_sender_per_consuming_host)
{
    xmemi_graph g;
    plan_for("cam", &g);
    cr_assert(eq(u32, g.n_nodes, 3));
    cr_assert(g.planned);
    cr_assert(eq(str, g.pool_name, "xmem-hosts-cam"));
    node(&g, 0, "src", "testsrc");
    const xmemi_graph_node *to_gpu = node(&g, 1, "src.out-to-gpu", "bridge_send");
    const xmemi_graph_node *to_rec = node(&g, 2, "src.out-to-rec", "bridge_send");
    cr_assert(eq(u32, to_gpu->n_inputs, 1));
    const xmemi_graph_edge *e = &to_gpu->inputs[0];
    cr_assert(eq(str, e->port, "in"));
    cr_assert(eq(str, e->from_node, "src"));
    cr_assert(eq(str, e->from_port, "out"));
    cr_assert(eq(u32, e->depth, 6));
    cr_assert(eq(int, e->policy, XMEM_POLICY_BLOCK));
    cr_assert(eq(int, e->block_timeout_ms, 300));
    cr_assert(eq(int, to_gpu->at.line, 7), "at the first consuming edge on gpu");
    assert_param(to_gpu, "peer", "10.77.0.2:7500");
    assert_param(to_gpu, "link", "src.out@cam->gpu");
    assert_param(to_gpu, "depth", "6");
    assert_param(to_gpu, "policy", "block");
    assert_key(to_gpu, "key", "cam.key");
    assert_key(to_gpu, "peer_key", "gpu.key");
    assert_bridge_restart(to_gpu);
    e = &to_rec->inputs[0];
    cr_assert(eq(u32, e->depth, 4));
    cr_assert(eq(int, e->policy, XMEM_POLICY_DROP_OLDEST));
    cr_assert(eq(int, e->block_timeout_ms, 0));
    /* rec receives inv.out@gpu and src.out@cam: in that order, from its first port */
    assert_param(to_rec, "peer", "rec.lan:7401");
    assert_param(to_rec, "link", "src.out@cam->rec");
    assert_param(to_rec, "policy", "drop_oldest");
    assert_key(to_rec, "peer_key", "rec.key");
    assert_bridge_restart(to_rec);
    xmemi_graph_free(&g);
}

/* gpu: ONE receiver for src/out, which both of its consumers now take (their queues as they
 * were), and a sender of inv/out to rec. */
Test(graph_hosts, a_stream_has_one_receiver_per_host_and_its_consumers_take_it)
{
    xmemi_graph g;
    plan_for("gpu", &g);
    cr_assert(eq(u32, g.n_nodes, 4));
    cr_assert(eq(str, g.pool_name, "xmem-hosts-gpu"));
    const xmemi_graph_node *recv = node(&g, 0, "src.out-from-cam", "bridge_recv");
    const xmemi_graph_node *inv = node(&g, 1, "inv", "invert");
    const xmemi_graph_node *stats = node(&g, 2, "stats", "stats");
    const xmemi_graph_node *send = node(&g, 3, "inv.out-to-rec", "bridge_send");
    cr_assert(eq(u32, recv->n_inputs, 0));
    assert_param(recv, "bind", "10.77.0.2:7500");
    assert_param(recv, "link", "src.out@cam->gpu");
    assert_key(recv, "key", "gpu.key");
    assert_key(recv, "allow", "cam.key");
    assert_bridge_restart(recv);
    cr_assert(eq(int, recv->at.line, 7), "at the first local consuming edge");
    cr_assert(eq(str, inv->inputs[0].from_node, "src.out-from-cam"));
    cr_assert(eq(str, inv->inputs[0].from_port, "out"));
    cr_assert(eq(u32, inv->inputs[0].depth, 2));
    cr_assert(eq(int, inv->inputs[0].from_at.line, 7), "still the user's line");
    cr_assert(eq(str, stats->inputs[0].from_node, "src.out-from-cam"));
    cr_assert(eq(u32, stats->inputs[0].depth, 6));
    cr_assert(eq(int, stats->inputs[0].policy, XMEM_POLICY_BLOCK));
    cr_assert(eq(int, stats->inputs[0].from_at.line, 11));
    cr_assert(eq(str, send->inputs[0].from_node, "inv"), "a local producer is not rewired");
    assert_param(send, "peer", "rec.lan:7400");
    assert_param(send, "link", "inv.out@gpu->rec");
    xmemi_graph_free(&g);
}

/* rec: a receiver per stream, binding every address (its address is a name), ports in the order
 * of the streams' names whatever the order of the file. */
Test(graph_hosts, a_host_named_by_a_name_binds_every_address)
{
    xmemi_graph g;
    plan_for("rec", &g);
    cr_assert(eq(u32, g.n_nodes, 4));
    const xmemi_graph_node *from_cam = node(&g, 0, "src.out-from-cam", "bridge_recv");
    const xmemi_graph_node *from_gpu = node(&g, 1, "inv.out-from-gpu", "bridge_recv");
    assert_param(from_cam, "bind", "*:7401");
    assert_param(from_gpu, "bind", "*:7400");
    assert_param(from_gpu, "link", "inv.out@gpu->rec");
    assert_key(from_gpu, "allow", "gpu.key");
    const xmemi_graph_node *vsrc = node(&g, 2, "vsrc", "verify");
    const xmemi_graph_node *vinv = node(&g, 3, "vinv", "verify");
    cr_assert(eq(str, vsrc->inputs[0].from_node, "src.out-from-cam"));
    cr_assert(eq(str, vinv->inputs[0].from_node, "inv.out-from-gpu"));
    xmemi_graph_free(&g);
}

/* Every host derives the same port for a stream: the sender's peer is the receiver's bind. */
Test(graph_hosts, both_ends_of_every_link_agree)
{
    static const char *const hosts[] = {"cam", "gpu", "rec"};
    char peers[8][128], binds[8][128];
    int n_peers = 0, n_binds = 0;
    for (int h = 0; h < 3; h++) {
        xmemi_graph g;
        plan_for(hosts[h], &g);
        for (uint32_t i = 0; i < g.n_nodes; i++) {
            const xmemi_graph_node *n = &g.nodes[i];
            if (strcmp(n->plugin, "bridge_send") == 0)
                snprintf(peers[n_peers++], 128, "%s %s", param(n, "link"),
                         strchr(param(n, "peer"), ':') + 1);
            else if (strcmp(n->plugin, "bridge_recv") == 0)
                snprintf(binds[n_binds++], 128, "%s %s", param(n, "link"),
                         strchr(param(n, "bind"), ':') + 1);
        }
        xmemi_graph_free(&g);
    }
    cr_assert(eq(int, n_peers, 3));
    cr_assert(eq(int, n_binds, 3));
    for (int i = 0; i < n_peers; i++) {
        bool matched = false;
        for (int k = 0; k < n_binds; k++)
            matched |= strcmp(peers[i], binds[k]) == 0;
        cr_assert(matched, "sender '%s' has no receiver", peers[i]);
    }
}

Test(graph_hosts, a_host_without_nodes_or_unknown_is_refused)
{
    xmemi_graph g;
    xmem_error_t err = {0};
    cr_assert(eq(int, parse(TWO_HOSTS "nodes: [{name: s, plugin: testsrc, host: cam}]\n", &g, &err),
                 XMEM_OK),
              "%s", err.msg);
    cr_assert(eq(int, xmemi_graph_for_host(&g, "gpu", &err), XMEM_ECONFIG));
    char want[300];
    snprintf(want, sizeof want, "host 'gpu' has no nodes in %s", path);
    cr_assert(eq(str, err.msg, want));
    cr_assert(eq(int, xmemi_graph_for_host(&g, "tpu", &err), XMEM_ECONFIG));
    cr_assert(not(eq(ptr, strstr(err.msg, "there is no host 'tpu' (hosts: cam, gpu)"), NULL)), "%s",
              err.msg);
    /* a node without host: is the first host's */
    xmemi_graph_free(&g);
    cr_assert(eq(int, parse(TWO_HOSTS "nodes: [{name: s, plugin: testsrc}]\n", &g, &err), XMEM_OK));
    cr_assert(eq(int, xmemi_graph_for_host(&g, "cam", &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, g.n_nodes, 1));
    cr_assert(eq(str, g.nodes[0].name, "s"));
    xmemi_graph_free(&g);
}

/* The running host's secret key must be there and its own: the message says how to fix it. */
Test(graph_hosts, a_secret_key_readable_by_others_is_refused)
{
    write_keys("cam", 0640);
    write_keys("gpu", 0600);
    xmemi_graph g;
    xmem_error_t err = {0};
    const char *yaml = "hosts:\n  - {name: cam, address: 10.0.0.1, key: keys/cam.key}\n"
                       "  - {name: gpu, address: 10.0.0.2, key: keys/gpu.key}\n"
                       "nodes:\n  - {name: s, plugin: testsrc}\n"
                       "  - {name: v, plugin: verify, host: gpu, inputs: {in: s/out}}\n";
    cr_assert(eq(int, parse(yaml, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmemi_graph_for_host(&g, "gpu", &err), XMEM_OK), "%s", err.msg);
    xmemi_graph_free(&g);
    cr_assert(eq(int, parse(yaml, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmemi_graph_for_host(&g, "cam", &err), XMEM_ECONFIG));
    char want[1024];
    snprintf(want, sizeof want,
             "%s:2:41: host 'cam': secret key %s/keys/cam.key_secret is readable by others "
             "(mode 0640): chmod 600 %s/keys/cam.key_secret",
             path, dir, dir);
    cr_assert(eq(str, err.msg, want));
    xmemi_graph_free(&g);
    char secret[256];
    snprintf(secret, sizeof secret, "%s/keys/cam.key_secret", dir);
    unlink(secret);
    cr_assert(eq(int, parse(yaml, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmemi_graph_for_host(&g, "cam", &err), XMEM_ECONFIG));
    cr_assert(not(eq(ptr, strstr(err.msg, "cam.key_secret: No such file or directory"), NULL)),
              "%s", err.msg);
    xmemi_graph_free(&g);
}

/* Plaintext links: no keys anywhere, said in every bridge; a host's pool: settings replace the
 * top-level ones on that host only, and a pool named in the file keeps its name. */
Test(graph_hosts, insecure_links_and_a_hosts_own_pool)
{
    xmemi_graph g;
    xmem_error_t err = {0};
    const char *yaml = "pool: {buffers: 40, name: shared_pool}\n"
                       "hosts:\n  - {name: cam, address: 10.0.0.1}\n"
                       "  - {name: gpu, address: 10.0.0.2, pool: {buffers: 64, name: gpu_pool,\n"
                       "      cuda: {size: 4096, count: 3, device: 1}}}\n" INSECURE
                       "nodes:\n  - {name: s, plugin: testsrc}\n"
                       "  - {name: v, plugin: verify, host: gpu, inputs: {in: s/out}}\n";
    cr_assert(eq(int, parse(yaml, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmemi_graph_for_host(&g, "gpu", &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(str, g.pool_name, "gpu_pool"));
    cr_assert(eq(u32, g.buffers, 64));
    cr_assert(eq(u32, g.cuda_count, 3));
    cr_assert(eq(int, g.cuda_device, 1));
    const xmemi_graph_node *recv = node(&g, 0, "s.out-from-cam", "bridge_recv");
    assert_param(recv, "key", "");
    assert_param(recv, "allow", "");
    assert_param(recv, "insecure", "true");
    assert_param(recv, "bind", "10.0.0.2:7400");
    xmemi_graph_free(&g);
    cr_assert(eq(int, parse(yaml, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmemi_graph_for_host(&g, "cam", &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(str, g.pool_name, "shared_pool"));
    cr_assert(eq(u32, g.buffers, 40));
    cr_assert(eq(u32, g.cuda_count, 0));
    const xmemi_graph_node *send = node(&g, 1, "s.out-to-gpu", "bridge_send");
    assert_param(send, "key", "");
    assert_param(send, "peer_key", "");
    xmemi_graph_free(&g);
}

/* A bridge's name is the edge's NODE.PORT and host: too long for a node name, refused at the
 * edge. IPv6 addresses go in brackets. */
Test(graph_hosts, a_bridge_name_too_long_is_refused_at_its_edge)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "hosts:\n  - {name: cam, address: 'fd00::1'}\n"
             "  - {name: %s, address: 'fd00::2'}\n" INSECURE
             "nodes:\n  - {name: %s, plugin: testsrc}\n"
             "  - {name: v, plugin: verify, host: %s, inputs: {in: %s/out}}\n",
             "g2345678901234567890123456789", "s2345678901234567890123456789",
             "g2345678901234567890123456789", "s2345678901234567890123456789");
    xmemi_graph g;
    xmem_error_t err = {0};
    cr_assert(eq(int, parse(yaml, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmemi_graph_for_host(&g, "cam", &err), XMEM_ECONFIG));
    char want[300];
    snprintf(want, sizeof want, "%s:7:81: this edge crosses hosts through a bridge node", path);
    cr_assert(eq(int, strncmp(err.msg, want, strlen(want)), 0), "%s", err.msg);
    xmemi_graph_free(&g);
    snprintf(yaml, sizeof yaml,
             "hosts:\n  - {name: cam, address: 'fd00::1'}\n  - {name: gpu, address: "
             "'fd00::2'}\n" INSECURE "nodes:\n  - {name: s, plugin: testsrc}\n"
             "  - {name: v, plugin: verify, host: gpu, inputs: {in: s/out}}\n");
    cr_assert(eq(int, parse(yaml, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmemi_graph_for_host(&g, "cam", &err), XMEM_OK), "%s", err.msg);
    assert_param(node(&g, 1, "s.out-to-gpu", "bridge_send"), "peer", "[fd00::2]:7400");
    xmemi_graph_free(&g);
}

/* ---- xmem keygen ------------------------------------------------------------------------------
 */

/* Runs `xmem keygen ARGS...` with its output into DIR/keygen.log; its exit status. */
static int keygen(const char *a1, const char *a2, const char *a3)
{
    char log[256];
    snprintf(log, sizeof log, "%s/keygen.log", dir);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(XMEM_CLI, XMEM_CLI, "keygen", a1, a2, a3, (char *)NULL);
        _exit(127);
    }
    return xf_wait(pid);
}

static __attribute__((unused)) void read_whole(const char *p, char *buf, size_t len)
{
    FILE *f = fopen(p, "r");
    cr_assert(f != NULL, "%s", p);
    buf[fread(buf, 1, len - 1, f)] = '\0';
    fclose(f);
}

Test(graph_hosts, keygen_writes_a_pair_czmq_reads_and_never_overwrites_it)
{
    char pub[256], secret[256], name[256];
    snprintf(name, sizeof name, "%s/cam", dir);
    snprintf(pub, sizeof pub, "%s/cam.key", dir);
    snprintf(secret, sizeof secret, "%s/cam.key_secret", dir);
#ifndef XMEM_HAVE_CZMQ
    cr_assert(eq(int, keygen(name, NULL, NULL), 1));
    cr_assert(ne(int, access(pub, F_OK), 0));
    cr_skip("built without czmq: keygen refuses, as checked");
#else
    cr_assert(eq(int, keygen(name, NULL, NULL), 0));
    struct stat st;
    cr_assert(eq(int, stat(secret, &st), 0));
    cr_assert(eq(int, st.st_mode & 0777, 0600), "mode %o", st.st_mode & 0777);
    cr_assert(eq(int, stat(pub, &st), 0));
    cr_assert(eq(int, st.st_mode & 0077 & ~0044, 0), "the public half is no one's to write");
    zsys_handler_set(NULL);
    zcert_t *both = zcert_load(pub); /* reads cam.key_secret when there */
    cr_assert(both != NULL);
    cr_assert(ne(str, (char *)zcert_secret_txt(both), "0000000000000000000000000000000000000000"));
    cr_assert(eq(str, (char *)zcert_meta(both, "name"), "cam"));
    char before_pub[4096], before_secret[4096], after[4096];
    read_whole(pub, before_pub, sizeof before_pub);
    read_whole(secret, before_secret, sizeof before_secret);
    cr_assert(not(eq(ptr, strstr(before_pub, zcert_public_txt(both)), NULL)));
    cr_assert(eq(ptr, strstr(before_pub, zcert_secret_txt(both)), NULL), "no secret in public");
    char log[256];
    snprintf(log, sizeof log, "%s/keygen.log", dir);
    read_whole(log, after, sizeof after);
    cr_assert(not(eq(ptr, strstr(after, zcert_public_txt(both)), NULL)), "prints the public key");
    zcert_destroy(&both);
    /* the graph's own check takes them */
    xmemi_graph g;
    xmem_error_t err = {0};
    cr_assert(eq(int,
                 parse("hosts: [{name: cam, address: 10.0.0.1, key: cam.key}]\n"
                       "nodes: [{name: s, plugin: testsrc}]\n",
                       &g, &err),
                 XMEM_OK),
              "%s", err.msg);
    cr_assert(eq(int, xmemi_graph_for_host(&g, "cam", &err), XMEM_OK), "%s", err.msg);
    xmemi_graph_free(&g);
    /* a second time: refused, both files as they were */
    cr_assert(eq(int, keygen(name, NULL, NULL), 1));
    read_whole(pub, after, sizeof after);
    cr_assert(eq(str, after, before_pub));
    read_whole(secret, after, sizeof after);
    cr_assert(eq(str, after, before_secret));
    /* --force: a new pair */
    cr_assert(eq(int, keygen("--force", name, NULL), 0));
    read_whole(pub, after, sizeof after);
    cr_assert(ne(str, after, before_pub));
    /* -d DIR */
    cr_assert(eq(int, keygen("-d", dir, "gpu"), 0));
    snprintf(pub, sizeof pub, "%s/gpu.key_secret", dir);
    cr_assert(eq(int, access(pub, F_OK), 0));
#endif
}
