/* Node plugins: the contract between a shared library that implements a node and the `xmem node`
 * process that hosts it (one node per process). A plugin exports one descriptor, defined with
 * XMEM_NODE_DEFINE, and calls the xmem_node_* functions below from its callbacks.
 *
 *   static xmem_err process(xmem_node_t *node, void *state, const char *port, xmem_guard_t *in,
 *                           xmem_error_t *err)
 *   {   return xmem_node_forward(node, "out", in, err);   }   // pass every buffer on
 *   static const xmem_node_port inputs[] = {{"in", "frames"}}, outputs[] = {{"out", "frames"}};
 *   XMEM_NODE_DEFINE(.name = "passthrough", .version = "1.0", .description = "forwards frames",
 *                    .inputs = inputs, .n_inputs = 1, .outputs = outputs, .n_outputs = 1,
 *                    .process = process);
 *
 * Threading: the host calls every callback on its one main thread, one at a time; a callback may
 * block, but while it does the node neither receives nor stops (SIGTERM is honoured between
 * callbacks), so sources should return from tick once per frame.
 * A callback that returns non-zero stops the node: fini runs, the node exits non-zero, and the
 * message is the callback's err (or xmem_node_fail's text, or the code's).
 * Ownership: buffers a callback acquires or is given are guards (see guard.h); a guard still valid
 * when a callback returns is released by the host, except those the plugin moved into its state,
 * which fini must release. The host gives back anything left over at exit and says so.
 *
 * What XMEM_NODE_ABI_VERSION covers: the descriptor below (its first fields fixed, later ones only
 * appended, `size` telling which a plugin knows), the signatures of every xmem_* function a plugin
 * can call, the structs it holds or passes (xmem_guard_t, whose size is fixed and which grows out
 * of its reserved words; xmem_meta_t; xmem_error_t; option structs, filled by their _init), and
 * the values of every public enum (appended to, never renumbered). Stats structs may grow at their
 * end: their getters take the caller's sizeof. Any other change bumps the version, and the host
 * refuses plugins built for a version outside XMEM_NODE_ABI_VERSION_MIN..XMEM_NODE_ABI_VERSION
 * ("rebuild it against this xmem"). Version 2: 64-byte guards, the timeout before the results in
 * xmem_sub_receive, sized stats getters. */
#ifndef XMEM_NODE_H
#define XMEM_NODE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xmem/error.h>
#include <xmem/export.h>
#include <xmem/guard.h>
#include <xmem/pool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XMEM_NODE_ABI_MAGIC 0x444e4d58u /* "XMND" */
#define XMEM_NODE_ABI_VERSION 2u        /* what this header builds */
#define XMEM_NODE_ABI_VERSION_MIN 2u    /* the oldest a host of this version loads */
/* The data symbol every plugin exports (XMEM_NODE_DEFINE defines it). */
#define XMEM_NODE_SYMBOL "xmem_node_descriptor"
#define XMEM_NODE_MAX_PORTS 64u /* input ports, and output ports, a plugin may declare */

typedef struct xmem_node xmem_node_t; /* the host's handle of one running node */

typedef enum xmem_param_type {
    XMEM_PARAM_INT = 0,    /* int64_t; "42", "-3", "0x10" */
    XMEM_PARAM_FLOAT = 1,  /* double; "29.97", "1e-3" */
    XMEM_PARAM_STRING = 2, /* any text */
    XMEM_PARAM_BOOL = 3,   /* true/false, yes/no, on/off, 1/0 */
    XMEM_PARAM_ENUM = 4,   /* one of `choices` */
} xmem_param_type;

/* One parameter a node accepts (`--param name=value`, or `params:` in a graph). */
typedef struct xmem_node_param {
    const char *name; /* [a-z0-9_]+, unique in the node */
    xmem_param_type type;
    const char *default_value;  /* as it would be written on the command line; NULL: required */
    const char *help;           /* one line */
    double min, max;            /* int and float: the inclusive range, checked when min < max */
    const char *const *choices; /* enum: the allowed values, NULL-terminated */
} xmem_node_param;

/* One named input or output port. */
typedef struct xmem_node_port {
    const char *name; /* [a-z0-9_]+, unique among the node's inputs (or outputs) */
    const char *help; /* what flows there, one line */
} xmem_node_port;

/* What a plugin exports. The first three fields never move; new fields are only ever appended,
 * and `size` (the plugin's sizeof) tells the host which ones the plugin knows. */
typedef struct xmem_node_plugin {
    uint32_t magic;       /* XMEM_NODE_ABI_MAGIC */
    uint32_t abi_version; /* XMEM_NODE_ABI_VERSION the plugin was built with */
    uint32_t size;        /* sizeof(xmem_node_plugin) the plugin was built with */
    uint32_t reserved;    /* 0 */
    const char *name;     /* [a-z0-9_]+: how graphs and `xmem node --plugin` name it */
    const char *version;  /* the plugin's own version, free text */
    const char *description;
    const xmem_node_param *params;
    uint32_t n_params;
    const xmem_node_port *inputs;
    uint32_t n_inputs;
    const xmem_node_port *outputs;
    uint32_t n_outputs;

    /* Main thread, once, before anything else; may block (open devices, allocate). Parameters are
     * readable. Sets *state to the plugin's per-node data (or leaves NULL). A non-zero return
     * stops the node before it runs (say why with xmem_node_fail or the error). Optional. */
    xmem_err (*init)(xmem_node_t *node, void **state, xmem_error_t *err);

    /* Main thread, once per buffer received on input `port` (the pointer is the plugin's own
     * xmem_node_port name). `input` is a read-only guard owned by the host: publish or forward it
     * (that empties it), move it into the state to keep it (copy the struct, then set the
     * original to XMEM_GUARD_INIT), or leave it to be released on return. Should not block for
     * long: upstream waits (block policy) or drops (drop_oldest) meanwhile. Required when the
     * node has inputs. */
    xmem_err (*process)(xmem_node_t *node, void *state, const char *port, xmem_guard_t *input,
                        xmem_error_t *err);

    /* Main thread, for nodes without inputs (sources): called at the node's rate (`--rate`), or
     * back to back when none is set. Produces at most a few buffers and returns; call
     * xmem_node_finish() when the stream is over (tick is not called again). Required when the
     * node has no inputs. */
    xmem_err (*tick)(xmem_node_t *node, void *state, xmem_error_t *err);

    /* Main thread, once, last, also after a failure or a stop signal (not after a failed init):
     * releases every guard kept in the state and frees it. Must not block for long. May call
     * xmem_node_fail (a sink that finds its totals wrong, say): the node then exits non-zero.
     * Optional. */
    void (*fini)(xmem_node_t *node, void *state);

    /* ---- appended after ABI version 1's first release: older plugins read these as zero ---- */
    uint32_t flags; /* XMEM_NODE_USES_CUDA ... */

    /* Main thread, for nodes with inputs that also talk to something else (a network link, a
     * device): called when a socket or descriptor the node watches (xmem_node_watch) is
     * readable, and at least every 100 ms besides, between process calls. Should not block for
     * long, as process. Optional (a source's tick waits on its own sockets, briefly). */
    xmem_err (*wake)(xmem_node_t *node, void *state, xmem_error_t *err);
} xmem_node_plugin;

/* The node works on CUDA buffers: a graph running it needs CUDA buffers in its pool (pool.cuda),
 * and the launcher counts it for the MPS advice. */
#define XMEM_NODE_USES_CUDA 1u

#if defined(__GNUC__)
#define XMEM_NODE_EXPORT_SYMBOL __attribute__((visibility("default"), used))
#else
#define XMEM_NODE_EXPORT_SYMBOL
#endif

/* Defines the plugin's descriptor, filling the ABI fields; the arguments are designated
 * initialisers of the remaining fields. Use once per shared library. */
#define XMEM_NODE_DEFINE(...)                                                                      \
    XMEM_NODE_EXPORT_SYMBOL const xmem_node_plugin xmem_node_descriptor = {                        \
        .magic = XMEM_NODE_ABI_MAGIC,                                                              \
        .abi_version = XMEM_NODE_ABI_VERSION,                                                      \
        .size = sizeof(xmem_node_plugin),                                                          \
        __VA_ARGS__}

/* ---- Called by plugins, from their callbacks, on the main thread. ---- */

/* The node's name in the graph (`--name`); valid for the node's life. */
XMEM_EXPORT const char *xmem_node_name(const xmem_node_t *node);

/* The pool the node's buffers come from; owned by the host, valid for the node's life. */
XMEM_EXPORT xmem_pool_t *xmem_node_pool(xmem_node_t *node);

/* A parameter's value (given, or its default). Asking for a name the plugin did not declare, or
 * with the getter of another type, is a programmer error: the node aborts naming both. The string
 * (and enum) pointers stay valid for the node's life. */
XMEM_EXPORT int64_t xmem_node_param_int(const xmem_node_t *node, const char *name);
XMEM_EXPORT double xmem_node_param_float(const xmem_node_t *node, const char *name);
XMEM_EXPORT bool xmem_node_param_bool(const xmem_node_t *node, const char *name);
XMEM_EXPORT const char *xmem_node_param_string(const xmem_node_t *node, const char *name);
XMEM_EXPORT const char *xmem_node_param_enum(const xmem_node_t *node, const char *name);
/* The enum value's position in `choices`. */
XMEM_EXPORT uint32_t xmem_node_param_enum_index(const xmem_node_t *node, const char *name);

/* Acquires a CPU buffer of at least `size` bytes for output, waiting up to the node's acquire
 * timeout (`--acquire-timeout`, default 1000 ms) while the pool is exhausted. On success `out`
 * (empty before) owns one read-write reference; on failure it stays empty and the error names the
 * pool and who holds its buffers. */
XMEM_EXPORT xmem_err xmem_node_acquire(xmem_node_t *node, size_t size, xmem_guard_t *out,
                                       xmem_error_t *err);

/* For transforms: acquires an output buffer of the input's size (as xmem_node_acquire) that
 * already carries the input's layout (dtype, shape, strides, when set) and stamp (sequence,
 * timestamp), so downstream sees the frame's age from its producer. Same ownership. */
XMEM_EXPORT xmem_err xmem_node_acquire_like(xmem_node_t *node, const xmem_guard_t *input,
                                            xmem_guard_t *out, xmem_error_t *err);

/* Acquires a CUDA buffer of at least `size` bytes on `device` (include/xmem/cuda.h), waiting up to
 * the node's acquire timeout while none is free. Same ownership as xmem_node_acquire; XMEM_ECUDA
 * in a build without CUDA. */
XMEM_EXPORT xmem_err xmem_node_acquire_cuda(xmem_node_t *node, size_t size, int device,
                                            xmem_guard_t *out, xmem_error_t *err);

/* Publishes the guard's buffer on output `port` and always empties the guard: its reference goes
 * to the port's subscribers (or back to the pool if none takes it, or if the port is not wired:
 * XMEM_OK). XMEM_EINVAL for a port the plugin did not declare (the buffer is released). */
XMEM_EXPORT xmem_err xmem_node_publish(xmem_node_t *node, const char *port, xmem_guard_t *guard,
                                       xmem_error_t *err);

/* Passes an input buffer on unchanged (no copy): xmem_node_publish() of a read-only guard. */
XMEM_EXPORT xmem_err xmem_node_forward(xmem_node_t *node, const char *port, xmem_guard_t *input,
                                       xmem_error_t *err);

/* True when output `port` is wired to an endpoint (an unwired output drops what is published). */
XMEM_EXPORT bool xmem_node_output_wired(const xmem_node_t *node, const char *port);

typedef enum xmem_log_level {
    XMEM_LOG_ERROR = 0,
    XMEM_LOG_WARN = 1,
    XMEM_LOG_INFO = 2,
    XMEM_LOG_DEBUG = 3,
} xmem_log_level;

/* "error", "warn", "info", "debug" ("unknown" out of range); static storage. */
XMEM_EXPORT const char *xmem_log_level_name(xmem_log_level level);

/* Parses a name written by xmem_log_level_name. XMEM_EINVAL naming the text otherwise. */
XMEM_EXPORT xmem_err xmem_log_level_from_name(const char *name, xmem_log_level *out,
                                              xmem_error_t *err);

/* Writes one line to the node's log (stderr), tagged with the node's name and the level; lines
 * above the node's level (`--log-level`, default info) are skipped. */
XMEM_EXPORT void xmem_node_log(const xmem_node_t *node, xmem_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Stops the node because of an error: the host finishes the current callback, calls fini and
 * exits non-zero with this message (the first one, if called again). Returns XMEM_EPLUGIN (and
 * fills err when given), so a callback can `return xmem_node_fail(node, err, "...")`. */
XMEM_EXPORT xmem_err xmem_node_fail(xmem_node_t *node, xmem_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Ends the node's stream normally (a source that has sent everything): after the current
 * callback, the host tells every output's subscribers that the stream ended, calls fini and exits
 * 0. Downstream nodes end once all their inputs have ended. */
XMEM_EXPORT void xmem_node_finish(xmem_node_t *node);

/* True once the node is stopping (signal, failure or finish): long callbacks should return. */
XMEM_EXPORT bool xmem_node_stopping(const xmem_node_t *node);

/* The clock of buffer timestamps (CLOCK_MONOTONIC, ns): stamp with it, measure latency with it. */
XMEM_EXPORT uint64_t xmem_node_clock_ns(void);

/* ---- Figures for `xmem run`'s live table and summary (no effect under a bare `xmem node`). Both
 * are a few atomic stores into the launcher's stats file: no system call, fine once a frame. ----
 */

#define XMEM_NODE_WORK_NAME_MAX 15 /* characters of `what` kept */
#define XMEM_NODE_FILES_MAX 4      /* files a node can report; later paths are not listed */
#define XMEM_NODE_FILE_PATH_MAX 239

/* Adds `n` units of the node's own work, called `what` ("decoded", "encoded"): the live table shows
 * their rate beside the buffers in and out, the summary their total. `what` is taken from the
 * first call of the node's life. */
XMEM_EXPORT void xmem_node_count_work(xmem_node_t *node, const char *what, uint64_t n);

/* Says that file `path` now holds `frames` frames, and whether it is finished (closed, readable
 * to its end); call again as it grows. The summary lists each file with its frame count. A path
 * longer than XMEM_NODE_FILE_PATH_MAX is listed cut short, with "..." at its end. */
XMEM_EXPORT void xmem_node_report_file(xmem_node_t *node, const char *path, uint64_t frames,
                                       bool finished);

/* Has the host call the plugin's `wake` when `zmq_socket` (a libzmq socket, or NULL) or `fd` (a
 * file descriptor, or -1) is readable, as well as when an input has a buffer. Call from init; at
 * most XMEM_NODE_MAX_WATCHED per node. The plugin keeps owning the socket or descriptor and
 * closes it in fini (the host stops watching before fini). XMEM_EINVAL for a plugin without
 * `wake`, a source, or one too many. */
#define XMEM_NODE_MAX_WATCHED 8
XMEM_EXPORT xmem_err xmem_node_watch(xmem_node_t *node, void *zmq_socket, int fd,
                                     xmem_error_t *err);

/* ---- A node that carries frames over a network link (the bridges of a graph across hosts,
 * docs/MULTIHOST.md) says how the link does: the live table shows its state, bytes/s and
 * round-trip time, the summary its totals. ---- */

typedef enum xmem_link_state {
    XMEM_LINK_CONNECTING = 0, /* no peer yet */
    XMEM_LINK_UP = 1,         /* the peer answers */
    XMEM_LINK_DOWN = 2,       /* it answered once and has gone silent */
    XMEM_LINK_REFUSED = 3,    /* the peer refused this side (another graph, a wrong key) */
} xmem_link_state;

/* "connecting", "up", "down", "refused"; static storage. */
XMEM_EXPORT const char *xmem_link_state_name(xmem_link_state state);

typedef enum xmem_link_drop {
    XMEM_LINK_DROP_DOWN = 0, /* not sent: the link was down */
    XMEM_LINK_DROP_FULL,     /* not sent: the far side held its depth (drop_oldest) */
    XMEM_LINK_DROP_LOST,     /* sent, never delivered: lost with a broken connection */
    XMEM_LINK_DROP_FAR,      /* delivered, dropped on the far side (its pool had no buffer) */
    XMEM_LINK_DROP_COUNT_
} xmem_link_drop;

/* "link-down", "remote-full", "lost", "remote-no-buffer"; static storage. */
XMEM_EXPORT const char *xmem_link_drop_name(xmem_link_drop reason);

typedef struct xmem_node_link {
    xmem_link_state state;
    char peer[64];       /* the other side's address, "10.0.0.2:7400" */
    uint64_t frames;     /* frames carried (sent, or received), all time */
    uint64_t bytes;      /* their payload bytes */
    uint64_t rtt_ns;     /* the latest round trip, 0 when not known */
    uint64_t reconnects; /* times the link came back after being down */
    uint64_t refused;    /* a receiver: peers it refused (wrong or no key, another graph); a sender:
                            times its peer refused it */
    uint64_t dropped[XMEM_LINK_DROP_COUNT_]; /* frames not delivered, by reason, all time */
} xmem_node_link;

/* Publishes the link's figures (totals since the node started, not increments); a few atomic
 * stores into the launcher's stats file, fine several times a second. `size`: sizeof the
 * caller's struct. */
XMEM_EXPORT void xmem_node_report_link(xmem_node_t *node, const xmem_node_link *link, size_t size);

#ifdef __cplusplus
}
#endif

#endif
