/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers of the KSM engine selftests: sysfs access, a known KSM state to
 * start from, page contents that are a pure function of a tag, the
 * physical frame behind an address, and a memory cgroup of the tests
 * own whose memory.reclaim swaps pages out.
 */
#ifndef KSM_TEST_UTIL_H
#define KSM_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest.h"

#define KSM_DIR "/sys/kernel/mm/ksm/"

/* The page size, set by main() before any helper runs. */
static size_t psize;

/* Start a test program: the TAP header; skip unless KSM is there and we are root. */
static inline void ksm_test_start(void)
{
	ksft_print_header();
	if (access(KSM_DIR "run", F_OK))
		ksft_exit_skip("KSM is not available\n");
	if (geteuid())
		ksft_exit_skip("must run as root\n");
	psize = getpagesize();
}

/**
 * struct ksm_test - a test of a program that runs tests by name
 * @name: its name on the command line
 * @fn: the test
 * @results: how many TAP results it reports
 */
struct ksm_test {
	const char *name;
	void (*fn)(void);
	int results;
};

static inline bool ksm_test_selected(int argc, char **argv, const char *name)
{
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return true;
	return argc < 2;
}

/* Run the @n @tests named in @argv (all of them without names), then exit. */
static inline void ksm_run_tests(const struct ksm_test *tests, size_t n, int argc, char **argv)
{
	size_t i;
	int plan = 0;

	ksm_test_start();
	for (i = 0; i < n; i++)
		plan += ksm_test_selected(argc, argv, tests[i].name) ? tests[i].results : 0;
	ksft_set_plan(plan);
	for (i = 0; i < n; i++)
		if (ksm_test_selected(argc, argv, tests[i].name))
			tests[i].fn();
	ksft_finished();
}

static inline long ksm_get(const char *name)
{
	char path[256], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static inline int ksm_put_path(const char *path, long val)
{
	char buf[32];
	int fd, len, ret;

	len = snprintf(buf, sizeof(buf), "%ld", val);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ret = write(fd, buf, len) == len ? 0 : -errno;
	close(fd);
	return ret;
}

/* Write the string @val to @name of KSM_DIR; 0 or -errno. */
static inline int ksm_put_str(const char *name, const char *val)
{
	char path[256];
	int fd, ret;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ret = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -errno;
	close(fd);
	return ret;
}

/* Read @name of KSM_DIR into @buf, without its newline; false on error. */
static inline bool ksm_get_str(const char *name, char *buf, size_t len)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return true;
}

static inline int ksm_put(const char *name, long val)
{
	char path[256];

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	return ksm_put_path(path, val);
}

/* Stop KSM, unmerge everything, then run it at full speed. */
static inline void ksm_fresh_start_sharing(long max_sharing)
{
	ksm_put("run", 2);
	ksm_put("use_zero_pages", 0);
	ksm_put("merge_across_nodes", 1);
	ksm_put("max_page_sharing", max_sharing);
	ksm_put("smart_scan", 1);
	ksm_put("sleep_millisecs", 0);
	ksm_put("pages_to_scan", 10000);
	ksm_put("run", 1);
}

static inline void ksm_fresh_start(void)
{
	ksm_fresh_start_sharing(256);
}

static inline void ksm_stop(void)
{
	ksm_put("run", 2);
	ksm_put("sleep_millisecs", 20);
	ksm_put("pages_to_scan", 100);
	ksm_put("max_page_sharing", 256);
	ksm_put("run", 0);
}

/* Wait until @n more full scans completed; false on timeout. */
static inline bool ksm_wait_scans(int n)
{
	long target = ksm_get("full_scans") + n;
	time_t deadline = time(NULL) + 120;

	while (ksm_get("full_scans") < target) {
		if (time(NULL) > deadline)
			return false;
		usleep(5000);
	}
	return true;
}

static inline uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* Page content is a pure function of a 64-bit tag. */
static inline void fill(char *p, uint64_t tag)
{
	uint64_t *w = (uint64_t *)p;
	size_t i;

	for (i = 0; i < psize / 8; i++)
		w[i] = mix(tag * 4099 + i);
}

static inline bool check(const char *p, uint64_t tag)
{
	const uint64_t *w = (const uint64_t *)p;
	size_t i;

	for (i = 0; i < psize / 8; i++)
		if (w[i] != mix(tag * 4099 + i))
			return false;
	return true;
}

static inline char *map_pages(size_t n)
{
	char *p = mmap(NULL, n * psize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	return p;
}

/* This process's /proc/self/pagemap entry for @addr, or 0. */
static inline uint64_t pagemap_of(void *addr)
{
	uint64_t ent = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &ent, sizeof(ent), (uintptr_t)addr / psize * sizeof(ent)) != sizeof(ent))
		ent = 0;
	close(fd);
	return ent;
}

static inline uint64_t pfn_of(void *addr)
{
	uint64_t ent = pagemap_of(addr);

	if (!(ent & (1ULL << 63)))
		return 0;
	return ent & ((1ULL << 55) - 1);
}

static inline long proc_stat_field(const char *key)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/self/ksm_stat", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ' ')
			v = strtol(line + strlen(key) + 1, NULL, 10);
	fclose(f);
	return v;
}

/* Field @key (with its colon) of the smaps entry of our VMA holding @addr, in kB. */
static inline long smaps_kb(void *addr, const char *key)
{
	unsigned long start, end, a = (unsigned long)addr;
	char line[256];
	bool in = false;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = a >= start && a < end;
		else if (in && !strncmp(line, key, strlen(key)))
			kb = strtol(line + strlen(key), NULL, 10);
	}
	if (f)
		fclose(f);
	return kb;
}

/*
 * Kilobytes of KSM pages in the VMA of ours that holds @addr (smaps).
 * (6.12's /proc/kpageflags sets KPF_KSM for every anonymous page: it
 * cannot tell a KSM page.)
 */
static inline long smaps_ksm_kb(void *addr)
{
	return smaps_kb(addr, "KSM:");
}

/*
 * Wait up to @scans more full scans, and at least 5 seconds, for @addr to
 * map pfn @pfn.  With sleep_millisecs=0, a pass over a few pages takes
 * far less than a millisecond: a count of scans alone may leave the other
 * side of a test (a child, a writer) no time to act.
 */
static inline bool wait_for_pfn(void *addr, uint64_t pfn, int scans)
{
	time_t until = time(NULL) + 5;

	while (pfn_of(addr) != pfn)
		if ((scans-- <= 0 && time(NULL) > until) || !ksm_wait_scans(1))
			return false;
	return true;
}

/* Like wait_for_pfn(), until @a and @b map the same page. */
static inline bool wait_for_same_pfn(void *a, void *b, int scans)
{
	time_t until = time(NULL) + 5;

	while (!pfn_of(a) || pfn_of(a) != pfn_of(b))
		if ((scans-- <= 0 && time(NULL) > until) || !ksm_wait_scans(1))
			return false;
	return true;
}

#define CGROUP		"/sys/fs/cgroup/"
#define TEST_CGROUP	CGROUP "ksm_test/"

static inline bool write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok;
}

/* Move this process into the cgroup whose cgroup.procs is @procs. */
static inline bool move_to_cgroup(const char *procs)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", getpid());
	return write_file(procs, pid);
}

/*
 * A memory cgroup of the test's own, to swap out pages that other
 * mappings share: MADV_PAGEOUT leaves those alone, memory.reclaim does
 * not.  The pages must be allocated inside it to be charged to it.
 */
static inline bool enter_test_cgroup(void)
{
	mkdir(CGROUP, 0755);
	if (access(CGROUP "cgroup.procs", F_OK))
		mount("none", CGROUP, "cgroup2", 0, NULL);
	write_file(CGROUP "cgroup.subtree_control", "+memory");
	if (mkdir(TEST_CGROUP, 0755) && errno != EEXIST)
		return false;
	return move_to_cgroup(TEST_CGROUP "cgroup.procs");
}

static inline void leave_test_cgroup(void)
{
	move_to_cgroup(CGROUP "cgroup.procs");
	rmdir(TEST_CGROUP);
}

/* Is @addr mapped by a swap entry? */
static inline bool swapped_out(void *addr)
{
	return pagemap_of(addr) & (1ULL << 62);
}

/*
 * Swap out @n pages at @map, charged to the test cgroup, with all their
 * mappings.  Reclaim deactivates pages only once the memcg's LRU
 * statistics show them, and small changes reach those only with the
 * periodic flush (every 2 s): memory.reclaim (which fails with EAGAIN
 * when it falls short) is written every 100 ms until every mapping is a
 * swap entry, for up to a minute.  Returns how many are still in memory.
 */
static inline int swap_out(char *map, size_t n)
{
	time_t deadline = time(NULL) + 60;
	int tries, resident = n;
	size_t i;

	for (tries = 0; resident && time(NULL) < deadline; tries++) {
		if (tries)
			usleep(100000);
		write_file(TEST_CGROUP "memory.reclaim", "64M");
		for (i = 0, resident = 0; i < n; i++)
			resident += !swapped_out(map + i * psize);
	}
	ksft_print_msg("%d of %zu mappings in memory after %d writes to memory.reclaim\n",
		       resident, n, tries);
	return resident;
}

#endif /* KSM_TEST_UTIL_H */
