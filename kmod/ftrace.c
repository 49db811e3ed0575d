// SPDX-License-Identifier: GPL-2.0
/*
 * Function-entry probes through ftrace. A kprobe at a function's ftrace
 * location (KPROBES_ON_FTRACE) is armed by updating the kernel's code once
 * per probe; here every collector has one ftrace_ops instead, whose filter
 * holds the fentry sites of its armed entry probes. Arming or disarming any
 * number of them (one ioctl, one module event) is one filter update, hence
 * one code update. Everything here runs in process context under kpc_mutex.
 *
 * The ops (c->fops) has no SAVE_REGS (the callback needs no pt_regs) and no
 * RECURSION flag (the callback guards itself). An ops with an empty filter
 * would trace every function: it is registered only while its filter is not
 * empty, and unregistered (which waits for running callbacks and the ops'
 * trampoline) before the filter is emptied. Filter changes of an
 * unregistered ops touch no code, which is how sites are checked: ftrace
 * takes a batch of sites only if each one is an ftrace location, so the
 * check bisects a batch on a scratch ops that is never registered.
 *
 * Module code: a module's ftrace records exist from load_module on and are
 * enabled before the COMING notifiers run (prepare_coming_module), so
 * pending probes are planted at COMING and count in module_init. Init text
 * records are freed right after the LIVE notifiers (ftrace_free_mem), which
 * leaves an ops' filter alone: probes there leave the filter at LIVE (and
 * are GONE). At GOING, before ftrace_release_mod, a module's probes leave it.
 */
#define pr_fmt(fmt) "kprobecov: " fmt

#include <linux/bsearch.h>
#include <linux/ftrace.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#ifdef CONFIG_X86
#include <asm/ibt.h>
#include <asm/nops.h>
#include <asm/text-patching.h>
#endif

#include "compat.h"
#include "kprobecov.h"

void kpc_ftrace_init(struct kpc_collector *c)
{
	c->fops.func = kpc_ftrace_handler;
	c->fops.flags = 0;	/* no SAVE_REGS, no RECURSION (see kpc_ftrace_handler) */
}

/*
 * Where the fentry call of a function that starts at addr would be, or 0
 * when the code there cannot be one: on x86 the call (or the 5-byte NOP
 * ftrace leaves when nothing traces it, or an int3 while ftrace patches it)
 * is the first instruction, after ENDBR with IBT. Whether it is an ftrace
 * location is ftrace's to say (kpc_check).
 */
static unsigned long kpc_fentry_site(unsigned long addr)
{
#ifdef CONFIG_X86
	static const u8 nop5[] = { BYTES_NOP5 };
	u8 insn[MCOUNT_INSN_SIZE];

	if (kpc_endbr_at(addr))
		addr += ENDBR_INSN_SIZE;
	if (copy_from_kernel_nofault(insn, (void *)addr, sizeof(insn)))
		return 0;
	if (insn[0] != CALL_INSN_OPCODE && insn[0] != INT3_INSN_OPCODE &&
	    memcmp(insn, nop5, sizeof(nop5)))
		return 0;
#endif
	return addr;
}

/*
 * ok[i] = whether ftrace takes ips[i] as the exact site, on scratch (never
 * registered: no code update). One call for a batch of good sites; a batch
 * with bad ones is halved until they are found.
 */
static void kpc_check(struct ftrace_ops *scratch, unsigned long *ips, u32 n, bool *ok)
{
	if (!n)
		return;
	if (!ftrace_set_filter_ips(scratch, ips, n, 0, 1)) {
		memset(ok, 1, n * sizeof(*ok));
		return;
	}
	if (n == 1) {
		ok[0] = false;
		return;
	}
	kpc_check(scratch, ips, n / 2, ok);
	kpc_check(scratch, ips + n / 2, n - n / 2, ok + n / 2);
}

/*
 * Plant those of probes[0..n) (at addrs, 0: unresolved) whose site is an
 * ftrace location through c->fops; planted[i] says which. The others are
 * the caller's to plant as kprobes. No code changes here: probes count once
 * armed and synced (kpc_ftrace_sync).
 */
void kpc_ftrace_plant(struct kpc_collector *c, struct kpc_probe **probes,
		      const unsigned long *addrs, u32 n, bool *planted)
{
	struct ftrace_ops *scratch = kzalloc(sizeof(*scratch), GFP_KERNEL);
	unsigned long *ips = kvmalloc_array(n, sizeof(*ips), GFP_KERNEL);
	u32 *which = kvmalloc_array(n, sizeof(*which), GFP_KERNEL);
	bool *ok = kvcalloc(n, sizeof(*ok), GFP_KERNEL);
	u32 i, m = 0;

	lockdep_assert_held(&kpc_mutex);
	memset(planted, 0, n * sizeof(*planted));
	if (!scratch || !ips || !which || !ok)
		goto out;	/* no memory: they become kprobes */
	for (i = 0; i < n; i++) {
		unsigned long ip;

		if (probes[i]->offset || !addrs[i])
			continue;
		ip = kpc_fentry_site(addrs[i]);
		if (!ip)
			continue;
		ips[m] = ip;
		which[m++] = i;
	}
	kpc_check(scratch, ips, m, ok);
	for (i = 0; i < m; i++) {
		struct kpc_probe *p = probes[which[i]];

		if (!ok[i])
			continue;
		p->ftrace = true;
		p->ip = ips[i];
		p->gone = false;
		p->registered = true;
		p->pending = false;
		p->unloaded = false;
		p->error = 0;
		planted[which[i]] = true;
		if (p->want_armed)
			c->fdirty = true;
	}
	ftrace_free_filter(scratch);
out:
	kvfree(ok);
	kvfree(which);
	kvfree(ips);
	kfree(scratch);
}

static bool kpc_counts(const struct kpc_probe *p)
{
	return p->ftrace && p->registered && p->want_armed && !p->gone;
}

static int kpc_cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* The table of counting probes, or NULL for none; ERR_PTR(-ENOMEM). */
static struct kpc_ftab *kpc_build_table(struct kpc_collector *c, u64 n)
{
	struct kpc_ftab *t;
	u64 size, i;

	if (!n)
		return NULL;
	size = roundup_pow_of_two(max_t(u64, 4 * n, 16));
	t = kvzalloc(struct_size(t, cells, size), GFP_KERNEL);
	if (!t)
		return ERR_PTR(-ENOMEM);
	t->mask = size - 1;
	for (i = 0; i < c->nr_probes; i++) {
		struct kpc_probe *p = c->probes[i];
		u32 h;

		if (!kpc_counts(p))
			continue;
		for (h = kpc_fhash(p->ip) & t->mask; t->cells[h].ip; h = (h + 1) & t->mask)
			;
		t->cells[h].p = p;
		t->cells[h].ip = p->ip;
	}
	return t;
}

/* Make the filter hold exactly ips[0..n) (sorted, distinct); 0 or -errno. */
static int kpc_set_filter(struct kpc_collector *c, unsigned long *ips, u64 n)
{
	int ret;

	if (n == c->nr_fips && (!n || !memcmp(ips, c->fips, n * sizeof(*ips))))
		return 0;
	if (!n) {
		if (c->fops_registered) {
			ret = unregister_ftrace_function(&c->fops);
			if (ret)
				return ret;
			c->fops_registered = false;
		}
		ret = ftrace_set_filter_ips(&c->fops, NULL, 0, 0, 1);
	} else {
		/* Registered: one code update. Not yet: none, and one at register. */
		ret = ftrace_set_filter_ips(&c->fops, ips, n, 0, 1);
		if (!ret && !c->fops_registered) {
			ret = register_ftrace_function(&c->fops);
			if (ret)
				ftrace_set_filter_ips(&c->fops, NULL, 0, 0, 1);
			else
				c->fops_registered = true;
		}
	}
	if (ret)
		return ret;
	kvfree(c->fips);
	c->fips = n ? kvmalloc_array(n, sizeof(*ips), GFP_KERNEL) : NULL;
	if (c->fips)
		memcpy(c->fips, ips, n * sizeof(*ips));
	c->nr_fips = c->fips ? n : 0;
	if (n && !c->fips)
		c->nr_fips = U64_MAX;	/* unknown: the next sync sets it again */
	return 0;
}

/*
 * After a failed sync: fail the counting probes at the sites ftrace now
 * refuses (their code went away), or all of them when it refuses none (no
 * memory, the ops could not be registered); c->fdirty for another try.
 */
static void kpc_ftrace_refuse(struct kpc_collector *c, unsigned long *ips, u64 n, int error)
{
	struct ftrace_ops *scratch = kzalloc(sizeof(*scratch), GFP_KERNEL);
	bool *ok = ips && n ? kvcalloc(n, sizeof(*ok), GFP_KERNEL) : NULL;
	u64 i, bad = 0;

	if (scratch && ok && n <= U32_MAX) {
		kpc_check(scratch, ips, n, ok);
		for (i = 0; i < n; i++)
			bad += !ok[i];
		ftrace_free_filter(scratch);
	}
	for (i = 0; i < c->nr_probes; i++) {
		struct kpc_probe *p = c->probes[i];
		unsigned long *at;

		if (!kpc_counts(p))
			continue;
		if (bad) {
			at = bsearch(&p->ip, ips, n, sizeof(*ips), kpc_cmp_ulong);
			if (!at || ok[at - ips])
				continue;
			error = -EINVAL;
		}
		p->ftrace = false;
		p->registered = false;
		p->pending = false;
		p->error = error;
	}
	c->fdirty = true;
	kvfree(ok);
	kfree(scratch);
}

/*
 * Bring the table and the filter in line with the entry probes' states,
 * after any change that set c->fdirty: the table first (a disarmed probe
 * stops counting at once; an armed one counts as soon as its site is in the
 * filter), then the filter, in one update. A site ftrace refuses now, or a
 * failed update, fails the probes concerned (error = -errno) rather than
 * leave them armed and silent.
 */
void kpc_ftrace_sync(struct kpc_collector *c)
{
	struct kpc_ftab *t, *old;
	unsigned long *ips = NULL;
	u64 i, n = 0, m = 0;
	int ret, tries;

	lockdep_assert_held(&kpc_mutex);
	for (tries = 0; c->fdirty && tries < 3; tries++) {
		c->fdirty = false;
		n = 0;
		for (i = 0; i < c->nr_probes; i++)
			n += kpc_counts(c->probes[i]);
		t = kpc_build_table(c, n);
		ips = n ? kvmalloc_array(n, sizeof(*ips), GFP_KERNEL) : NULL;
		if (IS_ERR(t) || (n && !ips)) {
			ret = -ENOMEM;
			if (!IS_ERR(t))
				kvfree(t);
			goto fail;
		}
		m = 0;
		for (i = 0; i < c->nr_probes; i++)
			if (kpc_counts(c->probes[i]))
				ips[m++] = c->probes[i]->ip;
		sort(ips, m, sizeof(*ips), kpc_cmp_ulong, NULL);
		for (i = 0, n = 0; i < m; i++)
			if (!n || ips[n - 1] != ips[i])
				ips[n++] = ips[i];

		old = rcu_replace_pointer(c->ftab, t, lockdep_is_held(&kpc_mutex));
		if (old)
			kvfree_rcu(old, rcu);
		ret = kpc_set_filter(c, ips, n);
		if (!ret) {
			kvfree(ips);
			return;
		}
fail:
		pr_warn_ratelimited("ftrace filter update failed (%d)\n", ret);
		kpc_ftrace_refuse(c, ips, n, ret);
		kvfree(ips);
		ips = NULL;
	}
}

/*
 * At close, after kpc_retire unplanted everything (so the ops is
 * unregistered: no callback runs any more), or for a collector kept because
 * ftrace refused that, once a later close could unregister it (main.c):
 * free the filter and the table.
 */
void kpc_ftrace_free(struct kpc_collector *c)
{
	WARN_ON_ONCE(c->fops_registered);
	if (c->fops.flags & FTRACE_OPS_FL_INITIALIZED)
		ftrace_free_filter(&c->fops);
	kvfree(rcu_dereference_protected(c->ftab, true));
	kvfree(c->fips);
}
