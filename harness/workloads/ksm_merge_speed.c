// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_merge_speed - how fast ksmd merges a region in which every page has
 * exactly one duplicate: M MiB made of two identical halves of random
 * pages, backed by small pages (MADV_NOHUGEPAGE) or by THPs (-t,
 * MADV_HUGEPAGE on a 2 MiB aligned region).  ksmd runs at full speed
 * (sleep_millisecs=0, pages_to_scan=20000).  The clock starts at
 * MADV_MERGEABLE + run=1 and stops when pages_sharing reaches M/2 MiB
 * worth of pages ("complete") or has not risen for 5 s and three full
 * scans, or for 120 s ("stalled", timed to its last rise).  The scans
 * count because a pass over a large region can take longer than 5 s,
 * and upstream's ksmd merges nothing in the first pass over new pages.
 *
 * The cycle runs R times (-r, 1 by default), each on a new region after
 * run=2, and the figures are the medians: a merge of 256 MiB takes well
 * under a second here, short enough for one slow cycle (a host hiccup,
 * the emulator translating a path anew) to decide a single measurement.
 *
 * usage: ksm_merge_speed [-m MiB] [-t] [-n] [-r cycles]
 * prints: merge mib=<n> backing=<4k|thp> ... per cycle and the figures
 *         merge_s_<size>_<backing>, merge_cpu_s_<size>_<backing>
 *         (not with -n: a warm-up run, so that the emulator has translated
 *         the kernel's merge paths before a measured run)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ksm_util.h"

#define HPAGE		(2UL << 20)
#define STALL_S		5.0
#define STALL_SCANS	3
#define STALL_MAX_S	120.0
#define LIMIT_S		900.0
#define MAX_CYCLES	9

/* What one merge cycle measured. */
struct cycle {
	double wall_s;
	double cpu_s;
};

/*
 * Map and fill a fresh region, merge it and time the merge into @c.
 * Returns 0, or the exit status of a failure.
 */
static int merge_cycle(long mib, int thp, pid_t ksmd, struct cycle *c)
{
	long psize = sysconf(_SC_PAGESIZE), thp_kb = 0, sharing, best = -1, scans_best;
	double t0, c0, t, t_best = 0, c_best = 0;
	const char *how = "stalled";
	size_t len = (size_t)mib << 20, half = len / 2, i, expect = half / psize;
	char *raw, *map;

	raw = mmap(NULL, len + HPAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	map = (char *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
	madvise(map, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	for (i = 0; i < half; i += psize)
		ksm_fill(map + i, psize, 7, i / psize);
	memcpy(map + half, map, half);
	if (thp) {
		thp_kb = kb_field("/proc/self/smaps_rollup", "AnonHugePages");
		printf("merge: AnonHugePages %ld kB of %zu kB before merging\n",
		       thp_kb, len >> 10);
		if (thp_kb <= 0) {
			printf("merge: no THP backing the region, not measured\n");
			return 5;
		}
	}

	ksm_profile_window(1);
	t0 = ksm_now();
	c0 = cpu_seconds(ksmd);
	if (madvise(map, len, MADV_MERGEABLE)) {
		perror("madvise(MADV_MERGEABLE)");
		return 1;
	}
	scans_best = ksm_read("full_scans");
	ksm_write("run", 1);
	for (;;) {
		usleep(20000);
		t = ksm_now();
		sharing = ksm_read("pages_sharing");
		if (sharing > best) {
			best = sharing;
			t_best = t;
			c_best = cpu_seconds(ksmd);
			scans_best = ksm_read("full_scans");
		}
		if (sharing >= (long)expect) {
			how = "complete";
			break;
		}
		if ((t - t_best > STALL_S && ksm_read("full_scans") - scans_best >= STALL_SCANS) ||
		    t - t_best > STALL_MAX_S || t - t0 > LIMIT_S)
			break;
	}
	ksm_profile_window(0);
	ksm_write("run", 2);
	munmap(raw, len + HPAGE);

	printf("merge mib=%ld backing=%s thp_kb=%ld pages_sharing=%ld expected=%zu %s wall_s=%.2f cpu_s=%.2f\n",
	       mib, thp ? "thp" : "4k", thp_kb, best, expect, how, t_best - t0, c_best - c0);
	if (best < (long)expect)
		printf("@@NOTE merge %s %s stalled at %ld of %zu pages_sharing\n",
		       size_tag(mib), thp ? "thp" : "4k", best, expect);
	c->wall_s = t_best - t0;
	c->cpu_s = c_best - c0;
	return best < (long)expect ? 3 : 0;
}

int main(int argc, char **argv)
{
	double wall[MAX_CYCLES], cpu[MAX_CYCLES];
	int opt, thp = 0, figures = 1, cycles = 1, i, err = 0;
	pid_t ksmd = find_ksmd();
	const char *backing;
	struct cycle c;
	long mib = 256;

	while ((opt = getopt(argc, argv, "m:tnr:")) != -1) {
		if (opt == 'm')
			mib = atol(optarg);
		else if (opt == 't')
			thp = 1;
		else if (opt == 'n')
			figures = 0;
		else if (opt == 'r')
			cycles = atoi(optarg);
	}
	if (cycles < 1 || cycles > MAX_CYCLES)
		cycles = 1;
	backing = thp ? "thp" : "4k";
	if (!ksmd || ksm_write("run", 2))
		return 4;
	ksm_write("sleep_millisecs", 0);
	ksm_write("pages_to_scan", 20000);

	for (i = 0; i < cycles; i++) {
		int ret = merge_cycle(mib, thp, ksmd, &c);

		/* A region that could not be set up is not measured at all. */
		if (ret && ret != 3)
			return ret;
		err = err ?: ret;
		wall[i] = c.wall_s;
		cpu[i] = c.cpu_s;
	}
	if (!figures)
		return err;
	bench_fig(ksm_median(wall, cycles), "merge_s_%s_%s", size_tag(mib), backing);
	bench_fig(ksm_median(cpu, cycles), "merge_cpu_s_%s_%s", size_tag(mib), backing);
	return 0;
}
