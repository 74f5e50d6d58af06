// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_demo - a small host-like workload that KSM should deduplicate,
 * with a live view of the savings until they converge.
 *
 * Each of N worker processes maps M MiB of private anonymous memory and
 * marks it MADV_MERGEABLE:
 *   - 75% "image" pages, identical across the workers,
 *   - 10% zero pages,
 *   - 15% pages unique to the worker.
 * The parent samples /sys/kernel/mm/ksm and ksmd's CPU time once a
 * second and stops when pages_sharing has not moved for two full scans
 * (or after a time limit), then prints a summary.
 *
 * usage: ksm_demo [-n workers] [-m MiB] [-t seconds] [-q]
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ksm_util.h"

static long page_size;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Deterministic page content: the same (seed, index) gives the same page. */
static void fill_page(uint64_t *p, uint64_t seed, uint64_t index)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL ^ (index + 1) * 0xbf58476d1ce4e5b9ULL;
	size_t i;

	for (i = 0; i < page_size / sizeof(*p); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
}

static void worker(int id, size_t pages)
{
	char *mem = mmap(NULL, pages * page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (mem == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	madvise(mem, pages * page_size, MADV_NOHUGEPAGE);
	for (i = 0; i < pages; i++) {
		char *p = mem + i * page_size;
		unsigned int kind = i % 20;

		if (kind < 15)
			fill_page((uint64_t *)p, 1, i);		/* image */
		else if (kind < 17)
			memset(p, 0, page_size), p[0] = 0;	/* zero */
		else
			fill_page((uint64_t *)p, 1000 + id, i);	/* unique */
	}
	if (madvise(mem, pages * page_size, MADV_MERGEABLE)) {
		perror("madvise(MADV_MERGEABLE)");
		exit(1);
	}
	pause();
	exit(0);
}

int main(int argc, char **argv)
{
	int workers = 4, mib = 128, limit = 240, quiet = 0, opt, i, stable = 0;
	long sharing, last_sharing = -1, scans, stable_since_scan = -1;
	double t0, c0, t, c, last_t, last_c, peak_cpu = 0;
	size_t pages, expect;
	pid_t *pids, ksmd;

	while ((opt = getopt(argc, argv, "n:m:t:q")) != -1) {
		switch (opt) {
		case 'n': workers = atoi(optarg); break;
		case 'm': mib = atoi(optarg); break;
		case 't': limit = atoi(optarg); break;
		case 'q': quiet = 1; break;
		default:
			fprintf(stderr, "usage: %s [-n workers] [-m MiB] [-t seconds] [-q]\n", argv[0]);
			return 2;
		}
	}
	page_size = sysconf(_SC_PAGESIZE);
	pages = (size_t)mib * 1024 * 1024 / page_size;
	ksmd = find_ksmd();
	if (!ksmd || ksm_read("run") < 0) {
		printf("KSM is not available on this kernel\n");
		return 4;
	}
	ksm_write("run", 0);
	ksm_write("pages_to_scan", 1000);
	ksm_write("sleep_millisecs", 20);

	pids = calloc(workers, sizeof(*pids));
	for (i = 0; i < workers; i++) {
		pids[i] = fork();
		if (!pids[i])
			worker(i, pages);
	}
	sleep(2);	/* let the workers fill their memory */

	/* image pages: one copy kept; zero pages: one KSM page for all */
	expect = (pages * 15 / 20) * (workers - 1) + (pages * 2 / 20) * workers - 1;
	printf("demo: %d workers x %d MiB; expected saving about %.1f MiB\n",
	       workers, mib, expect * (double)page_size / (1 << 20));
	printf("%6s %12s %13s %10s %6s %6s\n", "time", "pages_shared",
	       "pages_sharing", "saved MiB", "ksmd%", "scans");

	ksm_write("run", 1);
	t0 = last_t = now();
	c0 = last_c = cpu_seconds(ksmd);
	for (;;) {
		double pct;

		sleep(1);
		t = now();
		c = cpu_seconds(ksmd);
		pct = 100.0 * (c - last_c) / (t - last_t);
		if (pct > peak_cpu)
			peak_cpu = pct;
		last_t = t;
		last_c = c;
		sharing = ksm_read("pages_sharing");
		scans = ksm_read("full_scans");
		if (!quiet)
			printf("%5.0fs %12ld %13ld %10.1f %5.0f%% %6ld\n", t - t0,
			       ksm_read("pages_shared"), sharing,
			       sharing * (double)page_size / (1 << 20), pct, scans);
		fflush(stdout);
		if (sharing != last_sharing) {
			last_sharing = sharing;
			stable_since_scan = scans;
		} else if (sharing > 0 && scans >= stable_since_scan + 2) {
			stable = 1;
			break;
		}
		if (t - t0 > limit)
			break;
	}

	printf("\nsummary: %s after %.1f s\n", stable ? "converged" : "NOT converged",
	       last_t - t0);
	printf("  pages_shared   %ld\n", ksm_read("pages_shared"));
	printf("  pages_sharing  %ld  (%.1f MiB saved, %.0f%% of the expected %.1f MiB)\n",
	       last_sharing, last_sharing * (double)page_size / (1 << 20),
	       100.0 * last_sharing / expect, expect * (double)page_size / (1 << 20));
	printf("  full_scans     %ld\n", ksm_read("full_scans"));
	printf("  general_profit %ld bytes\n", ksm_read("general_profit"));
	printf("  ksmd CPU       %.1f s (%.0f%% average, %.0f%% peak)\n", last_c - c0,
	       100.0 * (last_c - c0) / (last_t - t0), peak_cpu);

	for (i = 0; i < workers; i++)
		kill(pids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	ksm_write("run", 2);
	return stable ? 0 : 1;
}
