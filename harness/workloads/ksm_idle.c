// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_idle - ksmd's CPU use at upstream's default knobs
 * (pages_to_scan=100, sleep_millisecs=20) on memory that never changes
 * and never merges: M MiB of unique random pages under MADV_MERGEABLE.
 *
 * Idle is the steady state, not the first visits after registering: at
 * the default knobs one pass over 1 GiB takes about a minute, and smart
 * scan only settles after a dozen passes.  So ksmd first makes P passes
 * at full speed (-p, 6 by default: every page was then examined five
 * times and skipping has begun), then runs at the default knobs; after a
 * warm-up, ksmd's CPU time over a window is divided by the window's wall
 * time.
 *
 * usage: ksm_idle [-m MiB] [-p passes] [-w warm-up-seconds] [-t window-seconds]
 * prints: idle ... and the figure idle_cpu_pct
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ksm_util.h"

int main(int argc, char **argv)
{
	long mib = 1024, psize = sysconf(_SC_PAGESIZE), warmup = 10, window = 30, passes = 6;
	long s0, s1, f0, f1;
	double t0, t1, c0, c1;
	pid_t ksmd = find_ksmd();
	size_t len, off;
	char *map;
	int opt;

	while ((opt = getopt(argc, argv, "m:p:w:t:")) != -1) {
		if (opt == 'm')
			mib = atol(optarg);
		else if (opt == 'p')
			passes = atol(optarg);
		else if (opt == 'w')
			warmup = atol(optarg);
		else if (opt == 't')
			window = atol(optarg);
	}
	if (!ksmd || ksm_write("run", 2))
		return 4;
	ksm_write("pages_to_scan", 20000);
	ksm_write("sleep_millisecs", 0);

	len = (size_t)mib << 20;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	madvise(map, len, MADV_NOHUGEPAGE);
	for (off = 0; off < len; off += psize)
		ksm_fill(map + off, psize, 17, off / psize);
	if (madvise(map, len, MADV_MERGEABLE)) {
		perror("madvise(MADV_MERGEABLE)");
		return 1;
	}
	ksm_write("run", 1);
	if (ksm_wait_scans(passes, 600))
		return 3;
	ksm_write("pages_to_scan", 100);
	ksm_write("sleep_millisecs", 20);
	sleep(warmup);
	t0 = ksm_now();
	c0 = cpu_seconds(ksmd);
	s0 = ksm_read("pages_scanned");
	f0 = ksm_read("full_scans");
	sleep(window);
	t1 = ksm_now();
	c1 = cpu_seconds(ksmd);
	s1 = ksm_read("pages_scanned");
	f1 = ksm_read("full_scans");
	ksm_write("run", 2);

	printf("idle mib=%ld passes=%ld warmup_s=%ld window_s=%.1f cpu_s=%.2f pages_scanned=%ld full_scans=%ld cpu_pct=%.2f\n",
	       mib, passes, warmup, t1 - t0, c1 - c0, s1 - s0, f1 - f0,
	       100 * (c1 - c0) / (t1 - t0));
	bench_fig(100 * (c1 - c0) / (t1 - t0), "idle_cpu_pct");
	return 0;
}
