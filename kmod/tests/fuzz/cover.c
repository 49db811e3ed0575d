// SPDX-License-Identifier: GPL-2.0
/*
 * kprobecov.ko's KCOV callback sites, and KCOV on the fuzzing threads.
 *
 * The denominator is computed from the .ko file, apart from the hits: a site
 * is a call to __sanitizer_cov_trace_pc, found by its relocation (R_X86_64_PLT32
 * at the call's 4-byte operand, so the return address that KCOV records is the
 * relocation's offset + 4), in an executable section. The loaded address of each
 * section comes from /sys/module/<module>/sections/<name> (root only: others
 * read 0). A function may end in a tail call of the callback (jmp): KCOV then
 * records the return address of the function's caller, no site of the function;
 * those sites are left out of the denominator, and a PC in the module's text
 * that matches no site is counted apart (stray): the return of a function that
 * tail-called, or a file that is not the module loaded.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcov.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

static int fz_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int fz_section_address(const char *module, const char *name, uint64_t *addr)
{
	char path[512];
	unsigned long long v;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/module/%s/sections/%s", module, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fscanf(f, "%llx", &v) == 1 && v;
	fclose(f);
	*addr = v;
	return ok ? 0 : -1;
}

/* Fills s with the sites of the loaded module `module`, built from file ko. */
int fz_sites_load(struct fz_sites *s, const char *ko, const char *module)
{
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	const char *shstr;
	uint64_t base[256];
	struct stat st;
	unsigned int i;
	size_t cap = 1024;
	void *map;
	int fd;

	memset(s, 0, sizeof(*s));
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "kpc_fuzz: cannot read %s: %s\n", ko, strerror(errno));
		return -1;
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -1;
	eh = map;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shnum > 256) {
		fprintf(stderr, "kpc_fuzz: %s is not a 64-bit ELF module\n", ko);
		return -1;
	}
	sh = (const Elf64_Shdr *)((const char *)map + eh->e_shoff);
	shstr = (const char *)map + sh[eh->e_shstrndx].sh_offset;
	s->lo = ~0ULL;
	for (i = 0; i < eh->e_shnum; i++) {
		base[i] = 0;
		if (!(sh[i].sh_flags & SHF_EXECINSTR) || !sh[i].sh_size)
			continue;
		if (fz_section_address(module, shstr + sh[i].sh_name, &base[i])) {
			if (!strcmp(shstr + sh[i].sh_name, ".text")) {
				fprintf(stderr, "kpc_fuzz: no address for .text of %s in /sys/module "
					"(is %s loaded, are we root?)\n", module, module);
				return -1;
			}
			base[i] = 0;	/* not loaded: its sites are not counted */
			continue;
		}
		if (!strncmp(shstr + sh[i].sh_name, ".init", 5) || s->n_ranges == 16)
			continue;
		s->range[s->n_ranges][0] = base[i];
		s->range[s->n_ranges][1] = base[i] + sh[i].sh_size;
		s->n_ranges++;
		if (base[i] < s->lo)
			s->lo = base[i];
		if (base[i] + sh[i].sh_size > s->hi)
			s->hi = base[i] + sh[i].sh_size;
	}
	s->pc = malloc(cap * sizeof(*s->pc));
	for (i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *rel = &sh[i], *symtab;
		const Elf64_Rela *r;
		const Elf64_Sym *sym;
		const char *str, *target;
		size_t k, nr;

		if (rel->sh_type != SHT_RELA || rel->sh_info >= eh->e_shnum || !base[rel->sh_info] ||
		    rel->sh_link >= eh->e_shnum)
			continue;
		symtab = &sh[rel->sh_link];
		r = (const void *)((const char *)map + rel->sh_offset);
		sym = (const void *)((const char *)map + symtab->sh_offset);
		str = (const char *)map + sh[symtab->sh_link].sh_offset;
		target = shstr + sh[rel->sh_info].sh_name;
		nr = rel->sh_size / sizeof(*r);
		for (k = 0; k < nr; k++) {
			const Elf64_Sym *y = &sym[ELF64_R_SYM(r[k].r_info)];

			if (strcmp(str + y->st_name, "__sanitizer_cov_trace_pc"))
				continue;
			/* A tail call (jmp): KCOV records its caller's return address. */
			if (r[k].r_offset && ((const unsigned char *)map +
			    sh[rel->sh_info].sh_offset)[r[k].r_offset - 1] == 0xe9) {
				s->n_tail++;
				continue;
			}
			if (s->n == cap)
				s->pc = realloc(s->pc, (cap *= 2) * sizeof(*s->pc));
			s->pc[s->n++] = base[rel->sh_info] + r[k].r_offset + 4;
			if (strncmp(target, ".init", 5) && strncmp(target, ".exit", 5))
				s->n_text++;
		}
	}
	munmap(map, st.st_size);
	qsort(s->pc, s->n, sizeof(*s->pc), fz_cmp_u64);
	return 0;
}

/* Whether pc is in one of the module's executable sections. */
int fz_in_module(const struct fz_sites *s, uint64_t pc)
{
	unsigned int i;

	if (pc < s->lo || pc >= s->hi)
		return 0;
	for (i = 0; i < s->n_ranges; i++)
		if (pc >= s->range[i][0] && pc < s->range[i][1])
			return 1;
	return 0;
}

long fz_site_index(const struct fz_sites *s, uint64_t pc)
{
	long lo = 0, hi = (long)s->n - 1;

	while (lo <= hi) {
		long mid = (lo + hi) / 2;

		if (s->pc[mid] == pc)
			return mid;
		if (s->pc[mid] < pc)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* KCOV for the calling thread: its buffer, word 0 the count of PCs that follow. */
uint64_t *fz_kcov_enable(void)
{
	uint64_t *cover;
	int fd = open("/sys/kernel/debug/kcov", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (ioctl(fd, KCOV_INIT_TRACE, FZ_KCOV_WORDS))
		goto fail;
	cover = mmap(NULL, FZ_KCOV_WORDS * sizeof(uint64_t), PROT_READ | PROT_WRITE,
		     MAP_SHARED, fd, 0);
	if (cover == MAP_FAILED)
		goto fail;
	if (ioctl(fd, KCOV_ENABLE, KCOV_TRACE_PC))
		goto fail;
	return cover;	/* the fd stays open for the thread's life */
fail:
	close(fd);
	return NULL;
}
