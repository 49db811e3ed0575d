// SPDX-License-Identifier: GPL-2.0
/*
 * Opening the file twice — raw with libelf (the bytes, notes and .modinfo
 * exactly as in the file) and through libdwfl's offline reporting, which lays
 * out a .ko's sections and applies its relocations to the DWARF, as elfutils
 * does for kernel modules — then its executable sections (with their
 * relocations, ET_REL) and .modinfo.
 */
#include <elf.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "debuginfo.h"

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

int kpc_di_open(struct kpc_di *d)
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

int kpc_di_sections(struct kpc_di *d)
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

int kpc_di_modinfo(struct kpc_di *d)
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
