// SPDX-License-Identifier: GPL-2.0
/*
 * Joining the three views: function symbols get their DWARF subprogram
 * (source name, declaration, clone/cold flags, alias rank); functions are
 * ordered with one primary per address; line rows and inlined calls are
 * ordered and attached to the function that holds them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "debuginfo.h"

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
void kpc_di_attach_dwarf(struct kpc_di *d)
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
int kpc_di_order_functions(struct kpc_di *d)
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

void kpc_di_order_lines(struct kpc_di *d)
{
	size_t i, n;

	/* A row on a label's ENDBR64 starts the label's code past it (kpc_di_past_endbr). */
	for (i = 0; i < d->lines.len; i++) {
		struct kpc_line *l = KPC_VEC_AT(&d->lines, struct kpc_line, i);

		l->out.section_offset = kpc_di_past_endbr(d, l->out.section, l->out.section_offset);
	}
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

void kpc_di_order_inlines(struct kpc_di *d)
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
