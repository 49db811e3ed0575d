/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What differs between the kernels kprobecov.ko builds for, from Debian 12's
 * 6.1 on: the one place for version guards. Each guard names the release and
 * commit that made it necessary; the rest of the module calls the kpc_
 * helpers here and is the same on every kernel. Tested on the kernels the
 * README lists.
 */
#ifndef KPROBECOV_COMPAT_H
#define KPROBECOV_COMPAT_H

#include <linux/mm.h>
#include <linux/version.h>

/*
 * Sets flags of a VMA being mapped (mmap_lock held for writing). 6.3,
 * bc292ab00f6c ("mm: introduce vma->vm_flags wrapper functions"), made
 * vm_flags read-only outside these wrappers.
 */
static inline void kpc_vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/* ---- Module text regions (probes on a module's last function) ---- */

#include <linux/module.h>

/* At most how many text regions kpc_text_regions_alone gives. */
#define KPC_TEXT_REGIONS 2

/*
 * The text regions of mod (its core text, its init text while there) that were
 * allocated alone, so that nothing is mapped right behind them, as [start, end)
 * (page-aligned: the end kallsyms gives a region's last symbol); returns how
 * many. 6.4, ac3b43283923 ("module: replace module_layout with module_memory"),
 * allocates each region (MOD_TEXT, MOD_INIT_TEXT, MOD_RODATA, ...) on its own;
 * before, the text came first in one allocation with the module's read-only
 * data and data behind it (core_layout, init_layout): none.
 */
static inline unsigned int kpc_text_regions_alone(struct module *mod,
						  unsigned long start[KPC_TEXT_REGIONS],
						  unsigned long end[KPC_TEXT_REGIONS])
{
	unsigned int n = 0;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	static const enum mod_mem_type types[KPC_TEXT_REGIONS] = { MOD_TEXT, MOD_INIT_TEXT };
	unsigned int i;

	for (i = 0; i < KPC_TEXT_REGIONS; i++) {
		if (!mod->mem[types[i]].base || !mod->mem[types[i]].size)
			continue;
		start[n] = (unsigned long)mod->mem[types[i]].base;
		end[n] = start[n] + mod->mem[types[i]].size;
		n++;
	}
#endif
	return n;
}

#endif /* KPROBECOV_COMPAT_H */
