// SPDX-License-Identifier: GPL-2.0
/*
 * kpc-dump: print the debug-info blob of a .ko or vmlinux as text, or time
 * its loading. A developer's tool and a reference reader of the layout.
 *
 *   kpc-dump [--debug FILE] [--flags N] [--summary] FILE
 *   kpc-dump --time N [--flags N] FILE     load N times, print the timings
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libkprobecov.h"

struct blob {
	const uint8_t *p;
	const struct kpc_blob_header *h;
};

static const char *str(const struct blob *b, uint32_t off)
{
	return (const char *)b->p + b->h->strings.offset + off;
}

static const char *file(const struct blob *b, uint32_t idx)
{
	const __u32 *files = (const __u32 *)(b->p + b->h->files.offset);

	return idx < b->h->files.count ? str(b, files[idx]) : "?";
}

#define ENTRY(b, table, type, i) \
	((const type *)((b)->p + (b)->h->table.offset + (size_t)(i) * (b)->h->table.entry_size))

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void print_succ(const struct blob *b, const char *what, const struct kpc_blob_successor *s)
{
	if (s->function != KPC_BLOB_NONE)
		printf(" %s=%s+%#x", what, str(b, ENTRY(b, functions, struct kpc_blob_function,
							  s->function)->name), s->offset);
	else if (s->section != KPC_BLOB_NONE)
		printf(" %s=%s+%#llx", what, str(b, ENTRY(b, sections, struct kpc_blob_section,
							  s->section)->name),
		       (unsigned long long)s->section_offset);
	else
		printf(" %s=%s", what, *str(b, s->external) ? str(b, s->external) : "?");
	printf("@%u", s->line);
}

static void dump(const struct blob *b, int summary)
{
	const struct kpc_blob_header *h = b->h;
	uint32_t i, j;

	printf("module %s srcversion %s vermagic \"%s\" version %s\n", str(b, h->module_name),
	       str(b, h->srcversion), str(b, h->vermagic), str(b, h->mod_version));
	printf("path %s\ndebug %s\nflags %#x elf_type %u build-id ", str(b, h->path),
	       str(b, h->debug_path), h->flags, h->elf_type);
	for (i = 0; i < h->build_id_size; i++)
		printf("%02x", h->build_id[i]);
	printf("\nsize %llu: strings %u files %u sections %u functions %u lines %u branches %u "
	       "inlines %u kcov sites %u; bad insn bytes %u, functions without DWARF %u\n",
	       (unsigned long long)h->blob_size, h->strings.count, h->files.count,
	       h->sections.count, h->functions.count, h->lines.count, h->branches.count,
	       h->inlines.count, h->kcov_sites.count, h->nr_bad_insns, h->nr_dwarfless);
	if (summary)
		return;
	for (i = 0; i < h->sections.count; i++) {
		const struct kpc_blob_section *s = ENTRY(b, sections, struct kpc_blob_section, i);

		printf("section %u %s [%u] size %#llx flags %#x functions %u\n", i, str(b, s->name),
		       s->elf_index, (unsigned long long)s->size, s->flags, s->nr_functions);
	}
	for (i = 0; i < h->functions.count; i++) {
		const struct kpc_blob_function *f = ENTRY(b, functions, struct kpc_blob_function, i);

		printf("function %u %s (%s) %s+%#llx size %#llx flags %#x decl %s:%u", i,
		       str(b, f->name), str(b, f->source_name),
		       str(b, ENTRY(b, sections, struct kpc_blob_section, f->section)->name),
		       (unsigned long long)f->offset, (unsigned long long)f->size, f->flags,
		       file(b, f->decl_file), f->decl_line);
		if (f->alias_of != KPC_BLOB_NONE)
			printf(" alias_of %u", f->alias_of);
		if (f->parent != KPC_BLOB_NONE)
			printf(" parent %u", f->parent);
		printf("\n");
		for (j = 0; j < f->nr_lines; j++) {
			const struct kpc_blob_line *l =
				ENTRY(b, lines, struct kpc_blob_line, f->first_line + j);

			printf("  line +%#x %s:%u:%u%s\n", l->function_offset, file(b, l->file),
			       l->line, l->column, (l->flags & KPC_LINE_STMT) ? " stmt" : "");
		}
		for (j = 0; j < f->nr_branches; j++) {
			const struct kpc_blob_branch *br =
				ENTRY(b, branches, struct kpc_blob_branch, f->first_branch + j);

			printf("  branch +%#x %s @%u flags %#x", br->offset, str(b, br->mnemonic),
			       br->line, br->flags);
			print_succ(b, "taken", &br->taken);
			print_succ(b, "fallthrough", &br->fallthrough);
			printf("\n");
		}
		for (j = 0; j < f->nr_inlines; j++) {
			const struct kpc_blob_inline *in =
				ENTRY(b, inlines, struct kpc_blob_inline, f->first_inline + j);

			printf("  inline +%#x %s depth %u call %s:%u decl %s:%u\n", in->offset,
			       str(b, in->callee), in->depth, file(b, in->call_file), in->call_line,
			       file(b, in->decl_file), in->decl_line);
		}
	}
	for (i = 0; i < h->kcov_sites.count; i++) {
		static const char *const kinds[] = { "?", "pc", "cmp", "switch", "call" };
		const struct kpc_blob_kcov_site *k = ENTRY(b, kcov_sites, struct kpc_blob_kcov_site, i);

		printf("kcov %s+%#llx %s type %u", str(b, ENTRY(b, sections, struct kpc_blob_section,
								  k->section)->name),
		       (unsigned long long)k->section_offset, kinds[k->kind < 5 ? k->kind : 0],
		       k->cmp_type);
		if (k->function != KPC_BLOB_NONE)
			printf(" %s+%#x", str(b, ENTRY(b, functions, struct kpc_blob_function,
						       k->function)->name), k->offset);
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	const char *debug = NULL, *path = NULL;
	unsigned long flags = 0;
	int i, times = 0, summary = 0, ret;
	struct blob b;
	uint8_t *blob;
	size_t len;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--debug") && i + 1 < argc)
			debug = argv[++i];
		else if (!strcmp(argv[i], "--flags") && i + 1 < argc)
			flags = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--time") && i + 1 < argc)
			times = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--summary"))
			summary = 1;
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else
			path = NULL, i = argc;
	}
	if (!path) {
		fprintf(stderr, "usage: kpc-dump [--debug FILE] [--flags N] [--summary] "
				"[--time N] FILE\n");
		return 2;
	}
	if (times > 0) {
		double best = 1e300, total = 0;

		for (i = 0; i < times; i++) {
			double t0 = now_ms(), t;

			ret = kpc_debuginfo_load_split(path, debug, flags, &blob, &len);
			t = now_ms() - t0;
			if (ret) {
				fprintf(stderr, "%s: %s (%s)\n", path, strerror(-ret), kpc_last_error());
				return 1;
			}
			if (i == times - 1) {
				b.p = blob;
				b.h = (const struct kpc_blob_header *)blob;
				dump(&b, 1);
			}
			kpc_free(blob);
			best = t < best ? t : best;
			total += t;
		}
		printf("load %s flags %#lx: best %.2f ms, mean %.2f ms over %d\n", path, flags, best,
		       total / times, times);
		return 0;
	}
	ret = kpc_debuginfo_load_split(path, debug, flags, &blob, &len);
	if (ret) {
		fprintf(stderr, "%s: %s (%s)\n", path, strerror(-ret), kpc_last_error());
		return 1;
	}
	b.p = blob;
	b.h = (const struct kpc_blob_header *)blob;
	dump(&b, summary);
	kpc_free(blob);
	return 0;
}
