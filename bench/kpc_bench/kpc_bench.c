// SPDX-License-Identifier: GPL-2.0
/*
 * kpc_bench: the probed loop of the kprobecov handler benchmark, and the
 * reference probe it is compared with (an empty kprobe). See
 * kpc_bench_uapi.h for the ABI and bench/kpcbench.c for its one user.
 */
#define pr_fmt(fmt) "kpc_bench: " fmt

#include <linux/fs.h>
#include <linux/kprobes.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>

#include "kpcb_common.h"

/*
 * Target n and the loop that calls it. Targets differ only in a constant:
 * they have the same code (and the same line offsets), and the constant
 * keeps identical-code folding from merging them. The loop runs in process
 * context, the caller's, with preemption enabled.
 */
#define KPCB_TARGET(n)							\
static kpcb_probed u64 kpcb_target_##n(u64 x)				\
{									\
	x ^= x >> 29;							\
	x *= 0xbf58476d1ce4e5b9ULL;					\
	x ^= x >> 32;							\
	return x + (n);							\
}									\
static noinline u64 kpcb_loop_##n(u64 iterations)			\
{									\
	u64 i, sum = 0;							\
									\
	for (i = 0; i < iterations; i++) {				\
		sum += kpcb_target_##n(i);				\
		if (!(i & 1023))					\
			cond_resched();					\
	}								\
	return sum;							\
}

KPCB_TARGET(0)  KPCB_TARGET(1)  KPCB_TARGET(2)  KPCB_TARGET(3)
KPCB_TARGET(4)  KPCB_TARGET(5)  KPCB_TARGET(6)  KPCB_TARGET(7)
KPCB_TARGET(8)  KPCB_TARGET(9)  KPCB_TARGET(10) KPCB_TARGET(11)
KPCB_TARGET(12) KPCB_TARGET(13) KPCB_TARGET(14) KPCB_TARGET(15)
KPCB_TARGET(16) KPCB_TARGET(17) KPCB_TARGET(18) KPCB_TARGET(19)
KPCB_TARGET(20) KPCB_TARGET(21) KPCB_TARGET(22) KPCB_TARGET(23)

#define KPCB_ENTRY(n)	[n] = kpcb_target_##n
static void *const kpcb_targets[KPCB_NR_TARGETS] = {
	KPCB_ENTRY(0),  KPCB_ENTRY(1),  KPCB_ENTRY(2),  KPCB_ENTRY(3),
	KPCB_ENTRY(4),  KPCB_ENTRY(5),  KPCB_ENTRY(6),  KPCB_ENTRY(7),
	KPCB_ENTRY(8),  KPCB_ENTRY(9),  KPCB_ENTRY(10), KPCB_ENTRY(11),
	KPCB_ENTRY(12), KPCB_ENTRY(13), KPCB_ENTRY(14), KPCB_ENTRY(15),
	KPCB_ENTRY(16), KPCB_ENTRY(17), KPCB_ENTRY(18), KPCB_ENTRY(19),
	KPCB_ENTRY(20), KPCB_ENTRY(21), KPCB_ENTRY(22), KPCB_ENTRY(23),
};
#undef KPCB_ENTRY

#define KPCB_ENTRY(n)	[n] = kpcb_loop_##n
static u64 (*const kpcb_loops[KPCB_NR_TARGETS])(u64) = {
	KPCB_ENTRY(0),  KPCB_ENTRY(1),  KPCB_ENTRY(2),  KPCB_ENTRY(3),
	KPCB_ENTRY(4),  KPCB_ENTRY(5),  KPCB_ENTRY(6),  KPCB_ENTRY(7),
	KPCB_ENTRY(8),  KPCB_ENTRY(9),  KPCB_ENTRY(10), KPCB_ENTRY(11),
	KPCB_ENTRY(12), KPCB_ENTRY(13), KPCB_ENTRY(14), KPCB_ENTRY(15),
	KPCB_ENTRY(16), KPCB_ENTRY(17), KPCB_ENTRY(18), KPCB_ENTRY(19),
	KPCB_ENTRY(20), KPCB_ENTRY(21), KPCB_ENTRY(22), KPCB_ENTRY(23),
};
#undef KPCB_ENTRY

/* Per open file: the empty kprobes it planted, unregistered at close. */
struct kpcb_file {
	struct mutex lock;			/* protects empty[] */
	struct kprobe *empty[KPCB_MAX_EMPTY];	/* NULL: free id */
};

/* The reference handler: as little as a kprobe handler can do. */
static int kpcb_empty_pre(struct kprobe *kp, struct pt_regs *regs)
{
	return 0;
}

static void *kpcb_target_at(u32 i)
{
	return kpcb_targets[i];
}

static long kpcb_loop(void __user *uarg)
{
	struct kpcb_loop loop;
	u64 start;

	if (copy_from_user(&loop, uarg, sizeof(loop)))
		return -EFAULT;
	if (loop.target >= KPCB_NR_TARGETS || !loop.iterations)
		return -EINVAL;
	start = ktime_get_ns();
	loop.sink = kpcb_loops[loop.target](loop.iterations);
	loop.elapsed_ns = ktime_get_ns() - start;
	if (copy_to_user(uarg, &loop, sizeof(loop)))
		return -EFAULT;
	return 0;
}

static long kpcb_empty_add(struct kpcb_file *kf, void __user *uarg)
{
	struct kpcb_empty req;
	struct kprobe *kp;
	int id, ret;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	if (req.reserved || req.target >= KPCB_NR_TARGETS ||
	    req.offset >= KPCB_MAX_SITE_OFFSET)
		return -EINVAL;
	kp = kzalloc(sizeof(*kp), GFP_KERNEL);
	if (!kp)
		return -ENOMEM;
	kp->addr = (kprobe_opcode_t *)((u8 *)kpcb_targets[req.target] + req.offset);
	kp->pre_handler = kpcb_empty_pre;

	mutex_lock(&kf->lock);
	for (id = 0; id < KPCB_MAX_EMPTY && kf->empty[id]; id++)
		;
	if (id == KPCB_MAX_EMPTY) {
		ret = -ENOSPC;
		goto out_free;
	}
	ret = register_kprobe(kp);
	if (ret)
		goto out_free;
	kf->empty[id] = kp;
	mutex_unlock(&kf->lock);

	req.id = id;
	if (copy_to_user(uarg, &req, sizeof(req)))
		return -EFAULT;	/* stays planted until DEL or close */
	return 0;

out_free:
	mutex_unlock(&kf->lock);
	kfree(kp);
	return ret;
}

static long kpcb_empty_del(struct kpcb_file *kf, void __user *uarg)
{
	struct kprobe *kp;
	u64 id;

	if (copy_from_user(&id, uarg, sizeof(id)))
		return -EFAULT;
	if (id >= KPCB_MAX_EMPTY)
		return -EINVAL;
	mutex_lock(&kf->lock);
	kp = kf->empty[id];
	kf->empty[id] = NULL;
	mutex_unlock(&kf->lock);
	if (!kp)
		return -ENOENT;
	unregister_kprobe(kp);
	kfree(kp);
	return 0;
}

static long kpcb_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kpcb_file *kf = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case KPCB_LOOP:
		return kpcb_loop(uarg);
	case KPCB_EMPTY_ADD:
		return kpcb_empty_add(kf, uarg);
	case KPCB_EMPTY_DEL:
		return kpcb_empty_del(kf, uarg);
	case KPCB_TEXT:
		return kpcb_text(uarg, kpcb_target_at, KPCB_NR_TARGETS);
	default:
		return -ENOTTY;
	}
}

static int kpcb_open(struct inode *inode, struct file *file)
{
	struct kpcb_file *kf;

	kf = kzalloc(sizeof(*kf), GFP_KERNEL);
	if (!kf)
		return -ENOMEM;
	mutex_init(&kf->lock);
	file->private_data = kf;
	return nonseekable_open(inode, file);
}

static int kpcb_release(struct inode *inode, struct file *file)
{
	struct kpcb_file *kf = file->private_data;
	struct kprobe *kps[KPCB_MAX_EMPTY];
	int i, n = 0;

	for (i = 0; i < KPCB_MAX_EMPTY; i++)
		if (kf->empty[i])
			kps[n++] = kf->empty[i];
	if (n)
		unregister_kprobes(kps, n);
	for (i = 0; i < n; i++)
		kfree(kps[i]);
	kfree(kf);
	return 0;
}

static const struct file_operations kpcb_fops = {
	.owner		= THIS_MODULE,
	.open		= kpcb_open,
	.release	= kpcb_release,
	.unlocked_ioctl	= kpcb_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= no_llseek,
};

static struct miscdevice kpcb_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "kpc_bench",
	.fops	= &kpcb_fops,
	.mode	= 0600,
};

module_misc_device(kpcb_misc);

MODULE_DESCRIPTION("kprobecov benchmark: probed loop and empty reference kprobe");
MODULE_LICENSE("GPL");
