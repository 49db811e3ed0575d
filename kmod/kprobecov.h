/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kprobecov internals shared by the module's files. The ABI is in
 * include/uapi/linux/kprobecov.h; nothing here crosses it.
 */
#ifndef _KPROBECOV_INTERNAL_H
#define _KPROBECOV_INTERNAL_H

#include <linux/atomic.h>
#include <linux/ftrace.h>
#include <linux/irq_work.h>
#include <linux/hash.h>
#include <linux/kprobes.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <uapi/linux/kprobecov.h>

/* Module parameters (read-only once loaded). */
extern unsigned long kpc_max_probes;
extern unsigned int kpc_max_slots;
extern unsigned int kpc_max_area_mb;
extern unsigned int kpc_max_tasks;
extern unsigned int kpc_max_callers;

/*
 * kpc_mutex serialises everything that plants or removes kprobes and the
 * list of collectors: ADD_PROBES, ARM, DISARM, close, and the module
 * notifier. Lock order: collector->mutex -> kpc_mutex -> (kprobe_mutex).
 * kpc_collectors is also walked under RCU by the fork/exit tracepoints.
 */
extern struct mutex kpc_mutex;
extern struct list_head kpc_collectors;

/* Attachments of all collectors: the fork/exit hooks return at once at 0. */
extern atomic_t kpc_total_entries;
extern atomic_t kpc_tree_entries;

/*
 * Bumped (release) after every link or unlink of an attached pid, every
 * change of a collector's slow, and at every fork and task exit while any
 * pid is attached (so a task_struct cannot be reused by another task
 * without it changing): the hot path's per-CPU lookup caches are valid
 * while it is unchanged.
 */
extern atomic64_t kpc_gen;
void kpc_gen_bump(void);

/* Index of the built-in kernel among a collector's targets. */
#define KPC_TARGET_VMLINUX 0

/* A distinct caller of a function probe; addr 0 means a free cell. */
struct kpc_caller {
	unsigned long addr;
	u64 calls;
};

/*
 * One probe. Its state changes only under kpc_mutex; the hot path reads
 * only c, cache, index, edge_cur, seen, callers and the collector's area.
 *   !registered && pending   waiting for its module to load (unloaded: it went)
 *   registered               planted; counts when want_armed
 *   !registered && !pending  failed; error holds -errno
 * A probe is planted one of two ways. At a function's ftrace location (its
 * __fentry__ call, offset 0) it is an entry of the collector's ftrace_ops
 * (ftrace set, kp unused): armed and disarmed in batches, one code update
 * per ioctl or module event (ftrace.c). Anywhere else it is a kprobe (kp).
 */
struct kpc_probe {
	struct kprobe kp;
	struct kpc_collector *c;
	struct kpc_cpu_cache __percpu *cache;	/* c->cache: the fast path loads no c */
	u32 index;
	u32 edge_cur;		/* edges on: its AFL location, hash_32(index, edge_bits) */
	u32 group;
	u32 kind;		/* enum kprobecov_kind */
	u32 target;		/* index into c->targets */
	u64 offset;		/* bytes from symbol */
	u64 address;		/* user-given address (built-in code only), or 0 */
	char *symbol;
	int error;
	bool want_armed;
	bool registered;
	bool pending;
	bool unloaded;		/* its module went away after it was planted */
	bool seen;		/* mirrors its bit in c->hit_bitmap, next to kp */
	bool ftrace;		/* registered through c->fops at ip, not as kp */
	bool gone;		/* ftrace: its code (module init text) was freed */
	unsigned long ip;	/* ftrace: the fentry call site it counts at */
	struct kpc_caller *callers;	/* KIND_FUNC only: c->max_callers cells */
	u64 caller_overflow;
};

/* Number of hashed per-task "previous probe" cells per slot (edges). */
#define KPC_PREV_BITS 6

/* A slot: one attribution target's counters. States as KPROBECOV_SLOT_*. */
struct kpc_slot {
	u32 index;
	u32 state;		/* changes under c->tlock */
	struct list_head entries;	/* struct kpc_entry.slot_link, under c->tlock */
	u64 *counters;		/* area: max_probes hit counters */
	u32 *edges;		/* area: 1 << edge_bits counters, or NULL */
	struct kprobecov_slot_stats *stats;	/* area */
	u32 prev[1 << KPC_PREV_BITS];	/* AFL-style previous location per hashed task */
	u32 prev_irq;
};

/*
 * Per collector and CPU, the last attribution lookup in task context: the
 * slots of task, valid while kpc_gen equals gen (hit.c). one is what the
 * fast path needs of them: KPC_ONE_NONE (no slot), KPC_ONE_SEVERAL (two
 * distinct slots, or c->slow: the full path counts), or the counters of
 * the one slot, whose edge counters (NULL: edges off) and task's
 * previous-location cell are edges and prevp.
 */
#define KPC_ONE_NONE 0UL
#define KPC_ONE_SEVERAL 1UL
struct kpc_cpu_cache {
	struct task_struct *task;
	u64 gen;
	unsigned long one;
	u32 *edges;
	u32 *prevp;
	struct kpc_slot *ts, *ps;
};

/*
 * An attached pid. key is a task's thread pid (process == false) or its
 * thread-group pid (process == true); the collector holds a reference on
 * key, so the pointer is unique for the entry's lifetime. Added and
 * removed under c->tlock, looked up under RCU, freed after a grace period.
 */
struct kpc_entry {
	struct hlist_node hnode;
	struct list_head slot_link;
	struct pid *key;
	struct kpc_slot *slot;
	bool process;
	bool tree;
	struct rcu_head rcu;
};

#define KPC_TABLE_BITS 10

/*
 * The entry probes of a collector that count now (ftrace planted, armed,
 * code present), by fentry site: open addressing with linear probing, one
 * cell per probe (several probes of a collector may share a site), ip 0 =
 * empty, at most a quarter full. Built whole under kpc_mutex, published
 * with RCU, read by the ftrace callback.
 */
struct kpc_fcell {
	unsigned long ip;
	struct kpc_probe *p;
};
struct kpc_ftab {
	struct rcu_head rcu;
	u32 mask;
	struct kpc_fcell cells[];
};

static inline u32 kpc_fhash(unsigned long ip)
{
	return hash_long(ip, 32);
}

/*
 * A collector: one open /dev/kprobecov. State machine:
 *   OPEN --INIT--> READY (area allocated, on kpc_collectors) --close--> freed
 * In READY: probes are appended (never removed before close), slots cycle
 * FREE -> ATTACHED -> DETACHED -> FREE (RELEASE), and at most one slot
 * may be the global one. Ioctls on one fd are serialised by mutex.
 */
struct kpc_collector {
	struct file *file;		/* the opener's: its f_cred decide privileges */
	struct mutex mutex;
	spinlock_t tlock;		/* table, slot entries and states, global */
	struct list_head node;		/* on kpc_collectors, under kpc_mutex + RCU */

	/* Fixed at INIT. */
	void *area;			/* vmalloc_user; published with release */
	size_t area_bytes;
	u64 charged;			/* bytes charged to the budgets (kpc_charge), 0: none */
	struct list_head budget_node;	/* on kpc_budget while charged, under kpc_budget_lock */
	u64 max_probes;
	u32 max_slots;
	u32 edge_bits;
	u64 trace_entries;
	u32 max_callers;
	struct kprobecov_area_header *hdr;
	unsigned long *hit_bitmap;
	unsigned long *edge_bitmap;
	u64 *trace;			/* [0] = entries written */
	struct kpc_slot *slots;
	struct hlist_head table[1 << KPC_TABLE_BITS];

	/*
	 * Grow under mutex + kpc_mutex. nr_probes counts the probes kpc_mutex's holders
	 * see, which an ADD_PROBES in progress publishes before planting them
	 * (hdr->nr_probes, what user space sees, only when it returns).
	 */
	struct kpc_probe **probes;
	u64 nr_probes;
	char (*targets)[KPROBECOV_MODULE_LEN];	/* kvmalloc'd, room for targets_cap */
	u32 nr_targets, targets_cap;
	u32 *target_tab;		/* open addressing: target index + 1 by name, 0 empty */
	u32 target_mask;		/* target_tab has target_mask + 1 cells, or none */

	struct kpc_cpu_cache __percpu *cache;	/* allocated at INIT */

	/*
	 * Change under mutex; slow is global || trace_key, set after them,
	 * then kpc_gen bumped: the per-CPU caches are refilled knowing it.
	 */
	struct kpc_slot *global;	/* READ_ONCE on the hot path */
	struct pid *trace_key;		/* thread being traced, or NULL */
	bool slow;			/* the fast path defers to the full one */
	atomic_t nr_entries;		/* attached pids */
	atomic_t nr_thread;		/* of which thread keys */
	atomic_t nr_tree;		/* of which tree-scoped */

	wait_queue_head_t poll_wq;
	struct irq_work poll_work;

	/* Entry probes through ftrace (ftrace.c); under kpc_mutex. */
	struct ftrace_ops fops;		/* func: kpc_ftrace_handler; filter = fips */
	struct kpc_ftab __rcu *ftab;	/* read by the callback */
	unsigned long *fips;		/* sorted distinct sites in the filter */
	u64 nr_fips;
	bool fops_registered;
	bool fdirty;			/* an entry probe's counting state changed */
};

/* hit.c: the kprobe handler and the ftrace callback. */
kprobe_pre_handler_t kpc_pre_handler_of(struct kpc_probe *p);	/* the kprobe handler for p */
void kpc_ftrace_handler(unsigned long ip, unsigned long parent_ip, struct ftrace_ops *op,
			struct ftrace_regs *fregs);
struct kpc_entry *kpc_lookup(struct kpc_collector *c, struct pid *key, bool process);

/* probes.c: the probe table. kpc_probe_state, kpc_target_index, kpc_unplant: under kpc_mutex. */
int kpc_add_probes(struct kpc_collector *c, struct kprobecov_probe *specs,
		   u64 count, struct kprobecov_add_probes *out);
int kpc_select(struct kpc_collector *c, const struct kprobecov_select *sel, bool arm,
	       u64 *changed);
void kpc_retire(struct kpc_collector *c);
void kpc_free_probes(struct kpc_collector *c);
u32 kpc_probe_state(struct kpc_collector *c, struct kpc_probe *p);
int kpc_target_index(struct kpc_collector *c, const char *module, bool add);
void kpc_unplant(struct kpc_collector *c, int target, bool unloaded);

/* resolve.c: symbol resolution and the module-text checks. */
struct kobject;
struct module;
struct module *kpc_get_module(const char *name, struct kobject **kobj, bool *builtin);
int kpc_resolve_module(struct module *mod, struct kpc_probe **probes, u32 n,
		       unsigned long *addresses, int *errors);
bool kpc_at_offset(struct kpc_probe *p, unsigned long addr, u32 kp_flags,
		   unsigned long *off, bool *named);
bool kpc_in_module_text(unsigned long addr);
bool *kpc_vmlinux_tails(struct kpc_probe **probes, u32 n);
bool kpc_decode_overruns(struct module *mod, unsigned long addr);

/* plant.c: planting, under kpc_mutex. */
void kpc_plant_module(struct kpc_collector *c, struct module *mod,
		      struct kpc_probe **probes, u32 n);
void kpc_plant_step(struct kpc_collector *c, u32 target, struct kpc_probe **run, u32 n);

/* notifier.c: the module notifier. */
int kpc_module_notifier_init(void);
void kpc_module_notifier_exit(void);

/* ftrace.c */
void kpc_ftrace_init(struct kpc_collector *c);
void kpc_ftrace_plant(struct kpc_collector *c, struct kpc_probe **probes,
		      const unsigned long *addrs, u32 n, bool *planted);
void kpc_ftrace_sync(struct kpc_collector *c);
void kpc_ftrace_free(struct kpc_collector *c);

/* attach.c */
int kpc_attach(struct kpc_collector *c, struct kprobecov_attach *a);
int kpc_detach(struct kpc_collector *c, u64 slot);
int kpc_reset(struct kpc_collector *c, u64 slot);
int kpc_release_slot(struct kpc_collector *c, u64 slot);
void kpc_detach_all(struct kpc_collector *c);
int kpc_trace_start(struct kpc_collector *c, const struct kprobecov_trace *t);
int kpc_trace_stop(struct kpc_collector *c);
int kpc_task_hooks_init(void);
void kpc_task_hooks_exit(void);

#endif /* _KPROBECOV_INTERNAL_H */
