// SPDX-License-Identifier: GPL-2.0
/*
 * kpcbench's plumbing: issues and messages, clocks, ioctl with restart,
 * statistics over rounds.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "kpcbench.h"

char issues[32][600];
int nr_issues;

/* One line on stderr: "kpcbench: <prefix><message>". */
static void say(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "kpcbench: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void issue(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (nr_issues < (int)(sizeof(issues) / sizeof(issues[0])))
		vsnprintf(issues[nr_issues++], sizeof(issues[0]), fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	say("ISSUE: ", fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say("", fmt, ap);
	va_end(ap);
	exit(1);
}

void progress(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say("", fmt, ap);
	va_end(ap);
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ioctl that returns 0 or -errno, restarted after signals. */
int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do
		ret = ioctl(fd, req, arg);
	while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : 0;
}

int open_dev(const char *name)
{
	int fd = kpc_open_misc(name, O_RDWR);

	if (fd < 0)
		die("open /dev/%s: %s (is the module loaded?)", name, strerror(errno));
	return fd;
}


static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median and range of v[0..n), NaNs left out. */
struct stat3 stats(const double *v, int n)
{
	double s[MAX_ROUNDS];
	struct stat3 r = { NAN, NAN, NAN, NAN, NAN };
	int i, m = 0;

	for (i = 0; i < n; i++)
		if (!isnan(v[i]))
			s[m++] = v[i];
	if (!m)
		return r;
	qsort(s, m, sizeof(*s), cmp_double);
	r.min = s[0];
	r.max = s[m - 1];
	r.med = m % 2 ? s[m / 2] : (s[m / 2 - 1] + s[m / 2]) / 2;
	r.q1 = s[(m - 1) / 4];
	r.q3 = s[m - 1 - (m - 1) / 4];
	return r;
}
