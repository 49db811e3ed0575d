// SPDX-License-Identifier: GPL-2.0
/*
 * kvstore: a small key/value store behind /dev/kvstore, the example driver
 * whose Vitest and Jest suites kprobecov measures.
 *
 * Each write() is one command, with or without a trailing newline:
 *   "set KEY VALUE"  stores VALUE under KEY (replacing an old value);
 *   "del KEY"        removes KEY (-ENOENT if it is not stored);
 *   "clear"          removes every key.
 * A write longer than KVSTORE_CMD_MAX bytes fails with -EMSGSIZE, a malformed
 * command with -EINVAL, a key or value past its size with -E2BIG, a new key
 * in a full store with -ENOSPC. A successful write returns its byte count.
 *
 * read() returns the store as "KEY=VALUE\n" lines in insertion order, from
 * *ppos on. Each read() call takes its own snapshot: a reader that needs a
 * consistent dump reads it in one call, or pauses the writers.
 *
 * The ioctls (KVSTORE_IOC_GET, _STATS, _RESET_STATS) are in kvstore_ioctl.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "kvstore_ioctl.h"

#define KVSTORE_CMD_MAX		256
#define KVSTORE_CAPACITY_MAX	1024
/* The longest dump line: KEY '=' VALUE '\n', NULs not counted. */
#define KVSTORE_LINE_MAX	(KVSTORE_KEY_SIZE + KVSTORE_VALUE_SIZE)

static unsigned int max_entries = 16;
module_param(max_entries, uint, 0444);
MODULE_PARM_DESC(max_entries,
		 "most keys the store holds (1.." __stringify(KVSTORE_CAPACITY_MAX) ", default 16)");

struct kvstore_entry {
	char key[KVSTORE_KEY_SIZE];
	char value[KVSTORE_VALUE_SIZE];
};

/*
 * The store. kvstore_lock protects every field. table[0..count) point to the
 * entries in insertion order (a "set" of a stored key keeps its place),
 * table[count..max_entries) are NULL. The counters are those of
 * struct kvstore_stats.
 */
static struct {
	struct kvstore_entry **table;
	unsigned int count;
	u64 sets;
	u64 gets;
	u64 misses;
	u64 deletes;
} kvstore;

static DEFINE_MUTEX(kvstore_lock);

/* Returns 0 for a key of 1..31 bytes of [A-Za-z0-9_.-], else -EINVAL or -E2BIG. */
static noinline int kvstore_valid_key(const char *key)
{
	size_t len = strnlen(key, KVSTORE_KEY_SIZE);
	size_t i;

	if (len == 0)
		return -EINVAL;
	if (len == KVSTORE_KEY_SIZE)
		return -E2BIG;
	for (i = 0; i < len; i++) {
		if (!isalnum(key[i]) && !strchr("_.-", key[i]))
			return -EINVAL;
	}
	return 0;
}

/* Returns 0 for a value of 1..127 printable non-space bytes (or UTF-8). */
static noinline int kvstore_valid_value(const char *value)
{
	const unsigned char *p = (const unsigned char *)value;
	size_t len = strlen(value);

	if (len == 0)
		return -EINVAL;
	if (len >= KVSTORE_VALUE_SIZE)
		return -E2BIG;
	for (; *p; p++) {
		if (*p <= ' ' || *p == 0x7f)
			return -EINVAL;
	}
	return 0;
}

/* Returns the index of key in kvstore.table, or -ENOENT. */
static noinline int kvstore_find(const char *key)
{
	unsigned int i;

	lockdep_assert_held(&kvstore_lock);
	for (i = 0; i < kvstore.count; i++) {
		if (!strcmp(kvstore.table[i]->key, key))
			return i;
	}
	return -ENOENT;
}

static int kvstore_set_locked(const char *key, const char *value)
{
	struct kvstore_entry *entry;
	int i = kvstore_find(key);

	if (i >= 0) {
		strscpy_pad(kvstore.table[i]->value, value, KVSTORE_VALUE_SIZE);
		return 0;
	}
	if (kvstore.count == max_entries)
		return -ENOSPC;
	entry = kzalloc(sizeof(*entry), GFP_KERNEL);
	if (!entry)
		return -ENOMEM;
	strscpy(entry->key, key, KVSTORE_KEY_SIZE);
	strscpy(entry->value, value, KVSTORE_VALUE_SIZE);
	kvstore.table[kvstore.count++] = entry;
	return 0;
}

static int kvstore_del_locked(const char *key)
{
	int i = kvstore_find(key);

	if (i < 0)
		return i;
	kfree(kvstore.table[i]);
	kvstore.count--;
	memmove(&kvstore.table[i], &kvstore.table[i + 1],
		(kvstore.count - i) * sizeof(*kvstore.table));
	kvstore.table[kvstore.count] = NULL;
	return 0;
}

/* Frees every entry; returns how many there were. */
static unsigned int kvstore_clear_locked(void)
{
	unsigned int freed = kvstore.count;

	while (kvstore.count) {
		kvstore.count--;
		kfree(kvstore.table[kvstore.count]);
		kvstore.table[kvstore.count] = NULL;
	}
	return freed;
}

/* args: "KEY VALUE". */
static int kvstore_cmd_set(char *args)
{
	char *key = strsep(&args, " ");
	char *value = args;
	int ret;

	if (!value)
		return -EINVAL;
	ret = kvstore_valid_key(key);
	if (ret)
		return ret;
	ret = kvstore_valid_value(value);
	if (ret)
		return ret;

	mutex_lock(&kvstore_lock);
	ret = kvstore_set_locked(key, value);
	if (!ret)
		kvstore.sets++;
	mutex_unlock(&kvstore_lock);
	return ret;
}

/* args: "KEY". */
static int kvstore_cmd_del(const char *args)
{
	int ret = kvstore_valid_key(args);

	if (ret)
		return ret;
	mutex_lock(&kvstore_lock);
	ret = kvstore_del_locked(args);
	if (!ret)
		kvstore.deletes++;
	mutex_unlock(&kvstore_lock);
	return ret;
}

static ssize_t kvstore_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	char *cmd, *args, *verb;
	ssize_t ret;

	if (count > KVSTORE_CMD_MAX)
		return -EMSGSIZE;
	cmd = memdup_user_nul(ubuf, count);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	if (strlen(cmd) != count) {	/* a NUL inside the command */
		ret = -EINVAL;
		goto out;
	}
	if (count && cmd[count - 1] == '\n')
		cmd[count - 1] = '\0';

	args = cmd;
	verb = strsep(&args, " ");
	if (!strcmp(verb, "set") && args) {
		ret = kvstore_cmd_set(args);
	} else if (!strcmp(verb, "del") && args) {
		ret = kvstore_cmd_del(args);
	} else if (!strcmp(verb, "clear") && !args) {
		mutex_lock(&kvstore_lock);
		kvstore_clear_locked();
		mutex_unlock(&kvstore_lock);
		ret = 0;
	} else {
		ret = -EINVAL;
	}
out:
	kfree(cmd);
	return ret ? ret : (ssize_t)count;
}

/* Writes the store's lines into buf: KVSTORE_LINE_MAX per entry, and a NUL. */
static size_t kvstore_dump_locked(char *buf, size_t size)
{
	size_t len = 0;
	unsigned int i;

	for (i = 0; i < kvstore.count; i++)
		len += scnprintf(buf + len, size - len, "%s=%s\n",
				 kvstore.table[i]->key, kvstore.table[i]->value);
	return len;
}

static ssize_t kvstore_read(struct file *file, char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	size_t size, len;
	ssize_t ret;
	char *buf;

	mutex_lock(&kvstore_lock);
	if (!kvstore.count) {
		mutex_unlock(&kvstore_lock);
		return 0;
	}
	size = (size_t)kvstore.count * KVSTORE_LINE_MAX + 1;
	buf = kvmalloc(size, GFP_KERNEL);
	if (!buf) {
		mutex_unlock(&kvstore_lock);
		return -ENOMEM;
	}
	len = kvstore_dump_locked(buf, size);
	mutex_unlock(&kvstore_lock);

	ret = simple_read_from_buffer(ubuf, count, ppos, buf, len);
	kvfree(buf);
	return ret;
}

static long kvstore_ioctl_get(struct kvstore_get __user *uget)
{
	struct kvstore_get get;
	int ret, i;

	if (copy_from_user(&get, uget, sizeof(get)))
		return -EFAULT;
	ret = kvstore_valid_key(get.key);
	if (ret)
		return ret;

	mutex_lock(&kvstore_lock);
	i = kvstore_find(get.key);
	if (i < 0) {
		kvstore.misses++;
		mutex_unlock(&kvstore_lock);
		return i;
	}
	kvstore.gets++;
	strscpy_pad(get.value, kvstore.table[i]->value, KVSTORE_VALUE_SIZE);
	mutex_unlock(&kvstore_lock);

	if (copy_to_user(uget, &get, sizeof(get)))
		return -EFAULT;
	return 0;
}

static long kvstore_ioctl_stats(struct kvstore_stats __user *ustats)
{
	struct kvstore_stats stats = {};

	mutex_lock(&kvstore_lock);
	stats.entries = kvstore.count;
	stats.capacity = max_entries;
	stats.sets = kvstore.sets;
	stats.gets = kvstore.gets;
	stats.misses = kvstore.misses;
	stats.deletes = kvstore.deletes;
	mutex_unlock(&kvstore_lock);

	if (copy_to_user(ustats, &stats, sizeof(stats)))
		return -EFAULT;
	return 0;
}

static long kvstore_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case KVSTORE_IOC_GET:
		return kvstore_ioctl_get(argp);
	case KVSTORE_IOC_STATS:
		return kvstore_ioctl_stats(argp);
	case KVSTORE_IOC_RESET_STATS:
		if (arg)
			return -EINVAL;
		mutex_lock(&kvstore_lock);
		kvstore.sets = 0;
		kvstore.gets = 0;
		kvstore.misses = 0;
		kvstore.deletes = 0;
		mutex_unlock(&kvstore_lock);
		return 0;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations kvstore_fops = {
	.owner		= THIS_MODULE,
	.read		= kvstore_read,
	.write		= kvstore_write,
	.unlocked_ioctl	= kvstore_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= default_llseek,
};

static struct miscdevice kvstore_miscdev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "kvstore",
	.fops	= &kvstore_fops,
	.mode	= 0666,
};

static int __init kvstore_init(void)
{
	int ret;

	if (!max_entries || max_entries > KVSTORE_CAPACITY_MAX) {
		pr_err("max_entries=%u is not in 1..%u\n", max_entries,
		       KVSTORE_CAPACITY_MAX);
		return -EINVAL;
	}
	kvstore.table = kcalloc(max_entries, sizeof(*kvstore.table), GFP_KERNEL);
	if (!kvstore.table)
		return -ENOMEM;

	ret = misc_register(&kvstore_miscdev);
	if (ret) {
		pr_err("cannot register /dev/kvstore: %d\n", ret);
		goto err_free;
	}
	pr_info("ready, room for %u entries\n", max_entries);
	return 0;

err_free:
	kfree(kvstore.table);
	kvstore.table = NULL;
	return ret;
}

/* No file is open here (each holds a module reference), so no command runs. */
static void __exit kvstore_exit(void)
{
	unsigned int freed;

	misc_deregister(&kvstore_miscdev);
	mutex_lock(&kvstore_lock);
	freed = kvstore_clear_locked();
	mutex_unlock(&kvstore_lock);
	kfree(kvstore.table);
	pr_info("unloaded, freed %u entries\n", freed);
}

module_init(kvstore_init);
module_exit(kvstore_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Example key/value store character device for kprobecov");
