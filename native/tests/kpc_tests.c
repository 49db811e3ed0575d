// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of libkprobecov: kpc-tests FIXTURE_DIR FIXTURE_SOURCE
 * [KCOV_FIXTURE_DIR [IBT_FIXTURE_DIR]] (the Makefile's `test` target builds the
 * fixtures with kbuild first; the third holds the fixture built with KCOV's
 * instrumentation, the fourth kpc_ibt.ko, built as for a kernel with IBT).
 */
#include <stdio.h>

#include "kpc_test.h"

int kpc_t_failed;
const char *kpc_t_fixture_dir;
const char *kpc_t_source;
const char *kpc_t_kcov_fixture_dir;
const char *kpc_t_ibt_fixture_dir;

static void kpc_run(const struct kpc_test *tests, int *n, int *passed, int *failed)
{
	for (; tests->name; tests++) {
		kpc_t_failed = 0;
		tests->fn();
		++*n;
		printf("%s %d %s\n", kpc_t_failed ? "not ok" : "ok", *n, tests->name);
		fflush(stdout);
		if (kpc_t_failed)
			++*failed;
		else
			++*passed;
	}
}

int main(int argc, char **argv)
{
	int n = 0, passed = 0, failed = 0;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: %s FIXTURE_DIR FIXTURE_SOURCE [KCOV_FIXTURE_DIR [IBT_FIXTURE_DIR]]\n",
			argv[0]);
		return 2;
	}
	kpc_t_fixture_dir = argv[1];
	kpc_t_source = argv[2];
	kpc_t_kcov_fixture_dir = argc >= 4 ? argv[3] : NULL;
	kpc_t_ibt_fixture_dir = argc == 5 ? argv[4] : NULL;
	kpc_run(kpc_device_tests, &n, &passed, &failed);
	kpc_run(kpc_debuginfo_tests, &n, &passed, &failed);
	kpc_run(kpc_kcov_tests, &n, &passed, &failed);
	kpc_run(kpc_endbr_tests, &n, &passed, &failed);
	printf("# passed %d failed %d\n", passed, failed);
	return failed ? 1 : 0;
}
