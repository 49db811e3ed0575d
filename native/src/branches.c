// SPDX-License-Identifier: GPL-2.0
/*
 * Branch discovery: disassemble every primary function with capstone and
 * record each conditional jump with both successors. In a .ko a jump to
 * another section (foo -> foo.cold) or to a global symbol has a relocation
 * on its displacement and zero bytes in the file: its target comes from the
 * relocation, as the module loader would compute it.
 */
#include <capstone/capstone.h>
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "debuginfo.h"

static int kpc_is_cond_jump(unsigned int id, uint32_t *flags)
{
	switch (id) {
	case X86_INS_JAE: case X86_INS_JA: case X86_INS_JBE: case X86_INS_JB:
	case X86_INS_JE: case X86_INS_JGE: case X86_INS_JG: case X86_INS_JLE:
	case X86_INS_JL: case X86_INS_JNE: case X86_INS_JNO: case X86_INS_JNP:
	case X86_INS_JNS: case X86_INS_JO: case X86_INS_JP: case X86_INS_JS:
		*flags = 0;
		return 1;
	case X86_INS_JCXZ: case X86_INS_JECXZ: case X86_INS_JRCXZ:
	case X86_INS_LOOP: case X86_INS_LOOPE: case X86_INS_LOOPNE:
		*flags = KPC_BR_LOOP;
		return 1;
	default:
		return 0;
	}
}

static const struct kpc_reloc *kpc_reloc_at(const struct kpc_sec *s, uint64_t off);

/* Instructions after which the next one can only be reached by a jump. */
static int kpc_ends_flow(unsigned int id)
{
	return id == X86_INS_JMP || id == X86_INS_RET || id == X86_INS_UD2 ||
	       id == X86_INS_INT3 || id == X86_INS_LJMP;
}

static int kpc_push_block_start(struct kpc_di *d, uint32_t fi, uint64_t offset, uint32_t kind,
				uint32_t from)
{
	const struct kpc_fn *f = KPC_VEC_AT(&d->fns, struct kpc_fn, fi);
	struct kpc_blob_block_start *bs = kpc_vec_push(&d->block_starts);

	if (!bs)
		return -ENOMEM;
	bs->function = fi;
	bs->offset = kpc_di_past_endbr(d, f->out.section, f->out.offset + offset) - f->out.offset;
	bs->kind = kind;
	bs->from = from;
	return 0;
}

static int kpc_reloc_target(struct kpc_di *d, const struct kpc_sec *s, const struct kpc_reloc *r,
			    uint32_t *sec, uint64_t *off, uint32_t *external);

/*
 * Block starts of one instruction that is not a conditional jump: the
 * target of a direct jmp (rel8 eb, rel32 e9; a relocated rel32 names its
 * target by a relocation) inside the function or between the function and
 * its cold part (a tail call to another function is no block start), and the
 * instruction after anything that ends the flow, with how it ends
 * (KPC_BS_END_*).
 */
static int kpc_block_starts(struct kpc_di *d, const struct kpc_sec *s, const struct kpc_fn *f,
			    uint32_t fi, const cs_insn *insn)
{
	uint64_t next = insn->address + insn->size, end = f->out.offset + f->out.size;
	uint32_t how = KPC_BS_END_LEAVE;
	int ret, indirect;

	if (!kpc_ends_flow(insn->id))
		return 0;
	if (insn->id == X86_INS_UD2 || insn->id == X86_INS_INT3)
		how = KPC_BS_END_TRAP;
	if (insn->id == X86_INS_JMP && (insn->bytes[0] == 0xeb || insn->bytes[0] == 0xe9)) {
		const struct kpc_reloc *r = insn->bytes[0] == 0xe9 ? kpc_reloc_at(s, next - 4) : NULL;
		uint32_t tsec, ext = 0, tfi;
		uint64_t target;

		if (insn->bytes[0] == 0xeb) {
			target = next + (int8_t)insn->bytes[1];
		} else {
			int32_t disp;

			memcpy(&disp, insn->bytes + 1, 4);
			target = next + disp;
		}
		tsec = f->out.section;
		if (r) {
			ret = kpc_reloc_target(d, s, r, &tsec, &target, &ext);
			if (ret)
				return ret;
		}
		tfi = ext || tsec == KPC_BLOB_NONE ? KPC_BLOB_NONE : kpc_di_fn_at(d, tsec, target);
		/* Inside the function, or between it and its cold part (not tail calls). */
		if (tfi != KPC_BLOB_NONE && (tfi == fi || f->out.parent == tfi ||
		    KPC_VEC_AT(&d->fns, struct kpc_fn, tfi)->out.parent == fi)) {
			uint32_t from = insn->address - f->out.offset + 1;

			ret = kpc_push_block_start(d, tfi, target - KPC_VEC_AT(&d->fns, struct kpc_fn,
						   tfi)->out.offset, KPC_BS_JUMP_TARGET,
						   tfi == fi ? from : from | KPC_BS_FROM_OTHER);
			if (ret)
				return ret;
			if (tfi == fi)
				how = KPC_BS_END_JUMP;
		}
	}
	/* A jmp that is neither rel8 nor rel32 (ff /4, ff /5) jumps through a register or memory. */
	indirect = insn->id == X86_INS_LJMP ||
		   (insn->id == X86_INS_JMP && insn->bytes[0] != 0xeb && insn->bytes[0] != 0xe9);
	return next < end ? kpc_push_block_start(d, fi, next - f->out.offset,
						 indirect ? KPC_BS_AFTER_INDIRECT : KPC_BS_AFTER_END,
						 indirect ? 0 : how) : 0;
}

static const struct kpc_reloc *kpc_reloc_at(const struct kpc_sec *s, uint64_t off)
{
	const struct kpc_reloc *r = s->relocs.data;
	size_t lo = 0, hi = s->relocs.len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r[mid].offset < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->relocs.len && r[lo].offset == off ? &r[lo] : NULL;
}

/* Fill a successor at (sec, off), past a label's ENDBR64; sec may be KPC_BLOB_NONE. */
static void kpc_successor(struct kpc_di *d, struct kpc_blob_successor *s, uint32_t sec, uint64_t off)
{
	uint32_t fn, line;

	s->section = sec;
	s->section_offset = off;
	s->function = KPC_BLOB_NONE;
	if (sec == KPC_BLOB_NONE)
		return;
	off = kpc_di_past_endbr(d, sec, off);
	s->section_offset = off;
	fn = kpc_di_fn_at(d, sec, off);
	s->function = fn;
	if (fn != KPC_BLOB_NONE)
		s->offset = off - KPC_VEC_AT(&d->fns, struct kpc_fn, fn)->out.offset;
	line = kpc_di_line_at(d, sec, off, fn);
	if (line != KPC_BLOB_NONE) {
		const struct kpc_line *l = KPC_VEC_AT(&d->lines, struct kpc_line, line);

		s->file = l->out.file;
		s->line = l->out.line;
	}
}

/*
 * The taken target of a rel32 jump whose displacement (at disp_off) is
 * relocated: PC-relative S + A - P, and the CPU adds P + 4.
 */
static int kpc_reloc_target(struct kpc_di *d, const struct kpc_sec *s, const struct kpc_reloc *r,
			    uint32_t *sec, uint64_t *off, uint32_t *external)
{
	GElf_Sym sym;
	int64_t name;

	*sec = KPC_BLOB_NONE;
	*off = 0;
	if ((r->type != R_X86_64_PC32 && r->type != R_X86_64_PLT32) || !s->symdata ||
	    !gelf_getsym(s->symdata, r->sym, &sym))
		return 0;
	if (sym.st_shndx != SHN_UNDEF && sym.st_shndx < d->nshdr &&
	    d->sec_of_shndx[sym.st_shndx] != KPC_BLOB_NONE) {
		*sec = d->sec_of_shndx[sym.st_shndx];
		*off = sym.st_value + r->addend + 4;
		return 0;
	}
	name = kpc_strtab_add(&d->st, elf_strptr(d->elf, s->symstrndx, sym.st_name));
	if (name < 0)
		return name;
	*external = name;
	return 0;
}

/* ------------------------------------------------------------------------
 * KCOV callback calls
 * ------------------------------------------------------------------------ */

/* KCOV_CMP_SIZE(n) and KCOV_CMP_CONST of linux/kcov.h (not needed at build time). */
#define KPC_CMP_CONST	1U
#define KPC_CMP_SIZE(n)	((n) << 1)

/* The KCOV callback `name` is, as a site kind and a CMP record type; 0 if none. */
static int kpc_kcov_callback(const char *name, uint16_t *kind, uint16_t *type)
{
	static const char pre[] = "__sanitizer_cov_trace_";
	const char *rest;
	unsigned int log2;

	if (!name || strncmp(name, pre, sizeof(pre) - 1))
		return 0;
	rest = name + sizeof(pre) - 1;
	*type = 0;
	if (!strcmp(rest, "pc")) {
		*kind = KPC_KCOV_SITE_PC;
		return 1;
	}
	if (!strcmp(rest, "switch")) {
		*kind = KPC_KCOV_SITE_SWITCH;
		return 1;
	}
	if (!strncmp(rest, "const_", 6)) {
		*type = KPC_CMP_CONST;
		rest += 6;
	}
	if (strncmp(rest, "cmp", 3) || !rest[3] || rest[4])
		return 0;
	switch (rest[3]) {
	case '1': log2 = 0; break;
	case '2': log2 = 1; break;
	case '4': log2 = 2; break;
	case '8': log2 = 3; break;
	default: return 0;
	}
	*kind = KPC_KCOV_SITE_CMP;
	*type |= KPC_CMP_SIZE(log2);
	return 1;
}

/* In a linked file (vmlinux): the callbacks' addresses, from its symbols. */
struct kpc_kcov_callbacks {
	uint64_t addr[16];
	uint16_t kind[16];
	uint16_t type[16];
	unsigned int n;
};

static void kpc_find_kcov_callbacks(struct kpc_di *d, struct kpc_kcov_callbacks *cb)
{
	size_t i;

	cb->n = 0;
	if (d->ehdr.e_type == ET_REL)
		return;
	for (i = 0; i < d->fns.len && cb->n < 16; i++) {
		const struct kpc_fn *f = KPC_VEC_AT(&d->fns, struct kpc_fn, i);
		const struct kpc_sec *s = KPC_VEC_AT(&d->secs, struct kpc_sec, f->out.section);

		if (kpc_kcov_callback(d->st.buf + f->out.name, &cb->kind[cb->n], &cb->type[cb->n]))
			cb->addr[cb->n++] = s->out.address + f->out.offset;
	}
}

/*
 * If insn is a direct call (e8 rel32) of a KCOV callback, record its
 * return address as a site. In a .ko the displacement is relocated
 * against the (undefined) callback symbol; in a linked file it is final.
 */
static int kpc_kcov_site(struct kpc_di *d, const struct kpc_sec *s, uint32_t fi, const cs_insn *insn,
			 const struct kpc_kcov_callbacks *cb)
{
	uint64_t next = insn->address + insn->size;
	const struct kpc_fn *f = KPC_VEC_AT(&d->fns, struct kpc_fn, fi);
	struct kpc_blob_kcov_site *site;
	uint16_t kind = 0, type = 0;
	int found = 0;

	if (insn->id != X86_INS_CALL)
		return 0;
	if (insn->size < 5 || insn->bytes[insn->size - 5] != 0xe8)
		goto other;	/* an indirect call */
	if (d->ehdr.e_type == ET_REL) {
		const struct kpc_reloc *r = kpc_reloc_at(s, next - 4);
		GElf_Sym sym;

		if (r && (r->type == R_X86_64_PC32 || r->type == R_X86_64_PLT32) && s->symdata &&
		    gelf_getsym(s->symdata, r->sym, &sym) && sym.st_shndx == SHN_UNDEF)
			found = kpc_kcov_callback(elf_strptr(d->elf, s->symstrndx, sym.st_name),
						  &kind, &type);
	} else {
		int32_t disp;
		uint64_t target;
		unsigned int i;

		memcpy(&disp, insn->bytes + insn->size - 4, 4);
		target = s->out.address + next + disp;
		for (i = 0; i < cb->n && !found; i++) {
			if (cb->addr[i] == target) {
				kind = cb->kind[i];
				type = cb->type[i];
				found = 1;
			}
		}
	}
other:
	if (!found) {
		kind = KPC_KCOV_SITE_CALL;
		type = 0;
	}
	site = kpc_vec_push(&d->kcov_sites);
	if (!site)
		return -ENOMEM;
	site->section = f->out.section;
	site->section_offset = next;
	site->function = fi;
	site->offset = next - f->out.offset;
	site->kind = kind;
	site->cmp_type = type;
	return 0;
}

static int kpc_function_branches(struct kpc_di *d, csh cs, cs_insn *insn, uint32_t fi,
				 const struct kpc_kcov_callbacks *cb)
{
	struct kpc_fn *f = KPC_VEC_AT(&d->fns, struct kpc_fn, fi);
	const struct kpc_sec *s = KPC_VEC_AT(&d->secs, struct kpc_sec, f->out.section);
	const uint8_t *code = s->code + f->out.offset;
	size_t size = f->out.size;
	uint64_t addr = f->out.offset;
	uint32_t first = d->branches.len;

	while (size) {
		struct kpc_blob_branch *b;
		const struct kpc_reloc *r = NULL;
		uint32_t flags, tsec = f->out.section, line;
		uint64_t toff, next;
		int64_t mn;
		int ret, rel32;

		if (!cs_disasm_iter(cs, &code, &size, &addr, insn)) {
			d->hdr.nr_bad_insns++;
			code++;
			size--;
			addr++;
			continue;
		}
		if (!kpc_is_cond_jump(insn->id, &flags)) {
			ret = kpc_block_starts(d, s, f, fi, insn);
			if (!ret)
				ret = kpc_kcov_site(d, s, fi, insn, cb);
			if (ret)
				return ret;
			continue;
		}
		/*
		 * Every conditional jump ends in its displacement: 0f 8x rel32
		 * (jcc near), else rel8 (jcc short, jrcxz, loop*), after any
		 * prefixes. Decoding it here spares capstone's slow detail mode.
		 */
		next = insn->address + insn->size;
		rel32 = insn->size >= 6 && insn->bytes[insn->size - 6] == 0x0f &&
			(insn->bytes[insn->size - 5] & 0xf0) == 0x80;
		if (rel32) {
			int32_t disp;

			memcpy(&disp, insn->bytes + insn->size - 4, 4);
			toff = next + disp;
		} else {
			toff = next + (int8_t)insn->bytes[insn->size - 1];
		}
		b = kpc_vec_push(&d->branches);
		if (!b)
			return -ENOMEM;
		if (rel32)
			r = kpc_reloc_at(s, next - 4);
		if (r) {
			ret = kpc_reloc_target(d, s, r, &tsec, &toff, &b->taken.external);
			if (ret)
				return ret;
			flags |= KPC_BR_RELOC;
		}
		mn = kpc_strtab_add(&d->st, insn->mnemonic);
		if (mn < 0)
			return mn;
		b->function = fi;
		b->offset = insn->address - f->out.offset;
		b->mnemonic = mn;
		line = kpc_di_line_at(d, f->out.section, insn->address, fi);
		if (line != KPC_BLOB_NONE) {
			b->file = KPC_VEC_AT(&d->lines, struct kpc_line, line)->out.file;
			b->line = KPC_VEC_AT(&d->lines, struct kpc_line, line)->out.line;
		}
		kpc_successor(d, &b->taken, tsec, toff);
		kpc_successor(d, &b->fallthrough, f->out.section, next);
		if (b->taken.function != fi)
			flags |= KPC_BR_TAKEN_LEAVES;
		b->flags = flags;
	}
	f->out.first_branch = first;
	f->out.nr_branches = d->branches.len - first;
	return 0;
}

static int kpc_cmp_block_start(const void *a, const void *b)
{
	const struct kpc_blob_block_start *x = a, *y = b;

	if (x->function != y->function)
		return x->function < y->function ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int kpc_di_find_branches(struct kpc_di *d)
{
	struct kpc_kcov_callbacks cb;
	cs_insn *insn;
	csh cs;
	size_t i;
	int ret = 0;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		kpc_set_error("capstone: cannot open an x86-64 disassembler");
		return -EIO;
	}
	insn = cs_malloc(cs);
	if (!insn) {
		cs_close(&cs);
		return -ENOMEM;
	}
	kpc_find_kcov_callbacks(d, &cb);
	for (i = 0; i < d->nr_prims && !ret; i++) {
		uint32_t fi = d->prims[i];
		struct kpc_fn *f = KPC_VEC_AT(&d->fns, struct kpc_fn, fi);
		const struct kpc_sec *s = KPC_VEC_AT(&d->secs, struct kpc_sec, f->out.section);

		f->out.first_branch = d->branches.len;
		if (!s->code || !f->out.size || f->out.offset > s->out.size ||
		    f->out.size > s->out.size - f->out.offset)
			continue;
		ret = kpc_function_branches(d, cs, insn, fi, &cb);
	}
	cs_free(insn, 1);
	cs_close(&cs);
	/* Without a single callback the file is not built for KCOV: no sites at all. */
	for (i = 0; i < d->kcov_sites.len; i++)
		if (KPC_VEC_AT(&d->kcov_sites, struct kpc_blob_kcov_site, i)->kind != KPC_KCOV_SITE_CALL)
			break;
	if (i == d->kcov_sites.len)
		d->kcov_sites.len = 0;
	/* Backward jumps (loops) name earlier offsets: sort as documented. */
	qsort(d->block_starts.data, d->block_starts.len, sizeof(struct kpc_blob_block_start),
	      kpc_cmp_block_start);
	return ret;
}
