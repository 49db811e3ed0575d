// SPDX-License-Identifier: GPL-2.0
/*
 * Robustness of the module against its own machinery and the rest of the
 * kernel: hits where RCU is not watching, probes on what the hot path itself
 * calls, a collector ftrace will not let go of at close, and module loads and
 * unloads while a large ADD_PROBES runs.
 */
#include "kpc_util.h"

#include <math.h>
#include <sys/klog.h>

#define KPC_OPT_SYSCTL "/proc/sys/debug/kprobes-optimization"
#define KPC_UNWATCHED "kpc_unwatched"
#define kpc_unwatched_ko() kpc_path("KPROBECOV_UNWATCHED_KO", "target/kpc_unwatched.ko")

static void kpc_write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	ASSERT_NE(-1, fd);
	ASSERT_EQ((ssize_t)strlen(s), write(fd, s, strlen(s)));
	close(fd);
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

/*
 * Before kpc_unwatched unloads, kprobes' optimizer is waited out. An optimised
 * kprobe just unregistered stays in kprobes' hash, unused, until the delayed
 * unoptimising frees it (OPTIMIZE_DELAY, 5 jiffies on). If its module goes
 * first, kill_optimized_kprobe() takes it off the unoptimizing list before it
 * checks whether it was on it (so reads kernel/kprobes.c of 6.1), so it is
 * never freed: it stays in the hash, unused and on no list. When the module
 * loads again at the same address (7.2 hands the freed text out again) and a
 * probe is registered at that spot, reuse_unused_kprobe() finds it and warns
 * (WARN_ON_ONCE(list_empty(&op->list)), 7.2's kernel/kprobes.c:854). A race in
 * kprobes, not in kprobecov.ko (which unregistered its probe before the
 * unload); flipping the sysctl is not what reaches it.
 * Turning optimisation off waits for the optimizer (unoptimize_all_kprobes()
 * calls wait_for_kprobe_optimizer()), which frees the probe; then the saved
 * value comes back.
 */
FIXTURE_TEARDOWN(unwatched)
{
	kpc_col_close(&self->c);
	if (self->saved_opt >= 0 && kpc_read_int(KPC_OPT_SYSCTL))
		kpc_write_int(KPC_OPT_SYSCTL, 0);
	if (self->saved_opt >= 0)
		kpc_write_int(KPC_OPT_SYSCTL, self->saved_opt);
	if (kpc_is_loaded(KPC_UNWATCHED))
		ASSERT_EQ(0, kpc_unload(KPC_UNWATCHED));
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
	for (i = 0; i < 100 && !kpc_kprobes_has("kpc_unwatched_fn", self->body, "[OPTIMIZED]"); i++)
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
 * A LINE probe on the address-taken label that starts kpc_unwatched_fn's
 * block. Where the compiler put an ENDBR64 there (the fixture's block then
 * starts 4 bytes further: Debian's 6.12 and 7.2 builds), a breakpoint on it
 * would make an indirect jump there a #CP where the CPU enforces IBT: refused
 * with EOPNOTSUPP, nothing registered. Where the label is an ordinary
 * instruction (Debian's 6.1, built without X86_KERNEL_IBT): planted, and it
 * counts.
 */
TEST_F(unwatched, a_probe_on_an_endbr64_inside_a_function_is_refused)
{
	unsigned long label = kpc_read_int("/sys/module/" KPC_UNWATCHED "/parameters/label_offset");
	struct kprobecov_add_probes out;
	struct kprobecov_probe p;
	__u64 slot;

	kpc_probe(&p, KPC_UNWATCHED, "kpc_unwatched_fn", label, KPROBECOV_KIND_LINE, 0);
	ASSERT_OK(kpc_add(self->c.fd, &p, 1, &out));
	if (self->body == label + 4) {
		ASSERT_EQ(-EOPNOTSUPP, p.error);
		ASSERT_EQ(KPROBECOV_STATE_FAILED, p.state & 0xff);
		ASSERT_EQ(0, out.registered);
		ASSERT_EQ(1, out.failed);
		ASSERT_FALSE(kpc_kprobes_has("kpc_unwatched_fn", label, ""));
		return;
	}
	ASSERT_EQ(label, self->body);
	ASSERT_EQ(0, p.error);
	ASSERT_EQ(1, out.registered);
	kpc_arm_all(self->c.fd);
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	kpc_unwatched_call("watched", 3);
	ASSERT_EQ(3, kpc_counter(&self->c, slot, 0));
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

#define KPC_FAIL "kpc_fail"
#define kpc_fail_ko() kpc_path("KPROBECOV_FAIL_KO", "target/kpc_fail.ko")
#define KPC_FAIL_PARAM(name) "/sys/module/" KPC_FAIL "/parameters/" name

static int kpc_refcnt(const char *module)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", module);
	return kpc_read_int(path);
}

/* Whether the kernel log holds a line containing what. */
static int kpc_dmesg_has(const char *what)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0), found;
	char *buf;

	ASSERT_LT(0, len);
	buf = calloc(1, len + 1);
	ASSERT_NE(NULL, buf);
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	ASSERT_LE(0, len);
	found = strstr(buf, what) != NULL;
	free(buf);
	return found;
}

/*
 * When ftrace will not unregister a collector's ftrace_ops at close (it refuses
 * once it has disabled itself), the callback may still run: the collector is
 * kept, not freed, and the module pinned, with one warning; a later close
 * unregisters it and frees it.
 */
TEST(close_keeps_a_collector_whose_ftrace_ops_stays_registered)
{
	struct kprobecov_probe p;
	struct kprobecov_add_probes out;
	struct kpc_col c;
	int base, fd;
	__u64 slot;

	if (access(kpc_fail_ko(), R_OK))
		SKIP("%s is missing: build kmod/tests first", kpc_fail_ko());
	kpc_target_ensure_loaded();
	if (!kpc_is_loaded(KPC_FAIL))
		ASSERT_EQ(0, kpc_load(kpc_fail_ko()));
	base = kpc_refcnt(KPC_MODULE);
	kpc_col_open(&c, 16, 1, 0, 0);
	kpc_probe(&p, KPC_TARGET, "kpc_target_a", 0, KPROBECOV_KIND_FUNC, 0);
	ASSERT_OK(kpc_add(c.fd, &p, 1, &out));
	ASSERT_EQ(1, out.registered);
	kpc_arm_all(c.fd);
	ASSERT_OK(kpc_attach(c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 2);
	ASSERT_EQ(2, kpc_counter(&c, slot, 0));

	kpc_write_str(KPC_FAIL_PARAM("fail_unregister_ftrace"), "1000");
	kpc_col_close(&c);
	kpc_write_str(KPC_FAIL_PARAM("fail_unregister_ftrace"), "0");
	/* ftrace refused at close ... */
	ASSERT_LT(0, kpc_read_int(KPC_FAIL_PARAM("failed")));
	/* ... so the collector is kept, and kprobecov with it (its callback is the module's). */
	ASSERT_EQ(base + 1, kpc_refcnt(KPC_MODULE));
	ASSERT_EQ(-EAGAIN, kpc_unload(KPC_MODULE));
	ASSERT_TRUE(kpc_dmesg_has("kprobecov: could not unregister the ftrace_ops of a closed collector"));
	/* Its callback still runs at the function's entry, on memory that is still there. */
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 3);

	/* The next close unregisters it and frees it: the module can go again. */
	fd = kpc_open();
	close(fd);
	ASSERT_EQ(base, kpc_refcnt(KPC_MODULE));
	ASSERT_EQ(0, kpc_unload(KPC_FAIL));
}

#define KPC_ENTRY "kpc_entry"
#define kpc_entry_ko() kpc_path("KPROBECOV_ENTRY_KO", "target/kpc_entry.ko")
#define KPC_BIG_BATCH KPROBECOV_MAX_BATCH
#define KPC_BIG_NAMES 4096	/* distinct module names in the batch */
#define KPC_MAX_OPS 4096

/* One insmod or rmmod of kpc_entry: when it started and how long it took (s). */
struct kpc_op {
	double start, took;
	int err;
};

struct kpc_loader {
	pthread_t thread;
	volatile int stop;
	struct kpc_op ops[KPC_MAX_OPS];
	int nr;
};

/* Loads and unloads kpc_entry until told to stop, timing each; ends unloaded. */
static void *kpc_loader_main(void *arg)
{
	struct kpc_loader *l = arg;

	while (!l->stop && l->nr + 2 <= KPC_MAX_OPS) {
		struct kpc_op *op = &l->ops[l->nr++];

		op->start = kt_now();
		op->err = kpc_load(kpc_entry_ko());
		op->took = kt_now() - op->start;
		op = &l->ops[l->nr++];
		op->start = kt_now();
		op->err = kpc_unload(KPC_ENTRY);
		op->took = kt_now() - op->start;
	}
	return NULL;
}

/*
 * A batch of 65,536 probes on 4,096 module names (two on kpc_entry, the rest on
 * modules that are not loaded) while another thread loads and unloads kpc_entry:
 * the module notifier waits for kpc_mutex, which ADD_PROBES holds only a step at
 * a time, so no insmod or rmmod waits for the batch. The bound: the slowest of a
 * few loads and unloads measured first, without the batch, times 4, plus 1 s.
 * Measured on the same machine in the same run, it scales with the emulator; the
 * factor covers sharing the (emulated) CPUs with the batch and the notifier's own
 * walks of the batch's probes, the second one step of the batch. Before steps, an
 * operation waited for the whole batch: minutes under TCG.
 * Then the kpc_entry probes, planted and removed by the notifier as it came and
 * went during the batch, are pending, and planted and count when it loads.
 */
TEST_TIMEOUT(big_batch_does_not_stall_module_loads, 900)
{
	struct kprobecov_init init = { .max_probes = KPC_BIG_BATCH, .max_slots = 1 };
	struct kprobecov_add_probes out;
	struct kprobecov_probe *p;
	struct kpc_loader *l;
	struct kpc_col c;
	double base = 0, worst = 0, t0, t1, bound;
	int i, during = 0;
	__u64 slot;
	__s32 err;

	if (access(kpc_entry_ko(), R_OK))
		SKIP("%s is missing: build kmod/tests first", kpc_entry_ko());
	if (kpc_is_loaded(KPC_ENTRY))
		ASSERT_EQ(0, kpc_unload(KPC_ENTRY));
	l = calloc(1, sizeof(*l));
	ASSERT_NE(NULL, l);
	for (i = 0; i < 3; i++) {
		t0 = kt_now();
		ASSERT_EQ(0, kpc_load(kpc_entry_ko()));
		t1 = kt_now();
		ASSERT_EQ(0, kpc_unload(KPC_ENTRY));
		base = fmax(base, fmax(t1 - t0, kt_now() - t1));
	}
	bound = 4 * base + 1;

	memset(&c, 0, sizeof(c));
	c.fd = kpc_open();
	ASSERT_OK(ioctl(c.fd, KPROBECOV_INIT, &init));
	c.init = init;
	c.area = mmap(NULL, init.area_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, c.fd, 0);
	ASSERT_NE(MAP_FAILED, c.area);
	c.hdr = c.area;
	p = calloc(KPC_BIG_BATCH, sizeof(*p));
	ASSERT_NE(NULL, p);
	kpc_probe(&p[0], KPC_ENTRY, "kpc_entry_traced", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[1], KPC_ENTRY, "kpc_entry_notrace", 0, KPROBECOV_KIND_FUNC, 0);
	for (i = 2; i < KPC_BIG_BATCH; i++) {
		char mod[32], sym[32];

		snprintf(mod, sizeof(mod), "kpc_absent_%04d", i % KPC_BIG_NAMES);
		snprintf(sym, sizeof(sym), "f%d", i);
		kpc_probe(&p[i], mod, sym, 0, KPROBECOV_KIND_FUNC, 0);
	}

	ASSERT_EQ(0, pthread_create(&l->thread, NULL, kpc_loader_main, l));
	usleep(200 * 1000);
	t0 = kt_now();
	ASSERT_OK(kpc_add(c.fd, p, KPC_BIG_BATCH, &out));
	t1 = kt_now();
	l->stop = 1;
	ASSERT_EQ(0, pthread_join(l->thread, NULL));

	for (i = 0; i < l->nr; i++) {
		struct kpc_op *op = &l->ops[i];

		if (op->start + op->took < t0 || op->start > t1)
			continue;	/* not during the batch */
		during++;
		worst = fmax(worst, op->took);
		EXPECT_EQ(0, op->err);
	}
	kt_log("ADD_PROBES of %d probes on %d modules: %.2f s; %d loads and unloads of "
	       KPC_ENTRY " during it, the slowest %.3f s (alone: %.3f s; bound %.3f s)",
	       KPC_BIG_BATCH, KPC_BIG_NAMES + 1, t1 - t0, during, worst, base, bound);
	/* The loads and unloads went on during the batch ... */
	ASSERT_LE(2, during);
	/* ... none waiting for it. */
	ASSERT_GE(bound, worst);
	/* No probe failed: each was planted or waits for its module ... */
	ASSERT_EQ(0, out.failed);
	ASSERT_EQ(KPC_BIG_BATCH, out.registered + out.pending);
	/* ... and kpc_entry's wait, now that it was unloaded last. */
	ASSERT_TRUE(HAS(kpc_state(c.fd, 0, &err), PENDING));
	ASSERT_TRUE(HAS(kpc_state(c.fd, 1, &err), PENDING));
	/* Loaded again, kpc_entry gets both probes, which count. */
	ASSERT_EQ(0, kpc_load(kpc_entry_ko()));
	ASSERT_TRUE(HAS(kpc_state(c.fd, 0, &err), REGISTERED));
	ASSERT_TRUE(HAS(kpc_state(c.fd, 1, &err), REGISTERED));
	ASSERT_OK(kpc_select(c.fd, KPROBECOV_ARM, KPROBECOV_SELECT_RANGE, 0, 0, 2, NULL));
	ASSERT_OK(kpc_attach(c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	kpc_write_str("/sys/module/" KPC_ENTRY "/parameters/call_traced", "3");
	kpc_write_str("/sys/module/" KPC_ENTRY "/parameters/call_notrace", "2");
	ASSERT_EQ(3, kpc_counter(&c, slot, 0));
	ASSERT_EQ(2, kpc_counter(&c, slot, 1));
	kpc_col_close(&c);
	ASSERT_EQ(0, kpc_unload(KPC_ENTRY));
	free(p);
	free(l);
}

KT_MAIN(kpc_requirements)
