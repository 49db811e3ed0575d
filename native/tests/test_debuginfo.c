// SPDX-License-Identifier: GPL-2.0
/*
 * Debug-info part on the fixture module built by kbuild in this test run
 * (tests/fixture/kpc_fixture.c). Expected source lines come from the
 * "KPC:<name>" markers in the fixture's source, so they are exact without
 * being copied here.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kpc_test.h"

struct blob {
	uint8_t *p;
	size_t len;
	const struct kpc_blob_header *h;
};

static char *fixture_path(const char *name)
{
	size_t n = strlen(kpc_t_fixture_dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", kpc_t_fixture_dir, name);
	return p;
}

static int load(struct blob *b, const char *name, const char *debug, uint32_t flags)
{
	char *path = fixture_path(name), *dpath = debug ? fixture_path(debug) : NULL;
	int ret = kpc_debuginfo_load_split(path, dpath, flags, &b->p, &b->len);

	free(path);
	free(dpath);
	b->h = (const struct kpc_blob_header *)b->p;
	if (ret)
		printf("#   loading %s: %s\n", name, kpc_last_error());
	return ret;
}

static const char *str(const struct blob *b, uint32_t off)
{
	return off < b->h->strings.count ? (const char *)b->p + b->h->strings.offset + off : NULL;
}

#define ENTRY(b, table, type, i) \
	((const type *)((b)->p + (b)->h->table.offset + (size_t)(i) * (b)->h->table.entry_size))
#define FN(b, i) ENTRY(b, functions, struct kpc_blob_function, i)
#define LINE(b, i) ENTRY(b, lines, struct kpc_blob_line, i)
#define BRANCH(b, i) ENTRY(b, branches, struct kpc_blob_branch, i)
#define INLINE(b, i) ENTRY(b, inlines, struct kpc_blob_inline, i)
#define SEC(b, i) ENTRY(b, sections, struct kpc_blob_section, i)
#define BLOCK_START(b, i) ENTRY(b, block_starts, struct kpc_blob_block_start, i)

static const char *file(const struct blob *b, uint32_t idx)
{
	if (idx >= b->h->files.count)
		return NULL;
	return str(b, *ENTRY(b, files, __u32, idx));
}

static unsigned int marker(const char *name)
{
	return kpc_t_marker(name);
}

unsigned int kpc_t_marker(const char *name)
{
	return kpc_t_marker_in(kpc_t_source, name);
}

unsigned int kpc_t_marker_in(const char *source, const char *name)
{
	char want[128], buf[512];
	unsigned int line = 0, found = 0;
	FILE *f = fopen(source, "r");

	if (!f)
		return 0;
	snprintf(want, sizeof(want), "KPC:%s */", name);
	while (fgets(buf, sizeof(buf), f)) {
		line++;
		if (strstr(buf, want)) {
			found = line;
			break;
		}
	}
	fclose(f);
	if (!found)
		printf("#   no marker KPC:%s in %s\n", name, source);
	return found;
}

/* Index of the function whose ELF symbol is `name`, KPC_BLOB_NONE if none. */
static uint32_t fn_by_name(const struct blob *b, const char *name)
{
	uint32_t i;

	for (i = 0; i < b->h->functions.count; i++)
		if (!strcmp(str(b, FN(b, i)->name), name))
			return i;
	return KPC_BLOB_NONE;
}

/* The primary, non-cold function compiled from source function `name`
 * (whatever clone suffix the compiler gave its symbol). */
static uint32_t fn_by_source(const struct blob *b, const char *name)
{
	uint32_t i;

	for (i = 0; i < b->h->functions.count; i++) {
		const struct kpc_blob_function *f = FN(b, i);

		if (!(f->flags & (KPC_FN_ALIAS | KPC_FN_COLD)) &&
		    !strcmp(str(b, f->source_name), name))
			return i;
	}
	return KPC_BLOB_NONE;
}

/* The file is the fixture's source (same inode: no path spelling games). */
static int is_fixture_file(const struct blob *b, uint32_t idx)
{
	char *path = fixture_path("kpc_fixture.c");
	const char *name = file(b, idx);
	struct stat a, c;
	int ok;

	ok = name && name[0] == '/' && path && !stat(name, &a) && !stat(path, &c) &&
	     a.st_ino == c.st_ino && a.st_dev == c.st_dev;
	free(path);
	return ok;
}

static void test_load_layout(void)
{
	const struct kpc_blob_table *t;
	struct blob b;
	int i;

	ASSERT(load(&b, "kpc_fixture.ko", NULL, 0) == 0);
	EXPECT_EQ(b.h->magic, KPC_BLOB_MAGIC);
	EXPECT_EQ(memcmp(b.p, "kpcdinfo", 8), 0);
	EXPECT_EQ(b.h->version, KPC_BLOB_VERSION);
	EXPECT_EQ(b.h->header_size, sizeof(struct kpc_blob_header));
	EXPECT_EQ(b.h->blob_size, b.len);
	EXPECT_EQ(b.h->elf_type, 1);	/* ET_REL */
	EXPECT_EQ(b.h->elf_machine, 62);	/* EM_X86_64 */
	EXPECT_EQ(b.h->flags, KPC_BLOB_REL | KPC_BLOB_HAS_BRANCHES | KPC_BLOB_HAS_INLINES | KPC_BLOB_HAS_FLOW);
	EXPECT_EQ(b.h->nr_bad_insns, 0);
	EXPECT_EQ(b.h->nr_dwarfless, 0);
	EXPECT_EQ(b.h->strings.entry_size, 1);
	EXPECT_EQ(b.h->files.entry_size, 4);
	EXPECT_EQ(b.h->sections.entry_size, sizeof(struct kpc_blob_section));
	EXPECT_EQ(b.h->functions.entry_size, sizeof(struct kpc_blob_function));
	EXPECT_EQ(b.h->lines.entry_size, sizeof(struct kpc_blob_line));
	EXPECT_EQ(b.h->branches.entry_size, sizeof(struct kpc_blob_branch));
	EXPECT_EQ(b.h->inlines.entry_size, sizeof(struct kpc_blob_inline));
	for (t = &b.h->strings, i = 0; i < 7; i++, t++) {
		EXPECT_EQ(t->offset % 8, 0);
		EXPECT(t->offset >= sizeof(struct kpc_blob_header));
		EXPECT(t->offset + (uint64_t)t->count * t->entry_size <= b.len);
	}
	EXPECT_EQ(b.p[b.h->strings.offset], 0);
	EXPECT_EQ(b.p[b.h->strings.offset + b.h->strings.count - 1], 0);
	EXPECT_STREQ(file(&b, 0), "");
	kpc_free(b.p);
}

static void test_identity(void)
{
	char *path = fixture_path("kpc_fixture.ko");
	const void *id = NULL;
	ssize_t idlen = -1;
	struct blob b;
	Elf *elf;
	int fd;

	ASSERT(load(&b, "kpc_fixture.ko", NULL, 0) == 0);
	EXPECT_STREQ(str(&b, b.h->module_name), "kpc_fixture");
	EXPECT_STREQ(str(&b, b.h->mod_version), "1.0");
	/* modpost's srcversion: 23 upper-case hex digits */
	EXPECT_EQ(strlen(str(&b, b.h->srcversion)), 23);
	EXPECT_EQ(strspn(str(&b, b.h->srcversion), "0123456789ABCDEF"), 23);
	EXPECT(strstr(str(&b, b.h->vermagic), "mod_unload") != NULL);
	/* The build-id, checked against libelf's reading of the note. */
	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY);
	elf = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
	if (elf) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(elf, scn)) != NULL) {
			Elf_Data *data = elf_getdata(scn, NULL);
			GElf_Shdr sh;
			GElf_Nhdr nh;
			size_t noff, doff;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE || !data)
				continue;
			if (gelf_getnote(data, 0, &nh, &noff, &doff) && nh.n_type == NT_GNU_BUILD_ID &&
			    !strcmp((char *)data->d_buf + noff, "GNU")) {
				id = (char *)data->d_buf + doff;
				idlen = nh.n_descsz;
			}
		}
	}
	EXPECT_EQ(idlen, 20);
	EXPECT_EQ(b.h->build_id_size, 20);
	if (id && idlen == 20)
		EXPECT_EQ(memcmp(b.h->build_id, id, 20), 0);
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
	free(path);
	kpc_free(b.p);
}

/* One expected function: its source name, the marker of its definition,
 * the section it lives in and flags it must (and must not) have. */
struct want_fn {
	const char *source;
	const char *decl_marker;
	const char *section;
	uint32_t set;
	uint32_t clear;
};

static void test_functions(void)
{
	static const struct want_fn want[] = {
		{ "kpc_fx_even", "even_decl", ".text", 0, KPC_FN_GLOBAL },
		{ "kpc_fx_odd", "odd_decl", ".text", 0, KPC_FN_GLOBAL },
		{ "kpc_fx_ifelse", "ifelse_decl", ".text", 0, KPC_FN_GLOBAL },
		{ "kpc_fx_switch", "switch_decl", ".text", 0, KPC_FN_GLOBAL },
		{ "kpc_fx_loop", "loop_decl", ".text", 0, KPC_FN_GLOBAL },
		{ "kpc_fx_check", "check_decl", ".text", 0, KPC_FN_GLOBAL },
		{ "kpc_fx_scale", "scale_decl", ".text", 0, KPC_FN_GLOBAL },
		{ "kpc_fx_global", "global_decl", ".text", KPC_FN_GLOBAL, KPC_FN_CLONE },
		{ "kpc_fx_complain", "complain_decl", ".text.unlikely", 0, KPC_FN_GLOBAL },
		{ "kpc_fx_init", "init_decl", ".init.text", 0, KPC_FN_GLOBAL },
		{ "kpc_fx_exit", "exit_decl", ".exit.text", 0, KPC_FN_GLOBAL },
	};
	struct blob b;
	int failed;
	size_t i;

	ASSERT(load(&b, "kpc_fixture.ko", NULL, 0) == 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint32_t fi = fn_by_source(&b, want[i].source);
		const struct kpc_blob_function *f;
		const char *name;
		size_t n = strlen(want[i].source);

		if (fi == KPC_BLOB_NONE) {
			KPC_FAIL("no function for %s", want[i].source);
			continue;
		}
		failed = kpc_t_failed;
		kpc_t_failed = 0;
		f = FN(&b, fi);
		name = str(&b, f->name);
		/* "foo", or a compiler clone "foo.isra.0" flagged as such */
		EXPECT(!strncmp(name, want[i].source, n) && (name[n] == '\0' || name[n] == '.'));
		EXPECT_EQ(!!(f->flags & KPC_FN_CLONE), name[n] == '.');
		EXPECT_EQ(f->decl_line, marker(want[i].decl_marker));
		EXPECT(is_fixture_file(&b, f->decl_file));
		EXPECT_STREQ(str(&b, SEC(&b, f->section)->name), want[i].section);
		EXPECT_EQ(f->flags & want[i].set, want[i].set);
		EXPECT_EQ(f->flags & want[i].clear, 0);
		EXPECT_EQ(f->alias_of, KPC_BLOB_NONE);
		EXPECT(f->size > 0 && f->offset + f->size <= SEC(&b, f->section)->size);
		EXPECT(f->nr_lines > 0);
		if (kpc_t_failed)
			printf("#   (function %s)\n", want[i].source);
		kpc_t_failed |= failed;
	}
	/* The always_inline helper has no symbol of its own. */
	EXPECT_EQ(fn_by_source(&b, "kpc_fx_helper"), KPC_BLOB_NONE);
	EXPECT_EQ(fn_by_name(&b, "kpc_fx_helper"), KPC_BLOB_NONE);
	/* The constant argument made a clone. */
	EXPECT(FN(&b, fn_by_source(&b, "kpc_fx_scale"))->flags & KPC_FN_CLONE);
	kpc_free(b.p);
}

static void test_aliases_and_sections(void)
{
	uint32_t init, initm, exitf, exitm, i;
	struct blob b;

	ASSERT(load(&b, "kpc_fixture.ko", NULL, 0) == 0);
	init = fn_by_name(&b, "kpc_fx_init");
	initm = fn_by_name(&b, "init_module");
	exitf = fn_by_name(&b, "kpc_fx_exit");
	exitm = fn_by_name(&b, "cleanup_module");
	ASSERT(init != KPC_BLOB_NONE && initm != KPC_BLOB_NONE);
	ASSERT(exitf != KPC_BLOB_NONE && exitm != KPC_BLOB_NONE);
	/* module_init()'s alias shares the code; the source name wins. */
	EXPECT_EQ(FN(&b, initm)->alias_of, init);
	EXPECT(FN(&b, initm)->flags & KPC_FN_ALIAS);
	EXPECT(FN(&b, initm)->flags & KPC_FN_GLOBAL);
	EXPECT_EQ(FN(&b, initm)->nr_lines, 0);
	EXPECT_EQ(FN(&b, initm)->nr_branches, 0);
	EXPECT_EQ(FN(&b, exitm)->alias_of, exitf);
	EXPECT(SEC(&b, FN(&b, init)->section)->flags & KPC_SEC_INIT);
	EXPECT(SEC(&b, FN(&b, exitf)->section)->flags & KPC_SEC_EXIT);
	/* Sorted by (section, offset), primaries first. */
	for (i = 1; i < b.h->functions.count; i++) {
		const struct kpc_blob_function *p = FN(&b, i - 1), *f = FN(&b, i);

		EXPECT(p->section < f->section ||
		       (p->section == f->section && p->offset <= f->offset));
		if (f->flags & KPC_FN_ALIAS)
			EXPECT(f->alias_of < i);
	}
	kpc_free(b.p);
}

static void test_cold_part(void)
{
	uint32_t check, cold, i;
	int found = 0;
	struct blob b;

	ASSERT(load(&b, "kpc_fixture.ko", NULL, 0) == 0);
	check = fn_by_source(&b, "kpc_fx_check");
	cold = fn_by_name(&b, "kpc_fx_check.cold");
	ASSERT(check != KPC_BLOB_NONE && cold != KPC_BLOB_NONE);
	EXPECT(FN(&b, cold)->flags & KPC_FN_COLD);
	EXPECT_EQ(FN(&b, cold)->flags & KPC_FN_CLONE, 0);
	EXPECT_EQ(FN(&b, cold)->parent, check);
	EXPECT_STREQ(str(&b, FN(&b, cold)->source_name), "kpc_fx_check");
	EXPECT_EQ(FN(&b, cold)->decl_line, marker("check_decl"));
	EXPECT_STREQ(str(&b, SEC(&b, FN(&b, cold)->section)->name), ".text.unlikely");
	/* The jump into the cold part: a relocation in the .ko, resolved. */
	for (i = 0; i < FN(&b, check)->nr_branches; i++) {
		const struct kpc_blob_branch *br = BRANCH(&b, FN(&b, check)->first_branch + i);

		if (br->taken.function != cold)
			continue;
		found++;
		EXPECT_EQ(br->taken.offset, 0);
		EXPECT_EQ(br->flags & (KPC_BR_TAKEN_LEAVES | KPC_BR_RELOC),
			  KPC_BR_TAKEN_LEAVES | KPC_BR_RELOC);
		EXPECT_EQ(br->taken.line, marker("check_cold"));
		EXPECT_EQ(br->fallthrough.function, check);
	}
	EXPECT_EQ(found, 1);
	kpc_free(b.p);
}

/* The first line row of `line` in the fixture, KPC_BLOB_NONE if none. */
static uint32_t row_of(const struct blob *b, unsigned int line)
{
	uint32_t i;

	for (i = 0; i < b->h->lines.count; i++)
		if (LINE(b, i)->line == line && is_fixture_file(b, LINE(b, i)->file))
			return i;
	return KPC_BLOB_NONE;
}

static void test_line_in_function(void)
{
	static const struct {
		const char *marker;
		const char *function;
	} want[] = {
		{ "ifelse_then", "kpc_fx_ifelse" },
		{ "ifelse_else", "kpc_fx_ifelse" },
		{ "ifelse_join", "kpc_fx_ifelse" },
		{ "helper_call", "kpc_fx_global" },
		{ "check_cold", "kpc_fx_check.cold" },
		{ "exit_body", "kpc_fx_exit" },
	};
	struct blob b;
	size_t i;

	ASSERT(load(&b, "kpc_fixture.ko", NULL, 0) == 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint32_t r = row_of(&b, marker(want[i].marker));
		uint32_t fi = fn_by_name(&b, want[i].function);
		const struct kpc_blob_line *l;
		const struct kpc_blob_function *f;

		if (r == KPC_BLOB_NONE || fi == KPC_BLOB_NONE) {
			KPC_FAIL("no line row for %s or no function %s", want[i].marker,
				 want[i].function);
			continue;
		}
		l = LINE(&b, r);
		f = FN(&b, fi);
		EXPECT_EQ(l->function, fi);
		EXPECT_EQ(l->section, f->section);
		EXPECT(l->function_offset < f->size);
		EXPECT_EQ(l->section_offset, f->offset + l->function_offset);
		EXPECT(r >= f->first_line && r < f->first_line + f->nr_lines);
	}
	/* The helper's body line shows up inside the function it was inlined into. */
	{
		uint32_t r = row_of(&b, marker("helper_body"));

		ASSERT(r != KPC_BLOB_NONE);
		EXPECT_EQ(LINE(&b, r)->function, fn_by_source(&b, "kpc_fx_global"));
	}
	/* Each function's rows are its own, sorted, and start at offset 0. */
	for (i = 0; i < b.h->functions.count; i++) {
		const struct kpc_blob_function *f = FN(&b, i);
		uint32_t j;

		for (j = 0; j < f->nr_lines; j++) {
			const struct kpc_blob_line *l = LINE(&b, f->first_line + j);

			EXPECT_EQ(l->function, i);
			if (j)
				EXPECT(LINE(&b, f->first_line + j - 1)->function_offset <=
				       l->function_offset);
		}
		if (f->nr_lines)
			EXPECT_EQ(LINE(&b, f->first_line)->function_offset, 0);
	}
	kpc_free(b.p);
}

static void test_ifelse_branch(void)
{
	unsigned int then_l = marker("ifelse_then"), else_l = marker("ifelse_else");
	uint32_t fi, i;
	int found = 0;
	struct blob b;

	ASSERT(load(&b, "kpc_fixture.ko", NULL, 0) == 0);
	fi = fn_by_source(&b, "kpc_fx_ifelse");
	ASSERT(fi != KPC_BLOB_NONE);
	EXPECT(FN(&b, fi)->nr_branches >= 1);
	for (i = 0; i < FN(&b, fi)->nr_branches; i++) {
		const struct kpc_blob_branch *br = BRANCH(&b, FN(&b, fi)->first_branch + i);
		unsigned int t = br->taken.line, f = br->fallthrough.line;

		EXPECT_EQ(br->function, fi);
		if (!((t == then_l && f == else_l) || (t == else_l && f == then_l)))
			continue;
		found++;
		EXPECT_EQ(br->line, marker("ifelse_cond"));
		EXPECT_EQ(br->taken.function, fi);
		EXPECT_EQ(br->fallthrough.function, fi);
		EXPECT(br->taken.offset < FN(&b, fi)->size);
		EXPECT(br->fallthrough.offset > br->offset);
		EXPECT_EQ(br->flags, 0);
		EXPECT(is_fixture_file(&b, br->taken.file));
		EXPECT(is_fixture_file(&b, br->fallthrough.file));
		EXPECT_EQ(br->taken.section_offset, FN(&b, fi)->offset + br->taken.offset);
	}
	EXPECT_EQ(found, 1);
	kpc_free(b.p);
}

/* Whether offset starts a block of function fi: a block start or a branch successor. */
static int starts_block(const struct blob *b, uint32_t fi, uint32_t offset)
{
	uint32_t i;

	for (i = 0; i < b->h->block_starts.count; i++)
		if (BLOCK_START(b, i)->function == fi && BLOCK_START(b, i)->offset == offset)
			return 1;
	for (i = 0; i < FN(b, fi)->nr_branches; i++) {
		const struct kpc_blob_branch *br = BRANCH(b, FN(b, fi)->first_branch + i);

		if ((br->taken.function == fi && br->taken.offset == offset) ||
		    (br->fallthrough.function == fi && br->fallthrough.offset == offset))
			return 1;
	}
	return 0;
}

static void test_join_starts_a_block(void)
{
	unsigned int join = marker("join_after");
	uint32_t fi, i, first = UINT32_MAX;
	struct blob b;

	ASSERT(load(&b, "kpc_fixture.ko", NULL, 0) == 0);
	fi = fn_by_source(&b, "kpc_fx_join");
	ASSERT(fi != KPC_BLOB_NONE);
	/* Sorted by (function, offset), inside their function. */
	for (i = 0; i < b.h->block_starts.count; i++) {
		const struct kpc_blob_block_start *bs = BLOCK_START(&b, i);

		EXPECT(bs->offset < FN(&b, bs->function)->size);
		if (i)
			EXPECT(BLOCK_START(&b, i - 1)->function < bs->function ||
			       (BLOCK_START(&b, i - 1)->function == bs->function &&
				BLOCK_START(&b, i - 1)->offset <= bs->offset));
	}
	for (i = 0; i < FN(&b, fi)->nr_lines; i++) {
		const struct kpc_blob_line *l = LINE(&b, FN(&b, fi)->first_line + i);

		if (l->line == join && l->function_offset < first)
			first = l->function_offset;
	}
	ASSERT(first != UINT32_MAX);
	/* The code after the if/else is entered from both arms (one by a jmp): a block of its own. */
	EXPECT(starts_block(&b, fi, first));
	/* The control flow: the jmp into the join names where it is in this function, and
	 * every start after an end says how the code before it ends. */
	{
		int jumps = 0;

		for (i = 0; i < b.h->block_starts.count; i++) {
			const struct kpc_blob_block_start *bs = BLOCK_START(&b, i);

			if (bs->kind == KPC_BS_AFTER_END)
				EXPECT(bs->from >= KPC_BS_END_JUMP && bs->from <= KPC_BS_END_TRAP);
			if (bs->function != fi || bs->kind != KPC_BS_JUMP_TARGET || bs->offset != first)
				continue;
			ASSERT(bs->from > 0 && !(bs->from & KPC_BS_FROM_OTHER));
			EXPECT(bs->from - 1 != first && bs->from - 1 < FN(&b, fi)->size);
			jumps++;
		}
		EXPECT_EQ(jumps, 1);
	}
	kpc_free(b.p);
}

static void test_switch_and_loop_branches(void)
{
	uint32_t sw, lp, i;
	int back = 0;
	struct blob b;

	ASSERT(load(&b, "kpc_fixture.ko", NULL, 0) == 0);
	sw = fn_by_source(&b, "kpc_fx_switch");
	lp = fn_by_source(&b, "kpc_fx_loop");
	ASSERT(sw != KPC_BLOB_NONE && lp != KPC_BLOB_NONE);
	/* Four cases and a default, without jump tables: a compare tree. */
	EXPECT(FN(&b, sw)->nr_branches >= 3);
	/* The loop closes with a backward conditional jump. */
	for (i = 0; i < FN(&b, lp)->nr_branches; i++) {
		const struct kpc_blob_branch *br = BRANCH(&b, FN(&b, lp)->first_branch + i);

		if (br->taken.function == lp && br->taken.offset < br->offset)
			back++;
	}
	EXPECT(back >= 1);
	/* Every branch: in a primary function, successors resolved. */
	for (i = 0; i < b.h->branches.count; i++) {
		const struct kpc_blob_branch *br = BRANCH(&b, i);
		const struct kpc_blob_function *f = FN(&b, br->function);

		EXPECT_EQ(f->flags & KPC_FN_ALIAS, 0);
		EXPECT(i >= f->first_branch && i < f->first_branch + f->nr_branches);
		EXPECT(br->offset < f->size);
		EXPECT(br->taken.function != KPC_BLOB_NONE);
		EXPECT(str(&b, br->mnemonic) && str(&b, br->mnemonic)[0] == 'j');
	}
	kpc_free(b.p);
}

static void test_inlines(void)
{
	uint32_t fi, i;
	int found = 0;
	struct blob b;

	ASSERT(load(&b, "kpc_fixture.ko", NULL, 0) == 0);
	fi = fn_by_source(&b, "kpc_fx_global");
	ASSERT(fi != KPC_BLOB_NONE);
	for (i = 0; i < FN(&b, fi)->nr_inlines; i++) {
		const struct kpc_blob_inline *in = INLINE(&b, FN(&b, fi)->first_inline + i);

		EXPECT_EQ(in->function, fi);
		if (strcmp(str(&b, in->callee), "kpc_fx_helper"))
			continue;
		found++;
		EXPECT_EQ(in->call_line, marker("helper_call"));
		EXPECT_EQ(in->decl_line, marker("helper_decl"));
		EXPECT(is_fixture_file(&b, in->call_file));
		EXPECT(is_fixture_file(&b, in->decl_file));
		EXPECT_EQ(in->depth, 1);
		EXPECT(in->offset < FN(&b, fi)->size);
	}
	EXPECT_EQ(found, 2);	/* helper(x) + helper(x + 1) */
	kpc_free(b.p);
}

static void test_no_debug_info(void)
{
	struct blob b;

	b.p = (uint8_t *)&b;
	EXPECT_EQ(load(&b, "kpc_fixture.nodebug.ko", NULL, 0), -ENODATA);
	EXPECT(b.p == NULL);
	EXPECT(strstr(kpc_last_error(), "CONFIG_DEBUG_INFO") != NULL);
}

static void test_split_debug(void)
{
	struct blob full, split, dbg;
	uint32_t i;

	ASSERT(load(&full, "kpc_fixture.ko", NULL, 0) == 0);
	ASSERT(load(&split, "kpc_fixture.nodebug.ko", "kpc_fixture.debug", 0) == 0);
	EXPECT(split.h->flags & KPC_BLOB_SPLIT_DEBUG);
	EXPECT_EQ(split.h->flags & KPC_BLOB_NO_CODE, 0);
	EXPECT(strstr(str(&split, split.h->debug_path), "kpc_fixture.debug") != NULL);
	EXPECT_STREQ(str(&split, split.h->module_name), "kpc_fixture");
	EXPECT_EQ(split.h->functions.count, full.h->functions.count);
	EXPECT_EQ(split.h->lines.count, full.h->lines.count);
	EXPECT_EQ(split.h->branches.count, full.h->branches.count);
	EXPECT_EQ(split.h->inlines.count, full.h->inlines.count);
	EXPECT_EQ(memcmp(split.h->build_id, full.h->build_id, 20), 0);
	for (i = 0; i < full.h->functions.count && i < split.h->functions.count; i++) {
		EXPECT_STREQ(str(&split, FN(&split, i)->name), str(&full, FN(&full, i)->name));
		EXPECT_EQ(FN(&split, i)->offset, FN(&full, i)->offset);
		EXPECT_EQ(FN(&split, i)->decl_line, FN(&full, i)->decl_line);
	}
	for (i = 0; i < full.h->lines.count && i < split.h->lines.count; i++) {
		EXPECT_EQ(LINE(&split, i)->section_offset, LINE(&full, i)->section_offset);
		EXPECT_EQ(LINE(&split, i)->line, LINE(&full, i)->line);
	}
	for (i = 0; i < full.h->branches.count && i < split.h->branches.count; i++) {
		EXPECT_EQ(BRANCH(&split, i)->taken.line, BRANCH(&full, i)->taken.line);
		EXPECT_EQ(BRANCH(&split, i)->fallthrough.offset, BRANCH(&full, i)->fallthrough.offset);
	}
	/* The debug file alone: functions and lines, no code for branches. */
	ASSERT(load(&dbg, "kpc_fixture.debug", NULL, 0) == 0);
	EXPECT(dbg.h->flags & KPC_BLOB_NO_CODE);
	EXPECT_EQ(dbg.h->branches.count, 0);
	EXPECT_EQ(dbg.h->functions.count, full.h->functions.count);
	EXPECT_EQ(dbg.h->lines.count, full.h->lines.count);
	EXPECT_STREQ(str(&dbg, dbg.h->module_name), "kpc_fixture");
	kpc_free(full.p);
	kpc_free(split.p);
	kpc_free(dbg.p);
}

/* A debug file whose build-id differs is refused. */
static void test_stale_debug(void)
{
	char *src = fixture_path("kpc_fixture.debug"), *dst = fixture_path("stale.debug");
	int in = open(src, O_RDONLY), out = open(dst, O_RDWR | O_CREAT | O_TRUNC, 0644);
	char buf[65536];
	ssize_t n;
	Elf *elf = NULL;
	Elf_Scn *scn = NULL;
	struct blob b;

	ASSERT(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ASSERT(write(out, buf, n) == n);
	elf = elf_begin(out, ELF_C_READ, NULL);
	ASSERT(elf != NULL);
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		unsigned char c;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		/* namesz, descsz, type, "GNU\0", then the id: flip its first byte */
		ASSERT(pread(out, &c, 1, sh.sh_offset + 16) == 1);
		c ^= 0xff;
		ASSERT(pwrite(out, &c, 1, sh.sh_offset + 16) == 1);
		break;
	}
	elf_end(elf);
	close(in);
	close(out);
	EXPECT_EQ(load(&b, "kpc_fixture.nodebug.ko", "stale.debug", 0), -ESTALE);
	free(src);
	free(dst);
}

static void test_bad_args(void)
{
	char *src = fixture_path("kpc_fixture.c");
	uint8_t *blob = NULL;
	size_t len;
	struct blob b;

	EXPECT_EQ(kpc_debuginfo_load(NULL, 0, &blob, &len), -EINVAL);
	EXPECT_EQ(kpc_debuginfo_load(src, 0, NULL, &len), -EINVAL);
	EXPECT_EQ(kpc_debuginfo_load(src, 0, &blob, NULL), -EINVAL);
	EXPECT_EQ(load(&b, "kpc_fixture.ko", NULL, 1U << 31), -EINVAL);
	EXPECT_EQ(kpc_debuginfo_load("/nonexistent/x.ko", 0, &blob, &len), -ENOENT);
	EXPECT(strstr(kpc_last_error(), "/nonexistent/x.ko") != NULL);
	EXPECT_EQ(kpc_debuginfo_load(src, 0, &blob, &len), -ENOEXEC);
	EXPECT(blob == NULL);
	EXPECT_EQ(load(&b, "kpc_fixture.ko", "missing.debug", 0), -ENOENT);
	free(src);
}

static void test_flags(void)
{
	struct blob b;

	ASSERT(load(&b, "kpc_fixture.ko", NULL, KPC_DI_NO_BRANCHES | KPC_DI_NO_INLINES) == 0);
	EXPECT_EQ(b.h->branches.count, 0);
	EXPECT_EQ(b.h->inlines.count, 0);
	EXPECT_EQ(b.h->flags & (KPC_BLOB_HAS_BRANCHES | KPC_BLOB_HAS_INLINES), 0);
	EXPECT(b.h->lines.count > 0);
	kpc_free(b.p);
}

static void test_deterministic(void)
{
	struct blob a, b;

	ASSERT(load(&a, "kpc_fixture.ko", NULL, 0) == 0);
	ASSERT(load(&b, "kpc_fixture.ko", NULL, 0) == 0);
	EXPECT_EQ(a.len, b.len);
	EXPECT(a.len == b.len && !memcmp(a.p, b.p, a.len));
	kpc_free(a.p);
	kpc_free(b.p);
}

/* Not a module: this test program itself (ET_DYN, built with -g). */
static void test_executable(void)
{
	uint32_t fi;
	uint8_t *p;
	size_t len;
	struct blob b;
	const char *decl;

	ASSERT(kpc_debuginfo_load("/proc/self/exe", 0, &p, &len) == 0);
	b.p = p;
	b.len = len;
	b.h = (const struct kpc_blob_header *)p;
	EXPECT(b.h->elf_type == 2 || b.h->elf_type == 3);
	EXPECT_EQ(b.h->flags & KPC_BLOB_REL, 0);
	EXPECT_STREQ(str(&b, b.h->srcversion), "");
	fi = fn_by_name(&b, "main");
	ASSERT(fi != KPC_BLOB_NONE);
	EXPECT(FN(&b, fi)->flags & KPC_FN_GLOBAL);
	decl = file(&b, FN(&b, fi)->decl_file);
	EXPECT(decl && strlen(decl) > 12 && !strcmp(decl + strlen(decl) - 12, "/kpc_tests.c"));
	EXPECT(FN(&b, fi)->decl_line > 0);
	EXPECT(FN(&b, fi)->nr_lines > 0);
	EXPECT(b.h->branches.count > 0);
	kpc_free(p);
}

const struct kpc_test kpc_debuginfo_tests[] = {
	{ "di_load_layout", test_load_layout },
	{ "di_module_identity_and_build_id", test_identity },
	{ "di_functions_with_exact_decl_lines", test_functions },
	{ "di_aliases_and_init_exit_sections", test_aliases_and_sections },
	{ "di_cold_part_and_relocated_jump", test_cold_part },
	{ "di_source_line_maps_into_its_function", test_line_in_function },
	{ "di_ifelse_branch_successor_lines", test_ifelse_branch },
	{ "di_join_after_ifelse_starts_a_block", test_join_starts_a_block },
	{ "di_switch_and_loop_branches", test_switch_and_loop_branches },
	{ "di_inlined_helper_calls", test_inlines },
	{ "di_stripped_module_is_ENODATA", test_no_debug_info },
	{ "di_split_debug_file", test_split_debug },
	{ "di_stale_debug_file_is_ESTALE", test_stale_debug },
	{ "di_bad_arguments", test_bad_args },
	{ "di_flags_skip_branches_inlines", test_flags },
	{ "di_load_is_deterministic", test_deterministic },
	{ "di_executable_file", test_executable },
	{ NULL, NULL },
};
