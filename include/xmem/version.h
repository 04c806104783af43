/* xmem version: the one place it is written. CMakeLists.txt parses these three lines. */
#ifndef XMEM_VERSION_H
#define XMEM_VERSION_H

#define XMEM_VERSION_MAJOR 0
#define XMEM_VERSION_MINOR 1
#define XMEM_VERSION_PATCH 0

#define XMEM_VERSION_STRING "0.1.0"

#endif
