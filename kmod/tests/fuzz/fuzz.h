/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kpc_fuzz: a coverage-guided fuzzer of /dev/kprobecov.
 *
 * A program is a short sequence of operations (struct fz_op): open, close,
 * every ioctl of the uapi header, mmap/munmap, poll, hits on probed code,
 * fork/exec/exit of attached tasks, insmod/rmmod of the target module, a
 * SIGKILL of the executor itself. An operation's arguments are raw 64-bit
 * values that the executor (exec.c) interprets: most select a valid, a
 * boundary or a garbage value, so that one mutation of one number moves an
 * argument between those classes.
 *
 * Processes (main.c):
 *   fuzzer    generates and mutates programs, keeps the corpus (programs that
 *             reached a kprobecov.ko PC no earlier program reached), watches
 *             /dev/kmsg for kernel reports after each program;
 *   executor  a child that runs programs one by one with two threads (the
 *             second runs operations marked racing), KCOV enabled on both;
 *             respawned when a program kills it.
 * They share struct fz_shared (one MAP_SHARED mapping) and two pipes.
 */
#ifndef KPC_FUZZ_H
#define KPC_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <linux/kprobecov.h>

#define FZ_MAX_OPS	24	/* operations per program */
#define FZ_NR_FDS	4	/* collector fds a program juggles */
#define FZ_NR_ARGS	6

/* Operations. Keep fz_op_names (prog.c) in the same order. */
enum fz_kind {
	FZ_OPEN,	/* a0: open flags choice */
	FZ_CLOSE,
	FZ_VERSION,
	FZ_INIT,	/* a0..a4: max_probes, max_slots, edge_bits, trace_entries, flags;
			 * a5: reserved word */
	FZ_MMAP,	/* a0: length choice, a1: offset choice, a2: prot choice */
	FZ_MUNMAP,
	FZ_ADD,		/* a0: count choice, a1: template seed, a2: garbage level,
			 * a3: flags, a4: reserved, a5: array pointer choice */
	FZ_ARM,		/* a0: how, a1: group, a2: first, a3: count, a4: reserved */
	FZ_DISARM,
	FZ_ATTACH,	/* a0: pid choice, a1: scope, a2: flags, a3: sample_id, a4: reserved */
	FZ_DETACH,	/* a0: slot choice, a1: flags */
	FZ_RESET,
	FZ_RELEASE,
	FZ_STATUS,	/* a0: first, a1: count, a2: array pointer choice, a3: reserved */
	FZ_NEXT_UNHIT,	/* a0: from, a1: kinds, a2: skip, a3: reserved */
	FZ_CALLERS,	/* a0: probe, a1: capacity, a2: array pointer choice, a3: reserved */
	FZ_TRACE_START,	/* a0: tid choice, a1: flags */
	FZ_TRACE_STOP,	/* a0: the (ignored) argument */
	FZ_RAW_IOCTL,	/* a0: command number, a1: argument, a2: fill of the buffer */
	FZ_POLL,
	FZ_AREA_RW,	/* a0: byte offset into the mapped area, a1: value written */
	FZ_HIT,		/* a0: which code to run (kpc_target commands, probed syscalls) */
	FZ_FORK,	/* a0: what the child does (exit, exec, hit then exit, thread) */
	FZ_MOD_LOAD,
	FZ_MOD_UNLOAD,
	FZ_KILL,	/* SIGKILL the executor (a0: after this many microseconds) */
	FZ_STORM,	/* a0: 64 + a0 % 2048 quick ioctls of any kind on the fd, with
			 * arguments drawn from seed a1 (no probe planted, so each costs
			 * little: the many calls that validation paths want) */
	FZ_NR_KINDS
};

/* Where a struct argument points (fz_op.ptr). */
enum fz_ptr {
	FZ_PTR_VALID,
	FZ_PTR_NULL,
	FZ_PTR_UNMAPPED,	/* a guard page */
	FZ_PTR_STRADDLE,	/* ends inside the guard page */
	FZ_PTR_READONLY,	/* readable, not writable */
	FZ_PTR_KERNEL,		/* a kernel address */
	FZ_PTR_AREA,		/* inside the collector's own mapped area */
	FZ_NR_PTRS
};

/* How an operation runs (fz_op.thread). */
enum fz_thread {
	FZ_MAIN,	/* on the main thread */
	FZ_ASYNC,	/* on the second thread, the main thread goes on */
	FZ_BOTH,	/* on both threads at once */
	FZ_NR_THREADS
};

struct fz_op {
	uint8_t kind;		/* enum fz_kind */
	uint8_t fd;		/* collector fd slot, < FZ_NR_FDS */
	uint8_t thread;		/* enum fz_thread */
	uint8_t ptr;		/* enum fz_ptr: the struct argument's pointer */
	uint32_t fail_nth;	/* 0, or fail the thread's n-th allocation in the call */
	uint64_t a[FZ_NR_ARGS];
};

struct fz_prog {
	uint32_t n;
	struct fz_op ops[FZ_MAX_OPS];
};

/* Deterministic random numbers (splitmix64). */
struct fz_rng {
	uint64_t s;
};
uint64_t fz_rand(struct fz_rng *r);
static inline uint64_t fz_below(struct fz_rng *r, uint64_t n)
{
	return n ? fz_rand(r) % n : 0;
}

/* The module's limits, read once with GET_VERSION: generation aims at them. */
extern struct kprobecov_version fz_limits;

/* prog.c */
extern const char *const fz_op_names[FZ_NR_KINDS];
void fz_generate(struct fz_rng *r, struct fz_prog *p);
void fz_gen_args(struct fz_rng *r, struct fz_op *o);
void fz_mutate(struct fz_rng *r, struct fz_prog *p, const struct fz_prog *other);
void fz_print(FILE *f, const struct fz_prog *p);
int fz_parse(FILE *f, struct fz_prog *p);	/* 1: one read, 0: end of file, -1: bad */
uint64_t fz_boundary(struct fz_rng *r);

/* cover.c: kprobecov.ko's KCOV callback sites, and KCOV on a thread. */
struct fz_sites {
	uint64_t *pc;		/* sorted: return addresses of the calls, as KCOV records them */
	uint32_t n;		/* all sites */
	uint32_t n_text;	/* of them in sections that run after init (not .init/.exit) */
	uint32_t n_tail;	/* tail calls of the callback, not counted in n */
	uint64_t lo, hi;	/* [lo, hi): around every range below */
	unsigned int n_ranges;
	uint64_t range[16][2];	/* [start, end) of each executable section that stays
				 * loaded (.init ones are freed: another module's
				 * text may take their place) */
};
int fz_sites_load(struct fz_sites *s, const char *ko, const char *module);
int fz_in_module(const struct fz_sites *s, uint64_t pc);
long fz_site_index(const struct fz_sites *s, uint64_t pc);	/* -1: not a site */
uint64_t *fz_kcov_enable(void);		/* NULL when KCOV is missing */
#define FZ_KCOV_WORDS	(1 << 18)

/* kmsg.c: kernel reports in /dev/kmsg. */
int fz_kmsg_open(void);
/* Reads what is new; returns 1 and fills line with the first report line, if any. */
int fz_kmsg_check(int fd, char *line, size_t len, FILE *log);

/* exec.c */
struct fz_shared;
void fz_executor(struct fz_shared *sh, int in, int out) __attribute__((noreturn));

/* State shared between the fuzzer and its executor. */
#define FZ_MAX_SITES	32768
struct fz_shared {
	struct fz_prog prog;		/* what to run */
	struct fz_sites sites;		/* copy of the fuzzer's (pc points into sitepc) */
	uint64_t sitepc[FZ_MAX_SITES];
	uint8_t hit[FZ_MAX_SITES];	/* sites the running program reached */
	uint64_t stray;			/* PCs in the module's text that are no site */
	uint64_t stray_pc[16];		/* the first distinct ones, to name in the summary */
	uint64_t ioctls;		/* ioctl calls made, all programs */
	uint64_t calls;			/* calls on the device (open, close, mmap, poll too) */
	uint64_t faults;		/* allocations failed by fail-nth */
	uint32_t op;			/* operation being run */
	int kcov;			/* KCOV works in the executor */
	char target_ko[512];		/* kpc_target.ko, for FZ_MOD_LOAD */
	char self[512];			/* this program, for the exec of FZ_FORK */
};

#endif /* KPC_FUZZ_H */
