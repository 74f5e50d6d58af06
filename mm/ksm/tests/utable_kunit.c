// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of the unstable index (mm/ksm/utable.c).
 */
#include <kunit/test.h>
#include <linux/random.h>
#include <linux/slab.h>

#include "../state.h"
#include "../utable.h"

/* Every occupied slot must be reachable from its home without a gap. */
static bool utable_consistent(const struct ksm_utable *t)
{
	unsigned long i, used = 0;

	for (i = 0; i < t->capacity; i++) {
		unsigned long pos = KSM_UTABLE_START;
		u64 loc;

		if (!t->entries[i].loc)
			continue;
		used++;
		while ((loc = ksm_utable_next(t, t->entries[i].hash, &pos)) &&
		       pos != i)
			;
		if (!loc)
			return false;
	}
	return used == t->used;
}

static void utable_empty(struct kunit *test)
{
	struct ksm_utable t = {};
	unsigned long pos = KSM_UTABLE_START;

	KUNIT_EXPECT_EQ(test, ksm_utable_next(&t, 42, &pos), 0ULL);
	KUNIT_EXPECT_FALSE(test, ksm_utable_remove(&t, 42, 1));
	KUNIT_EXPECT_FALSE(test, ksm_utable_insert(&t, 42, 0));
	ksm_utable_destroy(&t);
}

static void utable_insert_find_remove(struct kunit *test)
{
	const unsigned long n = 5000;
	struct ksm_utable t = {};
	unsigned long i;
	u64 *hashes;

	hashes = kunit_kcalloc(test, n, sizeof(*hashes), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, hashes);
	for (i = 0; i < n; i++) {
		hashes[i] = get_random_u64();
		KUNIT_ASSERT_TRUE(test, ksm_utable_insert(&t, hashes[i], ksm_loc(1, i)));
	}
	KUNIT_EXPECT_EQ(test, t.used, n);
	KUNIT_EXPECT_LE(test, t.used * 5, t.capacity * 4);
	KUNIT_EXPECT_TRUE(test, utable_consistent(&t));

	for (i = 0; i < n; i++) {
		unsigned long pos = KSM_UTABLE_START;

		KUNIT_EXPECT_EQ(test, ksm_utable_next(&t, hashes[i], &pos), ksm_loc(1, i));
	}
	/* Remove every other entry; the rest must stay reachable. */
	for (i = 0; i < n; i += 2)
		KUNIT_EXPECT_TRUE(test, ksm_utable_remove(&t, hashes[i], ksm_loc(1, i)));
	KUNIT_EXPECT_EQ(test, t.used, n / 2);
	KUNIT_EXPECT_TRUE(test, utable_consistent(&t));
	for (i = 0; i < n; i++) {
		unsigned long pos = KSM_UTABLE_START;
		u64 want = i % 2 ? ksm_loc(1, i) : 0;

		KUNIT_EXPECT_EQ(test, ksm_utable_next(&t, hashes[i], &pos), want);
	}
	ksm_utable_destroy(&t);
}

/* Identical pages share a hash: all of them must be enumerated. */
static void utable_duplicates(struct kunit *test)
{
	struct ksm_utable t = {};
	unsigned long pos = KSM_UTABLE_START, seen = 0, i;
	u64 loc;

	for (i = 0; i < 100; i++) {
		KUNIT_ASSERT_TRUE(test, ksm_utable_insert(&t, 7, ksm_loc(2, i)));
		KUNIT_ASSERT_TRUE(test, ksm_utable_insert(&t, 8 + i, ksm_loc(3, i)));
	}
	while ((loc = ksm_utable_next(&t, 7, &pos))) {
		KUNIT_EXPECT_EQ(test, ksm_loc_slot(loc), 2U);
		seen++;
	}
	KUNIT_EXPECT_EQ(test, seen, 100UL);
	KUNIT_EXPECT_TRUE(test, ksm_utable_remove(&t, 7, ksm_loc(2, 50)));
	KUNIT_EXPECT_FALSE(test, ksm_utable_remove(&t, 7, ksm_loc(2, 50)));
	KUNIT_EXPECT_TRUE(test, utable_consistent(&t));
	ksm_utable_destroy(&t);
}

/* Colliding homes wrap around the end of the array. */
static void utable_wraparound(struct kunit *test)
{
	struct ksm_utable t = {};
	u64 top = ~0ULL;	/* home is the last slot */
	unsigned long i;

	KUNIT_ASSERT_EQ(test, ksm_utable_reset(&t, 10), 0);
	for (i = 1; i <= 10; i++)
		KUNIT_ASSERT_TRUE(test, ksm_utable_insert(&t, top - i, ksm_loc(1, i)));
	KUNIT_EXPECT_TRUE(test, utable_consistent(&t));
	for (i = 1; i <= 10; i += 3)
		KUNIT_EXPECT_TRUE(test, ksm_utable_remove(&t, top - i, ksm_loc(1, i)));
	KUNIT_EXPECT_TRUE(test, utable_consistent(&t));
	ksm_utable_destroy(&t);
}

/*
 * Keys are 48-bit content hashes: their placement must still spread, so
 * that a lookup probes a few slots, not a cluster.
 */
static void utable_short_probes(struct kunit *test)
{
	const unsigned long n = 20000;
	struct ksm_utable t = {};
	unsigned long i, run = 0, longest = 0;

	KUNIT_ASSERT_EQ(test, ksm_utable_reset(&t, n), 0);
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_TRUE(test, ksm_utable_insert(&t, get_random_u64() & GENMASK_ULL(47, 0),
							  ksm_loc(1, i)));
	for (i = 0; i < t.capacity; i++) {
		run = t.entries[i].loc ? run + 1 : 0;
		longest = max(longest, run);
	}
	/*
	 * At 80% load the longest cluster of well-spread keys is a few
	 * hundred slots; keys that do not spread form one cluster of all.
	 */
	KUNIT_EXPECT_LT(test, longest, 1000UL);
	ksm_utable_destroy(&t);
}

static void utable_reset_sizes(struct kunit *test)
{
	struct ksm_utable t = {};
	unsigned long cap;

	KUNIT_ASSERT_EQ(test, ksm_utable_reset(&t, 100000), 0);
	cap = t.capacity;
	KUNIT_EXPECT_GE(test, cap, 125000UL);
	KUNIT_ASSERT_TRUE(test, ksm_utable_insert(&t, 1, 1));
	/* Same expectation: cleared in place. */
	KUNIT_ASSERT_EQ(test, ksm_utable_reset(&t, 100000), 0);
	KUNIT_EXPECT_EQ(test, t.capacity, cap);
	KUNIT_EXPECT_EQ(test, t.used, 0UL);
	/* A table grown to twice the need is cut back to it. */
	KUNIT_ASSERT_EQ(test, ksm_utable_reset(&t, 55000), 0);
	KUNIT_EXPECT_GE(test, t.capacity, 55000UL * 5 / 4);
	KUNIT_EXPECT_LE(test, t.capacity, 55000UL * 5 / 4 * 9 / 8);
	/* Far fewer candidates: shrink. */
	KUNIT_ASSERT_EQ(test, ksm_utable_reset(&t, 100), 0);
	KUNIT_EXPECT_LT(test, t.capacity, 1000UL);
	ksm_utable_destroy(&t);
	KUNIT_EXPECT_NULL(test, t.entries);
}

/* Removing at the cursor of a lookup, or after the entry moved. */
static void utable_remove_at_cursor(struct kunit *test)
{
	struct ksm_utable t = {};
	unsigned long pos = KSM_UTABLE_START, i;
	u64 loc;

	for (i = 1; i <= 50; i++)
		KUNIT_ASSERT_TRUE(test, ksm_utable_insert(&t, 7, ksm_loc(3, i)));
	for (i = 1; i <= 200; i++)
		KUNIT_ASSERT_TRUE(test, ksm_utable_insert(&t, get_random_u64(), ksm_loc(4, i)));
	loc = ksm_utable_next(&t, 7, &pos);
	KUNIT_ASSERT_NE(test, loc, 0ULL);
	KUNIT_EXPECT_TRUE(test, ksm_utable_remove_at(&t, 7, loc, pos));
	KUNIT_EXPECT_FALSE(test, ksm_utable_remove_at(&t, 7, loc, pos));
	/* A stale cursor falls back to a search. */
	pos = KSM_UTABLE_START;
	loc = ksm_utable_next(&t, 7, &pos);
	KUNIT_EXPECT_TRUE(test, ksm_utable_remove_at(&t, 7, loc, (pos + 1) % t.capacity));
	KUNIT_EXPECT_EQ(test, t.used, 248UL);
	KUNIT_EXPECT_TRUE(test, utable_consistent(&t));
	ksm_utable_destroy(&t);
}

/* ksm_utable_full() announces exactly the insertion that would allocate. */
static void utable_full_before_growing(struct kunit *test)
{
	struct ksm_utable t = {};
	unsigned long cap, i;

	KUNIT_EXPECT_TRUE(test, ksm_utable_full(&t));
	KUNIT_ASSERT_EQ(test, ksm_utable_reset(&t, 1000), 0);
	cap = t.capacity;
	for (i = 1; !ksm_utable_full(&t); i++) {
		KUNIT_ASSERT_TRUE(test, ksm_utable_insert(&t, get_random_u64(), ksm_loc(1, i)));
		KUNIT_ASSERT_EQ(test, t.capacity, cap);
	}
	KUNIT_EXPECT_GE(test, t.used, 1000UL);
	KUNIT_ASSERT_TRUE(test, ksm_utable_insert(&t, get_random_u64(), ksm_loc(1, i)));
	KUNIT_EXPECT_GT(test, t.capacity, cap);
	KUNIT_EXPECT_TRUE(test, utable_consistent(&t));
	ksm_utable_destroy(&t);
}

static void utable_loc_encoding(struct kunit *test)
{
	u64 loc = ksm_loc(0xfffff, KSM_LOC_VPN_MASK);

	KUNIT_EXPECT_EQ(test, ksm_loc_slot(loc), 0xfffffU);
	KUNIT_EXPECT_EQ(test, ksm_loc_vpn(loc), (unsigned long)KSM_LOC_VPN_MASK);
	KUNIT_EXPECT_NE(test, ksm_loc(1, 0), 0ULL);
}

static struct kunit_case ksm_utable_cases[] = {
	KUNIT_CASE(utable_empty),
	KUNIT_CASE(utable_insert_find_remove),
	KUNIT_CASE(utable_duplicates),
	KUNIT_CASE(utable_wraparound),
	KUNIT_CASE(utable_short_probes),
	KUNIT_CASE(utable_reset_sizes),
	KUNIT_CASE(utable_full_before_growing),
	KUNIT_CASE(utable_remove_at_cursor),
	KUNIT_CASE(utable_loc_encoding),
	{}
};

static struct kunit_suite ksm_utable_suite = {
	.name = "ksm_utable", /* kunit suite */
	.test_cases = ksm_utable_cases,
};

kunit_test_suite(ksm_utable_suite);

MODULE_DESCRIPTION("KUnit tests of the KSM unstable index");
MODULE_LICENSE("GPL");
