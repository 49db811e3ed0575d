/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kprobecov: kernel code coverage for user-space test suites, with kprobes
 * planted at run time on a stock kernel.
 *
 * This header is the whole ABI of /dev/kprobecov. Each open file descriptor
 * is an independent collector. The legal order of calls on one fd:
 *
 *   open -> KPROBECOV_INIT -> mmap (any time after INIT)
 *        -> KPROBECOV_ADD_PROBES ... (batches; any time after INIT)
 *        -> KPROBECOV_ARM / KPROBECOV_DISARM (any time, any subset)
 *        -> KPROBECOV_ATTACH -> run the code under test -> KPROBECOV_DETACH
 *        -> read counters from the mmap'd area -> KPROBECOV_RELEASE
 *        -> ... -> close (unregisters every probe, frees everything)
 *
 * Every ioctl except KPROBECOV_GET_VERSION and KPROBECOV_INIT fails with
 * EBADFD before KPROBECOV_INIT. Unknown commands fail with ENOTTY. Fields
 * marked reserved and unused flag bits must be zero (EINVAL otherwise), so
 * the ABI can grow. Bad user pointers fail with EFAULT. All fields are
 * little-endian host integers.
 *
 * Privilege. Opening the device (its mode and group) is not planting probes.
 * Capabilities are those of the opener (the fd's f_cred, as for perf and
 * /proc/kallsyms), not of the caller:
 *  - ioctls that change state (all but GET_VERSION, GET_PROBE_STATUS,
 *    NEXT_UNHIT and GET_CALLERS) fail with EBADF on an fd not open for writing;
 *  - ADD_PROBES, ARM and DISARM fail with EPERM without CAP_PERFMON or
 *    CAP_SYS_ADMIN, unless the module was loaded with delegate_probes=1;
 *  - kernel addresses follow kallsyms' rule: CAP_SYSLOG, with kptr_restrict
 *    honoured. An address given in (struct kprobecov_probe.address) without
 *    it fails the call with EPERM; addresses going out (callers) are 0.
 *    No other ioctl, the trace or the status takes or gives an address.
 *  - watching another task (ATTACH, TRACE_START) follows ptrace's rule for
 *    reading (PTRACE_MODE_READ_REALCREDS, as perf_event_open) for the
 *    caller: the same real uid and gid as all of the target's, a dumpable
 *    target, or CAP_SYS_PTRACE; the GLOBAL scope needs CAP_SYS_ADMIN.
 *  - a task whose credentials change at exec (setuid, setgid, file
 *    capabilities) stops being counted and traced: it leaves its slots.
 * The mmap'd area is not inherited by fork (VM_DONTCOPY).
 */
#ifndef _UAPI_LINUX_KPROBECOV_H
#define _UAPI_LINUX_KPROBECOV_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KPROBECOV_ABI_VERSION	1
#define KPROBECOV_AREA_MAGIC	0x766f63626f72706bULL	/* "kprobcov" */

#define KPROBECOV_MODULE_LEN	56	/* MODULE_NAME_LEN on 64-bit, with NUL */
#define KPROBECOV_SYMBOL_LEN	128	/* with NUL */
#define KPROBECOV_MAX_BATCH	65536	/* probes per KPROBECOV_ADD_PROBES call */
#define KPROBECOV_MAX_EDGE_BITS	24
#define KPROBECOV_ALL_SLOTS	(~0ULL)

/* What a probe stands for. Value 0 is reserved. */
enum kprobecov_kind {
	KPROBECOV_KIND_FUNC = 1,	/* function entry (offset 0); records callers */
	KPROBECOV_KIND_LINE = 2,	/* first instruction of a line or basic block */
	KPROBECOV_KIND_BRANCH = 3,	/* first instruction of a branch successor */
	KPROBECOV_KIND_MAX = 3,
};

/* Which tasks a slot counts. Value 0 is reserved. */
enum kprobecov_scope {
	KPROBECOV_SCOPE_THREAD = 1,	/* one thread */
	KPROBECOV_SCOPE_PROCESS = 2,	/* all threads of one process, also later ones */
	KPROBECOV_SCOPE_TREE = 3,	/* a process and every process it forks later */
	KPROBECOV_SCOPE_GLOBAL = 4,	/* every task, and interrupt context */
};

/* Which probes KPROBECOV_ARM / KPROBECOV_DISARM act on. Value 0 is reserved. */
enum kprobecov_select_how {
	KPROBECOV_SELECT_ALL = 1,	/* every probe of the collector */
	KPROBECOV_SELECT_RANGE = 2,	/* indices [first, first + count) */
	KPROBECOV_SELECT_GROUP = 3,	/* every probe whose group == group */
};

/* Probe state bits (struct kprobecov_probe_status.state and .state in add). */
#define KPROBECOV_STATE_REGISTERED	(1U << 0) /* planted in the kernel: a kprobe, or at a
						   * function's ftrace location (offset 0 with
						   * an __fentry__ call) an entry of the
						   * collector's ftrace_ops, armed in batches */
#define KPROBECOV_STATE_ARMED		(1U << 1) /* wanted enabled (counts once registered) */
#define KPROBECOV_STATE_PENDING		(1U << 2) /* module not loaded: registered when it loads */
#define KPROBECOV_STATE_GONE		(1U << 3) /* its code went away (unload, freed init code) */
#define KPROBECOV_STATE_FAILED		(1U << 4) /* registration failed: see error */
#define KPROBECOV_STATE_HIT		(1U << 5) /* hit at least once in this collector */
#define KPROBECOV_STATE_KIND_SHIFT	8	  /* bits 8..15: enum kprobecov_kind */

/* KPROBECOV_GET_VERSION: ABI version and the module's limits (parameters). */
struct kprobecov_version {
	__u64 abi;		/* (out) KPROBECOV_ABI_VERSION */
	__u64 max_probes;	/* (out) largest max_probes accepted by INIT */
	__u64 max_slots;	/* (out) largest max_slots accepted by INIT */
	__u64 max_area_bytes;	/* (out) largest counter area INIT may allocate */
	__u64 max_tasks;	/* (out) attached pids per collector (incl. inherited) */
	__u64 max_callers;	/* (out) distinct callers recorded per function probe */
	__u64 reserved[2];
};

/* KPROBECOV_INIT flags. */
#define KPROBECOV_INIT_CALLERS	(1ULL << 0) /* record callers of function probes (costs
					     * a stack read and a table scan per call) */

/*
 * KPROBECOV_INIT: size the collector, once per fd (EBUSY the second time).
 * EBADF: the fd is not open for writing.
 * EINVAL: a size is 0 or above its limit, edge_bits too large, unknown flags.
 * E2BIG: the area (any size, trace_entries too) would exceed max_area_bytes.
 * EDQUOT: the collectors of the opener's user would take more kernel memory than the
 *         module parameter max_user_mb allows (area, tables and max_probes probes).
 * ENOSPC: all collectors together would take more than max_total_mb.
 * ENOMEM: it cannot be had.
 */
struct kprobecov_init {
	__u64 max_probes;	/* (in) capacity of the probe table, >= 1 */
	__u64 max_slots;	/* (in) number of attribution slots, >= 1 */
	__u64 edge_bits;	/* (in) log2 of edge counters per slot; 0: no edges */
	__u64 trace_entries;	/* (in) capacity of the ordered trace; 0: no trace */
	__u64 flags;		/* (in) KPROBECOV_INIT_* */
	__u64 area_bytes;	/* (out) size to mmap at offset 0, a page multiple */
	__u64 reserved[2];
};

/*
 * The mmap'd area (PROT_READ, PROT_WRITE allowed), at these byte offsets:
 *   0                  struct kprobecov_area_header
 *   hit_bitmap_offset  __u64[ceil(max_probes / 64)]: bit i set once probe i
 *                      counted in any slot (collector-wide "ever hit")
 *   counters_offset    __u64[max_slots][max_probes]: hits per slot per probe
 *   slots_offset       struct kprobecov_slot_stats[max_slots]
 *   edges_offset       __u32[max_slots][1 << edge_bits]: hits per edge bucket
 *   edge_bitmap_offset __u64[ceil((1 << edge_bits) / 64)]: edge ever hit
 *   trace_offset       __u64[1 + trace_entries]: [0] = entries written,
 *                      then probe indices in hit order (user resets [0])
 * Hit counters are exact (atomic); edge counts are plain increments after an
 * exact first sighting, so they may miss simultaneous hits on several CPUs.
 * Counters only grow while attached; they wrap at 2^64 (2^32 for edges).
 */
struct kprobecov_area_header {
	__u64 magic;		/* KPROBECOV_AREA_MAGIC */
	__u64 abi;		/* KPROBECOV_ABI_VERSION */
	__u64 max_probes;
	__u64 max_slots;
	__u64 edge_bits;
	__u64 trace_entries;
	__u64 nr_probes;	/* probes added so far (indices 0 .. nr_probes-1) */
	__u64 new_events;	/* (kernel) new-coverage events in any slot */
	__u64 new_events_seen;	/* (user) poll() gives EPOLLIN while != new_events */
	__u64 hit_bitmap_offset;
	__u64 counters_offset;
	__u64 slots_offset;
	__u64 edges_offset;
	__u64 edge_bitmap_offset;
	__u64 trace_offset;
	__u64 reserved[17];
};

/* Per slot, in the area. Written by the kernel; zeroed by RESET/RELEASE. */
#define KPROBECOV_SLOT_FREE	0
#define KPROBECOV_SLOT_ATTACHED	1
#define KPROBECOV_SLOT_DETACHED	2
struct kprobecov_slot_stats {
	__u64 state;		/* KPROBECOV_SLOT_* */
	__u64 sample_id;	/* the caller's id given at ATTACH */
	__u64 scope;		/* enum kprobecov_scope */
	__u64 tasks;		/* pids attributed to the slot now */
	__u64 new_coverage;	/* probes and edges this slot hit first in the collector */
	__u64 edges;		/* distinct edge buckets hit by this slot */
	__u64 lost_tasks;	/* forks not followed: max_tasks was reached */
	__u64 reserved;
};

/* One probe to add. */
struct kprobecov_probe {
	char module[KPROBECOV_MODULE_LEN];	/* (in) module name; "" or "vmlinux": built-in */
	char symbol[KPROBECOV_SYMBOL_LEN];	/* (in) function symbol (static ones too) */
	__u64 offset;		/* (in) bytes from the symbol; 0 for KIND_FUNC */
	__u32 kind;		/* (in) enum kprobecov_kind */
	__u32 group;		/* (in) caller-chosen group, usually the function */
	__s32 error;		/* (out) 0, or the kernel's -errno: ENOENT unknown symbol,
				 * ERANGE offset past the symbol's end, EILSEQ not an
				 * instruction boundary, EINVAL not probe-able
				 * (blacklisted, not text), EADDRNOTAVAIL address is
				 * not symbol + offset, EOVERFLOW in a module's last
				 * function, where kprobes would read past the end of
				 * the module's text (an entry site on ftrace is
				 * planted), EOPNOTSUPP (ENOTSUP to user space, the
				 * same value) an ENDBR64 that is not the function's
				 * entry, e.g. at an address-taken label, on a kernel
				 * built with IBT: an indirect jump onto a breakpoint
				 * there is a #CP where the CPU enforces IBT (at
				 * offset 0 kprobes moves the probe past the ENDBR64
				 * itself), EBUSY, ... */
	__u32 state;		/* (out) KPROBECOV_STATE_* */
	__u64 address;		/* (in) optional, needs CAP_SYSLOG (kallsyms' rule,
				 * else the whole call fails with EPERM): address
				 * of symbol + offset (from /proc/kallsyms), checked
				 * against symbol and offset; saves a kallsyms scan
				 * for built-in code. 0: the kernel resolves it. */
};

/*
 * KPROBECOV_ADD_PROBES: append probes, registered disabled (not counting until
 * armed). Probes get consecutive indices from first_index, failed ones too.
 * Probes of one function should be adjacent: a symbol is resolved once per
 * run of adjacent probes. A probe on a module that is not loaded is PENDING
 * and is registered (and armed, if wanted) when the module loads. A probe
 * whose symbol the loaded module lacks fails with ENOENT, and is PENDING
 * again once the module unloads: a live module has lost its __init symbols,
 * which the next load has (module_init is counted then).
 * A module name that is built in (no .ko) fails with ENOENT: use "vmlinux".
 * A "vmlinux" probe whose symbol or address is a module's fails with ENOENT:
 * name that module.
 * A batch is planted a step at a time, with module loads and unloads between
 * the steps: a module that comes or goes meanwhile leaves its probes as if it
 * had done so after the call (planted, or PENDING).
 * The whole batch is checked first; on EINVAL (bad kind, FUNC with an
 * offset, unterminated or empty string, reserved set), E2BIG (count above
 * KPROBECOV_MAX_BATCH) or ENOSPC (above max_probes) nothing is added.
 * EPERM (nothing added): the opener has neither CAP_PERFMON nor
 * CAP_SYS_ADMIN and delegate_probes is off; or a probe has a non-zero
 * address and the opener may not see kernel addresses (CAP_SYSLOG,
 * kptr_restrict). EBADF: the fd is not open for writing.
 */
struct kprobecov_add_probes {
	__u64 probes;		/* (in) pointer to struct kprobecov_probe[count]; updated */
	__u64 count;		/* (in) >= 1 */
	__u64 flags;		/* (in) must be 0 */
	__u64 first_index;	/* (out) index of probes[0] */
	__u64 registered;	/* (out) probes now planted */
	__u64 pending;		/* (out) probes waiting for their module */
	__u64 failed;		/* (out) probes with an error */
	__u64 reserved;
};

/*
 * KPROBECOV_ARM / KPROBECOV_DISARM. Fields `how` does not use must be 0.
 * EINVAL: bad how, range out of bounds, an unused field set.
 * EPERM: as ADD_PROBES, neither CAP_PERFMON nor CAP_SYS_ADMIN for the opener
 * and delegate_probes off (they patch kernel text). EBADF: fd not writable.
 */
struct kprobecov_select {
	__u32 how;		/* (in) enum kprobecov_select_how */
	__u32 group;		/* (in) for KPROBECOV_SELECT_GROUP */
	__u64 first;		/* (in) for KPROBECOV_SELECT_RANGE */
	__u64 count;		/* (in) for KPROBECOV_SELECT_RANGE */
	__u64 changed;		/* (out) probes whose wanted state changed */
	__u64 reserved;
};

/*
 * KPROBECOV_ATTACH: count the target's hits in a new slot.
 * ESRCH: no such pid. EINVAL: bad scope, pid given with GLOBAL.
 * EBUSY: the target (or a global slot) is already attached in this collector.
 * ENOSPC: every slot is in use (RELEASE one), or max_tasks reached.
 * EPERM: ptrace's rule refuses the target to the caller (not its own thread
 * group, and another uid or gid, or not dumpable, without CAP_SYS_PTRACE),
 * or GLOBAL without CAP_SYS_ADMIN. EBADF: the fd is not open for writing.
 * The target leaves the slot when it execs a program that changes its
 * credentials (setuid, setgid, file capabilities).
 */
struct kprobecov_attach {
	__u64 pid;		/* (in) thread id (THREAD) or any thread of the process;
				 * 0: the caller; must be 0 for GLOBAL */
	__u32 scope;		/* (in) enum kprobecov_scope */
	__u32 flags;		/* (in) must be 0 */
	__u64 sample_id;	/* (in) any value; shown in the slot's stats */
	__u64 slot;		/* (out) slot index */
	__u64 reserved[2];
};

/*
 * KPROBECOV_DETACH: stop counting (counters stay readable). ENOENT: not attached.
 * KPROBECOV_RESET: zero the slot's counters, edges and stats but its state;
 *   slot KPROBECOV_ALL_SLOTS also clears the collector-wide bitmaps.
 * KPROBECOV_RELEASE: detach if needed, zero, and free the slot for reuse.
 *   ENOENT: slot already free.
 * All: EINVAL for a slot out of range; EBADF if the fd is not open for writing.
 */
struct kprobecov_slot_op {
	__u64 slot;		/* (in) slot index */
	__u64 flags;		/* (in) must be 0 */
};

/* KPROBECOV_GET_PROBE_STATUS: states of probes [first, first + count). */
struct kprobecov_probe_status {
	__u32 state;		/* KPROBECOV_STATE_* with the kind in bits 8..15 */
	__s32 error;		/* 0 or -errno of the last registration attempt */
};
struct kprobecov_status_query {
	__u64 first;		/* (in) EINVAL if first + count > nr_probes */
	__u64 count;		/* (in) */
	__u64 status;		/* (in) pointer to struct kprobecov_probe_status[count] */
	__u64 reserved;
};

/*
 * KPROBECOV_NEXT_UNHIT: the first probe at or after `from` never hit in the
 * collector, of the kinds in `kinds`, after skipping `skip` such probes.
 * Probes that failed to register are not candidates. ENOENT: none left.
 */
struct kprobecov_next_unhit {
	__u64 from;		/* (in) first index to look at */
	__u64 kinds;		/* (in) mask of 1 << enum kprobecov_kind; 0: any */
	__u64 skip;		/* (in) matches to pass over */
	__u64 index;		/* (out) the probe found */
	__u64 reserved;
};

/*
 * KPROBECOV_GET_CALLERS: distinct callers of a KIND_FUNC probe, recorded
 * while it counted in any slot. EINVAL: not a function probe. ENODATA: the
 * collector was not INIT with KPROBECOV_INIT_CALLERS.
 */
struct kprobecov_caller {
	__u64 address;		/* return address; 0 unless the opener may see
				 * kernel addresses (CAP_SYSLOG, kptr_restrict) */
	__u64 calls;		/* calls from it (plain counter: may miss calls made
				 * at the same instant on several CPUs) */
	char symbol[KPROBECOV_SYMBOL_LEN];	/* "func+0x1a/0x40 [module]" */
};
struct kprobecov_callers {
	__u64 probe;		/* (in) probe index */
	__u64 callers;		/* (in) pointer to struct kprobecov_caller[capacity] */
	__u64 capacity;		/* (in) */
	__u64 count;		/* (out) callers recorded (may exceed capacity) */
	__u64 overflow;		/* (out) calls from callers beyond max_callers */
	__u64 reserved;
};

/*
 * KPROBECOV_TRACE_START: record every hit of one thread, in order, into the
 * trace region (whether or not it is attached to a slot). EINVAL: trace
 * disabled at INIT. EBUSY: a thread is traced already. ESRCH: no such thread.
 * EPERM: ptrace's rule refuses the thread (as ATTACH). The trace stops when
 * the thread execs a program that changes its credentials.
 * KPROBECOV_TRACE_STOP: takes no argument. ENOENT: no trace running.
 * Both: EBADF if the fd is not open for writing.
 */
struct kprobecov_trace {
	__u64 tid;		/* (in) thread id; 0: the caller */
	__u64 flags;		/* (in) must be 0 */
};

#define KPROBECOV_IOC			0xB8
#define KPROBECOV_GET_VERSION		_IOR(KPROBECOV_IOC, 0x00, struct kprobecov_version)
#define KPROBECOV_INIT			_IOWR(KPROBECOV_IOC, 0x01, struct kprobecov_init)
#define KPROBECOV_ADD_PROBES		_IOWR(KPROBECOV_IOC, 0x02, struct kprobecov_add_probes)
#define KPROBECOV_ARM			_IOWR(KPROBECOV_IOC, 0x03, struct kprobecov_select)
#define KPROBECOV_DISARM		_IOWR(KPROBECOV_IOC, 0x04, struct kprobecov_select)
#define KPROBECOV_ATTACH		_IOWR(KPROBECOV_IOC, 0x05, struct kprobecov_attach)
#define KPROBECOV_DETACH		_IOW(KPROBECOV_IOC, 0x06, struct kprobecov_slot_op)
#define KPROBECOV_RESET			_IOW(KPROBECOV_IOC, 0x07, struct kprobecov_slot_op)
#define KPROBECOV_RELEASE		_IOW(KPROBECOV_IOC, 0x08, struct kprobecov_slot_op)
#define KPROBECOV_GET_PROBE_STATUS	_IOW(KPROBECOV_IOC, 0x09, struct kprobecov_status_query)
#define KPROBECOV_NEXT_UNHIT		_IOWR(KPROBECOV_IOC, 0x0a, struct kprobecov_next_unhit)
#define KPROBECOV_GET_CALLERS		_IOWR(KPROBECOV_IOC, 0x0b, struct kprobecov_callers)
#define KPROBECOV_TRACE_START		_IOW(KPROBECOV_IOC, 0x0c, struct kprobecov_trace)
#define KPROBECOV_TRACE_STOP		_IO(KPROBECOV_IOC, 0x0d)

#endif /* _UAPI_LINUX_KPROBECOV_H */
