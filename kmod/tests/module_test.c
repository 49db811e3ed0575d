// SPDX-License-Identifier: GPL-2.0
/*
 * Probes on a module that comes and goes: pending until it loads (its
 * module_init code counted, __init code then gone), GONE when it unloads
 * while armed (module_exit code counted), planted again when it reloads,
 * for one collector or several. Probes in a module's last function never
 * let kprobes read past the module's text (kpc_tail).
 */
#include <sys/utsname.h>

#include "kpc_util.h"

/* kpc_target not loaded; a collector of 64 probes and 4 slots. */
FIXTURE(unloaded) {
	struct kpc_col c;
};

FIXTURE_SETUP(unloaded)
{
	kpc_target_ensure_unloaded();
	kpc_col_open(&self->c, 64, 4, 0, 0);
}

FIXTURE_TEARDOWN(unloaded)
{
	kpc_col_close(&self->c);
	kpc_target_ensure_loaded();
}

/* FUNC probes on kpc_target used while it comes and goes. */
enum { U_A, U_FILL, U_DRAIN, U_BANNER, U_NOPE, U_NR };

static void kpc_add_unloaded_set(int fd, struct kprobecov_add_probes *out,
				 struct kprobecov_probe *p)
{
	kpc_probe(&p[U_A], KPC_TARGET, "kpc_target_a", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[U_FILL], KPC_TARGET, "kpc_target_fill_table", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[U_DRAIN], KPC_TARGET, "kpc_target_drain_table", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[U_BANNER], KPC_TARGET, "kpc_target_init_banner", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[U_NOPE], KPC_TARGET, "kpc_target_nope", 0, KPROBECOV_KIND_FUNC, 0);
	ASSERT_OK(kpc_add(fd, p, U_NR, out));
}

TEST_F(unloaded, pending_until_load_then_init_counted)
{
	int fd = self->c.fd;
	struct kprobecov_probe p[U_NR];
	struct kprobecov_add_probes out;
	__u64 slot, changed;
	__s32 err;
	int i;

	kpc_add_unloaded_set(fd, &out, p);
	/* Probes on a module that is not loaded wait for it, without error. */
	ASSERT_EQ(U_NR, out.pending);
	ASSERT_EQ(0, out.registered);
	ASSERT_EQ(0, out.failed);
	for (i = 0; i < U_NR; i++) {
		ASSERT_TRUE(HAS(p[i].state, PENDING));
		ASSERT_FALSE(HAS(p[i].state, REGISTERED));
		ASSERT_EQ(0, p[i].error);
	}
	/* Pending probes can be armed. */
	ASSERT_OK(kpc_select(fd, KPROBECOV_ARM, KPROBECOV_SELECT_ALL, 0, 0, 0, &changed));
	ASSERT_EQ(U_NR, changed);
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));

	/* This process loads the module: its module_init runs here. */
	kpc_target_load();
	/* Now they are planted and armed. */
	ASSERT_EQ(KPROBECOV_STATE_REGISTERED | KPROBECOV_STATE_ARMED,
		  kpc_state(fd, U_A, NULL) & 0xff);
	/* Code run only by module_init was counted once. */
	ASSERT_EQ(1, kpc_counter(&self->c, slot, U_FILL));
	ASSERT_TRUE(HAS(kpc_state(fd, U_FILL, NULL), HIT));
	/* __init code was counted too ... */
	ASSERT_EQ(1, kpc_counter(&self->c, slot, U_BANNER));
	/* ... and is gone once the init code is freed. */
	ASSERT_TRUE(HAS(kpc_state(fd, U_BANNER, NULL), GONE));
	/* A symbol the module lacks fails when it loads. */
	ASSERT_TRUE(HAS(kpc_state(fd, U_NOPE, &err), FAILED));
	ASSERT_EQ(-ENOENT, err);
	/* Nothing else ran. */
	ASSERT_EQ(0, kpc_counter(&self->c, slot, U_A));
	ASSERT_EQ(0, kpc_counter(&self->c, slot, U_DRAIN));
	/* And the planted probes count calls. */
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 2);
	ASSERT_EQ(2, kpc_counter(&self->c, slot, U_A));
}

TEST_F(unloaded, rmmod_while_armed_then_reload)
{
	int fd = self->c.fd;
	struct kprobecov_probe p[U_NR];
	struct kprobecov_add_probes out;
	__u64 slot;
	__u32 st;

	kpc_add_unloaded_set(fd, &out, p);
	kpc_arm_all(fd);
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	kpc_target_load();
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 1);

	/* The module unloads while its probes are armed. */
	ASSERT_EQ(0, kpc_unload(KPC_TARGET));
	/* Its module_exit code was counted on the way out. */
	ASSERT_EQ(1, kpc_counter(&self->c, slot, U_DRAIN));
	/* Its probes are gone, no longer planted, still wanted armed. */
	st = kpc_state(fd, U_A, NULL);
	ASSERT_TRUE(HAS(st, GONE));
	ASSERT_FALSE(HAS(st, REGISTERED));
	ASSERT_TRUE(HAS(st, ARMED));
	/* Counters survive the unload. */
	ASSERT_EQ(1, kpc_counter(&self->c, slot, U_A));

	/* Loaded again, they are planted again and count on. */
	kpc_target_load();
	st = kpc_state(fd, U_A, NULL);
	ASSERT_TRUE(HAS(st, REGISTERED));
	ASSERT_FALSE(HAS(st, GONE));
	ASSERT_EQ(2, kpc_counter(&self->c, slot, U_FILL));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(2, kpc_counter(&self->c, slot, U_A));
	/* A second unload and reload cycle works the same. */
	ASSERT_EQ(0, kpc_unload(KPC_TARGET));
	ASSERT_EQ(2, kpc_counter(&self->c, slot, U_DRAIN));
	kpc_target_load();
	ASSERT_EQ(3, kpc_counter(&self->c, slot, U_FILL));

	/* Disarmed while the module is away, they come back planted but silent. */
	ASSERT_EQ(0, kpc_unload(KPC_TARGET));
	ASSERT_OK(kpc_select(fd, KPROBECOV_DISARM, KPROBECOV_SELECT_ALL, 0, 0, 0, NULL));
	kpc_target_load();
	st = kpc_state(fd, U_A, NULL);
	ASSERT_TRUE(HAS(st, REGISTERED));
	ASSERT_FALSE(HAS(st, ARMED));
	ASSERT_EQ(3, kpc_counter(&self->c, slot, U_FILL));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(2, kpc_counter(&self->c, slot, U_A));
	/* Armed again, they count. */
	kpc_arm_all(fd);
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(3, kpc_counter(&self->c, slot, U_A));
}

/*
 * Added while the module is live, a probe on its __init code fails: the
 * live module's symbol table has no __init symbols left. Reloaded, it has
 * them again: the probe waits for the next load and counts module_init.
 */
TEST_F(unloaded, init_probe_added_while_live_counts_after_reload)
{
	int fd = self->c.fd;
	struct kprobecov_probe p[U_NR];
	struct kprobecov_add_probes out;
	__u64 slot;
	__s32 err;

	kpc_target_load();
	kpc_add_unloaded_set(fd, &out, p);
	ASSERT_EQ(2, out.failed);
	ASSERT_TRUE(HAS(p[U_BANNER].state, FAILED));
	ASSERT_EQ(-ENOENT, p[U_BANNER].error);
	ASSERT_TRUE(HAS(p[U_NOPE].state, FAILED));
	kpc_arm_all(fd);
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));

	/* Unloaded: the probes on unknown symbols wait for the next load. */
	ASSERT_EQ(0, kpc_unload(KPC_TARGET));
	ASSERT_TRUE(HAS(kpc_state(fd, U_BANNER, &err), PENDING));
	ASSERT_EQ(0, err);
	ASSERT_TRUE(HAS(kpc_state(fd, U_NOPE, NULL), PENDING));

	/* Loaded again: module_init's __init code is counted, then gone. */
	kpc_target_load();
	ASSERT_EQ(1, kpc_counter(&self->c, slot, U_BANNER));
	ASSERT_EQ(1, kpc_counter(&self->c, slot, U_FILL));
	ASSERT_TRUE(HAS(kpc_state(fd, U_BANNER, NULL), GONE));
	/* A name the module truly lacks fails again, as at ADD. */
	ASSERT_TRUE(HAS(kpc_state(fd, U_NOPE, &err), FAILED));
	ASSERT_EQ(-ENOENT, err);
}

TEST_F(unloaded, two_collectors_wait_for_one_module)
{
	struct kprobecov_probe p[U_NR];
	struct kprobecov_add_probes out;
	struct kpc_col c2;
	__u64 s1, s2;

	kpc_col_open(&c2, 8, 1, 0, 0);
	kpc_add_unloaded_set(self->c.fd, &out, p);
	kpc_add_unloaded_set(c2.fd, &out, p);
	kpc_arm_all(self->c.fd);
	kpc_arm_all(c2.fd);
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &s1));
	ASSERT_OK(kpc_attach(c2.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &s2));
	kpc_target_load();
	/* Both collectors' pending probes were planted and saw module_init. */
	ASSERT_TRUE(HAS(kpc_state(c2.fd, U_A, NULL), REGISTERED));
	ASSERT_EQ(1, kpc_counter(&self->c, s1, U_FILL));
	ASSERT_EQ(1, kpc_counter(&c2, s2, U_FILL));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 2);
	ASSERT_EQ(2, kpc_counter(&self->c, s1, U_A));
	ASSERT_EQ(2, kpc_counter(&c2, s2, U_A));
	/* One closes; the module still unloads and the other saw module_exit. */
	kpc_col_close(&c2);
	ASSERT_EQ(0, kpc_unload(KPC_TARGET));
	ASSERT_EQ(1, kpc_counter(&self->c, s1, U_DRAIN));
}

TEST_F(unloaded, close_with_pending_probes_then_load)
{
	struct kprobecov_probe p[U_NR];
	struct kprobecov_add_probes out;

	kpc_add_unloaded_set(self->c.fd, &out, p);
	kpc_arm_all(self->c.fd);
	/* Closing a collector with pending probes forgets them ... */
	kpc_col_close(&self->c);
	/* ... so the module loads and unloads untouched. */
	kpc_target_load();
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(0, kpc_unload(KPC_TARGET));
}

#define KPC_TAIL "kpc_tail"
#define kpc_tail_ko() kpc_path("KPROBECOV_TAIL_KO", "target/kpc_tail.ko")
/* /proc/sys/kernel/tainted: a kernel oops (TAINT_DIE), a WARNING (TAINT_WARN). */
#define KPC_TAINT_REPORTS ((1 << 7) | (1 << 9))

/* Whether the running kernel allocates each module text region alone (6.4 on). */
static int kpc_text_alone(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	ASSERT_OK(uname(&u));
	ASSERT_EQ(2, sscanf(u.release, "%d.%d", &major, &minor));
	return major > 6 || (major == 6 && minor >= 4);
}

/* The highest text address /proc/kallsyms gives one of module's symbols. */
static unsigned long long kpc_last_text(const char *module)
{
	unsigned long long last = 0, a;
	char line[512], sym[256], mod[128], want[132], type;
	FILE *f = fopen("/proc/kallsyms", "r");

	ASSERT_NE(NULL, f);
	snprintf(want, sizeof(want), "[%s]", module);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %255s %127s", &a, &type, sym, mod) == 4 &&
		    !strcmp(mod, want) && (type == 't' || type == 'T') && a > last)
			last = a;
	fclose(f);
	return last;
}

/* kpc_tail not loaded; a collector of 16 probes and one slot; taint saved. */
FIXTURE(tail) {
	struct kpc_col c;
	int tainted;
};

FIXTURE_SETUP(tail)
{
	if (access(kpc_tail_ko(), R_OK))
		SKIP("%s is missing: build kmod/tests first", kpc_tail_ko());
	if (kpc_is_loaded(KPC_TAIL))
		ASSERT_EQ(0, kpc_unload(KPC_TAIL));
	self->tainted = kpc_read_int("/proc/sys/kernel/tainted");
	kpc_col_open(&self->c, 16, 1, 0, 0);
}

FIXTURE_TEARDOWN(tail)
{
	kpc_col_close(&self->c);
	if (kpc_is_loaded(KPC_TAIL))
		kpc_unload(KPC_TAIL);
}

/*
 * Probes on kpc_tail: its last function's entry (notrace: a kprobe) and an instruction
 * in it (byte 5 starts one in both builds: after endbr64 and kpc_tail_exit's nop on 6.12,
 * after the nop and a 4-byte or on 6.1), a traced function's entry, its init function's.
 */
#define T_EXIT_INSN 5
enum { T_EXIT, T_EXIT_IN, T_ADD, T_INIT, T_NR };

static void kpc_add_tail_set(int fd, struct kprobecov_probe *p)
{
	struct kprobecov_add_probes out;

	kpc_probe(&p[T_EXIT], KPC_TAIL, "kpc_tail_exit", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[T_EXIT_IN], KPC_TAIL, "kpc_tail_exit", T_EXIT_INSN, KPROBECOV_KIND_LINE, 0);
	kpc_probe(&p[T_ADD], KPC_TAIL, "kpc_tail_add", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[T_INIT], KPC_TAIL, "kpc_tail_init", 0, KPROBECOV_KIND_FUNC, 0);
	ASSERT_OK(kpc_add(fd, p, T_NR, &out));
}

/*
 * kprobes' optimiser decodes a probed function to the end kallsyms gives it, which for a
 * module's last function is the end of its text region: from 6.4 on nothing is mapped
 * behind that region, and the decode ran off it (an oops, in the ioctl of whoever may
 * open the device). Those probes are refused, EOVERFLOW; before 6.4 they are planted.
 */
static void kpc_check_tail(int fd, __u64 first, int init_gone)
{
	__s32 err;
	__u32 st;

	st = kpc_state(fd, first + T_EXIT, &err);
	if (kpc_text_alone()) {
		/* Its entry (no ftrace there) and any byte in it: refused, with their reason. */
		ASSERT_TRUE(HAS(st, FAILED));
		ASSERT_EQ(-EOVERFLOW, err);
		ASSERT_TRUE(HAS(kpc_state(fd, first + T_EXIT_IN, &err), FAILED));
		ASSERT_EQ(-EOVERFLOW, err);
	} else {
		ASSERT_TRUE(HAS(st, REGISTERED));
		ASSERT_EQ(0, err);
		ASSERT_TRUE(HAS(kpc_state(fd, first + T_EXIT_IN, &err), REGISTERED));
		ASSERT_EQ(0, err);
	}
	/* A function that is not the last: planted. */
	ASSERT_TRUE(HAS(kpc_state(fd, first + T_ADD, &err), REGISTERED));
	ASSERT_EQ(0, err);
	/* The init text's only function: its entry through ftrace, planted (while there). */
	st = kpc_state(fd, first + T_INIT, &err);
	if (init_gone) {
		ASSERT_TRUE(HAS(st, FAILED));
		ASSERT_EQ(-ENOENT, err);
	} else {
		ASSERT_TRUE(HAS(st, REGISTERED));
		ASSERT_EQ(0, err);
	}
}

TEST_F(tail, last_function_planted_when_the_module_loads)
{
	struct kprobecov_probe p[T_NR];
	__u64 slot;

	kpc_add_tail_set(self->c.fd, p);
	kpc_arm_all(self->c.fd);
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	/* The module notifier plants them (COMING). */
	ASSERT_EQ(0, kpc_load(kpc_tail_ko()));
	kpc_check_tail(self->c.fd, 0, 0);
	ASSERT_EQ(1, kpc_counter(&self->c, slot, T_INIT));
	ASSERT_EQ(1, kpc_counter(&self->c, slot, T_ADD));
	ASSERT_EQ(0, kpc_unload(KPC_TAIL));
	/* module_exit ran: counted where its probe was planted. */
	ASSERT_EQ(kpc_text_alone() ? 0 : 1, kpc_counter(&self->c, slot, T_EXIT));
	ASSERT_EQ(2, kpc_counter(&self->c, slot, T_ADD));
	/* No oops, no warning. */
	ASSERT_EQ(0, kpc_read_int("/proc/sys/kernel/tainted") & ~self->tainted & KPC_TAINT_REPORTS);
}

TEST_F(tail, last_function_planted_in_a_loaded_module)
{
	struct kprobecov_probe p[T_NR];
	struct kprobecov_add_probes out;

	ASSERT_EQ(0, kpc_load(kpc_tail_ko()));
	/*
	 * The premise, where it matters (text alone, 6.4 on): kpc_tail_exit is the last
	 * function of kpc_tail's text (asked here, where no probe was on kpc_tail_init:
	 * ftrace keeps listing a traced init function in /proc/kallsyms after its text is
	 * freed). Before 6.4 a debug build may put other code after it (KASAN's module
	 * destructor), and every probe is planted anyway.
	 */
	ASSERT_NE(0, kpc_kallsyms("kpc_tail_exit"));
	if (kpc_text_alone())
		ASSERT_EQ(kpc_last_text(KPC_TAIL), kpc_kallsyms("kpc_tail_exit"));
	/* ADD_PROBES plants them itself; the init function is gone. */
	kpc_add_tail_set(self->c.fd, p);
	kpc_check_tail(self->c.fd, 0, 1);
	/* A built-in probe named like that last function (kprobes' lookup would find it in
	 * the module): no such built-in function, refused before kprobes looks. */
	kpc_probe(&p[0], "vmlinux", "kpc_tail_exit", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[1], "vmlinux", "kpc_tail_exit", T_EXIT_INSN, KPROBECOV_KIND_LINE, 0);
	/* The same with its address given (from /proc/kallsyms). */
	kpc_probe(&p[2], "vmlinux", "kpc_tail_exit", 0, KPROBECOV_KIND_FUNC, 0);
	p[2].address = kpc_kallsyms("kpc_tail_exit");
	ASSERT_OK(kpc_add(self->c.fd, p, 3, &out));
	ASSERT_EQ(3, out.failed);
	ASSERT_EQ(-ENOENT, p[0].error);
	ASSERT_EQ(-ENOENT, p[1].error);
	ASSERT_EQ(-ENOENT, p[2].error);
	ASSERT_EQ(0, kpc_read_int("/proc/sys/kernel/tainted") & ~self->tainted & KPC_TAINT_REPORTS);
}

KT_MAIN(kpc_requirements)
