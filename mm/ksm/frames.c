// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fresh frames for the KSM folios of hardened mode.
 *
 * Rowhammer attacks on deduplication (Flip Feng Shui) rely on choosing
 * the physical frame that ends up holding shared content: when the
 * merge keeps one of the mappers' own pages, a tenant that steered its
 * page onto a frame it can hammer gets a victim's data there.  In
 * hardened mode every KSM folio is instead a frame that no mapper held,
 * drawn at random from a pool that ksmd filled at earlier, unrelated
 * moments: which frame a given merge receives is unknown to everyone,
 * ksmd included, until it is taken.
 *
 * The pool holds KSM_FRAMES_PER_NODE frames per NUMA node, allocated
 * when hardened mode first needs one there.  A frame taken is replaced
 * at once by a new allocation, which in turn waits in the pool for a
 * random later merge.  The pool belongs to the ksm_mutex holder.  It is
 * emptied when hardened mode ends and before memory goes offline (its
 * frames are referenced, so offlining could not migrate them).
 */
#include <linux/gfp.h>
#include <linux/memory.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/random.h>
#include <linux/slab.h>

#include "state.h"
#include "frames.h"

#define KSM_FRAMES_PER_NODE	64

/* nr_node_ids pools of KSM_FRAMES_PER_NODE slots each; ksm_mutex. */
static struct folio **ksm_frames;

static struct folio *ksm_frame_alloc(int nid)
{
	return __folio_alloc_node(GFP_HIGHUSER_MOVABLE | __GFP_NOWARN | __GFP_NORETRY,
				  0, nid);
}

/* The pool of @nid, with every empty slot filled if memory allows. */
static struct folio **ksm_frames_pool(int nid)
{
	struct folio **pool;
	unsigned int i;

	if (!ksm_frames) {
		ksm_frames = kvcalloc(nr_node_ids * KSM_FRAMES_PER_NODE, sizeof(*ksm_frames),
				      GFP_KERNEL | __GFP_NOWARN);
		if (!ksm_frames)
			return NULL;
	}
	pool = ksm_frames + nid * KSM_FRAMES_PER_NODE;
	for (i = 0; i < KSM_FRAMES_PER_NODE; i++)
		if (!pool[i])
			pool[i] = ksm_frame_alloc(nid);
	return pool;
}

/**
 * ksm_frame_take() - a fresh frame for a new KSM folio
 * @nid: NUMA node the folio should be on
 *
 * The frame is drawn uniformly at random from the pool of @nid, and a
 * new one takes its place there.  Its content is undefined: the caller
 * copies the page over it.
 *
 * Context: ksm_mutex held; may sleep.
 * Return: an order-0 folio holding one reference, or NULL if memory is
 * short.
 */
struct folio *ksm_frame_take(int nid)
{
	struct folio **pool, *folio;
	unsigned int i;

	lockdep_assert_held(&ksm_mutex);
	if (nid < 0 || nid >= nr_node_ids)
		nid = numa_mem_id();
	pool = ksm_frames_pool(nid);
	if (!pool)
		return NULL;
	i = get_random_u32_below(KSM_FRAMES_PER_NODE);
	folio = pool[i];
	pool[i] = ksm_frame_alloc(nid);
	return folio;
}

/**
 * ksm_frames_drain() - give the pools back, when hardened mode ends
 *
 * Context: ksm_mutex held.
 */
void ksm_frames_drain(void)
{
	unsigned int i;

	lockdep_assert_held(&ksm_mutex);
	if (!ksm_frames)
		return;
	for (i = 0; i < nr_node_ids * KSM_FRAMES_PER_NODE; i++)
		if (ksm_frames[i])
			folio_put(ksm_frames[i]);
	kvfree(ksm_frames);
	ksm_frames = NULL;
}

#ifdef CONFIG_MEMORY_HOTREMOVE
static int ksm_frames_memory_event(struct notifier_block *nb, unsigned long action,
				   void *arg)
{
	if (action == MEM_GOING_OFFLINE) {
		ksm_mutex_lock();
		ksm_frames_drain();
		mutex_unlock(&ksm_mutex);
	}
	return NOTIFY_OK;
}
#endif

/**
 * ksm_frames_init() - have the pools emptied before memory goes offline
 */
void __init ksm_frames_init(void)
{
#ifdef CONFIG_MEMORY_HOTREMOVE
	hotplug_memory_notifier(ksm_frames_memory_event, KSM_CALLBACK_PRI);
#endif
}
