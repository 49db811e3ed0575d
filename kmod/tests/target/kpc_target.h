/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kpc_target: a tiny module for kprobecov's selftests to plant probes on.
 * Private ABI of /dev/kpc_target, shared by the module and the selftests.
 *
 * Every command calls specific static functions of the module, so a test
 * knows exactly which probes one ioctl hits and how often:
 *
 *   KPC_TARGET_CALL_A       kpc_target_a(arg), `times` times
 *   KPC_TARGET_CALL_B       kpc_target_b(arg), `times` times
 *   KPC_TARGET_CALL_BRANCH  kpc_target_branch(arg), `times` times: its
 *                           "pos" successor runs when arg > 0, "neg" otherwise
 *   KPC_TARGET_CALL_SEQ     kpc_target_seq(arg) once, which calls in order:
 *                           a, b, branch(1), branch(-1), a (two call sites of a)
 *   KPC_TARGET_TIMER        a pinned timer calls kpc_target_irq(arg) once in
 *                           softirq context while the ioctl spins on the
 *                           caller's CPU; returns when it ran. result: 1 if
 *                           the softirq interrupted the caller itself, 0 if
 *                           another task was current, -1 if it ran in task
 *                           context
 *   KPC_TARGET_GET_INFO     offsets of the branch successors inside
 *                           kpc_target_branch, and the module's load count
 *
 * Functions run only by module_init: kpc_target_fill_table (ordinary text)
 * and kpc_target_init_banner (__init text, freed after init). Function run
 * only by module_exit: kpc_target_drain_table.
 */
#ifndef _KPC_TARGET_H
#define _KPC_TARGET_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KPC_TARGET_NAME		"kpc_target"

struct kpc_target_call {
	__s64 arg;		/* (in) argument of the called function */
	__u32 times;		/* (in) calls to make; 0 counts as 1 */
	__u32 reserved;		/* (in) must be 0 */
	__s64 result;		/* (out) return value of the last call */
};

struct kpc_target_info {
	__u64 branch_pos_offset;	/* (out) bytes from kpc_target_branch to its x > 0 block (past its ENDBR64) */
	__u64 branch_neg_offset;	/* (out) bytes from kpc_target_branch to its x <= 0 block (past its ENDBR64) */
	__u64 table_sum;		/* (out) sum of the table filled at init */
	__u64 reserved;
};

#define KPC_TARGET_IOC		0xB9
#define KPC_TARGET_CALL_A	_IOWR(KPC_TARGET_IOC, 0x01, struct kpc_target_call)
#define KPC_TARGET_CALL_B	_IOWR(KPC_TARGET_IOC, 0x02, struct kpc_target_call)
#define KPC_TARGET_CALL_BRANCH	_IOWR(KPC_TARGET_IOC, 0x03, struct kpc_target_call)
#define KPC_TARGET_CALL_SEQ	_IOWR(KPC_TARGET_IOC, 0x04, struct kpc_target_call)
#define KPC_TARGET_TIMER	_IOWR(KPC_TARGET_IOC, 0x05, struct kpc_target_call)
#define KPC_TARGET_GET_INFO	_IOR(KPC_TARGET_IOC, 0x06, struct kpc_target_info)

#endif /* _KPC_TARGET_H */
