// SPDX-License-Identifier: GPL-2.0
/*
 * Attribution: slots, the pids attached to them, and following forks and
 * exits with the sched_process_fork / sched_process_exit tracepoints.
 *
 * Rules: entries are added and removed under c->tlock (a spinlock, as the
 * tracepoints run with preemption disabled) and freed after an RCU grace
 * period; the hot path only reads them under RCU. A slot's counters are
 * zeroed only after a grace period has passed since its last entry left,
 * so no late hit lands in a released slot.
 */
#define pr_fmt(fmt) "kprobecov: " fmt

#include <linux/binfmts.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/hash.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/user_namespace.h>

#include "compat.h"
#include "kprobecov.h"

static struct kmem_cache *kpc_entry_cache;

static void kpc_entry_free_rcu(struct rcu_head *rcu)
{
	struct kpc_entry *e = container_of(rcu, struct kpc_entry, rcu);

	put_pid(e->key);
	kmem_cache_free(kpc_entry_cache, e);
}

/* The task of pid number nr in the caller's namespace, referenced, or NULL. */
static struct task_struct *kpc_get_task(u64 nr)
{
	struct task_struct *task;
	struct pid *pid;

	if (!nr)
		return get_task_struct(current);
	if (nr > INT_MAX)
		return NULL;
	pid = find_get_pid(nr);
	task = get_pid_task(pid, PIDTYPE_PID);
	put_pid(pid);
	return task;
}

/*
 * Whether the caller may watch task: ptrace's rule for PTRACE_MODE_READ_REALCREDS
 * (what perf_event_open asks to watch a task), as ptrace_may_access is not
 * exported to modules. Its own thread group always; else the caller's real uid and
 * gid must equal the target's uid, euid, suid and gid, egid, sgid, and the target
 * must be dumpable (a set-id program, or PR_SET_DUMPABLE 0), or the caller needs
 * CAP_SYS_PTRACE in the target's user namespace (its mm's, for dumpability).
 * The LSM hook (Yama's ptrace_scope, ...) is not exported and is not asked.
 */
static bool kpc_may_watch(struct task_struct *task)
{
	const struct cred *mine = current_cred(), *theirs;
	struct user_namespace *ns;
	bool ok;

	if (same_thread_group(task, current))
		return true;
	rcu_read_lock();
	theirs = __task_cred(task);
	ok = uid_eq(mine->uid, theirs->euid) && uid_eq(mine->uid, theirs->suid) &&
	     uid_eq(mine->uid, theirs->uid) && gid_eq(mine->gid, theirs->egid) &&
	     gid_eq(mine->gid, theirs->sgid) && gid_eq(mine->gid, theirs->gid);
	ns = get_user_ns(theirs->user_ns);
	rcu_read_unlock();
	if (!ok)
		ok = ns_capable(ns, CAP_SYS_PTRACE);
	put_user_ns(ns);
	if (!ok)
		return false;
	return kpc_dumpable_or_capable(task);
}

/* Takes over the reference on key. Called with c->tlock held. */
static void kpc_link_locked(struct kpc_collector *c, struct kpc_slot *s, struct kpc_entry *e)
{
	hlist_add_head_rcu(&e->hnode, &c->table[hash_ptr(e->key, KPC_TABLE_BITS)]);
	list_add(&e->slot_link, &s->entries);
	WRITE_ONCE(s->stats->tasks, s->stats->tasks + 1);
	if (!e->process)
		atomic_inc(&c->nr_thread);
	if (e->tree) {
		atomic_inc(&c->nr_tree);
		atomic_inc(&kpc_tree_entries);
	}
	kpc_gen_bump();
}

/* Called with c->tlock held; the entry is freed after a grace period. */
static void kpc_unlink_locked(struct kpc_collector *c, struct kpc_entry *e)
{
	hlist_del_rcu(&e->hnode);
	list_del(&e->slot_link);
	WRITE_ONCE(e->slot->stats->tasks, e->slot->stats->tasks - 1);
	if (!e->process)
		atomic_dec(&c->nr_thread);
	if (e->tree) {
		atomic_dec(&c->nr_tree);
		atomic_dec(&kpc_tree_entries);
	}
	atomic_dec(&c->nr_entries);
	atomic_dec(&kpc_total_entries);
	kpc_gen_bump();
	call_rcu(&e->rcu, kpc_entry_free_rcu);
}

/* Reserve room for one more attached pid; false when max_tasks is reached. */
static bool kpc_reserve_entry(struct kpc_collector *c)
{
	if (atomic_inc_return(&c->nr_entries) > kpc_max_tasks) {
		atomic_dec(&c->nr_entries);
		return false;
	}
	atomic_inc(&kpc_total_entries);
	return true;
}

static void kpc_unreserve_entry(struct kpc_collector *c)
{
	atomic_dec(&c->nr_entries);
	atomic_dec(&kpc_total_entries);
}

static struct kpc_slot *kpc_free_slot(struct kpc_collector *c)
{
	u32 i;

	for (i = 0; i < c->max_slots; i++)
		if (c->slots[i].state == KPROBECOV_SLOT_FREE)
			return &c->slots[i];
	return NULL;
}

static void kpc_start_slot_locked(struct kpc_slot *s, const struct kprobecov_attach *a)
{
	s->stats->sample_id = a->sample_id;
	s->stats->scope = a->scope;
	/* Publish stats before the state a reader keys on. */
	smp_store_release(&s->stats->state, KPROBECOV_SLOT_ATTACHED);
	s->state = KPROBECOV_SLOT_ATTACHED;
}

/*
 * After a change of c->global or c->trace_key (under c->mutex): whether
 * the hot path's fast path must hand every hit to the full one. Set after
 * the change it follows, then every cached lookup dropped: a hit after the
 * ioctl returns sees both.
 */
static void kpc_update_slow(struct kpc_collector *c)
{
	WRITE_ONCE(c->slow, READ_ONCE(c->global) || READ_ONCE(c->trace_key));
	kpc_gen_bump();
}

int kpc_attach(struct kpc_collector *c, struct kprobecov_attach *a)
{
	struct task_struct *task;
	struct kpc_entry *e;
	struct kpc_slot *s;
	struct pid *key;
	int ret = 0;

	if (a->scope < KPROBECOV_SCOPE_THREAD || a->scope > KPROBECOV_SCOPE_GLOBAL ||
	    a->flags || a->reserved[0] || a->reserved[1])
		return -EINVAL;
	if (a->scope == KPROBECOV_SCOPE_GLOBAL) {
		if (a->pid)
			return -EINVAL;
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;	/* it sees every user's tasks */
		spin_lock_irq(&c->tlock);
		s = c->global ? NULL : kpc_free_slot(c);
		ret = c->global ? -EBUSY : s ? 0 : -ENOSPC;
		if (s) {
			kpc_start_slot_locked(s, a);
			WRITE_ONCE(c->global, s);
			kpc_update_slow(c);
			a->slot = s->index;
		}
		spin_unlock_irq(&c->tlock);
		return ret;
	}

	task = kpc_get_task(a->pid);
	if (!task)
		return -ESRCH;
	if (!kpc_may_watch(task)) {
		put_task_struct(task);
		return -EPERM;
	}
	key = get_pid(a->scope == KPROBECOV_SCOPE_THREAD ? task_pid(task) : task_tgid(task));
	put_task_struct(task);

	e = kmem_cache_zalloc(kpc_entry_cache, GFP_KERNEL);
	if (!e) {
		put_pid(key);
		return -ENOMEM;
	}
	e->key = key;
	e->process = a->scope != KPROBECOV_SCOPE_THREAD;
	e->tree = a->scope == KPROBECOV_SCOPE_TREE;

	spin_lock_irq(&c->tlock);
	s = kpc_free_slot(c);
	if (kpc_lookup(c, key, e->process))
		ret = -EBUSY;
	else if (!s || !kpc_reserve_entry(c))
		ret = -ENOSPC;
	if (!ret) {
		e->slot = s;
		kpc_start_slot_locked(s, a);
		kpc_link_locked(c, s, e);
		a->slot = s->index;
	}
	spin_unlock_irq(&c->tlock);
	if (ret) {
		put_pid(key);
		kmem_cache_free(kpc_entry_cache, e);
	}
	return ret;
}

/* Stop attributing to s; false if it was not attached. */
static bool kpc_detach_locked(struct kpc_collector *c, struct kpc_slot *s)
{
	struct kpc_entry *e, *tmp;

	if (s->state != KPROBECOV_SLOT_ATTACHED)
		return false;
	list_for_each_entry_safe(e, tmp, &s->entries, slot_link)
		kpc_unlink_locked(c, e);
	if (c->global == s) {
		WRITE_ONCE(c->global, NULL);
		kpc_update_slow(c);
	}
	s->state = KPROBECOV_SLOT_DETACHED;
	smp_store_release(&s->stats->state, KPROBECOV_SLOT_DETACHED);
	return true;
}

static struct kpc_slot *kpc_slot_at(struct kpc_collector *c, u64 slot)
{
	return slot < c->max_slots ? &c->slots[slot] : NULL;
}

/*
 * Once DETACH returns, no hit is counted in the slot any more: the
 * expedited grace period waits for handlers that found it before.
 */
int kpc_detach(struct kpc_collector *c, u64 slot)
{
	struct kpc_slot *s = kpc_slot_at(c, slot);
	bool was;

	if (!s)
		return -EINVAL;
	spin_lock_irq(&c->tlock);
	was = kpc_detach_locked(c, s);
	spin_unlock_irq(&c->tlock);
	if (!was)
		return -ENOENT;
	synchronize_rcu_expedited();
	return 0;
}

/* Zero a slot's counters, edges and stats, keeping what says who it is. */
static void kpc_zero_slot(struct kpc_collector *c, struct kpc_slot *s, bool keep_identity)
{
	struct kprobecov_slot_stats *st = s->stats;

	memset(s->counters, 0, c->max_probes * sizeof(*s->counters));
	if (s->edges)
		memset(s->edges, 0, (sizeof(*s->edges)) << c->edge_bits);
	memset(s->prev, 0, sizeof(s->prev));
	s->prev_irq = 0;
	WRITE_ONCE(st->new_coverage, 0);
	WRITE_ONCE(st->edges, 0);
	WRITE_ONCE(st->lost_tasks, 0);
	if (!keep_identity) {
		st->sample_id = 0;
		st->scope = 0;
		smp_store_release(&st->state, KPROBECOV_SLOT_FREE);
	}
}

static void kpc_zero_collector(struct kpc_collector *c)
{
	u64 i;
	u32 j;

	bitmap_zero(c->hit_bitmap, c->max_probes);
	if (c->edge_bitmap)
		bitmap_zero(c->edge_bitmap, 1UL << c->edge_bits);
	WRITE_ONCE(c->hdr->new_events, 0);
	WRITE_ONCE(c->hdr->new_events_seen, 0);
	for (i = 0; i < c->nr_probes; i++) {
		struct kpc_probe *p = c->probes[i];

		WRITE_ONCE(p->seen, false);
		if (!p->callers)
			continue;
		for (j = 0; j < c->max_callers; j++) {
			WRITE_ONCE(p->callers[j].addr, 0);
			WRITE_ONCE(p->callers[j].calls, 0);
		}
		WRITE_ONCE(p->caller_overflow, 0);
	}
}

int kpc_reset(struct kpc_collector *c, u64 slot)
{
	u32 i;

	if (slot == KPROBECOV_ALL_SLOTS) {
		for (i = 0; i < c->max_slots; i++)
			kpc_zero_slot(c, &c->slots[i], true);
		kpc_zero_collector(c);
		return 0;
	}
	if (slot >= c->max_slots)
		return -EINVAL;
	kpc_zero_slot(c, &c->slots[slot], true);
	return 0;
}

int kpc_release_slot(struct kpc_collector *c, u64 slot)
{
	struct kpc_slot *s = kpc_slot_at(c, slot);
	bool was;

	if (!s)
		return -EINVAL;
	if (s->state == KPROBECOV_SLOT_FREE)
		return -ENOENT;
	spin_lock_irq(&c->tlock);
	was = kpc_detach_locked(c, s);
	spin_unlock_irq(&c->tlock);
	if (was)	/* else DETACH already waited */
		synchronize_rcu_expedited();
	kpc_zero_slot(c, s, false);
	spin_lock_irq(&c->tlock);
	s->state = KPROBECOV_SLOT_FREE;
	spin_unlock_irq(&c->tlock);
	return 0;
}

/* At close: drop every attachment and the trace. */
void kpc_detach_all(struct kpc_collector *c)
{
	u32 i;

	spin_lock_irq(&c->tlock);
	for (i = 0; i < c->max_slots; i++)
		kpc_detach_locked(c, &c->slots[i]);
	spin_unlock_irq(&c->tlock);
	put_pid(xchg(&c->trace_key, NULL));
	kpc_update_slow(c);
}

int kpc_trace_start(struct kpc_collector *c, const struct kprobecov_trace *t)
{
	struct task_struct *task;
	struct pid *key;

	if (t->flags)
		return -EINVAL;
	if (!c->trace_entries)
		return -EINVAL;
	if (c->trace_key)
		return -EBUSY;
	task = kpc_get_task(t->tid);
	if (!task)
		return -ESRCH;
	if (!kpc_may_watch(task)) {
		put_task_struct(task);
		return -EPERM;
	}
	key = get_pid(task_pid(task));
	put_task_struct(task);
	WRITE_ONCE(c->trace[0], 0);
	/* Pairs with the handler's READ_ONCE: the reset count is seen first. */
	smp_store_release(&c->trace_key, key);
	kpc_update_slow(c);
	return 0;
}

int kpc_trace_stop(struct kpc_collector *c)
{
	struct pid *key = xchg(&c->trace_key, NULL);

	if (!key)
		return -ENOENT;
	kpc_update_slow(c);
	/* The hot path compares the pointer only, never dereferences it. */
	put_pid(key);
	return 0;
}

/*
 * Fork: a child process (not a thread: threads share the tgid key) of a
 * process attached with TREE scope joins its slot. Runs in the parent,
 * before the child first runs, with preemption disabled.
 */
static void kpc_on_fork(void *data, struct task_struct *parent, struct task_struct *child)
{
	struct kpc_collector *c;

	if (!atomic_read(&kpc_total_entries))
		return;
	kpc_gen_bump();	/* child may reuse a freed task_struct: no cached lookup of it */
	if (!atomic_read(&kpc_tree_entries) || same_thread_group(parent, child))
		return;
	rcu_read_lock();
	list_for_each_entry_rcu(c, &kpc_collectors, node) {
		struct kpc_entry *pe, *e;
		unsigned long flags;

		if (!atomic_read(&c->nr_tree))
			continue;
		pe = kpc_lookup(c, task_tgid(parent), true);
		if (!pe || !pe->tree)
			continue;
		e = NULL;
		if (kpc_reserve_entry(c)) {
			e = kmem_cache_zalloc(kpc_entry_cache, GFP_ATOMIC | __GFP_NOWARN);
			if (!e)
				kpc_unreserve_entry(c);
		}
		spin_lock_irqsave(&c->tlock, flags);
		/* Re-check under the lock: the parent may have been detached. */
		pe = kpc_lookup(c, task_tgid(parent), true);
		if (pe && pe->tree && e) {
			e->key = get_pid(task_tgid(child));
			e->process = true;
			e->tree = true;
			e->slot = pe->slot;
			kpc_link_locked(c, pe->slot, e);
			e = NULL;
		} else if (pe && pe->tree) {
			atomic64_inc((atomic64_t *)&pe->slot->stats->lost_tasks);
		}
		spin_unlock_irqrestore(&c->tlock, flags);
		if (e) {
			kpc_unreserve_entry(c);
			kmem_cache_free(kpc_entry_cache, e);
		}
	}
	rcu_read_unlock();
}

/* Exit: a thread leaves its thread key; the last thread, its process key. */
static void kpc_on_exit(void *data, struct task_struct *task)
{
	bool group_dead = !atomic_read(&task->signal->live);
	struct kpc_collector *c;

	if (!atomic_read(&kpc_total_entries))
		return;
	kpc_gen_bump();	/* task may be reused after this: no cached lookup of it */
	rcu_read_lock();
	list_for_each_entry_rcu(c, &kpc_collectors, node) {
		struct kpc_entry *e;
		unsigned long flags;

		if (!atomic_read(&c->nr_entries))
			continue;
		spin_lock_irqsave(&c->tlock, flags);
		e = kpc_lookup(c, task_pid(task), false);
		if (e)
			kpc_unlink_locked(c, e);
		if (group_dead) {
			e = kpc_lookup(c, task_tgid(task), true);
			if (e)
				kpc_unlink_locked(c, e);
		}
		spin_unlock_irqrestore(&c->tlock, flags);
	}
	rcu_read_unlock();
}

/*
 * Exec that changes credentials (a setuid or setgid file, file capabilities,
 * an LSM transition): bprm->secureexec, the kernel's own verdict (AT_SECURE).
 * The task stops being counted and traced in every collector: its thread key
 * and its process key go (so a tree stops following it and what it forks),
 * as ptrace would refuse a new attach by the same caller. The slot stays
 * attached to whatever else it holds. sched_process_exec runs after the new
 * credentials are committed and before the program's first instruction, and
 * is the one exec hook a module can attach to on 6.1 (the LSM bprm hooks are
 * not open to modules; the binfmt and ptrace paths are not exported).
 * After de_thread the task holds its thread group's pid: task_pid is the
 * process's key too; an entry of its old thread pid no longer matches it.
 * c->slow is left as it is (it may stay set until the next ioctl recomputes
 * it under c->mutex: a cost, not a miss).
 */
static void kpc_on_exec(void *data, struct task_struct *task, pid_t old_pid,
			struct linux_binprm *bprm)
{
	struct kpc_collector *c;

	if (!bprm->secureexec)
		return;
	rcu_read_lock();
	list_for_each_entry_rcu(c, &kpc_collectors, node) {
		struct pid *key = task_pid(task);
		struct kpc_entry *e;
		unsigned long flags;

		if (READ_ONCE(c->trace_key) == key && cmpxchg(&c->trace_key, key, NULL) == key) {
			kpc_gen_bump();
			put_pid(key);	/* the hot path compares it, never dereferences it */
		}
		if (!atomic_read(&c->nr_entries))
			continue;
		spin_lock_irqsave(&c->tlock, flags);
		e = kpc_lookup(c, key, false);
		if (e)
			kpc_unlink_locked(c, e);
		e = kpc_lookup(c, task_tgid(task), true);
		if (e)
			kpc_unlink_locked(c, e);
		spin_unlock_irqrestore(&c->tlock, flags);
	}
	rcu_read_unlock();
}

static struct tracepoint *kpc_tp_fork, *kpc_tp_exit, *kpc_tp_exec;

static void kpc_find_tracepoint(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_process_fork"))
		kpc_tp_fork = tp;
	else if (!strcmp(tp->name, "sched_process_exit"))
		kpc_tp_exit = tp;
	else if (!strcmp(tp->name, "sched_process_exec"))
		kpc_tp_exec = tp;
}

int kpc_task_hooks_init(void)
{
	int ret;

	kpc_entry_cache = KMEM_CACHE(kpc_entry, 0);
	if (!kpc_entry_cache)
		return -ENOMEM;
	for_each_kernel_tracepoint(kpc_find_tracepoint, NULL);
	if (!kpc_tp_fork || !kpc_tp_exit || !kpc_tp_exec) {
		pr_err("sched_process_fork/exit/exec tracepoints not found\n");
		ret = -ENOENT;
		goto err_cache;
	}
	ret = tracepoint_probe_register(kpc_tp_fork, kpc_on_fork, NULL);
	if (ret)
		goto err_cache;
	ret = tracepoint_probe_register(kpc_tp_exit, kpc_on_exit, NULL);
	if (ret)
		goto err_fork;
	ret = tracepoint_probe_register(kpc_tp_exec, kpc_on_exec, NULL);
	if (ret)
		goto err_exit;
	return 0;

err_exit:
	tracepoint_probe_unregister(kpc_tp_exit, kpc_on_exit, NULL);
err_fork:
	tracepoint_probe_unregister(kpc_tp_fork, kpc_on_fork, NULL);
	tracepoint_synchronize_unregister();
err_cache:
	kmem_cache_destroy(kpc_entry_cache);
	return ret;
}

void kpc_task_hooks_exit(void)
{
	tracepoint_probe_unregister(kpc_tp_exec, kpc_on_exec, NULL);
	tracepoint_probe_unregister(kpc_tp_exit, kpc_on_exit, NULL);
	tracepoint_probe_unregister(kpc_tp_fork, kpc_on_fork, NULL);
	tracepoint_synchronize_unregister();
	rcu_barrier();	/* entries freed by call_rcu use the cache */
	kmem_cache_destroy(kpc_entry_cache);
}
