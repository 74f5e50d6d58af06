// SPDX-License-Identifier: GPL-2.0-only
/*
 * Merging: the page-table operations that turn an anonymous page into a
 * KSM folio, map a page's address to a KSM folio (or to the shared zero
 * page) instead, and split a large folio when one of its pages is about
 * to be merged.
 *
 * Every function here works on one mapping of one small folio that the
 * caller holds locked and referenced, under the mm's mmap_lock.
 */
#include <linux/highmem.h>
#include <linux/huge_mm.h>
#include <linux/ksm.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/swap.h>

#include "../internal.h"
#include "state.h"
#include "content.h"
#include "frames.h"
#include "stable.h"
#include "merge.h"

/*
 * page_vma_mapped_walk() also matches device-private and device-exclusive
 * swap entries of the folio (the entry may have replaced the PTE the scan
 * saw before the folio was locked): only a present PTE can be merged.
 */
static bool ksm_walk_present(struct page_vma_mapped_walk *pvmw)
{
	return pte_present(ptep_get(pvmw->pte));
}

/*
 * Make the mapping of @folio at @addr read-only and clean, and check that
 * nobody but its mappings and the caller holds the folio: a GUP pin or
 * an I/O in flight may write the page behind our back.  The PTE is
 * cleared and the TLB flushed before the check, so that GUP-fast can no
 * longer find the page while we look.
 */
static int ksm_wrprotect(struct vm_area_struct *vma, unsigned long addr,
			 struct folio *folio)
{
	DEFINE_FOLIO_VMA_WALK(pvmw, folio, vma, addr, 0);
	struct mm_struct *mm = vma->vm_mm;
	struct mmu_notifier_range range;
	int err = -EFAULT;
	bool exclusive;
	pte_t pte;

	if (WARN_ON_ONCE(folio_test_large(folio)))
		return -EINVAL;
	mmap_assert_locked(mm);
	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(folio), folio);

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, addr, addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	if (!page_vma_mapped_walk(&pvmw))
		goto out;
	if (WARN_ON_ONCE(!pvmw.pte) || !ksm_walk_present(&pvmw))
		goto out_walk;

	/*
	 * The reference count is checked even when the PTE is read-only and
	 * clean already: a reference taken for writing before it was
	 * write-protected (an old FOLL_GET user, an I/O in flight) may
	 * still write the page.
	 */
	exclusive = PageAnonExclusive(&folio->page);
	flush_cache_page(vma, addr, folio_pfn(folio));
	pte = ptep_clear_flush(vma, addr, pvmw.pte);
	if (folio_ref_count(folio) != folio_mapcount(folio) + 1 + !!folio_test_swapcache(folio) ||
	    (exclusive && folio_try_share_anon_rmap_pte(folio, &folio->page))) {
		set_pte_at(mm, addr, pvmw.pte, pte);
		err = -EBUSY;
		goto out_walk;
	}
	if (pte_dirty(pte))
		folio_mark_dirty(folio);
	set_pte_at(mm, addr, pvmw.pte, pte_wrprotect(pte_mkclean(pte)));
	err = 0;
out_walk:
	page_vma_mapped_walk_done(&pvmw);
out:
	mmu_notifier_invalidate_range_end(&range);
	return err;
}

/* The PTE that maps @kpage (a KSM folio's page or the zero page) for @vma. */
static pte_t ksm_map_kpage(struct vm_area_struct *vma, unsigned long addr,
			   struct page *kpage)
{
	struct folio *kfolio = page_folio(kpage);

	if (is_zero_pfn(page_to_pfn(kpage))) {
		/* The dirty bit marks a zero page that KSM placed. */
		ksm_map_zero_page(vma->vm_mm);
		dec_mm_counter(vma->vm_mm, MM_ANONPAGES);
		return pte_mkdirty(pte_mkspecial(pfn_pte(page_to_pfn(kpage), vma->vm_page_prot)));
	}
	folio_get(kfolio);
	folio_add_anon_rmap_pte(kfolio, kpage, vma, addr, RMAP_NONE);
	return mk_pte(kpage, vma->vm_page_prot);
}

/*
 * The PTE bits a mapping keeps when its page is replaced: soft-dirty (a
 * checkpoint tool must still see that the page was written since it
 * cleared the bits) and userfaultfd write protection.
 */
static pte_t ksm_carry_pte_bits(pte_t old, pte_t new)
{
	if (pte_soft_dirty(old))
		new = pte_mksoft_dirty(new);
	if (pte_uffd_wp(old))
		new = pte_mkuffd_wp(new);
	return new;
}

/*
 * Map @kpage where @folio is mapped at @addr, if the two pages are
 * identical.  All of it happens in one hold of the PTE table lock: the
 * PTE is cleared and the TLB flushed (GUP-fast can no longer find the
 * page), nobody but the mappings and the caller may hold @folio (a pin
 * or an I/O in flight could still write it), the contents are compared,
 * and the PTE is pointed at @kpage.  @kpage is write-protected already,
 * so both contents are frozen while they are compared.  If anything
 * fails, the PTE is put back exactly as it was, write permission
 * included.  (The host page of a new KSM folio is write-protected before
 * this switch, see ksm_merge_two(): the scanner compares the two pages
 * first, so that only a write racing with the merge can leave the host
 * write-protected for nothing.)  With @stable, @kpage's
 * folio becomes the KSM folio of @stable just before it gains the
 * mapping: a new KSM folio never exists without its partner.  Both pages
 * are read-only with equal content, so no secondary MMU needs more than
 * the invalidation around the switch.
 */
static int ksm_switch_pte(struct vm_area_struct *vma, unsigned long addr,
			  struct folio *folio, struct page *kpage,
			  struct ksm_stable *stable)
{
	DEFINE_FOLIO_VMA_WALK(pvmw, folio, vma, addr, 0);
	struct mm_struct *mm = vma->vm_mm;
	struct mmu_notifier_range range;
	int err = -EAGAIN;
	bool exclusive;
	pte_t pte, newpte;

	if (WARN_ON_ONCE(folio_test_large(folio)))
		return -EINVAL;
	mmap_assert_locked(mm);
	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(folio), folio);

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, addr, addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	if (!page_vma_mapped_walk(&pvmw))
		goto out;
	if (WARN_ON_ONCE(!pvmw.pte) || !ksm_walk_present(&pvmw))
		goto out_walk;

	exclusive = PageAnonExclusive(&folio->page);
	flush_cache_page(vma, addr, folio_pfn(folio));
	pte = ptep_clear_flush(vma, addr, pvmw.pte);
	if (folio_ref_count(folio) != folio_mapcount(folio) + 1 + !!folio_test_swapcache(folio)) {
		err = -EBUSY;
		goto out_restore;
	}
	if (!ksm_pages_identical(&folio->page, kpage)) {
		err = -ENOENT;
		goto out_restore;
	}
	if (exclusive && folio_try_share_anon_rmap_pte(folio, &folio->page)) {
		err = -EBUSY;
		goto out_restore;
	}
	if (pte_dirty(pte))
		folio_mark_dirty(folio);

	if (stable) {
		ksm_folio_set_stable(page_folio(kpage), stable);
		stable->kpfn = folio_pfn(page_folio(kpage));
	}
	newpte = ksm_carry_pte_bits(pte, ksm_map_kpage(vma, addr, kpage));
	set_pte_at(mm, addr, pvmw.pte, newpte);

	folio_remove_rmap_pte(folio, &folio->page, vma);
	if (!folio_mapped(folio))
		folio_free_swap(folio);
	folio_put(folio);
	err = 0;
	goto out_walk;
out_restore:
	set_pte_at(mm, addr, pvmw.pte, pte);
out_walk:
	page_vma_mapped_walk_done(&pvmw);
out:
	mmu_notifier_invalidate_range_end(&range);
	return err;
}

/**
 * ksm_merge_two() - merge two anonymous pages into a new KSM folio
 * @vma: the VMA mapping @page
 * @page: the page that becomes the KSM folio; small, locked, referenced
 * @pvma: the VMA mapping @ppage
 * @ppage: the partner page, mapped to @page instead; small, locked,
 *	referenced
 * @stable: the node of the new KSM folio
 *
 * @page is write-protected first, then the partner's mapping is switched
 * to it if the two are identical (see ksm_switch_pte()).  If the merge
 * fails after that, @page stays an ordinary page, write-protected.
 *
 * Context: mmap_lock of both mms held.
 * Return: 0; -ENOENT if the contents differ; -EAGAIN if the partner
 * cannot be merged now (pinned, its mapping changed); -EBUSY if @page
 * cannot be merged now.
 */
int ksm_merge_two(struct vm_area_struct *vma, struct page *page,
		  struct vm_area_struct *pvma, struct page *ppage,
		  struct ksm_stable *stable)
{
	unsigned long addr = page_address_in_vma(page, vma);
	unsigned long paddr = page_address_in_vma(ppage, pvma);
	struct folio *folio = page_folio(page);
	int err;

	if (addr == -EFAULT || ksm_wrprotect(vma, addr, folio))
		return -EBUSY;
	if (paddr == -EFAULT)
		return -EAGAIN;
	err = ksm_switch_pte(pvma, paddr, page_folio(ppage), page, stable);
	if (err)
		return err == -ENOENT ? err : -EAGAIN;
	folio_mark_accessed(folio);
	/*
	 * A KSM folio stays dirty until it is written to swap: reclaim drops
	 * a clean folio that MADV_FREE made lazily freed, and mappings that
	 * merge with it later would lose their data.  MADV_FREE leaves the
	 * dirty flag of a KSM folio alone for that reason.
	 */
	folio_mark_dirty(folio);
	return 0;
}

/**
 * ksm_merge_page() - map a KSM folio where a page with equal content was
 * @vma: the VMA mapping @page
 * @page: the page to replace, a small folio, locked and referenced
 * @kpage: the KSM folio's page (or the shared zero page), referenced
 *
 * Only identical content is ever merged: the comparison happens with the
 * page's mapping taken away (see ksm_switch_pte()).
 *
 * Context: mmap_lock of @vma's mm held.
 * Return: 0; -ENOENT if the contents differ; -EAGAIN if the PTE changed;
 * -EBUSY if the page is pinned; another negative error if the page
 * cannot be merged now.
 */
int ksm_merge_page(struct vm_area_struct *vma, struct page *page,
		   struct page *kpage)
{
	unsigned long addr = page_address_in_vma(page, vma);
	int err;

	if (addr == -EFAULT)
		return -EFAULT;
	if (page == kpage)
		return 0;
	err = ksm_switch_pte(vma, addr, page_folio(page), kpage, NULL);
	if (!err && !is_zero_pfn(page_to_pfn(kpage)))
		folio_mark_accessed(page_folio(kpage));
	return err;
}

/**
 * ksm_fresh_frame() - a fresh frame for a page to move to, charged
 * @vma: the VMA mapping @page
 * @page: the page that will move to it
 *
 * The frame comes from ksm_frame_take() and is charged to @vma's memory
 * cgroup, as the page it replaces is.  Call it before the page is locked:
 * the charge may reclaim a little (never to the point of an OOM kill).
 *
 * Context: ksm_mutex and the mmap_lock of @vma's mm held; may sleep.
 * Return: an order-0 folio holding one reference, or NULL.
 */
struct folio *ksm_fresh_frame(struct vm_area_struct *vma, struct page *page)
{
	struct folio *kfolio = ksm_frame_take(page_to_nid(page));

	if (kfolio && mem_cgroup_charge(kfolio, vma->vm_mm,
					GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN)) {
		folio_put(kfolio);
		kfolio = NULL;
	}
	return kfolio;
}

/**
 * ksm_merge_fresh() - move a page to a new KSM folio of a fresh frame
 * @vma: the VMA mapping @page
 * @page: the page, a small folio, locked and referenced
 * @kfolio: the frame, from ksm_fresh_frame(); the caller's reference is
 *	consumed on failure
 * @stable: the node of the new KSM folio
 *
 * Hardened mode's way to make a KSM folio, with or without a twin:
 * @kfolio gets a copy of @page and replaces @page's mapping if the copy
 * still equals it with the mapping taken away (see ksm_switch_pte()).
 * @page is never write-protected in place: it is freed once the caller
 * lets it go.
 *
 * Context: mmap_lock of @vma's mm held.
 * Return: 0, with @kfolio a KSM folio, locked and still holding the
 * caller's reference; -EHWPOISON if @page could not be read, or the
 * error of ksm_merge_page().
 */
int ksm_merge_fresh(struct vm_area_struct *vma, struct page *page, struct folio *kfolio,
		    struct ksm_stable *stable)
{
	unsigned long addr = page_address_in_vma(page, vma);
	int err;

	if (addr == -EFAULT) {
		folio_put(kfolio);
		return -EFAULT;
	}
	/* A poisoned page is not copied: memory failure takes care of it. */
	if (copy_mc_user_highpage(folio_page(kfolio, 0), page, addr, vma)) {
		folio_put(kfolio);
		return -EHWPOISON;
	}
	__folio_mark_uptodate(kfolio);
	__folio_set_locked(kfolio);
	__folio_set_swapbacked(kfolio);
	/*
	 * On the LRU before it is mapped, as a new anonymous folio is: the
	 * mapping then mlocks it like any other page of a VM_LOCKED VMA.
	 */
	folio_add_lru(kfolio);
	err = ksm_switch_pte(vma, addr, page_folio(page), folio_page(kfolio, 0), stable);
	if (err) {
		folio_unlock(kfolio);
		folio_put(kfolio);
		return err;
	}
	/* Dirty for as long as it lives unswapped: see ksm_merge_two(). */
	folio_mark_dirty(kfolio);
	folio_mark_accessed(kfolio);
	return 0;
}

/**
 * ksm_merge_zero() - map the shared zero page where an all-zero page was
 * @vma: the VMA mapping @page
 * @page: the page, a small folio, locked and referenced
 *
 * Context: mmap_lock of @vma's mm held.
 * Return: 0 or a negative error.
 */
int ksm_merge_zero(struct vm_area_struct *vma, struct page *page)
{
	unsigned long addr = page_address_in_vma(page, vma);

	if (addr == -EFAULT)
		return -EFAULT;
	return ksm_merge_page(vma, page, ZERO_PAGE(addr));
}

/**
 * ksm_split_for_merge() - split the large folio of a page about to merge
 * @page: a page of a large folio that is locked and holds exactly one
 *	reference of the caller's
 *
 * On success the caller's lock and reference now belong to the small
 * folio of @page; the other pages of the old folio are neither locked
 * nor referenced by the caller any more.
 *
 * Return: 0 or the error of the split (-EAGAIN if the folio is pinned).
 */
int ksm_split_for_merge(struct page *page)
{
	if (!folio_test_large(page_folio(page)))
		return 0;
	return split_huge_page(page);
}
