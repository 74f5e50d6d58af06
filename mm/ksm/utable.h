/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The unstable index: content hash to page location, rebuilt every pass.
 */
#ifndef MM_KSM_UTABLE_H
#define MM_KSM_UTABLE_H

#include <linux/types.h>

/**
 * struct ksm_uentry - one slot of the unstable index
 * @hash: content hash of the candidate page
 * @loc: where the page is mapped (see ksm_loc()); 0 marks a free slot
 */
struct ksm_uentry {
	u64 hash;
	u64 loc;
};

/**
 * struct ksm_utable - the unstable index: content hash to page location
 * @entries: open-addressed array of @capacity slots, linear probing
 * @capacity: number of slots; any value, not only powers of two
 * @used: number of occupied slots
 *
 * Several entries may carry the same hash: identical pages that were not
 * merged yet, or a collision.  The table belongs to ksmd; callers
 * serialise all access (ksmd is its only user).
 */
struct ksm_utable {
	struct ksm_uentry *entries;
	unsigned long capacity;
	unsigned long used;
};

/* Start value of the cursor passed to ksm_utable_next(). */
#define KSM_UTABLE_START	(~0UL)

int ksm_utable_reset(struct ksm_utable *t, unsigned long expect);
bool ksm_utable_full(const struct ksm_utable *t);
bool ksm_utable_insert(struct ksm_utable *t, u64 hash, u64 loc);
void ksm_utable_grow(struct ksm_utable *t);
u64 ksm_utable_next(const struct ksm_utable *t, u64 hash, unsigned long *pos);
bool ksm_utable_remove(struct ksm_utable *t, u64 hash, u64 loc);
bool ksm_utable_remove_at(struct ksm_utable *t, u64 hash, u64 loc, unsigned long pos);
void ksm_utable_destroy(struct ksm_utable *t);

#endif /* MM_KSM_UTABLE_H */
