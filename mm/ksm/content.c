// SPDX-License-Identifier: GPL-2.0-only
/*
 * Page content: the hash that keys both indexes, and the byte-for-byte
 * comparison that confirms every match before a merge.
 *
 * Both read a whole page on every call, once per scanned page and once
 * per merge, so both are written for throughput.  The comparison only
 * needs equality, not an order: it folds eight words of differences
 * into one value and tests that once per 64 bytes, where memcmp() tests
 * every word and tells which is smaller.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/xxhash.h>

#include "internal.h"

static u64 ksm_hash_seed __read_mostly;
u64 ksm_zero_hash __read_mostly;

/**
 * ksm_hash_page() - content hash of a page
 * @page: the page, referenced
 *
 * Return: the 48 bits of a seeded xxh64 of the page that the indexes use.
 */
u64 ksm_hash_page(struct page *page)
{
	void *addr;
	u64 hash;

	flush_dcache_page(page);
	addr = kmap_local_page(page);
	hash = xxh64(addr, PAGE_SIZE, ksm_hash_seed);
	kunmap_local(addr);
	return hash & KSM_HASH_MASK;
}

/* Words compared between two tests of the folded difference. */
#define KSM_CMP_WORDS	8

static bool ksm_words_equal(const unsigned long *a, const unsigned long *b)
{
	unsigned int i;

	for (i = 0; i < PAGE_SIZE / sizeof(long); i += KSM_CMP_WORDS) {
		unsigned long diff = (a[i] ^ b[i]) | (a[i + 1] ^ b[i + 1]) |
				     (a[i + 2] ^ b[i + 2]) | (a[i + 3] ^ b[i + 3]) |
				     (a[i + 4] ^ b[i + 4]) | (a[i + 5] ^ b[i + 5]) |
				     (a[i + 6] ^ b[i + 6]) | (a[i + 7] ^ b[i + 7]);

		if (diff)
			return false;
	}
	return true;
}

/**
 * ksm_pages_identical() - compare the contents of two pages
 * @page: a page, referenced
 * @other: another page, referenced
 *
 * Return: true if every byte of the two pages is equal.
 */
bool ksm_pages_identical(struct page *page, struct page *other)
{
	const unsigned long *a, *b;
	bool same;

	if (page == other)
		return true;
	flush_dcache_page(page);
	flush_dcache_page(other);
	a = kmap_local_page(page);
	b = kmap_local_page(other);
	same = ksm_words_equal(a, b);
	kunmap_local(b);
	kunmap_local(a);
	return same;
}

/**
 * ksm_content_init() - seed the content hash
 */
void __init ksm_content_init(void)
{
	ksm_hash_seed = get_random_u64();
	ksm_zero_hash = ksm_hash_page(ZERO_PAGE(0));
}
