// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm_madvise_tests - who may be merged: MADV_MERGEABLE and
 * MADV_UNMERGEABLE on eligible and ineligible ranges, and the
 * PR_SET_MEMORY_MERGE process setting across new mappings, fork and
 * execve.  Mergeability is read back from the "mg" flag of
 * /proc/self/smaps.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#define PR_GET_MEMORY_MERGE 68
#endif

static size_t psize;

/* Does the VMA that contains @addr carry the "mg" (VM_MERGEABLE) flag? */
static int vma_mergeable(void *addr)
{
	unsigned long start, end, a = (unsigned long)addr;
	char line[512], perms[8];
	bool inside = false;
	int ret = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* A VMA starts with "start-end perms ..." */
		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3) {
			inside = a >= start && a < end;
			continue;
		}
		if (inside && !strncmp(line, "VmFlags:", 8)) {
			ret = !!strstr(line, " mg");
			break;
		}
	}
	fclose(f);
	return ret;
}

static void *map(int flags)
{
	void *p = mmap(NULL, 4 * psize, PROT_READ | PROT_WRITE, flags, -1, 0);

	if (p == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	return p;
}

static void test_private_anon(void)
{
	char *p = map(MAP_PRIVATE | MAP_ANONYMOUS);
	bool ok;

	ok = !madvise(p, 4 * psize, MADV_MERGEABLE) && vma_mergeable(p) == 1;
	ok = ok && !madvise(p, 4 * psize, MADV_UNMERGEABLE) && vma_mergeable(p) == 0;
	/* Advice on part of a VMA splits it. */
	ok = ok && !madvise(p + psize, psize, MADV_MERGEABLE) &&
	     vma_mergeable(p) == 0 && vma_mergeable(p + psize) == 1 &&
	     vma_mergeable(p + 2 * psize) == 0;
	ksft_test_result(ok, "private anonymous memory becomes mergeable and back\n");
	munmap(p, 4 * psize);
}

static void test_shared_ignored(void)
{
	char *p = map(MAP_SHARED | MAP_ANONYMOUS);
	bool ok;

	ok = !madvise(p, 4 * psize, MADV_MERGEABLE) && vma_mergeable(p) == 0;
	ok = ok && !madvise(p, 4 * psize, MADV_UNMERGEABLE);
	ksft_test_result(ok, "shared memory: advice accepted and ignored\n");
	munmap(p, 4 * psize);
}

static long hugetlb_pool(long set)
{
	long v = -1;
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", set < 0 ? "r" : "w");

	if (!f)
		return -1;
	if (set < 0 ? fscanf(f, "%ld", &v) != 1 : fprintf(f, "%ld", set) < 0)
		v = -1;
	fclose(f);
	return v;
}

static void test_hugetlb_ignored(void)
{
	long saved = hugetlb_pool(-1);
	size_t huge = 2UL << 20;
	char *p;

	hugetlb_pool(saved + 1);
	p = mmap(NULL, huge, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED) {
		ksft_test_result_skip("hugetlb: no huge page could be reserved\n");
	} else {
		ksft_test_result(!madvise(p, huge, MADV_MERGEABLE) && vma_mergeable(p) == 0,
				 "hugetlb memory: advice accepted and ignored\n");
		munmap(p, huge);
	}
	hugetlb_pool(saved);
}

static void test_unmapped_range(void)
{
	char *p = map(MAP_PRIVATE | MAP_ANONYMOUS);
	bool ok;

	munmap(p + psize, psize);
	ok = madvise(p, 4 * psize, MADV_MERGEABLE) == -1 && errno == ENOMEM;
	/* The mapped parts around the hole were still advised. */
	ok = ok && vma_mergeable(p) == 1 && vma_mergeable(p + 2 * psize) == 1;
	ksft_test_result(ok, "a hole in the range gives ENOMEM\n");
	munmap(p, 4 * psize);
}

static void test_never_mergeable_unmerge(void)
{
	char *p = map(MAP_PRIVATE | MAP_ANONYMOUS);

	memset(p, 1, 4 * psize);
	ksft_test_result(!madvise(p, 4 * psize, MADV_UNMERGEABLE) &&
			 vma_mergeable(p) == 0,
			 "MADV_UNMERGEABLE on never-merged memory is a no-op\n");
	munmap(p, 4 * psize);
}

static void test_prctl(const char *self)
{
	char *before, *after;
	int status;
	pid_t pid;
	bool ok;

	before = map(MAP_PRIVATE | MAP_ANONYMOUS);
	ok = prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) == 0;
	ok = ok && prctl(PR_SET_MEMORY_MERGE, 1, 1, 0, 0) == -1 && errno == EINVAL;
	ok = ok && !prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) &&
	     prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) == 1;
	after = map(MAP_PRIVATE | MAP_ANONYMOUS);
	ok = ok && vma_mergeable(before) == 1 && vma_mergeable(after) == 1;
	ksft_test_result(ok, "PR_SET_MEMORY_MERGE marks existing and new VMAs\n");

	pid = fork();
	if (!pid)
		_exit(prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) == 1 ? 0 : 1);
	ok = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	     !WEXITSTATUS(status);
	ksft_test_result(ok, "PR_SET_MEMORY_MERGE is inherited across fork\n");

	pid = fork();
	if (!pid) {
		execl(self, self, "--report-merge", NULL);
		_exit(2);
	}
	ok = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	     !WEXITSTATUS(status);
	ksft_test_result(ok, "PR_SET_MEMORY_MERGE is kept across execve\n");

	ok = !prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0) &&
	     prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) == 0 &&
	     vma_mergeable(before) == 0 && vma_mergeable(after) == 0;
	ksft_test_result(ok, "PR_SET_MEMORY_MERGE=0 clears the setting and the VMAs\n");
	munmap(before, 4 * psize);
	munmap(after, 4 * psize);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--report-merge")) {
		/* Run after execve: the setting and a new VMA must be mergeable. */
		char *p = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		psize = getpagesize();
		return prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) == 1 &&
		       vma_mergeable(p) == 1 ? 0 : 1;
	}
	ksft_print_header();
	if (access("/sys/kernel/mm/ksm/run", F_OK))
		ksft_exit_skip("KSM is not available\n");
	psize = getpagesize();
	ksft_set_plan(9);

	test_private_anon();
	test_shared_ignored();
	test_hugetlb_ignored();
	test_unmapped_range();
	test_never_mergeable_unmerge();
	test_prctl(argv[0]);
	ksft_finished();
}
