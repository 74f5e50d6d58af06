// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm_lifecycle_tests - KSM state over its whole life, as a user sees it:
 *
 *  - an exiting process drops its KSM pages even while ksmd is stopped,
 *    without counting a full scan, and its exit does not wait for a long
 *    run=2;
 *  - with merge_across_nodes=0, pages merge only within their node, and
 *    a KSM page migrated to another node is found on its new node;
 *  - max_page_sharing splits one content over several KSM pages, counted
 *    in stable_node_chains and stable_node_dups;
 *  - the KSM tracepoints fire;
 *  - the scan-time advisor raises pages_to_scan within its limits.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/mempolicy.h>

#include "ksm_test_util.h"

#define TRACING "/sys/kernel/tracing/"

/* Wait up to @ms for KSM counter @name to read @want. */
static bool ksm_wait_value(const char *name, long want, int ms)
{
	for (; ms > 0; ms -= 10) {
		if (ksm_get(name) == want)
			return true;
		usleep(10000);
	}
	return ksm_get(name) == want;
}

/*
 * A child with @n pages of 4 contents, merged; it exits when the parent
 * closes @fd.  Returns its pid once pages_sharing reached n - 4.
 */
static pid_t merged_child(size_t n, int *fd)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		ksft_exit_fail_msg("pipe\n");
	pid = fork();
	if (!pid) {
		char *map = map_pages(n);
		size_t i;

		close(p[1]);
		madvise(map, n * psize, MADV_NOHUGEPAGE);
		for (i = 0; i < n; i++)
			fill(map + i * psize, 40 + i % 4);
		madvise(map, n * psize, MADV_MERGEABLE);
		if (read(p[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[0]);
	*fd = p[1];
	if (!ksm_wait_value("pages_sharing", n - 4, 60000))
		ksft_print_msg("child not merged: sharing %ld\n", ksm_get("pages_sharing"));
	return pid;
}

/* With ksmd stopped, an exit still drops the KSM pages it used. */
static void test_exit_stopped(void)
{
	pid_t pid;
	bool ok;
	int fd;

	ksm_fresh_start();
	pid = merged_child(64, &fd);
	ok = ksm_get("pages_shared") == 4;
	ksm_put("run", 0);
	close(fd);
	waitpid(pid, NULL, 0);
	ok = ok && ksm_wait_value("pages_sharing", 0, 2000) &&
	     ksm_wait_value("pages_shared", 0, 2000);
	if (!ok)
		ksft_print_msg("after exit: shared %ld sharing %ld\n",
			       ksm_get("pages_shared"), ksm_get("pages_sharing"));
	ksft_test_result(ok, "exit with ksmd stopped drops the KSM pages\n");
	ksm_stop();
}

/*
 * An exit while ksmd is stopped in the middle of a pass over the exiting
 * mm (most likely with one mm and a slow scan) completes no pass.
 */
static void test_exit_stopped_mid_pass(void)
{
	long scans;
	pid_t pid;
	bool ok;
	int fd;

	ksm_fresh_start();
	pid = merged_child(1024, &fd);
	ok = ksm_get("pages_shared") == 4;
	ksm_put("pages_to_scan", 32);
	ksm_put("sleep_millisecs", 20);
	usleep(300000);
	ksm_put("run", 0);	/* under ksm_mutex: no batch is running after it */
	scans = ksm_get("full_scans");
	close(fd);
	waitpid(pid, NULL, 0);
	ok = ok && ksm_wait_value("pages_shared", 0, 2000) && ksm_get("full_scans") == scans;
	if (!ok)
		ksft_print_msg("full_scans %ld then %ld, shared %ld\n", scans,
			       ksm_get("full_scans"), ksm_get("pages_shared"));
	ksft_test_result(ok, "exit with ksmd stopped completes no full scan\n");
	ksm_stop();
}

static bool run2_done;	/* written by the run=2 thread, atomically */

static void *write_run2(void *unused)
{
	ksm_put("run", 2);
	__atomic_store_n(&run2_done, true, __ATOMIC_SEQ_CST);
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A process exits while run=2 unmerges another one's large area: the
 * exit must not wait for the unmerging to finish.
 */
static void test_exit_during_run2(void)
{
	const size_t n = 65536;	/* 256 MiB with 4 KiB pages */
	double t0, t_exit, t_run2;
	pthread_t t;
	pid_t pid;
	char *map;
	bool ok;
	int fd;

	ksm_fresh_start_sharing(4096);
	/* Forked first: pages it shared with us could not become KSM pages. */
	pid = merged_child(64, &fd);
	map = map_pages(n);
	madvise(map, n * psize, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < n; i++)
		fill(map + i * psize, 7 + i % 16);
	ok = !madvise(map, n * psize, MADV_MERGEABLE) &&
	     ksm_wait_value("pages_sharing", n - 16 + 60, 120000);
	run2_done = false;
	t0 = now();
	if (pthread_create(&t, NULL, write_run2, NULL))
		ksft_exit_fail_msg("pthread_create\n");
	/* Give run=2 time to start unmerging, then end the child. */
	usleep(100000);
	close(fd);
	waitpid(pid, NULL, 0);
	t_exit = now() - t0;
	if (__atomic_load_n(&run2_done, __ATOMIC_SEQ_CST)) {
		ksft_print_msg("run=2 ended before the child exited; try a larger area\n");
		ok = false;
	}
	pthread_join(t, NULL);
	t_run2 = now() - t0;
	ok = ok && ksm_get("pages_sharing") == 0 && ksm_get("pages_shared") == 0;
	for (size_t i = 0; ok && i < n; i += 97)
		ok = check(map + i * psize, 7 + i % 16);
	ksft_print_msg("child gone after %.2f s, run=2 done after %.2f s\n", t_exit, t_run2);
	ksft_test_result(ok, "exit does not wait for a run=2 in progress\n");
	munmap(map, n * psize);
	ksm_stop();
}

/* Bind [@p, @p + @n pages) to @node, before it is touched. */
static bool bind_to(char *p, size_t n, int node)
{
	unsigned long mask = 1UL << node;

	return !syscall(__NR_mbind, p, n * psize, MPOL_BIND, &mask,
			sizeof(mask) * 8, 0);
}

static int node_of(void *addr)
{
	int status = -1;

	if (syscall(__NR_move_pages, 0, 1, &addr, NULL, &status, 0))
		return -1;
	return status;
}

static bool move_to(void *addr, int node)
{
	int status = -1;

	if (syscall(__NR_move_pages, 0, 1, &addr, &node, &status, MPOL_MF_MOVE_ALL) ||
	    status != node) {
		ksft_print_msg("move_pages to node %d: %s, status %d\n", node,
			       strerror(errno), status);
		return false;
	}
	return true;
}

/* An area of @n pages of content @tag on @node, mergeable. */
static char *node_area(size_t n, int node, uint64_t tag)
{
	char *p = map_pages(n);
	size_t i;

	madvise(p, n * psize, MADV_NOHUGEPAGE);
	if (!bind_to(p, n, node))
		ksft_print_msg("mbind to node %d: %s\n", node, strerror(errno));
	for (i = 0; i < n; i++)
		fill(p + i * psize, tag);
	madvise(p, n * psize, MADV_MERGEABLE);
	return p;
}

/* All @n pages of @p map one frame, on @node, with content @tag. */
static bool one_frame_on(char *p, size_t n, int node, uint64_t tag)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!check(p + i * psize, tag) || pfn_of(p + i * psize) != pfn_of(p))
			return false;
	return node_of(p) == node;
}

static void test_numa_nodes(void)
{
	const uint64_t tag = 4242;
	char *x, *y, *z, *w;
	bool split, refiled;

	if (access("/sys/devices/system/node/node1", F_OK)) {
		ksft_test_result_skip("merge_across_nodes=0 needs two NUMA nodes\n");
		ksft_test_result_skip("migrated KSM page is found on its new node\n");
		return;
	}
	ksm_put("run", 2);
	ksm_put("merge_across_nodes", 0);
	ksm_fresh_start_sharing(256);
	ksm_put("merge_across_nodes", 0);
	/* One content on two nodes: one KSM page per node. */
	x = node_area(8, 0, tag);
	y = node_area(8, 1, tag);
	split = ksm_wait_scans(3) && ksm_get("pages_shared") == 2 &&
		ksm_get("pages_sharing") == 14 && one_frame_on(x, 8, 0, tag) &&
		one_frame_on(y, 8, 1, tag) && pfn_of(x) != pfn_of(y);
	if (!split)
		ksft_print_msg("shared %ld sharing %ld nodes %d %d\n", ksm_get("pages_shared"),
			       ksm_get("pages_sharing"), node_of(x), node_of(y));
	ksft_test_result(split, "merge_across_nodes=0 merges within each node only\n");

	/*
	 * Move y's KSM page to node 0.  New pages on node 1 must then get
	 * a KSM page of their own on node 1, and new pages on node 0 join a
	 * KSM page on node 0.
	 */
	ksm_put("run", 0);	/* ksmd's page references would fail the move */
	refiled = split && move_to(y, 0) && one_frame_on(y, 8, 0, tag);
	ksm_put("run", 1);
	z = node_area(4, 0, tag);
	w = node_area(2, 1, tag);
	refiled = refiled && ksm_wait_scans(3) && one_frame_on(w, 2, 1, tag) &&
		  pfn_of(w) != pfn_of(x) && pfn_of(w) != pfn_of(y) &&
		  one_frame_on(z, 4, 0, tag) &&
		  (pfn_of(z) == pfn_of(x) || pfn_of(z) == pfn_of(y)) &&
		  ksm_get("pages_shared") == 3 && ksm_get("pages_sharing") == 19;
	if (!refiled)
		ksft_print_msg("shared %ld sharing %ld nodes x%d y%d z%d w%d\n",
			       ksm_get("pages_shared"), ksm_get("pages_sharing"),
			       node_of(x), node_of(y), node_of(z), node_of(w));
	ksft_test_result(refiled, "migrated KSM page is found on its new node\n");
	munmap(x, 8 * psize);
	munmap(y, 8 * psize);
	munmap(z, 4 * psize);
	munmap(w, 2 * psize);
	ksm_put("run", 2);
	ksm_put("merge_across_nodes", 1);
	ksm_stop();
}

/* 64 mappings of one content with max_page_sharing=16: four KSM pages. */
static void test_sharing_chains(void)
{
	const size_t n = 64;
	char *map = map_pages(n);
	bool ok, gone;
	size_t i;

	madvise(map, n * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++)
		fill(map + i * psize, 31337);
	ksm_fresh_start_sharing(16);
	ok = !madvise(map, n * psize, MADV_MERGEABLE) && ksm_wait_scans(4) &&
	     ksm_get("pages_shared") == 4 && ksm_get("pages_sharing") == 60 &&
	     ksm_get("stable_node_chains") == 1 && ksm_get("stable_node_dups") == 4;
	for (i = 0; ok && i < n; i++)
		ok = check(map + i * psize, 31337);
	if (!ok)
		ksft_print_msg("shared %ld sharing %ld chains %ld dups %ld\n",
			       ksm_get("pages_shared"), ksm_get("pages_sharing"),
			       ksm_get("stable_node_chains"), ksm_get("stable_node_dups"));
	ksft_test_result(ok, "max_page_sharing spreads one content over a chain\n");
	gone = !ksm_put("run", 2) && ksm_get("stable_node_chains") == 0 &&
	       ksm_get("stable_node_dups") == 0 && ksm_get("pages_shared") == 0;
	for (i = 0; gone && i < n; i++)
		gone = check(map + i * psize, 31337);
	ksft_test_result(gone, "run=2 removes the chain and keeps the contents\n");
	munmap(map, n * psize);
	ksm_stop();
}

/* Write string @val to the file at @dir/@file. */
static int put_str(const char *dir, const char *file, const char *val)
{
	char path[256];
	int fd, ret;

	snprintf(path, sizeof(path), "%s%s", dir, file);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	ret = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -errno;
	close(fd);
	return ret;
}

static int trace_put(const char *file, const char *val)
{
	return put_str(TRACING, file, val);
}

/* Read the trace buffer and report which of @events it contains. */
static void trace_scan(const char *const *events, bool *seen, int nr)
{
	char line[512];
	FILE *f = fopen(TRACING "trace", "r");
	int i;

	while (f && fgets(line, sizeof(line), f))
		for (i = 0; i < nr; i++)
			if (strstr(line, events[i]))
				seen[i] = true;
	if (f)
		fclose(f);
}

/* Print the first lines of the trace buffer that contain @what. */
static void trace_print(const char *what, int max)
{
	char line[512];
	FILE *f = fopen(TRACING "trace", "r");

	while (f && max && fgets(line, sizeof(line), f)) {
		if (strstr(line, what)) {
			ksft_print_msg("trace: %s", line);
			max--;
		}
	}
	if (f)
		fclose(f);
}

/*
 * The trace buffer is read after each phase, and scanning runs at 10 ms:
 * at sleep_millisecs=0 the scan events of a long wait could otherwise
 * overwrite the early ones.  It is not cleared in between, since an
 * event of a phase may land just after the phase's read.
 */
static void test_tracepoints(void)
{
	static const char *const events[] = {
		"ksm_enter:", "ksm_start_scan:", "ksm_stop_scan:",
		"ksm_merge_one_page:", "ksm_merge_with_ksm_page:",
		"ksm_remove_rmap_item:", "ksm_remove_ksm_page:", "ksm_exit:",
	};
	bool seen[ARRAY_SIZE(events)] = { false };
	bool ok = true, zero_pfn_seen = false;
	char zero_event[64];
	const char *zero_needle = zero_event;
	uint64_t zero_pfn;
	char *zeros;
	pid_t pid;
	size_t i;
	int fd;

	if (trace_put("events/ksm/enable", "1")) {
		ksft_test_result_skip("KSM tracepoints (no tracefs)\n");
		return;
	}
	trace_put("buffer_size_kb", "4096");
	trace_put("trace", "");
	trace_put("tracing_on", "1");
	ksm_fresh_start();
	ksm_put("sleep_millisecs", 10);
	pid = merged_child(64, &fd);
	close(fd);
	waitpid(pid, NULL, 0);
	trace_scan(events, seen, ARRAY_SIZE(events));
	/* ksm_merge_one_page reports merges with the zero page. */
	zeros = map_pages(8);
	memset(zeros, 1, 8 * psize);
	memset(zeros, 0, 8 * psize);
	ksm_put("use_zero_pages", 1);
	madvise(zeros, 8 * psize, MADV_MERGEABLE);
	ksm_wait_scans(2);
	trace_scan(events, seen, ARRAY_SIZE(events));
	/* The event names the zero page, not the page it replaced. */
	zero_pfn = pfn_of(zeros);
	snprintf(zero_event, sizeof(zero_event), "ksm_merge_one_page: ksm pfn %llu ",
		 (unsigned long long)zero_pfn);
	trace_scan(&zero_needle, &zero_pfn_seen, 1);
	if (!zero_pfn || !zero_pfn_seen) {
		ksft_print_msg("no \"%s\" event\n", zero_event);
		trace_print("ksm_merge_one_page", 5);
		trace_print("ksm_", 10);
		ok = false;
	}
	ksm_put("run", 2);
	ksm_put("use_zero_pages", 0);
	munmap(zeros, 8 * psize);
	trace_put("tracing_on", "0");
	trace_put("events/ksm/enable", "0");
	trace_scan(events, seen, ARRAY_SIZE(events));
	for (i = 0; i < ARRAY_SIZE(events); i++) {
		if (!seen[i])
			ksft_print_msg("no %s event\n", events[i]);
		ok = ok && seen[i];
	}
	ksft_test_result(ok, "KSM tracepoints fire for enter, scan, merge, removal, exit\n");
	trace_put("trace", "");
	ksm_stop();
}

/*
 * Smart scan: unique pages are passed over in growing numbers of passes
 * (examined in passes 0, 1, 2, 3, 5, 8, 13, 22, ...: 8 of the first 31),
 * and those passed over are not counted in pages_scanned.  A page that
 * gets a duplicate while it is being passed over still merges within a
 * couple of passes, its old hash being matched.  With smart_scan=0
 * nothing is skipped.
 */
static void test_smart_scan(void)
{
	const size_t n = 512;
	long f0, sc0, sk0, sc, sk;
	char *map = map_pages(n), *dup;
	bool skips, dup_merged, off;
	size_t i;

	madvise(map, n * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++)
		fill(map + i * psize, 500000 + i);
	ksm_fresh_start();
	f0 = ksm_get("full_scans");
	sc0 = ksm_get("pages_scanned");
	sk0 = ksm_get("pages_skipped");
	madvise(map, n * psize, MADV_MERGEABLE);
	ksm_wait_scans(31);
	sc = ksm_get("pages_scanned") - sc0;
	sk = ksm_get("pages_skipped") - sk0;
	/* Some passes more may have ended by the time of reading. */
	skips = sk > 2 * sc && sc <= (long)n * 12;
	if (!skips)
		ksft_print_msg("passes %ld: scanned %ld skipped %ld\n",
			       ksm_get("full_scans") - f0, sc, sk);
	ksft_test_result(skips, "smart scan passes over unique pages, uncounted\n");

	dup = map_pages(1);
	fill(dup, 500000);
	madvise(dup, psize, MADV_MERGEABLE);
	ksm_wait_scans(3);
	dup_merged = ksm_get("pages_sharing") == 1 && pfn_of(dup) && pfn_of(dup) == pfn_of(map);
	if (!dup_merged)
		ksft_print_msg("sharing %ld\n", ksm_get("pages_sharing"));
	ksft_test_result(dup_merged, "a page passed over still merges with a new duplicate\n");

	ksm_put("smart_scan", 0);
	ksm_wait_scans(1);
	sc0 = ksm_get("pages_scanned");
	sk0 = ksm_get("pages_skipped");
	ksm_wait_scans(4);
	sc = ksm_get("pages_scanned") - sc0;
	/*
	 * Four passes ended between the reads, so three whole ones lie
	 * between them: every page examined in each.
	 */
	off = ksm_get("pages_skipped") == sk0 && sc >= 3 * (long)n;
	if (!off)
		ksft_print_msg("smart_scan=0: scanned %ld, skipped %ld\n", sc,
			       ksm_get("pages_skipped") - sk0);
	ksft_test_result(off, "smart_scan=0 examines every page every pass\n");
	ksm_put("smart_scan", 1);
	munmap(dup, psize);
	munmap(map, n * psize);
	ksm_stop();
}

/*
 * pages_to_scan has no upper limit, so one batch of ksmd's can go on for
 * hours; a sysfs write that needs ksm_mutex must not wait for its end.
 */
static void test_long_batch(void)
{
	const size_t n = 256;
	char *map = map_pages(n);
	struct timespec t0, t1;
	double secs;
	size_t i;
	bool ok;

	madvise(map, n * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++)
		fill(map + i * psize, 700000 + i);
	ksm_fresh_start();
	madvise(map, n * psize, MADV_MERGEABLE);
	ksm_put("pages_to_scan", 4294967295L);
	ksm_wait_scans(2);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok = !ksm_put("max_page_sharing", 256) && !ksm_put("run", 2);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	ok = ok && secs < 10;
	if (!ok)
		ksft_print_msg("the writes took %.1f s\n", secs);
	ksft_test_result(ok, "sysfs writes are not held up by a huge pages_to_scan\n");
	munmap(map, n * psize);
	ksm_stop();
}

/*
 * 256 MiB cannot be scanned within a second at advisor_min_pages_to_scan
 * pages every 20 ms: the advisor must raise pages_to_scan, but not past
 * its maximum.
 */
static void test_advisor(void)
{
	const size_t n = 65536;
	char *map = map_pages(n);
	long min, max, pages;
	bool ok;
	size_t i;

	madvise(map, n * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++)
		fill(map + i * psize, 100000 + i);
	ksm_fresh_start();
	ksm_put("run", 0);
	ksm_put("sleep_millisecs", 20);
	ksm_put("advisor_target_scan_time", 1);
	ok = !put_str(KSM_DIR, "advisor_mode", "scan-time");
	min = ksm_get("advisor_min_pages_to_scan");
	max = ksm_get("advisor_max_pages_to_scan");
	ok = ok && ksm_get("pages_to_scan") == min;
	ksm_put("run", 1);
	ok = ok && !madvise(map, n * psize, MADV_MERGEABLE) && ksm_wait_scans(3);
	pages = ksm_get("pages_to_scan");
	ok = ok && pages > min && pages <= max;
	if (!ok)
		ksft_print_msg("pages_to_scan %ld, limits %ld..%ld\n", pages, min, max);
	ksft_test_result(ok, "scan-time advisor raises pages_to_scan within its limits\n");
	ksm_put("run", 2);
	put_str(KSM_DIR, "advisor_mode", "none");
	ksm_put("advisor_target_scan_time", 200);
	munmap(map, n * psize);
	ksm_stop();
}

int main(void)
{
	ksm_test_start();
	ksft_set_plan(13);

	test_exit_stopped();
	test_exit_stopped_mid_pass();
	test_exit_during_run2();
	test_numa_nodes();
	test_sharing_chains();
	test_tracepoints();
	test_smart_scan();
	test_long_batch();
	test_advisor();
	ksft_finished();
}
