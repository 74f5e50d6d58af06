// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_sidechan - the write-timing side channel of deduplication, as a
 * tenant would measure it.
 *
 * A victim process holds N pages of secret content.  The attacker (this
 * process) maps 2N pages of its own: N that guess a victim page right
 * and N that guess wrong (content nobody else has), shuffled together.
 * Once ksmd has examined every page several times, the attacker writes
 * one byte to each page, in the shuffled order, and times that write.
 * A classifier that says "merged" when a write took longer than a
 * threshold, or shorter, scores the AUC printed here: the probability
 * that a right guess's write took longer than a wrong guess's (ties
 * count half), or that it took shorter if that is likelier.  1.0 means
 * one write tells them apart; 0.5 means it tells nothing.
 *
 * With -H the kernel's hardened mode is turned on for the measurement
 * (where it exists), and the figures are named *_hardened.
 *
 * usage: ksm_sidechan [-n pages] [-H]
 * prints: sidechan_auc[_hardened], sidechan_merged_pct[_hardened] (the
 *         share of right guesses that shared a frame with the victim),
 *         sidechan_ksm_pct[_hardened] (the share of the attacker's pages
 *         that were KSM pages before the writes)
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ksm_util.h"

static long psize;

static uint64_t pfn_of(void *addr)
{
	uint64_t ent = 0;
	FILE *f = fopen("/proc/self/pagemap", "r");

	if (!f)
		return 0;
	if (fseek(f, (uintptr_t)addr / psize * 8, SEEK_SET) || fread(&ent, 8, 1, f) != 1)
		ent = 0;
	fclose(f);
	return ent >> 63 ? ent & ((1ULL << 55) - 1) : 0;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The victim: N secret pages, reporting their frames through @pfns. */
static void victim(size_t n, uint64_t *pfns, int ready, int go)
{
	char *mem = mmap(NULL, n * psize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;
	char c;

	if (mem == MAP_FAILED)
		_exit(1);
	madvise(mem, n * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++)
		ksm_fill(mem + i * psize, psize, 77, i);
	if (madvise(mem, n * psize, MADV_MERGEABLE) || write(ready, "r", 1) != 1)
		_exit(1);
	/* Report frames when asked, then wait to be killed. */
	if (read(go, &c, 1) != 1)
		_exit(1);
	for (i = 0; i < n; i++)
		pfns[i] = pfn_of(mem + i * psize);
	if (write(ready, "r", 1) != 1)
		_exit(1);
	pause();
	_exit(0);
}

/* AUC of "right guesses take longer": Mann-Whitney over all pairs. */
static double auc(const double *right, const double *wrong, size_t n)
{
	double *r = malloc(n * sizeof(*r)), *w = malloc(n * sizeof(*w));
	double wins = 0;
	size_t i, j = 0, k;

	memcpy(r, right, n * sizeof(*r));
	memcpy(w, wrong, n * sizeof(*w));
	qsort(r, n, sizeof(*r), ksm_cmp_double);
	qsort(w, n, sizeof(*w), ksm_cmp_double);
	/* For each right value, count wrong values below it and equal to it. */
	for (i = 0; i < n; i++) {
		while (j < n && w[j] < r[i])
			j++;
		for (k = j; k < n && w[k] == r[i]; k++)
			;
		wins += j + (k - j) / 2.0;
	}
	free(r);
	free(w);
	return wins / ((double)n * n);
}

int main(int argc, char **argv)
{
	size_t n = 2000, i, merged = 0, nksm;
	int opt, hardened = 0, ready[2], go[2];
	double *right, *wrong, a;
	uint64_t *vpfns;
	const char *sfx = "";
	size_t *order;
	pid_t pid;
	char *mem, c;

	while ((opt = getopt(argc, argv, "n:H")) != -1) {
		if (opt == 'n')
			n = atol(optarg);
		else if (opt == 'H')
			hardened = 1;
		else
			return 2;
	}
	psize = sysconf(_SC_PAGESIZE);
	if (hardened) {
		sfx = "_hardened";
		if (ksm_read("hardened") < 0) {
			printf("@@NOTE sidechan: no hardened mode on this kernel\n");
			return 0;
		}
	}
	if (ksm_write("run", 2) || (hardened && ksm_write("hardened", 1)) ||
	    pipe(ready) || pipe(go))
		return 4;
	ksm_write("pages_to_scan", 20000);
	ksm_write("sleep_millisecs", 0);
	vpfns = mmap(NULL, n * sizeof(*vpfns), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid = fork();
	if (!pid)
		victim(n, vpfns, ready[1], go[0]);
	if (read(ready[0], &c, 1) != 1)
		return 1;

	/* Pages 0..n-1 guess right (the victim's content), n..2n-1 wrong. */
	mem = mmap(NULL, 2 * n * psize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	order = malloc(2 * n * sizeof(*order));
	right = malloc(n * sizeof(*right));
	wrong = malloc(n * sizeof(*wrong));
	if (mem == MAP_FAILED || !order || !right || !wrong)
		return 1;
	madvise(mem, 2 * n * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < 2 * n; i++) {
		ksm_fill(mem + i * psize, psize, i < n ? 77 : 5150, i % n);
		order[i] = i;
	}
	srand(12345);
	for (i = 2 * n - 1; i > 0; i--) {
		size_t j = rand() % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	if (madvise(mem, 2 * n * psize, MADV_MERGEABLE))
		return 1;
	ksm_write("run", 1);
	/* Examined at least twice, then settled: merged or not by now. */
	if (ksm_wait_scans(6, 300))
		return 5;

	if (write(go[1], "g", 1) != 1 || read(ready[0], &c, 1) != 1)
		return 1;
	for (i = 0; i < n; i++)
		merged += pfn_of(mem + i * psize) == vpfns[i] && vpfns[i];
	nksm = kb_field("/proc/self/smaps_rollup", "KSM") * 1024 / psize;
	/* No merge while we measure. */
	ksm_write("run", 0);

	for (i = 0; i < 2 * n; i++) {
		volatile char *p = mem + order[i] * psize;
		double t0 = now_ns();

		*p ^= 1;
		(order[i] < n ? right : wrong)[order[i] % n] = now_ns() - t0;
	}
	a = auc(right, wrong, n);
	/* A classifier picks the direction that works. */
	if (a < 0.5)
		a = 1 - a;

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ksm_write("run", 2);
	if (hardened)
		ksm_write("hardened", 0);

	printf("sidechan n=%zu hardened=%d merged=%zu ksm_pages=%zu auc=%.3f "
	       "right_median_us=%.2f wrong_median_us=%.2f\n", n, hardened, merged, nksm, a,
	       ksm_median(right, n) / 1000, ksm_median(wrong, n) / 1000);
	bench_fig(a, "sidechan_auc%s", sfx);
	bench_fig(100.0 * merged / n, "sidechan_merged_pct%s", sfx);
	bench_fig(100.0 * nksm / (2 * n), "sidechan_ksm_pct%s", sfx);
	return 0;
}
