// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of the stable index (mm/ksm/stable.c): lookup by hash,
 * oldest-first order among equal hashes, growing and shrinking, merge
 * domains kept apart, and the chain counters that stable_node_chains and
 * stable_node_dups show.
 *
 * The tests use the live index with nodes that have no folio; ksm_mutex
 * is held while they are indexed, so ksmd never sees them.  They run at
 * boot, before anything is merged.  Only expectations are checked under
 * the mutex: an assertion would end the test with the mutex held.
 */
#include <kunit/test.h>
#include <linux/mutex.h>

#include "../state.h"
#include "../stable.h"

/*
 * Nodes are allocated before ksm_mutex is taken: a failed assertion ends
 * the test at once, and must not leave the mutex held.
 */
static struct ksm_stable *stable_new_in(struct kunit *test, u64 hash, u64 domain)
{
	struct ksm_stable *s = ksm_stable_alloc(hash, domain);

	KUNIT_ASSERT_NOT_NULL(test, s);
	return s;
}

static struct ksm_stable *stable_new(struct kunit *test, u64 hash)
{
	return stable_new_in(test, hash, 0);
}

/* Put @s in the index; ksm_mutex held. */
static struct ksm_stable *stable_add(struct ksm_stable *s)
{
	ksm_stable_insert(s, 0);
	return s;
}

static void stable_drop(struct ksm_stable *s)
{
	ksm_stable_erase(s);
	ksm_stable_free(s);
}

static void stable_order_and_chains(struct kunit *test)
{
	unsigned long chains = ksm_stats.chains, dups = ksm_stats.dups;
	struct ksm_stable *a = stable_new(test, 5), *x = stable_new(test, 3);
	struct ksm_stable *b = stable_new(test, 5), *y = stable_new(test, 9);
	struct ksm_stable *c = stable_new(test, 5);

	mutex_lock(&ksm_mutex);
	stable_add(a);
	stable_add(x);
	stable_add(b);
	stable_add(y);
	stable_add(c);

	/* Equal hashes: oldest first, then none. */
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_first(5, 0, 0), a);
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_next(a), b);
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_next(b), c);
	KUNIT_EXPECT_NULL(test, ksm_stable_next(c));
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_first(3, 0, 0), x);
	KUNIT_EXPECT_NULL(test, ksm_stable_next(x));
	KUNIT_EXPECT_NULL(test, ksm_stable_first(4, 0, 0));
	KUNIT_EXPECT_FALSE(test, ksm_stable_empty());

	/* One hash with three folios: one chain of three dups. */
	KUNIT_EXPECT_EQ(test, ksm_stats.chains, chains + 1);
	KUNIT_EXPECT_EQ(test, ksm_stats.dups, dups + 3);
	stable_drop(b);
	KUNIT_EXPECT_EQ(test, ksm_stats.dups, dups + 2);
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_next(a), c);
	stable_drop(a);
	KUNIT_EXPECT_EQ(test, ksm_stats.chains, chains);
	KUNIT_EXPECT_EQ(test, ksm_stats.dups, dups);
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_first(5, 0, 0), c);

	stable_drop(c);
	stable_drop(x);
	stable_drop(y);
	KUNIT_EXPECT_NULL(test, ksm_stable_first(5, 0, 0));
	mutex_unlock(&ksm_mutex);
}

/* The key is the 48-bit hash: higher bits never separate two nodes. */
static void stable_hash_width(struct kunit *test)
{
	struct ksm_stable *s = stable_new(test, BIT_ULL(60) | 42);

	mutex_lock(&ksm_mutex);
	stable_add(s);
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_first(42, 0, 0), s);
	stable_drop(s);
	mutex_unlock(&ksm_mutex);
}

/*
 * Every node stays found: while the index grows past several doublings,
 * and after it shrinks to fewer nodes (as a prune makes it).  Equal
 * hashes keep their order across the moves.
 */
static void stable_resize_loses_nothing(struct kunit *test)
{
	const unsigned int n = 20000;
	struct ksm_stable **nodes, *a, *b, *c = NULL;
	unsigned int i, missing = 0, absent = 0;

	nodes = kunit_kcalloc(test, n, sizeof(*nodes), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, nodes);
	a = stable_new(test, 77);
	b = stable_new(test, 77);
	c = stable_new(test, 77);
	for (i = 0; i < n; i++)
		nodes[i] = stable_new(test, (u64)i * 0x9e3779b97f4aULL + 7);
	mutex_lock(&ksm_mutex);
	stable_add(a);
	stable_add(b);
	for (i = 0; i < n; i++) {
		stable_add(nodes[i]);
		if (i == n / 2)
			stable_add(c);
	}
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_first(77, 0, 0), a);
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_next(a), b);
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_next(b), c);
	KUNIT_EXPECT_NULL(test, ksm_stable_next(c));
	for (i = 0; i < n; i++)
		missing += ksm_stable_first(nodes[i]->hash, 0, 0) != nodes[i];
	KUNIT_EXPECT_EQ(test, missing, 0U);
	/* Hashes that are not there are not found. */
	for (i = 0; i < 1000; i++)
		absent += !ksm_stable_first((u64)i * 0x9e3779b97f4aULL + 8, 0, 0);
	KUNIT_EXPECT_EQ(test, absent, 1000U);
	for (i = 0; i < n; i++)
		if (i % 16)
			stable_drop(nodes[i]);
	ksm_stable_fit();
	for (i = 0; i < n; i += 16)
		missing += ksm_stable_first(nodes[i]->hash, 0, 0) != nodes[i];
	KUNIT_EXPECT_EQ(test, missing, 0U);
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_first(77, 0, 0), a);
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_next(a), b);
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_next(b), c);
	stable_drop(a);
	stable_drop(b);
	stable_drop(c);
	for (i = 0; i < n; i += 16)
		stable_drop(nodes[i]);
	KUNIT_EXPECT_TRUE(test, ksm_stable_empty());
	mutex_unlock(&ksm_mutex);
}

/*
 * Nodes of one hash in different merge domains are different keys: a
 * lookup finds only its own domain's, and they form no chain.
 */
static void stable_domains_apart(struct kunit *test)
{
	unsigned long chains = ksm_stats.chains, dups = ksm_stats.dups;
	struct ksm_stable *g = stable_new_in(test, 11, 0);
	struct ksm_stable *a = stable_new_in(test, 11, 7);
	struct ksm_stable *b = stable_new_in(test, 11, 8);
	struct ksm_stable *a2 = stable_new_in(test, 11, 7);

	mutex_lock(&ksm_mutex);
	stable_add(g);
	stable_add(a);
	stable_add(b);
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_first(11, 0, 0), g);
	KUNIT_EXPECT_NULL(test, ksm_stable_next(g));
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_first(11, 0, 7), a);
	KUNIT_EXPECT_NULL(test, ksm_stable_next(a));
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_first(11, 0, 8), b);
	KUNIT_EXPECT_NULL(test, ksm_stable_first(11, 0, 9));
	KUNIT_EXPECT_EQ(test, ksm_stats.chains, chains);
	/* A second node in domain 7 chains with the first only. */
	stable_add(a2);
	KUNIT_EXPECT_PTR_EQ(test, ksm_stable_next(a), a2);
	KUNIT_EXPECT_EQ(test, ksm_stats.chains, chains + 1);
	KUNIT_EXPECT_EQ(test, ksm_stats.dups, dups + 2);
	stable_drop(g);
	stable_drop(a);
	stable_drop(b);
	stable_drop(a2);
	KUNIT_EXPECT_EQ(test, ksm_stats.chains, chains);
	KUNIT_EXPECT_EQ(test, ksm_stats.dups, dups);
	mutex_unlock(&ksm_mutex);
}

static struct kunit_case ksm_stable_cases[] = {
	KUNIT_CASE(stable_order_and_chains),
	KUNIT_CASE(stable_hash_width),
	KUNIT_CASE(stable_resize_loses_nothing),
	KUNIT_CASE(stable_domains_apart),
	{}
};

static struct kunit_suite ksm_stable_suite = {
	.name = "ksm_stable", /* kunit suite */
	.test_cases = ksm_stable_cases,
};

kunit_test_suite(ksm_stable_suite);

MODULE_DESCRIPTION("KUnit tests of the KSM stable index");
MODULE_LICENSE("GPL");
