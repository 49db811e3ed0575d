// SPDX-License-Identifier: GPL-2.0
/*
 * The module notifier: follows modules as they load and unload. COMING and
 * LIVE plant every collector's pending probes on that module; GOING unplants
 * them and leaves them pending for the next load. Each event holds kpc_mutex
 * throughout (process context), which orders it against ADD_PROBES' steps
 * (kpc_plant_step) and close (kpc_retire).
 */
#define pr_fmt(fmt) "kprobecov: " fmt

#include <linux/module.h>
#include <linux/slab.h>

#include "kprobecov.h"

/* Plant every pending probe of target now that mod is here. */
static void kpc_plant_pending(struct kpc_collector *c, u32 target, struct module *mod)
{
	struct kpc_probe **run;
	u64 i, n = 0;

	run = kvmalloc_array(c->nr_probes ?: 1, sizeof(*run), GFP_KERNEL);
	if (!run) {
		pr_err("out of memory planting probes on %s\n", mod->name);
		return;
	}
	for (i = 0; i < c->nr_probes; i++)
		if (c->probes[i]->target == target && c->probes[i]->pending)
			run[n++] = c->probes[i];
	if (n)
		kpc_plant_module(c, mod, run, n);
	kvfree(run);
}

/*
 * LIVE: mod's init text is about to be freed, and its ftrace records with
 * it (not the filters that name them): entry probes there are GONE.
 */
static void kpc_init_gone(struct kpc_collector *c, u32 target, struct module *mod)
{
	u64 i;

	for (i = 0; i < c->nr_probes; i++) {
		struct kpc_probe *p = c->probes[i];

		if (p->target == target && p->ftrace && p->registered && !p->gone &&
		    within_module_init(p->ip, mod)) {
			p->gone = true;
			c->fdirty = true;
		}
	}
}

/*
 * GOING: probes of target whose symbol the loaded module did not have
 * (ENOENT) wait for the next load. A live module's symbol table has lost
 * its __init symbols, so a probe on module_init code added while the module
 * was live fails so; the next load has them (a name it truly lacks fails
 * again then).
 */
static void kpc_retry_unknown(struct kpc_collector *c, u32 target)
{
	u64 i;

	for (i = 0; i < c->nr_probes; i++) {
		struct kpc_probe *p = c->probes[i];

		if (p->target == target && !p->registered && !p->pending && p->error == -ENOENT) {
			p->pending = true;
			p->error = 0;
		}
	}
}

/*
 * COMING: plant pending probes, so module_init is covered. LIVE: the same,
 * for a module whose sysfs entry was not there yet when ADD looked.
 * GOING: unregister, keep the wish to be armed for the next load; probes
 * on symbols the module lacked wait for it too (kpc_retry_unknown).
 */
static int kpc_module_event(struct notifier_block *nb, unsigned long action, void *data)
{
	struct module *mod = data;
	struct kpc_collector *c;

	if (action != MODULE_STATE_COMING && action != MODULE_STATE_LIVE &&
	    action != MODULE_STATE_GOING)
		return NOTIFY_DONE;

	mutex_lock(&kpc_mutex);
	list_for_each_entry(c, &kpc_collectors, node) {
		int target = kpc_target_index(c, mod->name, false);

		if (target <= KPC_TARGET_VMLINUX)
			continue;
		if (action == MODULE_STATE_GOING) {
			kpc_unplant(c, target, true);
			kpc_retry_unknown(c, target);
			continue;
		}
		kpc_plant_pending(c, target, mod);
		if (action == MODULE_STATE_LIVE)
			kpc_init_gone(c, target, mod);
		kpc_ftrace_sync(c);
	}
	mutex_unlock(&kpc_mutex);
	return NOTIFY_OK;
}

static struct notifier_block kpc_module_nb = {
	.notifier_call = kpc_module_event,
};

int kpc_module_notifier_init(void)
{
	return register_module_notifier(&kpc_module_nb);
}

void kpc_module_notifier_exit(void)
{
	unregister_module_notifier(&kpc_module_nb);
}
