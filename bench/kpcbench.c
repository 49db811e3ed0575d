// SPDX-License-Identifier: GPL-2.0
/*
 * kpcbench: the benchmark driver's main (the parts: kpcbench.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "kpcbench.h"

const char *bench_dir = "bench";
uint64_t iterations = 50000;
int rounds = 21;
unsigned edge_bits = 12;
double budget_s = 600;
unsigned sizes[MAX_SIZES] = { 100, 1000, 10000 };
int nr_sizes = 3;
FILE *out;
struct kprobecov_version kver;

static const char *accel = "unknown";
static int do_handler = 1, do_manage = 1;

static void machine_facts(void)
{
	char model[256] = "unknown", line[512];
	struct utsname u;
	struct sysinfo si;
	time_t now = time(NULL);
	char date[64];
	FILE *f;

	uname(&u);
	sysinfo(&si);
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *v = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && v) {
			snprintf(model, sizeof(model), "%s", v + 2);
			model[strcspn(model, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	fprintf(out, "Measured %s in one guest boot: kernel %s (%s), accel %s, %ld CPUs (%s), "
		"%lu MiB RAM; kprobecov ABI %llu. Absolute numbers are emulated-CPU numbers "
		"(TCG is ~25× slower than native); compare rows within this run, not with other "
		"machines.\n\n", date, u.release, u.machine, accel, sysconf(_SC_NPROCESSORS_ONLN),
		model, (unsigned long)(si.totalram * si.mem_unit >> 20),
		(unsigned long long)kver.abi);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: kpcbench [-d BENCH_DIR] [-n ITERATIONS] [-r ROUNDS] [-e EDGE_BITS]\n"
		"                [-s SIZE,SIZE,...] [-t BUDGET_S] [-a ACCEL] [-p handler|manage]\n"
		"Prints the markdown section of BENCHMARKS.md; run as root with kprobecov.ko,\n"
		"kpc_bench.ko and kpc_sites.ko loaded (see bench/run-in-guest.sh).\n"
		"Exit status: 0; 3 the run saw module issues (listed in the output); 1 error.\n");
	exit(2);
}

int main(int argc, char **argv)
{
	char *buf = NULL;
	size_t len = 0;
	int opt, fd, ret, i;

	while ((opt = getopt(argc, argv, "d:n:r:e:s:t:a:p:h")) != -1) {
		switch (opt) {
		case 'd':
			bench_dir = optarg;
			break;
		case 'n':
			iterations = strtoull(optarg, NULL, 0);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'e':
			edge_bits = atoi(optarg);
			break;
		case 's': {
			char *tok, *save = NULL;

			nr_sizes = 0;
			for (tok = strtok_r(optarg, ",", &save); tok && nr_sizes < MAX_SIZES;
			     tok = strtok_r(NULL, ",", &save))
				sizes[nr_sizes++] = strtoul(tok, NULL, 10);
			break;
		}
		case 't':
			budget_s = atof(optarg);
			break;
		case 'a':
			accel = optarg;
			break;
		case 'p':
			do_handler = !strcmp(optarg, "handler");
			do_manage = !strcmp(optarg, "manage");
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !iterations || rounds < 1 || rounds > MAX_ROUNDS ||
	    (!do_handler && !do_manage) || !nr_sizes)
		usage();
	for (i = 0; i < nr_sizes; i++)
		if (!sizes[i] || sizes[i] > MAX_SITES || (i && sizes[i] <= sizes[i - 1]))
			usage();

	out = open_memstream(&buf, &len);
	if (!out)
		die("open_memstream: %s", strerror(errno));
	fd = open_dev("kprobecov");
	ret = xioctl(fd, KPROBECOV_GET_VERSION, &kver);
	if (ret)
		die("KPROBECOV_GET_VERSION: %s", strerror(-ret));
	close(fd);
	if (kver.abi != KPROBECOV_ABI_VERSION)
		die("kprobecov.ko speaks ABI %llu, this driver %d: rebuild",
		    (unsigned long long)kver.abi, KPROBECOV_ABI_VERSION);
	progress("kprobecov ABI %llu: max_probes %llu, max_slots %llu, max_area_bytes %llu",
		 (unsigned long long)kver.abi, (unsigned long long)kver.max_probes,
		 (unsigned long long)kver.max_slots, (unsigned long long)kver.max_area_bytes);

	machine_facts();
	if (do_handler)
		handler_bench();
	if (do_manage)
		manage_bench();
	if (nr_issues) {
		fprintf(out, "### Issues seen during this run\n\n");
		for (i = 0; i < nr_issues; i++)
			fprintf(out, "- %s\n", issues[i]);
		fprintf(out, "\n");
	}
	fclose(out);
	fwrite(buf, 1, len, stdout);
	free(buf);
	return nr_issues ? 3 : 0;
}
