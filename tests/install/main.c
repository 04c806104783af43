/* Built against an installed xmem: creates a pool, shares nothing, checks the version macro. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <xmem/xmem.h>

int main(void)
{
    char name[64];
    snprintf(name, sizeof name, "xmemt_install_%d", (int)getpid());
    xmem_error_t err;
    xmem_pool_t *pool = NULL;
    if (xmem_pool_create_with_capacity(name, 4, &pool, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    xmem_guard_t g = XMEM_GUARD_INIT;
    int rc = xmem_pool_acquire_cpu(pool, 100, &g, &err) || xmem_guard_index(&g) != 0;
    xmem_guard_release(&g, NULL);
    rc |= xmem_pool_free_count(pool) != 4;
    xmem_pool_destroy(&pool);
    printf("xmem %s from the installed package: %s\n", XMEM_VERSION_STRING, rc ? "FAILED" : "ok");
    return rc;
}
