// SPDX-License-Identifier: GPL-2.0
/*
 * kpc_target_ctl: runs kpc_target's commands (kpc_target.h) from the command
 * line, so that tests of the kprobecov CLI have a plain command to measure,
 * with no test framework around it. Each word is one command, run in order
 * on one open /dev/kpc_target:
 *
 *   a N | b N | branch N | seq N | timer N
 *              one KPC_TARGET_CALL_* ioctl with arg N (times 1)
 *   info       prints "table_sum S" (the sum of the table module_init filled)
 *   exit N     exits with status N without running the words after it
 *
 * Exits 0 when every command ran, 1 when an ioctl failed, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kpc_target.h"

static const struct {
	const char *name;
	unsigned long cmd;
} kpc_calls[] = {
	{ "a", KPC_TARGET_CALL_A },
	{ "b", KPC_TARGET_CALL_B },
	{ "branch", KPC_TARGET_CALL_BRANCH },
	{ "seq", KPC_TARGET_CALL_SEQ },
	{ "timer", KPC_TARGET_TIMER },
};

static int usage(const char *why)
{
	fprintf(stderr, "kpc_target_ctl: %s\n"
		"usage: kpc_target_ctl {a|b|branch|seq|timer N | info | exit N}...\n", why);
	return 2;
}

/* A whole decimal number (may be negative), or usage error. */
static int parse_long(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno || end == s || *end ? -1 : 0;
}

int main(int argc, char **argv)
{
	int fd, i;
	size_t k;

	if (argc < 2)
		return usage("no command");
	fd = open("/dev/" KPC_TARGET_NAME, O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "kpc_target_ctl: /dev/%s: %s (is kpc_target.ko loaded?)\n",
			KPC_TARGET_NAME, strerror(errno));
		return 1;
	}
	for (i = 1; i < argc; i++) {
		const char *word = argv[i];
		long n;

		if (!strcmp(word, "info")) {
			struct kpc_target_info info = { 0 };

			if (ioctl(fd, KPC_TARGET_GET_INFO, &info)) {
				perror("kpc_target_ctl: info");
				return 1;
			}
			printf("table_sum %llu\n", (unsigned long long)info.table_sum);
			fflush(stdout);
			continue;
		}
		if (i + 1 >= argc || parse_long(argv[i + 1], &n))
			return usage(i + 1 >= argc ? "a number is missing" : "not a number");
		i++;
		if (!strcmp(word, "exit"))
			return (int)n;
		for (k = 0; k < sizeof(kpc_calls) / sizeof(kpc_calls[0]); k++)
			if (!strcmp(word, kpc_calls[k].name))
				break;
		if (k == sizeof(kpc_calls) / sizeof(kpc_calls[0]))
			return usage("unknown command");
		{
			struct kpc_target_call call = { .arg = n, .times = 1 };

			if (ioctl(fd, kpc_calls[k].cmd, &call)) {
				fprintf(stderr, "kpc_target_ctl: %s %ld: %s\n", word, n, strerror(errno));
				return 1;
			}
		}
	}
	close(fd);
	return 0;
}
