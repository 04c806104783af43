/* bridge_recv: the receiving half of a cross-host edge (docs/MULTIHOST.md), a source of this
 * host's graph. A ZeroMQ ROUTER bound at this host's address and the edge's port, a CURVE server
 * whose zauth lets in only the public key the graph lists for the sending host. Each frame is
 * copied once, from libzmq's message into a buffer of this host's pool, given its layout and
 * stamp, and published locally (fan-out to this host's consumers stays here); then a CREDIT tells
 * the sender it may send one more. A publish that blocks (a `block` consumer here is full)
 * holds the credit back, so the sender, and through it the far publisher, waits too. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge_link.h"
#include "bridge_wire.h"
#include "common/fail.h"
#include "nodes/builtin/builtins.h"

#define POLL_MS 100
#define SESSIONS 8 /* senders remembered: the current one and a few restarted ones */
#define REPORT_EVERY_NS (100ull * 1000000ull)

typedef struct session {
    uint64_t id, done, dropped_far, last_heard_ns;
} session;

typedef struct rx {
    xmem_node_t *node;
    const char *link, *bind;
    zsock_t *sock, *mon;
    zactor_t *auth;
    zcert_t *cert;
    uint64_t incarnation;
    session sessions[SESSIONS];
    uint64_t last_heard_ns, next_report_ns;
    bool ever_up;
    char peer_addr[64];
    char accepted[80];        /* the peer of the last connection accepted: "10.0.0.1:51234" */
    uint64_t refused_session; /* the last sender refused for another link: said once */
    xmem_node_link fig;
} rx;

static const xmem_node_param params[] = {
    {"bind", XMEM_PARAM_STRING, NULL, "ADDRESS:PORT to listen at (* for every address)", 0, 0,
     NULL},
    {"link", XMEM_PARAM_STRING, NULL, "the edge's name, the same on both sides", 0, 0, NULL},
    {"key", XMEM_PARAM_STRING, "", "this host's public key file (KEY_secret beside it)", 0, 0,
     NULL},
    {"allow", XMEM_PARAM_STRING, "", "public key files of the senders let in, comma-separated", 0,
     0, NULL},
    {"insecure", XMEM_PARAM_BOOL, "false", "plaintext, any peer", 0, 0, NULL},
    {"max_message", XMEM_PARAM_INT, "268435456", "the largest frame in bytes", 1, 4e9, NULL},
};

static const xmem_node_port outputs[] = {{"out", "the frames from the far host"}};

static session *session_of(rx *r, uint64_t id, uint64_t now)
{
    session *oldest = &r->sessions[0];
    for (int i = 0; i < SESSIONS; i++) {
        if (r->sessions[i].id == id) {
            r->sessions[i].last_heard_ns = now;
            return &r->sessions[i];
        }
        if (r->sessions[i].last_heard_ns < oldest->last_heard_ns)
            oldest = &r->sessions[i];
    }
    *oldest = (session){.id = id, .last_heard_ns = now};
    return oldest;
}

static void report(rx *r, bool force)
{
    uint64_t now = xmem_node_clock_ns();
    if (!force && now < r->next_report_ns)
        return;
    r->next_report_ns = now + REPORT_EVERY_NS;
    if (r->fig.state == XMEM_LINK_UP &&
        now - r->last_heard_ns > XMEMI_BRIDGE_DEAD_MS * 1000000ull) {
        r->fig.state = XMEM_LINK_DOWN;
        xmem_node_log(r->node, XMEM_LOG_WARN, "link from %s down: nothing heard for 2 s",
                      r->peer_addr);
    }
    xmem_node_report_link(r->node, &r->fig, sizeof r->fig);
}

/* Replies to the sender (routing id `who`) with `m`, stamped with this side's life. */
static void reply(rx *r, zmq_msg_t *who, xmemi_bridge_msg *m)
{
    void *raw = zsock_resolve(r->sock);
    m->incarnation = r->incarnation;
    zmq_msg_t id;
    zmq_msg_init(&id);
    zmq_msg_copy(&id, who);
    if (zmq_msg_send(&id, raw, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&id);
        return; /* the sender has gone: it says hello again when it is back */
    }
    zmq_send(raw, m, sizeof *m, ZMQ_DONTWAIT);
}

static void heard(rx *r, const char *addr, uint64_t now)
{
    r->last_heard_ns = now;
    if (addr && strcmp(addr, r->peer_addr) != 0) {
        snprintf(r->peer_addr, sizeof r->peer_addr, "%s", addr);
        snprintf(r->fig.peer, sizeof r->fig.peer, "%s", addr);
    }
    if (r->fig.state != XMEM_LINK_UP) {
        if (r->ever_up)
            r->fig.reconnects++;
        r->ever_up = true;
        r->fig.state = XMEM_LINK_UP;
        xmem_node_log(r->node, XMEM_LOG_INFO, "link from %s up (%s)", r->peer_addr, r->link);
    }
}

/* One frame: a buffer of this pool, filled, described and published; false when it could not be
 * (counted as dropped here, the sender told so). */
static xmem_err take_frame(rx *r, const xmemi_bridge_msg *m, zmq_msg_t *payload, bool *dropped,
                           xmem_error_t *err)
{
    *dropped = false;
    size_t size = zmq_msg_size(payload);
    if (size != m->size) {
        xmem_node_log(r->node, XMEM_LOG_WARN,
                      "a frame from %s says %" PRIu64 " bytes and carries %zu: dropped",
                      r->peer_addr, m->size, size);
        *dropped = true;
        return XMEM_OK;
    }
    XMEM_GUARD_AUTO xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t why;
    if (xmem_node_acquire(r->node, size ? size : 1, &g, &why)) {
        xmem_node_log(r->node, XMEM_LOG_WARN, "frame %" PRIu64 " from %s dropped: %s", m->seq,
                      r->peer_addr, why.msg);
        *dropped = true;
        return XMEM_OK;
    }
    void *dst;
    xmem_err rc = xmem_guard_data_mut(&g, &dst, err);
    if (rc)
        return rc;
    memcpy(dst, zmq_msg_data(payload), size);
    if (m->ndim && m->ndim <= XMEM_MAX_NDIM &&
        xmem_guard_set_layout(&g, (xmem_dtype)m->dtype, m->ndim, m->shape, m->strides, &why))
        xmem_node_log(r->node, XMEM_LOG_WARN, "frame %" PRIu64 ": layout refused: %s", m->seq,
                      why.msg);
    /* Stamped in this host's clock (the sender converts); unknown: its arrival. */
    xmem_guard_set_stamp(&g, m->stamp_sequence, m->stamp_ns ? m->stamp_ns : xmem_node_clock_ns(),
                         NULL);
    r->fig.frames++;
    r->fig.bytes += size;
    return xmem_node_publish(r->node, "out", &g, err);
}

/* Reads the part after the header into `payload` and throws any further ones away; returns how
 * many parts followed the header. */
static int rest(void *raw, zmq_msg_t *payload, const zmq_msg_t *head)
{
    if (!zmq_msg_more(head) || zmq_msg_recv(payload, raw, 0) < 0)
        return 0;
    int n = 1;
    bool more = zmq_msg_more(payload);
    while (more) {
        zmq_msg_t skip;
        zmq_msg_init(&skip);
        if (zmq_msg_recv(&skip, raw, 0) < 0)
            break;
        more = zmq_msg_more(&skip);
        zmq_msg_close(&skip);
        n++;
    }
    return n;
}

static xmem_err on_message(rx *r, zmq_msg_t *who, zmq_msg_t *head, zmq_msg_t *payload, int n_after,
                           xmem_error_t *err)
{
    const char *addr = zmq_msg_gets(head, "Peer-Address");
    char from[96];
    snprintf(from, sizeof from, "the sender at %s", addr ? addr : "?");
    xmem_error_t why;
    if (xmemi_bridge_msg_check(zmq_msg_data(head), zmq_msg_size(head), from, &why)) {
        xmem_node_log(r->node, XMEM_LOG_WARN, "%s", why.msg);
        return XMEM_OK;
    }
    xmemi_bridge_msg m;
    memcpy(&m, zmq_msg_data(head), sizeof m);
    m.text[sizeof m.text - 1] = '\0'; /* the peer's text, whatever it sent */
    uint64_t now = xmem_node_clock_ns();
    if (m.type == XMEMI_BRIDGE_HELLO) {
        xmemi_bridge_msg a = xmemi_bridge_msg_make(XMEMI_BRIDGE_WELCOME);
        a.session = m.session;
        if (strncmp(m.text, r->link, sizeof m.text) != 0) {
            a.type = XMEMI_BRIDGE_REFUSED;
            snprintf(a.text, sizeof a.text, "this port carries '%.60s', not '%.60s'", r->link,
                     m.text);
            /* It says hello twice a second until it is fixed: said and counted once per sender. */
            if (m.session != r->refused_session) {
                xmem_node_log(r->node, XMEM_LOG_ERROR,
                              "refused %s: it sends '%.*s' to this port, which carries '%s' (do "
                              "both hosts run the same graph file?)",
                              from, (int)sizeof m.text - 1, m.text, r->link);
                r->fig.refused++;
                r->refused_session = m.session;
            }
            reply(r, who, &a);
            return XMEM_OK;
        }
        session *s = session_of(r, m.session, now);
        a.done = s->done;
        a.dropped_far = s->dropped_far;
        a.t_echo = m.t_send;
        a.t_peer = xmem_node_clock_ns();
        heard(r, addr, now);
        reply(r, who, &a);
        return XMEM_OK;
    }
    heard(r, addr, now);
    session *s = session_of(r, m.session, now);
    if (m.type == XMEMI_BRIDGE_FRAME) {
        bool dropped = true;
        xmem_err rc = XMEM_OK;
        if (n_after == 1)
            rc = take_frame(r, &m, payload, &dropped, err);
        else
            xmem_node_log(r->node, XMEM_LOG_WARN, "a frame from %s in %d parts: dropped",
                          r->peer_addr, n_after + 1);
        s->done++;
        if (dropped) {
            s->dropped_far++;
            r->fig.dropped[XMEM_LINK_DROP_FAR]++;
        }
        xmemi_bridge_msg c = xmemi_bridge_msg_make(XMEMI_BRIDGE_CREDIT);
        c.session = m.session;
        c.seq = m.seq;
        c.done = s->done;
        c.dropped_far = s->dropped_far;
        reply(r, who, &c);
        return rc;
    }
    if (m.type == XMEMI_BRIDGE_PING) {
        r->fig.rtt_ns = m.t_echo;
        xmemi_bridge_msg p = xmemi_bridge_msg_make(XMEMI_BRIDGE_PONG);
        p.session = m.session;
        p.seq = m.seq;
        p.done = s->done;
        p.dropped_far = s->dropped_far;
        p.t_echo = m.t_send;
        p.t_peer = xmem_node_clock_ns();
        reply(r, who, &p);
        return XMEM_OK;
    }
    if (m.type == XMEMI_BRIDGE_END) {
        xmem_node_log(r->node, XMEM_LOG_INFO,
                      "%s ended its stream after %" PRIu64 " frames: ending this one", from, m.seq);
        xmem_node_finish(r->node);
    }
    return XMEM_OK;
}

static xmem_err read_messages(rx *r, xmem_error_t *err)
{
    void *raw = zsock_resolve(r->sock);
    for (int k = 0; k < 256 && !xmem_node_stopping(r->node); k++) {
        zmq_msg_t who, head, payload;
        zmq_msg_init(&who);
        if (zmq_msg_recv(&who, raw, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&who);
            return XMEM_OK;
        }
        zmq_msg_init(&head);
        zmq_msg_init(&payload);
        int n_after = -1;
        if (zmq_msg_more(&who) && zmq_msg_recv(&head, raw, 0) >= 0)
            n_after = rest(raw, &payload, &head);
        xmem_err rc = n_after < 0 ? XMEM_OK : on_message(r, &who, &head, &payload, n_after, err);
        zmq_msg_close(&payload);
        zmq_msg_close(&head);
        zmq_msg_close(&who);
        if (rc)
            return rc;
    }
    return XMEM_OK;
}

/* The address of the peer on libzmq's accepted socket `fd` (its ACCEPTED event's value), read
 * as soon as the event is: libzmq's events name the listening endpoint, not the peer. */
static void accepted_from(int fd, char *out, size_t len)
{
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getpeername(fd, (struct sockaddr *)&sa, &sl) != 0) {
        snprintf(out, len, "an address gone before it was read");
        return;
    }
    if (sa.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, host, sizeof host);
        port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
    } else if (sa.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, host, sizeof host);
        port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
    }
    snprintf(out, len, "%s:%d", host, port);
}

static void read_monitor(rx *r)
{
    uint16_t ev;
    uint32_t value;
    char addr[256];
    while (xmemi_bridge_monitor_read(r->mon, &ev, &value, addr, sizeof addr)) {
        if (ev == ZMQ_EVENT_ACCEPTED) {
            accepted_from((int)value, r->accepted, sizeof r->accepted);
            xmem_node_log(r->node, XMEM_LOG_DEBUG, "connection from %s", r->accepted);
        } else if (xmemi_bridge_event_refused(ev)) {
            /* The handshake follows its connection's acceptance: the last one accepted is the
             * peer (zauth's lines, for a key it judged, name it too). */
            r->fig.refused++;
            xmem_node_log(r->node, XMEM_LOG_ERROR,
                          "refused a peer from %s (connecting to %s): %s (status %u)%s",
                          r->accepted[0] ? r->accepted : "?", addr, xmemi_bridge_event_name(ev),
                          value,
                          ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                              ? ""
                              : "; a peer without this host's key, or sending in plaintext");
        }
    }
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* zauth reads the keys it allows from a directory: one made for this node holding exactly the
 * allowed public keys, read once (zauth's "CURVE" command) and removed at once. */
static xmem_err start_auth(rx *r, const char *allow, xmem_error_t *err)
{
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/xmem-allow-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return xmemi_fail(err, XMEM_ESYS, errno, "mkdtemp %s: %s", dir, strerror(errno));
    xmem_err rc = XMEM_OK;
    char *list = strdup(allow);
    if (!list) {
        nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
        return xmemi_fail(err, XMEM_ENOMEM, 0, "no memory for the allowed keys");
    }
    int n = 0;
    for (char *save = NULL, *p = strtok_r(list, ",", &save); p && !rc;
         p = strtok_r(NULL, ",", &save)) {
        zcert_t *c = NULL;
        if ((rc = xmemi_bridge_load_public(p, &c, err)))
            break;
        char path[4200];
        snprintf(path, sizeof path, "%s/allowed-%d.key", dir, n++);
        if (zcert_save_public(c, path) != 0)
            rc = xmemi_fail(err, XMEM_ESYS, errno, "writing %s: %s", path, strerror(errno));
        zcert_destroy(&c);
    }
    free(list);
    if (!rc && n == 0)
        rc = xmemi_fail(err, XMEM_ECONFIG, 0, "no key in allow: nobody could connect");
    if (!rc) {
        r->auth = zactor_new(zauth, NULL);
        if (!r->auth)
            rc = xmemi_fail(err, XMEM_ETRANSPORT, 0, "zauth could not start");
    }
    if (!rc) {
        zstr_sendx(r->auth, "VERBOSE", NULL); /* its lines name each peer's address and key */
        zsock_wait(r->auth);
        zstr_sendx(r->auth, "CURVE", dir, NULL);
        zsock_wait(r->auth);
    }
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return rc;
}

static void destroy(rx *r)
{
    zsock_destroy(&r->mon);
    zsock_destroy(&r->sock);
    zactor_destroy(&r->auth);
    zcert_destroy(&r->cert);
    free(r);
}

static xmem_err setup(rx *r, xmem_error_t *err)
{
    xmem_node_t *node = r->node;
    bool insecure = xmem_node_param_bool(node, "insecure");
    const char *key = xmem_node_param_string(node, "key");
    const char *allow = xmem_node_param_string(node, "allow");
    int64_t max_message = xmem_node_param_int(node, "max_message");
    char ep[512];
    bool ipv6;
    xmem_err rc = xmemi_bridge_endpoint(r->bind, ep, sizeof ep, &ipv6, err);
    if (rc)
        return rc;
    r->sock = zsock_new(ZMQ_ROUTER);
    if (!r->sock)
        return xmemi_fail(err, XMEM_ETRANSPORT, errno, "a ROUTER socket: %s", zmq_strerror(errno));
    xmemi_bridge_tune(r->sock, max_message, 1000, ipv6);
    zsock_set_router_handover(r->sock, 1);
    if (!insecure) {
        if (!key[0] || !allow[0])
            return xmemi_fail(err, XMEM_ECONFIG, 0,
                              "key and allow are needed unless insecure is true");
        if ((rc = xmemi_bridge_load_secret(key, &r->cert, err)) || (rc = start_auth(r, allow, err)))
            return rc;
        zcert_apply(r->cert, r->sock);
        zsock_set_curve_server(r->sock, 1);
    }
    if ((rc = xmemi_bridge_monitor(r->sock, xmem_node_name(node), &r->mon, err)))
        return rc;
    if (zsock_bind(r->sock, "%s", ep) < 0)
        return xmemi_fail(err, XMEM_ETRANSPORT, errno,
                          "bind %s: %s (is another run of this graph's host, or another "
                          "program, listening there? the port comes from the host's ports:)",
                          ep, zmq_strerror(errno));
    snprintf(r->fig.peer, sizeof r->fig.peer, "(listening at %.40s)", r->bind);
    xmem_node_log(node, XMEM_LOG_INFO, "receiving %s at %s (%s)", r->link, ep,
                  insecure ? "PLAINTEXT, any peer" : "CURVE, the graph's key only");
    return XMEM_OK;
}

static xmem_err init(xmem_node_t *node, void **state, xmem_error_t *err)
{
    xmemi_bridge_czmq_init(xmem_node_name(node));
    rx *r = calloc(1, sizeof *r);
    if (!r)
        return xmem_node_fail(node, err, "out of memory");
    r->node = node;
    r->link = xmem_node_param_string(node, "link");
    r->bind = xmem_node_param_string(node, "bind");
    r->incarnation = xmemi_bridge_random64();
    xmem_err rc = setup(r, err);
    if (rc) {
        destroy(r);
        return rc;
    }
    report(r, true);
    *state = r;
    return XMEM_OK;
}

/* Waits up to POLL_MS for the sender, then handles what came. */
static xmem_err tick(xmem_node_t *node, void *state, xmem_error_t *err)
{
    (void)node;
    rx *r = state;
    zmq_pollitem_t items[] = {{zsock_resolve(r->sock), 0, ZMQ_POLLIN, 0},
                              {zsock_resolve(r->mon), 0, ZMQ_POLLIN, 0}};
    zmq_poll(items, 2, POLL_MS); /* a signal ends it early: the host looks at why */
    read_monitor(r);
    xmem_err rc = read_messages(r, err);
    report(r, false);
    return rc;
}

static void fini(xmem_node_t *node, void *state)
{
    rx *r = state;
    report(r, true);
    xmem_node_log(node, XMEM_LOG_INFO,
                  "received %" PRIu64 " frames (%.1f MB); dropped here: %" PRIu64
                  "; peers refused: %" PRIu64,
                  r->fig.frames, (double)r->fig.bytes / 1e6, r->fig.dropped[XMEM_LINK_DROP_FAR],
                  r->fig.refused);
    destroy(r);
}

XMEMI_BUILTIN_MODULE_DEFINE(xmemi_node_bridge_recv, .name = "bridge_recv", .version = "1.0",
                            .description = "receives frames from another host's bridge_send "
                                           "(made by `xmem run --host` for cross-host edges)",
                            .params = params, .n_params = sizeof params / sizeof params[0],
                            .outputs = outputs, .n_outputs = 1, .init = init, .tick = tick,
                            .fini = fini);
