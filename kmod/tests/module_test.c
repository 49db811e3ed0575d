// SPDX-License-Identifier: GPL-2.0
/*
 * Probes on a module that comes and goes: pending until it loads (its
 * module_init code counted, __init code then gone), GONE when it unloads
 * while armed (module_exit code counted), planted again when it reloads,
 * for one collector or several.
 */
#include "kpc_util.h"

/* kpc_target not loaded; a collector of 64 probes and 4 slots. */
FIXTURE(unloaded) {
	struct kpc_col c;
};

FIXTURE_SETUP(unloaded)
{
	kpc_target_ensure_unloaded();
	kpc_col_open(&self->c, 64, 4, 0, 0);
}

FIXTURE_TEARDOWN(unloaded)
{
	kpc_col_close(&self->c);
	kpc_target_ensure_loaded();
}

/* FUNC probes on kpc_target used while it comes and goes. */
enum { U_A, U_FILL, U_DRAIN, U_BANNER, U_NOPE, U_NR };

static void kpc_add_unloaded_set(int fd, struct kprobecov_add_probes *out,
				 struct kprobecov_probe *p)
{
	kpc_probe(&p[U_A], KPC_TARGET, "kpc_target_a", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[U_FILL], KPC_TARGET, "kpc_target_fill_table", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[U_DRAIN], KPC_TARGET, "kpc_target_drain_table", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[U_BANNER], KPC_TARGET, "kpc_target_init_banner", 0, KPROBECOV_KIND_FUNC, 0);
	kpc_probe(&p[U_NOPE], KPC_TARGET, "kpc_target_nope", 0, KPROBECOV_KIND_FUNC, 0);
	ASSERT_OK(kpc_add(fd, p, U_NR, out));
}

TEST_F(unloaded, pending_until_load_then_init_counted)
{
	int fd = self->c.fd;
	struct kprobecov_probe p[U_NR];
	struct kprobecov_add_probes out;
	__u64 slot, changed;
	__s32 err;
	int i;

	kpc_add_unloaded_set(fd, &out, p);
	/* Probes on a module that is not loaded wait for it, without error. */
	ASSERT_EQ(U_NR, out.pending);
	ASSERT_EQ(0, out.registered);
	ASSERT_EQ(0, out.failed);
	for (i = 0; i < U_NR; i++) {
		ASSERT_TRUE(HAS(p[i].state, PENDING));
		ASSERT_FALSE(HAS(p[i].state, REGISTERED));
		ASSERT_EQ(0, p[i].error);
	}
	/* Pending probes can be armed. */
	ASSERT_OK(kpc_select(fd, KPROBECOV_ARM, KPROBECOV_SELECT_ALL, 0, 0, 0, &changed));
	ASSERT_EQ(U_NR, changed);
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));

	/* This process loads the module: its module_init runs here. */
	kpc_target_load();
	/* Now they are planted and armed. */
	ASSERT_EQ(KPROBECOV_STATE_REGISTERED | KPROBECOV_STATE_ARMED,
		  kpc_state(fd, U_A, NULL) & 0xff);
	/* Code run only by module_init was counted once. */
	ASSERT_EQ(1, kpc_counter(&self->c, slot, U_FILL));
	ASSERT_TRUE(HAS(kpc_state(fd, U_FILL, NULL), HIT));
	/* __init code was counted too ... */
	ASSERT_EQ(1, kpc_counter(&self->c, slot, U_BANNER));
	/* ... and is gone once the init code is freed. */
	ASSERT_TRUE(HAS(kpc_state(fd, U_BANNER, NULL), GONE));
	/* A symbol the module lacks fails when it loads. */
	ASSERT_TRUE(HAS(kpc_state(fd, U_NOPE, &err), FAILED));
	ASSERT_EQ(-ENOENT, err);
	/* Nothing else ran. */
	ASSERT_EQ(0, kpc_counter(&self->c, slot, U_A));
	ASSERT_EQ(0, kpc_counter(&self->c, slot, U_DRAIN));
	/* And the planted probes count calls. */
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 2);
	ASSERT_EQ(2, kpc_counter(&self->c, slot, U_A));
}

TEST_F(unloaded, rmmod_while_armed_then_reload)
{
	int fd = self->c.fd;
	struct kprobecov_probe p[U_NR];
	struct kprobecov_add_probes out;
	__u64 slot;
	__u32 st;

	kpc_add_unloaded_set(fd, &out, p);
	kpc_arm_all(fd);
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));
	kpc_target_load();
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 1);

	/* The module unloads while its probes are armed. */
	ASSERT_EQ(0, kpc_unload(KPC_TARGET));
	/* Its module_exit code was counted on the way out. */
	ASSERT_EQ(1, kpc_counter(&self->c, slot, U_DRAIN));
	/* Its probes are gone, no longer planted, still wanted armed. */
	st = kpc_state(fd, U_A, NULL);
	ASSERT_TRUE(HAS(st, GONE));
	ASSERT_FALSE(HAS(st, REGISTERED));
	ASSERT_TRUE(HAS(st, ARMED));
	/* Counters survive the unload. */
	ASSERT_EQ(1, kpc_counter(&self->c, slot, U_A));

	/* Loaded again, they are planted again and count on. */
	kpc_target_load();
	st = kpc_state(fd, U_A, NULL);
	ASSERT_TRUE(HAS(st, REGISTERED));
	ASSERT_FALSE(HAS(st, GONE));
	ASSERT_EQ(2, kpc_counter(&self->c, slot, U_FILL));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(2, kpc_counter(&self->c, slot, U_A));
	/* A second unload and reload cycle works the same. */
	ASSERT_EQ(0, kpc_unload(KPC_TARGET));
	ASSERT_EQ(2, kpc_counter(&self->c, slot, U_DRAIN));
	kpc_target_load();
	ASSERT_EQ(3, kpc_counter(&self->c, slot, U_FILL));

	/* Disarmed while the module is away, they come back planted but silent. */
	ASSERT_EQ(0, kpc_unload(KPC_TARGET));
	ASSERT_OK(kpc_select(fd, KPROBECOV_DISARM, KPROBECOV_SELECT_ALL, 0, 0, 0, NULL));
	kpc_target_load();
	st = kpc_state(fd, U_A, NULL);
	ASSERT_TRUE(HAS(st, REGISTERED));
	ASSERT_FALSE(HAS(st, ARMED));
	ASSERT_EQ(3, kpc_counter(&self->c, slot, U_FILL));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(2, kpc_counter(&self->c, slot, U_A));
	/* Armed again, they count. */
	kpc_arm_all(fd);
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(3, kpc_counter(&self->c, slot, U_A));
}

/*
 * Added while the module is live, a probe on its __init code fails: the
 * live module's symbol table has no __init symbols left. Reloaded, it has
 * them again: the probe waits for the next load and counts module_init.
 */
TEST_F(unloaded, init_probe_added_while_live_counts_after_reload)
{
	int fd = self->c.fd;
	struct kprobecov_probe p[U_NR];
	struct kprobecov_add_probes out;
	__u64 slot;
	__s32 err;

	kpc_target_load();
	kpc_add_unloaded_set(fd, &out, p);
	ASSERT_EQ(2, out.failed);
	ASSERT_TRUE(HAS(p[U_BANNER].state, FAILED));
	ASSERT_EQ(-ENOENT, p[U_BANNER].error);
	ASSERT_TRUE(HAS(p[U_NOPE].state, FAILED));
	kpc_arm_all(fd);
	ASSERT_OK(kpc_attach(fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &slot));

	/* Unloaded: the probes on unknown symbols wait for the next load. */
	ASSERT_EQ(0, kpc_unload(KPC_TARGET));
	ASSERT_TRUE(HAS(kpc_state(fd, U_BANNER, &err), PENDING));
	ASSERT_EQ(0, err);
	ASSERT_TRUE(HAS(kpc_state(fd, U_NOPE, NULL), PENDING));

	/* Loaded again: module_init's __init code is counted, then gone. */
	kpc_target_load();
	ASSERT_EQ(1, kpc_counter(&self->c, slot, U_BANNER));
	ASSERT_EQ(1, kpc_counter(&self->c, slot, U_FILL));
	ASSERT_TRUE(HAS(kpc_state(fd, U_BANNER, NULL), GONE));
	/* A name the module truly lacks fails again, as at ADD. */
	ASSERT_TRUE(HAS(kpc_state(fd, U_NOPE, &err), FAILED));
	ASSERT_EQ(-ENOENT, err);
}

TEST_F(unloaded, two_collectors_wait_for_one_module)
{
	struct kprobecov_probe p[U_NR];
	struct kprobecov_add_probes out;
	struct kpc_col c2;
	__u64 s1, s2;

	kpc_col_open(&c2, 8, 1, 0, 0);
	kpc_add_unloaded_set(self->c.fd, &out, p);
	kpc_add_unloaded_set(c2.fd, &out, p);
	kpc_arm_all(self->c.fd);
	kpc_arm_all(c2.fd);
	ASSERT_OK(kpc_attach(self->c.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &s1));
	ASSERT_OK(kpc_attach(c2.fd, 0, KPROBECOV_SCOPE_PROCESS, 0, &s2));
	kpc_target_load();
	/* Both collectors' pending probes were planted and saw module_init. */
	ASSERT_TRUE(HAS(kpc_state(c2.fd, U_A, NULL), REGISTERED));
	ASSERT_EQ(1, kpc_counter(&self->c, s1, U_FILL));
	ASSERT_EQ(1, kpc_counter(&c2, s2, U_FILL));
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 2);
	ASSERT_EQ(2, kpc_counter(&self->c, s1, U_A));
	ASSERT_EQ(2, kpc_counter(&c2, s2, U_A));
	/* One closes; the module still unloads and the other saw module_exit. */
	kpc_col_close(&c2);
	ASSERT_EQ(0, kpc_unload(KPC_TARGET));
	ASSERT_EQ(1, kpc_counter(&self->c, s1, U_DRAIN));
}

TEST_F(unloaded, close_with_pending_probes_then_load)
{
	struct kprobecov_probe p[U_NR];
	struct kprobecov_add_probes out;

	kpc_add_unloaded_set(self->c.fd, &out, p);
	kpc_arm_all(self->c.fd);
	/* Closing a collector with pending probes forgets them ... */
	kpc_col_close(&self->c);
	/* ... so the module loads and unloads untouched. */
	kpc_target_load();
	kpc_call(-1, KPC_TARGET_CALL_A, 1, 1);
	ASSERT_EQ(0, kpc_unload(KPC_TARGET));
}

KT_MAIN(kpc_requirements)
