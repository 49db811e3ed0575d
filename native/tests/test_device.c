// SPDX-License-Identifier: GPL-2.0
/*
 * Device part without a device (kernel behaviour is tested in the guest,
 * kmod/tests): the errno of a missing device, and the argument checks made
 * before any ioctl. /dev/null stands in for a valid fd: a call that passes
 * the checks reaches ioctl() and gets ENOTTY from it.
 * The area helpers run on a FAKE area laid out in memory by this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "kpc_test.h"

static int kpc_null_fd(void)
{
	return open("/dev/null", O_RDWR | O_CLOEXEC);
}

static void test_open_missing(void)
{
	EXPECT_EQ(kpc_dev_open("/nonexistent/kprobecov"), -ENOENT);
}

static void test_inherit(void)
{
	int fd = kpc_null_fd();

	ASSERT(fd >= 0);
	/* on: exec keeps the fd; off: exec closes it */
	EXPECT_EQ(kpc_dev_inherit(fd, 1), 0);
	EXPECT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	EXPECT_EQ(kpc_dev_inherit(fd, 0), 0);
	EXPECT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(fd);
	/* a closed fd */
	EXPECT_EQ(kpc_dev_inherit(fd, 1), -EBADF);
}

static void test_dup(void)
{
	int fd = kpc_null_fd();
	int copy;

	ASSERT(fd >= 0);
	copy = kpc_dev_dup(fd);
	ASSERT(copy >= 0);
	EXPECT_EQ(copy != fd, 1);
	/* the copy is closed on exec, and outlives the original */
	EXPECT_EQ(fcntl(copy, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(fd);
	EXPECT_EQ(fcntl(copy, F_GETFD) >= 0, 1);
	close(copy);
	EXPECT_EQ(kpc_dev_dup(fd), -EBADF);
}

static void test_bad_fd(void)
{
	struct kprobecov_probe_status st;
	struct kprobecov_add_probes out;
	struct kprobecov_version v;
	struct kprobecov_probe spec;
	uint64_t u, c;
	void *area;

	memset(&spec, 0, sizeof(spec));
	EXPECT_EQ(kpc_dev_close(-1), -EBADF);
	EXPECT_EQ(kpc_dev_inherit(-1, 1), -EBADF);
	EXPECT_EQ(kpc_dev_dup(-1), -EBADF);
	EXPECT_EQ(kpc_dev_version(-1, &v), -EBADF);
	EXPECT_EQ(kpc_dev_init(-1, 1, 1, 0, 0, 0, &u), -EBADF);
	EXPECT_EQ(kpc_dev_map(-1, 4096, &area), -EBADF);
	EXPECT_EQ(kpc_dev_add_probes(-1, &spec, 1, &out), -EBADF);
	EXPECT_EQ(kpc_dev_arm(-1, KPROBECOV_SELECT_ALL, 0, 0, 0, &u), -EBADF);
	EXPECT_EQ(kpc_dev_disarm(-1, KPROBECOV_SELECT_ALL, 0, 0, 0, &u), -EBADF);
	EXPECT_EQ(kpc_dev_attach(-1, 0, KPROBECOV_SCOPE_PROCESS, 0, &u), -EBADF);
	EXPECT_EQ(kpc_dev_detach(-1, 0), -EBADF);
	EXPECT_EQ(kpc_dev_reset(-1, 0), -EBADF);
	EXPECT_EQ(kpc_dev_release(-1, 0), -EBADF);
	EXPECT_EQ(kpc_dev_probe_status(-1, 0, 1, &st), -EBADF);
	EXPECT_EQ(kpc_dev_next_unhit(-1, 0, 0, 0, &u), -EBADF);
	EXPECT_EQ(kpc_dev_callers(-1, 0, NULL, 0, &c, NULL), -EBADF);
	EXPECT_EQ(kpc_dev_trace_start(-1, 0), -EBADF);
	EXPECT_EQ(kpc_dev_trace_stop(-1), -EBADF);
	EXPECT_EQ(kpc_dev_poll(-1, 0), -EBADF);
}

static void test_init_args(void)
{
	int fd = kpc_null_fd();
	uint64_t bytes;

	ASSERT(fd >= 0);
	EXPECT_EQ(kpc_dev_init(fd, 0, 1, 0, 0, 0, &bytes), -EINVAL);
	EXPECT_EQ(kpc_dev_init(fd, 1, 0, 0, 0, 0, &bytes), -EINVAL);
	EXPECT_EQ(kpc_dev_init(fd, 1, 1, KPROBECOV_MAX_EDGE_BITS + 1, 0, 0, &bytes), -EINVAL);
	EXPECT_EQ(kpc_dev_init(fd, 1, 1, 0, 0, KPROBECOV_INIT_CALLERS << 1, &bytes), -EINVAL);
	EXPECT_EQ(kpc_dev_init(fd, 1, 1, KPROBECOV_MAX_EDGE_BITS, 16, KPROBECOV_INIT_CALLERS, &bytes), -ENOTTY);
	EXPECT_EQ(kpc_dev_init(fd, 1, 1, 0, 0, 0, NULL), -ENOTTY);
	EXPECT_EQ(kpc_dev_version(fd, NULL), -EINVAL);
	close(fd);
}

static void test_map_args(void)
{
	int fd = kpc_null_fd();
	void *area;

	ASSERT(fd >= 0);
	EXPECT_EQ(kpc_dev_map(fd, 4096, NULL), -EINVAL);
	EXPECT_EQ(kpc_dev_map(fd, 0, &area), -EINVAL);
	EXPECT_EQ(kpc_dev_unmap(NULL, 4096), -EINVAL);
	EXPECT_EQ(kpc_dev_unmap(&area, 0), -EINVAL);
	close(fd);
}

static void test_add_probes_args(void)
{
	struct kprobecov_add_probes out;
	struct kprobecov_probe spec;
	int fd = kpc_null_fd();

	ASSERT(fd >= 0);
	memset(&spec, 0, sizeof(spec));
	EXPECT_EQ(kpc_dev_add_probes(fd, NULL, 1, &out), -EINVAL);
	EXPECT_EQ(kpc_dev_add_probes(fd, &spec, 0, &out), -EINVAL);
	EXPECT_EQ(kpc_dev_add_probes(fd, &spec, 1, NULL), -EINVAL);
	memset(&out, 0xff, sizeof(out));
	EXPECT_EQ(kpc_dev_add_probes(fd, &spec, 1, &out), -ENOTTY);
	/* A failed first batch adds nothing and says so. */
	EXPECT_EQ(out.count, 0);
	EXPECT_EQ(out.registered, 0);
	EXPECT_EQ(out.probes, (uintptr_t)&spec);
	close(fd);
}

static void test_select_args(void)
{
	int fd = kpc_null_fd();
	uint64_t changed;

	ASSERT(fd >= 0);
	EXPECT_EQ(kpc_dev_arm(fd, 0, 0, 0, 0, &changed), -EINVAL);
	EXPECT_EQ(kpc_dev_arm(fd, KPROBECOV_SELECT_GROUP + 1, 0, 0, 0, &changed), -EINVAL);
	/* Fields the selection does not use must be 0. */
	EXPECT_EQ(kpc_dev_arm(fd, KPROBECOV_SELECT_ALL, 1, 0, 0, &changed), -EINVAL);
	EXPECT_EQ(kpc_dev_arm(fd, KPROBECOV_SELECT_ALL, 0, 1, 0, &changed), -EINVAL);
	EXPECT_EQ(kpc_dev_disarm(fd, KPROBECOV_SELECT_RANGE, 1, 0, 1, &changed), -EINVAL);
	EXPECT_EQ(kpc_dev_disarm(fd, KPROBECOV_SELECT_GROUP, 1, 0, 1, &changed), -EINVAL);
	EXPECT_EQ(kpc_dev_arm(fd, KPROBECOV_SELECT_RANGE, 0, ~0ULL, 2, &changed), -EINVAL);
	EXPECT_EQ(kpc_dev_arm(fd, KPROBECOV_SELECT_ALL, 0, 0, 0, NULL), -ENOTTY);
	EXPECT_EQ(kpc_dev_arm(fd, KPROBECOV_SELECT_RANGE, 0, 5, 10, &changed), -ENOTTY);
	EXPECT_EQ(kpc_dev_disarm(fd, KPROBECOV_SELECT_GROUP, 7, 0, 0, &changed), -ENOTTY);
	close(fd);
}

static void test_attach_args(void)
{
	int fd = kpc_null_fd();
	uint64_t slot;

	ASSERT(fd >= 0);
	EXPECT_EQ(kpc_dev_attach(fd, 0, 0, 0, &slot), -EINVAL);
	EXPECT_EQ(kpc_dev_attach(fd, 0, KPROBECOV_SCOPE_GLOBAL + 1, 0, &slot), -EINVAL);
	EXPECT_EQ(kpc_dev_attach(fd, 1, KPROBECOV_SCOPE_GLOBAL, 0, &slot), -EINVAL);
	EXPECT_EQ(kpc_dev_attach(fd, 0, KPROBECOV_SCOPE_TREE, 0, NULL), -EINVAL);
	EXPECT_EQ(kpc_dev_attach(fd, 0, KPROBECOV_SCOPE_GLOBAL, 0, &slot), -ENOTTY);
	EXPECT_EQ(kpc_dev_attach(fd, getpid(), KPROBECOV_SCOPE_THREAD, 9, &slot), -ENOTTY);
	EXPECT_EQ(kpc_dev_detach(fd, 0), -ENOTTY);
	EXPECT_EQ(kpc_dev_reset(fd, KPROBECOV_ALL_SLOTS), -ENOTTY);
	EXPECT_EQ(kpc_dev_release(fd, 0), -ENOTTY);
	close(fd);
}

static void test_query_args(void)
{
	struct kprobecov_probe_status st[2];
	struct kprobecov_caller callers[2];
	int fd = kpc_null_fd();
	uint64_t u, count;

	ASSERT(fd >= 0);
	EXPECT_EQ(kpc_dev_probe_status(fd, 0, 1, NULL), -EINVAL);
	EXPECT_EQ(kpc_dev_probe_status(fd, ~0ULL, 2, st), -EINVAL);
	EXPECT_EQ(kpc_dev_probe_status(fd, 0, 2, st), -ENOTTY);
	EXPECT_EQ(kpc_dev_next_unhit(fd, 0, 0, 0, NULL), -EINVAL);
	EXPECT_EQ(kpc_dev_next_unhit(fd, 0, 0, 0, &u), -ENOTTY);
	EXPECT_EQ(kpc_dev_callers(fd, 0, NULL, 2, &count, NULL), -EINVAL);
	EXPECT_EQ(kpc_dev_callers(fd, 0, callers, 2, NULL, NULL), -EINVAL);
	EXPECT_EQ(kpc_dev_callers(fd, 0, callers, 2, &count, &u), -ENOTTY);
	EXPECT_EQ(kpc_dev_trace_start(fd, 0), -ENOTTY);
	EXPECT_EQ(kpc_dev_trace_stop(fd), -ENOTTY);
	EXPECT_EQ(kpc_dev_poll(fd, -2), -EINVAL);
	close(fd);
}

/* ---- the area helpers, on a FAKE area ---- */

#define FAKE_PROBES	100
#define FAKE_SLOTS	3
#define FAKE_EDGE_BITS	4
#define FAKE_TRACE	8

struct fake_area {
	uint64_t bytes;
	void *area;
	struct kprobecov_area_header *h;
};

/* Lay out a fake area the way linux/kprobecov.h describes it. */
static int fake_area(struct fake_area *f)
{
	uint64_t off = sizeof(struct kprobecov_area_header);
	struct kprobecov_area_header h;

	memset(&h, 0, sizeof(h));
	h.magic = KPROBECOV_AREA_MAGIC;
	h.abi = KPROBECOV_ABI_VERSION;
	h.max_probes = FAKE_PROBES;
	h.max_slots = FAKE_SLOTS;
	h.edge_bits = FAKE_EDGE_BITS;
	h.trace_entries = FAKE_TRACE;
	h.hit_bitmap_offset = off;
	off += (FAKE_PROBES + 63) / 64 * 8;
	h.counters_offset = off;
	off += FAKE_SLOTS * FAKE_PROBES * 8;
	h.slots_offset = off;
	off += FAKE_SLOTS * sizeof(struct kprobecov_slot_stats);
	h.edges_offset = off;
	off += FAKE_SLOTS * (4 << FAKE_EDGE_BITS);
	h.edge_bitmap_offset = off;
	off += 8;
	h.trace_offset = off;
	off += (1 + FAKE_TRACE) * 8;
	f->bytes = (off + 4095) & ~4095ULL;
	f->area = calloc(1, f->bytes);
	if (!f->area)
		return -ENOMEM;
	memcpy(f->area, &h, sizeof(h));
	f->h = f->area;
	return 0;
}

static uint64_t *fake_counters(struct fake_area *f, uint64_t slot)
{
	return (uint64_t *)((char *)f->area + f->h->counters_offset) + slot * FAKE_PROBES;
}

static void test_area_fake_check(void)
{
	struct kprobecov_area_header copy;
	struct fake_area f;

	ASSERT(fake_area(&f) == 0);
	EXPECT_EQ(kpc_area_check(f.area, f.bytes), 0);
	EXPECT_EQ(kpc_area_check(NULL, f.bytes), -EINVAL);
	EXPECT_EQ(kpc_area_check(f.area, 64), -EPROTO);
	/* A region past the end of the mapping. */
	f.h->trace_offset = f.bytes;
	EXPECT_EQ(kpc_area_check(f.area, f.bytes), -EPROTO);
	f.h->trace_offset = f.h->edge_bitmap_offset + 8;
	f.h->abi = KPROBECOV_ABI_VERSION + 1;
	EXPECT_EQ(kpc_area_check(f.area, f.bytes), -EPROTONOSUPPORT);
	f.h->abi = KPROBECOV_ABI_VERSION;
	EXPECT_EQ(kpc_area_header(f.area, &copy), 0);
	EXPECT_EQ(copy.max_probes, FAKE_PROBES);
	EXPECT_EQ(copy.trace_offset, f.h->trace_offset);
	f.h->magic = 0;
	EXPECT_EQ(kpc_area_check(f.area, f.bytes), -EPROTO);
	EXPECT_EQ(kpc_area_header(f.area, &copy), -EPROTO);
	EXPECT_EQ(kpc_area_read_slot(f.area, 0, NULL, 0), -EPROTO);
	free(f.area);
}

static void test_area_fake_counters(void)
{
	uint64_t out[FAKE_PROBES + 10], counts[4];
	uint32_t index[4];
	struct fake_area f;

	ASSERT(fake_area(&f) == 0);
	f.h->nr_probes = 50;
	fake_counters(&f, 1)[3] = 7;
	fake_counters(&f, 1)[49] = 1ULL << 40;
	fake_counters(&f, 1)[50] = 5;	/* beyond nr_probes: never read */
	fake_counters(&f, 2)[0] = 9;
	memset(out, 0xab, sizeof(out));
	/* Clipped to nr_probes. */
	EXPECT_EQ(kpc_area_read_slot(f.area, 1, out, FAKE_PROBES + 10), 50);
	EXPECT_EQ(out[0], 0);
	EXPECT_EQ(out[3], 7);
	EXPECT_EQ(out[49], 1ULL << 40);
	EXPECT_EQ(out[50], 0xababababababababULL);
	EXPECT_EQ(kpc_area_read_slot(f.area, 2, out, 1), 1);
	EXPECT_EQ(out[0], 9);
	EXPECT_EQ(kpc_area_read_slot(f.area, FAKE_SLOTS, out, 1), -EINVAL);
	EXPECT_EQ(kpc_area_read_slot(f.area, 0, NULL, 1), -EINVAL);
	EXPECT_EQ(kpc_area_read_slot_nonzero(f.area, 1, index, counts, 4), 2);
	EXPECT_EQ(index[0], 3);
	EXPECT_EQ(counts[0], 7);
	EXPECT_EQ(index[1], 49);
	EXPECT_EQ(counts[1], 1ULL << 40);
	/* Capacity too small: the total, and the first ones. */
	EXPECT_EQ(kpc_area_read_slot_nonzero(f.area, 1, index, counts, 1), 2);
	EXPECT_EQ(kpc_area_read_slot_nonzero(f.area, 1, NULL, NULL, 0), 2);
	EXPECT_EQ(kpc_area_read_slot_nonzero(f.area, 0, index, counts, 4), 0);
	free(f.area);
}

static void test_area_fake_bitmaps_stats_trace(void)
{
	struct kprobecov_slot_stats st[FAKE_SLOTS];
	uint64_t words[4], trace[4], ev;
	uint32_t edges[1 << FAKE_EDGE_BITS];
	struct fake_area f;
	uint64_t *t;

	ASSERT(fake_area(&f) == 0);
	((uint64_t *)((char *)f.area + f.h->hit_bitmap_offset))[1] = 0x5;
	EXPECT_EQ(kpc_area_read_hits(f.area, words, 4), 2);	/* ceil(100 / 64) */
	EXPECT_EQ(words[1], 0x5);
	((struct kprobecov_slot_stats *)((char *)f.area + f.h->slots_offset))[2].sample_id = 42;
	EXPECT_EQ(kpc_area_read_slot_stats(f.area, 1, 2, st), 0);
	EXPECT_EQ(st[1].sample_id, 42);
	EXPECT_EQ(kpc_area_read_slot_stats(f.area, 2, 2, st), -EINVAL);
	((uint32_t *)((char *)f.area + f.h->edges_offset))[(1 << FAKE_EDGE_BITS) + 3] = 11;
	EXPECT_EQ(kpc_area_read_edges(f.area, 1, edges, 100), 1 << FAKE_EDGE_BITS);
	EXPECT_EQ(edges[3], 11);
	EXPECT_EQ(kpc_area_read_edge_bitmap(f.area, words, 4), 1);
	t = (uint64_t *)((char *)f.area + f.h->trace_offset);
	t[0] = 12;	/* more written than fit: the trace holds the first 8 */
	t[1] = 5;
	t[2] = 6;
	EXPECT_EQ(kpc_area_read_trace(f.area, trace, 2), 12);
	EXPECT_EQ(trace[0], 5);
	EXPECT_EQ(trace[1], 6);
	EXPECT_EQ(kpc_area_trace_reset(f.area), 0);
	EXPECT_EQ(t[0], 0);
	f.h->new_events = 3;
	EXPECT_EQ(kpc_area_ack(f.area, &ev), 0);
	EXPECT_EQ(ev, 3);
	EXPECT_EQ(f.h->new_events_seen, 3);
	/* Regions INIT did not ask for. */
	f.h->edge_bits = 0;
	f.h->trace_entries = 0;
	EXPECT_EQ(kpc_area_read_edges(f.area, 0, edges, 1), -ENODATA);
	EXPECT_EQ(kpc_area_read_edge_bitmap(f.area, words, 1), -ENODATA);
	EXPECT_EQ(kpc_area_read_trace(f.area, trace, 1), -ENODATA);
	EXPECT_EQ(kpc_area_trace_reset(f.area), -ENODATA);
	free(f.area);
}

const struct kpc_test kpc_device_tests[] = {
	{ "dev_open_missing_path_is_ENOENT", test_open_missing },
	{ "dev_negative_fd_is_EBADF", test_bad_fd },
	{ "dev_inherit_toggles_cloexec", test_inherit },
	{ "dev_dup_gives_an_independent_fd", test_dup },
	{ "dev_init_validates_sizes", test_init_args },
	{ "dev_map_validates_args", test_map_args },
	{ "dev_add_probes_validates_args", test_add_probes_args },
	{ "dev_arm_disarm_validate_selection", test_select_args },
	{ "dev_attach_validates_scope", test_attach_args },
	{ "dev_queries_validate_buffers", test_query_args },
	{ "area_fake_check_and_header", test_area_fake_check },
	{ "area_fake_slot_counters", test_area_fake_counters },
	{ "area_fake_bitmaps_stats_trace_ack", test_area_fake_bitmaps_stats_trace },
	{ NULL, NULL },
};
