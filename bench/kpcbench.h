/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kpcbench: the kprobecov benchmark driver. Runs as root inside the test
 * guest with kprobecov.ko, kpc_bench.ko and kpc_sites.ko loaded, and prints
 * one markdown section (see bench/run-in-guest.sh and bench/README.md).
 *
 *   kpcbench.c  options, the machine's facts, the parts in order, the issues seen
 *   common.c    messages, clocks, ioctl with restart, statistics
 *   sites.c     the probe sites of both parts and the code bytes planted there
 *   handler.c   part 1, handler cost
 *   manage.c    part 2, probe management cost
 *
 * kprobecov's ioctls go through the selftests' helpers (kmod/tests/kpc_util.h:
 * kpc_probe, kpc_add, kpc_select, kpc_attach, kpc_open_misc) where they do
 * what the benchmark needs; INIT (the selftests' kpc_col_open asserts and
 * records callers) and the benchmark modules' own ioctls stay raw.
 *
 * Three kinds of probe site, in both parts:
 *   entry: function entry, offset 0: an ftrace site (the reference is an
 *          ftrace-based kprobe, kprobecov's probe an entry of its ftrace_ops);
 *   jump:  a line site that kprobes optimizes into a jump (checked);
 *   int3:  a line site that kprobes cannot optimize: stays a breakpoint.
 *
 * Part 1, handler cost: kpc_bench loops over a noinline target function; each
 * configuration (no probe, empty reference kprobe, kprobecov probe with 0, 1
 * or 64 slots, edges off or on) has a target of its own, all stay set up
 * together, and the rounds are interleaved so that drift of this noisy
 * machine hits all configurations alike. Ratios are taken within a round.
 *
 * Part 2, probe management cost: ADD_PROBES, ARM, DISARM and close of
 * 100 .. 10,000 probes on kpc_sites' functions, and the same steps done with
 * bare kprobes by kpc_sites (the reference), within a time budget; a size
 * that would not fit is reported as not run, with the projection.
 */
#ifndef KPCBENCH_H
#define KPCBENCH_H

#include <stdint.h>
#include <stdio.h>

/* The selftests' helpers (and, through them, linux/kprobecov.h). */
#include "kpc_util.h"
#include "kpc_bench/kpc_bench_uapi.h"

#define MAX_ROUNDS	64
#define MAX_REPS	5
#define MAX_SIZES	8
#define MAX_SITES	100000
#define NR_COLLS	5	/* kprobecov collectors of part 1 */
#define NR_OTHERS	63	/* processes attached besides the looping one */
#define OP_JMP32	0xe9	/* an optimized kprobe's jump */
#define OP_CALL32	0xe8	/* an enabled ftrace site's call */
#define OP_INT3		0xcc	/* a kprobe's breakpoint */

/* The run's parameters (options of kpcbench.c). */
extern const char *bench_dir;
extern uint64_t iterations;
extern int rounds;
extern unsigned edge_bits;
extern double budget_s;
extern unsigned sizes[MAX_SIZES];
extern int nr_sizes;

extern FILE *out;		/* the markdown section (a memstream) */
extern struct kprobecov_version kver;

/* common.c */
/* A module issue: listed in the output, and kpcbench exits 3. */
void issue(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern char issues[32][600];
extern int nr_issues;
void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...);
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double now_s(void);
void sleep_s(double s);
/* ioctl that returns 0 or -errno, restarted after signals. */
int xioctl(int fd, unsigned long req, void *arg);
/* /dev/<name> opened read-write, or die. */
int open_dev(const char *name);

struct stat3 {
	double med, min, max;
	double q1, q3;		/* quartiles */
};
/* Median and range of v[0..n), NaNs left out. */
struct stat3 stats(const double *v, int n);

/* sites.c */
enum site { SITE_ENTRY, SITE_JUMP, SITE_INT3, NR_SITE_KINDS };
extern const char *const site_name[NR_SITE_KINDS];

struct site_offsets {
	unsigned jump, int3;	/* line sites A and B of line-offsets.sh */
	char module[32];	/* the module holding the function */
};

unsigned site_offset(const struct site_offsets *o, enum site s);
int site_kind(enum site s);
unsigned load_offsets(const char *file, const char *prefix, struct site_offsets *off,
		      unsigned max);
void read_text(int dev, struct kpcb_site *sites, size_t n);
size_t count_first_byte(const struct kpcb_site *sites, size_t n, int b1, int b2);
double wait_text(int dev, struct kpcb_site *sites, size_t n, int b1, int b2,
		 size_t want, double timeout_s, size_t *got);
void planted_ops(enum site s, int *b1, int *b2);

/* handler.c, manage.c */
void handler_bench(void);
void manage_bench(void);

#endif /* KPCBENCH_H */
