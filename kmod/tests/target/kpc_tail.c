// SPDX-License-Identifier: GPL-2.0
/*
 * kpc_tail: a module whose text ends with a known function, for the selftest
 * of probes on a module's last function (module_test's tail cases). Its core
 * text is .text (kpc_tail_add, traced) then .exit.text, which holds
 * kpc_tail_exit alone (__exit: notrace, so a function probe on it is a
 * kprobe): kpc_tail_exit is the last symbol of the core text, and kallsyms
 * gives it the rest of the text's page. kpc_tail_init is the init text's only
 * function. Loading runs kpc_tail_add once (from init), unloading once more.
 */
#include <linux/compiler.h>
#include <linux/module.h>

static long kpc_tail_sum;

static noinline __noclone long kpc_tail_add(long x)
{
	WRITE_ONCE(kpc_tail_sum, READ_ONCE(kpc_tail_sum) + x);
	return READ_ONCE(kpc_tail_sum);
}

static int __init kpc_tail_init(void)
{
	return kpc_tail_add(1) == 1 ? 0 : -EINVAL;
}

/*
 * The nop makes the text's used size odd with 6.12's build (16 bytes of code after a
 * 16-byte aligned start otherwise): the zeroes padding the page then decode as 2-byte
 * instructions whose last one straddles the page's end, which kprobes' optimiser,
 * unchecked, reads past (an oops). The selftest asserts the refusal whatever the size.
 */
static void __exit kpc_tail_exit(void)
{
	asm volatile("nop");
	kpc_tail_add(-1);
}

module_init(kpc_tail_init);
module_exit(kpc_tail_exit);

MODULE_DESCRIPTION("kprobecov selftest target: a known last function of a module's text");
MODULE_LICENSE("GPL");
