// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_thp_mix - a guest-like memory of transparent huge pages, and what
 * merging it costs the huge pages.
 *
 * One process maps 2 MiB-aligned THPs (MADV_HUGEPAGE), all mergeable:
 *   hot:  -n THPs of unique data, except that two of their pages hold
 *         two contents that every hot THP holds (a few duplicates in
 *         memory in use); a thread reads them at random all along; with
 *         -s, hot THP i holds 2^(i mod 9) such pages instead (1 to 256:
 *         THPs from barely to half duplicate, for a sweep of
 *         thp_split_threshold);
 *   cold: -c THPs, pairs of identical ones (the same file cached twice);
 *   zero: -z THPs of zeroes (memory a guest freed).
 * ksmd runs at full speed (use_zero_pages 0, the default) until
 * pages_sharing has stayed the same for three passes.
 *
 * prints: thp_saved_mib (how much the process's proportional anonymous
 *         memory, Pss_Anon, shrank: a KSM page its mappings share counts
 *         once, and a split maps the zero pages of a THP to the zero page
 *         by itself, which pages_sharing does not count), thp_splits (THPs split,
 *         from thp_split_page in /proc/vmstat), thp_kept_pct (the share
 *         of the THPs still mapped huge at the end), thp_converge_s, and
 *         thp_hot_read_ns_during / thp_hot_read_ns_after (the median time
 *         of one random 8-byte read over the hot THPs while ksmd merges,
 *         and after; under TCG only indicative)
 *
 * usage: ksm_thp_mix [-n hot] [-c cold] [-z zero] [-s]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ksm_util.h"

#define HPAGE		(2UL << 20)
#define READS		(1 << 18)	/* reads per timed sample */
#define MAX_SAMPLES	4096
#define STABLE_PASSES	3
#define LIMIT_S		600

static char *hot;
static size_t hot_len;
static atomic_int phase;	/* 0: during, 1: after, 2: stop */
static double samples[2][MAX_SAMPLES];
static int nsamples[2];

static long vmstat_of(const char *key)
{
	char name[64];
	long v, found = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	while (f && fscanf(f, "%63s %ld", name, &v) == 2)
		if (!strcmp(name, key))
			found = v;
	if (f)
		fclose(f);
	return found;
}

/* Time READS random reads over the hot THPs, again and again. */
static void *reader(void *unused)
{
	uint64_t x = 88172645463325252ULL, sum = 0;
	int p;

	while ((p = atomic_load(&phase)) < 2) {
		double t0 = ksm_now();
		int i;

		for (i = 0; i < READS; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			sum += *(volatile uint64_t *)(hot + (x % (hot_len / 8)) * 8);
		}
		if (atomic_load(&phase) == p && nsamples[p] < MAX_SAMPLES)
			samples[p][nsamples[p]++] = (ksm_now() - t0) * 1e9 / READS;
	}
	return (void *)(uintptr_t)sum;
}

/* @n THPs from an aligned mapping; NULL if they are not all huge. */
static char *map_thps(long n)
{
	size_t len = n * HPAGE;
	char *raw = mmap(NULL, len + HPAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *map;

	if (raw == MAP_FAILED)
		return NULL;
	map = (char *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
	madvise(map, len, MADV_HUGEPAGE);
	memset(map, 0, len);
	return map;
}

int main(int argc, char **argv)
{
	long n_hot = 100, n_cold = 4, n_zero = 4, psize = sysconf(_SC_PAGESIZE);
	long pages = HPAGE / psize, i, j, thp_kb, total, sharing, last = -1;
	long splits0, scans_same = 0, scans_last, pss0, dups;
	bool spread = false;
	double t0, t_conv = 0;
	char *cold, *zero;
	pthread_t tid;
	int opt;

	while ((opt = getopt(argc, argv, "n:c:z:s")) != -1) {
		if (opt == 's')
			spread = true;
		else if (opt == 'n')
			n_hot = atol(optarg);
		else if (opt == 'c')
			n_cold = atol(optarg) & ~1L;
		else if (opt == 'z')
			n_zero = atol(optarg);
	}
	total = n_hot + n_cold + n_zero;
	if (ksm_write("run", 2))
		return 4;
	ksm_write("sleep_millisecs", 0);
	ksm_write("pages_to_scan", 5000);

	hot = map_thps(n_hot);
	cold = map_thps(n_cold);
	zero = map_thps(n_zero);
	if (!hot || !cold || !zero)
		return 1;
	hot_len = n_hot * HPAGE;
	for (i = 0; i < n_hot; i++) {
		dups = spread ? 1L << (i % 9) : 2;
		for (j = 0; j < pages; j++)
			ksm_fill(hot + i * HPAGE + j * psize, psize, j < dups ? 5 : 6,
				 j < dups ? j : i * pages + j);
	}
	for (i = 0; i < n_cold; i++)
		for (j = 0; j < pages; j++)
			ksm_fill(cold + i * HPAGE + j * psize, psize, 7, i / 2 * pages + j);
	thp_kb = kb_field("/proc/self/smaps_rollup", "AnonHugePages");
	printf("thp_mix: %ld hot, %ld cold, %ld zero THPs; AnonHugePages %ld of %ld kB\n",
	       n_hot, n_cold, n_zero, thp_kb, total * (long)(HPAGE >> 10));
	if (thp_kb < total * (long)(HPAGE >> 10)) {
		printf("thp_mix: not every THP is huge, not measured\n");
		return 5;
	}

	pthread_create(&tid, NULL, reader, NULL);
	splits0 = vmstat_of("thp_split_page");
	pss0 = kb_field("/proc/self/smaps_rollup", "Pss_Anon");
	madvise(hot, hot_len, MADV_MERGEABLE);
	madvise(cold, n_cold * HPAGE, MADV_MERGEABLE);
	madvise(zero, n_zero * HPAGE, MADV_MERGEABLE);
	t0 = ksm_now();
	scans_last = ksm_read("full_scans");
	ksm_write("run", 1);
	while (scans_same < STABLE_PASSES && ksm_now() - t0 < LIMIT_S) {
		long scans;

		usleep(20000);
		scans = ksm_read("full_scans");
		if (scans == scans_last)
			continue;
		scans_last = scans;
		sharing = ksm_read("pages_sharing");
		if (sharing != last) {
			last = sharing;
			t_conv = ksm_now() - t0;
			scans_same = 0;
		} else {
			scans_same++;
		}
	}
	atomic_store(&phase, 1);
	sleep(5);
	atomic_store(&phase, 2);
	pthread_join(tid, NULL);

	thp_kb = kb_field("/proc/self/smaps_rollup", "AnonHugePages");
	sharing = ksm_read("pages_sharing");
	printf("thp_mix: pages_sharing %ld, pages_shared %ld, THPs split %ld, AnonHugePages %ld kB, converged in %.2f s%s\n",
	       sharing, ksm_read("pages_shared"), vmstat_of("thp_split_page") - splits0, thp_kb,
	       t_conv, scans_same < STABLE_PASSES ? " (not settled)" : "");
	bench_fig((pss0 - kb_field("/proc/self/smaps_rollup", "Pss_Anon")) / 1024.0,
		  "thp_saved_mib");
	bench_fig(vmstat_of("thp_split_page") - splits0, "thp_splits");
	bench_fig(100.0 * thp_kb / (total * (HPAGE >> 10)), "thp_kept_pct");
	bench_fig(t_conv, "thp_converge_s");
	if (nsamples[0])
		bench_fig(ksm_median(samples[0], nsamples[0]), "thp_hot_read_ns_during");
	if (nsamples[1])
		bench_fig(ksm_median(samples[1], nsamples[1]), "thp_hot_read_ns_after");
	ksm_write("run", 2);
	return scans_same < STABLE_PASSES ? 3 : 0;
}
