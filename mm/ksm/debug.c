// SPDX-License-Identifier: GPL-2.0-only
/*
 * Self-checks for debug kernels, in debugfs under ksm/.
 *
 * rmap_check: every mapping of a KSM folio must be reachable through the
 * folio's members, or reclaim, migration, compaction and memory offline
 * cannot unmap it.  Reading the file walks the reverse map of every KSM
 * folio the stable index holds and compares the mappings it finds with
 * the folio's mapcount.  The stress suite reads it while allocations of
 * the engine fail on purpose.
 */
#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/rmap.h>
#include <linux/seq_file.h>

#include "state.h"
#include "stable.h"

/*
 * A fork copies page table entries without the folio lock, so the count
 * and the mapcount can disagree for a moment even with the mapcount
 * sampled on both sides of the walk; a folio is reported only if they
 * disagree this many times in a row.
 */
#define KSM_CHECK_TRIES		5
/* Mappings of one folio told apart, at most (see ksm_check_seen()). */
#define KSM_CHECK_SEEN		4096

/**
 * struct ksm_rmap_check - state of one rmap_check
 * @folios: KSM folios checked
 * @mappings: their mappings, by mapcount, pins left out
 * @unfindable: mappings the reverse map did not reach
 * @seen: (VMA, address) pairs the walk of the current folio visited
 * @nr_seen: entries of @seen in use
 * @found: present PTEs of the current folio the walk found
 */
struct ksm_rmap_check {
	unsigned long folios;
	unsigned long mappings;
	unsigned long unfindable;
	unsigned long (*seen)[2];
	unsigned int nr_seen;
	int found;
};

/*
 * rmap_walk_ksm() visits the VMA of a fork twice when the child merged
 * the page too (once through each member): count each place once.
 */
static bool ksm_check_seen(struct ksm_rmap_check *c, struct vm_area_struct *vma,
			   unsigned long addr)
{
	unsigned int i;

	for (i = 0; i < c->nr_seen; i++)
		if (c->seen[i][0] == (unsigned long)vma && c->seen[i][1] == addr)
			return true;
	if (c->nr_seen < KSM_CHECK_SEEN) {
		c->seen[c->nr_seen][0] = (unsigned long)vma;
		c->seen[c->nr_seen][1] = addr;
		c->nr_seen++;
	} else {
		pr_warn_once("ksm: rmap_check tells apart only %d mappings of a folio\n",
			     KSM_CHECK_SEEN);
	}
	return false;
}

static bool ksm_check_count(struct folio *folio, struct vm_area_struct *vma,
			    unsigned long addr, void *arg)
{
	DEFINE_FOLIO_VMA_WALK(pvmw, folio, vma, addr, 0);
	struct ksm_rmap_check *c = arg;

	if (ksm_check_seen(c, vma, addr))
		return true;
	/* The walk also matches device entries, which mapcount leaves out. */
	while (page_vma_mapped_walk(&pvmw))
		c->found += pvmw.pte && pte_present(ptep_get(pvmw.pte));
	return true;
}

/*
 * Tenants' mappings of the locked KSM @folio (the pin is not one) that
 * the reverse map does not find: those counted by the mapcount both
 * before and after the walk.
 */
static int ksm_check_missing(struct ksm_rmap_check *c, struct ksm_stable *stable,
			     struct folio *folio)
{
	struct rmap_walk_control rwc = { .rmap_one = ksm_check_count, .arg = c };
	int before = ksm_stable_mapcount(stable, folio);

	c->nr_seen = 0;
	c->found = 0;
	rmap_walk(folio, &rwc);
	return min(before, ksm_stable_mapcount(stable, folio)) - c->found;
}

static void ksm_check_one(struct ksm_stable *stable, void *arg)
{
	struct ksm_rmap_check *c = arg;
	struct folio *folio;
	int tries, missing;

	folio = ksm_stable_folio(stable, true);
	if (IS_ERR(folio))
		return;
	for (tries = 0; tries < KSM_CHECK_TRIES; tries++) {
		missing = ksm_check_missing(c, stable, folio);
		if (missing <= 0)
			break;
		cond_resched();
	}
	c->folios++;
	c->mappings += ksm_stable_mapcount(stable, folio);
	if (missing > 0) {
		c->unfindable += missing;
		pr_err("ksm: %d of %d mappings of KSM page %lx unreachable by rmap (%u members)\n",
		       missing, ksm_stable_mapcount(stable, folio), folio_pfn(folio),
		       stable->nr_members);
		dump_page(&folio->page, "KSM page with unreachable mappings");
	}
	folio_unlock(folio);
	folio_put(folio);
}

static int ksm_rmap_check_show(struct seq_file *m, void *unused)
{
	struct ksm_rmap_check c = { };

	c.seen = kvmalloc_array(KSM_CHECK_SEEN, sizeof(*c.seen), GFP_KERNEL);
	if (!c.seen)
		return -ENOMEM;
	ksm_mutex_lock();
	ksm_stable_walk(ksm_check_one, &c);
	mutex_unlock(&ksm_mutex);
	kvfree(c.seen);
	seq_printf(m, "folios %lu mappings %lu unfindable %lu\n",
		   c.folios, c.mappings, c.unfindable);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ksm_rmap_check);

static int __init ksm_debug_init(void)
{
	struct dentry *dir;

	/* Without a started engine there is no index to walk. */
	if (!ksm_state_is_open())
		return 0;
	dir = debugfs_create_dir("ksm", NULL);

	debugfs_create_file("rmap_check", 0400, dir, NULL, &ksm_rmap_check_fops);
	return 0;
}
late_initcall(ksm_debug_init);
