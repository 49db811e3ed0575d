// SPDX-License-Identifier: GPL-2.0
/*
 * Attribution: thread, process, tree and global slots; interrupt context;
 * two collectors at once; ATTACH/DETACH/RESET/RELEASE; exact counters.
 * New coverage, poll(), edges and the trace: events_test.c.
 */
#include "kpc_util.h"


/* kpc_target with the standard probes armed in a 4-slot collector. */
FIXTURE(att) {
	struct kpc_col c;
	int tfd;
};

FIXTURE_SETUP(att)
{
	kpc_target_ensure_loaded();
	kpc_col_open(&self->c, 64, 4, 0, 64);
	kpc_add_std(self->c.fd, 0);
	kpc_arm_all(self->c.fd);
	self->tfd = kpc_target_open();
}

FIXTURE_TEARDOWN(att)
{
	close(self->tfd);
	kpc_col_close(&self->c);
}

TEST_F(att, thread_scope_counts_one_thread)
{
	struct worker w;
	__u64 slot;

	worker_start(&w, self->tfd, 2);
	ASSERT_OK(kpc_attach(self->c.fd, w.tid, KPROBECOV_SCOPE_THREAD, 42, &slot));
	/* The slot shows what was attached. */
	ASSERT_EQ(KPROBECOV_SLOT_ATTACHED, kpc_stats(&self->c, slot)->state);
	ASSERT_EQ(42, kpc_stats(&self->c, slot)->sample_id);
	ASSERT_EQ(KPROBECOV_SCOPE_THREAD, kpc_stats(&self->c, slot)->scope);
	ASSERT_EQ(1, kpc_stats(&self->c, slot)->tasks);
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 3);
	worker_finish(&w);
	/* Only the attached thread's 2 calls count, not the main thread's 3. */
	ASSERT_EQ(2, kpc_counter(&self->c, slot, P_A));
}

TEST_F(att, process_scope_counts_all_threads)
{
	struct worker w[4];
	__u64 slot;
	int i;

	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 1);
	/* Threads created after ATTACH count too: 1 + 4 * 5 calls. */
	for (i = 0; i < 4; i++)
		worker_start(&w[i], self->tfd, 5);
	for (i = 0; i < 4; i++)
		worker_finish(&w[i]);
	ASSERT_EQ(21, kpc_counter(&self->c, slot, P_A));
}

TEST_F(att, process_scope_of_another_process)
{
	struct kid k;
	__u64 slot;

	kid_start(&k, self->tfd, 4);
	ASSERT_OK(kpc_attach(self->c.fd, k.pid, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 1);
	kid_finish(&k);
	/* The other process's 4 calls count, the attacher's one does not. */
	ASSERT_EQ(4, kpc_counter(&self->c, slot, P_A));
}

TEST_F(att, process_scope_does_not_follow_fork)
{
	struct kid k;
	__u64 slot;

	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	kid_start(&k, self->tfd, 2);
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 1);
	kid_finish(&k);
	/* A child forked after ATTACH is not part of a PROCESS slot. */
	ASSERT_EQ(1, kpc_counter(&self->c, slot, P_A));
}

TEST_F(att, tree_scope_follows_forks)
{
	__u64 slot;
	pid_t pid;
	int status;

	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_TREE, 0, &slot));
	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0) {
		pid_t g = fork();

		if (g == 0) {
			kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 3);
			_exit(0);
		}
		kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 2);
		_exit(g > 0 && waitpid(g, &status, 0) == g && status == 0 ? 0 : 1);
	}
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
	/* The attacher (1), its child (2) and grandchild (3) all count. */
	ASSERT_EQ(6, kpc_counter(&self->c, slot, P_A));
	/* Every fork was followed. */
	ASSERT_EQ(0, kpc_stats(&self->c, slot)->lost_tasks);
}

TEST_F(att, tree_members_leave_on_exit)
{
	struct kid before, k1, k2;
	__u64 slot;

	/* A child forked before ATTACH is not in the tree. */
	kid_start(&before, self->tfd, 1);
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_TREE, 0, &slot));
	ASSERT_EQ(1, kpc_stats(&self->c, slot)->tasks);
	/* Each fork adds one. */
	kid_start(&k1, self->tfd, 1);
	ASSERT_EQ(2, kpc_stats(&self->c, slot)->tasks);
	kid_start(&k2, self->tfd, 1);
	ASSERT_EQ(3, kpc_stats(&self->c, slot)->tasks);
	kid_finish(&before);
	kid_finish(&k1);
	/* An exited child is removed. */
	ASSERT_EQ(2, kpc_stats(&self->c, slot)->tasks);
	kid_finish(&k2);
	ASSERT_EQ(1, kpc_stats(&self->c, slot)->tasks);
	/* Only the two tree children's calls counted. */
	ASSERT_EQ(2, kpc_counter(&self->c, slot, P_A));
}

TEST_F(att, interrupt_context_counts_only_in_global)
{
	__u64 ps, gs;

	long r = 0;
	int tries;

	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_PROCESS, 1, &ps));
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_GLOBAL, 2, &gs));
	ASSERT_EQ(KPROBECOV_SCOPE_GLOBAL, kpc_stats(&self->c, gs)->scope);
	/* Until the softirq interrupts this very process (current is the caller). */
	for (tries = 1; tries <= 5; tries++) {
		r = kpc_call(self->tfd, KPC_TARGET_TIMER, 5, 1);
		/* The timer callback never runs in task context. */
		ASSERT_LE(0, r);
		if (r == 1)
			break;
		kt_log("try %d: the softirq ran while another task was current", tries);
	}
	ASSERT_EQ(1, r);
	/* The process's task-context code counts in both slots. */
	ASSERT_EQ(tries, kpc_counter(&self->c, ps, P_FIRE));
	ASSERT_EQ(tries, kpc_counter(&self->c, gs, P_FIRE));
	/* The softirq's code counts in the global slot only, though it interrupted us. */
	ASSERT_EQ(0, kpc_counter(&self->c, ps, P_IRQ));
	ASSERT_EQ(tries, kpc_counter(&self->c, gs, P_IRQ));
}

TEST_F(att, global_counts_every_task)
{
	struct kid k;
	__u64 gs;

	kid_start(&k, self->tfd, 2);
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_GLOBAL, 0, &gs));
	kid_finish(&k);
	/* A process attached nowhere counts in the global slot. */
	ASSERT_EQ(2, kpc_counter(&self->c, gs, P_A));
}

TEST_F(att, two_collectors_count_independently)
{
	struct kpc_col c2;
	__u64 s1, s2;

	kpc_col_open(&c2, 16, 1, 0, 0);
	kpc_add_std(c2.fd, 0);
	kpc_arm_all(c2.fd);
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &s1));
	ASSERT_OK(kpc_attach(c2.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &s2));
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 3);
	/* Both see the same 3 calls. */
	ASSERT_EQ(3, kpc_counter(&self->c, s1, P_A));
	ASSERT_EQ(3, kpc_counter(&c2, s2, P_A));
	/* Detaching in one leaves the other counting. */
	ASSERT_OK(kpc_slot_op(self->c.fd, KPROBECOV_DETACH, s1));
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 2);
	ASSERT_EQ(3, kpc_counter(&self->c, s1, P_A));
	ASSERT_EQ(5, kpc_counter(&c2, s2, P_A));
	/* Disarming in one leaves the other's probes armed. */
	ASSERT_OK(kpc_select(c2.fd, KPROBECOV_DISARM, KPROBECOV_SELECT_ALL, 0, 0, 0, NULL));
	ASSERT_OK(kpc_slot_op(self->c.fd, KPROBECOV_RELEASE, s1));
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &s1));
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(1, kpc_counter(&self->c, s1, P_A));
	ASSERT_EQ(5, kpc_counter(&c2, s2, P_A));
	/* Closing one does not disturb the other. */
	kpc_col_close(&c2);
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(2, kpc_counter(&self->c, s1, P_A));
}

TEST_F(att, attach_errors)
{
	int fd = self->c.fd;
	struct kid k1, k2, k3;
	struct worker w;
	pid_t gone;
	__u64 s2;
	int status;

	gone = fork();
	ASSERT_NE(-1, gone);
	if (gone == 0)
		_exit(0);
	ASSERT_EQ(gone, waitpid(gone, &status, 0));
	/* A pid that no longer exists. */
	ASSERT_ERRNO(ESRCH, kpc_attach(fd, gone, KPROBECOV_SCOPE_PROCESS, 0, NULL));
	ASSERT_ERRNO(ESRCH, kpc_attach(fd, gone, KPROBECOV_SCOPE_THREAD, 0, NULL));
	/* A pid that is ours in its low 32 bits only (no truncation to int). */
	ASSERT_ERRNO(ESRCH, kpc_attach(fd, (1ULL << 32) + getpid(), KPROBECOV_SCOPE_PROCESS,
				       0, NULL));
	ASSERT_ERRNO(ESRCH, kpc_attach(fd, ~0ULL, KPROBECOV_SCOPE_THREAD, 0, NULL));
	/* Scope 0 (reserved) and above GLOBAL. */
	ASSERT_ERRNO(EINVAL, kpc_attach(fd, 0, 0, 0, NULL));
	ASSERT_ERRNO(EINVAL, kpc_attach(fd, 0, KPROBECOV_SCOPE_GLOBAL + 1, 0, NULL));
	/* GLOBAL with a pid. */
	ASSERT_ERRNO(EINVAL, kpc_attach(fd, getpid(), KPROBECOV_SCOPE_GLOBAL, 0, NULL));

	/* The same process twice. */
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 0, NULL));
	ASSERT_ERRNO(EBUSY, kpc_attach(fd, getpid(), KPROBECOV_SCOPE_PROCESS, 0, NULL));
	/* Two global slots. */
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_GLOBAL, 0, NULL));
	ASSERT_ERRNO(EBUSY, kpc_attach(fd, 0, KPROBECOV_SCOPE_GLOBAL, 0, NULL));
	/* The same thread twice. */
	worker_start(&w, self->tfd, 0);
	ASSERT_OK(kpc_attach(fd, w.tid, KPROBECOV_SCOPE_THREAD, 0, NULL));
	ASSERT_ERRNO(EBUSY, kpc_attach(fd, w.tid, KPROBECOV_SCOPE_THREAD, 0, NULL));
	worker_finish(&w);

	/* Slots 0..2 are taken; the fourth and last goes to one kid ... */
	kid_start(&k1, self->tfd, 0);
	kid_start(&k2, self->tfd, 0);
	kid_start(&k3, self->tfd, 0);
	ASSERT_OK(kpc_attach(fd, k1.pid, KPROBECOV_SCOPE_PROCESS, 0, &s2));
	ASSERT_EQ(3, s2);
	/* ... and none is left for the next. */
	ASSERT_ERRNO(ENOSPC, kpc_attach(fd, k2.pid, KPROBECOV_SCOPE_PROCESS, 0, NULL));
	/* Releasing one makes room again, at the same index. */
	ASSERT_OK(kpc_slot_op(fd, KPROBECOV_RELEASE, s2));
	ASSERT_OK(kpc_attach(fd, k3.pid, KPROBECOV_SCOPE_TREE, 0, &s2));
	ASSERT_EQ(3, s2);
	kid_finish(&k1);
	kid_finish(&k2);
	kid_finish(&k3);
}

TEST_F(att, attach_needs_permission)
{
	int ready[2], go[2], status;
	struct kpc_col c;
	pid_t nobody, pid;
	char b;

	/* A process of another user (nobody), waiting. */
	ASSERT_OK(pipe(ready));
	ASSERT_OK(pipe(go));
	nobody = fork();
	ASSERT_NE(-1, nobody);
	if (nobody == 0) {
		if (setgid(65534) || setuid(65534) || write(ready[1], "r", 1) != 1 ||
		    read(go[0], &b, 1) != 1)
			_exit(1);
		_exit(0);
	}
	ASSERT_EQ(1, read(ready[0], &b, 1));

	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0) {
		struct kprobecov_trace t = { .tid = nobody };

		/* Root, but without CAP_SYS_PTRACE and CAP_SYS_ADMIN. */
		kpc_drop_cap(CAP_SYS_PTRACE);
		kpc_drop_cap(CAP_SYS_ADMIN);
		kpc_col_open(&c, 8, 4, 0, 8);
		/* Another user's process, thread or tree. */
		ASSERT_ERRNO(EPERM, kpc_attach(c.fd, nobody, KPROBECOV_SCOPE_PROCESS, 0, NULL));
		ASSERT_ERRNO(EPERM, kpc_attach(c.fd, nobody, KPROBECOV_SCOPE_THREAD, 0, NULL));
		ASSERT_ERRNO(EPERM, kpc_attach(c.fd, nobody, KPROBECOV_SCOPE_TREE, 0, NULL));
		/* Every task at once. */
		ASSERT_ERRNO(EPERM, kpc_attach(c.fd, 0, KPROBECOV_SCOPE_GLOBAL, 0, NULL));
		/* Tracing another user's thread. */
		ASSERT_ERRNO(EPERM, ioctl(c.fd, KPROBECOV_TRACE_START, &t));
		/* Its own process needs nothing. */
		ASSERT_OK(kpc_attach(c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, NULL));
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
	/* With the capabilities, the same process can be attached. */
	ASSERT_OK(kpc_attach(self->c.fd, nobody, KPROBECOV_SCOPE_PROCESS, 0, NULL));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(nobody, waitpid(nobody, &status, 0));
	ASSERT_EQ(0, status);
}

TEST_F(att, detach_reset_release)
{
	int fd = self->c.fd;
	volatile struct kprobecov_slot_stats *st;
	__u64 s;

	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 7, &s));
	st = kpc_stats(&self->c, s);
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 2);
	ASSERT_OK(kpc_slot_op(fd, KPROBECOV_DETACH, s));
	/* A detached slot keeps its counters and stops counting. */
	ASSERT_EQ(KPROBECOV_SLOT_DETACHED, st->state);
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(2, kpc_counter(&self->c, s, P_A));
	/* Detaching twice. */
	ASSERT_ERRNO(ENOENT, kpc_slot_op(fd, KPROBECOV_DETACH, s));
	/* RESET zeroes counters but keeps the state. */
	ASSERT_OK(kpc_slot_op(fd, KPROBECOV_RESET, s));
	ASSERT_EQ(0, kpc_counter(&self->c, s, P_A));
	ASSERT_EQ(KPROBECOV_SLOT_DETACHED, st->state);
	/* The collector-wide hit bitmap is kept by a one-slot RESET ... */
	ASSERT_TRUE(kpc_ever_hit(&self->c, P_A));
	/* ... and cleared by RESET of all slots. */
	ASSERT_OK(kpc_slot_op(fd, KPROBECOV_RESET, KPROBECOV_ALL_SLOTS));
	ASSERT_FALSE(kpc_ever_hit(&self->c, P_A));
	/* RELEASE frees the slot; the process can be attached again. */
	ASSERT_OK(kpc_slot_op(fd, KPROBECOV_RELEASE, s));
	ASSERT_EQ(KPROBECOV_SLOT_FREE, st->state);
	ASSERT_ERRNO(ENOENT, kpc_slot_op(fd, KPROBECOV_RELEASE, s));
	/* A free slot cannot be detached. */
	ASSERT_ERRNO(ENOENT, kpc_slot_op(fd, KPROBECOV_DETACH, s));

	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 8, &s));
	st = kpc_stats(&self->c, s);
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 2);
	/* RESET of an attached slot: zeroed, still attached and counting. */
	ASSERT_OK(kpc_slot_op(fd, KPROBECOV_RESET, s));
	ASSERT_EQ(0, kpc_counter(&self->c, s, P_A));
	ASSERT_EQ(KPROBECOV_SLOT_ATTACHED, st->state);
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(1, kpc_counter(&self->c, s, P_A));
	/* RELEASE of an attached slot detaches and zeroes it. */
	ASSERT_OK(kpc_slot_op(fd, KPROBECOV_RELEASE, s));
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(0, kpc_counter(&self->c, s, P_A));
	ASSERT_EQ(0, st->sample_id);
	/* Slots out of range. */
	ASSERT_ERRNO(EINVAL, kpc_slot_op(fd, KPROBECOV_DETACH, 4));
	ASSERT_ERRNO(EINVAL, kpc_slot_op(fd, KPROBECOV_RESET, 4));
	ASSERT_ERRNO(EINVAL, kpc_slot_op(fd, KPROBECOV_RELEASE, 4));
	ASSERT_ERRNO(EINVAL, kpc_slot_op(fd, KPROBECOV_RELEASE, KPROBECOV_ALL_SLOTS));
}

TEST_F(att, counters_are_exact)
{
	const struct kpc_col *c = &self->c;
	__u64 s;

	ASSERT_OK(kpc_attach(c->fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &s));
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 5);
	kpc_call(self->tfd, KPC_TARGET_CALL_BRANCH, 1, 3);
	kpc_call(self->tfd, KPC_TARGET_CALL_BRANCH, -2, 2);
	/* A called 5 times. */
	ASSERT_EQ(5, kpc_counter(c, s, P_A));
	/* B never. */
	ASSERT_EQ(0, kpc_counter(c, s, P_B));
	/* branch 5 times: the x > 0 successor 3 times, the other 2. */
	ASSERT_EQ(5, kpc_counter(c, s, P_BRANCH));
	ASSERT_EQ(3, kpc_counter(c, s, P_POS));
	ASSERT_EQ(2, kpc_counter(c, s, P_NEG));
	/* seq: itself once, A twice, B once, both branch successors once. */
	kpc_call(self->tfd, KPC_TARGET_CALL_SEQ, 1, 1);
	ASSERT_EQ(1, kpc_counter(c, s, P_SEQ));
	ASSERT_EQ(7, kpc_counter(c, s, P_A));
	ASSERT_EQ(1, kpc_counter(c, s, P_B));
	ASSERT_EQ(7, kpc_counter(c, s, P_BRANCH));
	ASSERT_EQ(4, kpc_counter(c, s, P_POS));
	ASSERT_EQ(3, kpc_counter(c, s, P_NEG));
	/* The hit bitmap says which were ever hit. */
	ASSERT_TRUE(kpc_ever_hit(c, P_NEG));
	ASSERT_FALSE(kpc_ever_hit(c, P_IRQ));
}

TEST_F(att, detached_tree_stops_following)
{
	struct kid k;
	__u64 s;
	pid_t pid;
	int status;

	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_TREE, 0, &s));
	kid_start(&k, self->tfd, 2);
	ASSERT_EQ(2, kpc_stats(&self->c, s)->tasks);
	ASSERT_OK(kpc_slot_op(self->c.fd, KPROBECOV_DETACH, s));
	/* After DETACH no member counts, and nobody is attributed to the slot. */
	ASSERT_EQ(0, kpc_stats(&self->c, s)->tasks);
	kid_finish(&k);
	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0) {
		kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 1);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(0, kpc_counter(&self->c, s, P_A));
	/* The process can be attached again, in a new slot. */
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_TREE, 0, &s));
}

KT_MAIN(kpc_requirements)
