// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_cow - cost of breaking KSM sharing.  M MiB made of two identical
 * halves of random pages (every page has one duplicate) is merged at full
 * speed; with ksmd stopped (run=0) and idle, one byte of every page is
 * rewritten with its own value (one copy-on-write fault per page, content
 * unchanged) and timed.  The region is merged again and
 * MADV_UNMERGEABLE over it is timed.  The cycle runs R times (-r, 3 by
 * default), each on a new region after run=2, and the figures are the
 * medians, so that one slow cycle (the
 * emulator translating a path for the first time, a host hiccup) does
 * not decide them.  Minor faults (getrusage) are counted to show that
 * the pages really were merged.
 *
 * usage: ksm_cow [-m MiB] [-r cycles]
 * prints: cow ... per cycle and the figures cow_us_per_page,
 *         unmerge_us_per_mib
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ksm_util.h"

#define STALL_S		10.0
#define MAX_CYCLES	15

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/*
 * Run ksmd until it has made two more full scans and pages_sharing has
 * reached @expect, then stop it: 0, or -1 if pages_sharing stalls.
 */
static int merge(long expect)
{
	double last = ksm_now();
	long best = -1, sharing;

	ksm_write("run", 1);
	if (ksm_wait_scans(2, 600))
		return -1;
	while ((sharing = ksm_read("pages_sharing")) < expect) {
		if (sharing > best) {
			best = sharing;
			last = ksm_now();
		} else if (ksm_now() - last > STALL_S) {
			printf("@@NOTE cow: pages_sharing stalled at %ld of %ld\n",
			       sharing, expect);
			return -1;
		}
		usleep(20000);
	}
	ksm_write("run", 0);
	return 0;
}

/* Wait until ksmd has finished the batch it was in (its CPU time is still). */
static void ksmd_quiet(pid_t ksmd)
{
	double before, after = cpu_seconds(ksmd);
	int i;

	for (i = 0; i < 100; i++) {
		before = after;
		usleep(50000);
		after = cpu_seconds(ksmd);
		if (after == before)
			return;
	}
}

int main(int argc, char **argv)
{
	long mib = 128, psize = sysconf(_SC_PAGESIZE), pages, f0, cow_flt, unm_flt;
	double t0, cow_s[MAX_CYCLES], unm_s[MAX_CYCLES];
	pid_t ksmd = find_ksmd();
	int opt, cycles = 3, c;
	size_t len, i;
	char *map;

	while ((opt = getopt(argc, argv, "m:r:")) != -1) {
		if (opt == 'm')
			mib = atol(optarg);
		else if (opt == 'r')
			cycles = atoi(optarg);
	}
	if (cycles < 1 || cycles > MAX_CYCLES)
		cycles = 3;
	if (!ksmd || ksm_write("run", 2))
		return 4;
	ksm_write("sleep_millisecs", 0);
	ksm_write("pages_to_scan", 20000);

	len = (size_t)mib << 20;
	pages = len / psize;
	for (c = 0; c < cycles; c++) {
		map = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		madvise(map, len, MADV_NOHUGEPAGE);
		for (i = 0; i < len / 2; i += psize)
			ksm_fill(map + i, psize, 11 + c, i / psize);
		memcpy(map + len / 2, map, len / 2);
		if (madvise(map, len, MADV_MERGEABLE)) {
			perror("madvise(MADV_MERGEABLE)");
			return 1;
		}
		if (merge(pages / 2))
			return 3;
		ksmd_quiet(ksmd);
		f0 = minflt();
		t0 = ksm_now();
		for (i = 0; i < len; i += psize) {
			volatile char *p = map + i;

			*p = *p;
		}
		cow_s[c] = ksm_now() - t0;
		cow_flt = minflt() - f0;

		if (merge(pages / 2))
			return 3;
		ksmd_quiet(ksmd);
		f0 = minflt();
		t0 = ksm_now();
		if (madvise(map, len, MADV_UNMERGEABLE)) {
			perror("madvise(MADV_UNMERGEABLE)");
			return 1;
		}
		unm_s[c] = ksm_now() - t0;
		unm_flt = minflt() - f0;
		munmap(map, len);
		ksm_write("run", 2);

		printf("cow mib=%ld pages=%ld cycle=%d cow_s=%.3f cow_faults=%ld unmerge_s=%.3f unmerge_faults=%ld\n",
		       mib, pages, c, cow_s[c], cow_flt, unm_s[c], unm_flt);
		if (cow_flt < pages * 9 / 10 || unm_flt < pages * 9 / 10)
			printf("@@NOTE cow: only %ld COW and %ld unmerge faults for %ld pages\n",
			       cow_flt, unm_flt, pages);
	}
	ksm_write("run", 2);
	bench_fig(ksm_median(cow_s, cycles) * 1e6 / pages, "cow_us_per_page");
	bench_fig(ksm_median(unm_s, cycles) * 1e6 / mib, "unmerge_us_per_mib");
	return 0;
}
