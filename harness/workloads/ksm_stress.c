// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_stress - data integrity of KSM under everything the mm can do to
 * merged pages at once.
 *
 * Workers hold pages whose content is a pure function of a 64-bit tag
 * (tag 0 is all zeros); most tags come from a small pool shared by every
 * worker, so many pages are identical across processes.  Each worker
 * keeps the tag of every page it owns (its shadow) and, while ksmd runs,
 * reads, writes and verifies its pages and applies random operations to
 * them: madvise of every kind, mprotect, mremap (move, shrink and grow),
 * munmap and remap, writes through /proc/self/mem, pins by vmsplice,
 * userfaultfd write protection, fork (with children that verify, write
 * and exit, some at once), execve, PR_SET_MEMORY_MERGE.  The driver (the
 * parent) meanwhile flips run between 0, 1 and 2, changes every tunable,
 * compacts memory, migrates workers between NUMA nodes, creates memory
 * pressure and poisons merged pages of two victim processes (hard
 * poison: every mapper gets SIGBUS; soft offline: nobody notices).
 *
 * Every mismatch is printed with worker, page, address, expected and
 * actual checksums and the page's pagemap entry and kpageflags; a
 * worker's first one also with its last operations on the page, and the
 * driver then lists its last operations at the end.  Output is TAP; the
 * last lines report the counts.
 *
 * With -f, a given percentage of the allocations made under the engine's
 * code fail (slab objects of its caches and of the xarray, and pages),
 * through the kernel's fault injection; the engine must lose nothing,
 * leak nothing and leave no mapping of a KSM page that the reverse map
 * cannot find.  On debug kernels the driver checks the last point every
 * few seconds through debugfs (ksm/rmap_check), with or without -f.
 *
 * Workers live in two memory cgroups, and the driver moves them between
 * the two.  -D starts in a merge domain other than global, -H in hardened
 * mode; the driver also switches both whenever nothing is merged.
 *
 * usage: ksm_stress [-t seconds] [-w workers] [-p pages-per-worker]
 *                   [-i seconds between poisoning and pressure rounds]
 *                   [-f percent of the engine's allocations to fail]
 *                   [-D global|memcg|process] [-H]
 *        ksm_stress -L               (only the leak checks, after a phase)
 *        ksm_stress -x <merge-any>   (exec check, used internally)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mempolicy.h>
#include <linux/userfaultfd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ksm_util.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#define PR_GET_MEMORY_MERGE	68
#endif
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE	101
#endif
#define PM_UFFD_WP	(1ULL << 57)
#define PM_PRESENT	(1ULL << 63)
#define PM_PFN_MASK	((1ULL << 55) - 1)

#define SHARED_TAGS	64
#define MAX_RUN		64

static size_t psize;

/* Operation counters; workers send theirs to the driver at the end. */
enum op {
	OP_VERIFY, OP_WRITE, OP_MERGEABLE, OP_UNMERGEABLE, OP_DONTNEED,
	OP_FREE, OP_COLD, OP_PAGEOUT, OP_COLLAPSE, OP_HUGEPAGE, OP_MPROTECT,
	OP_MREMAP_MOVE, OP_MREMAP_GROW, OP_REMAP, OP_PROCMEM, OP_VMSPLICE,
	OP_UFFD_WP, OP_FORK, OP_FORK_EXIT, OP_EXEC, OP_PRCTL,
	NR_WORKER_OPS,
	DRV_RUN = NR_WORKER_OPS, DRV_TUNABLE, DRV_COMPACT, DRV_MIGRATE,
	DRV_PRESSURE, DRV_POISON, DRV_SOFT_OFFLINE,
	NR_OPS
};

static const char *const op_names[NR_OPS] = {
	"verify", "write", "mergeable", "unmergeable", "dontneed", "free",
	"cold", "pageout", "collapse", "hugepage", "mprotect", "mremap_move",
	"mremap_grow", "munmap_remap", "proc_mem_write", "vmsplice_pin",
	"uffd_wp", "fork", "fork_exit", "exec", "prctl_merge_any",
	"run_flip", "tunable", "compact", "migrate", "pressure", "hwpoison",
	"soft_offline",
};

struct stats {
	unsigned long ops[NR_OPS];
	unsigned long bytes_verified;
	unsigned long errors;
};

static struct stats st;

/*
 * A worker's last operations other than reads, with the pages they
 * covered: printed with its first integrity error, so that the report
 * tells what happened to the page before it went wrong.
 */
#define HISTORY		256

struct history {
	double t;
	enum op op;
	size_t first, n;
};

static struct history history[HISTORY];
static unsigned long history_len;

/* The driver's last operations, printed at the end if a worker saw an error. */
static char drv_history[HISTORY][64];
static unsigned long drv_history_len;

static void __attribute__((format(printf, 1, 2))) drv_note(const char *fmt, ...)
{
	char *h = drv_history[drv_history_len++ % HISTORY];
	int len = snprintf(h, sizeof(drv_history[0]), "%.2f ", ksm_now());
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h + len, sizeof(drv_history[0]) - len, fmt, ap);
	va_end(ap);
}

static void print_drv_history(void)
{
	unsigned long k = drv_history_len > HISTORY ? drv_history_len - HISTORY : 0;

	printf("# driver history (oldest first):\n");
	for (; k < drv_history_len; k++)
		printf("#   %s\n", drv_history[k % HISTORY]);
}

/* Count a worker operation on pages [@first, @first + @n) and remember it. */
static void count_op(enum op op, size_t first, size_t n)
{
	struct history *h = &history[history_len++ % HISTORY];

	st.ops[op]++;
	h->t = ksm_now();
	h->op = op;
	h->first = first;
	h->n = n;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static void fill(char *p, uint64_t tag)
{
	uint64_t *w = (uint64_t *)p;
	size_t i;

	if (!tag) {
		memset(p, 0, psize);
		return;
	}
	for (i = 0; i < psize / 8; i++)
		w[i] = mix(tag * 4099 + i);
}

static uint64_t checksum(const char *p)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < psize / 8; i++)
		sum = mix(sum ^ w[i]);
	return sum;
}

static uint64_t tag_checksum(uint64_t tag)
{
	static char *buf;

	if (!buf)
		buf = malloc(psize);
	fill(buf, tag);
	return checksum(buf);
}

#define now()	ksm_now()

/* Write string @val to the file at @path; 0 or -1. */
static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
	close(fd);
	return ret;
}

/* The number after @key in a "<key> <number>" file such as /proc/vmstat, or -1. */
static long proc_field(const char *path, const char *key)
{
	char line[128], name[64];
	long v, found = -1;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld", name, &v) == 2 && !strcmp(name, key))
			found = v;
	if (f)
		fclose(f);
	return found;
}

#define vmstat_read(key)	proc_field("/proc/vmstat", key)
#define ksm_stat_read(key)	proc_field("/proc/self/ksm_stat", key)

static uint64_t pagemap_of(pid_t pid, void *addr)
{
	char path[64];
	uint64_t ent = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	if (pread(fd, &ent, sizeof(ent), (uintptr_t)addr / psize * sizeof(ent)) != sizeof(ent))
		ent = 0;
	close(fd);
	return ent;
}

/* The /proc/kpageflags word of @pfn (KPF_* bits), or 0. */
static uint64_t kpageflags_of(uint64_t pfn)
{
	uint64_t flags = 0;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &flags, sizeof(flags), pfn * sizeof(flags)) != sizeof(flags))
		flags = 0;
	close(fd);
	return flags;
}

/*
 * Workers
 */

struct worker {
	int id;
	char *base;		/* the region, moved by mremap */
	size_t pages;
	uint64_t *tag;		/* shadow: the tag of every page */
	unsigned long *good;	/* history_len when each page last verified */
	uint64_t next_unique;
	bool merge_any;
	int mem_fd;		/* /proc/self/mem */
	pid_t kids[8];		/* children that exited without waiting */
};

static uint64_t new_tag(struct worker *w)
{
	if (rnd() % 8 == 0)
		return 0;
	if (rnd() % 2)
		return 1 + rnd() % SHARED_TAGS;
	return (uint64_t)(w->id + 1) << 40 | ++w->next_unique;
}

/* The operations in the history that covered page @i, and the last few. */
static void print_history(struct worker *w, size_t i)
{
	unsigned long k = history_len > HISTORY ? history_len - HISTORY : 0;

	printf("# worker %d history at %.2f (oldest first; page %zu marked *, last seen intact before #%lu):\n",
	       w->id, ksm_now(), i, w->good[i]);
	for (; k < history_len; k++) {
		struct history *h = &history[k % HISTORY];
		bool hit = i >= h->first && i < h->first + h->n;

		if (hit || k + 8 >= history_len)
			printf("#   %c #%lu %.2f %s %zu+%zu\n", hit ? '*' : ' ', k, h->t,
			       op_names[h->op], h->first, h->n);
	}
}

/*
 * What a bad page holds instead: zeroes, another tag's data, or neither;
 * and whether its mapping is a zero page that KSM placed (unmerging the
 * page then lowers ksm_zero_pages).  Only for the first report: the
 * unmerge splits the VMA and changes what follows.
 */
static void diagnose_page(struct worker *w, size_t i, uint64_t got)
{
	char *p = w->base + i * psize;
	long zero_before, zero_after;
	const char *holds = "unknown data";
	uint64_t t;

	if (got == tag_checksum(0))
		holds = "zeroes";
	for (t = 1; t <= SHARED_TAGS; t++)
		if (got == tag_checksum(t))
			holds = "the data of another shared tag";
	zero_before = ksm_stat_read("ksm_zero_pages");
	madvise(p, psize, MADV_UNMERGEABLE);
	zero_after = ksm_stat_read("ksm_zero_pages");
	madvise(p, psize, MADV_MERGEABLE);
	printf("# worker %d page %zu holds %s; ksm_zero_pages %ld -> %ld on unmerging it\n",
	       w->id, i, holds, zero_before, zero_after);
}

static bool verify_page(struct worker *w, size_t i, const char *what)
{
	char *p = w->base + i * psize;
	uint64_t want = tag_checksum(w->tag[i]), got = checksum(p), ent;

	st.bytes_verified += psize;
	if (want == got) {
		w->good[i] = history_len;
		return true;
	}
	st.errors++;
	ent = pagemap_of(getpid(), p);
	printf("# INTEGRITY %.2f worker %d pid %d page %zu at %p after %s: tag %llx expected checksum %016llx actual %016llx pagemap %016llx kpageflags %016llx\n",
	       ksm_now(), w->id, getpid(), i, p, what, (unsigned long long)w->tag[i],
	       (unsigned long long)want, (unsigned long long)got, (unsigned long long)ent,
	       (unsigned long long)(ent & PM_PRESENT ? kpageflags_of(ent & PM_PFN_MASK) : 0));
	if (st.errors == 1) {
		print_history(w, i);
		diagnose_page(w, i, got);
	}
	fflush(stdout);
	return false;
}

static void verify_range(struct worker *w, size_t first, size_t n, const char *what)
{
	size_t i;

	for (i = first; i < first + n && i < w->pages; i++)
		verify_page(w, i, what);
}

static void write_page(struct worker *w, size_t i)
{
	w->tag[i] = new_tag(w);
	fill(w->base + i * psize, w->tag[i]);
}

/* A random run of pages inside the region. */
static void pick_range(struct worker *w, size_t *first, size_t *n)
{
	*first = rnd() % w->pages;
	*n = 1 + rnd() % MAX_RUN;
	if (*first + *n > w->pages)
		*n = w->pages - *first;
}

static void make_mergeable(struct worker *w, char *p, size_t n)
{
	if (madvise(p, n * psize, MADV_MERGEABLE) && errno != EAGAIN)
		printf("# worker %d: MADV_MERGEABLE: %s\n", w->id, strerror(errno));
}

/* madvise advice on a random range, then what the advice means for the shadow. */
static void op_madvise(struct worker *w, enum op op)
{
	static const int advice[] = {
		[OP_MERGEABLE] = MADV_MERGEABLE, [OP_UNMERGEABLE] = MADV_UNMERGEABLE,
		[OP_DONTNEED] = MADV_DONTNEED, [OP_FREE] = MADV_FREE,
		[OP_COLD] = MADV_COLD, [OP_PAGEOUT] = MADV_PAGEOUT,
		[OP_COLLAPSE] = MADV_COLLAPSE, [OP_HUGEPAGE] = MADV_HUGEPAGE,
	};
	size_t first, n, i;
	char *p;

	pick_range(w, &first, &n);
	if (op == OP_COLLAPSE || op == OP_HUGEPAGE) {
		/* Whole 2 MiB blocks inside the region. */
		size_t per = (2UL << 20) / psize;

		first = first / per * per;
		n = per;
		if (first + n > w->pages)
			return;
	}
	p = w->base + first * psize;
	if (op == OP_HUGEPAGE && rnd() % 2) {
		madvise(p, n * psize, MADV_NOHUGEPAGE);
	} else if (madvise(p, n * psize, advice[op]) && op != OP_COLLAPSE) {
		printf("# worker %d: madvise %s: %s\n", w->id, op_names[op], strerror(errno));
	}
	count_op(op, first, n);
	if (op == OP_DONTNEED) {
		for (i = first; i < first + n; i++)
			w->tag[i] = 0;
	} else if (op == OP_FREE) {
		/* Lazily freed pages are either kept or zero: write them now. */
		for (i = first; i < first + n; i++)
			write_page(w, i);
	}
	verify_range(w, first, n, op_names[op]);
}

static void op_mprotect(struct worker *w)
{
	size_t first, n;
	char *p;

	pick_range(w, &first, &n);
	p = w->base + first * psize;
	mprotect(p, n * psize, PROT_NONE);
	usleep(rnd() % 2000);
	mprotect(p, n * psize, PROT_READ | PROT_WRITE);
	count_op(OP_MPROTECT, first, n);
	verify_range(w, first, n, "mprotect");
}

/*
 * Move the whole region to a new place; if it spans several VMAs (their
 * flags differ), move a run of pages away and back again instead.
 */
static void op_mremap_move(struct worker *w)
{
	size_t len = w->pages * psize, first, n;
	char *to = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p, *from;

	if (to == MAP_FAILED)
		return;
	p = mremap(w->base, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (p != MAP_FAILED) {
		w->base = p;
		count_op(OP_MREMAP_MOVE, 0, w->pages);
		verify_range(w, rnd() % w->pages, MAX_RUN, "mremap move");
		return;
	}
	pick_range(w, &first, &n);
	from = w->base + first * psize;
	p = mremap(from, n * psize, n * psize, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (p == MAP_FAILED) {
		/* The run crosses a VMA boundary. */
		munmap(to, len);
		return;
	}
	if (mremap(p, n * psize, n * psize, MREMAP_MAYMOVE | MREMAP_FIXED, from) != from) {
		printf("# worker %d: cannot move pages back: %s\n", w->id, strerror(errno));
		exit(3);
	}
	munmap(to, len);
	count_op(OP_MREMAP_MOVE, first, n);
	verify_range(w, first, n, "mremap move and back");
}

/* Shrink the region by a few pages and grow it back. */
static void op_mremap_grow(struct worker *w)
{
	size_t k = 1 + rnd() % MAX_RUN, keep = w->pages - k, i;
	size_t len = w->pages * psize;
	char *p;

	if (mremap(w->base, len, keep * psize, 0) == MAP_FAILED)
		return;
	p = mremap(w->base, keep * psize, len, MREMAP_MAYMOVE);
	if (p == MAP_FAILED) {
		/* Several VMAs cannot grow: map the tail again instead. */
		p = mmap(w->base + keep * psize, k * psize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p == MAP_FAILED) {
			printf("# worker %d: lost its tail: %s\n", w->id, strerror(errno));
			exit(3);
		}
		p = w->base;
	}
	w->base = p;
	for (i = keep; i < w->pages; i++)
		w->tag[i] = 0;
	make_mergeable(w, w->base + keep * psize, k);
	count_op(OP_MREMAP_GROW, keep, k);
	verify_range(w, keep ? keep - 1 : 0, k + 1, "mremap grow");
}

static void op_remap(struct worker *w)
{
	size_t first, n, i;
	char *p;

	pick_range(w, &first, &n);
	p = w->base + first * psize;
	munmap(p, n * psize);
	if (mmap(p, n * psize, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
		printf("# worker %d: remap: %s\n", w->id, strerror(errno));
		exit(3);
	}
	for (i = first; i < first + n; i++)
		w->tag[i] = rnd() % 2 ? 0 : new_tag(w);
	for (i = first; i < first + n; i++)
		if (w->tag[i])
			fill(w->base + i * psize, w->tag[i]);
	make_mergeable(w, p, n);
	count_op(OP_REMAP, first, n);
	verify_range(w, first, n, "munmap+mmap");
}

/* Write a page through /proc/self/mem, as a debugger would. */
static void op_procmem(struct worker *w)
{
	size_t i = rnd() % w->pages;
	uint64_t tag = new_tag(w);
	char *buf = malloc(psize);

	fill(buf, tag);
	if (pwrite(w->mem_fd, buf, psize, (uintptr_t)(w->base + i * psize)) == (ssize_t)psize)
		w->tag[i] = tag;
	free(buf);
	count_op(OP_PROCMEM, i, 1);
	verify_page(w, i, "/proc/self/mem write");
}

/*
 * Pin a page into a pipe while its content is unique (so that it cannot
 * have been merged before the pin), then give it a content that other
 * pages share and let ksmd run: a pinned page must never be replaced, so
 * a last write must reach the page the pipe holds.
 */
static void op_vmsplice(struct worker *w)
{
	size_t i = rnd() % w->pages;
	char *p = w->base + i * psize, *buf = malloc(psize);
	struct iovec iov = { .iov_base = p, .iov_len = psize };
	uint64_t before, after;
	int fds[2];

	if (pipe(fds))
		return;
	w->tag[i] = (uint64_t)(w->id + 1) << 40 | ++w->next_unique;
	fill(p, w->tag[i]);
	before = pagemap_of(getpid(), p);
	if (vmsplice(fds[1], &iov, 1, 0) == (ssize_t)psize) {
		after = pagemap_of(getpid(), p);
		if ((before & PM_PRESENT) && before == after) {
			w->tag[i] = 1 + rnd() % SHARED_TAGS;
			fill(p, w->tag[i]);
			usleep(rnd() % 20000);
			write_page(w, i);
			if (read(fds[0], buf, psize) == (ssize_t)psize && memcmp(buf, p, psize)) {
				st.errors++;
				printf("# INTEGRITY worker %d page %zu at %p: pinned page was replaced (pipe %016llx, memory %016llx)\n",
				       w->id, i, p, (unsigned long long)checksum(buf),
				       (unsigned long long)checksum(p));
			}
			count_op(OP_VMSPLICE, i, 1);
		}
	}
	close(fds[0]);
	close(fds[1]);
	free(buf);
	verify_page(w, i, "vmsplice");
}

/*
 * Write-protect a range with userfaultfd, let ksmd run over it, and check
 * that every page still carries its uffd-wp bit.
 */
static void op_uffd_wp(struct worker *w)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	size_t first, n, i;
	int uffd;

	pick_range(w, &first, &n);
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		return;
	verify_range(w, first, n, "uffd-wp setup");	/* every pte present */
	reg.range.start = (uintptr_t)(w->base + first * psize);
	reg.range.len = n * psize;
	wp.range = reg.range;
	if (ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg) ||
	    ioctl(uffd, UFFDIO_WRITEPROTECT, &wp)) {
		close(uffd);
		return;
	}
	usleep(rnd() % 20000);
	for (i = first; i < first + n; i++) {
		uint64_t ent = pagemap_of(getpid(), w->base + i * psize);

		if (ent && !(ent & PM_UFFD_WP)) {
			st.errors++;
			printf("# INTEGRITY worker %d page %zu lost its uffd-wp bit (pagemap %llx)\n",
			       w->id, i, (unsigned long long)ent);
		}
	}
	verify_range(w, first, n, "uffd-wp");
	wp.mode = 0;
	ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
	ioctl(uffd, UFFDIO_UNREGISTER, &reg.range);
	close(uffd);
	count_op(OP_UFFD_WP, first, n);
}

/* Reap children that were left to exit on their own. */
static void reap_kids(struct worker *w, bool block)
{
	size_t k;
	int status;

	for (k = 0; k < sizeof(w->kids) / sizeof(w->kids[0]); k++) {
		if (!w->kids[k] || waitpid(w->kids[k], &status, block ? 0 : WNOHANG) <= 0)
			continue;
		w->kids[k] = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			st.errors++;
			printf("# worker %d: child failed (status %x)\n", w->id, status);
		}
	}
}

static void child_verify_all(struct worker *w)
{
	size_t i;

	for (i = 0; i < w->pages; i++)
		if (!verify_page(w, i, "fork (child)"))
			_exit(1);
}

/*
 * A child checks the pages it inherited, writes some, checks again and
 * exits; with @at_once it exits at once, perhaps while ksmd holds its mm.
 */
static void op_fork(struct worker *w, bool at_once)
{
	pid_t pid = fork();
	size_t k;

	if (pid < 0)
		return;
	if (!pid) {
		if (at_once)
			_exit(0);
		st.errors = 0;
		child_verify_all(w);
		for (k = 0; k < 16; k++)
			write_page(w, rnd() % w->pages);
		usleep(rnd() % 50000);
		child_verify_all(w);
		_exit(st.errors ? 1 : 0);
	}
	count_op(at_once ? OP_FORK_EXIT : OP_FORK, 0, w->pages);
	if (!at_once) {
		int status;

		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			st.errors++;
			printf("# worker %d: forked child found bad data (status %x)\n",
			       w->id, status);
		}
		return;
	}
	reap_kids(w, false);
	for (k = 0; k < sizeof(w->kids) / sizeof(w->kids[0]); k++)
		if (!w->kids[k]) {
			w->kids[k] = pid;
			return;
		}
	waitpid(pid, NULL, 0);
}

#define EXEC_NOMEM	3	/* exit status of a child whose execve failed with ENOMEM */

/* A child execs this program; merge-any must survive the execve. */
static void op_exec(struct worker *w)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return;
	if (!pid) {
		execl("/proc/self/exe", "ksm_stress", "-x", w->merge_any ? "1" : "0", NULL);
		_exit(errno == ENOMEM ? EXEC_NOMEM : 2);
	}
	waitpid(pid, &status, 0);
	/* Registering the new mm may fail like any allocation: not an error. */
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXEC_NOMEM)
		return;
	count_op(OP_EXEC, 0, w->pages);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		st.errors++;
		printf("# worker %d: exec check failed (status %x)\n", w->id, status);
	}
}

static void op_prctl(struct worker *w)
{
	w->merge_any = !w->merge_any;
	if (prctl(PR_SET_MEMORY_MERGE, w->merge_any, 0, 0, 0)) {
		w->merge_any = !w->merge_any;
		return;
	}
	/* Leaving merge-any unmerges and unmarks everything: mark again. */
	if (!w->merge_any)
		make_mergeable(w, w->base, w->pages);
	count_op(OP_PRCTL, 0, w->pages);
	verify_range(w, 0, w->pages, "PR_SET_MEMORY_MERGE");
}

static void worker_step(struct worker *w)
{
	unsigned int r = rnd() % 1000;
	size_t first, n, i;

	if (r < 450) {
		pick_range(w, &first, &n);
		verify_range(w, first, n, "read");
		st.ops[OP_VERIFY]++;
	} else if (r < 750) {
		pick_range(w, &first, &n);
		for (i = first; i < first + n; i++)
			write_page(w, i);
		count_op(OP_WRITE, first, n);
	} else if (r < 860) {
		op_madvise(w, OP_MERGEABLE + rnd() % (OP_HUGEPAGE - OP_MERGEABLE + 1));
	} else if (r < 875) {
		op_mprotect(w);
	} else if (r < 885) {
		op_mremap_move(w);
	} else if (r < 895) {
		op_mremap_grow(w);
	} else if (r < 910) {
		op_remap(w);
	} else if (r < 930) {
		op_procmem(w);
	} else if (r < 945) {
		op_vmsplice(w);
	} else if (r < 960) {
		op_uffd_wp(w);
	} else if (r < 975) {
		op_fork(w, false);
	} else if (r < 990) {
		op_fork(w, true);
	} else if (r < 995) {
		op_exec(w);
	} else {
		op_prctl(w);
	}
}

static void worker_main(int id, size_t pages, double end, int out_fd)
{
	struct worker w = { .id = id, .pages = pages };
	size_t i;

	rng_state = 0x9e3779b97f4a7c15ULL * (id + 1) ^ (uint64_t)getpid();
	w.base = mmap(NULL, pages * psize, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w.tag = calloc(pages, sizeof(*w.tag));
	w.good = calloc(pages, sizeof(*w.good));
	w.mem_fd = open("/proc/self/mem", O_RDWR);
	if (w.base == MAP_FAILED || !w.tag || !w.good || w.mem_fd < 0)
		exit(3);
	for (i = 0; i < pages; i++)
		write_page(&w, i);
	make_mergeable(&w, w.base, pages);
	while (now() < end)
		worker_step(&w);
	reap_kids(&w, true);
	verify_range(&w, 0, pages, "the end");
	if (write(out_fd, &st, sizeof(st)) != sizeof(st))
		exit(3);
	exit(0);
}

/*
 * The driver
 */

static const char *const tunables[] = {
	"pages_to_scan", "sleep_millisecs", "smart_scan", "use_zero_pages",
	"max_page_sharing", "merge_across_nodes", "stable_node_chains_prune_millisecs",
	"advisor_mode", "merge_domain", "hardened", "thp_split_threshold",
};

static void drv_tunable(void)
{
	const char *name = tunables[rnd() % (sizeof(tunables) / sizeof(tunables[0]))];
	char path[128], val[32];
	int fd;

	if (!strcmp(name, "pages_to_scan"))
		snprintf(val, sizeof(val), "%llu", (unsigned long long)(1 + rnd() % 5000));
	else if (!strcmp(name, "sleep_millisecs"))
		snprintf(val, sizeof(val), "%llu", (unsigned long long)(rnd() % 30));
	else if (!strcmp(name, "max_page_sharing"))
		snprintf(val, sizeof(val), "%llu", (unsigned long long)(2 + rnd() % 600));
	else if (!strcmp(name, "thp_split_threshold"))
		/* 6.12's behaviour, the default, or anything up to a whole THP */
		snprintf(val, sizeof(val), "%llu",
			 (unsigned long long)(rnd() % 3 ? (rnd() % 2 ? 1 : 64) : 1 + rnd() % 512));
	else if (!strcmp(name, "stable_node_chains_prune_millisecs"))
		snprintf(val, sizeof(val), "%llu", (unsigned long long)(rnd() % 3000));
	else if (!strcmp(name, "advisor_mode"))
		snprintf(val, sizeof(val), "%s", rnd() % 4 ? "none" : "scan-time");
	else if (!strcmp(name, "merge_domain"))
		snprintf(val, sizeof(val), "%s",
			 (const char *[]){ "global", "memcg", "process" }[rnd() % 3]);
	else
		snprintf(val, sizeof(val), "%d", (int)(rnd() % 2));
	snprintf(path, sizeof(path), KSM "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return;
	/* EBUSY (pages merged) and EINVAL (advisor owns pages_to_scan) are fine. */
	if (write(fd, val, strlen(val)) < 0) {
		drv_note("%s=%s refused", name, val);
		if (errno != EBUSY && errno != EINVAL)
			printf("# write %s=%s: %s\n", name, val, strerror(errno));
	} else {
		drv_note("%s=%s", name, val);
	}
	close(fd);
	st.ops[DRV_TUNABLE]++;
}

static void drv_run(void)
{
	unsigned int r = rnd() % 10;

	ksm_write("run", r < 7 ? 1 : r < 9 ? 0 : 2);
	drv_note("run=%d", r < 7 ? 1 : r < 9 ? 0 : 2);
	st.ops[DRV_RUN]++;
}

static void drv_migrate(pid_t *workers, int nr)
{
	unsigned long from = 1, to = 2;

	if (access("/sys/devices/system/node/node1", F_OK))
		return;
	if (rnd() % 2) {
		from = 2;
		to = 1;
	}
	if (syscall(__NR_migrate_pages, workers[rnd() % nr], 8 * sizeof(long), &from, &to) >= 0) {
		drv_note("migrate_pages %lx->%lx", from, to);
		st.ops[DRV_MIGRATE]++;
	}
}

#define CGROUP	"/sys/fs/cgroup/"
#define STRESS_CG	CGROUP "ksm_stress/"

/* The two leaves the workers live in (cgroup v2 keeps tasks in leaves). */
static const char *const stress_leaves[2] = {
	STRESS_CG "a/cgroup.procs", STRESS_CG "b/cgroup.procs",
};

static bool cgroup_put(pid_t p, int leaf)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", p);
	return !write_str(stress_leaves[leaf], pid);
}

/*
 * Put the workers in a memory cgroup of their own, for drv_pressure(),
 * split between its two children, for drv_cgroup_move().
 */
static bool cgroup_setup(pid_t *workers, int nr)
{
	int w;

	mkdir(CGROUP, 0755);
	mount("none", CGROUP, "cgroup2", 0, NULL);
	write_str(CGROUP "cgroup.subtree_control", "+memory");
	if (mkdir(STRESS_CG, 0755) && errno != EEXIST)
		return false;
	write_str(STRESS_CG "cgroup.subtree_control", "+memory");
	if ((mkdir(STRESS_CG "a", 0755) && errno != EEXIST) ||
	    (mkdir(STRESS_CG "b", 0755) && errno != EEXIST))
		return false;
	for (w = 0; w < nr; w++)
		if (!cgroup_put(workers[w], w % 2))
			return false;
	return true;
}

/*
 * Move a worker to the other cgroup: with merge_domain=memcg its merged
 * pages must leave their old domain while it goes on using them.
 */
static void drv_cgroup_move(pid_t *workers, int nr)
{
	int w = rnd() % nr, leaf = rnd() % 2;

	if (!cgroup_put(workers[w], leaf))
		return;
	drv_note("worker %d to cgroup %c", w, "ab"[leaf]);
	st.ops[DRV_MIGRATE]++;
}

/*
 * Squeeze the workers to half their memory for a second: reclaim swaps
 * their pages, merged or not, out to zram.
 */
static void drv_pressure(size_t bytes)
{
	char high[32];

	snprintf(high, sizeof(high), "%zu", bytes / 2);
	if (write_str(STRESS_CG "memory.high", high))
		return;
	drv_note("memory.high=%s", high);
	sleep(1);
	write_str(STRESS_CG "memory.high", "max");
	drv_note("memory.high=max");
	st.ops[DRV_PRESSURE]++;
}

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

/* Read one byte; true if that raised SIGBUS. */
static bool touch_faults(volatile char *p)
{
	if (sigsetjmp(bus_jmp, 1))
		return true;
	(void)*p;
	return false;
}

/*
 * A victim holds VICTIM_PAGES pages with tags base + j and obeys the
 * driver: 'p' hard-poisons page 0, 's' soft-offlines page 1, 'c' checks:
 * answers a byte with bit 0 set if page 0 faults, bit 1 if another page
 * is wrong.
 */
#define VICTIM_PAGES	4

static void victim_main(uint64_t base, int cmd_fd, int ans_fd, char **where)
{
	char *p = mmap(NULL, VICTIM_PAGES * psize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char cmd, ans;
	int j;

	signal(SIGBUS, on_sigbus);
	for (j = 0; j < VICTIM_PAGES; j++)
		fill(p + j * psize, base + j);
	madvise(p, VICTIM_PAGES * psize, MADV_NOHUGEPAGE);
	madvise(p, VICTIM_PAGES * psize, MADV_MERGEABLE);
	*where = p;
	while (read(cmd_fd, &cmd, 1) == 1) {
		ans = 0;
		if (cmd == 'p') {
			if (sigsetjmp(bus_jmp, 1) == 0)
				madvise(p, psize, MADV_HWPOISON);
		} else if (cmd == 's') {
			madvise(p + psize, psize, MADV_SOFT_OFFLINE);
		} else if (cmd == 'c') {
			if (touch_faults(p))
				ans |= 1;
			for (j = 1; j < VICTIM_PAGES; j++)
				if (touch_faults(p + j * psize) ||
				    checksum(p + j * psize) != tag_checksum(base + j))
					ans |= 2;
		} else {
			break;
		}
		if (write(ans_fd, &ans, 1) != 1)
			break;
	}
	_exit(0);
}

struct victim {
	pid_t pid;
	int cmd, ans;
};

static char **victim_addr;	/* shared page: where each victim mapped */

static bool victim_start(struct victim *v, int idx, uint64_t base)
{
	int c[2], a[2];

	if (pipe(c) || pipe(a))
		return false;
	v->pid = fork();
	if (!v->pid) {
		close(c[1]);
		close(a[0]);
		victim_main(base, c[0], a[1], &victim_addr[idx]);
	}
	close(c[0]);
	close(a[1]);
	v->cmd = c[1];
	v->ans = a[0];
	return v->pid > 0;
}

static int victim_do(struct victim *v, char cmd)
{
	char ans = -1;

	if (write(v->cmd, &cmd, 1) != 1 || read(v->ans, &ans, 1) != 1)
		return -1;
	return ans;
}

/*
 * Tell the victim to quit rather than wait for its end of the pipe to
 * close: the other victim inherited a copy of that write end.
 */
static void victim_stop(struct victim *v)
{
	char quit = 'q';

	if (write(v->cmd, &quit, 1) != 1)
		kill(v->pid, SIGKILL);
	close(v->cmd);
	close(v->ans);
	waitpid(v->pid, NULL, 0);
}

/*
 * Two victims with equal contents; once ksmd merged page 0 (and page 1),
 * victim A hard-poisons page 0 and soft-offlines page 1.  Both must get
 * SIGBUS on page 0 and see their other pages intact.
 */
static void drv_poison(void)
{
	static uint64_t round;
	uint64_t base = 0x5eed000000ULL + (++round << 8);
	struct victim a, b;
	uint64_t pa = 0, pb = 0;
	double deadline = now() + 20;
	int ra, rb;

	if (!victim_start(&a, 0, base) || !victim_start(&b, 1, base))
		return;
	ksm_write("run", 1);
	while (now() < deadline) {
		usleep(50000);
		if (!victim_addr[0] || !victim_addr[1])
			continue;
		pa = pagemap_of(a.pid, victim_addr[0]);
		pb = pagemap_of(b.pid, victim_addr[1]);
		if ((pa & PM_PRESENT) && (pa & PM_PFN_MASK) == (pb & PM_PFN_MASK))
			break;
	}
	if ((pa & PM_PFN_MASK) != (pb & PM_PFN_MASK) || !(pa & PM_PRESENT)) {
		/* Not merged in time (run=0 or advisor): try another round. */
		victim_stop(&a);
		victim_stop(&b);
		victim_addr[0] = victim_addr[1] = NULL;
		return;
	}
	victim_do(&a, 'p');
	victim_do(&a, 's');
	ra = victim_do(&a, 'c');
	rb = victim_do(&b, 'c');
	drv_note("poisoned pfn %llx", (unsigned long long)(pa & PM_PFN_MASK));
	st.ops[DRV_POISON]++;
	st.ops[DRV_SOFT_OFFLINE]++;
	printf("# driver: poisoned KSM page %llx\n", (unsigned long long)(pa & PM_PFN_MASK));
	if (ra != 1 || rb != 1) {
		st.errors++;
		printf("# INTEGRITY poisoned KSM page %llx: victim answers %d %d, want 1 1 (page 0 SIGBUS, others intact)\n",
		       (unsigned long long)(pa & PM_PFN_MASK), ra, rb);
	}
	victim_stop(&a);
	victim_stop(&b);
	victim_addr[0] = victim_addr[1] = NULL;
}

/*
 * Merged and unmerged pages, from the rises and falls of the number of
 * mappings of KSM folios and KSM zero pages between two samples: lower
 * bounds, since a merge and an unmerge in between cancel out.
 */
static long merged_pages, unmerged_pages, max_merged;

static void sample_merged(void)
{
	static long last;
	long now_merged = ksm_read("pages_shared") + ksm_read("pages_sharing") +
			  ksm_read("ksm_zero_pages");

	if (now_merged > last)
		merged_pages += now_merged - last;
	else
		unmerged_pages += last - now_merged;
	if (now_merged > max_merged)
		max_merged = now_merged;
	last = now_merged;
}

#define DEBUGFS		"/sys/kernel/debug/"
#define RMAP_CHECK_EVERY	10	/* seconds */
#define RMAP_CHECK_LAST		6	/* seconds before the end */
#define FAULT_BUDGET		1000000000L	/* "times": failures to inject at most */
#define TEXT_SYMS	"/ksm-text.syms"

/* Address of text symbol @name in /proc/kallsyms, or 0. */
static unsigned long kallsyms_addr(const char *name)
{
	char line[256], sym[128], type;
	unsigned long addr, found = 0;
	FILE *f = fopen("/proc/kallsyms", "r");

	while (f && !found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx %c %127s", &addr, &type, sym) == 3 &&
		    (type == 't' || type == 'T') && !strcmp(sym, name))
			found = addr;
	if (f)
		fclose(f);
	return found;
}

static int write_num(const char *path, unsigned long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", v);
	return write_str(path, buf);
}

/*
 * Configure one fault-injection capability (@dir under debugfs) to fail
 * @pct percent of the calls whose stack passes through [@start, @end).
 */
static bool fault_attr_setup(const char *dir, int pct, unsigned long start, unsigned long end)
{
	static const char *const zero_knobs[] = { "space", "verbose", "task-filter",
						  "reject-start", "reject-end", "ignore-gfp-wait" };
	char path[128];
	bool ok = true;
	size_t i;

	for (i = 0; i < sizeof(zero_knobs) / sizeof(zero_knobs[0]); i++) {
		snprintf(path, sizeof(path), DEBUGFS "%s/%s", dir, zero_knobs[i]);
		ok &= !write_str(path, zero_knobs[i][0] == 'i' || zero_knobs[i][0] == 't' ?
				 "N" : "0");
	}
	snprintf(path, sizeof(path), DEBUGFS "%s/require-start", dir);
	ok &= !write_num(path, start);
	snprintf(path, sizeof(path), DEBUGFS "%s/require-end", dir);
	ok &= !write_num(path, end);
	snprintf(path, sizeof(path), DEBUGFS "%s/interval", dir);
	ok &= !write_str(path, "1");
	snprintf(path, sizeof(path), DEBUGFS "%s/times", dir);
	ok &= !write_num(path, FAULT_BUDGET);
	snprintf(path, sizeof(path), DEBUGFS "%s/probability", dir);
	ok &= !write_num(path, pct);
	return ok;
}

/*
 * Make @pct percent of the engine's allocations fail.  The engine's text
 * lies between two symbols that the harness names in TEXT_SYMS (the
 * first function of mm/ksm/ and the first one after it, from the debug
 * kernel's System.map); slab failures are limited to the engine's caches
 * and the xarray's nodes, so that kmemleak's own records never fail.
 */
static bool fault_start(int pct)
{
	static const char *const caches[] = { "ksm_slot", "ksm_stable", "ksm_member",
					      "radix_tree_node" };
	char first[128], after[128], path[128];
	unsigned long start, end;
	bool ok = true;
	FILE *f = fopen(TEXT_SYMS, "r");
	size_t i;

	if (!f || fscanf(f, "%127s %127s", first, after) != 2) {
		printf("# fault injection: no %s\n", TEXT_SYMS);
		return false;
	}
	fclose(f);
	start = kallsyms_addr(first);
	end = kallsyms_addr(after);
	if (!start || end <= start) {
		printf("# fault injection: %s..%s not found in /proc/kallsyms\n", first, after);
		return false;
	}
	for (i = 0; i < sizeof(caches) / sizeof(caches[0]); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/failslab", caches[i]);
		ok &= !write_str(path, "1");
	}
	ok &= !write_str(DEBUGFS "failslab/cache-filter", "Y");
	ok &= !write_str(DEBUGFS "fail_page_alloc/ignore-gfp-highmem", "N");
	ok &= !write_str(DEBUGFS "fail_page_alloc/min-order", "0");
	ok &= fault_attr_setup("failslab", pct, start, end);
	ok &= fault_attr_setup("fail_page_alloc", pct, start, end);
	printf("# fault injection: %d%% of allocations under %s..%s (%lx..%lx, %lu bytes)%s\n",
	       pct, first, after, start, end, end - start, ok ? "" : ": setup FAILED");
	return ok;
}

/* Failures left to inject: each one counts down the "times" knob. */

static long fault_left(const char *dir)
{
	char path[128];
	long left = -1;
	FILE *f;

	snprintf(path, sizeof(path), DEBUGFS "%s/times", dir);
	f = fopen(path, "r");
	if (f && fscanf(f, "%ld", &left) != 1)
		left = -1;
	if (f)
		fclose(f);
	return left;
}

/* Stop injecting; the number of failures injected. */
static long fault_stop(void)
{
	long slab, page;

	write_str(DEBUGFS "failslab/probability", "0");
	write_str(DEBUGFS "fail_page_alloc/probability", "0");
	slab = FAULT_BUDGET - fault_left("failslab");
	page = FAULT_BUDGET - fault_left("fail_page_alloc");
	printf("# fault injection: %ld slab and %ld page allocations failed\n", slab, page);
	return slab + page;
}

static unsigned long rmap_checks, rmap_folios, rmap_unfindable;
static bool rmap_check_missing;

/*
 * Every mapping of every KSM page must be reachable by the reverse map;
 * the debug kernel's ksm/rmap_check counts those that are not.
 */
static void rmap_check(void)
{
	unsigned long folios, mappings, unfindable;
	FILE *f = fopen(DEBUGFS "ksm/rmap_check", "r");
	int n = f ? fscanf(f, "folios %lu mappings %lu unfindable %lu",
			   &folios, &mappings, &unfindable) : 0;

	if (f)
		fclose(f);
	if (n != 3) {
		rmap_check_missing = true;
		return;
	}
	rmap_checks++;
	rmap_folios += folios;
	rmap_unfindable += unfindable;
	if (unfindable)
		printf("# rmap check: %lu of %lu mappings of %lu KSM pages unreachable\n",
		       unfindable, mappings, folios);
}

static void driver_step(pid_t *workers, int nr, bool cg, size_t bytes,
			double *next_slow, int interval)
{
	unsigned int r = rnd() % 100;

	sample_merged();

	if (r < 30) {
		drv_run();
	} else if (r < 75) {
		drv_tunable();
	} else if (r < 85) {
		if (!write_str("/proc/sys/vm/compact_memory", "1")) {
			drv_note("compact");
			st.ops[DRV_COMPACT]++;
		}
	} else if (r < 93 || !cg) {
		drv_migrate(workers, nr);
	} else {
		drv_cgroup_move(workers, nr);
	}
	if (now() > *next_slow) {
		printf("# driver: poisoning round\n");
		drv_poison();
		if (cg) {
			printf("# driver: memory pressure\n");
			drv_pressure(bytes);
		}
		printf("# driver: run %lu tunable %lu compact %lu migrate %lu poison %lu pressure %lu, full_scans %ld\n",
		       st.ops[DRV_RUN], st.ops[DRV_TUNABLE], st.ops[DRV_COMPACT],
		       st.ops[DRV_MIGRATE], st.ops[DRV_POISON], st.ops[DRV_PRESSURE],
		       ksm_read("full_scans"));
		*next_slow = now() + interval;
	}
	/* Mostly keep ksmd merging. */
	if (rnd() % 3 == 0)
		ksm_write("run", 1);
	usleep(50000 + rnd() % 200000);
}

/*
 * Active objects of every slab cache whose name starts with "ksm".  Each
 * cache is shrunk first: slabinfo counts the free objects of per-cpu
 * slabs as active until they are flushed.
 */
static long ksm_slab_objects(char *report, size_t len)
{
	char line[512], name[64], path[128];
	long active, total = 0;
	FILE *f = fopen("/proc/slabinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s", name) != 1 || strncmp(name, "ksm", 3))
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", name);
		write_str(path, "1");
	}
	if (f)
		fclose(f);
	f = fopen("/proc/slabinfo", "r");

	report[0] = '\0';
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %ld", name, &active) != 2 || strncmp(name, "ksm", 3))
			continue;
		total += active;
		snprintf(report + strlen(report), len - strlen(report), " %s=%ld", name, active);
	}
	fclose(f);
	return total;
}

/* After a failed leak check: the counters of what KSM still tracks. */
static void report_ksm_counts(void)
{
	printf("# pages_shared %ld pages_sharing %ld pages_unshared %ld pages_volatile %ld stable_node_chains %ld stable_node_dups %ld ksm_zero_pages %ld\n",
	       ksm_read("pages_shared"), ksm_read("pages_sharing"),
	       ksm_read("pages_unshared"), ksm_read("pages_volatile"),
	       ksm_read("stable_node_chains"), ksm_read("stable_node_dups"),
	       ksm_read("ksm_zero_pages"));
}

/* Wait for @n more full scans; false after @seconds without them. */
static bool wait_full_scans(long n, int seconds)
{
	long want = ksm_read("full_scans") + n;
	double deadline = now() + seconds;

	while (ksm_read("full_scans") < want)
		if (now() > deadline)
			return false;
		else
			usleep(20000);
	return true;
}

#define LEAK_PAGES	512
#define KEEP_PAGES	16

/*
 * A process registers LEAK_PAGES pages (duplicates, zeros and unique
 * pages) and KEEP_PAGES unique ones, lets ksmd track and merge them, and
 * unmaps the first range: within two full scans its tracking entries,
 * its merged pages and every KSM folio they made must be gone.  It is
 * the only registered process left, so the engine's caches may hold
 * nothing but its slot (the keeper pages never merge).
 */
static bool munmap_forgets(void)
{
	char *p = mmap(NULL, LEAK_PAGES * psize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *keep = mmap(NULL, KEEP_PAGES * psize, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long items, merging, left, objs, slots, hard;
	char slabs[512];
	size_t i;

	if (p == MAP_FAILED || keep == MAP_FAILED) {
		printf("# munmap check: mmap: %s\n", strerror(errno));
		return false;
	}
	write_str(KSM "advisor_mode", "none");
	ksm_write("pages_to_scan", 1000);
	ksm_write("sleep_millisecs", 0);
	/*
	 * Start from an empty engine: nodes of KSM folios that exited
	 * processes still mapped when their slots were freed wait for the
	 * periodic prune, and are not this range's metadata.  The prune
	 * runs at the end of every pass here, so that those whose folio an
	 * exit freed after run=2 are gone by the count too.
	 */
	ksm_write("stable_node_chains_prune_millisecs", 0);
	ksm_write("run", 0);
	ksm_write("run", 2);
	ksm_write("run", 1);
	for (i = 0; i < LEAK_PAGES; i++)
		fill(p + i * psize, i % 4 == 3 ? 0x1eaf00000000ULL + i : i % 16);
	/* The keeper pages (unique) keep the process in ksmd's passes. */
	for (i = 0; i < KEEP_PAGES; i++)
		fill(keep + i * psize, 0x4ee900000000ULL + i);
	madvise(p, LEAK_PAGES * psize, MADV_NOHUGEPAGE);
	madvise(p, LEAK_PAGES * psize, MADV_MERGEABLE);
	madvise(keep, KEEP_PAGES * psize, MADV_MERGEABLE);
	if (!wait_full_scans(3, 120)) {
		printf("# munmap check: ksmd made no three full scans in 120 s (run %ld, full_scans %ld)\n",
		       ksm_read("run"), ksm_read("full_scans"));
		return false;
	}
	items = ksm_stat_read("ksm_rmap_items");
	merging = ksm_stat_read("ksm_merging_pages");
	munmap(p, LEAK_PAGES * psize);
	if (!wait_full_scans(2, 120)) {
		printf("# munmap check: ksmd made no two full scans in 120 s\n");
		return false;
	}
	left = ksm_stat_read("ksm_rmap_items");
	/* In hardened mode each keeper page is a KSM page of its own. */
	hard = ksm_read("hardened") == 1 ? KEEP_PAGES : 0;
	objs = ksm_slab_objects(slabs, sizeof(slabs));
	slots = strstr(slabs, "ksm_slot=") ? atol(strstr(slabs, "ksm_slot=") + 9) : 0;
	printf("# munmap of %d of %d pages: %ld entries and %ld merged pages before, %ld entries after two scans; slab objects:%s\n",
	       LEAK_PAGES, LEAK_PAGES + KEEP_PAGES, items, merging, left, slabs);
	if (objs - slots > 2 * hard)
		report_ksm_counts();
	return items >= LEAK_PAGES / 2 && merging > 0 && left <= KEEP_PAGES &&
	       ksm_stat_read("ksm_merging_pages") <= hard && objs - slots <= 2 * hard;
}

/* Run @fn in a child (whose registration ends with it); its answer. */
static bool in_child(bool (*fn)(void))
{
	pid_t pid = fork();
	int status;

	if (!pid)
		_exit(fn() ? 0 : 1);
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       !WEXITSTATUS(status);
}

static bool kmemleak_clean(void)
{
	char line[256];
	bool clean = true;
	FILE *f;

	if (write_str("/sys/kernel/debug/kmemleak", "scan"))
		return true;	/* no kmemleak in this kernel */
	f = fopen("/sys/kernel/debug/kmemleak", "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (strstr(line, "unreferenced object"))
			clean = false;
		if (!clean)
			printf("# %s", line);
	}
	if (f)
		fclose(f);
	return clean;
}

/*
 * Nothing may remain once everything is unmerged and gone: TAP tests
 * @first and @first + 1.
 */
static void leak_checks(int first)
{
	char slabs[512];
	long objs;

	ksm_write("run", 0);
	ksm_write("run", 2);
	for (int i = 0; i < 50 && (objs = ksm_slab_objects(slabs, sizeof(slabs))) > 0; i++)
		usleep(100000);
	printf("# engine slab objects after run=2:%s\n", slabs);
	if (objs > 0)
		report_ksm_counts();
	printf("%s %d engine slab caches empty after run=2\n", objs <= 0 ? "ok" : "not ok",
	       first);
	printf("%s %d kmemleak finds nothing\n", kmemleak_clean() ? "ok" : "not ok", first + 1);
}

static int exec_check(const char *want)
{
	int merge_any = prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0);
	char *p = mmap(NULL, 16 * psize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || merge_any != atoi(want))
		return 1;
	memset(p, 0x5a, 16 * psize);
	return 0;
}

int main(int argc, char **argv)
{
	int seconds = 120, nr = 4, interval = 15, opt, fds[2], w, failed = 0, faults = 0;
	int hardened = 0;
	const char *domain = NULL;
	size_t pages = 1024;
	double end, next_slow, next_check;
	pid_t workers[16];
	struct stats total = { 0 };
	bool cg;

	psize = sysconf(_SC_PAGESIZE);
	while ((opt = getopt(argc, argv, "t:w:p:i:f:x:LD:H")) != -1) {
		if (opt == 't')
			seconds = atoi(optarg);
		else if (opt == 'w')
			nr = atoi(optarg) > 16 ? 16 : atoi(optarg);
		else if (opt == 'p')
			pages = atol(optarg);
		else if (opt == 'i')
			interval = atoi(optarg) > 0 ? atoi(optarg) : 1;
		else if (opt == 'f')
			faults = atoi(optarg);
		else if (opt == 'x')
			return exec_check(optarg);
		else if (opt == 'D')
			domain = optarg;
		else if (opt == 'H')
			hardened = 1;
		else if (opt == 'L') {
			/* Only the leak checks, after another phase. */
			printf("TAP version 13\n1..2\n");
			leak_checks(1);
			return 0;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..5\n");
	printf("# %d workers x %zu pages, %d s\n", nr, pages, seconds);
	victim_addr = mmap(NULL, psize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	rng_state = 0x2545f4914f6cdd1dULL ^ (uint64_t)time(NULL);
	ksm_write("run", 2);
	ksm_write("pages_to_scan", 1000);
	ksm_write("sleep_millisecs", 0);
	if ((domain && write_str(KSM "merge_domain", domain)) ||
	    (hardened && ksm_write("hardened", 1))) {
		printf("Bail out! cannot set merge_domain=%s hardened=%d\n",
		       domain ? domain : "global", hardened);
		return 1;
	}
	printf("# merge_domain=%s hardened=%d at the start\n", domain ? domain : "global",
	       hardened);
	ksm_write("run", 1);
	if (pipe(fds))
		return 1;
	end = now() + seconds;
	next_slow = now() + 5;
	for (w = 0; w < nr; w++) {
		workers[w] = fork();
		if (!workers[w])
			worker_main(w, pages, end, fds[1]);
	}
	cg = cgroup_setup(workers, nr);
	if (!cg)
		printf("# no memory cgroup: no memory pressure\n");
	if (faults && !fault_start(faults)) {
		failed++;
		faults = 0;
	}
	next_check = now() + RMAP_CHECK_EVERY;
	/* The last check comes without injected failures, before the workers end. */
	while (now() < end - RMAP_CHECK_LAST) {
		driver_step(workers, nr, cg, nr * pages * psize, &next_slow, interval);
		if (now() > next_check) {
			rmap_check();
			next_check = now() + RMAP_CHECK_EVERY;
		}
	}
	if (faults && !fault_stop()) {
		printf("# fault injection: no allocation of the engine failed\n");
		failed++;
	}
	ksm_write("run", 1);
	sleep(RMAP_CHECK_LAST / 2);
	rmap_check();
	printf("# driver: done, waiting for the workers\n");
	for (w = 0; w < nr; w++) {
		struct stats s;
		int status;

		waitpid(workers[w], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) ||
		    read(fds[0], &s, sizeof(s)) != sizeof(s)) {
			printf("# worker %d ended badly (status %x)\n", w, status);
			failed++;
			continue;
		}
		for (int i = 0; i < NR_OPS; i++)
			total.ops[i] += s.ops[i];
		total.bytes_verified += s.bytes_verified;
		total.errors += s.errors;
	}
	for (int i = 0; i < NR_OPS; i++)
		total.ops[i] += st.ops[i];
	total.errors += st.errors;

	printf("# ops:");
	for (int i = 0; i < NR_OPS; i++)
		printf(" %s=%lu", op_names[i], total.ops[i]);
	printf("\n# verified %lu bytes, %lu integrity errors, full_scans %ld, cow_ksm %ld\n",
	       total.bytes_verified, total.errors, ksm_read("full_scans"),
	       vmstat_read("cow_ksm"));
	printf("# merged pages: at least %ld merges and %ld unmerges seen, at most %ld at once\n",
	       merged_pages, unmerged_pages, max_merged);
	printf("# vmstat: pswpout %ld pswpin %ld ksm_swpin_copy %ld pgmigrate_success %ld thp_split_page %ld\n",
	       vmstat_read("pswpout"), vmstat_read("pswpin"), vmstat_read("ksm_swpin_copy"),
	       vmstat_read("pgmigrate_success"), vmstat_read("thp_split_page"));
	printf("# vmstat: swpout_zero %ld swpin_zero %ld pglazyfreed %ld thp_collapse_alloc %ld\n",
	       vmstat_read("swpout_zero"), vmstat_read("swpin_zero"), vmstat_read("pglazyfreed"),
	       vmstat_read("thp_collapse_alloc"));
	if (total.errors)
		print_drv_history();
	printf("%s 1 no integrity errors\n", !total.errors && !failed ? "ok" : "not ok");
	if (rmap_check_missing)
		printf("ok 2 # SKIP no %sksm/rmap_check (not a debug kernel)\n", DEBUGFS);
	else
		printf("%s 2 reverse map reaches every mapping of a KSM page (%lu checks, %lu KSM pages, %lu unreachable mappings)\n",
		       rmap_checks >= 2 && !rmap_unfindable ? "ok" : "not ok", rmap_checks,
		       rmap_folios, rmap_unfindable);
	printf("%s 3 munmap leaves no metadata after two full scans\n",
	       in_child(munmap_forgets) ? "ok" : "not ok");

	leak_checks(4);
	write_str(KSM "advisor_mode", "none");
	ksm_write("run", 2);
	write_str(KSM "merge_domain", "global");
	ksm_write("hardened", 0);
	ksm_write("run", 0);
	ksm_write("merge_across_nodes", 1);
	ksm_write("max_page_sharing", 256);
	ksm_write("pages_to_scan", 100);
	ksm_write("sleep_millisecs", 20);
	ksm_write("use_zero_pages", 0);
	ksm_write("smart_scan", 1);
	ksm_write("stable_node_chains_prune_millisecs", 2000);
	ksm_write("thp_split_threshold", 64);
	return 0;
}
