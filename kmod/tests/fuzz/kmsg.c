// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel reports in /dev/kmsg, by the patterns scripts/guest-run.sh uses
 * (scripts/kernel-reports.sh), with one exception made for failure injection:
 * the stack dump that follows an allocation failure message (warn_alloc's
 * "page allocation failure" and "vmalloc error", percpu's "allocation failed")
 * is the kernel reporting an allocation that fail-nth made fail, not a bug.
 * The dump ends at its "</TASK>" line.
 */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#define FZ_REPORT "WARNING:|BUG:|Oops|general protection|possible circular locking|" \
	"inconsistent lock state|possible recursive locking|suspicious RCU usage|" \
	"sleeping function called from invalid context|KASAN:|UBSAN:|kernel BUG|Call Trace:"
#define FZ_ALLOC_FAILURE "page allocation failure:|vmalloc error:|percpu: allocation failed"

static regex_t fz_report_re, fz_alloc_re;
static int fz_in_alloc_dump;

int fz_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	lseek(fd, 0, SEEK_END);
	regcomp(&fz_report_re, FZ_REPORT, REG_EXTENDED | REG_NOSUB);
	regcomp(&fz_alloc_re, FZ_ALLOC_FAILURE, REG_EXTENDED | REG_NOSUB);
	return fd;
}

int fz_kmsg_check(int fd, char *line, size_t len, FILE *log)
{
	char rec[8192];
	int found = 0;

	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);
		char *msg, *end;

		if (n < 0 && errno == EPIPE)	/* records overwritten: go on */
			continue;
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		end = strchr(msg, '\n');
		if (end)
			*end = '\0';
		if (log)
			fprintf(log, "%s\n", msg);
		if (!regexec(&fz_alloc_re, msg, 0, NULL, 0)) {
			fz_in_alloc_dump = 1;
			continue;
		}
		if (fz_in_alloc_dump) {
			if (strstr(msg, "</TASK>"))
				fz_in_alloc_dump = 0;
			if (strstr(msg, "Call Trace:"))
				continue;
		}
		if (!found && !regexec(&fz_report_re, msg, 0, NULL, 0)) {
			snprintf(line, len, "%s", msg);
			found = 1;
		}
	}
	return found;
}
