// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm_tenant_tests - KSM on multi-tenant hosts: merge domains (global,
 * per memory cgroup, per process), a process moving between cgroups,
 * zero pages inside domains, and hardened mode (every examined page a
 * KSM page of a fresh frame, one fault per write).
 *
 * Tenants are child processes that map pages of known content; they
 * report the frames behind their pages through a shared array, so that
 * the test can tell which frames two tenants share.  Tenants are placed
 * in their cgroup before they map their pages.
 */
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "ksm_test_util.h"

#define NPAGES		64
#define MAX_TENANTS	4

/* The frames of every tenant's pages, written by the tenants. */
static uint64_t (*frames)[NPAGES];

/**
 * struct tenant - a child process holding NPAGES mergeable pages
 * @pid: its pid
 * @cmd: write end of its command pipe
 * @reply: read end of its reply pipe
 * @idx: its row in frames[]
 */
struct tenant {
	pid_t pid;
	int cmd;
	int reply;
	int idx;
};

/* Content of page @i of a tenant: tag @i % @kinds, so kinds repeat. */
static uint64_t tag_of(int i, int kinds)
{
	return kinds ? 1000 + i % kinds : 0;
}

static void tenant_main(int idx, int kinds, const char *cgroup, int cmd, int reply)
{
	char *map, c, ok;
	int i;

	if (cgroup && !move_to_cgroup(cgroup))
		_exit(2);
	map = map_pages(NPAGES);
	for (i = 0; i < NPAGES; i++) {
		if (kinds)
			fill(map + i * psize, tag_of(i, kinds));
		else
			memset(map + i * psize, 0, psize);
	}
	if (madvise(map, NPAGES * psize, MADV_MERGEABLE))
		_exit(3);
	while (read(cmd, &c, 1) == 1) {
		switch (c) {
		case 'f':	/* report frames */
			for (i = 0; i < NPAGES; i++)
				frames[idx][i] = pfn_of(map + i * psize);
			ok = 1;
			break;
		case 'w':	/* give the first 8 pages content of their own */
			for (i = 0; i < 8; i++)
				fill(map + i * psize, 90000 + idx * 100 + i);
			kinds = -kinds - 1;
			ok = 1;
			break;
		case 'c':	/* check content */
			ok = 1;
			for (i = 0; i < NPAGES; i++) {
				const char *p = map + i * psize;
				int k = kinds < 0 ? -kinds - 1 : kinds;

				if (kinds < 0 && i < 8)
					ok &= check(p, 90000 + idx * 100 + i);
				else if (k ? !check(p, tag_of(i, k)) :
					     p[0] || memcmp(p, p + 1, psize - 1))
					ok = 0;
			}
			break;
		default:
			_exit(0);
		}
		if (write(reply, &ok, 1) != 1)
			_exit(4);
	}
	_exit(0);
}

/* Start tenant @idx with pages of @kinds contents (0: zero pages) in @cgroup. */
static bool tenant_start(struct tenant *t, int idx, int kinds, const char *cgroup)
{
	int cmd[2], reply[2];

	if (pipe(cmd) || pipe(reply))
		return false;
	t->idx = idx;
	t->pid = fork();
	if (t->pid < 0)
		return false;
	if (!t->pid) {
		close(cmd[1]);
		close(reply[0]);
		tenant_main(idx, kinds, cgroup, cmd[0], reply[1]);
	}
	close(cmd[0]);
	close(reply[1]);
	t->cmd = cmd[1];
	t->reply = reply[0];
	return true;
}

static bool tenant_ask(struct tenant *t, char c)
{
	char ok = 0;

	if (write(t->cmd, &c, 1) != 1 || read(t->reply, &ok, 1) != 1)
		return false;
	return ok;
}

/* Tell @t to exit (later tenants hold copies of its pipes: no EOF). */
static void tenant_stop(struct tenant *t)
{
	int status;
	char c = 'q';

	if (write(t->cmd, &c, 1) != 1)
		kill(t->pid, SIGKILL);
	close(t->cmd);
	close(t->reply);
	waitpid(t->pid, &status, 0);
}

/* Move tenant @t to the cgroup of @procs. */
static bool tenant_move(struct tenant *t, const char *procs)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", t->pid);
	return write_file(procs, pid);
}

/* Wait up to 40 full scans for pages_shared and pages_sharing to read so. */
static bool wait_counts(long shared, long sharing)
{
	int i;

	for (i = 0; i < 40; i++) {
		if (ksm_get("pages_shared") == shared && ksm_get("pages_sharing") == sharing)
			return true;
		if (!ksm_wait_scans(1))
			break;
	}
	ksft_print_msg("pages_shared %ld pages_sharing %ld, want %ld %ld\n",
		       ksm_get("pages_shared"), ksm_get("pages_sharing"), shared, sharing);
	return false;
}

/* Frames of tenant @a that tenant @b maps too. */
static int common_frames(struct tenant *a, struct tenant *b)
{
	int i, j, n = 0;

	if (!tenant_ask(a, 'f') || !tenant_ask(b, 'f'))
		return -1;
	for (i = 0; i < NPAGES; i++)
		for (j = 0; j < NPAGES; j++)
			if (frames[a->idx][i] && frames[a->idx][i] == frames[b->idx][j]) {
				n++;
				break;
			}
	return n;
}

/* Distinct frames behind tenant @t's pages. */
static int distinct_frames(struct tenant *t)
{
	int i, j, n = 0;

	if (!tenant_ask(t, 'f'))
		return -1;
	for (i = 0; i < NPAGES; i++) {
		for (j = 0; j < i; j++)
			if (frames[t->idx][j] == frames[t->idx][i])
				break;
		n += j == i;
	}
	return n;
}

/* A fresh start in domain @mode, hardened or not. */
static bool start_in(const char *mode, int hardened)
{
	ksm_put("run", 2);
	ksm_put("use_zero_pages", 0);
	if (ksm_put_str("merge_domain", mode) || ksm_put("hardened", hardened))
		return false;
	ksm_fresh_start();
	return true;
}

static void back_to_global(void)
{
	ksm_put("run", 2);
	ksm_put_str("merge_domain", "global");
	ksm_put("hardened", 0);
	ksm_put("use_zero_pages", 0);
	ksm_stop();
}

/* Cgroups: t1, and t2 with two children (cgroup v2 puts tasks in leaves). */
#define T1 CGROUP "ksm_t1/"
#define T2 CGROUP "ksm_t2/"
#define T2X CGROUP "ksm_t2/x/"
#define T2Y CGROUP "ksm_t2/y/"

static bool make_cgroups(void)
{
	mkdir(CGROUP, 0755);
	if (access(CGROUP "cgroup.procs", F_OK))
		mount("none", CGROUP, "cgroup2", 0, NULL);
	write_file(CGROUP "cgroup.subtree_control", "+memory");
	mkdir(T1, 0755);
	mkdir(T2, 0755);
	write_file(T2 "cgroup.subtree_control", "+memory");
	mkdir(T2X, 0755);
	mkdir(T2Y, 0755);
	return !access(T1 "cgroup.procs", F_OK) && !access(T2X "cgroup.procs", F_OK) &&
	       !access(T2Y "cgroup.procs", F_OK);
}

static void remove_cgroups(void)
{
	rmdir(T2X);
	rmdir(T2Y);
	rmdir(T2);
	rmdir(T1);
}

/* merge_domain and hardened: format, values, and the EBUSY rules. */
static void test_knobs(void)
{
	char buf[128];
	struct tenant t;
	bool ok = true;

	ksm_put("run", 2);
	ok &= ksm_get_str("merge_domain", buf, sizeof(buf)) &&
	      !strcmp(buf, "[global] memcg process");
	ok &= ksm_get_str("hardened", buf, sizeof(buf)) && !strcmp(buf, "0");
	ok &= ksm_put_str("merge_domain", "bogus") == -EINVAL;
	ok &= ksm_put_str("merge_domain", "\n") == -EINVAL;
	ok &= ksm_put_str("hardened", "2") == -EINVAL;
	ok &= ksm_put_str("hardened", "-1") == -EINVAL;
	ok &= ksm_put_str("hardened", "yes") == -EINVAL;
	ok &= ksm_put_str("merge_domain", "process\n") == 0;
	ok &= ksm_get_str("merge_domain", buf, sizeof(buf)) &&
	      !strcmp(buf, "global memcg [process]");
	ok &= ksm_put_str("merge_domain", "memcg") == 0;
	ok &= ksm_get_str("merge_domain", buf, sizeof(buf)) &&
	      !strcmp(buf, "global [memcg] process");
	ok &= ksm_put_str("merge_domain", "global") == 0;
	ok &= ksm_put("hardened", 1) == 0 && ksm_put("hardened", 0) == 0;
	if (!ok)
		ksft_print_msg("format or validation differ\n");

	/* With a KSM page in place, neither knob changes; the same value is fine. */
	ksm_fresh_start();
	if (!tenant_start(&t, 0, 2, NULL)) {
		ksft_test_result_fail("knobs: no tenant\n");
		return;
	}
	ok &= wait_counts(2, NPAGES - 2);
	ok &= ksm_put_str("merge_domain", "process") == -EBUSY;
	ok &= ksm_put_str("merge_domain", "global") == 0;
	ok &= ksm_put("hardened", 1) == -EBUSY;
	ok &= ksm_put("hardened", 0) == 0;
	/* Zero pages KSM placed hold them back too. */
	tenant_stop(&t);
	ksm_put("run", 2);
	ksm_put("use_zero_pages", 1);
	ksm_put("run", 1);
	if (!tenant_start(&t, 0, 0, NULL)) {
		ksft_test_result_fail("knobs: no tenant\n");
		return;
	}
	ok &= wait_counts(0, 0);
	while (ksm_get("ksm_zero_pages") < NPAGES && ksm_wait_scans(1))
		;
	ok &= ksm_get("ksm_zero_pages") == NPAGES;
	ok &= ksm_put_str("merge_domain", "memcg") == -EBUSY;
	ok &= ksm_put("hardened", 1) == -EBUSY;
	/* run=2 gives them back: then the knobs change. */
	ok &= ksm_put("run", 2) == 0;
	ok &= ksm_put_str("merge_domain", "memcg") == 0 && ksm_put("hardened", 1) == 0;
	tenant_stop(&t);
	back_to_global();
	ksft_test_result(ok, "merge_domain and hardened: format, EINVAL and EBUSY rules\n");
}

/*
 * Two tenants with the same 2 contents in each of their 64 pages: one
 * KSM page per content in all (global), or per tenant (process).
 */
static void test_process_domain(void)
{
	struct tenant a, b;
	bool ok = true;
	int common;

	if (!start_in("process", 0) || !tenant_start(&a, 0, 2, NULL) ||
	    !tenant_start(&b, 1, 2, NULL)) {
		ksft_test_result_fail("process domain: setup\n");
		return;
	}
	ok &= wait_counts(4, 2 * NPAGES - 4);
	common = common_frames(&a, &b);
	ok &= common == 0 && distinct_frames(&a) == 2 && distinct_frames(&b) == 2;
	ok &= tenant_ask(&a, 'c') && tenant_ask(&b, 'c');
	if (common)
		ksft_print_msg("%d frames shared across processes\n", common);
	tenant_stop(&a);
	tenant_stop(&b);

	/* The same in the global domain: one KSM page per content. */
	if (!start_in("global", 0) || !tenant_start(&a, 0, 2, NULL) ||
	    !tenant_start(&b, 1, 2, NULL)) {
		ksft_test_result_fail("process domain: setup\n");
		return;
	}
	ok &= wait_counts(2, 2 * NPAGES - 2);
	ok &= common_frames(&a, &b) == NPAGES;
	tenant_stop(&a);
	tenant_stop(&b);
	back_to_global();
	ksft_test_result(ok, "merge_domain=process: no frame shared across processes\n");
}

/*
 * Tenants A and C in cgroup t1, B in t2/x, D in t2/y: A and C share; B
 * and D, in two children of one cgroup, each only inside themselves.
 */
static void test_memcg_domain(void)
{
	struct tenant a, b, c, d;
	bool ok = true;

	if (!make_cgroups() || !start_in("memcg", 0) ||
	    !tenant_start(&a, 0, 2, T1 "cgroup.procs") ||
	    !tenant_start(&b, 1, 2, T2X "cgroup.procs") ||
	    !tenant_start(&c, 2, 2, T1 "cgroup.procs") ||
	    !tenant_start(&d, 3, 2, T2Y "cgroup.procs")) {
		ksft_test_result_fail("memcg domain: setup\n");
		return;
	}
	/* Three domains of two KSM pages: t1 (A, C), t2/x (B), t2/y (D). */
	ok &= wait_counts(6, 4 * NPAGES - 6);
	ok &= common_frames(&a, &c) == NPAGES;
	ok &= common_frames(&a, &b) == 0 && common_frames(&c, &b) == 0;
	ok &= common_frames(&a, &d) == 0 && common_frames(&b, &d) == 0;
	ok &= distinct_frames(&b) == 2 && distinct_frames(&d) == 2;
	ok &= tenant_ask(&a, 'c') && tenant_ask(&b, 'c') && tenant_ask(&c, 'c') &&
	      tenant_ask(&d, 'c');
	tenant_stop(&a);
	tenant_stop(&b);
	tenant_stop(&c);
	tenant_stop(&d);
	back_to_global();
	remove_cgroups();
	ksft_test_result(ok, "merge_domain=memcg: cgroups (and sibling children) share nothing\n");
}

/*
 * B moves from t2/x to t1: it then merges with A.  B moves back: its
 * mappings of t1's KSM pages are broken within two passes (the one under
 * way may have passed B already), and it merges inside t2 again.
 */
static void test_memcg_move(void)
{
	struct tenant a, b;
	bool ok = true;

	if (!make_cgroups() || !start_in("memcg", 0) ||
	    !tenant_start(&a, 0, 2, T1 "cgroup.procs") ||
	    !tenant_start(&b, 1, 2, T2X "cgroup.procs")) {
		ksft_test_result_fail("memcg move: setup\n");
		return;
	}
	ok &= wait_counts(4, 2 * NPAGES - 4);
	ok &= common_frames(&a, &b) == 0;
	ok &= tenant_move(&b, T1 "cgroup.procs");
	ok &= wait_counts(2, 2 * NPAGES - 2);
	ok &= common_frames(&a, &b) == NPAGES;
	ok &= tenant_move(&b, T2X "cgroup.procs");
	ok &= ksm_wait_scans(2);
	ok &= common_frames(&a, &b) == 0;
	ok &= wait_counts(4, 2 * NPAGES - 4);
	ok &= common_frames(&a, &b) == 0 && distinct_frames(&b) == 2;
	ok &= tenant_ask(&a, 'c') && tenant_ask(&b, 'c');
	tenant_stop(&a);
	tenant_stop(&b);
	back_to_global();
	remove_cgroups();
	ksft_test_result(ok, "a process that moves leaves its old domain within two passes\n");
}

/*
 * use_zero_pages=1 outside the global domain: zero pages merge like any
 * content, into one KSM page per domain, never into the shared zero page.
 */
static void test_zero_pages_in_domains(void)
{
	struct tenant a, b;
	bool ok = true;

	ksm_put("run", 2);
	ok &= ksm_put_str("merge_domain", "process") == 0;
	ksm_put("use_zero_pages", 1);
	ksm_put("sleep_millisecs", 0);
	ksm_put("pages_to_scan", 10000);
	ksm_put("run", 1);
	if (!tenant_start(&a, 0, 0, NULL) || !tenant_start(&b, 1, 0, NULL)) {
		ksft_test_result_fail("zero pages: setup\n");
		return;
	}
	ok &= wait_counts(2, 2 * NPAGES - 2);
	ok &= ksm_get("ksm_zero_pages") == 0;
	ok &= common_frames(&a, &b) == 0 && distinct_frames(&a) == 1;
	ok &= tenant_ask(&a, 'c') && tenant_ask(&b, 'c');
	tenant_stop(&a);
	tenant_stop(&b);
	back_to_global();
	ksft_test_result(ok, "zero pages merge per domain, not into the shared zero page\n");
}

static long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/*
 * Hardened mode: every page of a region, 32 of unique content and 16
 * pairs, becomes a KSM page on a frame none of the pages had, that
 * pagemap shows as not exclusive to this process whether it has a twin
 * or not (the engine maps it too); then a write to any of them takes
 * exactly one minor fault.
 */
static void test_hardened(void)
{
	const int n = 64, uniq = 32;
	uint64_t before[64], after;
	int i, j, moved = 0, reused = 0, faults_bad = 0, excl = 0;
	bool ok = true;
	char *map;

	if (!start_in("global", 1)) {
		ksft_test_result_fail("hardened: setup\n");
		return;
	}
	map = map_pages(n);
	for (i = 0; i < n; i++)
		fill(map + i * psize, i < uniq ? 5000 + i : 6000 + (i - uniq) / 2);
	for (i = 0; i < n; i++)
		before[i] = pfn_of(map + i * psize);
	madvise(map, n * psize, MADV_MERGEABLE);
	/* 32 unique KSM pages alone, 16 pairs: 48 KSM pages, 16 sharing. */
	ok &= wait_counts(uniq + (n - uniq) / 2, (n - uniq) / 2);
	ok &= smaps_ksm_kb(map) == n * (long)psize / 1024;
	/*
	 * Neither the page's frame nor its twin's: both were mapped when the
	 * KSM page was made.  (Frames freed by earlier merges may come back
	 * through the pool, as any freed frame may.)
	 */
	for (i = 0; i < n; i++) {
		after = pfn_of(map + i * psize);
		moved += after && after != before[i];
		j = i < uniq ? i : i ^ 1;
		reused += after == before[i] || after == before[j];
		/* pagemap's PM_MMAP_EXCLUSIVE */
		excl += !!(pagemap_of(map + i * psize) & (1ULL << 56));
	}
	ok &= moved == n && !reused && !excl;
	for (i = 0; i < n; i++) {
		long f = minor_faults();

		map[i * psize] ^= 1;
		faults_bad += minor_faults() - f != 1;
		map[i * psize] ^= 1;
	}
	ok &= !faults_bad;
	for (i = 0; i < n; i++)
		ok &= check(map + i * psize, i < uniq ? 5000 + i : 6000 + (i - uniq) / 2);
	if (!ok)
		ksft_print_msg("%d of %d moved, %d to a pair's frame, %d exclusive, %d writes %s\n",
			       moved, n, reused, excl, faults_bad, "not one fault");
	munmap(map, n * psize);
	back_to_global();
	ksft_test_result(ok, "hardened: every page KSM on a fresh frame, one fault a write\n");
}

/*
 * Hardened mode under reclaim: drop_caches makes every shrinker give up
 * what it can; the engine's shrinker only lets go of pages that are no
 * longer mapped.  The pages stay KSM and intact, a write to each still
 * faults once, and after munmap ksmd frees them all.
 */
static void test_hardened_reclaim(void)
{
	const int n = 128;
	int i, faults_bad = 0, waited;
	bool ok = true;
	char *map;

	if (!start_in("global", 1)) {
		ksft_test_result_fail("hardened reclaim: setup\n");
		return;
	}
	map = map_pages(n);
	for (i = 0; i < n; i++)
		fill(map + i * psize, 7000 + i);
	madvise(map, n * psize, MADV_MERGEABLE);
	ok &= wait_counts(n, 0);
	ok &= write_file("/proc/sys/vm/drop_caches", "2");
	ok &= ksm_wait_scans(2) && ksm_get("pages_shared") == n;
	ok &= smaps_ksm_kb(map) == n * (long)psize / 1024;
	for (i = 0; i < n; i++) {
		uint64_t pfn = pfn_of(map + i * psize);
		long f = minor_faults();

		map[i * psize] ^= 1;
		f = minor_faults() - f;
		if (f != 1 && !faults_bad++)
			ksft_print_msg("page %d: %ld faults, pfn %llx then %llx\n", i, f,
				       (unsigned long long)pfn,
				       (unsigned long long)pfn_of(map + i * psize));
		map[i * psize] ^= 1;
		ok &= check(map + i * psize, 7000 + i);
	}
	ok &= !faults_bad;
	munmap(map, n * psize);
	/* Nothing is left to scan, so no pass ends: poll. */
	for (waited = 0; waited < 100 && ksm_get("pages_shared"); waited++)
		usleep(100000);
	ok &= !ksm_get("pages_shared") && !ksm_get("pages_sharing");
	if (!ok)
		ksft_print_msg("%d writes not one fault; pages_shared %ld at the end\n",
			       faults_bad, ksm_get("pages_shared"));
	back_to_global();
	ksft_test_result(ok, "hardened: pages stay KSM through reclaim and go with munmap\n");
}

/*
 * Hardened mode with KSM stopped: the engine's references must not keep
 * pages nobody maps any more.  run=0 keeps the KSM pages; after munmap,
 * ksmd frees them within a few seconds all the same.
 */
static void test_hardened_stopped(void)
{
	const int n = 256;
	int i, waited;
	bool ok = true;
	char *map;

	if (!start_in("global", 1)) {
		ksft_test_result_fail("hardened stopped: setup\n");
		return;
	}
	map = map_pages(n);
	for (i = 0; i < n; i++)
		fill(map + i * psize, 9000 + i % (n / 2));
	madvise(map, n * psize, MADV_MERGEABLE);
	ok &= wait_counts(n / 2, n / 2);
	ok &= ksm_put("run", 0) == 0;
	munmap(map, n * psize);
	for (waited = 0; waited < 100 && ksm_get("pages_shared"); waited++)
		usleep(100000);
	ok &= !ksm_get("pages_shared") && !ksm_get("pages_sharing");
	if (!ok)
		ksft_print_msg("pages_shared %ld pages_sharing %ld after %d ms\n",
			       ksm_get("pages_shared"), ksm_get("pages_sharing"), waited * 100);
	ksm_put("run", 1);
	back_to_global();
	ksft_test_result(ok, "hardened: KSM stopped, pages nobody maps are freed\n");
}

/* Hardened mode inside process domains, with zero pages: nothing crosses. */
static void test_hardened_domains(void)
{
	struct tenant a, b;
	bool ok = true;

	ksm_put("run", 2);
	ok &= ksm_put_str("merge_domain", "process") == 0 && ksm_put("hardened", 1) == 0;
	ksm_put("use_zero_pages", 1);
	ksm_put("sleep_millisecs", 0);
	ksm_put("pages_to_scan", 10000);
	ksm_put("run", 1);
	if (!tenant_start(&a, 0, 0, NULL) || !tenant_start(&b, 1, 3, NULL)) {
		ksft_test_result_fail("hardened domains: setup\n");
		return;
	}
	/* A: one zero KSM page; B: three. */
	ok &= wait_counts(4, 2 * NPAGES - 4);
	ok &= ksm_get("ksm_zero_pages") == 0;
	ok &= common_frames(&a, &b) == 0;
	ok &= tenant_ask(&a, 'c') && tenant_ask(&b, 'c');
	tenant_stop(&a);
	tenant_stop(&b);
	back_to_global();
	ksft_test_result(ok, "hardened with process domains and zero pages\n");
}

/* Field @key of a "key value" file, or LONG_MIN. */
static long field_of(const char *path, const char *key)
{
	char line[128];
	long v = LONG_MIN;
	FILE *f = fopen(path, "r");

	if (!f)
		return LONG_MIN;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ' ')
			v = strtol(line + strlen(key) + 1, NULL, 10);
	fclose(f);
	return v;
}

static const char *const stat_keys[] = {
	"ksm_rmap_items", "ksm_zero_pages", "ksm_merging_pages", "ksm_process_profit",
};

/*
 * memory.ksm_stat of @cg must show, in its first four lines, the sums of
 * /proc/<pid>/ksm_stat over the @n tenants of @ts.
 */
static bool cgroup_adds_up(const char *cg, struct tenant **ts, int n)
{
	char path[256];
	bool ok = true;
	size_t k;
	int i;

	for (k = 0; k < ARRAY_SIZE(stat_keys); k++) {
		long want = 0, got;

		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "/proc/%d/ksm_stat", ts[i]->pid);
			want += field_of(path, stat_keys[k]);
		}
		snprintf(path, sizeof(path), "%smemory.ksm_stat", cg);
		got = field_of(path, stat_keys[k]);
		if (got != want) {
			ksft_print_msg("%s %s: %ld, processes: %ld\n", cg, stat_keys[k], got, want);
			ok = false;
		}
	}
	return ok;
}

/* The cgroups' shared and sharing add up to the global counters. */
static bool cgroups_share_all(void)
{
	long shared = field_of(T1 "memory.ksm_stat", "ksm_pages_shared") +
		      field_of(T2 "memory.ksm_stat", "ksm_pages_shared");
	long sharing = field_of(T1 "memory.ksm_stat", "ksm_pages_sharing") +
		       field_of(T2 "memory.ksm_stat", "ksm_pages_sharing");

	if (shared == ksm_get("pages_shared") && sharing == ksm_get("pages_sharing"))
		return true;
	ksft_print_msg("cgroups: shared %ld sharing %ld; KSM: %ld %ld\n", shared, sharing,
		       ksm_get("pages_shared"), ksm_get("pages_sharing"));
	return false;
}

/* Check every cgroup against its processes, with ksmd stopped. */
static bool accounts_add_up(struct tenant *a, struct tenant *b, struct tenant *c,
			    struct tenant *d)
{
	struct tenant *t1[] = { a }, *x[] = { b }, *y[] = { c, d }, *t2[] = { b, c, d };
	int ny = c ? 2 : 1;
	bool ok;

	ksm_put("run", 0);
	if (!c) {
		y[0] = d;
		t2[1] = d;
	}
	ok = cgroup_adds_up(T1, t1, 1) && cgroup_adds_up(T2X, x, 1) &&
	     cgroup_adds_up(T2Y, y, ny) && cgroup_adds_up(T2, t2, ny + 1) &&
	     cgroups_share_all();
	ksm_put("run", 1);
	return ok;
}

/*
 * memory.ksm_stat: A in t1; B in t2/x; C and D (zero pages) in t2/y.
 * Each cgroup's lines equal the sums of its processes' ksm_stat, and t2
 * adds up its children, after merging, after writes, after an exit.
 */
static void test_accounting(void)
{
	struct tenant a, b, c, d;
	bool ok = true;
	int i;

	if (!make_cgroups() || !start_in("global", 0)) {
		ksft_test_result_fail("accounting: setup\n");
		return;
	}
	ksm_put("use_zero_pages", 1);
	if (!tenant_start(&a, 0, 2, T1 "cgroup.procs") ||
	    !tenant_start(&b, 1, 3, T2X "cgroup.procs") ||
	    !tenant_start(&c, 2, 2, T2Y "cgroup.procs") ||
	    !tenant_start(&d, 3, 0, T2Y "cgroup.procs")) {
		ksft_test_result_fail("accounting: setup\n");
		return;
	}
	/* Contents 1000-1002 in A, B, C: 3 KSM pages; D's 64 zero pages. */
	ok &= wait_counts(3, 3 * NPAGES - 3);
	while (ksm_get("ksm_zero_pages") < NPAGES && ksm_wait_scans(1))
		;
	ok &= ksm_wait_scans(2);
	ok &= accounts_add_up(&a, &b, &c, &d);
	ok &= field_of(T1 "memory.ksm_stat", "ksm_scan_usec") > 0;

	/* Writes break merges and zero pages; ksmd counts them on its next visit. */
	ok &= tenant_ask(&a, 'w') && tenant_ask(&d, 'w') && tenant_ask(&c, 'w');
	ok &= ksm_wait_scans(3);
	ok &= accounts_add_up(&a, &b, &c, &d);

	/* C exits: t2/y is D alone. */
	tenant_stop(&c);
	ok &= ksm_wait_scans(3);
	ok &= accounts_add_up(&a, &b, NULL, &d);
	ok &= tenant_ask(&a, 'c') && tenant_ask(&b, 'c') && tenant_ask(&d, 'c');
	tenant_stop(&a);
	tenant_stop(&b);
	tenant_stop(&d);
	/* No mm is left to scan, so no pass ends: wait for the reaping. */
	for (i = 0; i < 100; i++) {
		if (!field_of(T1 "memory.ksm_stat", "ksm_rmap_items") &&
		    !field_of(T2 "memory.ksm_stat", "ksm_rmap_items"))
			break;
		usleep(100000);
	}
	ok &= field_of(T1 "memory.ksm_stat", "ksm_merging_pages") == 0 &&
	      field_of(T2 "memory.ksm_stat", "ksm_merging_pages") == 0 &&
	      field_of(T2 "memory.ksm_stat", "ksm_zero_pages") == 0 &&
	      field_of(T2 "memory.ksm_stat", "ksm_rmap_items") == 0;
	back_to_global();
	remove_cgroups();
	ksft_test_result(ok, "memory.ksm_stat adds up its processes' ksm_stat, and its children\n");
}

static const struct ksm_test tests[] = {
	{ "knobs", test_knobs, 1 },
	{ "process", test_process_domain, 1 },
	{ "memcg", test_memcg_domain, 1 },
	{ "move", test_memcg_move, 1 },
	{ "zero", test_zero_pages_in_domains, 1 },
	{ "hardened", test_hardened, 1 },
	{ "hardened_reclaim", test_hardened_reclaim, 1 },
	{ "hardened_stopped", test_hardened_stopped, 1 },
	{ "hardened_domains", test_hardened_domains, 1 },
	{ "accounting", test_accounting, 1 },
};

int main(int argc, char **argv)
{
	psize = getpagesize();
	frames = mmap(NULL, sizeof(*frames) * MAX_TENANTS, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (frames == MAP_FAILED)
		return 1;
	ksm_run_tests(tests, ARRAY_SIZE(tests), argc, argv);
	return 0;
}
