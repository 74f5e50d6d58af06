// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of the page content hash and comparison (mm/ksm/content.c).
 */
#include <kunit/test.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/mm.h>

#include "../state.h"
#include "../content.h"

static struct page *hash_test_page(struct kunit *test, u8 fill)
{
	struct page *page = alloc_page(GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, page);
	memset(page_address(page), fill, PAGE_SIZE);
	return page;
}

/* Equal content, equal hash; the hash uses the 48 bits the indexes keep. */
static void hash_equal_content(struct kunit *test)
{
	struct page *a = hash_test_page(test, 0x5a), *b = hash_test_page(test, 0x5a);

	KUNIT_EXPECT_EQ(test, ksm_hash_page(a), ksm_hash_page(b));
	KUNIT_EXPECT_EQ(test, ksm_hash_page(a) & ~KSM_HASH_MASK, 0ULL);
	__free_page(a);
	__free_page(b);
}

/* One flipped bit anywhere in the page changes the hash. */
static void hash_every_byte_counts(struct kunit *test)
{
	struct page *page = hash_test_page(test, 0);
	u8 *data = page_address(page);
	u64 base = ksm_hash_page(page);
	unsigned int off;

	for (off = 0; off < PAGE_SIZE; off += 61) {
		data[off] ^= 1;
		KUNIT_EXPECT_NE_MSG(test, ksm_hash_page(page), base, "offset %u", off);
		data[off] ^= 1;
	}
	data[PAGE_SIZE - 1] ^= 0x80;
	KUNIT_EXPECT_NE(test, ksm_hash_page(page), base);
	__free_page(page);
}

static void hash_zero_page(struct kunit *test)
{
	struct page *page = hash_test_page(test, 0);

	KUNIT_EXPECT_EQ(test, ksm_hash_page(page), ksm_zero_hash);
	KUNIT_EXPECT_EQ(test, ksm_hash_page(ZERO_PAGE(0)), ksm_zero_hash);
	__free_page(page);
}

/* Equal pages compare equal, to themselves too. */
static void compare_equal(struct kunit *test)
{
	struct page *a = hash_test_page(test, 0xa5), *b = hash_test_page(test, 0xa5);

	KUNIT_EXPECT_TRUE(test, ksm_pages_identical(a, b));
	KUNIT_EXPECT_TRUE(test, ksm_pages_identical(b, a));
	KUNIT_EXPECT_TRUE(test, ksm_pages_identical(a, a));
	__free_page(a);
	__free_page(b);
}

/*
 * A difference in any single byte, at any bit, and in any word of a
 * 64-byte group, makes the pages differ.
 */
static void compare_every_byte_counts(struct kunit *test)
{
	struct page *a = hash_test_page(test, 0), *b = hash_test_page(test, 0);
	u8 *data = page_address(b);
	unsigned int off;

	for (off = 0; off < PAGE_SIZE; off++) {
		u8 bit = 1 << (off % 8);

		data[off] ^= bit;
		KUNIT_EXPECT_FALSE_MSG(test, ksm_pages_identical(a, b), "offset %u", off);
		KUNIT_EXPECT_FALSE_MSG(test, ksm_pages_identical(b, a), "offset %u", off);
		data[off] ^= bit;
	}
	KUNIT_EXPECT_TRUE(test, ksm_pages_identical(a, b));
	__free_page(a);
	__free_page(b);
}

/* The shared zero page equals a page of zeroes, and nothing else. */
static void compare_zero_page(struct kunit *test)
{
	struct page *zero = hash_test_page(test, 0), *ones = hash_test_page(test, 1);

	KUNIT_EXPECT_TRUE(test, ksm_pages_identical(zero, ZERO_PAGE(0)));
	KUNIT_EXPECT_FALSE(test, ksm_pages_identical(ones, ZERO_PAGE(0)));
	__free_page(zero);
	__free_page(ones);
}

static struct kunit_case ksm_hash_cases[] = {
	KUNIT_CASE(hash_equal_content),
	KUNIT_CASE(hash_every_byte_counts),
	KUNIT_CASE(hash_zero_page),
	KUNIT_CASE(compare_equal),
	KUNIT_CASE(compare_every_byte_counts),
	KUNIT_CASE(compare_zero_page),
	{}
};

static struct kunit_suite ksm_hash_suite = {
	.name = "ksm_hash", /* kunit suite */
	.test_cases = ksm_hash_cases,
};

kunit_test_suite(ksm_hash_suite);

MODULE_DESCRIPTION("KUnit tests of the KSM page content hash and comparison");
MODULE_LICENSE("GPL");
