// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unmerging: give every mapping of a KSM folio, and every zero page KSM
 * placed, a private copy again.
 *
 * A page-table walk finds the next such mappings in a range, up to a
 * batch of them in one hold of the table lock; an unsharing fault
 * (FAULT_FLAG_UNSHARE) then replaces each.  Unsharing is not a write: it
 * keeps userfaultfd write protection and dirty state as they were.
 */
#include <linux/ksm.h>
#include <linux/mm.h>
#include <linux/pagewalk.h>
#include <linux/sched/signal.h>
#include <linux/swap.h>
#include <linux/swapops.h>

#include "state.h"
#include "unmerge.h"

/*
 * A KSM folio being migrated is mapped by a migration entry, which a
 * move of the range (mremap unmerges first) would carry to where no
 * member records it: the entry would outlive the migration.  Such a
 * mapping counts as merged; the unsharing fault waits for the migration
 * to end, and the walk then looks at the address again.  The folio is
 * locked as long as the entry exists, and the caller holds the PTL.
 */
static bool ksm_pte_migrating(pte_t pte)
{
	swp_entry_t entry;

	if (!is_swap_pte(pte))
		return false;
	entry = pte_to_swp_entry(pte);
	return is_migration_entry(entry) && folio_test_ksm(pfn_swap_entry_folio(entry));
}

/* Is the present PTE a mapping that unmerging must replace? */
static bool ksm_pte_merged(struct vm_area_struct *vma, unsigned long addr, pte_t pte)
{
	struct page *page;

	if (!pte_present(pte))
		return false;
	if (is_ksm_zero_pte(pte))
		return true;
	page = vm_normal_page(vma, addr, pte);
	return page && folio_test_ksm(page_folio(page));
}

#define KSM_UNMERGE_BATCH	32

/**
 * struct ksm_merged - merged mappings found by one walk
 * @nr: how many
 * @addr: their addresses, ascending
 */
struct ksm_merged {
	unsigned int nr;
	unsigned long addr[KSM_UNMERGE_BATCH];
};

static int ksm_find_merged_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
			       struct mm_walk *walk)
{
	struct ksm_merged *found = walk->private;
	pte_t *start, *ptep;
	spinlock_t *ptl;	/* of the PTE table */

	/* KSM folios are never PMD-mapped. */
	start = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!start)
		return 0;
	for (ptep = start; addr < end && found->nr < KSM_UNMERGE_BATCH;
	     ptep++, addr += PAGE_SIZE) {
		pte_t pte = ptep_get(ptep);

		if (!ksm_pte_migrating(pte) && !ksm_pte_merged(walk->vma, addr, pte))
			continue;
		found->addr[found->nr++] = addr;
	}
	pte_unmap_unlock(start, ptl);
	/* Stop at the end of a table that had some, so they are near. */
	if (found->nr)
		return 1;
	/* A long range without any may take a while to walk. */
	cond_resched();
	return 0;
}

static const struct mm_walk_ops ksm_find_merged_ops = {
	.pmd_entry = ksm_find_merged_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

/*
 * Unmerge [@start, @end) of @vma; addresses whose page cannot be copied
 * (poisoned, or a fault that failed otherwise) are left merged and
 * counted in *@skipped.
 */
static int ksm_unmerge_walk(struct vm_area_struct *vma, unsigned long start,
			    unsigned long end, unsigned long *skipped)
{
	unsigned long counted = start;	/* skipped addresses below it are counted */
	struct ksm_merged found;

	mmap_assert_locked(vma->vm_mm);
	while (start < end) {
		unsigned long again = 0;
		unsigned int i;

		found.nr = 0;
		if (walk_page_range_vma(vma, start, end, &ksm_find_merged_ops, &found) <= 0)
			return 0;
		for (i = 0; i < found.nr; i++) {
			vm_fault_t ret;

			if (signal_pending(current))
				return -ERESTARTSYS;
			ret = handle_mm_fault(vma, found.addr[i],
					      FAULT_FLAG_UNSHARE | FAULT_FLAG_REMOTE, NULL);
			if (ret & VM_FAULT_OOM)
				return -ENOMEM;
			/*
			 * A fault may back out and leave the page merged: a
			 * raced PTE, a NUMA hinting entry, a migration that
			 * was waited for.  Such addresses are looked at again.
			 * A poisoned page cannot be copied: it is skipped.
			 */
			if (ret & VM_FAULT_ERROR) {
				/* The walk may come back here after a backed-out fault. */
				if (found.addr[i] >= counted) {
					(*skipped)++;
					counted = found.addr[i] + PAGE_SIZE;
				}
			} else if (!again) {
				again = found.addr[i];
			}
			cond_resched();
		}
		start = again ?: found.addr[found.nr - 1] + PAGE_SIZE;
	}
	return 0;
}

/**
 * ksm_unmerge_range() - unmerge every KSM mapping in part of a VMA
 * @vma: the VMA
 * @start: start of the range
 * @end: end of the range
 *
 * A poisoned KSM page cannot be copied: its mapping stays and the range
 * counts as unmerged (6.12 instead retries until memory failure has
 * unmapped the page).
 *
 * Context: mmap_lock of @vma's mm held; may sleep.
 * Return: 0; -ENOMEM if a copy could not be allocated; -ERESTARTSYS if a
 * signal is pending.  Mappings unmerged before an error stay unmerged.
 */
int ksm_unmerge_range(struct vm_area_struct *vma, unsigned long start,
		      unsigned long end)
{
	unsigned long skipped = 0;

	return ksm_unmerge_walk(vma, start, end, &skipped);
}

/**
 * ksm_unmerge_mm() - unmerge every mergeable VMA of an mm (run=2)
 * @mm: the mm, with a user reference
 * @skipped: points to an unsigned long that counts the mappings left merged
 *	(poisoned KSM pages)
 *
 * Context: ksm_mutex held; may sleep.
 * Return: 0, -ENOMEM or -ERESTARTSYS (see ksm_unmerge_range()).
 */
int ksm_unmerge_mm(struct mm_struct *mm, void *skipped)
{
	struct vm_area_struct *vma;
	int err = 0;

	VMA_ITERATOR(vmi, mm, 0);
	mmap_read_lock(mm);
	for_each_vma(vmi, vma) {
		if (!(vma->vm_flags & VM_MERGEABLE) || !vma->anon_vma)
			continue;
		err = ksm_unmerge_walk(vma, vma->vm_start, vma->vm_end, skipped);
		if (err)
			break;
	}
	mmap_read_unlock(mm);
	return err;
}
