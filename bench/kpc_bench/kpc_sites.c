// SPDX-License-Identifier: GPL-2.0
/*
 * kpc_sites: the probe sites of kprobecov's ADD/ARM/DISARM benchmark. The
 * functions themselves (kpcs_f00000 ...) live in the generated parts
 * kpc_sites_<m>.ko (gen-sites.sh), which register their tables here when
 * they load. The device (see kpc_bench_uapi.h) reports the code bytes at
 * given sites (KPCB_TEXT), and plants the reference probes: bare empty
 * kprobes managed one by one the way any module would (KPCS_REF_*), owned by
 * the fd (closing it unregisters them).
 */
#define pr_fmt(fmt) "kpc_sites: " fmt

#include <linux/fs.h>
#include <linux/kprobes.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>

#include "kpcb_common.h"
#include "kpc_sites.h"

#define KPCS_MAX_PARTS	64

struct kpcs_part {
	u32 first, count;	/* functions kpcs_f<first> .. */
	void *const *funcs;	/* NULL: free entry */
};

/* Protects kpcs_parts[]; held while a site's address is in use. */
static DEFINE_MUTEX(kpcs_parts_lock);
static struct kpcs_part kpcs_parts[KPCS_MAX_PARTS];

int kpcs_register_part(u32 first, u32 count, void *const *funcs)
{
	int i, ret = -ENOSPC;

	mutex_lock(&kpcs_parts_lock);
	for (i = 0; i < KPCS_MAX_PARTS; i++) {
		if (!kpcs_parts[i].funcs) {
			kpcs_parts[i] = (struct kpcs_part){ first, count, funcs };
			ret = 0;
			break;
		}
	}
	mutex_unlock(&kpcs_parts_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(kpcs_register_part);

void kpcs_unregister_part(void *const *funcs)
{
	int i;

	mutex_lock(&kpcs_parts_lock);
	for (i = 0; i < KPCS_MAX_PARTS; i++)
		if (kpcs_parts[i].funcs == funcs)
			kpcs_parts[i].funcs = NULL;
	mutex_unlock(&kpcs_parts_lock);
}
EXPORT_SYMBOL_GPL(kpcs_unregister_part);

/* Function i of all parts, or NULL. Caller holds kpcs_parts_lock. */
static void *kpcs_func_at_locked(u32 i)
{
	int p;

	for (p = 0; p < KPCS_MAX_PARTS; p++)
		if (kpcs_parts[p].funcs && i >= kpcs_parts[p].first &&
		    i - kpcs_parts[p].first < kpcs_parts[p].count)
			return kpcs_parts[p].funcs[i - kpcs_parts[p].first];
	return NULL;
}

/* Functions in all parts loaded now. Caller holds kpcs_parts_lock. */
static u32 kpcs_nr_funcs_locked(void)
{
	u32 n = 0;
	int p;

	for (p = 0; p < KPCS_MAX_PARTS; p++)
		if (kpcs_parts[p].funcs)
			n += kpcs_parts[p].count;
	return n;
}

/* Per open file: the reference probes, registered by KPCS_REF_ADD. */
struct kpcs_file {
	struct mutex lock;	/* protects the rest */
	struct kprobe *kps;	/* [nr], NULL: none registered */
	struct kprobe **ptrs;	/* [nr], for unregister_kprobes */
	u32 nr;
};

static int kpcs_empty_pre(struct kprobe *kp, struct pt_regs *regs)
{
	return 0;
}

static void kpcs_ref_free_locked(struct kpcs_file *kf)
{
	if (kf->kps)
		unregister_kprobes(kf->ptrs, kf->nr);
	kvfree(kf->kps);
	kvfree(kf->ptrs);
	kf->kps = NULL;
	kf->ptrs = NULL;
	kf->nr = 0;
}

static long kpcs_ref_add(struct kpcs_file *kf, void __user *uarg)
{
	struct kpcb_site __user *usites;
	struct kpcs_ref_add req;
	struct kpcb_site site;
	struct kprobe *kps;
	struct kprobe **ptrs;
	long ret = 0;
	u32 i;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	if (req.reserved || !req.count || req.count > U32_MAX)
		return -EINVAL;
	kps = kvcalloc(req.count, sizeof(*kps), GFP_KERNEL);
	ptrs = kvcalloc(req.count, sizeof(*ptrs), GFP_KERNEL);
	if (!kps || !ptrs) {
		ret = -ENOMEM;
		goto out_free;
	}

	mutex_lock(&kf->lock);
	mutex_lock(&kpcs_parts_lock);
	if (kf->kps) {
		ret = -EBUSY;
		goto out_unlock;
	}
	usites = u64_to_user_ptr(req.sites);
	for (i = 0; i < req.count; i++) {
		void *func;

		if (copy_from_user(&site, &usites[i], sizeof(site))) {
			ret = -EFAULT;
			goto out_unlock;
		}
		func = kpcs_func_at_locked(site.func);
		if (!func || site.offset >= KPCB_MAX_SITE_OFFSET) {
			ret = func ? -EINVAL : -ENOENT;
			req.failed_index = i;
			goto out_report;
		}
		kps[i].addr = (kprobe_opcode_t *)((u8 *)func + site.offset);
		kps[i].pre_handler = kpcs_empty_pre;
		kps[i].flags = KPROBE_FLAG_DISABLED;
		ptrs[i] = &kps[i];
	}
	for (i = 0; i < req.count; i++) {
		ret = register_kprobe(&kps[i]);
		if (ret) {
			if (i)
				unregister_kprobes(ptrs, i);
			req.failed_index = i;
			goto out_report;
		}
		if (!(i & 63))
			cond_resched();
	}
	kf->kps = kps;
	kf->ptrs = ptrs;
	kf->nr = req.count;
	mutex_unlock(&kpcs_parts_lock);
	mutex_unlock(&kf->lock);
	return 0;

out_report:
	if (copy_to_user(uarg, &req, sizeof(req)))
		ret = -EFAULT;
out_unlock:
	mutex_unlock(&kpcs_parts_lock);
	mutex_unlock(&kf->lock);
out_free:
	kvfree(kps);
	kvfree(ptrs);
	return ret;
}

static long kpcs_ref_op(struct kpcs_file *kf, unsigned int cmd)
{
	long ret = 0;
	u32 i;

	mutex_lock(&kf->lock);
	if (!kf->kps) {
		ret = -ENOENT;
		goto out;
	}
	if (cmd == KPCS_REF_DEL) {
		kpcs_ref_free_locked(kf);
		goto out;
	}
	for (i = 0; i < kf->nr && !ret; i++) {
		ret = cmd == KPCS_REF_ARM ? enable_kprobe(&kf->kps[i]) :
					    disable_kprobe(&kf->kps[i]);
		if (!(i & 63))
			cond_resched();
	}
out:
	mutex_unlock(&kf->lock);
	return ret;
}

static long kpcs_text(void __user *uarg)
{
	long ret;

	mutex_lock(&kpcs_parts_lock);
	ret = kpcb_text(uarg, kpcs_func_at_locked, kpcs_nr_funcs_locked());
	mutex_unlock(&kpcs_parts_lock);
	return ret;
}

static long kpcs_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kpcs_file *kf = file->private_data;

	switch (cmd) {
	case KPCB_TEXT:
		return kpcs_text((void __user *)arg);
	case KPCS_REF_ADD:
		return kpcs_ref_add(kf, (void __user *)arg);
	case KPCS_REF_ARM:
	case KPCS_REF_DISARM:
	case KPCS_REF_DEL:
		return kpcs_ref_op(kf, cmd);
	default:
		return -ENOTTY;
	}
}

static int kpcs_open(struct inode *inode, struct file *file)
{
	struct kpcs_file *kf = kzalloc(sizeof(*kf), GFP_KERNEL);

	if (!kf)
		return -ENOMEM;
	mutex_init(&kf->lock);
	file->private_data = kf;
	return nonseekable_open(inode, file);
}

static int kpcs_release(struct inode *inode, struct file *file)
{
	struct kpcs_file *kf = file->private_data;

	kpcs_ref_free_locked(kf);	/* last reference: no lock needed */
	kfree(kf);
	return 0;
}

static const struct file_operations kpcs_fops = {
	.owner		= THIS_MODULE,
	.open		= kpcs_open,
	.release	= kpcs_release,
	.unlocked_ioctl	= kpcs_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= no_llseek,
};

static struct miscdevice kpcs_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "kpc_sites",
	.fops	= &kpcs_fops,
	.mode	= 0600,
};

module_misc_device(kpcs_misc);

MODULE_DESCRIPTION("kprobecov benchmark: probe sites and reference kprobes");
MODULE_LICENSE("GPL");
