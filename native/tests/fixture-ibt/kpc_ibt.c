// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture of native/tests' ENDBR64 test, built with -fcf-protection=branch:
 * the labels of kpc_ibt_labels are address-taken (a computed goto), so each
 * starts with an ENDBR64, and the conditional jump's successors are those
 * labels. Tests find lines by their "KPC:<name>" markers.
 */
#include <linux/module.h>

static int kpc_ibt_sink;

static noinline int kpc_ibt_labels(int x, int jump)	/* KPC:labels_decl */
{
	static void *const arms[] = { &&pos, &&neg };
	int r;

	if (jump)					/* KPC:labels_jump */
		goto *arms[x <= 0];			/* KPC:labels_goto */
	if (x > 0) {					/* KPC:labels_cond */
pos:
		r = x * 3 + READ_ONCE(kpc_ibt_sink);	/* KPC:labels_pos */
	} else {
neg:
		r = -x * 7 + 1;				/* KPC:labels_neg */
	}
	WRITE_ONCE(kpc_ibt_sink, r);			/* KPC:labels_join */
	return r;
}

/* Global: starts with an ENDBR64 of its own, which stays its entry. */
noinline int kpc_ibt_entry(int x)			/* KPC:entry_decl */
{
	return kpc_ibt_labels(x, x & 1) + 1;		/* KPC:entry_body */
}
EXPORT_SYMBOL_GPL(kpc_ibt_entry);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kprobecov native test fixture: ENDBR64 at address-taken labels");
