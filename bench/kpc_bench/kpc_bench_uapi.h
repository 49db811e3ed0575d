/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kpc_bench: ABI of /dev/kpc_bench and /dev/kpc_sites, the benchmark helper
 * modules of kprobecov (bench/). Private to bench/: the module and the driver
 * bench/kpcbench.c include this header, nothing else does.
 *
 * kpc_bench.ko holds KPCB_NR_TARGETS identical noinline target functions
 * (kpcb_target_0 ...), each called from its own in-kernel loop, so that every
 * benchmark configuration gets a probe site of its own and all configurations
 * can stay set up while their measurements are interleaved. It can also plant
 * the reference probe: an empty kprobe (pre_handler returns 0), owned by the
 * fd that planted it (closing the fd unregisters it).
 *
 * kpc_sites.ko serves the probe sites of the ADD/ARM/DISARM benchmark: many
 * small noinline functions (kpcs_f00000 ...) that live in its generated parts
 * kpc_sites_<m>.ko. Its device reports the first bytes of code at given
 * sites, so the driver can tell whether a probe is planted (ftrace call,
 * int3, or optimized jump) without reading debugfs, and plants the reference
 * for kprobecov's ADD/ARM/DISARM/close: bare empty kprobes, registered,
 * enabled, disabled and unregistered the way a module would (KPCS_REF_*).
 */
#ifndef _KPC_BENCH_UAPI_H
#define _KPC_BENCH_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KPCB_NR_TARGETS		24
#define KPCB_MAX_EMPTY		8	/* empty kprobes per fd */

/* KPCB_LOOP: call target `target` `iterations` times in a loop. */
struct kpcb_loop {
	__u64 target;		/* (in) 0 .. KPCB_NR_TARGETS-1 */
	__u64 iterations;	/* (in) >= 1 */
	__u64 elapsed_ns;	/* (out) ktime_get_ns() around the loop */
	__u64 sink;		/* (out) sum of the results (keeps the calls) */
};

/* KPCB_EMPTY_ADD: plant an empty kprobe at target + offset (enabled). */
struct kpcb_empty {
	__u64 target;		/* (in) 0 .. KPCB_NR_TARGETS-1 */
	__u64 offset;		/* (in) bytes into the target function */
	__u64 id;		/* (out) for KPCB_EMPTY_DEL */
	__u64 reserved;		/* must be 0 */
};

/*
 * KPCB_TEXT (both devices): copy the first 8 bytes of code at each of
 * `count` sites. For kpc_bench a site is (target index, offset); for
 * kpc_sites (function index, offset). Sites are struct kpcb_site[count].
 */
struct kpcb_site {
	__u32 func;		/* (in) target / function index */
	__u32 offset;		/* (in) bytes into the function */
	__u8 bytes[8];		/* (out) code bytes at the site */
};
struct kpcb_text {
	__u64 sites;		/* (in) pointer to struct kpcb_site[count] */
	__u64 count;		/* (in) */
	__u64 nr_funcs;		/* (out) functions the module (with its parts) holds */
	__u64 reserved;		/* must be 0 */
};

/*
 * KPCS_REF_ADD (kpc_sites only): register `count` empty kprobes, disabled,
 * one per site (func, offset; bytes unused), in order; once per fd (EBUSY).
 * On an error nothing stays registered; failed_index tells which site
 * (ENOENT: its part is not loaded; else register_kprobe's error).
 * KPCS_REF_ARM / KPCS_REF_DISARM: enable_kprobe / disable_kprobe each one.
 * KPCS_REF_DEL: unregister them all at once (unregister_kprobes); close does
 * it too. ENOENT: nothing registered.
 */
struct kpcs_ref_add {
	__u64 sites;		/* (in) pointer to struct kpcb_site[count] */
	__u64 count;		/* (in) >= 1 */
	__u64 failed_index;	/* (out) the site that failed, on error */
	__u64 reserved;		/* must be 0 */
};

#define KPCB_IOC		0xB9
#define KPCB_LOOP		_IOWR(KPCB_IOC, 0x00, struct kpcb_loop)
#define KPCB_EMPTY_ADD		_IOWR(KPCB_IOC, 0x01, struct kpcb_empty)
#define KPCB_EMPTY_DEL		_IOW(KPCB_IOC, 0x02, __u64)
#define KPCB_TEXT		_IOWR(KPCB_IOC, 0x03, struct kpcb_text)
#define KPCS_REF_ADD		_IOWR(KPCB_IOC, 0x10, struct kpcs_ref_add)
#define KPCS_REF_ARM		_IO(KPCB_IOC, 0x11)
#define KPCS_REF_DISARM		_IO(KPCB_IOC, 0x12)
#define KPCS_REF_DEL		_IO(KPCB_IOC, 0x13)

#endif /* _KPC_BENCH_UAPI_H */
