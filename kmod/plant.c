// SPDX-License-Identifier: GPL-2.0
/*
 * Planting: a target's probes registered as kprobes, or entry sites handed to
 * ftrace (ftrace.c). Built-in code by kprobes' own symbol lookup (or the
 * user-given address), a loaded module's at the addresses resolve.c finds,
 * an unloaded module's left pending for the module notifier (notifier.c).
 * A probe's registered, pending and error change here: everything runs in
 * process context under kpc_mutex.
 */

#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "compat.h"
#include "kprobecov.h"

/*
 * Whether addr, p's site, is an ENDBR64 that is not its function's first
 * instruction (the landing pad of an indirect branch, e.g. at an
 * address-taken label): a breakpoint left there makes an indirect jump onto
 * it a #CP on a CPU that enforces IBT, a BUG by default. Such a site is
 * refused (EOPNOTSUPP) on every kernel built with IBT, whether this CPU
 * enforces it or not, so that one plan gives one result everywhere. At
 * offset 0 kprobes itself moves the probe past the ENDBR64: allowed.
 */
static bool kpc_mid_endbr(const struct kpc_probe *p, unsigned long addr)
{
	return p->offset && kpc_endbr_at(addr);
}

/*
 * Register one probe at addr (or by symbol name when addr is 0), unless its
 * site is a mid-function ENDBR64 (kpc_mid_endbr; by name, found once kprobes
 * has resolved it: a probe registered disabled changed no code).
 */
static int kpc_register(struct kpc_probe *p, unsigned long addr)
{
	int ret;

	if (addr && kpc_mid_endbr(p, addr)) {
		p->error = -EOPNOTSUPP;
		p->registered = false;
		p->pending = false;
		return p->error;
	}
	memset(&p->kp, 0, sizeof(p->kp));
	p->kp.pre_handler = kpc_pre_handler_of(p);
	p->kp.flags = p->want_armed ? 0 : KPROBE_FLAG_DISABLED;
	if (addr) {
		p->kp.addr = (kprobe_opcode_t *)addr;
	} else {
		p->kp.symbol_name = p->symbol;
		p->kp.offset = p->offset;
	}
	ret = register_kprobe(&p->kp);
	if (!ret && !addr && kpc_mid_endbr(p, (unsigned long)p->kp.addr)) {
		unregister_kprobe(&p->kp);
		ret = -EOPNOTSUPP;
	}
	p->error = ret;
	p->registered = !ret;
	p->pending = false;
	if (!ret)
		p->unloaded = false;
	return ret;
}

/* Undo a registration that landed somewhere else than p asked for. */
static void kpc_unregister_wrong(struct kpc_probe *p, int error)
{
	unregister_kprobe(&p->kp);
	p->registered = false;
	p->error = error;
}

/*
 * A user-given address must be symbol + offset. When kallsyms prints another
 * name there (an alias), register by name and compare: slow, but rare.
 */
static void kpc_plant_at_address(struct kpc_probe *p)
{
	unsigned long off;
	bool named;

	if (kpc_at_offset(p, p->address, 0, &off, &named) && named) {
		kpc_register(p, p->address);
		return;
	}
	if (kpc_register(p, 0))
		return;
	if (!kpc_at_offset(p, (unsigned long)p->kp.addr, p->kp.flags, &off, &named) ||
	    (unsigned long)p->kp.addr - off + p->offset != p->address)
		kpc_unregister_wrong(p, -EADDRNOTAVAIL);
}

/*
 * Plant built-in probes; consecutive probes on one symbol share a lookup.
 * An offset past the symbol's end would land in the next function: ERANGE.
 * A symbol that is only a module's: ENOENT (kpc_in_module_text), found before
 * kprobes is asked where that module's last function has the name
 * (kpc_vmlinux_tails).
 */
static void kpc_plant_vmlinux(struct kpc_probe **probes, u32 n)
{
	bool *tails = kpc_vmlinux_tails(probes, n);
	const char *last = NULL;
	unsigned long base = 0;
	u32 i;

	for (i = 0; i < n; i++) {
		struct kpc_probe *p = probes[i];
		unsigned long addr, off;
		bool named;

		if (!p->address && (!tails || tails[i])) {
			p->error = tails ? -ENOENT : -ENOMEM;
			continue;
		}
		if (p->address) {
			if (kpc_in_module_text(p->address)) {
				p->error = -ENOENT;	/* before kprobes looks at it */
				continue;
			}
			kpc_plant_at_address(p);
			if (p->registered && kpc_in_module_text((unsigned long)p->kp.addr))
				kpc_unregister_wrong(p, -ENOENT);
			continue;
		}
		if (last && !strcmp(last, p->symbol) && base) {
			if (kpc_at_offset(p, base + p->offset, 0, &off, &named))
				kpc_register(p, base + p->offset);
			else
				p->error = -ERANGE;
			continue;
		}
		last = p->symbol;
		base = 0;
		if (kpc_register(p, 0))
			continue;
		addr = (unsigned long)p->kp.addr;
		if (kpc_in_module_text(addr)) {
			kpc_unregister_wrong(p, -ENOENT);	/* a module's symbol, not vmlinux's */
			continue;
		}
		if (!kpc_at_offset(p, addr, p->kp.flags, &off, &named)) {
			kpc_unregister_wrong(p, -ERANGE);	/* landed in the next symbol */
			continue;
		}
		base = addr - off;	/* the symbol's start */
	}
	kvfree(tails);
}

/*
 * Plant probes of a loaded module: entry sites through ftrace, the rest as kprobes
 * (but none where kprobes would decode past the module's text: kpc_decode_overruns).
 */
void kpc_plant_module(struct kpc_collector *c, struct module *mod,
		      struct kpc_probe **probes, u32 n)
{
	unsigned long *addresses = kvcalloc(n, sizeof(*addresses), GFP_KERNEL);
	int *errors = kvcalloc(n, sizeof(*errors), GFP_KERNEL);
	bool *planted = kvcalloc(n, sizeof(*planted), GFP_KERNEL);
	int ret = addresses && errors && planted ?
		  kpc_resolve_module(mod, probes, n, addresses, errors) : -ENOMEM;
	u32 i;

	if (!ret)
		kpc_ftrace_plant(c, probes, addresses, n, planted);
	for (i = 0; i < n; i++) {
		if (!ret && planted[i])
			continue;
		if (!ret && addresses[i] && kpc_decode_overruns(mod, addresses[i])) {
			probes[i]->error = -EOVERFLOW;
			probes[i]->pending = false;
		} else if (!ret && addresses[i]) {
			kpc_register(probes[i], addresses[i]);
		} else {
			probes[i]->error = ret ?: errors[i];
			probes[i]->pending = false;
		}
	}
	kvfree(planted);
	kvfree(errors);
	kvfree(addresses);
}

/*
 * Built-in entry probes were planted as (disabled) kprobes, kprobes' lookup
 * being the one for built-in symbols: move those on ftrace locations to
 * ftrace, with one unregistration (one grace period) for all. A disabled
 * kprobe changed no code, so this changes none either.
 */
static void kpc_vmlinux_to_ftrace(struct kpc_collector *c, struct kpc_probe **probes, u32 n)
{
	struct kpc_probe **run = kvmalloc_array(n, sizeof(*run), GFP_KERNEL);
	struct kprobe **kps = kvmalloc_array(n, sizeof(*kps), GFP_KERNEL);
	unsigned long *addrs = kvmalloc_array(n, sizeof(*addrs), GFP_KERNEL);
	bool *planted = kvmalloc_array(n, sizeof(*planted), GFP_KERNEL);
	u32 i, m = 0;

	if (!run || !kps || !addrs || !planted)
		goto out;	/* they stay kprobes */
	for (i = 0; i < n; i++) {
		struct kpc_probe *p = probes[i];

		if (!p->registered || p->ftrace || p->offset || !(p->kp.flags & KPROBE_FLAG_FTRACE) ||
		    !kprobe_disabled(&p->kp))
			continue;
		run[m] = p;
		kps[m] = &p->kp;
		addrs[m++] = (unsigned long)p->kp.addr;
	}
	if (!m)
		goto out;
	unregister_kprobes(kps, m);
	for (i = 0; i < m; i++)
		run[i]->registered = false;
	kpc_ftrace_plant(c, run, addrs, m, planted);
	for (i = 0; i < m; i++)
		if (!planted[i])
			kpc_register(run[i], addrs[i]);
out:
	kvfree(planted);
	kvfree(addrs);
	kvfree(kps);
	kvfree(run);
}

/* Plant probes that all belong to one target; unloaded modules: pending. */
static void kpc_plant(struct kpc_collector *c, u32 target, struct kpc_probe **probes, u32 n)
{
	struct kobject *kobj;
	struct module *mod;
	bool builtin;
	u32 i;

	if (target == KPC_TARGET_VMLINUX) {
		kpc_plant_vmlinux(probes, n);
		kpc_vmlinux_to_ftrace(c, probes, n);
		return;
	}
	mod = kpc_get_module(c->targets[target], &kobj, &builtin);
	if (mod) {
		kpc_plant_module(c, mod, probes, n);
		kobject_put(kobj);
		return;
	}
	for (i = 0; i < n; i++) {
		probes[i]->pending = !builtin;
		probes[i]->error = builtin ? -ENOENT : 0;
	}
}

/*
 * Plant a step of one target's probes (under kpc_mutex). A module's probes were
 * published pending: those the module notifier planted meanwhile (it loaded) or
 * left waiting (it went) are its; the others are planted now.
 */
void kpc_plant_step(struct kpc_collector *c, u32 target, struct kpc_probe **run, u32 n)
{
	u32 i, m = 0;

	for (i = 0; i < n; i++) {
		if (target == KPC_TARGET_VMLINUX || run[i]->pending) {
			swap(run[m], run[i]);	/* keeps the order of those planted */
			m++;
		}
	}
	if (m)
		kpc_plant(c, target, run, m);
}
