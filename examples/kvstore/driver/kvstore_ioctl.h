/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kvstore's ioctls on /dev/kvstore. Commands that change the store are
 * written to the device as text (see kvstore.c); these read it and its
 * statistics. Strings are NUL-terminated byte arrays.
 */
#ifndef _KVSTORE_IOCTL_H
#define _KVSTORE_IOCTL_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* A key is 1..31 bytes of [A-Za-z0-9_.-]; KVSTORE_KEY_SIZE counts its NUL. */
#define KVSTORE_KEY_SIZE	32
/* A value is 1..127 printable, non-space bytes; the size counts its NUL. */
#define KVSTORE_VALUE_SIZE	128

/*
 * KVSTORE_IOC_GET: looks up one key.
 * -E2BIG: key has no NUL within KVSTORE_KEY_SIZE; -EINVAL: key is empty or
 * has a byte outside [A-Za-z0-9_.-]; -ENOENT: no such key (counts a miss).
 */
struct kvstore_get {
	char key[KVSTORE_KEY_SIZE];	/* (in) the key */
	char value[KVSTORE_VALUE_SIZE];	/* (out) its value, NUL-padded */
};

/* KVSTORE_IOC_STATS: the counters count since load or the last reset. */
struct kvstore_stats {
	__u64 entries;	/* (out) keys stored now */
	__u64 capacity;	/* (out) most keys the store holds (max_entries) */
	__u64 sets;	/* (out) successful "set" commands */
	__u64 gets;	/* (out) KVSTORE_IOC_GET calls that found their key */
	__u64 misses;	/* (out) KVSTORE_IOC_GET calls that did not */
	__u64 deletes;	/* (out) successful "del" commands ("clear" is not one) */
};

#define KVSTORE_IOC_MAGIC	'k'
#define KVSTORE_IOC_GET		_IOWR(KVSTORE_IOC_MAGIC, 1, struct kvstore_get)
#define KVSTORE_IOC_STATS	_IOR(KVSTORE_IOC_MAGIC, 2, struct kvstore_stats)
/* Zeroes sets, gets, misses and deletes; the argument must be 0 (-EINVAL). */
#define KVSTORE_IOC_RESET_STATS	_IO(KVSTORE_IOC_MAGIC, 3)

#endif /* _KVSTORE_IOCTL_H */
