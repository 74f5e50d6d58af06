// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm_hotplug_tests - KSM pages in memory that is taken offline.
 *
 * Offlining a memory block migrates every page in it, KSM pages
 * included, while ksmd keeps merging: afterwards every mapping must still
 * share one KSM page per content, outside the block, with its content
 * intact, and the counters must not move.  The VM boots with a movable
 * zone (movablecore=), where user memory goes first, so that a block
 * holding a KSM page can be offlined.
 */
#define _GNU_SOURCE
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

/* 0 unknown, 1 usable, 2 not: per memory block, for pick_pages(). */
static char usable[1024];

static bool block_usable(unsigned long block, unsigned long bsize)
{
	if (block >= sizeof(usable))
		return false;
	if (!usable[block])
		usable[block] = block_movable(block) && block_clean(block, bsize) ? 1 : 2;
	return usable[block] == 1;
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
 * Pick the test's pages among @n pages at @map: pages in movable blocks
 * only, so that the KSM page of each content, which is one of them,
 * lies in a block that can go offline.  The others keep unique content.
 * Blocks holding pages that offlining cannot move are left out.
 */
static bool pick_pages(char *map, size_t n, unsigned long bsize)
{
	size_t i, got = 0;

	for (i = 0; i < n && got < CONTENTS * COPIES; i++) {
		unsigned long block = pfn_of(map + i * psize) * psize / bsize;

		if (block_usable(block, bsize))
			pages[got++] = map + i * psize;
	}
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

static void test_offline(void)
{
	const size_t n = POOL_PAGES, nr = CONTENTS * COPIES;
	unsigned long bsize = block_bytes(), block = 0;
	char *map = map_pages(n);
	int c, err = -ENOENT;
	bool ok = true;
	size_t i;

	if (!bsize) {
		ksft_test_result_skip("offlining memory that holds KSM pages: no hotplug\n");
		goto out_unmap;
	}
	madvise(map, n * psize, MADV_NOHUGEPAGE);
	/* Distinct contents, cheaply: only the first word differs. */
	for (i = 0; i < n; i++)
		*(uint64_t *)(map + i * psize) = i + 1;
	if (!pick_pages(map, n, bsize)) {
		ksft_test_result_skip("offlining memory that holds KSM pages: no movable zone\n");
		goto out_unmap;
	}
	ksm_fresh_start();
	madvise(map, n * psize, MADV_MERGEABLE);
	for (c = 0; ok && c < CONTENTS; c++)
		ok = wait_shared(c);
	if (!ok) {
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
	/* ksmd keeps going: nothing may break or merge twice. */
	ok = ksm_wait_scans(3);
	for (c = 0; ok && c < CONTENTS; c++) {
		uint64_t pfn = shared_pfn(c);

		ok = pfn && pfn * psize / bsize != block;
	}
	for (i = 0; ok && i < nr; i++)
		ok = check(pages[i], 300 + i % CONTENTS);
	ok = ok && ksm_get("pages_shared") == CONTENTS &&
	     ksm_get("pages_sharing") == (long)(nr - CONTENTS);
	if (!ok)
		ksft_print_msg("after offline: pages_shared %ld pages_sharing %ld\n",
			       ksm_get("pages_shared"), ksm_get("pages_sharing"));
	if (block_state(block, "online_movable") && block_state(block, "online"))
		ksft_print_msg("memory block %lu could not be onlined again\n", block);
	ksft_test_result(ok, "offlining memory that holds KSM pages keeps them shared\n");
out:
	ksm_stop();
out_unmap:
	munmap(map, n * psize);
}

int main(void)
{
	ksm_test_start();
	ksft_set_plan(1);
	test_offline();
	ksft_finished();
}
