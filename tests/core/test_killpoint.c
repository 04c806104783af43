/* Crash consistency, instruction by instruction: a child process runs one pool operation
 * single-stepped under ptrace and is SIGKILLed after its k-th instruction inside libxmem, for every
 * k the operation has (or, by default, an even sample of them); the test process, the survivor,
 * then reclaims the dead child as a launcher would and audits the pool: xmem_pool_audit finds the
 * books clean (every buffer live and owned, or free on its own list; no process slot stuck), every
 * buffer can be acquired, none twice. One test per operation: open, acquire of an existing and of
 * a new size class, release, set_ref_count, give, take_back, share, revoke, destroy, and the
 * reclaim itself (the child reclaims a dead process that held references, or that died half way
 * through a pop).
 *
 * XMEM_KILLPOINT_ALL=1 tries every point (scripts/killpoints); the default tries at most
 * SAMPLE points per operation, spread evenly, so the suite stays short. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

#include <xmem/pool_admin.h>

#include "test_util.h"

#define CAP 8u
#define SAMPLE 150

static char name[64];
static uintptr_t lib_lo, lib_hi, lib_base;

static int find_libxmem(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size, (void)data;
    if (!strstr(info->dlpi_name, "libxmem.so"))
        return 0;
    lib_base = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            lib_lo = info->dlpi_addr + ph->p_vaddr;
            lib_hi = lib_lo + ph->p_memsz;
        }
    }
    return 1;
}

/* ---- what a child does --------------------------------------------------------------------- */

typedef struct child_ctx {
    xmem_pool_t *pool;
    uint32_t survivor; /* the test process's owner id */
    pid_t dead;        /* a dead process to reclaim, or 0 */
    xmem_guard_t a, b;
} child_ctx;

typedef struct operation {
    const char *name;
    bool attach_first;             /* opens the pool before the traced part */
    int victim;                    /* 0: none; else how the dead process dies */
    void (*prepare)(child_ctx *c); /* untraced, after attaching */
    void (*run)(child_ctx *c);     /* traced */
} operation;

enum { VICTIM_NONE, VICTIM_IDLE, VICTIM_MID_POP_PENDING, VICTIM_MID_POP_MARKED };

static void must(xmem_err rc)
{
    if (rc)
        _exit(90 + (int)rc % 10);
}

static void acquire_a(child_ctx *c)
{
    must(xmem_pool_acquire_cpu(c->pool, 4096, &c->a, NULL));
}

static void warm_4k(child_ctx *c) /* a backed 4 KiB slot on its list */
{
    acquire_a(c);
    must(xmem_guard_release(&c->a, NULL));
}

static void two_held(child_ctx *c) /* one buffer, and one with two references */
{
    acquire_a(c);
    must(xmem_pool_acquire_cpu(c->pool, 8192, &c->b, NULL));
    must(xmem_pool_add_ref(c->pool, c->b.ref, NULL));
}

static void refs_three(child_ctx *c)
{
    acquire_a(c);
    must(xmem_pool_set_ref_count(c->pool, c->a.ref, 3, NULL));
}

static void given_one(child_ctx *c)
{
    acquire_a(c);
    must(xmem_pool_add_ref(c->pool, c->a.ref, NULL));
    must(xmem_pool_give(c->pool, c->a.ref, c->survivor, 1, NULL));
}

static void shared_one(child_ctx *c)
{
    acquire_a(c);
    bool given;
    must(xmem_pool_share(c->pool, c->a.ref, &c->survivor, 1, &given, NULL));
    if (!given)
        _exit(92);
}

static void nothing(child_ctx *c)
{
    (void)c;
}

static void run_open(child_ctx *c)
{
    xmem_pool_open(name, &c->pool, NULL);
}

static void run_acquire(child_ctx *c)
{
    xmem_pool_acquire_cpu(c->pool, 4096, &c->a, NULL);
}

static void run_acquire_new(child_ctx *c)
{
    xmem_pool_acquire_cpu(c->pool, 20000, &c->a, NULL); /* an unbacked slot gets a shm object */
}

static void run_release(child_ctx *c)
{
    xmem_guard_release(&c->a, NULL);
}

static void run_set_zero(child_ctx *c)
{
    xmem_pool_set_ref_count(c->pool, c->a.ref, 0, NULL);
}

static void run_give(child_ctx *c)
{
    xmem_pool_give(c->pool, c->a.ref, c->survivor, 1, NULL); /* its only reference */
}

static void run_take_back(child_ctx *c)
{
    xmem_pool_take_back(c->pool, c->a.ref, c->survivor, 1, NULL);
}

static void run_share(child_ctx *c)
{
    bool given;
    xmem_pool_share(c->pool, c->a.ref, &c->survivor, 1, &given, NULL);
}

static void run_revoke(child_ctx *c)
{
    xmem_pool_revoke(c->pool, c->a.ref, c->survivor, 1, NULL);
}

static void run_destroy(child_ctx *c)
{
    xmem_pool_close(&c->pool);
}

static void run_reclaim(child_ctx *c)
{
    xmem_pool_reclaim_pid(c->pool, c->dead, NULL, NULL);
}

static const operation operations[] = {
    {"open", false, VICTIM_IDLE, nothing, run_open},
    {"acquire", true, VICTIM_NONE, warm_4k, run_acquire},
    {"acquire_new", true, VICTIM_NONE, nothing, run_acquire_new},
    {"release", true, VICTIM_NONE, acquire_a, run_release},
    {"set_ref_count", true, VICTIM_NONE, refs_three, run_set_zero},
    {"give", true, VICTIM_NONE, acquire_a, run_give},
    {"take_back", true, VICTIM_NONE, given_one, run_take_back},
    {"share", true, VICTIM_NONE, acquire_a, run_share},
    {"revoke", true, VICTIM_NONE, shared_one, run_revoke},
    {"destroy", true, VICTIM_NONE, two_held, run_destroy},
    {"reclaim", true, VICTIM_IDLE, nothing, run_reclaim},
    {"reclaim_pending", true, VICTIM_MID_POP_PENDING, nothing, run_reclaim},
    {"reclaim_marked", true, VICTIM_MID_POP_MARKED, nothing, run_reclaim},
};

/* A traced child: attaches (or not), prepares, stops; runs the operation; stops again. */
static void traced_child(const operation *op, uint32_t survivor, pid_t dead)
{
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    child_ctx c = {.survivor = survivor, .dead = dead};
    if (op->attach_first)
        must(xmem_pool_open(name, &c.pool, NULL));
    op->prepare(&c);
    raise(SIGSTOP); /* the traced part starts here */
    op->run(&c);
    raise(SIGSTOP); /* and ends here */
    _exit(0);
}

/* ---- stepping -------------------------------------------------------------------------------- */

/* Runs a call out of libxmem (libc, the kernel) at full speed: a breakpoint on the return
 * address, then PTRACE_CONT. A kill point inside libc has the books' state of the next one back in
 * libxmem, so only libxmem is single-stepped. False if the tracee stopped otherwise (its end). */
static bool run_to_return(pid_t pid, uintptr_t ret)
{
    errno = 0;
    long word = ptrace(PTRACE_PEEKTEXT, pid, (void *)ret, 0);
    if (errno)
        return false;
    ptrace(PTRACE_POKETEXT, pid, (void *)ret, (void *)((word & ~0xffL) | 0xcc));
    int st;
    ptrace(PTRACE_CONT, pid, 0, 0);
    bool trapped = waitpid(pid, &st, 0) == pid && WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP;
    ptrace(PTRACE_POKETEXT, pid, (void *)ret, (void *)word);
    if (!trapped)
        return false;
    struct user_regs_struct regs;
    ptrace(PTRACE_GETREGS, pid, 0, &regs);
    regs.rip -= 1; /* back onto the instruction the breakpoint replaced */
    ptrace(PTRACE_SETREGS, pid, 0, &regs);
    return true;
}

/* Runs a stopped tracee until it has executed `lib_target` instructions inside libxmem, or
 * `lock_target` locked ones there (the CASes that change the books), whichever is set (> 0), or
 * until it stops by itself (its end marker). Returns the instructions inside libxmem it ran; *pc
 * gets the next one; *ended whether it reached its end marker. */
static long step(pid_t pid, long lib_target, long lock_target, uintptr_t *pc, bool *ended,
                 uintptr_t **trace)
{
    long lib = 0, locks = 0;
    bool was_inside = false;
    *ended = false;
    for (;;) {
        struct user_regs_struct regs;
        ptrace(PTRACE_GETREGS, pid, 0, &regs);
        *pc = regs.rip;
        bool inside = *pc >= lib_lo && *pc < lib_hi;
        if (was_inside && !inside) {
            /* Just called out (through the PLT): the return address is on top of the stack. */
            errno = 0;
            uintptr_t ret = (uintptr_t)ptrace(PTRACE_PEEKDATA, pid, (void *)regs.rsp, 0);
            if (!errno && ret >= lib_lo && ret < lib_hi) {
                if (!run_to_return(pid, ret)) {
                    *ended = true;
                    return lib;
                }
                continue;
            }
        }
        was_inside = inside;
        if (inside && lib_target > 0 && lib == lib_target)
            return lib;
        if (lock_target > 0 && locks == lock_target)
            return lib;
        if (inside) {
            if (trace && (lib & (lib - 1)) == 0) /* grows at powers of two */
                *trace = realloc(*trace, (size_t)(lib ? 2 * lib : 1) * sizeof **trace);
            if (trace)
                (*trace)[lib] = *pc;
            lib++;
            /* The text is the same mapping in both processes (fork keeps the layout). */
            const uint8_t *ip = (const uint8_t *)*pc;
            locks += ip[0] == 0xf0 || ((ip[0] & 0xf0) == 0x40 && ip[1] == 0xf0);
        }
        int st;
        ptrace(PTRACE_SINGLESTEP, pid, 0, 0);
        if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st) || WSTOPSIG(st) == SIGSTOP) {
            *ended = true;
            return lib;
        }
    }
}

/* Runs a stopped tracee at full speed until it is about to execute the instruction at `pc` for
 * the `occurrence`-th time (a breakpoint there, stepped over at each earlier hit). False if it
 * stopped otherwise first (its end marker). */
static bool run_to(pid_t pid, uintptr_t pc, long occurrence)
{
    errno = 0;
    long word = ptrace(PTRACE_PEEKTEXT, pid, (void *)pc, 0);
    if (errno)
        return false;
    long trap = (word & ~0xffL) | 0xcc;
    for (long hits = 0;;) {
        int st;
        ptrace(PTRACE_POKETEXT, pid, (void *)pc, (void *)trap);
        ptrace(PTRACE_CONT, pid, 0, 0);
        if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGTRAP)
            return false;
        ptrace(PTRACE_POKETEXT, pid, (void *)pc, (void *)word);
        struct user_regs_struct regs;
        ptrace(PTRACE_GETREGS, pid, 0, &regs);
        regs.rip -= 1;
        ptrace(PTRACE_SETREGS, pid, 0, &regs);
        if (++hits == occurrence)
            return true;
        ptrace(PTRACE_SINGLESTEP, pid, 0, 0); /* over the instruction, then arm it again */
        if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGTRAP)
            return false;
    }
}

static void kill_traced(pid_t pid)
{
    kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) == pid && !WIFEXITED(st) && !WIFSIGNALED(st)) {
    }
}

/* Waits for a traced child's first stop (its start marker). */
static bool started(pid_t pid)
{
    int st;
    return waitpid(pid, &st, 0) == pid && WIFSTOPPED(st);
}

/* A process that holds references (two buffers, one of them twice, and one reference the survivor
 * gave it), stopped (traced) idle or half way through a pop of the 4 KiB list: the caller kills it
 * when it should be dead. */
static pid_t make_victim(xmem_pool_t *survivor, int how)
{
    xmem_error_t err;
    /* A 4 KiB slot on its list for the victim's last acquire to pop. */
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(survivor, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    int fd[2];
    cr_assert(eq(int, pipe(fd), 0));
    pid_t v = fork();
    if (v == 0) {
        close(fd[0]);
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        child_ctx c = {0};
        must(xmem_pool_open(name, &c.pool, NULL));
        two_held(&c);
        uint32_t id = xmem_pool_owner_id(c.pool);
        if (!xf_write_all(fd[1], &id, sizeof id))
            _exit(91);
        raise(SIGSTOP);
        xmem_guard_t third = XMEM_GUARD_INIT; /* the acquire it dies in, when it does */
        xmem_pool_acquire_cpu(c.pool, 4096, &third, NULL);
        raise(SIGSTOP);
        _exit(0);
    }
    close(fd[1]);
    uint32_t id;
    cr_assert(xf_read_all(fd[0], &id, sizeof id));
    close(fd[0]);
    cr_assert(started(v));
    /* The survivor gives it one reference of a buffer of its own. */
    cr_assert(eq(int, xmem_pool_acquire_cpu(survivor, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_pool_give(survivor, g.ref, id, 1, &err), XMEM_OK), "%s", err.msg);
    xmem_guard_forget(&g);
    if (how != VICTIM_IDLE) {
        uintptr_t pc;
        bool ended;
        step(v, 0, how == VICTIM_MID_POP_PENDING ? 1 : 2, &pc, &ended, NULL);
        cr_assert(not(ended), "the victim's acquire ended before its pop");
    }
    return v;
}

/* ---- one kill point ----------------------------------------------------------------------------
 */

typedef struct outcome {
    long lib_steps; /* instructions inside libxmem the child ran */
    bool ended;     /* it finished the operation before the kill point */
    uintptr_t pc;
    bool broken;
    char why[XMEM_ERROR_MSG_MAX + 64];
} outcome;

/* Every buffer can be acquired once, and no two acquires got the same one. */
static bool all_acquirable(xmem_pool_t *pool, char *why, size_t len)
{
    xmem_guard_t g[CAP];
    uint32_t got = 0;
    for (; got < CAP; got++) {
        g[got] = (xmem_guard_t)XMEM_GUARD_INIT;
        if (xmem_pool_acquire_cpu(pool, 4096, &g[got], NULL))
            break;
    }
    bool dup = false;
    for (uint32_t i = 0; i < got; i++)
        for (uint32_t j = i + 1; j < got; j++)
            dup |= g[i].ref.index == g[j].ref.index;
    for (uint32_t i = 0; i < got; i++)
        xmem_guard_release(&g[i], NULL);
    if (got == CAP && !dup)
        return true;
    snprintf(why, len, "acquired %u of %u buffers%s", got, CAP, dup ? ", one twice" : "");
    return false;
}

/* Runs operation `op` killed just before the `occurrence`-th execution of the libxmem
 * instruction at `pc` (pc 0: never killed, and *trace gets every libxmem instruction it ran), then
 * reclaims and audits as the survivor. */
static outcome kill_at(const operation *op, uintptr_t pc, long occurrence, uintptr_t **trace)
{
    outcome o = {0};
    xmem_pool_t *pool = xf_pool_create(name, "killpt", CAP);
    pid_t dead = op->victim ? make_victim(pool, op->victim) : 0;
    /* It dies before the child opens the pool for `open` (whose reclaim then runs in the traced
     * part), else once the child is attached (so its open does not reclaim it first). */
    if (dead && !op->attach_first)
        kill_traced(dead);
    pid_t child = fork();
    if (child == 0)
        traced_child(op, xmem_pool_owner_id(pool), dead);
    cr_assert(started(child), "the child did not reach its start marker");
    if (dead && op->attach_first)
        kill_traced(dead);
    if (pc) {
        o.pc = pc;
        o.ended = !run_to(child, pc, occurrence);
    } else {
        o.lib_steps = step(child, 0, 0, &o.pc, &o.ended, trace);
    }
    kill_traced(child);

    /* The survivor: what a launcher does when a child dies, then give back its own. */
    xmem_error_t err = {0};
    xmem_pool_reclaim_dead(pool, NULL, NULL);
    xmem_buf_ref refs[CAP];
    uint32_t counts[CAP];
    uint32_t n = xmem_pool_list_owned(pool, refs, counts, CAP);
    for (uint32_t i = 0; i < n && i < CAP; i++)
        for (uint32_t k = 0; k < counts[i]; k++)
            xmem_pool_release(pool, refs[i], NULL);
    xmem_pool_audit_report rep;
    if (xmem_pool_audit(pool, &rep, sizeof rep, &err)) {
        o.broken = true;
        snprintf(o.why, sizeof o.why, "%s", err.msg);
    } else if (rep.live || rep.procs_attached != 1) {
        o.broken = true;
        snprintf(o.why, sizeof o.why, "%u buffers still live, %u processes attached", rep.live,
                 rep.procs_attached);
    } else if (!all_acquirable(pool, o.why, sizeof o.why)) {
        o.broken = true;
    }
    xmem_pool_destroy(&pool);
    return o;
}

static void sweep(const char *op_name)
{
    const operation *op = NULL;
    for (size_t i = 0; i < sizeof operations / sizeof operations[0]; i++)
        if (strcmp(operations[i].name, op_name) == 0)
            op = &operations[i];
    cr_assert(op != NULL);
    dl_iterate_phdr(find_libxmem, NULL);
    cr_assert(lib_lo != 0, "libxmem is not loaded");

    uintptr_t *trace = NULL; /* every libxmem instruction of the operation, in order */
    outcome whole = kill_at(op, 0, 0, &trace);
    cr_assert(whole.ended && !whole.broken, "%s without a kill: %s", op_name, whole.why);
    long points = whole.lib_steps;
    cr_assert(gt(long, points, 0));
    bool all = getenv("XMEM_KILLPOINT_ALL") && atoi(getenv("XMEM_KILLPOINT_ALL"));
    long stride = all || points <= SAMPLE ? 1 : (points + SAMPLE - 1) / SAMPLE;
    long tried = 0, broken = 0, finished = 0;
    for (long k = 1; k <= points; k += stride) {
        long occurrence = 0; /* which execution of that instruction the k-th one is */
        for (long i = 0; i < k; i++)
            occurrence += trace[i] == trace[k - 1];
        outcome o = kill_at(op, trace[k - 1], occurrence, NULL);
        tried++;
        finished += o.ended;
        if (!o.broken)
            continue;
        if (broken++ < 5) {
            Dl_info di;
            const char *sym = dladdr((void *)o.pc, &di) && di.dli_sname ? di.dli_sname : "?";
            cr_log_error("%s: killed before instruction %ld (lib+%#lx, in %s): %s", op_name, k,
                         (unsigned long)(o.pc - lib_base), sym, o.why);
        }
    }
    free(trace);
    printf("kill points: %-16s %5ld instructions in libxmem, %4ld killed at (every %ld), %ld "
           "left the pool broken\n",
           op_name, points, tried, stride, broken);
    fflush(stdout);
    cr_assert(eq(long, broken, 0), "%s: %ld of %ld kill points left the pool broken", op_name,
              broken, tried);
    cr_assert(lt(long, finished, tried), "%s: no kill landed inside the operation", op_name);
}

#define KILLPOINT_TEST(op)                                                                         \
    Test(killpoint, op, .timeout = 3600)                                                           \
    {                                                                                              \
        sweep(#op);                                                                                \
    }

KILLPOINT_TEST(open)
KILLPOINT_TEST(acquire)
KILLPOINT_TEST(acquire_new)
KILLPOINT_TEST(release)
KILLPOINT_TEST(set_ref_count)
KILLPOINT_TEST(give)
KILLPOINT_TEST(take_back)
KILLPOINT_TEST(share)
KILLPOINT_TEST(revoke)
KILLPOINT_TEST(destroy)
KILLPOINT_TEST(reclaim)
KILLPOINT_TEST(reclaim_pending)
KILLPOINT_TEST(reclaim_marked)
