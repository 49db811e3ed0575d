// SPDX-License-Identifier: GPL-2.0
/*
 * kpcdemo: a user's own small driver, for the test of the installed packages.
 * /dev/kpcdemo holds one number: writing "add N" or "sub N" changes it (sub stops
 * at 0), "reset" sets it to 0; reading gives it as text. The "mark:" comments name
 * the lines the test checks.
 */
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/uaccess.h>

static long kpcdemo_value;

static noinline long kpcdemo_add(long n)
{
	kpcdemo_value += n; /* mark:add */
	return kpcdemo_value;
}

static noinline long kpcdemo_sub(long n)
{
	if (n > kpcdemo_value) {
		pr_info("kpcdemo: sub %ld stops at 0\n", n);
		n = kpcdemo_value; /* mark:clamp */
	}
	kpcdemo_value -= n; /* mark:sub */
	return kpcdemo_value;
}

static noinline void kpcdemo_reset(void)
{
	kpcdemo_value = 0; /* mark:reset */
}

static ssize_t kpcdemo_write(struct file *file, const char __user *buf, size_t len, loff_t *ppos)
{
	char cmd[32];
	long n;

	if (len >= sizeof(cmd))
		return -EINVAL; /* mark:too-long */
	if (copy_from_user(cmd, buf, len))
		return -EFAULT;
	cmd[len] = '\0';
	if (sscanf(cmd, "add %ld", &n) == 1)
		kpcdemo_add(n);
	else if (sscanf(cmd, "sub %ld", &n) == 1)
		kpcdemo_sub(n);
	else if (strncmp(cmd, "reset", 5) == 0)
		kpcdemo_reset();
	else
		return -EINVAL;
	return len;
}

static ssize_t kpcdemo_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	char text[24];
	int n = scnprintf(text, sizeof(text), "%ld\n", kpcdemo_value);

	return simple_read_from_buffer(buf, len, ppos, text, n);
}

static const struct file_operations kpcdemo_fops = {
	.owner = THIS_MODULE,
	.read = kpcdemo_read,
	.write = kpcdemo_write,
};

static struct miscdevice kpcdemo_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kpcdemo",
	.fops = &kpcdemo_fops,
	.mode = 0666,
};

static int __init kpcdemo_init(void)
{
	return misc_register(&kpcdemo_dev);
}

static void __exit kpcdemo_exit(void)
{
	misc_deregister(&kpcdemo_dev);
}

module_init(kpcdemo_init);
module_exit(kpcdemo_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A small driver for the test of kprobecov's installed packages");
