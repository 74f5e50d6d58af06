// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm_thp_tests - transparent huge pages and thp_split_threshold: a THP
 * that a PMD maps is split for merging only when at least that many of
 * its 4 KiB pages would merge; below it, it stays whole and unmerged.
 *
 * Each test maps 2 MiB-aligned THPs (MADV_HUGEPAGE) and small pages
 * (MADV_NOHUGEPAGE) of known content, then reads smaps' AnonHugePages of
 * the THPs, /proc/vmstat's thp_split_page, and KSM's counters.  Small
 * pages are mapped on both sides of the THPs, so that ksmd meets some
 * before and some after them in a pass.
 */
#include <sys/wait.h>

#include "ksm_test_util.h"

#define THP_SIZE	(2UL << 20)
#define THP_PAGES	512

static long vmstat_field(const char *key)
{
	char name[64];
	long v, found = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	while (f && fscanf(f, "%63s %ld", name, &v) == 2)
		if (!strcmp(name, key))
			found = v;
	if (f)
		fclose(f);
	return found;
}

/*
 * @n THPs, 2 MiB-aligned, in a VMA of their own, filled by @tag_of (page
 * index to tag; 0 means zeroes) and made mergeable.  NULL if the kernel
 * did not back every one of them with a THP.
 */
static char *map_thps(int n, uint64_t (*tag_of)(int i))
{
	size_t len = n * THP_SIZE;
	char *raw = mmap(NULL, len + THP_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *map;
	int i;

	if (raw == MAP_FAILED)
		return NULL;
	map = (char *)(((uintptr_t)raw + THP_SIZE - 1) & ~(THP_SIZE - 1));
	/* Trim to exactly the THPs, so that smaps' entry is theirs alone. */
	if (map > raw)
		munmap(raw, map - raw);
	munmap(map + len, raw + THP_SIZE - map);
	madvise(map, len, MADV_HUGEPAGE);
	for (i = 0; i < n * THP_PAGES; i++) {
		if (tag_of(i))
			fill(map + i * psize, tag_of(i));
		else
			memset(map + i * psize, 0, psize);
	}
	if (smaps_kb(map, "AnonHugePages:") != (long)(len >> 10)) {
		ksft_print_msg("AnonHugePages %ld kB of %zu kB: no THP\n",
			       smaps_kb(map, "AnonHugePages:"), len >> 10);
		munmap(map, len);
		return NULL;
	}
	madvise(map, len, MADV_MERGEABLE);
	return map;
}

/* @n small mergeable pages, page i filled with @tag_of(@first + i). */
static char *map_small(int n, int first, uint64_t (*tag_of)(int i))
{
	char *map = map_pages(n);
	int i;

	madvise(map, n * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++)
		fill(map + i * psize, tag_of(first + i));
	madvise(map, n * psize, MADV_MERGEABLE);
	return map;
}

static bool counts_are(long shared, long sharing)
{
	return ksm_get("pages_shared") == shared && ksm_get("pages_sharing") == sharing;
}

/* Wait up to 40 full scans for the counts. */
static bool wait_counts(long shared, long sharing)
{
	int i;

	for (i = 0; i < 40 && !counts_are(shared, sharing); i++)
		if (!ksm_wait_scans(1))
			break;
	if (counts_are(shared, sharing))
		return true;
	ksft_print_msg("pages_shared %ld pages_sharing %ld, want %ld %ld\n",
		       ksm_get("pages_shared"), ksm_get("pages_sharing"), shared, sharing);
	return false;
}

static void start(long threshold)
{
	ksm_fresh_start();
	ksm_put("thp_split_threshold", threshold);
}

static void finish(void)
{
	ksm_put("thp_split_threshold", THP_PAGES / 8);
	ksm_stop();
}

/* THP pages: unique content, except that every 8th duplicates a small page. */
static uint64_t thp_tag(int i)
{
	return 100000 + i;
}

/* Small page j duplicates THP page 8 * j (of the first THP). */
static uint64_t dup_tag(int j)
{
	return thp_tag(8 * j);
}

static void test_knob(void)
{
	bool ok = ksm_get("thp_split_threshold") == THP_PAGES / 8;

	ok &= ksm_put("thp_split_threshold", 0) == -EINVAL;
	ok &= ksm_put("thp_split_threshold", THP_PAGES + 1) == -EINVAL;
	ok &= ksm_put_str("thp_split_threshold", "-1") == -EINVAL;
	ok &= ksm_put_str("thp_split_threshold", "many") == -EINVAL;
	ok &= ksm_get("thp_split_threshold") == THP_PAGES / 8;
	ok &= ksm_put("thp_split_threshold", 1) == 0 && ksm_get("thp_split_threshold") == 1;
	ok &= ksm_put("thp_split_threshold", THP_PAGES) == 0 &&
	      ksm_get("thp_split_threshold") == THP_PAGES;
	ok &= ksm_put("thp_split_threshold", THP_PAGES / 8) == 0;
	ksft_test_result(ok, "thp_split_threshold: default %d, 1 to %d, EINVAL otherwise\n",
			 THP_PAGES / 8, THP_PAGES);
}

/*
 * One THP and @dups small pages, half mapped before it and half after,
 * each a copy of one of its pages, with the threshold at @threshold.
 */
static void thp_with_dups(int dups, long threshold, bool split)
{
	long splits = vmstat_field("thp_split_page");
	char *lo, *thp, *hi;
	bool ok = true;
	int i;

	start(threshold);
	hi = map_small(dups / 2, 0, dup_tag);
	thp = map_thps(1, thp_tag);
	lo = map_small(dups - dups / 2, dups / 2, dup_tag);
	if (!thp) {
		ksft_test_result_fail("THP with %d duplicate pages: no THP\n", dups);
		finish();
		return;
	}
	if (split) {
		ok &= wait_counts(dups, dups);
		ok &= smaps_kb(thp, "AnonHugePages:") == 0;
		ok &= vmstat_field("thp_split_page") == splits + 1;
	} else {
		ok &= ksm_wait_scans(8) && counts_are(0, 0);
		ok &= smaps_kb(thp, "AnonHugePages:") == THP_SIZE >> 10;
		ok &= smaps_kb(thp, "KSM:") == 0;
		ok &= vmstat_field("thp_split_page") == splits;
	}
	for (i = 0; i < THP_PAGES; i++)
		ok &= check(thp + i * psize, thp_tag(i));
	for (i = 0; i < dups / 2; i++)
		ok &= check(hi + i * psize, dup_tag(i));
	for (i = dups / 2; i < dups; i++)
		ok &= check(lo + (i - dups / 2) * psize, dup_tag(i));
	if (!ok)
		ksft_print_msg("AnonHugePages %ld kB, KSM %ld kB, thp_split_page +%ld\n",
			       smaps_kb(thp, "AnonHugePages:"), smaps_kb(thp, "KSM:"),
			       vmstat_field("thp_split_page") - splits);
	ksft_test_result(ok, "threshold %ld, %d duplicate pages: THP %s\n", threshold, dups,
			 split ? "split and merged" : "kept whole, unmerged");
	munmap(hi, dups / 2 * psize);
	munmap(thp, THP_SIZE);
	munmap(lo, (dups - dups / 2) * psize);
	finish();
}

static void test_below(void)
{
	thp_with_dups(40, 64, false);
}

static void test_above(void)
{
	thp_with_dups(64, 64, true);
}

static void test_threshold_one(void)
{
	thp_with_dups(2, 1, true);
}

/* 200 pages of one content and 312 unique ones: 199 would merge. */
static uint64_t repeat_tag(int i)
{
	return i < 200 ? 7 : 200000 + i;
}

/* Copies inside one THP count; a small budget examines it whole all the same. */
static void test_repeats_inside(void)
{
	long splits = vmstat_field("thp_split_page");
	bool ok = true;
	char *thp;
	int i;

	start(THP_PAGES / 8);
	ksm_put("pages_to_scan", 64);
	thp = map_thps(1, repeat_tag);
	if (!thp) {
		ksft_test_result_fail("copies inside a THP: no THP\n");
		finish();
		return;
	}
	ok &= wait_counts(1, 199);
	ok &= smaps_kb(thp, "AnonHugePages:") == 0 && vmstat_field("thp_split_page") == splits + 1;
	for (i = 0; i < THP_PAGES; i++)
		ok &= check(thp + i * psize, repeat_tag(i));
	ksft_test_result(ok, "copies inside a THP count, with pages_to_scan below a THP\n");
	munmap(thp, THP_SIZE);
	finish();
}

/* Two identical THPs: both split, every page merged with its twin. */
static void test_identical(void)
{
	long splits = vmstat_field("thp_split_page");
	bool ok = true;
	char *a, *b;
	int i;

	start(THP_PAGES / 8);
	a = map_thps(1, thp_tag);
	b = map_thps(1, thp_tag);
	if (!a || !b) {
		ksft_test_result_fail("identical THPs: no THP\n");
		finish();
		return;
	}
	ok &= wait_counts(THP_PAGES, THP_PAGES);
	ok &= vmstat_field("thp_split_page") == splits + 2;
	for (i = 0; i < THP_PAGES; i++) {
		ok &= check(a + i * psize, thp_tag(i)) && check(b + i * psize, thp_tag(i));
		ok &= pfn_of(a + i * psize) == pfn_of(b + i * psize);
	}
	ksft_test_result(ok, "two identical THPs merge page by page\n");
	munmap(a, THP_SIZE);
	munmap(b, THP_SIZE);
	finish();
}

/*
 * A THP that fork left mapped in two processes is the same page at the
 * same address in both: it must not count as its own duplicate.
 */
static void test_forked(void)
{
	long splits = vmstat_field("thp_split_page");
	int to_child[2], status;
	bool ok = true;
	char *thp, c;
	pid_t pid;

	start(THP_PAGES / 8);
	thp = map_thps(1, thp_tag);
	if (!thp || pipe(to_child)) {
		ksft_test_result_fail("forked THP: no THP\n");
		finish();
		return;
	}
	pid = fork();
	if (!pid) {
		if (read(to_child[0], &c, 1) != 1)
			_exit(1);
		_exit(smaps_kb(thp, "AnonHugePages:") == THP_SIZE >> 10 ? 0 : 2);
	}
	ok &= ksm_wait_scans(8) && counts_are(0, 0);
	ok &= smaps_kb(thp, "AnonHugePages:") == THP_SIZE >> 10;
	ok &= vmstat_field("thp_split_page") == splits;
	ok &= write(to_child[1], "x", 1) == 1 && waitpid(pid, &status, 0) == pid &&
	      WIFEXITED(status) && !WEXITSTATUS(status);
	if (!ok)
		ksft_print_msg("AnonHugePages %ld kB, thp_split_page +%ld\n",
			       smaps_kb(thp, "AnonHugePages:"),
			       vmstat_field("thp_split_page") - splits);
	ksft_test_result(ok, "a THP fork shares is not its own duplicate: kept whole\n");
	close(to_child[0]);
	close(to_child[1]);
	munmap(thp, THP_SIZE);
	finish();
}

static const struct ksm_test tests[] = {
	{ "knob", test_knob, 1 },
	{ "below", test_below, 1 },
	{ "above", test_above, 1 },
	{ "threshold_one", test_threshold_one, 1 },
	{ "repeats_inside", test_repeats_inside, 1 },
	{ "identical", test_identical, 1 },
	{ "forked", test_forked, 1 },
};

int main(int argc, char **argv)
{
	ksm_run_tests(tests, ARRAY_SIZE(tests), argc, argv);
	return 0;
}
