// SPDX-License-Identifier: GPL-2.0
/*
 * Least privilege: what a non-root member of the group owning /dev/kprobecov
 * may do, and what needs a capability of the opener (planting probes, kernel
 * addresses) or ptrace's permission (watching a task). The harness runs as
 * root; each test drops privileges in a process it forks: it becomes nobody
 * in KPC_GROUP, to which the device is given with mode 0660 (as a udev rule
 * would), or stays root without some capabilities.
 */
#include "kpc_util.h"

#include <grp.h>
#include <sys/prctl.h>

#define KPC_DEV		"/dev/" KPC_MODULE
#define KPC_GROUP	4242	/* the group the device is given to */
#define NOBODY		65534
#define HELPER_ENV	"KPC_PRIV_HELPER"
#define HELPER_COPY	"/dev/shm/kpc_priv_setuid"	/* tmpfs without nosuid */
#define HELPER_CALLS	3

/*
 * Run as the setuid copy of this program (HELPER_ENV set): calls
 * kpc_target_a HELPER_CALLS times and exits, before the harness starts.
 */
__attribute__((constructor)) static void kpc_priv_helper(void)
{
	struct kpc_target_call call = { .arg = 1, .times = HELPER_CALLS };
	int fd;

	if (!getenv(HELPER_ENV))
		return;
	fd = open("/dev/" KPC_TARGET, O_RDWR);
	_exit(fd < 0 || ioctl(fd, KPC_TARGET_CALL_A, &call) ? 3 : 0);
}

/* Gives the device to KPC_GROUP, mode 0660 (made first if needed). */
static void kpc_share_device(void)
{
	close(kpc_open());
	ASSERT_OK(chown(KPC_DEV, 0, KPC_GROUP));
	ASSERT_OK(chmod(KPC_DEV, 0660));
}

static void kpc_unshare_device(void)
{
	if (chown(KPC_DEV, 0, 0) || chmod(KPC_DEV, 0600))
		kt_log("cannot give %s back to root: %s", KPC_DEV, strerror(errno));
}

/* In a forked process: nobody, a member of KPC_GROUP, dumpable (as after a login). */
static void kpc_become_member(void)
{
	gid_t g = KPC_GROUP;

	ASSERT_OK(setgroups(1, &g));
	ASSERT_OK(setgid(NOBODY));
	ASSERT_OK(setuid(NOBODY));
	ASSERT_OK(prctl(PR_SET_DUMPABLE, 1));
}

/* A collector of the device opened by the caller as it is now (no mknod). */
static void kpc_member_col(struct kpc_col *c, __u64 trace_entries)
{
	memset(c, 0, sizeof(*c));
	c->fd = open(KPC_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_NE(-1, c->fd);
	c->init.max_probes = 16;
	c->init.max_slots = 4;
	c->init.trace_entries = trace_entries;
	c->init.flags = KPROBECOV_INIT_CALLERS;
	ASSERT_OK(ioctl(c->fd, KPROBECOV_INIT, &c->init));
	c->area = mmap(NULL, c->init.area_bytes, PROT_READ, MAP_SHARED, c->fd, 0);
	ASSERT_NE(MAP_FAILED, c->area);
	c->hdr = c->area;
}

/* Waits for a process this test forked; it must exit 0. */
static void kpc_reap(pid_t pid)
{
	int status;

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
}

/* A process that waits until its pipe is written or closed; the read end is *go. */
static pid_t kpc_sleeper(int *go, void (*become)(void))
{
	int p[2], ready[2];
	pid_t pid;
	char b;

	ASSERT_OK(pipe(p));
	ASSERT_OK(pipe(ready));
	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0) {
		close(p[1]);
		if (become)
			become();
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		_exit(read(p[0], &b, 1) < 0);
	}
	close(p[0]);
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &b, 1));
	close(ready[0]);
	*go = p[1];
	return pid;
}

static void kpc_become_undumpable(void)
{
	if (prctl(PR_SET_DUMPABLE, 0))
		_exit(3);
}

/* Same uid as nobody, but another gid (a setgid helper's credentials). */
static void kpc_become_other_gid(void)
{
	if (setgroups(0, NULL) || setresgid(KPC_GROUP, KPC_GROUP, KPC_GROUP) ||
	    setresuid(NOBODY, NOBODY, NOBODY) || prctl(PR_SET_DUMPABLE, 1))
		_exit(3);
}

/* A function probe on a built-in function, with its address when addr != 0. */
static void kpc_vmlinux_probe(struct kprobecov_probe *p, unsigned long long addr)
{
	kpc_probe(p, "vmlinux", "__x64_sys_getpgid", 0, KPROBECOV_KIND_FUNC, 1);
	p->address = addr;
}

FIXTURE(priv) {
	char kptr_restrict[16];	/* the sysctl's value to restore, if changed */
};

FIXTURE_SETUP(priv)
{
	kpc_target_ensure_loaded();
	kpc_share_device();
}

FIXTURE_TEARDOWN(priv)
{
	if (self->kptr_restrict[0]) {
		FILE *f = fopen("/proc/sys/kernel/kptr_restrict", "w");

		if (f) {
			fputs(self->kptr_restrict, f);
			fclose(f);
		}
	}
	kpc_unshare_device();
}

TEST_F(priv, member_may_collect_but_not_plant)
{
	struct kprobecov_version v;
	struct kprobecov_probe p;
	pid_t pid = fork();

	ASSERT_NE(-1, pid);
	if (pid == 0) {
		struct kpc_col c;

		kpc_become_member();
		/* The group may open the device, size a collector and map it ... */
		kpc_member_col(&c, 0);
		ASSERT_OK(ioctl(c.fd, KPROBECOV_GET_VERSION, &v));
		/* ... but not plant probes (no CAP_PERFMON, no delegation) ... */
		kpc_probe(&p, KPC_TARGET, "kpc_target_a", 0, KPROBECOV_KIND_FUNC, G_A);
		ASSERT_ERRNO(EPERM, kpc_add(c.fd, &p, 1, NULL));
		/* ... nor arm ... */
		ASSERT_ERRNO(EPERM, kpc_select(c.fd, KPROBECOV_ARM, KPROBECOV_SELECT_ALL, 0, 0, 0, NULL));
		/* ... nor disarm them (both patch kernel text). */
		ASSERT_ERRNO(EPERM, kpc_select(c.fd, KPROBECOV_DISARM, KPROBECOV_SELECT_ALL, 0, 0, 0,
					       NULL));
		/* Attaching its own process needs nothing. */
		ASSERT_OK(kpc_attach(c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, NULL));
		_exit(0);
	}
	kpc_reap(pid);
}

TEST(planting_needs_the_openers_capability)
{
	struct kprobecov_probe p;
	pid_t pid;

	kpc_target_ensure_loaded();
	kpc_probe(&p, KPC_TARGET, "kpc_target_a", 0, KPROBECOV_KIND_FUNC, G_A);
	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0) {
		struct kpc_col c;

		/* Root that dropped CAP_PERFMON and CAP_SYS_ADMIN before opening may not plant. */
		kpc_drop_cap(CAP_PERFMON);
		kpc_drop_cap(CAP_SYS_ADMIN);
		kpc_col_open(&c, 16, 1, 0, 0);
		ASSERT_ERRNO(EPERM, kpc_add(c.fd, &p, 1, NULL));
		_exit(0);
	}
	kpc_reap(pid);
	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0) {
		struct kpc_col c;

		/* The capabilities are the opener's: dropped after open, they still count. */
		kpc_col_open(&c, 16, 1, 0, 0);
		kpc_drop_cap(CAP_PERFMON);
		kpc_drop_cap(CAP_SYS_ADMIN);
		ASSERT_OK(kpc_add(c.fd, &p, 1, NULL));
		_exit(0);
	}
	kpc_reap(pid);
}

TEST(delegate_probes_lets_the_group_plant)
{
	const char *ko = kpc_module_ko();
	struct kprobecov_probe p;
	pid_t pid;

	kpc_target_ensure_loaded();
	/* kprobecov again, delegating planting to whoever can open the device. */
	ASSERT_EQ(0, kpc_unload(KPC_MODULE));
	ASSERT_EQ(0, kpc_load_params(ko, "delegate_probes=1"));
	kpc_share_device();
	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0) {
		struct kprobecov_add_probes out;
		struct kpc_col c;

		kpc_become_member();
		kpc_member_col(&c, 0);
		/* The member plants and arms probes ... */
		kpc_probe(&p, KPC_TARGET, "kpc_target_a", 0, KPROBECOV_KIND_FUNC, G_A);
		ASSERT_OK(kpc_add(c.fd, &p, 1, &out));
		ASSERT_EQ(1, out.registered);
		ASSERT_OK(kpc_select(c.fd, KPROBECOV_ARM, KPROBECOV_SELECT_ALL, 0, 0, 0, NULL));
		/* ... but the delegation gives no kernel address. */
		kpc_vmlinux_probe(&p, 0xffffffff81000000ULL);
		ASSERT_ERRNO(EPERM, kpc_add(c.fd, &p, 1, NULL));
		_exit(0);
	}
	kpc_reap(pid);
	kpc_unshare_device();
	/* Back to the default. */
	ASSERT_EQ(0, kpc_unload(KPC_MODULE));
	ASSERT_EQ(0, kpc_load(ko));
}

TEST_F(priv, address_needs_cap_syslog)
{
	unsigned long long addr = kpc_kallsyms("__x64_sys_getpgid");
	struct kprobecov_probe p;
	pid_t pid;

	ASSERT_NE(0, addr);
	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0) {
		struct kpc_col c;

		kpc_drop_cap(CAP_SYSLOG);
		kpc_col_open(&c, 16, 1, 0, 0);
		/* An opener without CAP_SYSLOG may not give an address (nothing is added) ... */
		kpc_vmlinux_probe(&p, addr);
		ASSERT_ERRNO(EPERM, kpc_add(c.fd, &p, 1, NULL));
		ASSERT_EQ(0, c.hdr->nr_probes);
		/* ... but may name the symbol. */
		kpc_vmlinux_probe(&p, 0);
		ASSERT_OK(kpc_add(c.fd, &p, 1, NULL));
		_exit(0);
	}
	kpc_reap(pid);
}

/* Adds the standard probes, and makes kpc_target_a called from 3 sites. */
static void kpc_make_callers(struct kpc_col *c)
{
	kpc_add_std(c->fd, 0);
	kpc_arm_all(c->fd);
	ASSERT_OK(kpc_attach(c->fd, 0, KPROBECOV_SCOPE_PROCESS, 0, NULL));
	kpc_call(-1, KPC_TARGET_CALL_SEQ, 1, 1);
}

TEST_F(priv, kptr_restrict_is_honoured)
{
	unsigned long long addr = kpc_kallsyms("__x64_sys_getpgid");
	struct kprobecov_caller cl[4];
	struct kprobecov_callers q = { .probe = P_A, .callers = (uintptr_t)cl, .capacity = 4 };
	struct kprobecov_probe p;
	struct kpc_col c;
	__u64 i;
	int fd;

	ASSERT_NE(0, addr);
	fd = open("/proc/sys/kernel/kptr_restrict", O_RDWR | O_CLOEXEC);
	ASSERT_NE(-1, fd);
	ASSERT_LT(0, read(fd, self->kptr_restrict, sizeof(self->kptr_restrict) - 1));
	ASSERT_EQ(2, pwrite(fd, "2\n", 2, 0));
	close(fd);
	kpc_col_open(&c, 64, 1, 0, 0);
	/* kptr_restrict=2 hides addresses from root too: none may come in ... */
	kpc_vmlinux_probe(&p, addr);
	ASSERT_ERRNO(EPERM, kpc_add(c.fd, &p, 1, NULL));
	kpc_make_callers(&c);
	ASSERT_OK(ioctl(c.fd, KPROBECOV_GET_CALLERS, &q));
	ASSERT_LT(0, q.count);
	/* ... nor go out. */
	for (i = 0; i < q.count && i < 4; i++)
		ASSERT_EQ(0, cl[i].address);
	kpc_col_close(&c);
}

TEST_F(priv, callers_addresses_follow_the_opener)
{
	struct kprobecov_caller cl[4];
	struct kprobecov_callers q = { .probe = P_A, .callers = (uintptr_t)cl, .capacity = 4 };
	struct kpc_col c;
	int go, pidfd;
	pid_t pid;
	__u64 i;

	/* A process without CAP_SYSLOG opens a collector, and root takes its fd. */
	memset(&c, 0, sizeof(c));
	{
		int p[2], ready[2];
		char b;

		ASSERT_OK(pipe(p));
		ASSERT_OK(pipe(ready));
		pid = fork();
		ASSERT_NE(-1, pid);
		if (pid == 0) {
			struct kpc_col mine;

			close(p[1]);
			kpc_drop_cap(CAP_SYSLOG);
			kpc_col_open(&mine, 64, 1, 0, 0);
			if (write(ready[1], &mine.fd, sizeof(mine.fd)) != sizeof(mine.fd))
				_exit(2);
			_exit(read(p[0], &b, 1) < 0);
		}
		close(p[0]);
		close(ready[1]);
		ASSERT_EQ(sizeof(int), read(ready[0], &c.fd, sizeof(int)));
		go = p[1];
	}
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	ASSERT_NE(-1, pidfd);
	c.fd = syscall(SYS_pidfd_getfd, pidfd, c.fd, 0);
	ASSERT_NE(-1, c.fd);
	close(go);
	kpc_reap(pid);
	close(pidfd);
	kpc_make_callers(&c);
	ASSERT_OK(ioctl(c.fd, KPROBECOV_GET_CALLERS, &q));
	ASSERT_LT(0, q.count);
	/* Root calls, but the opener could not see addresses: they are 0. */
	for (i = 0; i < q.count && i < 4; i++)
		ASSERT_EQ(0, cl[i].address);
	close(c.fd);
}

TEST_F(priv, watching_follows_ptrace_rule)
{
	int other_go;
	pid_t other = kpc_sleeper(&other_go, kpc_become_other_gid);
	pid_t pid = fork();

	ASSERT_NE(-1, pid);
	if (pid == 0) {
		struct kprobecov_trace t = { 0 };
		struct kpc_col c;
		int kid_go, hidden_go;
		pid_t kid, hidden;

		kpc_become_member();
		kpc_member_col(&c, 8);
		kid = kpc_sleeper(&kid_go, NULL);
		hidden = kpc_sleeper(&hidden_go, kpc_become_undumpable);
		/* Its own child may be watched ... */
		ASSERT_OK(kpc_attach(c.fd, kid, KPROBECOV_SCOPE_PROCESS, 0, NULL));
		/* ... but not one that made itself undumpable ... */
		ASSERT_ERRNO(EPERM, kpc_attach(c.fd, hidden, KPROBECOV_SCOPE_PROCESS, 0, NULL));
		/* ... nor traced; */
		t.tid = hidden;
		ASSERT_ERRNO(EPERM, ioctl(c.fd, KPROBECOV_TRACE_START, &t));
		/* a process of the same uid but another gid may not be watched either. */
		ASSERT_ERRNO(EPERM, kpc_attach(c.fd, other, KPROBECOV_SCOPE_PROCESS, 0, NULL));
		close(kid_go);
		close(hidden_go);
		kpc_reap(kid);
		kpc_reap(hidden);
		_exit(0);
	}
	kpc_reap(pid);
	close(other_go);
	kpc_reap(other);
}

TEST(read_only_fd_changes_nothing)
{
	struct kprobecov_init in = { .max_probes = 1, .max_slots = 1 };
	struct kprobecov_version v;
	struct kprobecov_select sel = { .how = KPROBECOV_SELECT_ALL };
	struct kprobecov_attach a = { .scope = KPROBECOV_SCOPE_PROCESS };
	struct kprobecov_slot_op op = { 0 };
	struct kprobecov_trace t = { 0 };
	struct kprobecov_probe p;
	int fd;

	close(kpc_open());
	fd = open(KPC_DEV, O_RDONLY | O_CLOEXEC);
	ASSERT_NE(-1, fd);
	/* A read-only fd may ask the version ... */
	ASSERT_OK(ioctl(fd, KPROBECOV_GET_VERSION, &v));
	/* ... but every call that changes state is EBADF. */
	ASSERT_ERRNO(EBADF, ioctl(fd, KPROBECOV_INIT, &in));
	kpc_probe(&p, KPC_TARGET, "kpc_target_a", 0, KPROBECOV_KIND_FUNC, G_A);
	ASSERT_ERRNO(EBADF, kpc_add(fd, &p, 1, NULL));
	ASSERT_ERRNO(EBADF, ioctl(fd, KPROBECOV_ARM, &sel));
	ASSERT_ERRNO(EBADF, ioctl(fd, KPROBECOV_DISARM, &sel));
	ASSERT_ERRNO(EBADF, ioctl(fd, KPROBECOV_ATTACH, &a));
	ASSERT_ERRNO(EBADF, ioctl(fd, KPROBECOV_DETACH, &op));
	ASSERT_ERRNO(EBADF, ioctl(fd, KPROBECOV_RESET, &op));
	ASSERT_ERRNO(EBADF, ioctl(fd, KPROBECOV_RELEASE, &op));
	ASSERT_ERRNO(EBADF, ioctl(fd, KPROBECOV_TRACE_START, &t));
	ASSERT_ERRNO(EBADF, ioctl(fd, KPROBECOV_TRACE_STOP));
	close(fd);
}

/* Copies this program to HELPER_COPY, setuid root. */
static void kpc_make_setuid_copy(void)
{
	char buf[65536];
	ssize_t n;
	int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int out;

	ASSERT_NE(-1, in);
	unlink(HELPER_COPY);
	out = open(HELPER_COPY, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	ASSERT_NE(-1, out);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ASSERT_EQ(n, write(out, buf, n));
	ASSERT_EQ(0, n);
	close(in);
	ASSERT_OK(fchown(out, 0, 0));
	ASSERT_OK(fchmod(out, 04755));
	close(out);
}

/* Attaches the calling process (TREE) with sample_id id, then runs the setuid copy. */
static void kpc_attach_and_exec(int fd, __u64 id, int member)
{
	char *argv[] = { HELPER_COPY, NULL };
	char *envp[] = { HELPER_ENV "=1", NULL };

	if (member)
		kpc_become_member();
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_TREE, id, NULL));
	execve(HELPER_COPY, argv, envp);
	_exit(4);
}

TEST_F(priv, setuid_exec_leaves_the_slot)
{
	struct kpc_col c;
	pid_t pid;
	__u64 s;

	kpc_make_setuid_copy();
	kpc_col_open(&c, 16, 2, 0, 0);
	kpc_add_std(c.fd, 0);
	kpc_arm_all(c.fd);
	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0)
		kpc_attach_and_exec(c.fd, 1, 0);
	kpc_reap(pid);
	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0)
		kpc_attach_and_exec(c.fd, 2, 1);
	kpc_reap(pid);
	unlink(HELPER_COPY);
	for (s = 0; s < 2; s++) {
		if (kpc_stats(&c, s)->sample_id == 1)
			/* Root running it changes no credentials: its calls count ... */
			ASSERT_EQ(HELPER_CALLS, kpc_counter(&c, s, P_A));
		else
			/* ... nobody running it becomes root: it left the slot at exec. */
			ASSERT_EQ(0, kpc_counter(&c, s, P_A));
	}
	kpc_col_close(&c);
}

TEST(mapping_is_not_inherited_by_fork)
{
	unsigned char vec[1];
	struct kpc_col c;
	pid_t pid;

	kpc_col_open(&c, 16, 1, 0, 0);
	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0) {
		/* A forked child has no view of the parent's counters. */
		ASSERT_ERRNO(ENOMEM, mincore(c.area, 4096, vec));
		_exit(0);
	}
	kpc_reap(pid);
	/* The parent still has. */
	ASSERT_OK(mincore(c.area, 4096, vec));
	kpc_col_close(&c);
}

/* INIT of a fresh fd of the device with these sizes; 0 or -errno. The fd stays open in *fd. */
static int kpc_try_init(int *fd, __u64 max_probes, __u64 max_slots)
{
	struct kprobecov_init in = { .max_probes = max_probes, .max_slots = max_slots };

	*fd = open(KPC_DEV, O_RDWR | O_CLOEXEC);
	if (*fd < 0)
		return -errno;
	return ioctl(*fd, KPROBECOV_INIT, &in) ? -errno : 0;
}

/*
 * Kernel memory is budgeted per user and for the machine (kprobecov loaded here with
 * max_user_mb=20 max_total_mb=28). Costs: 16384 probes x 64 slots is about 12 MiB
 * (8 MiB of counters, 4 MiB for the probes), 8192 x 64 about 6 MiB.
 */
TEST(memory_budgets_name_the_limit_hit)
{
	const char *ko = kpc_module_ko();
	int a, b, e, sync[2], held[2];
	char x = 0;
	pid_t pid;

	ASSERT_EQ(0, kpc_unload(KPC_MODULE));
	ASSERT_EQ(0, kpc_load_params(ko, "max_user_mb=20 max_total_mb=28"));
	kpc_share_device();
	/* Root's first collector fits its budget. */
	ASSERT_OK(kpc_try_init(&a, 16384, 64));
	/* A second one would take root past max_user_mb: EDQUOT. */
	ASSERT_EQ(-EDQUOT, kpc_try_init(&b, 16384, 64));
	close(b);
	/* Another user has a budget of its own: a member of the group gets 12 MiB too ... */
	ASSERT_OK(pipe(sync));
	ASSERT_OK(pipe(held));
	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0) {
		int c;

		kpc_become_member();
		if (kpc_try_init(&c, 16384, 64))
			_exit(1);
		if (write(held[1], &x, 1) != 1 || read(sync[0], &x, 1) != 1)
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(1, read(held[0], &x, 1));
	/* ... and then 6 MiB more for root fit its budget but not the machine's: ENOSPC. */
	ASSERT_EQ(-ENOSPC, kpc_try_init(&e, 8192, 64));
	close(e);
	ASSERT_EQ(1, write(sync[1], &x, 1));
	kpc_reap(pid);
	/* What a closed collector had is given back. */
	close(a);
	ASSERT_OK(kpc_try_init(&b, 16384, 64));
	close(b);
	close(sync[0]);
	close(sync[1]);
	close(held[0]);
	close(held[1]);
	kpc_unshare_device();
	/* Back to the default. */
	ASSERT_EQ(0, kpc_unload(KPC_MODULE));
	ASSERT_EQ(0, kpc_load(ko));
}

KT_MAIN(kpc_requirements)
