// SPDX-License-Identifier: GPL-2.0
/*
 * Function-entry probes through the collector's ftrace_ops: at an ftrace
 * location (offset 0 of a function with an __fentry__ call) a probe is no
 * kprobe but an entry of the ops' filter, armed and disarmed in batches.
 * Which way a probe went is seen in debugfs: a kprobe is in kprobes/list,
 * an armed ftrace entry in tracing/enabled_functions (without a kprobe).
 */
#include "kpc_util.h"

#define KPC_ENABLED_FUNCS "/sys/kernel/debug/tracing/enabled_functions"
#define KPC_ENTRY "kpc_entry"
#define kpc_entry_ko() kpc_path("KPROBECOV_ENTRY_KO", "target/kpc_entry.ko")

/* Whether a line of file starts with sym followed by a blank (enabled_functions). */
static int kpc_listed(const char *file, const char *sym)
{
	char line[1024];
	size_t len = strlen(sym);
	int found = 0;
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, sym, len) && (line[len] == ' ' || line[len] == '\t'))
			found = 1;
	fclose(f);
	return found;
}

/* Whether function sym has an ftrace callback attached (by anybody). */
static int kpc_traced(const char *sym)
{
	int r = kpc_listed(KPC_ENABLED_FUNCS, sym);

	if (r < 0)
		SKIP("no " KPC_ENABLED_FUNCS " (debugfs, CONFIG_DYNAMIC_FTRACE)");
	return r;
}

/* Whether a kprobe sits on sym's entry. */
static int kpc_kprobed(const char *sym)
{
	return kpc_kprobes_has(sym, 0, "");
}

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

static void kpc_add_func(int fd, const char *module, const char *sym, __u32 group,
			 __u64 expect_index)
{
	struct kprobecov_probe p;
	struct kprobecov_add_probes out;

	kpc_probe(&p, module, sym, 0, KPROBECOV_KIND_FUNC, group);
	ASSERT_OK(kpc_add(fd, &p, 1, &out));
	ASSERT_EQ(expect_index, out.first_index);
	ASSERT_EQ(0, p.error);
	ASSERT_EQ(1, out.registered);
}

TEST_F(loaded, entry_probe_counts_every_call_through_ftrace)
{
	int fd = self->c.fd;
	struct kid k;
	__u64 slot;

	kpc_add_func(fd, KPC_TARGET, "kpc_target_a", 1, 0);
	/* Planted, but neither a kprobe nor (disarmed) an ftrace callback. */
	ASSERT_EQ(KPROBECOV_STATE_REGISTERED | KPROBECOV_KIND_FUNC << KPROBECOV_STATE_KIND_SHIFT,
		  kpc_state(fd, 0, NULL));
	ASSERT_FALSE(kpc_kprobed("kpc_target_a"));
	ASSERT_FALSE(kpc_traced("kpc_target_a"));
	/* Armed: an ftrace callback, still no kprobe. */
	kpc_arm_all(fd);
	ASSERT_TRUE(kpc_traced("kpc_target_a"));
	ASSERT_FALSE(kpc_kprobed("kpc_target_a"));
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	/* 37 calls of this process: 37 hits in its slot. */
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 37);
	ASSERT_EQ(37, kpc_counter(&self->c, slot, 0));
	/* Another process's calls are not this slot's. */
	kid_start(&k, -1, 5);
	kid_finish(&k);
	ASSERT_EQ(37, kpc_counter(&self->c, slot, 0));
	ASSERT_TRUE(HAS(kpc_state(fd, 0, NULL), HIT));
	/* Disarmed: the callback goes, calls are not counted. */
	ASSERT_OK(kpc_select(fd, KPROBECOV_DISARM, KPROBECOV_SELECT_ALL, 0, 0, 0, NULL));
	ASSERT_FALSE(kpc_traced("kpc_target_a"));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 3);
	ASSERT_EQ(37, kpc_counter(&self->c, slot, 0));
	/* Armed again, they are. */
	kpc_arm_all(fd);
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 4);
	ASSERT_EQ(41, kpc_counter(&self->c, slot, 0));
}

TEST_F(loaded, groups_of_entry_probes_arm_and_disarm_together)
{
	static const char *const funcs[] = {
		"kpc_target_a", "kpc_target_b", "kpc_target_branch", "kpc_target_seq",
		"kpc_target_irq", "kpc_target_fire_timer",
	};
	int fd = self->c.fd;
	__u64 slot, changed;
	unsigned int i;

	kpc_add_std(fd, 0);
	/* Arming group G_IRQ attaches exactly its two functions. */
	ASSERT_OK(kpc_select(fd, KPROBECOV_ARM, KPROBECOV_SELECT_GROUP, G_IRQ, 0, 0, &changed));
	ASSERT_EQ(2, changed);
	ASSERT_TRUE(kpc_traced("kpc_target_irq"));
	ASSERT_TRUE(kpc_traced("kpc_target_fire_timer"));
	ASSERT_FALSE(kpc_traced("kpc_target_a"));
	/* Arming all attaches all six entry probes; none is a kprobe. */
	kpc_arm_all(fd);
	for (i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
		ASSERT_TRUE(kpc_traced(funcs[i]));
		ASSERT_FALSE(kpc_kprobed(funcs[i]));
	}
	/* The two branch probes inside kpc_target_branch are kprobes. */
	ASSERT_TRUE(kpc_kprobes_has("kpc_target_branch", KPC_ANY_OFFSET, ""));
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	/* SEQ: a twice, b, branch twice (pos once, neg once), seq once. */
	kpc_call(-1, KPC_TARGET_CALL_SEQ, 1, 1);
	ASSERT_EQ(2, kpc_counter(&self->c, slot, P_A));
	ASSERT_EQ(1, kpc_counter(&self->c, slot, P_B));
	ASSERT_EQ(2, kpc_counter(&self->c, slot, P_BRANCH));
	ASSERT_EQ(1, kpc_counter(&self->c, slot, P_POS));
	ASSERT_EQ(1, kpc_counter(&self->c, slot, P_NEG));
	ASSERT_EQ(1, kpc_counter(&self->c, slot, P_SEQ));
	ASSERT_EQ(0, kpc_counter(&self->c, slot, P_IRQ));
	/* Disarming group G_BRANCH leaves a, b, seq counting. */
	ASSERT_OK(kpc_select(fd, KPROBECOV_DISARM, KPROBECOV_SELECT_GROUP, G_BRANCH, 0, 0, &changed));
	ASSERT_EQ(3, changed);
	ASSERT_FALSE(kpc_traced("kpc_target_branch"));
	kpc_call(-1, KPC_TARGET_CALL_SEQ, 1, 1);
	ASSERT_EQ(4, kpc_counter(&self->c, slot, P_A));
	ASSERT_EQ(2, kpc_counter(&self->c, slot, P_BRANCH));
	ASSERT_EQ(2, kpc_counter(&self->c, slot, P_SEQ));
	/* Disarming all detaches every one. */
	ASSERT_OK(kpc_select(fd, KPROBECOV_DISARM, KPROBECOV_SELECT_ALL, 0, 0, 0, NULL));
	for (i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		ASSERT_FALSE(kpc_traced(funcs[i]));
}

TEST_F(loaded, two_probes_on_one_function)
{
	int fd = self->c.fd;
	__u64 slot;

	kpc_add_func(fd, KPC_TARGET, "kpc_target_a", 1, 0);
	kpc_add_func(fd, KPC_TARGET, "kpc_target_a", 2, 1);
	kpc_arm_all(fd);
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	/* Both count each call. */
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 5);
	ASSERT_EQ(5, kpc_counter(&self->c, slot, 0));
	ASSERT_EQ(5, kpc_counter(&self->c, slot, 1));
	/* One disarmed, the other counts on; the function stays traced. */
	ASSERT_OK(kpc_select(fd, KPROBECOV_DISARM, KPROBECOV_SELECT_GROUP, 1, 0, 0, NULL));
	ASSERT_TRUE(kpc_traced("kpc_target_a"));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 2);
	ASSERT_EQ(5, kpc_counter(&self->c, slot, 0));
	ASSERT_EQ(7, kpc_counter(&self->c, slot, 1));
}

TEST_F(loaded, two_collectors_on_one_function_count_independently)
{
	struct kpc_col c2;
	__u64 s1, s2;

	kpc_col_open(&c2, 8, 1, 0, 0);
	kpc_add_func(self->c.fd, KPC_TARGET, "kpc_target_a", 0, 0);
	kpc_add_func(c2.fd, KPC_TARGET, "kpc_target_a", 0, 0);
	kpc_arm_all(self->c.fd);
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &s1));
	ASSERT_OK(kpc_attach(c2.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &s2));
	/* The second collector's probe is not armed yet: it counts nothing. */
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 3);
	ASSERT_EQ(3, kpc_counter(&self->c, s1, 0));
	ASSERT_EQ(0, kpc_counter(&c2, s2, 0));
	/* Armed, both count the same calls. */
	kpc_arm_all(c2.fd);
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 2);
	ASSERT_EQ(5, kpc_counter(&self->c, s1, 0));
	ASSERT_EQ(2, kpc_counter(&c2, s2, 0));
	/* The first one disarmed: only the second counts. */
	ASSERT_OK(kpc_select(self->c.fd, KPROBECOV_DISARM, KPROBECOV_SELECT_ALL, 0, 0, 0, NULL));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 4);
	ASSERT_EQ(5, kpc_counter(&self->c, s1, 0));
	ASSERT_EQ(6, kpc_counter(&c2, s2, 0));
	ASSERT_TRUE(kpc_traced("kpc_target_a"));
	/* The first one closed: the second counts on, until it closes too. */
	kpc_col_close(&self->c);
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(7, kpc_counter(&c2, s2, 0));
	kpc_col_close(&c2);
	ASSERT_FALSE(kpc_traced("kpc_target_a"));
}

TEST_F(loaded, callers_come_from_the_return_address)
{
	struct kprobecov_caller cl[4];
	struct kprobecov_callers q = { .probe = 0, .callers = (uintptr_t)cl, .capacity = 4 };

	kpc_add_func(self->c.fd, KPC_TARGET, "kpc_target_a", 0, 0);
	kpc_arm_all(self->c.fd);
	ASSERT_FALSE(kpc_kprobed("kpc_target_a"));
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, NULL));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 6);
	memset(cl, 0, sizeof(cl));
	ASSERT_OK(ioctl(self->c.fd, KPROBECOV_GET_CALLERS, &q));
	/* One call site, in kpc_target_call, made the 6 calls. */
	ASSERT_EQ(1, q.count);
	kt_log("caller: %s, %llu calls", cl[0].symbol, (unsigned long long)cl[0].calls);
	ASSERT_EQ(0, strncmp(cl[0].symbol, "kpc_target_call+0x", 18));
	ASSERT_STRSTR(" [" KPC_TARGET "]", cl[0].symbol);
	ASSERT_EQ(6, cl[0].calls);
	/* The same site, in kpc_target_seq's two: three distinct callers. */
	kpc_call(-1, KPC_TARGET_CALL_SEQ, 1, 1);
	ASSERT_OK(ioctl(self->c.fd, KPROBECOV_GET_CALLERS, &q));
	ASSERT_EQ(3, q.count);
}

TEST_F(loaded, vmlinux_entry_probes_go_through_ftrace)
{
	const char *fn = "__x64_sys_getppid";
	struct kprobecov_probe p;
	struct kprobecov_add_probes out;
	__u64 slot;
	int i;

	kpc_probe(&p, "vmlinux", fn, 0, KPROBECOV_KIND_FUNC, 0);
	ASSERT_OK(kpc_add(self->c.fd, &p, 1, &out));
	ASSERT_EQ(1, out.registered);
	/* Found by name through kprobes, then moved to ftrace: no kprobe left. */
	ASSERT_FALSE(kpc_kprobed(fn));
	kpc_arm_all(self->c.fd);
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_THREAD, 0, &slot));
	for (i = 0; i < 9; i++)
		syscall(SYS_getppid);
	/* Exactly this thread's calls. */
	ASSERT_EQ(9, kpc_counter(&self->c, slot, 0));
	ASSERT_FALSE(kpc_kprobed(fn));
}

/* kpc_entry loaded; a collector. */
FIXTURE(entry) {
	struct kpc_col c;
};

FIXTURE_SETUP(entry)
{
	const char *ko = kpc_entry_ko();

	if (access(ko, R_OK))
		SKIP("%s is missing: build kmod/tests first", ko);
	if (!kpc_is_loaded(KPC_ENTRY))
		ASSERT_EQ(0, kpc_load(ko));
	kpc_col_open(&self->c, 16, 1, 0, 0);
}

FIXTURE_TEARDOWN(entry)
{
	kpc_col_close(&self->c);
	if (kpc_is_loaded(KPC_ENTRY))
		kpc_unload(KPC_ENTRY);
}

static void kpc_entry_call(const char *which, unsigned int times)
{
	char path[128], buf[16];
	int fd, n;

	snprintf(path, sizeof(path), "/sys/module/" KPC_ENTRY "/parameters/call_%s", which);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ASSERT_NE(-1, fd);
	n = snprintf(buf, sizeof(buf), "%u", times);
	ASSERT_EQ(n, write(fd, buf, n));
	close(fd);
}

TEST_F(entry, notrace_function_probe_is_a_kprobe)
{
	struct kprobecov_probe p[2];
	struct kprobecov_add_probes out;
	__u64 slot;
	__s32 err;
	int i;

	kpc_probe(&p[0], KPC_ENTRY, "kpc_entry_traced", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[1], KPC_ENTRY, "kpc_entry_notrace", 0, KPROBECOV_KIND_FUNC, 0);
	ASSERT_OK(kpc_add(self->c.fd, p, 2, &out));
	/* Both are planted without error, with the same state. */
	ASSERT_EQ(2, out.registered);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, p[i].error);
		ASSERT_EQ(KPROBECOV_STATE_REGISTERED |
			  KPROBECOV_KIND_FUNC << KPROBECOV_STATE_KIND_SHIFT, p[i].state);
	}
	/* The function without an __fentry__ call has a kprobe; the other none. */
	ASSERT_TRUE(kpc_kprobed("kpc_entry_notrace"));
	ASSERT_FALSE(kpc_kprobed("kpc_entry_traced"));
	kpc_arm_all(self->c.fd);
	ASSERT_TRUE(kpc_traced("kpc_entry_traced"));
	ASSERT_FALSE(kpc_traced("kpc_entry_notrace"));
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	/* Both count exactly. */
	kpc_entry_call("traced", 7);
	kpc_entry_call("notrace", 11);
	ASSERT_EQ(7, kpc_counter(&self->c, slot, 0));
	ASSERT_EQ(11, kpc_counter(&self->c, slot, 1));
	ASSERT_EQ(KPROBECOV_STATE_REGISTERED | KPROBECOV_STATE_ARMED | KPROBECOV_STATE_HIT |
		  KPROBECOV_KIND_FUNC << KPROBECOV_STATE_KIND_SHIFT, kpc_state(self->c.fd, 1, &err));
	ASSERT_EQ(0, err);
}

/* kpc_target not loaded; a collector. */
FIXTURE(unloaded) {
	struct kpc_col c;
};

FIXTURE_SETUP(unloaded)
{
	kpc_target_ensure_unloaded();
	kpc_col_open(&self->c, 16, 1, 0, 0);
}

FIXTURE_TEARDOWN(unloaded)
{
	kpc_col_close(&self->c);
	kpc_target_ensure_loaded();
}

enum { U_A, U_FILL, U_DRAIN, U_BANNER, U_NR };

TEST_F(unloaded, entry_probes_follow_the_module)
{
	static const char *const names[U_NR] = {
		"kpc_target_a", "kpc_target_fill_table", "kpc_target_drain_table",
		"kpc_target_init_banner",
	};
	struct kprobecov_probe p[U_NR];
	struct kprobecov_add_probes out;
	int fd = self->c.fd, round, i;
	__u64 slot;

	for (i = 0; i < U_NR; i++)
		kpc_probe(&p[i], KPC_TARGET, names[i], 0, KPROBECOV_KIND_FUNC, 0);
	ASSERT_OK(kpc_add(fd, p, U_NR, &out));
	ASSERT_EQ(U_NR, out.pending);
	kpc_arm_all(fd);
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	for (round = 1; round <= 3; round++) {
		kpc_target_load();
		/* Planted at COMING through ftrace: module_init's calls counted ... */
		ASSERT_EQ(round, kpc_counter(&self->c, slot, U_FILL));
		ASSERT_EQ(round, kpc_counter(&self->c, slot, U_BANNER));
		/* ... the __init one gone with the init code, the others traced, no kprobe. */
		ASSERT_TRUE(HAS(kpc_state(fd, U_BANNER, NULL), GONE));
		ASSERT_FALSE(kpc_traced("kpc_target_init_banner"));
		ASSERT_TRUE(kpc_traced("kpc_target_a"));
		ASSERT_TRUE(kpc_traced("kpc_target_drain_table"));
		for (i = 0; i < U_NR; i++)
			ASSERT_FALSE(kpc_kprobed(names[i]));
		kpc_call(-1, KPC_TARGET_CALL_A, 1, 2);
		ASSERT_EQ(2 * round, kpc_counter(&self->c, slot, U_A));
		/* Unloaded while armed: module_exit's call counted, probes pending again. */
		ASSERT_EQ(0, kpc_unload(KPC_TARGET));
		ASSERT_EQ(round, kpc_counter(&self->c, slot, U_DRAIN));
		ASSERT_TRUE(HAS(kpc_state(fd, U_A, NULL), PENDING));
		ASSERT_TRUE(HAS(kpc_state(fd, U_A, NULL), GONE));
		ASSERT_FALSE(HAS(kpc_state(fd, U_A, NULL), REGISTERED));
	}
}

TEST(sigkilled_owner_leaves_nothing)
{
	int ready[2];
	pid_t pid;
	char b;

	kpc_target_ensure_loaded();
	ASSERT_FALSE(kpc_traced("kpc_target_b"));
	ASSERT_OK(pipe(ready));
	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0) {
		struct kpc_col c;

		close(ready[0]);
		kpc_col_open(&c, 8, 1, 0, 0);
		kpc_add_func(c.fd, KPC_TARGET, "kpc_target_b", 0, 0);
		kpc_arm_all(c.fd);
		ASSERT_OK(kpc_attach(c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, NULL));
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &b, 1));
	close(ready[0]);
	ASSERT_TRUE(kpc_traced("kpc_target_b"));
	ASSERT_OK(kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	/* Its collector went with it: no callback, the module unloads. */
	ASSERT_FALSE(kpc_traced("kpc_target_b"));
	ASSERT_EQ(0, kpc_unload(KPC_TARGET));
	kpc_target_load();
}

KT_MAIN(kpc_requirements)
