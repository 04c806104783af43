/* Umbrella header: the whole public API. Nothing outside include/xmem/ is supported for users. */
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
