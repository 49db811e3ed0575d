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
#include <linux/uaccess.h>
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

/* --- 6.15 and 7.2: what the newest Debian kernel changed ------------------- */

#ifdef CONFIG_X86
#include <asm/ibt.h>
/*
 * Whether the 4 bytes val (read from kernel text) are an ENDBR64/32, or the
 * poison the kernel seals an unused one with. 6.15, 72e213a7ccf9 ("x86/ibt:
 * Clean up is_endbr()"), made is_endbr() read an address itself (an
 * unexported function) and named the test of a value __is_endbr(), which
 * exists only with IBT.
 */
static inline bool kpc_is_endbr(u32 val)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 15, 0)
	return is_endbr(val);
#elif defined(CONFIG_X86_KERNEL_IBT)
	return __is_endbr(val);
#else
	return false;
#endif
}
#endif

/* Whether kernel text at addr holds an ENDBR64 (kpc_is_endbr); false where unreadable. */
static inline bool kpc_endbr_at(unsigned long addr)
{
#ifdef CONFIG_X86
	u32 val;

	return !copy_from_kernel_nofault(&val, (void *)addr, sizeof(val)) && kpc_is_endbr(val);
#else
	return false;
#endif
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 2, 0)
#include <linux/sched/exec_state.h>
#else
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#endif
#include <linux/capability.h>
#include <linux/user_namespace.h>

/*
 * The dumpability half of ptrace's access rule: whether task is dumpable by
 * its owner, or the caller has CAP_SYS_PTRACE in the user namespace task's
 * program was executed in. Sleeps not; takes no lock the caller holds.
 * Before 7.2 both live in the task's mm (a task without one, a kernel thread
 * or one exiting, passes, as ptrace_may_access then did). 7.2 moved them from
 * mm_struct into task->exec_state (struct task_exec_state, RCU-protected;
 * its accessor task_exec_state_get_dumpable() is not exported), shared by
 * mm-less tasks with init_task, whose dumpability is off.
 */
static inline bool kpc_dumpable_or_capable(struct task_struct *task)
{
	struct user_namespace *ns;
	bool dumpable;

#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 2, 0)
	struct task_exec_state *es;

	rcu_read_lock();
	es = rcu_dereference(task->exec_state);
	if (!es) {
		rcu_read_unlock();
		return capable(CAP_SYS_PTRACE);
	}
	dumpable = READ_ONCE(es->dumpable) == TASK_DUMPABLE_OWNER;
	ns = get_user_ns(es->user_ns);
	rcu_read_unlock();
#else
	struct mm_struct *mm = get_task_mm(task);

	if (!mm)
		return true;
	dumpable = get_dumpable(mm) == SUID_DUMP_USER;
	ns = get_user_ns(mm->user_ns);
	mmput(mm);
#endif
	if (!dumpable)
		dumpable = ns_capable(ns, CAP_SYS_PTRACE);
	put_user_ns(ns);
	return dumpable;
}

/*
 * Timers by their current names (used by the selftests' target module).
 * timer_delete_sync() is 6.2's name, 9b13df3fb64e ("timers: Rename
 * del_timer_sync() to timer_delete_sync()"); 6.16 renamed from_timer(),
 * 41cb08555c41 ("treewide, timers: Rename from_timer() to
 * timer_container_of()"), and destroy_timer_on_stack(), aad823aa3a7d
 * ("treewide, timers: Rename destroy_timer_on_stack() as
 * timer_destroy_on_stack()"); 7.2 has only the new names. A stable release
 * that backported a new name keeps its own.
 */
#include <linux/timer.h>
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
#define timer_delete_sync del_timer_sync
#endif
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 16, 0)
#ifndef timer_container_of
#define timer_container_of from_timer
#endif
#define timer_destroy_on_stack destroy_timer_on_stack
#endif

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
