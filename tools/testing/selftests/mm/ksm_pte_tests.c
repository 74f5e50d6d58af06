// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm_pte_tests - what a merge, or a merge that does not happen, leaves
 * in the page tables of the processes involved:
 *
 *  - soft-dirty survives every kind of merge: the page that becomes the
 *    KSM page, the page mapped to it, a page joining an existing KSM
 *    page, and a page mapped to the shared zero page (on x86 a KSM zero
 *    page mapping is dirty, hence soft-dirty, whatever the page was);
 *  - so does userfaultfd write protection;
 *  - a page is never write-protected for a merge with a page that no
 *    longer holds its content: a write to it stays free of faults;
 *  - once PR_SET_MEMORY_MERGE=0 or MADV_UNMERGEABLE returned, no page of
 *    the range is a KSM page (smaps), even with swapped-out KSM pages
 *    faulted back in by other threads meanwhile;
 *  - a KSM page swapped in where another VMA was moved over a merged
 *    page's old place is reachable by the reverse map (it migrates);
 *  - a page a device holds for atomic access (a device-exclusive entry,
 *    through test_hmm) is left alone, and so is the device's mapping,
 *    until the CPU takes it back.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/mempolicy.h>
#include <linux/userfaultfd.h>
#include <lib/test_hmm_uapi.h>

#include "ksm_test_util.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif

/* Bits of a pagemap entry: the PTE is soft-dirty, uffd write-protected. */
#define PM_SOFT_DIRTY_BIT	55
#define PM_UFFD_WP_BIT		57

/* Clear the soft-dirty bits of this process (as CRIU does before a dump). */
static bool clear_soft_dirty(void)
{
	return write_file("/proc/self/clear_refs", "4");
}

static bool soft_dirty(void *addr)
{
	return pagemap_of(addr) >> PM_SOFT_DIRTY_BIT & 1;
}

/* Wait up to 30 s for the pages at @a and @b to be one KSM page. */
static bool wait_merged(char *a, char *b)
{
	time_t until = time(NULL) + 30;

	while (pfn_of(a) != pfn_of(b) || smaps_ksm_kb(a) <= 0) {
		if (time(NULL) > until)
			return false;
		usleep(10000);
	}
	return true;
}

/* Wait up to 30 s for KSM to have placed @n zero pages. */
static bool wait_zero_pages(long n)
{
	time_t until = time(NULL) + 30;

	while (ksm_get("ksm_zero_pages") < n) {
		if (time(NULL) > until)
			return false;
		usleep(10000);
	}
	return true;
}

static void ksm_run(int run)
{
	ksm_put("run", run);
}

/*
 * Pages 0 and 1 merge into a new KSM page (one becomes it, the other is
 * mapped to it), page 2 joins it afterwards through the stable index and
 * page 3, all zeroes, is mapped to the shared zero page.  Every page is
 * written after the soft-dirty bits were cleared; each must still be
 * soft-dirty once merged.
 */
static void test_soft_dirty(void)
{
	char *map = map_pages(4);
	bool ok = true;
	int i;

	madvise(map, 4 * psize, MADV_NOHUGEPAGE);
	ksm_fresh_start();
	ksm_run(0);
	ksm_put("use_zero_pages", 1);
	madvise(map, 4 * psize, MADV_MERGEABLE);
	for (i = 0; i < 4; i++)
		memset(map + i * psize, i == 3 ? 0 : 0x5a, psize);
	if (!clear_soft_dirty() || soft_dirty(map)) {
		ksft_test_result_skip("soft-dirty survives merging (no soft-dirty tracking)\n");
		goto out;
	}
	/* Pages 0 and 1 (and 3) written now; page 2 only once they merged. */
	memset(map, 0x5a, psize);
	memset(map + psize, 0x5a, psize);
	memset(map + 3 * psize, 0, psize);
	memset(map + 2 * psize, 0x11, psize);
	ksm_run(1);
	ok = wait_merged(map, map + psize) && wait_zero_pages(1);
	if (!ok)
		ksft_print_msg("pages 0 and 1 did not merge, or page 3 into the zero page\n");
	if (ok && (!soft_dirty(map) || !soft_dirty(map + psize))) {
		ksft_print_msg("soft-dirty after a new KSM page: page 0 %d, page 1 %d\n",
			       soft_dirty(map), soft_dirty(map + psize));
		ok = false;
	}
	if (ok && (!soft_dirty(map + 3 * psize) || ksm_get("ksm_zero_pages") < 1)) {
		ksft_print_msg("zero page: soft-dirty %d, ksm_zero_pages %ld\n",
			       soft_dirty(map + 3 * psize), ksm_get("ksm_zero_pages"));
		ok = false;
	}
	/* Now page 2 joins the KSM page through the stable index. */
	ksm_run(0);
	clear_soft_dirty();
	memset(map + 2 * psize, 0x5a, psize);
	ksm_run(1);
	if (ok && !wait_merged(map, map + 2 * psize)) {
		ksft_print_msg("page 2 did not join the KSM page\n");
		ok = false;
	}
	if (ok && !soft_dirty(map + 2 * psize)) {
		ksft_print_msg("soft-dirty lost when joining a KSM page\n");
		ok = false;
	}
	for (i = 0; ok && i < 4; i++)
		ok = map[i * psize] == (i == 3 ? 0 : 0x5a);
	ksft_test_result(ok, "soft-dirty survives merging (new, joined and zero pages)\n");
out:
	munmap(map, 4 * psize);
	ksm_stop();
}

/*
 * Two pages write-protected by userfaultfd merge into one KSM page; both
 * mappings must stay uffd write-protected, or the monitor would miss the
 * next write to them.
 */
static void test_uffd_wp(void)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	char *map = map_pages(2);
	bool ok;
	int uffd;

	madvise(map, 2 * psize, MADV_NOHUGEPAGE);
	fill(map, 31);
	fill(map + psize, 31);
	reg.range.start = (uintptr_t)map;
	reg.range.len = 2 * psize;
	wp.range = reg.range;
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg) ||
	    ioctl(uffd, UFFDIO_WRITEPROTECT, &wp)) {
		ksft_test_result_skip("uffd write protection survives merging (%s)\n",
				      strerror(errno));
		goto out;
	}
	ksm_fresh_start();
	madvise(map, 2 * psize, MADV_MERGEABLE);
	ok = wait_merged(map, map + psize);
	if (!ok)
		ksft_print_msg("the two pages did not merge\n");
	if (ok && !(pagemap_of(map) >> PM_UFFD_WP_BIT & 1 &&
		    pagemap_of(map + psize) >> PM_UFFD_WP_BIT & 1)) {
		ksft_print_msg("uffd-wp after merging: page 0 %d, page 1 %d\n",
			       (int)(pagemap_of(map) >> PM_UFFD_WP_BIT & 1),
			       (int)(pagemap_of(map + psize) >> PM_UFFD_WP_BIT & 1));
		ok = false;
	}
	ksft_test_result(ok && check(map, 31) && check(map + psize, 31),
			 "uffd write protection survives merging\n");
	ksm_stop();
out:
	if (uffd >= 0)
		close(uffd);
	munmap(map, 2 * psize);
}

/* Minor faults of this process so far. */
static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/*
 * Victim pages hold contents S_k long enough for smart scan to pass over
 * them for several passes (their old hashes stay in the unstable index
 * all that time); then they are wiped, and attacker pages at higher
 * addresses are given the S_k.  The victims are filled one pass apart, so
 * that they are due again in different passes, and some of them stay
 * stale in the index while the attackers are examined.  Whenever ksmd
 * meets an attacker page with a victim's stale hash in the index, it must
 * compare the two pages before it write-protects anything: a write to an
 * attacker page, which takes a fault once it is write-protected, must
 * never fault.
 */
#define STALE_PAIRS	9

static void test_stale_wrprotect(void)
{
	char *map = map_pages(2 * STALE_PAIRS);
	char *attacker = map + STALE_PAIRS * psize;
	long faults = 0, before;
	bool ok = true;
	int i, k;

	madvise(map, 2 * STALE_PAIRS * psize, MADV_NOHUGEPAGE);
	ksm_fresh_start();
	madvise(map, 2 * STALE_PAIRS * psize, MADV_MERGEABLE);
	for (k = 0; ok && k < STALE_PAIRS; k++) {
		fill(map + k * psize, 5000 + k);
		ok = ksm_wait_scans(1);
	}
	ok = ok && ksm_wait_scans(30);
	/* Wipe the victims, and give the attackers their former contents. */
	for (k = 0; k < STALE_PAIRS; k++)
		fill(map + k * psize, 6000 + k);
	for (k = 0; k < STALE_PAIRS; k++)
		fill(attacker + k * psize, 5000 + k);
	for (i = 0; ok && i < 20; i++) {
		ok = ksm_wait_scans(1);
		for (k = 0; k < STALE_PAIRS; k++) {
			char *p = attacker + k * psize;

			/* Write the byte it holds: the content stays the same. */
			before = minflt();
			__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
			faults += minflt() - before;
		}
	}
	if (faults)
		ksft_print_msg("%ld of %d writes to attacker pages faulted\n", faults,
			       20 * STALE_PAIRS);
	for (k = 0; ok && k < STALE_PAIRS; k++)
		ok = check(map + k * psize, 6000 + k) && check(attacker + k * psize, 5000 + k);
	ksft_test_result(ok && !faults, "no write protection from a stale unstable-index entry\n");
	munmap(map, 2 * STALE_PAIRS * psize);
	ksm_stop();
}

#define RACE_PAGES	256
#define RACE_THREADS	2

struct race {
	char *map;
	int stop;	/* __atomic accesses */
	unsigned long sum;
};

/*
 * Read the even pages of the range, again and again: swap-in faults that
 * race with the unmerging.  The odd pages are first read once it is done.
 */
static void *race_reader(void *arg)
{
	struct race *r = arg;
	unsigned long sum = 0;
	int i;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED))
		for (i = 0; i < RACE_PAGES; i += 2)
			sum += __atomic_load_n(r->map + i * psize, __ATOMIC_RELAXED);
	r->sum = sum;
	return NULL;
}

static int setup_failed(const char *what)
{
	ksft_print_msg("%s failed: %s\n", what, strerror(errno));
	return 3;
}

/*
 * In a child, in the test cgroup: RACE_PAGES pages of 4 contents merge
 * into 4 KSM pages; a pipe keeps a reference on each KSM page so that
 * reclaim leaves them in the swap cache after it swapped out every
 * mapping; ksmd is stopped so that nothing changes behind the test.
 * Threads then fault the even pages back in while the main thread turns
 * merging off, by prctl or by madvise; the odd pages are faulted in
 * afterwards, and must not map a KSM page in a VMA that is no longer
 * mergeable.  Exit status 0: no KSM page is
 * mapped afterwards and every page holds its content; 1: KSM pages left;
 * 2: bad content; 3: the setup failed; 4: no cgroup.
 */
static int unmerge_vs_swapin_child(bool use_prctl)
{
	pthread_t th[RACE_THREADS];
	struct race r = { 0 };
	int pipes[4][2], i, left = 0;
	struct iovec iov;

	if (!enter_test_cgroup())
		return 4;
	if (use_prctl && prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
		return setup_failed("prctl");
	r.map = map_pages(RACE_PAGES);
	madvise(r.map, RACE_PAGES * psize, MADV_NOHUGEPAGE);
	if (!use_prctl)
		madvise(r.map, RACE_PAGES * psize, MADV_MERGEABLE);
	for (i = 0; i < RACE_PAGES; i++)
		fill(r.map + i * psize, 77 + i % 4);
	ksm_run(1);
	for (i = 0; i < 4; i++)
		if (!wait_merged(r.map + i * psize, r.map + (RACE_PAGES - 4 + i) * psize))
			return setup_failed("merge");
	for (i = 0; i < 4; i++) {
		iov.iov_base = r.map + i * psize;
		iov.iov_len = psize;
		if (pipe(pipes[i]) || vmsplice(pipes[i][1], &iov, 1, 0) != (ssize_t)psize)
			return setup_failed("vmsplice");
	}
	ksm_run(0);
	if (swap_out(r.map, RACE_PAGES))
		return setup_failed("swap-out");
	for (i = 0; i < RACE_THREADS; i++)
		pthread_create(&th[i], NULL, race_reader, &r);
	usleep(1000);
	if (use_prctl ? prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0) :
			madvise(r.map, RACE_PAGES * psize, MADV_UNMERGEABLE))
		return setup_failed("unmerge");
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < RACE_THREADS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < RACE_PAGES; i++)
		if (!check(r.map + i * psize, 77 + i % 4))
			return 2;
	left = smaps_ksm_kb(r.map);
	if (left)
		ksft_print_msg("%d kB of KSM pages mapped after unmerging\n", left);
	return left ? 1 : 0;
}

/*
 * Run @child in a child process with ksmd stopped, and report its exit
 * status as the result of the test @what: 0 passes, 4 (no cgroup) skips.
 */
static void run_child_test(int (*child)(void), const char *what)
{
	int status = -1;
	pid_t pid;

	ksm_fresh_start();
	ksm_put("run", 0);
	pid = fork();
	if (!pid)
		exit(child());
	waitpid(pid, &status, 0);
	leave_test_cgroup();
	status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (status == 4)
		ksft_test_result_skip("%s (no cgroup)\n", what);
	else
		ksft_test_result(!status, "%s (exit %d)\n", what, status);
	ksm_stop();
}

static int prctl_vs_swapin_child(void)
{
	return unmerge_vs_swapin_child(true);
}

static int madvise_vs_swapin_child(void)
{
	return unmerge_vs_swapin_child(false);
}

static void test_prctl_vs_swapin(void)
{
	run_child_test(prctl_vs_swapin_child,
		       "PR_SET_MEMORY_MERGE=0 leaves no KSM page while swap-ins race");
}

static void test_madvise_vs_swapin(void)
{
	run_child_test(madvise_vs_swapin_child,
		       "MADV_UNMERGEABLE leaves no KSM page while swap-ins race");
}

/* The NUMA node of the page at @addr, or a negative errno. */
static int node_of(void *addr)
{
	int status = -1;

	if (syscall(SYS_move_pages, 0, 1UL, &addr, NULL, &status, 0))
		return -errno;
	return status;
}

/*
 * Two merged pages, a and b, are swapped out while a pipe keeps their KSM
 * page in the swap cache; a is unmapped and b's VMA moved to a's place
 * (mremap unmerges only present pages), then b's page is swapped in
 * there.  The engine knows that address by the member of a, whose
 * anon_vma no longer has a VMA, and b's member records b's old address.
 * Whatever the swap-in maps (the KSM page, or a copy that ksmd merges
 * again), once ksmd passed the reverse map must find it, or the page can
 * never be migrated (or reclaimed, or taken by memory offline).  6.12
 * maps the KSM page and keeps the stale item.  Exit status 0: migrated;
 * 1: not migrated; 2: bad content; 3: setup failed; 4: no cgroup.
 */
static int stale_anon_vma_child(void)
{
	char *a, *b, *moved;
	struct iovec iov;
	int fds[2], from, to;

	if (!enter_test_cgroup())
		return 4;
	/*
	 * Two VMAs a page apart: each gets an anon_vma of its own (adjacent
	 * ones would be one VMA, or share one).
	 */
	a = map_pages(3);
	b = a + 2 * psize;
	munmap(a + psize, psize);
	madvise(a, psize, MADV_NOHUGEPAGE);
	madvise(b, psize, MADV_NOHUGEPAGE);
	fill(a, 0xa7a);
	fill(b, 0xa7a);
	madvise(a, psize, MADV_MERGEABLE);
	madvise(b, psize, MADV_MERGEABLE);
	ksm_run(1);
	if (!wait_merged(a, b))
		return setup_failed("merge");
	/* The pipe keeps the KSM page in the swap cache once both are out. */
	iov.iov_base = a;
	iov.iov_len = psize;
	if (pipe(fds) || vmsplice(fds[1], &iov, 1, 0) != (ssize_t)psize)
		return setup_failed("vmsplice");
	ksm_run(0);
	if (swap_out(a, 1) || swap_out(b, 1))
		return setup_failed("swap-out");
	munmap(a, psize);
	moved = mremap(b, psize, psize, MREMAP_MAYMOVE | MREMAP_FIXED, a);
	if (moved != a)
		return setup_failed("mremap");
	if (!check(a, 0xa7a))
		return 2;
	ksft_print_msg("swapped in at the old place: %s\n",
		       smaps_ksm_kb(a) > 0 ? "the KSM page" : "a copy");
	close(fds[0]);
	close(fds[1]);
	ksm_run(1);
	if (!ksm_wait_scans(2))
		return setup_failed("waiting for ksmd");
	/* ksmd at full speed locks the KSM page often: migration gives up on it. */
	ksm_run(0);
	from = node_of(a);
	to = !from;
	if (from < 0 || syscall(SYS_move_pages, 0, 1UL, &a, &to, &from, MPOL_MF_MOVE_ALL) < 0)
		return setup_failed("move_pages");
	ksft_print_msg("after ksmd: %s\n", smaps_ksm_kb(a) > 0 ? "a KSM page" : "not merged");
	if (node_of(a) != to) {
		ksft_print_msg("page still on node %d (move_pages status %d)\n", node_of(a), from);
		return 1;
	}
	return check(a, 0xa7a) ? 0 : 2;
}

static void test_stale_anon_vma(void)
{
	run_child_test(stale_anon_vma_child, "KSM page swapped in under moved VMA migrates");
}

#define EXCL_PAGES	16

/* Is the KSM part of the VMA at @map exactly @pages pages? */
static bool ksm_pages_are(char *map, long pages)
{
	return smaps_ksm_kb(map) == pages * (long)psize / 1024;
}

/*
 * The first EXCL_PAGES of 2 * EXCL_PAGES identical pages are taken by a
 * device for atomic access: their PTEs become device-exclusive entries,
 * which are not present, so ksmd must neither merge them nor touch them
 * (an mmu-notifier invalidation would drop the device's mapping).  The
 * other half merges.  Once the CPU read the first half back, all merge.
 */
static void test_device_exclusive(void)
{
	int fd = open("/dev/hmm_dmirror0", O_RDWR);
	const size_t n = 2 * EXCL_PAGES;
	struct hmm_dmirror_cmd cmd = { };
	char *map, *mirror;
	bool ok = true;
	size_t i;

	if (fd < 0) {
		ksft_test_result_skip("device-exclusive pages are left alone (no test_hmm: %s)\n",
				      strerror(errno));
		return;
	}
	map = map_pages(n);
	mirror = malloc(EXCL_PAGES * psize);
	madvise(map, n * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++)
		fill(map + i * psize, 0xe8c1);
	ksm_fresh_start();
	ksm_run(0);
	madvise(map, n * psize, MADV_MERGEABLE);
	cmd.addr = (uintptr_t)map;
	cmd.ptr = (uintptr_t)mirror;
	cmd.npages = EXCL_PAGES;
	if (ioctl(fd, HMM_DMIRROR_EXCLUSIVE, &cmd)) {
		ksft_test_result_fail("device-exclusive pages: HMM_DMIRROR_EXCLUSIVE: %s\n",
				      strerror(errno));
		goto out;
	}
	ksm_run(1);
	ok = wait_merged(map + EXCL_PAGES * psize, map + (n - 1) * psize) &&
	     ksm_wait_scans(3);
	if (!ok)
		ksft_print_msg("the ordinary pages did not merge\n");
	if (ok && !ksm_pages_are(map, EXCL_PAGES)) {
		ksft_print_msg("KSM part of the range: %ld kB, want %zu kB\n",
			       smaps_ksm_kb(map), EXCL_PAGES * psize / 1024);
		ok = false;
	}
	/* The device's mapping was never invalidated: it still holds them. */
	if (ok && (!ioctl(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, &cmd) || errno != EPERM)) {
		ksft_print_msg("the device lost its exclusive access\n");
		ok = false;
	}
	for (i = 0; ok && i < EXCL_PAGES; i++)
		ok = check(map + i * psize, 0xe8c1);
	if (ok && (!wait_merged(map, map + (n - 1) * psize) || !ksm_pages_are(map, n))) {
		ksft_print_msg("taken back by the CPU, the pages did not merge: %ld kB KSM\n",
			       smaps_ksm_kb(map));
		ok = false;
	}
	ksft_test_result(ok, "device-exclusive pages left alone until the CPU takes them back\n");
out:
	munmap(map, n * psize);
	free(mirror);
	close(fd);
	ksm_stop();
}

static const struct ksm_test tests[] = {
	{ "soft_dirty", test_soft_dirty, 1 },
	{ "uffd_wp", test_uffd_wp, 1 },
	{ "stale_wrprotect", test_stale_wrprotect, 1 },
	{ "prctl_vs_swapin", test_prctl_vs_swapin, 1 },
	{ "madvise_vs_swapin", test_madvise_vs_swapin, 1 },
	{ "stale_anon_vma", test_stale_anon_vma, 1 },
	{ "device_exclusive", test_device_exclusive, 1 },
};

/* usage: ksm_pte_tests [test-name...] (all tests without names) */
int main(int argc, char **argv)
{
	ksm_run_tests(tests, ARRAY_SIZE(tests), argc, argv);
}
