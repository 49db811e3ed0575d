/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal kselftest-style harness for kprobecov's selftests.
 *
 *   FIXTURE(name) { fields };            per-test state, zeroed, seen as `self`
 *   FIXTURE_SETUP(name) { ... }          runs before each TEST_F of the fixture
 *   FIXTURE_TEARDOWN(name) { ... }       runs after it, also after a failed ASSERT
 *   TEST_F(name, test) { ... }           a test using the fixture
 *   TEST_F_TIMEOUT(name, test, seconds)  the same with its own time limit
 *   TEST(test) { ... }                   a test without fixture
 *   KT_MAIN(requirements)                main(); requirements() returns NULL or
 *                                        why every test must be skipped
 *
 * Each test runs in a forked child in its own process group, so a crash or
 * a hang (killed at the time limit, with everything it forked) fails that
 * test only. ASSERT_* ends the test at the first failure; EXPECT_* records
 * it and goes on. SKIP(fmt, ...) ends the test as skipped. Asserts are for
 * the test's own process: a thread must not use them (collect its results
 * and check them after joining); in a process the test forked they _exit(1).
 *
 * Output is KTAP-like: "ok N name", "not ok N name", "ok N name # SKIP why",
 * diagnostics as "# ..." lines, and last "# passed N failed M skipped K".
 * Exit status: 1 if a test failed, 4 (kselftest's skip) if all were skipped,
 * 0 otherwise. Arguments select the tests whose name contains one of them;
 * -l lists the tests.
 */
#ifndef KT_HARNESS_H
#define KT_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KT_SKIP_EXIT		4
#define KT_DEFAULT_TIMEOUT	120	/* seconds: generous, the guest may run under TCG */
#define KT_REASON_LEN		256

struct kt_test {
	const char *name;
	void (*run)(void);
	unsigned int timeout;
	struct kt_test *next;
};

/* State of the running test, in the test's child process. */
struct kt_ctx {
	pid_t pid;		/* the test's process: only it may longjmp */
	int failed;
	int skipped;
	int setup_done;
	jmp_buf bail;
	char *reason;		/* shared with the parent: why it skipped */
};

static struct kt_test *kt_head;
static struct kt_test **kt_tail = &kt_head;
static struct kt_ctx kt_cur;

static inline void kt_register(struct kt_test *t)
{
	*kt_tail = t;
	kt_tail = &t->next;
}

static inline void __attribute__((format(printf, 1, 2))) kt_log(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* Ends the current test (after its teardown) once a fatal check failed or it skipped. */
static inline void __attribute__((noreturn)) kt_bail(void)
{
	if (getpid() != kt_cur.pid) {
		fflush(stdout);
		_exit(kt_cur.skipped ? KT_SKIP_EXIT : 1);
	}
	longjmp(kt_cur.bail, 1);
}

static inline void kt_fail_cmp(const char *file, int line, const char *what,
			       const char *exp_s, const char *act_s,
			       unsigned long long e, unsigned long long a)
{
	kt_cur.failed = 1;
	kt_log("%s:%d: %s(%s, %s): expected %lld (%#llx) but got %lld (%#llx)",
	       file, line, what, exp_s, act_s, (long long)e, e, (long long)a, a);
}

static inline const char *kt_errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";

	return n ? n : "?";
}

#define KT_CMP(what, fatal, exp, act, exp_s, act_s, op, cast) do {		\
	__typeof__(exp) kt_e_ = (exp);						\
	__typeof__(act) kt_a_ = (act);						\
	if (!((cast)kt_e_ op (cast)kt_a_)) {					\
		kt_fail_cmp(__FILE__, __LINE__, what, exp_s, act_s,		\
			    (unsigned long long)kt_e_, (unsigned long long)kt_a_); \
		if (fatal)							\
			kt_bail();						\
	}									\
} while (0)

/* Equality compares bit patterns; ordering compares signed 64-bit values. */
#define ASSERT_EQ(exp, act)	KT_CMP("ASSERT_EQ", 1, exp, act, #exp, #act, ==, unsigned long long)
#define ASSERT_NE(exp, act)	KT_CMP("ASSERT_NE", 1, exp, act, #exp, #act, !=, unsigned long long)
#define ASSERT_LT(exp, act)	KT_CMP("ASSERT_LT", 1, exp, act, #exp, #act, <, long long)
#define ASSERT_LE(exp, act)	KT_CMP("ASSERT_LE", 1, exp, act, #exp, #act, <=, long long)
#define ASSERT_GT(exp, act)	KT_CMP("ASSERT_GT", 1, exp, act, #exp, #act, >, long long)
#define ASSERT_GE(exp, act)	KT_CMP("ASSERT_GE", 1, exp, act, #exp, #act, >=, long long)
#define EXPECT_EQ(exp, act)	KT_CMP("EXPECT_EQ", 0, exp, act, #exp, #act, ==, unsigned long long)
#define EXPECT_NE(exp, act)	KT_CMP("EXPECT_NE", 0, exp, act, #exp, #act, !=, unsigned long long)

/* A condition that must hold (want 1) or not (want 0). */
#define KT_BOOL(what, want, cond, cond_s) do {					\
	if ((!!(cond)) != (want)) {						\
		kt_cur.failed = 1;						\
		kt_log("%s:%d: %s(%s): is %s", __FILE__, __LINE__, what, cond_s,	\
		       (want) ? "false" : "true");				\
		kt_bail();							\
	}									\
} while (0)
#define ASSERT_TRUE(x)		KT_BOOL("ASSERT_TRUE", 1, x, #x)
#define ASSERT_FALSE(x)		KT_BOOL("ASSERT_FALSE", 0, x, #x)

/* A call that must fail with -1 and errno == err. */
#define KT_ERRNO(what, fatal, err, call, err_s, call_s) do {			\
	long kt_r_;								\
	int kt_en_;								\
	errno = 0;								\
	kt_r_ = (long)(call);							\
	kt_en_ = errno;								\
	if (kt_r_ != -1 || kt_en_ != (err)) {					\
		kt_cur.failed = 1;						\
		kt_log("%s:%d: %s(%s, %s): expected -1 with errno %s but got %ld, errno %s", \
		       __FILE__, __LINE__, what, err_s, call_s, kt_errname(err),	\
		       kt_r_, kt_errname(kt_r_ == -1 ? kt_en_ : 0));		\
		if (fatal)							\
			kt_bail();						\
	}									\
} while (0)
#define ASSERT_ERRNO(err, call)	KT_ERRNO("ASSERT_ERRNO", 1, err, call, #err, #call)
#define EXPECT_ERRNO(err, call)	KT_ERRNO("EXPECT_ERRNO", 0, err, call, #err, #call)

/* A call that must return 0. */
#define ASSERT_OK(call) do {							\
	long kt_r_;								\
	int kt_en_;								\
	errno = 0;								\
	kt_r_ = (long)(call);							\
	kt_en_ = errno;								\
	if (kt_r_ != 0) {							\
		kt_cur.failed = 1;						\
		kt_log("%s:%d: ASSERT_OK(%s): got %ld, errno %s (%s)",		\
		       __FILE__, __LINE__, #call, kt_r_, kt_errname(kt_en_),	\
		       strerror(kt_en_));					\
		kt_bail();							\
	}									\
} while (0)

#define ASSERT_STREQ(exp, act) do {						\
	const char *kt_es_ = (exp), *kt_as_ = (act);				\
	if (strcmp(kt_es_, kt_as_)) {						\
		kt_cur.failed = 1;						\
		kt_log("%s:%d: ASSERT_STREQ(%s, %s): expected \"%s\" but got \"%s\"", \
		       __FILE__, __LINE__, #exp, #act, kt_es_, kt_as_);		\
		kt_bail();							\
	}									\
} while (0)

/* str must contain sub. */
#define ASSERT_STRSTR(sub, str) do {						\
	const char *kt_ss_ = (sub), *kt_s_ = (str);				\
	if (!strstr(kt_s_, kt_ss_)) {						\
		kt_cur.failed = 1;						\
		kt_log("%s:%d: ASSERT_STRSTR(%s, %s): \"%s\" not in \"%s\"",	\
		       __FILE__, __LINE__, #sub, #str, kt_ss_, kt_s_);		\
		kt_bail();							\
	}									\
} while (0)

#define SKIP(...) do {								\
	snprintf(kt_cur.reason, KT_REASON_LEN, __VA_ARGS__);			\
	kt_cur.skipped = 1;							\
	kt_bail();								\
} while (0)

#define KT_REGISTER(id, tname, fn, secs)					\
	static struct kt_test kt_test_##id = { tname, fn, secs, NULL };		\
	static void __attribute__((constructor)) kt_reg_##id(void)		\
	{									\
		kt_register(&kt_test_##id);					\
	}

#define TEST_TIMEOUT(name, secs)						\
	static void kt_body_##name(void);					\
	static void kt_run_##name(void)						\
	{									\
		if (setjmp(kt_cur.bail) == 0)					\
			kt_body_##name();					\
	}									\
	KT_REGISTER(name, #name, kt_run_##name, secs)				\
	static void kt_body_##name(void)
#define TEST(name) TEST_TIMEOUT(name, KT_DEFAULT_TIMEOUT)

#define FIXTURE(fx)		struct kt_fx_##fx
#define FIXTURE_SETUP(fx)						\
	static void kt_setup_##fx(struct kt_fx_##fx *self __attribute__((unused)))
#define FIXTURE_TEARDOWN(fx)						\
	static void kt_teardown_##fx(struct kt_fx_##fx *self __attribute__((unused)))

#define TEST_F_TIMEOUT(fx, name, secs)						\
	static void kt_body_##fx##_##name(struct kt_fx_##fx *self);		\
	static void kt_run_##fx##_##name(void)					\
	{									\
		struct kt_fx_##fx *self = calloc(1, sizeof(*self));		\
		if (!self) {							\
			kt_log("out of memory");				\
			_exit(1);						\
		}								\
		if (setjmp(kt_cur.bail) == 0) {					\
			kt_setup_##fx(self);					\
			kt_cur.setup_done = 1;					\
			kt_body_##fx##_##name(self);				\
		}								\
		if (kt_cur.setup_done && setjmp(kt_cur.bail) == 0) {		\
			kt_cur.setup_done = 0;					\
			kt_teardown_##fx(self);					\
		}								\
		free(self);							\
	}									\
	KT_REGISTER(fx##_##name, #fx "." #name, kt_run_##fx##_##name, secs)	\
	static void kt_body_##fx##_##name(struct kt_fx_##fx *self __attribute__((unused)))
#define TEST_F(fx, name) TEST_F_TIMEOUT(fx, name, KT_DEFAULT_TIMEOUT)

static inline double kt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

enum kt_result { KT_PASS, KT_FAIL, KT_SKIP };

/* Runs one test in a child; returns its result. reason gets the skip reason. */
static inline enum kt_result kt_run_one(struct kt_test *t, char *reason, sigset_t *oldmask)
{
	sigset_t chld;
	double deadline;
	int status = 0, killed = 0;
	pid_t pid;

	reason[0] = '\0';
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		kt_log("fork: %s", strerror(errno));
		return KT_FAIL;
	}
	if (pid == 0) {
		setpgid(0, 0);
		sigprocmask(SIG_SETMASK, oldmask, NULL);
		memset(&kt_cur, 0, sizeof(kt_cur));
		kt_cur.pid = getpid();
		kt_cur.reason = reason;
		t->run();
		fflush(NULL);
		_exit(kt_cur.skipped ? KT_SKIP_EXIT : kt_cur.failed ? 1 : 0);
	}
	setpgid(pid, pid);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	deadline = kt_now() + t->timeout;
	for (;;) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			kt_log("waitpid: %s", strerror(errno));
			return KT_FAIL;
		}
		if (kt_now() > deadline) {
			if (killed) {
				/* Stuck in the kernel: leave it, report, go on. */
				kt_log("%s: still not dead 10 s after SIGKILL", t->name);
				return KT_FAIL;
			}
			kt_log("%s: timed out after %u s, killing it", t->name, t->timeout);
			kill(-pid, SIGKILL);
			killed = 1;
			deadline = kt_now() + 10;
		}
		sigtimedwait(&chld, NULL, &ts);
	}
	/* Whatever the test forked and left behind goes with it. */
	kill(-pid, SIGKILL);
	if (killed)
		return KT_FAIL;
	if (WIFSIGNALED(status)) {
		kt_log("%s: killed by signal %d (%s)", t->name, WTERMSIG(status),
		       strsignal(WTERMSIG(status)));
		return KT_FAIL;
	}
	if (WEXITSTATUS(status) == KT_SKIP_EXIT)
		return KT_SKIP;
	return WEXITSTATUS(status) ? KT_FAIL : KT_PASS;
}

static inline int kt_selected(struct kt_test *t, int argc, char **argv)
{
	int i;

	if (argc < 2)
		return 1;
	for (i = 1; i < argc; i++)
		if (strstr(t->name, argv[i]))
			return 1;
	return 0;
}

static inline int kt_main(int argc, char **argv, const char *(*requirements)(void))
{
	int passed = 0, failed = 0, skipped = 0, n = 0, total = 0;
	const char *missing = NULL;
	sigset_t chld, oldmask;
	struct kt_test *t;
	char *reason;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "-l")) {
		for (t = kt_head; t; t = t->next)
			printf("%s\n", t->name);
		return 0;
	}
	reason = mmap(NULL, KT_REASON_LEN, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (reason == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (t = kt_head; t; t = t->next)
		total += kt_selected(t, argc, argv);
	if (requirements)
		missing = requirements();
	printf("TAP version 13\n1..%d\n", total);

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &oldmask);
	for (t = kt_head; t; t = t->next) {
		enum kt_result r;
		double t0;

		if (!kt_selected(t, argc, argv))
			continue;
		n++;
		if (missing) {
			printf("ok %d %s # SKIP %s\n", n, t->name, missing);
			skipped++;
			continue;
		}
		printf("# RUN %s\n", t->name);
		t0 = kt_now();
		r = kt_run_one(t, reason, &oldmask);
		printf("# %s: %.2f s\n", t->name, kt_now() - t0);
		if (r == KT_PASS) {
			printf("ok %d %s\n", n, t->name);
			passed++;
		} else if (r == KT_SKIP) {
			printf("ok %d %s # SKIP %s\n", n, t->name, reason);
			skipped++;
		} else {
			printf("not ok %d %s\n", n, t->name);
			failed++;
		}
	}
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	printf("# passed %d failed %d skipped %d\n", passed, failed, skipped);
	if (failed)
		return 1;
	return passed ? 0 : KT_SKIP_EXIT;
}

#define KT_MAIN(requirements)							\
	int main(int argc, char **argv)						\
	{									\
		return kt_main(argc, argv, requirements);			\
	}

#endif /* KT_HARNESS_H */
