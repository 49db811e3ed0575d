// SPDX-License-Identifier: GPL-2.0
/*
 * kpc_debuginfo_load(): one pass over an ELF file, each step in a file of its
 * own, all on one struct kpc_di (debuginfo.h):
 *
 *   elf_file.c  open (libelf + libdwfl), sections, .modinfo
 *   symbols.c   function symbols
 *   dwarf.c     subprograms, inlined calls, line tables   (uses lookup.c)
 *   join.c      symbols + DWARF + lines, ordered          (uses lookup.c)
 *   branches.c  branches and flow, with capstone          (uses lookup.c)
 *   blob.c      the blob returned
 *
 * Only this file calls the steps; lookup.c calls none of them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "debuginfo.h"

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
	ret = kpc_di_open(&d);
	if (!ret)
		ret = kpc_di_sections(&d);
	if (!ret)
		ret = kpc_di_modinfo(&d);
	if (!ret)
		ret = kpc_di_symbols(&d);
	if (!ret)
		ret = kpc_di_walk_dwarf(&d);
	if (ret)
		goto out;
	kpc_di_attach_dwarf(&d);
	ret = kpc_di_order_functions(&d);
	if (ret)
		goto out;
	kpc_di_order_lines(&d);
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
		kpc_di_order_inlines(&d);
		d.hdr.flags |= KPC_BLOB_HAS_INLINES;
	}
	ret = kpc_di_build_blob(&d, blob, len);
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
