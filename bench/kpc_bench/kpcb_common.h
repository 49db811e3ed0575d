/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the benchmark modules: the attribute of probed functions, and
 * the KPCB_TEXT ioctl (the code bytes at given sites of the module's own
 * functions).
 */
#ifndef _KPCB_COMMON_H
#define _KPCB_COMMON_H

#include <linux/sched.h>
#include <linux/uaccess.h>
#include "kpc_bench_uapi.h"

/* Functions that may carry a probe: never inlined, cloned or merged. */
#if __has_attribute(__noipa__)
#define kpcb_probed	noinline __attribute__((__noipa__))
#else
#define kpcb_probed	noinline
#endif

/* Sites further into a function than this are refused. */
#define KPCB_MAX_SITE_OFFSET	4096

/* func_at(i): the address of function i (0 <= i < nr_funcs), NULL if gone. */
static inline long kpcb_text(void __user *uarg, void *(*func_at)(u32), u32 nr_funcs)
{
	struct kpcb_site __user *usites;
	struct kpcb_text text;
	struct kpcb_site site;
	void *func;
	u64 i;

	if (copy_from_user(&text, uarg, sizeof(text)))
		return -EFAULT;
	if (text.reserved)
		return -EINVAL;
	usites = u64_to_user_ptr(text.sites);
	for (i = 0; i < text.count; i++) {
		if (copy_from_user(&site, &usites[i], sizeof(site)))
			return -EFAULT;
		if (site.func >= nr_funcs || site.offset >= KPCB_MAX_SITE_OFFSET)
			return -EINVAL;
		func = func_at(site.func);
		if (!func)
			return -ENOENT;
		if (copy_from_kernel_nofault(site.bytes, (u8 *)func + site.offset,
					     sizeof(site.bytes)))
			return -EFAULT;
		if (copy_to_user(usites[i].bytes, site.bytes, sizeof(site.bytes)))
			return -EFAULT;
		if (!(i & 255))
			cond_resched();
	}
	text.nr_funcs = nr_funcs;
	if (copy_to_user(uarg, &text, sizeof(text)))
		return -EFAULT;
	return 0;
}

#endif /* _KPCB_COMMON_H */
