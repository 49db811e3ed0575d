// SPDX-License-Identifier: GPL-2.0
/*
 * The function symbols of the ELF symbol table (the file's own, else the
 * debug file's), one fns[] entry each.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "debuginfo.h"

/* The symbol table to read: the file's own, else the debug file's (same
 * section numbering). */
static Elf *kpc_symtab(struct kpc_di *d, Elf_Scn **symscn, GElf_Shdr *symsh)
{
	Elf *cands[2] = { d->elf, d->split ? dwarf_getelf(d->dw) : NULL };
	size_t c;

	for (c = 0; c < 2; c++) {
		Elf_Scn *scn = NULL;

		if (!cands[c])
			continue;
		while ((scn = elf_nextscn(cands[c], scn)) != NULL) {
			if (gelf_getshdr(scn, symsh) && symsh->sh_type == SHT_SYMTAB &&
			    symsh->sh_entsize) {
				*symscn = scn;
				return cands[c];
			}
		}
	}
	return NULL;
}

int kpc_di_symbols(struct kpc_di *d)
{
	Elf_Scn *symscn;
	GElf_Shdr symsh;
	Elf_Data *data;
	Elf *elf = kpc_symtab(d, &symscn, &symsh);
	size_t i, n;

	if (!elf)
		return 0;
	data = elf_getdata(symscn, NULL);
	if (!data)
		return 0;
	n = symsh.sh_size / symsh.sh_entsize;
	for (i = 1; i < n; i++) {
		const struct kpc_sec *s;
		struct kpc_fn *f;
		const char *name;
		GElf_Sym sym;
		uint64_t off;
		int64_t soff;
		int bind;

		if (!gelf_getsym(data, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    !sym.st_size || sym.st_shndx == SHN_UNDEF || sym.st_shndx >= d->nshdr ||
		    d->sec_of_shndx[sym.st_shndx] == KPC_BLOB_NONE)
			continue;
		name = elf_strptr(elf, symsh.sh_link, sym.st_name);
		/* Padding before a function (CONFIG_CALL_PADDING, CFI): not code. */
		if (!name || !*name || !strncmp(name, "__pfx_", 6) || !strncmp(name, "__cfi_", 6))
			continue;
		s = KPC_VEC_AT(&d->secs, struct kpc_sec, d->sec_of_shndx[sym.st_shndx]);
		off = d->ehdr.e_type == ET_REL ? sym.st_value : sym.st_value - s->out.address;
		if (off >= s->out.size)
			continue;
		f = kpc_vec_push(&d->fns);
		if (!f)
			return -ENOMEM;
		soff = kpc_strtab_add(&d->st, name);
		if (soff < 0)
			return soff;
		f->out.name = soff;
		f->out.section = d->sec_of_shndx[sym.st_shndx];
		f->out.offset = off;
		f->out.size = sym.st_size;
		f->modaddr = s->modaddr + off;
		f->subprog = KPC_BLOB_NONE;
		bind = GELF_ST_BIND(sym.st_info);
		if (bind == STB_GLOBAL)
			f->out.flags |= KPC_FN_GLOBAL;
		else if (bind == STB_WEAK)
			f->out.flags |= KPC_FN_WEAK;
	}
	return 0;
}
