// SPDX-License-Identifier: GPL-2.0-only
/*
 * The stable index: KSM folios by content hash, and the members (the
 * mappings ksmd made) that the reverse map walks.
 *
 * A KSM folio's ->mapping points to its &struct ksm_stable.  The node
 * outlives the folio: when the last mapping goes away the folio is
 * freed, ->mapping is cleared, and the node becomes stale.  ksmd notices
 * that the next time it asks for the folio (ksm_stable_folio()) and
 * forgets the node; a periodic sweep catches the nodes nobody asks for.
 */
#include <linux/memory.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/slab.h>
#include <trace/events/ksm.h>

#include "internal.h"

static struct kmem_cache *ksm_stable_cache;
static struct kmem_cache *ksm_member_cache;

/* One index per NUMA node; only [0] is used while merging across nodes. */
static struct rb_root *ksm_stable_roots;

/*
 * A one-bit-per-bucket filter in front of the indexes: a clear bit proves
 * that no node carries a hash, which saves the tree search for almost
 * every page without a KSM twin.  Bits are set on insertion and never
 * cleared one by one (a node that leaves keeps its bit: a false positive
 * only costs the search).  The filter is rebuilt at four buckets per node
 * when the indexes outgrow it, and on every prune.  Without a filter (no
 * memory for one yet) every hash may be present.  All of it belongs to
 * the ksm_mutex holder.
 */
static unsigned long *ksm_filter;
static unsigned int ksm_filter_shift;	/* log2 of its number of bits */
static unsigned long ksm_stable_count;	/* nodes in all indexes */

#define KSM_FILTER_MIN_SHIFT	12

static unsigned long ksm_filter_bit(u64 hash)
{
	return hash & ((1UL << ksm_filter_shift) - 1);
}

static bool ksm_filter_may_hold(u64 hash)
{
	return !ksm_filter || test_bit(ksm_filter_bit(hash), ksm_filter);
}

/**
 * ksm_stable_filter_rebuild() - size the filter for the nodes there are
 *
 * Every node's bit is set again; bits of nodes that left are gone.  If
 * no memory can be had, the old filter stays: it is still right.
 *
 * Context: ksm_mutex held; may sleep.
 */
void ksm_stable_filter_rebuild(void)
{
	unsigned int shift = max_t(unsigned int, KSM_FILTER_MIN_SHIFT,
				   order_base_2(4 * ksm_stable_count + 1));
	unsigned long *map;
	int nid;

	lockdep_assert_held(&ksm_mutex);
	map = kvcalloc(BITS_TO_LONGS(1UL << shift), sizeof(long), GFP_KERNEL | __GFP_NOWARN);
	if (!map)
		return;		/* the old filter, if any, is still right */
	kvfree(ksm_filter);
	ksm_filter = map;
	ksm_filter_shift = shift;
	for (nid = 0; nid < nr_node_ids; nid++) {
		struct rb_node *n;

		for (n = rb_first(&ksm_stable_roots[nid]); n; n = rb_next(n))
			__set_bit(ksm_filter_bit(rb_entry(n, struct ksm_stable, node)->hash),
				  ksm_filter);
	}
}

static void ksm_filter_add(u64 hash)
{
	ksm_stable_count++;
	if (!ksm_filter || 4 * ksm_stable_count > (1UL << ksm_filter_shift))
		ksm_stable_filter_rebuild();
	else
		__set_bit(ksm_filter_bit(hash), ksm_filter);
}

/**
 * ksm_stable_alloc() - allocate a stable node, not yet in the index
 * @hash: content hash of the folio it will describe
 *
 * Return: the node, or NULL.
 */
struct ksm_stable *ksm_stable_alloc(u64 hash)
{
	struct ksm_stable *stable;

	stable = kmem_cache_zalloc(ksm_stable_cache, GFP_KERNEL | __GFP_NOWARN);
	if (!stable)
		return NULL;
	RB_CLEAR_NODE(&stable->node);
	INIT_HLIST_HEAD(&stable->members);
	stable->hash = hash & KSM_HASH_MASK;
	return stable;
}

/**
 * ksm_stable_free() - free a node that is in no index and has no members
 * @stable: the node
 */
void ksm_stable_free(struct ksm_stable *stable)
{
	if (WARN_ON_ONCE(!hlist_empty(&stable->members) ||
			 !RB_EMPTY_NODE(&stable->node)))
		return;
	kmem_cache_free(ksm_stable_cache, stable);
}

/**
 * ksm_folio_stable() - the stable node of a KSM folio
 * @folio: any folio
 *
 * Return: the node, or NULL if @folio is not a KSM folio or is one that
 * was detached from its node.
 */
struct ksm_stable *ksm_folio_stable(const struct folio *folio)
{
	if (!folio_test_ksm(folio))
		return NULL;
	return (void *)((unsigned long)READ_ONCE(folio->mapping) & ~PAGE_MAPPING_FLAGS);
}

/**
 * ksm_folio_set_stable() - make a folio a KSM folio of a node
 * @folio: the folio, locked
 * @stable: its node, or NULL to detach it from any node
 */
void ksm_folio_set_stable(struct folio *folio, struct ksm_stable *stable)
{
	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(folio), folio);
	WRITE_ONCE(folio->mapping, (void *)((unsigned long)stable | PAGE_MAPPING_KSM));
}

static void *ksm_stable_mapping(struct ksm_stable *stable)
{
	return (void *)((unsigned long)stable | PAGE_MAPPING_KSM);
}

/*
 * Migration moves ->kpfn before it detaches the old folio (with a write
 * barrier in between), so a reader that finds the old folio detached
 * sees the new pfn after a read barrier.
 */
static bool ksm_stable_moved(struct ksm_stable *stable, unsigned long kpfn)
{
	smp_rmb();	/* pairs with smp_wmb() in folio_migrate_ksm() */
	return READ_ONCE(stable->kpfn) != kpfn;
}

/**
 * ksm_stable_folio() - get a reference on the KSM folio of a node
 * @stable: the node
 * @lock: also lock the folio
 *
 * Context: ksm_mutex held; may sleep if @lock.
 * Return: the folio; ERR_PTR(-ENOENT) if the node is stale (its folio
 * was freed); ERR_PTR(-EBUSY) if the folio is momentarily unavailable
 * (being freed or migrated).
 */
struct folio *ksm_stable_folio(struct ksm_stable *stable, bool lock)
{
	void *want = ksm_stable_mapping(stable);
	unsigned long kpfn;
	struct folio *folio;

again:
	kpfn = READ_ONCE(stable->kpfn);
	folio = pfn_folio(kpfn);
	if (READ_ONCE(folio->mapping) != want)
		goto gone;
	if (!folio_try_get(folio)) {
		if (ksm_stable_moved(stable, kpfn))
			goto again;
		return ERR_PTR(-EBUSY);
	}
	if (READ_ONCE(folio->mapping) != want) {
		folio_put(folio);
		goto gone;
	}
	if (lock) {
		folio_lock(folio);
		if (READ_ONCE(folio->mapping) != want) {
			folio_unlock(folio);
			folio_put(folio);
			goto gone;
		}
	}
	return folio;
gone:
	if (ksm_stable_moved(stable, kpfn))
		goto again;
	return ERR_PTR(-ENOENT);
}

static struct rb_root *ksm_stable_root(int nid)
{
	return &ksm_stable_roots[READ_ONCE(ksm_knobs.merge_across_nodes) ? 0 : nid];
}

static bool ksm_stable_same(struct rb_node *n, u64 hash)
{
	return n && rb_entry(n, struct ksm_stable, node)->hash == hash;
}

/* Nodes carrying the hash of @stable (in the index), itself included. */
static unsigned int ksm_stable_same_hash(struct ksm_stable *stable)
{
	struct ksm_stable *s;
	unsigned int n = 0;

	/* The common case, a hash of its own, costs no search. */
	if (!ksm_stable_same(rb_prev(&stable->node), stable->hash) &&
	    !ksm_stable_same(rb_next(&stable->node), stable->hash))
		return 1;
	for (s = ksm_stable_first(stable->hash, stable->nid); s; s = ksm_stable_next(s))
		n++;
	return n;
}

/**
 * ksm_stable_insert() - add a node to the index of a NUMA node
 * @stable: the node, in no index yet
 * @nid: NUMA node of its folio
 *
 * Nodes with equal hashes are kept next to each other, oldest first.
 *
 * Context: ksm_mutex held.
 */
void ksm_stable_insert(struct ksm_stable *stable, int nid)
{
	struct rb_node **link, *parent = NULL;
	struct rb_root *root;
	unsigned int same;

	lockdep_assert_held(&ksm_mutex);
	stable->nid = READ_ONCE(ksm_knobs.merge_across_nodes) ? 0 : nid;
	root = ksm_stable_root(stable->nid);
	link = &root->rb_node;
	while (*link) {
		struct ksm_stable *s = rb_entry(*link, struct ksm_stable, node);

		parent = *link;
		link = stable->hash < s->hash ? &parent->rb_left : &parent->rb_right;
	}
	rb_link_node(&stable->node, parent, link);
	rb_insert_color(&stable->node, root);
	ksm_filter_add(stable->hash);

	same = ksm_stable_same_hash(stable);
	if (same == 2) {
		ksm_stats.chains++;
		ksm_stats.dups += 2;
	} else if (same > 2) {
		ksm_stats.dups++;
	}
}

/**
 * ksm_stable_erase() - take a node out of its index
 * @stable: the node
 *
 * Context: ksm_mutex held.
 */
void ksm_stable_erase(struct ksm_stable *stable)
{
	unsigned int same;

	lockdep_assert_held(&ksm_mutex);
	if (RB_EMPTY_NODE(&stable->node))
		return;
	same = ksm_stable_same_hash(stable);
	if (same == 2) {
		ksm_stats.chains--;
		ksm_stats.dups -= 2;
	} else if (same > 2) {
		ksm_stats.dups--;
	}
	rb_erase(&stable->node, ksm_stable_root(stable->nid));
	RB_CLEAR_NODE(&stable->node);
	ksm_stable_count--;
}

/**
 * ksm_stable_first() - the oldest node with a hash
 * @hash: content hash
 * @nid: NUMA node whose index to search
 *
 * Return: the node, or NULL.
 */
struct ksm_stable *ksm_stable_first(u64 hash, int nid)
{
	struct rb_node *n = ksm_stable_root(nid)->rb_node;
	struct ksm_stable *found = NULL;

	hash &= KSM_HASH_MASK;
	if (!ksm_filter_may_hold(hash))
		return NULL;
	while (n) {
		struct ksm_stable *s = rb_entry(n, struct ksm_stable, node);

		if (hash < s->hash) {
			n = n->rb_left;
		} else if (hash > s->hash) {
			n = n->rb_right;
		} else {
			found = s;
			n = n->rb_left;
		}
	}
	return found;
}

/**
 * ksm_stable_next() - the next node with the same hash
 * @stable: a node in the index
 *
 * Return: the node, or NULL.
 */
struct ksm_stable *ksm_stable_next(struct ksm_stable *stable)
{
	struct rb_node *n = rb_next(&stable->node);
	struct ksm_stable *s;

	if (!n)
		return NULL;
	s = rb_entry(n, struct ksm_stable, node);
	return s->hash == stable->hash ? s : NULL;
}

/**
 * ksm_member_add() - record a mapping of a KSM folio
 * @stable: the folio's node
 * @slot: the mm that maps it
 * @vma: the VMA that maps it, with an anon_vma
 * @addr: the address of the mapping
 *
 * The tracking entry of @addr, which must not be a member already,
 * becomes the member.
 *
 * Context: ksm_mutex held, the KSM folio locked.
 * Return: 0, -ENOMEM, or -EBUSY if @addr already has a member.
 */
int ksm_member_add(struct ksm_stable *stable, struct ksm_slot *slot,
		   struct vm_area_struct *vma, unsigned long addr)
{
	struct ksm_member *m;
	void *old;

	lockdep_assert_held(&ksm_mutex);
	old = xa_load(&slot->items, addr >> PAGE_SHIFT);
	/* Members of other folios are dropped by the caller, under their lock. */
	if (WARN_ON_ONCE(old && !xa_is_value(old)))
		return -EBUSY;
	m = kmem_cache_alloc(ksm_member_cache, GFP_KERNEL | __GFP_NOWARN);
	if (!m)
		return -ENOMEM;
	m->stable = stable;
	m->anon_vma = vma->anon_vma;
	m->slot = slot;
	m->addr = addr & PAGE_MASK;

	old = xa_store(&slot->items, addr >> PAGE_SHIFT, m, GFP_KERNEL | __GFP_NOWARN);
	if (xa_is_err(old)) {
		kmem_cache_free(ksm_member_cache, m);
		return -ENOMEM;
	}
	if (!old) {
		ksm_stats.items++;
		slot->mm->ksm_rmap_items++;
	}
	get_anon_vma(m->anon_vma);
	hlist_add_head(&m->link, &stable->members);
	if (stable->nr_members++)
		ksm_stats.pages_sharing++;
	else
		ksm_stats.pages_shared++;
	slot->mm->ksm_merging_pages++;
	return 0;
}

/**
 * ksm_member_del() - forget a member; its tracking entry is left alone
 * @m: the member
 *
 * Context: ksm_mutex held, and the KSM folio locked unless it is gone.
 */
void ksm_member_del(struct ksm_member *m)
{
	struct ksm_stable *stable = m->stable;

	lockdep_assert_held(&ksm_mutex);
	hlist_del(&m->link);
	if (--stable->nr_members)
		ksm_stats.pages_sharing--;
	else
		ksm_stats.pages_shared--;
	m->slot->mm->ksm_merging_pages--;
	put_anon_vma(m->anon_vma);
	kmem_cache_free(ksm_member_cache, m);
}

/*
 * Drop every member of a node whose folio is gone or detached, turning
 * their tracking entries back into plain (unhashed) values.
 */
static void ksm_stable_drop_members(struct ksm_stable *stable)
{
	struct ksm_member *m;
	struct hlist_node *tmp;

	hlist_for_each_entry_safe(m, tmp, &stable->members, link) {
		xa_store(&m->slot->items, m->addr >> PAGE_SHIFT,
			 xa_mk_value(ksm_v_make(0, false, 0, 0)), GFP_NOWAIT);
		ksm_member_del(m);
	}
}

/**
 * ksm_stable_forget() - dismantle a node if its folio is gone or unmapped
 * @stable: the node
 *
 * A folio that is still mapped keeps its node (the reverse map needs it),
 * and so does one in the swap cache that still has members: swap-in maps
 * it again without a copy.  A detached folio is copied on swap-in.
 *
 * Context: ksm_mutex held; may sleep.
 */
void ksm_stable_forget(struct ksm_stable *stable)
{
	struct folio *folio;

	lockdep_assert_held(&ksm_mutex);
	folio = ksm_stable_folio(stable, true);
	if (IS_ERR(folio)) {
		if (PTR_ERR(folio) != -ENOENT)
			return;
	} else {
		if (folio_mapped(folio) ||
		    (folio_test_swapcache(folio) && !hlist_empty(&stable->members))) {
			folio_unlock(folio);
			folio_put(folio);
			return;
		}
		ksm_folio_set_stable(folio, NULL);
	}
	trace_ksm_remove_ksm_page(stable->kpfn);
	ksm_stable_drop_members(stable);
	ksm_stable_erase(stable);
	if (!IS_ERR(folio)) {
		folio_unlock(folio);
		folio_put(folio);
	}
	ksm_stable_free(stable);
}

/**
 * ksm_stable_empty() - tell whether any KSM folio is known
 *
 * Return: true if every index is empty.
 */
bool ksm_stable_empty(void)
{
	int nid;

	for (nid = 0; nid < nr_node_ids; nid++)
		if (!RB_EMPTY_ROOT(&ksm_stable_roots[nid]))
			return false;
	return true;
}

/*
 * Call @fn for every node of every index; @fn may take its node out of
 * the index and free it.
 */
static void ksm_stable_walk(void (*fn)(struct ksm_stable *stable, void *arg), void *arg)
{
	int nid;

	lockdep_assert_held(&ksm_mutex);
	for (nid = 0; nid < nr_node_ids; nid++) {
		struct rb_node *n = rb_first(&ksm_stable_roots[nid]);

		while (n) {
			struct ksm_stable *stable = rb_entry(n, struct ksm_stable, node);

			n = rb_next(n);
			fn(stable, arg);
			cond_resched();
		}
	}
}

static void ksm_stable_prune_one(struct ksm_stable *stable, void *arg)
{
	struct folio *folio = ksm_stable_folio(stable, false);

	if (!IS_ERR(folio))
		folio_put(folio);
	else if (PTR_ERR(folio) == -ENOENT)
		ksm_stable_forget(stable);
}

/**
 * ksm_stable_prune() - forget the nodes whose folio is gone
 *
 * Context: ksm_mutex held; may sleep.
 */
void ksm_stable_prune(void)
{
	ksm_stable_walk(ksm_stable_prune_one, NULL);
	ksm_stable_filter_rebuild();
}

static void ksm_stable_forget_one(struct ksm_stable *stable, void *arg)
{
	ksm_stable_forget(stable);
}

/**
 * ksm_stable_forget_all() - forget every node that no mapping uses
 *
 * Context: ksm_mutex held; may sleep.
 * Return: true if the index is empty afterwards.
 */
bool ksm_stable_forget_all(void)
{
	ksm_stable_walk(ksm_stable_forget_one, NULL);
	ksm_stable_filter_rebuild();
	return ksm_stable_empty();
}

#ifdef CONFIG_MEMORY_HOTREMOVE
/*
 * Offlining migrated every live KSM folio out of the range, so a node
 * whose pfn is still inside it is stale; its struct page is about to go
 * away, so it is dropped without looking at the folio.
 */
static void ksm_stable_drop_in_range(struct ksm_stable *stable, void *arg)
{
	const unsigned long *range = arg;

	if (stable->kpfn < range[0] || stable->kpfn >= range[1])
		return;
	ksm_stable_drop_members(stable);
	ksm_stable_erase(stable);
	ksm_stable_free(stable);
}

static int ksm_stable_memory_event(struct notifier_block *nb, unsigned long action,
				   void *arg)
{
	struct memory_notify *mn = arg;

	if (action == MEM_OFFLINE) {
		unsigned long range[2] = { mn->start_pfn, mn->start_pfn + mn->nr_pages };

		ksm_mutex_lock();
		ksm_stable_walk(ksm_stable_drop_in_range, range);
		mutex_unlock(&ksm_mutex);
	}
	return NOTIFY_OK;
}
#endif

/**
 * ksm_stable_init() - set up the caches and the per-node indexes
 *
 * Return: 0 or -ENOMEM.
 */
int __init ksm_stable_init(void)
{
	ksm_stable_cache = KMEM_CACHE(ksm_stable, 0);
	ksm_member_cache = KMEM_CACHE(ksm_member, 0);
	ksm_stable_roots = kcalloc(nr_node_ids, sizeof(*ksm_stable_roots), GFP_KERNEL);
	if (!ksm_stable_cache || !ksm_member_cache || !ksm_stable_roots) {
		kmem_cache_destroy(ksm_stable_cache);
		kmem_cache_destroy(ksm_member_cache);
		kfree(ksm_stable_roots);
		return -ENOMEM;
	}
#ifdef CONFIG_MEMORY_HOTREMOVE
	hotplug_memory_notifier(ksm_stable_memory_event, KSM_CALLBACK_PRI);
#endif
	return 0;
}
