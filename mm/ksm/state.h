/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The engine's shared state: tunables, statistics, ksm_mutex, the ring
 * of registered mms and ksmd's cursor over it.
 *
 * The rest of the kernel talks to the engine through include/linux/ksm.h;
 * the headers of mm/ksm/ are for its own files only.
 */
#ifndef MM_KSM_STATE_H
#define MM_KSM_STATE_H

#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/xarray.h>

struct ksm_tenant;

/**
 * DOC: Engine overview
 *
 * ksmd visits the anonymous pages of every VM_MERGEABLE VMA in passes.
 * For each page it keeps one *tracking entry*, held in a per-mm xarray
 * indexed by virtual page number.  An entry is either a tagged value
 * (the page's 48-bit content hash, its age and the pass at which it is
 * due again) or, once the page is mapped to a KSM folio, a pointer to
 * the &struct ksm_member that lets the reverse map find that mapping.
 *
 * Duplicates are found through two indexes keyed by content hash, so a
 * lookup reads no page but the one being scanned until two hashes match:
 *
 * - the *stable index* holds KSM folios, write-protected and therefore
 *   unchanging; a hit is confirmed byte for byte and the page is mapped
 *   to the KSM folio;
 * - the *unstable index* (&struct ksm_utable) holds candidates: pages
 *   whose hash did not change since their previous examination, pages
 *   seen for the first time, and pages smart scan passes over, under
 *   their last hash.  It is rebuilt every pass, so
 *   entries that went stale in between cost nothing to forget.  A hit is
 *   confirmed byte for byte under write protection, and the two pages
 *   become a new KSM folio that enters the stable index.
 *
 * Tracking entries, members and stable nodes may go stale (the page was
 * written, unmapped, the mm exited): nothing keeps them in sync from the
 * rest of mm.  ksmd notices when it next looks at them and repairs them.
 */

/**
 * DOC: Layers
 *
 * A file of the engine includes the headers of lower layers only (and
 * its own, but no other of its layer), so a call upwards or sideways
 * does not compile.  The hooks of include/linux/ksm.h are the one
 * exception the compiler cannot see: only layer 5 defines them, and no
 * lower layer calls them::
 *
 *   6  ksmd.c                    the ksmd thread and start-up
 *   5  hooks.c rmap.c sysfs.c    what mm, user space and debugfs call
 *      debug.c
 *   4  scan.c                    the scanner
 *   3  merge.c unmerge.c         page-table operations
 *   2  stable.c                  the stable index and its members
 *   1  content.c utable.c        page content, the unstable index, the
 *      policy.c frames.c         scan policy and the advisor, fresh
 *      tenant.c                  frames for hardened mode, savings per
 *                                memory cgroup (memory.ksm_stat)
 *   0  state.c                   tunables, statistics, ksm_mutex, the
 *                                registered mms and ksmd's cursor
 *
 * A file that serves the layers above declares what it offers in a
 * header of the same name; ``make lint`` checks every include line of
 * the engine against this table.
 */

/**
 * DOC: Locking
 *
 * Lock order, outermost first::
 *
 *   cpus_read_lock, then
 *   mem_hotplug_lock            (memory offline: the MEM_GOING_OFFLINE,
 *                                MEM_CANCEL_OFFLINE and MEM_OFFLINE
 *                                notifiers; MEM_OFFLINE also locks KSM
 *                                folios; nothing under ksm_mutex takes
 *                                either lock)
 *     ksm_mutex                 (sysfs writers, ksmd's batches; exit only
 *                                tries it)
 *       mm->mmap_lock           (read: the scanned mm's, and a partner
 *                                mm's taken only by trylock, so up to two;
 *                                run=2 takes every mm's in turn)
 *         VMA write lock        (madvise, prctl, ksm_disable: before the
 *                                unmerging faults)
 *         folio lock            (a page to merge and its partner: trylock;
 *                                a KSM folio: sleeping, to add or drop a
 *                                member, also on exit without mmap_lock,
 *                                and in debugfs rmap_check; up to two at
 *                                once)
 *           anon_vma lock       (splitting a large folio to merge a page;
 *                                read, by the reverse map of a KSM folio)
 *           mmu_notifier range  (invalidate_range_start around a PTE change)
 *             page table lock   (pte_offset_map_lock, page_vma_mapped_walk)
 *
 *   ksm_slots_lock              (spinlock: under ksm_mutex, or under
 *                                mmap_lock for madvise, prctl, fork and
 *                                exec, or under a KSM folio's lock at
 *                                swap-in, ksm_mm_in_domain())
 *     xa_lock of ksm_slot_ids   (slot ids; nothing is taken under it)
 *
 *   xa_lock of the tenants      (tenant.c: under ksm_mutex; readers of
 *                                memory.ksm_stat use RCU only)
 *
 * Reclaim may enter the engine's shrinker (hardened mode's pins) from any
 * context, ksmd's own allocations under ksm_mutex included: it only tries
 * ksm_mutex.  ksmd itself charges the frames of hardened mode to memory
 * cgroups (before it locks the page that moves), and takes unsharing
 * faults (merge domains) under ksm_mutex and an mm's mmap_lock, as
 * run=2 does.
 *
 * A swap-in holds the folio lock of a KSM folio (and the faulting VMA's
 * lock, or swapoff the mmap_lock) while ksm_might_need_to_copy() reads
 * its member list.
 *
 * ksm_mutex gives ksmd, or a sysfs writer that changes the merging state
 * (run=2, merge_across_nodes, max_page_sharing), sole ownership of every
 * tracking entry, member, stable node and of the unstable index.  The
 * member list of a stable node is changed only with its KSM folio locked
 * as well, because rmap_walk_ksm() walks it with only the folio lock; a
 * node whose folio is gone has no walker left.  ksm_slots_lock protects
 * the ring of slots, the mm-to-slot hash and the slot ids; ksmd's cursor
 * is written with both locks held, so holding either keeps it still
 * (__ksm_enter() reads it under ksm_slots_lock).  Exit only ever tries
 * ksm_mutex: an exiting task that finds it taken leaves its slot for ksmd
 * to reap instead of waiting.  Everyone else but ksmd takes it through
 * ksm_mutex_lock(), which makes ksmd end its batch at the next page
 * table, so no writer waits for a long batch.
 */

/**
 * struct ksm_slot - one mm registered with KSM
 * @mm: the mm, pinned with mmgrab() for the slot's lifetime
 * @link: position in the scan ring; protected by ksm_slots_lock
 * @hash: entry in the mm-to-slot hash; protected by ksm_slots_lock
 * @items: tracking entries by virtual page number; ksm_mutex
 * @id: number of the slot in unstable-index locations, never 0
 * @seq: number of the slot, never reused (unlike @id): the mm's merge
 *	domain when each process is a domain of its own
 * @memcg_id: id of the memory cgroup ksmd last found the mm in; ksm_mutex
 * @tenant: the memory cgroup the mm's savings are counted in, referenced;
 *	NULL until ksmd first visits the mm; ksm_mutex
 * @zero_seen: the mm's KSM zero pages as last counted in @tenant; ksm_mutex
 */
struct ksm_slot {
	struct mm_struct *mm;
	struct list_head link;
	struct hlist_node hash;
	struct xarray items;
	unsigned int id;
	u64 seq;
	u64 memcg_id;
	struct ksm_tenant *tenant;
	long zero_seen;
};

/*
 * Tracking entries that are values: the content hash, a flag telling it
 * is valid, and for smart scan the number of times the page was examined
 * (its age) and the pass at which it is due again (see ksm_due_pass()).
 * A page passed over is not written to: skipping costs only the read.
 * KSM_V_FILED tells that the last examination found the page unchanged
 * and filed it in the unstable index: such pages are pages_unshared
 * until their next examination, the others (not merged) pages_volatile.
 * KSM_V_WANTED tells that a page of a THP kept whole was found by
 * another page with the same content, since its last examination (see
 * "Huge pages" in scan.c).  Ages past 6 all skip alike, so 3 bits keep
 * them.
 */
#define KSM_HASH_MASK		GENMASK_ULL(47, 0)
#define KSM_V_HASHED		BIT_ULL(48)
#define KSM_V_AGE_SHIFT		49
#define KSM_V_AGE_MASK		0x7ULL
#define KSM_V_DUE_SHIFT		52
#define KSM_V_DUE_MASK		0x1ffULL
#define KSM_V_WANTED		BIT_ULL(61)
#define KSM_V_FILED		BIT_ULL(62)
static_assert(KSM_V_DUE_SHIFT + 9 <= 61, "due passes overlap the flags");

/* Kconfig keeps KSM to 64-bit kernels: xa_mk_value() holds 63 bits there. */
static_assert(BITS_PER_LONG == 64, "KSM tracking entries need 63-bit xarray values");

static inline u64 ksm_v_age(u64 v)
{
	return (v >> KSM_V_AGE_SHIFT) & KSM_V_AGE_MASK;
}

static inline unsigned int ksm_v_due(u64 v)
{
	return (v >> KSM_V_DUE_SHIFT) & KSM_V_DUE_MASK;
}

static inline u64 ksm_v_make(u64 hash, bool hashed, u64 age, unsigned int due)
{
	return (hash & KSM_HASH_MASK) | (hashed ? KSM_V_HASHED : 0) |
	       min_t(u64, age, KSM_V_AGE_MASK) << KSM_V_AGE_SHIFT |
	       (u64)(due & KSM_V_DUE_MASK) << KSM_V_DUE_SHIFT;
}

/*
 * Location of a page: the id of its mm's slot (never 0) and its virtual
 * page number.  44 bits of page number cover a 56-bit address space.
 */
#define KSM_LOC_VPN_BITS	44
#define KSM_LOC_VPN_MASK	((1ULL << KSM_LOC_VPN_BITS) - 1)

static inline u64 ksm_loc(unsigned int slot_id, unsigned long vpn)
{
	return (u64)slot_id << KSM_LOC_VPN_BITS | (vpn & KSM_LOC_VPN_MASK);
}

static inline unsigned int ksm_loc_slot(u64 loc)
{
	return loc >> KSM_LOC_VPN_BITS;
}

static inline unsigned long ksm_loc_vpn(u64 loc)
{
	return loc & KSM_LOC_VPN_MASK;
}

/**
 * struct ksm_knobs - the tunables of /sys/kernel/mm/ksm
 * @run: KSM_RUN_* state; written under ksm_mutex
 * @pages_to_scan: pages ksmd examines per batch
 * @sleep_ms: pause between batches
 * @merge_across_nodes: one index for all NUMA nodes (1) or one per node
 * @use_zero_pages: map all-zero pages to the shared zero page
 * @max_page_sharing: most mappings of one KSM folio
 * @prune_ms: how often stale stable nodes are swept
 * @smart_scan: skip pages that keep failing to merge
 * @advisor: KSM_ADVISOR_* mode
 * @advisor_max_cpu: advisor_max_cpu
 * @advisor_min_pages: advisor_min_pages_to_scan
 * @advisor_max_pages: advisor_max_pages_to_scan
 * @advisor_target_s: advisor_target_scan_time
 * @domain: KSM_DOMAIN_*: which mms may share a KSM folio (merge_domain)
 * @hardened: every candidate becomes a KSM folio of a fresh frame, with
 *	or without a twin (hardened)
 * @thp_split_threshold: pages of a PMD-mapped THP that must be able to
 *	merge before ksmd splits it (1 to KSM_PMD_PAGES)
 *
 * Written by sysfs (ksm_mutex where the scan state depends on them),
 * read by ksmd with READ_ONCE().
 */
struct ksm_knobs {
	unsigned long run;
	unsigned int pages_to_scan;
	unsigned int sleep_ms;
	unsigned int merge_across_nodes;
	bool use_zero_pages;
	int max_page_sharing;
	unsigned int prune_ms;
	bool smart_scan;
	int advisor;
	unsigned int advisor_max_cpu;
	unsigned long advisor_min_pages;
	unsigned long advisor_max_pages;
	unsigned long advisor_target_s;
	int domain;
	int hardened;
	unsigned int thp_split_threshold;
};

/* Pages a PMD maps: the most thp_split_threshold can ask for. */
#define KSM_PMD_PAGES		(PMD_SIZE / PAGE_SIZE)

#define KSM_RUN_STOP		0
#define KSM_RUN_MERGE		1
#define KSM_RUN_UNMERGE		2

#define KSM_ADVISOR_NONE	0
#define KSM_ADVISOR_SCAN_TIME	1

/* Merge domains: KSM folios are shared only inside one. */
#define KSM_DOMAIN_GLOBAL	0	/* every registered mm (6.12) */
#define KSM_DOMAIN_MEMCG	1	/* the mms of one memory cgroup */
#define KSM_DOMAIN_PROCESS	2	/* one mm */

/**
 * struct ksm_stats - counters shown in /sys/kernel/mm/ksm
 * @pages_scanned: pages examined by ksmd
 * @pages_shared: KSM folios in use
 * @pages_sharing: mappings of KSM folios beyond the first of each
 * @pages_unshared: tracking entries with KSM_V_FILED
 * @pages_skipped: pages smart scan passed over
 * @full_scans: completed passes
 * @items: tracking entries of all mms
 * @chains: hashes with more than one KSM folio (max_page_sharing)
 * @dups: KSM folios in such groups
 *
 * Written by the ksm_mutex holder only; read locklessly by sysfs.
 */
struct ksm_stats {
	unsigned long pages_scanned;
	unsigned long pages_shared;
	unsigned long pages_sharing;
	unsigned long pages_unshared;
	unsigned long pages_skipped;
	unsigned long full_scans;
	unsigned long items;
	unsigned long chains;
	unsigned long dups;
};

extern struct ksm_knobs ksm_knobs;
extern struct ksm_stats ksm_stats;
extern struct mutex ksm_mutex;
extern wait_queue_head_t ksm_wait;
extern wait_queue_head_t ksm_sleep_wait;

/*
 * Account for tracking entry @old being replaced or erased: a filed page
 * stops counting as unshared.  Context: ksm_mutex held.
 */
static inline void ksm_entry_unfile(const void *old)
{
	if (xa_is_value(old) && (xa_to_value(old) & KSM_V_FILED))
		ksm_stats.pages_unshared--;
}

/* Bytes of engine metadata per tracking entry, for the profit figures. */
#define KSM_ENTRY_BYTES		(2 * sizeof(u64) * 5 / 4 + sizeof(void *) * 9 / 8)

void ksm_mutex_lock(void);
bool ksm_mutex_wanted(void);
int ksm_slot_add(struct mm_struct *mm, bool *first);
struct ksm_slot *ksm_slot_find(struct mm_struct *mm);
struct ksm_slot *ksm_slot_next(struct ksm_slot *slot);
bool ksm_slots_empty(void);
struct mm_struct *ksm_slot_get_mm(unsigned int id, struct ksm_slot **slotp);
struct ksm_slot *ksm_slot_of(unsigned int id);
bool ksm_slot_retire(struct ksm_slot *slot);
void ksm_slot_unlink(struct ksm_slot *slot);
void ksm_slot_free(struct ksm_slot *slot);
void ksm_slot_release(struct ksm_slot *slot);
struct ksm_slot *ksm_cursor_slot(unsigned long **pos);
bool ksm_slot_is_cursor(const struct ksm_slot *slot);
struct ksm_slot *ksm_cursor_restart(unsigned long **pos);
struct ksm_slot *ksm_cursor_advance(void);
void ksm_cursor_reset(void);
int ksm_walk_mms(int (*fn)(struct mm_struct *mm, void *arg), void *arg);
void ksm_exit_defer(void);
bool ksm_exits_waiting(void);
bool ksm_exits_take(void);
long ksm_general_profit(void);
u64 ksm_slot_memcg(struct ksm_slot *slot);
u64 ksm_domain_of(const struct ksm_slot *slot, u64 memcg_id);
u64 ksm_slot_domain(struct ksm_slot *slot);
bool ksm_mm_in_domain(struct mm_struct *mm, u64 domain);
bool ksm_zero_pages_allowed(void);
int ksm_state_init(void);
void ksm_state_open(void);
bool ksm_state_is_open(void);

#endif /* MM_KSM_STATE_H */
