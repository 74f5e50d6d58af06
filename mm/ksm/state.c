// SPDX-License-Identifier: GPL-2.0-only
/*
 * The engine's shared state: the tunables and statistics, ksm_mutex, the
 * ring of registered mms (slots) with ksmd's cursor in it, and the
 * tracepoints.  Everything above this layer reaches them through the
 * helpers here; nothing here calls into another file of the engine.
 */
#include <linux/hashtable.h>
#include <linux/cgroup.h>
#include <linux/ksm.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#define CREATE_TRACE_POINTS
#include <trace/events/ksm.h>

#include "state.h"

/*
 * Tunables at their 6.12 defaults, and ours: thp_split_threshold keeps a
 * THP whole unless an eighth of it would merge (see "Huge pages" in
 * scan.c and the admin guide).
 */
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
	.thp_split_threshold = KSM_PMD_PAGES / 8,
};

struct ksm_stats ksm_stats;

/* KSM-placed zero pages of all mms; the per-mm count is in mm_struct. */
atomic_long_t ksm_zero_pages = ATOMIC_LONG_INIT(0);

/* Serialises ksmd's batches with sysfs writers; see "Locking" in state.h. */
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
 * next address in it.  The slot changes under ksm_mutex and
 * ksm_slots_lock, so that __ksm_enter() can see it under the spinlock
 * alone; the address belongs to ksmd.
 */
static struct ksm_slot *ksm_cursor;
static unsigned long ksm_cursor_addr;

static struct kmem_cache *ksm_slot_cache;
/* Numbers slots for ksm_slot.seq; never wraps in practice (64 bits). */
static atomic64_t ksm_slot_seq = ATOMIC64_INIT(0);
/* Set once ksmd runs: no mm registers before, or if start-up failed. */
static bool ksm_slots_open __ro_after_init;

/*
 * Exits that found ksm_mutex taken and left their slot in the ring for
 * ksmd to reap; ksmd wakes up for them even while it is not merging.
 */
static atomic_t ksm_deferred_exits = ATOMIC_INIT(0);

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

static void __ksm_slot_unlink(struct ksm_slot *slot)
{
	lockdep_assert_held(&ksm_slots_lock);
	list_del(&slot->link);
	hash_del(&slot->hash);
	xa_erase(&ksm_slot_ids, slot->id);
}

/**
 * ksm_slot_find() - the slot of a registered mm
 * @mm: the mm
 *
 * Context: ksm_mutex held, which keeps the slot in the ring.
 * Return: the slot, or NULL if @mm has none.
 */
struct ksm_slot *ksm_slot_find(struct mm_struct *mm)
{
	struct ksm_slot *slot;

	lockdep_assert_held(&ksm_mutex);
	spin_lock(&ksm_slots_lock);
	slot = ksm_slot_lookup(mm);
	spin_unlock(&ksm_slots_lock);
	return slot;
}

/**
 * ksm_slot_next() - walk the ring of slots
 * @slot: the slot to start after, or NULL to start at the first
 *
 * Context: ksm_mutex held, which keeps slots in the ring while the
 * caller holds a pointer without ksm_slots_lock.
 * Return: the next slot, or NULL at the end of the ring.
 */
struct ksm_slot *ksm_slot_next(struct ksm_slot *slot)
{
	lockdep_assert_held(&ksm_mutex);
	spin_lock(&ksm_slots_lock);
	slot = ksm_ring_next(slot);
	spin_unlock(&ksm_slots_lock);
	return slot;
}

/**
 * ksm_slots_empty() - tell whether any mm is registered
 *
 * Return: true if the ring is empty (a racy hint for ksmd's sleep).
 */
bool ksm_slots_empty(void)
{
	return list_empty(&ksm_ring);
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
 * ksm_slot_of() - the slot of a slot id, for its tracking entries
 * @id: slot id from an unstable-index location
 *
 * Slots are freed only under ksm_mutex, so the slot stays while the
 * caller holds it; its mm may be exiting.
 *
 * Context: ksm_mutex held.
 * Return: the slot, or NULL.
 */
struct ksm_slot *ksm_slot_of(unsigned int id)
{
	struct ksm_slot *slot;

	lockdep_assert_held(&ksm_mutex);
	spin_lock(&ksm_slots_lock);
	slot = xa_load(&ksm_slot_ids, id);
	spin_unlock(&ksm_slots_lock);
	return slot;
}

/**
 * ksm_cursor_slot() - the slot ksmd is scanning
 * @pos: returns where ksmd's address in it is kept
 *
 * Return: the slot, or NULL between passes.
 */
struct ksm_slot *ksm_cursor_slot(unsigned long **pos)
{
	lockdep_assert_held(&ksm_mutex);
	*pos = &ksm_cursor_addr;
	return ksm_cursor;
}

/**
 * ksm_slot_is_cursor() - tell whether ksmd is scanning a slot
 * @slot: the slot
 *
 * Context: ksm_mutex held.
 * Return: true if @slot is at the cursor.
 */
bool ksm_slot_is_cursor(const struct ksm_slot *slot)
{
	lockdep_assert_held(&ksm_mutex);
	return slot == ksm_cursor;
}

/**
 * ksm_cursor_restart() - start a pass at the first slot
 * @pos: returns where ksmd's address is kept
 *
 * Return: the first slot, or NULL if no mm is registered.
 */
struct ksm_slot *ksm_cursor_restart(unsigned long **pos)
{
	lockdep_assert_held(&ksm_mutex);
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
	lockdep_assert_held(&ksm_mutex);
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
 * as 6.12 does when a scan finds no VM_MERGEABLE VMA: MMF_VM_MERGEABLE
 * means "registered with ksmd".
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
	__ksm_slot_unlink(slot);
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

/**
 * ksm_slot_unlink() - take a slot out of the ring, the hash and the id map
 * @slot: the slot, not at the cursor
 *
 * Context: ksm_mutex held.
 */
void ksm_slot_unlink(struct ksm_slot *slot)
{
	lockdep_assert_held(&ksm_mutex);
	VM_WARN_ON_ONCE(slot == ksm_cursor);
	spin_lock(&ksm_slots_lock);
	__ksm_slot_unlink(slot);
	spin_unlock(&ksm_slots_lock);
}

/**
 * ksm_slot_free() - free an unlinked slot and unregister its mm
 * @slot: the slot, without tracking entries
 */
void ksm_slot_free(struct ksm_slot *slot)
{
	VM_WARN_ON_ONCE(!xa_empty(&slot->items));
	clear_bit(MMF_VM_MERGE_ANY, &slot->mm->flags);
	clear_bit(MMF_VM_MERGEABLE, &slot->mm->flags);
	ksm_slot_release(slot);
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
	slot->seq = atomic64_inc_return(&ksm_slot_seq);
	slot->mm = mm;
	mmgrab(mm);
	return slot;
}

/*
 * Make @slot visible to ksmd: just behind the cursor, so that every
 * other mm gets its turn first and a fork followed by exec costs
 * nothing; at the end of the ring while run=2 unmerges, so that
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
 * ksm_slot_add() - register an mm: give it a slot in the ring
 * @mm: the mm
 * @first: returns true if the ring was empty
 *
 * Context: mmap_lock of @mm held for writing.
 * Return: 0, or -ENOMEM when no memory or no slot id is left, or when
 * the engine did not start (no ksmd would ever scan or reap the slot).
 */
int ksm_slot_add(struct mm_struct *mm, bool *first)
{
	struct ksm_slot *slot;

	mmap_assert_write_locked(mm);
	if (!ksm_slots_open)
		return -ENOMEM;
	slot = ksm_slot_new(mm);
	if (IS_ERR(slot))
		return PTR_ERR(slot);
	*first = ksm_ring_insert(slot);
	return 0;
}

/**
 * ksm_cursor_reset() - end the pass: no slot is being scanned
 *
 * Context: ksm_mutex held.
 */
void ksm_cursor_reset(void)
{
	lockdep_assert_held(&ksm_mutex);
	spin_lock(&ksm_slots_lock);
	ksm_cursor = NULL;
	ksm_cursor_addr = 0;
	spin_unlock(&ksm_slots_lock);
}

/**
 * ksm_walk_mms() - call @fn for every registered mm that is alive
 * @fn: the function, called with a user reference on the mm
 * @arg: passed to @fn
 *
 * Context: ksm_mutex held; may sleep.
 * Return: 0, or the first error of @fn (which stops the walk).
 */
int ksm_walk_mms(int (*fn)(struct mm_struct *mm, void *arg), void *arg)
{
	struct ksm_slot *slot = NULL;
	int err = 0;

	lockdep_assert_held(&ksm_mutex);
	while (!err && (slot = ksm_slot_next(slot))) {
		if (!mmget_not_zero(slot->mm))
			continue;
		err = fn(slot->mm, arg);
		mmput_async(slot->mm);
	}
	return err;
}

/**
 * ksm_exit_defer() - leave an exited mm's slot for ksmd to reap
 *
 * Wakes ksmd, which reaps even while it does not merge.
 */
void ksm_exit_defer(void)
{
	atomic_inc(&ksm_deferred_exits);
	wake_up_interruptible(&ksm_wait);
}

/**
 * ksm_exits_waiting() - tell whether an exit waits to be reaped
 *
 * Return: true if ksm_exit_defer() was called since ksm_exits_take().
 */
bool ksm_exits_waiting(void)
{
	return atomic_read(&ksm_deferred_exits);
}

/**
 * ksm_exits_take() - ksmd takes over the exits that wait to be reaped
 *
 * Return: true if there was any.
 */
bool ksm_exits_take(void)
{
	return atomic_xchg(&ksm_deferred_exits, 0);
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

/**
 * ksm_slot_memcg() - the memory cgroup an mm is in now
 * @slot: the mm's slot; the mm is alive (the caller holds a user reference)
 *
 * An mm whose owner task exited (it is being torn down, or still held by
 * someone else) keeps the cgroup it was last found in: it did not move,
 * whatever get_mem_cgroup_from_mm() would say then.
 *
 * Context: ksm_mutex held.
 * Return: the cgroup's id (cgroup ids are never reused while the system
 * runs), or 0 without the memory controller.
 */
u64 ksm_slot_memcg(struct ksm_slot *slot)
{
#ifdef CONFIG_MEMCG
	struct task_struct *owner;

	lockdep_assert_held(&ksm_mutex);
	if (mem_cgroup_disabled())
		return slot->memcg_id;
	rcu_read_lock();
	owner = rcu_dereference(slot->mm->owner);
	if (owner)
		slot->memcg_id = cgroup_id(mem_cgroup_from_task(owner)->css.cgroup);
	rcu_read_unlock();
	return slot->memcg_id;
#else
	return 0;
#endif
}

/**
 * ksm_domain_of() - the merge domain of an mm, its memory cgroup known
 * @slot: the mm's slot
 * @memcg_id: what ksm_slot_memcg() returned for it
 *
 * Two mappings may share a KSM folio only if their mms are in the same
 * domain.  The value names the domain in the current merge_domain mode
 * only: 0 for everyone, the id of the mm's memory cgroup (cgroup ids are
 * never reused while the system runs), or the slot's sequence number.
 * The mode changes only while no KSM folio exists, so values of two
 * modes never meet in an index.  ksmd reads the cgroup once per visit of
 * an mm, and both the domain and the accounting (ksm_tenant_visit()) go
 * by that one reading.
 *
 * Return: the domain.
 */
u64 ksm_domain_of(const struct ksm_slot *slot, u64 memcg_id)
{
	switch (READ_ONCE(ksm_knobs.domain)) {
	case KSM_DOMAIN_MEMCG:
		/*
		 * Never found in a cgroup (its owner exited first): a domain
		 * of its own, far above any cgroup id.
		 */
		return memcg_id ?: ~slot->seq;
	case KSM_DOMAIN_PROCESS:
		return slot->seq;
	default:
		return 0;
	}
}

/**
 * ksm_slot_domain() - the merge domain an mm belongs to now
 * @slot: the mm's slot; the mm is alive (the caller holds a user reference)
 *
 * Context: ksm_mutex held.
 * Return: the domain (see ksm_domain_of()).
 */
u64 ksm_slot_domain(struct ksm_slot *slot)
{
	if (READ_ONCE(ksm_knobs.domain) != KSM_DOMAIN_MEMCG)
		return ksm_domain_of(slot, 0);
	return ksm_domain_of(slot, ksm_slot_memcg(slot));
}

/**
 * ksm_mm_in_domain() - tell, outside ksmd, whether an mm is in a domain
 * @mm: a live mm
 * @domain: a merge domain, as ksm_slot_domain() names them
 *
 * For the swap-in path, which must not map a KSM folio of another domain:
 * it holds neither ksm_mutex nor anything that keeps @mm's cgroup still,
 * so an mm whose domain cannot be told (its owner exited, it has no
 * slot) counts as outside.
 *
 * Return: true if @mm belongs to @domain now.
 */
bool ksm_mm_in_domain(struct mm_struct *mm, u64 domain)
{
	struct task_struct *owner;
	struct ksm_slot *slot;
	bool in = false;

	switch (READ_ONCE(ksm_knobs.domain)) {
	case KSM_DOMAIN_MEMCG:
#ifdef CONFIG_MEMCG
		rcu_read_lock();
		owner = rcu_dereference(mm->owner);
		in = owner && !mem_cgroup_disabled() &&
		     cgroup_id(mem_cgroup_from_task(owner)->css.cgroup) == domain;
		rcu_read_unlock();
#endif
		return in;
	case KSM_DOMAIN_PROCESS:
		spin_lock(&ksm_slots_lock);
		slot = ksm_slot_lookup(mm);
		in = slot && slot->seq == domain;
		spin_unlock(&ksm_slots_lock);
		return in;
	default:
		return true;
	}
}

/**
 * ksm_zero_pages_allowed() - tell whether use_zero_pages may map the zero page
 *
 * The shared zero page is mapped by every process: merging into it
 * would share a frame across merge domains, and in hardened mode a
 * write to a merged zero page would behave unlike one to any other
 * merged page.  In those modes all-zero pages merge as any other
 * content does.
 *
 * Return: true if use_zero_pages may take effect.
 */
bool ksm_zero_pages_allowed(void)
{
	return READ_ONCE(ksm_knobs.use_zero_pages) &&
	       READ_ONCE(ksm_knobs.domain) == KSM_DOMAIN_GLOBAL &&
	       !READ_ONCE(ksm_knobs.hardened);
}

/**
 * ksm_state_open() - let mms register, now that ksmd runs
 */
void __init ksm_state_open(void)
{
	ksm_slots_open = true;
}

/**
 * ksm_state_is_open() - tell whether the engine started
 *
 * Return: true once ksmd runs and mms may register.
 */
bool ksm_state_is_open(void)
{
	return ksm_slots_open;
}

/**
 * ksm_state_init() - create the slot cache
 *
 * Return: 0 or -ENOMEM.
 */
int __init ksm_state_init(void)
{
	ksm_slot_cache = KMEM_CACHE(ksm_slot, 0);
	return ksm_slot_cache ? 0 : -ENOMEM;
}
