// SPDX-License-Identifier: GPL-2.0
/*
 * The probe table of a collector: adding probes (ADD_PROBES), the targets they
 * name (interned module names), a probe's state as user space sees it, arming
 * and disarming (ARM, DISARM), and unplanting them all at close. Probes are
 * module-relative: (module, symbol, offset), appended and never removed
 * before close. c->probes, c->nr_probes and the targets grow under
 * collector->mutex + kpc_mutex. kpc_target_index, kpc_probe_state and
 * kpc_unplant need kpc_mutex held; kpc_add_probes and kpc_select take it
 * themselves, a bounded step at a time, kpc_retire a batch at a time; then
 * kpc_free_probes, when nothing else sees the collector.
 */

#include <linux/jiffies.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/stringhash.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include <asm/text-patching.h>

#include "kprobecov.h"

static bool kpc_is_vmlinux(const char *module)
{
	return !module[0] || !strcmp(module, "vmlinux");
}

/* Probes one step of ADD_PROBES or ARM plants or arms under one hold of kpc_mutex. */
#define KPC_PROBES_PER_STEP 256

/* The cell of target_tab for module: its index + 1, or the empty cell to put it in. */
static u32 *kpc_target_cell(struct kpc_collector *c, const char *module)
{
	u32 i = full_name_hash(NULL, module, strlen(module)) & c->target_mask;

	while (c->target_tab[i] && strcmp(c->targets[c->target_tab[i] - 1], module))
		i = (i + 1) & c->target_mask;
	return &c->target_tab[i];
}

/* Room for one more target: targets and target_tab (at most half full) grown by doubling. */
static int kpc_target_room(struct kpc_collector *c)
{
	char (*targets)[KPROBECOV_MODULE_LEN];
	u32 size, *tab, i;

	if (c->nr_targets == c->targets_cap) {
		targets = kvmalloc_array(2 * c->targets_cap, sizeof(*targets), GFP_KERNEL_ACCOUNT);
		if (!targets)
			return -ENOMEM;
		memcpy(targets, c->targets, c->nr_targets * sizeof(*targets));
		kvfree(c->targets);
		c->targets = targets;
		c->targets_cap *= 2;
	}
	if (c->target_tab && 2 * (c->nr_targets + 1) <= c->target_mask + 1)
		return 0;
	size = roundup_pow_of_two(max(64U, 4 * (c->nr_targets + 1)));
	tab = kvcalloc(size, sizeof(*tab), GFP_KERNEL_ACCOUNT);
	if (!tab)
		return -ENOMEM;
	kvfree(c->target_tab);
	c->target_tab = tab;
	c->target_mask = size - 1;
	for (i = 1; i < c->nr_targets; i++)
		*kpc_target_cell(c, c->targets[i]) = i + 1;
	return 0;
}

/*
 * Index of a target name in c->targets, added if new (add); -ENOENT (not there, !add)
 * or -ENOMEM. Under kpc_mutex (the module notifier looks names up).
 */
int kpc_target_index(struct kpc_collector *c, const char *module, bool add)
{
	u32 *cell;
	int ret;

	if (kpc_is_vmlinux(module))
		return KPC_TARGET_VMLINUX;
	if (c->target_tab) {
		cell = kpc_target_cell(c, module);
		if (*cell)
			return *cell - 1;
	}
	if (!add)
		return -ENOENT;
	ret = kpc_target_room(c);
	if (ret)
		return ret;
	strscpy(c->targets[c->nr_targets], module, KPROBECOV_MODULE_LEN);
	*kpc_target_cell(c, module) = c->nr_targets + 1;
	return c->nr_targets++;
}

static int kpc_check_spec(const struct kprobecov_probe *s)
{
	if (s->kind < KPROBECOV_KIND_FUNC || s->kind > KPROBECOV_KIND_MAX)
		return -EINVAL;
	if (s->kind == KPROBECOV_KIND_FUNC && s->offset)
		return -EINVAL;
	if (s->offset > UINT_MAX)
		return -EINVAL;
	if (!memchr(s->module, 0, sizeof(s->module)) || !s->symbol[0] ||
	    !memchr(s->symbol, 0, sizeof(s->symbol)))
		return -EINVAL;
	if (s->address && !kpc_is_vmlinux(s->module))
		return -EINVAL;
	return 0;
}

static struct kpc_probe *kpc_new_probe(struct kpc_collector *c, const struct kprobecov_probe *s,
				       u32 target)
{
	struct kpc_probe *p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);

	if (!p)
		return NULL;
	p->symbol = kstrdup(s->symbol, GFP_KERNEL);
	if (s->kind == KPROBECOV_KIND_FUNC && c->max_callers)
		p->callers = kcalloc(c->max_callers, sizeof(*p->callers), GFP_KERNEL);
	if (!p->symbol || (s->kind == KPROBECOV_KIND_FUNC && c->max_callers && !p->callers)) {
		kfree(p->callers);
		kfree(p->symbol);
		kfree(p);
		return NULL;
	}
	p->c = c;
	p->cache = c->cache;
	p->kind = s->kind;
	p->group = s->group;
	p->offset = s->offset;
	p->address = s->address;
	p->target = target;
	return p;
}

static void kpc_free_probe(struct kpc_probe *p)
{
	kfree(p->callers);
	kfree(p->symbol);
	kfree(p);
}

/* Orders probes by target, then by index (batch order within a target). */
static int kpc_cmp_target(const void *a, const void *b)
{
	const struct kpc_probe *p = *(const struct kpc_probe **)a, *q = *(const struct kpc_probe **)b;

	if (p->target != q->target)
		return p->target < q->target ? -1 : 1;
	return p->index < q->index ? -1 : p->index > q->index;
}

/*
 * Append a checked batch. kpc_mutex is held only in steps, each bounded (at most
 * KPC_PROBES_PER_STEP probes interned, planted, or one module's symbol-table walk of
 * them), so that module loads and unloads, whose notifier takes it, wait for one
 * step, not for the batch:
 *   1. the probes are allocated (all or nothing), without kpc_mutex;
 *   2. their module names interned into the targets (hashed), in steps;
 *   3. sorted by target, without kpc_mutex;
 *   4. published in one step (c->probes, c->nr_probes): a module's probes pending,
 *      so the notifier plants them if it loads and leaves them if it goes;
 *   5. planted target by target, in steps; results written back into specs.
 */
int kpc_add_probes(struct kpc_collector *c, struct kprobecov_probe *specs, u64 count,
		   struct kprobecov_add_probes *out)
{
	struct kpc_probe **batch, **sorted;
	u64 i, j, first = c->nr_probes;
	int ret = 0;

	for (i = 0; i < count; i++)
		if (kpc_check_spec(&specs[i]))
			return -EINVAL;
	if (count > c->max_probes - c->nr_probes)
		return -ENOSPC;
	batch = kvcalloc(count, sizeof(*batch), GFP_KERNEL);
	sorted = kvcalloc(count, sizeof(*sorted), GFP_KERNEL);
	if (!batch || !sorted) {
		ret = -ENOMEM;
		goto out;
	}

	for (i = 0; i < count; i++) {
		batch[i] = kpc_new_probe(c, &specs[i], KPC_TARGET_VMLINUX);
		if (!batch[i]) {
			ret = -ENOMEM;
			goto free;
		}
		batch[i]->index = first + i;
		if (c->edge_bits)
			batch[i]->edge_cur = hash_32(batch[i]->index, c->edge_bits);
		cond_resched();
	}
	for (i = 0; i < count && !ret; i += KPC_PROBES_PER_STEP) {
		mutex_lock(&kpc_mutex);
		for (j = i; j < min(count, i + KPC_PROBES_PER_STEP); j++) {
			int target;

			strreplace(specs[j].module, '-', '_');	/* module names as lsmod shows them */
			target = kpc_target_index(c, specs[j].module, true);
			if (target < 0) {
				ret = target;
				break;
			}
			batch[j]->target = target;
		}
		mutex_unlock(&kpc_mutex);
		cond_resched();
	}
	if (ret)
		goto free;
	memcpy(sorted, batch, count * sizeof(*sorted));
	sort(sorted, count, sizeof(*sorted), kpc_cmp_target, NULL);

	/* Publish: the hot path never reads c->probes, only kp's container. */
	mutex_lock(&kpc_mutex);
	for (i = 0; i < count; i++) {
		batch[i]->pending = batch[i]->target != KPC_TARGET_VMLINUX;
		c->probes[first + i] = batch[i];
	}
	c->nr_probes += count;
	mutex_unlock(&kpc_mutex);

	for (i = 0; i < count; i += j) {
		u32 target = sorted[i]->target;

		for (j = 1; i + j < count && j < KPC_PROBES_PER_STEP &&
			    sorted[i + j]->target == target; j++)
			;
		mutex_lock(&kpc_mutex);
		kpc_plant_step(c, target, sorted + i, j);
		mutex_unlock(&kpc_mutex);
		cond_resched();
	}

	mutex_lock(&kpc_mutex);
	out->first_index = first;
	out->registered = out->pending = out->failed = 0;
	for (i = 0; i < count; i++) {
		struct kpc_probe *p = batch[i];

		specs[i].error = p->error;
		specs[i].state = kpc_probe_state(c, p);
		if (p->registered)
			out->registered++;
		else if (p->pending)
			out->pending++;
		else
			out->failed++;
	}
	WRITE_ONCE(c->hdr->nr_probes, c->nr_probes);
	kpc_ftrace_sync(c);
	mutex_unlock(&kpc_mutex);
	goto out;
free:
	for (i = 0; i < count && batch[i]; i++)
		kpc_free_probe(batch[i]);
out:
	kvfree(sorted);
	kvfree(batch);
	return ret;
}

u32 kpc_probe_state(struct kpc_collector *c, struct kpc_probe *p)
{
	u32 state = p->kind << KPROBECOV_STATE_KIND_SHIFT;

	if (p->registered) {
		state |= KPROBECOV_STATE_REGISTERED;
		if (p->ftrace ? p->gone : kprobe_gone(&p->kp))
			state |= KPROBECOV_STATE_GONE;
	}
	if (p->want_armed)
		state |= KPROBECOV_STATE_ARMED;
	if (p->pending)
		state |= KPROBECOV_STATE_PENDING;
	if (p->unloaded)
		state |= KPROBECOV_STATE_GONE;
	if (!p->registered && !p->pending)
		state |= KPROBECOV_STATE_FAILED;
	if (test_bit(p->index, c->hit_bitmap))
		state |= KPROBECOV_STATE_HIT;
	return state;
}

/*
 * Teardown is paced for kprobes' optimizer. Unregistering (or disabling) a probe
 * the kernel turned into a jump only queues it; the optimizer (a delayed work,
 * OPTIMIZE_DELAY = 5 jiffies after the first queued) then takes the whole queue
 * in one pass that never yields: per site two text_poke()s, each followed by an
 * IPI to every CPU (text_poke_sync), and a third to remove the int3 (6.1:
 * do_unoptimize_kprobes, arch_unoptimize_kprobe). Tens of thousands queued at
 * once kept a CPU busy for over 20 s under TCG (soft lockup, RCU stall). So at
 * most KPC_UNPLANT_BATCH probes are unregistered at a time, and before the next
 * batch we wait until the optimizer has put back the original code of every
 * site of the batch that held a jump: a pass then has at most a batch to do.
 * A pass costs little per site when the other CPUs answer the IPIs at once: 10,000
 * jumps were undone in 0.3 s under TCG (kmod/tests/teardown_test, 30 us a site),
 * while the lockup, other vCPUs busy, implies ~0.7 ms a site. 2048 sites
 * are 1.4 s a pass at that rate, a 14x margin below the 20 s soft-lockup and 21 s
 * RCU-stall thresholds. Pacing costs time: each batch waits for a grace period,
 * the optimizer's delay and its rcu_tasks wait; 10,000 jumps closed in 12.5 s at
 * 256 a batch, 9.0 s at 2048, against 0.9 s unpaced (TCG, teardown_test).
 */
#define KPC_UNPLANT_BATCH 2048
/* Longest wait for one batch's sites: a site another user also probes keeps its jump. */
#define KPC_UNOPT_WAIT_MS 5000

/* kp, registered, holds a jump to the optimizer's detour (not its own code). */
static bool kpc_holds_jump(struct kprobe *kp)
{
	u8 b;

	if (kprobe_gone(kp) || (kp->flags & KPROBE_FLAG_FTRACE) ||
	    !kp->opcode || kp->opcode == JMP32_INSN_OPCODE)
		return false;
	return !copy_from_kernel_nofault(&b, kp->addr, 1) && b == JMP32_INSN_OPCODE;
}

/*
 * Wait until the optimizer has restored the original first byte of each site of
 * kps[0..n) that jumps[] marks (or KPC_UNOPT_WAIT_MS passed). Under kpc_mutex:
 * the sites' text stays (their module's GOING waits for kpc_mutex).
 */
static void kpc_wait_restored(struct kprobe **kps, const bool *jumps, u32 n)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(KPC_UNOPT_WAIT_MS);
	u32 i;

	for (i = 0; i < n; i++) {
		u8 b;

		if (!jumps || jumps[i])
			while (!copy_from_kernel_nofault(&b, kps[i]->addr, 1) &&
			       b != kps[i]->opcode && time_before(jiffies, deadline))
				schedule_timeout_uninterruptible(1);
	}
}

static bool kpc_selected(const struct kprobecov_select *sel, struct kpc_probe *p)
{
	switch (sel->how) {
	case KPROBECOV_SELECT_RANGE:
		return p->index >= sel->first && p->index - sel->first < sel->count;
	case KPROBECOV_SELECT_GROUP:
		return p->group == sel->group;
	default:
		return true;
	}
}

/* ARM / DISARM. Pending probes keep the wish and get it when planted. */
int kpc_select(struct kpc_collector *c, const struct kprobecov_select *sel, bool arm,
	       u64 *changed)
{
	u64 i, first = 0, end = c->nr_probes;
	struct kprobe **jumps = NULL;
	u32 nj = 0;

	if (sel->how < KPROBECOV_SELECT_ALL || sel->how > KPROBECOV_SELECT_GROUP)
		return -EINVAL;
	if (sel->how == KPROBECOV_SELECT_RANGE) {
		if (sel->first > c->nr_probes || sel->count > c->nr_probes - sel->first)
			return -EINVAL;
		first = sel->first;
		end = sel->first + sel->count;
	} else if (sel->first || sel->count) {
		return -EINVAL;
	}
	if (sel->how != KPROBECOV_SELECT_GROUP && sel->group)
		return -EINVAL;

	/* DISARM: a batch's jumps are undone before more are disabled (KPC_UNPLANT_BATCH). */
	if (!arm)
		jumps = kvmalloc_array(KPC_UNPLANT_BATCH, sizeof(*jumps), GFP_KERNEL);
	*changed = 0;
	mutex_lock(&kpc_mutex);
	for (i = first; i < end; i++) {
		struct kpc_probe *p = c->probes[i];
		int ret;

		if (nj == KPC_UNPLANT_BATCH) {
			kpc_wait_restored(jumps, NULL, nj);
			nj = 0;
		}
		if (i > first && !((i - first) % KPC_PROBES_PER_STEP)) {
			mutex_unlock(&kpc_mutex);	/* a step at a time: see kpc_add_probes */
			cond_resched();
			mutex_lock(&kpc_mutex);
		}

		if (!kpc_selected(sel, p) || p->want_armed == arm)
			continue;
		p->want_armed = arm;
		(*changed)++;
		if (p->ftrace) {
			c->fdirty = true;	/* all in one update, below */
			continue;
		}
		if (!p->registered || kprobe_gone(&p->kp))
			continue;
		if (jumps && kpc_holds_jump(&p->kp))
			jumps[nj++] = &p->kp;
		ret = arm ? enable_kprobe(&p->kp) : disable_kprobe(&p->kp);
		if (ret)
			p->error = ret;
	}
	kpc_ftrace_sync(c);	/* the last batch's jumps are left to the optimizer: nothing follows */
	mutex_unlock(&kpc_mutex);
	kvfree(jumps);
	return 0;
}

/*
 * Unregister kps[0..n) (one grace period); then, when more follow (more), wait for
 * the nj sites that held jumps. The last batch is not waited for: nothing is queued
 * behind it, so a close of a few probes costs no more than before pacing.
 */
static void kpc_unregister_paced(struct kprobe **kps, const bool *jumps, u32 n, u32 nj,
				 bool more)
{
	unregister_kprobes(kps, n);
	if (nj && more)
		kpc_wait_restored(kps, jumps, n);
}

/* Room for one batch: the kprobes and whether each held a jump. */
struct kpc_unplant_buf {
	struct kprobe *kps[KPC_UNPLANT_BATCH];
	bool jumps[KPC_UNPLANT_BATCH];
};

/*
 * One batch of kpc_unplant from c->probes[i]: at most KPC_UNPLANT_BATCH kprobes
 * unregistered (buf NULL, no memory: one at a time). Returns the index to go on from.
 */
static u64 kpc_unplant_batch(struct kpc_collector *c, int target, bool unloaded,
			     struct kpc_unplant_buf *buf, u64 i)
{
	u32 n = 0, nj = 0;

	lockdep_assert_held(&kpc_mutex);
	for (; i < c->nr_probes && n < (buf ? KPC_UNPLANT_BATCH : 1); i++) {
		struct kpc_probe *p = c->probes[i];

		if (!p->registered || (target >= 0 && p->target != target))
			continue;
		if (p->ftrace) {
			p->ftrace = false;
			p->gone = false;
			c->fdirty = true;
		} else if (buf) {
			buf->kps[n] = &p->kp;
			buf->jumps[n] = kpc_holds_jump(&p->kp);
			nj += buf->jumps[n++];
		} else {
			bool jump = kpc_holds_jump(&p->kp);
			struct kprobe *kp = &p->kp;

			kpc_unregister_paced(&kp, &jump, 1, jump, i + 1 < c->nr_probes);
			n++;
		}
		p->registered = false;
		p->pending = unloaded;
		p->unloaded = unloaded;
	}
	kpc_ftrace_sync(c);	/* before the kprobes: one code update for the batch */
	if (buf && n)
		kpc_unregister_paced(buf->kps, buf->jumps, n, nj, i < c->nr_probes);
	return i;
}

/* Unregister the collector's planted probes of target (all if target < 0). */
void kpc_unplant(struct kpc_collector *c, int target, bool unloaded)
{
	struct kpc_unplant_buf *buf = kvmalloc(sizeof(*buf), GFP_KERNEL);
	u64 i = 0;

	lockdep_assert_held(&kpc_mutex);
	do
		i = kpc_unplant_batch(c, target, unloaded, buf, i);
	while (i < c->nr_probes);
	kvfree(buf);
}

/*
 * At close: leave kpc_collectors under kpc_mutex, so no module load plants a
 * pending probe afterwards, then unregister every probe a batch per hold of
 * kpc_mutex (loads, unloads and other collectors wait for one batch, not for
 * all). Afterwards no handler of this collector runs (unregister waits for them).
 */
void kpc_retire(struct kpc_collector *c)
{
	struct kpc_unplant_buf *buf = kvmalloc(sizeof(*buf), GFP_KERNEL);
	u64 i = 0;

	mutex_lock(&kpc_mutex);
	list_del_rcu(&c->node);
	do {
		i = kpc_unplant_batch(c, -1, false, buf, i);
		mutex_unlock(&kpc_mutex);
		cond_resched();
		mutex_lock(&kpc_mutex);
	} while (i < c->nr_probes);
	mutex_unlock(&kpc_mutex);
	kvfree(buf);
}

void kpc_free_probes(struct kpc_collector *c)
{
	u64 i;

	for (i = 0; i < c->nr_probes; i++)
		kpc_free_probe(c->probes[i]);
	kvfree(c->probes);
	kvfree(c->targets);
	kvfree(c->target_tab);
}
