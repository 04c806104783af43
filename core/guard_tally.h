/* A guard's tally: a counter, owned by whoever handed the guard out, of the guards it handed out
 * that still hold their reference. The subscriber keeps one per buffer, so it knows exactly how
 * many of its attachment's references the application holds, and can refuse a descriptor for a
 * buffer that came with no reference of its own (a replay under a new number, a rogue peer). */
#ifndef XMEM_CORE_GUARD_TALLY_H
#define XMEM_CORE_GUARD_TALLY_H

#include <stdint.h>

#include <xmem/guard.h>

/* Counts `g` in *tally (+1 now) until it lets go of its reference: released, or forgotten (its
 * reference handed on). A guard moved by copying the struct carries its tally along. `tally` must
 * outlive the guard's reference; `g` must hold one. */
void xmemi_guard_tally(xmem_guard_t *g, uint32_t *tally);

#endif
