// SPDX-License-Identifier: GPL-2.0
/*
 * kpc_target: code for kprobecov's selftests to probe. Its static noinline
 * functions have distinct, branchy bodies (so the compiler neither merges,
 * inlines nor clones them under another name) and are called only by the
 * commands documented in kpc_target.h, by module_init, by module_exit, or
 * by a timer. The kprobecov CLI's tests find source lines by the
 * "KPC:<name>" markers, so code may move as long as the markers move with it.
 */
#define pr_fmt(fmt) "kpc_target: " fmt

#include <linux/compiler.h>
#include <linux/completion.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/timer.h>
#include <linux/uaccess.h>

#include "../../compat.h"
#include "kpc_target.h"

#define KPC_TABLE_LEN 16

static u32 kpc_table[KPC_TABLE_LEN];
static long kpc_sink;
static long kpc_sink_neg;

/* Only module_init calls this: it is hit once per load. */
static noinline __noclone u64 kpc_target_fill_table(u32 seed)
{	/* KPC:fill_open */
	u64 sum = 0;
	int i;

	for (i = 0; i < KPC_TABLE_LEN; i++) {
		seed = seed * 1103515245U + 12345U;
		kpc_table[i] = (seed >> 8) & 0xff;
		sum += kpc_table[i];
	}
	return sum;
}

/* Only module_exit calls this. */
static noinline __noclone u64 kpc_target_drain_table(void)
{
	u64 left = 0;
	int i;

	for (i = KPC_TABLE_LEN - 1; i >= 0; i--) {
		left ^= (u64)kpc_table[i] << (i % 8);
		kpc_table[i] = 0;
	}
	return left;
}

/* __init text: hit once during module_init, freed right after. */
static noinline __noclone int __init kpc_target_init_banner(u64 sum)
{	/* KPC:banner_open */
	if (sum & 1)
		return (int)(sum % 7);	/* KPC:banner_odd */
	return (int)(sum % 5) + 1;	/* KPC:banner_even */
}

static noinline __noclone long kpc_target_a(long x)
{	/* KPC:a_open */
	long acc = x;
	int i;

	for (i = 0; i < 3; i++) {
		if (acc & 1)	/* KPC:a_if */
			acc = acc * 3 + 1;	/* KPC:a_odd */
		else
			acc >>= 1;	/* KPC:a_even */
	}
	WRITE_ONCE(kpc_sink, acc);
	return acc;	/* KPC:a_return */
}

static noinline __noclone long kpc_target_b(long x)
{	/* KPC:b_open */
	switch (x & 3) {
	case 0:
		return kpc_table[x & (KPC_TABLE_LEN - 1)] + 11;	/* KPC:b_case0 */
	case 1:
		return x * 13 - 2;	/* KPC:b_case1 */
	case 2:
		return -x ^ 0x55;	/* KPC:b_case2 */
	default:
		return READ_ONCE(kpc_sink) + x;	/* KPC:b_default */
	}
}

/*
 * Where a block of kpc_target_branch starts, as a probe's address: past the
 * ENDBR64 the compiler puts at an address-taken label when the kernel has IBT
 * (X86_KERNEL_IBT, on in Debian's 6.12): kprobes does not optimize a probe on
 * an ENDBR64 (seen on 6.12), and the block's next instruction counts the same.
 */
#ifdef CONFIG_X86_KERNEL_IBT
#define KPC_BLOCK(label) \
	((unsigned long)(label) + (kpc_is_endbr(*(u32 *)(label)) ? ENDBR_INSN_SIZE : 0))
#else
#define KPC_BLOCK(label) ((unsigned long)(label))
#endif

/*
 * Has two successors whose offsets GET_INFO reports, for LINE/BRANCH probes
 * at non-zero offsets: "pos" runs only when x > 0, "neg" only otherwise.
 * With info, only reports them (the labels' addresses are taken here, so
 * the compiler keeps each label at the start of its own block).
 */
static noinline __noclone long kpc_target_branch(long x, struct kpc_target_info *info)
{	/* KPC:branch_open */
	long r;

	if (info) {
		info->branch_pos_offset = KPC_BLOCK(&&pos) - (unsigned long)kpc_target_branch;	/* KPC:branch_info_pos */
		info->branch_neg_offset = KPC_BLOCK(&&neg) - (unsigned long)kpc_target_branch;	/* KPC:branch_info_neg */
		return 0;	/* KPC:branch_info_ret */
	}
	if (x > 0) {	/* KPC:branch_if */
pos:
		r = kpc_table[x & (KPC_TABLE_LEN - 1)] * 3 + x;	/* KPC:branch_pos */
		WRITE_ONCE(kpc_sink, r);	/* KPC:branch_pos_sink */
	} else {
neg:
		r = -x * 7 + 1;	/* KPC:branch_neg */
		WRITE_ONCE(kpc_sink_neg, r);
	}
	return r;
}

/* Calls a (twice, from two call sites), b and both sides of branch. */
static noinline __noclone long kpc_target_seq(long x)
{	/* KPC:seq_open */
	long r;

	r = kpc_target_a(x);
	r += kpc_target_b(r);
	r += kpc_target_branch(1, NULL);
	r += kpc_target_branch(-1, NULL);
	r ^= kpc_target_a(r + 1);
	WRITE_ONCE(kpc_sink, r);
	return r;
}

/* Only the timer calls this, in softirq context. */
static noinline __noclone long kpc_target_irq(long x)
{
	long r = x;

	if (in_task())
		r = -1;
	else if (x > 100)
		r = x / 3;
	else
		r = x + 17;
	WRITE_ONCE(kpc_sink, r);
	return r;
}

struct kpc_target_timer {
	struct timer_list timer;
	struct completion done;
	struct task_struct *caller;
	long arg;
	long result;
	bool interrupted_caller;
};

static void kpc_target_timer_fn(struct timer_list *t)
{
	struct kpc_target_timer *kt = timer_container_of(kt, t, timer);

	kt->result = kpc_target_irq(kt->arg);
	kt->interrupted_caller = current == kt->caller;
	complete(&kt->done);
}

/*
 * Fires a timer pinned to this CPU and spins on it for a while, so the
 * softirq most likely interrupts the calling task (the probe then runs with
 * current == caller but not in task context). Returns -1 if the callback
 * ran in task context (cannot happen), else 1 if it interrupted the caller
 * itself, 0 if it ran while another task was current.
 */
static noinline __noclone long kpc_target_fire_timer(long arg)
{
	struct kpc_target_timer kt = { .arg = arg, .caller = current };
	unsigned long deadline = jiffies + msecs_to_jiffies(200);

	init_completion(&kt.done);
	timer_setup_on_stack(&kt.timer, kpc_target_timer_fn, TIMER_PINNED);
	mod_timer(&kt.timer, jiffies + 1);
	while (!completion_done(&kt.done) && time_before(jiffies, deadline))
		cpu_relax();
	wait_for_completion(&kt.done);
	timer_delete_sync(&kt.timer);
	timer_destroy_on_stack(&kt.timer);
	if (kt.result < 0)
		return -1;
	return kt.interrupted_caller;
}

/* The one caller of a, b and branch for CALL_*: callers show as "kpc_target_call+". */
static noinline __noclone long kpc_target_call(unsigned int cmd, struct kpc_target_call *call)
{	/* KPC:call_open */
	u32 times = call->times ? call->times : 1;	/* KPC:call_times */
	long r = 0;
	u32 i;

	switch (cmd) {
	case KPC_TARGET_CALL_A:
		for (i = 0; i < times; i++)
			r = kpc_target_a(call->arg);	/* KPC:call_a */
		break;
	case KPC_TARGET_CALL_B:
		for (i = 0; i < times; i++)
			r = kpc_target_b(call->arg);	/* KPC:call_b */
		break;
	case KPC_TARGET_CALL_BRANCH:
		for (i = 0; i < times; i++)
			r = kpc_target_branch(call->arg, NULL);	/* KPC:call_branch */
		break;
	case KPC_TARGET_CALL_SEQ:
		r = kpc_target_seq(call->arg);
		break;
	case KPC_TARGET_TIMER:
		r = kpc_target_fire_timer(call->arg);	/* KPC:call_timer */
		break;
	default:
		return -ENOTTY;
	}
	call->result = r;	/* KPC:call_result */
	return 0;
}

static long kpc_target_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{	/* KPC:ioctl_open */
	void __user *uarg = (void __user *)arg;
	struct kpc_target_info info = {};
	struct kpc_target_call call;
	long ret;
	int i;

	if (cmd == KPC_TARGET_GET_INFO) {
		kpc_target_branch(0, &info);	/* KPC:ioctl_info */
		for (i = 0; i < KPC_TABLE_LEN; i++)	/* KPC:ioctl_sum_loop */
			info.table_sum += kpc_table[i];	/* KPC:ioctl_sum */
		return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;	/* KPC:ioctl_info_ret */
	}
	if (copy_from_user(&call, uarg, sizeof(call)))	/* KPC:ioctl_copy_in */
		return -EFAULT;
	if (call.reserved)	/* KPC:ioctl_reserved */
		return -EINVAL;	/* KPC:ioctl_einval */
	ret = kpc_target_call(cmd, &call);	/* KPC:ioctl_call */
	if (ret)	/* KPC:ioctl_ret */
		return ret;
	/* Work after the calls keeps them from being tail calls. */
	if (copy_to_user(uarg, &call, sizeof(call)))	/* KPC:ioctl_copy_out */
		return -EFAULT;
	return 0;	/* KPC:ioctl_ok */
}

static const struct file_operations kpc_target_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = kpc_target_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice kpc_target_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = KPC_TARGET_NAME,
	.fops = &kpc_target_fops,
	.mode = 0600,
};

static int __init kpc_target_init(void)
{	/* KPC:init_open */
	u64 sum = kpc_target_fill_table(0x6b7063);

	WRITE_ONCE(kpc_sink, kpc_target_init_banner(sum));
	return misc_register(&kpc_target_dev);
}

static void __exit kpc_target_exit(void)
{
	misc_deregister(&kpc_target_dev);
	WRITE_ONCE(kpc_sink, kpc_target_drain_table());
}

module_init(kpc_target_init);
module_exit(kpc_target_exit);
MODULE_DESCRIPTION("kprobecov selftest target: functions to probe");
MODULE_LICENSE("GPL");
