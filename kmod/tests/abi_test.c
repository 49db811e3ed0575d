// SPDX-License-Identifier: GPL-2.0
/*
 * The ABI of /dev/kprobecov itself: version, INIT, the state machine's
 * EBADFD, unknown commands, reserved fields, bad pointers and sizes, mmap
 * and the area header.
 */
#include "kpc_util.h"

/* An fd before INIT. */
FIXTURE(fresh) {
	int fd;
	struct kprobecov_version v;
};

FIXTURE_SETUP(fresh)
{
	self->fd = kpc_open();
	kpc_version(self->fd, &self->v);
}

FIXTURE_TEARDOWN(fresh)
{
	close(self->fd);
}

/* An initialised, mapped collector (edges and trace on) with the standard probes. */
FIXTURE(probed) {
	struct kpc_col c;
	void *none;		/* a PROT_NONE page: bad user pointer */
};

FIXTURE_SETUP(probed)
{
	kpc_target_ensure_loaded();
	kpc_col_open(&self->c, 64, 4, 8, 64);
	kpc_add_std(self->c.fd, 0);
	kpc_arm_all(self->c.fd);
	self->none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->none);
}

FIXTURE_TEARDOWN(probed)
{
	kpc_col_close(&self->c);
}

TEST_F(fresh, version)
{
	kt_log("limits: max_probes %llu max_slots %llu max_area_bytes %llu max_tasks %llu "
	       "max_callers %llu",
	       (unsigned long long)self->v.max_probes, (unsigned long long)self->v.max_slots,
	       (unsigned long long)self->v.max_area_bytes, (unsigned long long)self->v.max_tasks,
	       (unsigned long long)self->v.max_callers);
	/* The ABI version is the header's. */
	ASSERT_EQ(KPROBECOV_ABI_VERSION, self->v.abi);
	/* Every limit allows at least one of its kind. */
	ASSERT_LE(1, self->v.max_probes);
	ASSERT_LE(1, self->v.max_slots);
	ASSERT_LE(1, self->v.max_tasks);
	ASSERT_LE(1, self->v.max_callers);
	/* The area limit allows at least a page. */
	ASSERT_LE(4096, self->v.max_area_bytes);
	/* Reserved output is zero. */
	ASSERT_EQ(0, self->v.reserved[0] | self->v.reserved[1]);
}

TEST_F(fresh, init_gives_page_multiple_area)
{
	struct kprobecov_init in = { .max_probes = 100, .max_slots = 3, .edge_bits = 4,
				     .trace_entries = 10 };

	/* A sane INIT succeeds. */
	ASSERT_OK(ioctl(self->fd, KPROBECOV_INIT, &in));
	/* The area is a non-empty page multiple. */
	ASSERT_LT(0, in.area_bytes);
	ASSERT_EQ(0, in.area_bytes % sysconf(_SC_PAGESIZE));
	/* Reserved output stays zero. */
	ASSERT_EQ(0, in.reserved[0] | in.reserved[1]);
}

TEST_F(fresh, init_twice_is_ebusy)
{
	struct kprobecov_init in = { .max_probes = 8, .max_slots = 1 };

	ASSERT_OK(ioctl(self->fd, KPROBECOV_INIT, &in));
	/* A second INIT on the same fd is refused. */
	ASSERT_ERRNO(EBUSY, ioctl(self->fd, KPROBECOV_INIT, &in));
}

TEST_F(fresh, init_bad_sizes_are_einval)
{
	const struct kprobecov_init good = { .max_probes = 8, .max_slots = 1 };
	struct kprobecov_init in;

	/* No probes. */
	in = good, in.max_probes = 0;
	ASSERT_ERRNO(EINVAL, ioctl(self->fd, KPROBECOV_INIT, &in));
	/* No slots. */
	in = good, in.max_slots = 0;
	ASSERT_ERRNO(EINVAL, ioctl(self->fd, KPROBECOV_INIT, &in));
	/* More probes than the module allows. */
	in = good, in.max_probes = self->v.max_probes + 1;
	ASSERT_ERRNO(EINVAL, ioctl(self->fd, KPROBECOV_INIT, &in));
	/* More slots than the module allows. */
	in = good, in.max_slots = self->v.max_slots + 1;
	ASSERT_ERRNO(EINVAL, ioctl(self->fd, KPROBECOV_INIT, &in));
	/* Too many edge bits. */
	in = good, in.edge_bits = KPROBECOV_MAX_EDGE_BITS + 1;
	ASSERT_ERRNO(EINVAL, ioctl(self->fd, KPROBECOV_INIT, &in));
	/* Absurd edge bits (would overflow a shift). */
	in = good, in.edge_bits = 64;
	ASSERT_ERRNO(EINVAL, ioctl(self->fd, KPROBECOV_INIT, &in));
	/* Unknown flags. */
	in = good, in.flags = KPROBECOV_INIT_CALLERS << 1;
	ASSERT_ERRNO(EINVAL, ioctl(self->fd, KPROBECOV_INIT, &in));
	/* Reserved fields must be zero. */
	in = good, in.reserved[0] = 1;
	ASSERT_ERRNO(EINVAL, ioctl(self->fd, KPROBECOV_INIT, &in));
	in = good, in.reserved[1] = 1;
	ASSERT_ERRNO(EINVAL, ioctl(self->fd, KPROBECOV_INIT, &in));
	/* A refused INIT leaves the fd uninitialised: a good one still works. */
	in = good;
	ASSERT_OK(ioctl(self->fd, KPROBECOV_INIT, &in));
}

TEST_F(fresh, init_area_too_big_is_e2big)
{
	struct kprobecov_init in = {
		.max_probes = self->v.max_probes, .max_slots = self->v.max_slots,
		.edge_bits = KPROBECOV_MAX_EDGE_BITS,
	};
	double need = 8.0 * in.max_probes * in.max_slots +
		      4.0 * in.max_slots * (1ULL << in.edge_bits);

	if (need <= (double)self->v.max_area_bytes)
		SKIP("the largest sizes fit in max_area_bytes %llu",
		     (unsigned long long)self->v.max_area_bytes);
	/* Sizes each within limits whose area exceeds max_area_bytes. */
	ASSERT_ERRNO(E2BIG, ioctl(self->fd, KPROBECOV_INIT, &in));
}

TEST_F(fresh, init_sizes_that_overflow_are_e2big)
{
	struct kprobecov_init in = { .max_probes = 8, .max_slots = 1 };

	/* A trace whose size in bytes wraps around 2^64 (8 * (2^61 + 1) = 8). */
	in.trace_entries = 1ULL << 61;
	ASSERT_ERRNO(E2BIG, ioctl(self->fd, KPROBECOV_INIT, &in));
	/* The largest trace. */
	in.trace_entries = ~0ULL;
	ASSERT_ERRNO(E2BIG, ioctl(self->fd, KPROBECOV_INIT, &in));
	/* A trace just above what the area may hold. */
	in.trace_entries = self->v.max_area_bytes / 8;
	ASSERT_ERRNO(E2BIG, ioctl(self->fd, KPROBECOV_INIT, &in));
}

TEST_F(fresh, everything_before_init_is_ebadfd)
{
	static const struct { unsigned long cmd; const char *name; } cmds[] = {
		{ KPROBECOV_ADD_PROBES, "ADD_PROBES" },
		{ KPROBECOV_ARM, "ARM" },
		{ KPROBECOV_DISARM, "DISARM" },
		{ KPROBECOV_ATTACH, "ATTACH" },
		{ KPROBECOV_DETACH, "DETACH" },
		{ KPROBECOV_RESET, "RESET" },
		{ KPROBECOV_RELEASE, "RELEASE" },
		{ KPROBECOV_GET_PROBE_STATUS, "GET_PROBE_STATUS" },
		{ KPROBECOV_NEXT_UNHIT, "NEXT_UNHIT" },
		{ KPROBECOV_GET_CALLERS, "GET_CALLERS" },
		{ KPROBECOV_TRACE_START, "TRACE_START" },
		{ KPROBECOV_TRACE_STOP, "TRACE_STOP" },
	};
	__u64 zero[32] = { 0 };
	size_t i;
	void *m;

	/* Each command but GET_VERSION and INIT needs INIT first. */
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		kt_log("%s", cmds[i].name);
		ASSERT_ERRNO(EBADFD, ioctl(self->fd, cmds[i].cmd, zero));
	}
	/* There is no area to map before INIT. */
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_EQ(MAP_FAILED, m);
}

TEST_F(fresh, unknown_commands_are_enotty)
{
	__u64 buf[32] = { 0 };

	/* An unused number of ours. */
	ASSERT_ERRNO(ENOTTY, ioctl(self->fd, _IO(KPROBECOV_IOC, 0x7f), buf));
	/* GET_VERSION's number with another size. */
	ASSERT_ERRNO(ENOTTY, ioctl(self->fd, _IOR(KPROBECOV_IOC, 0x00, __u64), buf));
	/* INIT's number with another direction. */
	ASSERT_ERRNO(ENOTTY, ioctl(self->fd, _IOW(KPROBECOV_IOC, 0x01, struct kprobecov_init), buf));
	/* Another driver's type. */
	ASSERT_ERRNO(ENOTTY, ioctl(self->fd, _IOR('x', 0x00, struct kprobecov_version), buf));
	/* A terminal ioctl. */
	ASSERT_ERRNO(ENOTTY, ioctl(self->fd, TCGETS, buf));
}

TEST_F(fresh, bad_pointers_before_init_are_efault)
{
	void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, none);
	/* GET_VERSION to NULL. */
	ASSERT_ERRNO(EFAULT, ioctl(self->fd, KPROBECOV_GET_VERSION, NULL));
	/* GET_VERSION to an inaccessible page. */
	ASSERT_ERRNO(EFAULT, ioctl(self->fd, KPROBECOV_GET_VERSION, none));
	/* INIT from NULL. */
	ASSERT_ERRNO(EFAULT, ioctl(self->fd, KPROBECOV_INIT, NULL));
	/* INIT from an inaccessible page. */
	ASSERT_ERRNO(EFAULT, ioctl(self->fd, KPROBECOV_INIT, none));
}

TEST_F(probed, header_is_sane)
{
	const struct kprobecov_area_header *h = self->c.hdr;
	const __u64 area = self->c.init.area_bytes;
	struct { const char *name; __u64 off, len; } r[] = {
		{ "header", 0, sizeof(*h) },
		{ "hit_bitmap", h->hit_bitmap_offset, (h->max_probes + 63) / 64 * 8 },
		{ "counters", h->counters_offset, 8 * h->max_slots * h->max_probes },
		{ "slots", h->slots_offset, h->max_slots * sizeof(struct kprobecov_slot_stats) },
		{ "edges", h->edges_offset, 4 * h->max_slots * (1ULL << h->edge_bits) },
		{ "edge_bitmap", h->edge_bitmap_offset, ((1ULL << h->edge_bits) + 63) / 64 * 8 },
		{ "trace", h->trace_offset, 8 * (1 + h->trace_entries) },
	};
	size_t i, j, n = sizeof(r) / sizeof(r[0]);

	/* Magic and version identify the area. */
	ASSERT_EQ(KPROBECOV_AREA_MAGIC, h->magic);
	ASSERT_EQ(KPROBECOV_ABI_VERSION, h->abi);
	/* The sizes are INIT's. */
	ASSERT_EQ(64, h->max_probes);
	ASSERT_EQ(4, h->max_slots);
	ASSERT_EQ(8, h->edge_bits);
	ASSERT_EQ(64, h->trace_entries);
	/* The standard probes were added; nothing happened yet. */
	ASSERT_EQ(P_NR, h->nr_probes);
	ASSERT_EQ(0, h->new_events);
	ASSERT_EQ(0, h->new_events_seen);
	for (i = 0; i < 17; i++)
		ASSERT_EQ(0, h->reserved[i]);
	for (i = 0; i < n; i++) {
		kt_log("%s at %#llx, %llu bytes", r[i].name, (unsigned long long)r[i].off,
		       (unsigned long long)r[i].len);
		/* Every region is 8-byte aligned and inside the area. */
		ASSERT_EQ(0, r[i].off % 8);
		ASSERT_LE(r[i].off + r[i].len, area);
		/* No two regions overlap. */
		for (j = 0; j < i; j++)
			ASSERT_TRUE(r[i].off + r[i].len <= r[j].off ||
				    r[j].off + r[j].len <= r[i].off);
	}
	/* Every slot starts free and every counter at zero. */
	for (i = 0; i < h->max_slots; i++) {
		ASSERT_EQ(KPROBECOV_SLOT_FREE, kpc_stats(&self->c, i)->state);
		for (j = 0; j < P_NR; j++)
			ASSERT_EQ(0, kpc_counter(&self->c, i, j));
	}
}

TEST_F(probed, mmap_wrong_size_or_offset_is_einval)
{
	size_t bytes = self->c.init.area_bytes, page = sysconf(_SC_PAGESIZE);

	/* One page more than the area. */
	ASSERT_EQ(MAP_FAILED, mmap(NULL, bytes + page, PROT_READ, MAP_SHARED, self->c.fd, 0));
	ASSERT_EQ(EINVAL, errno);
	/* A non-zero offset. */
	ASSERT_EQ(MAP_FAILED, mmap(NULL, bytes - page ? bytes - page : page, PROT_READ,
				   MAP_SHARED, self->c.fd, page));
	ASSERT_EQ(EINVAL, errno);
}

TEST_F(probed, unknown_commands_after_init_are_enotty)
{
	__u64 buf[32] = { 0 };

	/* An unused number of ours, after INIT too. */
	ASSERT_ERRNO(ENOTTY, ioctl(self->c.fd, _IO(KPROBECOV_IOC, 0x7f), buf));
	/* ADD_PROBES' number with another size. */
	ASSERT_ERRNO(ENOTTY, ioctl(self->c.fd, _IOWR(KPROBECOV_IOC, 0x02, __u64), buf));
}

TEST_F(probed, reserved_fields_and_flags_are_einval)
{
	int fd = self->c.fd;
	struct kprobecov_probe p;
	struct kprobecov_add_probes add = { .probes = (uintptr_t)&p, .count = 1 };
	struct kprobecov_select sel = { .how = KPROBECOV_SELECT_ALL };
	struct kprobecov_attach at = { .scope = KPROBECOV_SCOPE_PROCESS };
	struct kprobecov_slot_op op = { 0 };
	struct kprobecov_probe_status st[2];
	struct kprobecov_status_query q = { .first = 0, .count = 2, .status = (uintptr_t)st };
	struct kprobecov_next_unhit nu = { 0 };
	struct kprobecov_caller cl[2];
	struct kprobecov_callers cs = { .probe = P_A, .callers = (uintptr_t)cl, .capacity = 2 };
	struct kprobecov_trace tr = { 0 };

	kpc_probe(&p, KPC_TARGET, "kpc_target_b", 0, KPROBECOV_KIND_FUNC, 0);
	/* ADD_PROBES flags. */
	add.flags = 1;
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_ADD_PROBES, &add));
	/* ADD_PROBES reserved. */
	add.flags = 0, add.reserved = 1;
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_ADD_PROBES, &add));
	/* Neither added a probe. */
	ASSERT_EQ(P_NR, self->c.hdr->nr_probes);
	/* ARM and DISARM reserved. */
	sel.reserved = 1;
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_ARM, &sel));
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_DISARM, &sel));
	/* ATTACH flags and reserved. */
	at.flags = 1;
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_ATTACH, &at));
	at.flags = 0, at.reserved[0] = 1;
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_ATTACH, &at));
	at.reserved[0] = 0, at.reserved[1] = 1;
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_ATTACH, &at));
	/* With everything zero, the same ATTACH works (slot 0). */
	at.reserved[1] = 0;
	ASSERT_OK(ioctl(fd, KPROBECOV_ATTACH, &at));
	ASSERT_EQ(0, at.slot);
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 1);
	/* Slot operations' flags. */
	op.flags = 1;
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_DETACH, &op));
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_RESET, &op));
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_RELEASE, &op));
	/* GET_PROBE_STATUS reserved; zero works. */
	q.reserved = 1;
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_GET_PROBE_STATUS, &q));
	q.reserved = 0;
	ASSERT_OK(ioctl(fd, KPROBECOV_GET_PROBE_STATUS, &q));
	/* NEXT_UNHIT reserved; zero works. */
	nu.reserved = 1;
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_NEXT_UNHIT, &nu));
	nu.reserved = 0;
	ASSERT_OK(ioctl(fd, KPROBECOV_NEXT_UNHIT, &nu));
	/* GET_CALLERS reserved; zero works. */
	cs.reserved = 1;
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_GET_CALLERS, &cs));
	cs.reserved = 0;
	ASSERT_OK(ioctl(fd, KPROBECOV_GET_CALLERS, &cs));
	/* TRACE_START flags. */
	tr.flags = 1;
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_TRACE_START, &tr));
	/* The refused TRACE_START started nothing. */
	ASSERT_ERRNO(ENOENT, ioctl(fd, KPROBECOV_TRACE_STOP));
}

TEST_F(probed, bad_pointers_are_efault)
{
	static const struct { unsigned long cmd; const char *name; } cmds[] = {
		{ KPROBECOV_GET_VERSION, "GET_VERSION" },
		{ KPROBECOV_ADD_PROBES, "ADD_PROBES" },
		{ KPROBECOV_ARM, "ARM" },
		{ KPROBECOV_DISARM, "DISARM" },
		{ KPROBECOV_ATTACH, "ATTACH" },
		{ KPROBECOV_DETACH, "DETACH" },
		{ KPROBECOV_RESET, "RESET" },
		{ KPROBECOV_RELEASE, "RELEASE" },
		{ KPROBECOV_GET_PROBE_STATUS, "GET_PROBE_STATUS" },
		{ KPROBECOV_NEXT_UNHIT, "NEXT_UNHIT" },
		{ KPROBECOV_GET_CALLERS, "GET_CALLERS" },
		{ KPROBECOV_TRACE_START, "TRACE_START" },
	};
	size_t i;

	/* The argument of every command taking one: NULL, then an inaccessible page. */
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		kt_log("%s", cmds[i].name);
		ASSERT_ERRNO(EFAULT, ioctl(self->c.fd, cmds[i].cmd, NULL));
		ASSERT_ERRNO(EFAULT, ioctl(self->c.fd, cmds[i].cmd, self->none));
	}
}

TEST_F(probed, bad_inner_pointers_and_sizes)
{
	int fd = self->c.fd;
	long page = sysconf(_SC_PAGESIZE);
	struct kprobecov_add_probes add = { 0 };
	struct kprobecov_status_query q = { 0 };
	struct kprobecov_callers cs = { .probe = P_A, .capacity = 4 };
	struct kprobecov_probe_status st;
	struct kprobecov_probe *edge;
	char *two;

	/* ADD_PROBES with a NULL array. */
	add.probes = 0, add.count = 1;
	ASSERT_ERRNO(EFAULT, ioctl(fd, KPROBECOV_ADD_PROBES, &add));
	/* ADD_PROBES with an inaccessible array. */
	add.probes = (uintptr_t)self->none;
	ASSERT_ERRNO(EFAULT, ioctl(fd, KPROBECOV_ADD_PROBES, &add));
	/* An array whose second element runs into an inaccessible page. */
	two = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, two);
	ASSERT_OK(mprotect(two + page, page, PROT_NONE));
	edge = (struct kprobecov_probe *)(two + page) - 1;
	kpc_probe(edge, KPC_TARGET, "kpc_target_b", 0, KPROBECOV_KIND_FUNC, 0);
	add.probes = (uintptr_t)edge, add.count = 2;
	ASSERT_ERRNO(EFAULT, ioctl(fd, KPROBECOV_ADD_PROBES, &add));
	/* None of them added a probe. */
	ASSERT_EQ(P_NR, self->c.hdr->nr_probes);

	/* GET_PROBE_STATUS into NULL. */
	q.first = 0, q.count = 1, q.status = 0;
	ASSERT_ERRNO(EFAULT, ioctl(fd, KPROBECOV_GET_PROBE_STATUS, &q));
	/* GET_PROBE_STATUS past the last probe. */
	q.first = P_NR, q.count = 1, q.status = (uintptr_t)&st;
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_GET_PROBE_STATUS, &q));
	/* first + count wrapping around 2^64, either way. */
	q.first = 1, q.count = ~0ULL;
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_GET_PROBE_STATUS, &q));
	q.first = ~0ULL, q.count = 1;
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_GET_PROBE_STATUS, &q));
	/* ARM of a range wrapping around 2^64, either way. */
	ASSERT_ERRNO(EINVAL, kpc_select(fd, KPROBECOV_ARM, KPROBECOV_SELECT_RANGE, 0, 2, ~0ULL, NULL));
	ASSERT_ERRNO(EINVAL, kpc_select(fd, KPROBECOV_ARM, KPROBECOV_SELECT_RANGE, 0, ~0ULL, 1, NULL));

	/* GET_CALLERS into an inaccessible array once there is a caller. */
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 0, NULL));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 1);
	cs.callers = (uintptr_t)self->none;
	ASSERT_ERRNO(EFAULT, ioctl(fd, KPROBECOV_GET_CALLERS, &cs));
	/* GET_CALLERS of a probe index past the last, or far past it. */
	cs.callers = 0, cs.capacity = 0, cs.probe = P_NR;
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_GET_CALLERS, &cs));
	cs.probe = 1ULL << 63;
	ASSERT_ERRNO(EINVAL, ioctl(fd, KPROBECOV_GET_CALLERS, &cs));
}

KT_MAIN(kpc_requirements)
