// SPDX-License-Identifier: GPL-2.0
/*
 * Probes: ADD_PROBES and its per-probe and per-batch errors, built-in
 * probes, ARM/DISARM selections, GET_PROBE_STATUS, NEXT_UNHIT, breakpoint
 * and optimized (jump) probes counting in task context, and GET_CALLERS
 * (with and without CAP_SYSLOG). Modules that come and go: module_test.c.
 */
#include "kpc_util.h"

/* kpc_target loaded, a collector of 64 probes and 4 slots, no edges, no trace. */
FIXTURE(loaded) {
	struct kpc_col c;
};

FIXTURE_SETUP(loaded)
{
	kpc_target_ensure_loaded();
	kpc_col_open(&self->c, 64, 4, 0, 0);
}

FIXTURE_TEARDOWN(loaded)
{
	kpc_col_close(&self->c);
}

TEST_F(loaded, func_probes_register_disarmed)
{
	struct kprobecov_probe p[3];
	struct kprobecov_add_probes out;
	int i;

	kpc_probe(&p[0], KPC_TARGET, "kpc_target_a", 0, KPROBECOV_KIND_FUNC, 1);
	kpc_probe(&p[1], KPC_TARGET, "kpc_target_b", 0, KPROBECOV_KIND_FUNC, 2);
	kpc_probe(&p[2], KPC_TARGET, "kpc_target_branch", 0, KPROBECOV_KIND_FUNC, 3);
	ASSERT_OK(kpc_add(self->c.fd, p, 3, &out));
	/* The first batch starts at index 0; all three are planted. */
	ASSERT_EQ(0, out.first_index);
	ASSERT_EQ(3, out.registered);
	ASSERT_EQ(0, out.pending);
	ASSERT_EQ(0, out.failed);
	for (i = 0; i < 3; i++) {
		/* Each is registered, without error, and not armed yet. */
		ASSERT_EQ(0, p[i].error);
		ASSERT_TRUE(HAS(p[i].state, REGISTERED));
		ASSERT_FALSE(HAS(p[i].state, ARMED));
	}
	/* The header counts them. */
	ASSERT_EQ(3, self->c.hdr->nr_probes);
	/* The next batch continues the indices. */
	ASSERT_OK(kpc_add(self->c.fd, p, 1, &out));
	ASSERT_EQ(3, out.first_index);
}

TEST_F(loaded, per_probe_errors)
{
	struct kprobecov_probe p[8];
	struct kprobecov_add_probes out;
	__s32 err;

	kpc_probe(&p[0], KPC_TARGET, "kpc_target_a", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[1], KPC_TARGET, "kpc_target_no_such_function", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[2], KPC_TARGET, "kpc_target_a", 1, KPROBECOV_KIND_LINE, 0);
	kpc_probe(&p[3], "vmlinux", "notify_die", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[4], "vmlinux", "init_task", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[5], "printk", "vprintk", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[6], "vmlinux", "kpc_no_such_builtin_function", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[7], KPC_TARGET, "vprintk", 0, KPROBECOV_KIND_FUNC, 0);
	ASSERT_OK(kpc_add(self->c.fd, p, 8, &out));
	/* One good probe, seven failed ones, all given indices. */
	ASSERT_EQ(1, out.registered);
	ASSERT_EQ(7, out.failed);
	ASSERT_EQ(8, self->c.hdr->nr_probes);
	/* An unknown symbol in a loaded module. */
	ASSERT_EQ(-ENOENT, p[1].error);
	ASSERT_TRUE(HAS(p[1].state, FAILED));
	ASSERT_FALSE(HAS(p[1].state, REGISTERED));
	/* An offset inside an instruction. */
	ASSERT_EQ(-EILSEQ, p[2].error);
	ASSERT_TRUE(HAS(p[2].state, FAILED));
	/* A built-in function kprobes refuse (NOKPROBE_SYMBOL). */
	ASSERT_EQ(-EINVAL, p[3].error);
	ASSERT_TRUE(HAS(p[3].state, FAILED));
	/* A built-in symbol that is not text. */
	ASSERT_EQ(-EINVAL, p[4].error);
	/* A built-in "module" name (use vmlinux for it). */
	ASSERT_EQ(-ENOENT, p[5].error);
	ASSERT_TRUE(HAS(p[5].state, FAILED));
	/* An unknown built-in symbol. */
	ASSERT_EQ(-ENOENT, p[6].error);
	/* A built-in symbol asked of a module: not looked up in vmlinux instead. */
	ASSERT_EQ(-ENOENT, p[7].error);
	/* GET_PROBE_STATUS reports the same error and state. */
	ASSERT_TRUE(HAS(kpc_state(self->c.fd, 1, &err), FAILED));
	ASSERT_EQ(-ENOENT, err);
	/* The good one is planted. */
	ASSERT_TRUE(HAS(p[0].state, REGISTERED));
}

TEST_F(loaded, vmlinux_probe_never_lands_in_a_module)
{
	struct kprobecov_probe p;
	struct kprobecov_add_probes out;

	/* A module's function asked of vmlinux: kprobes would find it in the module. */
	kpc_probe(&p, "vmlinux", "kpc_target_a", 0, KPROBECOV_KIND_FUNC, 0);
	ASSERT_OK(kpc_add(self->c.fd, &p, 1, &out));
	ASSERT_EQ(1, out.failed);
	ASSERT_EQ(-ENOENT, p.error);
	ASSERT_FALSE(HAS(p.state, REGISTERED));
}

TEST_F(loaded, offset_past_the_function_fails)
{
	unsigned long long a = kpc_kallsyms("kpc_target_a");
	unsigned long long b = kpc_kallsyms("kpc_target_b");
	struct kprobecov_probe p;
	struct kprobecov_add_probes out;

	if (!a || !b || b <= a)
		SKIP("kpc_target_b does not follow kpc_target_a in /proc/kallsyms");
	/* "kpc_target_a + (b - a)" is kpc_target_b's first instruction, not a's. */
	kpc_probe(&p, KPC_TARGET, "kpc_target_a", b - a, KPROBECOV_KIND_LINE, 0);
	ASSERT_OK(kpc_add(self->c.fd, &p, 1, &out));
	kt_log("kpc_target_a+%#llx: error %s, state %#x", b - a, kt_errname(-p.error), p.state);
	if (HAS(p.state, REGISTERED)) {
		kpc_arm_all(self->c.fd);
		ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_GLOBAL, 0, NULL));
		kpc_call(-1, KPC_TARGET_CALL_B, 1, 2);
		kt_log("planted anyway: 2 calls of kpc_target_b counted %llu times",
		       (unsigned long long)kpc_counter(&self->c, 0, 0));
	}
	/* It fails rather than count kpc_target_b's calls as a's. */
	ASSERT_EQ(1, out.failed);
	ASSERT_TRUE(HAS(p.state, FAILED));
}

TEST_F(loaded, batch_errors_add_nothing)
{
	struct kprobecov_probe p[2];

	kpc_probe(&p[0], KPC_TARGET, "kpc_target_a", 0, KPROBECOV_KIND_FUNC, 0);
	/* A function probe with an offset fails the whole batch. */
	kpc_probe(&p[1], KPC_TARGET, "kpc_target_b", 5, KPROBECOV_KIND_FUNC, 0);
	ASSERT_ERRNO(EINVAL, kpc_add(self->c.fd, p, 2, NULL));
	/* Kind 0 (reserved). */
	kpc_probe(&p[1], KPC_TARGET, "kpc_target_b", 0, 0, 0);
	ASSERT_ERRNO(EINVAL, kpc_add(self->c.fd, p, 2, NULL));
	/* A kind above KPROBECOV_KIND_MAX. */
	kpc_probe(&p[1], KPC_TARGET, "kpc_target_b", 0, KPROBECOV_KIND_MAX + 1, 0);
	ASSERT_ERRNO(EINVAL, kpc_add(self->c.fd, p, 2, NULL));
	/* An empty symbol. */
	kpc_probe(&p[1], KPC_TARGET, "", 0, KPROBECOV_KIND_FUNC, 0);
	ASSERT_ERRNO(EINVAL, kpc_add(self->c.fd, p, 2, NULL));
	/* An unterminated symbol. */
	kpc_probe(&p[1], KPC_TARGET, "kpc_target_b", 0, KPROBECOV_KIND_FUNC, 0);
	memset(p[1].symbol, 'x', sizeof(p[1].symbol));
	ASSERT_ERRNO(EINVAL, kpc_add(self->c.fd, p, 2, NULL));
	/* An unterminated module name. */
	kpc_probe(&p[1], KPC_TARGET, "kpc_target_b", 0, KPROBECOV_KIND_FUNC, 0);
	memset(p[1].module, 'm', sizeof(p[1].module));
	ASSERT_ERRNO(EINVAL, kpc_add(self->c.fd, p, 2, NULL));
	/* A batch of zero probes. */
	ASSERT_ERRNO(EINVAL, kpc_add(self->c.fd, p, 0, NULL));
	/* Nothing was added by any of them, not even the good first probe. */
	ASSERT_EQ(0, self->c.hdr->nr_probes);
}

TEST_F(loaded, more_than_max_probes_is_enospc)
{
	struct kprobecov_probe p[65];
	struct kprobecov_add_probes out;
	int i;

	for (i = 0; i < 65; i++)
		kpc_probe(&p[i], KPC_TARGET, "kpc_target_a", 0, KPROBECOV_KIND_FUNC, 0);
	/* 65 probes do not fit in 64. */
	ASSERT_ERRNO(ENOSPC, kpc_add(self->c.fd, p, 65, NULL));
	ASSERT_EQ(0, self->c.hdr->nr_probes);
	/* 60 do; then 5 more do not. */
	ASSERT_OK(kpc_add(self->c.fd, p, 60, &out));
	ASSERT_EQ(60, out.registered);
	ASSERT_ERRNO(ENOSPC, kpc_add(self->c.fd, p, 5, NULL));
	/* The last 4 fit exactly. */
	ASSERT_OK(kpc_add(self->c.fd, p, 4, &out));
	ASSERT_EQ(64, self->c.hdr->nr_probes);
}

TEST(batch_above_max_batch_is_e2big)
{
	size_t n = KPROBECOV_MAX_BATCH + 1, i;
	struct kprobecov_version v;
	struct kprobecov_probe *p;
	struct kpc_col c;

	c.fd = kpc_open();
	kpc_version(c.fd, &v);
	close(c.fd);
	if (v.max_probes < n)
		SKIP("max_probes %llu cannot hold a batch above KPROBECOV_MAX_BATCH",
		     (unsigned long long)v.max_probes);
	kpc_col_open(&c, n, 1, 0, 0);
	p = calloc(n, sizeof(*p));
	ASSERT_NE(NULL, p);
	for (i = 0; i < n; i++)
		kpc_probe(&p[i], KPC_TARGET, "kpc_target_a", 0, KPROBECOV_KIND_FUNC, 0);
	/* One probe more than a batch may hold, though the collector could. */
	ASSERT_ERRNO(E2BIG, kpc_add(c.fd, p, n, NULL));
	/* A count whose size in bytes wraps around 2^64. */
	ASSERT_ERRNO(E2BIG, kpc_add(c.fd, p, 1ULL << 60, NULL));
	ASSERT_EQ(0, c.hdr->nr_probes);
}

TEST_F(loaded, arm_disarm_selections)
{
	int fd = self->c.fd;
	__u64 changed;

	kpc_add_std(fd, 0);
	/* ARM of everything changes all P_NR probes, then none. */
	ASSERT_OK(kpc_select(fd, KPROBECOV_ARM, KPROBECOV_SELECT_ALL, 0, 0, 0, &changed));
	ASSERT_EQ(P_NR, changed);
	ASSERT_TRUE(HAS(kpc_state(fd, P_NEG, NULL), ARMED));
	ASSERT_OK(kpc_select(fd, KPROBECOV_ARM, KPROBECOV_SELECT_ALL, 0, 0, 0, &changed));
	ASSERT_EQ(0, changed);
	/* DISARM of the range [1, 3) changes B and BRANCH only. */
	ASSERT_OK(kpc_select(fd, KPROBECOV_DISARM, KPROBECOV_SELECT_RANGE, 0, 1, 2, &changed));
	ASSERT_EQ(2, changed);
	ASSERT_TRUE(HAS(kpc_state(fd, P_A, NULL), ARMED));
	ASSERT_FALSE(HAS(kpc_state(fd, P_B, NULL), ARMED));
	ASSERT_FALSE(HAS(kpc_state(fd, P_BRANCH, NULL), ARMED));
	ASSERT_TRUE(HAS(kpc_state(fd, P_POS, NULL), ARMED));
	/* ARM of group G_BRANCH (BRANCH, POS, NEG) changes only BRANCH. */
	ASSERT_OK(kpc_select(fd, KPROBECOV_ARM, KPROBECOV_SELECT_GROUP, G_BRANCH, 0, 0, &changed));
	ASSERT_EQ(1, changed);
	/* DISARM of that group changes its three. */
	ASSERT_OK(kpc_select(fd, KPROBECOV_DISARM, KPROBECOV_SELECT_GROUP, G_BRANCH, 0, 0, &changed));
	ASSERT_EQ(3, changed);
	/* A group nobody is in changes nothing. */
	ASSERT_OK(kpc_select(fd, KPROBECOV_ARM, KPROBECOV_SELECT_GROUP, 999, 0, 0, &changed));
	ASSERT_EQ(0, changed);
	/* A range past the last probe. */
	ASSERT_ERRNO(EINVAL, kpc_select(fd, KPROBECOV_ARM, KPROBECOV_SELECT_RANGE, 0,
					P_NR - 1, 2, NULL));
	/* "how" 0 (reserved) and above SELECT_GROUP. */
	ASSERT_ERRNO(EINVAL, kpc_select(fd, KPROBECOV_ARM, 0, 0, 0, 0, NULL));
	ASSERT_ERRNO(EINVAL, kpc_select(fd, KPROBECOV_DISARM, KPROBECOV_SELECT_GROUP + 1,
					0, 0, 0, NULL));
}

TEST_F(loaded, disarmed_probes_do_not_count)
{
	int fd = self->c.fd;
	__u64 slot;

	kpc_add_std(fd, 0);
	kpc_arm_all(fd);
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	ASSERT_OK(kpc_select(fd, KPROBECOV_DISARM, KPROBECOV_SELECT_GROUP, G_A, 0, 0, NULL));
	/* A disarmed probe counts nothing. */
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 3);
	ASSERT_EQ(0, kpc_counter(&self->c, slot, P_A));
	/* Armed again, it counts every call. */
	ASSERT_OK(kpc_select(fd, KPROBECOV_ARM, KPROBECOV_SELECT_GROUP, G_A, 0, 0, NULL));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 3);
	ASSERT_EQ(3, kpc_counter(&self->c, slot, P_A));
}

TEST_F(loaded, probe_status_bits)
{
	int fd = self->c.fd;
	struct kprobecov_probe bad;
	__u32 st;
	__s32 err;

	kpc_add_std(fd, 0);
	kpc_probe(&bad, KPC_TARGET, "kpc_target_nope", 0, KPROBECOV_KIND_LINE, 0);
	ASSERT_OK(kpc_add(fd, &bad, 1, NULL));
	kpc_arm_all(fd);
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 0, NULL));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 1);

	st = kpc_state(fd, P_A, &err);
	/* A hit function probe: registered, armed, hit, kind FUNC, no error. */
	ASSERT_EQ(KPROBECOV_STATE_REGISTERED | KPROBECOV_STATE_ARMED | KPROBECOV_STATE_HIT |
		  KPROBECOV_KIND_FUNC << KPROBECOV_STATE_KIND_SHIFT, st);
	ASSERT_EQ(0, err);
	/* A branch probe not hit: no HIT bit, kind BRANCH. */
	ASSERT_EQ(KPROBECOV_STATE_REGISTERED | KPROBECOV_STATE_ARMED |
		  KPROBECOV_KIND_BRANCH << KPROBECOV_STATE_KIND_SHIFT, kpc_state(fd, P_POS, NULL));
	/* The failed probe: FAILED, never registered, kind LINE, ENOENT. */
	st = kpc_state(fd, P_NR, &err);
	ASSERT_TRUE(HAS(st, FAILED));
	ASSERT_FALSE(HAS(st, REGISTERED));
	ASSERT_EQ(KPROBECOV_KIND_LINE, (st >> KPROBECOV_STATE_KIND_SHIFT) & 0xff);
	ASSERT_EQ(-ENOENT, err);
}

static int kpc_next_unhit(int fd, __u64 from, __u64 kinds, __u64 skip, __u64 *index)
{
	struct kprobecov_next_unhit q = { .from = from, .kinds = kinds, .skip = skip };
	int r = ioctl(fd, KPROBECOV_NEXT_UNHIT, &q);

	*index = q.index;
	return r;
}

TEST_F(loaded, next_unhit)
{
	int fd = self->c.fd;
	struct kprobecov_probe bad;
	__u64 i;

	kpc_add_std(fd, 0);
	kpc_probe(&bad, KPC_TARGET, "kpc_target_nope", 0, KPROBECOV_KIND_FUNC, 0);
	ASSERT_OK(kpc_add(fd, &bad, 1, NULL));	/* index P_NR, failed */
	kpc_arm_all(fd);
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 0, NULL));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 1);
	kpc_call(-1, KPC_TARGET_CALL_BRANCH, 1, 1);
	/* Hit: A, BRANCH, POS. Unhit: B, NEG, SEQ, IRQ, FIRE. */
	ASSERT_OK(kpc_next_unhit(fd, 0, 0, 0, &i));
	ASSERT_EQ(P_B, i);
	/* Skipping one unhit probe. */
	ASSERT_OK(kpc_next_unhit(fd, 0, 0, 1, &i));
	ASSERT_EQ(P_NEG, i);
	/* Starting after B. */
	ASSERT_OK(kpc_next_unhit(fd, P_B + 1, 0, 0, &i));
	ASSERT_EQ(P_NEG, i);
	/* The last unhit one; the failed probe after it is no candidate. */
	ASSERT_OK(kpc_next_unhit(fd, 0, 0, 4, &i));
	ASSERT_EQ(P_FIRE, i);
	ASSERT_ERRNO(ENOENT, kpc_next_unhit(fd, 0, 0, 5, &i));
	/* Only branch probes. */
	ASSERT_OK(kpc_next_unhit(fd, 0, 1 << KPROBECOV_KIND_BRANCH, 0, &i));
	ASSERT_EQ(P_NEG, i);
	ASSERT_ERRNO(ENOENT, kpc_next_unhit(fd, 0, 1 << KPROBECOV_KIND_BRANCH, 1, &i));
	/* Only function probes, from BRANCH on. */
	ASSERT_OK(kpc_next_unhit(fd, P_BRANCH, 1 << KPROBECOV_KIND_FUNC, 0, &i));
	ASSERT_EQ(P_SEQ, i);
	/* No line probes at all. */
	ASSERT_ERRNO(ENOENT, kpc_next_unhit(fd, 0, 1 << KPROBECOV_KIND_LINE, 0, &i));
	/* Starting at the end, or far past it. */
	ASSERT_ERRNO(ENOENT, kpc_next_unhit(fd, P_NR + 1, 0, 0, &i));
	ASSERT_ERRNO(ENOENT, kpc_next_unhit(fd, ~0ULL, 0, 0, &i));
	/* A skip past everything. */
	ASSERT_ERRNO(ENOENT, kpc_next_unhit(fd, 0, 0, ~0ULL, &i));
}

TEST_F(loaded, vmlinux_probes_count)
{
	const char *fn = "__x64_sys_getppid";
	unsigned long long addr = kpc_kallsyms(fn);
	struct kprobecov_probe p[2];
	struct kprobecov_add_probes out;
	__u64 slot;
	int i;

	if (!addr)
		SKIP("no %s in /proc/kallsyms", fn);
	/* A built-in function, named with module "vmlinux". */
	kpc_probe(&p[0], "vmlinux", fn, 0, KPROBECOV_KIND_FUNC, 0);
	/* A built-in function, named with module "" and its address from kallsyms. */
	kpc_probe(&p[1], "", "__x64_sys_getpgid", 0, KPROBECOV_KIND_FUNC, 0);
	p[1].address = kpc_kallsyms("__x64_sys_getpgid");
	ASSERT_OK(kpc_add(self->c.fd, p, 2, &out));
	ASSERT_EQ(2, out.registered);
	kpc_arm_all(self->c.fd);
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	for (i = 0; i < 5; i++)
		syscall(SYS_getppid);
	syscall(SYS_getpgid, 0);
	/* Exactly this process's 5 getppid() and 1 getpgid() calls. */
	ASSERT_EQ(5, kpc_counter(&self->c, slot, 0));
	ASSERT_EQ(1, kpc_counter(&self->c, slot, 1));
}

TEST_F(loaded, address_must_match_symbol)
{
	const char *fn = "__x64_sys_getppid";
	unsigned long long addr = kpc_kallsyms(fn);
	struct kprobecov_probe p;
	struct kprobecov_add_probes out;

	if (!addr)
		SKIP("no %s in /proc/kallsyms", fn);
	/* An address that is not symbol + offset fails that probe. */
	kpc_probe(&p, "vmlinux", fn, 0, KPROBECOV_KIND_FUNC, 0);
	p.address = kpc_kallsyms("__x64_sys_getpgid");
	ASSERT_OK(kpc_add(self->c.fd, &p, 1, &out));
	ASSERT_EQ(1, out.failed);
	ASSERT_TRUE(HAS(p.state, FAILED));
	kt_log("mismatching address: error %s", kt_errname(-p.error));
	ASSERT_GT(0, p.error);
}

#define KPC_OPT_SYSCTL "/proc/sys/debug/kprobes-optimization"

/* kpc_target loaded, kprobes' jump optimization as a test wants it, restored after. */
FIXTURE(opt) {
	struct kpc_col c;
	int saved;	/* -1: not changed */
};

FIXTURE_SETUP(opt)
{
	self->saved = -1;
	kpc_target_ensure_loaded();
	if (kpc_read_int(KPC_OPT_SYSCTL) < 0)
		SKIP("no " KPC_OPT_SYSCTL " (CONFIG_OPTPROBES)");
	self->saved = kpc_read_int(KPC_OPT_SYSCTL);
	kpc_col_open(&self->c, 64, 2, 0, 64);
}

FIXTURE_TEARDOWN(opt)
{
	kpc_col_close(&self->c);
	if (self->saved >= 0)
		kpc_write_int(KPC_OPT_SYSCTL, self->saved);
}

/* Counts of the branch successors, in a PROCESS slot, after BRANCH(1) x3 and BRANCH(-1) x2. */
static void kpc_check_branch_probes(struct kpc_col *c)
{
	volatile __u64 *trace = (__u64 *)((char *)c->area + c->hdr->trace_offset);
	const struct kprobecov_trace me = { 0 };
	__u64 s;

	ASSERT_OK(kpc_attach(c->fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &s));
	ASSERT_OK(ioctl(c->fd, KPROBECOV_TRACE_START, &me));
	kpc_call(-1, KPC_TARGET_CALL_BRANCH, 1, 3);
	kpc_call(-1, KPC_TARGET_CALL_BRANCH, -1, 2);
	ASSERT_OK(ioctl(c->fd, KPROBECOV_TRACE_STOP));
	/* The function-entry probe counts every call ... */
	ASSERT_EQ(5, kpc_counter(c, s, P_BRANCH));
	/* ... and so do the probes inside the function, in this task's slot. */
	ASSERT_EQ(3, kpc_counter(c, s, P_POS));
	ASSERT_EQ(2, kpc_counter(c, s, P_NEG));
	/* The trace has them all: BRANCH, POS three times, then BRANCH, NEG twice. */
	ASSERT_EQ(10, trace[0]);
	ASSERT_EQ(P_POS, trace[2]);
	ASSERT_EQ(P_NEG, trace[10]);
}

TEST_F(opt, breakpoint_probes_count_in_task_context)
{
	/* Plain int3 probes only: the kprobe handler runs from the breakpoint trap. */
	kpc_write_int(KPC_OPT_SYSCTL, 0);
	kpc_add_std(self->c.fd, 0);
	kpc_arm_all(self->c.fd);
	kpc_check_branch_probes(&self->c);
}

TEST_F(opt, optimized_probes_count_in_task_context)
{
	struct kpc_target_info info;
	int i;

	kpc_write_int(KPC_OPT_SYSCTL, 1);
	kpc_add_std(self->c.fd, 0);
	kpc_arm_all(self->c.fd);
	kpc_target_info(&info);
	/*
	 * Wait for kprobes' optimizer to turn the breakpoints into jumps. The
	 * list says [OPTIMIZED] once a probe is queued; the jump is written
	 * after a delay and an RCU-tasks grace period: give it a second more.
	 */
	for (i = 0; i < 100; i++) {
		if (kpc_kprobes_has("kpc_target_branch", info.branch_pos_offset, "[OPTIMIZED]") &&
		    kpc_kprobes_has("kpc_target_branch", info.branch_neg_offset, "[OPTIMIZED]"))
			break;
		usleep(50 * 1000);
	}
	if (i == 100)
		SKIP("kprobes did not optimize the probes in kpc_target_branch");
	sleep(1);
	kpc_check_branch_probes(&self->c);
}

/* Callers of P_A, sorted: kpc_target_call's site first, then kpc_target_seq's two. */
static int kpc_cmp_caller(const void *a, const void *b)
{
	return strcmp(((const struct kprobecov_caller *)a)->symbol,
		      ((const struct kprobecov_caller *)b)->symbol);
}

static void kpc_make_callers(struct kpc_col *c)
{
	kpc_add_std(c->fd, 0);
	kpc_arm_all(c->fd);
	ASSERT_OK(kpc_attach(c->fd, 0, KPROBECOV_SCOPE_PROCESS, 0, NULL));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 3);
	kpc_call(-1, KPC_TARGET_CALL_SEQ, 1, 1);
}

TEST_F(loaded, callers)
{
	struct kprobecov_caller cl[4];
	struct kprobecov_callers q = { .probe = P_A, .callers = (uintptr_t)cl, .capacity = 4 };
	int i;

	kpc_make_callers(&self->c);
	memset(cl, 0, sizeof(cl));
	ASSERT_OK(ioctl(self->c.fd, KPROBECOV_GET_CALLERS, &q));
	/* kpc_target_a has three call sites: one in kpc_target_call, two in kpc_target_seq. */
	ASSERT_EQ(3, q.count);
	ASSERT_EQ(0, q.overflow);
	qsort(cl, 3, sizeof(cl[0]), kpc_cmp_caller);
	for (i = 0; i < 3; i++) {
		kt_log("caller %d: %s, %llu calls", i, cl[i].symbol,
		       (unsigned long long)cl[i].calls);
		/* Symbols name the caller's module; root sees addresses. */
		ASSERT_STRSTR(" [" KPC_TARGET "]", cl[i].symbol);
		ASSERT_NE(0, cl[i].address);
	}
	/* The CALL_A site made 3 calls. */
	ASSERT_EQ(0, strncmp(cl[0].symbol, "kpc_target_call+0x", 18));
	ASSERT_EQ(3, cl[0].calls);
	/* Each site in kpc_target_seq made one, at distinct addresses. */
	ASSERT_EQ(0, strncmp(cl[1].symbol, "kpc_target_seq+0x", 17));
	ASSERT_EQ(0, strncmp(cl[2].symbol, "kpc_target_seq+0x", 17));
	ASSERT_EQ(1, cl[1].calls);
	ASSERT_EQ(1, cl[2].calls);
	ASSERT_NE(cl[1].address, cl[2].address);

	/* With room for one, count still says 3 and only one entry is written. */
	memset(cl, 0xa5, sizeof(cl));
	q.capacity = 1;
	ASSERT_OK(ioctl(self->c.fd, KPROBECOV_GET_CALLERS, &q));
	ASSERT_EQ(3, q.count);
	ASSERT_EQ(0xa5a5a5a5a5a5a5a5ULL, cl[1].calls);
	/* A branch probe has no callers. */
	q.probe = P_POS;
	ASSERT_ERRNO(EINVAL, ioctl(self->c.fd, KPROBECOV_GET_CALLERS, &q));
}

TEST(callers_are_recorded_only_when_asked_at_init)
{
	struct kprobecov_callers q = { .probe = P_A };
	struct kpc_col c;

	kpc_target_ensure_loaded();
	/* INIT without KPROBECOV_INIT_CALLERS. */
	memset(&c, 0, sizeof(c));
	c.fd = kpc_open();
	c.init.max_probes = 64;
	c.init.max_slots = 1;
	ASSERT_OK(ioctl(c.fd, KPROBECOV_INIT, &c.init));
	kpc_add_std(c.fd, 0);
	kpc_arm_all(c.fd);
	ASSERT_OK(kpc_attach(c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, NULL));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 3);
	/* The calls were made, but callers were not recorded: ENODATA says why. */
	ASSERT_ERRNO(ENODATA, ioctl(c.fd, KPROBECOV_GET_CALLERS, &q));
	close(c.fd);
}

TEST(callers_without_cap_syslog_have_no_address)
{
	struct kprobecov_caller cl[4];
	struct kprobecov_callers q = { .probe = P_A, .callers = (uintptr_t)cl, .capacity = 4 };
	struct kpc_col c;
	int i;

	kpc_target_ensure_loaded();
	/* This whole process (opener and caller) lacks CAP_SYSLOG. */
	kpc_drop_cap(CAP_SYSLOG);
	kpc_col_open(&c, 64, 1, 0, 0);
	kpc_make_callers(&c);
	memset(cl, 0xa5, sizeof(cl));
	ASSERT_OK(ioctl(c.fd, KPROBECOV_GET_CALLERS, &q));
	/* The callers are still counted ... */
	ASSERT_EQ(3, q.count);
	for (i = 0; i < 3; i++) {
		kt_log("caller %d: %s, %llu calls", i, cl[i].symbol,
		       (unsigned long long)cl[i].calls);
		/* ... but their addresses are hidden. */
		ASSERT_EQ(0, cl[i].address);
	}
	kpc_col_close(&c);
}

KT_MAIN(kpc_requirements)
