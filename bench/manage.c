// SPDX-License-Identifier: GPL-2.0
/*
 * Part 2, probe management cost (see kpcbench.h): ADD_PROBES, ARM, DISARM
 * and close of 100 .. 10,000 probes, against bare kprobes, within a budget.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kpcbench.h"

struct mtask {
	unsigned n;
	int site;		/* enum site */
	int ref;		/* 0: kprobecov, 1: bare kprobes of kpc_sites */
	int want;		/* repetitions wanted */
	int reps;		/* done */
	int failed;		/* gave up: see note */
	double add[MAX_REPS], arm[MAX_REPS], opt[MAX_REPS], dis[MAX_REPS], cls[MAX_REPS],
	       rst[MAX_REPS];
	double total;		/* wall time of all reps, s */
	char note[300];
};

static const char *impl_name(const struct mtask *t)
{
	return t->ref ? "bare kprobes (reference)" : "kprobecov";
}

/*
 * One repetition: n probes on kpcs_f00000 .. kpcs_f(n-1) at the task's kind
 * of site: add (registered, disabled), arm, wait until jump sites are
 * optimized, disarm, close; then wait until every site holds its original
 * code. Returns 0, or -1 after saying why in t->note.
 */
static int manage_once(struct mtask *t, int sdev, const struct site_offsets *off,
		       struct kprobecov_probe *probes, struct kpcb_site *sites, double timeout_s)
{
	struct kprobecov_init init = { .max_probes = t->n, .max_slots = 1 };
	struct kprobecov_add_probes add = { 0 };
	__u64 changed = 0;
	struct kpcs_ref_add radd = { .sites = (uintptr_t)sites, .count = t->n };
	int rep = t->reps, b1, b2, fd, ret;
	const char *what = t->ref ? "KPCS_REF" : "KPROBECOV";
	unsigned i;
	size_t got;
	double s;

	planted_ops(t->site, &b1, &b2);
	for (i = 0; i < t->n; i++) {
		char sym[32];

		snprintf(sym, sizeof(sym), "kpcs_f%05u", i);
		kpc_probe(&probes[i], off[i].module, sym, site_offset(&off[i], t->site),
			  site_kind(t->site), i);
		sites[i] = (struct kpcb_site){ i, site_offset(&off[i], t->site), { 0 } };
	}
	if (t->ref) {
		fd = open_dev("kpc_sites");
	} else {
		fd = open_dev("kprobecov");
		ret = xioctl(fd, KPROBECOV_INIT, &init);
		if (ret) {
			snprintf(t->note, sizeof(t->note), "INIT failed: %s", strerror(-ret));
			issue("KPROBECOV_INIT(max_probes %u, max_slots 1): %s", t->n, strerror(-ret));
			close(fd);
			return -1;
		}
	}

	s = now_s();
	ret = t->ref ? xioctl(fd, KPCS_REF_ADD, &radd) :
		       (kpc_add(fd, probes, t->n, &add) ? -errno : 0);
	t->add[rep] = now_s() - s;
	if (t->ref && ret) {
		snprintf(t->note, sizeof(t->note), "register_kprobe failed: %s", strerror(-ret));
		issue("reference: register_kprobe(kpcs_f%05llu+0x%x) failed: %s",
		      (unsigned long long)radd.failed_index,
		      sites[radd.failed_index < t->n ? radd.failed_index : 0].offset, strerror(-ret));
		close(fd);
		return -1;
	}
	if (!t->ref && (ret || add.registered != t->n || add.failed || add.pending)) {
		for (i = 0; i < t->n && !probes[i].error; i++)
			;
		snprintf(t->note, sizeof(t->note), "ADD_PROBES failed");
		issue("KPROBECOV_ADD_PROBES(%u %s probes on kpc_sites_<m>:kpcs_fNNNNN+0x%x): ret %s, "
		      "registered %llu, pending %llu, failed %llu; expected all registered%s%s%s%s",
		      t->n, site_name[t->site], sites[0].offset, ret ? strerror(-ret) : "0",
		      (unsigned long long)add.registered, (unsigned long long)add.pending,
		      (unsigned long long)add.failed, i < t->n ? "; first error on " : "",
		      i < t->n ? probes[i].symbol : "", i < t->n ? ": " : "",
		      i < t->n ? strerror(-probes[i].error) : "");
		close(fd);
		return -1;
	}

	s = now_s();
	ret = t->ref ? xioctl(fd, KPCS_REF_ARM, NULL) :
		       (kpc_select(fd, KPROBECOV_ARM, KPROBECOV_SELECT_ALL, 0, 0, 0, &changed) ?
			-errno : 0);
	t->arm[rep] = now_s() - s;
	if (ret || (!t->ref && changed != t->n)) {
		snprintf(t->note, sizeof(t->note), "ARM failed");
		issue("%s_ARM of %u %s probes: ret %s, changed %llu (expected 0, %u)", what, t->n,
		      site_name[t->site], ret ? strerror(-ret) : "0",
		      (unsigned long long)changed, t->n);
		close(fd);
		return -1;
	}
	read_text(sdev, sites, t->n);
	got = count_first_byte(sites, t->n, b1, b2);
	if (got != t->n)
		issue("%s: after ARM of %u %s probes returned, %zu sites are planted "
		      "(expected all)", impl_name(t), t->n, site_name[t->site], got);
	t->opt[rep] = NAN;
	if (t->site == SITE_JUMP) {
		t->opt[rep] = wait_text(sdev, sites, t->n, OP_JMP32, OP_JMP32, t->n, timeout_s,
					&got);
		if (t->opt[rep] < 0) {
			t->opt[rep] = NAN;
			snprintf(t->note, sizeof(t->note), "%zu of %u optimized after %.0f s", got,
				 t->n, timeout_s);
		}
	}

	s = now_s();
	ret = t->ref ? xioctl(fd, KPCS_REF_DISARM, NULL) :
		       (kpc_select(fd, KPROBECOV_DISARM, KPROBECOV_SELECT_ALL, 0, 0, 0, &changed) ?
			-errno : 0);
	t->dis[rep] = now_s() - s;
	if (ret || (!t->ref && changed != t->n))
		issue("%s_DISARM of %u armed %s probes: ret %s, changed %llu (expected 0, %u)",
		      what, t->n, site_name[t->site], ret ? strerror(-ret) : "0",
		      (unsigned long long)changed, t->n);
	if (t->site == SITE_ENTRY) {
		read_text(sdev, sites, t->n);
		got = count_first_byte(sites, t->n, b1, b2);
		if (got)
			issue("%s: after DISARM of %u entry probes returned, %zu ftrace sites still "
			      "call the trampoline (expected none)", impl_name(t), t->n, got);
	}

	s = now_s();
	close(fd);
	t->cls[rep] = now_s() - s;
	t->rst[rep] = wait_text(sdev, sites, t->n, OP_INT3, t->site == SITE_ENTRY ? OP_CALL32 :
				OP_JMP32, 0, timeout_s, &got);
	if (t->rst[rep] < 0) {
		t->rst[rep] = NAN;
		snprintf(t->note, sizeof(t->note), "%zu sites not restored", got);
		issue("%s: %zu of %u %s sites still hold a probe %.0f s after close", impl_name(t),
		      got, t->n, site_name[t->site], timeout_s);
		return -1;
	}
	t->reps++;
	return 0;
}

static void fmt_ms(char *buf, size_t len, const double *v, int n, unsigned probes)
{
	struct stat3 s = stats(v, n);

	if (isnan(s.med))
		snprintf(buf, len, "— | —");
	else if (n > 1)
		snprintf(buf, len, "%.1f (%.1f–%.1f) | %.1f", s.med * 1e3, s.min * 1e3,
			 s.max * 1e3, s.med * 1e6 / probes);
	else
		snprintf(buf, len, "%.1f | %.1f", s.med * 1e3, s.med * 1e6 / probes);
}

/*
 * Projected seconds for one repetition of t: the per-probe time of the last
 * measured size of the same site and implementation, grown the way it grew
 * between the two last sizes, with a 20% margin; 0 when nothing is known.
 */
static double project(const struct mtask *tasks, int ntasks, const struct mtask *t)
{
	const struct mtask *last = NULL, *prev = NULL;
	double pp;
	int i;

	for (i = 0; i < ntasks; i++) {
		const struct mtask *u = &tasks[i];

		if (u->site != t->site || u->ref != t->ref || !u->reps || u->n >= t->n)
			continue;
		if (!last || u->n > last->n) {
			prev = last;
			last = u;
		} else if (!prev || u->n > prev->n) {
			prev = u;
		}
	}
	if (!last)
		return 0;	/* unknown: try it */
	pp = last->total / last->reps / last->n;
	if (prev) {
		double pp_prev = prev->total / prev->reps / prev->n;

		if (pp > pp_prev)
			pp *= pow(pp / pp_prev, log((double)t->n / last->n) /
					       log((double)last->n / prev->n));
	}
	return pp * t->n * 1.2;
}

void manage_bench(void)
{
	static const int order[NR_SITE_KINDS] = { SITE_ENTRY, SITE_INT3, SITE_JUMP };
	static struct site_offsets off[MAX_SITES];
	struct mtask tasks[MAX_SIZES * NR_SITE_KINDS * 2];
	struct kprobecov_probe *probes;
	struct kpcb_site *sites;
	unsigned nsites, maxn = 0, nmods;
	double t0 = now_s();
	int sdev, ntasks = 0, sz, k, ref, i, j, phase;

	nsites = load_offsets("kpc_bench/sites.offsets", "kpcs_f", off, MAX_SITES);
	for (i = 0, nmods = 0; i < (int)nsites; i++)
		if (!i || strcmp(off[i].module, off[i - 1].module))
			nmods++;
	sdev = open_dev("kpc_sites");
	{
		struct kpcb_text text = { .sites = 0, .count = 0 };

		if (xioctl(sdev, KPCB_TEXT, &text) || text.nr_funcs != nsites)
			die("kpc_sites.ko holds %llu functions, sites.offsets %u: rebuild bench",
			    (unsigned long long)text.nr_funcs, nsites);
	}
	for (sz = 0; sz < nr_sizes; sz++)
		if (sizes[sz] > maxn)
			maxn = sizes[sz];
	probes = calloc(maxn, sizeof(*probes));
	sites = calloc(maxn, sizeof(*sites));
	if (!probes || !sites)
		die("out of memory");

	/* Sizes ascending; per size and kind of site, kprobecov then its reference. */
	for (sz = 0; sz < nr_sizes; sz++)
		for (k = 0; k < NR_SITE_KINDS; k++)
			for (ref = 0; ref < 2; ref++)
				tasks[ntasks++] = (struct mtask){
					.n = sizes[sz], .site = order[k], .ref = ref,
					.want = sizes[sz] <= 1000 ? 3 : 2,
				};

	/*
	 * Breadth first, within the budget: one repetition of every task in
	 * that order (so each row of kprobecov has its reference next to it,
	 * as far as the budget goes), then the further repetitions in the same
	 * order. A repetition is run only if its projection fits in what is
	 * left of the budget.
	 */
	for (phase = 0; phase < 3; phase++) {
		for (i = 0; i < ntasks; i++) {
			struct mtask *t = &tasks[i];
			double left = budget_s - (now_s() - t0), one, start;

			if (t->failed)
				continue;
			if (!phase && (t->n > nsites || t->n > kver.max_probes)) {
				snprintf(t->note, sizeof(t->note), "not run: %u sites, max_probes %llu",
					 nsites, (unsigned long long)kver.max_probes);
				t->failed = 1;
				continue;
			}
			if (!phase ? t->reps : !t->reps || t->reps >= t->want)
				continue;
			one = !phase ? project(tasks, ntasks, t) : 1.2 * t->total / t->reps;
			while (one <= left) {
				start = now_s();
				if (manage_once(t, sdev, off, probes, sites,
						left - one > 120 ? 120 : left - one > 10 ? left - one : 10)) {
					t->failed = 1;
					break;
				}
				t->total += now_s() - start;
				j = t->reps - 1;
				progress("%s, %s, %u probes, rep %d: add %.3f s, arm %.3f s, "
					 "optimized %.3f s, disarm %.3f s, close %.3f s, restored %.3f s",
					 impl_name(t), site_name[t->site], t->n, t->reps, t->add[j],
					 t->arm[j], t->opt[j], t->dis[j], t->cls[j], t->rst[j]);
				if (!phase || t->reps >= t->want)
					break;
				left = budget_s - (now_s() - t0);
				one = 1.2 * t->total / t->reps;
			}
			if (!t->reps && !t->failed) {
				snprintf(t->note, sizeof(t->note), "not run: projected %.0f s, %.0f s of "
					 "the budget left", one, left > 0 ? left : 0);
				progress("%s, %s, %u probes: %s", impl_name(t), site_name[t->site],
					 t->n, t->note);
			}
		}
	}

	fprintf(out, "### Probe management cost\n\n");
	fprintf(out, "N probes on N distinct functions kpcs_f00000 ... of %u generated noinline "
		"functions in %u modules (kpc_sites_<m>.ko; the kernel's per-probe cost grows with "
		"the number of symbols of the probed module), at the three kinds of site of the "
		"handler table "
		"(entry +0, jump site +0x%x, int3 site +0x%x). **kprobecov**: one collector per "
		"repetition (max_slots 1, no edges): ADD_PROBES (one batch; registered disabled), "
		"ARM(ALL), DISARM(ALL), close(). **Reference**: the same steps done by kpc_sites "
		"with bare empty kprobes: register_kprobe each (disabled), enable_kprobe each, "
		"disable_kprobe each, one unregister_kprobes at close. Times are wall times of the "
		"ioctl (or close), in ms: median (min–max) over the repetitions, then µs per probe "
		"of the median. \"Optimized\": after ARM returned, until every jump site held its "
		"jump; \"restored\": after close returned, until every site held its original "
		"code (both polled through kpc_sites, not part of the ioctl times). Budget: %.0f s "
		"for this part (kpcbench -t); a size that would not fit is not run.\n\n",
		nsites, nmods, off[0].jump, off[0].int3, budget_s);
	fprintf(out, "| Site | Probes | By | Reps | ADD ms | µs/probe | ARM ms | µs/probe | "
		"DISARM ms | µs/probe | close ms | µs/probe | optimized after, ms | "
		"restored after, ms |\n");
	fprintf(out, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (k = 0; k < NR_SITE_KINDS; k++) {
		for (sz = 0; sz < nr_sizes; sz++) {
			for (ref = 0; ref < 2; ref++) {
				const struct mtask *t = NULL;
				char a[96], b[96], c[96], d[96];
				struct stat3 o, r;

				for (i = 0; i < ntasks; i++)
					if (tasks[i].site == k && tasks[i].n == sizes[sz] &&
					    tasks[i].ref == ref)
						t = &tasks[i];
				if (!t->reps) {
					fprintf(out, "| %s | %u | %s | 0 | %s | | | | | | | | | |\n",
						site_name[k], t->n, impl_name(t),
						t->note[0] ? t->note : "not run");
					continue;
				}
				o = stats(t->opt, t->reps);
				r = stats(t->rst, t->reps);
				fmt_ms(a, sizeof(a), t->add, t->reps, t->n);
				fmt_ms(b, sizeof(b), t->arm, t->reps, t->n);
				fmt_ms(c, sizeof(c), t->dis, t->reps, t->n);
				fmt_ms(d, sizeof(d), t->cls, t->reps, t->n);
				fprintf(out, "| %s | %u | %s | %d | %s | %s | %s | %s |", site_name[k],
					t->n, impl_name(t), t->reps, a, b, c, d);
				if (k != SITE_JUMP)
					fprintf(out, " — |");
				else if (isnan(o.med))
					fprintf(out, " %s |", t->note);
				else
					fprintf(out, " %.0f |", o.med * 1e3);
				if (isnan(r.med))
					fprintf(out, " — |\n");
				else
					fprintf(out, " %.0f |\n", r.med * 1e3);
			}
		}
	}
	fprintf(out, "\n");
	free(probes);
	free(sites);
	close(sdev);
	progress("probe management: done in %.1f s", now_s() - t0);
}
