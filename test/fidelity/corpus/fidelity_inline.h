/* SPDX-License-Identifier: GPL-2.0 */
/* A header's inline function, inlined into the corpus (the "inline" case). */
#ifndef KPC_FIDELITY_INLINE_H
#define KPC_FIDELITY_INLINE_H

static inline int fid_header_abs(int a)
{
	if (a < 0)
		return -a;
	return a;
}

#endif
