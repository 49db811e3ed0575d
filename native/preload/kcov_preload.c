// SPDX-License-Identifier: GPL-2.0
/*
 * libkpc-kcov-preload.so: KCOV for programs that are not ours to change,
 * and for their children and threads. KCOV traces only the thread that
 * enables it and is never inherited; this library, preloaded, enables it
 * in every thread of every process that loads it:
 *
 *   LD_PRELOAD=libkpc-kcov-preload.so KPROBECOV_KCOV_OUT=DIR CMD ARGS...
 *
 *   KPROBECOV_KCOV_OUT     directory the records go to (required: without
 *                          it the library does nothing)
 *   KPROBECOV_KCOV_MODE    pc (default) or cmp (comparison operands)
 *   KPROBECOV_KCOV_BUFFER  records per main thread between drains (default
 *                          2^20; other threads and forked children a
 *                          quarter, at least 2^16)
 *   KPROBECOV_KCOV_RANGES  lo-hi[,lo-hi...] in hex: keep only records whose
 *                          (canonical) PC is in one of them (default: all)
 *   KPROBECOV_KCOV_PATH    the KCOV file (default /sys/kernel/debug/kcov)
 *   KPROBECOV_KCOV_MODULES name[,name...]: modules whose section addresses
 *                          (/sys/module/NAME/sections/) go with the records,
 *                          as they were when the process started and when
 *                          it wrote (a process may unload or load them:
 *                          rmmod, insmod)
 *
 * Traced: a process's main thread from this library's constructor (so a
 * process that execs is traced from its first instruction in user space
 * that matters: the dynamic loader's own system calls are not), each
 * thread it starts with pthread_create, and the child of a fork() (the
 * constructor does not run again there). Children that exec load this
 * library again (LD_PRELOAD is inherited), unless the environment is
 * cleared or the program is static or set-uid.
 *
 * Written: DIR/kcov-<pid>-<n>.bin (n: the first number not yet taken by
 * the pid, six digits) when the process exits (exit, return
 * from main, _exit), before it execs, in this layout (little-endian u64s):
 *   magic "KPCKCOV2", mode (0 pc, 1 cmp), entries, overflows, text bytes,
 *   then per entry: pc, count (pc) or type, arg1, arg2, pc, count (cmp),
 *   then the text: the modules' sections at start, a line "--", at the
 *   write; one "MODULE SECTION 0xADDRESS" line per section.
 * A process killed by a signal writes nothing. The buffers of the process
 * that ran the constructor are drained every 100 ms by a thread of its own
 * (not traced), so that a long run does not fill them; a forked child's are
 * drained when it exits or execs.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define KPC_PRELOAD_API __attribute__((visibility("default")))

static struct kpc_kcov_set *kpc_set;	/* NULL: not tracing */
static uint32_t kpc_mode;
static uint64_t kpc_main_records = 1 << 20;
static uint64_t kpc_thread_records = 1 << 18;
static char kpc_out[4096];
static uint64_t kpc_ranges[2 * 16];
static uint32_t kpc_nranges;
static int kpc_all_pcs = 1;
static unsigned int kpc_seq;
static uint64_t kpc_overflows;
static pthread_mutex_t kpc_dump_lock = PTHREAD_MUTEX_INITIALIZER;
static char kpc_modules[1024];		/* KPROBECOV_KCOV_MODULES */
static char *kpc_bases_start;		/* sections at start (malloc'd text) */
static size_t kpc_bases_start_len;

/* Appends "MODULE SECTION ADDRESS" lines of the listed modules to *buf. */
static void kpc_read_bases(char **buf, size_t *len)
{
	char names[sizeof(kpc_modules)], *save = NULL, *m;

	memcpy(names, kpc_modules, sizeof(names));
	for (m = strtok_r(names, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
		char dir[512];
		struct dirent *e;
		DIR *d;

		snprintf(dir, sizeof(dir), "/sys/module/%s/sections", m);
		d = opendir(dir);
		if (!d)
			continue;
		while ((e = readdir(d)) != NULL) {
			char file[1024], addr[64] = "", *more;
			ssize_t n;
			int fd;

			if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
				continue;
			snprintf(file, sizeof(file), "%s/%s", dir, e->d_name);
			fd = open(file, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			n = read(fd, addr, sizeof(addr) - 1);
			close(fd);
			if (n <= 0)
				continue;
			addr[strcspn(addr, "\n")] = 0;
			more = realloc(*buf, *len + strlen(m) + strlen(e->d_name) + strlen(addr) + 4);
			if (!more)
				break;
			*buf = more;
			*len += sprintf(*buf + *len, "%s %s %s\n", m, e->d_name, addr);
		}
		closedir(d);
	}
}

static uint64_t kpc_words(uint64_t records)
{
	return 1 + records * (kpc_mode == KPC_KCOV_TRACE_CMP ? 4 : 1);
}

static void kpc_parse_ranges(const char *s)
{
	while (s && *s && kpc_nranges < 16) {
		char *end;
		uint64_t lo = strtoull(s, &end, 16), hi;

		if (*end != '-')
			return;
		hi = strtoull(end + 1, &end, 16);
		if (hi > lo) {
			kpc_ranges[2 * kpc_nranges] = lo;
			kpc_ranges[2 * kpc_nranges + 1] = hi;
			kpc_nranges++;
			kpc_all_pcs = 0;
		}
		s = *end == ',' ? end + 1 : NULL;
	}
}

/* Buffers into the set's table (only the ranges' PCs are kept). */
static void kpc_drain(void)
{
	static const uint64_t all[2] = { 1, UINT64_MAX };
	struct kpc_kcov_stats st;

	if (!kpc_set)
		return;
	if (kpc_kcov_set_drain(kpc_set, kpc_all_pcs ? all : kpc_ranges, kpc_all_pcs ? 1 : kpc_nranges,
			       &st) >= 0)
		__atomic_add_fetch(&kpc_overflows, st.overflows, __ATOMIC_RELAXED);
}

static int kpc_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= w;
	}
	return 0;
}

/* Drains and writes what the table holds to a new file of KPROBECOV_KCOV_OUT. */
static void kpc_dump(void)
{
	uint64_t head[5] = { 0x32564f434b43504bULL /* "KPCKCOV2" */, 0, 0, 0, 0 };
	char path[4200], *text = NULL;
	void *data = NULL;
	size_t bytes = 0, text_len = 0;
	int64_t n;
	int fd, saved = errno;

	if (!kpc_set)
		return;
	pthread_mutex_lock(&kpc_dump_lock);
	kpc_drain();
	head[1] = kpc_mode;
	if (kpc_mode == KPC_KCOV_TRACE_CMP) {
		for (n = 1024;; n *= 4) {
			free(data);
			data = malloc(n * sizeof(struct kpc_kcov_cmp));
			if (!data)
				goto out;
			head[2] = kpc_kcov_set_take_cmps(kpc_set, data, n);
			if ((int64_t)head[2] != -ENOSPC)
				break;
		}
		bytes = head[2] * sizeof(struct kpc_kcov_cmp);
	} else {
		for (n = 1024;; n *= 4) {
			uint64_t *pcs, *counts, i;
			int64_t got;

			free(data);
			data = malloc(n * 3 * sizeof(uint64_t));
			if (!data)
				goto out;
			pcs = (uint64_t *)data + n;
			counts = pcs + n;
			got = kpc_kcov_set_take_pcs(kpc_set, pcs, counts, n);
			if (got == -ENOSPC)
				continue;
			if (got < 0)
				goto out;
			/* Interleave into (pc, count) pairs at the start of data. */
			for (i = 0; i < (uint64_t)got; i++) {
				((uint64_t *)data)[2 * i] = pcs[i];
				((uint64_t *)data)[2 * i + 1] = counts[i];
			}
			head[2] = got;
			break;
		}
		bytes = head[2] * 2 * sizeof(uint64_t);
	}
	if ((int64_t)head[2] < 0)
		goto out;
	head[3] = __atomic_exchange_n(&kpc_overflows, 0, __ATOMIC_RELAXED);
	if (!head[2] && !head[3])
		goto out;
	if (kpc_modules[0]) {
		text = malloc(kpc_bases_start_len + 4);
		if (text) {
			if (kpc_bases_start_len)
				memcpy(text, kpc_bases_start, kpc_bases_start_len);
			memcpy(text + kpc_bases_start_len, "--\n", 3);
			text_len = kpc_bases_start_len + 3;
			kpc_read_bases(&text, &text_len);
			head[4] = text_len;
		}
	}
	/*
	 * A pid writes once per program it runs (an exec starts a new image
	 * whose kpc_seq is 0 again): the first free number, never a rewrite.
	 */
	do {
		snprintf(path, sizeof(path), "%s/kcov-%d-%06u.bin", kpc_out, (int)getpid(), kpc_seq++);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	} while (fd < 0 && errno == EEXIST && kpc_seq < 1000000);
	if (fd >= 0) {
		if (kpc_write_all(fd, head, sizeof(head)) || kpc_write_all(fd, data, bytes) ||
		    kpc_write_all(fd, text, text_len))
			unlink(path);
		close(fd);
	}
out:
	free(text);
	free(data);
	pthread_mutex_unlock(&kpc_dump_lock);
	errno = saved;
}

static void *kpc_drainer(void *unused)
{
	struct timespec t = { 0, 100 * 1000 * 1000 };

	(void)unused;
	for (;;) {
		nanosleep(&t, NULL);
		pthread_mutex_lock(&kpc_dump_lock);
		kpc_drain();
		pthread_mutex_unlock(&kpc_dump_lock);
	}
	return NULL;
}

typedef int (*kpc_pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static kpc_pthread_create_fn kpc_real_pthread_create(void)
{
	static kpc_pthread_create_fn real;

	if (!real)
		real = (kpc_pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
	return real;
}

/* A new set for this process, its calling thread traced into `records`. */
static void kpc_start(uint64_t records)
{
	struct kpc_kcov_set *s;
	const char *path = getenv("KPROBECOV_KCOV_PATH");

	if (kpc_kcov_set_new(path && *path ? path : NULL, kpc_mode, &s))
		return;
	if (kpc_kcov_set_enable(s, kpc_words(records)) < 0) {
		kpc_kcov_set_free(s);
		return;
	}
	kpc_set = s;
}

static void kpc_prepare_fork(void)
{
	pthread_mutex_lock(&kpc_dump_lock);
}

static void kpc_parent_fork(void)
{
	pthread_mutex_unlock(&kpc_dump_lock);
}

/*
 * The child has a copy of the parent's set (its buffers are the parent's,
 * shared): forget it without touching them, and trace the child anew, with
 * a thread's smaller buffer: most children exec at once (and the new
 * program traces itself from its constructor).
 */
static void kpc_child_fork(void)
{
	pthread_mutex_init(&kpc_dump_lock, NULL);
	kpc_seq = 0;
	kpc_overflows = 0;
	if (!kpc_set)
		return;
	kpc_set = NULL;
	kpc_start(kpc_thread_records);
}

__attribute__((constructor)) static void kpc_preload_init(void)
{
	const char *out = getenv("KPROBECOV_KCOV_OUT"), *v;
	pthread_t t;
	pthread_attr_t attr;

	if (!out || !*out || strlen(out) >= sizeof(kpc_out))
		return;
	strcpy(kpc_out, out);
	v = getenv("KPROBECOV_KCOV_MODE");
	kpc_mode = v && !strcmp(v, "cmp") ? KPC_KCOV_TRACE_CMP : KPC_KCOV_TRACE_PC;
	v = getenv("KPROBECOV_KCOV_BUFFER");
	if (v && strtoull(v, NULL, 10) >= 1024)
		kpc_main_records = strtoull(v, NULL, 10);
	kpc_thread_records = kpc_main_records / 4 < (1 << 16) ? (1 << 16) : kpc_main_records / 4;
	kpc_parse_ranges(getenv("KPROBECOV_KCOV_RANGES"));
	v = getenv("KPROBECOV_KCOV_MODULES");
	if (v && strlen(v) < sizeof(kpc_modules)) {
		strcpy(kpc_modules, v);
		kpc_read_bases(&kpc_bases_start, &kpc_bases_start_len);
	}
	kpc_start(kpc_main_records);
	if (!kpc_set)
		return;
	pthread_atfork(kpc_prepare_fork, kpc_parent_fork, kpc_child_fork);
	/* The drainer is not traced: it is made with the real pthread_create. */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (kpc_real_pthread_create() && !kpc_real_pthread_create()(&t, &attr, kpc_drainer, NULL))
		pthread_setname_np(t, "kpc-kcov-drain");
	pthread_attr_destroy(&attr);
}

__attribute__((destructor)) static void kpc_preload_fini(void)
{
	kpc_dump();
}

/* ---- threads ------------------------------------------------------------ */

struct kpc_start_arg {
	void *(*fn)(void *);
	void *arg;
};

static void *kpc_thread_start(void *p)
{
	struct kpc_start_arg a = *(struct kpc_start_arg *)p;

	free(p);
	if (kpc_set)
		kpc_kcov_set_enable(kpc_set, kpc_words(kpc_thread_records));
	return a.fn(a.arg);
}

KPC_PRELOAD_API int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	kpc_pthread_create_fn real = kpc_real_pthread_create();
	struct kpc_start_arg *a;
	int ret;

	if (!real)
		return EAGAIN;
	if (!kpc_set)
		return real(t, attr, fn, arg);
	a = malloc(sizeof(*a));
	if (!a)
		return real(t, attr, fn, arg);
	a->fn = fn;
	a->arg = arg;
	ret = real(t, attr, kpc_thread_start, a);
	if (ret)
		free(a);
	return ret;
}

/* ---- exit and exec ------------------------------------------------------ */

KPC_PRELOAD_API void _exit(int status)
{
	void (*real)(int) = (void (*)(int))dlsym(RTLD_NEXT, "_exit");

	kpc_dump();
	real(status);
	__builtin_unreachable();
}

KPC_PRELOAD_API void _Exit(int status)
{
	_exit(status);
}

/* Before an exec: write what this process has, stop tracing this thread
 * (the new program traces itself); after a failed exec, trace it again. */
static void kpc_before_exec(void)
{
	kpc_dump();
	if (kpc_set)
		kpc_kcov_set_disable(kpc_set);
}

static void kpc_after_failed_exec(void)
{
	int saved = errno;

	if (kpc_set)
		kpc_kcov_set_enable(kpc_set, kpc_words(kpc_main_records));
	errno = saved;
}

#define KPC_REAL(name, type) ((type)dlsym(RTLD_NEXT, name))

KPC_PRELOAD_API int execve(const char *path, char *const argv[], char *const envp[])
{
	int ret;

	kpc_before_exec();
	ret = KPC_REAL("execve", int (*)(const char *, char *const[], char *const[]))(path, argv, envp);
	kpc_after_failed_exec();
	return ret;
}

KPC_PRELOAD_API int execv(const char *path, char *const argv[])
{
	int ret;

	kpc_before_exec();
	ret = KPC_REAL("execv", int (*)(const char *, char *const[]))(path, argv);
	kpc_after_failed_exec();
	return ret;
}

KPC_PRELOAD_API int execvp(const char *file, char *const argv[])
{
	int ret;

	kpc_before_exec();
	ret = KPC_REAL("execvp", int (*)(const char *, char *const[]))(file, argv);
	kpc_after_failed_exec();
	return ret;
}

KPC_PRELOAD_API int execvpe(const char *file, char *const argv[], char *const envp[])
{
	int ret;

	kpc_before_exec();
	ret = KPC_REAL("execvpe", int (*)(const char *, char *const[], char *const[]))(file, argv, envp);
	kpc_after_failed_exec();
	return ret;
}

KPC_PRELOAD_API int fexecve(int fd, char *const argv[], char *const envp[])
{
	int ret;

	kpc_before_exec();
	ret = KPC_REAL("fexecve", int (*)(int, char *const[], char *const[]))(fd, argv, envp);
	kpc_after_failed_exec();
	return ret;
}

/* execl, execlp, execle: their arguments gathered, then the v-forms above. */
static char **kpc_gather(const char *arg0, va_list ap, char ***envp)
{
	size_t n = 1, cap = 16;
	char **argv = malloc(cap * sizeof(char *));
	char *a;

	if (!argv)
		return NULL;
	argv[0] = (char *)arg0;
	do {
		a = va_arg(ap, char *);
		if (n == cap) {
			char **more = realloc(argv, (cap *= 2) * sizeof(char *));

			if (!more) {
				free(argv);
				return NULL;
			}
			argv = more;
		}
		argv[n++] = a;
	} while (a);
	if (envp)
		*envp = va_arg(ap, char **);
	return argv;
}

KPC_PRELOAD_API int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	char **argv;
	int ret;

	va_start(ap, arg);
	argv = kpc_gather(arg, ap, NULL);
	va_end(ap);
	if (!argv) {
		errno = ENOMEM;
		return -1;
	}
	ret = execv(path, argv);
	free(argv);
	return ret;
}

KPC_PRELOAD_API int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	char **argv;
	int ret;

	va_start(ap, arg);
	argv = kpc_gather(arg, ap, NULL);
	va_end(ap);
	if (!argv) {
		errno = ENOMEM;
		return -1;
	}
	ret = execvp(file, argv);
	free(argv);
	return ret;
}

KPC_PRELOAD_API int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	char **argv, **envp;
	int ret;

	va_start(ap, arg);
	argv = kpc_gather(arg, ap, &envp);
	va_end(ap);
	if (!argv) {
		errno = ENOMEM;
		return -1;
	}
	ret = execve(path, argv, envp);
	free(argv);
	return ret;
}
