// SPDX-License-Identifier: GPL-2.0
/*
 * Teardown at scale: a collector of ten thousand armed probes, each of which
 * the kernel turns into a jump, is closed and the kernel log must stay clean
 * (no soft lockup, RCU stall, hung task or warning), while a probe of the
 * same collector counts every call until the close.
 *
 * The sites are bench/'s generated functions (kpc_sites_<m>.ko, built by
 * make build; sites.offsets names each one's jump site), so their original
 * code can be read back through /dev/kpc_sites: after close the test waits
 * until every site holds it again, i.e. until kprobes' optimizer has undone
 * every jump, before it reads the log. To find a lockup with ten thousand
 * sites in a test's time, the soft-lockup watchdog's threshold is lowered to
 * 2 s (a report after 4 s stuck) and the RCU stall timeout to 5 s while the
 * collector closes; both are put back afterwards.
 *
 * KPROBECOV_TEARDOWN_SITES: number of sites (default 10000, at most what
 * sites.offsets lists). KPROBECOV_BENCH_DIR: where bench/kpc_bench is
 * (default: ../../bench/kpc_bench next to this program).
 */
#include "kpc_util.h"

#include "../../bench/kpc_bench/kpc_bench_uapi.h"

#define SITES_DEFAULT	10000
#define WATCHDOG_THRESH	"/proc/sys/kernel/watchdog_thresh"
#define RCU_STALL	"/sys/module/rcupdate/parameters/rcu_cpu_stall_timeout"

/* What the log must not say during teardown. */
static const char *const bad_words[] = {
	"soft lockup", "rcu_sched detected stall", "rcu: INFO:", "self-detected stall",
	"blocked for more than", "WARNING:", "BUG:", "Call Trace:",
};

static const char *bench_dir(void)
{
	return kpc_path("KPROBECOV_BENCH_DIR", "../../bench/kpc_bench");
}

/* insmod unless loaded; asserts it worked. */
static void load_bench(const char *name)
{
	char ko[PATH_MAX];

	if (kpc_is_loaded(name))
		return;
	snprintf(ko, sizeof(ko), "%s/%s.ko", bench_dir(), name);
	ASSERT_EQ(0, kpc_load(ko));
}

/* The jump sites of sites.offsets: module, symbol, offset; returns how many. */
static unsigned read_sites(struct kprobecov_probe *p, struct kpcb_site *s, unsigned max)
{
	char path[PATH_MAX], line[512], mod[48], sym[48];
	unsigned a, b, n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/sites.offsets", bench_dir());
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	while (n < max && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%47s %47s %x %x", mod, sym, &a, &b) != 4)
			continue;
		kpc_probe(&p[n], mod, sym, a, KPROBECOV_KIND_LINE, 0);
		s[n] = (struct kpcb_site){ .func = atoi(sym + strlen("kpcs_f")), .offset = a };
		n++;
	}
	fclose(f);
	return n;
}

/*
 * Lines of the kernel log (dmesg) from line `from` on that say one of bad_words;
 * *lines: how many lines it has.
 */
static int bad_log_lines(int from, int *lines)
{
	FILE *f = popen("dmesg", "r");
	char line[1024];
	int n = 0, bad = 0;
	unsigned i;

	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		if (n++ >= from)
			for (i = 0; i < sizeof(bad_words) / sizeof(bad_words[0]); i++)
				if (strstr(line, bad_words[i])) {
					kt_log("dmesg: %s", line);
					bad++;
					break;
				}
	pclose(f);
	if (lines)
		*lines = n;
	return bad;
}

/* Sites of s[0..n) whose code differs from orig (read through /dev/kpc_sites). */
static unsigned changed_sites(int sfd, struct kpcb_site *s, const struct kpcb_site *orig,
			      unsigned n)
{
	struct kpcb_text t = { .sites = (uintptr_t)s, .count = n };
	unsigned i, changed = 0;

	ASSERT_EQ(0, ioctl(sfd, KPCB_TEXT, &t));
	for (i = 0; i < n; i++)
		changed += !!memcmp(s[i].bytes, orig[i].bytes, sizeof(s[i].bytes));
	return changed;
}

FIXTURE(big) {
	int thresh, stall;
};

FIXTURE_SETUP(big)
{
	int m;

	load_bench("kpc_bench");
	load_bench("kpc_sites");
	for (m = 0; m < 100; m++) {
		char name[32], ko[PATH_MAX];

		snprintf(name, sizeof(name), "kpc_sites_%d", m);
		snprintf(ko, sizeof(ko), "%s/%s.ko", bench_dir(), name);
		if (access(ko, F_OK))
			break;
		load_bench(name);
	}
	self->thresh = kpc_read_int(WATCHDOG_THRESH);
	self->stall = kpc_read_int(RCU_STALL);
}

FIXTURE_TEARDOWN(big)
{
	if (self->thresh > 0)
		kpc_write_int(WATCHDOG_THRESH, self->thresh);
	if (self->stall > 0)
		kpc_write_int(RCU_STALL, self->stall);
}

TEST_F_TIMEOUT(big, close_ten_thousand_jumps_log_clean, 1500)
{
	const char *env = getenv("KPROBECOV_TEARDOWN_SITES");
	unsigned want = env ? (unsigned)atoi(env) : SITES_DEFAULT, n, i, left;
	struct kprobecov_probe *p = calloc(want + 1, sizeof(*p));
	struct kpcb_site *s = calloc(want, sizeof(*s)), *orig = calloc(want, sizeof(*orig));
	struct kprobecov_add_probes add;
	struct kpcb_loop loop = { .target = 0, .iterations = 1000 };
	struct kpc_col c;
	int sfd, bfd, before = 0;
	double t0, t_add, t_arm, t_close, t_restored;
	__u64 slot;
	char sym[32], path[PATH_MAX];
	unsigned jump_b;
	FILE *f;

	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, s);
	ASSERT_NE(NULL, orig);
	n = read_sites(p, s, want);
	ASSERT_EQ(want, n);
	memcpy(orig, s, n * sizeof(*s));
	sfd = open("/dev/kpc_sites", O_RDWR);
	ASSERT_LE(0, sfd);
	{
		struct kpcb_text t = { .sites = (uintptr_t)orig, .count = n };

		ASSERT_EQ(0, ioctl(sfd, KPCB_TEXT, &t));	/* the original code: no probe yet */
	}

	/* The witness: kpcb_target_0's jump site, called 1000 times through kpc_bench. */
	snprintf(path, sizeof(path), "%s/targets.offsets", bench_dir());
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(3, fscanf(f, "%*s %31s %x %x", sym, &jump_b, &i));
	fclose(f);
	loop.target = atoi(sym + strlen("kpcb_target_"));
	kpc_probe(&p[n], "kpc_bench", sym, jump_b, KPROBECOV_KIND_LINE, 1);
	bfd = open("/dev/kpc_bench", O_RDWR);
	ASSERT_LE(0, bfd);

	kpc_col_open(&c, n + 1, 1, 0, 0);
	t0 = kt_now();
	ASSERT_OK(kpc_add(c.fd, p, n + 1, &add));
	t_add = kt_now() - t0;
	ASSERT_EQ(n + 1, add.registered);
	t0 = kt_now();
	kpc_arm_all(c.fd);
	t_arm = kt_now() - t0;

	/* Every site becomes a jump (kprobes' optimizer, after ARM): what teardown undoes. */
	t0 = kt_now();
	do {
		changed_sites(sfd, s, orig, n);
		for (i = 0, left = 0; i < n; i++)
			left += s[i].bytes[0] != 0xe9;
	} while (left && kt_now() - t0 < 300 && !usleep(200000));
	kt_log("%u probes: ADD %.1f s (%.2f ms/probe), ARM %.1f s, all jumps after %.1f s more",
	       n + 1, t_add, 1e3 * t_add / (n + 1), t_arm, kt_now() - t0);
	ASSERT_EQ(0, left);

	/* No hit lost while armed. */
	ASSERT_OK(kpc_attach(c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	ASSERT_EQ(0, ioctl(bfd, KPCB_LOOP, &loop));
	ASSERT_EQ(1000, kpc_counter(&c, slot, n));

	kpc_write_int(WATCHDOG_THRESH, 2);
	kpc_write_int(RCU_STALL, 5);
	bad_log_lines(1 << 30, &before);
	t0 = kt_now();
	kpc_col_close(&c);
	t_close = kt_now() - t0;
	while ((left = changed_sites(sfd, s, orig, n)) && kt_now() - t0 < 600)
		usleep(100000);
	t_restored = kt_now() - t0;
	sleep(5);	/* a report comes after the stall it reports */
	kt_log("close %.1f s, every site restored after %.1f s", t_close, t_restored);
	ASSERT_EQ(0, left);
	ASSERT_EQ(0, bad_log_lines(before, NULL));
	close(bfd);
	close(sfd);
}

KT_MAIN(kpc_requirements)
