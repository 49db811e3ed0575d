// SPDX-License-Identifier: GPL-2.0
/*
 * The hot path: what runs on every probe hit. Rules: no lock that can
 * sleep, no spinlock at all, no allocation, no printk; O(1) in the number
 * of probes and of slots (at most two hash lookups and the global slot).
 * Runs with preemption disabled, which is an RCU read-side critical section
 * only where RCU is watching: a hit where it is not (the idle loop, early
 * entry code) counts nothing and touches nothing of the collector, whose
 * memory close frees after a grace period that such a hit does not delay.
 * A breakpoint's handler always has RCU watching (the int3 trap enters as
 * an NMI, which makes it watch); a jump-optimised kprobe's and the ftrace
 * callback run in the probed context itself and check (kpc_rcu_watching).
 *
 * Cost rule: one atomic read-modify-write per counted hit (the slot's hit
 * counter, exact under concurrency). Caller and edge counts are plain
 * increments after an exact, atomic first sighting: their totals may miss
 * increments made at the same instant on two CPUs; what was seen, and the
 * new-coverage events, are exact.
 */
#define pr_fmt(fmt) "kprobecov: " fmt

#include <linux/bitops.h>
#include <linux/context_tracking.h>
#include <linux/ftrace.h>
#include <linux/hash.h>
#include <linux/preempt.h>
#include <linux/ptrace.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/trace_recursion.h>
#ifdef CONFIG_X86
#include <asm/text-patching.h>
#endif

#include "kprobecov.h"

struct kpc_entry *kpc_lookup(struct kpc_collector *c, struct pid *key, bool process)
{
	struct kpc_entry *e;

	hlist_for_each_entry_rcu(e, &c->table[hash_ptr(key, KPC_TABLE_BITS)], hnode,
				 lockdep_is_held(&c->tlock))
		if (e->key == key && e->process == process)
			return e;
	return NULL;
}
/* Also run while the hot path fills its cache: a probe here would re-enter it. */
NOKPROBE_SYMBOL(kpc_lookup);

/*
 * rcu_is_watching() for a caller that runs with preemption disabled, inline
 * where the kernel's header has it (a load and a test instead of a call on
 * every hit); elsewhere the exported function.
 */
static __always_inline bool kpc_rcu_watching(void)
{
#if defined(CONFIG_CONTEXT_TRACKING_IDLE) && defined(RCU_DYNTICKS_IDX)
	return !rcu_dynticks_curr_cpu_in_eqs();
#else
	return rcu_is_watching();
#endif
}

/* The caller's return address at a function-entry probe. */
static unsigned long kpc_return_address(struct pt_regs *regs)
{
#if defined(CONFIG_X86)
	return regs_get_kernel_stack_nth(regs, 0);
#elif defined(CONFIG_ARM64)
	return procedure_link_pointer(regs);
#else
	return 0;
#endif
}

/* A plain increment: see the cost rule above. */
static inline void kpc_bump(u64 *v)
{
	WRITE_ONCE(*v, READ_ONCE(*v) + 1);
}

/*
 * Lock-free insert-or-count in the probe's fixed table of callers: ret, or
 * with regs the return address read from them. Out of line: reading the
 * stack needs a buffer, which would give the whole handler a stack canary.
 */
static noinline void kpc_record_caller(struct kpc_collector *c, struct kpc_probe *p,
				       struct pt_regs *regs, unsigned long ret)
{
	u32 i;

	if (regs)
		ret = kpc_return_address(regs);

	for (i = 0; i < c->max_callers; i++) {
		struct kpc_caller *cl = &p->callers[i];
		unsigned long a = READ_ONCE(cl->addr);

		if (!a) {
			a = cmpxchg(&cl->addr, 0UL, ret);	/* claim a free cell */
			if (!a)
				a = ret;
		}
		if (a == ret) {
			kpc_bump(&cl->calls);
			return;
		}
	}
	kpc_bump(&p->caller_overflow);
}
NOKPROBE_SYMBOL(kpc_record_caller);

/*
 * Whether the probed instruction ran in task context. On x86 a breakpoint
 * kprobe's handler runs in the int3 exception, which the kernel enters as
 * an NMI (irqentry_nmi_enter adds NMI_OFFSET + HARDIRQ_OFFSET): look past
 * that one level. Ftrace-based and optimized (jump) probes call the handler
 * in the probed context itself: only a hit through an int3 at the probed
 * address (not yet, or never, optimized) gets the level removed, so a jump
 * probe inside a real NMI stays an NMI.
 */
static __always_inline bool kpc_probed_in_task(struct kprobe *kp)
{
	unsigned long pc = preempt_count();

#ifdef CONFIG_X86
	if (unlikely(pc & NMI_MASK) && !(kp->flags & KPROBE_FLAG_FTRACE) &&
	    *(u8 *)kp->addr == INT3_INSN_OPCODE)
		pc -= NMI_OFFSET + HARDIRQ_OFFSET;
#endif
	return !(pc & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_OFFSET));	/* in_task() */
}

/* An edge's first sighting in slot s: exactly one CPU gets 1. New to c? */
static noinline bool kpc_first_edge(struct kpc_collector *c, struct kpc_slot *s, u32 edge)
{
	if (atomic_inc_return((atomic_t *)&s->edges[edge]) != 1)
		return false;
	atomic64_inc((atomic64_t *)&s->stats->edges);
	return !test_bit(edge, c->edge_bitmap) && !test_and_set_bit(edge, c->edge_bitmap);
}
NOKPROBE_SYMBOL(kpc_first_edge);

/*
 * The AFL-style edge from the previous location this task (or interrupt
 * context) left in slot s to p: the cell holding that location, *prevp,
 * becomes kpc_edge_next(cur) once the edge is counted, cur being
 * p->edge_cur. The kprobe fast path computes the same index from its cache.
 */
static __always_inline u32 *kpc_prev_cell(struct kpc_slot *s, bool task)
{
	return task ? &s->prev[hash_ptr(current, KPC_PREV_BITS)] : &s->prev_irq;
}

/* The previous location a probe leaves: AFL's shift keeps A->B apart from B->A. */
static __always_inline u32 kpc_edge_next(u32 cur)
{
	return cur >> 1;
}

/*
 * Needs no mask: cur = p->edge_cur < 1 << edge_bits (a hash of that many
 * bits), and a previous-location cell holds 0 or some kpc_edge_next().
 */
static __always_inline u32 kpc_edge(u32 cur, u32 *prevp)
{
	return READ_ONCE(*prevp) ^ cur;
}

/* Counts the edge to p in slot s; whether it is new to c. */
static __always_inline bool kpc_count_edge(struct kpc_collector *c, struct kpc_slot *s,
					   struct kpc_probe *p, bool task)
{
	u32 *prevp = kpc_prev_cell(s, task), cur = p->edge_cur, edge = kpc_edge(cur, prevp);
	u32 *count = &s->edges[edge];
	u32 seen = READ_ONCE(*count);

	WRITE_ONCE(*prevp, kpc_edge_next(cur));
	if (likely(seen)) {
		WRITE_ONCE(*count, seen + 1);
		return false;
	}
	return kpc_first_edge(c, s, edge);
}

/* A probe's first hit in c (or a race to it): whether this CPU set the bit. */
static noinline bool kpc_first_hit(struct kpc_collector *c, struct kpc_probe *p)
{
	bool fresh = !test_and_set_bit(p->index, c->hit_bitmap);

	WRITE_ONCE(p->seen, true);
	return fresh;
}
NOKPROBE_SYMBOL(kpc_first_hit);

/* New coverage in slot s: counted, and poll() woken (NMI-safe). */
static noinline void kpc_new_coverage(struct kpc_collector *c, struct kpc_slot *s)
{
	atomic64_inc((atomic64_t *)&s->stats->new_coverage);
	atomic64_inc((atomic64_t *)&c->hdr->new_events);
	irq_work_queue(&c->poll_work);
}
NOKPROBE_SYMBOL(kpc_new_coverage);

static __always_inline void kpc_count(struct kpc_collector *c, struct kpc_slot *s,
				      struct kpc_probe *p, bool task)
{
	bool fresh = false;

	atomic64_inc((atomic64_t *)&s->counters[p->index]);
	if (unlikely(!READ_ONCE(p->seen)))
		fresh = kpc_first_hit(c, p);
	if (c->edge_bits && kpc_count_edge(c, s, p, task))
		fresh = true;
	if (unlikely(fresh))
		kpc_new_coverage(c, s);
}

/* One writer: the traced thread, in task context. Full buffer: stop. */
static void kpc_trace(struct kpc_collector *c, struct kpc_probe *p)
{
	u64 pos = READ_ONCE(c->trace[0]);

	if (pos < c->trace_entries) {
		WRITE_ONCE(c->trace[pos + 1], p->index);
		/* Pairs with the reader's load of trace[0] before the entries. */
		smp_store_release(&c->trace[0], pos + 1);
	}
}

/*
 * The per-CPU cache of c (struct kpc_cpu_cache) is used in task context
 * only, with preemption disabled, by c's handlers alone: a handler in
 * interrupt context never uses it, and nothing it calls while filling it
 * can be probed, so it is never re-entered on one CPU.
 */
/* 64 bits: a wrap (a stale cache taken for valid) would need 2^64 bumps. */
static_assert(sizeof(((struct kpc_cpu_cache *)0)->gen) == 8 && sizeof(kpc_gen) == 8);

static __always_inline bool kpc_cache_valid(struct kpc_cpu_cache *cc, u64 gen)
{
	return cc->task == current && cc->gen == gen;
}

/* A miss of the per-CPU cache: the hash lookups, then the cache refilled. */
static noinline void kpc_attribute_slow(struct kpc_collector *c, struct kpc_cpu_cache *cc,
					u64 gen)
{
	int threads = atomic_read(&c->nr_thread), all = atomic_read(&c->nr_entries);
	struct kpc_slot *ts = NULL, *ps = NULL, *one;
	struct kpc_entry *e;

	if (threads) {
		e = kpc_lookup(c, task_pid(current), false);
		ts = e ? e->slot : NULL;
	}
	if (all > threads) {
		e = kpc_lookup(c, task_tgid(current), true);
		ps = e ? e->slot : NULL;
	}
	one = ts ?: ps;
	cc->task = current;
	cc->gen = gen;
	cc->ts = ts;
	cc->ps = ps;
	if (READ_ONCE(c->slow) || (ts && ps && ts != ps))
		cc->one = KPC_ONE_SEVERAL;
	else
		cc->one = one ? (unsigned long)one->counters : KPC_ONE_NONE;
	cc->edges = one ? one->edges : NULL;
	cc->prevp = one ? kpc_prev_cell(one, true) : NULL;
}
NOKPROBE_SYMBOL(kpc_attribute_slow);

/*
 * The cache of current's slots in c (task context), checked first: a hit
 * costs the loads of the check. It also holds "no slot" (kpc_gen changes
 * with every attach and detach, and every fork and exit while attached).
 */
static __always_inline struct kpc_cpu_cache *kpc_attribute(struct kpc_collector *c)
{
	struct kpc_cpu_cache *cc = this_cpu_ptr(c->cache);
	u64 gen = atomic64_read_acquire(&kpc_gen);	/* before the lookups it validates */

	if (unlikely(!kpc_cache_valid(cc, gen)))
		kpc_attribute_slow(c, cc, gen);
	return cc;
}

/*
 * One hit of p, in task context or not: the trace, attribution, the counts
 * of each slot it belongs to, and for a function probe its caller, ret (the
 * return address into it), read from regs when there are regs. Shared by the
 * kprobe handler and the ftrace callback.
 */
static __always_inline void kpc_hit(struct kpc_probe *p, bool task, struct pt_regs *regs,
				    unsigned long ret)
{
	struct kpc_collector *c = p->c;
	struct kpc_slot *ts = NULL, *ps = NULL, *gs;

	if (task) {
		struct pid *traced = READ_ONCE(c->trace_key);
		struct kpc_cpu_cache *cc;

		if (unlikely(traced) && traced == task_pid(current))
			kpc_trace(c, p);
		if (atomic_read(&c->nr_entries)) {
			cc = kpc_attribute(c);
			ts = cc->ts;
			ps = cc->ps;
		}
	}
	gs = READ_ONCE(c->global);

	if (ts)
		kpc_count(c, ts, p, task);
	if (ps && ps != ts)
		kpc_count(c, ps, p, task);
	if (gs && gs != ts && gs != ps)
		kpc_count(c, gs, p, task);
	/* Callers are collector-wide: once per counted call. */
	if (p->callers && (ts || ps || gs))
		kpc_record_caller(c, p, regs, ret);
}

/* Every hit kpc_pre_handler_fast does not count itself; RCU is watching. */
static noinline int kpc_pre_handler_slow(struct kprobe *kp, struct pt_regs *regs)
{
	struct kpc_probe *p = container_of(kp, struct kpc_probe, kp);

	kpc_hit(p, kpc_probed_in_task(kp), regs, 0);
	return 0;
}
NOKPROBE_SYMBOL(kpc_pre_handler_slow);

/* The handler of a probe with a callers table. */
static int kpc_pre_handler_full(struct kprobe *kp, struct pt_regs *regs)
{
	if (unlikely(!kpc_rcu_watching()))
		return 0;
	return kpc_pre_handler_slow(kp, regs);
}
NOKPROBE_SYMBOL(kpc_pre_handler_full);

/*
 * The kprobe handler of a probe without a callers table, one per setting
 * of edges (the collector's, fixed at INIT). The common hit is counted
 * here, with no call and so no stack frame: task context, and nothing
 * attached (nothing counts) or the cache naming one slot of current or
 * none (it names several while c->slow: a trace or a global slot), the
 * probe seen before, and, with edges, the edge seen before in the slot.
 * It changes nothing before all of that is known; anything else goes to
 * kpc_pre_handler_slow. Where RCU is not watching it returns before
 * touching the probe. Every load here is one the common hit needs.
 */
static __always_inline int kpc_pre_handler_fast(struct kprobe *kp, struct pt_regs *regs,
						bool edges)
{
	struct kpc_probe *p = container_of(kp, struct kpc_probe, kp);
	struct kpc_cpu_cache *cc;
	u32 *count, seen;
	unsigned long one;

	if (unlikely(!kpc_rcu_watching()))
		return 0;
	if (unlikely(preempt_count() & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_OFFSET)) &&
	    !kpc_probed_in_task(kp))
		goto full;
	cc = this_cpu_ptr(p->cache);
	if (unlikely(!kpc_cache_valid(cc, atomic64_read_acquire(&kpc_gen)))) {
		struct kpc_collector *c = p->c;

		if (!atomic_read(&c->nr_entries) && !READ_ONCE(c->slow))
			return 0;	/* nothing attached: nothing counts */
		goto full;
	}
	one = cc->one;
	if (one <= KPC_ONE_SEVERAL) {
		if (one == KPC_ONE_NONE)
			return 0;	/* current has no slot in c */
		goto full;
	}
	if (unlikely(!READ_ONCE(p->seen)))
		goto full;
	if (edges) {
		u32 cur = p->edge_cur, *prevp = cc->prevp;

		count = &cc->edges[kpc_edge(cur, prevp)];
		seen = READ_ONCE(*count);
		if (unlikely(!seen))
			goto full;
		WRITE_ONCE(*prevp, kpc_edge_next(cur));
		WRITE_ONCE(*count, seen + 1);
	}
	atomic64_inc((atomic64_t *)one + p->index);
	return 0;
full:
	return kpc_pre_handler_slow(kp, NULL);	/* regs serve the callers table only */
}

static int kpc_pre_handler(struct kprobe *kp, struct pt_regs *regs)
{
	return kpc_pre_handler_fast(kp, regs, false);
}
NOKPROBE_SYMBOL(kpc_pre_handler);

static int kpc_pre_handler_edges(struct kprobe *kp, struct pt_regs *regs)
{
	return kpc_pre_handler_fast(kp, regs, true);
}
NOKPROBE_SYMBOL(kpc_pre_handler_edges);

kprobe_pre_handler_t kpc_pre_handler_of(struct kpc_probe *p)
{
	if (p->callers)
		return kpc_pre_handler_full;
	return p->c->edge_bits ? kpc_pre_handler_edges : kpc_pre_handler;
}

/*
 * The callback of a collector's ftrace_ops, at the fentry call of a function
 * it probes: ip is that call's address, parent_ip the return address into
 * the caller. It runs in the probed context itself (no trap), so in_task()
 * is the context's own. The ops has no FTRACE_OPS_FL_RECURSION: ftrace then
 * calls it directly and it guards itself, as 6.1 requires (the trylock also
 * disables preemption, the table's RCU read side). Where RCU is not watching
 * (idle, early entry code), it counts nothing, as ftrace's FTRACE_OPS_FL_RCU
 * would make it: the table could be freed under it.
 */
void kpc_ftrace_handler(unsigned long ip, unsigned long parent_ip, struct ftrace_ops *op,
			struct ftrace_regs *fregs)
{
	struct kpc_collector *c = container_of(op, struct kpc_collector, fops);
	struct kpc_ftab *t;
	bool task;
	u32 i;
	int bit;

	bit = ftrace_test_recursion_trylock(ip, parent_ip);
	if (bit < 0)
		return;
	if (unlikely(!kpc_rcu_watching()))
		goto out;
	t = rcu_dereference_sched(c->ftab);
	if (unlikely(!t))
		goto out;
	task = in_task();
	for (i = kpc_fhash(ip) & t->mask; t->cells[i].ip; i = (i + 1) & t->mask)
		if (t->cells[i].ip == ip)
			kpc_hit(t->cells[i].p, task, NULL, parent_ip);
out:
	ftrace_test_recursion_unlock(bit);
}
NOKPROBE_SYMBOL(kpc_ftrace_handler);
