/* A pool handle's own memory: made with its mapping cache and identity, freed with everything this
 * process mapped; and the fork watch that makes a handle copied into a child refuse to work. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "buffer.h"
#include "common/proc.h"
#include "cuda_internal.h"
#include "pool_internal.h"

_Atomic unsigned xmemi_fork_gen;

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    atomic_fetch_add_explicit(&xmemi_fork_gen, 1, memory_order_relaxed);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

xmem_pool_t *xmemi_handle_new(const char *name, uint32_t capacity)
{
    pthread_once(&atfork_once, register_atfork);
    xmem_pool_t *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->maps = calloc(capacity, sizeof *pool->maps);
    if (!pool->maps) {
        free(pool);
        return NULL;
    }
    snprintf(pool->name, sizeof pool->name, "%s", name);
    pool->capacity = capacity;
    pool->pid = getpid();
    pool->start_time = xmemi_proc_start_time(pool->pid);
    pthread_mutex_init(&pool->map_lock, NULL);
    pool->fork_gen = atomic_load(&xmemi_fork_gen);
    return pool;
}

void xmemi_handle_free(xmem_pool_t *pool)
{
    xmemi_cuda_forget(pool);
    xmemi_buffer_unmap_all(pool);
    xmemi_meta_close(&pool->region);
    pthread_mutex_destroy(&pool->map_lock);
    free(pool->maps);
    free(pool);
}
