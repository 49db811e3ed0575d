// SPDX-License-Identifier: GPL-2.0
/*
 * kpc_debuginfo_load(): open an ELF file twice — once raw with libelf (the
 * bytes, symbols, relocations, notes and .modinfo exactly as in the file)
 * and once through libdwfl's offline reporting, which lays out a .ko's
 * sections and applies its relocations to the DWARF, as elfutils does for
 * kernel modules — then join both views by section and build the blob.
 */
#include <elf.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "debuginfo.h"

_Static_assert(sizeof(struct kpc_blob_table) == 16, "blob table layout");
_Static_assert(sizeof(struct kpc_blob_header) == 280, "blob header layout");
_Static_assert(sizeof(struct kpc_blob_section) == 32, "blob section layout");
_Static_assert(sizeof(struct kpc_blob_function) == 72, "blob function layout");
_Static_assert(sizeof(struct kpc_blob_line) == 32, "blob line layout");
_Static_assert(sizeof(struct kpc_blob_successor) == 32, "blob successor layout");
_Static_assert(sizeof(struct kpc_blob_branch) == 88, "blob branch layout");
_Static_assert(sizeof(struct kpc_blob_inline) == 32, "blob inline layout");
_Static_assert(sizeof(struct kpc_blob_kcov_site) == 24, "blob kcov site layout");

/* ------------------------------------------------------------------------
 * Files and lookups shared with dwarf.c and branches.c
 * ------------------------------------------------------------------------ */

int kpc_di_file(struct kpc_di *d, const char *comp_dir, const char *name, uint32_t *file)
{
	char *path = kpc_path_join_norm(comp_dir, name);
	uint32_t *slot;
	int64_t off;
	int added;

	if (!path)
		return -ENOMEM;
	off = kpc_strtab_add(&d->st, path);
	free(path);
	if (off < 0)
		return off;
	slot = kpc_map_get(&d->file_by_str, off + 1, d->files.len, &added);
	if (!slot)
		return -ENOMEM;
	if (added) {
		uint32_t *f = kpc_vec_push(&d->files);

		if (!f)
			return -ENOMEM;
		*f = off;
	}
	*file = *slot;
	return 0;
}

/* Like kpc_di_file() for a string owned by libdw: cached by its address
 * (the same pointer always comes with the same compilation directory). */
int kpc_di_file_ptr(struct kpc_di *d, const char *comp_dir, const char *name, uint32_t *file)
{
	uint32_t cached = kpc_map_find(&d->file_by_ptr, (uintptr_t)name, KPC_BLOB_NONE);
	uint32_t *slot;
	int ret;

	if (cached != KPC_BLOB_NONE) {
		*file = cached;
		return 0;
	}
	ret = kpc_di_file(d, comp_dir, name, file);
	if (ret)
		return ret;
	slot = kpc_map_get(&d->file_by_ptr, (uintptr_t)name, *file, NULL);
	return slot ? 0 : -ENOMEM;
}

uint32_t kpc_di_sec_of_addr(const struct kpc_di *d, uint64_t a, uint64_t *off)
{
	size_t lo = 0, hi = d->secs.len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (KPC_VEC_AT(&d->secs, struct kpc_sec, d->secs_by_addr[mid])->modaddr <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return KPC_BLOB_NONE;
	{
		uint32_t si = d->secs_by_addr[lo - 1];
		const struct kpc_sec *s = KPC_VEC_AT(&d->secs, struct kpc_sec, si);

		if (a - s->modaddr >= s->out.size)
			return KPC_BLOB_NONE;
		*off = a - s->modaddr;
		return si;
	}
}

uint32_t kpc_di_fn_at(const struct kpc_di *d, uint32_t sec, uint64_t off)
{
	const struct kpc_sec *s = KPC_VEC_AT(&d->secs, struct kpc_sec, sec);
	size_t lo = s->first_prim, hi = s->first_prim + s->nr_prim;
	const struct kpc_fn *f;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (KPC_VEC_AT(&d->fns, struct kpc_fn, d->prims[mid])->out.offset <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == s->first_prim)
		return KPC_BLOB_NONE;
	f = KPC_VEC_AT(&d->fns, struct kpc_fn, d->prims[lo - 1]);
	return off - f->out.offset < f->out.size ? d->prims[lo - 1] : KPC_BLOB_NONE;
}

uint32_t kpc_di_line_at(const struct kpc_di *d, uint32_t sec, uint64_t off, uint32_t fn)
{
	const struct kpc_sec *s = KPC_VEC_AT(&d->secs, struct kpc_sec, sec);
	size_t lo = s->first_line, hi = s->first_line + s->nr_lines;
	const struct kpc_line *l;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (KPC_VEC_AT(&d->lines, struct kpc_line, mid)->out.section_offset <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == s->first_line)
		return KPC_BLOB_NONE;
	l = KPC_VEC_AT(&d->lines, struct kpc_line, lo - 1);
	return l->out.function == fn ? lo - 1 : KPC_BLOB_NONE;
}

/* ------------------------------------------------------------------------
 * Opening
 * ------------------------------------------------------------------------ */

static int kpc_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			      Dwarf_Addr base, const char *file_name, const char *debuglink_file,
			      GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	struct kpc_di *d = *userdata;

	if (d && d->debug_path) {
		int fd = open(d->debug_path, O_RDONLY | O_CLOEXEC);

		if (fd >= 0)
			*debuginfo_file_name = strdup(d->debug_path);
		return fd;
	}
	return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name,
					    debuglink_file, debuglink_crc, debuginfo_file_name);
}

static char *kpc_debuginfo_path;	/* NULL: libdwfl's default search path */

static const Dwfl_Callbacks kpc_offline_callbacks = {
	.find_debuginfo = kpc_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &kpc_debuginfo_path,
};

static int kpc_open_elf(const char *path, int *fdp, Elf **elfp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;

	if (fd < 0) {
		int err = errno;

		kpc_set_error("%s: %s", path, strerror(err));
		return -err;
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		kpc_set_error("%s: not an ELF file", path);
		if (elf)
			elf_end(elf);
		close(fd);
		return -ENOEXEC;
	}
	*fdp = fd;
	*elfp = elf;
	return 0;
}

/* Build-id bytes into out[64]; returns the size, 0 if none. */
static size_t kpc_build_id(Elf *elf, uint8_t *out)
{
	const void *p;
	ssize_t n = dwelf_elf_gnu_build_id(elf, &p);

	if (n <= 0 || n > 64)
		return 0;
	memcpy(out, p, n);
	return n;
}

static int kpc_open(struct kpc_di *d)
{
	const char *mainfile = NULL, *debugfile = NULL;
	GElf_Addr bias;
	void **userdata;
	const char *base;
	int64_t off;
	int ret;

	ret = kpc_open_elf(d->path, &d->fd, &d->elf);
	if (ret)
		return ret;
	if (!gelf_getehdr(d->elf, &d->ehdr) || d->ehdr.e_ident[EI_CLASS] != ELFCLASS64 ||
	    d->ehdr.e_ident[EI_DATA] != ELFDATA2LSB || d->ehdr.e_machine != EM_X86_64) {
		kpc_set_error("%s: not an x86-64 ELF file", d->path);
		return -ENOEXEC;
	}
	if (elf_getshdrstrndx(d->elf, &d->shstrndx) || elf_getshdrnum(d->elf, &d->nshdr)) {
		kpc_set_error("%s: %s", d->path, elf_errmsg(-1));
		return -ENOEXEC;
	}
	d->hdr.build_id_size = kpc_build_id(d->elf, d->hdr.build_id);
	if (d->debug_path) {
		uint8_t id[64];
		size_t n;

		ret = kpc_open_elf(d->debug_path, &d->debug_fd, &d->debug_elf);
		if (ret)
			return ret;
		n = kpc_build_id(d->debug_elf, id);
		if (n && d->hdr.build_id_size &&
		    (n != d->hdr.build_id_size || memcmp(id, d->hdr.build_id, n))) {
			kpc_set_error("%s: build-id differs from %s's: not its debug file",
				      d->debug_path, d->path);
			return -ESTALE;
		}
	}

	d->dwfl = dwfl_begin(&kpc_offline_callbacks);
	if (!d->dwfl) {
		kpc_set_error("libdwfl: %s", dwfl_errmsg(-1));
		return -ENOMEM;
	}
	base = strrchr(d->path, '/');
	d->mod = dwfl_report_offline(d->dwfl, base ? base + 1 : d->path, d->path, -1);
	if (!d->mod || dwfl_report_end(d->dwfl, NULL, NULL) != 0) {
		kpc_set_error("%s: %s", d->path, dwfl_errmsg(-1));
		return -ENOEXEC;
	}
	dwfl_module_info(d->mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	*userdata = d;
	d->dw = dwfl_module_getdwarf(d->mod, &d->dwbias);
	*userdata = NULL;
	if (!d->dw) {
		kpc_set_error("%s: no DWARF debug info (%s): rebuild with CONFIG_DEBUG_INFO=y "
			      "(or ccflags-y += -g), or give its debug file", d->path,
			      dwfl_errmsg(-1));
		return -ENODATA;
	}
	d->dwfl_elf = dwfl_module_getelf(d->mod, &bias);
	if (!d->dwfl_elf) {
		kpc_set_error("%s: %s", d->path, dwfl_errmsg(-1));
		return -EIO;
	}
	d->elfbias = bias;
	dwfl_module_info(d->mod, NULL, NULL, NULL, NULL, NULL, &mainfile, &debugfile);
	d->split = dwarf_getelf(d->dw) != d->dwfl_elf;
	off = kpc_strtab_add(&d->st, d->path);
	if (off < 0)
		return off;
	d->hdr.path = off;
	off = kpc_strtab_add(&d->st, d->split && debugfile ? debugfile : d->path);
	if (off < 0)
		return off;
	d->hdr.debug_path = off;
	if (d->split && !d->hdr.build_id_size)
		d->hdr.build_id_size = kpc_build_id(dwarf_getelf(d->dw), d->hdr.build_id);
	return 0;
}

/* ------------------------------------------------------------------------
 * Sections, .modinfo, symbols
 * ------------------------------------------------------------------------ */

static int kpc_cmp_sec_addr_ctx(const void *a, const void *b, void *ctx)
{
	const struct kpc_di *d = ctx;
	uint64_t x = KPC_VEC_AT(&d->secs, struct kpc_sec, *(const uint32_t *)a)->modaddr;
	uint64_t y = KPC_VEC_AT(&d->secs, struct kpc_sec, *(const uint32_t *)b)->modaddr;

	return x < y ? -1 : x > y;
}

static int kpc_cmp_reloc(const void *a, const void *b)
{
	const struct kpc_reloc *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Relocations applying to code section s (ET_REL), from every SHT_RELA
 * section whose sh_info names it. */
static int kpc_relocs(struct kpc_di *d, struct kpc_sec *s)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(d->elf, scn)) != NULL) {
		GElf_Shdr sh, symsh;
		Elf_Scn *symscn;
		Elf_Data *data;
		size_t i, n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA ||
		    sh.sh_info != s->out.elf_index || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		symscn = elf_getscn(d->elf, sh.sh_link);
		if (!data || !symscn || !gelf_getshdr(symscn, &symsh))
			continue;
		s->symdata = elf_getdata(symscn, NULL);
		s->symstrndx = symsh.sh_link;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			struct kpc_reloc *r;
			GElf_Rela rela;

			if (!gelf_getrela(data, i, &rela))
				continue;
			r = kpc_vec_push(&s->relocs);
			if (!r)
				return -ENOMEM;
			r->offset = rela.r_offset;
			r->addend = rela.r_addend;
			r->type = GELF_R_TYPE(rela.r_info);
			r->sym = GELF_R_SYM(rela.r_info);
		}
	}
	qsort(s->relocs.data, s->relocs.len, sizeof(struct kpc_reloc), kpc_cmp_reloc);
	return 0;
}

static int kpc_sections(struct kpc_di *d)
{
	Elf_Scn *scn = NULL;
	size_t i;
	int ret;

	d->sec_of_shndx = malloc(d->nshdr * sizeof(uint32_t));
	if (!d->sec_of_shndx)
		return -ENOMEM;
	for (i = 0; i < d->nshdr; i++)
		d->sec_of_shndx[i] = KPC_BLOB_NONE;
	while ((scn = elf_nextscn(d->elf, scn)) != NULL) {
		size_t idx = elf_ndxscn(scn);
		GElf_Shdr sh, lsh;
		Elf_Scn *lscn;
		struct kpc_sec *s;
		const char *name;
		int64_t off;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_flags & (SHF_ALLOC | SHF_EXECINSTR)) !=
		    (SHF_ALLOC | SHF_EXECINSTR) || !sh.sh_size)
			continue;
		/* libdwfl's copy of the header has the address it laid out. */
		lscn = elf_getscn(d->dwfl_elf, idx);
		if (!lscn || !gelf_getshdr(lscn, &lsh))
			continue;
		s = kpc_vec_push(&d->secs);
		if (!s)
			return -ENOMEM;
		kpc_vec_init(&s->relocs, sizeof(struct kpc_reloc));
		name = elf_strptr(d->elf, d->shstrndx, sh.sh_name);
		off = kpc_strtab_add(&d->st, name);
		if (off < 0)
			return off;
		s->out.name = off;
		s->out.elf_index = idx;
		s->out.size = sh.sh_size;
		s->out.address = sh.sh_addr;
		s->modaddr = lsh.sh_addr + d->elfbias;
		if (name && !strncmp(name, ".init.text", 10))
			s->out.flags |= KPC_SEC_INIT;
		if (name && !strncmp(name, ".exit.text", 10))
			s->out.flags |= KPC_SEC_EXIT;
		if (sh.sh_type == SHT_NOBITS) {
			s->out.flags |= KPC_SEC_NOBITS;
		} else {
			Elf_Data *data = elf_rawdata(scn, NULL);

			if (data && data->d_size == sh.sh_size)
				s->code = data->d_buf;
			else
				s->out.flags |= KPC_SEC_NOBITS;
		}
		d->sec_of_shndx[idx] = d->secs.len - 1;
		if (d->ehdr.e_type == ET_REL && s->code && !(d->flags & KPC_DI_NO_BRANCHES)) {
			ret = kpc_relocs(d, s);
			if (ret)
				return ret;
		}
	}
	d->secs_by_addr = malloc((d->secs.len + 1) * sizeof(uint32_t));
	if (!d->secs_by_addr)
		return -ENOMEM;
	for (i = 0; i < d->secs.len; i++)
		d->secs_by_addr[i] = i;
	qsort_r(d->secs_by_addr, d->secs.len, sizeof(uint32_t), kpc_cmp_sec_addr_ctx, d);
	return 0;
}

static int kpc_modinfo(struct kpc_di *d)
{
	Elf_Scn *scn = NULL;
	const char *base, *end;
	char name[256];
	size_t i, n;
	int64_t off;

	while ((scn = elf_nextscn(d->elf, scn)) != NULL) {
		GElf_Shdr sh;
		const char *sname;
		Elf_Data *data;
		const char *p, *stop;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		sname = elf_strptr(d->elf, d->shstrndx, sh.sh_name);
		if (!sname || strcmp(sname, ".modinfo"))
			continue;
		data = elf_rawdata(scn, NULL);
		if (!data || !data->d_buf)
			break;
		p = data->d_buf;
		stop = p + data->d_size;
		while (p < stop) {
			const char *e = memchr(p, '\0', stop - p);
			size_t len = e ? (size_t)(e - p) : (size_t)(stop - p);
			__u32 *field = NULL;
			size_t klen = 0;

			if (len > 5 && !strncmp(p, "name=", 5))
				field = &d->hdr.module_name, klen = 5;
			else if (len > 11 && !strncmp(p, "srcversion=", 11))
				field = &d->hdr.srcversion, klen = 11;
			else if (len > 9 && !strncmp(p, "vermagic=", 9))
				field = &d->hdr.vermagic, klen = 9;
			else if (len > 8 && !strncmp(p, "version=", 8))
				field = &d->hdr.mod_version, klen = 8;
			if (field) {
				off = kpc_strtab_addn(&d->st, p + klen, len - klen);
				if (off < 0)
					return off;
				*field = off;
			}
			p += len + 1;
		}
		break;
	}
	if (d->hdr.module_name)
		return 0;
	if (d->ehdr.e_type == ET_EXEC) {
		off = kpc_strtab_add(&d->st, "vmlinux");
	} else {
		/* The kernel's name for foo-bar.ko is foo_bar. */
		base = strrchr(d->path, '/');
		base = base ? base + 1 : d->path;
		end = strstr(base, ".ko");
		if (!end)
			end = strstr(base, ".debug");
		n = end ? (size_t)(end - base) : strlen(base);
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		for (i = 0; i < n; i++)
			name[i] = base[i] == '-' ? '_' : base[i];
		off = kpc_strtab_addn(&d->st, name, n);
	}
	if (off < 0)
		return off;
	d->hdr.module_name = off;
	return 0;
}

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

static int kpc_symbols(struct kpc_di *d)
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

/* ------------------------------------------------------------------------
 * Joining symbols, DWARF and lines
 * ------------------------------------------------------------------------ */

static int kpc_cmp_range(const void *a, const void *b)
{
	const struct kpc_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static uint32_t kpc_subprog_at(const struct kpc_di *d, uint64_t a)
{
	const struct kpc_range *r = d->ranges.data;
	size_t lo = 0, hi = d->ranges.len, n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Ranges of distinct subprograms don't overlap; look back a few in
	 * case one is nested in another anyway. */
	for (n = 0; lo > 0 && n < 4; n++) {
		lo--;
		if (a < r[lo].hi)
			return r[lo].subprog;
	}
	return KPC_BLOB_NONE;
}

/* Source name, declaration, clone/cold flags and alias rank of each symbol. */
static void kpc_attach_dwarf(struct kpc_di *d)
{
	size_t i;

	qsort(d->ranges.data, d->ranges.len, sizeof(struct kpc_range), kpc_cmp_range);
	for (i = 0; i < d->fns.len; i++) {
		struct kpc_fn *f = KPC_VEC_AT(&d->fns, struct kpc_fn, i);
		const char *name = d->st.buf + f->out.name;
		uint32_t sp = kpc_subprog_at(d, f->modaddr);

		f->subprog = sp;
		f->out.alias_of = KPC_BLOB_NONE;
		f->out.parent = KPC_BLOB_NONE;
		if (strstr(name, ".cold"))
			f->out.flags |= KPC_FN_COLD;
		if (sp == KPC_BLOB_NONE) {
			f->out.flags |= KPC_FN_NO_DWARF;
			d->hdr.nr_dwarfless++;
		} else {
			const struct kpc_subprog *s = KPC_VEC_AT(&d->subprogs, struct kpc_subprog, sp);

			f->out.source_name = s->name;
			f->out.decl_file = s->decl_file;
			f->out.decl_line = s->decl_line;
			if (s->declared_inline)
				f->out.flags |= KPC_FN_DECLARED_INLINE;
			/* Strings are interned: equal offsets, equal strings. */
			if (f->out.name == s->name)
				f->rank += 4;
			else if (!(f->out.flags & KPC_FN_COLD) && strchr(name, '.'))
				f->out.flags |= KPC_FN_CLONE;
		}
		if (f->out.flags & KPC_FN_GLOBAL)
			f->rank += 2;
		else if (f->out.flags & KPC_FN_WEAK)
			f->rank += 1;
	}
}

static int kpc_cmp_fn(const void *a, const void *b, void *ctx)
{
	const struct kpc_di *d = ctx;
	const struct kpc_fn *x = a, *y = b;

	if (x->out.section != y->out.section)
		return x->out.section < y->out.section ? -1 : 1;
	if (x->out.offset != y->out.offset)
		return x->out.offset < y->out.offset ? -1 : 1;
	if (x->out.size != y->out.size)
		return x->out.size > y->out.size ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank > y->rank ? -1 : 1;
	return strcmp(d->st.buf + x->out.name, d->st.buf + y->out.name);
}

/* Sort functions, pick one primary per address, flag aliases, ambiguous
 * names and cold parts, and index the primaries per section. */
static int kpc_order_functions(struct kpc_di *d)
{
	struct kpc_map names = { 0 }, primary_of_subprog = { 0 };
	size_t i;
	int ret = 0;

	qsort_r(d->fns.data, d->fns.len, sizeof(struct kpc_fn), kpc_cmp_fn, d);
	d->prims = malloc((d->fns.len + 1) * sizeof(uint32_t));
	if (!d->prims)
		return -ENOMEM;
	d->nr_prims = 0;
	for (i = 0; i < d->fns.len; i++) {
		struct kpc_fn *f = KPC_VEC_AT(&d->fns, struct kpc_fn, i);
		struct kpc_sec *s = KPC_VEC_AT(&d->secs, struct kpc_sec, f->out.section);
		uint32_t *count;

		if (d->nr_prims) {
			const struct kpc_fn *p = KPC_VEC_AT(&d->fns, struct kpc_fn,
							    d->prims[d->nr_prims - 1]);

			if (p->out.section == f->out.section && p->out.offset == f->out.offset &&
			    p->out.size == f->out.size) {
				f->out.flags |= KPC_FN_ALIAS;
				f->out.alias_of = d->prims[d->nr_prims - 1];
			}
		}
		count = kpc_map_get(&names, f->out.name + 1ULL, 0, NULL);
		if (!count) {
			ret = -ENOMEM;
			goto out;
		}
		(*count)++;
		if (f->out.flags & KPC_FN_ALIAS)
			continue;
		if (!s->nr_prim)
			s->first_prim = d->nr_prims;
		s->nr_prim++;
		d->prims[d->nr_prims++] = i;
		if (f->subprog != KPC_BLOB_NONE && !(f->out.flags & KPC_FN_COLD) &&
		    !kpc_map_get(&primary_of_subprog, f->subprog + 1ULL, i, NULL)) {
			ret = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < d->fns.len; i++) {
		struct kpc_fn *f = KPC_VEC_AT(&d->fns, struct kpc_fn, i);

		if (kpc_map_find(&names, f->out.name + 1ULL, 0) > 1)
			f->out.flags |= KPC_FN_AMBIGUOUS;
		if ((f->out.flags & KPC_FN_COLD) && f->subprog != KPC_BLOB_NONE)
			f->out.parent = kpc_map_find(&primary_of_subprog, f->subprog + 1ULL,
						     KPC_BLOB_NONE);
		KPC_VEC_AT(&d->secs, struct kpc_sec, f->out.section)->out.nr_functions++;
	}
out:
	kpc_map_free(&names);
	kpc_map_free(&primary_of_subprog);
	return ret;
}

static int kpc_cmp_line(const void *a, const void *b)
{
	const struct kpc_line *x = a, *y = b;

	if (x->out.section != y->out.section)
		return x->out.section < y->out.section ? -1 : 1;
	if (x->out.section_offset != y->out.section_offset)
		return x->out.section_offset < y->out.section_offset ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* kpc_line.pad while the lines are ordered: */
#define KPC_ROW_EMPTY	1u	/* the next row has the same address: this one covers no code */
#define KPC_ROW_DROP	2u

/* Whether function fi has a row with code of (file, line), other than row i. */
static bool kpc_line_has_code(const struct kpc_di *d, size_t i, uint32_t fi)
{
	const struct kpc_line *l = KPC_VEC_AT(&d->lines, struct kpc_line, i);
	const struct kpc_fn *f = KPC_VEC_AT(&d->fns, struct kpc_fn, fi);
	size_t j;

	for (j = i; j-- > 0;) {
		const struct kpc_line *o = KPC_VEC_AT(&d->lines, struct kpc_line, j);

		if (o->out.section != l->out.section || o->out.section_offset < f->out.offset)
			break;
		if (!(o->pad & KPC_ROW_EMPTY) && o->out.file == l->out.file && o->out.line == l->out.line)
			return true;
	}
	for (j = i + 1; j < d->lines.len; j++) {
		const struct kpc_line *o = KPC_VEC_AT(&d->lines, struct kpc_line, j);

		if (o->out.section != l->out.section || o->out.section_offset >= f->out.offset + f->out.size)
			break;
		if (!(o->pad & KPC_ROW_EMPTY) && o->out.file == l->out.file && o->out.line == l->out.line)
			return true;
	}
	return false;
}

static void kpc_order_lines(struct kpc_di *d)
{
	size_t i, n;

	qsort(d->lines.data, d->lines.len, sizeof(struct kpc_line), kpc_cmp_line);
	for (i = 0; i < d->lines.len; i++) {
		struct kpc_line *l = KPC_VEC_AT(&d->lines, struct kpc_line, i);
		const struct kpc_line *next = KPC_VEC_AT(&d->lines, struct kpc_line, i + 1);

		l->pad = i + 1 < d->lines.len && next->out.section == l->out.section &&
			 next->out.section_offset == l->out.section_offset ? KPC_ROW_EMPTY : 0;
	}
	/*
	 * A row that covers no code is kept only where it starts a statement: a
	 * statement row, not followed at its address by a row of its own line
	 * (that row then starts the statement, and is made one). Where the line has no code
	 * of its own elsewhere in the function, the statement's code is merged
	 * into what follows, and the row proves the line. Where it has, the row
	 * is a marker of where the statement stood (KPC_LINE_MARKER): a BUG()
	 * moved to a cold path leaves one on the path that returns, a sunk
	 * initialiser one where it was written; only the control flow tells
	 * (the planner: a marker whose block dominates all of the line's code
	 * proves the line).
	 */
	for (i = 0; i < d->lines.len; i++) {
		struct kpc_line *l = KPC_VEC_AT(&d->lines, struct kpc_line, i);
		const struct kpc_line *next = KPC_VEC_AT(&d->lines, struct kpc_line, i + 1);
		uint32_t fi;

		if (!(l->pad & KPC_ROW_EMPTY))
			continue;
		if (!(l->out.flags & KPC_LINE_STMT)) {
			l->pad |= KPC_ROW_DROP;
			continue;
		}
		/* The statement starts at the code of its own next row: that row starts it. */
		if (next->out.file == l->out.file && next->out.line == l->out.line) {
			KPC_VEC_AT(&d->lines, struct kpc_line, i + 1)->out.flags |= KPC_LINE_STMT;
			l->pad |= KPC_ROW_DROP;
			continue;
		}
		fi = kpc_di_fn_at(d, l->out.section, l->out.section_offset);
		if (fi != KPC_BLOB_NONE && kpc_line_has_code(d, i, fi))
			l->out.flags |= KPC_LINE_MARKER;
	}
	for (i = 0, n = 0; i < d->lines.len; i++) {
		struct kpc_line *l = KPC_VEC_AT(&d->lines, struct kpc_line, i);

		if (!(l->pad & KPC_ROW_DROP))
			*KPC_VEC_AT(&d->lines, struct kpc_line, n++) = *l;
	}
	d->lines.len = n;
	for (i = 0; i < d->lines.len; i++) {
		struct kpc_line *l = KPC_VEC_AT(&d->lines, struct kpc_line, i);
		struct kpc_sec *s = KPC_VEC_AT(&d->secs, struct kpc_sec, l->out.section);
		uint32_t fi = kpc_di_fn_at(d, l->out.section, l->out.section_offset);

		if (!s->nr_lines)
			s->first_line = i;
		s->nr_lines++;
		l->out.function = fi;
		if (fi != KPC_BLOB_NONE) {
			struct kpc_fn *f = KPC_VEC_AT(&d->fns, struct kpc_fn, fi);

			l->out.function_offset = l->out.section_offset - f->out.offset;
			if (!f->out.nr_lines)
				f->out.first_line = i;
			f->out.nr_lines++;
		}
	}
}

static int kpc_cmp_inl(const void *a, const void *b)
{
	const struct kpc_inl *x = a, *y = b;

	if (x->out.function != y->out.function)
		return x->out.function < y->out.function ? -1 : 1;
	if (x->out.offset != y->out.offset)
		return x->out.offset < y->out.offset ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void kpc_order_inlines(struct kpc_di *d)
{
	size_t i;

	for (i = 0; i < d->inlines.len; i++) {
		struct kpc_inl *in = KPC_VEC_AT(&d->inlines, struct kpc_inl, i);
		uint64_t off;
		uint32_t sec = kpc_di_sec_of_addr(d, in->modaddr, &off);

		in->out.function = sec == KPC_BLOB_NONE ? KPC_BLOB_NONE : kpc_di_fn_at(d, sec, off);
		if (in->out.function != KPC_BLOB_NONE)
			in->out.offset = off - KPC_VEC_AT(&d->fns, struct kpc_fn,
							  in->out.function)->out.offset;
	}
	qsort(d->inlines.data, d->inlines.len, sizeof(struct kpc_inl), kpc_cmp_inl);
	for (i = 0; i < d->inlines.len; i++) {
		struct kpc_inl *in = KPC_VEC_AT(&d->inlines, struct kpc_inl, i);
		struct kpc_fn *f;

		if (in->out.function == KPC_BLOB_NONE)
			continue;
		f = KPC_VEC_AT(&d->fns, struct kpc_fn, in->out.function);
		if (!f->out.nr_inlines)
			f->out.first_inline = i;
		f->out.nr_inlines++;
	}
}

/* ------------------------------------------------------------------------
 * The blob
 * ------------------------------------------------------------------------ */

static uint64_t kpc_align8(uint64_t x)
{
	return (x + 7) & ~7ULL;
}

static void kpc_table(struct kpc_blob_table *t, uint64_t *pos, size_t count, size_t esz)
{
	t->offset = *pos;
	t->count = count;
	t->entry_size = esz;
	*pos = kpc_align8(*pos + (uint64_t)count * esz);
}

static int kpc_build_blob(struct kpc_di *d, uint8_t **blobp, size_t *lenp)
{
	struct kpc_blob_header *h = &d->hdr;
	uint64_t pos = kpc_align8(sizeof(*h));
	uint8_t *blob;
	size_t i;

	if (d->fns.len >= KPC_BLOB_NONE || d->lines.len >= KPC_BLOB_NONE ||
	    d->branches.len >= KPC_BLOB_NONE || d->inlines.len >= KPC_BLOB_NONE ||
	    d->block_starts.len >= KPC_BLOB_NONE || d->kcov_sites.len >= KPC_BLOB_NONE) {
		kpc_set_error("%s: too many entries for the blob", d->path);
		return -EFBIG;
	}
	h->magic = KPC_BLOB_MAGIC;
	h->version = KPC_BLOB_VERSION;
	h->header_size = sizeof(*h);
	h->elf_type = d->ehdr.e_type;
	h->elf_machine = d->ehdr.e_machine;
	kpc_table(&h->strings, &pos, d->st.len, 1);
	kpc_table(&h->files, &pos, d->files.len, sizeof(__u32));
	kpc_table(&h->sections, &pos, d->secs.len, sizeof(struct kpc_blob_section));
	kpc_table(&h->functions, &pos, d->fns.len, sizeof(struct kpc_blob_function));
	kpc_table(&h->lines, &pos, d->lines.len, sizeof(struct kpc_blob_line));
	kpc_table(&h->branches, &pos, d->branches.len, sizeof(struct kpc_blob_branch));
	kpc_table(&h->inlines, &pos, d->inlines.len, sizeof(struct kpc_blob_inline));
	kpc_table(&h->block_starts, &pos, d->block_starts.len, sizeof(struct kpc_blob_block_start));
	kpc_table(&h->kcov_sites, &pos, d->kcov_sites.len, sizeof(struct kpc_blob_kcov_site));
	if (pos > SIZE_MAX) {
		kpc_set_error("%s: blob too large", d->path);
		return -EFBIG;
	}
	h->blob_size = pos;
	blob = calloc(1, pos);
	if (!blob)
		return -ENOMEM;
	memcpy(blob, h, sizeof(*h));
	memcpy(blob + h->strings.offset, d->st.buf, d->st.len);
	memcpy(blob + h->files.offset, d->files.data, d->files.len * sizeof(__u32));
	for (i = 0; i < d->secs.len; i++)
		memcpy(blob + h->sections.offset + i * sizeof(struct kpc_blob_section),
		       &KPC_VEC_AT(&d->secs, struct kpc_sec, i)->out, sizeof(struct kpc_blob_section));
	for (i = 0; i < d->fns.len; i++)
		memcpy(blob + h->functions.offset + i * sizeof(struct kpc_blob_function),
		       &KPC_VEC_AT(&d->fns, struct kpc_fn, i)->out, sizeof(struct kpc_blob_function));
	for (i = 0; i < d->lines.len; i++)
		memcpy(blob + h->lines.offset + i * sizeof(struct kpc_blob_line),
		       &KPC_VEC_AT(&d->lines, struct kpc_line, i)->out, sizeof(struct kpc_blob_line));
	if (d->branches.len)
		memcpy(blob + h->branches.offset, d->branches.data,
		       d->branches.len * sizeof(struct kpc_blob_branch));
	for (i = 0; i < d->inlines.len; i++)
		memcpy(blob + h->inlines.offset + i * sizeof(struct kpc_blob_inline),
		       &KPC_VEC_AT(&d->inlines, struct kpc_inl, i)->out,
		       sizeof(struct kpc_blob_inline));
	if (d->block_starts.len)
		memcpy(blob + h->block_starts.offset, d->block_starts.data,
		       d->block_starts.len * sizeof(struct kpc_blob_block_start));
	if (d->kcov_sites.len)
		memcpy(blob + h->kcov_sites.offset, d->kcov_sites.data,
		       d->kcov_sites.len * sizeof(struct kpc_blob_kcov_site));
	*blobp = blob;
	*lenp = pos;
	return 0;
}

static void kpc_di_free(struct kpc_di *d)
{
	size_t i;

	for (i = 0; i < d->secs.len; i++)
		kpc_vec_free(&KPC_VEC_AT(&d->secs, struct kpc_sec, i)->relocs);
	kpc_vec_free(&d->secs);
	kpc_vec_free(&d->fns);
	kpc_vec_free(&d->subprogs);
	kpc_vec_free(&d->ranges);
	kpc_vec_free(&d->lines);
	kpc_vec_free(&d->branches);
	kpc_vec_free(&d->block_starts);
	kpc_vec_free(&d->kcov_sites);
	kpc_vec_free(&d->inlines);
	kpc_vec_free(&d->files);
	kpc_map_free(&d->file_by_str);
	kpc_map_free(&d->file_by_ptr);
	kpc_strtab_free(&d->st);
	free(d->sec_of_shndx);
	free(d->secs_by_addr);
	free(d->prims);
	if (d->dwfl)
		dwfl_end(d->dwfl);
	if (d->elf)
		elf_end(d->elf);
	if (d->fd >= 0)
		close(d->fd);
	if (d->debug_elf)
		elf_end(d->debug_elf);
	if (d->debug_fd >= 0)
		close(d->debug_fd);
}

KPC_EXPORT int kpc_debuginfo_load_split(const char *path, const char *debug_path, uint32_t flags,
					uint8_t **blob, size_t *len)
{
	struct kpc_di d;
	uint32_t *f0;
	size_t i;
	int ret;

	kpc_clear_error();
	if (!path || !blob || !len || (flags & ~KPC_DI_FLAGS_ALL)) {
		kpc_set_error("invalid argument");
		return -EINVAL;
	}
	*blob = NULL;
	*len = 0;
	memset(&d, 0, sizeof(d));
	d.path = path;
	d.debug_path = debug_path;
	d.flags = flags;
	d.fd = d.debug_fd = -1;
	kpc_vec_init(&d.files, sizeof(uint32_t));
	kpc_vec_init(&d.secs, sizeof(struct kpc_sec));
	kpc_vec_init(&d.fns, sizeof(struct kpc_fn));
	kpc_vec_init(&d.subprogs, sizeof(struct kpc_subprog));
	kpc_vec_init(&d.ranges, sizeof(struct kpc_range));
	kpc_vec_init(&d.lines, sizeof(struct kpc_line));
	kpc_vec_init(&d.branches, sizeof(struct kpc_blob_branch));
	kpc_vec_init(&d.inlines, sizeof(struct kpc_inl));
	kpc_vec_init(&d.block_starts, sizeof(struct kpc_blob_block_start));
	kpc_vec_init(&d.kcov_sites, sizeof(struct kpc_blob_kcov_site));
	elf_version(EV_CURRENT);
	ret = kpc_strtab_init(&d.st);
	if (ret)
		goto out;
	f0 = kpc_vec_push(&d.files);	/* file 0: unknown */
	if (!f0) {
		ret = -ENOMEM;
		goto out;
	}
	ret = kpc_open(&d);
	if (!ret)
		ret = kpc_sections(&d);
	if (!ret)
		ret = kpc_modinfo(&d);
	if (!ret)
		ret = kpc_symbols(&d);
	if (!ret)
		ret = kpc_di_walk_dwarf(&d);
	if (ret)
		goto out;
	kpc_attach_dwarf(&d);
	ret = kpc_order_functions(&d);
	if (ret)
		goto out;
	kpc_order_lines(&d);
	if (d.ehdr.e_type == ET_REL)
		d.hdr.flags |= KPC_BLOB_REL;
	if (d.split)
		d.hdr.flags |= KPC_BLOB_SPLIT_DEBUG;
	for (i = 0; i < d.secs.len; i++)
		if (KPC_VEC_AT(&d.secs, struct kpc_sec, i)->code)
			break;
	if (i == d.secs.len)
		d.hdr.flags |= KPC_BLOB_NO_CODE;
	if (!(flags & KPC_DI_NO_BRANCHES) && !(d.hdr.flags & KPC_BLOB_NO_CODE)) {
		ret = kpc_di_find_branches(&d);
		if (ret)
			goto out;
		d.hdr.flags |= KPC_BLOB_HAS_BRANCHES | KPC_BLOB_HAS_FLOW;
	}
	if (!(flags & KPC_DI_NO_INLINES)) {
		kpc_order_inlines(&d);
		d.hdr.flags |= KPC_BLOB_HAS_INLINES;
	}
	ret = kpc_build_blob(&d, blob, len);
out:
	if (ret == -ENOMEM)
		kpc_set_error("out of memory");
	kpc_di_free(&d);
	return ret;
}

KPC_EXPORT int kpc_debuginfo_load(const char *path, uint32_t flags, uint8_t **blob, size_t *len)
{
	return kpc_debuginfo_load_split(path, NULL, flags, blob, len);
}
