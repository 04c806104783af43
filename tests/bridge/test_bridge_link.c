/* The two halves of a bridge in one graph over 127.0.0.1 (the real `xmem run`, the module's
 * bridge_send and bridge_recv): every frame of a `block` edge crosses and the far stream ends with
 * the near one; a far side that cannot keep up costs a drop_oldest edge its drops there, counted
 * as such, never the source its rate; a wrong key, another link's sender and a secret key others
 * can read are refused, each named; a receiver killed mid-run comes back and the sender carries
 * on to it. Every run ends with every buffer back and nothing left in /dev/shm. */
#include <arpa/inet.h>
#include <czmq.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include "xmem_run.h"

static int port;
static char key_a[256], key_b[256], key_c[256];

/* A port nobody listens on now (the kernel's pick for a socket bound to port 0). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
              getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void make_key(char *path, size_t len, const char *name)
{
    scratch_path(path, len, name);
    zcert_t *c = zcert_new();
    cr_assert(zcert_save(c, path) == 0);
    zcert_destroy(&c);
    char secret[300];
    snprintf(secret, sizeof secret, "%s_secret", path);
    chmod(secret, 0600);
}

static void setup(void)
{
    zsys_handler_set(NULL);
    xgr_setup("bridge");
    port = free_port();
    make_key(key_a, sizeof key_a, "a.key");
    make_key(key_b, sizeof key_b, "b.key");
    make_key(key_c, sizeof key_c, "c.key");
}

static void teardown(void)
{
    xgr_teardown();
}

TestSuite(bridge_link, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT_LONG);

/* The graph: src -> tx (bridge_send) ... rx (bridge_recv) -> sink, with `allow` the key rx lets
 * in, `tx_link` the sender's link name, and the sink and the edges as given. */
static void write_bridge_graph(const char *src_params, const char *tx_extra, const char *allow,
                               const char *tx_link, const char *sink)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "pool: {name: %s}\n"
             "nodes:\n"
             "  - {name: src, plugin: testsrc, %s}\n"
             "  - name: tx\n"
             "    plugin: bridge_send\n"
             "    inputs: {in: {from: src/out, depth: 4, %s}}\n"
             "    params: {peer: '127.0.0.1:%d', link: '%s', key: '%s', peer_key: '%s', %s}\n"
             "  - name: rx\n"
             "    plugin: bridge_recv\n"
             "    restart: on-failure\n"
             "    params: {bind: '127.0.0.1:%d', link: 'src.out@a->b', key: '%s', allow: '%s'}\n"
             "  - %s\n",
             pool, src_params, strstr(tx_extra, "block") ? "policy: block" : "policy: drop_oldest",
             port, tx_link, key_a, key_b, tx_extra, port, key_b, allow, sink);
    write_yaml(yaml);
}

static struct fy_document *run_graph(const char *duration, int want_status)
{
    const char *args[] = {"run",    graph, "-i", "0", "-s", summary, duration ? "-d" : NULL,
                          duration, NULL};
    int st = run_xmem(args);
    cr_assert(eq(int, st, want_status), "exit %d; log:\n%s", st, log_text());
    assert_clean();
    struct fy_document *doc = summary_doc();
    cr_assert(eq(long, summary_num(doc, "/pool/free_at_end"), summary_num(doc, "/pool/buffers")),
              "%s", log_text());
    return doc;
}

Test(bridge_link, block_carries_every_frame_and_the_end_of_the_stream)
{
    write_bridge_graph("params: {width: 1280, height: 720, frames: 200}", "policy: block, depth: 4",
                       key_a, "src.out@a->b",
                       "{name: check, plugin: verify, inputs: {in: {from: rx/out, policy: block}}, "
                       "params: {expect: 200}}");
    /* No --duration: the run ends because the sender's END ended rx's stream. */
    struct fy_document *doc = run_graph(NULL, 0);
    cr_assert(eq(long, summary_num(doc, "/nodes/3/in"), 200), "%s", log_text());
    cr_assert(eq(long, summary_num(doc, "/nodes/1/link/frames"), 200));
    cr_assert(eq(long, summary_num(doc, "/nodes/2/link/frames"), 200));
    cr_assert(eq(long, summary_num(doc, "/nodes/1/link/bytes"), 200l * 1280 * 720 * 3));
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/1/link/state"), "up"));
    cr_assert(gt(long, summary_num(doc, "/nodes/1/link/rtt_us"), 0));
    for (int d = 0; d < 4; d++) {
        static const char *const reasons[] = {"link-down", "remote-full", "lost",
                                              "remote-no-buffer"};
        char path[96];
        snprintf(path, sizeof path, "/nodes/1/link/dropped/%s", reasons[d]);
        cr_assert(eq(long, summary_num(doc, path), 0), "%s", path);
    }
    cr_assert(log_has("CURVE, the graph's key only"), "%s", log_text());
    cr_assert(log_has("ended its stream after 200 frames"), "%s", log_text());
    fy_document_destroy(doc);
}

Test(bridge_link, a_slow_far_side_costs_drop_oldest_its_drops_there_never_the_source_its_rate)
{
    char sink[512];
    snprintf(sink, sizeof sink,
             "{name: slow, plugin: '%s', inputs: {in: {from: rx/out, depth: 2, policy: block}}, "
             "params: {delay_ms: 100}}",
             PLUGIN_SLOW);
    write_bridge_graph("rate: 50, params: {width: 320, height: 240}", "policy: drop_oldest", key_a,
                       "src.out@a->b", sink);
    struct fy_document *doc = run_graph("4", 0);
    long sent = summary_num(doc, "/nodes/0/out");
    long full = summary_num(doc, "/nodes/1/link/dropped/remote-full");
    long crossed = summary_num(doc, "/nodes/1/link/frames");
    /* 200 at 50/s in 4 s, less the start: a source that waited on the far side would make ~40. */
    cr_assert(ge(long, sent, 140), "the source made only %ld frames in 4 s at 50/s; log:\n%s", sent,
              log_text());
    cr_assert(gt(long, full, 20), "remote-full drops %ld; log:\n%s", full, log_text());
    cr_assert(lt(long, crossed, sent / 2), "crossed %ld of %ld", crossed, sent);
    fy_document_destroy(doc);
}

Test(bridge_link, a_key_the_receiver_does_not_allow_is_refused_and_named)
{
    write_bridge_graph("rate: 30, params: {width: 64, height: 64}", "policy: drop_oldest", key_c,
                       "src.out@a->b", "{name: sink, plugin: null, inputs: {in: rx/out}}");
    struct fy_document *doc = run_graph("2", 0);
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/1/link/state"), "refused"), "%s",
              log_text());
    cr_assert(eq(long, summary_num(doc, "/nodes/1/link/frames"), 0));
    cr_assert(ge(long, summary_num(doc, "/nodes/1/link/refused"), 1));
    cr_assert(ge(long, summary_num(doc, "/nodes/2/link/refused"), 1));
    cr_assert(log_has("ipaddress=127.0.0.1") && log_has("denied (CURVE)"), "%s", log_text());
    cr_assert(log_has("refused this host: authentication failed"), "%s", log_text());
    cr_assert(log_has("refused a peer from 127.0.0.1:"), "%s", log_text());
    fy_document_destroy(doc);
}

Test(bridge_link, a_peer_without_a_key_is_refused_with_its_address)
{
    write_bridge_graph("rate: 30, params: {width: 64, height: 64}",
                       "policy: drop_oldest, insecure: true", key_a, "src.out@a->b",
                       "{name: sink, plugin: null, inputs: {in: rx/out}}");
    struct fy_document *doc = run_graph("2", 0);
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/1/link/state"), "refused"), "%s",
              log_text());
    cr_assert(eq(long, summary_num(doc, "/nodes/2/link/frames"), 0));
    cr_assert(ge(long, summary_num(doc, "/nodes/2/link/refused"), 1));
    cr_assert(log_has("refused a peer from 127.0.0.1:"), "%s", log_text());
    cr_assert(log_has("without this host's key, or sending in plaintext"), "%s", log_text());
    fy_document_destroy(doc);
}

Test(bridge_link, a_sender_of_another_link_is_refused_naming_both)
{
    write_bridge_graph("rate: 30, params: {width: 64, height: 64}", "policy: drop_oldest", key_a,
                       "other.out@a->b", "{name: sink, plugin: null, inputs: {in: rx/out}}");
    struct fy_document *doc = run_graph("2", 0);
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/1/link/state"), "refused"), "%s",
              log_text());
    cr_assert(log_has("it sends 'other.out@a->b' to this port, which carries 'src.out@a->b'"), "%s",
              log_text());
    fy_document_destroy(doc);
}

Test(bridge_link, a_secret_key_others_can_read_is_refused_with_the_chmod_to_run)
{
    char secret[300];
    snprintf(secret, sizeof secret, "%s_secret", key_a);
    cr_assert(chmod(secret, 0644) == 0);
    write_bridge_graph("rate: 30, params: {width: 64, height: 64}", "policy: drop_oldest", key_a,
                       "src.out@a->b", "{name: sink, plugin: null, inputs: {in: rx/out}}");
    struct fy_document *doc = run_graph("1", 1);
    char want[400];
    snprintf(want, sizeof want, "run `chmod 600 %s`", secret);
    cr_assert(log_has(want), "%s", log_text());
    cr_assert(eq(str, (char *)summary_str(doc, "/nodes/1/state"), "failed"));
    fy_document_destroy(doc);
}

Test(bridge_link, a_receiver_killed_mid_run_comes_back_and_the_sender_carries_on_to_it)
{
    write_bridge_graph(
        "rate: 50, params: {width: 320, height: 240}", "policy: drop_oldest", key_a, "src.out@a->b",
        "{name: check, plugin: verify, inputs: {in: {from: rx/out, policy: block}}}");
    const char *args[] = {"run", graph, "-i", "0", "-s", summary, "-d", "5", NULL};
    pid_t launcher = start_xmem(args);
    usleep(2000 * 1000);
    pid_t pids[8];
    cr_assert(eq(int, node_pids(pids, 8), 4), "%s", log_text());
    cr_assert(kill(pids[2], SIGKILL) == 0);
    int st = xf_wait(launcher);
    cr_assert(eq(int, st, 0), "exit %d; log:\n%s", st, log_text());
    assert_clean();
    struct fy_document *doc = summary_doc();
    cr_assert(eq(long, summary_num(doc, "/nodes/2/restarts"), 1), "%s", log_text());
    cr_assert(log_has("restarted:"), "the sender never saw the new receiver:\n%s", log_text());
    /* Frames crossed after the restart too: the last second or more of 5 at 50/s. */
    cr_assert(gt(long, summary_num(doc, "/nodes/3/in"), 150), "%s", log_text());
    cr_assert(eq(long, summary_num(doc, "/pool/free_at_end"), summary_num(doc, "/pool/buffers")));
    fy_document_destroy(doc);
}
