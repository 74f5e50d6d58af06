// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_scan_cost - ksmd CPU time per scanned page on memory that never
 * merges: N MiB of unique random pages under MADV_MERGEABLE, scanned at
 * full speed.  After two warm-up passes, ksmd's CPU time (from
 * /proc/<ksmd>/stat) over at least three full passes is divided by the
 * pages scanned in them.
 *
 * usage: ksm_scan_cost [-m MiB] [-s passes] [-f]
 * prints: scan_cost mib=<n> pages=<n> passes=<n> cpu_s=<x> us_per_page=<x>
 * and with -f the figure "@@FIG scan_us_per_page_<size> <x>" for
 * harness/bench.sh.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ksm_util.h"

int main(int argc, char **argv)
{
	long mib = 256, passes = 3, psize = sysconf(_SC_PAGESIZE), pages, p0, p1;
	double c0, c1;
	uint64_t x = 88172645463325252ULL, *w;
	pid_t ksmd = find_ksmd();
	char *map;
	long i;
	int opt, fig = 0;

	while ((opt = getopt(argc, argv, "m:s:f")) != -1) {
		if (opt == 'm')
			mib = atol(optarg);
		else if (opt == 's')
			passes = atol(optarg);
		else if (opt == 'f')
			fig = 1;
	}
	if (!ksmd)
		return 4;
	pages = mib * 1024 * 1024 / psize;
	map = mmap(NULL, pages * psize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return 1;
	madvise(map, pages * psize, MADV_NOHUGEPAGE);
	for (w = (uint64_t *)map, i = 0; i < pages * psize / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = x;
	}
	ksm_write("run", 2);
	ksm_write("sleep_millisecs", 0);
	ksm_write("pages_to_scan", 20000);
	madvise(map, pages * psize, MADV_MERGEABLE);
	ksm_write("run", 1);
	if (ksm_wait_scans(2, 600))
		return 3;
	ksm_profile_window(1);
	c0 = cpu_seconds(ksmd);
	p0 = ksm_read("pages_scanned");
	if (ksm_wait_scans(passes, 600))
		return 3;
	c1 = cpu_seconds(ksmd);
	ksm_profile_window(0);
	p1 = ksm_read("pages_scanned");
	ksm_write("run", 2);
	printf("scan_cost mib=%ld pages=%ld passes=%ld cpu_s=%.2f us_per_page=%.2f\n",
	       mib, p1 - p0, passes, c1 - c0, (c1 - c0) * 1e6 / (p1 - p0));
	if (fig)
		bench_fig((c1 - c0) * 1e6 / (p1 - p0), "scan_us_per_page_%s", size_tag(mib));
	return 0;
}
