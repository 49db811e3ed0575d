// SPDX-License-Identifier: GPL-2.0
/*
 * kpc_fidelity: the fidelity corpus, code shapes that optimising compilers rearrange,
 * one function per case. Built twice against the debug kernel: with GCOV_PROFILE (gcov's
 * line counts are the truth) and as a user builds it (what kprobecov measures). Writing
 * "<case> <a> <b>" to /dev/kpc_fidelity runs that case's function with a and b ("elseif"
 * takes the rest of the line as its text).
 */
#include <linux/bug.h>
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include "fidelity_inline.h"
#include "fidelity_os.h"

static int fid_sink;
static int fid_init_value;

static noinline int fid_twice(int a)
{
	return 2 * a + fid_sink;
}

static noinline int fid_thrice(int a)
{
	return 3 * a - fid_sink;
}

/* elseif: an if/else-if chain that assigns one variable, stored once after the calls. */
static noinline int fid_elseif(const char *s)
{
	int a, v;

	if (sscanf(s, "x %d", &a) == 1)
		v = fid_twice(a);
	else if (sscanf(s, "y %d", &a) == 1)
		v = fid_thrice(a);
	else if (sscanf(s, "z %d", &a) == 1)
		v = -a;
	else
		v = 0;
	fid_sink = v;
	return v;
}

#define FID_LIMIT 100

/* clamp: a clamp before the return; the common path returns through the closing brace. */
static noinline int fid_clamp(int a, int b)
{
	int r = a + b;

	if (r > FID_LIMIT) {
		fid_sink++;
		r = FID_LIMIT;
	}
	return r;
}

/* early: early returns. */
static noinline int fid_early(int a)
{
	if (a < 0)
		return -EINVAL;
	if (a == 0)
		return 0;
	fid_sink += a;
	return a * 2;
}

/* switch_dense: consecutive cases (a jump table, where the kernel allows them). */
static noinline int fid_switch_dense(int a)
{
	int r;

	switch (a) {
	case 0:
		r = 11;
		break;
	case 1:
		r = 23;
		break;
	case 2:
		r = 37;
		break;
	case 3:
		r = 41;
		break;
	case 4:
		r = 53;
		break;
	case 5:
		r = 67;
		break;
	default:
		r = -1;
		break;
	}
	fid_sink += r;
	return r;
}

/* switch_sparse: far-apart cases (a tree of compares). */
static noinline int fid_switch_sparse(int a)
{
	switch (a) {
	case 3:
		return fid_twice(a);
	case 400:
		return fid_thrice(a);
	case 50000:
		return -a;
	case 6000000:
		fid_sink = a;
		return 1;
	default:
		return 0;
	}
}

/* loop: continue and break. */
static noinline int fid_loop(int n, int stop)
{
	int i, s = 0;

	for (i = 0; i < n; i++) {
		if (i % 3 == 0)
			continue;
		if (s > stop)
			break;
		s += i;
	}
	return s;
}

/* goto: an error ladder; fail_at says which step fails. */
static noinline int fid_goto(int fail_at)
{
	void *a, *b, *c;
	int ret = -ENOMEM;

	a = kmalloc(16, GFP_KERNEL);
	if (!a)
		goto out;
	if (fail_at == 1)
		goto free_a;
	b = kmalloc(16, GFP_KERNEL);
	if (!b || fail_at == 2)
		goto free_a;
	c = kmalloc(16, GFP_KERNEL);
	if (!c || fail_at == 3)
		goto free_b;
	ret = 0;
	kfree(c);
free_b:
	kfree(b);
free_a:
	kfree(a);
out:
	return ret;
}

/* inline: a static inline helper of this file and a header's inline function. */
static inline int fid_inline_square(int a)
{
	if (a > 10)
		return a * a;
	return a;
}

static noinline int fid_inline(int a)
{
	return fid_inline_square(a) + fid_header_abs(a);
}

/* cmov: a choice the compiler makes without a jump. */
static noinline int fid_cmov(int a, int b)
{
	int m = a > b ? a : b;

	fid_sink ^= m;
	return m;
}

/* tail: tail calls. */
static noinline int fid_tail_target(int a)
{
	fid_sink += a;
	return a + 1;
}

static noinline int fid_tail(int a)
{
	if (a > 5)
		return fid_tail_target(a);
	return fid_tail_target(-a);
}

/* unlikely: a path moved to .text.unlikely. */
static noinline int fid_unlikely(int a)
{
	if (unlikely(a == 42)) {
		pr_info("kpc_fidelity: the unlikely path\n");
		fid_sink = 42;
		return -1;
	}
	return a + 1;
}

/* noreturn: a path that ends in BUG() (never taken). */
static noinline int fid_noreturn(int a)
{
	if (a == 12345)
		BUG();
	return a + 1;
}

#define FID_SWAP(x, y) do { int t = (x); (x) = (y); (y) = t; } while (0)

/* macro: a macro of several statements, and several statements on one line. */
static noinline int fid_macro(int a, int b)
{
	if (a > b)
		FID_SWAP(a, b);
	a++; if (a > 3) b++; fid_sink = a;
	return b - a;
}

/* init: __init code (runs once, at load). */
static int __init fid_init_setup(int a)
{
	if (a > 0)
		return a;
	return -a;
}

static int fid_run(const char *text)
{
	char name[16];
	int a = 0, b = 0;

	if (sscanf(text, "%15s %d %d", name, &a, &b) < 1)
		return -EINVAL;
	if (!strcmp(name, "elseif"))
		return fid_elseif(text + strlen("elseif "));
	if (!strcmp(name, "clamp"))
		return fid_clamp(a, b);
	if (!strcmp(name, "early"))
		return fid_early(a);
	if (!strcmp(name, "switch_dense"))
		return fid_switch_dense(a);
	if (!strcmp(name, "switch_sparse"))
		return fid_switch_sparse(a);
	if (!strcmp(name, "loop"))
		return fid_loop(a, b);
	if (!strcmp(name, "goto"))
		return fid_goto(a);
	if (!strcmp(name, "inline"))
		return fid_inline(a);
	if (!strcmp(name, "cmov"))
		return fid_cmov(a, b);
	if (!strcmp(name, "tail"))
		return fid_tail(a);
	if (!strcmp(name, "unlikely"))
		return fid_unlikely(a);
	if (!strcmp(name, "noreturn"))
		return fid_noreturn(a);
	if (!strcmp(name, "macro"))
		return fid_macro(a, b);
	if (!strcmp(name, "elseif_os"))
		return fid_elseif_os(text + strlen("elseif_os "));
	if (!strcmp(name, "clamp_os"))
		return fid_clamp_os(a, b);
	return -ENOENT;
}

static ssize_t fid_write(struct file *file, const char __user *buf, size_t len, loff_t *ppos)
{
	char text[64];
	int ret;

	if (len == 0 || len >= sizeof(text))
		return -EINVAL;
	if (copy_from_user(text, buf, len))
		return -EFAULT;
	text[len] = '\0';
	ret = fid_run(text);
	return ret == -ENOENT || ret == -EINVAL ? ret : len;
}

static const struct file_operations fid_fops = {
	.owner = THIS_MODULE,
	.write = fid_write,
};

static struct miscdevice fid_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kpc_fidelity",
	.fops = &fid_fops,
	.mode = 0600,
};

static int __init fid_module_init(void)
{
	fid_init_value = fid_init_setup(3);
	return misc_register(&fid_dev);
}

static void __exit fid_module_exit(void)
{
	misc_deregister(&fid_dev);
}

module_init(fid_module_init);
module_exit(fid_module_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kprobecov's fidelity corpus: code shapes compilers rearrange");
