// SPDX-License-Identifier: GPL-2.0
/*
 * DWARF: subprograms with code (for each function symbol's source name and
 * declaration), the calls inlined into them, and the line tables. libdwfl
 * has applied a .ko's relocations already: every address read here plus
 * the CU's bias is a module address.
 */
#include <dwarf.h>
#include <errno.h>
#include <string.h>

#include "debuginfo.h"

struct kpc_cu {
	Dwarf_Die *cudie;
	Dwarf_Addr bias;
	const char *comp_dir;
	Dwarf_Files *files;	/* NULL if the CU has no line program */
	size_t nfiles;
};

static const char *kpc_die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;

	return dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
}

static int kpc_die_udata(Dwarf_Die *die, unsigned int name, Dwarf_Word *val)
{
	Dwarf_Attribute attr;

	return dwarf_formudata(dwarf_attr(die, name, &attr), val);
}

/* files[] index of a DIE's declaration file (0 if none). */
static int kpc_decl(struct kpc_di *d, struct kpc_cu *cu, Dwarf_Die *die,
		    uint32_t *file, uint32_t *line)
{
	const char *name = dwarf_decl_file(die);
	int l = 0;

	*file = 0;
	*line = dwarf_decl_line(die, &l) == 0 && l > 0 ? l : 0;
	return name ? kpc_di_file_ptr(d, cu->comp_dir, name, file) : 0;
}

/* Record the calls inlined under `die` (a subprogram, lexical block or an
 * inlined call) at nesting `depth`. */
static int kpc_walk_inlines(struct kpc_di *d, struct kpc_cu *cu, Dwarf_Die *die, uint32_t depth)
{
	Dwarf_Die child;
	int ret;

	if (dwarf_child(die, &child) != 0)
		return 0;
	do {
		int tag = dwarf_tag(&child);

		if (tag == DW_TAG_inlined_subroutine) {
			struct kpc_inl *in;
			Dwarf_Addr pc, base, lo, hi;
			Dwarf_Word w;
			int64_t name;

			if (dwarf_entrypc(&child, &pc) != 0) {
				if (dwarf_ranges(&child, 0, &base, &lo, &hi) <= 0)
					goto next;
				pc = lo;
			}
			in = kpc_vec_push(&d->inlines);
			if (!in)
				return -ENOMEM;
			in->modaddr = pc + cu->bias;
			in->seq = d->inlines.len - 1;
			in->out.depth = depth;
			name = kpc_strtab_add(&d->st, kpc_die_name(&child));
			if (name < 0)
				return name;
			in->out.callee = name;
			if (cu->files && kpc_die_udata(&child, DW_AT_call_file, &w) == 0 &&
			    w < cu->nfiles) {
				const char *f = dwarf_filesrc(cu->files, w, NULL, NULL);

				if (f) {
					ret = kpc_di_file_ptr(d, cu->comp_dir, f, &in->out.call_file);
					if (ret)
						return ret;
				}
			}
			if (kpc_die_udata(&child, DW_AT_call_line, &w) == 0)
				in->out.call_line = w;
			ret = kpc_decl(d, cu, &child, &in->out.decl_file, &in->out.decl_line);
			if (ret)
				return ret;
			ret = kpc_walk_inlines(d, cu, &child, depth + 1);
		} else if (tag == DW_TAG_lexical_block) {
			ret = kpc_walk_inlines(d, cu, &child, depth);
		} else {
			ret = 0;
		}
		if (ret)
			return ret;
next:
		;
	} while (dwarf_siblingof(&child, &child) == 0);
	return 0;
}

static int kpc_subprogram(struct kpc_di *d, struct kpc_cu *cu, Dwarf_Die *die)
{
	Dwarf_Addr base, lo, hi;
	Dwarf_Attribute attr;
	Dwarf_Word inl;
	struct kpc_subprog *sp;
	uint32_t idx = d->subprogs.len;
	ptrdiff_t off = 0;
	int64_t name;
	int ret, nranges = 0;

	if (dwarf_hasattr(die, DW_AT_declaration))
		return 0;
	while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
		struct kpc_range *r;

		if (hi <= lo)
			continue;
		r = kpc_vec_push(&d->ranges);
		if (!r)
			return -ENOMEM;
		r->lo = lo + cu->bias;
		r->hi = hi + cu->bias;
		r->subprog = idx;
		nranges++;
	}
	if (!nranges)
		return 0;	/* abstract instance or discarded: no code */
	sp = kpc_vec_push(&d->subprogs);
	if (!sp)
		return -ENOMEM;
	name = kpc_strtab_add(&d->st, kpc_die_name(die));
	if (name < 0)
		return name;
	sp->name = name;
	if (dwarf_formudata(dwarf_attr_integrate(die, DW_AT_inline, &attr), &inl) == 0)
		sp->declared_inline = inl == DW_INL_declared_inlined ||
				      inl == DW_INL_declared_not_inlined;
	ret = kpc_decl(d, cu, die, &sp->decl_file, &sp->decl_line);
	if (ret)
		return ret;
	if (d->flags & KPC_DI_NO_INLINES)
		return 0;
	return kpc_walk_inlines(d, cu, die, 1);
}

/* Subprograms anywhere below the CU (C has them at the top level only). */
static int kpc_walk_cu(struct kpc_di *d, struct kpc_cu *cu, Dwarf_Die *die, int level)
{
	Dwarf_Die child;
	int ret = 0;

	if (level > 8 || dwarf_child(die, &child) != 0)
		return 0;
	do {
		switch (dwarf_tag(&child)) {
		case DW_TAG_subprogram:
			ret = kpc_subprogram(d, cu, &child);
			break;
		case DW_TAG_namespace:
		case DW_TAG_module:
			ret = kpc_walk_cu(d, cu, &child, level + 1);
			break;
		default:
			break;
		}
		if (ret)
			return ret;
	} while (dwarf_siblingof(&child, &child) == 0);
	return 0;
}

static int kpc_lines(struct kpc_di *d, struct kpc_cu *cu)
{
	Dwarf_Lines *lines;
	size_t n, i;

	if (dwarf_getsrclines(cu->cudie, &lines, &n) != 0)
		return 0;	/* a CU without a line program */
	for (i = 0; i < n; i++) {
		Dwarf_Line *l = dwarf_onesrcline(lines, i);
		struct kpc_line *row;
		Dwarf_Addr addr;
		const char *src;
		bool b;
		int lineno = 0, col = 0, ret;
		uint64_t off;
		uint32_t sec;

		if (!l || dwarf_lineaddr(l, &addr) != 0)
			continue;
		if (dwarf_lineendsequence(l, &b) == 0 && b)
			continue;
		sec = kpc_di_sec_of_addr(d, addr + cu->bias, &off);
		if (sec == KPC_BLOB_NONE)
			continue;
		row = kpc_vec_push(&d->lines);
		if (!row)
			return -ENOMEM;
		row->seq = d->lines.len - 1;
		row->out.section = sec;
		row->out.section_offset = off;
		row->out.function = KPC_BLOB_NONE;
		dwarf_lineno(l, &lineno);
		dwarf_linecol(l, &col);
		row->out.line = lineno > 0 ? lineno : 0;
		row->out.column = col <= 0 ? 0 : col > 65535 ? 65535 : col;
		if (dwarf_linebeginstatement(l, &b) == 0 && b)
			row->out.flags |= KPC_LINE_STMT;
		if (dwarf_lineprologueend(l, &b) == 0 && b)
			row->out.flags |= KPC_LINE_PROLOGUE_END;
		if (dwarf_lineepiloguebegin(l, &b) == 0 && b)
			row->out.flags |= KPC_LINE_EPILOGUE_BEGIN;
		src = dwarf_linesrc(l, NULL, NULL);
		if (src) {
			ret = kpc_di_file_ptr(d, cu->comp_dir, src, &row->out.file);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int kpc_di_walk_dwarf(struct kpc_di *d)
{
	Dwarf_Die *cudie = NULL;
	Dwarf_Addr bias;
	int ret;

	while ((cudie = dwfl_module_nextcu(d->mod, cudie, &bias)) != NULL) {
		struct kpc_cu cu = { .cudie = cudie, .bias = bias };
		Dwarf_Attribute attr;

		cu.comp_dir = dwarf_formstring(dwarf_attr(cudie, DW_AT_comp_dir, &attr));
		if (dwarf_getsrcfiles(cudie, &cu.files, &cu.nfiles) != 0)
			cu.files = NULL;
		ret = kpc_walk_cu(d, &cu, cudie, 0);
		if (!ret)
			ret = kpc_lines(d, &cu);
		if (ret)
			return ret;
	}
	return 0;
}
