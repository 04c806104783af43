/* A pool's footprint in /dev/shm at create, and the error saying it does not fit (pool_room.c). */
#ifndef XMEM_CORE_POOL_ROOM_H
#define XMEM_CORE_POOL_ROOM_H

#include <stdint.h>

#include <xmem/pool.h>

/* xmem_pool_shm_bytes() of options given. */
uint64_t xmemi_pool_shm_bytes(const xmem_pool_options *o);

/* xmem_pool_check_room() of options given, counting `held` bytes of /dev/shm that the pool
 * already has (its objects made so far) as free. */
xmem_err xmemi_pool_check_room(const char *name, const xmem_pool_options *o, uint64_t held,
                               xmem_error_t *err);

#endif
