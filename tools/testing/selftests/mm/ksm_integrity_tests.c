// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm_integrity_tests - what KSM must never get wrong, and counts it must
 * get exactly right:
 *
 *  - exact pages_shared/pages_sharing for a known layout;
 *  - several processes with random and shared page contents, verified
 *    byte for byte after merging, after writes to merged pages, after
 *    MADV_UNMERGEABLE and after run=2;
 *  - a page with an extra reference (vmsplice) is never merged;
 *  - pages inside one THP, and across THPs, merge;
 *  - merged pages survive swap-out and swap-in, and migration to another
 *    NUMA node, with their content intact, also while mremap moves them;
 *  - a KSM page lazily freed (MADV_FREE) by its last mapper keeps the
 *    data of the pages that merge with it afterwards;
 *  - KSM zero page counts stay exact when forks race with ksmd;
 *  - a page that fork shares with a process outside KSM, mapped or by a
 *    swap entry, never becomes a KSM page there;
 *  - processes exiting and unmapping while ksmd scans leave no tracking
 *    state behind.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <linux/mempolicy.h>

#include "ksm_test_util.h"

/* 4 contents x 16 pages each: 4 KSM pages, 60 extra mappings. */
static void test_exact_counts(void)
{
	const size_t n = 64;
	char *map = map_pages(n);
	bool ok;
	size_t i;

	for (i = 0; i < n; i++)
		fill(map + i * psize, 1000 + i % 4);
	madvise(map, n * psize, MADV_NOHUGEPAGE);
	ksm_fresh_start();
	ok = !madvise(map, n * psize, MADV_MERGEABLE) && ksm_wait_scans(3);
	if (ok && (ksm_get("pages_shared") != 4 || ksm_get("pages_sharing") != 60 ||
		   proc_stat_field("ksm_merging_pages") != 64)) {
		ksft_print_msg("shared %ld sharing %ld merging %ld, want 4 60 64\n",
			       ksm_get("pages_shared"), ksm_get("pages_sharing"),
			       proc_stat_field("ksm_merging_pages"));
		ok = false;
	}
	for (i = 0; ok && i < n; i++)
		ok = check(map + i * psize, 1000 + i % 4) &&
		     pfn_of(map + i * psize) == pfn_of(map + (i % 4) * psize);
	ksft_test_result(ok, "exact pages_shared/pages_sharing for a known layout\n");
	munmap(map, n * psize);
	ksm_stop();
}

/*
 * Worker of the multi-process test.  Page i of worker w holds tag
 * shared_tag(i) if i is even (the same in every worker) or a tag of its
 * own if odd.  The worker obeys one-letter commands from the parent and
 * answers 'y' (all pages verified) or 'n'.
 */
#define NR_WORKERS	4
#define WORKER_PAGES	512

static uint64_t worker_tag(int w, size_t i, int generation)
{
	if (i % 2 == 0 && !generation)
		return 7 + i / 2 % 50;	/* 50 distinct shared contents */
	return (uint64_t)(w + 1) << 32 | i << 8 | generation;
}

static void worker(int w, int cmd_fd, int ans_fd)
{
	char *map = map_pages(WORKER_PAGES);
	int *gen = calloc(WORKER_PAGES, sizeof(*gen));
	char cmd, ans;
	size_t i;

	srand(w + 1);
	madvise(map, WORKER_PAGES * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < WORKER_PAGES; i++)
		fill(map + i * psize, worker_tag(w, i, 0));
	madvise(map, WORKER_PAGES * psize, MADV_MERGEABLE);
	ans = 'r';
	if (write(ans_fd, &ans, 1) != 1)
		exit(1);
	while (read(cmd_fd, &cmd, 1) == 1 && cmd != 'x') {
		ans = 'y';
		for (i = 0; i < WORKER_PAGES; i++)
			if (!check(map + i * psize, worker_tag(w, i, gen[i])))
				ans = 'n';
		if (cmd == 'w') {
			/* Rewrite a random quarter of the pages, merged or not. */
			for (i = 0; i < WORKER_PAGES; i++) {
				if (rand() % 4)
					continue;
				gen[i]++;
				fill(map + i * psize, worker_tag(w, i, gen[i]));
			}
		} else if (cmd == 'u') {
			if (madvise(map, WORKER_PAGES / 2 * psize, MADV_UNMERGEABLE))
				ans = 'n';
		}
		if (write(ans_fd, &ans, 1) != 1)
			break;
	}
	exit(0);
}

static bool command_all(int *cmd, int *ans, char c)
{
	bool ok = true;
	char a;
	int w;

	for (w = 0; w < NR_WORKERS; w++)
		if (write(cmd[w], &c, 1) != 1)
			ok = false;
	for (w = 0; w < NR_WORKERS; w++)
		if (read(ans[w], &a, 1) != 1 || a != 'y')
			ok = false;
	return ok;
}

static void test_multi_process(void)
{
	int cmd[NR_WORKERS], ans[NR_WORKERS], w;
	bool merged, after_merge, after_write, after_unmerge, after_run2;
	long want;

	ksm_fresh_start();
	for (w = 0; w < NR_WORKERS; w++) {
		int c[2], a[2];

		if (pipe(c) || pipe(a))
			ksft_exit_fail_msg("pipe\n");
		if (!fork()) {
			close(c[1]);
			close(a[0]);
			worker(w, c[0], a[1]);
		}
		close(c[0]);
		close(a[1]);
		cmd[w] = c[1];
		ans[w] = a[0];
	}
	for (w = 0; w < NR_WORKERS; w++) {
		char r;

		if (read(ans[w], &r, 1) != 1 || r != 'r')
			ksft_exit_fail_msg("worker %d did not start\n", w);
	}
	/* 256 even pages per worker, 50 contents: all but 50 are saved. */
	want = NR_WORKERS * WORKER_PAGES / 2 - 50;
	merged = ksm_wait_scans(4) && ksm_get("pages_sharing") == want &&
		 ksm_get("pages_shared") == 50;
	if (!merged)
		ksft_print_msg("pages_shared %ld pages_sharing %ld, want 50 %ld\n",
			       ksm_get("pages_shared"), ksm_get("pages_sharing"), want);
	after_merge = command_all(cmd, ans, 'v');
	after_write = command_all(cmd, ans, 'w') && ksm_wait_scans(3) &&
		      command_all(cmd, ans, 'v');
	after_unmerge = command_all(cmd, ans, 'u') && command_all(cmd, ans, 'v');
	after_run2 = !ksm_put("run", 2) && ksm_get("pages_shared") == 0 &&
		     ksm_get("pages_sharing") == 0 && command_all(cmd, ans, 'v');
	for (w = 0; w < NR_WORKERS; w++) {
		if (write(cmd[w], "x", 1) != 1)
			ksft_print_msg("worker %d gone\n", w);
		close(cmd[w]);
		close(ans[w]);
	}
	while (wait(NULL) > 0)
		;
	ksft_test_result(merged, "multi-process: exact counts after merging\n");
	ksft_test_result(after_merge, "multi-process: contents intact after merging\n");
	ksft_test_result(after_write, "multi-process: writes to merged pages stay private\n");
	ksft_test_result(after_unmerge, "multi-process: contents intact after MADV_UNMERGEABLE\n");
	ksft_test_result(after_run2, "multi-process: contents intact after run=2\n");
	ksm_stop();
}

/* A page with an extra reference (vmsplice into a pipe) must not merge. */
static void test_pinned(void)
{
	const size_t n = 3;
	char *map = map_pages(n);
	struct iovec iov;
	int p[2];
	bool ok;
	size_t i;

	madvise(map, n * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++)
		fill(map + i * psize, 77);
	if (pipe(p))
		ksft_exit_fail_msg("pipe\n");
	iov.iov_base = map;
	iov.iov_len = psize;
	if (vmsplice(p[1], &iov, 1, 0) != (ssize_t)psize) {
		ksft_test_result_skip("pinned page is never merged (vmsplice failed)\n");
		munmap(map, n * psize);
		return;
	}
	ksm_fresh_start();
	ok = !madvise(map, n * psize, MADV_MERGEABLE) && ksm_wait_scans(4);
	if (ok && (pfn_of(map + psize) != pfn_of(map + 2 * psize) ||
		   pfn_of(map) == pfn_of(map + psize))) {
		ksft_print_msg("pfns %llx %llx %llx: want the last two equal, the first apart\n",
			       (unsigned long long)pfn_of(map),
			       (unsigned long long)pfn_of(map + psize),
			       (unsigned long long)pfn_of(map + 2 * psize));
		ok = false;
	}
	for (i = 0; i < n; i++)
		ok = ok && check(map + i * psize, 77);
	ksft_test_result(ok, "pinned page is never merged\n");
	close(p[0]);
	close(p[1]);
	munmap(map, n * psize);
	ksm_stop();
}

/* Pages inside one THP, and pages of two THPs, merge. */
static void test_large_folios(void)
{
	const size_t thp = 2UL << 20, n = thp / psize;
	char *raw = mmap(NULL, 3 * thp, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a, *b;
	bool ok;
	size_t i;

	if (raw == MAP_FAILED)
		ksft_exit_fail_msg("mmap\n");
	a = (char *)(((uintptr_t)raw + thp - 1) & ~(thp - 1));
	b = a + thp;
	madvise(a, 2 * thp, MADV_HUGEPAGE);
	/* THP a: all pages one content; THP b: the same content as a's odd tags. */
	for (i = 0; i < n; i++) {
		fill(a + i * psize, 500);
		fill(b + i * psize, i % 2 ? 500 : 600 + i);
	}
	/* 768 mappings of one content: keep them on one KSM page. */
	ksm_fresh_start_sharing(1024);
	ok = !madvise(a, 2 * thp, MADV_MERGEABLE) && ksm_wait_scans(4);
	for (i = 0; ok && i < n; i++) {
		ok = check(a + i * psize, 500) && check(b + i * psize, i % 2 ? 500 : 600 + i);
		ok = ok && pfn_of(a + i * psize) == pfn_of(a);
		if (i % 2)
			ok = ok && pfn_of(b + i * psize) == pfn_of(a);
	}
	if (!ok)
		ksft_print_msg("pages_shared %ld pages_sharing %ld\n",
			       ksm_get("pages_shared"), ksm_get("pages_sharing"));
	ksft_test_result(ok, "pages inside one THP and across THPs merge\n");
	munmap(raw, 3 * thp);
	ksm_stop();
}

/*
 * Merged pages survive migration and swap-out/in with their content.  The
 * pages are allocated in a memory cgroup of the test's own, whose
 * memory.reclaim swaps the KSM pages out with all their mappings.
 */
static void test_migrate_and_swap(void)
{
	const size_t n = 32;
	bool in_cgroup = enter_test_cgroup();
	char *map = map_pages(n);
	int node = 1, status, i;
	bool merged, migrated = true, swapped = false, intact = true;
	void *page;

	madvise(map, n * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < (int)n; i++)
		fill(map + i * psize, 900 + i % 2);
	ksm_fresh_start();
	merged = !madvise(map, n * psize, MADV_MERGEABLE) && ksm_wait_scans(3) &&
		 ksm_get("pages_sharing") == (long)n - 2;
	if (!merged)
		ksft_print_msg("not merged: pages_sharing %ld, want %zu\n",
			       ksm_get("pages_sharing"), n - 2);
	ksm_put("run", 0);	/* keep the pages merged while they move */

	if (access("/sys/devices/system/node/node1", F_OK)) {
		ksft_test_result_skip("migration needs two NUMA nodes\n");
	} else {
		/* The KSM pages move with all their mappings. */
		for (i = 0; i < 2; i++) {
			page = map + i * psize;
			status = -1;
			if (syscall(__NR_move_pages, 0, 1, &page, &node, &status,
				    MPOL_MF_MOVE_ALL) || status != node) {
				ksft_print_msg("move_pages: %s, status %d\n",
					       strerror(errno), status);
				migrated = false;
			}
		}
		for (i = 0; i < (int)n; i++)
			migrated = migrated && merged && check(map + i * psize, 900 + i % 2) &&
				   pfn_of(map + i * psize) == pfn_of(map + (i % 2) * psize);
		ksft_test_result(migrated,
				 "merged pages stay merged and intact across migration\n");
	}

	if (!in_cgroup) {
		ksft_test_result_skip("merged pages keep their content across swap (no cgroup)\n");
	} else {
		swapped = !swap_out(map, n);
		for (i = 0; i < (int)n; i++)
			if (!check(map + i * psize, 900 + i % 2)) {
				ksft_print_msg("page %d lost its content\n", i);
				intact = false;
			}
		ksft_test_result(merged && swapped && intact,
				 "merged pages keep their content across swap\n");
	}
	munmap(map, n * psize);
	if (in_cgroup)
		leave_test_cgroup();
	ksm_stop();
}

/*
 * A lazily freed KSM page must not become discardable: pages that merge
 * with it afterwards would read zeroes once reclaim drops it.  Pages 0
 * and 1 merge; page 1 is rewritten, so that page 0 is the only mapping
 * of the KSM page when MADV_FREE covers it.  Page 2 then merges with it,
 * page 0 is rewritten (MADV_FREE allows that to replace it), and page 2
 * is paged out and read back.
 */
static void test_free_then_share(void)
{
	const size_t n = 3;
	char *map = map_pages(n);
	bool merged, shared, paged_out, ok;
	uint64_t kpfn;

	madvise(map, n * psize, MADV_NOHUGEPAGE);
	fill(map, 1300);
	fill(map + psize, 1300);
	fill(map + 2 * psize, 1301);
	ksm_fresh_start();
	merged = !madvise(map, n * psize, MADV_MERGEABLE) && ksm_wait_scans(2);
	kpfn = pfn_of(map);
	merged = merged && kpfn && wait_for_pfn(map + psize, kpfn, 16);
	fill(map + psize, 1302);
	madvise(map, psize, MADV_FREE);
	fill(map + 2 * psize, 1300);
	/*
	 * Smart scan may pass over page 2 for a few scans.  The merge may
	 * leave the KSM folio in a per-CPU LRU batch, out of MADV_PAGEOUT's
	 * sight; the start of the next pass drains those.
	 */
	shared = merged && wait_for_pfn(map + 2 * psize, kpfn, 16) && ksm_wait_scans(2);
	fill(map, 1303);
	madvise(map + 2 * psize, psize, MADV_PAGEOUT);
	paged_out = !pfn_of(map + 2 * psize);
	ok = shared && paged_out && check(map, 1303) && check(map + psize, 1302) &&
	     check(map + 2 * psize, 1300);
	if (!ok)
		ksft_print_msg("merged %d, shared after MADV_FREE %d, paged out %d, page 2 %s\n",
			       merged, shared, paged_out,
			       check(map + 2 * psize, 1300) ? "intact" : "lost");
	ksft_test_result(ok,
			 "MADV_FREE by a KSM page's last mapper loses no later sharer's data\n");
	munmap(map, n * psize);
	ksm_stop();
}

/*
 * A child keeps migrating the KSM pages (between the nodes, or by
 * compaction on one node) while the parent moves the range away with
 * mremap and back, each time after ksmd merged it again.  A move must
 * not carry a migration entry to where the reverse map cannot find it:
 * the entry would outlive the migration, and the next touch of the page
 * would find a migration entry of an unlocked (freed) folio.
 */
static void migrate_forever(pid_t parent, char *map, size_t n)
{
	void **pages = calloc(n, sizeof(*pages));
	int *nodes = calloc(n, sizeof(*nodes)), *status = calloc(n, sizeof(*status));
	bool numa = !access("/sys/devices/system/node/node1", F_OK);
	size_t i;
	int round;

	for (i = 0; i < n; i++)
		pages[i] = map + i * psize;
	for (round = 0; getppid() == parent; round++) {
		if (!numa) {
			ksm_put_path("/proc/sys/vm/compact_memory", 1);
			continue;
		}
		for (i = 0; i < n; i++)
			nodes[i] = round % 2;
		syscall(__NR_move_pages, parent, n, pages, nodes, status, MPOL_MF_MOVE_ALL);
	}
	_exit(0);
}

static void test_mremap_migration(void)
{
	const size_t n = 64;
	char *map = map_pages(n), *away = map_pages(n);
	int rounds = 0, merged_rounds = 0;
	time_t end = time(NULL) + 6;
	bool ok = true;
	pid_t pid;
	size_t i;

	madvise(map, n * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++)
		fill(map + i * psize, 950 + i % 2);
	ksm_fresh_start();
	ok = !madvise(map, n * psize, MADV_MERGEABLE) && ksm_wait_scans(3) &&
	     ksm_get("pages_sharing") == (long)n - 2;
	pid = fork();
	if (!pid)
		migrate_forever(getppid(), map, n);
	while (ok && time(NULL) < end) {
		for (i = 0; i < 200 && ksm_get("pages_sharing") < (long)n / 2; i++)
			usleep(1000);
		merged_rounds += ksm_get("pages_sharing") >= (long)n / 2;
		ok = mremap(map, n * psize, n * psize, MREMAP_MAYMOVE | MREMAP_FIXED,
			    away) == away &&
		     mremap(away, n * psize, n * psize, MREMAP_MAYMOVE | MREMAP_FIXED,
			    map) == map;
		for (i = 0; ok && i < n; i++)
			ok = check(map + i * psize, 950 + i % 2);
		rounds++;
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (!merged_rounds)
		ok = false;
	ksft_print_msg("%d moves, %d of them of merged pages\n", rounds, merged_rounds);
	ksft_test_result(ok, "moving merged pages while they migrate keeps them intact\n");
	munmap(map, n * psize);
	ksm_stop();
}

/*
 * Forks while ksmd keeps mapping zero pages into the parent: each child
 * must be charged exactly the KSM zero pages it inherited (none from the
 * quarters under MADV_DONTFORK and MADV_WIPEONFORK), so that once
 * everyone unmapped them the global count is back at zero.
 */
static void test_zero_pages_fork(void)
{
	const size_t n = 256;
	char *map = map_pages(n);
	time_t end = time(NULL) + 6;
	long zero_seen = 0, left;
	int forks = 0;
	bool ok;
	size_t i;

	madvise(map, n * psize, MADV_NOHUGEPAGE);
	madvise(map + n / 2 * psize, n / 4 * psize, MADV_DONTFORK);
	madvise(map + n * 3 / 4 * psize, n / 4 * psize, MADV_WIPEONFORK);
	ksm_fresh_start();
	ksm_put("use_zero_pages", 1);
	ok = !madvise(map, n * psize, MADV_MERGEABLE);
	while (ok && time(NULL) < end) {
		pid_t pid;

		/* Unmerge some zero pages (a write), so ksmd maps them again. */
		for (i = forks % 4; i < n; i += 4)
			map[i * psize] = 0;
		pid = fork();
		if (!pid)
			_exit(0);
		ok = pid > 0 && waitpid(pid, NULL, 0) == pid;
		forks++;
		if (ksm_get("ksm_zero_pages") > zero_seen)
			zero_seen = ksm_get("ksm_zero_pages");
	}
	ok = ok && !madvise(map, n * psize, MADV_UNMERGEABLE) &&
	     proc_stat_field("ksm_zero_pages") == 0;
	munmap(map, n * psize);
	left = ksm_get("ksm_zero_pages");
	ksft_print_msg("%d forks, up to %ld KSM zero pages, %ld left\n", forks, zero_seen, left);
	ksft_test_result(ok && zero_seen > 0 && left == 0,
			 "KSM zero page counts stay exact across forks\n");
	ksm_put("use_zero_pages", 0);
	ksm_stop();
}

/*
 * A page that fork left shared must not become a KSM folio in place: the
 * parent, which never asked for KSM, would map a KSM page that unmerging
 * never reaches.  The parent fills two equal pages and forks; the child
 * registers them (both still shared with the parent), then rewrites its
 * second page with the same content, which gives it a page of its own to
 * merge into.  The parent must never map a KSM page.  With @swap, both
 * pages are swapped out first and the child reads them back: each is then
 * mapped once, by the child, but the parent's swap entry would map it
 * again at swap-in.
 */
static void test_fork_shared(bool swap)
{
	const size_t n = 2;
	bool in_cgroup = swap && enter_test_cgroup();
	char *map = map_pages(n);
	int to_child[2], to_parent[2], status = -1;
	long kb_before = -1, kb_after;
	bool ok, swapped = true;
	pid_t pid;
	char c;

	madvise(map, n * psize, MADV_NOHUGEPAGE);
	fill(map, 1400);
	fill(map + psize, 1400);
	ksm_fresh_start();
	if (pipe(to_child) || pipe(to_parent))
		ksft_exit_fail_msg("pipe\n");
	pid = fork();
	if (!pid) {
		bool merged;

		if (swap && (read(to_child[0], &c, 1) != 1 || !check(map, 1400) ||
			     !check(map + psize, 1400)))
			_exit(3);
		madvise(map, n * psize, MADV_MERGEABLE);
		ksm_wait_scans(3);
		if (write(to_parent[1], "a", 1) != 1 || read(to_child[0], &c, 1) != 1)
			_exit(2);
		fill(map + psize, 1400);
		/* Either page may host: the cgroup may swap one out again meanwhile. */
		merged = wait_for_same_pfn(map, map + psize, 32);
		if (!check(map, 1400) || !check(map + psize, 1400))
			_exit(4);
		if (!merged)
			ksft_print_msg("child pfns %llx %llx, shared %ld sharing %ld skipped %ld\n",
				       (unsigned long long)pfn_of(map),
				       (unsigned long long)pfn_of(map + psize),
				       ksm_get("pages_shared"), ksm_get("pages_sharing"),
				       ksm_get("pages_skipped"));
		_exit(merged ? 0 : 1);
	}
	if (swap) {
		swapped = in_cgroup && !swap_out(map, n);
		if (write(to_child[1], "s", 1) != 1)
			kill(pid, SIGKILL);
	}
	if (pid > 0 && read(to_parent[0], &c, 1) == 1) {
		/* Reading swaps our pages in, from the swap cache the child filled. */
		swapped = swapped && check(map, 1400) && check(map + psize, 1400);
		kb_before = smaps_ksm_kb(map);
	}
	if (write(to_child[1], "b", 1) != 1)
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	kb_after = smaps_ksm_kb(map);
	ok = !kb_before && !kb_after && swapped && WIFEXITED(status) && !WEXITSTATUS(status) &&
	     check(map, 1400) && check(map + psize, 1400);
	if (!ok)
		ksft_print_msg("parent's KSM kB %ld then %ld, swapped %d, child status %x\n",
			       kb_before, kb_after, swapped, status);
	if (swap)
		ksft_test_result(ok, "a page whose swap entry fork shares never turns KSM\n");
	else
		ksft_test_result(ok, "a page fork shares with a parent never turns KSM there\n");
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
	munmap(map, n * psize);
	if (in_cgroup)
		leave_test_cgroup();
	ksm_stop();
}

static void test_fork_shared_mapped(void)
{
	test_fork_shared(false);
}

static void test_fork_shared_swapped(void)
{
	test_fork_shared(true);
}

/* Children exit or unmap while ksmd scans at full speed. */
static void test_exit_race(void)
{
	time_t end = time(NULL) + 5;
	char *keep = map_pages(16);
	int rounds = 0;
	bool ok;

	/* A registered area of our own keeps ksmd scanning afterwards. */
	for (int i = 0; i < 16; i++)
		fill(keep + i * psize, 3000 + i);
	madvise(keep, 16 * psize, MADV_MERGEABLE);
	ksm_fresh_start();
	while (time(NULL) < end) {
		pid_t pid = fork();

		if (!pid) {
			const size_t n = 256;
			char *map = map_pages(n);
			size_t i;

			for (i = 0; i < n; i++)
				fill(map + i * psize, i % 8);
			madvise(map, n * psize, MADV_MERGEABLE);
			usleep(rand() % 20000);
			if (getpid() % 2)
				munmap(map, n * psize);
			_exit(0);
		}
		rounds++;
		if (rounds % 8 == 0)
			while (wait(NULL) > 0)
				;
	}
	while (wait(NULL) > 0)
		;
	/*
	 * Two passes after everyone left, all that is tracked is our own
	 * area of 16 distinct pages: nothing shared, no profit but for the
	 * metadata of those 16 pages.
	 */
	ok = ksm_wait_scans(2);
	/* Stop ksmd (the write waits for its batch) to read one snapshot. */
	ksm_put("run", 0);
	ok = ok && ksm_get("pages_shared") == 0 &&
	     ksm_get("pages_sharing") == 0 && ksm_get("general_profit") <= 0 &&
	     ksm_get("pages_volatile") + ksm_get("pages_unshared") <= 16;
	if (!ok)
		ksft_print_msg("shared %ld sharing %ld unshared %ld volatile %ld profit %ld (%d)\n",
			       ksm_get("pages_shared"), ksm_get("pages_sharing"),
			       ksm_get("pages_unshared"), ksm_get("pages_volatile"),
			       ksm_get("general_profit"), rounds);
	ksft_test_result(ok, "exit and munmap racing ksmd leave nothing behind\n");
	munmap(keep, 16 * psize);
	ksm_stop();
}

static const struct ksm_test tests[] = {
	{ "exact_counts", test_exact_counts, 1 },
	{ "multi_process", test_multi_process, 5 },
	{ "pinned", test_pinned, 1 },
	{ "large_folios", test_large_folios, 1 },
	{ "migrate_and_swap", test_migrate_and_swap, 2 },
	{ "free_then_share", test_free_then_share, 1 },
	{ "mremap_migration", test_mremap_migration, 1 },
	{ "zero_pages_fork", test_zero_pages_fork, 1 },
	{ "fork_shared", test_fork_shared_mapped, 1 },
	{ "fork_shared_swap", test_fork_shared_swapped, 1 },
	{ "exit_race", test_exit_race, 1 },
};

/* usage: ksm_integrity_tests [test-name...] (all tests without names) */
int main(int argc, char **argv)
{
	ksm_run_tests(tests, ARRAY_SIZE(tests), argc, argv);
}
