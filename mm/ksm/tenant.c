// SPDX-License-Identifier: GPL-2.0-only
/*
 * What KSM saves each memory cgroup, for memory.ksm_stat.
 *
 * A tenant is the record of one memory cgroup that has, or had, a
 * registered mm in it.  Its counters move together with the per-mm
 * counters that /proc/<pid>/ksm_stat shows, at the same points and under
 * the same lock (ksm_mutex), so that a tenant's counters are always the
 * sum over the mms counted in it.  A read of memory.ksm_stat adds up the
 * tenants of the cgroup and of its descendants: it walks cgroups, never
 * processes.
 *
 * An mm is counted in the cgroup ksmd last found it in: when ksmd finds
 * that it moved, the mm's counters move to its new cgroup's tenant with
 * it.  The KSM zero pages of an mm are unmapped without the engine (a
 * write, munmap, exit): they are brought up to date whenever ksmd visits
 * the mm.  A KSM page counts as shared in the tenant of the mm whose
 * merge made it, for as long as it exists.
 */
#include <linux/cgroup.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched/clock.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "state.h"
#include "tenant.h"

/**
 * struct ksm_tenant - what KSM saves one memory cgroup
 * @id: the cgroup's id (cgroup ids are never reused while the system runs)
 * @refs: slots counted here and KSM pages shared here; ksm_mutex
 * @items: tracking entries of its mms (ksm_rmap_items)
 * @merging: mappings of KSM pages in its mms (ksm_merging_pages)
 * @shared: KSM pages its mms' merges made
 * @zero: KSM zero pages of its mms, as of ksmd's last visits
 * @scan_ns: time ksmd spent scanning its mms
 * @rcu: frees the tenant after readers of memory.ksm_stat
 *
 * Counters are written under ksm_mutex and read without it.
 */
struct ksm_tenant {
	u64 id;
	unsigned long refs;
	atomic_long_t items;
	atomic_long_t merging;
	atomic_long_t shared;
	atomic_long_t zero;
	atomic64_t scan_ns;
	struct rcu_head rcu;
};

/* Tenants by cgroup id; changed under ksm_mutex, read under RCU. */
static DEFINE_XARRAY(ksm_tenants);

/* The tenant of cgroup @id, referenced, created if need be; or NULL. */
static struct ksm_tenant *ksm_tenant_get(u64 id)
{
	struct ksm_tenant *t;

	lockdep_assert_held(&ksm_mutex);
	t = xa_load(&ksm_tenants, id);
	if (!t) {
		t = kzalloc(sizeof(*t), GFP_KERNEL | __GFP_NOWARN);
		if (!t)
			return NULL;
		t->id = id;
		if (xa_err(xa_store(&ksm_tenants, id, t, GFP_KERNEL | __GFP_NOWARN))) {
			kfree(t);
			return NULL;
		}
	}
	t->refs++;
	return t;
}

static void ksm_tenant_put(struct ksm_tenant *t)
{
	lockdep_assert_held(&ksm_mutex);
	if (--t->refs)
		return;
	xa_erase(&ksm_tenants, t->id);
	kfree_rcu(t, rcu);
}

/* Add (@sign 1) or take away (-1) what @slot's mm counts in @t. */
static void ksm_tenant_account(struct ksm_tenant *t, struct ksm_slot *slot, long sign)
{
	atomic_long_add(sign * slot->mm->ksm_rmap_items, &t->items);
	atomic_long_add(sign * slot->mm->ksm_merging_pages, &t->merging);
	atomic_long_add(sign * slot->zero_seen, &t->zero);
}

/* Count @slot's KSM zero pages as they are now. */
static void ksm_tenant_sync_zero(struct ksm_slot *slot)
{
	long now = atomic_long_read(&slot->mm->ksm_zero_pages);

	atomic_long_add(now - slot->zero_seen, &slot->tenant->zero);
	slot->zero_seen = now;
}

/**
 * ksm_tenant_visit() - count an mm in the cgroup it is in now
 * @slot: the mm's slot; the mm is alive
 * @id: its memory cgroup, as ksm_slot_memcg() read it for this visit
 *
 * Called whenever ksmd starts on the mm.  If the mm moved to another
 * memory cgroup, its counters move with it; its KSM zero pages are
 * brought up to date.  Without memory, the mm stays where it was counted.
 *
 * Context: ksm_mutex held; may sleep.
 */
void ksm_tenant_visit(struct ksm_slot *slot, u64 id)
{
	struct ksm_tenant *t;

	lockdep_assert_held(&ksm_mutex);
	if (mem_cgroup_disabled())
		return;
	if (id && (!slot->tenant || slot->tenant->id != id)) {
		t = ksm_tenant_get(id);
		if (t) {
			if (slot->tenant) {
				ksm_tenant_account(slot->tenant, slot, -1);
				ksm_tenant_put(slot->tenant);
			}
			slot->tenant = t;
			ksm_tenant_account(t, slot, 1);
		}
	}
	if (slot->tenant)
		ksm_tenant_sync_zero(slot);
}

/**
 * ksm_tenant_leave() - stop counting an mm whose slot goes away
 * @slot: the slot, with no tracking entries left
 *
 * Context: ksm_mutex held.
 */
void ksm_tenant_leave(struct ksm_slot *slot)
{
	lockdep_assert_held(&ksm_mutex);
	if (!slot->tenant)
		return;
	ksm_tenant_account(slot->tenant, slot, -1);
	ksm_tenant_put(slot->tenant);
	slot->tenant = NULL;
	slot->zero_seen = 0;
}

/**
 * ksm_tenant_items() - an mm gained or lost tracking entries
 * @slot: the mm's slot
 * @delta: how many (the mm's ksm_rmap_items changes by as much)
 *
 * Context: ksm_mutex held.
 */
void ksm_tenant_items(struct ksm_slot *slot, long delta)
{
	lockdep_assert_held(&ksm_mutex);
	if (slot->tenant)
		atomic_long_add(delta, &slot->tenant->items);
}

/**
 * ksm_tenant_map() - an mm gained a mapping of a KSM page
 * @slot: the mm's slot
 * @owner: the KSM page's record of the tenant it is shared in
 * @first: the page had no mapping the engine knew of: it is shared in
 *	@slot's tenant from now on
 *
 * Context: ksm_mutex held.
 */
void ksm_tenant_map(struct ksm_slot *slot, struct ksm_tenant **owner, bool first)
{
	struct ksm_tenant *t = slot->tenant;

	lockdep_assert_held(&ksm_mutex);
	if (!t)
		return;
	atomic_long_inc(&t->merging);
	if (first && !*owner) {
		t->refs++;
		*owner = t;
		atomic_long_inc(&t->shared);
	}
}

/**
 * ksm_tenant_unmap() - an mm lost a mapping of a KSM page
 * @slot: the mm's slot
 * @owner: the KSM page's record of the tenant it is shared in
 * @last: it was the last mapping the engine knew of
 *
 * Context: ksm_mutex held.
 */
void ksm_tenant_unmap(struct ksm_slot *slot, struct ksm_tenant **owner, bool last)
{
	lockdep_assert_held(&ksm_mutex);
	if (slot->tenant)
		atomic_long_dec(&slot->tenant->merging);
	if (last && *owner) {
		atomic_long_dec(&(*owner)->shared);
		ksm_tenant_put(*owner);
		*owner = NULL;
	}
}

/**
 * ksm_tenant_scan_time() - charge ksmd's time on an mm to its cgroup
 * @slot: the mm's slot
 * @ns: nanoseconds
 *
 * Context: ksm_mutex held.
 */
void ksm_tenant_scan_time(struct ksm_slot *slot, u64 ns)
{
	if (slot->tenant)
		atomic64_add(ns, &slot->tenant->scan_ns);
}

/**
 * struct ksm_tenant_sum - the counters of a cgroup and its descendants
 * @items: tracking entries
 * @merging: mappings of KSM pages
 * @shared: KSM pages made by their merges
 * @zero: KSM zero pages
 * @scan_ns: time ksmd spent on them
 */
struct ksm_tenant_sum {
	long items;
	long merging;
	long shared;
	long zero;
	u64 scan_ns;
};

static void ksm_tenant_add_up(struct cgroup_subsys_state *top, struct ksm_tenant_sum *sum)
{
	struct cgroup_subsys_state *css;
	struct ksm_tenant *t;

	rcu_read_lock();
	css_for_each_descendant_pre(css, top) {
		t = xa_load(&ksm_tenants, cgroup_id(css->cgroup));
		if (!t)
			continue;
		sum->items += atomic_long_read(&t->items);
		sum->merging += atomic_long_read(&t->merging);
		sum->shared += atomic_long_read(&t->shared);
		sum->zero += atomic_long_read(&t->zero);
		sum->scan_ns += atomic64_read(&t->scan_ns);
	}
	rcu_read_unlock();
}

/*
 * memory.ksm_stat: the first four lines are the sums of the lines of
 * /proc/<pid>/ksm_stat over the processes of the cgroup and its
 * descendants; then the KSM pages their merges made (shared), the
 * mappings beyond those (sharing: negative if other cgroups' processes
 * are all that map some of them), and ksmd's time on their memory.
 */
static int ksm_tenant_stat_show(struct seq_file *m, void *v)
{
	struct ksm_tenant_sum sum = {};
	long profit;

	ksm_tenant_add_up(seq_css(m), &sum);
	profit = (sum.merging + sum.zero) * (long)PAGE_SIZE - sum.items * (long)KSM_ENTRY_BYTES;
	seq_printf(m, "ksm_rmap_items %ld\n", sum.items);
	seq_printf(m, "ksm_zero_pages %ld\n", sum.zero);
	seq_printf(m, "ksm_merging_pages %ld\n", sum.merging);
	seq_printf(m, "ksm_process_profit %ld\n", profit);
	seq_printf(m, "ksm_pages_shared %ld\n", sum.shared);
	seq_printf(m, "ksm_pages_sharing %ld\n", sum.merging - sum.shared);
	seq_printf(m, "ksm_scan_usec %llu\n", div_u64(sum.scan_ns, NSEC_PER_USEC));
	return 0;
}

static struct cftype ksm_tenant_files[] = {
	{
		.name = "ksm_stat",
		.flags = CFTYPE_NOT_ON_ROOT,
		.seq_show = ksm_tenant_stat_show,
	},
	{ }	/* terminate */
};

/**
 * ksm_tenant_init() - add memory.ksm_stat to every memory cgroup (v2)
 */
void __init ksm_tenant_init(void)
{
	if (cgroup_add_dfl_cftypes(&memory_cgrp_subsys, ksm_tenant_files))
		pr_warn("ksm: no memory.ksm_stat\n");
}
