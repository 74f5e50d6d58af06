// SPDX-License-Identifier: GPL-2.0-only
/*
 * The scanner: ksmd's walk over the registered mms, one PTE table at a
 * time, and the decision taken for every page it finds.
 *
 * A batch holds the present anonymous pages of (at most) one PTE table,
 * collected under one hold of its lock with a reference on each page.
 * The pages are then examined one by one without the table lock: hashed,
 * looked up in the stable index, then in the unstable index, and merged
 * when a match is confirmed.  Tracking entries of addresses the walk
 * passed without finding a page are dropped on the way.
 *
 * A page that smart scan passes over in this pass, and that no index
 * entry could match, is settled during the collection already: its old
 * hash goes into the unstable index and no reference is taken.  As in
 * 6.12, pages passed over do not count against pages_to_scan; a batch
 * visits at most KSM_VISITS_PER_PAGE times that many pages, so that it
 * stays bounded when a whole pass is passed over.
 *
 * A THP mapped by a PMD is a batch of its own, examined whole (see
 * "Huge pages" below).
 */
#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/ksm.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pagewalk.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/sort.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <trace/events/ksm.h>

#include "../internal.h"
#include "state.h"
#include "content.h"
#include "utable.h"
#include "policy.h"
#include "frames.h"
#include "tenant.h"
#include "stable.h"
#include "merge.h"
#include "unmerge.h"
#include "scan.h"

/**
 * struct ksm_found - a page the walk found
 * @page: the page, its folio referenced; NULL once the reference was
 *	given up (the folio had to be split) and the page must be looked
 *	up again
 * @addr: its address
 * @hashed: the page whose content @hash is (a THP's pages are hashed
 *	before the batch decides what to do with them), or NULL
 * @hash: content hash of @hashed
 * @settled: smart scan passed over it during the collection, or it is a
 *	swap entry whose member stays; @page is NULL and there is nothing
 *	left to do
 */
struct ksm_found {
	struct page *page;
	unsigned long addr;
	struct page *hashed;
	u64 hash;
	bool settled;
};

/**
 * struct ksm_batch - the pages of one PTE table, being examined
 * @slot: the mm's slot
 * @mm: the mm, referenced and read-locked while the batch lives
 * @domain: the mm's merge domain (see ksm_slot_domain())
 * @vma: the VMA the pages belong to
 * @end: address after the last one the walk looked at
 * @budget: most pages to collect for examination
 * @collected: pages collected for examination
 * @nr: entries of @found, settled ones included
 * @idle_tables: tables the walk passed without an entry
 * @cut: a waiting mmap_lock writer ended the batch early
 * @huge: the batch is the pages of one PMD-mapped THP, whatever the budget
 * @found: the pages, by address
 */
struct ksm_batch {
	struct ksm_slot *slot;
	struct mm_struct *mm;
	u64 domain;
	struct vm_area_struct *vma;
	unsigned long end;
	unsigned int budget;
	unsigned int collected;
	unsigned int nr;
	unsigned int idle_tables;
	bool cut;
	bool huge;
	struct ksm_found found[PTRS_PER_PTE];
};

/*
 * PTE tables with nothing to collect (swapped out, or page cache of a
 * private file mapping) a walk may pass before it ends anyway, so that
 * mmap_lock is let go and ksmd reschedules: 64 tables map 128 MiB.
 * (Pages smart scan passes over are entries, and so are swapped-out
 * mappings of KSM folios whose member stays: their tables end a walk.)
 */
#define KSM_IDLE_TABLES_PER_WALK	64

/*
 * Pages a walk collects after one that a waiting mmap_lock writer cut
 * short: the lock is busy, so collect little that may be given up again.
 */
#define KSM_CONTENDED_BATCH	16

/* Pages a batch may visit per page of pages_to_scan; see the top. */
#define KSM_VISITS_PER_PAGE	64

/* ksmd's own state; ksm_mutex. */
static struct ksm_batch ksm_batch;
static struct ksm_utable ksm_unstable;
static unsigned long ksm_last_prune;
/* Pages a THP examined whole took beyond the budget, paid back later. */
static unsigned long ksm_budget_debt;
/* The hashes of a THP's pages, sorted to find the ones it holds twice. */
static u64 ksm_huge_hashes[PTRS_PER_PTE];

/*
 * Key of a page in the unstable index: per NUMA node unless merging
 * across, and per merge domain.  Both share the 16 bits above the hash,
 * so keys of two nodes or domains may be equal: a candidate's node and
 * domain are checked again when it is found.
 */
static u64 ksm_ukey(u64 hash, struct page *page, u64 domain)
{
	u64 top = domain ? hash_64(domain, 16) : 0;

	if (!READ_ONCE(ksm_knobs.merge_across_nodes))
		top ^= page_to_nid(page);
	return hash | (top & 0xffff) << 48;
}

/*
 * Without merging across nodes, a candidate on another node is never a
 * partner: it migrated after it was filed, or its hash only looked like
 * this node's key.
 */
static bool ksm_same_ukey_node(struct page *a, struct page *b)
{
	return READ_ONCE(ksm_knobs.merge_across_nodes) || page_to_nid(a) == page_to_nid(b);
}

/*
 * Tracking entries
 */

static void ksm_count_entry(struct ksm_slot *slot, long delta)
{
	ksm_stats.items += delta;
	slot->mm->ksm_rmap_items += delta;
	ksm_tenant_items(slot, delta);
}

/* Store a value entry in place of the value or nothing the index had. */
static void ksm_set_value(struct ksm_slot *slot, unsigned long vpn, u64 v)
{
	void *old = xa_store(&slot->items, vpn, xa_mk_value(v), GFP_KERNEL | __GFP_NOWARN);

	if (xa_is_err(old))
		return;
	if (!old)
		ksm_count_entry(slot, 1);
	ksm_entry_unfile(old);
	if (v & KSM_V_FILED)
		ksm_stats.pages_unshared++;
}

/**
 * ksm_drop_entry() - forget the tracking entry of an address
 * @slot: the mm's slot
 * @vpn: virtual page number of the address
 *
 * A member is taken off its KSM folio's node, with the folio locked.
 *
 * Context: ksm_mutex held; may sleep.
 * Return: true if the entry is gone, false if the folio was busy and the
 * entry must be dropped later.
 */
static bool ksm_drop_entry(struct ksm_slot *slot, unsigned long vpn)
{
	void *entry = xa_load(&slot->items, vpn);
	struct ksm_stable *stable;
	struct ksm_member *m;
	struct folio *folio;

	lockdep_assert_held(&ksm_mutex);
	if (!entry)
		return true;
	if (xa_is_value(entry)) {
		xa_erase(&slot->items, vpn);
		ksm_count_entry(slot, -1);
		ksm_entry_unfile(entry);
		return true;
	}
	m = entry;
	stable = m->stable;
	folio = ksm_stable_folio(stable, true);
	if (IS_ERR(folio) && PTR_ERR(folio) != -ENOENT)
		return false;
	xa_erase(&slot->items, vpn);
	ksm_count_entry(slot, -1);
	trace_ksm_remove_rmap_item(IS_ERR(folio) ? 0 : folio_pfn(folio), m, slot->mm);
	ksm_member_del(m);
	if (!IS_ERR(folio)) {
		folio_unlock(folio);
		folio_put(folio);
	}
	if (hlist_empty(&stable->members))
		ksm_stable_forget(stable);
	return true;
}

/* Members a gap drop removes, at least, before it yields to waiters. */
#define KSM_GAP_MEMBERS		8

/*
 * Drop the entries in [@start, @end) that the batch did not find a page
 * for.  Dropping a value never sleeps; dropping a member locks its KSM
 * folio, under the mm's mmap_lock.  Once a few members went, the others
 * wait for the next pass when a writer waits for that mmap_lock or a
 * task for ksm_mutex (entries of unmapped ranges are stale anyway).
 */
static void ksm_drop_gaps(struct ksm_slot *slot, unsigned long start,
			  unsigned long end, struct ksm_batch *b)
{
	unsigned long vpn, last = (end >> PAGE_SHIFT) - 1;
	unsigned int i = 0, members = 0;
	void *entry;

	if (end <= start)
		return;
	xa_for_each_range(&slot->items, vpn, entry, start >> PAGE_SHIFT, last) {
		while (b && i < b->nr && b->found[i].addr >> PAGE_SHIFT < vpn)
			i++;
		if (b && i < b->nr && b->found[i].addr >> PAGE_SHIFT == vpn)
			continue;
		if (!xa_is_value(entry)) {
			if (members >= KSM_GAP_MEMBERS &&
			    (mmap_lock_is_contended(slot->mm) || ksm_mutex_wanted()))
				continue;
			members++;
		}
		ksm_drop_entry(slot, vpn);
		cond_resched();
	}
}

/*
 * Collecting a batch
 */

static bool ksm_batch_add(struct ksm_batch *b, struct page *page, unsigned long addr)
{
	struct ksm_found *f = &b->found[b->nr++];

	folio_get(page_folio(page));
	f->page = page;
	f->addr = addr;
	f->hashed = NULL;
	f->settled = false;
	return ++b->collected == b->budget;
}

/* Record @addr as settled: its entry stays, and nothing is left to do. */
static void ksm_batch_settled(struct ksm_batch *b, unsigned long addr)
{
	/* A walk ends with the first table that gave entries. */
	if (WARN_ON_ONCE(b->nr >= PTRS_PER_PTE))
		return;
	b->found[b->nr].page = NULL;
	b->found[b->nr].addr = addr;
	b->found[b->nr].hashed = NULL;
	b->found[b->nr].settled = true;
	b->nr++;
}

/*
 * Smart scan passes over @page in this pass: unless an index entry
 * carries its (old) hash, which a merge attempt must look at with the
 * page in hand, put it in the unstable index right away.  Nothing here
 * sleeps: the caller holds the PTE table lock.  Returns true if the page
 * is settled.
 */
static bool ksm_settle_skipped(struct ksm_batch *b, struct page *page, unsigned long addr)
{
	unsigned long vpn = addr >> PAGE_SHIFT, pos = KSM_UTABLE_START;
	u64 own = ksm_loc(b->slot->id, vpn), v, key, loc;
	bool filed = false;
	void *entry;

	if (!READ_ONCE(ksm_knobs.smart_scan) || folio_test_ksm(page_folio(page)))
		return false;
	entry = xa_load(&b->slot->items, vpn);
	if (!xa_is_value(entry))
		return false;
	v = xa_to_value(entry);
	if (!(v & KSM_V_HASHED) || !ksm_skip_now(ksm_v_due(v), ksm_stats.full_scans))
		return false;
	/* Hardened mode never merges a page on a hash of an earlier visit. */
	if (READ_ONCE(ksm_knobs.hardened)) {
		ksm_stats.pages_skipped++;
		ksm_batch_settled(b, addr);
		return true;
	}
	if (ksm_stable_first(v & KSM_HASH_MASK, page_to_nid(page), b->domain))
		return false;
	key = ksm_ukey(v & KSM_HASH_MASK, page, b->domain);
	while ((loc = ksm_utable_next(&ksm_unstable, key, &pos))) {
		if (loc != own)
			return false;
		/* Settled by a walk of this pass that a writer cut short. */
		filed = true;
	}
	if (!filed) {
		if (ksm_utable_full(&ksm_unstable) ||
		    !ksm_utable_insert(&ksm_unstable, key, own))
			return false;
		ksm_stats.pages_skipped++;
	}
	ksm_batch_settled(b, addr);
	return true;
}

static bool ksm_mergeable_page(struct page *page)
{
	return page && PageAnon(page) && !is_zone_device_page(page);
}

/* Is a PMD-mapped THP split only when enough of it merges? */
static bool ksm_thp_kept_whole(void)
{
	/* Hardened mode treats pages alike, twin or not: no counting. */
	return READ_ONCE(ksm_knobs.thp_split_threshold) > 1 && !READ_ONCE(ksm_knobs.hardened);
}

/*
 * A PMD-mapped THP: take its pages without splitting it, all of them if
 * it may be kept whole (the walk reaches a THP only with the batch still
 * empty).
 */
static bool ksm_collect_huge(struct ksm_batch *b, pmd_t pmdval, unsigned long addr,
			     unsigned long end)
{
	struct page *head = vm_normal_page_pmd(b->vma, addr, pmdval);

	if (!ksm_mergeable_page(head))
		return false;
	if (ksm_thp_kept_whole() && !b->nr) {
		b->huge = true;
		b->budget = PTRS_PER_PTE;
	}
	for (; addr < end; addr += PAGE_SIZE) {
		if (ksm_batch_add(b, head + ((addr & ~HPAGE_PMD_MASK) >> PAGE_SHIFT), addr)) {
			b->end = addr + PAGE_SIZE;
			return true;
		}
	}
	return false;
}

/*
 * A batch is one PTE table (or PMD-mapped THP) with pages in it: stop the
 * walk after the first one that had any, or when the budget is used up.
 * Tables without pages cost nothing but the walk, up to
 * KSM_IDLE_TABLES_PER_WALK of them.
 */
static int ksm_collect_stop(struct ksm_batch *b, bool full, unsigned long end)
{
	if (full)
		return 1;
	if (!b->nr && ++b->idle_tables < KSM_IDLE_TABLES_PER_WALK)
		return 0;
	b->end = end;
	return 1;
}

/*
 * Is the swap or migration entry @pte one of @m's KSM folio?  The folio
 * is neither locked nor referenced: a wrong answer costs a copy at
 * swap-in, or a member counted until the next pass, nothing more.
 */
static bool ksm_member_swapped(const struct ksm_member *m, pte_t pte)
{
	struct folio *folio = pfn_folio(READ_ONCE(m->stable->kpfn));
	swp_entry_t entry = pte_to_swp_entry(pte);

	if (is_migration_entry(entry))
		return pfn_swap_entry_folio(entry) == folio;
	if (non_swap_entry(entry))
		return false;
	return folio_test_ksm(folio) && folio_test_swapcache(folio) &&
	       folio->swap.val == entry.val;
}

/*
 * The swap (or migration) entry @pte at @addr may map the KSM folio of
 * the member recorded there, waiting in the swap cache: the member then
 * stays, so that the swap-in maps the folio where the reverse map will
 * find it, instead of a copy.  It is kept as a settled entry; tracking
 * values, and members of other folios, are dropped as for any page that
 * is not present.  (6.12 drops them all, so a swapped-out mapping of a
 * KSM page stops counting in pages_sharing; here it goes on counting
 * while it still maps the KSM page.)
 */
static void ksm_keep_swapped(struct ksm_batch *b, unsigned long addr, pte_t pte)
{
	void *entry;

	if (!is_swap_pte(pte))
		return;
	entry = xa_load(&b->slot->items, addr >> PAGE_SHIFT);
	if (!entry || xa_is_value(entry) || !ksm_member_swapped(entry, pte))
		return;
	/* Another domain's: swap-in copies it once the member is gone. */
	if (((struct ksm_member *)entry)->stable->domain != b->domain)
		return;
	ksm_batch_settled(b, addr);
}

static int ksm_collect_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
			   struct mm_walk *walk)
{
	struct ksm_batch *b = walk->private;
	pte_t *start, *ptep;
	spinlock_t *ptl;	/* of the PMD or of the PTE table */
	bool full = false;

	ptl = pmd_trans_huge_lock(pmd, walk->vma);
	if (ptl) {
		pmd_t pmdval = pmdp_get(pmd);

		if (pmd_present(pmdval) && !is_huge_zero_pmd(pmdval))
			full = ksm_collect_huge(b, pmdval, addr, end);
		spin_unlock(ptl);
		return ksm_collect_stop(b, full, end);
	}

	start = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!start) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	for (ptep = start; addr < end; ptep++, addr += PAGE_SIZE) {
		pte_t pte = ptep_get(ptep);
		struct page *page;

		if (!pte_present(pte)) {
			ksm_keep_swapped(b, addr, pte);
			continue;
		}
		page = vm_normal_page(walk->vma, addr, pte);
		if (!ksm_mergeable_page(page) || ksm_settle_skipped(b, page, addr))
			continue;
		if (ksm_batch_add(b, page, addr)) {
			b->end = addr + PAGE_SIZE;
			full = true;
			break;
		}
	}
	pte_unmap_unlock(start, ptl);
	return ksm_collect_stop(b, full, end);
}

static const struct mm_walk_ops ksm_collect_ops = {
	.pmd_entry = ksm_collect_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

/* Give up the batch's references on @folio after entry @i. */
static void ksm_batch_release(struct ksm_batch *b, unsigned int i, struct folio *folio)
{
	for (i++; i < b->nr; i++) {
		struct page *page = b->found[i].page;

		if (page && page_folio(page) == folio) {
			folio_put(folio);
			b->found[i].page = NULL;
		}
	}
}

/* Look up again a page whose reference the batch gave up. */
static struct page *ksm_lookup_page(struct vm_area_struct *vma, unsigned long addr)
{
	struct folio_walk fw;
	struct folio *folio;
	struct page *page = NULL;

	folio = folio_walk_start(&fw, vma, addr, 0);
	if (!folio)
		return NULL;
	if (ksm_mergeable_page(fw.page)) {
		folio_get(folio);
		page = fw.page;
	}
	folio_walk_end(&fw, vma);
	return page;
}

/*
 * After the split of entry @i's folio, reference again the pages of the
 * entries after it that were given up for the split.  A batch never
 * spans more than one PTE table, so one hold of that table's lock serves
 * them all, instead of one lookup each.  Entries left without a page
 * (their PTE changed meanwhile) are looked up on their own later.
 */
static void ksm_batch_regrab(struct ksm_batch *b, unsigned int i)
{
	unsigned long first;
	spinlock_t *ptl;	/* of the PTE table */
	pte_t *table;
	pmd_t *pmd;

	if (++i >= b->nr)
		return;
	first = b->found[i].addr;
	pmd = mm_find_pmd(b->mm, first);
	/* Still PMD-mapped (the split failed): nothing to take again. */
	table = pmd ? pte_offset_map_lock(b->mm, pmd, first, &ptl) : NULL;
	if (!table)
		return;
	for (; i < b->nr; i++) {
		struct ksm_found *f = &b->found[i];
		pte_t pte = ptep_get(table + ((f->addr - first) >> PAGE_SHIFT));
		struct page *page;

		if (f->page || f->settled || !pte_present(pte))
			continue;
		page = vm_normal_page(b->vma, f->addr, pte);
		if (ksm_mergeable_page(page)) {
			folio_get(page_folio(page));
			f->page = page;
		}
	}
	pte_unmap_unlock(table, ptl);
}

/*
 * Lock the folio of batch entry @i for a merge, splitting it first if it
 * is large: the batch drops its other references to the folio so that
 * the split can succeed, and takes them again on the small folios.
 */
static int ksm_lock_for_merge(struct ksm_batch *b, unsigned int i)
{
	struct page *page = b->found[i].page;
	struct folio *folio = page_folio(page);
	int err;

	if (!folio_trylock(folio))
		return -EBUSY;
	if (!folio_test_large(folio))
		return 0;
	ksm_batch_release(b, i, folio);
	err = ksm_split_for_merge(page);
	if (err)
		folio_unlock(folio);
	ksm_batch_regrab(b, i);
	return err;
}

/*
 * The other page of a match in the unstable index
 */

/**
 * struct ksm_peer - a candidate page found in the unstable index
 * @slot: its mm's slot
 * @mm: its mm: referenced and read-locked here unless it is the batch's
 * @own_mm: @mm is the batch's mm
 * @vma: its VMA
 * @addr: its address
 * @page: the page, referenced, or NULL
 */
struct ksm_peer {
	struct ksm_slot *slot;
	struct mm_struct *mm;
	bool own_mm;
	struct vm_area_struct *vma;
	unsigned long addr;
	struct page *page;
};

static void ksm_peer_put_page(struct ksm_peer *p)
{
	if (p->page)
		folio_put(page_folio(p->page));
	p->page = NULL;
}

static void ksm_peer_close(struct ksm_peer *p)
{
	ksm_peer_put_page(p);
	if (!p->own_mm) {
		mmap_read_unlock(p->mm);
		mmput_async(p->mm);
	}
}

/*
 * Find the page at @loc, and drop a stale membership of its address (no
 * folio lock is held yet).  -ENOENT: the entry is stale; -EBUSY: try later.
 */
static int ksm_peer_open(struct ksm_peer *p, struct ksm_batch *b, u64 loc)
{
	struct vm_area_struct *vma;
	void *entry;

	p->page = NULL;
	p->addr = ksm_loc_vpn(loc) << PAGE_SHIFT;
	p->own_mm = ksm_loc_slot(loc) == b->slot->id;
	if (p->own_mm) {
		/* The batch holds this mm and its mmap_lock already. */
		p->slot = b->slot;
		p->mm = b->mm;
	} else {
		p->mm = ksm_slot_get_mm(ksm_loc_slot(loc), &p->slot);
		if (!p->mm)
			return -ENOENT;
		if (!mmap_read_trylock(p->mm)) {
			mmput_async(p->mm);
			return -EBUSY;
		}
	}
	if (p->own_mm && p->addr >= b->vma->vm_start && p->addr < b->vma->vm_end)
		vma = b->vma;
	else
		vma = vma_lookup(p->mm, p->addr);
	if (!vma || !(vma->vm_flags & VM_MERGEABLE) || !vma->anon_vma) {
		ksm_peer_close(p);
		return -ENOENT;
	}
	p->vma = vma;
	p->page = ksm_lookup_page(vma, p->addr);
	if (!p->page || folio_test_ksm(page_folio(p->page))) {
		ksm_peer_close(p);
		return -ENOENT;
	}
	entry = xa_load(&p->slot->items, p->addr >> PAGE_SHIFT);
	if (entry && !xa_is_value(entry) &&
	    !ksm_drop_entry(p->slot, p->addr >> PAGE_SHIFT)) {
		/* A stale membership whose folio is busy: try later. */
		ksm_peer_close(p);
		return -EBUSY;
	}
	return 0;
}

/*
 * Lock (and split) the peer's folio; the caller's page must be small
 * already.  A peer whose reference was given up for the caller's split
 * is looked up again.
 */
static int ksm_peer_lock(struct ksm_peer *p)
{
	struct folio *folio;
	int err;

	if (!p->page) {
		p->page = ksm_lookup_page(p->vma, p->addr);
		if (!p->page || folio_test_ksm(page_folio(p->page)))
			return -ENOENT;
	}
	folio = page_folio(p->page);
	if (!folio_trylock(folio))
		return -EBUSY;
	err = ksm_split_for_merge(p->page);
	if (err)
		folio_unlock(folio);
	return err;
}

/*
 * Merging
 */

static bool ksm_try_zero(struct ksm_batch *b, unsigned int i, u64 hash)
{
	struct ksm_found *f = &b->found[i];
	int err;

	if (!ksm_zero_pages_allowed() || hash != ksm_zero_hash)
		return false;
	if (ksm_lock_for_merge(b, i))
		return false;
	err = ksm_merge_zero(b->vma, f->page);
	folio_unlock(page_folio(f->page));
	trace_ksm_merge_one_page(page_to_pfn(ZERO_PAGE(f->addr)), NULL, b->mm, err);
	if (err)
		return false;
	ksm_drop_entry(b->slot, f->addr >> PAGE_SHIFT);
	return true;
}

/* Have *@m ready to record batch entry @i as a member; false if no memory. */
static bool ksm_member_ready(struct ksm_batch *b, unsigned int i, struct ksm_member **m)
{
	if (!*m)
		*m = ksm_member_prepare(b->slot, b->found[i].addr);
	return *m;
}

/*
 * Must a page be compared with a KSM folio of equal hash before the merge
 * starts?  The merge itself compares them with the page's mapping taken
 * away, and puts the mapping back untouched if they differ, which is the
 * check that counts.  Comparing first only pays when the hash may be
 * stale (smart scan reused the one of a former visit) or when a large
 * folio would otherwise be split for a page that does not match.
 *
 * A candidate of the unstable index is always compared first instead:
 * the merge write-protects one of the two pages before it compares, and
 * the candidate's hash may describe what it held earlier in the pass.  A
 * write-protect decided on such a hash would let a process that maps a
 * guess learn, by timing a write, what another page used to hold.
 */
static bool ksm_precompare(struct page *page, struct page *other, bool fresh)
{
	return !fresh || folio_test_large(page_folio(page)) ||
	       folio_test_large(page_folio(other));
}

/**
 * enum ksm_stable_result - what a look into the stable index found
 * @KSM_STABLE_NONE: no KSM folio with room holds the page's content
 * @KSM_STABLE_MERGED: the page is now mapped to one
 * @KSM_STABLE_LATER: one may hold it (or does) but could not take the page
 *	now: the page must not start a new KSM folio of the same content
 *	through the unstable index, so it waits for its next visit
 */
enum ksm_stable_result { KSM_STABLE_NONE, KSM_STABLE_MERGED, KSM_STABLE_LATER };

/*
 * Map batch entry @i to a KSM folio with equal content.  @fresh: @hash
 * was computed from the page in this visit.
 */
static enum ksm_stable_result ksm_try_stable(struct ksm_batch *b, unsigned int i, u64 hash,
					     bool fresh)
{
	enum ksm_stable_result res = KSM_STABLE_NONE;
	struct ksm_found *f = &b->found[i];
	int limit = READ_ONCE(ksm_knobs.max_page_sharing);
	struct ksm_stable *s, *next;
	struct ksm_member *m = NULL;

	for (s = ksm_stable_first(hash, page_to_nid(f->page), b->domain); s; s = next) {
		struct folio *kfolio;
		struct page *kpage;
		int err;

		next = ksm_stable_next(s);
		/* A full node of a chain is passed over without touching its folio. */
		if (s->nr_members >= limit)
			continue;
		/* Locked: migration cannot move it while it gains a member. */
		kfolio = ksm_stable_folio(s, true);
		if (IS_ERR(kfolio)) {
			if (PTR_ERR(kfolio) == -ENOENT)
				ksm_stable_forget(s);
			else
				res = KSM_STABLE_LATER;
			continue;
		}
		if (!READ_ONCE(ksm_knobs.merge_across_nodes) && folio_nid(kfolio) != s->nid) {
			/* Migrated to another node: file it there. */
			ksm_stable_erase(s);
			ksm_stable_insert(s, folio_nid(kfolio));
			folio_unlock(kfolio);
			folio_put(kfolio);
			continue;
		}
		kpage = folio_page(kfolio, 0);
		if (ksm_precompare(f->page, kpage, fresh) && !ksm_pages_identical(f->page, kpage))
			err = -ENOENT;
		else if (!ksm_member_ready(b, i, &m))
			err = -ENOMEM;
		else
			err = ksm_lock_for_merge(b, i);
		if (!err) {
			err = ksm_merge_page(b->vma, f->page, kpage);
			folio_unlock(page_folio(f->page));
		}
		if (err != -ENOENT)
			trace_ksm_merge_with_ksm_page(kfolio, page_to_pfn(f->page), s, b->mm, err);
		if (!err) {
			ksm_member_add(m, s, b->slot, b->vma, f->addr);
			m = NULL;
		}
		folio_unlock(kfolio);
		folio_put(kfolio);
		/* Another node may hold this content (a hash collision). */
		if (err != -ENOENT) {
			res = err ? KSM_STABLE_LATER : KSM_STABLE_MERGED;
			break;
		}
	}
	if (m)
		ksm_member_cancel(b->slot, f->addr, m);
	return res;
}

/*
 * Can @page (locked) become a KSM folio in place?  Only if the mapping
 * ksmd found is its only one, now and later.  A page that fork left
 * shared with another mm would turn into a KSM folio there too, in an mm
 * that may not take part in KSM at all: unmerging would never reach that
 * mapping, and no member would lead the reverse map to it.  A swap entry
 * that still refers to the page's swap cache would map it the same way at
 * swap-in, so the swap cache must be let go first.  (The mapcount cannot
 * grow meanwhile: only a fork of this mm could add a mapping, and our
 * mmap_lock keeps forks out.)
 */
static bool ksm_can_host(struct page *page)
{
	struct folio *folio = page_folio(page);

	if (folio_mapcount(folio) != 1)
		return false;
	return !folio_test_swapcache(folio) || folio_free_swap(folio);
}

/*
 * Merge batch entry @i (locked, small) with the locked peer into a new KSM
 * folio, made of whichever of the two pages can host it.  @fresh: @hash
 * was computed from the page in this visit.  Returns 0, -ENOENT if the
 * contents differ, -EAGAIN if the peer cannot merge now, or another error
 * if our page cannot.
 */
static int ksm_merge_pair(struct ksm_batch *b, unsigned int i, struct ksm_peer *p, u64 hash,
			  bool fresh)
{
	struct page *page = b->found[i].page;
	struct ksm_member *m = NULL, *pm;
	struct page *host = page;
	struct ksm_stable *stable;
	int err;

	if (!ksm_can_host(page)) {
		if (!ksm_can_host(p->page))
			return -EBUSY;
		host = p->page;
	}
	stable = ksm_stable_alloc(hash, b->domain);
	if (!stable)
		return -ENOMEM;
	pm = ksm_member_prepare(p->slot, p->addr);
	if (!pm || !ksm_member_ready(b, i, &m)) {
		err = -ENOMEM;
		goto fail;
	}
	if (host == page) {
		err = ksm_merge_two(b->vma, page, p->vma, p->page, stable);
	} else {
		/* Roles swapped: the errors of ksm_merge_two() swap too. */
		err = ksm_merge_two(p->vma, p->page, b->vma, page, stable);
		if (err == -EBUSY)
			err = -EAGAIN;
		else if (err == -EAGAIN)
			err = -EBUSY;
	}
	trace_ksm_merge_with_ksm_page(page_folio(host), page_to_pfn(host == page ? p->page : page),
				      NULL, host == page ? p->mm : b->mm, err);
	if (err)
		goto fail;
	/*
	 * A hash from an earlier visit may no longer describe the page (both
	 * pages may have changed alike since): file the folio by what it
	 * holds now that it cannot change.
	 */
	if (!fresh)
		stable->hash = ksm_hash_page(host);
	ksm_stable_seal(stable, host);
	ksm_member_add(m, stable, b->slot, b->vma, b->found[i].addr);
	ksm_member_add(pm, stable, p->slot, p->vma, p->addr);
	ksm_stable_insert(stable, folio_nid(page_folio(host)));
	return 0;
fail:
	if (m)
		ksm_member_cancel(b->slot, b->found[i].addr, m);
	if (pm)
		ksm_member_cancel(p->slot, p->addr, pm);
	ksm_stable_free(stable);
	return err;
}

/*
 * Is the peer a page of a THP that a PMD maps in the peer's mm, which is
 * split only when enough of it can merge?  Read without the page table
 * lock (the peer's mmap_lock keeps collapse and munmap out): a THP split
 * meanwhile is merged at the next pass.
 */
static bool ksm_peer_kept_whole(struct ksm_peer *p)
{
	pmd_t *pmd;

	if (!ksm_thp_kept_whole() || !folio_test_pmd_mappable(page_folio(p->page)))
		return false;
	pmd = mm_find_pmd(p->mm, p->addr);
	return pmd && pmd_trans_huge(pmdp_get_lockless(pmd));
}

/* Tell the page at @addr, of a THP kept whole, that it has a twin. */
static void ksm_mark_wanted(struct ksm_slot *slot, unsigned long addr)
{
	void *entry = xa_load(&slot->items, addr >> PAGE_SHIFT);

	if (xa_is_value(entry) && !(xa_to_value(entry) & KSM_V_WANTED))
		ksm_set_value(slot, addr >> PAGE_SHIFT, xa_to_value(entry) | KSM_V_WANTED);
}

/*
 * Do @enough pages of the THP around @addr have a twin (KSM_V_WANTED)?
 * The count stops there: each page that finds a candidate in a THP kept
 * whole asks, so it must not walk all 512 entries every time.
 */
static bool ksm_thp_wanted(struct ksm_slot *slot, unsigned long addr, unsigned int enough)
{
	unsigned long vpn, first = (addr & PMD_MASK) >> PAGE_SHIFT;
	unsigned int nr = 0;
	void *entry;

	xa_for_each_range(&slot->items, vpn, entry, first, first + KSM_PMD_PAGES - 1) {
		nr += xa_is_value(entry) && (xa_to_value(entry) & KSM_V_WANTED);
		if (nr >= enough)
			return true;
	}
	return false;
}

/*
 * Try to merge batch entry @i with the candidate at @loc.  Returns 0 when
 * merged; -ENOENT if the candidate entry is stale, or of no use for the
 * rest of the pass (a page of a THP kept whole, now told it has a twin);
 * -EXDEV if the candidate belongs to another merge domain now; -EAGAIN
 * if only this candidate failed; any other error if our page cannot
 * merge now.
 */
static int ksm_try_candidate(struct ksm_batch *b, unsigned int i, u64 hash, u64 loc,
			     bool fresh)
{
	struct page *page = b->found[i].page, *peer;
	struct ksm_peer p;
	int err;

	err = ksm_peer_open(&p, b, loc);
	if (err)
		return err == -EBUSY ? -EAGAIN : err;
	/* Its entry is right for its own domain: it stays. */
	if (!p.own_mm && ksm_slot_domain(p.slot) != b->domain) {
		ksm_peer_close(&p);
		return -EXDEV;
	}
	if (p.page == page || !ksm_same_ukey_node(page, p.page) ||
	    !ksm_pages_identical(page, p.page)) {
		ksm_peer_close(&p);
		return -ENOENT;
	}
	/*
	 * A THP kept whole is not split for one page: it hears of it, and
	 * the candidate goes, so that later pages of the same content do
	 * not all open it again.  Once enough of its pages have twins, it
	 * is split here (by ksm_peer_lock()), as its next examination would.
	 */
	if (ksm_peer_kept_whole(&p)) {
		ksm_mark_wanted(p.slot, p.addr);
		if (!ksm_thp_wanted(p.slot, p.addr, READ_ONCE(ksm_knobs.thp_split_threshold))) {
			ksm_peer_close(&p);
			return -ENOENT;
		}
	}
	peer = p.page;
	/* Our split must not be held up by a reference on the same folio. */
	if (page_folio(p.page) == page_folio(page))
		ksm_peer_put_page(&p);
	err = ksm_lock_for_merge(b, i);
	if (err) {
		ksm_peer_close(&p);
		return -EBUSY;
	}
	/* A split keeps our page, and its lock. */
	VM_WARN_ON_ONCE(b->found[i].page != page);
	/*
	 * A split of the peer's folio made it look the peer up again: the
	 * page found then is checked again, so that nothing is
	 * write-protected on a comparison with another page.
	 */
	err = ksm_peer_lock(&p);
	if (!err) {
		if (p.page == page ||
		    (p.page != peer && (!ksm_same_ukey_node(page, p.page) ||
					!ksm_pages_identical(page, p.page))))
			err = -ENOENT;
		else
			err = ksm_merge_pair(b, i, &p, hash, fresh);
		folio_unlock(page_folio(p.page));
	} else if (err != -ENOENT) {
		err = -EAGAIN;
	}
	folio_unlock(page_folio(page));
	ksm_peer_close(&p);
	return err;
}

/*
 * Candidates a page tries, at most, that cannot merge now (busy, pinned):
 * each try may write-protect and flush, under the mmap_lock of the batch.
 */
#define KSM_CANDIDATE_TRIES	8

static bool ksm_try_unstable(struct ksm_batch *b, unsigned int i, u64 hash, bool fresh)
{
	struct ksm_found *f = &b->found[i];
	u64 key = ksm_ukey(hash, f->page, b->domain);
	u64 own = ksm_loc(b->slot->id, f->addr >> PAGE_SHIFT);
	unsigned long pos = KSM_UTABLE_START;
	unsigned int busy = 0;
	u64 loc;

	while ((loc = ksm_utable_next(&ksm_unstable, key, &pos))) {
		int err;

		if (loc == own)
			continue;
		if (busy == KSM_CANDIDATE_TRIES)
			return false;
		err = ksm_try_candidate(b, i, hash, loc, fresh);
		if (!err) {
			ksm_utable_remove_at(&ksm_unstable, key, loc, pos);
			return true;
		}
		if (err == -ENOENT) {
			ksm_utable_remove_at(&ksm_unstable, key, loc, pos);
			pos = KSM_UTABLE_START;
		} else if (err == -EXDEV) {
			continue;
		} else if (err == -EAGAIN) {
			busy++;
		} else {
			/* Our page cannot merge now (or was replaced): stop. */
			return false;
		}
	}
	return false;
}

/*
 * Examining one page
 */

/*
 * Batch entry @i maps a KSM folio of another merge domain: its process
 * moved to another memory cgroup, or fork passed the mapping on to a
 * process of a domain of its own.  The mapping gets a private copy (if
 * the copy fails it stays until the next pass); the next visit drops the
 * member and examines the page afresh, in its new domain.
 */
static void ksm_leave_domain(struct ksm_batch *b, unsigned int i)
{
	struct ksm_found *f = &b->found[i];

	/*
	 * The member stays until the next visit finds the page replaced: a
	 * copy that failed (a poisoned page) leaves the mapping in place,
	 * and the reverse map must still reach it.
	 */
	ksm_unmerge_range(b->vma, f->addr, f->addr + PAGE_SIZE);
}

/* A KSM folio mapped here: make sure the mapping is one of its members. */
static void ksm_scan_ksm_page(struct ksm_batch *b, unsigned int i, void *entry)
{
	struct ksm_found *f = &b->found[i];
	struct folio *folio = page_folio(f->page);
	struct ksm_stable *stable = ksm_folio_stable(folio);
	struct ksm_member *m = NULL, *old;

	if (!stable)
		return;
	ksm_stable_check(stable, f->page, b->mm, f->addr);
	if (stable->domain != b->domain) {
		ksm_leave_domain(b, i);
		return;
	}
	/* Pinned again if the shrinker or memory offline let it go. */
	if (READ_ONCE(ksm_knobs.hardened))
		ksm_stable_pin(stable, folio);
	old = entry && !xa_is_value(entry) ? entry : NULL;
	/*
	 * A member must lead the reverse map here: after munmap and an
	 * mremap of another VMA onto the address, the folio may be mapped
	 * again (swap-in) in a VMA of another anon_vma.
	 */
	if (old && old->stable == stable && old->anon_vma == b->vma->anon_vma)
		return;
	/* The member of another folio is dropped under that folio's lock. */
	if (old && old->stable != stable) {
		if (!ksm_drop_entry(b->slot, f->addr >> PAGE_SHIFT))
			return;
		old = NULL;
	}
	/*
	 * A mapping that fork copied, one whose record was dropped, or one
	 * whose member is replaced under the same hold of the folio lock.
	 */
	if (!ksm_member_ready(b, i, &m))
		return;
	folio_lock(folio);
	if (ksm_folio_stable(folio) == stable) {
		if (old)
			ksm_member_replace(old);
		ksm_member_add(m, stable, b->slot, b->vma, f->addr);
		m = NULL;
	}
	folio_unlock(folio);
	if (m)
		ksm_member_cancel(b->slot, f->addr, m);
}

/* Make batch entry @i a candidate of the unstable index; false if full. */
static bool ksm_file(struct ksm_batch *b, unsigned int i, u64 hash)
{
	struct ksm_found *f = &b->found[i];

	return ksm_utable_insert(&ksm_unstable, ksm_ukey(hash, f->page, b->domain),
				 ksm_loc(b->slot->id, f->addr >> PAGE_SHIFT));
}

/*
 * Look for a partner by content hash, or become a candidate.  Returns
 * true if merged; otherwise *@filed tells whether the page is a candidate.
 */
static bool ksm_match(struct ksm_batch *b, unsigned int i, u64 hash, bool fresh, bool *filed)
{
	*filed = false;
	switch (ksm_try_stable(b, i, hash, fresh)) {
	case KSM_STABLE_MERGED:
		return true;
	case KSM_STABLE_LATER:
		return false;
	case KSM_STABLE_NONE:
		break;
	}
	if (ksm_try_unstable(b, i, hash, fresh))
		return true;
	*filed = ksm_file(b, i, hash);
	return false;
}

/*
 * Hardened mode: batch entry @i, unchanged since its last examination,
 * becomes a KSM folio whether or not another page holds its content: it
 * joins a KSM folio of its twin if there is one, or moves alone to a new
 * KSM folio of a fresh frame (see ksm_merge_fresh()).  Either way its
 * next write takes the same copy-on-write fault, and no page of its own
 * ever holds content that others share.  Returns true if it is KSM now.
 */
static bool ksm_keep_hardened(struct ksm_batch *b, unsigned int i, u64 hash)
{
	struct ksm_found *f = &b->found[i];
	struct ksm_member *m = NULL;
	struct ksm_stable *stable;
	struct folio *kfolio;
	int err;

	switch (ksm_try_stable(b, i, hash, true)) {
	case KSM_STABLE_MERGED:
		return true;
	case KSM_STABLE_LATER:
		return false;
	case KSM_STABLE_NONE:
		break;
	}
	stable = ksm_stable_alloc(hash, b->domain);
	if (!stable)
		return false;
	if (!ksm_member_ready(b, i, &m))
		goto fail;
	/* The frame is charged before our page is locked: that may reclaim. */
	kfolio = ksm_fresh_frame(b->vma, f->page);
	if (!kfolio)
		goto fail;
	if (ksm_lock_for_merge(b, i)) {
		folio_put(kfolio);
		goto fail;
	}
	err = ksm_merge_fresh(b->vma, f->page, kfolio, stable);
	folio_unlock(page_folio(f->page));
	trace_ksm_merge_one_page(err ? 0 : folio_pfn(kfolio), NULL, b->mm, err);
	if (err)
		goto fail;
	ksm_stable_seal(stable, folio_page(kfolio, 0));
	ksm_member_add(m, stable, b->slot, b->vma, f->addr);
	ksm_stable_insert(stable, folio_nid(kfolio));
	ksm_stable_pin(stable, kfolio);
	folio_unlock(kfolio);
	folio_put(kfolio);
	return true;
fail:
	if (m)
		ksm_member_cancel(b->slot, f->addr, m);
	ksm_stable_free(stable);
	return false;
}

/*
 * Merge batch entry @i with the zero page, a KSM folio or a candidate.
 * @unchanged: it may become a candidate.  @fresh: @hash was computed
 * just now, not before the other pages of a THP were.  Returns true if
 * merged; otherwise *@filed tells whether it is a candidate.
 */
static bool ksm_merge_found(struct ksm_batch *b, unsigned int i, u64 hash, bool unchanged,
			    bool fresh, bool *filed)
{
	*filed = false;
	if (ksm_try_zero(b, i, hash))
		return true;
	if (unchanged)
		return ksm_match(b, i, hash, fresh, filed);
	return ksm_try_stable(b, i, hash, fresh) == KSM_STABLE_MERGED;
}

/*
 * Examine batch entry @i: merge it if it can (@merge), and record what
 * was found.  A page of a THP kept whole (!@merge) is only recorded and,
 * if unchanged, filed as a candidate.
 */
static void ksm_scan_page(struct ksm_batch *b, unsigned int i, bool merge)
{
	struct ksm_found *f = &b->found[i];
	unsigned long vpn = f->addr >> PAGE_SHIFT;
	bool hardened = READ_ONCE(ksm_knobs.hardened);
	bool smart = READ_ONCE(ksm_knobs.smart_scan);
	unsigned long pass = ksm_stats.full_scans;
	bool cached = f->hashed == f->page;
	u64 v = 0, hash, age;
	bool unchanged, filed = false, broken = false;
	void *entry;

	entry = xa_load(&b->slot->items, vpn);
	if (folio_test_ksm(page_folio(f->page))) {
		ksm_stats.pages_scanned++;
		ksm_scan_ksm_page(b, i, entry);
		return;
	}
	if (entry && !xa_is_value(entry)) {
		/* It was merged, and a write or a swap-in replaced it since. */
		if (!ksm_drop_entry(b->slot, vpn))
			return;
		entry = NULL;
		broken = true;
	}
	if (entry)
		v = xa_to_value(entry);
	if (smart && ksm_skip_now(ksm_v_due(v), pass)) {
		/*
		 * Smart scan saves the hashing, not the matching: with the
		 * hash of its last visit the page stays a candidate, so a new
		 * duplicate still finds it (a match is confirmed byte for
		 * byte, as always).
		 */
		ksm_stats.pages_skipped++;
		/* A THP's examination counted the mark, if it led here. */
		if (v & KSM_V_WANTED)
			ksm_set_value(b->slot, vpn, v & ~KSM_V_WANTED);
		if (!(v & KSM_V_HASHED) || hardened)
			return;
		if (merge)
			ksm_match(b, i, v & KSM_HASH_MASK, false, &filed);
		else
			ksm_file(b, i, v & KSM_HASH_MASK);
		return;
	}

	/* Pages smart scan passes over are not counted as scanned. */
	ksm_stats.pages_scanned++;
	hash = cached ? f->hash : ksm_hash_page(f->page);
	/*
	 * A page whose content changed between two visits is held back as
	 * volatile: it may join a KSM folio, but it is no candidate.  A page
	 * seen for the first time is a candidate at once, so a duplicate
	 * merges in the pass that first sees it; a page whose merge a write
	 * just broke is not, since it is likely to be written again (this
	 * keeps the churn of memory that keeps changing down).  Hardened
	 * mode treats only pages unchanged between two visits, and all of
	 * them alike: what becomes of a page must not depend on whether
	 * someone else holds its content.
	 */
	if (v & KSM_V_HASHED)
		unchanged = (v & KSM_HASH_MASK) == hash;
	else
		unchanged = !broken && !hardened;
	if (!merge)
		filed = unchanged && ksm_file(b, i, hash);
	else if (hardened ? unchanged && ksm_keep_hardened(b, i, hash) :
		 ksm_merge_found(b, i, hash, unchanged, !cached, &filed))
		return;
	/* Not merged: the entry keeps the hash (a merge made it a member). */
	age = ksm_v_age(v);
	ksm_set_value(b->slot, vpn,
		      ksm_v_make(hash, true, age + 1,
				 ksm_due_pass(pass, smart ? ksm_skip_passes(age) : 0)) |
		      (filed ? KSM_V_FILED : 0));
}

/*
 * Give up the references of the batch from entry @i on, and end the batch
 * before it: the next walk starts at that entry's address, and only the
 * entries before it count against the budget.
 */
static void ksm_batch_cut(struct ksm_batch *b, unsigned int i)
{
	unsigned int j;

	b->end = b->found[i].addr;
	b->cut = true;
	b->collected = 0;
	for (j = 0; j < b->nr; j++) {
		struct ksm_found *f = &b->found[j];

		if (j < i) {
			b->collected += !f->settled;
			continue;
		}
		if (f->page)
			folio_put(page_folio(f->page));
		f->page = NULL;
	}
	b->nr = i;
}

/*
 * Huge pages
 *
 * Splitting a THP for one merged page trades 2 MiB of TLB reach for 4
 * KiB.  So a THP that a PMD maps is examined whole, in a batch of its
 * own (whatever is left of the budget: the excess is paid back by the
 * batches that follow), and each of its pages is hashed and looked up
 * without merging anything: a page would merge if the zero page, a KSM
 * folio or a candidate of the unstable index holds its hash, if another
 * page of the THP holds the same, or if a page found it as a candidate
 * since its last examination (KSM_V_WANTED).  Only if thp_split_threshold
 * pages or more would merge is the THP split, and the batch examined as
 * any other.  Otherwise (or if the split fails) the THP stays whole: its
 * pages are recorded and filed as candidates, and a page that finds one
 * of them does not split it either but marks its entry KSM_V_WANTED, so
 * that the THP's next examination counts it, and takes it out of the
 * unstable index for the rest of the pass.  The counting marks the
 * candidates it finds the same way, and a page that finds a candidate
 * of a THP with enough marks splits that THP and merges: identical THPs
 * thus merge in the pass that examines the second of them.
 *
 * Hashing costs what it costs for small pages, and smart scan's hashes
 * of earlier visits are used as they would be; hashes are computed once
 * per examination.  The counting only reads the indexes: a page counted
 * may still fail to merge, once the THP is split, when its partner turns
 * out to be busy or another THP kept whole.
 */

/*
 * Would batch entry @i, a page of a THP, merge?  Its hash is kept in the
 * entry for the examination that follows; *@hash is the one to compare
 * with the THP's other pages, 0 if none.  @shared: the THP is mapped more
 * than once (fork): a candidate inside the THP's range in another mm is
 * most likely a page of this very THP, which can never be a partner (none
 * of its pages can host a KSM folio either).  *@skipped tells that smart
 * scan passes over the page in this pass.
 */
static bool ksm_huge_would_merge(struct ksm_batch *b, unsigned int i, bool shared, u64 *hash,
				 bool *skipped)
{
	struct ksm_found *f = &b->found[i];
	unsigned long vpn = f->addr >> PAGE_SHIFT, pos = KSM_UTABLE_START;
	void *entry = xa_load(&b->slot->items, vpn);
	u64 v = xa_is_value(entry) ? xa_to_value(entry) : 0;
	u64 own, key, loc;
	bool unchanged;

	*hash = 0;
	*skipped = READ_ONCE(ksm_knobs.smart_scan) &&
		   ksm_skip_now(ksm_v_due(v), ksm_stats.full_scans);
	if (*skipped) {
		/* Passed over: it is matched on the hash of its last visit. */
		if (!(v & KSM_V_HASHED))
			return false;
		*hash = v & KSM_HASH_MASK;
		unchanged = true;
	} else {
		f->hash = ksm_hash_page(f->page);
		f->hashed = f->page;
		*hash = f->hash;
		unchanged = (v & KSM_V_HASHED) ? (v & KSM_HASH_MASK) == f->hash :
						 !entry || xa_is_value(entry);
	}
	if ((v & KSM_V_WANTED) || (ksm_zero_pages_allowed() && *hash == ksm_zero_hash) ||
	    ksm_stable_first(*hash, page_to_nid(f->page), b->domain))
		return true;
	if (!unchanged)
		return false;
	own = ksm_loc(b->slot->id, vpn);
	key = ksm_ukey(*hash, f->page, b->domain);
	while ((loc = ksm_utable_next(&ksm_unstable, key, &pos))) {
		struct ksm_slot *slot;

		if (loc == own || (shared && (ksm_loc_vpn(loc) ^ vpn) < KSM_PMD_PAGES))
			continue;
		/*
		 * The candidate hears of it too: if it is a page of a THP kept
		 * whole, that THP may be split as soon as a page merges with
		 * it, instead of at its next examination.
		 */
		slot = ksm_slot_of(ksm_loc_slot(loc));
		if (slot)
			ksm_mark_wanted(slot, ksm_loc_vpn(loc) << PAGE_SHIFT);
		return true;
	}
	return false;
}

static int ksm_cmp_hash(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Does splitting the batch's THP pay?  Counts the pages that would merge
 * (see "Huge pages"), a page the THP holds n times counting n - 1 times.
 * Pages smart scan passes over are taken off the batch's budget, as
 * small pages are.
 */
static bool ksm_huge_split_pays(struct ksm_batch *b)
{
	unsigned int i, nr = 0, would = 0;
	bool shared = false, skipped;
	u64 hash;

	for (i = 0; i < b->nr; i++) {
		struct ksm_found *f = &b->found[i];

		if (f->settled || !f->page)
			continue;
		if (!shared)
			shared = folio_mapcount(page_folio(f->page)) > 1;
		if (ksm_huge_would_merge(b, i, shared, &hash, &skipped))
			would++;
		else if (hash)
			ksm_huge_hashes[nr++] = hash;
		b->collected -= skipped;
		cond_resched();
	}
	/* Copies inside a THP that fork shares can never merge: no host. */
	if (shared)
		nr = 0;
	sort(ksm_huge_hashes, nr, sizeof(u64), ksm_cmp_hash, NULL);
	for (i = 1; i < nr; i++)
		would += ksm_huge_hashes[i] == ksm_huge_hashes[i - 1];
	return would >= READ_ONCE(ksm_knobs.thp_split_threshold);
}

/*
 * Splitting the batch's THP pays: split it before its pages are looked
 * at, so that pages elsewhere (another THP that counted this one's) can
 * merge with them even if none of them merges now.  Returns false if it
 * cannot be split now (locked, pinned): no page of it can merge then.
 */
static bool ksm_huge_split(struct ksm_batch *b)
{
	unsigned int i;

	for (i = 0; i < b->nr && !b->found[i].page; i++)
		;
	if (i == b->nr || ksm_lock_for_merge(b, i))
		return false;
	folio_unlock(page_folio(b->found[i].page));
	return true;
}

/*
 * The batch's THP stays whole: record its pages, merging none.  Pages a
 * failed split gave up are looked up again (the PMD still maps them).
 */
static void ksm_huge_keep(struct ksm_batch *b)
{
	unsigned int i;

	for (i = 0; i < b->nr; i++) {
		struct ksm_found *f = &b->found[i];

		if (!f->page && !f->settled)
			f->page = ksm_lookup_page(b->vma, f->addr);
		if (!f->page)
			continue;
		ksm_scan_page(b, i, false);
		folio_put(page_folio(f->page));
		f->page = NULL;
	}
}

/*
 * Does the PTE of batch entry @f still map its KSM page?  A write may
 * have replaced the mapping since the collection; the examination must
 * then see the new page, or the member of the old one would stay until
 * the next pass (and a pass that began before the write would end with
 * the write unnoticed).  A KSM folio is never large, so a PMD maps none.
 */
static bool ksm_ksm_page_current(struct ksm_batch *b, struct ksm_found *f)
{
	pmd_t *pmd = mm_find_pmd(b->mm, f->addr);
	spinlock_t *ptl;	/* of the PTE table */
	bool same = false;
	pte_t *ptep, pte;

	ptep = pmd ? pte_offset_map_lock(b->mm, pmd, f->addr, &ptl) : NULL;
	if (!ptep)
		return false;
	pte = ptep_get(ptep);
	same = pte_present(pte) && pte_pfn(pte) == page_to_pfn(f->page);
	pte_unmap_unlock(ptep, ptl);
	return same;
}

/*
 * Examine the batch's pages, dropping each reference when done.  The
 * batch holds the mm's mmap_lock: when a writer (mmap, munmap, mprotect)
 * waits for it, the batch ends after the page at hand, so that the
 * process waits for one page's examination, not for a whole table's.
 * (A THP's pages are all hashed first, without such a break.)
 */
static void ksm_scan_found(struct ksm_batch *b)
{
	unsigned int i;

	if (b->huge && (!ksm_huge_split_pays(b) || !ksm_huge_split(b))) {
		ksm_huge_keep(b);
		return;
	}
	for (i = 0; i < b->nr; i++) {
		struct ksm_found *f = &b->found[i];

		if (f->settled)
			continue;
		if (i && mmap_lock_is_contended(b->mm)) {
			ksm_batch_cut(b, i);
			return;
		}
		if (f->page && folio_test_ksm(page_folio(f->page)) &&
		    !ksm_ksm_page_current(b, f)) {
			folio_put(page_folio(f->page));
			f->page = NULL;
		}
		if (!f->page)
			f->page = ksm_lookup_page(b->vma, f->addr);
		if (f->page) {
			ksm_scan_page(b, i, true);
			folio_put(page_folio(f->page));
			f->page = NULL;
		}
		cond_resched();
	}
}

static bool ksm_mm_mergeable(struct mm_struct *mm)
{
	struct vm_area_struct *vma;

	VMA_ITERATOR(vmi, mm, 0);
	for_each_vma(vmi, vma)
		if (vma->vm_flags & VM_MERGEABLE)
			return true;
	return false;
}

/*
 * A writer waiting for @mm's mmap_lock (mmap, munmap, mprotect) goes
 * before the next batch.  Taking the lock again at once would keep it
 * from the writer that the last unlock woke: rwsem lets a reader steal
 * the lock until the writer asks for a handoff, about 4 ms later.
 */
static void ksm_let_writer_in(struct mm_struct *mm)
{
	if (mmap_lock_is_contended(mm))
		usleep_range(20, 50);
}

/**
 * struct ksm_budget - what is left of a batch
 * @pages: pages still to examine (pages_to_scan)
 * @visits: pages still to visit, examined or passed over
 */
struct ksm_budget {
	unsigned int pages;
	unsigned long visits;
};

/*
 * Take @pages examined and @visits visited pages off @bg; examined pages
 * beyond it (a THP examined whole) are owed to the next batches.
 */
static void ksm_budget_use(struct ksm_budget *bg, unsigned int pages, unsigned int visits)
{
	if (pages > bg->pages)
		ksm_budget_debt += pages - bg->pages;
	bg->pages -= min(pages, bg->pages);
	bg->visits -= min_t(unsigned long, visits, bg->visits);
}

/* Budget left, and nobody waiting for ksm_mutex (see ksm_mutex_lock()). */
static bool ksm_budget_left(const struct ksm_budget *bg)
{
	return bg->pages && bg->visits && !ksm_mutex_wanted();
}

/*
 * Scan @slot from *@pos while @bg lasts, one PTE table at a time under
 * mmap_lock.  *@end tells whether the end of the address space was
 * reached: KSM_SLOT_DONE, or KSM_SLOT_RETIRED_* when the mm had nothing
 * mergeable left and its slot was taken out of the ring (see
 * ksm_slot_retire()).  Even an mm with nothing to scan costs a page of
 * the budget, so that a batch always ends.
 */
enum ksm_slot_end { KSM_SLOT_MORE, KSM_SLOT_DONE, KSM_SLOT_RETIRED, KSM_SLOT_RETIRED_LAST };

static void ksm_scan_slot(struct ksm_slot *slot, unsigned long *pos,
			  struct ksm_budget *bg, enum ksm_slot_end *end)
{
	struct ksm_batch *b = &ksm_batch;
	struct mm_struct *mm = slot->mm;
	u64 started = ktime_get_ns(), memcg, domain;
	struct vm_area_struct *vma;
	bool cut = false;

	/* One reading of the mm's cgroup serves its domain and its accounting. */
	memcg = ksm_slot_memcg(slot);
	ksm_tenant_visit(slot, memcg);
	domain = ksm_domain_of(slot, memcg);
	*end = KSM_SLOT_MORE;
	while (ksm_budget_left(bg) && *end == KSM_SLOT_MORE) {
		unsigned long start = *pos;

		ksm_let_writer_in(mm);
		mmap_read_lock(mm);
		vma = find_vma(mm, start);
		while (vma && (!(vma->vm_flags & VM_MERGEABLE) || !vma->anon_vma))
			vma = find_vma(mm, vma->vm_end);
		if (!vma) {
			ksm_drop_gaps(slot, start, TASK_SIZE, NULL);
			*end = KSM_SLOT_DONE;
			if (xa_empty(&slot->items) && !ksm_mm_mergeable(mm))
				*end = ksm_slot_retire(slot) ? KSM_SLOT_RETIRED_LAST :
							       KSM_SLOT_RETIRED;
			mmap_read_unlock(mm);
			ksm_budget_use(bg, 1, 1);
			break;
		}
		b->slot = slot;
		b->mm = mm;
		b->domain = domain;
		b->vma = vma;
		b->nr = 0;
		b->collected = 0;
		b->idle_tables = 0;
		b->cut = false;
		b->huge = false;
		b->budget = min_t(unsigned int, bg->pages,
				  cut ? KSM_CONTENDED_BATCH : PTRS_PER_PTE);
		b->end = vma->vm_end;
		walk_page_range_vma(vma, max(start, vma->vm_start), vma->vm_end,
				    &ksm_collect_ops, b);
		ksm_drop_gaps(slot, start, b->end, b);
		ksm_scan_found(b);
		*pos = b->end;
		cut = b->cut;
		mmap_read_unlock(mm);
		ksm_budget_use(bg, b->nr ? b->collected : 1, b->nr);
		cond_resched();
	}
	ksm_tenant_scan_time(slot, ktime_get_ns() - started);
}

/*
 * Passes
 */

static void ksm_pass_start(void)
{
	lru_add_drain_all();
	ksm_utable_reset(&ksm_unstable, ksm_stats.pages_unshared);
	trace_ksm_start_scan(ksm_stats.full_scans, ksm_stats.items);
	ksm_advisor_pass_start();
}

static void ksm_pass_end(void)
{
	unsigned long prune = msecs_to_jiffies(READ_ONCE(ksm_knobs.prune_ms));

	ksm_stats.full_scans++;
	if (time_after_eq(jiffies, ksm_last_prune + prune)) {
		ksm_stable_prune();
		ksm_last_prune = jiffies;
	}
	trace_ksm_stop_scan(ksm_stats.full_scans, ksm_stats.items);
	ksm_advisor_pass_end();
}

/**
 * ksm_reap_at_cursor() - free the slot of an exited mm at the cursor
 * @slot: the slot at the cursor, whose mm has no users left
 *
 * The cursor moves on first; if the slot was the last of the ring, the
 * pass ends with it.  While KSM is stopped, that pass is not counted as
 * a full scan: it starts again when KSM runs.
 *
 * Context: ksmd, ksm_mutex held.
 * Return: true if the slot is freed (see ksm_slot_reap()).
 */
bool ksm_reap_at_cursor(struct ksm_slot *slot)
{
	bool last = !ksm_cursor_advance();
	bool freed = ksm_slot_reap(slot);

	if (last && (READ_ONCE(ksm_knobs.run) & KSM_RUN_MERGE))
		ksm_pass_end();
	return freed;
}

/**
 * ksm_scan_batch() - examine up to @budget pages, resuming at the cursor
 * @budget: pages_to_scan
 *
 * Pages that smart scan passes over do not count, but at most
 * KSM_VISITS_PER_PAGE * @budget pages are visited.  The batch ends early,
 * at the next page table, when a task waits for ksm_mutex, and when a
 * pass ends: a batch may start a pass but completes at most one, so that
 * a small registered set is not scanned over and over without a pause.
 *
 * Context: ksmd, ksm_mutex held.
 */
void ksm_scan_batch(unsigned int budget)
{
	unsigned long passes = ksm_stats.full_scans;
	struct ksm_budget bg = {
		.pages = budget,
		.visits = (unsigned long)budget * KSM_VISITS_PER_PAGE,
	};

	lockdep_assert_held(&ksm_mutex);
	/* Hardened mode's frames and pins, once a batch, with no mmap_lock held. */
	if (READ_ONCE(ksm_knobs.hardened))
		ksm_frames_refill();
	ksm_stable_release_pins(false);
	/* What a THP examined whole took beyond its budget is paid back first. */
	if (ksm_budget_debt >= bg.pages) {
		ksm_budget_debt -= bg.pages;
		return;
	}
	bg.pages -= ksm_budget_debt;
	ksm_budget_debt = 0;
	while (ksm_budget_left(&bg) && ksm_stats.full_scans == passes) {
		enum ksm_slot_end end;
		struct ksm_slot *slot;
		unsigned long *pos;

		slot = ksm_cursor_slot(&pos);
		if (!slot) {
			slot = ksm_cursor_restart(&pos);
			if (!slot)
				return;
			ksm_pass_start();
		}
		/* No mmap_lock is held here: the indexes grow now, if they must. */
		ksm_stable_grow();
		ksm_utable_grow(&ksm_unstable);
		if (!mmget_not_zero(slot->mm)) {
			ksm_reap_at_cursor(slot);
			ksm_budget_use(&bg, 1, 1);
			continue;
		}
		ksm_scan_slot(slot, pos, &bg, &end);
		mmput_async(slot->mm);
		if (end == KSM_SLOT_RETIRED || end == KSM_SLOT_RETIRED_LAST) {
			ksm_tenant_leave(slot);
			ksm_slot_release(slot);
		}
		if (end == KSM_SLOT_RETIRED_LAST ||
		    (end == KSM_SLOT_DONE && !ksm_cursor_advance()))
			ksm_pass_end();
		cond_resched();
	}
}

/**
 * ksm_slot_clear() - drop every tracking entry of a slot
 * @slot: the slot
 *
 * Stops early when a task waits for ksm_mutex (see ksm_mutex_lock()).
 *
 * Context: ksm_mutex held; may sleep.
 * Return: true if the slot has no entries left.
 */
static bool ksm_slot_clear(struct ksm_slot *slot)
{
	unsigned long vpn;
	void *entry;

	lockdep_assert_held(&ksm_mutex);
	xa_for_each(&slot->items, vpn, entry) {
		ksm_drop_entry(slot, vpn);
		/* A large mm: let a sysfs writer in, and finish later. */
		if (ksm_mutex_wanted())
			break;
		cond_resched();
	}
	return xa_empty(&slot->items);
}

/**
 * ksm_slot_clear_values() - drop the tracking entries of a slot that are
 * not members of a KSM folio
 * @slot: the slot
 *
 * Context: ksm_mutex held; may sleep.
 */
static void ksm_slot_clear_values(struct ksm_slot *slot)
{
	unsigned long vpn;
	void *entry;

	lockdep_assert_held(&ksm_mutex);
	xa_for_each(&slot->items, vpn, entry) {
		if (xa_is_value(entry))
			ksm_drop_entry(slot, vpn);
		cond_resched();
	}
}

/**
 * ksm_slot_reap() - free the slot of an mm that exited
 * @slot: the slot, not at the cursor
 *
 * Its entries are dropped first; if some KSM folio is busy (being freed
 * by the exit itself, say) the slot stays in the ring to be tried again.
 *
 * Context: ksm_mutex held.
 * Return: true if the slot is freed.
 */
bool ksm_slot_reap(struct ksm_slot *slot)
{
	lockdep_assert_held(&ksm_mutex);
	if (!ksm_slot_clear(slot))
		return false;
	ksm_tenant_leave(slot);
	ksm_slot_unlink(slot);
	ksm_slot_free(slot);
	return true;
}

/**
 * ksm_forget_all() - drop all tracking state (run=2)
 *
 * A KSM folio that is still mapped (unmerging could not copy a poisoned
 * page, say) keeps its node and members, so that the reverse map still
 * finds its mappings; everything else is dropped.
 *
 * Context: ksm_mutex held; may sleep.
 * Return: true if every KSM folio could be forgotten.
 */
bool ksm_forget_all(void)
{
	struct ksm_slot *slot = NULL;

	lockdep_assert_held(&ksm_mutex);
	ksm_stable_forget_all();
	while ((slot = ksm_slot_next(slot)))
		ksm_slot_clear_values(slot);
	ksm_cursor_reset();
	ksm_scan_forget();
	return ksm_stable_empty();
}

/**
 * ksm_scan_forget() - empty the unstable index
 *
 * Context: ksm_mutex held.
 */
void ksm_scan_forget(void)
{
	lockdep_assert_held(&ksm_mutex);
	ksm_utable_destroy(&ksm_unstable);
}

/**
 * ksm_scan_init() - start the prune clock
 */
void __init ksm_scan_init(void)
{
	ksm_last_prune = jiffies;
}
