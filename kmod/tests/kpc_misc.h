/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Opening a misc device in a small guest, for the selftests (kpc_util.h) and the
 * fuzzer (fuzz/).
 */
#ifndef KPC_MISC_H
#define KPC_MISC_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/*
 * Opens /dev/<name>. Without devtmpfs' node (no udev in a small guest),
 * makes it from the misc device's major:minor in sysfs.
 */
static inline int kpc_open_misc(const char *name, int flags)
{
	char path[PATH_MAX];
	unsigned int maj, min;
	int fd;
	FILE *f;

	snprintf(path, sizeof(path), "/dev/%s", name);
	fd = open(path, flags | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	snprintf(path, sizeof(path), "/sys/class/misc/%s/dev", name);
	f = fopen(path, "r");
	if (!f) {
		errno = ENOENT;
		return -1;
	}
	if (fscanf(f, "%u:%u", &maj, &min) != 2) {
		fclose(f);
		errno = ENOENT;
		return -1;
	}
	fclose(f);
	snprintf(path, sizeof(path), "/dev/%s", name);
	if (mknod(path, S_IFCHR | 0600, makedev(maj, min)) && errno != EEXIST)
		return -1;
	return open(path, flags | O_CLOEXEC);
}

#endif /* KPC_MISC_H */
