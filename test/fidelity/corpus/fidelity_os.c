// SPDX-License-Identifier: GPL-2.0
/*
 * Cases of kpc_fidelity compiled with -Os (the Kbuild sets it for this file), as kernels of
 * distributions built with CONFIG_CC_OPTIMIZE_FOR_SIZE compile their modules. At -Os gcc 12
 * stores the else-if chain's variable once, in a block all arms reach, and gives that block
 * a row of the third arm's line that starts no statement (issue 23's first shape).
 */
#include <linux/kernel.h>
#include "fidelity_os.h"

static int fid_os_sink;

static noinline int fid_os_twice(int a)
{
	return 2 * a + fid_os_sink;
}

static noinline int fid_os_thrice(int a)
{
	return 3 * a - fid_os_sink;
}

/* elseif_os: the else-if chain assigning one variable, as -Os compiles it. */
noinline int fid_elseif_os(const char *s)
{
	int a, v;

	if (sscanf(s, "x %d", &a) == 1)
		v = fid_os_twice(a);
	else if (sscanf(s, "y %d", &a) == 1)
		v = fid_os_thrice(a);
	else if (sscanf(s, "z %d", &a) == 1)
		v = -a;
	else
		v = 0;
	fid_os_sink = v;
	return v;
}

#define FID_OS_LIMIT 100

/* clamp_os: the clamp before the return, as -Os compiles it. */
noinline int fid_clamp_os(int a, int b)
{
	int r = a + b;

	if (r > FID_OS_LIMIT) {
		fid_os_sink++;
		r = FID_OS_LIMIT;
	}
	return r;
}
