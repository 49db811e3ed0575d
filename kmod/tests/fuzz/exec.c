// SPDX-License-Identifier: GPL-2.0
/*
 * The executor: runs programs one by one, on two threads with KCOV enabled.
 *
 * The main thread runs the program's operations in order. An operation marked
 * FZ_ASYNC is handed to the second thread and the main thread goes on (the next
 * handed one waits for it); FZ_BOTH runs on both at once. Each thread has its
 * own KCOV buffer and /proc/thread-self/fail-nth: before an operation with
 * fail_nth N the thread writes N there, so that the N-th slab or page
 * allocation the call makes fails; afterwards it reads whether it did and
 * writes 0. After each operation the thread marks the kprobecov.ko sites its
 * KCOV buffer holds in the shared hit map.
 *
 * What a program opens, maps and forks is dropped at its end; a program may
 * also end the executor (FZ_KILL, a crash): the fuzzer starts another.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"
#include "../kpc_misc.h"
#include "../target/kpc_target.h"

#define FZ_PAGE		4096UL
#define FZ_BIG		(16UL << 20)	/* room for KPROBECOV_MAX_BATCH probes */
#define FZ_KERNEL_PTR	((void *)0xffffffff81000000UL)
#define FZ_MAX_CHILDREN	8

/* A thread's memory for struct arguments: buf, a guard page, a read-only page; big. */
struct fz_thr {
	char *buf;		/* FZ_PAGE read-write, then the guard page */
	char *guard;
	char *ro;
	char *big;		/* FZ_BIG read-write (untouched pages read as zero), then a guard */
	uint64_t *cover;	/* KCOV buffer, NULL without KCOV */
	int fail_fd;		/* /proc/thread-self/fail-nth */
	pid_t tid;
};

/* One collector fd slot of the running program. */
struct fz_col {
	int fd;
	void *area;
	size_t len;
	uint64_t area_bytes;	/* from the last INIT that worked on it */
	uint64_t slot;		/* from the last ATTACH that worked on it */
};

static struct fz_shared *sh;
static struct fz_col cols[FZ_NR_FDS];
static pid_t children[FZ_MAX_CHILDREN];
static unsigned int nr_children;
static int target_fd = -1;
static struct fz_thr thr[2];

/* The second thread's work: one operation at a time. */
static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_cond = PTHREAD_COND_INITIALIZER;
static const struct fz_op *job;
static int job_busy;

static void fz_collect(struct fz_thr *t);
static void fz_do(struct fz_thr *t, const struct fz_op *o);
static void fz_storm(struct fz_thr *t, const struct fz_op *o);

static __thread sigjmp_buf fz_jmp;
static __thread volatile int fz_jmp_armed;

/* A fault in user memory (an area another thread unmapped) ends the operation only. */
static void fz_on_fault(int sig)
{
	if (fz_jmp_armed)
		siglongjmp(fz_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* The probes that ADD picks from; errors expected of some are in the comments. */
static const struct {
	const char *module, *symbol;
	uint64_t offset;
	uint32_t kind;
} fz_templates[] = {
	{ KPC_TARGET_NAME, "kpc_target_a", 0, KPROBECOV_KIND_FUNC },
	{ KPC_TARGET_NAME, "kpc_target_b", 0, KPROBECOV_KIND_FUNC },
	{ KPC_TARGET_NAME, "kpc_target_branch", 0, KPROBECOV_KIND_FUNC },
	{ KPC_TARGET_NAME, "kpc_target_branch", 4, KPROBECOV_KIND_BRANCH },
	{ KPC_TARGET_NAME, "kpc_target_branch", 9, KPROBECOV_KIND_LINE },
	{ KPC_TARGET_NAME, "kpc_target_seq", 0, KPROBECOV_KIND_FUNC },
	{ KPC_TARGET_NAME, "kpc_target_irq", 0, KPROBECOV_KIND_FUNC },
	{ KPC_TARGET_NAME, "kpc_target_fire_timer", 0, KPROBECOV_KIND_FUNC },
	{ KPC_TARGET_NAME, "kpc_target_fill_table", 0, KPROBECOV_KIND_FUNC },
	{ KPC_TARGET_NAME, "kpc_target_drain_table", 0, KPROBECOV_KIND_FUNC },
	{ KPC_TARGET_NAME, "kpc_target_init_banner", 0, KPROBECOV_KIND_FUNC },
	{ KPC_TARGET_NAME, "kpc_target_a", 1, KPROBECOV_KIND_LINE },	/* EILSEQ, likely */
	{ KPC_TARGET_NAME, "kpc_target_a", 1 << 20, KPROBECOV_KIND_LINE },	/* ERANGE */
	{ KPC_TARGET_NAME, "kpc_target_no_such", 0, KPROBECOV_KIND_FUNC },	/* ENOENT */
	{ "kpc_entry", "kpc_entry_traced", 0, KPROBECOV_KIND_FUNC },	/* PENDING */
	{ "no_such_module", "f", 0, KPROBECOV_KIND_FUNC },		/* PENDING */
	{ "vmlinux", "__x64_sys_getppid", 0, KPROBECOV_KIND_FUNC },
	{ "", "__x64_sys_getpgrp", 0, KPROBECOV_KIND_FUNC },
	{ "vmlinux", "__x64_sys_sched_yield", 0, KPROBECOV_KIND_FUNC },
	{ "vmlinux", "__x64_sys_getppid", 4, KPROBECOV_KIND_LINE },
	{ "vmlinux", "exc_int3", 0, KPROBECOV_KIND_FUNC },		/* not probe-able */
	{ "vmlinux", "kpc_target_a", 0, KPROBECOV_KIND_FUNC },	/* a module's: ENOENT */
	{ "vmlinux", "jiffies", 0, KPROBECOV_KIND_FUNC },		/* not text */
};
#define FZ_NR_TEMPLATES (sizeof(fz_templates) / sizeof(fz_templates[0]))

static void fz_thr_setup(struct fz_thr *t)
{
	char *m = mmap(NULL, 3 * FZ_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *big = mmap(NULL, FZ_BIG + FZ_PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m == MAP_FAILED || big == MAP_FAILED)
		_exit(3);
	t->buf = m;
	t->guard = m + FZ_PAGE;
	t->ro = m + 2 * FZ_PAGE;
	mprotect(t->guard, FZ_PAGE, PROT_NONE);
	mprotect(t->ro, FZ_PAGE, PROT_READ);
	t->big = big;
	mprotect(big + FZ_BIG, FZ_PAGE, PROT_NONE);
	t->tid = gettid();
	t->fail_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	t->cover = fz_kcov_enable();
	if (!t->cover)
		sh->kcov = 0;
}

/* Where a struct argument of size bytes goes, as o->ptr says; s is copied there. */
static void *fz_place(struct fz_thr *t, const struct fz_op *o, const void *s, size_t size)
{
	switch (o->ptr) {
	case FZ_PTR_NULL:
		return NULL;
	case FZ_PTR_UNMAPPED:
		return t->guard;
	case FZ_PTR_STRADDLE:
		memcpy(t->guard - size / 2, s, size / 2);
		return t->guard - size / 2;
	case FZ_PTR_READONLY:
		mprotect(t->ro, FZ_PAGE, PROT_READ | PROT_WRITE);
		memcpy(t->ro, s, size);
		mprotect(t->ro, FZ_PAGE, PROT_READ);
		return t->ro;
	case FZ_PTR_KERNEL:
		return FZ_KERNEL_PTR;
	case FZ_PTR_AREA:
		if (cols[o->fd].area && cols[o->fd].len >= size) {
			memcpy(cols[o->fd].area, s, size);
			return cols[o->fd].area;
		}
		return NULL;
	default:
		memcpy(t->buf, s, size);
		return t->buf;
	}
}

/* An ioctl on a collector fd; on a slot with no fd it is not made (nor counted). */
static long fz_ioctl(int fd, unsigned long cmd, void *arg)
{
	if (fd < 0)
		return -1;
	__atomic_add_fetch(&sh->ioctls, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sh->calls, 1, __ATOMIC_RELAXED);
	return ioctl(fd, cmd, arg);
}

static void fz_count_call(void)
{
	__atomic_add_fetch(&sh->calls, 1, __ATOMIC_RELAXED);
}

/* Argument choices for a pid (ATTACH, TRACE_START). */
static uint64_t fz_pid(uint64_t choice, uint64_t raw)
{
	switch (choice % 7) {
	case 1: return thr[1].tid;
	case 2: return nr_children ? (uint64_t)children[nr_children - 1] : 0;
	case 3: return 1;
	case 4: return getppid();
	case 5: return raw;
	case 6: return 0x3fffffff;	/* above pid_max */
	default: return 0;
	}
}

static void fz_fill_probes(struct kprobecov_probe *p, uint64_t count, uint64_t seed, uint64_t level)
{
	struct fz_rng r = { seed };
	uint64_t i, n = count < 64 ? count : 64;

	for (i = 0; i < n; i++) {
		unsigned int k = fz_below(&r, FZ_NR_TEMPLATES);

		memset(&p[i], 0, sizeof(p[i]));
		snprintf(p[i].module, sizeof(p[i].module), "%s", fz_templates[k].module);
		snprintf(p[i].symbol, sizeof(p[i].symbol), "%s", fz_templates[k].symbol);
		p[i].offset = fz_templates[k].offset;
		p[i].kind = fz_templates[k].kind;
		p[i].group = fz_below(&r, 7);
		/* Adjacent probes of one function share a resolution: repeat some. */
		if (i && fz_below(&r, 3) == 0)
			p[i] = p[i - 1];
		if (level == 0 || fz_below(&r, 4))
			continue;
		switch (level == 3 ? 4 : fz_below(&r, 4)) {
		case 0:	/* a number out of range */
			p[i].kind = fz_below(&r, 2) ? fz_boundary(&r) : fz_below(&r, 5);
			p[i].offset = fz_below(&r, 2) ? p[i].offset : fz_boundary(&r);
			break;
		case 1:	/* fields that are output, and the address */
			p[i].error = fz_rand(&r);
			p[i].state = fz_rand(&r);
			p[i].address = fz_below(&r, 2) ? fz_rand(&r) : 0xffffffff81000000ULL;
			break;
		case 2:	/* strings: unterminated, empty */
			if (fz_below(&r, 2))
				memset(p[i].symbol, 'x', sizeof(p[i].symbol));
			else
				memset(p[i].module, fz_below(&r, 2) ? 'm' : 0, sizeof(p[i].module));
			break;
		case 3:
			p[i].symbol[0] = 0;
			break;
		default: {	/* bytes */
			unsigned char *b = (unsigned char *)&p[i];
			size_t j;

			for (j = 0; j < sizeof(p[i]); j++)
				b[j] = fz_rand(&r);
			break;
		}
		}
	}
}

static void fz_op_add(struct fz_thr *t, const struct fz_op *o, struct fz_col *c)
{
	struct kprobecov_add_probes a = { .count = o->a[0], .flags = o->a[3], .reserved = o->a[4] };
	size_t each = sizeof(struct kprobecov_probe), n = o->a[0] < 64 ? o->a[0] : 64;
	char *arr;

	switch (o->a[5] % 4) {
	case 1: arr = NULL; break;
	case 2: arr = t->big + FZ_BIG - n * each + each / 2; break; /* the last one in the guard */
	case 3: arr = FZ_KERNEL_PTR; break;
	default: arr = t->big; break;
	}
	if (arr && arr != (char *)FZ_KERNEL_PTR) {
		size_t room = t->big + FZ_BIG - arr;

		n = n * each <= room ? n : room / each;
		fz_fill_probes((struct kprobecov_probe *)arr, n, o->a[1], o->a[2]);
	}
	a.probes = (uintptr_t)arr;
	fz_ioctl(c->fd, KPROBECOV_ADD_PROBES, fz_place(t, o, &a, sizeof(a)));
}

static void fz_hit(const struct fz_op *o)
{
	struct kpc_target_call call = { .arg = (int64_t)o->a[1] - 1, .times = o->a[1] % 4 };
	static const unsigned long cmds[] = { KPC_TARGET_CALL_A, KPC_TARGET_CALL_BRANCH,
					      KPC_TARGET_CALL_SEQ, KPC_TARGET_TIMER };

	switch (o->a[0] % 8) {
	case 0: syscall(SYS_getppid); break;
	case 5: sched_yield(); break;
	case 6: syscall(SYS_getpgrp); break;
	default:
		if (target_fd < 0)
			target_fd = kpc_open_misc(KPC_TARGET_NAME, O_RDWR);
		if (target_fd >= 0 && o->a[0] % 8 != 7)
			ioctl(target_fd, cmds[(o->a[0] % 8 - 1) % 4], &call);
		break;
	}
}

/* What a forked child does; it runs in a copy of a threaded process: syscalls only. */
static void fz_child(const struct fz_op *o)
{
	char *argv[] = { sh->self, "--child", NULL };
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i;

	switch (o->a[0] % 5) {
	case 1:
		execv(sh->self, argv);
		break;
	case 2:
		for (i = 0; i < 4; i++)
			syscall(SYS_getppid);
		break;
	case 3:		/* lives a little: long enough to be attached by a later op */
		nanosleep(&ts, NULL);
		syscall(SYS_getppid);
		break;
	case 4:		/* a grandchild (a tree two deep) that outlives its parent */
		if (fork() == 0) {
			nanosleep(&ts, NULL);
			syscall(SYS_getpgrp);
		}
		break;
	}
	_exit(0);
}

static void fz_op_fork(const struct fz_op *o)
{
	pid_t pid;

	if (nr_children == FZ_MAX_CHILDREN) {
		kill(children[0], SIGKILL);
		waitpid(children[0], NULL, 0);
		memmove(children, children + 1, --nr_children * sizeof(*children));
	}
	pid = fork();
	if (pid == 0)
		fz_child(o);
	if (pid > 0)
		children[nr_children++] = pid;
	/* Reap some at once, so that ATTACH sees zombies and dead pids too. */
	if (pid > 0 && o->a[1] % 3 == 0)
		waitpid(pid, NULL, 0);
}

static void fz_op_mmap(const struct fz_op *o, struct fz_col *c)
{
	static const int prots[] = { PROT_READ | PROT_WRITE, PROT_READ, PROT_WRITE,
				     PROT_READ | PROT_WRITE | PROT_EXEC };
	size_t len;
	void *m;

	switch (o->a[0] % 4) {
	case 1: len = c->area_bytes + FZ_PAGE; break;
	case 2: len = FZ_PAGE; break;
	case 3: len = (c->area_bytes / 2 + FZ_PAGE - 1) & ~(FZ_PAGE - 1); break;
	default: len = c->area_bytes; break;
	}
	if (!len)
		len = FZ_PAGE;
	if (c->area)
		munmap(c->area, c->len);
	c->area = NULL;
	fz_count_call();
	m = mmap(NULL, len, prots[o->a[2] % 4], MAP_SHARED, c->fd, (o->a[1] % 4) * FZ_PAGE);
	if (m != MAP_FAILED && (prots[o->a[2] % 4] & PROT_READ) && (prots[o->a[2] % 4] & PROT_WRITE)) {
		c->area = m;
		c->len = len;
	} else if (m != MAP_FAILED) {
		munmap(m, len);
	}
}

static void fz_do(struct fz_thr *t, const struct fz_op *o)
{
	struct fz_col *c = &cols[o->fd];
	union {
		struct kprobecov_version v;
		struct kprobecov_init init;
		struct kprobecov_select sel;
		struct kprobecov_attach at;
		struct kprobecov_slot_op so;
		struct kprobecov_status_query sq;
		struct kprobecov_next_unhit nu;
		struct kprobecov_callers cl;
		struct kprobecov_trace tr;
		char raw[256];
	} u;
	static const int open_flags[] = { O_RDWR, O_RDONLY, O_WRONLY, O_RDWR | O_NONBLOCK };
	static const unsigned long slot_cmds[] = { KPROBECOV_DETACH, KPROBECOV_RESET,
						   KPROBECOV_RELEASE };
	void *p;

	memset(&u, 0, sizeof(u));
	switch (o->kind) {
	case FZ_OPEN:
		if (c->fd >= 0)
			break;
		fz_count_call();
		c->fd = kpc_open_misc("kprobecov", open_flags[o->a[0] % 4]);
		c->area_bytes = 0;
		break;
	case FZ_CLOSE:
		if (c->fd < 0)
			break;
		fz_count_call();
		close(c->fd);
		c->fd = -1;
		break;
	case FZ_VERSION:
		fz_ioctl(c->fd, KPROBECOV_GET_VERSION, fz_place(t, o, &u.v, sizeof(u.v)));
		break;
	case FZ_INIT:
		u.init = (struct kprobecov_init){ .max_probes = o->a[0], .max_slots = o->a[1],
			.edge_bits = o->a[2], .trace_entries = o->a[3], .flags = o->a[4],
			.reserved = { o->a[5] } };
		p = fz_place(t, o, &u.init, sizeof(u.init));
		if (!fz_ioctl(c->fd, KPROBECOV_INIT, p) && p == t->buf)
			c->area_bytes = ((struct kprobecov_init *)p)->area_bytes;
		break;
	case FZ_MMAP:
		if (c->fd >= 0)
			fz_op_mmap(o, c);
		break;
	case FZ_MUNMAP:
		if (c->area) {
			fz_count_call();
			munmap(c->area, c->len);
			c->area = NULL;
		}
		break;
	case FZ_ADD:
		fz_op_add(t, o, c);
		break;
	case FZ_ARM:
	case FZ_DISARM:
		u.sel = (struct kprobecov_select){ .how = o->a[0], .group = o->a[1],
			.first = o->a[2], .count = o->a[3], .reserved = o->a[4] };
		fz_ioctl(c->fd, o->kind == FZ_ARM ? KPROBECOV_ARM : KPROBECOV_DISARM,
			 fz_place(t, o, &u.sel, sizeof(u.sel)));
		break;
	case FZ_ATTACH:
		u.at = (struct kprobecov_attach){ .pid = fz_pid(o->a[0], o->a[5]),
			.scope = o->a[1], .flags = o->a[2], .sample_id = o->a[3],
			.reserved = { o->a[4] } };
		p = fz_place(t, o, &u.at, sizeof(u.at));
		if (!fz_ioctl(c->fd, KPROBECOV_ATTACH, p) && p == t->buf)
			c->slot = ((struct kprobecov_attach *)p)->slot;
		break;
	case FZ_DETACH:
	case FZ_RESET:
	case FZ_RELEASE:
		/* Slot 0..3: those numbers; 4..: the last attached slot, or the value. */
		u.so.slot = o->a[0] < 4 ? o->a[0] : o->a[0] < 8 ? c->slot : o->a[0];
		u.so.flags = o->a[1];
		fz_ioctl(c->fd, slot_cmds[o->kind - FZ_DETACH], fz_place(t, o, &u.so, sizeof(u.so)));
		break;
	case FZ_STATUS:
	case FZ_CALLERS: {
		char *arr = o->a[2] % 4 == 1 ? NULL : o->a[2] % 4 == 2 ? t->big + FZ_BIG - 8
			  : o->a[2] % 4 == 3 ? (char *)FZ_KERNEL_PTR : t->big;

		if (o->kind == FZ_STATUS) {
			u.sq = (struct kprobecov_status_query){ .first = o->a[0], .count = o->a[1],
				.status = (uintptr_t)arr, .reserved = o->a[3] };
			fz_ioctl(c->fd, KPROBECOV_GET_PROBE_STATUS, fz_place(t, o, &u.sq, sizeof(u.sq)));
		} else {
			u.cl = (struct kprobecov_callers){ .probe = o->a[0], .capacity = o->a[1],
				.callers = (uintptr_t)arr, .reserved = o->a[3] };
			fz_ioctl(c->fd, KPROBECOV_GET_CALLERS, fz_place(t, o, &u.cl, sizeof(u.cl)));
		}
		break;
	}
	case FZ_NEXT_UNHIT:
		u.nu = (struct kprobecov_next_unhit){ .from = o->a[0], .kinds = o->a[1],
			.skip = o->a[2], .reserved = o->a[3] };
		fz_ioctl(c->fd, KPROBECOV_NEXT_UNHIT, fz_place(t, o, &u.nu, sizeof(u.nu)));
		break;
	case FZ_TRACE_START:
		u.tr = (struct kprobecov_trace){ .tid = fz_pid(o->a[0], o->a[5]), .flags = o->a[1] };
		fz_ioctl(c->fd, KPROBECOV_TRACE_START, fz_place(t, o, &u.tr, sizeof(u.tr)));
		break;
	case FZ_TRACE_STOP:
		fz_ioctl(c->fd, KPROBECOV_TRACE_STOP, (void *)(uintptr_t)o->a[0]);
		break;
	case FZ_RAW_IOCTL: {
		/* Odd a0: kprobecov's type with any number, direction and size; even: anything. */
		unsigned long cmd = o->a[0] & 1 ? _IOC((o->a[0] >> 1) & 3, KPROBECOV_IOC,
				(o->a[0] >> 3) % 20, (o->a[0] >> 8) % 300) : (uint32_t)(o->a[0] >> 1);
		struct fz_rng r = { o->a[2] };
		size_t i;

		for (i = 0; i < sizeof(u.raw); i++)
			u.raw[i] = fz_below(&r, 4) ? 0 : fz_rand(&r);
		p = o->a[1] & 1 ? (void *)(uintptr_t)o->a[1] : fz_place(t, o, u.raw, sizeof(u.raw));
		fz_ioctl(c->fd, cmd, p);
		break;
	}
	case FZ_POLL: {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

		fz_count_call();
		poll(&pfd, 1, 0);
		break;
	}
	case FZ_AREA_RW:
		if (c->area && o->a[0] * 8 + 8 <= c->len) {
			((volatile uint64_t *)c->area)[o->a[0]] += o->a[1];
		}
		break;
	case FZ_HIT:
		fz_hit(o);
		break;
	case FZ_FORK:
		fz_op_fork(o);
		break;
	case FZ_MOD_LOAD: {
		int fd;

		if (!sh->target_ko[0])
			break;
		fd = open(sh->target_ko, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			syscall(SYS_finit_module, fd, "", 0);
			close(fd);
		}
		break;
	}
	case FZ_MOD_UNLOAD:
		if (target_fd >= 0)
			close(target_fd);
		target_fd = -1;
		syscall(SYS_delete_module, KPC_TARGET_NAME, O_NONBLOCK);
		break;
	case FZ_KILL:
		usleep(o->a[0] % 2000);
		kill(getpid(), SIGKILL);
		break;
	case FZ_STORM:
		fz_storm(t, o);
		break;
	}
}

/* Many quick ioctls on one fd: every kind, arguments as generated, no probe planted. */
static void fz_storm(struct fz_thr *t, const struct fz_op *o)
{
	static const uint8_t kinds[] = {
		FZ_VERSION, FZ_INIT, FZ_ADD, FZ_ARM, FZ_DISARM, FZ_ATTACH, FZ_DETACH, FZ_RESET,
		FZ_RELEASE, FZ_STATUS, FZ_NEXT_UNHIT, FZ_CALLERS, FZ_TRACE_START, FZ_TRACE_STOP,
		FZ_RAW_IOCTL, FZ_POLL, FZ_AREA_RW,
	};
	struct fz_rng r = { o->a[1] };
	uint64_t i, n = 64 + o->a[0] % 2048;

	for (i = 0; i < n && cols[o->fd].fd >= 0; i++) {
		struct fz_op x = { .fd = o->fd };

		x.kind = kinds[fz_below(&r, sizeof(kinds))];
		x.ptr = fz_below(&r, 8) ? FZ_PTR_VALID : fz_below(&r, FZ_NR_PTRS);
		fz_gen_args(&r, &x);
		if (x.kind == FZ_ADD)
			x.a[2] = 3;	/* garbage probes: refused before any is planted */
		fz_do(t, &x);
		if (i % 32 == 31)
			fz_collect(t);
	}
}

/* Runs one operation on thread t with its failure injection; records its coverage. */
static void fz_run(struct fz_thr *t, const struct fz_op *o)
{
	char nth[16];
	int n;

	if (t->cover)
		__atomic_store_n(&t->cover[0], 0, __ATOMIC_RELAXED);
	if (o->fail_nth && t->fail_fd >= 0) {
		n = snprintf(nth, sizeof(nth), "%u", o->fail_nth);
		if (pwrite(t->fail_fd, nth, n, 0) != n)
			t->fail_fd = -1;
	}
	if (sigsetjmp(fz_jmp, 1) == 0) {
		fz_jmp_armed = 1;
		fz_do(t, o);
	}
	fz_jmp_armed = 0;
	if (o->fail_nth && t->fail_fd >= 0) {
		n = pread(t->fail_fd, nth, sizeof(nth) - 1, 0);
		if (n > 0 && nth[0] == '0')
			__atomic_add_fetch(&sh->faults, 1, __ATOMIC_RELAXED);
		if (pwrite(t->fail_fd, "0", 1, 0) != 1)
			t->fail_fd = -1;
	}
	fz_collect(t);
}

/* Marks the module's sites in the thread's KCOV buffer as hit; empties the buffer. */
static void fz_collect(struct fz_thr *t)
{
	if (t->cover) {
		uint64_t i, n_pc = __atomic_load_n(&t->cover[0], __ATOMIC_RELAXED);

		if (n_pc >= FZ_KCOV_WORDS)
			n_pc = FZ_KCOV_WORDS - 1;
		for (i = 1; i <= n_pc; i++) {
			uint64_t pc = t->cover[i];
			long k;

			if (!fz_in_module(&sh->sites, pc))
				continue;
			k = fz_site_index(&sh->sites, pc);
			if (k >= 0)
				sh->hit[k] = 1;
			else if (__atomic_add_fetch(&sh->stray, 1, __ATOMIC_RELAXED))
				for (k = 0; k < 16; k++)
					if (sh->stray_pc[k] == pc || (!sh->stray_pc[k] &&
					    !__sync_val_compare_and_swap(&sh->stray_pc[k], 0, pc)))
						break;
		}
		__atomic_store_n(&t->cover[0], 0, __ATOMIC_RELAXED);
	}
}

static void *fz_second(void *arg)
{
	(void)arg;
	fz_thr_setup(&thr[1]);
	pthread_mutex_lock(&job_lock);
	job_busy = 0;
	pthread_cond_broadcast(&job_cond);
	for (;;) {
		const struct fz_op *o;

		while (!job)
			pthread_cond_wait(&job_cond, &job_lock);
		o = job;
		pthread_mutex_unlock(&job_lock);
		fz_run(&thr[1], o);
		pthread_mutex_lock(&job_lock);
		job = NULL;
		job_busy = 0;
		pthread_cond_broadcast(&job_cond);
	}
	return NULL;
}

static void fz_wait_second(void)
{
	pthread_mutex_lock(&job_lock);
	while (job_busy)
		pthread_cond_wait(&job_cond, &job_lock);
	pthread_mutex_unlock(&job_lock);
}

static void fz_hand(const struct fz_op *o)
{
	fz_wait_second();
	pthread_mutex_lock(&job_lock);
	job = o;
	job_busy = 1;
	pthread_cond_broadcast(&job_cond);
	pthread_mutex_unlock(&job_lock);
}

static void fz_cleanup(void)
{
	unsigned int i;

	fz_wait_second();
	for (i = 0; i < FZ_NR_FDS; i++) {
		if (cols[i].area)
			munmap(cols[i].area, cols[i].len);
		if (cols[i].fd >= 0)
			close(cols[i].fd);
		cols[i] = (struct fz_col){ .fd = -1 };
	}
	for (i = 0; i < nr_children; i++) {
		kill(children[i], SIGKILL);
		waitpid(children[i], NULL, 0);
	}
	nr_children = 0;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (target_fd >= 0)
		close(target_fd);
	target_fd = -1;
}

void fz_executor(struct fz_shared *shared, int in, int out)
{
	struct sigaction sa = { .sa_handler = fz_on_fault, .sa_flags = SA_NODEFER };
	pthread_t second;
	unsigned int i;
	char c;

	sh = shared;
	for (i = 0; i < FZ_NR_FDS; i++)
		cols[i] = (struct fz_col){ .fd = -1 };
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fz_thr_setup(&thr[0]);
	job_busy = 1;
	pthread_create(&second, NULL, fz_second, NULL);
	fz_wait_second();
	while (read(in, &c, 1) == 1) {
		const struct fz_prog *p = &sh->prog;

		for (i = 0; i < p->n && i < FZ_MAX_OPS; i++) {
			const struct fz_op *o = &p->ops[i];

			sh->op = i;
			if (o->thread == FZ_ASYNC) {
				fz_hand(o);
			} else if (o->thread == FZ_BOTH) {
				fz_hand(o);
				fz_run(&thr[0], o);
				fz_wait_second();
			} else {
				fz_run(&thr[0], o);
			}
		}
		fz_cleanup();
		if (write(out, &c, 1) != 1)
			break;
	}
	_exit(0);
}
