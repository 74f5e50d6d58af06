// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm_sysfs_tests - the /sys/kernel/mm/ksm/ ABI: file set and modes,
 * boot defaults, read format, valid writes that round-trip, invalid
 * writes and their error codes, and the EBUSY rules of the knobs that
 * cannot change while KSM pages exist.
 *
 * Every expectation here is the Linux 6.12 behaviour that tools such as
 * ksmtuned, QEMU and systemd rely on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest.h"

#define KSM_DIR "/sys/kernel/mm/ksm/"

struct ksm_file {
	const char *name;
	bool writable;
	const char *boot_default;	/* NULL: a counter */
};

static const struct ksm_file ksm_files[] = {
	{ "run", true, "0" },
	{ "pages_to_scan", true, "100" },
	{ "sleep_millisecs", true, "20" },
	{ "merge_across_nodes", true, "1" },
	{ "use_zero_pages", true, "0" },
	{ "max_page_sharing", true, "256" },
	{ "stable_node_chains_prune_millisecs", true, "2000" },
	{ "smart_scan", true, "1" },
	{ "advisor_mode", true, "[none] scan-time" },
	{ "advisor_max_cpu", true, "70" },
	{ "advisor_min_pages_to_scan", true, "500" },
	{ "advisor_max_pages_to_scan", true, "30000" },
	{ "advisor_target_scan_time", true, "200" },
	{ "pages_scanned", false, NULL },
	{ "pages_shared", false, NULL },
	{ "pages_sharing", false, NULL },
	{ "pages_unshared", false, NULL },
	{ "pages_volatile", false, NULL },
	{ "pages_skipped", false, NULL },
	{ "full_scans", false, NULL },
	{ "stable_node_chains", false, NULL },
	{ "stable_node_dups", false, NULL },
	{ "ksm_zero_pages", false, NULL },
	{ "general_profit", false, NULL },
};

#define NR_FILES ARRAY_SIZE(ksm_files)

/* Read a file into @buf without its trailing newline; -errno on error. */
static int ksm_get(const char *name, char *buf, size_t len)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (n == 0 || buf[n - 1] != '\n')
		return -EBADMSG;
	buf[n - 1] = '\0';
	return 0;
}

static long ksm_get_long(const char *name)
{
	char buf[64];

	if (ksm_get(name, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

/* Write @val in a single write(); 0 or -errno. */
static int ksm_put(const char *name, const char *val)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

static void test_files_and_modes(void)
{
	bool ok = true;
	struct stat st;
	char path[256];
	size_t i;

	for (i = 0; i < NR_FILES; i++) {
		mode_t want = ksm_files[i].writable ? 0644 : 0444;

		snprintf(path, sizeof(path), KSM_DIR "%s", ksm_files[i].name);
		if (stat(path, &st)) {
			ksft_print_msg("%s: missing\n", ksm_files[i].name);
			ok = false;
		} else if ((st.st_mode & 0777) != want) {
			ksft_print_msg("%s: mode %o, want %o\n", ksm_files[i].name,
				       st.st_mode & 0777, want);
			ok = false;
		}
	}
	ksft_test_result(ok, "every 6.12 file present with its mode\n");
}

static void test_read_format(void)
{
	char buf[128], *end;
	bool ok = true;
	size_t i;
	int err;

	for (i = 0; i < NR_FILES; i++) {
		const char *name = ksm_files[i].name;

		err = ksm_get(name, buf, sizeof(buf));
		if (err) {
			ksft_print_msg("%s: read: %s\n", name, strerror(-err));
			ok = false;
			continue;
		}
		if (!strcmp(name, "advisor_mode")) {
			if (strcmp(buf, "[none] scan-time") && strcmp(buf, "none [scan-time]")) {
				ksft_print_msg("advisor_mode: '%s'\n", buf);
				ok = false;
			}
			continue;
		}
		strtoll(buf, &end, 10);
		if (!buf[0] || *end || (buf[0] == '-' && strcmp(name, "general_profit") &&
					strcmp(name, "pages_volatile") &&
					strcmp(name, "ksm_zero_pages"))) {
			ksft_print_msg("%s: not a decimal number: '%s'\n", name, buf);
			ok = false;
		}
	}
	ksft_test_result(ok, "every file reads as one decimal line\n");
}

/* Defaults are only meaningful before anything touched KSM since boot. */
static void test_boot_defaults(void)
{
	char buf[128];
	bool ok = true;
	size_t i;

	if (ksm_get_long("pages_scanned") != 0 || ksm_get_long("run") != 0) {
		ksft_test_result_skip("boot defaults: KSM was used since boot\n");
		return;
	}
	for (i = 0; i < NR_FILES; i++) {
		const struct ksm_file *f = &ksm_files[i];

		if (!f->boot_default)
			continue;
		if (ksm_get(f->name, buf, sizeof(buf)) || strcmp(buf, f->boot_default)) {
			ksft_print_msg("%s: '%s', want '%s'\n", f->name, buf, f->boot_default);
			ok = false;
		}
	}
	ksft_test_result(ok, "boot defaults match 6.12\n");
}

struct write_case {
	const char *file;
	const char *value;
	int err;		/* 0 or the expected errno */
	const char *readback;	/* expected content after a good write */
};

static const struct write_case write_cases[] = {
	{ "run", "0", 0, "0" },
	{ "run", "1", 0, "1" },
	{ "run", "0\n", 0, "0" },
	{ "run", "2", 0, "2" },
	{ "run", "0", 0, "0" },
	{ "run", "3", EINVAL },
	{ "run", "-1", EINVAL },
	{ "run", "abc", EINVAL },
	{ "run", "\n", EINVAL },
	{ "run", "1x", EINVAL },
	{ "run", "4294967296", EINVAL },
	{ "pages_to_scan", "0", 0, "0" },
	{ "pages_to_scan", "4294967295", 0, "4294967295" },
	{ "pages_to_scan", "4294967296", EINVAL },
	{ "pages_to_scan", "-1", EINVAL },
	{ "pages_to_scan", "ten", EINVAL },
	{ "pages_to_scan", "100", 0, "100" },
	{ "sleep_millisecs", "0", 0, "0" },
	{ "sleep_millisecs", "4294967295", 0, "4294967295" },
	{ "sleep_millisecs", "4294967296", EINVAL },
	{ "sleep_millisecs", "-20", EINVAL },
	{ "sleep_millisecs", "20", 0, "20" },
	{ "use_zero_pages", "1", 0, "1" },
	{ "use_zero_pages", "n", 0, "0" },
	{ "use_zero_pages", "Y", 0, "1" },
	{ "use_zero_pages", "off", 0, "0" },
	{ "use_zero_pages", "on", 0, "1" },
	{ "use_zero_pages", "2", EINVAL },
	{ "use_zero_pages", "maybe", EINVAL },
	{ "use_zero_pages", "0", 0, "0" },
	{ "smart_scan", "0", 0, "0" },
	{ "smart_scan", "yes", 0, "1" },
	{ "smart_scan", "x", EINVAL },
	{ "smart_scan", "1", 0, "1" },
	{ "merge_across_nodes", "2", EINVAL },
	{ "merge_across_nodes", "-1", EINVAL },
	{ "merge_across_nodes", "one", EINVAL },
	{ "merge_across_nodes", "99999999999999999999", ERANGE },
	{ "merge_across_nodes", "1", 0, "1" },
	{ "max_page_sharing", "1", EINVAL },
	{ "max_page_sharing", "0", EINVAL },
	{ "max_page_sharing", "-5", EINVAL },
	{ "max_page_sharing", "lots", EINVAL },
	{ "max_page_sharing", "99999999999", ERANGE },
	{ "max_page_sharing", "2", 0, "2" },
	{ "max_page_sharing", "256", 0, "256" },
	{ "stable_node_chains_prune_millisecs", "0", 0, "0" },
	{ "stable_node_chains_prune_millisecs", "-1", EINVAL },
	{ "stable_node_chains_prune_millisecs", "4294967296", EINVAL },
	{ "stable_node_chains_prune_millisecs", "2000", 0, "2000" },
	{ "advisor_max_cpu", "50", 0, "50" },
	{ "advisor_max_cpu", "-1", EINVAL },
	{ "advisor_max_cpu", "70", 0, "70" },
	{ "advisor_min_pages_to_scan", "abc", EINVAL },
	{ "advisor_max_pages_to_scan", "-2", EINVAL },
	{ "advisor_target_scan_time", "0", EINVAL },
	{ "advisor_target_scan_time", "1", 0, "1" },
	{ "advisor_target_scan_time", "200", 0, "200" },
	{ "advisor_mode", "bogus", EINVAL },
	{ "advisor_mode", "\n", EINVAL },
	{ "pages_shared", "0", EACCES },
	{ "full_scans", "0", EACCES },
	{ "general_profit", "0", EACCES },
};

#define NR_WRITE_CASES ARRAY_SIZE(write_cases)

static bool check_write(const struct write_case *c)
{
	char buf[128];
	int err = ksm_put(c->file, c->value);

	if (err != -c->err) {
		ksft_print_msg("write '%s' to %s: %s, want %s\n", c->value, c->file,
			       err ? strerror(-err) : "success",
			       c->err ? strerror(c->err) : "success");
		return false;
	}
	if (!c->readback)
		return true;
	if (ksm_get(c->file, buf, sizeof(buf)) || strcmp(buf, c->readback)) {
		ksft_print_msg("%s after writing '%s': '%s', want '%s'\n", c->file,
			       c->value, buf, c->readback);
		return false;
	}
	return true;
}

/* One result per file, covering all of its write cases. */
static void test_writes(void)
{
	size_t i, j;

	for (i = 0; i < NR_FILES; i++) {
		const char *name = ksm_files[i].name;
		bool ok = true, any = false;

		for (j = 0; j < NR_WRITE_CASES; j++) {
			if (strcmp(write_cases[j].file, name))
				continue;
			any = true;
			ok &= check_write(&write_cases[j]);
		}
		if (any)
			ksft_test_result(ok, "%s: writes validated\n", name);
	}
}

/* Switching advisor_mode resets pages_to_scan and locks it. */
static void test_advisor_mode(void)
{
	bool ok = true;
	char buf[64];

	ok &= !ksm_put("advisor_min_pages_to_scan", "700");
	ok &= !ksm_put("pages_to_scan", "1234");
	ok &= !ksm_put("advisor_mode", "scan-time");
	ok &= !ksm_get("advisor_mode", buf, sizeof(buf)) && !strcmp(buf, "none [scan-time]");
	ok &= ksm_get_long("pages_to_scan") == 700;
	ok &= ksm_put("pages_to_scan", "50") == -EINVAL;
	ok &= !ksm_put("advisor_mode", "scan-time");	/* same mode: no reset */
	ok &= !ksm_put("advisor_mode", "none\n");
	ok &= !ksm_get("advisor_mode", buf, sizeof(buf)) && !strcmp(buf, "[none] scan-time");
	ok &= ksm_get_long("pages_to_scan") == 100;
	ok &= !ksm_put("pages_to_scan", "50");
	ok &= !ksm_put("advisor_min_pages_to_scan", "500");
	ok &= !ksm_put("pages_to_scan", "100");
	ksft_test_result(ok, "advisor_mode switches reset and lock pages_to_scan\n");
}

/* Map @pages identical pages, let ksmd merge them; returns the mapping. */
static char *merge_some_pages(size_t pages, size_t psize)
{
	time_t deadline = time(NULL) + 60;
	char *map;

	map = mmap(NULL, pages * psize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	memset(map, 0x5a, pages * psize);
	if (madvise(map, pages * psize, MADV_MERGEABLE)) {
		munmap(map, pages * psize);
		return NULL;
	}
	ksm_put("sleep_millisecs", "0");
	ksm_put("pages_to_scan", "10000");
	ksm_put("run", "1");
	while (ksm_get_long("pages_shared") < 1 && time(NULL) < deadline)
		usleep(10000);
	return map;
}

static void test_ebusy_rules(void)
{
	size_t psize = getpagesize(), pages = 16;
	bool ok = true;
	char *map;

	map = merge_some_pages(pages, psize);
	if (!map || ksm_get_long("pages_shared") < 1) {
		ksft_test_result_fail("EBUSY rules: could not create a KSM page\n");
		if (map)
			munmap(map, pages * psize);
		ksm_put("run", "2");
		return;
	}
	ksm_put("run", "0");
	ok &= ksm_put("merge_across_nodes", "0") == -EBUSY;
	ok &= ksm_put("max_page_sharing", "10") == -EBUSY;
	/* Writing the current value is not a change and succeeds. */
	ok &= ksm_put("merge_across_nodes", "1") == 0;
	ok &= ksm_put("max_page_sharing", "256") == 0;
	ok &= ksm_get_long("merge_across_nodes") == 1;
	ok &= ksm_get_long("max_page_sharing") == 256;
	if (!ok)
		ksft_print_msg("knobs changed while KSM pages existed\n");

	/* run=2 unmerges everything; then both may change. */
	ok &= ksm_put("run", "2") == 0;
	ok &= ksm_get_long("pages_shared") == 0 && ksm_get_long("pages_sharing") == 0;
	ok &= ksm_put("max_page_sharing", "10") == 0 && ksm_get_long("max_page_sharing") == 10;
	ok &= ksm_put("max_page_sharing", "256") == 0;
	ok &= ksm_put("merge_across_nodes", "0") == 0 &&
	      ksm_get_long("merge_across_nodes") == 0;
	ok &= ksm_put("merge_across_nodes", "1") == 0;
	ok &= ksm_put("run", "0") == 0;
	munmap(map, pages * psize);
	ksm_put("sleep_millisecs", "20");
	ksm_put("pages_to_scan", "100");
	ksft_test_result(ok, "merge_across_nodes and max_page_sharing EBUSY rules\n");
}

int main(void)
{
	int nr_writes = 0;
	size_t i, j;

	ksft_print_header();
	if (access(KSM_DIR "run", F_OK))
		ksft_exit_skip("KSM is not available\n");
	if (geteuid())
		ksft_exit_skip("must run as root\n");
	for (i = 0; i < NR_FILES; i++)
		for (j = 0; j < NR_WRITE_CASES; j++)
			if (!strcmp(write_cases[j].file, ksm_files[i].name)) {
				nr_writes++;
				break;
			}
	ksft_set_plan(5 + nr_writes);

	test_files_and_modes();
	test_read_format();
	test_boot_defaults();
	test_writes();
	test_advisor_mode();
	test_ebusy_rules();
	ksft_finished();
}
