// SPDX-License-Identifier: GPL-2.0
/*
 * kpc_fail: failure injection for kprobecov's selftests, where the kernel has
 * none (no CONFIG_FUNCTION_ERROR_INJECTION on the stock kernel). Writing N to
 * /sys/module/kpc_fail/parameters/fail_unregister_ftrace makes the next N
 * calls of unregister_ftrace_function() made by kprobecov.ko return -ENODEV
 * without doing anything (as when ftrace has disabled itself after an error);
 * `failed` counts the calls failed so far. A kprobe at the function's entry
 * returns to its caller through kpc_fail_return, which only returns, with
 * the error in the return register.
 */
#include <linux/atomic.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/ptrace.h>
#include <linux/string.h>

static atomic_t kpc_fail_left = ATOMIC_INIT(0);
static unsigned int failed;
module_param(failed, uint, 0444);

static int kpc_fail_set(const char *val, const struct kernel_param *kp)
{
	int n, ret = kstrtoint(val, 0, &n);

	if (ret)
		return ret;
	atomic_set(&kpc_fail_left, n);
	return 0;
}

static int kpc_fail_get(char *buf, const struct kernel_param *kp)
{
	return sprintf(buf, "%d\n", atomic_read(&kpc_fail_left));
}

static const struct kernel_param_ops kpc_fail_ops = { .set = kpc_fail_set, .get = kpc_fail_get };
module_param_cb(fail_unregister_ftrace, &kpc_fail_ops, NULL, 0644);

/* Only returns: entered instead of the probed function, with its return address on top. */
static noinline notrace void kpc_fail_return(void)
{
}

static int kpc_fail_pre(struct kprobe *kp, struct pt_regs *regs)
{
	char sym[KSYM_SYMBOL_LEN];

	if (atomic_read(&kpc_fail_left) <= 0)
		return 0;
	sprint_symbol(sym, regs_get_kernel_stack_nth(regs, 0));
	if (!strstr(sym, "[kprobecov]") || atomic_dec_if_positive(&kpc_fail_left) < 0)
		return 0;
	failed++;
	regs->ax = (unsigned long)-ENODEV;
	regs->ip = (unsigned long)kpc_fail_return;
	return 1;	/* regs->ip changed: no single-step */
}

/* A post handler, even empty, keeps kprobes from optimising the probe (which ignores ip). */
static void kpc_fail_post(struct kprobe *kp, struct pt_regs *regs, unsigned long flags)
{
}

static struct kprobe kpc_fail_kp = {
	.symbol_name = "unregister_ftrace_function",
	.pre_handler = kpc_fail_pre,
	.post_handler = kpc_fail_post,
};

static int __init kpc_fail_init(void)
{
	return register_kprobe(&kpc_fail_kp);
}

static void __exit kpc_fail_exit(void)
{
	unregister_kprobe(&kpc_fail_kp);
}

module_init(kpc_fail_init);
module_exit(kpc_fail_exit);
MODULE_DESCRIPTION("kprobecov selftest helper: failure injection");
MODULE_LICENSE("GPL");
