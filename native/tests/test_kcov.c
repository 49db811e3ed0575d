// SPDX-License-Identifier: GPL-2.0
/*
 * KCOV part: the callback call sites found in the fixture built with
 * KCOV's instrumentation (KCOV_FIXTURE_DIR), checked against its
 * relocations and its source markers; the argument checks of the kpc_kcov_*
 * functions; and, where the kernel has KCOV (the debug kernel's guest),
 * tracing this process's own threads. Without KCOV the last ones say so in
 * a comment and pass.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kpc_test.h"

struct blob {
	uint8_t *p;
	size_t len;
	const struct kpc_blob_header *h;
};

#define ENTRY(b, table, type, i) \
	((const type *)((b)->p + (b)->h->table.offset + (size_t)(i) * (b)->h->table.entry_size))
#define FN(b, i) ENTRY(b, functions, struct kpc_blob_function, i)
#define LINE(b, i) ENTRY(b, lines, struct kpc_blob_line, i)
#define SEC(b, i) ENTRY(b, sections, struct kpc_blob_section, i)
#define SITE(b, i) ENTRY(b, kcov_sites, struct kpc_blob_kcov_site, i)

static const char *str(const struct blob *b, uint32_t off)
{
	return (const char *)b->p + b->h->strings.offset + off;
}

static char *kcov_fixture(void)
{
	const char *dir = kpc_t_kcov_fixture_dir;
	size_t n;
	char *p;

	if (!dir)
		return NULL;
	n = strlen(dir) + sizeof("/kpc_fixture.ko");
	p = malloc(n);
	if (p)
		snprintf(p, n, "%s/kpc_fixture.ko", dir);
	return p;
}

static int load_kcov_fixture(struct blob *b, uint32_t flags)
{
	char *path = kcov_fixture();
	int ret;

	if (!path) {
		printf("#   no KCOV fixture directory given (kpc-tests ... KCOV_FIXTURE_DIR)\n");
		return -EINVAL;
	}
	ret = kpc_debuginfo_load(path, flags, &b->p, &b->len);
	free(path);
	b->h = (const struct kpc_blob_header *)b->p;
	if (ret)
		printf("#   loading the KCOV fixture: %s\n", kpc_last_error());
	return ret;
}

/* The call sites as the relocations tell them: (section name, return address). */
struct reloc_site {
	char section[64];
	uint64_t ret_off;
	int cmp;
};

static int relocation_sites(struct reloc_site *out, int max)
{
	char *path = kcov_fixture();
	int fd = path ? open(path, O_RDONLY) : -1, n = 0;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *elf;

	free(path);
	if (fd < 0)
		return -1;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_getshdrstrndx(elf, &shstrndx)) {
		close(fd);
		return -1;
	}
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh, target, symsh;
		Elf_Data *data, *syms;
		Elf_Scn *symscn;
		size_t i;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA ||
		    !gelf_getshdr(elf_getscn(elf, sh.sh_info), &target) ||
		    !(target.sh_flags & SHF_EXECINSTR))
			continue;
		data = elf_getdata(scn, NULL);
		symscn = elf_getscn(elf, sh.sh_link);
		gelf_getshdr(symscn, &symsh);
		syms = elf_getdata(symscn, NULL);
		for (i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Rela r;
			GElf_Sym sym;
			const char *name;

			gelf_getrela(data, i, &r);
			gelf_getsym(syms, GELF_R_SYM(r.r_info), &sym);
			name = elf_strptr(elf, symsh.sh_link, sym.st_name);
			if (!name || strncmp(name, "__sanitizer_cov_trace_", 22) || n == max)
				continue;
			snprintf(out[n].section, sizeof(out[n].section), "%s",
				 elf_strptr(elf, shstrndx, target.sh_name));
			out[n].ret_off = r.r_offset + 4;
			out[n].cmp = strstr(name, "cmp") != NULL;
			n++;
		}
	}
	elf_end(elf);
	close(fd);
	return n;
}

/* Every call of a KCOV callback is a site, at its return address, of the right kind. */
static void test_sites_are_the_callback_calls(void)
{
	struct reloc_site want[512];
	struct blob b;
	int n, i, pcs = 0;
	uint32_t k, calls = 0;

	ASSERT(load_kcov_fixture(&b, 0) == 0);
	n = relocation_sites(want, 512);
	ASSERT(n > 10);
	for (k = 0; k < b.h->kcov_sites.count; k++)
		calls += SITE(&b, k)->kind == KPC_KCOV_SITE_CALL;
	EXPECT(calls > 0);
	EXPECT_EQ(b.h->kcov_sites.count - calls, n);
	EXPECT_EQ(b.h->kcov_sites.entry_size, sizeof(struct kpc_blob_kcov_site));
	for (i = 0; i < n; i++) {
		int found = 0;

		for (k = 0; k < b.h->kcov_sites.count && !found; k++) {
			const struct kpc_blob_kcov_site *s = SITE(&b, k);

			if (s->section_offset != want[i].ret_off ||
			    strcmp(str(&b, SEC(&b, s->section)->name), want[i].section))
				continue;
			found = 1;
			EXPECT_EQ(s->kind == KPC_KCOV_SITE_CMP, want[i].cmp);
		}
		if (!found)
			KPC_FAIL("no site at %s+%#llx", want[i].section,
				 (unsigned long long)want[i].ret_off);
	}
	for (k = 0; k < b.h->kcov_sites.count; k++) {
		const struct kpc_blob_kcov_site *s = SITE(&b, k);
		const struct kpc_blob_function *f;

		pcs += s->kind == KPC_KCOV_SITE_PC;
		if (k)
			EXPECT(SITE(&b, k - 1)->section < s->section ||
			       (SITE(&b, k - 1)->section == s->section &&
				SITE(&b, k - 1)->section_offset < s->section_offset));
		ASSERT(s->function != KPC_BLOB_NONE);
		f = FN(&b, s->function);
		/* The call is inside its function: return address - 5 .. - 1. */
		EXPECT_EQ(s->section, f->section);
		EXPECT_EQ(s->section_offset, f->offset + s->offset);
		EXPECT(s->offset >= 5 && s->offset <= f->size);
		EXPECT(s->kind >= KPC_KCOV_SITE_PC && s->kind <= KPC_KCOV_SITE_CALL);
		if (s->kind == KPC_KCOV_SITE_CMP)
			EXPECT((s->cmp_type >> 1) <= 3);
		else
			EXPECT_EQ(s->cmp_type, 0);
	}
	EXPECT(pcs > 10);
	kpc_free(b.p);
}

/* The line a PC stands for: the row in effect at the call (return address - 1). */
static unsigned int site_line(const struct blob *b, const struct kpc_blob_kcov_site *s)
{
	const struct kpc_blob_function *f = FN(b, s->function);
	unsigned int line = 0;
	uint32_t j;

	for (j = 0; j < f->nr_lines; j++) {
		const struct kpc_blob_line *l = LINE(b, f->first_line + j);

		if (l->function_offset > s->offset - 1)
			break;
		if (l->line)
			line = l->line;
	}
	return line;
}

static uint32_t fn_named(const struct blob *b, const char *name)
{
	uint32_t i;

	for (i = 0; i < b->h->functions.count; i++)
		if (!strcmp(str(b, FN(b, i)->name), name))
			return i;
	return KPC_BLOB_NONE;
}

/*
 * Each basic block of the if/else has a trace_pc call, and the call's line
 * is the block's: the then-, else- and join-lines each have one; the
 * condition has a comparison (x & 1 against the constant 0: const, 4 bytes).
 */
static void test_site_lines_are_their_blocks(void)
{
	unsigned int decl = kpc_t_marker("ifelse_decl"), cond = kpc_t_marker("ifelse_cond");
	unsigned int then = kpc_t_marker("ifelse_then"), els = kpc_t_marker("ifelse_else");
	unsigned int join = kpc_t_marker("ifelse_join");
	int seen_then = 0, seen_else = 0, seen_join = 0, seen_cmp = 0, seen_switch = 0;
	uint32_t fi, sw, k;
	struct blob b;

	ASSERT(load_kcov_fixture(&b, 0) == 0);
	fi = fn_named(&b, "kpc_fx_ifelse");
	sw = fn_named(&b, "kpc_fx_switch");
	ASSERT(fi != KPC_BLOB_NONE && sw != KPC_BLOB_NONE && decl && join);
	for (k = 0; k < b.h->kcov_sites.count; k++) {
		const struct kpc_blob_kcov_site *s = SITE(&b, k);
		unsigned int line;

		if (s->function == sw && s->kind == KPC_KCOV_SITE_SWITCH)
			seen_switch = 1;
		if (s->function != fi || s->kind == KPC_KCOV_SITE_CALL)
			continue;
		line = site_line(&b, s);
		EXPECT(line >= decl && line <= join + 1);
		if (s->kind == KPC_KCOV_SITE_CMP) {
			EXPECT_EQ(line, cond);
			EXPECT_EQ(s->cmp_type, 5);	/* KCOV_CMP_SIZE(2) | KCOV_CMP_CONST */
			seen_cmp = 1;
			continue;
		}
		seen_then |= line == then;
		seen_else |= line == els;
		seen_join |= line == join;
	}
	EXPECT(seen_then);
	EXPECT(seen_else);
	EXPECT(seen_join);
	EXPECT(seen_cmp);
	EXPECT(seen_switch);
	kpc_free(b.p);
}

/* No instrumentation, or no branch discovery: no sites. */
static void test_no_sites_without_kcov(void)
{
	size_t n = strlen(kpc_t_fixture_dir) + sizeof("/kpc_fixture.ko");
	char *path = malloc(n);
	struct blob b;

	ASSERT(path);
	snprintf(path, n, "%s/kpc_fixture.ko", kpc_t_fixture_dir);
	ASSERT(kpc_debuginfo_load(path, 0, &b.p, &b.len) == 0);
	free(path);
	b.h = (const struct kpc_blob_header *)b.p;
	EXPECT_EQ(b.h->kcov_sites.count, 0);
	kpc_free(b.p);
	ASSERT(load_kcov_fixture(&b, KPC_DI_NO_BRANCHES) == 0);
	EXPECT_EQ(b.h->kcov_sites.count, 0);
	kpc_free(b.p);
}

/* What is checked before any ioctl. */
static void test_kcov_bad_args(void)
{
	struct kpc_kcov_set *s = NULL;
	int fd = open("/dev/null", O_RDWR);
	void *area;

	ASSERT(fd >= 0);
	EXPECT_EQ(kpc_kcov_open("/nonexistent/kcov"), -ENOENT);
	EXPECT_EQ(kpc_kcov_init(-1, 8), -EBADF);
	EXPECT_EQ(kpc_kcov_init(fd, 1), -EINVAL);
	EXPECT_EQ(kpc_kcov_map(fd, 8, NULL), -EINVAL);
	EXPECT_EQ(kpc_kcov_map(-1, 8, &area), -EBADF);
	EXPECT_EQ(kpc_kcov_enable(fd, 7), -EINVAL);
	EXPECT_EQ(kpc_kcov_enable(-1, KPC_KCOV_TRACE_PC), -EBADF);
	EXPECT_EQ(kpc_kcov_disable(-1), -EBADF);
	/* /dev/null is not KCOV: the kernel says so. */
	EXPECT_EQ(kpc_kcov_init(fd, 8), -ENOTTY);
	EXPECT_EQ(kpc_kcov_set_new(NULL, 2, &s), -EINVAL);
	EXPECT_EQ(kpc_kcov_set_new("/nonexistent/kcov", KPC_KCOV_TRACE_PC, &s), -ENOENT);
	EXPECT(s == NULL);
	EXPECT_EQ(kpc_kcov_set_enable(NULL, 8), -EINVAL);
	EXPECT_EQ(kpc_kcov_set_drain(NULL, NULL, 0, NULL), -EINVAL);
	EXPECT_EQ(kpc_kcov_set_take_pcs(NULL, NULL, NULL, 0), -EINVAL);
	EXPECT_EQ(kpc_kcov_set_info(NULL, NULL, NULL), -EINVAL);
	kpc_kcov_set_free(NULL);
	close(fd);
}

/* The drainer thread starts, takes new ranges, stops; free stops it too. */
static void test_drainer_lifecycle(void)
{
	static const uint64_t r[4] = { 1, 10, 20, 30 };
	struct kpc_kcov_set *s;
	struct kpc_kcov_stats st;

	/* /dev/null opens: a set of no buffer, enough to drive the thread. */
	ASSERT(kpc_kcov_set_new("/dev/null", KPC_KCOV_TRACE_PC, &s) == 0);
	EXPECT_EQ(kpc_kcov_set_drainer(s, r, KPC_KCOV_DRAINER_RANGES + 1, 5), -EINVAL);
	EXPECT_EQ(kpc_kcov_set_drainer(s, r, 2, 1), 0);
	usleep(20000);
	EXPECT_EQ(kpc_kcov_set_drainer(s, r, 1, 2), 0);
	EXPECT_EQ(kpc_kcov_set_drainer(s, NULL, 0, 0), 0);
	EXPECT_EQ(kpc_kcov_set_drain(s, r, 1, &st), 0);
	EXPECT_EQ(st.records, 0);
	EXPECT_EQ(kpc_kcov_set_drainer(s, r, 1, 1), 0);
	kpc_kcov_set_free(s);
}

/* ------------------------------------------------------------------------
 * On a kernel with KCOV
 * ------------------------------------------------------------------------ */

static int have_kcov(void)
{
	int fd = kpc_kcov_open(NULL);

	if (fd < 0) {
		printf("#   no KCOV here (%s): checked in the debug kernel's guest\n", strerror(-fd));
		return 0;
	}
	close(fd);
	return 1;
}

static const uint64_t every_pc[2] = { 1, UINT64_MAX };

/* The calling thread is traced: a system call leaves PCs; a drain restarts the buffer. */
static void test_kcov_traces_the_thread(void)
{
	struct kpc_kcov_set *s;
	struct kpc_kcov_stats st;
	uint64_t pcs[4096], counts[4096], on, threads;
	int64_t n;

	if (!have_kcov())
		return;
	ASSERT(kpc_kcov_set_new(NULL, KPC_KCOV_TRACE_PC, &s) == 0);
	ASSERT(kpc_kcov_set_enable(s, 1 << 16) == 0);
	/* Enabling again from the same thread gives the same buffer. */
	EXPECT_EQ(kpc_kcov_set_enable(s, 1 << 16), 0);
	syscall(SYS_getppid);
	n = kpc_kcov_set_drain(s, every_pc, 1, &st);
	EXPECT(n > 0);
	EXPECT_EQ(st.threads, 1);
	EXPECT(st.records >= (uint64_t)n);
	EXPECT_EQ(st.in_ranges, st.records);
	EXPECT_EQ(st.overflows, 0);
	/* No range: nothing is kept. */
	kpc_kcov_set_drain(s, NULL, 0, &st);
	EXPECT_EQ(st.in_ranges, 0);
	n = kpc_kcov_set_take_pcs(s, pcs, counts, 4096);
	EXPECT(n > 0);
	if (n > 1)
		EXPECT(pcs[0] < pcs[1]);
	EXPECT(counts[0] >= 1);
	EXPECT_EQ(kpc_kcov_set_take_pcs(s, pcs, counts, 4096), 0);
	EXPECT_EQ(kpc_kcov_set_disable(s), 0);
	EXPECT_EQ(kpc_kcov_set_disable(s), -ENOENT);
	kpc_kcov_set_info(s, &on, &threads);
	EXPECT_EQ(on, 0);
	EXPECT_EQ(threads, 1);
	kpc_kcov_set_free(s);
}

/* A full buffer is told: an overflow. */
static void test_kcov_overflow_is_told(void)
{
	struct kpc_kcov_set *s;
	struct kpc_kcov_stats st;
	int i;

	if (!have_kcov())
		return;
	ASSERT(kpc_kcov_set_new(NULL, KPC_KCOV_TRACE_PC, &s) == 0);
	/* 4 words become one page: 511 records. */
	ASSERT(kpc_kcov_set_enable(s, 4) == 0);
	for (i = 0; i < 200; i++)
		syscall(SYS_getppid);
	kpc_kcov_set_drain(s, every_pc, 1, &st);
	EXPECT_EQ(st.max_fill, sysconf(_SC_PAGESIZE) / 8 - 1);
	EXPECT_EQ(st.overflows, 1);
	kpc_kcov_set_free(s);
}

/* One turn of the drainer test's loop: a system call, then a sleep of 3 ms. */
static void drainer_turn(void)
{
	syscall(SYS_getppid);
	usleep(3000);
}

#define GETPPID_MAX 256

/* The table's PCs with count 1 (all: want NULL), or those of want[0..n) it lacks are dropped. */
static uint32_t once_pcs(struct kpc_kcov_set *s, uint64_t *pcs, uint32_t n, int first)
{
	static uint64_t got[1 << 14], counts[1 << 14];
	int64_t m = kpc_kcov_set_take_pcs(s, got, counts, 1 << 14);
	uint32_t out = 0, i;
	int64_t k;

	if (m < 0)
		return 0;
	if (first) {
		for (k = 0; k < m && out < GETPPID_MAX; k++)
			if (counts[k] == 1)
				pcs[out++] = got[k];
		return out;
	}
	for (i = 0; i < n; i++)
		for (k = 0; k < m; k++)
			if (got[k] == pcs[i] && counts[k] == 1) {
				pcs[out++] = pcs[i];
				break;
			}
	return out;
}

/*
 * PCs that one getppid() records exactly once and that 3 ms of usleep()
 * never records: their count is the number of getppid() calls.
 */
static uint32_t getppid_pcs(uint64_t *pcs)
{
	static uint64_t got[1 << 14], counts[1 << 14];
	struct kpc_kcov_set *s;
	struct kpc_kcov_stats st;
	uint32_t n = 0, out = 0, i;
	int64_t m, k;
	int round;

	if (kpc_kcov_set_new(NULL, KPC_KCOV_TRACE_PC, &s) || kpc_kcov_set_enable(s, 1 << 16) < 0)
		return 0;
	for (round = 0; round < 3; round++) {
		syscall(SYS_getppid);
		kpc_kcov_set_drain(s, every_pc, 1, &st);
		n = once_pcs(s, pcs, n, round == 0);
	}
	for (round = 0; round < 3; round++) {
		usleep(3000);
		kpc_kcov_set_drain(s, every_pc, 1, &st);
	}
	m = kpc_kcov_set_take_pcs(s, got, counts, 1 << 14);
	for (i = 0; i < n; i++) {
		for (k = 0; k < m && got[k] != pcs[i]; k++)
			;
		if (k == m)
			pcs[out++] = pcs[i];
	}
	kpc_kcov_set_free(s);
	return out;
}

/*
 * The drainer empties a thread's buffer while the thread runs: the thread
 * writes about four times the buffer's size, and more than twice its size is
 * read (without the drainer at most the buffer's size could be). The buffer
 * holds 16 turns of the loop (what one turn writes is measured first: it
 * depends on the kernel's configuration). No record is read twice: the
 * PCs of getppid() count at most the 64 calls, and exactly 64 unless the
 * buffer was found full, although the kernel writes a record's count before
 * its PC and may undo a drain's reset (see native/src/kcov.c). A drainer
 * thread that is not scheduled for 16 turns (once in a debug-kernel run
 * under TCG: 7 turns lost) fills the buffer: that is reported, not failed.
 */
static void test_kcov_drainer_keeps_up(void)
{
	const uint64_t page_words = sysconf(_SC_PAGESIZE) / 8;
	static uint64_t pcs[1 << 14], counts[1 << 14], once[GETPPID_MAX];
	struct kpc_kcov_set *s;
	struct kpc_kcov_stats st;
	uint64_t turn = 0, words;
	uint32_t nonce, i, exact = 0;
	int64_t n, k;

	if (!have_kcov())
		return;
	nonce = getppid_pcs(once);
	ASSERT(nonce > 0);
	ASSERT(kpc_kcov_set_new(NULL, KPC_KCOV_TRACE_PC, &s) == 0);
	ASSERT(kpc_kcov_set_enable(s, 64 * page_words) == 0);
	for (i = 0; i < 3; i++) {
		drainer_turn();
		kpc_kcov_set_drain(s, every_pc, 1, &st);
		ASSERT(st.overflows == 0);
		if (st.records > turn)
			turn = st.records;
	}
	kpc_kcov_set_free(s);
	ASSERT(turn > 0);
	words = 16 * turn + 1;
	if (words < page_words)
		words = page_words;

	ASSERT(kpc_kcov_set_new(NULL, KPC_KCOV_TRACE_PC, &s) == 0);
	ASSERT(kpc_kcov_set_enable(s, words) == 0);
	ASSERT(kpc_kcov_set_drainer(s, every_pc, 1, 1) == 0);
	for (i = 0; i < 64; i++)
		drainer_turn();
	kpc_kcov_set_drainer(s, NULL, 0, 0);
	kpc_kcov_set_drain(s, every_pc, 1, &st);
	printf("#   one turn: %llu records; buffer: %llu words; read: %llu records; found full: %llu; getppid PCs: %u\n",
	       (unsigned long long)turn, (unsigned long long)words, (unsigned long long)st.records,
	       (unsigned long long)st.overflows, nonce);
	EXPECT(st.records > 2 * words);
	n = kpc_kcov_set_take_pcs(s, pcs, counts, 1 << 14);
	ASSERT(n > 0);
	for (i = 0; i < nonce; i++)
		for (k = 0; k < n; k++)
			if (pcs[k] == once[i]) {
				if (counts[k] != 64)
					printf("#   PC 0x%llx: %llu times for 64 getppid()\n",
					       (unsigned long long)pcs[k], (unsigned long long)counts[k]);
				EXPECT(counts[k] <= 64);	/* never read twice */
				exact += counts[k] == 64;
				break;
			}
	/* A drainer that did not run for 16 turns (seen once under TCG) loses records, said so. */
	if (!st.overflows)
		EXPECT_EQ(exact, nonce);
	kpc_kcov_set_free(s);
}

struct pool_arg {
	struct kpc_kcov_set *s;
	int ret;
	pid_t tid;
};

static void *pool_thread(void *p)
{
	struct pool_arg *a = p;

	a->ret = kpc_kcov_set_enable_barrier(a->s, 1 << 14, 4, 5000);
	a->tid = gettid();
	syscall(SYS_getppid);
	return NULL;
}

/* Four threads entering the barrier get four buffers; their records are drained together. */
static void test_kcov_barrier_enables_each_thread(void)
{
	struct pool_arg args[4];
	pthread_t th[4];
	struct kpc_kcov_set *s;
	struct kpc_kcov_stats st;
	uint64_t on, threads;
	int i;

	if (!have_kcov())
		return;
	ASSERT(kpc_kcov_set_new(NULL, KPC_KCOV_TRACE_PC, &s) == 0);
	for (i = 0; i < 4; i++) {
		args[i].s = s;
		pthread_create(&th[i], NULL, pool_thread, &args[i]);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 4; i++)
		EXPECT(args[i].ret >= 0 && args[i].ret < 4);
	kpc_kcov_set_info(s, &on, &threads);
	EXPECT_EQ(threads, 4);
	/* The threads have exited: the kernel disabled their KCOV, their buffers remain. */
	EXPECT(kpc_kcov_set_drain(s, every_pc, 1, &st) > 0);
	EXPECT_EQ(st.threads, 4);
	kpc_kcov_set_free(s);
}

/* Comparison operands: a system call compares something. */
static void test_kcov_comparisons(void)
{
	struct kpc_kcov_set *s;
	struct kpc_kcov_cmp *out;
	int64_t n;
	int ret;

	if (!have_kcov())
		return;
	ASSERT(kpc_kcov_set_new(NULL, KPC_KCOV_TRACE_CMP, &s) == 0);
	ret = kpc_kcov_set_enable(s, 1 << 16);
	if (ret == -524) {
		printf("#   this kernel has KCOV without CONFIG_KCOV_ENABLE_COMPARISONS\n");
		kpc_kcov_set_free(s);
		return;
	}
	ASSERT(ret == 0);
	syscall(SYS_getppid);
	close(-1);
	n = kpc_kcov_set_drain(s, every_pc, 1, NULL);
	EXPECT(n > 0);
	out = calloc(n > 0 ? n : 1, sizeof(*out));
	ASSERT(out);
	EXPECT_EQ(kpc_kcov_set_take_pcs(s, NULL, NULL, 0), -EINVAL);
	EXPECT_EQ(kpc_kcov_set_take_cmps(s, out, n), n);
	if (n > 0)
		EXPECT((out[0].type >> 1) <= 3 && out[0].count >= 1 && out[0].pc);
	free(out);
	kpc_kcov_set_free(s);
}

const struct kpc_test kpc_kcov_tests[] = {
	{ "kcov_sites_are_the_callback_calls", test_sites_are_the_callback_calls },
	{ "kcov_site_lines_are_their_blocks", test_site_lines_are_their_blocks },
	{ "kcov_no_sites_without_instrumentation", test_no_sites_without_kcov },
	{ "kcov_bad_arguments", test_kcov_bad_args },
	{ "kcov_drainer_starts_and_stops", test_drainer_lifecycle },
	{ "kcov_traces_the_calling_thread", test_kcov_traces_the_thread },
	{ "kcov_overflow_is_told", test_kcov_overflow_is_told },
	{ "kcov_drainer_keeps_up", test_kcov_drainer_keeps_up },
	{ "kcov_barrier_enables_each_thread", test_kcov_barrier_enables_each_thread },
	{ "kcov_comparison_operands", test_kcov_comparisons },
	{ NULL, NULL },
};
