// SPDX-License-Identifier: GPL-2.0
/*
 * Code built for IBT (tests/fixture-ibt/kpc_ibt.c, -fcf-protection=branch):
 * the debug info puts an address-taken label's line and the jumps to it on
 * the label's ENDBR64; the blob names the instruction past it, where the
 * block's probe goes (a kprobe on that ENDBR64 would break an indirect jump
 * to the label under IBT). A function's entry keeps its ENDBR64 (kprobes moves
 * an entry probe itself). The code bytes are read from the .ko with libelf.
 */
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <unistd.h>

#include "kpc_test.h"

static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

struct ibt {
	uint8_t *p;
	size_t len;
	const struct kpc_blob_header *h;
	char path[512];
	char source[512];
	Elf_Data *text;		/* the bytes of the section of kpc_ibt_labels */
	Elf *elf;
	int fd;
};

#define ENTRY(b, table, type, i) \
	((const type *)((b)->p + (b)->h->table.offset + (size_t)(i) * (b)->h->table.entry_size))
#define FN(b, i) ENTRY(b, functions, struct kpc_blob_function, i)
#define LINE(b, i) ENTRY(b, lines, struct kpc_blob_line, i)
#define BRANCH(b, i) ENTRY(b, branches, struct kpc_blob_branch, i)
#define SEC(b, i) ENTRY(b, sections, struct kpc_blob_section, i)
#define BLOCK_START(b, i) ENTRY(b, block_starts, struct kpc_blob_block_start, i)

static uint32_t fn_named(const struct ibt *b, const char *name)
{
	uint32_t i;

	for (i = 0; i < b->h->functions.count; i++)
		if (!strcmp((const char *)b->p + b->h->strings.offset + FN(b, i)->name, name))
			return i;
	return KPC_BLOB_NONE;
}

/* Whether the 4 bytes at section offset off are an ENDBR64. */
static int is_endbr(const struct ibt *b, uint64_t off)
{
	return off + sizeof(endbr64) <= b->text->d_size &&
	       !memcmp((const uint8_t *)b->text->d_buf + off, endbr64, sizeof(endbr64));
}

static int ibt_open(struct ibt *b, uint32_t *fi)
{
	Elf_Scn *scn;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	if (!kpc_t_ibt_fixture_dir) {
		printf("#   no IBT fixture directory given\n");
		return -1;
	}
	snprintf(b->path, sizeof(b->path), "%s/kpc_ibt.ko", kpc_t_ibt_fixture_dir);
	snprintf(b->source, sizeof(b->source), "%s/kpc_ibt.c", kpc_t_ibt_fixture_dir);
	if (kpc_debuginfo_load(b->path, 0, &b->p, &b->len)) {
		printf("#   loading %s: %s\n", b->path, kpc_last_error());
		return -1;
	}
	b->h = (const struct kpc_blob_header *)b->p;
	*fi = fn_named(b, "kpc_ibt_labels");
	if (*fi == KPC_BLOB_NONE)
		return -1;
	elf_version(EV_CURRENT);
	b->fd = open(b->path, O_RDONLY);
	b->elf = b->fd >= 0 ? elf_begin(b->fd, ELF_C_READ, NULL) : NULL;
	scn = b->elf ? elf_getscn(b->elf, SEC(b, FN(b, *fi)->section)->elf_index) : NULL;
	b->text = scn ? elf_getdata(scn, NULL) : NULL;
	return b->text ? 0 : -1;
}

static void ibt_close(struct ibt *b)
{
	if (b->elf)
		elf_end(b->elf);
	if (b->fd >= 0)
		close(b->fd);
	kpc_free(b->p);
}

/* The jump on `if (x > 0)`: its arms are the labels pos and neg, past their ENDBR64. */
static void test_arms_past_endbr(void)
{
	struct ibt b;
	uint32_t fi, i, pos = 0, neg = 0;
	unsigned int pos_l, neg_l;
	int found = 0;

	if (ibt_open(&b, &fi)) {
		KPC_FAIL("cannot read the IBT fixture");
		ibt_close(&b);
		return;
	}
	pos_l = kpc_t_marker_in(b.source, "labels_pos");
	neg_l = kpc_t_marker_in(b.source, "labels_neg");
	for (i = 0; i < FN(&b, fi)->nr_branches; i++) {
		const struct kpc_blob_branch *br = BRANCH(&b, FN(&b, fi)->first_branch + i);

		if (br->line != kpc_t_marker_in(b.source, "labels_cond"))
			continue;
		found++;
		/* jle: taken when x <= 0 (neg), falls through into pos. */
		EXPECT_EQ(br->taken.line, neg_l);
		EXPECT_EQ(br->fallthrough.line, pos_l);
		pos = br->fallthrough.offset;
		neg = br->taken.offset;
		EXPECT_EQ(br->taken.section_offset, FN(&b, fi)->offset + neg);
		EXPECT_EQ(br->fallthrough.section_offset, FN(&b, fi)->offset + pos);
		/* The fall-through is the jump's next instruction (jle rel8 or rel32) past the
		 * label's ENDBR64. */
		EXPECT(pos == br->offset + 2 + sizeof(endbr64) || pos == br->offset + 6 + sizeof(endbr64));
	}
	EXPECT_EQ(found, 1);
	/* Each arm is the instruction right after an ENDBR64, and not one itself. */
	EXPECT(is_endbr(&b, FN(&b, fi)->offset + pos - sizeof(endbr64)));
	EXPECT(is_endbr(&b, FN(&b, fi)->offset + neg - sizeof(endbr64)));
	EXPECT(!is_endbr(&b, FN(&b, fi)->offset + pos));
	EXPECT(!is_endbr(&b, FN(&b, fi)->offset + neg));
	/* Each label's line starts at its arm: its first row is there, none on the ENDBR64. */
	for (i = 0; i < FN(&b, fi)->nr_lines; i++) {
		const struct kpc_blob_line *l = LINE(&b, FN(&b, fi)->first_line + i);

		EXPECT(!is_endbr(&b, l->section_offset));
		if (l->line == pos_l && pos) {
			EXPECT_EQ(l->function_offset, pos);
			pos = 0;
		}
		if (l->line == neg_l && neg) {
			EXPECT_EQ(l->function_offset, neg);
			neg = 0;
		}
	}
	EXPECT_EQ(pos, 0);
	EXPECT_EQ(neg, 0);
	ibt_close(&b);
}

/* No block start of the function is on an ENDBR64 (the code after each `jmp` ends at a label). */
static void test_block_starts_past_endbr(void)
{
	struct ibt b;
	uint32_t fi, i, after = 0;

	if (ibt_open(&b, &fi)) {
		KPC_FAIL("cannot read the IBT fixture");
		ibt_close(&b);
		return;
	}
	for (i = 0; i < b.h->block_starts.count; i++) {
		const struct kpc_blob_block_start *bs = BLOCK_START(&b, i);

		if (bs->function != fi)
			continue;
		EXPECT(!is_endbr(&b, FN(&b, fi)->offset + bs->offset));
		if (is_endbr(&b, FN(&b, fi)->offset + bs->offset - sizeof(endbr64)))
			after++;
	}
	/* The pos arm ends in a return (a jmp to the return thunk): neg's start follows it. */
	EXPECT(after >= 1);
	ibt_close(&b);
}

/* A global function's entry ENDBR64 stays its entry: rows and probes at offset 0. */
static void test_entry_keeps_endbr(void)
{
	struct ibt b;
	uint32_t fi, entry;

	if (ibt_open(&b, &fi)) {
		KPC_FAIL("cannot read the IBT fixture");
		ibt_close(&b);
		return;
	}
	entry = fn_named(&b, "kpc_ibt_entry");
	EXPECT(entry != KPC_BLOB_NONE);
	if (entry != KPC_BLOB_NONE) {
		EXPECT(is_endbr(&b, FN(&b, entry)->offset));
		EXPECT(FN(&b, entry)->nr_lines > 0);
		EXPECT_EQ(LINE(&b, FN(&b, entry)->first_line)->function_offset, 0);
		EXPECT_EQ(LINE(&b, FN(&b, entry)->first_line)->line,
			  kpc_t_marker_in(b.source, "entry_decl") + 1);
	}
	ibt_close(&b);
}

const struct kpc_test kpc_endbr_tests[] = {
	{ "endbr_branch_arms_past_the_labels_endbr64", test_arms_past_endbr },
	{ "endbr_no_block_start_on_an_endbr64", test_block_starts_past_endbr },
	{ "endbr_function_entry_keeps_its_endbr64", test_entry_keeps_endbr },
	{ NULL, NULL },
};
