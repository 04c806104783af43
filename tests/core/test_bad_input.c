/* Bad input gets a clear error that names the thing at fault, and changes nothing: pool names,
 * indices out of range, stale and freed buffers, missing pools, a metadata region with another
 * magic or layout version, a name in use, and arguments out of their domain. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#define CAP 8u

static char name[64];
static char name2[64];
static char garbage[80]; /* shm object name of a fake meta region */
static xmem_pool_t *pool;
static xmem_pool_t *other;

static void setup(void)
{
    xf_pool_name(name, sizeof name, "bad");
    xf_pool_name(name2, sizeof name2, "badb");
    snprintf(garbage, sizeof garbage, "/%s_meta", name2);
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name, CAP, &pool, &err), XMEM_OK), "%s",
              err.msg);
}

static void teardown(void)
{
    xmem_pool_destroy(&other);
    xmem_pool_destroy(&pool);
    shm_unlink(garbage);
}

static void assert_names_pool(const xmem_error_t *err, const char *pool_name)
{
    cr_assert(strstr(err->msg, pool_name) != NULL, "message does not name %s: \"%s\"", pool_name,
              err->msg);
}

/* ---- names --------------------------------------------------------------------------------- */

typedef struct bad_name {
    char text[80];
} bad_name;

static bad_name bad_names[] = {
    {""},
    {"a/b"},
    {"/leading"},
    {"trailing/"},
    {"with space"},
    {"tab\there"},
    {"new\nline"},
    {"star*"},
    {"colon:x"},
    {"percent%s"},
    {"caf\xc3\xa9"},
    /* XMEM_POOL_NAME_MAX + 1 = 49 characters */
    {"xmemt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"xmemt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
};

ParameterizedTestParameters(bad_input, pool_name)
{
    return cr_make_param_array(bad_name, bad_names, sizeof bad_names / sizeof bad_names[0]);
}

ParameterizedTest(bad_name *n, bad_input, pool_name)
{
    xmem_pool_t *p = (xmem_pool_t *)n; /* must come back NULL */
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create(n->text, &p, &err), XMEM_ENAME), "create(\"%s\")", n->text);
    cr_assert(eq(ptr, p, NULL));
    cr_assert(eq(int, err.code, XMEM_ENAME));
    cr_assert(gt(sz, strlen(err.msg), 0));
    if (strlen(n->text) > XMEM_POOL_NAME_MAX) {
        /* a name too long may be shortened in the message, but its start must be there */
        char head[12] = {0};
        memcpy(head, n->text, sizeof head - 1);
        cr_assert(strstr(err.msg, head) != NULL, "message does not name \"%s...\": %s", head,
                  err.msg);
    } else if (n->text[0] && !strchr(n->text, '\n') && !strchr(n->text, '\t')) {
        cr_assert(strstr(err.msg, n->text) != NULL, "message does not name \"%s\": %s", n->text,
                  err.msg);
    }
    p = (xmem_pool_t *)n;
    cr_assert(eq(int, xmem_pool_create_with_capacity(n->text, 4, &p, &err), XMEM_ENAME));
    cr_assert(eq(ptr, p, NULL));
    p = (xmem_pool_t *)n;
    cr_assert(eq(int, xmem_pool_create_with(n->text, NULL, &p, &err), XMEM_ENAME));
    cr_assert(eq(ptr, p, NULL));
    p = (xmem_pool_t *)n;
    cr_assert(eq(int, xmem_pool_open(n->text, &p, &err), XMEM_ENAME));
    cr_assert(eq(ptr, p, NULL));
    cr_assert(eq(int, xmem_pool_remove_stale(n->text, &err), XMEM_ENAME));
}

Test(bad_input, longest_name_and_every_allowed_character, .init = setup, .fini = teardown)
{
    /* xmemt_<letters, '.', '-'>_<pid>: exactly XMEM_POOL_NAME_MAX characters */
    char pid[24], longest[XMEM_POOL_NAME_MAX + 1];
    snprintf(pid, sizeof pid, "_%ld", (long)getpid());
    size_t head = XMEM_POOL_NAME_MAX - strlen(pid);
    strcpy(longest, "xmemt_a.b-");
    for (size_t i = strlen(longest); i < head; i++)
        longest[i] = (char)('a' + i % 26);
    longest[head] = '\0';
    strcat(longest, pid);
    cr_assert(eq(sz, strlen(longest), XMEM_POOL_NAME_MAX));
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(longest, 2, &other, &err), XMEM_OK), "%s: %s",
              longest, err.msg);
    cr_assert(eq(str, (char *)xmem_pool_name(other), longest));
    xmem_pool_t *o2 = NULL;
    cr_assert(eq(int, xmem_pool_open(longest, &o2, &err), XMEM_OK), "%s", err.msg);
    xmem_pool_destroy(&o2);
    xmem_pool_destroy(&other);

    char mixed[64];
    snprintf(mixed, sizeof mixed, "xmemt_Mixed.Case-09_%ld", (long)getpid());
    cr_assert(eq(int, xmem_pool_create_with_capacity(mixed, 2, &other, &err), XMEM_OK), "%s",
              err.msg);
    xmem_pool_destroy(&other);
}

/* ---- buffer names -------------------------------------------------------------------------- */

Test(bad_input, index_out_of_range, .init = setup, .fini = teardown)
{
    const xmem_buf_ref refs[] = {
        {CAP, 0}, {CAP, 1}, {CAP + 1, 0}, {UINT32_MAX, 0}, {XMEM_POOL_MAX_CAPACITY, 0}};
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        xmem_buf_ref ref = refs[i];
        xmem_guard_t g = XMEM_GUARD_INIT;
        xmem_error_t err = {0};
        uint32_t n = 0;
        cr_assert(eq(int, xmem_pool_get(pool, ref, &g, &err), XMEM_ERANGE), "index %u", ref.index);
        cr_assert(eq(int, err.code, XMEM_ERANGE));
        assert_names_pool(&err, name);
        char idx[16];
        snprintf(idx, sizeof idx, "%u", ref.index);
        cr_assert(strstr(err.msg, idx) != NULL, "message does not name index %s: %s", idx, err.msg);
        cr_assert(not(xmem_guard_valid(&g)));
        cr_assert(eq(int, xmem_pool_get_mut(pool, ref, &g, &err), XMEM_ERANGE));
        cr_assert(eq(int, xmem_pool_add_ref(pool, ref, &err), XMEM_ERANGE));
        cr_assert(eq(int, xmem_pool_release(pool, ref, &err), XMEM_ERANGE));
        cr_assert(eq(int, xmem_pool_set_ref_count(pool, ref, 1, &err), XMEM_ERANGE));
        cr_assert(eq(int, xmem_pool_ref_count(pool, ref, &n, &err), XMEM_ERANGE));
        cr_assert(
            eq(int, xmem_pool_give(pool, ref, xmem_pool_owner_id(pool), 1, &err), XMEM_ERANGE));
        cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 0));
    }
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

Test(bad_input, stale_generation, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref old = xmem_guard_ref(&g);
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_guard_t h = XMEM_GUARD_INIT;
    memset(&err, 0, sizeof err);
    cr_assert(eq(int, xmem_pool_get(pool, old, &h, &err), XMEM_ESTALE));
    assert_names_pool(&err, name);
    cr_assert(eq(int, err.sys_errno, 0));
    cr_assert(eq(u32, xf_refcount(pool, xmem_guard_ref(&g)), 1));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
}

Test(bad_input, freed_buffer, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref old = xmem_guard_ref(&g);
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    xmem_guard_t h = XMEM_GUARD_INIT;
    memset(&err, 0, sizeof err);
    xmem_err rc = xmem_pool_get(pool, old, &h, &err);
    cr_assert(rc == XMEM_EFREED || rc == XMEM_ESTALE, "get of a freed buffer: %d", rc);
    cr_assert(eq(int, err.code, rc));
    assert_names_pool(&err, name);
    cr_assert(not(xmem_guard_valid(&h)));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* ---- pools that are not there, or not ours ----------------------------------------------- */

Test(bad_input, open_missing_pool, .init = setup, .fini = teardown)
{
    xmem_pool_t *p = pool; /* must come back NULL */
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_open(name2, &p, &err), XMEM_ENOENT));
    cr_assert(eq(ptr, p, NULL));
    cr_assert(eq(int, err.code, XMEM_ENOENT));
    assert_names_pool(&err, name2);
    cr_assert(eq(int, xmem_pool_remove_stale(name2, &err), XMEM_ENOENT));
    assert_names_pool(&err, name2);
}

/* A pool name whose shm object another user owns: refused naming that user, the object left
 * alone (even root never replaces another user's pool); and a pool this user cannot open names
 * its owner. Needs root to make an object of another user's. */
Test(bad_input, pool_of_another_user_is_refused_naming_its_owner, .init = setup, .fini = teardown)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to make a shm object of another user's");
    char meta[96];
    snprintf(meta, sizeof meta, "/%s_meta", name2);
    int fd = shm_open(meta, O_RDWR | O_CREAT | O_EXCL, 0600);
    cr_assert(ge(int, fd, 0), "shm_open(%s): %s", meta, strerror(errno));
    cr_assert(eq(int, fchown(fd, 65534, 65534), 0), "fchown: %s", strerror(errno));
    close(fd);
    xmem_pool_options o;
    xmem_pool_options_init(&o);
    o.replace_stale = true;
    xmem_pool_t *p = NULL;
    xmem_error_t err = {0};
    xmem_err rc = xmem_pool_create_with(name2, &o, &p, &err);
    struct stat st;
    char path[128];
    snprintf(path, sizeof path, "/dev/shm%s", meta);
    bool still_there = stat(path, &st) == 0 && st.st_uid == 65534;
    shm_unlink(meta);
    cr_assert(eq(int, rc, XMEM_EEXIST), "%s", err.msg);
    cr_assert(eq(ptr, p, NULL));
    assert_names_pool(&err, name2);
    cr_assert(not(eq(ptr, strstr(err.msg, "another user"), NULL)), "%s", err.msg);
    cr_assert(not(eq(ptr, strstr(err.msg, "uid 65534"), NULL)), "%s", err.msg);
    cr_assert(still_there, "another user's object was replaced");

    /* The other way round: a user who cannot open this pool is told whose it is. */
    int out[2];
    cr_assert(eq(int, pipe(out), 0));
    pid_t child = fork();
    if (child == 0) {
        close(out[0]);
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        xmem_pool_t *q = NULL;
        xmem_error_t e = {0};
        xmem_err orc = xmem_pool_open(name, &q, &e);
        ssize_t n = write(out[1], e.msg, strlen(e.msg));
        _exit(orc == XMEM_ESYS && n > 0 ? 0 : 3);
    }
    close(out[1]);
    char msg[XMEM_ERROR_MSG_MAX + 1] = "";
    ssize_t n = read(out[0], msg, sizeof msg - 1);
    close(out[0]);
    msg[n > 0 ? n : 0] = '\0';
    int status = 0;
    cr_assert(eq(int, (int)waitpid(child, &status, 0), (int)child));
    cr_assert(eq(int, WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0), "%s", msg);
    cr_assert(not(eq(ptr, strstr(msg, "belongs to another user, root (uid 0)"), NULL)), "%s", msg);
}

/* Writes `len` bytes at `off` of the pool's meta region, returning what was there before. */
static void poke_meta(const char *pool_name, size_t off, const void *bytes, size_t len, void *old)
{
    char shm[96];
    snprintf(shm, sizeof shm, "/%s_meta", pool_name);
    int fd = shm_open(shm, O_RDWR, 0);
    cr_assert(ge(int, fd, 0), "shm_open(%s): %s", shm, strerror(errno));
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    cr_assert(not(eq(ptr, m, MAP_FAILED)), "mmap(%s): %s", shm, strerror(errno));
    if (old)
        memcpy(old, (char *)m + off, len);
    memcpy((char *)m + off, bytes, len);
    munmap(m, 4096);
}

static void assert_open_layout_error(const char *what)
{
    xmem_pool_t *p = pool;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_open(name, &p, &err), XMEM_ELAYOUT), "open with %s", what);
    cr_assert(eq(ptr, p, NULL));
    cr_assert(eq(int, err.code, XMEM_ELAYOUT));
    assert_names_pool(&err, name);
}

/* The region starts with an 8-byte magic and a 4-byte layout version (core/meta_region.h). */
Test(bad_input, meta_region_with_wrong_magic, .init = setup, .fini = teardown)
{
    uint64_t bad = 0x0123456789abcdefull, old = 0;
    poke_meta(name, 0, &bad, sizeof bad, &old);
    cr_assert(not(eq(u64, old, bad)));
    assert_open_layout_error("a wrong magic");
    /* put it back: the pool is intact, so nothing else was changed by the refused open */
    poke_meta(name, 0, &old, sizeof old, NULL);
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_open(name, &other, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(other), CAP));
}

Test(bad_input, meta_region_with_wrong_version, .init = setup, .fini = teardown)
{
    uint32_t old = 0;
    poke_meta(name, 8, &(uint32_t){0}, sizeof(uint32_t), &old);
    uint32_t newer = old + 1;
    poke_meta(name, 8, &newer, sizeof newer, NULL);
    assert_open_layout_error("a newer layout version");
    uint32_t zero = 0;
    if (old != 0) {
        poke_meta(name, 8, &zero, sizeof zero, NULL);
        assert_open_layout_error("layout version 0");
    }
    poke_meta(name, 8, &old, sizeof old, NULL);
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_open(name, &other, &err), XMEM_OK), "%s", err.msg);
}

/* An shm object with the meta region's name that is no pool at all. */
Test(bad_input, meta_region_that_is_garbage, .init = setup, .fini = teardown)
{
    int fd = shm_open(garbage, O_RDWR | O_CREAT | O_EXCL, 0600);
    cr_assert(ge(int, fd, 0), "shm_open(%s): %s", garbage, strerror(errno));
    xmem_pool_t *p = pool;
    xmem_error_t err = {0};
    /* empty */
    xmem_err rc = xmem_pool_open(name2, &p, &err);
    cr_assert(eq(int, rc, XMEM_ELAYOUT), "open of an empty region: %d %s", rc, err.msg);
    cr_assert(eq(ptr, p, NULL));
    assert_names_pool(&err, name2);
    /* a page of noise */
    cr_assert(eq(int, ftruncate(fd, 4096), 0));
    char noise[4096];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (char)(i * 37 + 11);
    cr_assert(eq(long, (long)pwrite(fd, noise, sizeof noise, 0), 4096));
    close(fd);
    p = pool;
    rc = xmem_pool_open(name2, &p, &err);
    cr_assert(eq(int, rc, XMEM_ELAYOUT), "open of a noisy region: %d %s", rc, err.msg);
    cr_assert(eq(ptr, p, NULL));
    assert_names_pool(&err, name2);
}

/* A meta region shorter than its header says (the size is checked on open). The pool is made by a
 * child that exits without destroying it, so no live mapping of it is left to fault. */
Test(bad_input, meta_region_truncated, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(ge(int, pid, 0));
    if (pid == 0) {
        xmem_pool_t *p = NULL;
        _exit(xmem_pool_create_with_capacity(name2, 2, &p, NULL) == XMEM_OK ? 0 : 1);
    }
    cr_assert(eq(int, xf_wait(pid), 0));
    int fd = shm_open(garbage, O_RDWR, 0);
    cr_assert(ge(int, fd, 0), "shm_open(%s): %s", garbage, strerror(errno));
    struct stat st;
    cr_assert(eq(int, fstat(fd, &st), 0));
    cr_assert(gt(long, (long)st.st_size, 64));
    cr_assert(eq(int, ftruncate(fd, 64), 0));
    close(fd);
    xmem_pool_t *p = pool;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_open(name2, &p, &err), XMEM_ELAYOUT), "open of a truncated region");
    cr_assert(eq(ptr, p, NULL));
    assert_names_pool(&err, name2);
    /* teardown unlinks the region */
}

/* A meta object of zero bytes: its creator died between creating and sizing it. Opening it fails
 * with a message naming the pool; creating the pool again removes it and succeeds. */
Test(bad_input, meta_region_of_zero_bytes_is_replaced, .init = setup, .fini = teardown,
     .timeout = XF_TIMEOUT)
{
    int fd = shm_open(garbage, O_RDWR | O_CREAT | O_EXCL, 0600);
    cr_assert(ge(int, fd, 0), "shm_open(%s): %s", garbage, strerror(errno));
    close(fd);
    xmem_pool_t *p = NULL;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_open(name2, &p, &err), XMEM_ELAYOUT), "open of an empty region");
    assert_names_pool(&err, name2);
    cr_assert(eq(int, xmem_pool_create_with_capacity(name2, 2, &p, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(u32, xmem_pool_free_count(p), 2));
    xmem_pool_destroy(&p);
}

Test(bad_input, name_in_use_by_this_process, .init = setup, .fini = teardown)
{
    xmem_pool_t *p = pool;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create(name, &p, &err), XMEM_EEXIST));
    cr_assert(eq(ptr, p, NULL));
    cr_assert(eq(int, err.code, XMEM_EEXIST));
    assert_names_pool(&err, name);
    /* the existing pool is untouched */
    cr_assert(eq(u32, xmem_pool_capacity(pool), CAP));
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 10, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    cr_assert(eq(int, xmem_pool_open(name, &other, &err), XMEM_OK), "%s", err.msg);
}

/* A live process created the name: create is refused, naming the pool and that process. */
Test(bad_input, name_in_use_by_live_process, .init = setup, .fini = teardown, .timeout = XF_TIMEOUT)
{
    int ready[2], done[2];
    cr_assert(eq(int, pipe(ready), 0));
    cr_assert(eq(int, pipe(done), 0));
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(ge(int, pid, 0));
    if (pid == 0) {
        close(ready[0]);
        close(done[1]);
        xmem_pool_t *p = NULL;
        int32_t rc = xmem_pool_create_with_capacity(name2, 2, &p, NULL);
        xf_write_all(ready[1], &rc, sizeof rc);
        char c;
        xf_read_all(done[0], &c, 1); /* until the parent is done (or gone) */
        xmem_pool_destroy(&p);
        _exit(0);
    }
    close(ready[1]);
    close(done[0]);
    int32_t rc = -1;
    cr_assert(xf_read_all(ready[0], &rc, sizeof rc));
    cr_assert(eq(int, rc, XMEM_OK));
    xmem_error_t err = {0};
    xmem_pool_t *p = pool;
    cr_assert(eq(int, xmem_pool_create(name2, &p, &err), XMEM_EEXIST));
    cr_assert(eq(ptr, p, NULL));
    assert_names_pool(&err, name2);
    /* remove_stale names the live process */
    cr_assert(eq(int, xmem_pool_remove_stale(name2, &err), XMEM_EEXIST));
    char spid[24];
    snprintf(spid, sizeof spid, "%ld", (long)pid);
    cr_assert(strstr(err.msg, spid) != NULL, "message does not name the creator %s: %s", spid,
              err.msg);
    /* the live pool still works */
    cr_assert(eq(int, xmem_pool_open(name2, &other, &err), XMEM_OK), "%s", err.msg);
    xmem_guard_t g = XMEM_GUARD_INIT;
    cr_assert(eq(int, xmem_pool_acquire_cpu(other, 10, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    xmem_pool_destroy(&other);
    close(done[1]);
    close(ready[0]);
    cr_assert(eq(int, xf_wait(pid), 0));
    cr_assert(eq(int, xmem_pool_open(name2, &other, &err), XMEM_ENOENT),
              "not removed by its creator");
}

/* ---- arguments out of their domain ------------------------------------------------------- */

Test(bad_input, capacity_out_of_range, .init = setup, .fini = teardown)
{
    xmem_pool_t *p = pool;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_create_with_capacity(name2, 0, &p, &err), XMEM_EINVAL));
    cr_assert(eq(ptr, p, NULL));
    p = pool;
    cr_assert(eq(int, xmem_pool_create_with_capacity(name2, XMEM_POOL_MAX_CAPACITY + 1, &p, &err),
                 XMEM_EINVAL));
    cr_assert(eq(ptr, p, NULL));
    xmem_pool_options o;
    xmem_pool_options_init(&o);
    o.capacity = 0;
    cr_assert(eq(int, xmem_pool_create_with(name2, &o, &p, &err), XMEM_EINVAL));
    cr_assert(eq(ptr, p, NULL));
    /* nothing was left behind by the failures */
    cr_assert(eq(int, xmem_pool_open(name2, &p, &err), XMEM_ENOENT));
}

Test(bad_input, size_classes_out_of_range, .init = setup, .fini = teardown)
{
    xmem_pool_options o;
    xmem_pool_t *p = pool;
    xmem_error_t err = {0};
    xmem_pool_options_init(&o);
    o.n_classes = XMEM_POOL_MAX_CLASSES + 1;
    for (uint32_t i = 0; i < XMEM_POOL_MAX_CLASSES; i++)
        o.classes[i] = (xmem_size_class){.size = 4096, .count = 1};
    cr_assert(eq(int, xmem_pool_create_with(name2, &o, &p, &err), XMEM_EINVAL));
    cr_assert(eq(ptr, p, NULL));

    /* more preallocated buffers than records */
    xmem_pool_options_init(&o);
    o.capacity = 4;
    o.n_classes = 2;
    o.classes[0] = (xmem_size_class){.size = 4096, .count = 3};
    o.classes[1] = (xmem_size_class){.size = 8192, .count = 2};
    p = pool;
    xmem_err rc = xmem_pool_create_with(name2, &o, &p, &err);
    cr_assert(not(eq(int, rc, XMEM_OK)), "5 preallocated buffers in 4 records");
    cr_assert(eq(ptr, p, NULL));
    cr_assert(eq(int, xmem_pool_open(name2, &p, &err), XMEM_ENOENT),
              "a failed create left the pool");
}

static bool same_guard(const xmem_guard_t *a, const xmem_guard_t *b)
{
    return a->pool == b->pool && a->ref.index == b->ref.index &&
           a->ref.generation == b->ref.generation && a->data == b->data && a->size == b->size &&
           a->mode == b->mode;
}

/* acquire needs an empty guard: a full one is refused and keeps its reference. get into a full
 * guard is refused as well (it would lose the guard's reference). */
Test(bad_input, acquire_into_full_guard, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_guard_t copy = g;
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_EINVAL));
    cr_assert(same_guard(&g, &copy), "the full guard was changed");
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP - 1));
    cr_assert(eq(int, xmem_pool_add_ref(pool, xmem_guard_ref(&g), &err), XMEM_OK));
    cr_assert(not(eq(int, xmem_pool_get(pool, xmem_guard_ref(&g), &g, &err), XMEM_OK)));
    cr_assert(same_guard(&g, &copy), "the full guard was changed");
    cr_assert(eq(u32, xf_refcount(pool, xmem_guard_ref(&g)), 2));
    cr_assert(eq(int, xmem_pool_release(pool, xmem_guard_ref(&g), &err), XMEM_OK));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* A size no system can map fails cleanly and takes no record. */
Test(bad_input, impossible_size, .init = setup, .fini = teardown)
{
    const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 4095, (size_t)1 << 62};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        xmem_guard_t g = XMEM_GUARD_INIT;
        xmem_error_t err = {0};
        xmem_err rc = xmem_pool_acquire_cpu(pool, sizes[i], &g, &err);
        cr_assert(not(eq(int, rc, XMEM_OK)), "acquire of %zu bytes", sizes[i]);
        cr_assert(eq(int, err.code, rc));
        cr_assert(not(xmem_guard_valid(&g)));
        assert_names_pool(&err, name);
        cr_assert(eq(u32, xmem_pool_free_count(pool), CAP), "a failed acquire kept a record");
        xmem_buf_ref ids[2];
        rc = xmem_pool_preallocate_cpu(pool, sizes[i], 2, ids, &err);
        cr_assert(not(eq(int, rc, XMEM_OK)));
        cr_assert(eq(u32, xmem_pool_free_count(pool), CAP), "a failed preallocate kept a record");
    }
    /* and the pool still works */
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
}

/* give to an owner id that names no attachment is refused and moves nothing. */
Test(bad_input, give_to_invalid_owner, .init = setup, .fini = teardown)
{
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_pool_acquire_cpu(pool, 4096, &g, &err), XMEM_OK), "%s", err.msg);
    xmem_buf_ref ref = xmem_guard_ref(&g);
    cr_assert(eq(int, xmem_pool_add_ref(pool, ref, &err), XMEM_OK));
    /* None, a later attachment of this handle's slot, and a slot nobody attached to. */
    uint32_t me = xmem_pool_owner_id(pool);
    const uint32_t ids[] = {XMEM_OWNER_NONE, me + XMEM_POOL_MAX_PROCS,
                            (me + 1) % XMEM_POOL_MAX_PROCS};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        cr_assert(eq(int, xmem_pool_give(pool, ref, ids[i], 1, &err), XMEM_EINVAL), "owner %u",
                  ids[i]);
        cr_assert(eq(u32, xf_refcount(pool, ref), 2));
        cr_assert(eq(u32, xmem_pool_owned_count(pool, ref), 2));
    }
    cr_assert(eq(int, xmem_pool_release(pool, ref, &err), XMEM_OK));
    cr_assert(eq(int, xmem_guard_release(&g, &err), XMEM_OK));
    cr_assert(eq(u32, xmem_pool_free_count(pool), CAP));
}

/* Failing calls fill the error struct consistently: its code is the returned one, and sys_errno is
 * set only for XMEM_ESYS. */
Test(bad_input, error_struct_is_consistent, .init = setup, .fini = teardown)
{
    xmem_error_t err;
    memset(&err, 0x55, sizeof err);
    xmem_guard_t g = XMEM_GUARD_INIT;
    xmem_err rc = xmem_pool_get(pool, (xmem_buf_ref){CAP + 5, 0}, &g, &err);
    cr_assert(eq(int, rc, XMEM_ERANGE));
    cr_assert(eq(int, err.code, XMEM_ERANGE));
    cr_assert(eq(int, err.sys_errno, 0));
    cr_assert(lt(sz, strnlen(err.msg, sizeof err.msg), sizeof err.msg), "msg not terminated");
    cr_assert(eq(ptr, strchr(err.msg, '\n'), NULL), "msg is not one line");

    memset(&err, 0x55, sizeof err);
    xmem_pool_t *p = NULL;
    rc = xmem_pool_open("xmemt_nosuchpool_0", &p, &err);
    cr_assert(eq(int, rc, XMEM_ENOENT));
    cr_assert(eq(int, err.code, XMEM_ENOENT));
    cr_assert(lt(sz, strnlen(err.msg, sizeof err.msg), sizeof err.msg), "msg not terminated");
}
