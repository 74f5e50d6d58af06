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
#include <linux/hash.h>
#include <linux/memory.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/page-isolation.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <trace/events/ksm.h>

#include "state.h"
#include "content.h"
#include "tenant.h"
#include "stable.h"

static struct kmem_cache *ksm_stable_cache;
static struct kmem_cache *ksm_member_cache;

/*
 * Pins of hardened mode.  A write to a KSM page copies it and drops the
 * writer's mapping: if that was the last mapping, the fault would also
 * free the folio, and a write to a page without a twin would take
 * measurably longer than one to a page that shares (about a microsecond
 * under TCG, see ksm_sidechan).  Even without the free, the last unmap
 * updates the mapped-anon statistics (node and memory cgroup) that no
 * other unmap touches, worth a few points of AUC.  So the engine holds a
 * mapping of its own on each mapped KSM folio of hardened mode, the pin:
 * a count in the mapcount, as a page table entry would hold, without the
 * entry, and references (ksm_pin_get()).  No tenant's unmap is then the
 * last one.  The engine frees the folio itself once tenants unmapped it:
 * every batch looks at a share of the pinned folios, oldest first (all
 * of them within KSM_PINS_ROUNDS batches, and all of them at each
 * wakeup of ksmd while KSM is stopped), and reclaim may ask the shrinker,
 * which is registered with every memory cgroup that holds a pinned folio.
 *
 * The reverse map does not find the pin, so nothing unmaps a pinned folio
 * entirely.  Reclaim may replace its tenants' entries with swap entries,
 * but writes nothing and frees nothing: it finds the folio still mapped
 * and activates it.  The shrinker drops the pins of folios no tenant
 * maps, so that reclaim frees them once they age again.  It never drops
 * the pin of a mapped folio: that would free nothing, and would bring
 * the signal back until ksmd's next visit.  Only order-0 folios are
 * pinned: KSM folios are.
 *
 * A pinned folio cannot be migrated, so only folios that may stay put
 * long-term are pinned: in an unmovable pageblock outside ZONE_MOVABLE
 * and CMA (the frames of frames.c are), not in an isolated one, and not
 * in a range that is going offline, whose pins are dropped first.  ksmd
 * pins a folio again at its next visit of a mapping, unless migration
 * moved it to a pageblock that must stay movable.
 *
 * All of it belongs to the ksm_mutex holder.
 */
static LIST_HEAD(ksm_pins);		/* pinned nodes, oldest first */
static unsigned long ksm_pins_nr;	/* their number */
static unsigned long ksm_pins_offline[2];	/* pfns going offline: [start, end) */
static struct shrinker *ksm_stable_shrinker;

/* Pinned folios a batch looks at, to free those no longer mapped. */
#define KSM_PINS_PER_BATCH	64

/* Batches in which ksmd looks at every pinned folio once, at least. */
#define KSM_PINS_ROUNDS		64

/*
 * The index is a hash table of chained buckets, keyed by content hash,
 * NUMA node (node 0 for every folio while merging across nodes) and merge
 * domain (0 for every folio while merging globally), so that
 * a lookup reads one bucket and, for a page without a KSM twin, almost
 * always no node.  Nodes with the same key sit next to each other in
 * their bucket, oldest first.  The table doubles when it holds more nodes
 * than buckets, and a prune shrinks it when it holds fewer than an eighth;
 * when no memory can be had it stays as it is, with longer chains.  All
 * of it belongs to the ksm_mutex holder.
 */
static struct hlist_head *ksm_stable_table;
static unsigned int ksm_stable_bits;	/* log2 of its number of buckets */
static unsigned long ksm_stable_count;	/* nodes in it */

#define KSM_STABLE_MIN_BITS	10

static struct hlist_head *ksm_stable_bucket(struct hlist_head *table, unsigned int bits,
					    u64 hash, int nid, u64 domain)
{
	return &table[hash_64(hash ^ (u64)nid << 48 ^ domain * GOLDEN_RATIO_64, bits)];
}

static bool ksm_stable_same(const struct ksm_stable *s, u64 hash, int nid, u64 domain)
{
	return s->hash == hash && s->nid == nid && s->domain == domain;
}

/*
 * Add @stable to @head, behind the last node with its key if there is
 * one.  Returns how many nodes with its key @head held before.
 */
static unsigned int ksm_stable_link(struct hlist_head *head, struct ksm_stable *stable)
{
	struct ksm_stable *s, *last = NULL;
	unsigned int same = 0;

	hlist_for_each_entry(s, head, node) {
		if (ksm_stable_same(s, stable->hash, stable->nid, stable->domain)) {
			last = s;
			same++;
		}
	}
	if (last)
		hlist_add_behind(&stable->node, &last->node);
	else
		hlist_add_head(&stable->node, head);
	return same;
}

/* Buckets or slots moved between two chances to reschedule in a resize. */
#define KSM_RESIZE_BATCH	1024

/*
 * Move every node to a table of 2^@bits buckets.  Buckets are emptied in
 * order, so nodes with the same key keep their order.  Without memory the
 * old table stays: it is still right.  Context: ksm_mutex held; may sleep.
 */
static void ksm_stable_resize(unsigned int bits)
{
	struct hlist_head *table;
	unsigned long i;

	table = kvcalloc(1UL << bits, sizeof(*table), GFP_KERNEL | __GFP_NOWARN);
	if (!table)
		return;
	for (i = 0; i < (1UL << ksm_stable_bits); i++) {
		struct hlist_node *tmp;
		struct ksm_stable *s;

		hlist_for_each_entry_safe(s, tmp, &ksm_stable_table[i], node) {
			hlist_del(&s->node);
			ksm_stable_link(ksm_stable_bucket(table, bits, s->hash, s->nid,
							  s->domain), s);
		}
		/* Millions of nodes: the holder of ksm_mutex owns the table. */
		if (!(i % KSM_RESIZE_BATCH))
			cond_resched();
	}
	kvfree(ksm_stable_table);
	ksm_stable_table = table;
	ksm_stable_bits = bits;
}

/**
 * ksm_stable_fit() - shrink the index to the nodes it holds
 *
 * The table is halved while it has more than eight buckets per node and
 * is larger than its minimum.
 *
 * Context: ksm_mutex held; may sleep.
 */
void ksm_stable_fit(void)
{
	unsigned int bits = ksm_stable_bits;

	lockdep_assert_held(&ksm_mutex);
	while (bits > KSM_STABLE_MIN_BITS && ksm_stable_count < (1UL << bits) / 8)
		bits--;
	if (bits != ksm_stable_bits)
		ksm_stable_resize(bits);
}

/**
 * ksm_stable_grow() - grow the index ahead of need
 *
 * Called where a resize holds up no process, whenever ksmd starts or
 * resumes work on an mm: the index doubles once it holds three nodes for
 * every four buckets, so that ksm_stable_insert(), under an mm's
 * mmap_lock, grows it only when one batch added more nodes than that
 * margin.
 *
 * Context: ksm_mutex held; may sleep.
 */
void ksm_stable_grow(void)
{
	lockdep_assert_held(&ksm_mutex);
	if (ksm_stable_count >= (1UL << ksm_stable_bits) / 4 * 3)
		ksm_stable_resize(ksm_stable_bits + 1);
}

/**
 * ksm_stable_alloc() - allocate a stable node, not yet in the index
 * @hash: content hash of the folio it will describe
 * @domain: merge domain of the mappings it will have
 *
 * Return: the node, or NULL.
 */
struct ksm_stable *ksm_stable_alloc(u64 hash, u64 domain)
{
	struct ksm_stable *stable;

	stable = kmem_cache_zalloc(ksm_stable_cache, GFP_KERNEL | __GFP_NOWARN);
	if (!stable)
		return NULL;
	INIT_HLIST_NODE(&stable->node);
	INIT_HLIST_HEAD(&stable->members);
	INIT_LIST_HEAD(&stable->pin_link);
	stable->hash = hash & KSM_HASH_MASK;
	stable->domain = domain;
	return stable;
}

/**
 * ksm_stable_free() - free a node that is in no index and has no members
 * @stable: the node
 */
void ksm_stable_free(struct ksm_stable *stable)
{
	if (WARN_ON_ONCE(!hlist_empty(&stable->members) ||
			 !hlist_unhashed(&stable->node) ||
			 !list_empty(&stable->pin_link)))
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

/* Key of a node filed for a folio on @nid: the node, unless merging across. */
static int ksm_stable_key_nid(int nid)
{
	return READ_ONCE(ksm_knobs.merge_across_nodes) ? 0 : nid;
}

/* Nodes with the key of @stable (in the index), itself included. */
static unsigned int ksm_stable_same_key(struct ksm_stable *stable)
{
	struct ksm_stable *s;
	unsigned int n = 0;

	for (s = ksm_stable_first(stable->hash, stable->nid, stable->domain); s;
	     s = ksm_stable_next(s))
		n++;
	return n;
}

/**
 * ksm_stable_insert() - add a node to the index
 * @stable: the node, in no index yet
 * @nid: NUMA node of its folio
 *
 * Nodes with equal hashes (on the same NUMA node, unless merging across
 * nodes, and of the same merge domain) are kept next to each other,
 * oldest first.
 *
 * Context: ksm_mutex held; may sleep.
 */
void ksm_stable_insert(struct ksm_stable *stable, int nid)
{
	unsigned int same;

	lockdep_assert_held(&ksm_mutex);
	stable->nid = ksm_stable_key_nid(nid);
	same = 1 + ksm_stable_link(ksm_stable_bucket(ksm_stable_table, ksm_stable_bits,
						     stable->hash, stable->nid, stable->domain),
				   stable);
	if (++ksm_stable_count > (1UL << ksm_stable_bits))
		ksm_stable_resize(ksm_stable_bits + 1);

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
	if (hlist_unhashed(&stable->node))
		return;
	same = ksm_stable_same_key(stable);
	if (same == 2) {
		ksm_stats.chains--;
		ksm_stats.dups -= 2;
	} else if (same > 2) {
		ksm_stats.dups--;
	}
	hlist_del_init(&stable->node);
	ksm_stable_count--;
}

/**
 * ksm_stable_first() - the oldest node with a hash
 * @hash: content hash
 * @nid: NUMA node of the page looking for a twin
 * @domain: merge domain of the page looking for a twin
 *
 * Return: the node, or NULL.
 */
struct ksm_stable *ksm_stable_first(u64 hash, int nid, u64 domain)
{
	struct hlist_head *head;
	struct ksm_stable *s;

	hash &= KSM_HASH_MASK;
	nid = ksm_stable_key_nid(nid);
	head = ksm_stable_bucket(ksm_stable_table, ksm_stable_bits, hash, nid, domain);
	hlist_for_each_entry(s, head, node)
		if (ksm_stable_same(s, hash, nid, domain))
			return s;
	return NULL;
}

/**
 * ksm_stable_next() - the next node with the same hash
 * @stable: a node in the index
 *
 * Return: the node, or NULL.
 */
struct ksm_stable *ksm_stable_next(struct ksm_stable *stable)
{
	struct ksm_stable *s = hlist_entry_safe(stable->node.next, struct ksm_stable, node);

	return s && ksm_stable_same(s, stable->hash, stable->nid, stable->domain) ? s : NULL;
}

/*
 * Members
 */

/*
 * The member list of a node whose folio is still there changes only with
 * the folio locked: rmap_walk_ksm() walks it under that lock alone.
 */
static void ksm_stable_assert_locked(struct ksm_stable *stable)
{
#ifdef CONFIG_DEBUG_VM
	struct folio *folio = pfn_folio(READ_ONCE(stable->kpfn));

	if (READ_ONCE(folio->mapping) == ksm_stable_mapping(stable))
		VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(folio), folio);
#endif
}

/**
 * ksm_member_prepare() - get ready to record a mapping that is merged next
 * @slot: the mm that will map the KSM folio
 * @addr: the address of the mapping
 *
 * The member is allocated, and the slot of @addr's tracking entry is
 * reserved, before the mapping is switched: recording it afterwards then
 * needs no memory, and a mapping never exists without the member that
 * leads the reverse map to it.
 *
 * Context: ksm_mutex held; may sleep.
 * Return: the member, or NULL if memory is short (do not merge then).
 */
struct ksm_member *ksm_member_prepare(struct ksm_slot *slot, unsigned long addr)
{
	struct ksm_member *m;

	lockdep_assert_held(&ksm_mutex);
	m = kmem_cache_alloc(ksm_member_cache, GFP_KERNEL | __GFP_NOWARN);
	if (!m)
		return NULL;
	if (xa_reserve(&slot->items, addr >> PAGE_SHIFT, GFP_KERNEL | __GFP_NOWARN)) {
		kmem_cache_free(ksm_member_cache, m);
		return NULL;
	}
	return m;
}

/**
 * ksm_member_cancel() - give back what ksm_member_prepare() took
 * @slot: the mm
 * @addr: the address
 * @m: the unused member
 *
 * Context: ksm_mutex held.
 */
void ksm_member_cancel(struct ksm_slot *slot, unsigned long addr, struct ksm_member *m)
{
	lockdep_assert_held(&ksm_mutex);
	xa_release(&slot->items, addr >> PAGE_SHIFT);
	kmem_cache_free(ksm_member_cache, m);
}

/**
 * ksm_member_add() - record a mapping of a KSM folio
 * @m: the member, from ksm_member_prepare() for @slot and @addr
 * @stable: the folio's node
 * @slot: the mm that maps it
 * @vma: the VMA that maps it, with an anon_vma
 * @addr: the address of the mapping
 *
 * The tracking entry of @addr, which must not be a member already,
 * becomes @m.  Nothing is allocated: the entry's slot was reserved.
 *
 * Context: ksm_mutex held, the KSM folio locked.
 */
void ksm_member_add(struct ksm_member *m, struct ksm_stable *stable, struct ksm_slot *slot,
		    struct vm_area_struct *vma, unsigned long addr)
{
	void *old;

	lockdep_assert_held(&ksm_mutex);
	m->stable = stable;
	m->anon_vma = vma->anon_vma;
	m->slot = slot;
	m->addr = addr & PAGE_MASK;

	old = xa_store(&slot->items, addr >> PAGE_SHIFT, m, GFP_NOWAIT | __GFP_NOWARN);
	/* Members of other folios are dropped by the caller, under their lock. */
	if (WARN_ON_ONCE(xa_is_err(old) || (old && !xa_is_value(old)))) {
		if (xa_is_err(old))
			xa_release(&slot->items, addr >> PAGE_SHIFT);
		else
			xa_store(&slot->items, addr >> PAGE_SHIFT, old, GFP_NOWAIT | __GFP_NOWARN);
		kmem_cache_free(ksm_member_cache, m);
		return;
	}
	if (!old) {
		ksm_stats.items++;
		slot->mm->ksm_rmap_items++;
		ksm_tenant_items(slot, 1);
	}
	ksm_entry_unfile(old);
	get_anon_vma(m->anon_vma);
	ksm_stable_assert_locked(stable);
	hlist_add_head(&m->link, &stable->members);
	if (stable->nr_members++)
		ksm_stats.pages_sharing++;
	else
		ksm_stats.pages_shared++;
	slot->mm->ksm_merging_pages++;
	ksm_tenant_map(slot, &stable->owner, stable->nr_members == 1);
}

/**
 * ksm_member_replace() - forget a member whose mapping is recorded anew
 * @m: the member
 *
 * Its tracking entry becomes an (unfiled) value again, without any
 * allocation, so that ksm_member_add() can record the mapping next.
 *
 * Context: ksm_mutex held, the KSM folio locked.
 */
void ksm_member_replace(struct ksm_member *m)
{
	lockdep_assert_held(&ksm_mutex);
	xa_store(&m->slot->items, m->addr >> PAGE_SHIFT,
		 xa_mk_value(ksm_v_make(0, false, 0, 0)), GFP_NOWAIT | __GFP_NOWARN);
	ksm_member_del(m);
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
	ksm_stable_assert_locked(stable);
	hlist_del(&m->link);
	if (--stable->nr_members)
		ksm_stats.pages_sharing--;
	else
		ksm_stats.pages_shared--;
	m->slot->mm->ksm_merging_pages--;
	ksm_tenant_unmap(m->slot, &stable->owner, !stable->nr_members);
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

/* Is @folio in the range of pfns that is going offline? */
static bool ksm_pin_offline(struct folio *folio)
{
	unsigned long pfn = folio_pfn(folio);

	return pfn >= ksm_pins_offline[0] && pfn < ksm_pins_offline[1];
}

/* Have reclaim in @folio's memory cgroup, on its node, call the shrinker. */
static void ksm_pins_reach(struct folio *folio)
{
#ifdef CONFIG_MEMCG
	rcu_read_lock();
	set_shrinker_bit(folio_memcg(folio), folio_nid(folio), ksm_stable_shrinker->id);
	rcu_read_unlock();
#endif
}

/* Does the engine hold a mapping of the folio of @stable? */
static bool ksm_stable_pinned(const struct ksm_stable *stable)
{
	return !list_empty(&stable->pin_link);
}

/*
 * Join the mappings of @folio for the engine: one count in the mapcount,
 * as a page table entry would hold, and two references, the mapping's and
 * one more, so that the refcount still exceeds the mapcount as for any
 * pinned folio (compaction and khugepaged then leave it alone).  Only a
 * mapped folio is pinned: an unmapped one may be under migration, and
 * nothing but the folio lock's holder may map it again.  Mapped, the
 * first mapping is not ours: the statistics do not change.
 */
static bool ksm_pin_get(struct folio *folio)
{
	folio_ref_add(folio, 2);
	if (atomic_inc_unless_negative(&folio->_mapcount))
		return true;
	folio_put_refs(folio, 2);	/* the caller holds a reference too */
	return false;
}

/* Leave the mappings of @folio, as folio_remove_rmap_pte() would. */
static void ksm_pin_put(struct folio *folio)
{
	VM_WARN_ON_ONCE_FOLIO(folio_mapcount(folio) < 1, folio);
	if (atomic_add_negative(-1, &folio->_mapcount))
		lruvec_stat_mod_folio(folio, NR_ANON_MAPPED, -1);
	folio_put_refs(folio, 2);
}

/**
 * ksm_stable_mapcount() - how many mappings tenants have of a KSM folio
 * @stable: its node
 * @folio: the folio, referenced
 *
 * Return: the folio's mapcount without the engine's own (the pin).
 */
int ksm_stable_mapcount(const struct ksm_stable *stable, struct folio *folio)
{
	return folio_mapcount(folio) - ksm_stable_pinned(stable);
}

/**
 * ksm_stable_pin() - keep the folio of a node until the engine lets it go
 * @stable: the node, in the index or about to be
 * @folio: its KSM folio, referenced by the caller
 *
 * Maps @folio for the engine (the pin), unless @stable holds a pin
 * already, @folio is not mapped, or it must stay movable (see "Pins of
 * hardened mode").
 *
 * Context: ksm_mutex held.
 */
void ksm_stable_pin(struct ksm_stable *stable, struct folio *folio)
{
	lockdep_assert_held(&ksm_mutex);
	if (ksm_stable_pinned(stable) || ksm_pin_offline(folio) ||
	    WARN_ON_ONCE(folio_test_large(folio)) ||
	    !folio_is_longterm_pinnable(folio) ||
	    is_migrate_movable(get_pageblock_migratetype(&folio->page)) ||
	    is_migrate_isolate_page(&folio->page))
		return;
	if (!ksm_pin_get(folio))
		return;
	list_add_tail(&stable->pin_link, &ksm_pins);
	WRITE_ONCE(ksm_pins_nr, ksm_pins_nr + 1);
	ksm_pins_reach(folio);
}

/* Drop the pin of @stable, if any; @folio is its folio, referenced. */
static void ksm_stable_unpin(struct ksm_stable *stable, struct folio *folio)
{
	lockdep_assert_held(&ksm_mutex);
	if (!ksm_stable_pinned(stable))
		return;
	list_del_init(&stable->pin_link);
	WRITE_ONCE(ksm_pins_nr, ksm_pins_nr - 1);
	ksm_pin_put(folio);
}

/*
 * Dismantle @stable if its folio is gone or unmapped.  Unless @swapped
 * too, a folio in the swap cache that still has members keeps its node:
 * swap-in maps it again without a copy.
 */
static void __ksm_stable_forget(struct ksm_stable *stable, bool swapped)
{
	struct folio *folio;

	lockdep_assert_held(&ksm_mutex);
	folio = ksm_stable_folio(stable, true);
	if (IS_ERR(folio)) {
		if (PTR_ERR(folio) != -ENOENT)
			return;
		/* A pin keeps the folio: gone, it cannot have had one. */
		if (WARN_ON_ONCE(ksm_stable_pinned(stable))) {
			list_del_init(&stable->pin_link);
			WRITE_ONCE(ksm_pins_nr, ksm_pins_nr - 1);
		}
	} else {
		/*
		 * Unmapped, or no mapping the engine knows of left to keep
		 * alike: the ones that remain (an exit tearing the mm down, a
		 * fork child not visited yet) free the folio in their own time.
		 */
		if (!ksm_stable_mapcount(stable, folio) || hlist_empty(&stable->members))
			ksm_stable_unpin(stable, folio);
		if (folio_mapped(folio) ||
		    (!swapped && folio_test_swapcache(folio) &&
		     !hlist_empty(&stable->members))) {
			folio_unlock(folio);
			folio_put(folio);
			return;
		}
		/*
		 * The pin kept the unmaps that emptied it from freeing its
		 * swap slot; one that no swap entry refers to goes now.
		 */
		if (folio_test_swapcache(folio))
			folio_free_swap(folio);
		ksm_folio_set_stable(folio, NULL);
		ksm_stable_unpin(stable, folio);
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
	__ksm_stable_forget(stable, false);
}

/**
 * ksm_stable_empty() - tell whether any KSM folio is known
 *
 * Return: true if the index is empty.
 */
bool ksm_stable_empty(void)
{
	return !ksm_stable_count;
}

/**
 * ksm_stable_walk() - call @fn for every node of the stable index
 * @fn: the function; it may take its node out of the index and free it,
 *	but must not add any
 * @arg: passed to @fn
 *
 * Context: ksm_mutex held; may sleep.
 */
void ksm_stable_walk(void (*fn)(struct ksm_stable *stable, void *arg), void *arg)
{
	unsigned long i;

	lockdep_assert_held(&ksm_mutex);
	for (i = 0; i < (1UL << ksm_stable_bits); i++) {
		struct hlist_node *tmp;
		struct ksm_stable *s;

		hlist_for_each_entry_safe(s, tmp, &ksm_stable_table[i], node) {
			fn(s, arg);
			cond_resched();
		}
	}
}

static void ksm_stable_prune_one(struct ksm_stable *stable, void *arg)
{
	struct folio *folio = ksm_stable_folio(stable, false);

	if (IS_ERR(folio)) {
		if (PTR_ERR(folio) == -ENOENT)
			ksm_stable_forget(stable);
		return;
	}
	/* A pinned folio is not freed by its last unmapping: it is freed here. */
	if (ksm_stable_pinned(stable) && !ksm_stable_mapcount(stable, folio)) {
		folio_put(folio);
		ksm_stable_forget(stable);
		return;
	}
	folio_put(folio);
}

/**
 * ksm_stable_prune() - forget the nodes whose folio is gone
 *
 * Context: ksm_mutex held; may sleep.
 */
void ksm_stable_prune(void)
{
	ksm_stable_walk(ksm_stable_prune_one, NULL);
	ksm_stable_fit();
}

static void ksm_stable_forget_one(struct ksm_stable *stable, void *arg)
{
	__ksm_stable_forget(stable, true);
}

/**
 * ksm_stable_forget_all() - forget every node that no mapping uses
 *
 * Folios left only in the swap cache are forgotten too: as after run=2
 * in 6.12, whoever swaps them in gets an ordinary page.
 *
 * Context: ksm_mutex held; may sleep.
 * Return: true if the index is empty afterwards.
 */
bool ksm_stable_forget_all(void)
{
	ksm_stable_walk(ksm_stable_forget_one, NULL);
	ksm_stable_fit();
	return ksm_stable_empty();
}

/* What a look at the pinned folios does (see ksm_pins_scan()). */
enum ksm_pins_mode {
	KSM_PINS_FREE_UNMAPPED,	/* ksmd: dismantle unmapped folios' nodes */
	KSM_PINS_DROP_UNMAPPED,	/* reclaim: unpin unmapped folios */
	KSM_PINS_DROP_OFFLINE,	/* offlining: unpin folios going offline */
};

/*
 * Look at up to @nr pinned folios, oldest first, and act on them as
 * @mode says; folios left pinned move to the end.  Only ksmd's mode
 * takes folio locks (through ksm_stable_forget()): reclaim may run with
 * a KSM folio locked (swap-in), so it only drops references.  Returns
 * how many folios were let go.
 */
static unsigned long ksm_pins_scan(unsigned long nr, enum ksm_pins_mode mode)
{
	struct ksm_stable *stable, *tmp;
	unsigned long done = 0, freed = 0;
	LIST_HEAD(kept);

	lockdep_assert_held(&ksm_mutex);
	list_for_each_entry_safe(stable, tmp, &ksm_pins, pin_link) {
		struct folio *folio;
		bool drop;

		if (done == nr || (mode == KSM_PINS_FREE_UNMAPPED && ksm_mutex_wanted()))
			break;
		done++;
		folio = ksm_stable_folio(stable, false);
		if (IS_ERR(folio)) {
			list_move_tail(&stable->pin_link, &kept);
			continue;
		}
		if (mode == KSM_PINS_DROP_OFFLINE)
			drop = ksm_pin_offline(folio);
		else
			drop = !ksm_stable_mapcount(stable, folio);
		freed += drop;
		if (drop && mode == KSM_PINS_FREE_UNMAPPED) {
			folio_put(folio);
			ksm_stable_forget(stable);
			continue;
		}
		if (drop)
			ksm_stable_unpin(stable, folio);
		else
			list_move_tail(&stable->pin_link, &kept);
		folio_put(folio);
		if (mode == KSM_PINS_FREE_UNMAPPED)
			cond_resched();
	}
	list_splice_tail(&kept, &ksm_pins);
	return freed;
}

/**
 * ksm_stable_release_pins() - free pinned folios no longer mapped
 * @all: look at all of them (KSM is stopped), not only at a share
 *
 * Called before every batch, and from time to time while KSM is stopped,
 * so that a KSM folio of hardened mode whose last mapping went away is
 * freed soon, not only at the next visit of its address or at the next
 * prune.  (Exits and run=2 let their folios go as they drop the last
 * members.)  A batch looks at 1/KSM_PINS_ROUNDS of them, at least
 * KSM_PINS_PER_BATCH.  Stops early for a task waiting for ksm_mutex.
 *
 * Context: ksm_mutex held; may sleep.
 * Return: how many folios were freed.
 */
unsigned long ksm_stable_release_pins(bool all)
{
	unsigned long nr = ksm_pins_nr;

	if (!all)
		nr = max_t(unsigned long, KSM_PINS_PER_BATCH, nr / KSM_PINS_ROUNDS);
	return ksm_pins_scan(nr, KSM_PINS_FREE_UNMAPPED);
}

/**
 * ksm_stable_has_pins() - does hardened mode hold any folio?
 *
 * Return: true if some KSM folio is pinned (read without ksm_mutex).
 */
bool ksm_stable_has_pins(void)
{
	return READ_ONCE(ksm_pins_nr);
}

static unsigned long ksm_stable_shrink_count(struct shrinker *s, struct shrink_control *sc)
{
	return READ_ONCE(ksm_pins_nr) ?: SHRINK_EMPTY;
}

/*
 * Reclaim wants memory: unpin the folios it (or their owners) unmapped,
 * so that it can free them.  Reclaim may run in ksmd itself, under
 * ksm_mutex, so the mutex is only tried, and with a KSM folio locked, so
 * no folio lock is taken.
 */
static unsigned long ksm_stable_shrink_scan(struct shrinker *s, struct shrink_control *sc)
{
	unsigned long freed;

	if (!mutex_trylock(&ksm_mutex))
		return SHRINK_STOP;
	freed = ksm_pins_scan(sc->nr_to_scan, KSM_PINS_DROP_UNMAPPED);
	mutex_unlock(&ksm_mutex);
	return freed;
}

#ifdef CONFIG_MEMORY_HOTREMOVE
/*
 * Offlining migrated every live KSM folio out of the range, but poisoned
 * ones, so a node whose pfn is still inside it is stale or holds a
 * poisoned folio (see below); its struct page is about to go away.
 */
static void ksm_stable_drop_in_range(struct ksm_stable *stable, void *arg)
{
	const unsigned long *range = arg;
	struct folio *folio;

	if (stable->kpfn < range[0] || stable->kpfn >= range[1])
		return;
	/*
	 * Offlining migrated every KSM folio of the range but poisoned ones,
	 * which it only unmapped: such a folio is detached from its node,
	 * under its lock, before the members go.
	 */
	folio = ksm_stable_folio(stable, true);
	if (!IS_ERR(folio)) {
		ksm_folio_set_stable(folio, NULL);
		ksm_stable_unpin(stable, folio);
	}
	ksm_stable_drop_members(stable);
	ksm_stable_erase(stable);
	if (!IS_ERR(folio)) {
		folio_unlock(folio);
		folio_put(folio);
	}
	ksm_stable_free(stable);
}

static int ksm_stable_memory_event(struct notifier_block *nb, unsigned long action,
				   void *arg)
{
	struct memory_notify *mn = arg;
	unsigned long range[2] = { mn->start_pfn, mn->start_pfn + mn->nr_pages };

	/*
	 * Pinned folios could not be migrated out of the range: their pins
	 * go, and none is taken there until offlining ends.  (Offlining is
	 * serialised by mem_hotplug_lock: one range at a time.)
	 */
	if (action == MEM_GOING_OFFLINE) {
		ksm_mutex_lock();
		ksm_pins_offline[0] = range[0];
		ksm_pins_offline[1] = range[1];
		ksm_pins_scan(ksm_pins_nr, KSM_PINS_DROP_OFFLINE);
		mutex_unlock(&ksm_mutex);
	}
	if (action == MEM_CANCEL_OFFLINE) {
		ksm_mutex_lock();
		ksm_pins_offline[0] = 0;
		ksm_pins_offline[1] = 0;
		mutex_unlock(&ksm_mutex);
	}
	if (action == MEM_OFFLINE) {
		ksm_mutex_lock();
		ksm_stable_walk(ksm_stable_drop_in_range, range);
		ksm_pins_offline[0] = 0;
		ksm_pins_offline[1] = 0;
		mutex_unlock(&ksm_mutex);
	}
	return NOTIFY_OK;
}
#endif

/**
 * ksm_stable_init() - set up the caches and the index
 *
 * Return: 0 or -ENOMEM.
 */
int __init ksm_stable_init(void)
{
	ksm_stable_cache = KMEM_CACHE(ksm_stable, 0);
	ksm_member_cache = KMEM_CACHE(ksm_member, 0);
	ksm_stable_table = kvcalloc(1UL << KSM_STABLE_MIN_BITS, sizeof(*ksm_stable_table),
				    GFP_KERNEL);
	ksm_stable_bits = KSM_STABLE_MIN_BITS;
	ksm_stable_shrinker = shrinker_alloc(SHRINKER_MEMCG_AWARE, "ksm-pins");
	if (!ksm_stable_cache || !ksm_member_cache || !ksm_stable_table ||
	    !ksm_stable_shrinker) {
		if (ksm_stable_shrinker)
			shrinker_free(ksm_stable_shrinker);
		ksm_stable_shrinker = NULL;
		kmem_cache_destroy(ksm_stable_cache);
		kmem_cache_destroy(ksm_member_cache);
		kvfree(ksm_stable_table);
		ksm_stable_cache = NULL;
		ksm_member_cache = NULL;
		ksm_stable_table = NULL;
		return -ENOMEM;
	}
	ksm_stable_shrinker->count_objects = ksm_stable_shrink_count;
	ksm_stable_shrinker->scan_objects = ksm_stable_shrink_scan;
	shrinker_register(ksm_stable_shrinker);
#ifdef CONFIG_MEMORY_HOTREMOVE
	hotplug_memory_notifier(ksm_stable_memory_event, KSM_CALLBACK_PRI);
#endif
	return 0;
}

#ifdef CONFIG_DEBUG_VM
/*
 * A KSM folio is write-protected in every mapping and pinned by nobody,
 * so its content can never change: a page that another process shares
 * would change under it.  Debug kernels check that.
 */

/**
 * ksm_stable_seal() - remember the content of a new KSM folio
 * @stable: its node, not yet in the index
 * @kpage: the folio's page, locked, write-protected and KSM already
 */
void ksm_stable_seal(struct ksm_stable *stable, struct page *kpage)
{
	stable->sealed = ksm_hash_page(kpage);
}

/**
 * ksm_stable_check() - warn if a KSM folio's content changed
 * @stable: its node
 * @kpage: the folio's page, referenced
 * @mm: an mm that maps it, for the report
 * @addr: where @mm maps it
 *
 * Context: ksm_mutex held (it keeps @stable alive).
 */
void ksm_stable_check(struct ksm_stable *stable, struct page *kpage,
		      struct mm_struct *mm, unsigned long addr)
{
	u64 now;

	lockdep_assert_held(&ksm_mutex);
	if (PageHWPoison(kpage))
		return;
	now = ksm_hash_page(kpage);
	if (now == stable->sealed)
		return;
	pr_err("ksm: KSM page %lx changed: sealed %llx, now %llx, mapped at %lx in mm %p\n",
	       page_to_pfn(kpage), stable->sealed, now, addr, mm);
	VM_WARN_ON_ONCE_PAGE(1, kpage);
}
#endif
