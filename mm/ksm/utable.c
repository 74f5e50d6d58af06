// SPDX-License-Identifier: GPL-2.0-only
/*
 * The unstable index: an open-addressed hash table from content hash to
 * the location of a candidate page.
 *
 * The table is refilled from scratch on every pass, so it needs no
 * tombstones and no per-entry allocation: 16 bytes a candidate, sized
 * at each reset for the number of candidates the previous pass found.
 * Positions come from the top bits of the hash by multiply-shift range
 * reduction, so the capacity can be any number and the table stays
 * close to its target load of 80%.
 */
#include <linux/hash.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "utable.h"

/* KSM_ENTRY_BYTES, in state.h, counts a slot of the index as two u64s. */
static_assert(sizeof(struct ksm_uentry) == 2 * sizeof(u64));

#define KSM_UTABLE_MIN		64UL

/* Slots for @n entries at a load of at most 4/5. */
static unsigned long ksm_utable_size_for(unsigned long n)
{
	return max(KSM_UTABLE_MIN, n + n / 4 + 1);
}

/*
 * Keys carry fewer than 64 significant bits (48 of content hash, perhaps
 * a node number above), so they are mixed before their top 32 bits pick
 * the home slot.
 */
static unsigned long ksm_utable_home(const struct ksm_utable *t, u64 hash)
{
	return ((hash * GOLDEN_RATIO_64) >> 32) * (u64)t->capacity >> 32;
}

static unsigned long ksm_utable_step(const struct ksm_utable *t, unsigned long i)
{
	return ++i == t->capacity ? 0 : i;
}

/* Place an entry known not to be present; the table must have room. */
static void ksm_utable_place(struct ksm_utable *t, u64 hash, u64 loc)
{
	unsigned long i = ksm_utable_home(t, hash);

	while (t->entries[i].loc)
		i = ksm_utable_step(t, i);
	t->entries[i].hash = hash;
	t->entries[i].loc = loc;
	t->used++;
}

/*
 * A table larger than a page is vmalloc'ed: its memory is then the size
 * it needs, not rounded up to a power of two as kmalloc would.
 */
static struct ksm_uentry *ksm_utable_alloc(unsigned long capacity)
{
	if (capacity * sizeof(struct ksm_uentry) <= PAGE_SIZE)
		return kcalloc(capacity, sizeof(struct ksm_uentry), GFP_KERNEL | __GFP_NOWARN);
	return __vcalloc(capacity, sizeof(struct ksm_uentry), GFP_KERNEL | __GFP_NOWARN);
}

/* Move every entry to a new array of @capacity slots; may sleep. */
static int ksm_utable_resize(struct ksm_utable *t, unsigned long capacity)
{
	struct ksm_utable old = *t;
	unsigned long i;

	t->entries = ksm_utable_alloc(capacity);
	if (!t->entries) {
		*t = old;
		return -ENOMEM;
	}
	t->capacity = capacity;
	t->used = 0;
	for (i = 0; i < old.capacity; i++) {
		if (old.entries[i].loc)
			ksm_utable_place(t, old.entries[i].hash, old.entries[i].loc);
		/* A pass over millions of pages fills millions of slots. */
		if (!(i % 4096))
			cond_resched();
	}
	kvfree(old.entries);
	return 0;
}

/**
 * ksm_utable_reset() - empty the index, sized for a new pass
 * @t: the index
 * @expect: number of entries the coming pass is expected to insert
 *
 * The table is reallocated when it is smaller than @expect needs or more
 * than an eighth larger (a pass that grew it by doubling leaves it up to
 * twice too large); otherwise its slots are only cleared.
 *
 * Context: process context, may sleep.
 * Return: 0, or -ENOMEM if no table could be allocated at all (the index
 * then stays empty and every insertion fails).
 */
int ksm_utable_reset(struct ksm_utable *t, unsigned long expect)
{
	unsigned long want = ksm_utable_size_for(expect);

	if (t->entries && t->capacity >= want && t->capacity <= want + want / 8) {
		memset(t->entries, 0, t->capacity * sizeof(*t->entries));
		t->used = 0;
		return 0;
	}
	ksm_utable_destroy(t);
	return ksm_utable_resize(t, want);
}

/* Would one more entry take the table past its load limit? */
static bool ksm_utable_over(const struct ksm_utable *t)
{
	return t->used + 1 > t->capacity - t->capacity / 5;
}

/**
 * ksm_utable_full() - tell whether an insertion would have to grow the table
 * @t: the index
 *
 * A caller that must not sleep inserts only when this is false.
 *
 * Return: true if ksm_utable_insert() would allocate.
 */
bool ksm_utable_full(const struct ksm_utable *t)
{
	return !t->entries || ksm_utable_over(t);
}

/**
 * ksm_utable_grow() - grow the index ahead of need
 * @t: the index
 *
 * Called where a resize holds up no process, whenever ksmd starts or
 * resumes work on an mm, once the index is three quarters full, a little
 * before its load limit, so that an insertion, made under an mm's
 * mmap_lock, seldom has to grow it itself.
 *
 * Context: process context, may sleep.
 */
void ksm_utable_grow(struct ksm_utable *t)
{
	if (t->entries && t->used > t->capacity - t->capacity / 4)
		ksm_utable_resize(t, 2 * t->capacity);
}

/**
 * ksm_utable_insert() - add a candidate page
 * @t: the index
 * @hash: content hash of the page
 * @loc: location of the page, never 0
 *
 * The table grows when it passes its load limit.
 *
 * Context: process context, may sleep unless ksm_utable_full() said no.
 * Return: true if the entry was added, false if there was no room.
 */
bool ksm_utable_insert(struct ksm_utable *t, u64 hash, u64 loc)
{
	if (!loc)
		return false;
	if (!t->entries && ksm_utable_resize(t, KSM_UTABLE_MIN))
		return false;
	if (ksm_utable_over(t) &&
	    ksm_utable_resize(t, 2 * t->capacity) && t->used + 1 >= t->capacity)
		return false;
	ksm_utable_place(t, hash, loc);
	return true;
}

/**
 * ksm_utable_next() - iterate over the entries that carry a hash
 * @t: the index
 * @hash: content hash to look for
 * @pos: cursor, %KSM_UTABLE_START before the first call
 *
 * Return: the location of the next entry with @hash, or 0 when there is
 * none left.
 */
u64 ksm_utable_next(const struct ksm_utable *t, u64 hash, unsigned long *pos)
{
	unsigned long i;

	if (!t->used)
		return 0;
	i = *pos == KSM_UTABLE_START ? ksm_utable_home(t, hash) :
		ksm_utable_step(t, *pos);
	for (; t->entries[i].loc; i = ksm_utable_step(t, i)) {
		if (t->entries[i].hash == hash) {
			*pos = i;
			return t->entries[i].loc;
		}
	}
	return 0;
}

/* Is @home cyclically within (@hole, @i]?  Then the entry at @i may stay. */
static bool ksm_utable_stays(unsigned long hole, unsigned long i, unsigned long home)
{
	if (hole <= i)
		return hole < home && home <= i;
	return hole < home || home <= i;
}

/*
 * Empty the slot at @hole; entries after it are shifted back so that
 * every remaining entry stays reachable from its home slot.
 */
static void ksm_utable_delete(struct ksm_utable *t, unsigned long hole)
{
	unsigned long i;

	for (i = ksm_utable_step(t, hole); t->entries[i].loc;
	     i = ksm_utable_step(t, i)) {
		if (ksm_utable_stays(hole, i, ksm_utable_home(t, t->entries[i].hash)))
			continue;
		t->entries[hole] = t->entries[i];
		hole = i;
	}
	t->entries[hole].loc = 0;
	t->entries[hole].hash = 0;
	t->used--;
}

/**
 * ksm_utable_remove() - remove one entry
 * @t: the index
 * @hash: content hash the entry was inserted with
 * @loc: its location
 *
 * Entries after the hole are shifted back so that every remaining entry
 * stays reachable from its home slot.
 *
 * Return: true if the entry was found and removed.
 */
bool ksm_utable_remove(struct ksm_utable *t, u64 hash, u64 loc)
{
	unsigned long pos = KSM_UTABLE_START;
	u64 found;

	while ((found = ksm_utable_next(t, hash, &pos)) && found != loc)
		;
	if (!found)
		return false;
	ksm_utable_delete(t, pos);
	return true;
}

/**
 * ksm_utable_remove_at() - remove the entry that ksm_utable_next() returned
 * @t: the index
 * @hash: content hash the entry was inserted with
 * @loc: its location
 * @pos: the cursor ksm_utable_next() left when it returned @loc
 *
 * Saves the search when nothing moved the entry since; otherwise the
 * same as ksm_utable_remove().
 *
 * Return: true if the entry was found and removed.
 */
bool ksm_utable_remove_at(struct ksm_utable *t, u64 hash, u64 loc, unsigned long pos)
{
	if (pos < t->capacity && t->entries[pos].loc == loc && t->entries[pos].hash == hash) {
		ksm_utable_delete(t, pos);
		return true;
	}
	return ksm_utable_remove(t, hash, loc);
}

/**
 * ksm_utable_destroy() - free the index's memory
 * @t: the index, left empty and reusable
 */
void ksm_utable_destroy(struct ksm_utable *t)
{
	kvfree(t->entries);
	t->entries = NULL;
	t->capacity = 0;
	t->used = 0;
}
