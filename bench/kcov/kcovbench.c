// SPDX-License-Identifier: GPL-2.0
/*
 * kcovbench: the cost per hit of KCOV and of kprobecov on the same in-kernel
 * loop, in one run, in the debug kernel (CONFIG_KCOV with
 * KCOV_INSTRUMENT_ALL: kpc_bench.ko built against it calls
 * __sanitizer_cov_trace_pc in every basic block). Runs as root with
 * kprobecov.ko and that kpc_bench.ko loaded; prints one markdown section
 * (bench/kcov/run-in-guest.sh).
 *
 * kpc_bench's loops are identical (kpc_bench_uapi.h): loop n calls target n
 * `iterations` times. Configurations, each on a loop of its own and all set
 * up at once, measured in interleaved rounds (median):
 *   none        loop A, nothing traced: KCOV's callbacks run and return at
 *               once (the cost of a kernel built with KCOV, not measured here)
 *   kcov-pc     loop A, KCOV_TRACE_PC enabled on this thread
 *   kcov-cmp    loop A, KCOV_TRACE_CMP enabled on this thread
 *   kpc-entry   loop B, a kprobecov probe at target B's entry, this process
 *               attached: one hit per iteration
 *   kpc-sites   loop C, a kprobecov probe at each KCOV call site of loop C and
 *               target C (their return addresses, from the debug info): as
 *               many hits per iteration as kcov-pc has records
 * Each configuration's iterations are calibrated so that one measurement
 * lasts about -t milliseconds (the clock of a kernel without a good
 * clocksource ticks in milliseconds), within what the KCOV buffer holds.
 * Hits per iteration are counted, not assumed: KCOV's word 0, kprobecov's
 * counters. Cost per hit = (ns per iteration - none's) / hits per iteration.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "libkprobecov.h"
#include "kpc_bench/kpc_bench_uapi.h"

#define MAX_ROUNDS	64
#define MAX_SITES	64
#define LOOP_A		20	/* none, KCOV (the targets kpcbench uses are 0 .. 19) */
#define LOOP_B		21	/* kprobecov, entry */
#define LOOP_C		22	/* kprobecov, KCOV's sites */

enum cfg { NONE, KCOV_PC, KCOV_CMP, KPC_ENTRY, KPC_SITES, NR_CFGS };
static const char *const cfg_name[NR_CFGS] = {
	"no tracing (the callbacks return at once)",
	"KCOV, PCs (KCOV_TRACE_PC on the looping thread)",
	"KCOV, comparisons (KCOV_TRACE_CMP on the looping thread)",
	"kprobecov, a probe at the target's entry",
	"kprobecov, a probe at each of KCOV's call sites",
};

static double target_ms = 250;	/* per measurement: the debug kernel's clock may tick coarsely */
#define KCOV_WORDS	(8ULL << 20)	/* 64 MB: the KCOV buffer */
static int rounds = 11;
static const char *bench_dir = "build/debug/bench";
static const char *accel = "unknown";

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "kcovbench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* KPCB_LOOP on loop n: ns per iteration. */
static double run_loop(int dev, int n, uint64_t iters)
{
	struct kpcb_loop loop = { .target = n, .iterations = iters };

	if (ioctl(dev, KPCB_LOOP, &loop))
		die("KPCB_LOOP(%d): %s", n, strerror(errno));
	return (double)loop.elapsed_ns / iters;
}

struct kcov {
	int fd;
	uint64_t words;
	uint64_t *area;
};

/* One KCOV buffer of `words`; enabled in `mode` around each measurement. */
static void kcov_open(struct kcov *k, uint64_t words)
{
	void *area;
	int ret;

	words = (words + 511) / 512 * 512;	/* whole pages: KCOV maps nothing less */
	k->fd = kpc_kcov_open(NULL);
	if (k->fd < 0)
		die("%s: %s: this is not a kernel with CONFIG_KCOV", KPC_KCOV_PATH, strerror(-k->fd));
	ret = kpc_kcov_init(k->fd, words);
	if (!ret)
		ret = kpc_kcov_map(k->fd, words, &area);
	if (ret)
		die("KCOV buffer of %llu words: %s", (unsigned long long)words, strerror(-ret));
	k->words = words;
	k->area = area;
}

/* Runs loop n with KCOV in mode; *records gets the records it wrote (per iteration). */
static double run_kcov(int dev, struct kcov *k, int n, uint32_t mode, uint64_t iters, double *records)
{
	uint64_t per = mode == KPC_KCOV_TRACE_CMP ? 4 : 1, count;
	double ns;
	int ret;

	__atomic_store_n(&k->area[0], 0, __ATOMIC_RELAXED);
	ret = kpc_kcov_enable(k->fd, mode);
	if (ret == -524)
		die("this kernel's KCOV has no comparison operands (CONFIG_KCOV_ENABLE_COMPARISONS)");
	if (ret)
		die("KCOV_ENABLE(%u): %s", mode, strerror(-ret));
	ns = run_loop(dev, n, iters);
	count = __atomic_load_n(&k->area[0], __ATOMIC_RELAXED);
	ret = kpc_kcov_disable(k->fd);
	if (ret)
		die("KCOV_DISABLE: %s", strerror(-ret));
	if ((count + 1) * per + 1 >= k->words)
		die("the KCOV buffer (%llu words) filled up: a shorter measurement (-t)", (unsigned long long)k->words);
	if (records)
		*records = (double)count / iters;
	return ns;
}

/* kpc_bench.ko's debug info: the PC sites of loop n and target n (return offsets). */
struct fn_sites {
	char name[64];
	uint32_t offsets[MAX_SITES];
	int n;
};

static void find_sites(const uint8_t *blob, const char *name, struct fn_sites *out)
{
	const struct kpc_blob_header *h = (const void *)blob;
	const char *strings = (const char *)blob + h->strings.offset;
	uint32_t i, fi = KPC_BLOB_NONE;

	snprintf(out->name, sizeof(out->name), "%s", name);
	out->n = 0;
	for (i = 0; i < h->functions.count; i++) {
		const struct kpc_blob_function *f = (const void *)(blob + h->functions.offset +
								   (size_t)i * h->functions.entry_size);

		if (!strcmp(strings + f->name, name))
			fi = i;
	}
	if (fi == KPC_BLOB_NONE)
		die("kpc_bench.ko has no function %s", name);
	for (i = 0; i < h->kcov_sites.count && out->n < MAX_SITES; i++) {
		const struct kpc_blob_kcov_site *s = (const void *)(blob + h->kcov_sites.offset +
								   (size_t)i * h->kcov_sites.entry_size);

		if (s->function == fi && s->kind == KPC_KCOV_SITE_PC)
			out->offsets[out->n++] = s->offset;
	}
}

static void fill_probe(struct kprobecov_probe *p, const char *sym, uint64_t offset, uint32_t kind)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->module, sizeof(p->module), "kpc_bench");
	snprintf(p->symbol, sizeof(p->symbol), "%s", sym);
	p->offset = offset;
	p->kind = kind;
}

int main(int argc, char **argv)
{
	double ns[NR_CFGS][MAX_ROUNDS], med[NR_CFGS], hits[NR_CFGS] = { 0 }, rec_pc = 0, rec_cmp = 0;
	uint64_t it[NR_CFGS], calls_b = 0, calls_c = 0;
	struct kprobecov_probe probes[1 + 2 * MAX_SITES];
	struct kprobecov_add_probes added;
	struct fn_sites loop_c, target_c;
	uint64_t area_bytes, slot, nprobes = 0, hits_entry = 0, hits_sites = 0, ko_pcs;
	char path[4096], when[64], clocksource[64];
	struct utsname un;
	struct kcov k;
	uint8_t *blob;
	size_t blob_len;
	void *area;
	time_t now;
	int opt, dev, kpc, r, c, ret;

	while ((opt = getopt(argc, argv, "d:t:r:a:h")) != -1) {
		switch (opt) {
		case 'd': bench_dir = optarg; break;
		case 't': target_ms = atof(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'a': accel = optarg; break;
		default:
			fprintf(stderr, "usage: kcovbench [-d BENCH_BUILD_DIR] [-t ms per measurement] [-r rounds] [-a accel]\n");
			return 2;
		}
	}
	if (target_ms < 10 || rounds < 1 || rounds > MAX_ROUNDS)
		die("-t must be >= 10 and -r 1 .. %d", MAX_ROUNDS);

	/* The sites of loop C and target C, from the .ko that is loaded. */
	snprintf(path, sizeof(path), "%s/kpc_bench/kpc_bench.ko", bench_dir);
	ret = kpc_debuginfo_load(path, 0, &blob, &blob_len);
	if (ret)
		die("%s: %s (%s)", path, strerror(-ret), kpc_last_error());
	ko_pcs = 0;
	{
		const struct kpc_blob_header *h = (const void *)blob;
		char name[64];

		for (uint32_t i = 0; i < h->kcov_sites.count; i++)
			ko_pcs += ((const struct kpc_blob_kcov_site *)(blob + h->kcov_sites.offset +
				(size_t)i * h->kcov_sites.entry_size))->kind == KPC_KCOV_SITE_PC;
		if (!ko_pcs)
			die("%s has no KCOV instrumentation: build it against the debug kernel (make build-debug)", path);
		snprintf(name, sizeof(name), "kpcb_loop_%d", LOOP_C);
		find_sites(blob, name, &loop_c);
		snprintf(name, sizeof(name), "kpcb_target_%d", LOOP_C);
		find_sites(blob, name, &target_c);
	}

	dev = open("/dev/kpc_bench", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		die("/dev/kpc_bench: %s: load kpc_bench.ko", strerror(errno));

	/* kprobecov: B's entry; every site of C. */
	kpc = kpc_dev_open(NULL);
	if (kpc < 0)
		die("/dev/kprobecov: %s: load kprobecov.ko", strerror(-kpc));
	fill_probe(&probes[nprobes++], "kpcb_target_21", 0, KPROBECOV_KIND_FUNC);
	for (c = 0; c < loop_c.n; c++)
		fill_probe(&probes[nprobes++], loop_c.name, loop_c.offsets[c], KPROBECOV_KIND_LINE);
	for (c = 0; c < target_c.n; c++)
		fill_probe(&probes[nprobes++], target_c.name, target_c.offsets[c], KPROBECOV_KIND_LINE);
	ret = kpc_dev_init(kpc, nprobes, 1, 0, 0, 0, &area_bytes);
	if (!ret)
		ret = kpc_dev_map(kpc, area_bytes, &area);
	if (!ret)
		ret = kpc_dev_add_probes(kpc, probes, nprobes, &added);
	if (ret)
		die("kprobecov: INIT/ADD_PROBES of %llu probes: %s", (unsigned long long)nprobes, strerror(-ret));
	for (c = 0; c < (int)nprobes; c++)
		if (probes[c].error)
			die("kprobecov refused the probe at %s+0x%llx: %s", probes[c].symbol,
			    (unsigned long long)probes[c].offset, strerror(-probes[c].error));
	ret = kpc_dev_arm(kpc, KPROBECOV_SELECT_ALL, 0, 0, 0, NULL);
	if (!ret)
		ret = kpc_dev_attach(kpc, 0, KPROBECOV_SCOPE_PROCESS, 1, &slot);
	if (ret)
		die("kprobecov: ARM/ATTACH: %s", strerror(-ret));

	kcov_open(&k, KCOV_WORDS);

	/* Warm up; count KCOV's records per iteration; calibrate each configuration. */
	run_kcov(dev, &k, LOOP_A, KPC_KCOV_TRACE_PC, 2000, &rec_pc);
	run_kcov(dev, &k, LOOP_A, KPC_KCOV_TRACE_CMP, 2000, &rec_cmp);
	for (c = 0; c < NR_CFGS; c++) {
		uint64_t cap = UINT64_MAX;
		double t;

		if (c == KCOV_PC)
			cap = (KCOV_WORDS - 65536) / (uint64_t)(rec_pc + 1);
		if (c == KCOV_CMP)
			cap = (KCOV_WORDS - 65536) / (4 * (uint64_t)(rec_cmp + 1));
		for (it[c] = 2000;; it[c] *= 2) {
			if (it[c] > cap) {
				it[c] = cap;
				break;
			}
			t = c == KCOV_PC ? run_kcov(dev, &k, LOOP_A, KPC_KCOV_TRACE_PC, it[c], NULL) :
			    c == KCOV_CMP ? run_kcov(dev, &k, LOOP_A, KPC_KCOV_TRACE_CMP, it[c], NULL) :
			    run_loop(dev, c == KPC_ENTRY ? LOOP_B : c == KPC_SITES ? LOOP_C : LOOP_A, it[c]);
			if (c == KPC_ENTRY)
				calls_b += it[c];
			if (c == KPC_SITES)
				calls_c += it[c];
			if (t * it[c] >= target_ms * 1e6 / 2)
				break;
		}
		it[c] *= 2;
		if (it[c] > cap)
			it[c] = cap;
	}
	kpc_dev_reset(kpc, slot);
	calls_b = calls_c = 0;
	for (r = 0; r < rounds; r++) {
		ns[NONE][r] = run_loop(dev, LOOP_A, it[NONE]);
		ns[KCOV_PC][r] = run_kcov(dev, &k, LOOP_A, KPC_KCOV_TRACE_PC, it[KCOV_PC], &rec_pc);
		ns[KCOV_CMP][r] = run_kcov(dev, &k, LOOP_A, KPC_KCOV_TRACE_CMP, it[KCOV_CMP], &rec_cmp);
		ns[KPC_ENTRY][r] = run_loop(dev, LOOP_B, it[KPC_ENTRY]);
		ns[KPC_SITES][r] = run_loop(dev, LOOP_C, it[KPC_SITES]);
		calls_b += it[KPC_ENTRY];
		calls_c += it[KPC_SITES];
	}
	{
		uint64_t counts[1 + 2 * MAX_SITES];
		int64_t n = kpc_area_read_slot(area, slot, counts, nprobes);

		if (n != (int64_t)nprobes)
			die("kprobecov: reading the counters: %lld", (long long)n);
		hits_entry = counts[0];
		for (c = 1; c < (int)nprobes; c++)
			hits_sites += counts[c];
	}
	for (c = 0; c < NR_CFGS; c++)
		med[c] = median(ns[c], rounds);
	hits[KCOV_PC] = rec_pc;
	hits[KCOV_CMP] = rec_cmp;
	hits[KPC_ENTRY] = (double)hits_entry / calls_b;
	hits[KPC_SITES] = (double)hits_sites / calls_c;

	{
		FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");

		if (!f || !fgets(clocksource, sizeof(clocksource), f))
			snprintf(clocksource, sizeof(clocksource), "unknown");
		clocksource[strcspn(clocksource, "\n")] = 0;
		if (f)
			fclose(f);
	}
	now = time(NULL);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", gmtime(&now));
	uname(&un);
	printf("### KCOV and kprobecov on the same loop (debug kernel)\n\n");
	printf("Measured %s UTC in kernel %s (KCOV with KCOV_INSTRUMENT_ALL, KASAN, lockdep), "
	       "%s, by `bench/kcov/kcovbench`. An in-kernel loop of kpc_bench, built against this "
	       "kernel (its %llu basic blocks each call `__sanitizer_cov_trace_pc`), calls a noinline "
	       "function; each measurement runs about %.0f ms (iterations calibrated per "
	       "configuration; clocksource %s); %d rounds, the configurations interleaved in each, median ns per "
	       "iteration. Each configuration loops over a copy of its own (same code); hits per "
	       "iteration are counted: KCOV's records, kprobecov's counters.\n\n",
	       when, un.release, accel, (unsigned long long)ko_pcs, target_ms, clocksource, rounds);
	printf("| configuration | ns / iteration | hits / iteration | ns / hit |\n");
	printf("|---|---:|---:|---:|\n");
	for (c = 0; c < NR_CFGS; c++) {
		if (c == NONE)
			printf("| %s | %.1f | – | – |\n", cfg_name[c], med[c]);
		else
			printf("| %s | %.1f | %.2f | %.1f |\n", cfg_name[c], med[c], hits[c],
			       hits[c] > 0 ? (med[c] - med[NONE]) / hits[c] : 0.0);
	}
	printf("\nns / hit is the time a configuration adds to an iteration over no tracing, divided "
	       "by its hits: a KCOV record (PC: 1 word; comparison: 4 words, into this thread's "
	       "buffer), a kprobecov probe hit (a breakpoint or optimized jump, the handler, one "
	       "counter). kprobecov's site probes sit at the %d + %d return addresses of KCOV's "
	       "calls in the loop and the target. Counted over all rounds: the entry probe %llu hits "
	       "for %llu calls.\n",
	       loop_c.n, target_c.n, (unsigned long long)hits_entry, (unsigned long long)calls_b);
	if (hits_entry != calls_b)
		fprintf(stderr, "kcovbench: the entry probe counted %llu hits for %llu calls\n",
			(unsigned long long)hits_entry, (unsigned long long)calls_b);
	kpc_free(blob);
	kpc_dev_close(kpc);
	close(k.fd);
	close(dev);
	return hits_entry == calls_b ? 0 : 3;
}
