// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_fuzz - garbage and races against KSM's user ABI.
 *
 * Several threads at once, for a given time:
 *  - write random and malformed values to every file under
 *    /sys/kernel/mm/ksm: empty, huge, negative, non-numeric, partial
 *    ("12abc"), hexadecimal, padded, 4 KiB long, binary, plausible
 *    numbers of every size, with and without a newline;
 *  - call madvise(MADV_MERGEABLE / MADV_UNMERGEABLE / a random advice)
 *    on random ranges of mappings of every kind (private and shared
 *    anonymous, a shared file, PROT_NONE, partly unmapped, unaligned and
 *    huge lengths), mapping and unmapping them as they go;
 *  - call prctl(PR_SET/GET_MEMORY_MERGE) with random arguments and
 *    process_madvise() with random iovecs on the process and a child;
 *  - fork children that exit at once, some after PR_SET_MEMORY_MERGE.
 * Meanwhile a region of known content (many duplicates) is kept and
 * written; the checks (TAP) are that its content is intact, that every
 * sysfs file still reads as one line, and that KSM still merges after
 * the knobs are put back.  Crashes, leaks and splats are caught by the
 * harness on the debug kernel.
 *
 * usage: ksm_fuzz [-t seconds] [-j threads]
 *        ksm_fuzz -x <program> [args...]   run a program in merge-any mode
 *        (harness/guest/run-trinity runs trinity so)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ksm_util.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#define PR_GET_MEMORY_MERGE	68
#endif

#define MAX_FILES	64
#define MAX_THREADS	8
#define SLOTS		16
#define KNOWN_PAGES	256

static size_t psize;
static char files[MAX_FILES][64];
static int nr_files;
static double end_time;

static atomic_ulong n_sysfs, n_madvise, n_prctl, n_pmadvise, n_fork, n_mmap;

/* Per-thread xorshift state. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Values to write
 */

static const char *const fixed[] = {
	"", "\n", " ", "0", "1", "2", "3", "-1", "-0", "+1", "00", "1\n", " 1",
	"1 ", "0x10", "010", "1e3", "12abc", "abc", "none", "scan-time",
	"scan-time\n", "scan", "4294967295", "4294967296", "18446744073709551615",
	"18446744073709551616", "9223372036854775807", "-9223372036854775808",
	"99999999999999999999999999", "2147483647", "2147483648", "-2147483649",
	"\t5\t", "5\n\n", "1\0" "2",
};

static size_t make_value(uint64_t *s, char *buf, size_t cap)
{
	unsigned int kind = rnd(s) % 8;
	size_t n, i;

	switch (kind) {
	case 0:
	case 1:
		return snprintf(buf, cap, "%s", fixed[rnd(s) % (sizeof(fixed) / sizeof(fixed[0]))]);
	case 2:	/* small, plausible */
		return snprintf(buf, cap, "%llu%s", (unsigned long long)(rnd(s) % 4000),
				rnd(s) % 2 ? "\n" : "");
	case 3:	/* any size */
		return snprintf(buf, cap, "%llu", (unsigned long long)(rnd(s) >> (rnd(s) % 64)));
	case 4:	/* negative */
		return snprintf(buf, cap, "-%llu", (unsigned long long)(rnd(s) % 100000));
	case 5:	/* long digits */
		n = 1 + rnd(s) % (cap - 1);
		for (i = 0; i < n; i++)
			buf[i] = '0' + rnd(s) % 10;
		buf[n] = '\0';
		return n;
	case 6:	/* binary */
		n = 1 + rnd(s) % 64;
		for (i = 0; i < n; i++)
			buf[i] = rnd(s);
		buf[n] = '\0';
		return n;
	default:	/* number then garbage */
		return snprintf(buf, cap, "%u%c%u", (unsigned int)(rnd(s) % 10),
				"x. ,-\n"[rnd(s) % 6], (unsigned int)(rnd(s) % 10));
	}
}

/* Writable knobs that must keep ksmd sane: never left at an extreme. */
static bool knob_needs_care(const char *name)
{
	return !strcmp(name, "sleep_millisecs") || !strcmp(name, "pages_to_scan") ||
	       !strcmp(name, "advisor_target_scan_time") ||
	       !strcmp(name, "stable_node_chains_prune_millisecs");
}

static void sysfs_one(uint64_t *s)
{
	const char *name = files[rnd(s) % nr_files];
	char path[128], buf[4096];
	size_t len;
	int fd;

	/* A huge sleep would stall ksmd for the rest of the run. */
	if (!strcmp(name, "sleep_millisecs") && rnd(s) % 4)
		len = snprintf(buf, sizeof(buf), "%u", (unsigned int)(rnd(s) % 50));
	else
		len = make_value(s, buf, rnd(s) % 8 ? 64 : sizeof(buf));
	snprintf(path, sizeof(path), KSM "%s", name);
	fd = open(path, rnd(s) % 8 ? O_WRONLY : O_RDWR);
	if (fd < 0)
		return;
	/* Partial writes too: only the first bytes of the value. */
	if (len && rnd(s) % 8 == 0)
		len = rnd(s) % len;
	if (write(fd, buf, len) < 0)
		(void)errno;
	close(fd);
	atomic_fetch_add(&n_sysfs, 1);
	if (knob_needs_care(name) && rnd(s) % 2)
		ksm_write(name, !strcmp(name, "sleep_millisecs") ? 0 :
				!strcmp(name, "pages_to_scan") ? 1000 :
				!strcmp(name, "advisor_target_scan_time") ? 200 : 2000);
}

/*
 * Mappings to advise
 */

/*
 * A mapping a thread advises; @hole is the offset of a page unmapped in
 * its middle, or 0.  Another thread's new mapping may come to lie in
 * that hole, so nothing here unmaps or advises across it.
 */
struct slot {
	pthread_mutex_t lock;
	char *addr;
	size_t len;
	size_t hole;
};

static struct slot slots[SLOTS];
static int file_fd = -1;

static void slot_unmap(struct slot *sl)
{
	if (!sl->addr)
		return;
	if (sl->hole) {
		munmap(sl->addr, sl->hole);
		munmap(sl->addr + sl->hole + psize, sl->len - sl->hole - psize);
	} else {
		munmap(sl->addr, sl->len);
	}
	sl->addr = NULL;
	sl->hole = 0;
}

static void slot_remap(uint64_t *s, struct slot *sl)
{
	static const int prots[] = { PROT_READ | PROT_WRITE, PROT_READ, PROT_NONE };
	size_t pages = 1 + rnd(s) % 64, i;
	int kind = rnd(s) % 4, flags = MAP_ANONYMOUS, fd = -1;
	char *p;

	slot_unmap(sl);
	if (kind == 1) {
		flags = MAP_SHARED | MAP_ANONYMOUS;
	} else if (kind == 2 && file_fd >= 0) {
		flags = rnd(s) % 2 ? MAP_SHARED : MAP_PRIVATE;
		fd = file_fd;
	} else {
		flags |= MAP_PRIVATE;
	}
	p = mmap(NULL, pages * psize, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (p == MAP_FAILED)
		return;
	for (i = 0; i < pages; i++)
		if (rnd(s) % 2)
			memset(p + i * psize, (int)(rnd(s) % 3), psize);
	mprotect(p, pages * psize, prots[rnd(s) % 3]);
	/* Sometimes a hole in the middle. */
	if (pages > 4 && rnd(s) % 4 == 0 && !munmap(p + pages / 2 * psize, psize))
		sl->hole = pages / 2 * psize;
	sl->addr = p;
	sl->len = pages * psize;
	atomic_fetch_add(&n_mmap, 1);
}

static void madvise_one(uint64_t *s)
{
	struct slot *sl = &slots[rnd(s) % SLOTS];
	unsigned int r = rnd(s) % 16;
	size_t off, len;
	int advice;

	pthread_mutex_lock(&sl->lock);
	if (!sl->addr || rnd(s) % 16 == 0)
		slot_remap(s, sl);
	if (!sl->addr) {
		pthread_mutex_unlock(&sl->lock);
		return;
	}
	advice = r < 7 ? MADV_MERGEABLE : r < 14 ? MADV_UNMERGEABLE : (int)(rnd(s) % 32);
	off = rnd(s) % sl->len;
	len = rnd(s) % 4 ? sl->len - off : rnd(s);
	if (rnd(s) % 4)
		off &= ~(psize - 1);
	/*
	 * Only KSM's advice may run past the slot (over the process's own
	 * stacks and heap, or into the hole); any other would destroy them.
	 */
	if (advice != MADV_MERGEABLE && advice != MADV_UNMERGEABLE) {
		if (len > sl->len - off)
			len = sl->len - off;
		if (sl->hole && off <= sl->hole && len > sl->hole - off)
			len = sl->hole - off;
	}
	if (madvise(sl->addr + off, len, advice))
		(void)errno;
	pthread_mutex_unlock(&sl->lock);
	atomic_fetch_add(&n_madvise, 1);
}

static void prctl_one(uint64_t *s)
{
	unsigned long a2 = rnd(s) % 4 ? rnd(s) % 3 : rnd(s);
	unsigned long a3 = rnd(s) % 8 ? 0 : rnd(s);

	if (rnd(s) % 3)
		prctl(PR_SET_MEMORY_MERGE, a2, a3, 0, 0);
	else
		prctl(PR_GET_MEMORY_MERGE, a3, 0, 0, 0);
	atomic_fetch_add(&n_prctl, 1);
}

static void pmadvise_one(uint64_t *s, int pidfd)
{
	struct iovec iov[4];
	int i, n = 1 + rnd(s) % 4;

	for (i = 0; i < n; i++) {
		struct slot *sl = &slots[rnd(s) % SLOTS];

		iov[i].iov_base = rnd(s) % 8 ? sl->addr : (void *)(uintptr_t)rnd(s);
		iov[i].iov_len = rnd(s) % 8 ? sl->len : rnd(s) % (1 << 20);
	}
	syscall(__NR_process_madvise, pidfd, iov, n, (int)(rnd(s) % 32), 0);
	atomic_fetch_add(&n_pmadvise, 1);
}

static void fork_one(uint64_t *s)
{
	pid_t pid = fork();

	if (!pid) {
		if (rnd(s) % 2)
			prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	atomic_fetch_add(&n_fork, 1);
}

static void *fuzz_thread(void *arg)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL * (uintptr_t)arg + (uint64_t)time(NULL);
	int pidfd = syscall(__NR_pidfd_open, getpid(), 0);

	while (ksm_now() < end_time) {
		unsigned int r = rnd(&s) % 100;

		if (r < 40)
			sysfs_one(&s);
		else if (r < 75)
			madvise_one(&s);
		else if (r < 88)
			prctl_one(&s);
		else if (r < 97)
			pmadvise_one(&s, pidfd);
		else
			fork_one(&s);
	}
	if (pidfd >= 0)
		close(pidfd);
	return NULL;
}

/*
 * A crash says where it hit and which slot (if any) was there, then dies
 * as it would have: a clue for the harness log, not a recovery.
 */
static void on_segv(int sig, siginfo_t *si, void *uc)
{
	char msg[160];
	int i, n;

	(void)uc;
	n = snprintf(msg, sizeof(msg), "# signal %d at %p\n", sig, si->si_addr);
	if (write(STDOUT_FILENO, msg, n) < 0)
		(void)errno;
	for (i = 0; i < SLOTS; i++) {
		char *a = slots[i].addr, *x = si->si_addr;

		if (!a || x < a || x >= a + slots[i].len)
			continue;
		n = snprintf(msg, sizeof(msg), "# in slot %d: %p + %zu, hole at %zu\n",
			     i, a, slots[i].len, slots[i].hole);
		if (write(STDOUT_FILENO, msg, n) < 0)
			(void)errno;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void catch_crashes(void)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };

	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

/*
 * The known region and the checks
 */

static void known_fill(char *p, size_t i)
{
	ksm_fill(p, psize, 5, i % 16);
}

static size_t known_check(const char *map, size_t n)
{
	char *want = malloc(psize);
	size_t i, bad = 0;

	for (i = 0; i < n; i++) {
		known_fill(want, i);
		if (memcmp(map + i * psize, want, psize)) {
			printf("# known page %zu differs\n", i);
			bad++;
		}
	}
	free(want);
	return bad;
}

static void list_files(void)
{
	DIR *d = opendir(KSM);
	struct dirent *de;

	while (d && (de = readdir(d)) && nr_files < MAX_FILES) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(files[nr_files++], sizeof(files[0]), "%.63s", de->d_name);
	}
	if (d)
		closedir(d);
}

/* Every file reads as exactly one line. */
static int files_readable(void)
{
	char path[128], buf[256];
	int i, bad = 0;

	for (i = 0; i < nr_files; i++) {
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), KSM "%s", files[i]);
		fd = open(path, O_RDONLY);
		n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		if (n <= 0 || buf[n - 1] != '\n' || memchr(buf, '\n', n - 1)) {
			printf("# %s does not read as one line (%zd bytes)\n", files[i], n);
			bad++;
		}
	}
	return bad;
}

static void restore_knobs(void)
{
	int fd = open(KSM "advisor_mode", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "none", 4) < 0)
			(void)errno;
		close(fd);
	}
	ksm_write("run", 2);
	ksm_write("merge_across_nodes", 1);
	ksm_write("max_page_sharing", 256);
	ksm_write("use_zero_pages", 0);
	ksm_write("smart_scan", 1);
	ksm_write("stable_node_chains_prune_millisecs", 2000);
	ksm_write("advisor_target_scan_time", 200);
	ksm_write("advisor_max_cpu", 70);
	ksm_write("advisor_min_pages_to_scan", 500);
	ksm_write("advisor_max_pages_to_scan", 30000);
}

/* After the fuzzing, KSM must still merge a fresh duplicate region. */
static bool still_merges(void)
{
	size_t n = 64, i;
	char *p = mmap(NULL, n * psize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool ok = false;
	double deadline;

	if (p == MAP_FAILED)
		return false;
	madvise(p, n * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++)
		ksm_fill(p + i * psize, psize, 77, i % 2);
	ksm_write("pages_to_scan", 1000);
	ksm_write("sleep_millisecs", 0);
	madvise(p, n * psize, MADV_MERGEABLE);
	ksm_write("run", 1);
	for (deadline = ksm_now() + 60; ksm_now() < deadline && !ok; usleep(20000))
		ok = ksm_read("pages_sharing") == (long)n - 2;
	if (!ok)
		printf("# pages_sharing %ld, want %zu\n", ksm_read("pages_sharing"), n - 2);
	munmap(p, n * psize);
	return ok;
}

int main(int argc, char **argv)
{
	int seconds = 60, threads = 4, opt, i;
	pthread_t tid[MAX_THREADS];
	char *known;
	size_t bad;
	bool merges;

	while ((opt = getopt(argc, argv, "+t:j:x")) != -1) {
		if (opt == 't') {
			seconds = atoi(optarg);
		} else if (opt == 'j') {
			threads = atoi(optarg);
		} else if (opt == 'x' && optind < argc) {
			if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
				perror("PR_SET_MEMORY_MERGE");
			execvp(argv[optind], argv + optind);
			perror(argv[optind]);
			return 127;
		}
	}
	if (threads < 1 || threads > MAX_THREADS)
		threads = 4;
	psize = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	catch_crashes();
	printf("TAP version 13\n1..3\n");
	list_files();
	if (!nr_files) {
		printf("1..0 # SKIP no %s\n", KSM);
		return 4;
	}
	file_fd = open("/tmp/ksm_fuzz.file", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (file_fd >= 0 && ftruncate(file_fd, 64 * psize))
		(void)errno;
	for (i = 0; i < SLOTS; i++)
		pthread_mutex_init(&slots[i].lock, NULL);

	known = mmap(NULL, KNOWN_PAGES * psize, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (known == MAP_FAILED)
		return 1;
	for (i = 0; i < KNOWN_PAGES; i++)
		known_fill(known + i * psize, i);
	madvise(known, KNOWN_PAGES * psize, MADV_MERGEABLE);
	ksm_write("run", 1);

	end_time = ksm_now() + seconds;
	for (i = 0; i < threads; i++)
		pthread_create(&tid[i], NULL, fuzz_thread, (void *)(uintptr_t)(i + 1));
	/* The known region is rewritten with its own content now and then. */
	while (ksm_now() < end_time) {
		size_t j = rand() % KNOWN_PAGES;

		known_fill(known + j * psize, j);
		usleep(20000);
	}
	for (i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);

	printf("# calls: sysfs=%lu madvise=%lu prctl=%lu process_madvise=%lu fork=%lu mmap=%lu\n",
	       n_sysfs, n_madvise, n_prctl, n_pmadvise, n_fork, n_mmap);
	prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0);
	bad = known_check(known, KNOWN_PAGES);
	printf("%s 1 the known region is intact (%zu bad pages)\n", bad ? "not ok" : "ok", bad);
	/* Nothing of the fuzzing may count in the last check. */
	munmap(known, KNOWN_PAGES * psize);
	for (i = 0; i < SLOTS; i++)
		slot_unmap(&slots[i]);
	restore_knobs();
	bad = files_readable();
	printf("%s 2 every sysfs file reads as one line\n", bad ? "not ok" : "ok");
	merges = still_merges();
	printf("%s 3 KSM still merges after the knobs are restored\n", merges ? "ok" : "not ok");
	ksm_write("run", 2);
	ksm_write("pages_to_scan", 100);
	ksm_write("sleep_millisecs", 20);
	ksm_write("run", 0);
	return 0;
}
