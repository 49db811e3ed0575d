/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by kprobecov's selftests: opening /dev/kprobecov, sizing
 * and mapping a collector, adding the standard probes on kpc_target.ko,
 * loading and unloading modules, and reading counters from the area.
 *
 * Module files are found next to the test programs (tests/../kprobecov.ko,
 * tests/target/kpc_target.ko) unless KPROBECOV_KO / KPROBECOV_TARGET_KO say where.
 */
#ifndef KPC_UTIL_H
#define KPC_UTIL_H

#include "harness.h"

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/capability.h>
#include <pthread.h>
#include <semaphore.h>
#include <linux/kprobecov.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "kpc_misc.h"
#include "target/kpc_target.h"

#define KPC_MODULE	"kprobecov"
#define KPC_TARGET	KPC_TARGET_NAME

/* The standard probes on kpc_target, at these indices (see kpc_add_std). */
enum kpc_std_probe {
	P_A,		/* FUNC kpc_target_a, group G_A */
	P_B,		/* FUNC kpc_target_b, group G_B */
	P_BRANCH,	/* FUNC kpc_target_branch, group G_BRANCH */
	P_POS,		/* BRANCH kpc_target_branch + pos offset (x > 0), group G_BRANCH */
	P_NEG,		/* BRANCH kpc_target_branch + neg offset (x <= 0), group G_BRANCH */
	P_SEQ,		/* FUNC kpc_target_seq, group G_SEQ */
	P_IRQ,		/* FUNC kpc_target_irq, group G_IRQ */
	P_FIRE,		/* FUNC kpc_target_fire_timer, group G_IRQ */
	P_NR,
};
enum kpc_std_group { G_A = 1, G_B, G_BRANCH, G_SEQ, G_IRQ };

/* Whether a KPROBECOV_STATE_<bit> is set in state. */
#define HAS(state, bit)	(!!((state) & KPROBECOV_STATE_##bit))

/* One mapped collector. */
struct kpc_col {
	int fd;
	struct kprobecov_init init;
	void *area;
	struct kprobecov_area_header *hdr;
};

static inline const char *kpc_requirements(void)
{
	if (geteuid() != 0)
		return "needs root";
	if (access("/sys/module/" KPC_MODULE, F_OK))
		return KPC_MODULE ".ko is not loaded";
	return NULL;
}

/* An uninitialised collector fd; skips the test when there is no device. */
static inline int kpc_open(void)
{
	int fd = kpc_open_misc(KPC_MODULE, O_RDWR);

	if (fd < 0 && errno == ENOENT)
		SKIP("/dev/" KPC_MODULE " is missing");
	ASSERT_NE(-1, fd);
	return fd;
}

static inline void kpc_version(int fd, struct kprobecov_version *v)
{
	memset(v, 0, sizeof(*v));
	ASSERT_OK(ioctl(fd, KPROBECOV_GET_VERSION, v));
}

/* Opens, INITs (recording callers) and maps a collector. */
static inline void kpc_col_open(struct kpc_col *c, __u64 max_probes, __u64 max_slots,
				__u64 edge_bits, __u64 trace_entries)
{
	memset(c, 0, sizeof(*c));
	c->fd = kpc_open();
	c->init.max_probes = max_probes;
	c->init.max_slots = max_slots;
	c->init.edge_bits = edge_bits;
	c->init.trace_entries = trace_entries;
	c->init.flags = KPROBECOV_INIT_CALLERS;
	ASSERT_OK(ioctl(c->fd, KPROBECOV_INIT, &c->init));
	c->area = mmap(NULL, c->init.area_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	ASSERT_NE(MAP_FAILED, c->area);
	c->hdr = c->area;
}

static inline void kpc_col_close(struct kpc_col *c)
{
	if (c->area && c->area != MAP_FAILED)
		munmap(c->area, c->init.area_bytes);
	if (c->fd > 0)
		close(c->fd);
	c->area = NULL;
	c->fd = -1;
}

static inline __u64 kpc_counter(const struct kpc_col *c, __u64 slot, __u64 probe)
{
	const volatile __u64 *ctr = (const __u64 *)((char *)c->area + c->hdr->counters_offset);

	return ctr[slot * c->hdr->max_probes + probe];
}

static inline volatile struct kprobecov_slot_stats *kpc_stats(const struct kpc_col *c,
							      __u64 slot)
{
	return (struct kprobecov_slot_stats *)((char *)c->area + c->hdr->slots_offset) + slot;
}

/* Probe ever hit in the collector (the hit bitmap). */
static inline int kpc_ever_hit(const struct kpc_col *c, __u64 probe)
{
	const volatile __u64 *bm = (const __u64 *)((char *)c->area + c->hdr->hit_bitmap_offset);

	return (bm[probe / 64] >> (probe % 64)) & 1;
}

static inline void kpc_probe(struct kprobecov_probe *p, const char *module, const char *symbol,
			     __u64 offset, __u32 kind, __u32 group)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->module, sizeof(p->module), "%s", module);
	snprintf(p->symbol, sizeof(p->symbol), "%s", symbol);
	p->offset = offset;
	p->kind = kind;
	p->group = group;
}

/* ADD_PROBES; returns the ioctl's result (errno set). */
static inline int kpc_add(int fd, struct kprobecov_probe *p, __u64 count,
			  struct kprobecov_add_probes *out)
{
	struct kprobecov_add_probes tmp;

	if (!out)
		out = &tmp;
	memset(out, 0, sizeof(*out));
	out->probes = (uintptr_t)p;
	out->count = count;
	return ioctl(fd, KPROBECOV_ADD_PROBES, out);
}

/* ARM or DISARM; returns the ioctl's result, *changed if wanted. */
static inline int kpc_select(int fd, unsigned long cmd, __u32 how, __u32 group,
			     __u64 first, __u64 count, __u64 *changed)
{
	struct kprobecov_select s = {
		.how = how, .group = group, .first = first, .count = count,
	};
	int r = ioctl(fd, cmd, &s);

	if (changed)
		*changed = s.changed;
	return r;
}

static inline void kpc_arm_all(int fd)
{
	ASSERT_OK(kpc_select(fd, KPROBECOV_ARM, KPROBECOV_SELECT_ALL, 0, 0, 0, NULL));
}

/* ATTACH; returns the ioctl's result, the slot in *slot. */
static inline int kpc_attach(int fd, __u64 pid, __u32 scope, __u64 sample_id, __u64 *slot)
{
	struct kprobecov_attach a = { .pid = pid, .scope = scope, .sample_id = sample_id };
	int r = ioctl(fd, KPROBECOV_ATTACH, &a);

	if (slot)
		*slot = a.slot;
	return r;
}

/* DETACH, RESET or RELEASE. */
static inline int kpc_slot_op(int fd, unsigned long cmd, __u64 slot)
{
	struct kprobecov_slot_op op = { .slot = slot };

	return ioctl(fd, cmd, &op);
}

/* Status of one probe (asserts the query works). */
static inline __u32 kpc_state(int fd, __u64 index, __s32 *error)
{
	struct kprobecov_probe_status st = { 0 };
	struct kprobecov_status_query q = {
		.first = index, .count = 1, .status = (uintptr_t)&st,
	};

	ASSERT_OK(ioctl(fd, KPROBECOV_GET_PROBE_STATUS, &q));
	if (error)
		*error = st.error;
	return st.state;
}

/* Drops a capability from this process's effective and permitted sets. */
static inline void kpc_drop_cap(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	ASSERT_OK(syscall(SYS_capget, &h, d));
	d[CAP_TO_INDEX(cap)].effective &= ~CAP_TO_MASK(cap);
	d[CAP_TO_INDEX(cap)].permitted &= ~CAP_TO_MASK(cap);
	ASSERT_OK(syscall(SYS_capset, &h, d));
}

/* A module file next to this program, or from an environment variable. */
static inline const char *kpc_path(const char *env, const char *rel)
{
	static char buf[2][PATH_MAX];
	static int n;
	char exe[PATH_MAX];
	char *b = buf[n++ % 2];
	const char *e = getenv(env);
	ssize_t len;

	if (e && *e)
		return e;
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len < 0)
		return rel;
	exe[len] = '\0';
	snprintf(b, PATH_MAX, "%s/%s", dirname(exe), rel);
	return b;
}

#define kpc_target_ko()		kpc_path("KPROBECOV_TARGET_KO", "target/kpc_target.ko")
#define kpc_module_ko()		kpc_path("KPROBECOV_KO", "../kprobecov.ko")

static inline int kpc_is_loaded(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/module/%s/initstate", name);
	return access(path, F_OK) == 0;
}

/* The address /proc/kallsyms gives a symbol, 0 if none (or hidden). */
static inline unsigned long long kpc_kallsyms(const char *name)
{
	unsigned long long addr = 0, a;
	char line[512], sym[256], type;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %255s", &a, &type, sym) == 3 && !strcmp(sym, name)) {
			addr = a;
			break;
		}
	fclose(f);
	return addr;
}

#define KPC_KPROBES_LIST "/sys/kernel/debug/kprobes/list"
/* kpc_kprobes_has: any offset into the symbol. */
#define KPC_ANY_OFFSET (~0ULL)

/*
 * Whether kprobes' list (debugfs; lines "addr  k  sym+0xoff  [mod] [FLAGS]") has a
 * probe on sym+off (KPC_ANY_OFFSET: anywhere in sym) whose line contains flag ("": any,
 * "[OPTIMIZED]": a jump). Skips the test without debugfs.
 */
static inline int kpc_kprobes_has(const char *sym, unsigned long long off, const char *flag)
{
	char line[1024], want[300];
	int found = 0;
	FILE *f = fopen(KPC_KPROBES_LIST, "r");

	if (!f)
		SKIP("no " KPC_KPROBES_LIST " (debugfs)");
	if (off == KPC_ANY_OFFSET)
		snprintf(want, sizeof(want), " %s+0x", sym);
	else
		snprintf(want, sizeof(want), " %s+0x%llx", sym, off);
	while (fgets(line, sizeof(line), f)) {
		char *w = strstr(line, want);
		char next = w ? w[strlen(want)] : '\0';

		if (w && (off == KPC_ANY_OFFSET || next == ' ' || next == '\t' || next == '\n') &&
		    strstr(line, flag))
			found = 1;
	}
	fclose(f);
	return found;
}

/* The integer a file (sysfs, procfs) starts with, or -1. */
static inline int kpc_read_int(const char *path)
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

/* Writes an integer to a file (sysfs, procfs); asserts it took it. */
static inline void kpc_write_int(const char *path, int v)
{
	FILE *f = fopen(path, "w");

	ASSERT_NE(NULL, f);
	fprintf(f, "%d\n", v);
	ASSERT_EQ(0, fclose(f));
}

/* finit_module() with parameters ("name=value ..."); returns 0 or -errno. */
static inline int kpc_load_params(const char *ko, const char *params)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return r;
}

static inline int kpc_load(const char *ko)
{
	return kpc_load_params(ko, "");
}

/* delete_module() without waiting; returns 0 or -errno. */
static inline int kpc_unload(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

/* Loads kpc_target.ko (fails the test if it cannot). */
static inline void kpc_target_load(void)
{
	const char *ko = kpc_target_ko();

	if (access(ko, R_OK))
		SKIP("%s is missing: build kmod/tests first", ko);
	ASSERT_EQ(0, kpc_load(ko));
}

static inline void kpc_target_ensure_loaded(void)
{
	if (!kpc_is_loaded(KPC_TARGET))
		kpc_target_load();
}

static inline void kpc_target_ensure_unloaded(void)
{
	if (kpc_is_loaded(KPC_TARGET))
		ASSERT_EQ(0, kpc_unload(KPC_TARGET));
}

static inline int kpc_target_open(void)
{
	int fd = kpc_open_misc(KPC_TARGET, O_RDWR);

	ASSERT_NE(-1, fd);
	return fd;
}

/* One command of kpc_target (opens the device if tfd < 0); returns its result. */
static inline long kpc_call(int tfd, unsigned long cmd, long arg, unsigned int times)
{
	struct kpc_target_call call = { .arg = arg, .times = times };
	int fd = tfd >= 0 ? tfd : kpc_target_open();

	ASSERT_OK(ioctl(fd, cmd, &call));
	if (tfd < 0)
		close(fd);
	return call.result;
}

static inline void kpc_target_info(struct kpc_target_info *info)
{
	int fd = kpc_target_open();

	memset(info, 0, sizeof(*info));
	ASSERT_OK(ioctl(fd, KPC_TARGET_GET_INFO, info));
	close(fd);
}

/*
 * Adds the standard probes (enum kpc_std_probe) on the loaded kpc_target,
 * at indices first .. first + P_NR - 1; all must register.
 */
static inline void kpc_add_std(int fd, __u64 expect_first)
{
	struct kprobecov_probe p[P_NR];
	struct kprobecov_add_probes out;
	struct kpc_target_info info;
	int i;

	kpc_target_info(&info);
	kpc_probe(&p[P_A], KPC_TARGET, "kpc_target_a", 0, KPROBECOV_KIND_FUNC, G_A);
	kpc_probe(&p[P_B], KPC_TARGET, "kpc_target_b", 0, KPROBECOV_KIND_FUNC, G_B);
	kpc_probe(&p[P_BRANCH], KPC_TARGET, "kpc_target_branch", 0, KPROBECOV_KIND_FUNC, G_BRANCH);
	kpc_probe(&p[P_POS], KPC_TARGET, "kpc_target_branch", info.branch_pos_offset,
		  KPROBECOV_KIND_BRANCH, G_BRANCH);
	kpc_probe(&p[P_NEG], KPC_TARGET, "kpc_target_branch", info.branch_neg_offset,
		  KPROBECOV_KIND_BRANCH, G_BRANCH);
	kpc_probe(&p[P_SEQ], KPC_TARGET, "kpc_target_seq", 0, KPROBECOV_KIND_FUNC, G_SEQ);
	kpc_probe(&p[P_IRQ], KPC_TARGET, "kpc_target_irq", 0, KPROBECOV_KIND_FUNC, G_IRQ);
	kpc_probe(&p[P_FIRE], KPC_TARGET, "kpc_target_fire_timer", 0, KPROBECOV_KIND_FUNC, G_IRQ);
	ASSERT_OK(kpc_add(fd, p, P_NR, &out));
	ASSERT_EQ(expect_first, out.first_index);
	for (i = 0; i < P_NR; i++) {
		if (p[i].error)
			kt_log("probe %d %s+%#llx: error %s", i, p[i].symbol,
			       (unsigned long long)p[i].offset, kt_errname(-p[i].error));
	}
	ASSERT_EQ(P_NR, out.registered);
	ASSERT_EQ(0, out.failed);
}

/* A child process that calls A `times` times when told to, then exits. */
struct kid {
	pid_t pid;
	int go;		/* write a byte to start it */
};

static inline void kid_start(struct kid *k, int tfd, unsigned int times)
{
	int p[2];
	char b;

	ASSERT_OK(pipe(p));
	k->pid = fork();
	ASSERT_NE(-1, k->pid);
	if (k->pid == 0) {
		close(p[1]);
		if (read(p[0], &b, 1) != 1)
			_exit(2);
		if (times)
			kpc_call(tfd, KPC_TARGET_CALL_A, 1, times);
		_exit(0);
	}
	close(p[0]);
	k->go = p[1];
}

/* Lets the kid run and reaps it. */
static inline void kid_finish(struct kid *k)
{
	int status;

	ASSERT_EQ(1, write(k->go, "g", 1));
	close(k->go);
	ASSERT_EQ(k->pid, waitpid(k->pid, &status, 0));
	ASSERT_EQ(0, status);
}

/* A thread that reports its tid, then calls A `times` times when released. */
struct worker {
	pthread_t thread;
	int tfd;
	unsigned int times;
	pid_t tid;
	sem_t ready, go;
	int err;
};

static inline void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct kpc_target_call call = { .arg = 1, .times = w->times };

	w->tid = gettid();
	sem_post(&w->ready);
	sem_wait(&w->go);
	if (ioctl(w->tfd, KPC_TARGET_CALL_A, &call))
		w->err = errno;
	return NULL;
}

static inline void worker_start(struct worker *w, int tfd, unsigned int times)
{
	memset(w, 0, sizeof(*w));
	w->tfd = tfd;
	w->times = times;
	sem_init(&w->ready, 0, 0);
	sem_init(&w->go, 0, 0);
	ASSERT_EQ(0, pthread_create(&w->thread, NULL, worker_main, w));
	sem_wait(&w->ready);
}

static inline void worker_finish(struct worker *w)
{
	sem_post(&w->go);
	ASSERT_EQ(0, pthread_join(w->thread, NULL));
	ASSERT_EQ(0, w->err);
}

#endif /* KPC_UTIL_H */

