// SPDX-License-Identifier: GPL-2.0
/*
 * KCOV: one function per operation of its ABI (linux/kcov.h), and sets of
 * per-thread buffers drained into one table of distinct PCs or
 * comparisons (see libkprobecov.h for the rules).
 *
 * Buffers are read while their thread may be writing. The kernel (6.1,
 * kernel/kcov.c) appends a record as: pos = area[0] + 1; area[0] = pos;
 * then the record at pos, PC last. Hence, for a drain from another thread:
 *  - the last record may not be written yet: its PC word still reads 0
 *    (a record's PC is never 0; what a drain consumed it sets to 0). The
 *    drain then leaves the buffer as it is, for the next drain.
 *  - word 0 is reset with a compare-and-swap from the count read (records
 *    appended meanwhile are read in the same drain), but the thread may
 *    have read the old count just before and write count + 1 just after:
 *    the reset is undone and the consumed records are in the count again.
 *    They were set to 0 before the reset, so they are skipped, never
 *    counted twice; only their room is lost, until the next reset.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcov.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define KPC_KCOV_WORDS_PER_CMP	4
/* The kernel's ENOTSUPP (not ENOTSUP): comparisons are not built in. */
#define KPC_ENOTSUPP		524

KPC_EXPORT int kpc_kcov_open(const char *path)
{
	int fd = open(path ? path : KPC_KCOV_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

KPC_EXPORT int kpc_kcov_init(int fd, uint64_t words)
{
	if (fd < 0)
		return -EBADF;
	if (words < 2 || words > INT32_MAX / sizeof(uint64_t))
		return -EINVAL;
	return ioctl(fd, KCOV_INIT_TRACE, (unsigned long)words) ? -errno : 0;
}

KPC_EXPORT int kpc_kcov_map(int fd, uint64_t words, void **area)
{
	void *p;

	if (fd < 0)
		return -EBADF;
	if (!area || words < 2 || words > SIZE_MAX / sizeof(uint64_t))
		return -EINVAL;
	p = mmap(NULL, words * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*area = p;
	return 0;
}

KPC_EXPORT int kpc_kcov_unmap(void *area, uint64_t words)
{
	if (!area || !words)
		return -EINVAL;
	return munmap(area, words * sizeof(uint64_t)) ? -errno : 0;
}

KPC_EXPORT int kpc_kcov_enable(int fd, uint32_t mode)
{
	if (fd < 0)
		return -EBADF;
	if (mode != KCOV_TRACE_PC && mode != KCOV_TRACE_CMP)
		return -EINVAL;
	return ioctl(fd, KCOV_ENABLE, (unsigned long)mode) ? -errno : 0;
}

KPC_EXPORT int kpc_kcov_disable(int fd)
{
	if (fd < 0)
		return -EBADF;
	return ioctl(fd, KCOV_DISABLE, 0UL) ? -errno : 0;
}

/* ------------------------------------------------------------------------
 * Sets
 * ------------------------------------------------------------------------ */

struct kpc_kcov_buf {
	int fd;
	pid_t tid;		/* the thread it was enabled for */
	int enabled;		/* not disabled since */
	uint64_t words;
	uint64_t *area;
};

struct kpc_kcov_set {
	pthread_mutex_t lock;	/* everything below */
	char *path;
	uint32_t mode;
	struct kpc_kcov_buf bufs[KPC_KCOV_SET_MAX];
	uint32_t nbufs;

	/* The barrier of the _barrier calls: one round at a time. */
	pthread_cond_t round_cond;
	uint64_t round;		/* number of the current round */
	uint32_t round_want;	/* calls the round waits for; 0: no round open */
	uint32_t round_in;	/* calls arrived */
	struct timespec round_deadline;	/* CLOCK_MONOTONIC */

	/* TRACE_PC table: distinct PC -> pcs/counts index + 1. */
	struct kpc_map pc_index;
	struct kpc_vec pcs;	/* uint64_t */
	struct kpc_vec counts;	/* uint64_t */
	/* TRACE_CMP table: struct kpc_kcov_cmp, sorted and distinct after each drain. */
	struct kpc_vec cmps;

	/* The drainer thread (kpc_kcov_set_drainer), and what its drains saw. */
	pthread_t drainer;
	int drainer_on;		/* a drainer thread exists */
	int drainer_stop;	/* it is asked to end (drainer_cond) */
	pthread_cond_t drainer_cond;
	uint32_t drainer_ms;
	uint64_t drainer_ranges[2 * KPC_KCOV_DRAINER_RANGES];
	uint32_t drainer_nranges;
	struct kpc_kcov_stats pending;	/* records, in_ranges, overflows, max_fill */
};

KPC_EXPORT int kpc_kcov_set_new(const char *path, uint32_t mode, struct kpc_kcov_set **out)
{
	struct kpc_kcov_set *s;
	pthread_condattr_t ca;
	int fd;

	if (!out || (mode != KCOV_TRACE_PC && mode != KCOV_TRACE_CMP))
		return -EINVAL;
	fd = kpc_kcov_open(path);
	if (fd < 0)
		return fd;
	close(fd);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->path = strdup(path ? path : KPC_KCOV_PATH);
	if (!s->path) {
		free(s);
		return -ENOMEM;
	}
	s->mode = mode;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->round_cond, &ca);
	pthread_cond_init(&s->drainer_cond, &ca);
	pthread_condattr_destroy(&ca);
	kpc_vec_init(&s->pcs, sizeof(uint64_t));
	kpc_vec_init(&s->counts, sizeof(uint64_t));
	kpc_vec_init(&s->cmps, sizeof(struct kpc_kcov_cmp));
	*out = s;
	return 0;
}

static void kpc_buf_close(struct kpc_kcov_buf *b)
{
	if (b->area)
		munmap(b->area, b->words * sizeof(uint64_t));
	if (b->fd >= 0)
		close(b->fd);
	b->area = NULL;
	b->fd = -1;
}

/* The calling thread's buffer, or NULL. */
static struct kpc_kcov_buf *kpc_buf_of_self_locked(struct kpc_kcov_set *s)
{
	pid_t tid = gettid();
	uint32_t i;

	for (i = 0; i < s->nbufs; i++)
		if (s->bufs[i].tid == tid && s->bufs[i].fd >= 0)
			return &s->bufs[i];
	return NULL;
}

static int kpc_enable_locked(struct kpc_kcov_set *s, uint64_t words)
{
	struct kpc_kcov_buf *b = kpc_buf_of_self_locked(s), nb;
	uint64_t page_words = sysconf(_SC_PAGESIZE) / sizeof(uint64_t);
	void *area;
	int ret;

	if (words < 2 || words > INT32_MAX / sizeof(uint64_t))
		return -EINVAL;
	/* KCOV maps whole pages only: mmap wants exactly the size given to INIT. */
	words = (words + page_words - 1) / page_words * page_words;
	if (b) {
		if (b->enabled) {
			/*
			 * Enabled for this tid: this thread (KCOV_ENABLE says
			 * EINVAL, the buffer is not in its INIT state), or one
			 * that exited (the kernel reset it) whose tid was
			 * reused. Enabling again tells them apart.
			 */
			ret = kpc_kcov_enable(b->fd, s->mode);
			if (ret == -EBUSY || ret == -EINVAL)
				return b - s->bufs;
			if (ret)
				return ret;
			return b - s->bufs;
		}
		ret = kpc_kcov_enable(b->fd, s->mode);
		if (ret)
			return ret;
		b->enabled = 1;
		return b - s->bufs;
	}
	if (s->nbufs == KPC_KCOV_SET_MAX)
		return -ENOSPC;
	memset(&nb, 0, sizeof(nb));
	nb.fd = kpc_kcov_open(s->path);
	if (nb.fd < 0)
		return nb.fd;
	nb.words = words;
	ret = kpc_kcov_init(nb.fd, words);
	if (!ret)
		ret = kpc_kcov_map(nb.fd, words, &area);
	if (ret) {
		kpc_buf_close(&nb);
		return ret;
	}
	nb.area = area;
	ret = kpc_kcov_enable(nb.fd, s->mode);
	if (ret) {
		kpc_buf_close(&nb);
		return ret;
	}
	nb.tid = gettid();
	nb.enabled = 1;
	s->bufs[s->nbufs] = nb;
	return s->nbufs++;
}

KPC_EXPORT int kpc_kcov_set_enable(struct kpc_kcov_set *s, uint64_t words)
{
	int ret;

	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	ret = kpc_enable_locked(s, words);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static int kpc_disable_locked(struct kpc_kcov_set *s)
{
	struct kpc_kcov_buf *b = kpc_buf_of_self_locked(s);
	int ret;

	if (!b || !b->enabled)
		return -ENOENT;
	ret = kpc_kcov_disable(b->fd);
	if (ret)
		return ret;
	b->enabled = 0;
	return 0;
}

KPC_EXPORT int kpc_kcov_set_disable(struct kpc_kcov_set *s)
{
	int ret;

	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	ret = kpc_disable_locked(s);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/*
 * Called with the lock held: joins the open round (or opens one for n
 * calls) and waits, releasing the lock meanwhile, until n calls are in or
 * the round's deadline passes. Returns with the lock held.
 */
static void kpc_barrier_locked(struct kpc_kcov_set *s, uint32_t n, uint32_t timeout_ms)
{
	uint64_t round;

	if (!s->round_want) {
		clock_gettime(CLOCK_MONOTONIC, &s->round_deadline);
		s->round_deadline.tv_sec += timeout_ms / 1000;
		s->round_deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (s->round_deadline.tv_nsec >= 1000000000L) {
			s->round_deadline.tv_sec++;
			s->round_deadline.tv_nsec -= 1000000000L;
		}
		s->round_want = n ? n : 1;
		s->round_in = 0;
		s->round++;
	}
	round = s->round;
	if (++s->round_in >= s->round_want) {
		/* Complete: the next call opens a new round. */
		s->round_want = 0;
		pthread_cond_broadcast(&s->round_cond);
		return;
	}
	while (s->round == round && s->round_want) {
		if (pthread_cond_timedwait(&s->round_cond, &s->lock, &s->round_deadline) == ETIMEDOUT) {
			/* Late calls of this round find it closed and open another. */
			if (s->round == round)
				s->round_want = 0;
			break;
		}
	}
}

KPC_EXPORT int kpc_kcov_set_enable_barrier(struct kpc_kcov_set *s, uint64_t words, uint32_t n,
					   uint32_t timeout_ms)
{
	int ret;

	if (!s || !n)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	kpc_barrier_locked(s, n, timeout_ms);
	ret = kpc_enable_locked(s, words);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

KPC_EXPORT int kpc_kcov_set_disable_barrier(struct kpc_kcov_set *s, uint32_t n, uint32_t timeout_ms)
{
	int ret;

	if (!s || !n)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	kpc_barrier_locked(s, n, timeout_ms);
	ret = kpc_disable_locked(s);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static int kpc_in_ranges(uint64_t pc, const uint64_t *ranges, uint32_t nranges)
{
	uint32_t i;

	for (i = 0; i < nranges; i++)
		if (pc >= ranges[2 * i] && pc < ranges[2 * i + 1])
			return 1;
	return 0;
}

static int kpc_count_pc(struct kpc_kcov_set *s, uint64_t pc, uint64_t n)
{
	uint32_t *slot;
	int added;

	/* kpc_map keys must not be 0: no PC is. */
	if (!pc)
		return 0;
	slot = kpc_map_get(&s->pc_index, pc, s->pcs.len, &added);
	if (!slot)
		return -ENOMEM;
	if (added) {
		uint64_t *p = kpc_vec_push(&s->pcs), *c = kpc_vec_push(&s->counts);

		if (!p || !c)
			return -ENOMEM;
		*p = pc;
	}
	*KPC_VEC_AT(&s->counts, uint64_t, *slot) += n;
	return 0;
}

static int kpc_cmp_cmp(const void *a, const void *b)
{
	const struct kpc_kcov_cmp *x = a, *y = b;

	if (x->pc != y->pc)
		return x->pc < y->pc ? -1 : 1;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	if (x->arg1 != y->arg1)
		return x->arg1 < y->arg1 ? -1 : 1;
	if (x->arg2 != y->arg2)
		return x->arg2 < y->arg2 ? -1 : 1;
	return 0;
}

/* Sort the comparison table and fold equal entries into one. */
static void kpc_fold_cmps(struct kpc_kcov_set *s)
{
	struct kpc_kcov_cmp *c = s->cmps.data;
	size_t i, out = 0;

	if (!s->cmps.len)
		return;
	qsort(c, s->cmps.len, sizeof(*c), kpc_cmp_cmp);
	for (i = 1; i < s->cmps.len; i++) {
		if (!kpc_cmp_cmp(&c[out], &c[i]))
			c[out].count += c[i].count;
		else
			c[++out] = c[i];
	}
	s->cmps.len = out + 1;
}

/* The word of record i that holds its PC. */
static uint64_t *kpc_record_pc(const struct kpc_kcov_set *s, const struct kpc_kcov_buf *b, uint64_t i)
{
	return s->mode == KCOV_TRACE_PC ? &b->area[1 + i] : &b->area[1 + i * KPC_KCOV_WORDS_PER_CMP + 3];
}

/* Record i of buffer b into the table, if its PC is in the ranges; then consumed (PC 0). */
static int kpc_take_record(struct kpc_kcov_set *s, const struct kpc_kcov_buf *b, uint64_t i,
			   const uint64_t *ranges, uint32_t nranges, struct kpc_kcov_stats *st)
{
	uint64_t *pcw = kpc_record_pc(s, b, i), pc = __atomic_load_n(pcw, __ATOMIC_ACQUIRE);
	const uint64_t *r;
	struct kpc_kcov_cmp *c;

	if (!pc)
		return 0;	/* consumed by an earlier drain whose reset was undone */
	__atomic_store_n(pcw, 0, __ATOMIC_RELAXED);
	st->records++;
	if (!kpc_in_ranges(pc, ranges, nranges))
		return 0;
	st->in_ranges++;
	if (s->mode == KCOV_TRACE_PC)
		return kpc_count_pc(s, pc, 1);
	r = &b->area[1 + i * KPC_KCOV_WORDS_PER_CMP];
	c = kpc_vec_push(&s->cmps);
	if (!c)
		return -ENOMEM;
	c->type = r[0];
	c->arg1 = r[1];
	c->arg2 = r[2];
	c->pc = pc;
	c->count = 1;
	return 0;
}

/*
 * Records of one buffer into the table, then word 0 back to 0 with a
 * compare-and-swap from the count read: if the thread added records
 * meanwhile, those are read too and the swap is tried again. A last record
 * still being written (PC 0) ends the drain of this buffer without a reset:
 * what was read is consumed, the rest waits for the next drain.
 */
static int kpc_drain_buf(struct kpc_kcov_set *s, struct kpc_kcov_buf *b, const uint64_t *ranges,
			 uint32_t nranges, struct kpc_kcov_stats *st)
{
	uint64_t per = s->mode == KCOV_TRACE_CMP ? KPC_KCOV_WORDS_PER_CMP : 1;
	uint64_t cap = (b->words - 1) / per, done = 0, n, i;
	int ret, spins;

	for (;;) {
		n = __atomic_load_n(&b->area[0], __ATOMIC_ACQUIRE);
		if (n > cap)
			return -EPROTO;
		/* A writer between its two stores finishes in a few instructions. */
		for (spins = 0; n > done && !__atomic_load_n(kpc_record_pc(s, b, n - 1), __ATOMIC_ACQUIRE); spins++)
			if (spins == 1000)
				goto out;
		for (i = done; i < n; i++) {
			ret = kpc_take_record(s, b, i, ranges, nranges, st);
			if (ret)
				return ret;
		}
		done = n;
		if (__atomic_compare_exchange_n(&b->area[0], &n, 0, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			break;
	}
out:
	if (done > st->max_fill)
		st->max_fill = done;
	if (done == cap)
		st->overflows++;
	return 0;
}

static void *kpc_drainer_main(void *p)
{
	struct kpc_kcov_set *s = p;
	struct timespec t;

	pthread_mutex_lock(&s->lock);
	while (!s->drainer_stop) {
		struct kpc_kcov_stats st;
		uint32_t i;

		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_sec += s->drainer_ms / 1000;
		t.tv_nsec += (long)(s->drainer_ms % 1000) * 1000000L;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		while (!s->drainer_stop && pthread_cond_timedwait(&s->drainer_cond, &s->lock, &t) != ETIMEDOUT)
			;
		if (s->drainer_stop)
			break;
		memset(&st, 0, sizeof(st));
		for (i = 0; i < s->nbufs; i++)
			if (s->bufs[i].area &&
			    kpc_drain_buf(s, &s->bufs[i], s->drainer_ranges, s->drainer_nranges, &st))
				break;
		if (s->mode == KCOV_TRACE_CMP)
			kpc_fold_cmps(s);
		s->pending.records += st.records;
		s->pending.in_ranges += st.in_ranges;
		s->pending.overflows += st.overflows;
		if (st.max_fill > s->pending.max_fill)
			s->pending.max_fill = st.max_fill;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Stops the drainer thread, if any; called with the lock held, returns with it held. */
static void kpc_stop_drainer_locked(struct kpc_kcov_set *s)
{
	if (!s->drainer_on)
		return;
	s->drainer_stop = 1;
	pthread_cond_broadcast(&s->drainer_cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->drainer, NULL);
	pthread_mutex_lock(&s->lock);
	s->drainer_on = 0;
	s->drainer_stop = 0;
}

KPC_EXPORT int kpc_kcov_set_drainer(struct kpc_kcov_set *s, const uint64_t *ranges, uint32_t nranges,
				    uint32_t interval_ms)
{
	sigset_t all, old;
	int ret = 0;

	if (!s || nranges > KPC_KCOV_DRAINER_RANGES || (nranges && !ranges))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (nranges)
		memcpy(s->drainer_ranges, ranges, 2 * nranges * sizeof(uint64_t));
	s->drainer_nranges = nranges;
	s->drainer_ms = interval_ms;
	if (!interval_ms) {
		kpc_stop_drainer_locked(s);
	} else if (!s->drainer_on) {
		/* The drainer takes no signal of the process's. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		ret = -pthread_create(&s->drainer, NULL, kpc_drainer_main, s);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		s->drainer_on = !ret;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

KPC_EXPORT int64_t kpc_kcov_set_drain(struct kpc_kcov_set *s, const uint64_t *ranges,
				      uint32_t nranges, struct kpc_kcov_stats *stats)
{
	struct kpc_kcov_stats st;
	uint32_t i;
	int64_t ret = 0;

	if (!s || (nranges && !ranges))
		return -EINVAL;
	memset(&st, 0, sizeof(st));
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->nbufs && !ret; i++)
		if (s->bufs[i].area)
			ret = kpc_drain_buf(s, &s->bufs[i], ranges, nranges, &st);
	if (s->mode == KCOV_TRACE_CMP)
		kpc_fold_cmps(s);
	/* What the drainer read since the last drain counts too. */
	st.records += s->pending.records;
	st.in_ranges += s->pending.in_ranges;
	st.overflows += s->pending.overflows;
	if (s->pending.max_fill > st.max_fill)
		st.max_fill = s->pending.max_fill;
	memset(&s->pending, 0, sizeof(s->pending));
	st.threads = s->nbufs;
	if (!ret)
		ret = s->mode == KCOV_TRACE_CMP ? (int64_t)s->cmps.len : (int64_t)s->pcs.len;
	pthread_mutex_unlock(&s->lock);
	if (stats)
		*stats = st;
	return ret;
}

static int kpc_cmp_u64_pair(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

KPC_EXPORT int64_t kpc_kcov_set_take_pcs(struct kpc_kcov_set *s, uint64_t *pcs, uint64_t *counts,
					 uint64_t capacity)
{
	uint64_t *pairs, n, i;

	if (!s || s->mode != KCOV_TRACE_PC || (capacity && (!pcs || !counts)))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	n = s->pcs.len;
	if (n > capacity) {
		pthread_mutex_unlock(&s->lock);
		return -ENOSPC;
	}
	pairs = malloc((n ? n : 1) * 2 * sizeof(uint64_t));
	if (!pairs) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		pairs[2 * i] = *KPC_VEC_AT(&s->pcs, uint64_t, i);
		pairs[2 * i + 1] = *KPC_VEC_AT(&s->counts, uint64_t, i);
	}
	qsort(pairs, n, 2 * sizeof(uint64_t), kpc_cmp_u64_pair);
	for (i = 0; i < n; i++) {
		pcs[i] = pairs[2 * i];
		counts[i] = pairs[2 * i + 1];
	}
	free(pairs);
	kpc_map_free(&s->pc_index);
	s->pcs.len = 0;
	s->counts.len = 0;
	pthread_mutex_unlock(&s->lock);
	return n;
}

KPC_EXPORT int64_t kpc_kcov_set_take_cmps(struct kpc_kcov_set *s, struct kpc_kcov_cmp *out,
					  uint64_t capacity)
{
	uint64_t n;

	if (!s || s->mode != KCOV_TRACE_CMP || (capacity && !out))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	n = s->cmps.len;
	if (n > capacity) {
		pthread_mutex_unlock(&s->lock);
		return -ENOSPC;
	}
	if (n)
		memcpy(out, s->cmps.data, n * sizeof(*out));
	s->cmps.len = 0;
	pthread_mutex_unlock(&s->lock);
	return n;
}

KPC_EXPORT int kpc_kcov_set_info(struct kpc_kcov_set *s, uint64_t *enabled, uint64_t *threads)
{
	uint64_t on = 0;
	uint32_t i;

	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->nbufs; i++)
		on += s->bufs[i].enabled;
	if (enabled)
		*enabled = on;
	if (threads)
		*threads = s->nbufs;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

KPC_EXPORT void kpc_kcov_set_free(struct kpc_kcov_set *s)
{
	uint32_t i;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	kpc_stop_drainer_locked(s);
	kpc_disable_locked(s);
	for (i = 0; i < s->nbufs; i++)
		kpc_buf_close(&s->bufs[i]);
	pthread_mutex_unlock(&s->lock);
	kpc_map_free(&s->pc_index);
	kpc_vec_free(&s->pcs);
	kpc_vec_free(&s->counts);
	kpc_vec_free(&s->cmps);
	pthread_cond_destroy(&s->round_cond);
	pthread_cond_destroy(&s->drainer_cond);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}
