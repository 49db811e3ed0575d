// SPDX-License-Identifier: GPL-2.0
/*
 * Probes: adding, planting (registering) and removing kprobes, arming, and
 * following modules as they load and unload. Everything here runs in
 * process context under kpc_mutex.
 *
 * Probes are module-relative: (module, symbol, offset). A module's symbols
 * are resolved from its own kallsyms in one pass (6.1's kallsyms_lookup_name
 * scans all of vmlinux for every "mod:sym"); built-in symbols go through
 * register_kprobe's own lookup, once per run of probes on one symbol, unless
 * user space gave the address.
 */
#define pr_fmt(fmt) "kprobecov: " fmt

#include <linux/kallsyms.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/stringhash.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "kprobecov.h"

static bool kpc_is_vmlinux(const char *module)
{
	return !module[0] || !strcmp(module, "vmlinux");
}

/* Probes one step of ADD_PROBES or ARM plants or arms under one hold of kpc_mutex. */
#define KPC_PROBES_PER_STEP 256

/* The cell of target_tab for module: its index + 1, or the empty cell to put it in. */
static u32 *kpc_target_cell(struct kpc_collector *c, const char *module)
{
	u32 i = full_name_hash(NULL, module, strlen(module)) & c->target_mask;

	while (c->target_tab[i] && strcmp(c->targets[c->target_tab[i] - 1], module))
		i = (i + 1) & c->target_mask;
	return &c->target_tab[i];
}

/* Room for one more target: targets and target_tab (at most half full) grown by doubling. */
static int kpc_target_room(struct kpc_collector *c)
{
	char (*targets)[KPROBECOV_MODULE_LEN];
	u32 size, *tab, i;

	if (c->nr_targets == c->targets_cap) {
		targets = kvmalloc_array(2 * c->targets_cap, sizeof(*targets), GFP_KERNEL_ACCOUNT);
		if (!targets)
			return -ENOMEM;
		memcpy(targets, c->targets, c->nr_targets * sizeof(*targets));
		kvfree(c->targets);
		c->targets = targets;
		c->targets_cap *= 2;
	}
	if (c->target_tab && 2 * (c->nr_targets + 1) <= c->target_mask + 1)
		return 0;
	size = roundup_pow_of_two(max(64U, 4 * (c->nr_targets + 1)));
	tab = kvcalloc(size, sizeof(*tab), GFP_KERNEL_ACCOUNT);
	if (!tab)
		return -ENOMEM;
	kvfree(c->target_tab);
	c->target_tab = tab;
	c->target_mask = size - 1;
	for (i = 1; i < c->nr_targets; i++)
		*kpc_target_cell(c, c->targets[i]) = i + 1;
	return 0;
}

/*
 * Index of a target name in c->targets, added if new (add); -ENOENT (not there, !add)
 * or -ENOMEM. Under kpc_mutex (the module notifier looks names up).
 */
static int kpc_target_index(struct kpc_collector *c, const char *module, bool add)
{
	u32 *cell;
	int ret;

	if (kpc_is_vmlinux(module))
		return KPC_TARGET_VMLINUX;
	if (c->target_tab) {
		cell = kpc_target_cell(c, module);
		if (*cell)
			return *cell - 1;
	}
	if (!add)
		return -ENOENT;
	ret = kpc_target_room(c);
	if (ret)
		return ret;
	strscpy(c->targets[c->nr_targets], module, KPROBECOV_MODULE_LEN);
	*kpc_target_cell(c, module) = c->nr_targets + 1;
	return c->nr_targets++;
}

/*
 * The loaded module of that name, pinned by its kobject (free_module waits
 * for the last kobject reference), or NULL. *builtin is set when the name
 * is built-in code (a /sys/module entry without a module).
 */
static struct module *kpc_get_module(const char *name, struct kobject **kobj, bool *builtin)
{
	struct module_kobject *mk;

	*builtin = false;
	*kobj = kset_find_obj(THIS_MODULE->mkobj.kobj.kset, name);
	if (!*kobj)
		return NULL;
	mk = container_of(*kobj, struct module_kobject, kobj);
	if (!mk->mod)
		*builtin = true;
	else if (mk->mod->state == MODULE_STATE_COMING || mk->mod->state == MODULE_STATE_LIVE)
		return mk->mod;
	kobject_put(*kobj);
	*kobj = NULL;
	return NULL;
}

/* Symbols of a module's table looked at with preemption off, at most. */
#define KPC_SYMS_PER_STEP 4096

/* Open-addressing table of wanted symbol names -> addresses. */
struct kpc_want {
	const char *name;
	unsigned long addr;
	unsigned long size;
};

static struct kpc_want *kpc_want_slot(struct kpc_want *t, u32 mask, const char *name)
{
	u32 i = full_name_hash(NULL, name, strlen(name)) & mask;

	while (t[i].name && strcmp(t[i].name, name))
		i = (i + 1) & mask;
	return &t[i];
}

/*
 * Resolve the symbols of probes[0..n) in mod with one pass over the
 * module's symbol table (the first symbol of a duplicated name wins).
 * Sets addresses[i] to symbol + offset, or 0 and errors[i] when the symbol
 * is unknown (ENOENT) or the offset is past its end (ERANGE).
 */
static int kpc_resolve_module(struct module *mod, struct kpc_probe **probes, u32 n,
			      unsigned long *addresses, int *errors)
{
	struct mod_kallsyms *ks, *prev;
	struct kpc_want *t;
	u32 size = roundup_pow_of_two(2 * n + 1), mask = size - 1, i, j, end;

	t = kvcalloc(size, sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		kpc_want_slot(t, mask, probes[i]->symbol)->name = probes[i]->symbol;

	/*
	 * mod->kallsyms is RCU-sched protected: read with preemption off, in chunks with a
	 * chance to reschedule between them. It changes once, at LIVE (the init symbols
	 * dropped; the table it pointed to is freed after a grace period): a walk that
	 * finds another table restarts on it.
	 */
	for (i = 0, prev = NULL;; cond_resched()) {
		preempt_disable();
		ks = rcu_dereference_sched(mod->kallsyms);
		if (ks != prev) {
			for (j = 0; j < size; j++)
				t[j].addr = t[j].size = 0;
			prev = ks;
			i = 0;
		}
		end = min_t(u32, ks->num_symtab, i + KPC_SYMS_PER_STEP);
		for (; i < end; i++) {
			const Elf_Sym *sym = &ks->symtab[i];
			const char *name = ks->strtab + sym->st_name;
			struct kpc_want *w;

			if (!*name || sym->st_shndx == SHN_UNDEF)
				continue;
			w = kpc_want_slot(t, mask, name);
			if (w->name && !w->addr) {
				w->addr = sym->st_value;
				w->size = sym->st_size;
			}
		}
		end = ks->num_symtab;
		preempt_enable();
		if (i >= end)
			break;
	}

	for (i = 0; i < n; i++) {
		struct kpc_want *w = kpc_want_slot(t, mask, probes[i]->symbol);

		addresses[i] = 0;
		if (!w->addr)
			errors[i] = -ENOENT;
		else if (w->size && probes[i]->offset >= w->size)
			errors[i] = -ERANGE;
		else
			addresses[i] = w->addr + probes[i]->offset;
	}
	kvfree(t);
	return 0;
}

/*
 * Offset of addr in the symbol that contains it, parsed from sprint_symbol's
 * "name+0xoff/0xsize", and that symbol's size (size may be NULL); *named says
 * whether that symbol is called name. Aliases (syscall stubs, init_module)
 * share an address, and kallsyms may print any of them, so a different name is
 * not proof of a wrong address.
 */
static int kpc_symbol_offset_size(unsigned long addr, const char *name, unsigned long *off,
				  unsigned long *size, bool *named)
{
	char buf[KSYM_SYMBOL_LEN];
	unsigned long ignored;
	char *plus;

	sprint_symbol(buf, addr);
	plus = strchr(buf, '+');
	if (!plus || sscanf(plus, "+0x%lx/0x%lx", off, size ?: &ignored) != 2)
		return -EADDRNOTAVAIL;
	*named = plus - buf == strlen(name) && !strncmp(buf, name, plus - buf);
	return 0;
}

static int kpc_symbol_offset(unsigned long addr, const char *name, unsigned long *off,
			     bool *named)
{
	return kpc_symbol_offset_size(addr, name, off, NULL, named);
}

/*
 * Whether a probe planted at addr sits at p's offset into its symbol (an
 * offset past the symbol's end lands in the next one). Function entry may
 * have been moved past an ENDBR instruction by kprobes.
 */
static bool kpc_at_offset(struct kpc_probe *p, unsigned long addr, u32 kp_flags,
			  unsigned long *off, bool *named)
{
	if (kpc_symbol_offset(addr, p->symbol, off, named))
		return false;
	return *off == p->offset || (!p->offset && (kp_flags & KPROBE_FLAG_ON_FUNC_ENTRY));
}

/* Register one probe at addr (or by symbol name when addr is 0). */
static int kpc_register(struct kpc_probe *p, unsigned long addr)
{
	int ret;

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
 * Whether addr is in a module's text. A vmlinux probe must land in the kernel's own
 * text: kprobes' symbol lookup falls back to modules' symbols, and a probe (or ftrace
 * filter entry) left in a module's text outlives that module and would count whatever
 * is loaded there next. sprint_symbol names a module address's module in brackets
 * (the module-address lookups are not exported on 6.1).
 */
static bool kpc_in_module_text(unsigned long addr)
{
	char buf[KSYM_SYMBOL_LEN];

	sprint_symbol(buf, addr);
	return strchr(buf, '[') != NULL;
}

/*
 * Marks (addr = 1) the names of t that name a symbol in the last function of a
 * loaded module's lone text region (kpc_text_regions_alone), from its start to
 * the region's end: aliases too. A built-in probe by name is looked up by
 * kprobes (kallsyms_lookup_name), which falls back to modules' symbols, and
 * registering it there may read past the module's text (kpc_decode_overruns)
 * before kpc_in_module_text can undo it. One pass over every module's symbols,
 * under the module kset's list lock (a module leaves that list before its
 * memory is freed; its symbol table is RCU-sched, read with preemption off).
 */
static void kpc_mark_tails(struct kpc_want *t, u32 mask)
{
	struct kset *kset = THIS_MODULE->mkobj.kobj.kset;
	struct kobject *k;

	spin_lock(&kset->list_lock);
	list_for_each_entry(k, &kset->list, entry) {
		struct module *mod = container_of(k, struct module_kobject, kobj)->mod;
		unsigned long start[KPC_TEXT_REGIONS], end[KPC_TEXT_REGIONS];
		unsigned long tail[KPC_TEXT_REGIONS], off;
		struct mod_kallsyms *ks;
		unsigned int i, r, n;
		bool named;

		n = mod ? kpc_text_regions_alone(mod, start, end) : 0;
		if (!n)
			continue;
		for (r = 0; r < n; r++)
			tail[r] = kpc_symbol_offset(end[r] - 1, "", &off, &named) ?
				  end[r] : end[r] - 1 - off;
		ks = rcu_dereference_sched(mod->kallsyms);
		for (i = 0; i < ks->num_symtab; i++) {
			const Elf_Sym *sym = &ks->symtab[i];
			const char *name = ks->strtab + sym->st_name;
			struct kpc_want *w;

			if (!*name || sym->st_shndx == SHN_UNDEF)
				continue;
			for (r = 0; r < n; r++)
				if (sym->st_value >= tail[r] && sym->st_value < end[r])
					break;
			if (r == n)
				continue;
			w = kpc_want_slot(t, mask, name);
			if (w->name)
				w->addr = 1;
		}
	}
	spin_unlock(&kset->list_lock);
}

/*
 * The by-name probes of probes[0..n) (built-in ones) whose name only a module's
 * last function may have: their registration could read past its text. NULL
 * when there is no memory to tell (then none is registered by name).
 */
static bool *kpc_vmlinux_tails(struct kpc_probe **probes, u32 n)
{
	u32 size = roundup_pow_of_two(2 * n + 1), mask = size - 1, i;
	bool *tails = kvcalloc(n, sizeof(*tails), GFP_KERNEL);
	struct kpc_want *t = kvcalloc(size, sizeof(*t), GFP_KERNEL);

	if (!tails || !t) {
		kvfree(t);
		kvfree(tails);
		return NULL;
	}
	if (IS_ENABLED(CONFIG_OPTPROBES)) {
		for (i = 0; i < n; i++)
			if (!probes[i]->address)
				kpc_want_slot(t, mask, probes[i]->symbol)->name = probes[i]->symbol;
		kpc_mark_tails(t, mask);
		for (i = 0; i < n; i++)
			tails[i] = !probes[i]->address &&
				   kpc_want_slot(t, mask, probes[i]->symbol)->addr;
	}
	kvfree(t);
	return tails;
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
 * Whether registering a kprobe at addr, in mod's text, could make kprobes read
 * past the end of that text. Registering any kprobe not on ftrace prepares its
 * optimisation (try_to_optimize_kprobe -> alloc_aggr_kprobe ->
 * arch_prepare_optimized_kprobe), and x86's can_optimize decodes the whole
 * function holding addr: from its start to start + the size kallsyms gives it
 * (kallsyms_lookup_size_offset), each instruction with insn_decode_kernel, which
 * reads up to MAX_INSN_SIZE bytes straight from the text where no probe is. For a
 * module's last symbol kallsyms gives the end of its text region (page-aligned,
 * padded with zeroes, which decode as 2-byte instructions), so the last decode may
 * straddle that end; where nothing is mapped behind the region
 * (kpc_text_regions_alone: 6.4 on) that read oopses. Such probes are refused,
 * EOVERFLOW, wherever in the function they are: which functions decode past the end
 * depends on the padding's parity, a guess we do not make. An entry site on ftrace
 * is planted through ftrace before this is asked (kprobes is not involved).
 */
static bool kpc_decode_overruns(struct module *mod, unsigned long addr)
{
	unsigned long start[KPC_TEXT_REGIONS], end[KPC_TEXT_REGIONS], off, size;
	unsigned int i, n;
	bool named;

	if (!IS_ENABLED(CONFIG_OPTPROBES))
		return false;
	n = kpc_text_regions_alone(mod, start, end);
	for (i = 0; i < n && !(addr >= start[i] && addr < end[i]); i++)
		;
	if (i == n)
		return false;
	if (kpc_symbol_offset_size(addr, "", &off, &size, &named))
		return false;	/* no symbol: can_optimize gives up before decoding */
	return addr - off + size + MAX_INSN_SIZE - 1 > end[i];
}

/*
 * Plant probes of a loaded module: entry sites through ftrace, the rest as kprobes
 * (but none where kprobes would decode past the module's text: kpc_decode_overruns).
 */
static void kpc_plant_module(struct kpc_collector *c, struct module *mod,
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

static int kpc_check_spec(const struct kprobecov_probe *s)
{
	if (s->kind < KPROBECOV_KIND_FUNC || s->kind > KPROBECOV_KIND_MAX)
		return -EINVAL;
	if (s->kind == KPROBECOV_KIND_FUNC && s->offset)
		return -EINVAL;
	if (s->offset > UINT_MAX)
		return -EINVAL;
	if (!memchr(s->module, 0, sizeof(s->module)) || !s->symbol[0] ||
	    !memchr(s->symbol, 0, sizeof(s->symbol)))
		return -EINVAL;
	if (s->address && !kpc_is_vmlinux(s->module))
		return -EINVAL;
	return 0;
}

static struct kpc_probe *kpc_new_probe(struct kpc_collector *c, const struct kprobecov_probe *s,
				       u32 target)
{
	struct kpc_probe *p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);

	if (!p)
		return NULL;
	p->symbol = kstrdup(s->symbol, GFP_KERNEL);
	if (s->kind == KPROBECOV_KIND_FUNC && c->max_callers)
		p->callers = kcalloc(c->max_callers, sizeof(*p->callers), GFP_KERNEL);
	if (!p->symbol || (s->kind == KPROBECOV_KIND_FUNC && c->max_callers && !p->callers)) {
		kfree(p->callers);
		kfree(p->symbol);
		kfree(p);
		return NULL;
	}
	p->c = c;
	p->cache = c->cache;
	p->kind = s->kind;
	p->group = s->group;
	p->offset = s->offset;
	p->address = s->address;
	p->target = target;
	return p;
}

static void kpc_free_probe(struct kpc_probe *p)
{
	kfree(p->callers);
	kfree(p->symbol);
	kfree(p);
}

/* Orders probes by target, then by index (batch order within a target). */
static int kpc_cmp_target(const void *a, const void *b)
{
	const struct kpc_probe *p = *(const struct kpc_probe **)a, *q = *(const struct kpc_probe **)b;

	if (p->target != q->target)
		return p->target < q->target ? -1 : 1;
	return p->index < q->index ? -1 : p->index > q->index;
}

/*
 * Plant a step of one target's probes (under kpc_mutex). A module's probes were
 * published pending: those the module notifier planted meanwhile (it loaded) or
 * left waiting (it went) are its; the others are planted now.
 */
static void kpc_plant_step(struct kpc_collector *c, u32 target, struct kpc_probe **run, u32 n)
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

/*
 * Append a checked batch. kpc_mutex is held only in steps, each bounded (at most
 * KPC_PROBES_PER_STEP probes interned, planted, or one module's symbol-table walk of
 * them), so that module loads and unloads, whose notifier takes it, wait for one
 * step, not for the batch:
 *   1. the probes are allocated (all or nothing), without kpc_mutex;
 *   2. their module names interned into the targets (hashed), in steps;
 *   3. sorted by target, without kpc_mutex;
 *   4. published in one step (c->probes, c->nr_probes): a module's probes pending,
 *      so the notifier plants them if it loads and leaves them if it goes;
 *   5. planted target by target, in steps; results written back into specs.
 */
int kpc_add_probes(struct kpc_collector *c, struct kprobecov_probe *specs, u64 count,
		   struct kprobecov_add_probes *out)
{
	struct kpc_probe **batch, **sorted;
	u64 i, j, first = c->nr_probes;
	int ret = 0;

	for (i = 0; i < count; i++)
		if (kpc_check_spec(&specs[i]))
			return -EINVAL;
	if (count > c->max_probes - c->nr_probes)
		return -ENOSPC;
	batch = kvcalloc(count, sizeof(*batch), GFP_KERNEL);
	sorted = kvcalloc(count, sizeof(*sorted), GFP_KERNEL);
	if (!batch || !sorted) {
		ret = -ENOMEM;
		goto out;
	}

	for (i = 0; i < count; i++) {
		batch[i] = kpc_new_probe(c, &specs[i], KPC_TARGET_VMLINUX);
		if (!batch[i]) {
			ret = -ENOMEM;
			goto free;
		}
		batch[i]->index = first + i;
		if (c->edge_bits)
			batch[i]->edge_cur = hash_32(batch[i]->index, c->edge_bits);
		cond_resched();
	}
	for (i = 0; i < count && !ret; i += KPC_PROBES_PER_STEP) {
		mutex_lock(&kpc_mutex);
		for (j = i; j < min(count, i + KPC_PROBES_PER_STEP); j++) {
			int target;

			strreplace(specs[j].module, '-', '_');	/* module names as lsmod shows them */
			target = kpc_target_index(c, specs[j].module, true);
			if (target < 0) {
				ret = target;
				break;
			}
			batch[j]->target = target;
		}
		mutex_unlock(&kpc_mutex);
		cond_resched();
	}
	if (ret)
		goto free;
	memcpy(sorted, batch, count * sizeof(*sorted));
	sort(sorted, count, sizeof(*sorted), kpc_cmp_target, NULL);

	/* Publish: the hot path never reads c->probes, only kp's container. */
	mutex_lock(&kpc_mutex);
	for (i = 0; i < count; i++) {
		batch[i]->pending = batch[i]->target != KPC_TARGET_VMLINUX;
		c->probes[first + i] = batch[i];
	}
	c->nr_probes += count;
	mutex_unlock(&kpc_mutex);

	for (i = 0; i < count; i += j) {
		u32 target = sorted[i]->target;

		for (j = 1; i + j < count && j < KPC_PROBES_PER_STEP &&
			    sorted[i + j]->target == target; j++)
			;
		mutex_lock(&kpc_mutex);
		kpc_plant_step(c, target, sorted + i, j);
		mutex_unlock(&kpc_mutex);
		cond_resched();
	}

	mutex_lock(&kpc_mutex);
	out->first_index = first;
	out->registered = out->pending = out->failed = 0;
	for (i = 0; i < count; i++) {
		struct kpc_probe *p = batch[i];

		specs[i].error = p->error;
		specs[i].state = kpc_probe_state(c, p);
		if (p->registered)
			out->registered++;
		else if (p->pending)
			out->pending++;
		else
			out->failed++;
	}
	WRITE_ONCE(c->hdr->nr_probes, c->nr_probes);
	kpc_ftrace_sync(c);
	mutex_unlock(&kpc_mutex);
	goto out;
free:
	for (i = 0; i < count && batch[i]; i++)
		kpc_free_probe(batch[i]);
out:
	kvfree(sorted);
	kvfree(batch);
	return ret;
}

u32 kpc_probe_state(struct kpc_collector *c, struct kpc_probe *p)
{
	u32 state = p->kind << KPROBECOV_STATE_KIND_SHIFT;

	if (p->registered) {
		state |= KPROBECOV_STATE_REGISTERED;
		if (p->ftrace ? p->gone : kprobe_gone(&p->kp))
			state |= KPROBECOV_STATE_GONE;
	}
	if (p->want_armed)
		state |= KPROBECOV_STATE_ARMED;
	if (p->pending)
		state |= KPROBECOV_STATE_PENDING;
	if (p->unloaded)
		state |= KPROBECOV_STATE_GONE;
	if (!p->registered && !p->pending)
		state |= KPROBECOV_STATE_FAILED;
	if (test_bit(p->index, c->hit_bitmap))
		state |= KPROBECOV_STATE_HIT;
	return state;
}

static bool kpc_selected(const struct kprobecov_select *sel, struct kpc_probe *p)
{
	switch (sel->how) {
	case KPROBECOV_SELECT_RANGE:
		return p->index >= sel->first && p->index - sel->first < sel->count;
	case KPROBECOV_SELECT_GROUP:
		return p->group == sel->group;
	default:
		return true;
	}
}

/* ARM / DISARM. Pending probes keep the wish and get it when planted. */
int kpc_select(struct kpc_collector *c, const struct kprobecov_select *sel, bool arm,
	       u64 *changed)
{
	u64 i, first = 0, end = c->nr_probes;

	if (sel->how < KPROBECOV_SELECT_ALL || sel->how > KPROBECOV_SELECT_GROUP)
		return -EINVAL;
	if (sel->how == KPROBECOV_SELECT_RANGE) {
		if (sel->first > c->nr_probes || sel->count > c->nr_probes - sel->first)
			return -EINVAL;
		first = sel->first;
		end = sel->first + sel->count;
	} else if (sel->first || sel->count) {
		return -EINVAL;
	}
	if (sel->how != KPROBECOV_SELECT_GROUP && sel->group)
		return -EINVAL;

	*changed = 0;
	mutex_lock(&kpc_mutex);
	for (i = first; i < end; i++) {
		struct kpc_probe *p = c->probes[i];
		int ret;

		if (i > first && !((i - first) % KPC_PROBES_PER_STEP)) {
			mutex_unlock(&kpc_mutex);	/* a step at a time: see kpc_add_probes */
			cond_resched();
			mutex_lock(&kpc_mutex);
		}

		if (!kpc_selected(sel, p) || p->want_armed == arm)
			continue;
		p->want_armed = arm;
		(*changed)++;
		if (p->ftrace) {
			c->fdirty = true;	/* all in one update, below */
			continue;
		}
		if (!p->registered || kprobe_gone(&p->kp))
			continue;
		ret = arm ? enable_kprobe(&p->kp) : disable_kprobe(&p->kp);
		if (ret)
			p->error = ret;
	}
	kpc_ftrace_sync(c);
	mutex_unlock(&kpc_mutex);
	return 0;
}

/* Unregister the collector's planted probes of target (all if target < 0). */
static void kpc_unplant(struct kpc_collector *c, int target, bool unloaded)
{
	struct kprobe **kps;
	u64 i, n = 0;

	lockdep_assert_held(&kpc_mutex);
	kps = kvmalloc_array(c->nr_probes ?: 1, sizeof(*kps), GFP_KERNEL);
	for (i = 0; i < c->nr_probes; i++) {
		struct kpc_probe *p = c->probes[i];

		if (!p->registered || (target >= 0 && p->target != target))
			continue;
		if (p->ftrace) {
			p->ftrace = false;
			p->gone = false;
			c->fdirty = true;
		} else if (kps)
			kps[n++] = &p->kp;
		else
			unregister_kprobe(&p->kp);	/* no memory: one grace period each */
		p->registered = false;
		p->pending = unloaded;
		p->unloaded = unloaded;
	}
	kpc_ftrace_sync(c);	/* before the kprobes: one code update for all */
	if (n)
		unregister_kprobes(kps, n);	/* one grace period for all */
	kvfree(kps);
}

/*
 * At close: leave kpc_collectors and unregister every probe in one hold of
 * kpc_mutex, so no module load can plant a pending probe in between.
 * Afterwards no handler of this collector runs (unregister waits for them).
 */
void kpc_retire(struct kpc_collector *c)
{
	mutex_lock(&kpc_mutex);
	list_del_rcu(&c->node);
	kpc_unplant(c, -1, false);
	mutex_unlock(&kpc_mutex);
}

void kpc_free_probes(struct kpc_collector *c)
{
	u64 i;

	for (i = 0; i < c->nr_probes; i++)
		kpc_free_probe(c->probes[i]);
	kvfree(c->probes);
	kvfree(c->targets);
	kvfree(c->target_tab);
}

/* Plant every pending probe of target now that mod is here. */
static void kpc_plant_pending(struct kpc_collector *c, u32 target, struct module *mod)
{
	struct kpc_probe **run;
	u64 i, n = 0;

	run = kvmalloc_array(c->nr_probes ?: 1, sizeof(*run), GFP_KERNEL);
	if (!run) {
		pr_err("out of memory planting probes on %s\n", mod->name);
		return;
	}
	for (i = 0; i < c->nr_probes; i++)
		if (c->probes[i]->target == target && c->probes[i]->pending)
			run[n++] = c->probes[i];
	if (n)
		kpc_plant_module(c, mod, run, n);
	kvfree(run);
}

/*
 * LIVE: mod's init text is about to be freed, and its ftrace records with
 * it (not the filters that name them): entry probes there are GONE.
 */
static void kpc_init_gone(struct kpc_collector *c, u32 target, struct module *mod)
{
	u64 i;

	for (i = 0; i < c->nr_probes; i++) {
		struct kpc_probe *p = c->probes[i];

		if (p->target == target && p->ftrace && p->registered && !p->gone &&
		    within_module_init(p->ip, mod)) {
			p->gone = true;
			c->fdirty = true;
		}
	}
}

/*
 * GOING: probes of target whose symbol the loaded module did not have
 * (ENOENT) wait for the next load. A live module's symbol table has lost
 * its __init symbols, so a probe on module_init code added while the module
 * was live fails so; the next load has them (a name it truly lacks fails
 * again then).
 */
static void kpc_retry_unknown(struct kpc_collector *c, u32 target)
{
	u64 i;

	for (i = 0; i < c->nr_probes; i++) {
		struct kpc_probe *p = c->probes[i];

		if (p->target == target && !p->registered && !p->pending && p->error == -ENOENT) {
			p->pending = true;
			p->error = 0;
		}
	}
}

/*
 * COMING: plant pending probes, so module_init is covered. LIVE: the same,
 * for a module whose sysfs entry was not there yet when ADD looked.
 * GOING: unregister, keep the wish to be armed for the next load; probes
 * on symbols the module lacked wait for it too (kpc_retry_unknown).
 */
static int kpc_module_event(struct notifier_block *nb, unsigned long action, void *data)
{
	struct module *mod = data;
	struct kpc_collector *c;

	if (action != MODULE_STATE_COMING && action != MODULE_STATE_LIVE &&
	    action != MODULE_STATE_GOING)
		return NOTIFY_DONE;

	mutex_lock(&kpc_mutex);
	list_for_each_entry(c, &kpc_collectors, node) {
		int target = kpc_target_index(c, mod->name, false);

		if (target <= KPC_TARGET_VMLINUX)
			continue;
		if (action == MODULE_STATE_GOING) {
			kpc_unplant(c, target, true);
			kpc_retry_unknown(c, target);
			continue;
		}
		kpc_plant_pending(c, target, mod);
		if (action == MODULE_STATE_LIVE)
			kpc_init_gone(c, target, mod);
		kpc_ftrace_sync(c);
	}
	mutex_unlock(&kpc_mutex);
	return NOTIFY_OK;
}

static struct notifier_block kpc_module_nb = {
	.notifier_call = kpc_module_event,
};

int kpc_module_notifier_init(void)
{
	return register_module_notifier(&kpc_module_nb);
}

void kpc_module_notifier_exit(void)
{
	unregister_module_notifier(&kpc_module_nb);
}
