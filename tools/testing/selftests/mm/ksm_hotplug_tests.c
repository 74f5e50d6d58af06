// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm_hotplug_tests - KSM pages in memory that the kernel takes back.
 *
 * Offlining a memory block migrates every page in it, KSM pages
 * included, while ksmd keeps merging; so does a CMA allocation over pages
 * that user memory borrowed from a contiguous area.  Afterwards every
 * mapping must still share one KSM page per content, outside the memory
 * taken, with its content intact, and the counters must not move.  The
 * VM boots with a movable zone (movablecore=), where user memory goes
 * first, so that a block holding a KSM page can be offlined, and with a
 * CMA area (cma=), which debugfs lets us allocate.
 *
 * usage: ksm_hotplug_tests [offline] [cma]
 */
#define _GNU_SOURCE
#include <linux/mempolicy.h>
#include <sys/syscall.h>

#include "ksm_test_util.h"

#define MEMORY_DIR	"/sys/devices/system/memory/"
#define CONTENTS	4
#define COPIES		16
/* Pages mapped to find CONTENTS * COPIES of them in movable blocks. */
#define POOL_PAGES	65536

static unsigned long block_bytes(void)
{
	char buf[32] = "";
	int fd = open(MEMORY_DIR "block_size_bytes", O_RDONLY);

	if (fd < 0)
		return 0;
	if (read(fd, buf, sizeof(buf) - 1) <= 0)
		buf[0] = '\0';
	close(fd);
	return strtoul(buf, NULL, 16);
}

/* Write @state to memory block @block's state file; 0 or -errno. */
static int block_state(unsigned long block, const char *state)
{
	char path[128];
	int fd, ret;

	snprintf(path, sizeof(path), MEMORY_DIR "memory%lu/state", block);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ret = write(fd, state, strlen(state)) == (ssize_t)strlen(state) ? 0 : -errno;
	close(fd);
	return ret;
}

/* Offline @block, trying again while it is busy; 0 or -errno. */
static int offline_block(unsigned long block)
{
	int tries, err = -EBUSY;

	for (tries = 0; tries < 10 && (err == -EBUSY || err == -EAGAIN); tries++) {
		if (tries)
			usleep(200000);
		err = block_state(block, "offline");
	}
	return err;
}

/* Is memory block @block wholly in the movable zone, so it can go offline? */
static bool block_movable(unsigned long block)
{
	char path[128], buf[64] = "";
	int fd;

	snprintf(path, sizeof(path), MEMORY_DIR "memory%lu/valid_zones", block);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	if (read(fd, buf, sizeof(buf) - 1) <= 0)
		buf[0] = '\0';
	close(fd);
	return !strncmp(buf, "Movable", 7);
}

/* Bits of /proc/kpageflags that keep a page from being migrated. */
#define KPF_SLAB_BIT		7
#define KPF_RESERVED_BIT	32

/*
 * Does memory block @block hold no page that offlining could not move
 * (memory the kernel reserved at boot, slab)?  Debug kernels reserve much
 * more, top-down, than the top block of a zone.
 */
static bool block_clean(unsigned long block, unsigned long bsize)
{
	size_t nr = bsize / psize, i;
	uint64_t *flags = malloc(nr * sizeof(*flags));
	bool clean = !!flags;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd < 0 || !flags ||
	    pread(fd, flags, nr * sizeof(*flags), block * nr * sizeof(*flags)) !=
	    (ssize_t)(nr * sizeof(*flags)))
		clean = false;
	for (i = 0; clean && i < nr; i++)
		clean = !(flags[i] >> KPF_RESERVED_BIT & 1) && !(flags[i] >> KPF_SLAB_BIT & 1);
	if (fd >= 0)
		close(fd);
	free(flags);
	return clean;
}

/* The default CMA area, as CMA's debugfs shows it. */
#define CMA_DIR		"/sys/kernel/debug/cma/reserved/"
/* Pages a debugfs CMA allocation asks for at a time. */
#define CMA_CHUNK	256

static unsigned long cma_base, cma_count;

/* The number in file @name of the CMA area's debugfs directory, or 0. */
static unsigned long cma_read(const char *name)
{
	char path[128], buf[32] = "";
	int fd;

	snprintf(path, sizeof(path), CMA_DIR "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	if (read(fd, buf, sizeof(buf) - 1) <= 0)
		buf[0] = '\0';
	close(fd);
	return strtoul(buf, NULL, 10);
}

/* Write @pages to the CMA area's @name file (alloc or free); 0 or -errno. */
static int cma_write(const char *name, unsigned long pages)
{
	char path[128], buf[32];
	int fd, ret;

	snprintf(path, sizeof(path), CMA_DIR "%s", name);
	snprintf(buf, sizeof(buf), "%lu", pages);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ret = write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf) ? 0 : -errno;
	close(fd);
	return ret;
}

static bool in_cma(uint64_t pfn)
{
	return pfn >= cma_base && pfn < cma_base + cma_count;
}

static unsigned long bsize;

/* 0 unknown, 1 usable, 2 not: per memory block, for offline_pick(). */
static char usable[1024];

static bool block_usable(unsigned long block)
{
	if (block >= sizeof(usable))
		return false;
	if (!usable[block])
		usable[block] = block_movable(block) && block_clean(block, bsize) ? 1 : 2;
	return usable[block] == 1;
}

/*
 * A page for the offline test: in a block that can go offline, and not
 * in a CMA area (whose blocks cannot).
 */
static bool offline_pick(uint64_t pfn)
{
	return pfn && !in_cma(pfn) && block_usable(pfn * psize / bsize);
}

/* The pages of the test: CONTENTS contents, COPIES pages of each. */
static char *pages[CONTENTS * COPIES];

/* Are all COPIES mappings of content @c one KSM page (and which)? */
static uint64_t shared_pfn(int c)
{
	uint64_t pfn = pfn_of(pages[c]);
	int i;

	for (i = 1; i < COPIES; i++)
		if (pfn_of(pages[i * CONTENTS + c]) != pfn)
			return 0;
	return pfn;
}

/*
 * Pick the test's pages among @n pages at @map, those whose frame @want
 * accepts, so that the KSM page of each content, which is one of them,
 * lies in memory the test can take away.  The others keep unique content.
 */
static bool pick_pages(char *map, size_t n, bool (*want)(uint64_t pfn))
{
	size_t i, got = 0;

	for (i = 0; i < n && got < CONTENTS * COPIES; i++)
		if (want(pfn_of(map + i * psize)))
			pages[got++] = map + i * psize;
	for (i = 0; i < got; i++)
		fill(pages[i], 300 + i % CONTENTS);
	return got == CONTENTS * COPIES;
}

/* Wait up to 30 s for the mappings of content @c to share one page. */
static bool wait_shared(int c)
{
	time_t until = time(NULL) + 30;

	while (!shared_pfn(c)) {
		if (time(NULL) > until)
			return false;
		usleep(10000);
	}
	return true;
}

/* Map the pool of @n pages: distinct contents, cheaply (the first word). */
static char *map_pool(size_t n)
{
	char *map = map_pages(n);
	size_t i;

	madvise(map, n * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++)
		*(uint64_t *)(map + i * psize) = i + 1;
	return map;
}

/* Register the pool of @n pages and wait until every content is one KSM page. */
static bool merge_pool(char *map, size_t n)
{
	bool ok = true;
	int c;

	ksm_fresh_start();
	madvise(map, n * psize, MADV_MERGEABLE);
	for (c = 0; ok && c < CONTENTS; c++)
		ok = wait_shared(c);
	return ok;
}

/*
 * After memory was taken away under the KSM pages (@gone says which
 * frames): ksmd keeps going, and nothing may break, merge twice or stay
 * behind.
 */
static bool still_shared(bool (*gone)(uint64_t pfn))
{
	const size_t nr = CONTENTS * COPIES;
	bool ok = ksm_wait_scans(3);
	size_t i;
	int c;

	for (c = 0; ok && c < CONTENTS; c++) {
		uint64_t pfn = shared_pfn(c);

		ok = pfn && !gone(pfn);
		if (!ok)
			ksft_print_msg("content %d: KSM page %#llx\n", c,
				       (unsigned long long)pfn);
	}
	for (i = 0; ok && i < nr; i++)
		ok = check(pages[i], 300 + i % CONTENTS);
	ok = ok && ksm_get("pages_shared") == CONTENTS &&
	     ksm_get("pages_sharing") == (long)(nr - CONTENTS);
	if (!ok)
		ksft_print_msg("afterwards: pages_shared %ld pages_sharing %ld\n",
			       ksm_get("pages_shared"), ksm_get("pages_sharing"));
	return ok;
}

static unsigned long offline_block_nr;

static bool in_offline_block(uint64_t pfn)
{
	return pfn * psize / bsize == offline_block_nr;
}

static void test_offline(void)
{
	const size_t n = POOL_PAGES;
	unsigned long block = 0;
	char *map = map_pool(n);
	int c, err = -ENOENT;
	bool ok;

	bsize = block_bytes();
	cma_base = cma_read("base_pfn");
	cma_count = cma_read("count");
	if (!bsize) {
		ksft_test_result_skip("offlining memory that holds KSM pages: no hotplug\n");
		goto out_unmap;
	}
	if (!pick_pages(map, n, offline_pick)) {
		ksft_test_result_skip("offlining memory that holds KSM pages: no movable zone\n");
		goto out_unmap;
	}
	if (!merge_pool(map, n)) {
		ksft_test_result_fail("offlining memory that holds KSM pages: no merge\n");
		goto out;
	}
	/* Take offline the first block holding a KSM page that can go. */
	for (c = 0; c < CONTENTS && err; c++) {
		block = shared_pfn(c) * psize / bsize;
		err = offline_block(block);
	}
	if (err) {
		ksft_test_result_skip("offlining memory that holds KSM pages (%s)\n",
				      strerror(-err));
		goto out;
	}
	ksft_print_msg("memory block %lu offline\n", block);
	offline_block_nr = block;
	ok = still_shared(in_offline_block);
	if (block_state(block, "online_movable") && block_state(block, "online"))
		ksft_print_msg("memory block %lu could not be onlined again\n", block);
	ksft_test_result(ok, "offlining memory that holds KSM pages keeps them shared\n");
out:
	ksm_stop();
out_unmap:
	munmap(map, n * psize);
}

/* The NUMA node that holds memory block @block, or -1. */
static int block_node(unsigned long block)
{
	char path[128];
	int nid;

	for (nid = 0; nid < 64; nid++) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/memory%lu",
			 nid, block);
		if (!access(path, F_OK))
			return nid;
	}
	return -1;
}

static long set_policy(int mode, int nid)
{
	unsigned long mask = nid >= 0 ? 1UL << nid : 0;

	return syscall(SYS_set_mempolicy, mode, nid >= 0 ? &mask : NULL,
		       nid >= 0 ? 64 : 0);
}

/*
 * Allocate the whole CMA area through debugfs, a chunk at a time, the
 * way a driver would take it back; the number of pages allocated.
 */
static unsigned long cma_take_all(void)
{
	unsigned long got = 0;

	while (got + CMA_CHUNK <= cma_count && !cma_write("alloc", CMA_CHUNK))
		got += CMA_CHUNK;
	return got;
}

/*
 * KSM pages in a CMA area: movable allocations borrow its free pages
 * once it holds more than half of a zone's free memory, so the pool is
 * taken on the area's node, and its pages inside the area are the test's.
 * Allocating the area must move the KSM pages out, as it moves any
 * user page, and leave them shared.
 */
static void test_cma(void)
{
	const size_t n = POOL_PAGES;
	unsigned long taken;
	char *map = NULL;
	int nid;
	bool ok;

	bsize = block_bytes();
	cma_base = cma_read("base_pfn");
	cma_count = cma_read("count");
	if (!cma_count || !bsize || access(CMA_DIR "alloc", W_OK)) {
		ksft_test_result_skip("CMA allocation over KSM pages: no CMA area in debugfs\n");
		return;
	}
	nid = block_node(cma_base * psize / bsize);
	if (set_policy(MPOL_BIND, nid))
		ksft_print_msg("cannot bind to node %d: %s\n", nid, strerror(errno));
	map = map_pool(n);
	set_policy(MPOL_DEFAULT, -1);
	if (!pick_pages(map, n, in_cma)) {
		ksft_print_msg("fewer than %d of %zu pages on node %d in the area\n",
			       CONTENTS * COPIES, n, nid);
		ksft_print_msg("area: pfn %#lx, %lu pages\n", cma_base, cma_count);
		ksft_test_result_fail("CMA allocation over KSM pages: no pages in the area\n");
		goto out_unmap;
	}
	if (!merge_pool(map, n)) {
		ksft_test_result_fail("CMA allocation over KSM pages: no merge\n");
		goto out;
	}
	taken = cma_take_all();
	ksft_print_msg("CMA area at pfn %#lx: %lu of %lu pages allocated, %lu used\n",
		       cma_base, taken, cma_count, cma_read("used"));
	ok = still_shared(in_cma);
	cma_write("free", taken);
	ksft_test_result(ok && taken, "CMA allocation over KSM pages moves them out, shared\n");
out:
	ksm_stop();
out_unmap:
	munmap(map, n * psize);
}

int main(int argc, char **argv)
{
	static const struct ksm_test tests[] = {
		{ "offline", test_offline, 1 },
		{ "cma", test_cma, 1 },
	};

	ksm_run_tests(tests, ARRAY_SIZE(tests), argc, argv);
}
