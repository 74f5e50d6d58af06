/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The stable index: KSM folios by content hash, and their members.
 */
#ifndef MM_KSM_STABLE_H
#define MM_KSM_STABLE_H

#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/types.h>

#include "state.h"

/**
 * struct ksm_stable - a KSM folio, as the stable index knows it
 * @node: link in its bucket of the stable index; ksm_mutex
 * @hash: content hash of the folio
 * @kpfn: pfn of the folio; moved by folio_migrate_ksm() under the lock
 *	of both folios
 * @members: the &struct ksm_member mappings ksmd made; ksm_mutex and
 *	the folio lock to change, the folio lock to walk
 * @nr_members: length of @members
 * @nid: NUMA node of the index key (0 while merging across nodes)
 * @domain: merge domain of the mappings (see ksm_slot_domain()), part of
 *	the index key
 * @owner: the tenant (memory cgroup) it counts as shared in; ksm_mutex
 * @pin_link: entry in the list of pinned nodes while the engine holds a
 *	mapping of the folio (hardened mode), so that no tenant's unmap is
 *	its last one; empty otherwise; ksm_mutex
 * @sealed: with CONFIG_DEBUG_VM, the content hash taken once the folio
 *	became KSM, for ksm_stable_check(); set before the node is indexed
 *
 * The folio's ->mapping points here, tagged with PAGE_MAPPING_KSM.
 */
struct ksm_stable {
	struct hlist_node node;
	u64 hash;
	unsigned long kpfn;
	struct hlist_head members;
	unsigned int nr_members;
	int nid;
	u64 domain;
	struct ksm_tenant *owner;
	struct list_head pin_link;
#ifdef CONFIG_DEBUG_VM
	u64 sealed;
#endif
};

/**
 * struct ksm_member - one mapping of a KSM folio
 * @link: entry in &ksm_stable.members
 * @stable: the KSM folio's node
 * @anon_vma: anon_vma of the VMA that mapped it, referenced, so that the
 *	reverse map can find the mapping (and forks of it)
 * @slot: the mm that mapped it
 * @addr: the virtual address of the mapping
 */
struct ksm_member {
	struct hlist_node link;
	struct ksm_stable *stable;
	struct anon_vma *anon_vma;
	struct ksm_slot *slot;
	unsigned long addr;
};

struct ksm_stable *ksm_stable_alloc(u64 hash, u64 domain);
void ksm_stable_free(struct ksm_stable *stable);
struct ksm_stable *ksm_folio_stable(const struct folio *folio);
void ksm_folio_set_stable(struct folio *folio, struct ksm_stable *stable);
struct folio *ksm_stable_folio(struct ksm_stable *stable, bool lock);
void ksm_stable_insert(struct ksm_stable *stable, int nid);
struct ksm_stable *ksm_stable_first(u64 hash, int nid, u64 domain);
struct ksm_stable *ksm_stable_next(struct ksm_stable *stable);
void ksm_stable_erase(struct ksm_stable *stable);
struct ksm_member *ksm_member_prepare(struct ksm_slot *slot, unsigned long addr);
void ksm_member_cancel(struct ksm_slot *slot, unsigned long addr, struct ksm_member *m);
void ksm_member_add(struct ksm_member *m, struct ksm_stable *stable, struct ksm_slot *slot,
		    struct vm_area_struct *vma, unsigned long addr);
void ksm_member_del(struct ksm_member *m);
void ksm_member_replace(struct ksm_member *m);
void ksm_stable_forget(struct ksm_stable *stable);
void ksm_stable_pin(struct ksm_stable *stable, struct folio *folio);
int ksm_stable_mapcount(const struct ksm_stable *stable, struct folio *folio);
unsigned long ksm_stable_release_pins(bool all);
bool ksm_stable_has_pins(void);
void ksm_stable_walk(void (*fn)(struct ksm_stable *stable, void *arg), void *arg);
bool ksm_stable_forget_all(void);
bool ksm_stable_empty(void);
void ksm_stable_prune(void);
void ksm_stable_fit(void);
void ksm_stable_grow(void);
int ksm_stable_init(void);

#ifdef CONFIG_DEBUG_VM
void ksm_stable_seal(struct ksm_stable *stable, struct page *kpage);
void ksm_stable_check(struct ksm_stable *stable, struct page *kpage,
		      struct mm_struct *mm, unsigned long addr);
#else
static inline void ksm_stable_seal(struct ksm_stable *stable, struct page *kpage)
{
}

static inline void ksm_stable_check(struct ksm_stable *stable, struct page *kpage,
				    struct mm_struct *mm, unsigned long addr)
{
}
#endif

#endif /* MM_KSM_STABLE_H */
