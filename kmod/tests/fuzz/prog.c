// SPDX-License-Identifier: GPL-2.0
/*
 * Programs: generation, mutation, and their text form (the corpus files).
 *
 * Text form, one operation a line, '#' starts a comment, a blank line or
 * "end" ends a program (a file may hold several):
 *   NAME FD THREAD PTR FAIL_NTH A0 A1 A2 A3 A4 A5
 * NAME is one of fz_op_names; the numbers are those of struct fz_op (the
 * arguments in hex). Generation favours valid arguments and bounded sizes:
 * under TCG a kprobe costs milliseconds to plant, an INIT of a large area
 * tens of them.
 */
#include <string.h>
#include <stdlib.h>

#include "fuzz.h"

const char *const fz_op_names[FZ_NR_KINDS] = {
	"open", "close", "version", "init", "mmap", "munmap", "add", "arm", "disarm",
	"attach", "detach", "reset", "release", "status", "next_unhit", "callers",
	"trace_start", "trace_stop", "raw_ioctl", "poll", "area_rw", "hit", "fork",
	"mod_load", "mod_unload", "kill", "storm",
};

/* How often each operation is generated, relative. */
static const unsigned int fz_weight[FZ_NR_KINDS] = {
	[FZ_OPEN] = 4, [FZ_CLOSE] = 2, [FZ_VERSION] = 2, [FZ_INIT] = 5, [FZ_MMAP] = 4,
	[FZ_MUNMAP] = 2, [FZ_ADD] = 10, [FZ_ARM] = 8, [FZ_DISARM] = 5, [FZ_ATTACH] = 10,
	[FZ_DETACH] = 5, [FZ_RESET] = 4, [FZ_RELEASE] = 5, [FZ_STATUS] = 5,
	[FZ_NEXT_UNHIT] = 4, [FZ_CALLERS] = 4, [FZ_TRACE_START] = 4, [FZ_TRACE_STOP] = 3,
	[FZ_RAW_IOCTL] = 4, [FZ_POLL] = 2, [FZ_AREA_RW] = 3, [FZ_HIT] = 10, [FZ_FORK] = 3,
	[FZ_MOD_LOAD] = 1, [FZ_MOD_UNLOAD] = 1, [FZ_KILL] = 1, [FZ_STORM] = 6,
};

struct kprobecov_version fz_limits;

uint64_t fz_rand(struct fz_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A value at an edge: of the integer types, of the ABI's limits, of the module's. */
uint64_t fz_boundary(struct fz_rng *r)
{
	const uint64_t fixed[] = {
		0, 1, 2, 3, 7, 8, 63, 64, 65, 255, 256, 4095, 4096, 4097, 65535,
		KPROBECOV_MAX_BATCH, KPROBECOV_MAX_BATCH + 1, KPROBECOV_MAX_EDGE_BITS,
		KPROBECOV_MAX_EDGE_BITS + 1, 1ULL << 31, 0xffffffffULL, 1ULL << 32,
		1ULL << 61, 1ULL << 63, ~0ULL - 1, ~0ULL,
	};
	const uint64_t lim[] = {
		fz_limits.max_probes, fz_limits.max_slots, fz_limits.max_area_bytes,
		fz_limits.max_tasks, fz_limits.max_callers,
	};
	uint64_t n = sizeof(fixed) / sizeof(fixed[0]);

	if (fz_below(r, 3) == 0)
		return lim[fz_below(r, 5)] + fz_below(r, 3) - 1;
	return fixed[fz_below(r, n)];
}

/* Mostly small, sometimes at an edge, rarely anything. */
static uint64_t fz_small(struct fz_rng *r, uint64_t below)
{
	uint64_t k = fz_below(r, 20);

	if (k < 16)
		return fz_below(r, below);
	if (k < 19)
		return fz_boundary(r);
	return fz_rand(r);
}

/* Usually zero (reserved fields, flags), sometimes not. */
static uint64_t fz_zero(struct fz_rng *r)
{
	return fz_below(r, 16) ? 0 : fz_small(r, 4);
}

static unsigned int fz_pick_kind(struct fz_rng *r)
{
	unsigned int total = 0, k;
	uint64_t x;

	for (k = 0; k < FZ_NR_KINDS; k++)
		total += fz_weight[k];
	x = fz_below(r, total);
	for (k = 0; k < FZ_NR_KINDS; k++) {
		if (x < fz_weight[k])
			return k;
		x -= fz_weight[k];
	}
	return FZ_HIT;
}

void fz_gen_args(struct fz_rng *r, struct fz_op *o)
{
	uint64_t *a = o->a;

	memset(a, 0, sizeof(o->a));
	switch (o->kind) {
	case FZ_OPEN:
		a[0] = fz_below(r, 8) ? 0 : fz_below(r, 4);
		break;
	case FZ_INIT:
		a[0] = fz_small(r, 64);
		a[1] = fz_small(r, 8);
		a[2] = fz_below(r, 2) ? 0 : fz_small(r, 13);
		a[3] = fz_below(r, 2) ? 0 : fz_small(r, 1024);
		a[4] = fz_below(r, 2) ? KPROBECOV_INIT_CALLERS : fz_zero(r);
		a[5] = fz_zero(r);
		if (fz_below(r, 4)) {	/* mostly a collector that works */
			a[0] |= 1;
			a[1] |= 1;
		}
		break;
	case FZ_MMAP:
		a[0] = fz_below(r, 6) ? 0 : fz_below(r, 4);
		a[1] = fz_below(r, 8) ? 0 : fz_small(r, 4);
		a[2] = fz_below(r, 6) ? 0 : fz_below(r, 4);
		break;
	case FZ_ADD:
		a[0] = fz_small(r, 8) + 1;
		if (!fz_below(r, 24))
			a[0] = fz_boundary(r);
		a[1] = fz_rand(r);
		a[2] = fz_below(r, 3) ? 0 : fz_below(r, 4);
		a[3] = fz_zero(r);
		a[4] = fz_zero(r);
		a[5] = fz_below(r, 10) ? 0 : fz_below(r, 4);
		break;
	case FZ_ARM:
	case FZ_DISARM:
		a[0] = fz_below(r, 10) ? fz_below(r, 3) + 1 : fz_small(r, 5);
		a[1] = fz_small(r, 7);
		a[2] = fz_small(r, 8);
		a[3] = fz_small(r, 8);
		a[4] = fz_zero(r);
		break;
	case FZ_ATTACH:
		a[0] = fz_below(r, 7);
		a[1] = fz_below(r, 10) ? fz_below(r, 4) + 1 : fz_small(r, 6);
		a[2] = fz_zero(r);
		a[3] = fz_rand(r);
		a[4] = fz_zero(r);
		a[5] = fz_rand(r);
		break;
	case FZ_DETACH:
	case FZ_RESET:
	case FZ_RELEASE:
		a[0] = fz_below(r, 12) ? fz_below(r, 4) : fz_below(r, 2) ? KPROBECOV_ALL_SLOTS
									   : fz_boundary(r);
		a[1] = fz_zero(r);
		break;
	case FZ_STATUS:
	case FZ_CALLERS:
		a[0] = fz_small(r, 8);
		a[1] = fz_small(r, 9);
		a[2] = fz_below(r, 10) ? 0 : fz_below(r, 4);
		a[3] = fz_zero(r);
		break;
	case FZ_NEXT_UNHIT:
		a[0] = fz_small(r, 8);
		a[1] = fz_below(r, 2) ? 0 : fz_small(r, 16);
		a[2] = fz_small(r, 4);
		a[3] = fz_zero(r);
		break;
	case FZ_TRACE_START:
		a[0] = fz_below(r, 7);
		a[1] = fz_zero(r);
		a[5] = fz_rand(r);
		break;
	case FZ_TRACE_STOP:
		a[0] = fz_zero(r);
		break;
	case FZ_RAW_IOCTL:
		a[0] = fz_rand(r);
		a[1] = fz_rand(r);
		a[2] = fz_rand(r);
		break;
	case FZ_AREA_RW:
		a[0] = fz_small(r, 512);
		a[1] = fz_small(r, 16);
		break;
	case FZ_HIT:
		a[0] = fz_below(r, 8);
		a[1] = fz_small(r, 4);
		break;
	case FZ_FORK:
		a[0] = fz_below(r, 5);
		a[1] = fz_below(r, 7);
		break;
	case FZ_KILL:
		a[0] = fz_below(r, 2000);
		break;
	case FZ_STORM:
		a[0] = fz_rand(r);
		a[1] = fz_rand(r);
		break;
	}
}

static void fz_gen_op(struct fz_rng *r, struct fz_op *o)
{
	uint64_t t = fz_below(r, 20);

	memset(o, 0, sizeof(*o));
	o->kind = fz_pick_kind(r);
	o->fd = fz_below(r, 4) ? 0 : fz_below(r, FZ_NR_FDS);
	o->thread = t < 17 ? FZ_MAIN : t < 19 ? FZ_ASYNC : FZ_BOTH;
	o->ptr = fz_below(r, 10) ? FZ_PTR_VALID : fz_below(r, FZ_NR_PTRS);
	o->fail_nth = fz_below(r, 10) ? 0 : 1 + fz_below(r, 24);
	fz_gen_args(r, o);
}

/* A new program: mostly open, INIT and mmap of fd 0 first, then anything. */
void fz_generate(struct fz_rng *r, struct fz_prog *p)
{
	static const unsigned int prologue[] = { FZ_OPEN, FZ_INIT, FZ_MMAP };
	unsigned int i = 0, k, n = 4 + fz_below(r, FZ_MAX_OPS - 4);

	memset(p, 0, sizeof(*p));
	if (fz_below(r, 8)) {
		for (k = 0; k < 3; k++, i++) {
			fz_gen_op(r, &p->ops[i]);
			p->ops[i].kind = prologue[k];
			p->ops[i].fd = 0;
			p->ops[i].thread = FZ_MAIN;
			p->ops[i].ptr = FZ_PTR_VALID;
			p->ops[i].fail_nth = fz_below(r, 8) ? 0 : 1 + fz_below(r, 24);
			fz_gen_args(r, &p->ops[i]);
		}
	}
	for (; i < n; i++)
		fz_gen_op(r, &p->ops[i]);
	p->n = n;
}

static void fz_mutate_arg(struct fz_rng *r, uint64_t *v)
{
	switch (fz_below(r, 6)) {
	case 0: *v = fz_boundary(r); break;
	case 1: *v += fz_below(r, 9) - 4; break;
	case 2: *v ^= 1ULL << fz_below(r, 64); break;
	case 3: *v = fz_below(r, 16); break;
	case 4: *v = fz_rand(r); break;
	default: *v = 0; break;
	}
}

/* One to three changes; other (may be p) is spliced from. */
void fz_mutate(struct fz_rng *r, struct fz_prog *p, const struct fz_prog *other)
{
	unsigned int m = 1 + fz_below(r, 3), i, j;
	struct fz_op *o;

	while (m--) {
		if (!p->n) {
			fz_generate(r, p);
			continue;
		}
		i = fz_below(r, p->n);
		o = &p->ops[i];
		switch (fz_below(r, 10)) {
		case 0: case 1: case 2:
			fz_mutate_arg(r, &o->a[fz_below(r, FZ_NR_ARGS)]);
			break;
		case 3:
			switch (fz_below(r, 4)) {
			case 0: o->fd = fz_below(r, FZ_NR_FDS); break;
			case 1: o->thread = fz_below(r, FZ_NR_THREADS); break;
			case 2: o->ptr = fz_below(r, FZ_NR_PTRS); break;
			default: o->fail_nth = fz_below(r, 2) ? 0 : 1 + fz_below(r, 32); break;
			}
			break;
		case 4:
			fz_gen_args(r, o);
			break;
		case 5: case 6:	/* insert */
			if (p->n == FZ_MAX_OPS)
				break;
			memmove(&p->ops[i + 1], &p->ops[i], (p->n - i) * sizeof(*o));
			fz_gen_op(r, &p->ops[i]);
			p->n++;
			break;
		case 7:	/* remove */
			if (p->n < 2)
				break;
			memmove(&p->ops[i], &p->ops[i + 1], (p->n - i - 1) * sizeof(*o));
			p->n--;
			break;
		case 8:	/* splice: p's first i ops, then other's from j */
			if (!other->n)
				break;
			j = fz_below(r, other->n);
			while (i < FZ_MAX_OPS && j < other->n)
				p->ops[i++] = other->ops[j++];
			p->n = i;
			break;
		default: {	/* swap */
			struct fz_op t = *o;

			j = fz_below(r, p->n);
			*o = p->ops[j];
			p->ops[j] = t;
			break;
		}
		}
	}
}

void fz_print(FILE *f, const struct fz_prog *p)
{
	unsigned int i, k;

	for (i = 0; i < p->n; i++) {
		const struct fz_op *o = &p->ops[i];

		fprintf(f, "%s %u %u %u %u", fz_op_names[o->kind], o->fd, o->thread, o->ptr,
			o->fail_nth);
		for (k = 0; k < FZ_NR_ARGS; k++)
			fprintf(f, " %#llx", (unsigned long long)o->a[k]);
		fputc('\n', f);
	}
	fputs("end\n", f);
}

int fz_parse(FILE *f, struct fz_prog *p)
{
	char line[512], name[32];
	unsigned int fd, thread, ptr, nth, k;
	unsigned long long a[FZ_NR_ARGS];
	int any = 0;

	memset(p, 0, sizeof(*p));
	while (fgets(line, sizeof(line), f)) {
		char *s = line + strspn(line, " \t");

		if (*s == '#')
			continue;
		if (*s == '\n' || *s == '\0' || !strncmp(s, "end", 3)) {
			if (any)
				return 1;
			continue;
		}
		if (sscanf(s, "%31s %u %u %u %u %llx %llx %llx %llx %llx %llx", name, &fd, &thread,
			   &ptr, &nth, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5]) != 11)
			return -1;
		for (k = 0; k < FZ_NR_KINDS && strcmp(name, fz_op_names[k]); k++)
			;
		if (k == FZ_NR_KINDS || fd >= FZ_NR_FDS || thread >= FZ_NR_THREADS ||
		    ptr >= FZ_NR_PTRS || p->n == FZ_MAX_OPS)
			return -1;
		p->ops[p->n] = (struct fz_op){ .kind = k, .fd = fd, .thread = thread,
					       .ptr = ptr, .fail_nth = nth };
		for (k = 0; k < FZ_NR_ARGS; k++)
			p->ops[p->n].a[k] = a[k];
		p->n++;
		any = 1;
	}
	return any;
}
