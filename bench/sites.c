// SPDX-License-Identifier: GPL-2.0
/*
 * The probe sites of both parts (entry, jump, int3), their offsets as
 * line-offsets.sh found them, and the code bytes there (KPCB_TEXT).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "kpcbench.h"

const char *const site_name[NR_SITE_KINDS] = { "entry", "line (jump site)", "line (int3 site)" };

unsigned site_offset(const struct site_offsets *o, enum site s)
{
	return s == SITE_ENTRY ? 0 : s == SITE_JUMP ? o->jump : o->int3;
}

int site_kind(enum site s)
{
	return s == SITE_ENTRY ? KPROBECOV_KIND_FUNC : KPROBECOV_KIND_LINE;
}

/*
 * Read an offsets file of line-offsets.sh ("module symbol 0xA 0xB insnA
 * insnB" per line) into off[index], the index being the decimal number after
 * `prefix` in the symbol. Returns the number of functions (indices 0 .. n-1,
 * once each).
 */
unsigned load_offsets(const char *file, const char *prefix, struct site_offsets *off,
			     unsigned max)
{
	char path[PATH_MAX], line[512], sym[256], mod[32];
	unsigned n = 0, a, b, i;
	unsigned char *seen = calloc(max, 1);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", bench_dir, file);
	f = fopen(path, "r");
	if (!f || !seen)
		die("%s: %s (build first: make -C bench KDIR=...)", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *end;
		unsigned long idx;

		if (sscanf(line, "%31s %255s %x %x", mod, sym, &a, &b) != 4 ||
		    strncmp(sym, prefix, strlen(prefix)))
			die("%s: bad line: %s", path, line);
		idx = strtoul(sym + strlen(prefix), &end, 10);
		if (*end || idx >= max || seen[idx])
			die("%s: bad or repeated symbol %s", path, sym);
		seen[idx] = 1;
		off[idx].jump = a;
		off[idx].int3 = b;
		memcpy(off[idx].module, mod, sizeof(mod));
		n++;
	}
	fclose(f);
	for (i = 0; i < n; i++)
		if (!seen[i])
			die("%s: %s%u missing", path, prefix, i);
	free(seen);
	return n;
}

/* The code bytes at each site, via KPCB_TEXT on dev. */
void read_text(int dev, struct kpcb_site *sites, size_t n)
{
	struct kpcb_text text = { .sites = (uintptr_t)sites, .count = n };
	int ret = xioctl(dev, KPCB_TEXT, &text);

	if (ret)
		die("KPCB_TEXT(%zu sites): %s", n, strerror(-ret));
}

size_t count_first_byte(const struct kpcb_site *sites, size_t n, int b1, int b2)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		if (sites[i].bytes[0] == b1 || sites[i].bytes[0] == b2)
			c++;
	return c;
}

/*
 * Poll the code at the sites until `want` of them start with b1 or b2, for
 * at most timeout_s. Returns the seconds it took, or -1 on timeout (*got:
 * the last count).
 */
double wait_text(int dev, struct kpcb_site *sites, size_t n, int b1, int b2,
			size_t want, double timeout_s, size_t *got)
{
	double start = now_s(), interval = 0.005;

	for (;;) {
		read_text(dev, sites, n);
		*got = count_first_byte(sites, n, b1, b2);
		if (*got == want)
			return now_s() - start;
		if (now_s() - start > timeout_s)
			return -1;
		sleep_s(interval);
		if (interval < 0.2)
			interval *= 2;
	}
}

/* How a planted probe looks at a site of that kind (two opcodes allowed). */
void planted_ops(enum site s, int *b1, int *b2)
{
	*b1 = s == SITE_ENTRY ? OP_CALL32 : OP_INT3;
	*b2 = s == SITE_ENTRY ? OP_CALL32 : OP_JMP32;
}
