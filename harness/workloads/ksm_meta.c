// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_meta - kernel memory KSM spends on the pages it tracks.  M MiB of
 * unique random pages are touched; Slab + VmallocUsed (/proc/meminfo) and
 * /proc/slabinfo are read, the region is made MADV_MERGEABLE and ksmd
 * runs at full speed for two full scans, then stopped (run=0) and
 * everything is read again.  The figure is the growth in bytes per
 * registered page; the caches that grew most are listed.
 *
 * usage: ksm_meta [-m MiB]
 * prints: meta ..., slab_growth ... and the figure meta_bytes_per_page
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ksm_util.h"

#define MAX_CACHES	512
#define TOP		5

struct cache {
	char name[64];
	long bytes;
};

/* Bytes held by each cache of /proc/slabinfo; the number of caches. */
static int read_slabinfo(struct cache *c)
{
	long pages_per_slab, slabs;
	FILE *f = fopen("/proc/slabinfo", "r");
	char line[512];
	int n = 0;

	while (f && n < MAX_CACHES && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %*d %*d %*d %*d %ld : tunables %*d %*d %*d : slabdata %*d %ld",
			   c[n].name, &pages_per_slab, &slabs) != 3)
			continue;
		c[n++].bytes = slabs * pages_per_slab * sysconf(_SC_PAGESIZE);
	}
	if (f)
		fclose(f);
	return n;
}


static int by_growth(const void *a, const void *b)
{
	const struct cache *x = a, *y = b;

	return (y->bytes > x->bytes) - (y->bytes < x->bytes);
}

int main(int argc, char **argv)
{
	static struct cache before[MAX_CACHES], after[MAX_CACHES];
	long mib = 1024, psize = sysconf(_SC_PAGESIZE), pages, slab0, vm0, slab1, vm1, delta;
	long grown = 0;
	int opt, nb, na, i, j;
	size_t len, off;
	char *map;

	while ((opt = getopt(argc, argv, "m:")) != -1) {
		if (opt == 'm')
			mib = atol(optarg);
	}
	if (ksm_write("run", 2))
		return 4;
	ksm_write("sleep_millisecs", 0);
	ksm_write("pages_to_scan", 20000);

	len = (size_t)mib << 20;
	pages = len / psize;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	madvise(map, len, MADV_NOHUGEPAGE);
	for (off = 0; off < len; off += psize)
		ksm_fill(map + off, psize, 13, off / psize);

	sleep(1);
	slab0 = kb_field("/proc/meminfo", "Slab");
	vm0 = kb_field("/proc/meminfo", "VmallocUsed");
	nb = read_slabinfo(before);
	if (madvise(map, len, MADV_MERGEABLE)) {
		perror("madvise(MADV_MERGEABLE)");
		return 1;
	}
	ksm_write("run", 1);
	if (ksm_wait_scans(2, 900))
		return 3;
	ksm_write("run", 0);
	slab1 = kb_field("/proc/meminfo", "Slab");
	vm1 = kb_field("/proc/meminfo", "VmallocUsed");
	na = read_slabinfo(after);

	/* Growth per cache, matched by name, largest first. */
	for (i = 0; i < na; i++) {
		for (j = 0; j < nb; j++) {
			if (!strcmp(after[i].name, before[j].name)) {
				after[i].bytes -= before[j].bytes;
				break;
			}
		}
	}
	qsort(after, na, sizeof(*after), by_growth);
	for (i = 0; i < na && after[i].bytes > 0; i++)
		grown += after[i].bytes >> 10;
	printf("slab_growth:");
	for (i = 0; i < na && i < TOP && after[i].bytes > 0; i++)
		printf(" %s=+%ldKiB", after[i].name, after[i].bytes >> 10);
	/* Large kmallocs count in Slab but in no cache of slabinfo. */
	printf(" not-in-slabinfo=%+ldKiB%s\n", slab1 - slab0 - grown,
	       na ? "" : " (no /proc/slabinfo)");

	ksm_write("run", 2);
	delta = slab1 + vm1 - slab0 - vm0;
	printf("meta mib=%ld pages=%ld slab_kb=+%ld vmalloc_kb=+%ld bytes_per_page=%.1f\n",
	       mib, pages, slab1 - slab0, vm1 - vm0, delta * 1024.0 / pages);
	bench_fig(delta * 1024.0 / pages, "meta_bytes_per_page");
	return 0;
}
