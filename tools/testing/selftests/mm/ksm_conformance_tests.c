// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm_conformance_tests - the counters of /sys/kernel/mm/ksm must read
 * exactly what Linux 6.12 reads for a known workload, whenever ksmd is
 * stopped, and equal content must end up in one KSM page.
 *
 * Three processes, each with the same amount of MADV_MERGEABLE anonymous
 * memory (one mapping, or mappings of 1 MiB each), charged to a memory
 * cgroup of the test's own, optionally bound to NUMA node 0.  They are
 * stopped with SIGSTOP between content changes.  ksmd scans everything in
 * one batch (pages_to_scan and max_page_sharing are the number of pages,
 * sleep_millisecs=0, smart_scan=0, merge_across_nodes=1).  After each
 * change the test waits for three more full scans, writes run=0, reads
 * the counters and writes run=1.  With N pages in all:
 *
 *   all pages 'd'                        shared 1 sharing N-1 unshared 0
 *   one page of process 2 'e'            shared 1 sharing N-2 unshared 1
 *   process 1 all 'c', the others 'a'    shared 2 sharing N-2 unshared 0
 *
 * pages_volatile is 0 in each.  run=2 resets full_scans to 0.
 *
 * usage: ksm_conformance_tests [-m MiB per process] [-r runs]
 *
 * Each layout runs three times by default (about 2.5 minutes in the test
 * VM under TCG; -r 10 takes three times as long); on a KASAN kernel,
 * where a pass costs many times more, twice (the test says so).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/mempolicy.h>

#include "ksm_test_util.h"

#define NR_PROCS	3
#define CHUNK		(1024UL * 1024)

static size_t proc_bytes = 128UL << 20;
static int runs = -1;

/* Is this a KASAN kernel? (/proc/config.gz, through busybox's zcat) */
static bool kasan_kernel(void)
{
	FILE *f = popen("zcat /proc/config.gz 2>/dev/null | grep -c '^CONFIG_KASAN=y'", "r");
	int n = 0;

	if (!f)
		return false;
	if (fscanf(f, "%d", &n) != 1)
		n = 0;
	pclose(f);
	return n > 0;
}

/* What a process is told to do; it answers one byte when done. */
struct command {
	char op;	/* 'f': fill every page, 'p': fill one page, 'x': exit */
	char c;		/* the byte to fill with */
	long page;	/* the page, for 'p' */
};

struct layout {
	const char *name;
	bool chunks;	/* mappings of CHUNK bytes, a guard page apart */
	bool bind;	/* MPOL_BIND to node 0 */
};

/*
 * Map the process's memory.  Mappings of CHUNK bytes are kept apart by
 * an inaccessible page each, so that they stay separate VMAs.
 */
static char **map_memory(bool chunks, size_t *nr)
{
	size_t n = chunks ? proc_bytes / CHUNK : 1, len = chunks ? CHUNK : proc_bytes, i;
	size_t stride = len + psize;
	char **maps = calloc(n, sizeof(*maps));
	char *area;

	area = mmap(NULL, n * stride, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!maps || area == MAP_FAILED)
		return NULL;
	for (i = 0; i < n; i++) {
		maps[i] = mmap(area + i * stride, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (maps[i] == MAP_FAILED || madvise(maps[i], len, MADV_MERGEABLE))
			return NULL;
	}
	*nr = n;
	return maps;
}

static void tenant(const struct layout *l, int cmd_fd, int ans_fd)
{
	size_t nr = 0, len, pages_per_map, i;
	unsigned long node0 = 1;
	struct command cmd;
	char **maps;
	char ans;

	if (l->bind && syscall(SYS_set_mempolicy, MPOL_BIND, &node0, 2))
		exit(1);
	maps = map_memory(l->chunks, &nr);
	if (!maps)
		exit(1);
	len = l->chunks ? CHUNK : proc_bytes;
	pages_per_map = len / psize;
	while (read(cmd_fd, &cmd, sizeof(cmd)) == sizeof(cmd) && cmd.op != 'x') {
		if (cmd.op == 'f') {
			for (i = 0; i < nr; i++)
				memset(maps[i], cmd.c, len);
		} else if (cmd.op == 'p') {
			memset(maps[cmd.page / pages_per_map] + cmd.page % pages_per_map * psize,
			       cmd.c, psize);
		}
		ans = 'k';
		if (write(ans_fd, &ans, 1) != 1)
			exit(1);
	}
	exit(0);
}

struct procs {
	pid_t pid[NR_PROCS];
	int cmd[NR_PROCS];
	int ans[NR_PROCS];
};

static bool start_procs(struct procs *p, const struct layout *l)
{
	int i;

	for (i = 0; i < NR_PROCS; i++) {
		int c[2], a[2];

		if (pipe(c) || pipe(a))
			return false;
		p->pid[i] = fork();
		if (p->pid[i] < 0)
			return false;
		if (!p->pid[i]) {
			close(c[1]);
			close(a[0]);
			tenant(l, c[0], a[1]);
		}
		close(c[0]);
		close(a[1]);
		p->cmd[i] = c[1];
		p->ans[i] = a[0];
	}
	return true;
}

/* Let process @i run @cmd, then stop it again. */
static bool command(struct procs *p, int i, char op, char c, long page)
{
	struct command cmd = { .op = op, .c = c, .page = page };
	char ans;
	int status;

	kill(p->pid[i], SIGCONT);
	if (write(p->cmd[i], &cmd, sizeof(cmd)) != sizeof(cmd) ||
	    read(p->ans[i], &ans, 1) != 1 || ans != 'k')
		return false;
	kill(p->pid[i], SIGSTOP);
	return waitpid(p->pid[i], &status, WUNTRACED) == p->pid[i] && WIFSTOPPED(status);
}

static void stop_procs(struct procs *p)
{
	int i;

	for (i = 0; i < NR_PROCS; i++) {
		kill(p->pid[i], SIGKILL);
		kill(p->pid[i], SIGCONT);
		waitpid(p->pid[i], NULL, 0);
		close(p->cmd[i]);
		close(p->ans[i]);
	}
}

struct counts {
	long shared, sharing, unshared, volatile_;
};

/* Three more full scans, then the counters with ksmd stopped. */
static bool settle_and_read(struct counts *got)
{
	bool ok = ksm_wait_scans(3);

	ksm_put("run", 0);
	got->shared = ksm_get("pages_shared");
	got->sharing = ksm_get("pages_sharing");
	got->unshared = ksm_get("pages_unshared");
	got->volatile_ = ksm_get("pages_volatile");
	ksm_put("run", 1);
	return ok;
}

static bool expect(const char *phase, const struct counts *got, long shared, long sharing,
		   long unshared)
{
	if (got->shared == shared && got->sharing == sharing && got->unshared == unshared &&
	    !got->volatile_)
		return true;
	ksft_print_msg("%s: shared %ld sharing %ld unshared %ld volatile %ld, want %ld %ld %ld 0\n",
		       phase, got->shared, got->sharing, got->unshared, got->volatile_,
		       shared, sharing, unshared);
	return false;
}

static void ksm_setup(long pages)
{
	ksm_put("run", 2);
	ksm_put("use_zero_pages", 0);
	ksm_put("merge_across_nodes", 1);
	ksm_put("max_page_sharing", pages);
	ksm_put("pages_to_scan", pages);
	ksm_put("sleep_millisecs", 0);
	ksm_put("smart_scan", 0);
	ksm_put("run", 1);
}

/* One run of the workload; false at the first count that differs. */
static bool one_run(const struct layout *l)
{
	long per_proc = proc_bytes / psize, n = NR_PROCS * per_proc;
	struct procs p;
	struct counts got;
	bool ok;
	int i;

	ksm_setup(n);
	if (!start_procs(&p, l))
		return false;
	/* Each process fills its memory with 'd', then stays stopped. */
	for (i = 0, ok = true; ok && i < NR_PROCS; i++)
		ok = command(&p, i, 'f', 'd', 0);
	ok = ok && settle_and_read(&got) && expect("all d", &got, 1, n - 1, 0);
	ok = ok && command(&p, 1, 'p', 'e', per_proc / 2) &&
	     settle_and_read(&got) && expect("one page e", &got, 1, n - 2, 1);
	ok = ok && command(&p, 0, 'f', 'c', 0) && command(&p, 1, 'f', 'a', 0) &&
	     command(&p, 2, 'f', 'a', 0) &&
	     settle_and_read(&got) && expect("c and a", &got, 2, n - 2, 0);
	ok = ok && command(&p, 0, 'f', 'd', 0) && command(&p, 1, 'f', 'd', 0) &&
	     command(&p, 2, 'f', 'd', 0) &&
	     settle_and_read(&got) && expect("all d again", &got, 1, n - 1, 0);
	stop_procs(&p);
	return ok;
}

static void test_layout(const struct layout *l)
{
	int r, failed = 0;

	for (r = 0; r < runs; r++)
		if (!one_run(l)) {
			ksft_print_msg("%s: run %d of %d failed\n", l->name, r + 1, runs);
			failed++;
		}
	ksft_test_result(!failed, "6.12's counts, %s: %d of %d runs exact\n", l->name,
			 runs - failed, runs);
}

static void test_run2_resets_full_scans(void)
{
	char *map = map_pages(16);
	long before, after = -1;
	int err = 0;
	bool ok;

	memset(map, 1, 16 * psize);
	madvise(map, 16 * psize, MADV_MERGEABLE);
	ksm_setup(100);
	ok = ksm_wait_scans(2);
	before = ksm_get("full_scans");
	if (ok) {
		err = ksm_put("run", 2);
		after = ksm_get("full_scans");
	}
	if (!ok || err || after)
		ksft_print_msg("full_scans %ld, after run=2 (error %d): %ld\n", before, err, after);
	ksft_test_result(ok && !err && !after, "run=2 resets full_scans to 0\n");
	munmap(map, 16 * psize);
}

static const struct layout layouts[] = {
	{ "one mapping", false, false },
	{ "1 MiB mappings", true, false },
	{ "one mapping on node 0", false, true },
	{ "1 MiB mappings on node 0", true, true },
};

int main(int argc, char **argv)
{
	bool in_cgroup;
	size_t i;
	int opt;

	while ((opt = getopt(argc, argv, "m:r:")) != -1) {
		if (opt == 'm')
			proc_bytes = strtoul(optarg, NULL, 0) * CHUNK;
		else if (opt == 'r')
			runs = atoi(optarg);
	}
	ksm_test_start();
	if (!proc_bytes || proc_bytes % CHUNK)
		ksft_exit_fail_msg("-m must be a positive number of MiB\n");
	if (runs < 0) {
		runs = kasan_kernel() ? 2 : 3;
		ksft_print_msg("%d runs of each layout, %zu MiB per process\n", runs,
			       proc_bytes >> 20);
	}
	ksft_set_plan(ARRAY_SIZE(layouts) + 1);
	in_cgroup = enter_test_cgroup();
	if (!in_cgroup)
		ksft_print_msg("no memory cgroup: the processes run outside one\n");
	for (i = 0; i < ARRAY_SIZE(layouts); i++)
		test_layout(&layouts[i]);
	test_run2_resets_full_scans();
	if (in_cgroup)
		leave_test_cgroup();
	ksm_stop();
	ksft_finished();
}
