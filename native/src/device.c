// SPDX-License-Identifier: GPL-2.0
/*
 * One thin function per ioctl of /dev/kprobecov. Each checks what the ABI
 * would reject anyway (so misuse is caught without a device), fills the
 * ioctl's struct with every reserved field zero, and returns -errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

static int kpc_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, cmd, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : ret;
}

KPC_EXPORT int kpc_dev_open(const char *path)
{
	int fd = open(path ? path : KPC_DEV_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

KPC_EXPORT int kpc_dev_close(int fd)
{
	if (fd < 0)
		return -EBADF;
	/* Linux releases the fd even when close() fails: never retry. */
	return close(fd) ? -errno : 0;
}

KPC_EXPORT int kpc_dev_inherit(int fd, int on)
{
	int flags;

	if (fd < 0)
		return -EBADF;
	flags = fcntl(fd, F_GETFD);
	if (flags < 0)
		return -errno;
	flags = on ? flags & ~FD_CLOEXEC : flags | FD_CLOEXEC;
	return fcntl(fd, F_SETFD, flags) ? -errno : 0;
}

KPC_EXPORT int kpc_dev_dup(int fd)
{
	int copy;

	if (fd < 0)
		return -EBADF;
	copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return copy < 0 ? -errno : copy;
}

KPC_EXPORT int kpc_dev_version(int fd, struct kprobecov_version *out)
{
	if (fd < 0)
		return -EBADF;
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	return kpc_ioctl(fd, KPROBECOV_GET_VERSION, out);
}

KPC_EXPORT int kpc_dev_init(int fd, uint64_t max_probes, uint64_t max_slots,
			    uint64_t edge_bits, uint64_t trace_entries, uint64_t flags,
			    uint64_t *area_bytes)
{
	struct kprobecov_init in;
	int ret;

	if (fd < 0)
		return -EBADF;
	if (!max_probes || !max_slots || edge_bits > KPROBECOV_MAX_EDGE_BITS ||
	    (flags & ~KPROBECOV_INIT_CALLERS))
		return -EINVAL;
	memset(&in, 0, sizeof(in));
	in.max_probes = max_probes;
	in.max_slots = max_slots;
	in.edge_bits = edge_bits;
	in.trace_entries = trace_entries;
	in.flags = flags;
	ret = kpc_ioctl(fd, KPROBECOV_INIT, &in);
	if (!ret && area_bytes)
		*area_bytes = in.area_bytes;
	return ret;
}

KPC_EXPORT int kpc_dev_map(int fd, uint64_t area_bytes, void **area)
{
	void *p;

	if (fd < 0)
		return -EBADF;
	if (!area || !area_bytes || area_bytes > SIZE_MAX)
		return -EINVAL;
	p = mmap(NULL, area_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*area = p;
	return 0;
}

KPC_EXPORT int kpc_dev_unmap(void *area, uint64_t area_bytes)
{
	if (!area || !area_bytes || area_bytes > SIZE_MAX)
		return -EINVAL;
	return munmap(area, area_bytes) ? -errno : 0;
}

KPC_EXPORT int kpc_dev_add_probes(int fd, struct kprobecov_probe *specs, uint64_t count,
				  struct kprobecov_add_probes *out)
{
	struct kprobecov_add_probes sum;
	uint64_t done = 0;
	int ret = 0;

	if (fd < 0)
		return -EBADF;
	if (!specs || !count || !out)
		return -EINVAL;
	memset(&sum, 0, sizeof(sum));
	sum.probes = (uintptr_t)specs;
	while (done < count) {
		struct kprobecov_add_probes a;
		uint64_t n = count - done;

		if (n > KPROBECOV_MAX_BATCH)
			n = KPROBECOV_MAX_BATCH;
		memset(&a, 0, sizeof(a));
		a.probes = (uintptr_t)(specs + done);
		a.count = n;
		ret = kpc_ioctl(fd, KPROBECOV_ADD_PROBES, &a);
		if (ret)
			break;
		if (!done)
			sum.first_index = a.first_index;
		sum.registered += a.registered;
		sum.pending += a.pending;
		sum.failed += a.failed;
		done += n;
	}
	sum.count = done;
	*out = sum;
	return ret;
}

static int kpc_dev_select(int fd, unsigned long cmd, uint32_t how, uint32_t group,
			  uint64_t first, uint64_t count, uint64_t *changed)
{
	struct kprobecov_select s;
	int ret;

	if (fd < 0)
		return -EBADF;
	switch (how) {
	case KPROBECOV_SELECT_ALL:
		if (group || first || count)
			return -EINVAL;
		break;
	case KPROBECOV_SELECT_RANGE:
		if (group || first + count < first)
			return -EINVAL;
		break;
	case KPROBECOV_SELECT_GROUP:
		if (first || count)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	memset(&s, 0, sizeof(s));
	s.how = how;
	s.group = group;
	s.first = first;
	s.count = count;
	ret = kpc_ioctl(fd, cmd, &s);
	if (!ret && changed)
		*changed = s.changed;
	return ret;
}

KPC_EXPORT int kpc_dev_arm(int fd, uint32_t how, uint32_t group, uint64_t first,
			   uint64_t count, uint64_t *changed)
{
	return kpc_dev_select(fd, KPROBECOV_ARM, how, group, first, count, changed);
}

KPC_EXPORT int kpc_dev_disarm(int fd, uint32_t how, uint32_t group, uint64_t first,
			      uint64_t count, uint64_t *changed)
{
	return kpc_dev_select(fd, KPROBECOV_DISARM, how, group, first, count, changed);
}

KPC_EXPORT int kpc_dev_attach(int fd, uint64_t pid, uint32_t scope, uint64_t sample_id,
			      uint64_t *slot)
{
	struct kprobecov_attach a;
	int ret;

	if (fd < 0)
		return -EBADF;
	if (!slot || scope < KPROBECOV_SCOPE_THREAD || scope > KPROBECOV_SCOPE_GLOBAL ||
	    (scope == KPROBECOV_SCOPE_GLOBAL && pid))
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	a.pid = pid;
	a.scope = scope;
	a.sample_id = sample_id;
	ret = kpc_ioctl(fd, KPROBECOV_ATTACH, &a);
	if (!ret)
		*slot = a.slot;
	return ret;
}

static int kpc_dev_slot_op(int fd, unsigned long cmd, uint64_t slot)
{
	struct kprobecov_slot_op op;

	if (fd < 0)
		return -EBADF;
	memset(&op, 0, sizeof(op));
	op.slot = slot;
	return kpc_ioctl(fd, cmd, &op);
}

KPC_EXPORT int kpc_dev_detach(int fd, uint64_t slot)
{
	return kpc_dev_slot_op(fd, KPROBECOV_DETACH, slot);
}

KPC_EXPORT int kpc_dev_reset(int fd, uint64_t slot)
{
	return kpc_dev_slot_op(fd, KPROBECOV_RESET, slot);
}

KPC_EXPORT int kpc_dev_release(int fd, uint64_t slot)
{
	return kpc_dev_slot_op(fd, KPROBECOV_RELEASE, slot);
}

KPC_EXPORT int kpc_dev_probe_status(int fd, uint64_t first, uint64_t count,
				    struct kprobecov_probe_status *out)
{
	struct kprobecov_status_query q;

	if (fd < 0)
		return -EBADF;
	if ((count && !out) || first + count < first)
		return -EINVAL;
	memset(&q, 0, sizeof(q));
	q.first = first;
	q.count = count;
	q.status = (uintptr_t)out;
	return kpc_ioctl(fd, KPROBECOV_GET_PROBE_STATUS, &q);
}

KPC_EXPORT int kpc_dev_next_unhit(int fd, uint64_t from, uint64_t kinds, uint64_t skip,
				  uint64_t *index)
{
	struct kprobecov_next_unhit u;
	int ret;

	if (fd < 0)
		return -EBADF;
	if (!index)
		return -EINVAL;
	memset(&u, 0, sizeof(u));
	u.from = from;
	u.kinds = kinds;
	u.skip = skip;
	ret = kpc_ioctl(fd, KPROBECOV_NEXT_UNHIT, &u);
	if (!ret)
		*index = u.index;
	return ret;
}

KPC_EXPORT int kpc_dev_callers(int fd, uint64_t probe, struct kprobecov_caller *out,
			       uint64_t capacity, uint64_t *count, uint64_t *overflow)
{
	struct kprobecov_callers c;
	int ret;

	if (fd < 0)
		return -EBADF;
	if ((capacity && !out) || !count)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	c.probe = probe;
	c.callers = (uintptr_t)out;
	c.capacity = capacity;
	ret = kpc_ioctl(fd, KPROBECOV_GET_CALLERS, &c);
	if (!ret) {
		*count = c.count;
		if (overflow)
			*overflow = c.overflow;
	}
	return ret;
}

KPC_EXPORT int kpc_dev_trace_start(int fd, uint64_t tid)
{
	struct kprobecov_trace t;

	if (fd < 0)
		return -EBADF;
	memset(&t, 0, sizeof(t));
	t.tid = tid;
	return kpc_ioctl(fd, KPROBECOV_TRACE_START, &t);
}

KPC_EXPORT int kpc_dev_trace_stop(int fd)
{
	if (fd < 0)
		return -EBADF;
	return kpc_ioctl(fd, KPROBECOV_TRACE_STOP, NULL);
}

KPC_EXPORT int kpc_dev_poll(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int ret;

	if (fd < 0)
		return -EBADF;
	if (timeout_ms < -1)
		return -EINVAL;
	ret = poll(&p, 1, timeout_ms);
	if (ret < 0)
		return -errno;
	if (!ret)
		return 0;
	if (p.revents & POLLNVAL)
		return -EBADF;
	if (p.revents & POLLERR)
		return -EBADFD;	/* the collector has no area yet */
	return (p.revents & POLLIN) ? 1 : 0;
}
