/* The main() of a test program every test of which needs something the machine may not have
 * (root and namespaces, a GPU): without it the program says so and exits 77, which ctest counts
 * as skipped (SKIP_RETURN_CODE 77); with it Criterion runs as its own main would. Visible:
 * Criterion's workers run the tests by finding main among the dynamic symbols and patching it, and
 * the build hides every symbol by default (a hidden main would run whole in each worker). */
#ifndef XMEM_TESTS_SKIP_MAIN_H
#define XMEM_TESTS_SKIP_MAIN_H

#include <criterion/criterion.h>
#include <stdio.h>

/* main() running the tests when `have` (an expression, evaluated once) is true, else printing
 * `why` and exiting 77. */
#define XF_MAIN_SKIPPED_UNLESS(have, why)                                                          \
    __attribute__((visibility("default"))) int main(int argc, char *argv[])                        \
    {                                                                                              \
        if (!(have)) {                                                                             \
            fprintf(stderr, "%s\n", why);                                                          \
            return 77;                                                                             \
        }                                                                                          \
        struct criterion_test_set *tests = criterion_initialize();                                 \
        int result = 0;                                                                            \
        if (criterion_handle_args(argc, argv, true))                                               \
            result = !criterion_run_all_tests(tests);                                              \
        criterion_finalize(tests);                                                                 \
        return result;                                                                             \
    }

#endif
