/* Helpers shared by the core tests: pool names that carry the test process's pid, byte patterns,
 * pipe I/O, and a forked "peer" process that opens a pool by name and runs pool calls on command,
 * so that cross-process tests can drive a second process step by step over two pipes.
 * Children never use Criterion's assertions: they answer over the pipe and leave with _exit(). */
#ifndef XMEM_TEST_UTIL_H
#define XMEM_TEST_UTIL_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xmem/pool_admin.h>
#include <xmem/xmem.h>

#include "fixture.h"

/* A byte pattern that differs per offset and per seed, so a buffer mixed up with another shows. */
static inline uint8_t xt_pattern_byte(uint32_t seed, size_t i)
{
    return (uint8_t)(seed * 131u + i * 7u + (i >> 12) * 13u + 1u);
}

static inline void xt_fill(void *p, size_t n, uint32_t seed)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = xt_pattern_byte(seed, i);
}

/* Offset of the first byte that breaks the pattern, or (size_t)-1 when all match. */
static inline size_t xt_check(const void *p, size_t n, uint32_t seed)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != xt_pattern_byte(seed, i))
            return i;
    return (size_t)-1;
}

/* ---- the peer: a forked process with its own handle on the pool ---------------------------- */

enum xt_op {
    XT_OP_QUIT = 1,    /* destroy the handle and exit 0 */
    XT_OP_ACQUIRE,     /* acquire `size`, fill with pattern `a`, keep the reference (forget) */
    XT_OP_PRODUCE,     /* as ACQUIRE, set layout u8[size] and stamp (a, b), give it to owner b */
    XT_OP_VERIFY,      /* get `ref`, check mode READ and pattern `a` over `size`, release */
    XT_OP_VERIFY_KEEP, /* get `ref`, check pattern `a` over `size`, forget (keeps the reference) */
    XT_OP_RELEASE,     /* release `ref` */
    XT_OP_REF_COUNT,   /* ref_count(ref) -> u32 */
    XT_OP_OWNED,       /* owned_count(ref) -> u32 */
    XT_OP_GIVE,        /* give(ref, owner a, count b) */
    XT_OP_ADD_REF,     /* add_ref(ref) */
    XT_OP_SET_REF_COUNT, /* set_ref_count(ref, a) */
    XT_OP_FREE_COUNT,    /* free_count() -> u32 */
    XT_OP_RECLAIM_DEAD,  /* reclaim_dead() -> u64 returned */
    XT_OP_GET_RC,        /* get(ref) and release at once: only the get's code matters */
};

typedef struct xt_cmd {
    int32_t op;
    xmem_buf_ref ref;
    uint32_t a;
    uint32_t b;
    uint64_t size;
} xt_cmd;

typedef struct xt_reply {
    int32_t rc; /* xmem_err of the call, or XT_PEER_GONE */
    xmem_buf_ref ref;
    uint32_t u32;
    uint64_t u64;
    char msg[XMEM_ERROR_MSG_MAX];
} xt_reply;

#define XT_PEER_GONE (-1000)

typedef struct xt_peer {
    pid_t pid;
    int to;   /* commands to the peer */
    int from; /* replies from the peer */
    uint32_t owner_id;
    int open_rc;
} xt_peer;

static inline void xt_reply_err(xt_reply *r, xmem_err rc, const xmem_error_t *err)
{
    r->rc = (int32_t)rc;
    if (rc != XMEM_OK)
        snprintf(r->msg, sizeof r->msg, "%s", err->msg);
}

static inline xt_reply xt_peer_do(xmem_pool_t *pool, const xt_cmd *c)
{
    xt_reply r;
    memset(&r, 0, sizeof r);
    xmem_error_t err;
    memset(&err, 0, sizeof err);
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_err rc = XMEM_OK;
    switch (c->op) {
    case XT_OP_ACQUIRE:
    case XT_OP_PRODUCE: {
        rc = xmem_pool_acquire_cpu(pool, (size_t)c->size, &g, &err);
        if (rc) {
            xt_reply_err(&r, rc, &err);
            break;
        }
        void *p = NULL;
        rc = xmem_guard_data_mut(&g, &p, &err);
        if (rc) {
            xt_reply_err(&r, rc, &err);
            xmem_guard_release(&g, NULL);
            break;
        }
        xt_fill(p, (size_t)c->size, c->a);
        r.ref = xmem_guard_ref(&g);
        if (c->op == XT_OP_PRODUCE) {
            int64_t shape[1] = {(int64_t)c->size};
            rc = xmem_guard_set_layout(&g, XMEM_DTYPE_U8, 1, shape, NULL, &err);
            if (!rc)
                rc = xmem_guard_set_stamp(&g, c->a, 1000u + c->a, &err);
            if (!rc)
                rc = xmem_pool_give(pool, r.ref, c->b, 1, &err);
            if (rc) {
                xt_reply_err(&r, rc, &err);
                xmem_guard_release(&g, NULL);
                break;
            }
        }
        xmem_guard_forget(&g);
        break;
    }
    case XT_OP_VERIFY:
    case XT_OP_VERIFY_KEEP: {
        rc = xmem_pool_get(pool, c->ref, &g, &err);
        if (rc) {
            xt_reply_err(&r, rc, &err);
            break;
        }
        const void *p = xmem_guard_data(&g);
        size_t bad = p ? xt_check(p, (size_t)c->size, c->a) : 0;
        if (!p || bad != (size_t)-1 || xmem_guard_mode(&g) != XMEM_ACCESS_READ) {
            r.rc = -1; /* not an xmem code: the content or the mode was wrong */
            snprintf(r.msg, sizeof r.msg, "pattern %u broken at offset %zu (mode %d)", c->a, bad,
                     (int)xmem_guard_mode(&g));
        }
        if (c->op == XT_OP_VERIFY_KEEP) {
            xmem_guard_forget(&g);
        } else {
            rc = xmem_guard_release(&g, &err);
            if (rc && r.rc == 0)
                xt_reply_err(&r, rc, &err);
        }
        break;
    }
    case XT_OP_GET_RC:
        rc = xmem_pool_get(pool, c->ref, &g, &err);
        xt_reply_err(&r, rc, &err);
        if (!rc)
            xmem_guard_release(&g, NULL);
        break;
    case XT_OP_RELEASE: xt_reply_err(&r, xmem_pool_release(pool, c->ref, &err), &err); break;
    case XT_OP_REF_COUNT:
        xt_reply_err(&r, xmem_pool_ref_count(pool, c->ref, &r.u32, &err), &err);
        break;
    case XT_OP_OWNED: r.u32 = xmem_pool_owned_count(pool, c->ref); break;
    case XT_OP_GIVE: xt_reply_err(&r, xmem_pool_give(pool, c->ref, c->a, c->b, &err), &err); break;
    case XT_OP_ADD_REF: xt_reply_err(&r, xmem_pool_add_ref(pool, c->ref, &err), &err); break;
    case XT_OP_SET_REF_COUNT:
        xt_reply_err(&r, xmem_pool_set_ref_count(pool, c->ref, c->a, &err), &err);
        break;
    case XT_OP_FREE_COUNT: r.u32 = xmem_pool_free_count(pool); break;
    case XT_OP_RECLAIM_DEAD:
        xt_reply_err(&r, xmem_pool_reclaim_dead(pool, &r.u64, &err), &err);
        break;
    default:
        r.rc = -2;
        snprintf(r.msg, sizeof r.msg, "unknown op %d", c->op);
        break;
    }
    return r;
}

static inline void xt_peer_main(const char *name, int in, int out)
{
    xmem_pool_t *pool = NULL;
    xmem_error_t err;
    memset(&err, 0, sizeof err);
    xt_reply hello;
    memset(&hello, 0, sizeof hello);
    xmem_err rc = xmem_pool_open(name, &pool, &err);
    xt_reply_err(&hello, rc, &err);
    if (!rc)
        hello.u32 = xmem_pool_owner_id(pool);
    if (!xf_write_all(out, &hello, sizeof hello) || rc)
        _exit(rc ? 3 : 2);
    xt_cmd c;
    /* EOF on the command pipe (the test process is gone) ends the peer as QUIT does. */
    while (xf_read_all(in, &c, sizeof c) && c.op != XT_OP_QUIT) {
        xt_reply r = xt_peer_do(pool, &c);
        if (!xf_write_all(out, &r, sizeof r))
            break;
    }
    xmem_pool_destroy(&pool);
    _exit(0);
}

/* Forks a peer that opens pool `name`. Returns the peer's xmem_pool_open() code (XMEM_OK: the
 * peer runs and p->owner_id is its owner id), or XT_PEER_GONE if the fork or the pipes failed. */
static inline int xt_peer_start(xt_peer *p, const char *name)
{
    int to[2], from[2];
    memset(p, 0, sizeof *p);
    p->pid = -1;
    if (pipe(to) != 0)
        return XT_PEER_GONE;
    if (pipe(from) != 0) {
        close(to[0]);
        close(to[1]);
        return XT_PEER_GONE;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return XT_PEER_GONE;
    if (pid == 0) {
        close(to[1]);
        close(from[0]);
        xt_peer_main(name, to[0], from[1]);
        _exit(2);
    }
    close(to[0]);
    close(from[1]);
    p->pid = pid;
    p->to = to[1];
    p->from = from[0];
    xt_reply hello;
    if (!xf_read_all(p->from, &hello, sizeof hello))
        return p->open_rc = XT_PEER_GONE;
    p->owner_id = hello.u32;
    return p->open_rc = hello.rc;
}

static inline xt_reply xt_peer_call(xt_peer *p, xt_cmd c)
{
    xt_reply r;
    memset(&r, 0, sizeof r);
    if (!xf_write_all(p->to, &c, sizeof c) || !xf_read_all(p->from, &r, sizeof r)) {
        memset(&r, 0, sizeof r);
        r.rc = XT_PEER_GONE;
        snprintf(r.msg, sizeof r.msg, "peer %ld is gone", (long)p->pid);
    }
    return r;
}

/* Asks the peer to detach and exit; returns its exit status (0 when all went well). */
static inline int xt_peer_stop(xt_peer *p)
{
    if (p->pid <= 0)
        return -1000;
    xt_cmd c = {.op = XT_OP_QUIT};
    xf_write_all(p->to, &c, sizeof c);
    close(p->to);
    close(p->from);
    int st = xf_wait(p->pid);
    p->pid = -1;
    return st;
}

/* SIGKILLs the peer and reaps it, so that its pid is dead when this returns. */
static inline int xt_peer_kill(xt_peer *p)
{
    if (p->pid <= 0)
        return -1000;
    kill(p->pid, SIGKILL);
    close(p->to);
    close(p->from);
    int st = xf_wait(p->pid);
    p->pid = -1;
    return st;
}

/* Shorthands for the commands. */
static inline xt_reply xt_peer_acquire(xt_peer *p, size_t size, uint32_t seed)
{
    return xt_peer_call(p, (xt_cmd){.op = XT_OP_ACQUIRE, .size = size, .a = seed});
}

static inline xt_reply xt_peer_produce(xt_peer *p, size_t size, uint32_t seed, uint32_t to_owner)
{
    return xt_peer_call(p, (xt_cmd){.op = XT_OP_PRODUCE, .size = size, .a = seed, .b = to_owner});
}

static inline xt_reply xt_peer_verify(xt_peer *p, xmem_buf_ref ref, size_t size, uint32_t seed)
{
    return xt_peer_call(p, (xt_cmd){.op = XT_OP_VERIFY, .ref = ref, .size = size, .a = seed});
}

static inline xt_reply xt_peer_ref_op(xt_peer *p, int op, xmem_buf_ref ref)
{
    return xt_peer_call(p, (xt_cmd){.op = op, .ref = ref});
}

#endif
