/* Graphs across hosts: a graph file's hosts: section places each node on a machine, and each
 * machine runs only its own part (`xmem run GRAPH --host NAME`). An edge between two hosts
 * becomes a pair of bridge nodes: on the producer's host a sender (bridge_send, one per stream and
 * consuming host), on the consumer's host one receiver (bridge_recv) whose output the local
 * consumers take instead. Every host derives the same pairs and TCP ports from the same file, so
 * nothing is negotiated at run time.
 *
 *   hosts:
 *     - {name: cam, address: 10.77.0.1, key: keys/cam.key}
 *     - {name: gpu, address: 10.77.0.2, ports: 7400-7449, key: keys/gpu.key}
 *   nodes:
 *     - {name: src, plugin: testsrc, host: cam}
 *     - {name: inv, plugin: invert, host: gpu, inputs: {in: src/out}}
 *
 * gpu then runs `src.out-from-cam` (bridge_recv, binding 10.77.0.2:7400) and inv taking its out;
 * cam runs src and `src.out-to-gpu` (bridge_send, to 10.77.0.2:7400).
 */
#ifndef XMEM_GRAPH_GRAPH_HOSTS_H
#define XMEM_GRAPH_GRAPH_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xmem/error.h>

#include "graph.h"

#define XMEMI_HOST_PORTS_FIRST 7400
#define XMEMI_HOST_PORTS_LAST 7499
/* The largest message a link carries: a frame's descriptor and its bytes. Buffers may be up to
 * XMEM_BUFFER_SIZE_MAX, but a receiver must refuse what it would not want to allocate for an
 * unknown peer; 256 MiB holds an 8K RGBA float frame (7680 x 4320 x 4 x 2 bytes) with room. */
#define XMEMI_BRIDGE_MAX_MESSAGE 268435456u
/* A link must keep trying across network outages: the bridges restart on failure this often. */
#define XMEMI_BRIDGE_RESTART_LIMIT 1000u

/* An IPv4 or IPv6 literal, or a host name of RFC 1123 labels whose last label is not all digits
 * (so "10.0.0.256" is refused, not looked up). */
bool xmemi_host_address_ok(const char *s);

/* The address family (AF_INET, AF_INET6) of an IP literal; 0 for a host name. */
int xmemi_host_address_family(const char *s);

/* "FIRST-LAST" or "PORT", 1 <= FIRST <= LAST <= 65535. */
bool xmemi_host_ports_parse(const char *s, uint32_t *first, uint32_t *last);

/* "ADDRESS:PORT", an IPv6 address in brackets ("[fd00::1]:7400"). */
void xmemi_host_endpoint(const char *address, uint32_t port, char *buf, size_t len);

/* Copies the settings a pool: mapping gives (those with a mark) into the graph's pool. */
void xmemi_graph_pool_apply(xmemi_graph *g, const xmemi_graph_pool_set *set);

/* The index of host `name`, -1 when the graph has none of that name. */
int xmemi_graph_host_find(const xmemi_graph *g, const char *name);

/* "cam, gpu, rec": the hosts' names, for messages. */
void xmemi_graph_host_list(const xmemi_graph *g, char *buf, size_t len);

/* The CUDA buffers node `n` has on its host: the host's pool.cuda when it gives one, else the
 * graph's. */
void xmemi_graph_node_cuda(const xmemi_graph *g, const xmemi_graph_node *n, uint32_t *count,
                           int *device);

/* One output port consumed on other hosts than its producer's: a stream across the network. */
typedef struct xmemi_stream {
    uint32_t producer;                  /* node index */
    const char *port;                   /* the producer's output port (an edge's from_port) */
    uint32_t to_hosts;                  /* bit h: host h has consumers of it */
    xmemi_mark at;                      /* the first consuming edge's source, in file order */
    char key[3 * XMEMI_GRAPH_NAME_MAX]; /* "NODE.PORT@HOST": the order of ports on a host */
} xmemi_stream;

/* Every stream of a (not yet planned) graph with hosts, in the order of the edges that first
 * consume them. Edges from unknown nodes are left to xmemi_graph_check. Free *out with free(). */
xmem_err xmemi_graph_streams(const xmemi_graph *g, xmemi_stream **out, uint32_t *n,
                             xmem_error_t *err);

/* The TCP port stream `s` takes on host `h`: h's first port plus its place among the streams
 * coming in to h, ordered by key. UINT32_MAX when h receives no part of s. */
uint32_t xmemi_stream_port(const xmemi_graph *g, const xmemi_stream *streams, uint32_t n,
                           uint32_t s, uint32_t h);

/* The checks of a parsed graph's hosts: every node's host: exists (and is placed: host fills),
 * no host: without hosts:, keys given and readable (unless options.insecure_network), no two
 * hosts at one address with overlapping ports, every host with a port for each stream coming in.
 * Errors at file:line:column. The parser's last step. */
xmem_err xmemi_graph_check_hosts(xmemi_graph *g, xmem_error_t *err);

/* Rewrites the parsed graph `g` (with hosts:, before xmemi_graph_check) in place into the part
 * host `host` runs: its own nodes, a bridge_send node NODE.PORT-to-HOST per stream of theirs
 * and consuming host, a bridge_recv node NODE.PORT-from-HOST per stream coming in (its local
 * consumers rewired to it), the host's pool: settings over the top-level ones and, when the file
 * names no pool, the pool xmem-<file stem>-<host>. Checks the host's secret key (KEY_secret:
 * present, a secret certificate, mode 0600) unless options.insecure_network. Errors: an unknown
 * host, a host without nodes, a bridge name too long, more than XMEMI_GRAPH_MAX_NODES nodes. */
xmem_err xmemi_graph_for_host(xmemi_graph *g, const char *host, xmem_error_t *err);

/* Host h's public certificate (its key: file) exists, is readable and (with czmq) holds a CURVE
 * public key; at h's key: in the file. */
xmem_err xmemi_host_key_check_public(const xmemi_graph *g, const xmemi_graph_host *h,
                                     xmem_error_t *err);

/* Host h's secret certificate (KEY_secret) exists, is not readable by group or others and (with
 * czmq) holds a CURVE secret key; at h's key: in the file. */
xmem_err xmemi_host_key_check_secret(const xmemi_graph *g, const xmemi_graph_host *h,
                                     xmem_error_t *err);

#endif
