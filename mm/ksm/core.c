// SPDX-License-Identifier: GPL-2.0-only
/*
 * KSM core: the registered mms (slots), ksmd's cursor over them, the
 * hooks that madvise, prctl, fork, execve and exit call, and ksmd itself.
 */
#include <linux/freezer.h>
#include <linux/hashtable.h>
#include <linux/kthread.h>
#include <linux/ksm.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/pagewalk.h>
#include <linux/sched/cputime.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#define CREATE_TRACE_POINTS
#include <trace/events/ksm.h>

#include "internal.h"

/* Tunables at their 6.12 defaults. */
struct ksm_knobs ksm_knobs = {
	.run = IS_ENABLED(CONFIG_SYSFS) ? KSM_RUN_STOP : KSM_RUN_MERGE,
	.pages_to_scan = 100,
	.sleep_ms = 20,
	.merge_across_nodes = 1,
	.max_page_sharing = 256,
	.prune_ms = 2000,
	.smart_scan = true,
	.advisor = KSM_ADVISOR_NONE,
	.advisor_max_cpu = 70,
	.advisor_min_pages = 500,
	.advisor_max_pages = 30000,
	.advisor_target_s = 200,
};

struct ksm_stats ksm_stats;

/* KSM-placed zero pages of all mms; the per-mm count is in mm_struct. */
atomic_long_t ksm_zero_pages = ATOMIC_LONG_INIT(0);

/* Serialises ksmd's batches with sysfs writers; see "Locking" in internal.h. */
DEFINE_MUTEX(ksm_mutex);
/* Tasks waiting in ksm_mutex_lock(): ksmd ends its batch early for them. */
static atomic_t ksm_mutex_waiters = ATOMIC_INIT(0);

/**
 * ksm_mutex_lock() - take ksm_mutex from outside ksmd
 *
 * A batch of ksmd's can be long (pages_to_scan has no upper limit); it
 * ends at the next page table when someone waits here.
 */
void ksm_mutex_lock(void)
{
	atomic_inc(&ksm_mutex_waiters);
	mutex_lock(&ksm_mutex);
	atomic_dec(&ksm_mutex_waiters);
}

/**
 * ksm_mutex_wanted() - tell ksmd whether to end its batch early
 *
 * Return: true if a task waits in ksm_mutex_lock().
 */
bool ksm_mutex_wanted(void)
{
	return atomic_read(&ksm_mutex_waiters);
}

/* ksmd waits here while it has nothing to do ... */
DECLARE_WAIT_QUEUE_HEAD(ksm_wait);
/* ... and here between batches; a sleep_millisecs write wakes it. */
DECLARE_WAIT_QUEUE_HEAD(ksm_sleep_wait);

/* Protects ksm_ring, ksm_slot_hash, ksm_slot_ids and ksm_cursor. */
static DEFINE_SPINLOCK(ksm_slots_lock);
/* The scan ring of slots, in scan order. */
static LIST_HEAD(ksm_ring);
#define KSM_SLOT_HASH_BITS	10
static DEFINE_HASHTABLE(ksm_slot_hash, KSM_SLOT_HASH_BITS);
/* Slot ids for unstable-index locations. */
static DEFINE_XARRAY_ALLOC1(ksm_slot_ids);
#define KSM_SLOT_ID_MAX		((1U << (64 - KSM_LOC_VPN_BITS)) - 1)

/*
 * ksmd's position: the slot being scanned (NULL between passes) and the
 * next address in it.  The slot changes under ksm_slots_lock so that
 * __ksm_exit() can see it; the address belongs to ksmd.
 */
static struct ksm_slot *ksm_cursor;
static unsigned long ksm_cursor_addr;

static struct kmem_cache *ksm_slot_cache;
static struct task_struct *ksmd;

static struct ksm_slot *ksm_slot_lookup(struct mm_struct *mm)
{
	struct ksm_slot *slot;

	lockdep_assert_held(&ksm_slots_lock);
	hash_for_each_possible(ksm_slot_hash, slot, hash, (unsigned long)mm)
		if (slot->mm == mm)
			return slot;
	return NULL;
}

/*
 * Slots leave the ring only under ksm_mutex, so a mutex holder may keep a
 * slot pointer across dropping ksm_slots_lock; the lock is needed only
 * against __ksm_enter() adding slots.
 */
static struct ksm_slot *ksm_ring_next(struct ksm_slot *slot)
{
	lockdep_assert_held(&ksm_slots_lock);
	if (!slot)
		return list_first_entry_or_null(&ksm_ring, struct ksm_slot, link);
	return list_is_last(&slot->link, &ksm_ring) ? NULL : list_next_entry(slot, link);
}

/**
 * ksm_slot_get_mm() - the mm of a slot id, with a user reference
 * @id: slot id from an unstable-index location
 * @slotp: returns the slot
 *
 * Holding mm_users keeps the mm from exiting, and so the slot alive.
 *
 * Return: the mm (to be released with mmput_async()), or NULL.
 */
struct mm_struct *ksm_slot_get_mm(unsigned int id, struct ksm_slot **slotp)
{
	struct mm_struct *mm = NULL;
	struct ksm_slot *slot;

	spin_lock(&ksm_slots_lock);
	slot = xa_load(&ksm_slot_ids, id);
	if (slot && mmget_not_zero(slot->mm)) {
		mm = slot->mm;
		*slotp = slot;
	}
	spin_unlock(&ksm_slots_lock);
	return mm;
}

/**
 * ksm_cursor_slot() - the slot ksmd is scanning
 * @pos: returns where ksmd's address in it is kept
 *
 * Return: the slot, or NULL between passes.
 */
struct ksm_slot *ksm_cursor_slot(unsigned long **pos)
{
	*pos = &ksm_cursor_addr;
	return ksm_cursor;
}

/**
 * ksm_cursor_restart() - start a pass at the first slot
 * @pos: returns where ksmd's address is kept
 *
 * Return: the first slot, or NULL if no mm is registered.
 */
struct ksm_slot *ksm_cursor_restart(unsigned long **pos)
{
	spin_lock(&ksm_slots_lock);
	ksm_cursor = list_first_entry_or_null(&ksm_ring, struct ksm_slot, link);
	spin_unlock(&ksm_slots_lock);
	ksm_cursor_addr = 0;
	*pos = &ksm_cursor_addr;
	return ksm_cursor;
}

static void __ksm_cursor_advance(void)
{
	lockdep_assert_held(&ksm_slots_lock);
	if (ksm_cursor && !list_is_last(&ksm_cursor->link, &ksm_ring))
		ksm_cursor = list_next_entry(ksm_cursor, link);
	else
		ksm_cursor = NULL;
	ksm_cursor_addr = 0;
}

/**
 * ksm_cursor_advance() - move ksmd to the next slot
 *
 * Return: the next slot, or NULL at the end of the pass.
 */
struct ksm_slot *ksm_cursor_advance(void)
{
	spin_lock(&ksm_slots_lock);
	__ksm_cursor_advance();
	spin_unlock(&ksm_slots_lock);
	return ksm_cursor;
}

/**
 * ksm_slot_retire() - unregister a live mm that has nothing mergeable
 * @slot: the slot at the cursor, without tracking entries
 *
 * The cursor moves on first.  The mm leaves KSM as if it never joined,
 * as 6.12 does when a scan finds no VM_MERGEABLE VMA: MMF_VM_MERGEABLE,
 * which /proc/<pid>/ksm_stat reports, means "registered with ksmd".
 * Merge-any stays set, so its next VMA registers it again; holding its
 * mmap_lock keeps MADV_MERGEABLE from racing with the change.  The
 * caller frees the slot with ksm_slot_release() after unlocking.
 *
 * Context: ksm_mutex and the mm's mmap_lock held.
 * Return: true if the pass ended with it.
 */
bool ksm_slot_retire(struct ksm_slot *slot)
{
	bool last;

	lockdep_assert_held(&ksm_mutex);
	mmap_assert_locked(slot->mm);
	spin_lock(&ksm_slots_lock);
	if (ksm_cursor == slot)
		__ksm_cursor_advance();
	last = !ksm_cursor;
	list_del(&slot->link);
	hash_del(&slot->hash);
	xa_erase(&ksm_slot_ids, slot->id);
	spin_unlock(&ksm_slots_lock);
	clear_bit(MMF_VM_MERGEABLE, &slot->mm->flags);
	return last;
}

/**
 * ksm_slot_release() - free a slot taken out of the ring
 * @slot: the slot
 */
void ksm_slot_release(struct ksm_slot *slot)
{
	struct mm_struct *mm = slot->mm;

	kmem_cache_free(ksm_slot_cache, slot);
	mmdrop(mm);
}

/* Take @slot out of the ring, the hash and the id map. */
static void ksm_slot_unlink(struct ksm_slot *slot)
{
	lockdep_assert_held(&ksm_mutex);
	spin_lock(&ksm_slots_lock);
	list_del(&slot->link);
	hash_del(&slot->hash);
	xa_erase(&ksm_slot_ids, slot->id);
	spin_unlock(&ksm_slots_lock);
}

static void ksm_slot_free(struct ksm_slot *slot)
{
	clear_bit(MMF_VM_MERGE_ANY, &slot->mm->flags);
	clear_bit(MMF_VM_MERGEABLE, &slot->mm->flags);
	ksm_slot_release(slot);
}

/**
 * ksm_slot_reap() - free the slot of an mm that exited
 * @slot: the slot, not at the cursor
 *
 * Its entries are dropped first; if some KSM folio is busy (being freed
 * by the exit itself, say) the slot stays in the ring to be tried again.
 *
 * Context: ksmd, ksm_mutex held.
 * Return: true if the slot is freed.
 */
bool ksm_slot_reap(struct ksm_slot *slot)
{
	lockdep_assert_held(&ksm_mutex);
	if (!ksm_slot_clear(slot))
		return false;
	ksm_slot_unlink(slot);
	ksm_slot_free(slot);
	return true;
}

/* A new slot for @mm, holding an mmgrab() reference and an id. */
static struct ksm_slot *ksm_slot_new(struct mm_struct *mm)
{
	struct ksm_slot *slot;
	int err;

	slot = kmem_cache_zalloc(ksm_slot_cache, GFP_KERNEL);
	if (!slot)
		return ERR_PTR(-ENOMEM);
	err = xa_alloc(&ksm_slot_ids, &slot->id, NULL, XA_LIMIT(1, KSM_SLOT_ID_MAX),
		       GFP_KERNEL);
	if (err) {
		kmem_cache_free(ksm_slot_cache, slot);
		/* Out of ids (-EBUSY) is out of memory to the caller too. */
		return ERR_PTR(-ENOMEM);
	}
	xa_init(&slot->items);
	slot->mm = mm;
	mmgrab(mm);
	return slot;
}

/*
 * Make @slot visible to ksmd: just behind the cursor, so that it is
 * reached at the end of the current pass and a fork followed by exec
 * costs nothing; at the end of the ring while run=2 unmerges, so that
 * the unmerging walk cannot miss it.  Returns true if the ring was empty.
 */
static bool ksm_ring_insert(struct ksm_slot *slot)
{
	struct list_head *before = &ksm_ring;
	bool was_empty;

	spin_lock(&ksm_slots_lock);
	was_empty = list_empty(&ksm_ring);
	if (ksm_cursor && !(READ_ONCE(ksm_knobs.run) & KSM_RUN_UNMERGE))
		before = &ksm_cursor->link;
	list_add_tail(&slot->link, before);
	hash_add(ksm_slot_hash, &slot->hash, (unsigned long)slot->mm);
	xa_store(&ksm_slot_ids, slot->id, slot, GFP_ATOMIC);
	spin_unlock(&ksm_slots_lock);
	return was_empty;
}

/**
 * __ksm_enter() - register an mm with KSM
 * @mm: the mm
 *
 * Context: mmap_lock held for writing (madvise, prctl, fork, exec).
 * Return: 0, -ENOMEM or -EBUSY (no slot id left).
 */
int __ksm_enter(struct mm_struct *mm)
{
	struct ksm_slot *slot = ksm_slot_new(mm);

	if (IS_ERR(slot))
		return PTR_ERR(slot);
	set_bit(MMF_VM_MERGEABLE, &mm->flags);
	trace_ksm_enter(mm);
	if (ksm_ring_insert(slot))
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

/*
 * Exits that found ksm_mutex taken and left their slot in the ring for
 * ksmd to reap; ksmd wakes up for them even while it is not merging.
 */
static atomic_t ksm_exits_pending = ATOMIC_INIT(0);

/* Most tracking entries an exiting task drops itself; see __ksm_exit(). */
#define KSM_EXIT_INLINE_ITEMS	512

/* Free the slot of exiting @mm now, if it is off the cursor and has no busy entry. */
static bool ksm_exit_now(struct mm_struct *mm)
{
	struct ksm_slot *slot;

	lockdep_assert_held(&ksm_mutex);
	spin_lock(&ksm_slots_lock);
	slot = ksm_slot_lookup(mm);
	spin_unlock(&ksm_slots_lock);
	/* Without a slot, ksmd retired it: nothing is left to free. */
	if (!slot)
		return true;
	if (slot == ksm_cursor)
		return false;
	if (!ksm_slot_clear(slot))
		return false;
	ksm_slot_unlink(slot);
	ksm_slot_free(slot);
	return true;
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
	if (!done) {
		atomic_inc(&ksm_exits_pending);
		wake_up_interruptible(&ksm_wait);
	}
	trace_ksm_exit(mm);
}

/* How soon ksmd tries again a slot it could not reap. */
#define KSM_REAP_RETRY_MS	100

/*
 * Reap the slots that exits left behind, when an exit asked for it or
 * when @again (the last reap left some).  Returns true if some exited
 * slot is still there, to be tried again in KSM_REAP_RETRY_MS.
 */
static bool ksm_reap_exited(bool again)
{
	struct ksm_slot *slot, *next;
	bool left = false;

	lockdep_assert_held(&ksm_mutex);
	if (!atomic_xchg(&ksm_exits_pending, 0) && !again)
		return false;
	spin_lock(&ksm_slots_lock);
	for (slot = ksm_ring_next(NULL); slot; slot = next) {
		next = ksm_ring_next(slot);
		if (atomic_read(&slot->mm->mm_users))
			continue;
		spin_unlock(&ksm_slots_lock);
		if (!(slot == ksm_cursor ? ksm_reap_at_cursor(slot) : ksm_slot_reap(slot)))
			left = true;
		cond_resched();
		spin_lock(&ksm_slots_lock);
	}
	spin_unlock(&ksm_slots_lock);
	return left;
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

/* Bytes of engine metadata per tracking entry, for the profit figures. */
#define KSM_ENTRY_BYTES	(sizeof(struct ksm_uentry) * 5 / 4 + sizeof(void *) * 9 / 8)

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

/**
 * ksm_general_profit() - memory KSM saves in total, net of its metadata
 *
 * Return: bytes saved, possibly negative.
 */
long ksm_general_profit(void)
{
	return (long)(READ_ONCE(ksm_stats.pages_sharing) +
		      atomic_long_read(&ksm_zero_pages)) * PAGE_SIZE -
	       (long)(READ_ONCE(ksm_stats.items) * KSM_ENTRY_BYTES);
}

/*
 * The scan-time advisor: at the end of every pass, pick pages_to_scan so
 * that a pass takes advisor_target_scan_time seconds.
 */
static struct ksm_advisor ksm_advisor_state;
static ktime_t ksm_pass_started;
static u64 ksm_pass_cpu_ns;

/**
 * ksm_advisor_reset() - forget what the advisor learnt
 */
void ksm_advisor_reset(void)
{
	ksm_advisor_state.ratio = 0;
}

/**
 * ksm_advisor_pass_start() - note the time and ksmd's CPU time
 */
void ksm_advisor_pass_start(void)
{
	ksm_pass_started = ktime_get();
	ksm_pass_cpu_ns = task_sched_runtime(current);
}

/**
 * ksm_advisor_pass_end() - let the advisor choose the next batch size
 */
void ksm_advisor_pass_end(void)
{
	struct ksm_advisor_limits lim = {
		.target_scan_time_s = READ_ONCE(ksm_knobs.advisor_target_s),
		.max_cpu = READ_ONCE(ksm_knobs.advisor_max_cpu),
		.min_pages = READ_ONCE(ksm_knobs.advisor_min_pages),
		.max_pages = READ_ONCE(ksm_knobs.advisor_max_pages),
	};
	struct ksm_advisor_sample s;
	s64 wall_ns = ktime_to_ns(ktime_sub(ktime_get(), ksm_pass_started));
	u64 cpu_ns = task_sched_runtime(current) - ksm_pass_cpu_ns;

	if (READ_ONCE(ksm_knobs.advisor) != KSM_ADVISOR_SCAN_TIME || wall_ns <= 0)
		return;
	s.pages_to_scan = READ_ONCE(ksm_knobs.pages_to_scan);
	s.scan_time_ms = div_u64(wall_ns, NSEC_PER_MSEC);
	s.cpu_percent = div64_u64(cpu_ns * 100, wall_ns);
	WRITE_ONCE(ksm_knobs.pages_to_scan, ksm_advisor_next(&ksm_advisor_state, &s, &lim));
	trace_ksm_advisor(div_u64(wall_ns, NSEC_PER_SEC), ksm_knobs.pages_to_scan,
			  s.cpu_percent);
}

/*
 * ksmd
 */

static bool ksm_should_scan(void)
{
	return (READ_ONCE(ksm_knobs.run) & KSM_RUN_MERGE) && !list_empty(&ksm_ring);
}

static int ksm_thread(void *unused)
{
	bool reap_again = false;

	set_freezable();
	set_user_nice(current, 5);

	while (!kthread_should_stop()) {
		mutex_lock(&ksm_mutex);
		reap_again = ksm_reap_exited(reap_again);
		if (ksm_should_scan())
			ksm_scan_batch(READ_ONCE(ksm_knobs.pages_to_scan));
		mutex_unlock(&ksm_mutex);
		cond_resched();

		if (ksm_should_scan()) {
			unsigned int ms = READ_ONCE(ksm_knobs.sleep_ms);

			wait_event_freezable_timeout(ksm_sleep_wait,
						     ms != READ_ONCE(ksm_knobs.sleep_ms) ||
						     kthread_should_stop(),
						     msecs_to_jiffies(ms));
		} else if (reap_again) {
			wait_event_freezable_timeout(ksm_wait, ksm_should_scan() ||
						     atomic_read(&ksm_exits_pending) ||
						     kthread_should_stop(),
						     msecs_to_jiffies(KSM_REAP_RETRY_MS));
		} else {
			wait_event_freezable(ksm_wait, ksm_should_scan() ||
					     atomic_read(&ksm_exits_pending) ||
					     kthread_should_stop());
		}
	}
	return 0;
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
	spin_lock(&ksm_slots_lock);
	while ((slot = ksm_ring_next(slot))) {
		spin_unlock(&ksm_slots_lock);
		ksm_slot_clear_values(slot);
		spin_lock(&ksm_slots_lock);
	}
	ksm_cursor = NULL;
	spin_unlock(&ksm_slots_lock);
	ksm_scan_forget();
	return ksm_stable_empty();
}

/**
 * ksm_walk_mms() - call @fn for every registered mm that is alive
 * @fn: the function, called with a user reference on the mm
 *
 * Context: ksm_mutex held; may sleep.
 * Return: 0, or the first error of @fn (which stops the walk).
 */
int ksm_walk_mms(ksm_mm_fn_t fn)
{
	struct ksm_slot *slot = NULL;
	int err = 0;

	lockdep_assert_held(&ksm_mutex);
	spin_lock(&ksm_slots_lock);
	while (!err && (slot = ksm_ring_next(slot))) {
		if (!mmget_not_zero(slot->mm))
			continue;
		spin_unlock(&ksm_slots_lock);
		err = fn(slot->mm);
		mmput_async(slot->mm);
		spin_lock(&ksm_slots_lock);
	}
	spin_unlock(&ksm_slots_lock);
	return err;
}

static int __init ksm_engine_init(void)
{
	int err;

	ksm_slot_cache = KMEM_CACHE(ksm_slot, 0);
	if (!ksm_slot_cache)
		return -ENOMEM;
	err = ksm_stable_init();
	if (err)
		goto out_cache;
	ksm_content_init();
	ksm_scan_init();
	ksmd = kthread_run(ksm_thread, NULL, "ksmd");
	if (IS_ERR(ksmd)) {
		pr_err("ksm: creating kthread failed\n");
		err = PTR_ERR(ksmd);
		goto out_cache;
	}
	err = ksm_sysfs_init();
	if (err) {
		pr_err("ksm: registering sysfs files failed\n");
		kthread_stop(ksmd);
		goto out_cache;
	}
	return 0;

out_cache:
	kmem_cache_destroy(ksm_slot_cache);
	return err;
}
subsys_initcall(ksm_engine_init);
