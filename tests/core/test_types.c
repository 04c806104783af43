/* Element types, storage names and error strings: the small vocabulary every other layer prints
 * and parses. Values of xmem_dtype are stored in shared memory, so their numbers are checked too.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <xmem/xmem.h>

typedef struct dtype_case {
    xmem_dtype dtype;
    int value; /* the number stored in shared memory: fixed forever */
    size_t size;
    char name[8]; /* inline: Criterion copies parameters into the test's process */
} dtype_case;

static dtype_case dtype_cases[] = {
    {XMEM_DTYPE_U8, 1, 1, "u8"},      {XMEM_DTYPE_I8, 2, 1, "i8"},
    {XMEM_DTYPE_U16, 3, 2, "u16"},    {XMEM_DTYPE_I16, 4, 2, "i16"},
    {XMEM_DTYPE_U32, 5, 4, "u32"},    {XMEM_DTYPE_I32, 6, 4, "i32"},
    {XMEM_DTYPE_U64, 7, 8, "u64"},    {XMEM_DTYPE_I64, 8, 8, "i64"},
    {XMEM_DTYPE_F16, 9, 2, "f16"},    {XMEM_DTYPE_BF16, 10, 2, "bf16"},
    {XMEM_DTYPE_F32, 11, 4, "f32"},   {XMEM_DTYPE_F64, 12, 8, "f64"},
    {XMEM_DTYPE_BOOL, 13, 1, "bool"},
};

ParameterizedTestParameters(types, dtype)
{
    return cr_make_param_array(dtype_case, dtype_cases, sizeof dtype_cases / sizeof dtype_cases[0]);
}

ParameterizedTest(dtype_case *c, types, dtype)
{
    cr_assert(eq(int, (int)c->dtype, c->value), "%s has moved", c->name);
    cr_assert(eq(sz, xmem_dtype_size(c->dtype), c->size), "size of %s", c->name);
    cr_assert(eq(str, (char *)xmem_dtype_name(c->dtype), c->name));

    xmem_dtype parsed = XMEM_DTYPE_UNKNOWN;
    xmem_error_t err = {0};
    cr_assert(eq(int, xmem_dtype_from_name(c->name, &parsed, &err), XMEM_OK), "%s: %s", c->name,
              err.msg);
    cr_assert(eq(int, (int)parsed, (int)c->dtype), "%s parsed as %d", c->name, (int)parsed);
}

Test(types, every_dtype_has_a_case)
{
    cr_assert(eq(int, XMEM_DTYPE_COUNT_, 14));
    cr_assert(eq(sz, sizeof dtype_cases / sizeof dtype_cases[0], (size_t)XMEM_DTYPE_COUNT_ - 1));
}

Test(types, dtype_unknown_and_out_of_range)
{
    cr_assert(eq(int, XMEM_DTYPE_UNKNOWN, 0));
    cr_assert(eq(sz, xmem_dtype_size(XMEM_DTYPE_UNKNOWN), 0));
    cr_assert(eq(sz, xmem_dtype_size(XMEM_DTYPE_COUNT_), 0));
    cr_assert(eq(sz, xmem_dtype_size((xmem_dtype)200), 0));
    cr_assert(eq(sz, xmem_dtype_size((xmem_dtype)-1), 0));
    cr_assert(eq(str, (char *)xmem_dtype_name(XMEM_DTYPE_COUNT_), "unknown"));
    cr_assert(eq(str, (char *)xmem_dtype_name((xmem_dtype)200), "unknown"));
    cr_assert(eq(str, (char *)xmem_dtype_name((xmem_dtype)-1), "unknown"));
    cr_assert(not(eq(ptr, (void *)xmem_dtype_name(XMEM_DTYPE_UNKNOWN), NULL)));
}

Test(types, dtype_names_are_distinct)
{
    for (int i = 0; i < XMEM_DTYPE_COUNT_; i++)
        for (int j = i + 1; j < XMEM_DTYPE_COUNT_; j++)
            cr_assert(strcmp(xmem_dtype_name((xmem_dtype)i), xmem_dtype_name((xmem_dtype)j)) != 0,
                      "dtypes %d and %d are both \"%s\"", i, j, xmem_dtype_name((xmem_dtype)i));
}

Test(types, dtype_from_bad_name_names_the_text)
{
    const char *bad[] = {"f33", "", "u8 ", " u8", "float32x", "u", "i128"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xmem_dtype parsed = XMEM_DTYPE_F64;
        xmem_error_t err = {0};
        xmem_err rc = xmem_dtype_from_name(bad[i], &parsed, &err);
        cr_assert(eq(int, rc, XMEM_EINVAL), "\"%s\" parsed", bad[i]);
        cr_assert(eq(int, err.code, XMEM_EINVAL));
        if (bad[i][0])
            cr_assert(strstr(err.msg, bad[i]) != NULL, "message does not name \"%s\": %s", bad[i],
                      err.msg);
    }
}

Test(types, dtype_from_name_without_error_struct)
{
    xmem_dtype parsed = XMEM_DTYPE_UNKNOWN;
    cr_assert(eq(int, xmem_dtype_from_name("bf16", &parsed, NULL), XMEM_OK));
    cr_assert(eq(int, (int)parsed, XMEM_DTYPE_BF16));
    cr_assert(eq(int, xmem_dtype_from_name("nope", &parsed, NULL), XMEM_EINVAL));
}

Test(types, storage_and_access_values)
{
    cr_assert(eq(int, XMEM_STORAGE_CPU, 0));
    cr_assert(eq(int, XMEM_STORAGE_CUDA, 1));
    cr_assert(eq(int, XMEM_ACCESS_READ, 0));
    cr_assert(eq(int, XMEM_ACCESS_READ_WRITE, 1));
    cr_assert(eq(str, (char *)xmem_storage_name(XMEM_STORAGE_CPU), "cpu"));
    cr_assert(eq(str, (char *)xmem_storage_name(XMEM_STORAGE_CUDA), "cuda"));
}

/* The codes are part of the ABI: success is 0 and the order is fixed. */
Test(types, error_code_values)
{
    cr_assert(eq(int, XMEM_OK, 0));
    cr_assert(eq(int, XMEM_EINVAL, 1));
    cr_assert(eq(int, XMEM_ENAME, 2));
    cr_assert(eq(int, XMEM_EEXHAUSTED, 8));
    cr_assert(eq(int, XMEM_ESTALE, 10));
    cr_assert(eq(int, XMEM_EFREED, 11));
    cr_assert(eq(int, XMEM_EFORKED, 15));
    cr_assert(eq(int, XMEM_EOVERFLOW, 17));
    cr_assert(gt(int, XMEM_ERR_COUNT_, XMEM_EOVERFLOW)); /* new codes are appended */
}

Test(types, strerror_every_code)
{
    const char *unknown = xmem_strerror(XMEM_ERR_COUNT_);
    cr_assert(not(eq(ptr, (void *)unknown, NULL)));
    cr_assert(eq(str, (char *)unknown, "unknown error"));
    for (int i = 0; i < XMEM_ERR_COUNT_; i++) {
        const char *s = xmem_strerror((xmem_err)i);
        cr_assert(not(eq(ptr, (void *)s, NULL)), "code %d", i);
        cr_assert(gt(sz, strlen(s), 0), "code %d has an empty text", i);
        cr_assert(strcmp(s, "unknown error") != 0, "code %d has no text of its own", i);
        for (int j = 0; j < i; j++)
            cr_assert(strcmp(s, xmem_strerror((xmem_err)j)) != 0, "codes %d and %d share \"%s\"", j,
                      i, s);
        /* static storage: the same pointer every time */
        cr_assert(eq(ptr, (void *)s, (void *)xmem_strerror((xmem_err)i)));
    }
}

Test(types, strerror_out_of_range)
{
    cr_assert(eq(str, (char *)xmem_strerror(XMEM_ERR_COUNT_), "unknown error"));
    cr_assert(eq(str, (char *)xmem_strerror((xmem_err)(XMEM_ERR_COUNT_ + 1)), "unknown error"));
    cr_assert(eq(str, (char *)xmem_strerror((xmem_err)1000), "unknown error"));
    cr_assert(eq(str, (char *)xmem_strerror((xmem_err)-1), "unknown error"));
    cr_assert(eq(str, (char *)xmem_strerror((xmem_err)INT32_MIN), "unknown error"));
}

static void *strerror_thread(void *arg)
{
    const char **first = arg;
    for (int round = 0; round < 2000; round++)
        for (int i = 0; i <= XMEM_ERR_COUNT_; i++)
            if (strcmp(xmem_strerror((xmem_err)i), first[i]) != 0)
                return (void *)1;
    return NULL;
}

Test(types, strerror_is_thread_safe)
{
    const char *first[XMEM_ERR_COUNT_ + 1];
    for (int i = 0; i <= XMEM_ERR_COUNT_; i++)
        first[i] = xmem_strerror((xmem_err)i);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        cr_assert(eq(int, pthread_create(&t[i], NULL, strerror_thread, first), 0));
    for (int i = 0; i < 4; i++) {
        void *res = (void *)1;
        pthread_join(t[i], &res);
        cr_assert(eq(ptr, res, NULL), "thread %d saw another text", i);
    }
}

Test(types, version_macros)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", XMEM_VERSION_MAJOR, XMEM_VERSION_MINOR,
             XMEM_VERSION_PATCH);
    cr_assert(eq(str, buf, XMEM_VERSION_STRING));
}
