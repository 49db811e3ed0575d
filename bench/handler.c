// SPDX-License-Identifier: GPL-2.0
/*
 * Part 1, handler cost (see kpcbench.h): a probe's cost per hit, against no
 * probe and an empty reference kprobe, with 0, 1 or 64 slots, edges off or on.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kpcbench.h"

enum { PR_NONE, PR_EMPTY, PR_KPC };

struct collector {
	const char *label;
	unsigned slots;		/* max_slots at INIT */
	unsigned edge_bits;
	int attach_self;
	int others;		/* other processes attached besides the looper */
	int target[NR_SITE_KINDS];	/* kpc_bench target per probe (index = site) */
	int fd;
	void *area;
	size_t area_bytes;
	uint64_t self_slot;
};

struct hcfg {
	int site;		/* enum site, -1: no probe at all */
	int probe;		/* PR_* */
	int coll;		/* index in colls[] for PR_KPC */
	int target;
	int ref;		/* index of the reference config, -1 none */
	unsigned offset;	/* of the site in the target */
	int opcode;		/* first byte at the site while measured */
	uint64_t calls;		/* made by the looper */
	uint64_t counted;	/* kprobecov's count: the looper's slot, else all */
	int count_ok;		/* counted is what it should be */
	double ns[MAX_ROUNDS];
};

static pid_t others[NR_OTHERS];
static int nr_others;

static void spawn_others(int n)
{
	int i;

	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (!pid) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;)
				pause();
		}
		others[nr_others++] = pid;
	}
}

static void reap_others(void)
{
	int i;

	for (i = 0; i < nr_others; i++)
		kill(others[i], SIGKILL);
	for (i = 0; i < nr_others; i++)
		waitpid(others[i], NULL, 0);
	nr_others = 0;
}

static uint64_t attach(struct collector *c, pid_t pid, uint64_t sample)
{
	__u64 slot;

	if (kpc_attach(c->fd, pid, KPROBECOV_SCOPE_PROCESS, sample, &slot))
		die("KPROBECOV_ATTACH(pid %d, PROCESS) on collector \"%s\" (%u slots): %s",
		    (int)pid, c->label, c->slots, strerror(errno));
	return slot;
}

static void setup_collector(struct collector *c, const struct site_offsets *off)
{
	struct kprobecov_init init = {
		.max_probes = NR_SITE_KINDS, .max_slots = c->slots, .edge_bits = c->edge_bits,
	};
	struct kprobecov_probe probes[NR_SITE_KINDS];
	struct kprobecov_add_probes add;
	__u64 changed;
	int ret, s, o;

	c->fd = open_dev("kprobecov");
	ret = xioctl(c->fd, KPROBECOV_INIT, &init);
	if (ret)
		die("KPROBECOV_INIT(max_probes %d, max_slots %u, edge_bits %u): %s",
		    NR_SITE_KINDS, c->slots, c->edge_bits, strerror(-ret));
	c->area_bytes = init.area_bytes;
	c->area = mmap(NULL, c->area_bytes, PROT_READ, MAP_SHARED, c->fd, 0);
	if (c->area == MAP_FAILED)
		die("mmap of %zu bytes of the kprobecov area: %s", c->area_bytes, strerror(errno));

	for (s = 0; s < NR_SITE_KINDS; s++) {
		char sym[64];

		snprintf(sym, sizeof(sym), "kpcb_target_%d", c->target[s]);
		kpc_probe(&probes[s], "kpc_bench", sym, site_offset(&off[c->target[s]], s),
			  site_kind(s), c->target[s]);
	}
	if (kpc_add(c->fd, probes, NR_SITE_KINDS, &add))
		die("KPROBECOV_ADD_PROBES(%d probes on kpc_bench:kpcb_target_%d...): %s",
		    NR_SITE_KINDS, c->target[0], strerror(errno));
	for (s = 0; s < NR_SITE_KINDS; s++)
		if (probes[s].error || !(probes[s].state & KPROBECOV_STATE_REGISTERED))
			die("KPROBECOV_ADD_PROBES: probe kpc_bench:%s+0x%llx: error %d (%s), "
			    "state 0x%x; expected error 0 and REGISTERED", probes[s].symbol,
			    (unsigned long long)probes[s].offset, probes[s].error,
			    strerror(-probes[s].error), probes[s].state);
	if (add.first_index != 0 || add.registered != NR_SITE_KINDS || add.failed || add.pending)
		issue("ADD_PROBES of %d good probes returned first_index %llu, registered %llu, "
		      "pending %llu, failed %llu (expected 0, %d, 0, 0)", NR_SITE_KINDS,
		      (unsigned long long)add.first_index, (unsigned long long)add.registered,
		      (unsigned long long)add.pending, (unsigned long long)add.failed,
		      NR_SITE_KINDS);
	if (kpc_select(c->fd, KPROBECOV_ARM, KPROBECOV_SELECT_ALL, 0, 0, 0, &changed))
		die("KPROBECOV_ARM(ALL) of %d probes: %s", NR_SITE_KINDS, strerror(errno));
	if (changed != NR_SITE_KINDS)
		issue("ARM(ALL) of %d disarmed probes: changed = %llu, expected %d", NR_SITE_KINDS,
		      (unsigned long long)changed, NR_SITE_KINDS);

	/* The looper in the middle of the others: neutral to list order. */
	for (o = 0; o < c->others / 2 + (c->others & 1); o++)
		attach(c, others[o], 1000 + o);
	if (c->attach_self)
		c->self_slot = attach(c, 0, 1);
	for (; o < c->others; o++)
		attach(c, others[o], 1000 + o);
}

/*
 * Check the counters against the calls made: every call of the looper
 * counted once, in its slot, and nothing else. Records the verdict in the
 * configurations.
 */
static void verify_collector(const struct collector *c, struct hcfg *cfgs, int ncfg)
{
	const struct kprobecov_area_header *h = c->area;
	const uint64_t *counters, *bitmap;
	const struct kprobecov_slot_stats *st;
	int i, p;

	if (h->magic != KPROBECOV_AREA_MAGIC || h->nr_probes != NR_SITE_KINDS ||
	    h->max_slots != c->slots) {
		issue("area header of collector \"%s\": magic 0x%llx, nr_probes %llu, max_slots %llu"
		      " (expected 0x%llx, %d, %u)", c->label, (unsigned long long)h->magic,
		      (unsigned long long)h->nr_probes, (unsigned long long)h->max_slots,
		      (unsigned long long)KPROBECOV_AREA_MAGIC, NR_SITE_KINDS, c->slots);
		return;
	}
	counters = (const uint64_t *)((const char *)c->area + h->counters_offset);
	bitmap = (const uint64_t *)((const char *)c->area + h->hit_bitmap_offset);
	st = (const void *)((const char *)c->area + h->slots_offset);
	for (p = 0; p < NR_SITE_KINDS; p++) {
		uint64_t expect = 0, sum = 0, self = 0, s;
		struct hcfg *cfg = NULL;
		int bit = !!(bitmap[0] & (1ULL << p));

		for (i = 0; i < ncfg; i++)
			if (cfgs[i].probe == PR_KPC && cfgs[i].target == c->target[p])
				cfg = &cfgs[i];
		if (!cfg)
			continue;
		if (c->attach_self) {
			expect = cfg->calls;
			self = counters[c->self_slot * h->max_probes + p];
		}
		for (s = 0; s < c->slots; s++)
			sum += counters[s * h->max_probes + p];
		cfg->counted = c->attach_self ? self : sum;
		cfg->count_ok = self == expect && sum == expect && bit == !!expect;
		if (!cfg->count_ok)
			issue("collector \"%s\": the %s probe (kpc_bench:kpcb_target_%d+0x%x, code 0x%02x "
			      "there) counted %llu hits in the looper's slot, %llu over all %u slots, hit "
			      "bit %d, after %llu calls by the looper (expected %llu, %llu, %d)", c->label,
			      site_name[p], c->target[p], cfg->offset, cfg->opcode,
			      (unsigned long long)self, (unsigned long long)sum, c->slots, bit,
			      (unsigned long long)cfg->calls, (unsigned long long)expect,
			      (unsigned long long)expect, !!expect);
	}
	if (c->attach_self && st[c->self_slot].state != KPROBECOV_SLOT_ATTACHED)
		issue("collector \"%s\": looper's slot %llu has state %llu, expected ATTACHED",
		      c->label, (unsigned long long)c->self_slot,
		      (unsigned long long)st[c->self_slot].state);
	if (c->attach_self)
		progress("collector \"%s\": looper's slot %llu: %llu tasks, %llu distinct edges, "
			 "%llu new coverage", c->label, (unsigned long long)c->self_slot,
			 (unsigned long long)st[c->self_slot].tasks,
			 (unsigned long long)st[c->self_slot].edges,
			 (unsigned long long)st[c->self_slot].new_coverage);
}

static void run_loop(int dev, struct hcfg *cfg, uint64_t iters, double *ns_per_iter)
{
	struct kpcb_loop loop = { .target = cfg->target, .iterations = iters };
	int ret = xioctl(dev, KPCB_LOOP, &loop);

	if (ret)
		die("KPCB_LOOP(target %d, %llu iterations): %s", cfg->target,
		    (unsigned long long)iters, strerror(-ret));
	cfg->calls += iters;
	if (ns_per_iter)
		*ns_per_iter = (double)loop.elapsed_ns / iters;
}

/* Median (and range) over the rounds of a[r] / b[r]. */
static struct stat3 ratio_stats(const struct hcfg *a, const struct hcfg *b)
{
	double ratio[MAX_ROUNDS];
	int r;

	for (r = 0; r < rounds; r++)
		ratio[r] = a->ns[r] / b->ns[r];
	return stats(ratio, rounds);
}

static const char *site_state(int opcode)
{
	switch (opcode) {
	case OP_CALL32:
		return "ftrace call";
	case OP_JMP32:
		return "optimized jump";
	case OP_INT3:
		return "int3";
	default:
		return "not planted?";
	}
}

void handler_bench(void)
{
	struct site_offsets off[KPCB_NR_TARGETS];
	struct collector colls[NR_COLLS];
	struct hcfg cfgs[1 + NR_SITE_KINDS * (1 + NR_COLLS)];
	struct kpcb_empty empty[NR_SITE_KINDS];
	struct kpcb_site sites[KPCB_NR_TARGETS];
	int dev, r, i, k, s, c, ncfg, nslots = 64, nother, njump;
	double t0 = now_s(), took;
	size_t got;

	if (load_offsets("kpc_bench/targets.offsets", "kpcb_target_", off, KPCB_NR_TARGETS) !=
	    KPCB_NR_TARGETS || strcmp(off[0].module, "kpc_bench"))
		die("kpc_bench/targets.offsets: expected %d targets of kpc_bench: rebuild",
		    KPCB_NR_TARGETS);
	dev = open_dev("kpc_bench");

	if (kver.max_slots < (uint64_t)nslots) {
		issue("max_slots is %llu: the many-slot rows use that many slots, not 64",
		      (unsigned long long)kver.max_slots);
		nslots = kver.max_slots;
	}
	nother = nslots - 1;
	spawn_others(nother);

	/*
	 * Targets: 0 no probe; for site kind s, 1 + 6s: the empty kprobe,
	 * 2 + 6s + c: kprobecov collector c.
	 */
	colls[0] = (struct collector){ .label = "armed, no slot attached", .slots = 1 };
	colls[1] = (struct collector){ .label = "1 slot, edges off", .slots = 1, .attach_self = 1 };
	colls[2] = (struct collector){ .label = "1 slot, edges on", .slots = 1,
				       .edge_bits = edge_bits, .attach_self = 1 };
	colls[3] = (struct collector){ .label = "many slots, edges off", .slots = nslots,
				       .attach_self = 1, .others = nother };
	colls[4] = (struct collector){ .label = "many slots, edges on", .slots = nslots,
				       .edge_bits = edge_bits, .attach_self = 1, .others = nother };
	for (c = 0; c < NR_COLLS; c++)
		for (s = 0; s < NR_SITE_KINDS; s++)
			colls[c].target[s] = 2 + 6 * s + c;

	ncfg = 0;
	cfgs[ncfg++] = (struct hcfg){ .site = -1, .probe = PR_NONE, .coll = -1, .target = 0,
				      .ref = -1 };
	for (s = 0; s < NR_SITE_KINDS; s++) {
		int ref = ncfg;

		cfgs[ncfg++] = (struct hcfg){ .site = s, .probe = PR_EMPTY, .coll = -1,
					      .target = 1 + 6 * s, .ref = -1 };
		for (c = 0; c < NR_COLLS; c++)
			cfgs[ncfg++] = (struct hcfg){ .site = s, .probe = PR_KPC, .coll = c,
						      .target = colls[c].target[s], .ref = ref };
	}

	/* Reference probes first, then the collectors. */
	for (s = 0; s < NR_SITE_KINDS; s++) {
		empty[s] = (struct kpcb_empty){ .target = 1 + 6 * s,
						.offset = site_offset(&off[1 + 6 * s], s) };
		r = xioctl(dev, KPCB_EMPTY_ADD, &empty[s]);
		if (r)
			die("KPCB_EMPTY_ADD(kpcb_target_%llu+0x%llx): %s",
			    (unsigned long long)empty[s].target,
			    (unsigned long long)empty[s].offset, strerror(-r));
	}
	for (c = 0; c < NR_COLLS; c++)
		setup_collector(&colls[c], off);

	/* Let the optimizer do its work on the jump sites, then record what each site holds. */
	for (i = 0, njump = 0; i < ncfg; i++)
		if (cfgs[i].site == SITE_JUMP)
			sites[njump++] = (struct kpcb_site){ cfgs[i].target,
				site_offset(&off[cfgs[i].target], SITE_JUMP), { 0 } };
	took = wait_text(dev, sites, njump, OP_JMP32, OP_JMP32, njump, 30, &got);
	if (took < 0)
		progress("jump sites: only %zu of %d optimized after 30 s", got, njump);
	else
		progress("jump sites: all %d optimized after %.2f s", njump, took);
	for (i = 0; i < ncfg; i++)
		sites[i] = (struct kpcb_site){ cfgs[i].target,
			cfgs[i].site < 0 ? 0 : site_offset(&off[cfgs[i].target], cfgs[i].site), { 0 } };
	read_text(dev, sites, ncfg);
	for (i = 0; i < ncfg; i++) {
		int b1, b2;

		cfgs[i].offset = sites[i].offset;
		cfgs[i].opcode = sites[i].bytes[0];
		if (cfgs[i].site < 0)
			continue;
		planted_ops(cfgs[i].site, &b1, &b2);
		if (cfgs[i].opcode != b1 && cfgs[i].opcode != b2)
			issue("%s probe on kpcb_target_%d+0x%x: the code there starts with 0x%02x: "
			      "probe not planted?", cfgs[i].probe == PR_KPC ? "kprobecov" : "empty",
			      cfgs[i].target, sites[i].offset, cfgs[i].opcode);
	}

	progress("handler cost: %d configurations, %d rounds of %llu iterations", ncfg, rounds,
		 (unsigned long long)iterations);
	for (i = 0; i < ncfg; i++)	/* warm up (and translate, under TCG) */
		run_loop(dev, &cfgs[i], iterations / 10 + 1, NULL);
	for (r = 0; r < rounds; r++) {
		for (k = 0; k < ncfg; k++) {
			i = (k + r) % ncfg;
			run_loop(dev, &cfgs[i], iterations, &cfgs[i].ns[r]);
		}
		progress("round %d/%d done (%.1f s)", r + 1, rounds, now_s() - t0);
	}
	for (c = 0; c < NR_COLLS; c++)
		verify_collector(&colls[c], cfgs, ncfg);

	/* The table. */
	fprintf(out, "### Probe handler cost\n\n");
	fprintf(out, "An in-kernel loop (kpc_bench, process context) calls a noinline function "
		"%llu times per measurement; ns per iteration include the loop and the call. "
		"Median of %d interleaved rounds, spread = min–max. Each configuration probes a "
		"function of its own, all set up at once. The reference is an empty kprobe "
		"(`pre_handler` returning 0, planted by kpc_bench) on the same kind of site; "
		"ratios are taken within each round. Sites: **entry** = offset 0, an ftrace site: the "
		"reference is an ftrace-based kprobe (KPROBES_ON_FTRACE), kprobecov's probe an entry of "
		"the collector's own ftrace_ops (no kprobe, no saved pt_regs); **line, jump site** = +0x%x, the first instruction "
		"after the fentry call, which the kprobe optimizer turns into a jump; **line, int3 "
		"site** = +0x%x, the next instruction, whose 5-byte window holds a shift by an "
		"immediate that x86 kprobes cannot boost, so it stays an int3 breakpoint (both "
		"found with objdump at build time; the state column is what the code held while "
		"measured). The looping process is attached with PROCESS scope; in the many-slot "
		"rows %d other live processes are attached too (%d before the looper, %d after). "
		"Edges on: edge_bits = %u.\n\n",
		(unsigned long long)iterations, rounds, off[1].jump, off[1].int3, nother,
		nother / 2 + (nother & 1), nother / 2, edge_bits);
	fprintf(out, "| Site | State | Probe | Slots | Counted | ns/iter (median) | spread | "
		"× empty kprobe | ratio spread | + ns over empty |\n");
	fprintf(out, "|---|---|---|---:|---|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < ncfg; i++) {
		const struct hcfg *h = &cfgs[i];
		struct stat3 st = stats(h->ns, rounds);
		char slots[16] = "—", probe[64], counted[64] = "—";

		if (h->probe == PR_KPC) {
			snprintf(slots, sizeof(slots), "%d", colls[h->coll].attach_self ?
				 colls[h->coll].others + 1 : 0);
			snprintf(probe, sizeof(probe), "kprobecov, %s", colls[h->coll].label);
			if (h->count_ok)
				snprintf(counted, sizeof(counted), "%s", colls[h->coll].attach_self ?
					 "every call" : "none (right)");
			else
				snprintf(counted, sizeof(counted), "**%llu of %llu**",
					 (unsigned long long)h->counted, (unsigned long long)
					 (colls[h->coll].attach_self ? h->calls : 0));
		} else {
			snprintf(probe, sizeof(probe), "%s", h->probe == PR_EMPTY ?
				 "empty kprobe (reference)" : "no probe");
		}
		fprintf(out, "| %s | %s | %s | %s | %s | %.1f | %.1f–%.1f |",
			h->site < 0 ? "—" : site_name[h->site],
			h->site < 0 ? "—" : site_state(h->opcode), probe, slots, counted, st.med,
			st.min, st.max);
		if (h->ref >= 0) {
			struct stat3 rs = ratio_stats(h, &cfgs[h->ref]);
			double d[MAX_ROUNDS];

			for (r = 0; r < rounds; r++)
				d[r] = h->ns[r] - cfgs[h->ref].ns[r];
			fprintf(out, " %.3f× | %.3f–%.3f | %+.1f |\n", rs.med, rs.min, rs.max,
				stats(d, rounds).med);
		} else {
			fprintf(out, " | | |\n");
		}
	}

	/*
	 * Verdicts against the goal: < 15% over the empty kprobe, flat from 1 to
	 * 64 slots (at most 5% slower). A median past the line whose interquartile
	 * range of per-round ratios still reaches over it is called noise.
	 */
	fprintf(out, "\nGoal: kprobecov adds under 15%% over the empty kprobe, flat from 1 to %d "
		"slots (here: %d slots at most 5%% slower than 1). Verdicts use the per-round "
		"ratios: a median past the line whose interquartile range still reaches back over "
		"it is reported as within noise.\n\n", nslots, nslots);
	for (s = 0; s < NR_SITE_KINDS; s++) {
		const struct hcfg *worst = NULL, *h;
		struct stat3 ws = { 0, 0, 0, 0, 0 }, fs[2];
		const char *goal, *flat;
		int e, miscounted = 0;

		for (i = 0; i < ncfg; i++) {
			h = &cfgs[i];
			if (h->site != s || h->probe != PR_KPC)
				continue;
			miscounted |= !h->count_ok;
			if (ratio_stats(h, &cfgs[h->ref]).med > ws.med) {
				ws = ratio_stats(h, &cfgs[h->ref]);
				worst = h;
			}
		}
		for (e = 0; e < 2; e++) {
			const struct hcfg *one = NULL, *many = NULL;

			for (i = 0; i < ncfg; i++) {
				if (cfgs[i].site != s || cfgs[i].probe != PR_KPC)
					continue;
				if (cfgs[i].coll == 1 + e)
					one = &cfgs[i];
				if (cfgs[i].coll == 3 + e)
					many = &cfgs[i];
			}
			fs[e] = ratio_stats(many, one);
		}
		goal = miscounted ? "void" : ws.med < 1.15 ? "met" :
		       ws.q1 < 1.15 ? "not met, within noise" : "not met";
		/* Only growth with the number of slots misses the goal. */
		flat = "flat";
		for (e = 0; e < 2; e++) {
			if (fs[e].med < 1.05)
				continue;
			if (fs[e].q1 > 1.05) {
				flat = "not flat";
				break;
			}
			flat = "flat within noise";
		}
		fprintf(out, "- %s (%s): worst kprobecov row (%s) is %.3f× the empty kprobe "
			"(%+.1f%%; interquartile %.3f–%.3f): **%s**; %d slots vs 1 slot: %.3f× with "
			"edges off, %.3f× with edges on: **%s**.%s\n", site_name[s],
			site_state(cfgs[1 + s * 6].opcode), colls[worst->coll].label, ws.med,
			(ws.med - 1) * 100, ws.q1, ws.q3, goal, nslots, fs[0].med, fs[1].med,
			miscounted ? "void" : flat, miscounted ?
			" Void: kprobecov did not count these hits right (see Counted and the "
			"issues below), so it did not do the work being measured." : "");
	}
	fprintf(out, "\n");

	for (c = 0; c < NR_COLLS; c++) {
		munmap(colls[c].area, colls[c].area_bytes);
		close(colls[c].fd);
	}
	for (s = 0; s < NR_SITE_KINDS; s++)
		xioctl(dev, KPCB_EMPTY_DEL, &empty[s].id);
	close(dev);
	reap_others();
	progress("handler cost: done in %.1f s", now_s() - t0);
}
