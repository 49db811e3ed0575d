// SPDX-License-Identifier: GPL-2.0
/*
 * Robustness of the module against its own machinery and the rest of the
 * kernel: hits where RCU is not watching, probes on what the hot path itself
 * calls, and module loads and unloads while a large ADD_PROBES runs.
 */
#include "kpc_util.h"

#define KPC_KPROBES_LIST "/sys/kernel/debug/kprobes/list"
#define KPC_OPT_SYSCTL "/proc/sys/debug/kprobes-optimization"
#define KPC_UNWATCHED "kpc_unwatched"
#define kpc_unwatched_ko() kpc_path("KPROBECOV_UNWATCHED_KO", "target/kpc_unwatched.ko")

static int kpc_read_int(const char *path)
{
	FILE *f = fopen(path, "r");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void kpc_write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	ASSERT_NE(-1, fd);
	ASSERT_EQ((ssize_t)strlen(s), write(fd, s, strlen(s)));
	close(fd);
}

static void kpc_write_int(const char *path, int v)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", v);
	kpc_write_str(path, buf);
}

/* Whether kprobes' list has a probe on sym+off marked [OPTIMIZED]. */
static int kpc_optimized(const char *sym, unsigned long off)
{
	char line[512], want[256];
	int found = 0;
	FILE *f = fopen(KPC_KPROBES_LIST, "r");

	if (!f)
		SKIP("no " KPC_KPROBES_LIST " (debugfs)");
	snprintf(want, sizeof(want), " %s+%#lx ", sym, off);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, want) && strstr(line, "[OPTIMIZED]"))
			found = 1;
	fclose(f);
	return found;
}

/* kpc_unwatched loaded, kprobes' optimisation saved (restored after); a collector. */
FIXTURE(unwatched) {
	struct kpc_col c;
	unsigned long body;	/* offset of kpc_unwatched_fn's optimisable block */
	int saved_opt;
};

FIXTURE_SETUP(unwatched)
{
	const char *ko = kpc_unwatched_ko();

	self->saved_opt = -1;
	if (access(ko, R_OK))
		SKIP("%s is missing: build kmod/tests first", ko);
	if (!kpc_is_loaded(KPC_UNWATCHED))
		ASSERT_EQ(0, kpc_load(ko));
	self->body = kpc_read_int("/sys/module/" KPC_UNWATCHED "/parameters/body_offset");
	ASSERT_LT(0, (long)self->body);
	self->saved_opt = kpc_read_int(KPC_OPT_SYSCTL);
	kpc_col_open(&self->c, 16, 1, 0, 0);
}

FIXTURE_TEARDOWN(unwatched)
{
	kpc_col_close(&self->c);
	if (self->saved_opt >= 0)
		kpc_write_int(KPC_OPT_SYSCTL, self->saved_opt);
	if (kpc_is_loaded(KPC_UNWATCHED))
		kpc_unload(KPC_UNWATCHED);
}

/* Calls kpc_unwatched_fn n times in this process, with RCU watching or not. */
static void kpc_unwatched_call(const char *how, unsigned int n)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", n);
	if (!strcmp(how, "watched"))
		kpc_write_str("/sys/module/" KPC_UNWATCHED "/parameters/call_watched", buf);
	else
		kpc_write_str("/sys/module/" KPC_UNWATCHED "/parameters/call_unwatched", buf);
}

/* Plants, arms and attaches probe 0 at kpc_unwatched_fn's entry, 1 in its block. */
static __u64 kpc_unwatched_probes(struct kpc_col *c, unsigned long body)
{
	struct kprobecov_probe p[2];
	struct kprobecov_add_probes out;
	__u64 slot;

	kpc_probe(&p[0], KPC_UNWATCHED, "kpc_unwatched_fn", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[1], KPC_UNWATCHED, "kpc_unwatched_fn", body, KPROBECOV_KIND_LINE, 0);
	ASSERT_OK(kpc_add(c->fd, p, 2, &out));
	ASSERT_EQ(2, out.registered);
	kpc_arm_all(c->fd);
	ASSERT_OK(kpc_attach(c->fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	return slot;
}

/*
 * Where RCU is not watching (idle code), the entry probe (the ftrace callback)
 * and a jump-optimised kprobe run in that context: they count nothing, as the
 * collector's memory could be freed under them. With RCU watching they count.
 */
TEST_F(unwatched, optimised_and_entry_probes_count_nothing_where_rcu_is_not_watching)
{
	__u64 slot;
	int i;

	if (self->saved_opt < 0)
		SKIP("no " KPC_OPT_SYSCTL " (CONFIG_OPTPROBES)");
	kpc_write_int(KPC_OPT_SYSCTL, 1);
	slot = kpc_unwatched_probes(&self->c, self->body);
	/* The optimiser writes the jump after a delay and an RCU-tasks grace period. */
	for (i = 0; i < 100 && !kpc_optimized("kpc_unwatched_fn", self->body); i++)
		usleep(50 * 1000);
	if (i == 100)
		SKIP("kprobes did not optimise the probe in kpc_unwatched_fn");
	sleep(1);
	kpc_unwatched_call("watched", 5);
	ASSERT_EQ(5, kpc_counter(&self->c, slot, 0));
	ASSERT_EQ(5, kpc_counter(&self->c, slot, 1));
	kpc_unwatched_call("unwatched", 7);
	/* Neither the entry probe nor the jump counted the calls in the quiescent state. */
	ASSERT_EQ(5, kpc_counter(&self->c, slot, 0));
	ASSERT_EQ(5, kpc_counter(&self->c, slot, 1));
	/* And both count again once RCU watches. */
	kpc_unwatched_call("watched", 2);
	ASSERT_EQ(7, kpc_counter(&self->c, slot, 0));
	ASSERT_EQ(7, kpc_counter(&self->c, slot, 1));
}

/* A breakpoint's handler runs in the int3 trap, which makes RCU watch: it counts there. */
TEST_F(unwatched, breakpoint_probes_count_where_rcu_is_not_watching)
{
	__u64 slot;

	if (self->saved_opt >= 0)
		kpc_write_int(KPC_OPT_SYSCTL, 0);
	slot = kpc_unwatched_probes(&self->c, self->body);
	kpc_unwatched_call("watched", 5);
	kpc_unwatched_call("unwatched", 7);
	/* The entry probe (ftrace) counted the watched calls only, the breakpoint all. */
	ASSERT_EQ(5, kpc_counter(&self->c, slot, 0));
	ASSERT_EQ(12, kpc_counter(&self->c, slot, 1));
}

/*
 * Probes on what the hot path itself calls (irq_work_queue for a new-coverage
 * wake-up, rcu_is_watching where the check is not inline, and what they
 * call), together with probes on kpc_target: a hit inside a hit, from the
 * ftrace callback or a breakpoint, is refused by the recursion guards or
 * counted in interrupt context, and kpc_target's counts stay exact.
 */
TEST(probes_on_what_the_hot_path_calls)
{
	static const char *const hot[] = {
		"irq_work_queue", "irq_work_queue_on", "arch_irq_work_raise", "rcu_is_watching",
	};
	struct kprobecov_probe p[4];
	struct kprobecov_add_probes out;
	struct kpc_col c;
	__u64 ps, gs;
	unsigned int i, round;

	kpc_target_ensure_loaded();
	kpc_col_open(&c, 64, 2, 8, 0);
	kpc_add_std(c.fd, 0);
	for (i = 0; i < 4; i++)
		kpc_probe(&p[i], "vmlinux", hot[i], 0, KPROBECOV_KIND_FUNC, 0);
	ASSERT_OK(kpc_add(c.fd, p, 4, &out));
	for (i = 0; i < 4; i++)
		kt_log("%s: %s", hot[i], p[i].error ? kt_errname(-p[i].error) : "planted");
	/* irq_work_queue, which every new-coverage hit calls, can be probed. */
	ASSERT_EQ(0, p[0].error);
	kpc_arm_all(c.fd);
	ASSERT_OK(kpc_attach(c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &ps));
	ASSERT_OK(kpc_attach(c.fd, 0, KPROBECOV_SCOPE_GLOBAL, 0, &gs));
	for (round = 1; round <= 50; round++) {
		/* Forget what was seen: each round's first hits are new coverage again. */
		ASSERT_OK(kpc_slot_op(c.fd, KPROBECOV_RESET, KPROBECOV_ALL_SLOTS));
		kpc_call(-1, KPC_TARGET_CALL_A, 1, 3);
		kpc_call(-1, KPC_TARGET_CALL_BRANCH, 1, 2);
		kpc_call(-1, KPC_TARGET_CALL_BRANCH, -1, 1);
		/* Entry probe (ftrace) and line probes (kprobes) counted exactly, in both slots. */
		ASSERT_EQ(3, kpc_counter(&c, ps, P_A));
		ASSERT_EQ(3, kpc_counter(&c, ps, P_BRANCH));
		ASSERT_EQ(2, kpc_counter(&c, ps, P_POS));
		ASSERT_EQ(1, kpc_counter(&c, ps, P_NEG));
		ASSERT_EQ(3, kpc_counter(&c, gs, P_A));
		ASSERT_EQ(2, kpc_counter(&c, gs, P_POS));
		/* The new coverage was reported (through irq_work_queue, probed). */
		ASSERT_LT(0, c.hdr->new_events);
	}
	kpc_col_close(&c);
}

KT_MAIN(kpc_requirements)
