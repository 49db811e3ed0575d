// SPDX-License-Identifier: GPL-2.0
/*
 * kpc_fuzz: a coverage-guided fuzzer of /dev/kprobecov (see fuzz.h), run as
 * root in a guest of the debug kernel with a kprobecov.ko built with KCOV
 * (make build-debug: build/debug/kmod-fuzz/kprobecov.ko).
 *
 *   kpc_fuzz --ko KO [--target-ko KO] [--seed N] [--seconds S] [--ioctls N]
 *            [--corpus DIR]... [--out DIR] [--stats FILE] [--no-fault]
 *   kpc_fuzz --ko KO --replay FILE
 *
 * --ko       the file of the loaded kprobecov module: its KCOV sites
 * --target-ko kpc_target.ko, which programs load and unload
 * --seed     of the programs generated (default 1); printed, with how to replay
 * --seconds  stop after this long (default 180)
 * --ioctls   stop after this many ioctl calls (default: no limit); the run
 *            fails when the time runs out first
 * --corpus   programs to start from (*.prog files; may repeat)
 * --out      where programs that reached new sites go, and failing ones
 * --stats    figures of the run, NAME=value lines
 * --no-fault no failure injection
 * --replay   run the programs of FILE once each, in order
 *
 * Exit status: 0 when no kernel report, no hang and enough calls; 1 otherwise;
 * 2 on bad usage or a missing requirement (the message names it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

#define FZ_MAX_CORPUS	4096
#define FZ_HANG_SECONDS	60	/* a program that runs longer hangs in the kernel */
#define FZ_RECENT	4	/* programs saved with a failure */

static struct fz_shared *sh;
static pid_t executor = -1;
static int to_exec = -1, from_exec = -1;
static unsigned int restarts;

static struct fz_prog *corpus;
static unsigned int corpus_n, seeds_n;
static uint8_t reached[FZ_MAX_SITES];
static unsigned int reached_n;
static struct fz_prog recent[FZ_RECENT];
static unsigned long programs;
static int kmsg = -1, reported;		/* /dev/kmsg; a report was seen */
static char report[512];		/* its first line */
static FILE *kernel_log;		/* what the kernel said, all of it */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_knob(const char *dir, const char *name, const char *value)
{
	char path[256];
	int fd, ok;

	snprintf(path, sizeof(path), "/sys/kernel/debug/%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	close(fd);
	return ok ? 0 : -1;
}

/*
 * Failure injection by fail-nth only (probability stays 0): for GFP_KERNEL
 * (which may sleep) and order-0 and highmem pages too, without the stack
 * dump of each injected failure. on=0 puts the defaults back.
 */
static int fault_knobs(int on)
{
	int r = 0;

	r |= write_knob("failslab", "ignore-gfp-wait", on ? "N" : "Y");
	r |= write_knob("failslab", "verbose", on ? "0" : "2");
	r |= write_knob("fail_page_alloc", "ignore-gfp-wait", on ? "N" : "Y");
	r |= write_knob("fail_page_alloc", "ignore-gfp-highmem", on ? "N" : "Y");
	r |= write_knob("fail_page_alloc", "min-order", on ? "0" : "1");
	r |= write_knob("fail_page_alloc", "verbose", on ? "0" : "2");
	return r;
}

static void spawn_executor(void)
{
	int a[2], b[2];

	if (pipe2(a, O_CLOEXEC) || pipe2(b, O_CLOEXEC)) {
		perror("kpc_fuzz: pipe");
		exit(2);
	}
	executor = fork();
	if (executor < 0) {
		perror("kpc_fuzz: fork");
		exit(2);
	}
	if (executor == 0) {
		close(a[1]);
		close(b[0]);
		setpgid(0, 0);
		fz_executor(sh, a[0], b[1]);
	}
	close(a[0]);
	close(b[1]);
	to_exec = a[1];
	from_exec = b[0];
}

static void stop_executor(void)
{
	if (executor <= 0)
		return;
	close(to_exec);
	close(from_exec);
	kill(-executor, SIGKILL);
	kill(executor, SIGKILL);
	/* After a report it may never die (stuck on a lock its oopsed thread held): 10 s. */
	for (int i = 0; i < 100 && waitpid(executor, NULL, WNOHANG) == 0; i++)
		usleep(100 * 1000);
	executor = -1;
	restarts++;
}

/* Whether the kernel reported something since the last look; keeps the first report. */
static int kernel_reported(void)
{
	if (!reported)
		reported = fz_kmsg_check(kmsg, report, sizeof(report), kernel_log);
	else
		fz_kmsg_check(kmsg, (char[512]){ 0 }, 512, kernel_log);
	return reported;
}

/*
 * Runs p in the executor. 0: ran or ended the executor; -1: it hangs. A report
 * while waiting ends the wait: the task that oopsed never answers.
 */
static int run(const struct fz_prog *p)
{
	struct pollfd pfd;
	char c = 'r';
	int r, waited = 0;

	if (executor <= 0)
		spawn_executor();
	memset(sh->hit, 0, sh->sites.n);
	sh->prog = *p;
	recent[programs % FZ_RECENT] = *p;
	programs++;
	if (write(to_exec, &c, 1) != 1) {
		stop_executor();
		return 0;
	}
	pfd = (struct pollfd){ .fd = from_exec, .events = POLLIN };
	for (;;) {
		r = poll(&pfd, 1, 1000);
		if (r > 0 || (r < 0 && errno != EINTR))
			break;
		if (r == 0 && (kernel_reported() || ++waited == FZ_HANG_SECONDS))
			return kernel_reported() ? 0 : -1;
	}
	if (read(from_exec, &c, 1) != 1)
		stop_executor();	/* it died: FZ_KILL, or a crash of its own */
	return 0;
}

/* Merges the hit map of the last program; returns the count of sites it reached first. */
static unsigned int merge(void)
{
	unsigned int k, fresh = 0;

	for (k = 0; k < sh->sites.n; k++) {
		if (!sh->hit[k] || reached[k])
			continue;
		reached[k] = 1;
		fresh++;
	}
	reached_n += fresh;
	return fresh;
}

static void keep(const struct fz_prog *p, const char *out, unsigned int fresh)
{
	char path[512];
	FILE *f;

	if (corpus_n < FZ_MAX_CORPUS)
		corpus[corpus_n++] = *p;
	if (!out)
		return;
	snprintf(path, sizeof(path), "%s/corpus/%05u-%u.prog", out, corpus_n, fresh);
	f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "# reached %u new kprobecov.ko sites\n", fresh);
	fz_print(f, p);
	fclose(f);
}

static int load_file(const char *path)
{
	struct fz_prog p;
	FILE *f = fopen(path, "r");
	int r, n = 0;

	if (!f)
		return -1;
	while ((r = fz_parse(f, &p)) == 1 && corpus_n < FZ_MAX_CORPUS) {
		corpus[corpus_n++] = p;
		n++;
	}
	fclose(f);
	if (r < 0)
		fprintf(stderr, "kpc_fuzz: %s: a line is not an operation (skipped the rest)\n", path);
	return n;
}

static void load_dir(const char *dir)
{
	struct dirent **names;
	char path[1024];
	int n, i;

	n = scandir(dir, &names, NULL, alphasort);	/* sorted: the same order every run */
	for (i = 0; i < n; i++) {
		size_t len = strlen(names[i]->d_name);

		if (len > 5 && !strcmp(names[i]->d_name + len - 5, ".prog")) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			load_file(path);
		}
		free(names[i]);
	}
	if (n > 0)
		free(names);
}

/* Saves the last programs run (the failing one last), prints how to replay them. */
static void save_failure(const char *out, const char *ko, const char *why)
{
	char path[512];
	unsigned long i, first = programs > FZ_RECENT ? programs - FZ_RECENT : 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/failure-%lu.prog", out ? out : "/tmp", programs);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "# %s\n# the last %lu programs run, the failing one last\n", why,
			programs - first);
		for (i = first; i < programs; i++)
			fz_print(f, &recent[i % FZ_RECENT]);
		fclose(f);
	}
	printf("kpc_fuzz: FAILED: %s (program %lu, operation %u)\n", why, programs, sh->op);
	printf("kpc_fuzz: the programs that led to it: %s\n", path);
	printf("kpc_fuzz: replay them in a debug guest with: kpc_fuzz --ko %s --replay %s\n", ko, path);
}

static int version_limits(void)
{
	int fd = open("/dev/kprobecov", O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = ioctl(fd, KPROBECOV_GET_VERSION, &fz_limits);
	close(fd);
	return r;
}

static void child_mode(void)
{
	syscall(SYS_getppid);
	syscall(SYS_getpgrp);
	_exit(0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ko", 1, NULL, 'k' }, { "target-ko", 1, NULL, 't' }, { "seed", 1, NULL, 's' },
		{ "seconds", 1, NULL, 'S' }, { "ioctls", 1, NULL, 'n' }, { "corpus", 1, NULL, 'c' },
		{ "out", 1, NULL, 'o' }, { "stats", 1, NULL, 'x' }, { "no-fault", 0, NULL, 'F' },
		{ "replay", 1, NULL, 'r' }, { "child", 0, NULL, 'C' }, { 0 }
	};
	const char *ko = NULL, *out = NULL, *stats = NULL, *replay = NULL;
	const char *dirs[16];
	unsigned long long seed = 1, max_ioctls = 0;
	double seconds = 180, start, last_status;
	unsigned int ndirs = 0, i;
	int opt, fault = 1, failed = 0, hang, hung = 0, reports;
	struct fz_rng rng;

	setvbuf(stdout, NULL, _IOLBF, 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'k': ko = optarg; break;
		case 't': snprintf(sh->target_ko, sizeof(sh->target_ko), "%s", optarg); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'S': seconds = strtod(optarg, NULL); break;
		case 'n': max_ioctls = strtoull(optarg, NULL, 0); break;
		case 'c': if (ndirs < 16) dirs[ndirs++] = optarg; break;
		case 'o': out = optarg; break;
		case 'x': stats = optarg; break;
		case 'F': fault = 0; break;
		case 'r': replay = optarg; break;
		case 'C': child_mode(); break;
		default: return 2;
		}
	}
	if (!ko) {
		fprintf(stderr, "kpc_fuzz: --ko KO is required: the kprobecov.ko file that is loaded\n");
		return 2;
	}
	if (readlink("/proc/self/exe", sh->self, sizeof(sh->self) - 1) < 0)
		return 2;
	if (version_limits()) {
		fprintf(stderr, "kpc_fuzz: GET_VERSION on /dev/kprobecov: %s: load kprobecov.ko first\n",
			strerror(errno));
		return 2;
	}
	if (fz_sites_load(&sh->sites, ko, "kprobecov") || sh->sites.n > FZ_MAX_SITES)
		return 2;
	if (!sh->sites.n) {
		fprintf(stderr, "kpc_fuzz: %s has no KCOV callback: fuzz a build with KCOV "
			"instrumentation (make build-debug: build/debug/kmod-fuzz/kprobecov.ko)\n", ko);
		return 2;
	}
	memcpy(sh->sitepc, sh->sites.pc, sh->sites.n * sizeof(uint64_t));
	sh->sites.pc = sh->sitepc;
	sh->kcov = 1;
	if (access("/sys/kernel/debug/kcov", R_OK | W_OK)) {
		fprintf(stderr, "kpc_fuzz: /sys/kernel/debug/kcov: %s: the kernel needs CONFIG_KCOV and "
			"debugfs mounted\n", strerror(errno));
		return 2;
	}
	if (fault && fault_knobs(1)) {
		fprintf(stderr, "kpc_fuzz: cannot set /sys/kernel/debug/failslab and fail_page_alloc: "
			"the kernel needs CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC and "
			"CONFIG_FAULT_INJECTION_DEBUG_FS (or pass --no-fault)\n");
		return 2;
	}
	kmsg = fz_kmsg_open();
	if (kmsg < 0) {
		perror("kpc_fuzz: /dev/kmsg");
		return 2;
	}
	if (out) {
		char path[512];

		mkdir(out, 0755);
		snprintf(path, sizeof(path), "%s/corpus", out);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/kernel.log", out);
		kernel_log = fopen(path, "w");
	}
	corpus = calloc(FZ_MAX_CORPUS, sizeof(*corpus));
	if (!fault)
		printf("kpc_fuzz: failure injection off\n");
	printf("kpc_fuzz: seed %llu; kprobecov.ko has %u KCOV sites (%u outside .init/.exit "
	       "text; and %u tail calls, not counted); max %.0f s%s\n", seed, sh->sites.n,
	       sh->sites.n_text, sh->sites.n_tail, seconds,
	       max_ioctls ? "" : ", no call limit");

	start = last_status = now();
	rng.s = seed;
	if (replay) {
		struct fz_prog p;
		FILE *f = fopen(replay, "r");

		if (!f) {
			perror(replay);
			return 2;
		}
		while (!failed && fz_parse(f, &p) == 1) {
			hang = run(&p);
			merge();
			if (kernel_reported() || hang) {
				printf("kpc_fuzz: %s after program %lu of %s\n",
				       hang ? "hang" : report, programs, replay);
				failed = 1;
				hung = hang;
			}
		}
		fclose(f);
	} else {
		for (i = 0; i < ndirs; i++)
			load_dir(dirs[i]);
		seeds_n = corpus_n;
		printf("kpc_fuzz: %u programs in the seed corpus\n", seeds_n);
	}
	/* The seeds first, in order; then new and mutated programs. */
	for (i = 0; !replay && !failed; i++) {
		struct fz_prog p;
		unsigned int fresh;
		double t = now();

		if (t - start >= seconds || (max_ioctls && sh->ioctls >= max_ioctls))
			break;
		if (i < seeds_n) {
			p = corpus[i];
		} else if (!corpus_n || fz_below(&rng, 5) == 0) {
			fz_generate(&rng, &p);
		} else {
			p = corpus[fz_below(&rng, corpus_n)];
			fz_mutate(&rng, &p, &corpus[fz_below(&rng, corpus_n)]);
		}
		/* Half the new ones end in a storm on fd 0: the many quick calls that
		 * validation paths want (a plain program makes about 9 under TCG). */
		if (i >= seeds_n && p.n < FZ_MAX_OPS && fz_below(&rng, 2)) {
			p.ops[p.n] = (struct fz_op){ .kind = FZ_STORM };
			fz_gen_args(&rng, &p.ops[p.n++]);
		}
		if (!fault)
			for (unsigned int k = 0; k < p.n; k++)
				p.ops[k].fail_nth = 0;
		hang = run(&p);
		if (!sh->kcov) {
			fprintf(stderr, "kpc_fuzz: the executor could not enable KCOV on its threads\n");
			return 2;
		}
		fresh = merge();
		if (fresh && i >= seeds_n)
			keep(&p, out, fresh);
		if (kernel_reported()) {
			save_failure(out, ko, report);
			failed = 1;
		} else if (hang) {
			snprintf(report, sizeof(report), "a program ran %d s without ending",
				 FZ_HANG_SECONDS);
			save_failure(out, ko, report);
			failed = hung = 1;
		}
		if (t - last_status >= 15) {
			last_status = t;
			printf("kpc_fuzz: %4.0f s: %lu programs, %llu ioctls, %u sites, corpus %u, "
			       "%llu allocations failed\n", t - start, programs,
			       (unsigned long long)sh->ioctls, reached_n, corpus_n,
			       (unsigned long long)sh->faults);
		}
	}
	if (executor > 0) {
		stop_executor();	/* what it holds is released as it dies */
		restarts--;
	}
	if (!failed && kernel_reported()) {
		save_failure(out, ko, report);
		failed = 1;
	}
	if (fault)
		fault_knobs(0);
	reports = failed && !hung;
	{
		double secs = now() - start;

		printf("kpc_fuzz: seed %llu: %.0f s, %lu programs, %llu ioctl calls (%llu calls on "
		       "the device), %llu allocations failed by injection, %u executor restarts\n",
		       seed, secs, programs, (unsigned long long)sh->ioctls,
		       (unsigned long long)sh->calls, (unsigned long long)sh->faults, restarts);
		printf("kpc_fuzz: kprobecov.ko KCOV sites reached: %u of %u (%.1f%%); stray PCs %llu\n",
		       reached_n, sh->sites.n, 100.0 * reached_n / sh->sites.n,
		       (unsigned long long)sh->stray);
		for (i = 0; i < 16 && sh->stray_pc[i]; i++)
			printf("kpc_fuzz: stray PC %#llx (.text+%#llx)\n",
			       (unsigned long long)sh->stray_pc[i],
			       (unsigned long long)(sh->stray_pc[i] - sh->sites.range[0][0]));
		printf("kpc_fuzz: corpus: %u programs (%u seeds, %u new)%s%s\n", corpus_n, seeds_n,
		       corpus_n - seeds_n, out ? ", new ones in " : "", out ? out : "");
		printf("kpc_fuzz: kernel reports: %d%s\n", reports, hung ? "; a hang" : "");
		if (stats) {
			FILE *f = fopen(stats, "w");

			if (f) {
				fprintf(f, "seed=%llu\nseconds=%.0f\nprograms=%lu\nioctls=%llu\n"
					"calls=%llu\nfaults=%llu\nrestarts=%u\nsites=%u\nsites_text=%u\n"
					"sites_tail=%u\n"
					"reached=%u\nstray=%llu\ncorpus=%u\nseeds=%u\nreports=%d\n"
					"report=%s\n", seed, secs, programs,
					(unsigned long long)sh->ioctls, (unsigned long long)sh->calls,
					(unsigned long long)sh->faults, restarts, sh->sites.n,
					sh->sites.n_text, sh->sites.n_tail, reached_n, (unsigned long long)sh->stray,
					corpus_n, seeds_n, reports, report);
				fclose(f);
			}
		}
	}
	if (!replay && !failed && max_ioctls && sh->ioctls < max_ioctls) {
		printf("kpc_fuzz: FAILED: %llu ioctl calls in %.0f s, fewer than the %llu asked "
		       "(rerun with --seed %llu)\n", (unsigned long long)sh->ioctls, seconds,
		       max_ioctls, seed);
		failed = 1;
	}
	if (failed && !replay)
		printf("kpc_fuzz: this run again: kpc_fuzz --seed %llu (same options)\n", seed);
	if (kernel_log)
		fclose(kernel_log);
	return failed;
}
