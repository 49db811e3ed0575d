// SPDX-License-Identifier: GPL-2.0
/*
 * Symbol resolution: where a probe's (module, symbol, offset) is. A module's
 * symbols are resolved from its own kallsyms in one pass (6.1's
 * kallsyms_lookup_name scans all of vmlinux for every "mod:sym"); built-in
 * symbols go through register_kprobe's own lookup (plant.c), once per run of
 * probes on one symbol, unless user space gave the address. Also the checks
 * that keep probes where they belong: a built-in probe out of modules' text,
 * and no kprobe where kprobes would read past a module's text (its tail).
 * Process context, called by plant.c under kpc_mutex; nothing here needs it
 * or changes a probe: module symbol tables are read under RCU-sched (or the
 * module kset's list lock), a module found is pinned by its kobject.
 */

#include <linux/kallsyms.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/stringhash.h>

#include "compat.h"
#include "kprobecov.h"

/*
 * The loaded module of that name, pinned by its kobject (free_module waits
 * for the last kobject reference), or NULL. *builtin is set when the name
 * is built-in code (a /sys/module entry without a module).
 */
struct module *kpc_get_module(const char *name, struct kobject **kobj, bool *builtin)
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
int kpc_resolve_module(struct module *mod, struct kpc_probe **probes, u32 n,
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
bool kpc_at_offset(struct kpc_probe *p, unsigned long addr, u32 kp_flags,
		   unsigned long *off, bool *named)
{
	if (kpc_symbol_offset(addr, p->symbol, off, named))
		return false;
	return *off == p->offset || (!p->offset && (kp_flags & KPROBE_FLAG_ON_FUNC_ENTRY));
}

/*
 * Whether addr is in a module's text. A vmlinux probe must land in the kernel's own
 * text: kprobes' symbol lookup falls back to modules' symbols, and a probe (or ftrace
 * filter entry) left in a module's text outlives that module and would count whatever
 * is loaded there next. sprint_symbol names a module address's module in brackets
 * (the module-address lookups are not exported on 6.1).
 */
bool kpc_in_module_text(unsigned long addr)
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
bool *kpc_vmlinux_tails(struct kpc_probe **probes, u32 n)
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
bool kpc_decode_overruns(struct module *mod, unsigned long addr)
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
