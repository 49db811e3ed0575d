// SPDX-License-Identifier: GPL-2.0
/*
 * kpc_entry: two functions for kprobecov's entry-probe selftests, one that
 * ftrace can trace (kpc_entry_traced) and one it cannot (kpc_entry_notrace:
 * no __fentry__ call, so a function probe on it is a kprobe). Writing N to
 * /sys/module/kpc_entry/parameters/call_traced (or call_notrace) calls it
 * N times in the writer's context.
 */
#include <linux/compiler.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static long kpc_entry_sink;

static noinline __noclone long kpc_entry_traced(long x)
{
	if (x & 1)
		x = x * 3 + 1;
	WRITE_ONCE(kpc_entry_sink, x);
	return x;
}

static noinline __noclone notrace long kpc_entry_notrace(long x)
{
	if (x & 2)
		x = x * 5 - 1;
	WRITE_ONCE(kpc_entry_sink, x);
	return x;
}

static int kpc_entry_call(const char *val, long (*fn)(long))
{
	unsigned int n, i;
	int ret = kstrtouint(val, 0, &n);

	if (ret)
		return ret;
	for (i = 0; i < n; i++)
		fn(i);
	return 0;
}

static int kpc_entry_set_traced(const char *val, const struct kernel_param *kp)
{
	return kpc_entry_call(val, kpc_entry_traced);
}

static int kpc_entry_set_notrace(const char *val, const struct kernel_param *kp)
{
	return kpc_entry_call(val, kpc_entry_notrace);
}

static const struct kernel_param_ops kpc_entry_traced_ops = { .set = kpc_entry_set_traced };
static const struct kernel_param_ops kpc_entry_notrace_ops = { .set = kpc_entry_set_notrace };
module_param_cb(call_traced, &kpc_entry_traced_ops, NULL, 0200);
module_param_cb(call_notrace, &kpc_entry_notrace_ops, NULL, 0200);

MODULE_DESCRIPTION("kprobecov selftest target: a traced and a notrace function");
MODULE_LICENSE("GPL");
