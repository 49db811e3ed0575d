/* SPDX-License-Identifier: GPL-2.0 */
/*
 * State of one kpc_debuginfo_load() call, shared by its steps (debuginfo.c
 * lists them and is the only caller of each; lookup.c is the one file the
 * steps share, and it calls none of them).
 *
 * Addresses: a "module address" is an address in the libdwfl module's
 * space: DWARF addresses plus the Dwarf bias, and for a .ko (ET_REL) the
 * section layout libdwfl chose when it applied the relocations. Everything
 * that leaves this library is (section, offset) or (function, offset).
 */
#ifndef KPC_DEBUGINFO_H
#define KPC_DEBUGINFO_H

#include <elfutils/libdwfl.h>
#include <gelf.h>

#include "internal.h"

/* A relocation of a code section (ET_REL only), sorted by offset. */
struct kpc_reloc {
	uint64_t offset;	/* bytes from the section start */
	int64_t addend;
	uint32_t type;		/* R_X86_64_* */
	uint32_t sym;		/* index in the section's symbol table */
};

/* An executable section. */
struct kpc_sec {
	struct kpc_blob_section out;
	uint64_t modaddr;	/* module address of offset 0 */
	const uint8_t *code;	/* out.size bytes of the file, NULL if NOBITS */
	struct kpc_vec relocs;	/* struct kpc_reloc */
	Elf_Data *symdata;	/* symbol table the relocations refer to */
	Elf_Data *symstrs;	/* its string table */
	size_t symstrndx;
	uint32_t first_prim;	/* primary functions: prims[first_prim ..] */
	uint32_t nr_prim;
	uint32_t first_line;	/* lines[] rows of this section */
	uint32_t nr_lines;
};

/* A function symbol being built. */
struct kpc_fn {
	struct kpc_blob_function out;
	uint64_t modaddr;	/* module address of the symbol */
	uint32_t subprog;	/* subprogs[] index or KPC_BLOB_NONE */
	uint32_t rank;		/* preference as alias primary: higher wins */
};

/* A DWARF subprogram with code. */
struct kpc_subprog {
	uint32_t name;		/* string */
	uint32_t decl_file;	/* files[] index */
	uint32_t decl_line;
	uint32_t declared_inline;
};

/* One address range [lo, hi) of a subprogram. */
struct kpc_range {
	uint64_t lo;
	uint64_t hi;
	uint32_t subprog;
};

/* A line row while being built: seq keeps the line-table order. */
struct kpc_line {
	struct kpc_blob_line out;
	uint32_t seq;
	uint32_t pad;
};

/* An inlined call while being built. */
struct kpc_inl {
	struct kpc_blob_inline out;
	uint64_t modaddr;	/* its entry point */
	uint32_t seq;
	uint32_t pad;
};

struct kpc_di {
	const char *path;
	const char *debug_path;
	uint32_t flags;		/* KPC_DI_* */

	int fd;			/* path, read by us (raw ELF view) */
	Elf *elf;
	GElf_Ehdr ehdr;
	size_t shstrndx;
	size_t nshdr;
	int debug_fd;		/* debug_path, if given */
	Elf *debug_elf;

	Dwfl *dwfl;
	Dwfl_Module *mod;
	Dwarf *dw;
	Dwarf_Addr dwbias;
	Elf *dwfl_elf;		/* libdwfl's view of path (addresses laid out) */
	GElf_Addr elfbias;

	struct kpc_strtab st;
	struct kpc_vec files;	/* __u32 string offsets */
	struct kpc_map file_by_str;	/* string offset + 1 -> files[] index */
	struct kpc_map file_by_ptr;	/* libdw's const char * -> files[] index */

	struct kpc_vec secs;	/* struct kpc_sec */
	uint32_t *sec_of_shndx;	/* [nshdr]: secs[] index or KPC_BLOB_NONE */
	uint32_t *secs_by_addr;	/* secs[] indices sorted by modaddr */
	struct kpc_vec fns;	/* struct kpc_fn */
	uint32_t *prims;	/* primary fns[] indices, by (section, offset) */
	size_t nr_prims;
	struct kpc_vec subprogs;	/* struct kpc_subprog */
	struct kpc_vec ranges;	/* struct kpc_range */
	struct kpc_vec lines;	/* struct kpc_line */
	struct kpc_vec branches;	/* struct kpc_blob_branch */
	struct kpc_vec block_starts;	/* struct kpc_blob_block_start */
	struct kpc_vec kcov_sites;	/* struct kpc_blob_kcov_site */
	struct kpc_vec inlines;	/* struct kpc_inl */

	struct kpc_blob_header hdr;	/* strings filled as we go */
	uint32_t split;		/* DWARF from a separate file */
};

/* lookup.c: file numbers and address lookups, for the steps below */
int kpc_di_file(struct kpc_di *d, const char *comp_dir, const char *name, uint32_t *file);
int kpc_di_file_ptr(struct kpc_di *d, const char *comp_dir, const char *name, uint32_t *file);
/* secs[] index holding module address a (and its offset), or KPC_BLOB_NONE. */
uint32_t kpc_di_sec_of_addr(const struct kpc_di *d, uint64_t a, uint64_t *off);
/* Primary fns[] index covering (sec, off), or KPC_BLOB_NONE. */
uint32_t kpc_di_fn_at(const struct kpc_di *d, uint32_t sec, uint64_t off);
/* lines[] index in effect at (sec, off) within function fn, or KPC_BLOB_NONE. */
uint32_t kpc_di_line_at(const struct kpc_di *d, uint32_t sec, uint64_t off, uint32_t fn);
/* Where a block starting at (sec, off) is probed: past an ENDBR64 inside a function. */
uint64_t kpc_di_past_endbr(const struct kpc_di *d, uint32_t sec, uint64_t off);

/* The steps, in the order debuginfo.c calls them; each returns 0 or -errno
 * (with kpc_set_error) unless void. */
/* elf_file.c */
int kpc_di_open(struct kpc_di *d);
int kpc_di_sections(struct kpc_di *d);
int kpc_di_modinfo(struct kpc_di *d);
/* symbols.c */
int kpc_di_symbols(struct kpc_di *d);
/* dwarf.c */
int kpc_di_walk_dwarf(struct kpc_di *d);
/* join.c */
void kpc_di_attach_dwarf(struct kpc_di *d);
int kpc_di_order_functions(struct kpc_di *d);
void kpc_di_order_lines(struct kpc_di *d);
void kpc_di_order_inlines(struct kpc_di *d);

/* branches.c */
int kpc_di_find_branches(struct kpc_di *d);
/* blob.c: the blob into *blobp (malloc'd), its size into *lenp */
int kpc_di_build_blob(struct kpc_di *d, uint8_t **blobp, size_t *lenp);

#endif /* KPC_DEBUGINFO_H */
