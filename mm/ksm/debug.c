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
#include <linux/delay.h>
#include <linux/init.h>
#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/seq_file.h>

#include "internal.h"

/*
 * A fork copies page table entries without the folio lock, so the count
 * and the mapcount can disagree for a moment; a folio is reported only if
 * they disagree this many times in a row, a few milliseconds apart.
 */
#define KSM_CHECK_TRIES		5
#define KSM_CHECK_WAIT_MS	20

struct ksm_rmap_check {
	unsigned long folios;
	unsigned long mappings;
	unsigned long unfindable;
};

static bool ksm_check_count(struct folio *folio, struct vm_area_struct *vma,
			    unsigned long addr, void *arg)
{
	DEFINE_FOLIO_VMA_WALK(pvmw, folio, vma, addr, 0);
	int *found = arg;

	while (page_vma_mapped_walk(&pvmw))
		(*found)++;
	return true;
}

/* Mappings of the locked KSM @folio that the reverse map does not find. */
static int ksm_check_missing(struct folio *folio)
{
	struct rmap_walk_control rwc = { .rmap_one = ksm_check_count };
	int found = 0;

	rwc.arg = &found;
	rmap_walk(folio, &rwc);
	return folio_mapcount(folio) - found;
}

static void ksm_check_one(struct ksm_stable *stable, void *arg)
{
	struct ksm_rmap_check *c = arg;
	struct folio *folio;
	int tries, missing;

	for (tries = 0; tries < KSM_CHECK_TRIES; tries++) {
		if (tries)
			msleep(KSM_CHECK_WAIT_MS);
		folio = ksm_stable_folio(stable, true);
		if (IS_ERR(folio))
			return;
		missing = ksm_check_missing(folio);
		if (missing <= 0 || tries == KSM_CHECK_TRIES - 1)
			break;
		folio_unlock(folio);
		folio_put(folio);
	}
	c->folios++;
	c->mappings += folio_mapcount(folio);
	if (missing > 0) {
		c->unfindable += missing;
		pr_err("ksm: %d of %d mappings of KSM page %lx unreachable by rmap (%u members)\n",
		       missing, folio_mapcount(folio), folio_pfn(folio), stable->nr_members);
		dump_page(&folio->page, "KSM page with unreachable mappings");
	}
	folio_unlock(folio);
	folio_put(folio);
}

static int ksm_rmap_check_show(struct seq_file *m, void *unused)
{
	struct ksm_rmap_check c = { };

	ksm_mutex_lock();
	ksm_stable_walk(ksm_check_one, &c);
	mutex_unlock(&ksm_mutex);
	seq_printf(m, "folios %lu mappings %lu unfindable %lu\n",
		   c.folios, c.mappings, c.unfindable);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ksm_rmap_check);

static int __init ksm_debug_init(void)
{
	struct dentry *dir = debugfs_create_dir("ksm", NULL);

	debugfs_create_file("rmap_check", 0400, dir, NULL, &ksm_rmap_check_fops);
	return 0;
}
late_initcall(ksm_debug_init);
