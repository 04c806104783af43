/* Umbrella header: the whole public API an application uses. Nothing outside include/xmem/ is
 * supported for users. Framework code that moves references between processes or reclaims dead
 * ones includes <xmem/pool_admin.h> as well. */
#ifndef XMEM_XMEM_H
#define XMEM_XMEM_H

#include <xmem/cuda.h>
#include <xmem/descriptor.h>
#include <xmem/error.h>
#include <xmem/guard.h>
#include <xmem/meta.h>
#include <xmem/node.h>
#include <xmem/pool.h>
#include <xmem/transport.h>
#include <xmem/types.h>
#include <xmem/version.h>

#endif
