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
 * The pool holds KSM_FRAMES_PER_NODE frames per NUMA node with memory.
 * ksmd fills it before each batch, where it holds no mmap_lock; a frame
 * taken during a batch is replaced at once if that needs no reclaim, and
 * otherwise before the next batch.  Each new frame waits in the pool for
 * a random later merge.  Frames come from unmovable memory (not
 * ZONE_MOVABLE or CMA): the KSM folios made of them are pinned (see
 * stable.c).  The pool belongs to the ksm_mutex holder.  It is emptied
 * when hardened mode ends.  Like any allocation off the LRU, a frame in
 * the pool keeps its memory block from going offline (isolation fails
 * before any notifier runs) until then.
 */
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/random.h>
#include <linux/slab.h>

#include "state.h"
#include "frames.h"

#define KSM_FRAMES_PER_NODE	64

/* nr_node_ids pools of KSM_FRAMES_PER_NODE slots each; ksm_mutex. */
static struct folio **ksm_frames;

/*
 * A frame, on @nid if it has unmovable memory (a node of ZONE_MOVABLE
 * only gives frames of the nearest node that has), with a little direct
 * reclaim if @reclaim, else none.
 */
static struct folio *ksm_frame_alloc(int nid, bool reclaim)
{
	gfp_t gfp = GFP_HIGHUSER | __GFP_NOWARN;

	gfp = reclaim ? gfp | __GFP_NORETRY : gfp & ~__GFP_DIRECT_RECLAIM;
	return __folio_alloc_node(gfp, 0, nid);
}

/**
 * ksm_frames_refill() - fill the empty slots of every node's pool
 *
 * Context: ksm_mutex held, no mmap_lock; may sleep.
 */
void ksm_frames_refill(void)
{
	unsigned int i;
	int nid;

	lockdep_assert_held(&ksm_mutex);
	if (!ksm_frames) {
		ksm_frames = kvcalloc(nr_node_ids * KSM_FRAMES_PER_NODE, sizeof(*ksm_frames),
				      GFP_KERNEL | __GFP_NOWARN);
		if (!ksm_frames)
			return;
	}
	for_each_node_state(nid, N_MEMORY) {
		struct folio **pool = ksm_frames + nid * KSM_FRAMES_PER_NODE;

		for (i = 0; i < KSM_FRAMES_PER_NODE; i++) {
			if (pool[i])
				continue;
			pool[i] = ksm_frame_alloc(nid, true);
			/* Memory is short: try again before the next batch. */
			if (!pool[i])
				break;
		}
	}
}

/**
 * ksm_frame_take() - a fresh frame for a new KSM folio
 * @nid: NUMA node the folio should be on
 *
 * The frame is drawn uniformly at random from the pool of @nid, and a
 * new one takes its place there if one can be had without reclaim.  Its
 * content is undefined: the caller copies the page over it.
 *
 * Context: ksm_mutex held; does not sleep.
 * Return: an order-0 folio holding one reference, or NULL if the slot
 * drawn is empty (the merge waits for a later visit).
 */
struct folio *ksm_frame_take(int nid)
{
	struct folio **pool, *folio;
	unsigned int i;

	lockdep_assert_held(&ksm_mutex);
	if (!ksm_frames || nid < 0 || nid >= nr_node_ids)
		return NULL;
	pool = ksm_frames + nid * KSM_FRAMES_PER_NODE;
	i = get_random_u32_below(KSM_FRAMES_PER_NODE);
	folio = pool[i];
	pool[i] = ksm_frame_alloc(nid, false);
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
