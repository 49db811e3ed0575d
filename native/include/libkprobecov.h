/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libkprobecov: the C layer between the TypeScript packages (through ffi-rs)
 * and the kernel.
 *
 * Two independent parts:
 *  - kpc_dev_* / kpc_area_*: one thin function per ioctl of /dev/kprobecov
 *    (see linux/kprobecov.h for the ABI and the fd's state machine) and
 *    helpers that copy counters out of the mmap'd area in one call.
 *  - kpc_debuginfo_*: reads a module (.ko, ET_REL), a vmlinux or a separate
 *    debug file with elfutils and returns ONE little-endian blob (layout
 *    below) that TypeScript reads with a DataView.
 *
 * Conventions for every function:
 *  - Errors are returned as a negative errno (-EINVAL, ...). Nothing exits,
 *    prints or sets errno for the caller to read.
 *  - Sizes are in bytes, counts in elements, offsets in bytes.
 *  - Pointers passed in are borrowed for the duration of the call only,
 *    unless a function says otherwise.
 *  - Functions are thread-safe as long as two threads do not use the same
 *    output buffer; kpc_last_error() is per thread.
 */
#ifndef LIBKPROBECOV_H
#define LIBKPROBECOV_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kprobecov.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KPC_DEV_PATH	"/dev/kprobecov"

/* ------------------------------------------------------------------------
 * Device: one function per ioctl. All take the fd from kpc_dev_open() and
 * return 0 (or a documented non-negative value) on success, -errno on error.
 * Besides the kernel's errors (documented in linux/kprobecov.h), every
 * function fails with -EBADF for a negative fd and -EINVAL for a NULL
 * pointer it needs or an argument the ABI rejects anyway (checked before
 * the ioctl, so these need no device).
 * ------------------------------------------------------------------------ */

/*
 * Open the device read-write (O_CLOEXEC). path: NULL means KPC_DEV_PATH.
 * Returns the fd (>= 0) or -errno: -ENOENT when the module is not loaded,
 * -EACCES without permission. One fd is one collector; close it with
 * kpc_dev_close() (or close()) to unregister its probes.
 */
int kpc_dev_open(const char *path);

/* Close the fd. Returns 0 or -errno. */
int kpc_dev_close(int fd);

/*
 * Whether processes this one executes inherit the fd: on != 0 clears
 * FD_CLOEXEC, 0 sets it. Lets the workers of a test runner attach
 * themselves to the runner's collector (one collector, one fd shared across
 * fork and exec). Returns 0 or -errno (-EBADF: not an open fd).
 */
int kpc_dev_inherit(int fd, int on);

/*
 * A second fd (O_CLOEXEC) of the same collector: closing one leaves the
 * other working. Returns the new fd or -errno.
 */
int kpc_dev_dup(int fd);

/* KPROBECOV_GET_VERSION: the ABI version and the module's limits into *out. */
int kpc_dev_version(int fd, struct kprobecov_version *out);

/*
 * KPROBECOV_INIT: size the collector (once per fd). max_probes and max_slots
 * must be >= 1, edge_bits <= KPROBECOV_MAX_EDGE_BITS (0: no edge counters),
 * trace_entries is the capacity of the ordered trace (0: none), flags are
 * KPROBECOV_INIT_* (e.g. KPROBECOV_INIT_CALLERS to record callers).
 * *area_bytes (out, may be NULL) receives the size to pass to kpc_dev_map().
 */
int kpc_dev_init(int fd, uint64_t max_probes, uint64_t max_slots,
		 uint64_t edge_bits, uint64_t trace_entries, uint64_t flags,
		 uint64_t *area_bytes);

/*
 * mmap the whole counter area (area_bytes from kpc_dev_init) read-write,
 * shared. *area (out) receives its address; the caller owns the mapping
 * and releases it with kpc_dev_unmap() (it stays valid after close()).
 */
int kpc_dev_map(int fd, uint64_t area_bytes, void **area);

/* munmap an area mapped by kpc_dev_map(). */
int kpc_dev_unmap(void *area, uint64_t area_bytes);

/*
 * KPROBECOV_ADD_PROBES for any number of probes: issues one ioctl per
 * KPROBECOV_MAX_BATCH specs. specs[count] (in/out) gets each probe's error
 * and state written back. *out (out) receives the sums over the batches:
 * first_index of specs[0], registered, pending, failed, and in `count` the
 * number of specs added; `probes` points at specs.
 * If a later batch fails, the earlier batches stay added: the error is
 * returned and out->count tells how many specs were added (indices
 * first_index .. first_index + count - 1). Not atomic against other
 * threads adding probes on the same fd at the same time.
 */
int kpc_dev_add_probes(int fd, struct kprobecov_probe *specs, uint64_t count,
		       struct kprobecov_add_probes *out);

/*
 * KPROBECOV_ARM / KPROBECOV_DISARM. how: enum kprobecov_select_how; group is
 * used by SELECT_GROUP only, first and count by SELECT_RANGE only (the
 * unused ones must be 0). *changed (out, may be NULL): probes whose wanted
 * state changed.
 */
int kpc_dev_arm(int fd, uint32_t how, uint32_t group, uint64_t first,
		uint64_t count, uint64_t *changed);
int kpc_dev_disarm(int fd, uint32_t how, uint32_t group, uint64_t first,
		   uint64_t count, uint64_t *changed);

/*
 * KPROBECOV_ATTACH: count the hits of pid (0: the caller; must be 0 for
 * KPROBECOV_SCOPE_GLOBAL) with scope enum kprobecov_scope into a new slot.
 * *slot (out) receives the slot index. sample_id: any value, shown in the
 * slot's stats.
 */
int kpc_dev_attach(int fd, uint64_t pid, uint32_t scope, uint64_t sample_id,
		   uint64_t *slot);

/* KPROBECOV_DETACH / KPROBECOV_RESET / KPROBECOV_RELEASE of one slot
 * (RESET also accepts KPROBECOV_ALL_SLOTS). */
int kpc_dev_detach(int fd, uint64_t slot);
int kpc_dev_reset(int fd, uint64_t slot);
int kpc_dev_release(int fd, uint64_t slot);

/*
 * KPROBECOV_GET_PROBE_STATUS: states of probes [first, first + count) into
 * out[count] (8 bytes each). count 0 is a no-op.
 */
int kpc_dev_probe_status(int fd, uint64_t first, uint64_t count,
			 struct kprobecov_probe_status *out);

/*
 * KPROBECOV_NEXT_UNHIT: first never-hit probe at or after `from` whose kind
 * is in `kinds` (mask of 1 << enum kprobecov_kind, 0: any), after skipping
 * `skip` matches. *index (out) receives it. -ENOENT: none left.
 */
int kpc_dev_next_unhit(int fd, uint64_t from, uint64_t kinds, uint64_t skip,
		       uint64_t *index);

/*
 * KPROBECOV_GET_CALLERS of the KIND_FUNC probe `probe` into out[capacity]
 * (out may be NULL when capacity is 0). *count (out): callers recorded,
 * which may exceed capacity (call again with a larger buffer); *overflow
 * (out, may be NULL): calls from callers beyond the module's max_callers.
 */
int kpc_dev_callers(int fd, uint64_t probe, struct kprobecov_caller *out,
		    uint64_t capacity, uint64_t *count, uint64_t *overflow);

/* KPROBECOV_TRACE_START for thread tid (0: the caller) / KPROBECOV_TRACE_STOP. */
int kpc_dev_trace_start(int fd, uint64_t tid);
int kpc_dev_trace_stop(int fd);

/*
 * Wait up to timeout_ms milliseconds (-1: forever, 0: don't wait) until the
 * area's new_events differs from new_events_seen. Returns 1 when there is
 * new coverage, 0 on timeout, -EBADFD before KPROBECOV_INIT, -EINTR when
 * interrupted, other -errno from poll(). Acknowledge with kpc_area_ack(),
 * or poll returns 1 again at once.
 */
int kpc_dev_poll(int fd, int timeout_ms);

/* ------------------------------------------------------------------------
 * The mmap'd counter area (layout in linux/kprobecov.h). These read a
 * consistent copy of each 64-bit counter (no torn values) while the kernel
 * keeps counting. They check the area's magic and the indices against the
 * header, not against the mapping's size: call kpc_area_check() once after
 * kpc_dev_map(). -EINVAL: NULL area or out buffer, index out of range;
 * -EPROTO: not a kprobecov area.
 * ------------------------------------------------------------------------ */

/*
 * Check that area[area_bytes] holds a kprobecov area of this ABI whose
 * regions all lie inside it. -EPROTO: bad magic or layout;
 * -EPROTONOSUPPORT: another ABI version.
 */
int kpc_area_check(const void *area, uint64_t area_bytes);

/* Copy the area header into *out. */
int kpc_area_header(const void *area, struct kprobecov_area_header *out);

/*
 * Copy the hit counters of probes [0, n) of `slot` into out[n]; n is
 * clipped to the header's nr_probes. Returns the number copied.
 */
int64_t kpc_area_read_slot(const void *area, uint64_t slot, uint64_t *out,
			   uint64_t n);

/*
 * The non-zero counters of `slot`, in probe order: probe indices into
 * index[capacity], their counts into counts[capacity]. Returns how many
 * probes of the slot have a non-zero counter, which may exceed capacity
 * (then only the first capacity are written).
 */
int64_t kpc_area_read_slot_nonzero(const void *area, uint64_t slot,
				   uint32_t *index, uint64_t *counts,
				   uint64_t capacity);

/*
 * Copy the collector-wide "ever hit" bitmap: words [0, nwords) into
 * out[nwords], nwords clipped to ceil(max_probes / 64). Returns the number
 * of words copied.
 */
int64_t kpc_area_read_hits(const void *area, uint64_t *out, uint64_t nwords);

/* Copy the stats of slots [first, first + count) into out[count]. */
int kpc_area_read_slot_stats(const void *area, uint64_t first, uint64_t count,
			     struct kprobecov_slot_stats *out);

/*
 * Copy the edge counters [0, n) of `slot` into out[n], n clipped to
 * 1 << edge_bits. Returns the number copied; -ENODATA: no edges (INIT
 * with edge_bits 0).
 */
int64_t kpc_area_read_edges(const void *area, uint64_t slot, uint32_t *out,
			    uint64_t n);

/* The edge "ever hit" bitmap, like kpc_area_read_hits(). -ENODATA: no edges. */
int64_t kpc_area_read_edge_bitmap(const void *area, uint64_t *out,
				  uint64_t nwords);

/*
 * Copy the ordered trace: probe indices in hit order into out[n]. Returns
 * the number of entries the kernel wrote since the last reset (may exceed
 * n and trace_entries; min of the three are copied). -ENODATA: no trace.
 */
int64_t kpc_area_read_trace(const void *area, uint64_t *out, uint64_t n);

/* Restart the trace at entry 0. -ENODATA: no trace. */
int kpc_area_trace_reset(void *area);

/*
 * Acknowledge new coverage: new_events_seen = new_events, so that
 * kpc_dev_poll() waits again. *events (out, may be NULL): new_events.
 */
int kpc_area_ack(void *area, uint64_t *events);

/* ------------------------------------------------------------------------
 * KCOV, on a kernel built with CONFIG_KCOV (see the kernel's
 * Documentation/dev-tools/kcov.rst). The ABI: open KPC_KCOV_PATH (root,
 * debugfs mounted), KCOV_INIT_TRACE with the buffer's size in 64-bit
 * words, mmap the buffer, KCOV_ENABLE from the thread to trace, and
 * KCOV_DISABLE from that same thread. KCOV is per thread: only the thread
 * that enabled it is traced, never its other threads or its children, and
 * a thread has at most one KCOV fd enabled at a time. Word 0 of the buffer
 * is the number of records after it; the kernel stops writing, silently,
 * when the buffer is full. A record is, in KCOV_TRACE_PC mode, one PC: the
 * return address of a __sanitizer_cov_trace_pc call (see struct
 * kpc_blob_kcov_site); in KCOV_TRACE_CMP mode four words: type (KCOV_CMP_*
 * bits), arg1, arg2, PC. PCs are "canonical": the running address minus
 * the kernel's KASLR offset (modules included), 0 without KASLR. Code that
 * runs in interrupts is not recorded.
 * ------------------------------------------------------------------------ */

#define KPC_KCOV_PATH		"/sys/kernel/debug/kcov"
#define KPC_KCOV_TRACE_PC	0	/* KCOV_TRACE_PC */
#define KPC_KCOV_TRACE_CMP	1	/* KCOV_TRACE_CMP */

/*
 * Open KCOV (O_RDWR | O_CLOEXEC); path NULL: KPC_KCOV_PATH. Returns the fd
 * or -errno: -ENOENT when the kernel has no CONFIG_KCOV or debugfs is not
 * mounted, -EACCES without root.
 */
int kpc_kcov_open(const char *path);

/*
 * KCOV_INIT_TRACE: a buffer of `words` 64-bit words (>= 2; a whole number of
 * pages, or kpc_kcov_map() fails with -EINVAL). -EBUSY: done already.
 */
int kpc_kcov_init(int fd, uint64_t words);

/* mmap the whole buffer (words from kpc_kcov_init) into *area. */
int kpc_kcov_map(int fd, uint64_t words, void **area);
int kpc_kcov_unmap(void *area, uint64_t words);

/*
 * KCOV_ENABLE for the calling thread, mode KPC_KCOV_TRACE_PC or _CMP.
 * -EBUSY: the fd traces a thread already, or this thread is traced by
 * another fd; -EINVAL: not initialised and mapped; -ENOTSUPP (524): CMP
 * on a kernel without CONFIG_KCOV_ENABLE_COMPARISONS.
 */
int kpc_kcov_enable(int fd, uint32_t mode);

/* KCOV_DISABLE; from the thread that enabled it (-EINVAL otherwise). */
int kpc_kcov_disable(int fd);

/*
 * A set of KCOV buffers, one per thread it enabled, drained together into
 * one table: the distinct PCs (TRACE_PC) or comparisons (TRACE_CMP) that
 * fall in the address ranges given, with how often each was recorded. For a
 * process whose kernel work spreads over threads (Node: its main thread and
 * libuv's thread pool). Threads call the enable functions themselves (KCOV's
 * rule); any thread drains and takes. Functions on one set are serialised
 * by a lock inside it.
 *
 * Draining a buffer reads its records and starts it again at 0. A thread
 * that is inside a system call at that moment may have a few records read
 * twice or lost; a thread that is not (the caller; threads between jobs)
 * is drained exactly.
 */
struct kpc_kcov_set;

#define KPC_KCOV_SET_MAX	256	/* threads per set */

/* struct kpc_kcov_stats: what kpc_kcov_set_drain() found. */
struct kpc_kcov_stats {
	__u64 threads;		/* buffers in the set (threads enabled so far) */
	__u64 records;		/* records read from the buffers by this drain */
	__u64 in_ranges;	/* of them, in the ranges (added to the table) */
	__u64 overflows;	/* buffers found full: records past the end were lost */
	__u64 max_fill;		/* records in the fullest buffer */
	__u64 reserved[3];
};

/* One distinct comparison of a TRACE_CMP set. */
struct kpc_kcov_cmp {
	__u64 type;		/* KCOV_CMP_SIZE(log2 bytes) | KCOV_CMP_CONST (arg1
				 * is the compile-time constant) */
	__u64 arg1;
	__u64 arg2;
	__u64 pc;		/* canonical return address of the callback */
	__u64 count;		/* times recorded */
};

/*
 * A new, empty set for mode KPC_KCOV_TRACE_PC or _CMP, opening path (NULL:
 * KPC_KCOV_PATH) for each thread. Opens it once to check: -ENOENT, -EACCES
 * as kpc_kcov_open(). Release with kpc_kcov_set_free().
 */
int kpc_kcov_set_new(const char *path, uint32_t mode, struct kpc_kcov_set **out);

/*
 * Trace the calling thread into a new buffer of `words` words (>= 2, rounded
 * up to whole pages; for CMP, 1 + 4 per comparison). Returns its buffer
 * index (>= 0). A thread
 * the set traces already gets its index back (no error). -EBUSY: another
 * KCOV fd traces this thread; -ENOSPC: KPC_KCOV_SET_MAX threads; other
 * errors as kpc_kcov_init/map/enable.
 */
int kpc_kcov_set_enable(struct kpc_kcov_set *s, uint64_t words);

/*
 * For a thread pool: called at once by n jobs of the pool, each call waits
 * until n calls are inside (or timeout_ms have passed since the first),
 * so that the n calls hold n distinct threads, then traces its thread as
 * kpc_kcov_set_enable() does. Returns what kpc_kcov_set_enable() returns;
 * kpc_kcov_set_info() tells how many threads the set holds afterwards.
 */
int kpc_kcov_set_enable_barrier(struct kpc_kcov_set *s, uint64_t words, uint32_t n,
				uint32_t timeout_ms);

/*
 * Stop tracing the calling thread (KCOV_DISABLE); its buffer stays in the
 * set, drained with the others. -ENOENT: the set does not trace it.
 */
int kpc_kcov_set_disable(struct kpc_kcov_set *s);

/* kpc_kcov_set_disable() with the barrier of kpc_kcov_set_enable_barrier(). */
int kpc_kcov_set_disable_barrier(struct kpc_kcov_set *s, uint32_t n, uint32_t timeout_ms);

/*
 * Read every buffer into the set's table and restart the buffers: each
 * record whose PC lies in one of the nranges ranges [ranges[2i],
 * ranges[2i + 1]) (canonical addresses; any order, may be 0 ranges) is
 * counted. *stats (out, may be NULL). Returns the number of distinct
 * entries now in the table.
 */
int64_t kpc_kcov_set_drain(struct kpc_kcov_set *s, const uint64_t *ranges, uint32_t nranges,
			   struct kpc_kcov_stats *stats);

/*
 * A thread of the set's own (not traced: KCOV is per thread) that drains
 * every interval_ms milliseconds, keeping the records in ranges (as
 * kpc_kcov_set_drain; at most KPC_KCOV_DRAINER_RANGES), so that a thread
 * that runs for long without a drain (a synchronous stretch of JavaScript)
 * does not fill its buffer. Its drains count in the stats of the next
 * kpc_kcov_set_drain(). A drain while a thread is inside a system call may
 * read a few of its records twice. Called again: new ranges and interval;
 * interval_ms 0 stops the thread (kpc_kcov_set_free() does too).
 */
#define KPC_KCOV_DRAINER_RANGES	16
int kpc_kcov_set_drainer(struct kpc_kcov_set *s, const uint64_t *ranges, uint32_t nranges,
			 uint32_t interval_ms);

/*
 * TRACE_PC sets: the table's distinct PCs, ascending, into pcs[capacity]
 * and their counts into counts[capacity], and empty the table. Returns how
 * many; -ENOSPC (table kept) when capacity is smaller; -EINVAL: a CMP set.
 */
int64_t kpc_kcov_set_take_pcs(struct kpc_kcov_set *s, uint64_t *pcs, uint64_t *counts,
			      uint64_t capacity);

/*
 * TRACE_CMP sets: the table's distinct comparisons, ordered by (pc, type,
 * arg1, arg2), into out[capacity], and empty the table. Returns how many;
 * -ENOSPC (table kept) when capacity is smaller; -EINVAL: a PC set.
 */
int64_t kpc_kcov_set_take_cmps(struct kpc_kcov_set *s, struct kpc_kcov_cmp *out,
			       uint64_t capacity);

/* Threads the set traces now (enabled and not disabled) into *enabled, and
 * buffers it holds into *threads; either may be NULL. */
int kpc_kcov_set_info(struct kpc_kcov_set *s, uint64_t *enabled, uint64_t *threads);

/*
 * Disable the calling thread if the set traces it, unmap and close every
 * buffer. Other threads the set traced keep being traced by the kernel into
 * their (now unreachable) buffers until they exit, and cannot enable KCOV
 * again: disable them first (kpc_kcov_set_disable_barrier). NULL is a no-op.
 */
void kpc_kcov_set_free(struct kpc_kcov_set *s);

/* ------------------------------------------------------------------------
 * Debug info: one blob per file.
 * ------------------------------------------------------------------------ */

/* kpc_debuginfo_load() flags. */
#define KPC_DI_NO_BRANCHES	(1U << 0)	/* skip capstone: branches[] empty */
#define KPC_DI_NO_INLINES	(1U << 1)	/* skip inlined calls: inlines[] empty */
#define KPC_DI_FLAGS_ALL	(KPC_DI_NO_BRANCHES | KPC_DI_NO_INLINES)

/*
 * Read path (a .ko, a vmlinux or any ELF with DWARF) and build the blob.
 * The DWARF may be in the file itself or in a separate debug file that
 * elfutils finds the standard way (build-id under /usr/lib/debug, or
 * .gnu_debuglink). For a .ko (ET_REL) relocations are applied to the DWARF
 * as the kernel would apply them.
 * flags: KPC_DI_* (others: -EINVAL).
 * *blob (out) receives a malloc'd buffer of *len (out) bytes, owned by the
 * caller: release it with kpc_free(). The blob's first 16 bytes hold magic,
 * version and header size, bytes 16..23 the total size, so a caller that
 * only has the pointer can learn the length.
 * Errors: -ENOENT/-EACCES/... opening the file; -ENOEXEC not an ELF file or
 * not x86-64; -ENODATA no DWARF found (rebuild with CONFIG_DEBUG_INFO=y or
 * -g); -ESTALE the separate debug file's build-id differs; -ENOMEM;
 * -EFBIG a table would exceed 2^32 - 2 entries; -EIO a libelf/libdw failure.
 * kpc_last_error() describes the failure.
 */
int kpc_debuginfo_load(const char *path, uint32_t flags, uint8_t **blob,
		       size_t *len);

/*
 * Like kpc_debuginfo_load() with the DWARF taken from debug_path (e.g. a
 * distribution's -dbg/-dbgsym file, or objcopy --only-keep-debug output)
 * when path has none of its own; debug_path NULL behaves like
 * kpc_debuginfo_load(). debug_path must exist, and when both files have a
 * build-id they must be equal (-ESTALE otherwise). Symbols, code bytes,
 * .modinfo and the build-id come from path. A file without code bytes
 * (a debug file alone: its .text is NOBITS) gives a blob with
 * KPC_BLOB_NO_CODE set and no branches.
 */
int kpc_debuginfo_load_split(const char *path, const char *debug_path,
			     uint32_t flags, uint8_t **blob, size_t *len);

/* Free a buffer returned by this library. NULL is a no-op. */
void kpc_free(void *ptr);

/*
 * A NUL-terminated English description of the last failure of a
 * kpc_debuginfo_* call in this thread ("" if none). Valid until the next
 * call in this thread.
 */
const char *kpc_last_error(void);

/* ------------------------------------------------------------------------
 * The blob. All integers little-endian, every table 8-byte aligned, every
 * struct below has no implicit padding (sizes checked at build time).
 *
 *   struct kpc_blob_header               at 0
 *   tables, each at header.<table>.offset (bytes from the blob's start),
 *   header.<table>.count entries of header.<table>.entry_size bytes.
 *   A reader must use entry_size as the stride: later versions may append
 *   fields to an entry (never change existing ones).
 *
 * Strings: a string is a __u32 byte offset into the `strings` table (whose
 * entry_size is 1), NUL-terminated UTF-8 (bytes as found in the ELF file).
 * Offset 0 is the empty string.
 * Files: a `file` field is an index into the `files` table, whose entries
 * are __u32 string offsets of normalised absolute paths (the compilation
 * directory joined with a relative name, "." and ".." removed, symlinks not
 * resolved). File 0 is "" and means unknown.
 * Indices into functions[], sections[] are __u32; KPC_BLOB_NONE means none.
 * Sorting: sections in ELF order; functions by (section, offset, primary
 * before its aliases); lines by (section, section_offset), rows of one
 * address in line-table order; branches and inlines by (function, offset).
 * Each function's lines/branches/inlines are the contiguous runs
 * [first_x, first_x + nr_x).
 * Code built for IBT (-fcf-protection=branch): where the debug info puts a
 * line row, a block start or a branch successor on an ENDBR64 inside a
 * function (an address-taken label), the blob names the instruction past it,
 * where the block's probe goes; a function's own entry ENDBR64 stays at
 * offset 0 (kprobes moves an entry probe past it). Without ENDBR64s nothing
 * differs.
 * ------------------------------------------------------------------------ */

#define KPC_BLOB_MAGIC		0x6f666e696463706bULL	/* "kpcdinfo" */
#define KPC_BLOB_VERSION	1
#define KPC_BLOB_NONE		0xffffffffU

struct kpc_blob_table {
	__u64 offset;		/* bytes from the start of the blob */
	__u32 count;		/* entries */
	__u32 entry_size;	/* bytes per entry (stride) */
};

/* header.flags */
#define KPC_BLOB_REL		(1U << 0) /* ET_REL: a kernel module */
#define KPC_BLOB_SPLIT_DEBUG	(1U << 1) /* DWARF came from a separate file */
#define KPC_BLOB_NO_CODE	(1U << 2) /* no code bytes: branches[] is empty */
#define KPC_BLOB_HAS_BRANCHES	(1U << 3) /* branch discovery ran */
#define KPC_BLOB_HAS_INLINES	(1U << 4) /* inlined calls were collected */
#define KPC_BLOB_HAS_FLOW	(1U << 5) /* block_starts[].from and KPC_LINE_MARKER are set */

struct kpc_blob_header {
	__u64 magic;		/* KPC_BLOB_MAGIC */
	__u32 version;		/* KPC_BLOB_VERSION */
	__u32 header_size;	/* sizeof(struct kpc_blob_header) */
	__u64 blob_size;	/* total bytes */
	__u32 flags;		/* KPC_BLOB_* */
	__u32 elf_type;		/* ET_REL 1, ET_EXEC 2, ET_DYN 3 */
	__u32 elf_machine;	/* EM_X86_64 62 */
	__u32 path;		/* string: the file read, as the caller spelled it */
	__u32 debug_path;	/* string: the file the DWARF came from */
	__u32 module_name;	/* string: .modinfo name= (what the kernel calls the
				 * module, '-' already '_'); "vmlinux" for
				 * ET_EXEC; else the file name up to ".ko" or
				 * ".debug", '-' made '_' */
	__u32 srcversion;	/* string: .modinfo srcversion= ("" if none), equal
				 * to /sys/module/<name>/srcversion */
	__u32 vermagic;		/* string: .modinfo vermagic= ("" if none) */
	__u32 mod_version;	/* string: .modinfo version= ("" if none) */
	__u32 build_id_size;	/* bytes of NT_GNU_BUILD_ID (0: none) */
	__u8 build_id[64];	/* the build-id bytes; compare with the note in
				 * /sys/module/<name>/notes/.note.gnu.build-id */
	__u32 nr_bad_insns;	/* bytes capstone could not decode (skipped) */
	__u32 nr_dwarfless;	/* functions without a DWARF subprogram */
	struct kpc_blob_table strings;		/* char[] */
	struct kpc_blob_table files;		/* __u32 string offsets */
	struct kpc_blob_table sections;		/* struct kpc_blob_section */
	struct kpc_blob_table functions;	/* struct kpc_blob_function */
	struct kpc_blob_table lines;		/* struct kpc_blob_line */
	struct kpc_blob_table branches;		/* struct kpc_blob_branch */
	struct kpc_blob_table inlines;		/* struct kpc_blob_inline */
	struct kpc_blob_table block_starts;	/* struct kpc_blob_block_start (was
						 * reserved: zero in older blobs) */
	struct kpc_blob_table kcov_sites;	/* struct kpc_blob_kcov_site (was
						 * reserved: zero in older blobs) */
};

/*
 * A call to a KCOV callback (__sanitizer_cov_trace_pc, _cmp*, _const_cmp*,
 * _switch) in a file built with -fsanitize-coverage (a kernel with
 * CONFIG_KCOV, module or vmlinux with KCOV_INSTRUMENT). What KCOV records
 * is the callback's return address: the instruction after this call; the
 * call itself is the byte before it (return address - 1), which is how a
 * recorded PC finds its basic block and source line. Found with the
 * branches (absent with KPC_DI_NO_BRANCHES). Sorted by (section,
 * section_offset).
 */
#define KPC_KCOV_SITE_PC	1	/* __sanitizer_cov_trace_pc */
#define KPC_KCOV_SITE_CMP	2	/* __sanitizer_cov_trace_(const_)cmp{1,2,4,8} */
#define KPC_KCOV_SITE_SWITCH	3	/* __sanitizer_cov_trace_switch */
#define KPC_KCOV_SITE_CALL	4	/* any other call: KCOV records its return address
					 * when the callee tail-calls a callback (its last
					 * block is `jmp __sanitizer_cov_trace_pc`); only in
					 * files that have callback sites */
struct kpc_blob_kcov_site {
	__u64 section_offset;	/* of the return address, from the section start */
	__u32 section;		/* sections[] index */
	__u32 function;		/* functions[] index (a primary) holding the call,
				 * or KPC_BLOB_NONE */
	__u32 offset;		/* return address - function symbol */
	__u16 kind;		/* KPC_KCOV_SITE_* */
	__u16 cmp_type;		/* CMP: KCOV_CMP_SIZE(log2 bytes) | KCOV_CMP_CONST,
				 * as KCOV records it; 0 otherwise */
};

/*
 * Where a basic block starts for a reason branches[] does not show: the
 * target of a direct unconditional jump inside the function or from another
 * section (a cold part jumping back into its function), and the
 * instruction after a jmp (direct, indirect, or a return thunk), ret, ud2 or
 * int3. Sorted by (function, offset); duplicates possible (a target of several
 * jumps has one entry per jump). With `from`, they give a function's control
 * flow graph: a block ends in a conditional jump (branches[]), a jmp (its
 * JUMP_TARGET entry), an end that leaves or traps (the next AFTER_END entry),
 * or falls into the next block; a function's last block leaves it. Together with
 * the branch successors and the function entry they split a function into
 * basic blocks.
 */
#define KPC_BS_JUMP_TARGET	1	/* the target of a direct jmp */
#define KPC_BS_AFTER_END	2	/* after a direct jmp, a ret, ud2 or int3: no fall-in */
#define KPC_BS_AFTER_INDIRECT	3	/* after an indirect jmp (the function jumps
					 * through a register or table: to places not known) */
/* struct kpc_blob_block_start.from of a KPC_BS_AFTER_END start: how the code before it ends */
#define KPC_BS_END_JUMP		1	/* a direct jmp inside the function (its target is a
					 * KPC_BS_JUMP_TARGET start whose from names it) */
#define KPC_BS_END_LEAVE	2	/* ret, or a jmp out of the function (a tail call, a
					 * jump into another section): the function is left */
#define KPC_BS_END_TRAP		3	/* ud2 or int3 */
struct kpc_blob_block_start {
	__u32 function;		/* functions[] index */
	__u32 offset;		/* bytes from the function symbol */
	__u32 kind;		/* KPC_BS_*; absent (entry_size 8) in older blobs */
	__u32 from;		/* KPC_BS_JUMP_TARGET: offset of the jmp + 1, from the
				 * symbol of the function holding it: this one, or
				 * with KPC_BS_FROM_OTHER its cold part (a target in
				 * the function) or the function (a target in its
				 * cold part). KPC_BS_AFTER_END: KPC_BS_END_*.
				 * Otherwise 0; 0 in older blobs (not known) */
};
#define KPC_BS_FROM_OTHER	(1U << 31)

/* One executable section (SHF_EXECINSTR) of the ELF file. */
#define KPC_SEC_NOBITS		(1U << 0) /* no bytes in this file (debug-only copy) */
#define KPC_SEC_INIT		(1U << 1) /* .init.text*: freed after module init */
#define KPC_SEC_EXIT		(1U << 2) /* .exit.text*: only runs on unload */
struct kpc_blob_section {
	__u32 name;		/* string: ".text", ".init.text", ".text.unlikely", ... */
	__u32 flags;		/* KPC_SEC_* */
	__u32 elf_index;	/* section header index in the ELF file */
	__u32 nr_functions;	/* functions[] in this section */
	__u64 size;		/* bytes */
	__u64 address;		/* sh_addr from the file (0 in a .ko) */
};

/* struct kpc_blob_function.flags */
#define KPC_FN_GLOBAL		(1U << 0) /* STB_GLOBAL symbol */
#define KPC_FN_WEAK		(1U << 1) /* STB_WEAK symbol (neither: static, STB_LOCAL) */
#define KPC_FN_ALIAS		(1U << 2) /* same code as functions[alias_of] (e.g.
					   * init_module): no lines/branches of its own */
#define KPC_FN_CLONE		(1U << 3) /* compiler clone: .isra/.constprop/.part... */
#define KPC_FN_COLD		(1U << 4) /* split-off cold part (foo.cold): see parent */
#define KPC_FN_DECLARED_INLINE	(1U << 5) /* source declares it inline */
#define KPC_FN_NO_DWARF		(1U << 6) /* no DWARF subprogram covers it */
#define KPC_FN_AMBIGUOUS	(1U << 7) /* another function of this file has the
					   * same symbol name: "mod:name" is ambiguous */
struct kpc_blob_function {
	__u32 name;		/* string: the ELF symbol (use for kprobes, with
				 * the module name) e.g. "foo", "foo.isra.0" */
	__u32 source_name;	/* string: DWARF name of the source function
				 * ("foo"), "" without DWARF */
	__u32 section;		/* sections[] index */
	__u32 flags;		/* KPC_FN_* */
	__u64 offset;		/* symbol value: bytes from the section start */
	__u64 size;		/* symbol size in bytes */
	__u32 decl_file;	/* files[] index of the definition (0 unknown) */
	__u32 decl_line;	/* line of the definition (0 unknown) */
	__u32 alias_of;		/* KPC_FN_ALIAS: the primary; else KPC_BLOB_NONE */
	__u32 parent;		/* KPC_FN_COLD: the function it was split from;
				 * else KPC_BLOB_NONE */
	__u32 first_line;	/* lines[] of this function: [first, first + nr) */
	__u32 nr_lines;
	__u32 first_branch;	/* branches[] whose jump is in this function */
	__u32 nr_branches;
	__u32 first_inline;	/* inlines[] whose entry is in this function */
	__u32 nr_inlines;
};

/* struct kpc_blob_line.flags (from the DWARF line program) */
#define KPC_LINE_STMT		(1U << 0) /* is_stmt: a recommended breakpoint */
#define KPC_LINE_PROLOGUE_END	(1U << 1)
#define KPC_LINE_EPILOGUE_BEGIN	(1U << 2)
#define KPC_LINE_MARKER		(1U << 3) /* a statement row covering no code, of a line
					   * with code elsewhere in the function: where
					   * the statement stood, not its code */
/*
 * One row of the DWARF line tables, for addresses in executable sections.
 * A row covers the code from its address to the next row's address. Left
 * out: end_sequence rows, and rows covering no code (another row follows
 * at the same address) unless they start a statement there (is_stmt; then
 * once; KPC_LINE_MARKER where the line has code elsewhere in the function).
 * Several is_stmt rows at one address: all those lines start there.
 */
struct kpc_blob_line {
	__u64 section_offset;	/* bytes from the section start */
	__u32 section;		/* sections[] index */
	__u32 function;		/* functions[] index (a primary), or KPC_BLOB_NONE
				 * if no function symbol covers the address */
	__u32 function_offset;	/* bytes from the function symbol: the kprobe
				 * offset (undefined if function is NONE) */
	__u32 file;		/* files[] index */
	__u32 line;		/* 1-based; 0: no source line (compiler code) */
	__u16 column;		/* 0: unknown; clipped at 65535 */
	__u16 flags;		/* KPC_LINE_* */
};

/*
 * One end of a conditional jump. The line is the one in effect at that
 * address (the last row of lines[] at or before it, in the same function).
 */
struct kpc_blob_successor {
	__u32 function;		/* functions[] index, or KPC_BLOB_NONE: outside
				 * every function of this file (see external) */
	__u32 offset;		/* bytes from that function's symbol */
	__u32 section;		/* sections[] index, or KPC_BLOB_NONE */
	__u32 file;		/* files[] index (0 unknown) */
	__u64 section_offset;	/* bytes from the section start */
	__u32 line;		/* 0 unknown */
	__u32 external;		/* string: target symbol outside this file
				 * (a tail jump via relocation), else "" */
};

/* struct kpc_blob_branch.flags */
#define KPC_BR_TAKEN_LEAVES	(1U << 0) /* taken successor is not in the same function */
#define KPC_BR_LOOP		(1U << 1) /* loop/loope/loopne/jcxz family */
#define KPC_BR_RELOC		(1U << 2) /* target came from a relocation (.ko) */
/* A conditional jump (jcc, jrcxz, loop*) and its two successors. */
struct kpc_blob_branch {
	__u32 function;		/* functions[] index of the jump */
	__u32 offset;		/* of the jump instruction, from the symbol */
	__u32 file;		/* files[] index of the jump's line */
	__u32 line;		/* line of the jump itself */
	__u32 mnemonic;		/* string: "je", "jne", "loop", ... */
	__u32 flags;		/* KPC_BR_* */
	struct kpc_blob_successor taken;	/* the jump target */
	struct kpc_blob_successor fallthrough;	/* the next instruction */
};

/* A call inlined into a function (DW_TAG_inlined_subroutine). */
struct kpc_blob_inline {
	__u32 function;		/* functions[] index holding its entry point */
	__u32 offset;		/* entry point, from that function's symbol */
	__u32 callee;		/* string: the inlined function's name */
	__u32 call_file;	/* files[] index of the call site */
	__u32 call_line;	/* line of the call site */
	__u32 decl_file;	/* files[] index where the callee is defined */
	__u32 decl_line;	/* line of the callee's definition */
	__u32 depth;		/* 1: inlined into the function itself; 2: into
				 * an inlined call at depth 1; ... */
};

#ifdef __cplusplus
}
#endif

#endif /* LIBKPROBECOV_H */
