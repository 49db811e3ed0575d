// SPDX-License-Identifier: GPL-2.0
/*
 * What a collector reports besides counters: new coverage per slot and
 * for the collector, poll() on it, edges, and the ordered trace of a thread.
 */
#include "kpc_util.h"

#include <poll.h>

/* kpc_target with the standard probes armed in a 4-slot collector with a trace. */
FIXTURE(ev) {
	struct kpc_col c;
	int tfd;
};

FIXTURE_SETUP(ev)
{
	kpc_target_ensure_loaded();
	kpc_col_open(&self->c, 64, 4, 0, 64);
	kpc_add_std(self->c.fd, 0);
	kpc_arm_all(self->c.fd);
	self->tfd = kpc_target_open();
}

FIXTURE_TEARDOWN(ev)
{
	close(self->tfd);
	kpc_col_close(&self->c);
}

TEST_F(ev, new_coverage_belongs_to_the_first_slot)
{
	struct kid k;
	__u64 me, other;

	kid_start(&k, self->tfd, 1);
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &me));
	ASSERT_OK(kpc_attach(self->c.fd, k.pid, KPROBECOV_SCOPE_PROCESS, 0, &other));
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 1);
	kid_finish(&k);
	/* A was new when this process hit it ... */
	ASSERT_EQ(1, kpc_stats(&self->c, me)->new_coverage);
	/* ... and no longer new when the other process did, though both counted it. */
	ASSERT_EQ(0, kpc_stats(&self->c, other)->new_coverage);
	ASSERT_EQ(1, kpc_counter(&self->c, other, P_A));
}

static int kpc_poll_in(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, timeout_ms);

	return r > 0 && (p.revents & POLLIN);
}

TEST_F(ev, new_coverage_and_poll)
{
	volatile struct kprobecov_area_header *h = self->c.hdr;
	volatile struct kprobecov_slot_stats *st;
	int status;
	pid_t pid;
	double t0;
	__u64 s;

	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_TREE, 0, &s));
	st = kpc_stats(&self->c, s);
	/* Nothing new yet: no EPOLLIN. */
	ASSERT_FALSE(kpc_poll_in(self->c.fd, 0));
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 1);
	/* A first hit is new coverage, for the slot and the collector. */
	ASSERT_EQ(1, st->new_coverage);
	ASSERT_EQ(1, h->new_events);
	ASSERT_TRUE(kpc_poll_in(self->c.fd, 1000));
	/* Once user space has seen it, poll() is quiet again. */
	h->new_events_seen = h->new_events;
	ASSERT_FALSE(kpc_poll_in(self->c.fd, 0));
	/* Hitting A again is nothing new. */
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(1, st->new_coverage);
	ASSERT_FALSE(kpc_poll_in(self->c.fd, 0));
	/* A blocked poll() wakes when a tree child hits B for the first time. */
	t0 = kt_now();
	pid = fork();
	ASSERT_NE(-1, pid);
	if (pid == 0) {
		usleep(200 * 1000);
		kpc_call(self->tfd, KPC_TARGET_CALL_B, 1, 1);
		_exit(0);
	}
	ASSERT_TRUE(kpc_poll_in(self->c.fd, 20000));
	ASSERT_LT(kt_now() - t0, 20);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
	ASSERT_EQ(2, st->new_coverage);
	ASSERT_EQ(2, h->new_events);
}

TEST_F(ev, edges)
{
	struct kpc_col c;
	volatile struct kprobecov_slot_stats *st;
	const volatile __u32 *edges;
	const volatile __u64 *bm;
	__u64 s, e2, nc2, nonzero = 0, bits = 0, i;

	kpc_col_open(&c, 16, 1, 8, 0);
	kpc_add_std(c.fd, 0);
	kpc_arm_all(c.fd);
	ASSERT_OK(kpc_attach(c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &s));
	st = kpc_stats(&c, s);
	kpc_call(self->tfd, KPC_TARGET_CALL_SEQ, 1, 1);
	/* A run through several probes hits edges. */
	ASSERT_LT(0, st->edges);
	kpc_call(self->tfd, KPC_TARGET_CALL_SEQ, 1, 1);
	e2 = st->edges;
	nc2 = st->new_coverage;
	/* The same path once more adds no edge and no new coverage. */
	kpc_call(self->tfd, KPC_TARGET_CALL_SEQ, 1, 1);
	ASSERT_EQ(e2, st->edges);
	ASSERT_EQ(nc2, st->new_coverage);
	/* The slot's edge count is its non-zero buckets, and the bitmap's bits. */
	edges = (const __u32 *)((char *)c.area + c.hdr->edges_offset);
	bm = (const __u64 *)((char *)c.area + c.hdr->edge_bitmap_offset);
	for (i = 0; i < 256; i++)
		nonzero += edges[i] != 0;
	for (i = 0; i < 4; i++)
		bits += __builtin_popcountll(bm[i]);
	ASSERT_EQ(e2, nonzero);
	ASSERT_EQ(e2, bits);
	kpc_col_close(&c);
}

TEST_F(ev, trace_one_ioctl_in_order)
{
	const __u64 expect[] = { P_SEQ, P_A, P_B, P_BRANCH, P_POS, P_BRANCH, P_NEG, P_A };
	const __u64 n = sizeof(expect) / sizeof(expect[0]);
	const struct kprobecov_trace me = { 0 };
	volatile __u64 *trace = (__u64 *)((char *)self->c.area + self->c.hdr->trace_offset);
	__u64 i;

	/* No trace to stop yet. */
	ASSERT_ERRNO(ENOENT, ioctl(self->c.fd, KPROBECOV_TRACE_STOP));
	/* The caller is traced though attached nowhere. */
	ASSERT_OK(ioctl(self->c.fd, KPROBECOV_TRACE_START, &me));
	/* One thread at a time. */
	ASSERT_ERRNO(EBUSY, ioctl(self->c.fd, KPROBECOV_TRACE_START, &me));
	kpc_call(self->tfd, KPC_TARGET_CALL_SEQ, 1, 1);
	ASSERT_OK(ioctl(self->c.fd, KPROBECOV_TRACE_STOP));
	/* Exactly the probes of CALL_SEQ, in the order they ran. */
	ASSERT_EQ(n, trace[0]);
	for (i = 0; i < n; i++) {
		kt_log("trace[%llu] = %llu", (unsigned long long)i,
		       (unsigned long long)trace[i + 1]);
		ASSERT_EQ(expect[i], trace[i + 1]);
	}
	/* Nothing is traced after STOP. */
	kpc_call(self->tfd, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(n, trace[0]);
	/* Stopping twice. */
	ASSERT_ERRNO(ENOENT, ioctl(self->c.fd, KPROBECOV_TRACE_STOP));
	/* User space resets the trace by zeroing its count. */
	trace[0] = 0;
	ASSERT_OK(ioctl(self->c.fd, KPROBECOV_TRACE_START, &me));
	kpc_call(self->tfd, KPC_TARGET_CALL_B, 1, 1);
	ASSERT_OK(ioctl(self->c.fd, KPROBECOV_TRACE_STOP));
	ASSERT_EQ(1, trace[0]);
	ASSERT_EQ(P_B, trace[1]);
}

TEST_F(ev, trace_another_thread_and_limits)
{
	volatile __u64 *trace = (__u64 *)((char *)self->c.area + self->c.hdr->trace_offset);
	struct kprobecov_trace t = { 0 };
	struct kpc_col small;
	struct worker w;
	pid_t gone;
	int status;

	/* Tracing a worker thread records its hits, not the caller's. */
	worker_start(&w, self->tfd, 2);
	t.tid = w.tid;
	ASSERT_OK(ioctl(self->c.fd, KPROBECOV_TRACE_START, &t));
	kpc_call(self->tfd, KPC_TARGET_CALL_B, 1, 1);
	worker_finish(&w);
	ASSERT_OK(ioctl(self->c.fd, KPROBECOV_TRACE_STOP));
	ASSERT_EQ(2, trace[0]);
	ASSERT_EQ(P_A, trace[1]);
	ASSERT_EQ(P_A, trace[2]);

	/* A thread that does not exist. */
	gone = fork();
	ASSERT_NE(-1, gone);
	if (gone == 0)
		_exit(0);
	ASSERT_EQ(gone, waitpid(gone, &status, 0));
	t.tid = gone;
	ASSERT_ERRNO(ESRCH, ioctl(self->c.fd, KPROBECOV_TRACE_START, &t));
	/* A tid that is ours in its low 32 bits only. */
	t.tid = (1ULL << 32) + gettid();
	ASSERT_ERRNO(ESRCH, ioctl(self->c.fd, KPROBECOV_TRACE_START, &t));

	/* A collector without a trace. */
	kpc_col_open(&small, 16, 1, 0, 0);
	t.tid = 0;
	ASSERT_ERRNO(EINVAL, ioctl(small.fd, KPROBECOV_TRACE_START, &t));
	kpc_col_close(&small);

	/* A full trace stops at its capacity. */
	kpc_col_open(&small, 16, 1, 0, 3);
	kpc_add_std(small.fd, 0);
	kpc_arm_all(small.fd);
	trace = (__u64 *)((char *)small.area + small.hdr->trace_offset);
	ASSERT_OK(ioctl(small.fd, KPROBECOV_TRACE_START, &t));
	kpc_call(self->tfd, KPC_TARGET_CALL_SEQ, 1, 1);
	ASSERT_OK(ioctl(small.fd, KPROBECOV_TRACE_STOP));
	ASSERT_EQ(3, trace[0]);
	ASSERT_EQ(P_SEQ, trace[1]);
	ASSERT_EQ(P_B, trace[3]);
	kpc_col_close(&small);
}

KT_MAIN(kpc_requirements)
