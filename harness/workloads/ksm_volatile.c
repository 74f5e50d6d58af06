// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_volatile - what merging costs on memory that keeps changing.
 *
 * M MiB of MADV_MERGEABLE pages hold contents drawn from a small pool, so
 * that every page has duplicates; every 100 ms the process rewrites a
 * random half of its pages with other contents of the pool.  A KSM that
 * merges a page which is rewritten soon after pays the merge and then a
 * copy-on-write break (churn); one that waits until a page looks stable
 * merges less of such memory.  ksmd runs at pages_to_scan=P and
 * sleep_millisecs=20.  After a warm-up, over a window of T seconds:
 * copy-on-write breaks of KSM pages per second (cow_ksm in /proc/vmstat),
 * ksmd's CPU use, and the average pages_sharing (the memory it did save).
 *
 * usage: ksm_volatile [-m MiB] [-p pages_to_scan] [-w warm-up-s] [-t window-s]
 * prints: volatile ... and the figures volatile_cow_per_s,
 * volatile_cpu_pct, volatile_sharing_pages, volatile_cow_per_saved_page
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ksm_util.h"

/* Distinct contents the pages are drawn from. */
#define POOL		64
/* Time between two rewrites of half the pages. */
#define PERIOD_US	100000

static long vmstat(const char *name)
{
	char line[128];
	size_t len = strlen(name);
	long v = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, name, len) && line[len] == ' ') {
			v = atol(line + len + 1);
			break;
		}
	}
	if (f)
		fclose(f);
	return v;
}

/* Rewrite a random half of the @n pages at @map with pool contents. */
static void rewrite_half(char *map, size_t n, long psize, unsigned int *seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (rand_r(seed) & 1)
			ksm_fill(map + i * psize, psize, 41, rand_r(seed) % POOL);
}

int main(int argc, char **argv)
{
	long mib = 16, psize = sysconf(_SC_PAGESIZE), scan = 2000, warmup = 5, window = 20;
	double t0, t1, c0 = 0, c1, next, sharing = 0;
	long cow0 = 0, cow1, samples = 0, rewrites = 0;
	bool measuring = false;
	pid_t ksmd = find_ksmd();
	unsigned int seed = 1;
	size_t n, i;
	char *map;
	int opt;

	while ((opt = getopt(argc, argv, "m:p:w:t:")) != -1) {
		if (opt == 'm')
			mib = atol(optarg);
		else if (opt == 'p')
			scan = atol(optarg);
		else if (opt == 'w')
			warmup = atol(optarg);
		else if (opt == 't')
			window = atol(optarg);
	}
	if (!ksmd || ksm_write("run", 2))
		return 4;
	ksm_write("pages_to_scan", scan);
	ksm_write("sleep_millisecs", 20);
	n = ((size_t)mib << 20) / psize;
	map = mmap(NULL, n * psize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	madvise(map, n * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++)
		ksm_fill(map + i * psize, psize, 41, rand_r(&seed) % POOL);
	if (madvise(map, n * psize, MADV_MERGEABLE)) {
		perror("madvise(MADV_MERGEABLE)");
		return 1;
	}
	ksm_write("run", 1);

	next = ksm_now();
	t0 = next + warmup;
	t1 = t0 + window;
	for (;;) {
		double now = ksm_now();

		if (now >= t0 && !measuring) {
			c0 = cpu_seconds(ksmd);
			cow0 = vmstat("cow_ksm");
			t0 = now;
			measuring = true;
		}
		if (now >= t1)
			break;
		if (measuring) {
			sharing += ksm_read("pages_sharing");
			samples++;
			rewrites++;
		}
		rewrite_half(map, n, psize, &seed);
		next += PERIOD_US / 1e6;
		if (next > ksm_now())
			usleep((next - ksm_now()) * 1e6);
	}
	t1 = ksm_now();
	c1 = cpu_seconds(ksmd);
	cow1 = vmstat("cow_ksm");
	ksm_write("run", 2);

	if (cow0 < 0 || cow1 < 0) {
		fprintf(stderr, "no cow_ksm in /proc/vmstat\n");
		return 1;
	}
	/* The rewrites keep their 100 ms period only if they take less. */
	printf("volatile mib=%ld pages_to_scan=%ld window_s=%.1f rewrite_period_ms=%.0f cow_ksm=%ld cpu_s=%.2f sharing_avg=%.0f\n",
	       mib, scan, t1 - t0, rewrites ? 1000 * (t1 - t0) / rewrites : 0, cow1 - cow0,
	       c1 - c0, samples ? sharing / samples : 0);
	bench_fig((cow1 - cow0) / (t1 - t0), "volatile_cow_per_s");
	bench_fig(100 * (c1 - c0) / (t1 - t0), "volatile_cpu_pct");
	bench_fig(samples ? sharing / samples : 0, "volatile_sharing_pages");
	/* Churn per page saved (at least one): the price of what merging saved. */
	bench_fig((cow1 - cow0) / (t1 - t0) / (samples && sharing > samples ? sharing / samples : 1),
		  "volatile_cow_per_saved_page");
	return 0;
}
