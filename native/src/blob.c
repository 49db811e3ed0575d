// SPDX-License-Identifier: GPL-2.0
/*
 * The output: the blob kpc_debuginfo_load() returns, its tables laid out
 * 8-byte aligned after the header (layout in debuginfo.h; parsed by
 * @kprobecov/core's native/debuginfo.ts).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

int kpc_di_build_blob(struct kpc_di *d, uint8_t **blobp, size_t *lenp)
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
