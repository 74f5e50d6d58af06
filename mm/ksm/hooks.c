// SPDX-License-Identifier: GPL-2.0-only
/*
 * The hooks of include/linux/ksm.h that madvise, prctl, fork, execve and
 * exit call: registering an mm, marking its VMAs mergeable, unmerging
 * them again, and letting it go when it exits.
 */
#include <linux/ksm.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/pagewalk.h>
#include <linux/sched/mm.h>
#include <trace/events/ksm.h>

#include "state.h"
#include "scan.h"
#include "unmerge.h"

/**
 * __ksm_enter() - register an mm with KSM
 * @mm: the mm
 *
 * Context: mmap_lock held for writing (madvise, prctl, fork, exec).
 * Return: 0 or -ENOMEM.
 */
int __ksm_enter(struct mm_struct *mm)
{
	bool first;
	int err;

	set_bit(MMF_VM_MERGEABLE, &mm->flags);
	err = ksm_slot_add(mm, &first);
	if (err) {
		clear_bit(MMF_VM_MERGEABLE, &mm->flags);
		return err;
	}
	trace_ksm_enter(mm);
	if (first)
		wake_up_interruptible(&ksm_wait);
	return 0;
}

static int ksm_count_zero_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
			      struct mm_walk *walk)
{
	long *nr = walk->private;
	pte_t *start, *ptep;
	spinlock_t *ptl;	/* of the PTE table */

	start = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!start)
		return 0;
	for (ptep = start; addr < end; ptep++, addr += PAGE_SIZE) {
		pte_t pte = ptep_get(ptep);

		*nr += pte_present(pte) && is_ksm_zero_pte(pte);
	}
	pte_unmap_unlock(start, ptl);
	cond_resched();
	return 0;
}

static const struct mm_walk_ops ksm_count_zero_ops = {
	.pmd_entry = ksm_count_zero_pmd,
	.walk_lock = PGWALK_WRLOCK_VERIFY,
};

/**
 * ksm_fork_zero_pages() - the KSM zero pages a forked child inherited
 * @oldmm: the parent, whose page tables were just copied
 *
 * All of the parent's but those in VMAs whose page tables fork does not
 * copy (MADV_DONTFORK, MADV_WIPEONFORK), which are counted by a walk.
 *
 * Context: oldmm's mmap_lock held for writing, as dup_mmap() holds it.
 * Return: the number of KSM zero pages the child maps.
 */
long ksm_fork_zero_pages(struct mm_struct *oldmm)
{
	long nr = atomic_long_read(&oldmm->ksm_zero_pages), not_copied = 0;
	struct vm_area_struct *vma;

	VMA_ITERATOR(vmi, oldmm, 0);
	mmap_assert_write_locked(oldmm);
	if (!nr)
		return 0;
	for_each_vma(vmi, vma)
		if ((vma->vm_flags & (VM_DONTCOPY | VM_WIPEONFORK)) && vma->anon_vma &&
		    !(vma->vm_flags & (VM_PFNMAP | VM_MIXEDMAP | VM_IO)))
			walk_page_range_vma(vma, vma->vm_start, vma->vm_end,
					    &ksm_count_zero_ops, &not_copied);
	return nr - not_copied;
}

/* Most tracking entries an exiting task drops itself; see __ksm_exit(). */
#define KSM_EXIT_INLINE_ITEMS	512

/* Free the slot of exiting @mm now, if it is off the cursor and has no busy entry. */
static bool ksm_exit_now(struct mm_struct *mm)
{
	struct ksm_slot *slot = ksm_slot_find(mm);

	/* Without a slot, ksmd retired it: nothing is left to free. */
	if (!slot)
		return true;
	if (ksm_slot_is_cursor(slot))
		return false;
	return ksm_slot_reap(slot);
}

/**
 * __ksm_exit() - an mm registered with KSM is exiting
 * @mm: the mm, whose last user is gone
 *
 * An exiting task never waits for ksmd.  If ksm_mutex is free and the mm
 * has at most KSM_EXIT_INLINE_ITEMS tracking entries, the slot and its
 * entries are freed here; otherwise, or if ksmd's cursor is on the slot
 * or one of its KSM folios is busy, the slot stays in the ring and ksmd
 * reaps it.  Inline, the members go before exit_mmap() unmaps their
 * pages, as in 6.12: a migration of a KSM folio in between finds fewer
 * mappings and fails (it is tried again later).  Left to ksmd, they go
 * after, or while, exit_mmap() unmaps the pages: the reverse map then
 * meets anon_vmas without VMAs, which the members keep referenced.  ksmd
 * only touches an mm's page tables while holding a user reference, so
 * it cannot race with the teardown, and a slot without users is never
 * scanned again.
 *
 * Context: may sleep.
 */
void __ksm_exit(struct mm_struct *mm)
{
	bool done = false;

	/*
	 * A large mm (a VM, an OOM victim) is left to ksmd, which drops its
	 * entries in steps that let sysfs writers in: the exit itself never
	 * spends more than a few hundred entries' time on KSM.
	 */
	if (data_race(mm->ksm_rmap_items) <= KSM_EXIT_INLINE_ITEMS &&
	    mutex_trylock(&ksm_mutex)) {
		done = ksm_exit_now(mm);
		mutex_unlock(&ksm_mutex);
	}
	if (!done)
		ksm_exit_defer();
	trace_ksm_exit(mm);
}

/*
 * VMA eligibility: only private anonymous memory (and private COW copies
 * of file pages) is ever merged.  Advice on anything else is accepted and
 * ignored.  Architecture flags with special access semantics (powerpc
 * strong access ordering, sparc ADI tags) exclude a VMA as well.
 */
#if defined(VM_SAO)
#define KSM_ARCH_EXCLUDED	VM_SAO
#elif defined(VM_SPARC_ADI)
#define KSM_ARCH_EXCLUDED	VM_SPARC_ADI
#else
#define KSM_ARCH_EXCLUDED	VM_NONE
#endif

#define KSM_EXCLUDED_FLAGS	(VM_SHARED | VM_MAYSHARE | VM_HUGETLB | VM_DROPPABLE | \
				 VM_PFNMAP | VM_MIXEDMAP | VM_IO | VM_DONTEXPAND | \
				 KSM_ARCH_EXCLUDED)

static bool ksm_vma_eligible(struct vm_area_struct *vma)
{
	return !(vma->vm_flags & KSM_EXCLUDED_FLAGS) && !vma_is_dax(vma);
}

static void ksm_vma_enable(struct vm_area_struct *vma)
{
	if (ksm_vma_eligible(vma))
		vm_flags_set(vma, VM_MERGEABLE);
}

/*
 * Unmerge a VMA and clear its mark; it stays marked if unmerging fails.
 * The VMA is write-locked first, as for MADV_UNMERGEABLE: a fault under
 * the VMA lock alone (a swap-in maps a KSM folio again) must not refill
 * an address the walk has passed, or the VMA would lose its mark with a
 * KSM mapping inside, which ksmd would then forget.
 */
static int ksm_vma_disable(struct vm_area_struct *vma)
{
	int err = 0;

	mmap_assert_write_locked(vma->vm_mm);
	if (vma->vm_flags & VM_MERGEABLE) {
		if (vma->anon_vma) {
			vma_start_write(vma);
			err = ksm_unmerge_range(vma, vma->vm_start, vma->vm_end);
		}
		if (!err)
			vm_flags_clear(vma, VM_MERGEABLE);
	}
	return err;
}

/* Register @mm unless it already is. */
static int ksm_ensure_registered(struct mm_struct *mm)
{
	mmap_assert_write_locked(mm);
	return test_bit(MMF_VM_MERGEABLE, &mm->flags) ? 0 : __ksm_enter(mm);
}

/**
 * ksm_add_vma() - mark a new VMA of a merge-any process mergeable
 * @vma: the VMA
 *
 * Context: mmap_lock held for writing.
 */
void ksm_add_vma(struct vm_area_struct *vma)
{
	if (test_bit(MMF_VM_MERGE_ANY, &vma->vm_mm->flags)) {
		ksm_vma_enable(vma);
		ksm_ensure_registered(vma->vm_mm);
	}
}

/*
 * Mark every eligible VMA of @mm mergeable, or unmerge and unmark them
 * all, stopping at the first error.
 */
static int ksm_apply_to_vmas(struct mm_struct *mm, bool mergeable)
{
	struct vm_area_struct *vma;
	int err = 0;

	VMA_ITERATOR(vmi, mm, 0);
	for_each_vma(vmi, vma) {
		if (mergeable)
			ksm_vma_enable(vma);
		else
			err = ksm_vma_disable(vma);
		if (err)
			break;
	}
	return err;
}

/**
 * ksm_enable_merge_any() - PR_SET_MEMORY_MERGE=1: merge all of an mm
 * @mm: the mm
 *
 * Context: mmap_lock held for writing.
 * Return: 0 or -ENOMEM.
 */
int ksm_enable_merge_any(struct mm_struct *mm)
{
	int err = 0;

	if (!test_bit(MMF_VM_MERGE_ANY, &mm->flags)) {
		err = ksm_ensure_registered(mm);
		if (!err) {
			set_bit(MMF_VM_MERGE_ANY, &mm->flags);
			ksm_apply_to_vmas(mm, true);
		}
	}
	return err;
}

/**
 * ksm_disable_merge_any() - PR_SET_MEMORY_MERGE=0: unmerge and stop
 * @mm: the mm
 *
 * Either every VMA is unmerged and the mm leaves merge-any mode, or, on
 * error, every eligible VMA is left mergeable as it was.
 *
 * Context: mmap_lock held for writing.
 * Return: 0, -ENOMEM or -ERESTARTSYS.
 */
int ksm_disable_merge_any(struct mm_struct *mm)
{
	int err;

	if (!test_bit(MMF_VM_MERGE_ANY, &mm->flags))
		return 0;
	err = ksm_apply_to_vmas(mm, false);
	if (err)
		ksm_apply_to_vmas(mm, true);
	else
		clear_bit(MMF_VM_MERGE_ANY, &mm->flags);
	return err;
}

/**
 * ksm_disable() - unmerge an mm and stop merging it
 * @mm: the mm
 *
 * Context: mmap_lock held for writing.
 * Return: 0 or the error of unmerging.
 */
int ksm_disable(struct mm_struct *mm)
{
	mmap_assert_write_locked(mm);
	if (test_bit(MMF_VM_MERGE_ANY, &mm->flags))
		return ksm_disable_merge_any(mm);
	if (test_bit(MMF_VM_MERGEABLE, &mm->flags))
		return ksm_apply_to_vmas(mm, false);
	return 0;
}

/**
 * ksm_madvise() - MADV_MERGEABLE and MADV_UNMERGEABLE on a VMA
 * @vma: the VMA
 * @start: start of the advised range in it
 * @end: end of the range
 * @advice: MADV_MERGEABLE or MADV_UNMERGEABLE
 * @vm_flags: the VMA's new flags, updated here
 *
 * Context: mmap_lock held for writing.
 * Return: 0, or -ENOMEM, -ERESTARTSYS when unmerging fails.
 */
int ksm_madvise(struct vm_area_struct *vma, unsigned long start,
		unsigned long end, int advice, unsigned long *vm_flags)
{
	int err = 0;

	if (advice == MADV_MERGEABLE) {
		/* Ineligible VMAs are silently left out. */
		if (!(vma->vm_flags & VM_MERGEABLE) && ksm_vma_eligible(vma)) {
			err = ksm_ensure_registered(vma->vm_mm);
			if (!err)
				*vm_flags |= VM_MERGEABLE;
		}
	} else if (advice == MADV_UNMERGEABLE && (*vm_flags & VM_MERGEABLE)) {
		/*
		 * Without an anon_vma the range holds no KSM page.  Faults
		 * under the VMA lock (a swap-in can map a KSM folio) must
		 * not refill what the walk left behind: mremap moves the
		 * range next, and the reverse map would lose what it moved.
		 */
		if (vma->anon_vma) {
			vma_start_write(vma);
			err = ksm_unmerge_range(vma, start, end);
		}
		if (!err)
			*vm_flags &= ~VM_MERGEABLE;
	}
	return err;
}
EXPORT_SYMBOL_GPL(ksm_madvise);

/**
 * ksm_process_profit() - memory KSM saves an mm, net of its metadata
 * @mm: the mm
 *
 * Return: bytes saved, possibly negative.
 */
long ksm_process_profit(struct mm_struct *mm)
{
	return (long)(mm->ksm_merging_pages + mm_ksm_zero_pages(mm)) * PAGE_SIZE -
	       (long)(mm->ksm_rmap_items * KSM_ENTRY_BYTES);
}
