/* Symbol visibility: the library builds with hidden visibility and exports only what is marked. */
#ifndef XMEM_EXPORT_H
#define XMEM_EXPORT_H

#if defined(XMEM_BUILDING_LIBRARY)
#define XMEM_EXPORT __attribute__((visibility("default")))
#else
#define XMEM_EXPORT
#endif

#endif
