// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/kprobecov: the misc device, its ioctls, the mmap'd counter area and
 * poll(). One open file descriptor is one collector (see kprobecov.h for
 * its state machine and include/uapi/linux/kprobecov.h for the ABI).
 */
#define pr_fmt(fmt) "kprobecov: " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/percpu.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "kprobecov.h"

unsigned long kpc_max_probes = 1UL << 20;
module_param_named(max_probes, kpc_max_probes, ulong, 0444);
MODULE_PARM_DESC(max_probes, "Largest probe table a collector may ask for");

unsigned int kpc_max_slots = 4096;
module_param_named(max_slots, kpc_max_slots, uint, 0444);
MODULE_PARM_DESC(max_slots, "Largest number of slots a collector may ask for");

unsigned int kpc_max_area_mb = 1024;
module_param_named(max_area_mb, kpc_max_area_mb, uint, 0444);
MODULE_PARM_DESC(max_area_mb, "Largest counter area of one collector, in MiB");

unsigned int kpc_max_tasks = 65536;
module_param_named(max_tasks, kpc_max_tasks, uint, 0444);
MODULE_PARM_DESC(max_tasks, "Pids attached to one collector, inherited ones included");

unsigned int kpc_max_callers = 16;
module_param_named(max_callers, kpc_max_callers, uint, 0444);
MODULE_PARM_DESC(max_callers, "Distinct callers recorded per function probe (0: none)");

/*
 * Kernel memory budgets. A collector costs, from INIT to close, its counter area, its
 * slot table and room for max_probes probes (kpc_cost); that is charged to the whole
 * machine and to the opener's user (real uid), and INIT fails naming the budget that
 * would be exceeded. The tables and probes are also charged to the caller's memory
 * cgroup (GFP_KERNEL_ACCOUNT); the area cannot be (vmalloc_user takes no gfp flags, and
 * the allocator that does is not exported to modules on 6.1), so the budgets bound it.
 */
static unsigned int kpc_max_total_mb = 4096;
module_param_named(max_total_mb, kpc_max_total_mb, uint, 0444);
MODULE_PARM_DESC(max_total_mb, "Kernel memory all collectors together may take, in MiB");

static unsigned int kpc_max_user_mb = 2048;
module_param_named(max_user_mb, kpc_max_user_mb, uint, 0444);
MODULE_PARM_DESC(max_user_mb, "Kernel memory the collectors of one user may take, in MiB");

static DEFINE_SPINLOCK(kpc_budget_lock);
static LIST_HEAD(kpc_budget);	/* charged collectors, under kpc_budget_lock */

static ushort kpc_dev_mode = 0600;
module_param_named(dev_mode, kpc_dev_mode, ushort, 0444);
MODULE_PARM_DESC(dev_mode, "Permissions of /dev/kprobecov (default 0600: root only)");

static bool kpc_delegate_probes;
module_param_named(delegate_probes, kpc_delegate_probes, bool, 0444);
MODULE_PARM_DESC(delegate_probes,
		 "Let whoever can open /dev/kprobecov plant probes without CAP_PERFMON (default off)");

DEFINE_MUTEX(kpc_mutex);
LIST_HEAD(kpc_collectors);
atomic_t kpc_total_entries = ATOMIC_INIT(0);
atomic_t kpc_tree_entries = ATOMIC_INIT(0);
atomic64_t kpc_gen = ATOMIC64_INIT(0);

void kpc_gen_bump(void)
{
	smp_mb__before_atomic();	/* pairs with kpc_attribute's acquire */
	atomic64_inc(&kpc_gen);
}

/*
 * Privilege is decided on the opener's credentials (file->f_cred), as perf
 * and kallsyms do: an fd handed to another process keeps what its opener
 * could do, and a process that drops a capability after open keeps it for
 * that fd.
 *
 * Planting probes (ADD_PROBES, ARM, DISARM: kprobes, ftrace callbacks, text
 * patched with IPIs to every CPU) needs what perf asks of kprobe users,
 * CAP_PERFMON or CAP_SYS_ADMIN, unless the administrator delegated it to
 * whoever may open the device (delegate_probes=1).
 */
static bool kpc_may_plant(const struct kpc_collector *c)
{
	return kpc_delegate_probes || file_ns_capable(c->file, &init_user_ns, CAP_PERFMON) ||
	       file_ns_capable(c->file, &init_user_ns, CAP_SYS_ADMIN);
}

/*
 * Kernel addresses in or out (a probe's address, callers' return addresses)
 * follow kallsyms' rule (kallsyms_show_value, not exported): CAP_SYSLOG on
 * the opener's credentials, and kptr_restrict honoured. kptr_restrict is not
 * exported either, so %pK itself is asked: it prints a non-NULL pointer as
 * zeros exactly when kptr_restrict hides pointers from this context (2:
 * always; 1: a caller without CAP_SYSLOG or with set-id credentials).
 * Stricter than kallsyms in one case: kptr_restrict 0 with
 * perf_event_paranoid <= 1 shows kallsyms to everyone, not these addresses.
 */
static bool kpc_may_see_addresses(const struct kpc_collector *c)
{
	char buf[2 * sizeof(void *) + 1];

	if (!file_ns_capable(c->file, &init_user_ns, CAP_SYSLOG))
		return false;
	snprintf(buf, sizeof(buf), "%pK", (void *)kpc_may_see_addresses);
	return buf[strspn(buf, "0")] != '\0';
}

static void kpc_poll_wake(struct irq_work *work)
{
	struct kpc_collector *c = container_of(work, struct kpc_collector, poll_work);

	wake_up_interruptible_all(&c->poll_wq);
}

/* What a collector of these sizes costs the kernel, in bytes (see the budgets above). */
static u64 kpc_cost(const struct kprobecov_init *in, size_t area_bytes)
{
	return area_bytes + in->max_slots * sizeof(struct kpc_slot) +
	       in->max_probes * (sizeof(struct kpc_probe) + sizeof(struct kpc_probe *));
}

/*
 * Charges cost to the budgets, or fails: EDQUOT when the opener's user would exceed
 * max_user_mb, ENOSPC when all collectors would exceed max_total_mb. The sums walk the
 * charged collectors (a handful; INIT is rare).
 */
static int kpc_charge(struct kpc_collector *c, u64 cost)
{
	kuid_t uid = c->file->f_cred->uid;
	const struct kpc_collector *o;
	u64 total = cost, user = cost;
	int ret = 0;

	spin_lock(&kpc_budget_lock);
	list_for_each_entry(o, &kpc_budget, budget_node) {
		total += o->charged;
		if (uid_eq(o->file->f_cred->uid, uid))
			user += o->charged;
	}
	if (user > (u64)kpc_max_user_mb << 20) {
		ret = -EDQUOT;
	} else if (total > (u64)kpc_max_total_mb << 20) {
		ret = -ENOSPC;
	} else {
		c->charged = cost;
		list_add_tail(&c->budget_node, &kpc_budget);
	}
	spin_unlock(&kpc_budget_lock);
	return ret;
}

static void kpc_uncharge(struct kpc_collector *c)
{
	if (!c->charged)
		return;
	spin_lock(&kpc_budget_lock);
	list_del(&c->budget_node);
	spin_unlock(&kpc_budget_lock);
	c->charged = 0;
}

static int kpc_open(struct inode *inode, struct file *file)
{
	struct kpc_collector *c = kzalloc(sizeof(*c), GFP_KERNEL_ACCOUNT);

	if (!c)
		return -ENOMEM;
	mutex_init(&c->mutex);
	spin_lock_init(&c->tlock);
	INIT_LIST_HEAD(&c->node);
	INIT_LIST_HEAD(&c->budget_node);
	init_waitqueue_head(&c->poll_wq);
	init_irq_work(&c->poll_work, kpc_poll_wake);
	kpc_ftrace_init(c);
	c->file = file;
	file->private_data = c;
	return nonseekable_open(inode, file);
}

/* Frees an initialised collector no probe handler or callback can reach any more. */
static void kpc_free_collector(struct kpc_collector *c)
{
	kpc_ftrace_free(c);
	kpc_free_probes(c);
	kvfree(c->slots);
	free_percpu(c->cache);
	vfree(c->area);
	kfree(c);
}

/*
 * Closed collectors whose ftrace_ops ftrace would not unregister (it refuses when it
 * has disabled itself after an error of its own): their callback may still run, on
 * their memory and on this module's text. They are kept, each with a reference on
 * the module, on kpc_leaked (through node, under kpc_mutex), and unregistered again
 * at every later close; one that goes is freed then.
 */
static LIST_HEAD(kpc_leaked);

static void kpc_keep_leaked(struct kpc_collector *c)
{
	pr_warn_once("could not unregister the ftrace_ops of a closed collector: its %zu bytes stay allocated, and kprobecov loaded, until it can be\n",
		     c->area_bytes);
	__module_get(THIS_MODULE);
	mutex_lock(&kpc_mutex);
	list_add(&c->node, &kpc_leaked);
	mutex_unlock(&kpc_mutex);
}

static void kpc_reap_leaked(void)
{
	struct kpc_collector *c, *tmp;
	LIST_HEAD(gone);

	mutex_lock(&kpc_mutex);
	list_for_each_entry_safe(c, tmp, &kpc_leaked, node) {
		if (unregister_ftrace_function(&c->fops))
			continue;
		c->fops_registered = false;
		list_move(&c->node, &gone);
	}
	mutex_unlock(&kpc_mutex);
	list_for_each_entry_safe(c, tmp, &gone, node) {
		kpc_free_collector(c);
		module_put(THIS_MODULE);
	}
}

static int kpc_release(struct inode *inode, struct file *file)
{
	struct kpc_collector *c = file->private_data;

	kpc_reap_leaked();
	kpc_uncharge(c);
	if (!c->area) {
		kfree(c);
		return 0;
	}
	kpc_retire(c);
	kpc_detach_all(c);
	synchronize_rcu();	/* fork/exit hooks walking kpc_collectors */
	irq_work_sync(&c->poll_work);
	if (c->fops_registered)
		kpc_keep_leaked(c);	/* counts nothing: nothing is attached or planted */
	else
		kpc_free_collector(c);
	return 0;
}

/* Byte offsets of the area's regions, each 64-byte aligned. */
struct kpc_layout {
	size_t hit_bitmap, counters, slots, edges, edge_bitmap, trace, total;
};

static int kpc_layout(const struct kprobecov_init *in, struct kpc_layout *l)
{
	size_t size, at = ALIGN(sizeof(struct kprobecov_area_header), 64);

#define KPC_REGION(field, bytes) do {					\
		l->field = at;						\
		if (check_add_overflow(at, (size_t)(bytes), &at))	\
			return -E2BIG;					\
		at = ALIGN(at, 64);					\
	} while (0)

	KPC_REGION(hit_bitmap, BITS_TO_LONGS(in->max_probes) * sizeof(long));
	if (check_mul_overflow((size_t)in->max_probes, (size_t)in->max_slots * sizeof(u64), &size))
		return -E2BIG;
	KPC_REGION(counters, size);
	KPC_REGION(slots, in->max_slots * sizeof(struct kprobecov_slot_stats));
	if (check_mul_overflow((size_t)in->max_slots, sizeof(u32) << in->edge_bits, &size))
		return -E2BIG;
	KPC_REGION(edges, in->edge_bits ? size : 0);
	KPC_REGION(edge_bitmap, in->edge_bits ? BITS_TO_LONGS(1UL << in->edge_bits) * sizeof(long) : 0);
	if (in->trace_entries >= SIZE_MAX / sizeof(u64))
		return -E2BIG;
	size = (in->trace_entries + 1) * sizeof(u64);
	KPC_REGION(trace, in->trace_entries ? size : 0);
#undef KPC_REGION
	l->total = PAGE_ALIGN(at);
	if (l->total < at || l->total > (size_t)kpc_max_area_mb << 20)
		return -E2BIG;
	return 0;
}

static int kpc_init(struct kpc_collector *c, struct kprobecov_init *in)
{
	struct kprobecov_area_header *hdr;
	struct kpc_layout l;
	void *area;
	u32 i;
	int ret;

	if (c->area)
		return -EBUSY;
	if (!in->max_probes || in->max_probes > kpc_max_probes || !in->max_slots ||
	    in->max_slots > kpc_max_slots || in->edge_bits > KPROBECOV_MAX_EDGE_BITS ||
	    (in->flags & ~KPROBECOV_INIT_CALLERS) || in->reserved[0] || in->reserved[1])
		return -EINVAL;
	ret = kpc_layout(in, &l);
	if (ret)
		return ret;
	ret = kpc_charge(c, kpc_cost(in, l.total));
	if (ret)
		return ret;

	c->probes = kvcalloc(in->max_probes, sizeof(*c->probes), GFP_KERNEL_ACCOUNT);
	c->slots = kvcalloc(in->max_slots, sizeof(*c->slots), GFP_KERNEL_ACCOUNT);
	c->targets = kvcalloc(1, sizeof(*c->targets), GFP_KERNEL);
	c->cache = alloc_percpu(struct kpc_cpu_cache);	/* zeroed: task NULL, never valid */
	area = vmalloc_user(l.total);	/* zeroed */
	if (!c->probes || !c->slots || !c->targets || !c->cache || !area) {
		kvfree(c->probes);
		kvfree(c->slots);
		kvfree(c->targets);
		free_percpu(c->cache);
		vfree(area);
		c->probes = NULL;
		c->slots = NULL;
		c->targets = NULL;
		c->cache = NULL;
		kpc_uncharge(c);
		return -ENOMEM;
	}

	c->max_probes = in->max_probes;
	c->max_slots = in->max_slots;
	c->edge_bits = in->edge_bits;
	c->trace_entries = in->trace_entries;
	c->max_callers = in->flags & KPROBECOV_INIT_CALLERS ? kpc_max_callers : 0;
	c->area_bytes = l.total;
	c->nr_targets = c->targets_cap = 1;	/* KPC_TARGET_VMLINUX needs no name */

	hdr = area;
	hdr->magic = KPROBECOV_AREA_MAGIC;
	hdr->abi = KPROBECOV_ABI_VERSION;
	hdr->max_probes = c->max_probes;
	hdr->max_slots = c->max_slots;
	hdr->edge_bits = c->edge_bits;
	hdr->trace_entries = c->trace_entries;
	hdr->hit_bitmap_offset = l.hit_bitmap;
	hdr->counters_offset = l.counters;
	hdr->slots_offset = l.slots;
	hdr->edges_offset = c->edge_bits ? l.edges : 0;
	hdr->edge_bitmap_offset = c->edge_bits ? l.edge_bitmap : 0;
	hdr->trace_offset = c->trace_entries ? l.trace : 0;
	c->hdr = hdr;
	c->hit_bitmap = area + l.hit_bitmap;
	c->edge_bitmap = c->edge_bits ? area + l.edge_bitmap : NULL;
	c->trace = c->trace_entries ? area + l.trace : NULL;
	for (i = 0; i < c->max_slots; i++) {
		struct kpc_slot *s = &c->slots[i];

		s->index = i;
		INIT_LIST_HEAD(&s->entries);
		s->counters = area + l.counters + (size_t)i * c->max_probes * sizeof(u64);
		s->stats = area + l.slots + (size_t)i * sizeof(*s->stats);
		s->edges = c->edge_bits ?
			area + l.edges + ((size_t)i * sizeof(u32) << c->edge_bits) : NULL;
	}

	mutex_lock(&kpc_mutex);
	list_add_tail_rcu(&c->node, &kpc_collectors);
	mutex_unlock(&kpc_mutex);
	/* mmap reads c->area without the mutex: publish it last. */
	smp_store_release(&c->area, area);
	in->area_bytes = l.total;
	return 0;
}

static int kpc_ioctl_add(struct kpc_collector *c, struct kprobecov_add_probes *a)
{
	struct kprobecov_probe __user *uspecs = u64_to_user_ptr(a->probes);
	struct kprobecov_probe *specs;
	u64 i;
	int ret;

	if (a->flags || a->reserved || !a->count)
		return -EINVAL;
	if (a->count > KPROBECOV_MAX_BATCH)
		return -E2BIG;
	if (!kpc_may_plant(c))
		return -EPERM;
	specs = vmemdup_user(uspecs, a->count * sizeof(*specs));
	if (IS_ERR(specs))
		return PTR_ERR(specs);
	/* An address answered by success or EADDRNOTAVAIL would reveal KASLR's offset. */
	for (i = 0; i < a->count && !specs[i].address; i++)
		;
	if (i < a->count && !kpc_may_see_addresses(c)) {
		kvfree(specs);
		return -EPERM;
	}
	ret = kpc_add_probes(c, specs, a->count, a);
	if (!ret && copy_to_user(uspecs, specs, a->count * sizeof(*specs)))
		ret = -EFAULT;	/* the probes were added: the status query still works */
	kvfree(specs);
	return ret;
}

static int kpc_ioctl_status(struct kpc_collector *c, struct kprobecov_status_query *q)
{
	struct kprobecov_probe_status *st;
	u64 i;
	int ret = 0;

	if (q->reserved || q->first > c->nr_probes || q->count > c->nr_probes - q->first)
		return -EINVAL;
	if (!q->count)
		return 0;
	st = kvmalloc_array(q->count, sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	mutex_lock(&kpc_mutex);
	for (i = 0; i < q->count; i++) {
		struct kpc_probe *p = c->probes[q->first + i];

		st[i].state = kpc_probe_state(c, p);
		st[i].error = p->error;
	}
	mutex_unlock(&kpc_mutex);
	if (copy_to_user(u64_to_user_ptr(q->status), st, q->count * sizeof(*st)))
		ret = -EFAULT;
	kvfree(st);
	return ret;
}

#define KPC_KIND_MASK (((1ULL << (KPROBECOV_KIND_MAX + 1)) - 1) & ~1ULL)

static int kpc_ioctl_next_unhit(struct kpc_collector *c, struct kprobecov_next_unhit *q)
{
	u64 kinds = q->kinds ?: KPC_KIND_MASK, skip = q->skip, i;

	if ((q->kinds & ~KPC_KIND_MASK) || q->reserved)
		return -EINVAL;
	mutex_lock(&kpc_mutex);	/* registered/pending change under it */
	for (i = q->from; i < c->nr_probes; i++) {
		struct kpc_probe *p = c->probes[i];

		if (!(kinds & (1ULL << p->kind)) || test_bit(i, c->hit_bitmap) ||
		    (!p->registered && !p->pending))
			continue;
		if (!skip--)
			break;
	}
	mutex_unlock(&kpc_mutex);
	if (i >= c->nr_probes)
		return -ENOENT;
	q->index = i;
	return 0;
}

static int kpc_ioctl_callers(struct kpc_collector *c, struct kprobecov_callers *q)
{
	struct kprobecov_caller *out;
	struct kpc_probe *p;
	bool show = kpc_may_see_addresses(c);
	u64 n = 0, i;
	int ret = 0;

	if (q->reserved || q->probe >= c->nr_probes)
		return -EINVAL;
	p = c->probes[q->probe];
	if (p->kind != KPROBECOV_KIND_FUNC)
		return -EINVAL;
	if (!p->callers)
		return -ENODATA;
	out = kcalloc(c->max_callers ?: 1, sizeof(*out), GFP_KERNEL);
	if (!out)
		return -ENOMEM;
	for (i = 0; p->callers && i < c->max_callers; i++) {
		unsigned long addr = READ_ONCE(p->callers[i].addr);

		if (!addr)
			continue;
		out[n].address = show ? addr : 0;
		out[n].calls = READ_ONCE(p->callers[i].calls);
		snprintf(out[n].symbol, sizeof(out[n].symbol), "%pB", (void *)addr);
		if (!show && !strncmp(out[n].symbol, "0x", 2))
			strscpy(out[n].symbol, "?", sizeof(out[n].symbol));	/* no symbol: hide */
		n++;
	}
	q->count = n;
	q->overflow = READ_ONCE(p->caller_overflow);
	if (copy_to_user(u64_to_user_ptr(q->callers), out, min(n, q->capacity) * sizeof(*out)))
		ret = -EFAULT;
	kfree(out);
	return ret;
}

/* Every command's argument struct, copied in whole and out whole. */
union kpc_arg {
	struct kprobecov_version version;
	struct kprobecov_init init;
	struct kprobecov_add_probes add;
	struct kprobecov_select select;
	struct kprobecov_attach attach;
	struct kprobecov_slot_op slot_op;
	struct kprobecov_status_query status;
	struct kprobecov_next_unhit next_unhit;
	struct kprobecov_callers callers;
	struct kprobecov_trace trace;
};

static long kpc_ioctl_locked(struct kpc_collector *c, unsigned int cmd, union kpc_arg *arg)
{
	if (cmd == KPROBECOV_GET_VERSION) {
		memset(&arg->version, 0, sizeof(arg->version));
		arg->version.abi = KPROBECOV_ABI_VERSION;
		arg->version.max_probes = kpc_max_probes;
		arg->version.max_slots = kpc_max_slots;
		arg->version.max_area_bytes = (u64)kpc_max_area_mb << 20;
		arg->version.max_tasks = kpc_max_tasks;
		arg->version.max_callers = kpc_max_callers;
		return 0;
	}
	if (cmd == KPROBECOV_INIT)
		return kpc_init(c, &arg->init);
	if (!c->area)
		return -EBADFD;

	switch (cmd) {
	case KPROBECOV_ADD_PROBES:
		return kpc_ioctl_add(c, &arg->add);
	case KPROBECOV_ARM:
	case KPROBECOV_DISARM:
		if (arg->select.reserved)
			return -EINVAL;
		if (!kpc_may_plant(c))
			return -EPERM;
		return kpc_select(c, &arg->select, cmd == KPROBECOV_ARM, &arg->select.changed);
	case KPROBECOV_ATTACH:
		return kpc_attach(c, &arg->attach);
	case KPROBECOV_DETACH:
	case KPROBECOV_RESET:
	case KPROBECOV_RELEASE:
		if (arg->slot_op.flags)
			return -EINVAL;
		if (cmd == KPROBECOV_DETACH)
			return kpc_detach(c, arg->slot_op.slot);
		if (cmd == KPROBECOV_RESET)
			return kpc_reset(c, arg->slot_op.slot);
		return kpc_release_slot(c, arg->slot_op.slot);
	case KPROBECOV_GET_PROBE_STATUS:
		return kpc_ioctl_status(c, &arg->status);
	case KPROBECOV_NEXT_UNHIT:
		return kpc_ioctl_next_unhit(c, &arg->next_unhit);
	case KPROBECOV_GET_CALLERS:
		return kpc_ioctl_callers(c, &arg->callers);
	case KPROBECOV_TRACE_START:
		return kpc_trace_start(c, &arg->trace);
	case KPROBECOV_TRACE_STOP:
		return kpc_trace_stop(c);
	}
	return -ENOTTY;
}

static bool kpc_known_cmd(unsigned int cmd)
{
	switch (cmd) {
	case KPROBECOV_GET_VERSION: case KPROBECOV_INIT: case KPROBECOV_ADD_PROBES:
	case KPROBECOV_ARM: case KPROBECOV_DISARM: case KPROBECOV_ATTACH:
	case KPROBECOV_DETACH: case KPROBECOV_RESET: case KPROBECOV_RELEASE:
	case KPROBECOV_GET_PROBE_STATUS: case KPROBECOV_NEXT_UNHIT:
	case KPROBECOV_GET_CALLERS: case KPROBECOV_TRACE_START: case KPROBECOV_TRACE_STOP:
		return true;
	}
	return false;
}

/* Whether cmd changes the collector's state: those need an fd open for writing. */
static bool kpc_cmd_writes(unsigned int cmd)
{
	switch (cmd) {
	case KPROBECOV_GET_VERSION: case KPROBECOV_GET_PROBE_STATUS:
	case KPROBECOV_NEXT_UNHIT: case KPROBECOV_GET_CALLERS:
		return false;
	}
	return true;
}

static long kpc_ioctl(struct file *file, unsigned int cmd, unsigned long uarg)
{
	struct kpc_collector *c = file->private_data;
	void __user *up = (void __user *)uarg;
	size_t size = _IOC_SIZE(cmd);
	union kpc_arg arg;
	long ret;

	if (!kpc_known_cmd(cmd))
		return -ENOTTY;
	if (kpc_cmd_writes(cmd) && !(file->f_mode & FMODE_WRITE))
		return -EBADF;
	memset(&arg, 0, sizeof(arg));
	if ((_IOC_DIR(cmd) & _IOC_WRITE) && copy_from_user(&arg, up, size))
		return -EFAULT;
	mutex_lock(&c->mutex);
	ret = kpc_ioctl_locked(c, cmd, &arg);
	mutex_unlock(&c->mutex);
	if (!ret && (_IOC_DIR(cmd) & _IOC_READ) && copy_to_user(up, &arg, size))
		return -EFAULT;
	return ret;
}

static int kpc_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct kpc_collector *c = file->private_data;
	void *area = smp_load_acquire(&c->area);	/* pairs with kpc_init */

	if (!area)
		return -EBADFD;
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != c->area_bytes)
		return -EINVAL;
	/*
	 * Not inherited by fork: a child (which may drop privileges or exec)
	 * gets no view of the collector's counters, nor a reference that keeps
	 * them and the module alive after the fd's owner closed it.
	 */
	kpc_vm_flags_set(vma, VM_DONTCOPY);
	return remap_vmalloc_range(vma, area, 0);
}

static __poll_t kpc_poll(struct file *file, poll_table *wait)
{
	struct kpc_collector *c = file->private_data;
	struct kprobecov_area_header *hdr;

	if (!smp_load_acquire(&c->area))
		return EPOLLERR;
	hdr = c->hdr;
	poll_wait(file, &c->poll_wq, wait);
	if (READ_ONCE(hdr->new_events) != READ_ONCE(hdr->new_events_seen))
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

static const struct file_operations kpc_fops = {
	.owner = THIS_MODULE,
	.open = kpc_open,
	.release = kpc_release,
	.unlocked_ioctl = kpc_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = kpc_mmap,
	.poll = kpc_poll,
	/* No .llseek: lseek fails with ESPIPE (no_llseek, gone in 6.12, was NULL). */
};

static struct miscdevice kpc_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kprobecov",
	.fops = &kpc_fops,
};

static int __init kpc_module_init(void)
{
	int ret;

	kpc_misc.mode = kpc_dev_mode;
	ret = kpc_task_hooks_init();
	if (ret)
		return ret;
	ret = kpc_module_notifier_init();
	if (ret)
		goto err_hooks;
	ret = misc_register(&kpc_misc);
	if (ret)
		goto err_notifier;
	return 0;

err_notifier:
	kpc_module_notifier_exit();
err_hooks:
	kpc_task_hooks_exit();
	return ret;
}

static void __exit kpc_module_exit(void)
{
	misc_deregister(&kpc_misc);
	kpc_module_notifier_exit();
	kpc_task_hooks_exit();
}

module_init(kpc_module_init);
module_exit(kpc_module_exit);
MODULE_LICENSE("GPL");
/* kprobecov's version, set with scripts/version.ts with every package's. */
MODULE_VERSION("0.1.0");
MODULE_DESCRIPTION("Kernel code coverage for user-space test suites, with kprobes");
