// SPDX-License-Identifier: GPL-2.0
/*
 * Stress and lifetime: a fork storm in a TREE slot with an exact count,
 * concurrent hits from many threads, collectors coming and going while
 * probes fire, a collector owner killed with SIGKILL (both modules must
 * unload afterwards), and the device's permissions.
 *
 * KPROBECOV_STRESS_FORKS overrides the number of forks (default 5000).
 */
#include "kpc_util.h"

#include <grp.h>

FIXTURE(storm) {
	struct kpc_col c;
	int tfd;
};

FIXTURE_SETUP(storm)
{
	kpc_target_ensure_loaded();
	kpc_col_open(&self->c, 16, 2, 0, 0);
	kpc_add_std(self->c.fd, 0);
	kpc_arm_all(self->c.fd);
	self->tfd = kpc_target_open();
}

FIXTURE_TEARDOWN(storm)
{
	close(self->tfd);
	kpc_col_close(&self->c);
}

/* Child i calls A once; every tenth also forks a grandchild that does. */
static void storm_child(int tfd, int i)
{
	pid_t g = -1;
	int status = 0;

	if (i % 10 == 0) {
		g = fork();
		if (g == 0) {
			kpc_call(tfd, KPC_TARGET_CALL_A, 1, 1);
			_exit(0);
		}
	}
	kpc_call(tfd, KPC_TARGET_CALL_A, 1, 1);
	if (g > 0 && (waitpid(g, &status, 0) != g || status))
		_exit(1);
	_exit(g < 0 && i % 10 == 0 ? 1 : 0);
}

TEST_F_TIMEOUT(storm, fork_storm_tree_exact_count, 900)
{
	const char *env = getenv("KPROBECOV_STRESS_FORKS");
	int n = env ? atoi(env) : 5000, width = 16, alive = 0, bad = 0, i, status;
	struct kprobecov_version v;
	double t0;
	__u64 s;

	kpc_version(self->c.fd, &v);
	if ((__u64)width * 2 + 1 > v.max_tasks)
		width = (v.max_tasks - 1) / 2;
	ASSERT_LT(0, width);
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_TREE, 0, &s));
	t0 = kt_now();
	for (i = 0; i < n; i++) {
		pid_t pid;

		if (alive == width) {
			if (wait(&status) < 0 || status)
				bad++;
			alive--;
		}
		pid = fork();
		if (pid == 0)
			storm_child(self->tfd, i);
		ASSERT_NE(-1, pid);
		alive++;
	}
	while (alive--)
		if (wait(&status) < 0 || status)
			bad++;
	kt_log("%d forks (+%d grandchildren) in %.1f s", n, (n + 9) / 10, kt_now() - t0);
	/* Every child and grandchild ran fine. */
	ASSERT_EQ(0, bad);
	/* Each call of each process in the tree counted, exactly once. */
	ASSERT_EQ(n + (n + 9) / 10, kpc_counter(&self->c, s, P_A));
	/* No fork was lost and every exit left the tree: only the attacher is in it. */
	ASSERT_EQ(0, kpc_stats(&self->c, s)->lost_tasks);
	ASSERT_EQ(1, kpc_stats(&self->c, s)->tasks);
}

struct hammer {
	pthread_t thread;
	int tfd;
	unsigned int rounds, times;
	volatile int *stop;
	int err;
};

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	struct kpc_target_call call = { .arg = 3, .times = h->times };
	unsigned int r;

	for (r = 0; r < h->rounds || (h->stop && !*h->stop); r++)
		if (ioctl(h->tfd, KPC_TARGET_CALL_A, &call))
			h->err = errno;
	return NULL;
}

TEST_F(storm, threads_hit_concurrently_exact_count)
{
	struct hammer h[4];
	__u64 ps, gs;
	int i;

	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &ps));
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_GLOBAL, 0, &gs));
	for (i = 0; i < 4; i++) {
		h[i] = (struct hammer){ .tfd = self->tfd, .rounds = 20, .times = 100 };
		ASSERT_EQ(0, pthread_create(&h[i].thread, NULL, hammer_main, &h[i]));
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, pthread_join(h[i].thread, NULL));
		ASSERT_EQ(0, h[i].err);
	}
	/* 4 threads x 20 ioctls x 100 calls, none lost, in both slots. */
	ASSERT_EQ(8000, kpc_counter(&self->c, ps, P_A));
	ASSERT_EQ(8000, kpc_counter(&self->c, gs, P_A));
}

TEST_F(storm, collectors_come_and_go_while_probes_fire)
{
	volatile int stop = 0;
	struct hammer h[2];
	struct kpc_col c;
	int i, round;

	for (i = 0; i < 2; i++) {
		h[i] = (struct hammer){ .tfd = self->tfd, .times = 50, .stop = &stop };
		ASSERT_EQ(0, pthread_create(&h[i].thread, NULL, hammer_main, &h[i]));
	}
	/* Collectors plant, arm, count, disarm and remove probes under fire. */
	for (round = 0; round < 20; round++) {
		kpc_col_open(&c, 16, 1, 6, 16);
		kpc_add_std(c.fd, 0);
		kpc_arm_all(c.fd);
		ASSERT_OK(kpc_attach(c.fd, 0, KPROBECOV_SCOPE_GLOBAL, 0, NULL));
		usleep(10 * 1000);
		if (round % 2)
			ASSERT_OK(kpc_select(c.fd, KPROBECOV_DISARM, KPROBECOV_SELECT_ALL,
					     0, 0, 0, NULL));
		kpc_col_close(&c);
	}
	stop = 1;
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pthread_join(h[i].thread, NULL));
		ASSERT_EQ(0, h[i].err);
	}
	/* The fixture's collector, attached nowhere, counted nothing meanwhile. */
	ASSERT_EQ(0, kpc_counter(&self->c, 0, P_A));
}

/* kprobes planted on kpc_target now, from kprobes' debugfs list (-1: no list). */
static int kpc_target_kprobes(void)
{
	FILE *f = fopen("/sys/kernel/debug/kprobes/list", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, " " KPC_TARGET " ") != NULL;
	fclose(f);
	return n;
}

/* Tests that unload kprobecov: afterwards it is loaded again, with default limits. */
FIXTURE(reload) {
	struct kpc_col c;
};

FIXTURE_SETUP(reload)
{
	self->c.fd = -1;
	kpc_target_ensure_loaded();
}

FIXTURE_TEARDOWN(reload)
{
	char buf[32] = "";
	FILE *f;

	kpc_col_close(&self->c);
	f = fopen("/sys/module/" KPC_MODULE "/parameters/max_tasks", "r");
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		if (strcmp(buf, "4\n"))
			return;
		kpc_unload(KPC_MODULE);
	}
	ASSERT_EQ(0, kpc_load(kpc_module_ko()));
}

TEST_F(reload, killed_owner_leaves_nothing_behind)
{
	int ready[2], status, i;
	char b;
	pid_t pid;

	ASSERT_OK(pipe(ready));
	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0) {
		struct kprobecov_trace me = { 0 };
		struct kpc_col c;
		int tfd;

		/* Busy: probes armed, hits counted, a trace running, the area mapped. */
		kpc_col_open(&c, 16, 2, 8, 64);
		kpc_add_std(c.fd, 0);
		kpc_arm_all(c.fd);
		ASSERT_OK(kpc_attach(c.fd, 0, KPROBECOV_SCOPE_TREE, 0, NULL));
		ASSERT_OK(kpc_attach(c.fd, 0, KPROBECOV_SCOPE_GLOBAL, 0, NULL));
		ASSERT_OK(ioctl(c.fd, KPROBECOV_TRACE_START, &me));
		tfd = kpc_target_open();
		kpc_call(tfd, KPC_TARGET_CALL_SEQ, 1, 1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			kpc_call(tfd, KPC_TARGET_CALL_A, 1, 10);
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &b, 1));
	usleep(50 * 1000);
	ASSERT_OK(kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));

	/*
	 * The dead collector's kprobes are gone (kprobes frees jump-optimized
	 * ones from a worker: give it a moment).
	 */
	for (i = 0; i < 40 && kpc_target_kprobes() > 0; i++)
		usleep(50 * 1000);
	if (kpc_target_kprobes() > 0)
		system("grep ' " KPC_TARGET " ' /sys/kernel/debug/kprobes/list | sed 's/^/# /'");
	ASSERT_GE(0, kpc_target_kprobes());
	/* The probed module unloads: no probe or reference of the dead collector remains. */
	ASSERT_EQ(0, kpc_unload(KPC_TARGET));
	/* kprobecov itself unloads: nothing of it is in use. */
	ASSERT_EQ(0, kpc_unload(KPC_MODULE));
	/* Both load again, for whatever runs next. */
	ASSERT_EQ(0, kpc_load(kpc_module_ko()));
	kpc_target_load();
}

TEST(collector_closed_while_its_tree_forks)
{
	int go[2], status, i;
	struct kpc_col c;
	pid_t pid;
	char b;

	kpc_target_ensure_loaded();
	kpc_col_open(&c, 16, 1, 6, 0);
	kpc_add_std(c.fd, 0);
	kpc_arm_all(c.fd);
	ASSERT_OK(pipe(go));
	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0) {
		int tfd = kpc_target_open();

		close(c.fd);
		if (read(go[0], &b, 1) != 1)
			_exit(1);
		/* Forks, hits and exits go on while and after the collector goes. */
		for (i = 0; i < 200; i++) {
			pid_t g = fork();

			if (g == 0) {
				kpc_call(tfd, KPC_TARGET_CALL_A, 1, 1);
				_exit(0);
			}
			if (g < 0 || waitpid(g, &status, 0) != g || status)
				_exit(1);
		}
		_exit(0);
	}
	ASSERT_OK(kpc_attach(c.fd, pid, KPROBECOV_SCOPE_TREE, 0, NULL));
	ASSERT_EQ(1, write(go[1], "g", 1));
	usleep(20 * 1000);
	/* The collector goes away while its tree is busy. */
	kpc_col_close(&c);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
}

TEST_F(reload, small_limits)
{
	const char *ko = kpc_module_ko();
	struct kprobecov_caller cl[4];
	struct kprobecov_callers q = { .probe = P_A, .callers = (uintptr_t)cl, .capacity = 4 };
	struct kprobecov_version v;
	struct { pid_t pid; int go[2]; } k[4];
	__u64 s;
	int i, status;

	/* kprobecov again, with room for 4 tasks and 2 callers per function. */
	ASSERT_EQ(0, kpc_unload(KPC_MODULE));
	ASSERT_EQ(0, kpc_load_params(ko, "max_tasks=4 max_callers=2"));
	kpc_col_open(&self->c, 16, 2, 0, 0);
	kpc_version(self->c.fd, &v);
	ASSERT_EQ(4, v.max_tasks);
	ASSERT_EQ(2, v.max_callers);
	kpc_add_std(self->c.fd, 0);
	kpc_arm_all(self->c.fd);

	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_TREE, 0, &s));
	for (i = 0; i < 4; i++) {
		ASSERT_OK(pipe(k[i].go));
		k[i].pid = fork();
		ASSERT_NE(-1, k[i].pid);
		if (k[i].pid == 0) {
			char b;

			if (read(k[i].go[0], &b, 1) != 1)
				_exit(1);
			kpc_call(-1, KPC_TARGET_CALL_A, 1, 1);
			_exit(0);
		}
	}
	/* The attacher and 3 children fill the 4 tasks; the 4th fork is lost. */
	ASSERT_EQ(4, kpc_stats(&self->c, s)->tasks);
	ASSERT_EQ(1, kpc_stats(&self->c, s)->lost_tasks);
	/* No other pid can be attached. */
	ASSERT_ERRNO(ENOSPC, kpc_attach(self->c.fd, k[3].pid, KPROBECOV_SCOPE_PROCESS, 0, NULL));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(1, write(k[i].go[1], "g", 1));
		ASSERT_EQ(k[i].pid, waitpid(k[i].pid, &status, 0));
		ASSERT_EQ(0, status);
	}
	/* Only the 3 followed children counted. */
	ASSERT_EQ(3, kpc_counter(&self->c, s, P_A));
	ASSERT_EQ(1, kpc_stats(&self->c, s)->tasks);

	/* Three call sites of A, room for two: the third's call is overflow. */
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 3);
	kpc_call(-1, KPC_TARGET_CALL_SEQ, 1, 1);
	ASSERT_OK(ioctl(self->c.fd, KPROBECOV_GET_CALLERS, &q));
	ASSERT_EQ(2, q.count);
	ASSERT_EQ(1, q.overflow);
	ASSERT_EQ(3 + 3 + 1, cl[0].calls + cl[1].calls);

	kpc_col_close(&self->c);
	/* Back to the defaults: kprobecov unloads, nothing left of the collector. */
	ASSERT_EQ(0, kpc_unload(KPC_MODULE));
	ASSERT_EQ(0, kpc_load(ko));
}

TEST(mapping_outlives_fd)
{
	volatile struct kprobecov_area_header *h;
	struct kpc_col c;

	kpc_col_open(&c, 16, 1, 0, 0);
	close(c.fd);
	c.fd = -1;
	h = c.area;
	/* After close the mapping still reads the collector's header. */
	ASSERT_EQ(KPROBECOV_AREA_MAGIC, h->magic);
	/* It keeps the module in use until it is unmapped. */
	ASSERT_EQ(-EWOULDBLOCK, kpc_unload(KPC_MODULE));
	munmap(c.area, c.init.area_bytes);
}

TEST(unprivileged_open_is_eacces)
{
	struct stat st;
	pid_t pid;
	int status, fd;

	fd = kpc_open();
	ASSERT_OK(fstat(fd, &st));
	close(fd);
	/* The device is root's, mode 0600. */
	ASSERT_EQ(0, st.st_uid);
	ASSERT_EQ(0600, st.st_mode & 07777);
	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0) {
		ASSERT_OK(setgroups(0, NULL));
		ASSERT_OK(setgid(65534));
		ASSERT_OK(setuid(65534));
		/* nobody may not open it. */
		ASSERT_ERRNO(EACCES, open("/dev/" KPC_MODULE, O_RDWR));
		ASSERT_ERRNO(EACCES, open("/dev/" KPC_MODULE, O_RDONLY));
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
}

KT_MAIN(kpc_requirements)
