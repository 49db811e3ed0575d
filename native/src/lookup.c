// SPDX-License-Identifier: GPL-2.0
/*
 * File numbers and address lookups of one kpc_debuginfo_load() call, used by
 * dwarf.c, branches.c and join.c. A leaf: it calls nothing of the others.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "debuginfo.h"

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

/*
 * An ENDBR64 (f3 0f 1e fa) inside a function starts an address-taken label's
 * block in code built for IBT (-fcf-protection=branch): the debug info puts the
 * label's line and the jumps to it on the ENDBR64, but it is a no-op whose
 * block counts the same at the next instruction, and a kprobe must not sit on
 * it (an indirect jump to the label would find an int3 where IBT requires the
 * ENDBR64). Rule: every block start, branch successor and line row at such an
 * ENDBR64 moves past it, so all of them name the same first instruction. A
 * function's entry stays (kprobes itself moves an entry probe past the ENDBR64),
 * and so does code without an ENDBR64 (no IBT): nothing changes there.
 */
uint64_t kpc_di_past_endbr(const struct kpc_di *d, uint32_t sec, uint64_t off)
{
	static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };
	const struct kpc_sec *s;
	const struct kpc_fn *f;
	uint32_t fi;

	if (sec >= d->secs.len)
		return off;
	s = KPC_VEC_AT(&d->secs, struct kpc_sec, sec);
	if (!s->code || off >= s->out.size || s->out.size - off < sizeof(endbr64) ||
	    memcmp(s->code + off, endbr64, sizeof(endbr64)))
		return off;
	fi = kpc_di_fn_at(d, sec, off);
	if (fi == KPC_BLOB_NONE)
		return off;
	f = KPC_VEC_AT(&d->fns, struct kpc_fn, fi);
	if (f->out.offset == off || off + sizeof(endbr64) >= f->out.offset + f->out.size)
		return off;
	return off + sizeof(endbr64);
}
