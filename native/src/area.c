// SPDX-License-Identifier: GPL-2.0
/*
 * Copies out of the mmap'd counter area (layout: linux/kprobecov.h). The
 * kernel keeps writing while these read: every 64-bit value is read with
 * one relaxed atomic load, so no value is torn (a snapshot of many
 * counters is not atomic as a whole, and need not be).
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define KPC_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

static const struct kprobecov_area_header *kpc_hdr(const void *area)
{
	const struct kprobecov_area_header *h = area;

	if (!h || KPC_LOAD(&h->magic) != KPROBECOV_AREA_MAGIC)
		return NULL;
	return h;
}

static uint64_t kpc_words(uint64_t bits)
{
	return bits / 64 + !!(bits % 64);
}

/* Region [off, off + bytes) lies in [sizeof(header), area_bytes) and is 8-aligned. */
static int kpc_region_ok(uint64_t off, uint64_t bytes, uint64_t area_bytes)
{
	return off >= sizeof(struct kprobecov_area_header) && !(off % 8) &&
	       off <= area_bytes && bytes <= area_bytes - off;
}

KPC_EXPORT int kpc_area_check(const void *area, uint64_t area_bytes)
{
	const struct kprobecov_area_header *h = area;
	uint64_t probes, slots, edges;

	if (!h)
		return -EINVAL;
	if (area_bytes < sizeof(*h) || KPC_LOAD(&h->magic) != KPROBECOV_AREA_MAGIC)
		return -EPROTO;
	if (h->abi != KPROBECOV_ABI_VERSION)
		return -EPROTONOSUPPORT;
	probes = h->max_probes;
	slots = h->max_slots;
	if (!probes || !slots || h->edge_bits > KPROBECOV_MAX_EDGE_BITS ||
	    probes > area_bytes / 8 || slots > area_bytes / 8 || KPC_LOAD(&h->nr_probes) > probes)
		return -EPROTO;
	edges = h->edge_bits ? 1ULL << h->edge_bits : 0;
	if (!kpc_region_ok(h->hit_bitmap_offset, kpc_words(probes) * 8, area_bytes) ||
	    slots > area_bytes / 8 / probes ||
	    !kpc_region_ok(h->counters_offset, slots * probes * 8, area_bytes) ||
	    !kpc_region_ok(h->slots_offset, slots * sizeof(struct kprobecov_slot_stats), area_bytes))
		return -EPROTO;
	if (edges && (slots > area_bytes / 4 / edges ||
		      !kpc_region_ok(h->edges_offset, slots * edges * 4, area_bytes) ||
		      !kpc_region_ok(h->edge_bitmap_offset, kpc_words(edges) * 8, area_bytes)))
		return -EPROTO;
	if (h->trace_entries && (h->trace_entries >= area_bytes / 8 ||
				 !kpc_region_ok(h->trace_offset, (1 + h->trace_entries) * 8,
						area_bytes)))
		return -EPROTO;
	return 0;
}

KPC_EXPORT int kpc_area_header(const void *area, struct kprobecov_area_header *out)
{
	const struct kprobecov_area_header *h = kpc_hdr(area);
	const uint64_t *src;
	uint64_t *dst = (uint64_t *)out;
	size_t i;

	if (!area || !out)
		return -EINVAL;
	if (!h)
		return -EPROTO;
	src = (const uint64_t *)h;
	for (i = 0; i < sizeof(*out) / 8; i++)
		dst[i] = KPC_LOAD(&src[i]);
	return 0;
}

static void kpc_copy64(uint64_t *dst, const uint64_t *src, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		dst[i] = KPC_LOAD(&src[i]);
}

KPC_EXPORT int64_t kpc_area_read_slot(const void *area, uint64_t slot, uint64_t *out, uint64_t n)
{
	const struct kprobecov_area_header *h = kpc_hdr(area);
	uint64_t nr;

	if (!area || (n && !out))
		return -EINVAL;
	if (!h)
		return -EPROTO;
	if (slot >= h->max_slots)
		return -EINVAL;
	nr = KPC_LOAD(&h->nr_probes);
	if (n > nr)
		n = nr;
	kpc_copy64(out, (const uint64_t *)((const char *)area + h->counters_offset) +
		   slot * h->max_probes, n);
	return n;
}

KPC_EXPORT int64_t kpc_area_read_slot_nonzero(const void *area, uint64_t slot, uint32_t *index,
					      uint64_t *counts, uint64_t capacity)
{
	const struct kprobecov_area_header *h = kpc_hdr(area);
	const uint64_t *c;
	uint64_t nr, i, found = 0;

	if (!area || (capacity && (!index || !counts)))
		return -EINVAL;
	if (!h)
		return -EPROTO;
	if (slot >= h->max_slots)
		return -EINVAL;
	nr = KPC_LOAD(&h->nr_probes);
	c = (const uint64_t *)((const char *)area + h->counters_offset) + slot * h->max_probes;
	for (i = 0; i < nr; i++) {
		uint64_t v = KPC_LOAD(&c[i]);

		if (!v)
			continue;
		if (found < capacity) {
			index[found] = i;
			counts[found] = v;
		}
		found++;
	}
	return found;
}

/* Copy up to nwords of a bitmap of nbits bits at offset in the area. */
static int64_t kpc_read_bitmap(const void *area, uint64_t offset, uint64_t nbits,
			       uint64_t *out, uint64_t nwords)
{
	uint64_t max = kpc_words(nbits);

	if (nwords > max)
		nwords = max;
	kpc_copy64(out, (const uint64_t *)((const char *)area + offset), nwords);
	return nwords;
}

KPC_EXPORT int64_t kpc_area_read_hits(const void *area, uint64_t *out, uint64_t nwords)
{
	const struct kprobecov_area_header *h = kpc_hdr(area);

	if (!area || (nwords && !out))
		return -EINVAL;
	if (!h)
		return -EPROTO;
	return kpc_read_bitmap(area, h->hit_bitmap_offset, h->max_probes, out, nwords);
}

KPC_EXPORT int kpc_area_read_slot_stats(const void *area, uint64_t first, uint64_t count,
					struct kprobecov_slot_stats *out)
{
	const struct kprobecov_area_header *h = kpc_hdr(area);

	if (!area || (count && !out))
		return -EINVAL;
	if (!h)
		return -EPROTO;
	if (first > h->max_slots || count > h->max_slots - first)
		return -EINVAL;
	kpc_copy64((uint64_t *)out,
		   (const uint64_t *)((const char *)area + h->slots_offset +
				      first * sizeof(*out)),
		   count * sizeof(*out) / 8);
	return 0;
}

KPC_EXPORT int64_t kpc_area_read_edges(const void *area, uint64_t slot, uint32_t *out, uint64_t n)
{
	const struct kprobecov_area_header *h = kpc_hdr(area);
	const uint32_t *src;
	uint64_t max, i;

	if (!area || (n && !out))
		return -EINVAL;
	if (!h)
		return -EPROTO;
	if (!h->edge_bits)
		return -ENODATA;
	if (slot >= h->max_slots)
		return -EINVAL;
	max = 1ULL << h->edge_bits;
	if (n > max)
		n = max;
	src = (const uint32_t *)((const char *)area + h->edges_offset) + slot * max;
	for (i = 0; i < n; i++)
		out[i] = KPC_LOAD(&src[i]);
	return n;
}

KPC_EXPORT int64_t kpc_area_read_edge_bitmap(const void *area, uint64_t *out, uint64_t nwords)
{
	const struct kprobecov_area_header *h = kpc_hdr(area);

	if (!area || (nwords && !out))
		return -EINVAL;
	if (!h)
		return -EPROTO;
	if (!h->edge_bits)
		return -ENODATA;
	return kpc_read_bitmap(area, h->edge_bitmap_offset, 1ULL << h->edge_bits, out, nwords);
}

KPC_EXPORT int64_t kpc_area_read_trace(const void *area, uint64_t *out, uint64_t n)
{
	const struct kprobecov_area_header *h = kpc_hdr(area);
	const uint64_t *t;
	uint64_t written, copy;

	if (!area || (n && !out))
		return -EINVAL;
	if (!h)
		return -EPROTO;
	if (!h->trace_entries)
		return -ENODATA;
	t = (const uint64_t *)((const char *)area + h->trace_offset);
	written = KPC_LOAD(&t[0]);
	copy = written < n ? written : n;
	if (copy > h->trace_entries)
		copy = h->trace_entries;
	kpc_copy64(out, t + 1, copy);
	return written > INT64_MAX ? INT64_MAX : (int64_t)written;
}

KPC_EXPORT int kpc_area_trace_reset(void *area)
{
	const struct kprobecov_area_header *h = kpc_hdr(area);

	if (!area)
		return -EINVAL;
	if (!h)
		return -EPROTO;
	if (!h->trace_entries)
		return -ENODATA;
	__atomic_store_n((uint64_t *)((char *)area + h->trace_offset), 0, __ATOMIC_RELAXED);
	return 0;
}

KPC_EXPORT int kpc_area_ack(void *area, uint64_t *events)
{
	struct kprobecov_area_header *h = area;
	uint64_t ev;

	if (!area)
		return -EINVAL;
	if (!kpc_hdr(area))
		return -EPROTO;
	ev = __atomic_load_n(&h->new_events, __ATOMIC_ACQUIRE);
	__atomic_store_n(&h->new_events_seen, ev, __ATOMIC_RELEASE);
	if (events)
		*events = ev;
	return 0;
}
