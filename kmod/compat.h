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

#endif /* KPROBECOV_COMPAT_H */
