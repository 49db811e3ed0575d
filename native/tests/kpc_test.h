/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal TAP-like harness: each test prints "ok N name" or "not ok N name"
 * (with "#" lines saying which expectation failed), and the run ends with
 * "# passed N failed M".
 */
#ifndef KPC_TEST_H
#define KPC_TEST_H

#include <stdio.h>
#include <string.h>

#include "libkprobecov.h"

struct kpc_test {
	const char *name;
	void (*fn)(void);
};

extern int kpc_t_failed;		/* the running test failed */
extern const char *kpc_t_fixture_dir;	/* holds the kbuild-built fixture */
extern const char *kpc_t_source;	/* the fixture's source, for markers */
extern const char *kpc_t_kcov_fixture_dir;	/* the fixture built for KCOV, or NULL */
extern const char *kpc_t_ibt_fixture_dir;	/* kpc_ibt.ko and its source, or NULL */

extern const struct kpc_test kpc_device_tests[];
extern const struct kpc_test kpc_debuginfo_tests[];
extern const struct kpc_test kpc_kcov_tests[];
extern const struct kpc_test kpc_endbr_tests[];

/* The fixture's line marked "KPC:<name>", 0 if none (test_debuginfo.c). */
unsigned int kpc_t_marker(const char *name);
/* The same in another source file. */
unsigned int kpc_t_marker_in(const char *source, const char *name);

#define KPC_FAIL(fmt, ...) do {							\
	printf("#   %s:%d: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__);	\
	kpc_t_failed = 1;							\
} while (0)

#define EXPECT(cond) do {							\
	if (!(cond))								\
		KPC_FAIL("expected %s", #cond);					\
} while (0)

#define EXPECT_EQ(a, b) do {							\
	long long _a = (long long)(a), _b = (long long)(b);			\
	if (_a != _b)								\
		KPC_FAIL("%s is %lld, expected %s = %lld", #a, _a, #b, _b);	\
} while (0)

#define EXPECT_STREQ(a, b) do {							\
	const char *_a = (a), *_b = (b);					\
	if (!_a || !_b || strcmp(_a, _b))					\
		KPC_FAIL("%s is \"%s\", expected \"%s\"", #a, _a ? _a : "(null)",	\
			 _b ? _b : "(null)");					\
} while (0)

/* Stop the test here when a precondition fails. */
#define ASSERT(cond) do {							\
	if (!(cond)) {								\
		KPC_FAIL("expected %s (stopping)", #cond);			\
		return;								\
	}									\
} while (0)

#endif /* KPC_TEST_H */
