// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the rest of mm asks of KSM folios: the reverse map (reclaim,
 * migration, compaction, idle tracking), migration of the folio itself,
 * memory-failure handling, and the copy decision at swap-in.
 *
 * A KSM folio keeps no anon_vma of its own.  Each member remembers the
 * anon_vma of the VMA it was merged in; the reverse map looks at every
 * VMA of that anon_vma that covers the member's address, which also finds
 * the mappings that fork copied after the merge.
 */
#include <linux/highmem.h>
#include <linux/ksm.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/sched/signal.h>
#include <linux/swap.h>
#include <linux/vmstat.h>

#include "../internal.h"
#include "state.h"
#include "stable.h"

/*
 * Visit the VMAs of one member.  The first round takes only the VMA of
 * the mm that was merged, the second one the VMAs of other mms (forks),
 * so that the common case is served first.  Returns false to stop.
 */
static bool ksm_rmap_member(struct folio *folio, struct ksm_member *m,
			    struct rmap_walk_control *rwc, bool forks)
{
	struct anon_vma *anon_vma = m->anon_vma;
	struct anon_vma_chain *avc;
	bool more = true;

	if (!anon_vma_trylock_read(anon_vma)) {
		if (rwc->try_lock) {
			rwc->contended = true;
			return false;
		}
		anon_vma_lock_read(anon_vma);
	}
	anon_vma_interval_tree_foreach(avc, &anon_vma->rb_root, 0, ULONG_MAX) {
		struct vm_area_struct *vma = avc->vma;
		bool merged_here = vma->vm_mm == m->slot->mm;

		cond_resched();
		if (m->addr < vma->vm_start || m->addr >= vma->vm_end)
			continue;
		if (merged_here == forks)
			continue;
		if (rwc->invalid_vma && rwc->invalid_vma(vma, rwc->arg))
			continue;
		if (!rwc->rmap_one(folio, vma, m->addr, rwc->arg) ||
		    (rwc->done && rwc->done(folio))) {
			more = false;
			break;
		}
	}
	anon_vma_unlock_read(anon_vma);
	return more;
}

/**
 * rmap_walk_ksm() - call @rwc->rmap_one for every mapping of a KSM folio
 * @folio: the KSM folio, locked
 * @rwc: the walk control
 *
 * The folio lock keeps the member list stable: ksmd changes it only with
 * the folio locked.
 */
void rmap_walk_ksm(struct folio *folio, struct rmap_walk_control *rwc)
{
	struct ksm_stable *stable;
	struct ksm_member *m;
	int forks;

	VM_WARN_ON_ONCE_FOLIO(!folio_test_ksm(folio), folio);
	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(folio), folio);

	stable = ksm_folio_stable(folio);
	if (!stable)
		return;
	for (forks = 0; forks < 2; forks++) {
		hlist_for_each_entry(m, &stable->members, link) {
			cond_resched();
			if (!ksm_rmap_member(folio, m, rwc, forks))
				return;
		}
	}
}

#ifdef CONFIG_MEMORY_FAILURE
/**
 * collect_procs_ksm() - list the processes that map a poisoned KSM page
 * @folio: the KSM folio
 * @page: the poisoned page
 * @to_kill: list to add them to
 * @force_early: kill at once even if the process did not ask for early
 *	kills
 */
void collect_procs_ksm(struct folio *folio, struct page *page,
		       struct list_head *to_kill, int force_early)
{
	struct ksm_stable *stable = ksm_folio_stable(folio);
	struct ksm_member *m;

	if (!stable)
		return;
	hlist_for_each_entry(m, &stable->members, link) {
		struct anon_vma *anon_vma = m->anon_vma;
		struct task_struct *tsk;

		anon_vma_lock_read(anon_vma);
		rcu_read_lock();
		for_each_process(tsk) {
			struct task_struct *t = task_early_kill(tsk, force_early);
			struct anon_vma_chain *avc;

			if (!t)
				continue;
			anon_vma_interval_tree_foreach(avc, &anon_vma->rb_root, 0, ULONG_MAX) {
				struct vm_area_struct *vma = avc->vma;

				if (vma->vm_mm == t->mm &&
				    m->addr >= vma->vm_start && m->addr < vma->vm_end)
					add_to_kill_ksm(t, page, vma, to_kill, m->addr);
			}
		}
		rcu_read_unlock();
		anon_vma_unlock_read(anon_vma);
	}
}
#endif

#ifdef CONFIG_MIGRATION
/**
 * folio_migrate_ksm() - hand a KSM folio's node over to its new copy
 * @newfolio: the new folio, locked, already given the old ->mapping
 * @folio: the old folio, locked
 *
 * The node's pfn moves first; only then, after a write barrier, is the
 * old folio detached, so that ksm_stable_folio() never sees a detached
 * old folio without also seeing the new pfn.
 */
void folio_migrate_ksm(struct folio *newfolio, struct folio *folio)
{
	struct ksm_stable *stable = ksm_folio_stable(folio);

	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(folio), folio);
	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(newfolio), newfolio);
	if (!stable)
		return;
	VM_WARN_ON_ONCE_FOLIO(stable->kpfn != folio_pfn(folio), folio);
	WRITE_ONCE(stable->kpfn, folio_pfn(newfolio));
	smp_wmb();	/* pairs with smp_rmb() in ksm_stable_moved() */
	ksm_folio_set_stable(folio, NULL);
}
#endif

/*
 * Members a swap-in looks at, at most: with max_page_sharing raised far
 * above its default of 256, a folio may have very many, and swapping in
 * each of its mappings must not cost a walk of all of them.
 */
#define KSM_SWAPIN_MEMBERS	1024

/*
 * Would rmap_walk_ksm() find a mapping of the locked KSM @folio at @addr
 * of @vma: does a member record @addr with an anon_vma whose tree holds
 * @vma?  Not after mremap moved a VMA with swap entries of KSM folios
 * (move_vma() unmerges only what is present), nor where another VMA took
 * the place of the one a member was made in.  Past KSM_SWAPIN_MEMBERS,
 * the answer is no: the swap-in then copies, which is always safe.
 */
static bool ksm_member_covers(struct folio *folio, struct vm_area_struct *vma,
			      unsigned long addr)
{
	struct ksm_stable *stable = ksm_folio_stable(folio);
	unsigned int looked = 0;
	struct anon_vma_chain *avc;
	struct ksm_member *m;

	hlist_for_each_entry(m, &stable->members, link) {
		if (++looked > KSM_SWAPIN_MEMBERS)
			break;
		if (m->addr != addr)
			continue;
		/* The fault's VMA lock keeps the chain as it is. */
		list_for_each_entry(avc, &vma->anon_vma_chain, same_vma)
			if (avc->anon_vma == m->anon_vma)
				return true;
	}
	return false;
}

/* Can the swapped-in @folio be mapped at @addr of @vma as it is? */
static bool ksm_swapin_reusable(struct folio *folio, struct vm_area_struct *vma,
				unsigned long addr)
{
	struct anon_vma *anon_vma;

	if (folio_test_large(folio))
		return true;
	/*
	 * A KSM folio is mapped again only where ksmd may track it: not
	 * while run=2 unmerges everything, not in a VMA that stopped being
	 * mergeable (its swap entries outlive the unmerge walk), only where
	 * the reverse map will find the mapping, and only in its merge
	 * domain (a process that moved, a fork child in process domains).
	 */
	if (folio_test_ksm(folio))
		return ksm_folio_stable(folio) && (vma->vm_flags & VM_MERGEABLE) &&
		       !(READ_ONCE(ksm_knobs.run) & KSM_RUN_UNMERGE) &&
		       ksm_member_covers(folio, vma, addr & PAGE_MASK) &&
		       ksm_mm_in_domain(vma->vm_mm, ksm_folio_stable(folio)->domain);
	anon_vma = folio_anon_vma(folio);
	if (!anon_vma)
		return true;
	return folio->index == linear_page_index(vma, addr) &&
	       anon_vma->root == vma->anon_vma->root;
}

/**
 * ksm_might_need_to_copy() - give swap-in a folio it may map at @addr
 * @folio: the folio found in the swap cache, locked
 * @vma: the faulting VMA
 * @addr: the faulting address
 *
 * A KSM folio that lost its node or whose members do not record this
 * mapping, or an anonymous folio that belongs to another anon_vma or
 * offset (a former KSM page), cannot simply be mapped here: the mapping
 * gets a private copy and ksmd merges it again later.
 *
 * Return: @folio if it can be used as it is; a new locked, uptodate copy;
 * NULL if no memory; ERR_PTR(-EHWPOISON) if the page is poisoned.
 */
struct folio *ksm_might_need_to_copy(struct folio *folio,
				     struct vm_area_struct *vma, unsigned long addr)
{
	struct page *page = folio_page(folio, 0);
	struct folio *copy;

	if (ksm_swapin_reusable(folio, vma, addr))
		return folio;
	if (PageHWPoison(page))
		return ERR_PTR(-EHWPOISON);
	if (!folio_test_uptodate(folio))
		return folio;	/* do_swap_page() reports the error */

	copy = vma_alloc_folio(GFP_HIGHUSER_MOVABLE, 0, vma, addr, false);
	if (!copy)
		return NULL;
	if (mem_cgroup_charge(copy, vma->vm_mm, GFP_KERNEL)) {
		folio_put(copy);
		return NULL;
	}
	if (copy_mc_user_highpage(folio_page(copy, 0), page, addr, vma)) {
		folio_put(copy);
		return ERR_PTR(-EHWPOISON);
	}
	folio_set_dirty(copy);
	__folio_mark_uptodate(copy);
	__folio_set_locked(copy);
#ifdef CONFIG_SWAP
	count_vm_event(KSM_SWPIN_COPY);
#endif
	return copy;
}
