// SPDX-License-Identifier: GPL-2.0
/*
 * kpc_unwatched: a function for kprobecov's selftests that runs where RCU is
 * not watching, as code of the idle loop does. Writing N to
 * /sys/module/kpc_unwatched/parameters/call_unwatched calls kpc_unwatched_fn
 * N times in the writer's context between ct_idle_enter() and ct_idle_exit()
 * (interrupts off: the CPU is in an extended quiescent state, as in idle);
 * call_watched calls it N times normally. body_offset (read-only) is the
 * offset in kpc_unwatched_fn of a block that kprobes can optimise into a
 * jump; label_offset that of the address-taken label the block starts at
 * (body_offset is 4 bytes further where the compiler put an ENDBR64 there).
 */
#include <linux/compiler.h>
#include <linux/context_tracking.h>
#include <linux/irqflags.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "../../compat.h"

static long kpc_unwatched_sink;
static u32 kpc_unwatched_table[16];

/* With off: only stores the offset of its body block there. */
static noinline __noclone long kpc_unwatched_fn(long x, unsigned long *off)
{
	long r;

	if (off) {
		*off = (unsigned long)&&body - (unsigned long)kpc_unwatched_fn;
		return 0;
	}
	if (x >= 0) {
body:
		r = kpc_unwatched_table[x & 15] * 3 + x;
		WRITE_ONCE(kpc_unwatched_sink, r);
	} else {
		r = -x * 7 + 1;
		WRITE_ONCE(kpc_unwatched_sink, r);
	}
	return r;
}

static unsigned long body_offset;
module_param(body_offset, ulong, 0444);
static unsigned long label_offset;
module_param(label_offset, ulong, 0444);

static int kpc_unwatched_call(const char *val, bool watched)
{
	unsigned long flags;
	unsigned int n, i;
	int ret = kstrtouint(val, 0, &n);

	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		if (watched) {
			kpc_unwatched_fn(i, NULL);
			continue;
		}
		local_irq_save(flags);
		ct_idle_enter();
		kpc_unwatched_fn(i, NULL);
		ct_idle_exit();
		local_irq_restore(flags);
	}
	return 0;
}

static int kpc_unwatched_set_unwatched(const char *val, const struct kernel_param *kp)
{
	return kpc_unwatched_call(val, false);
}

static int kpc_unwatched_set_watched(const char *val, const struct kernel_param *kp)
{
	return kpc_unwatched_call(val, true);
}

static const struct kernel_param_ops kpc_unwatched_ops = { .set = kpc_unwatched_set_unwatched };
static const struct kernel_param_ops kpc_watched_ops = { .set = kpc_unwatched_set_watched };
module_param_cb(call_unwatched, &kpc_unwatched_ops, NULL, 0200);
module_param_cb(call_watched, &kpc_watched_ops, NULL, 0200);

static int __init kpc_unwatched_init(void)
{
	int i;

	for (i = 0; i < 16; i++)
		kpc_unwatched_table[i] = i * 37 + 5;
	kpc_unwatched_fn(0, &body_offset);
	label_offset = body_offset;
#ifdef CONFIG_X86_KERNEL_IBT
	/*
	 * Past the ENDBR64 the compiler puts at the address-taken label on an IBT
	 * kernel (Debian's from 6.12): kprobes does not optimise a probe on one.
	 */
	if (kpc_is_endbr(*(u32 *)((unsigned long)kpc_unwatched_fn + body_offset)))
		body_offset += ENDBR_INSN_SIZE;
#endif
	return 0;
}

static void __exit kpc_unwatched_exit(void)
{
}

module_init(kpc_unwatched_init);
module_exit(kpc_unwatched_exit);
MODULE_DESCRIPTION("kprobecov selftest target: a function run where RCU is not watching");
MODULE_LICENSE("GPL");
