// SPDX-License-Identifier: GPL-2.0
/*
 * kpc_addcost: time ADD_PROBES, ARM and close of one collector for a list of
 * probe sites, as a run of kprobecov plants them. Sites are read from stdin,
 * one "module symbol offset" per line (offset in hex), and added in one
 * ADD_PROBES. Prints one line:
 *   probes N registered R add_s A arm_s B close_s C
 * (wall seconds of each ioctl or of close). bench/addcost.sh drives it.
 * Usage: kpc_addcost [-n]   (-n: ADD only, no ARM)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/kprobecov.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "kpc_addcost: %s: %s\n", what, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	struct kprobecov_probe *p = NULL;
	struct kprobecov_add_probes add = { 0 };
	struct kprobecov_select sel = { .how = KPROBECOV_SELECT_ALL };
	struct kprobecov_init init = { .max_slots = 1 };
	size_t n = 0, cap = 0;
	char line[512], mod[48], sym[128];
	unsigned long long off;
	int fd, arm = !(argc > 1 && !strcmp(argv[1], "-n"));
	double t0, t_add, t_arm = 0, t_close;

	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "%47s %127s %llx", mod, sym, &off) != 3)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			p = realloc(p, cap * sizeof(*p));
			if (!p)
				die("realloc");
		}
		memset(&p[n], 0, sizeof(p[n]));
		snprintf(p[n].module, sizeof(p[n].module), "%s", mod);
		snprintf(p[n].symbol, sizeof(p[n].symbol), "%s", sym);
		p[n].offset = off;
		p[n].kind = off ? KPROBECOV_KIND_LINE : KPROBECOV_KIND_FUNC;
		n++;
	}
	if (!n) {
		fprintf(stderr, "kpc_addcost: no sites on stdin (module symbol offset)\n");
		return 2;
	}
	fd = open("/dev/kprobecov", O_RDWR);
	if (fd < 0)
		die("/dev/kprobecov");
	init.max_probes = n;
	if (ioctl(fd, KPROBECOV_INIT, &init))
		die("KPROBECOV_INIT");
	add.probes = (unsigned long)p;
	add.count = n;
	t0 = now_s();
	if (ioctl(fd, KPROBECOV_ADD_PROBES, &add))
		die("KPROBECOV_ADD_PROBES");
	t_add = now_s() - t0;
	if (arm) {
		t0 = now_s();
		if (ioctl(fd, KPROBECOV_ARM, &sel))
			die("KPROBECOV_ARM");
		t_arm = now_s() - t0;
	}
	t0 = now_s();
	close(fd);
	t_close = now_s() - t0;
	printf("probes %zu registered %llu add_s %.3f arm_s %.3f close_s %.3f\n", n,
	       (unsigned long long)add.registered, t_add, t_arm, t_close);
	return 0;
}
