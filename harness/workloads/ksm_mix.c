// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_mix - convergence on a host-like mix.  N processes each hold an
 * M MiB "guest image", interleaved page by page:
 *   60% identical across the processes (same seed),
 *   10% zero pages,
 *   20% unique random pages,
 *   10% rewritten continuously with random content (R pages/s each).
 * ksmd runs at pages_to_scan=2000, sleep_millisecs=20.  The parent
 * samples every 0.5 s for a fixed window: MiB saved (pages_sharing, plus
 * ksm_zero_pages when use_zero_pages is on), pages_sharing,
 * general_profit and ksmd's CPU time, stamped with the 0.5 s tick it
 * was taken at.  The plateau is the mean of the last 20% of the window;
 * convergence is the first sample at 95% of it.
 *
 * With -H the kernel's hardened mode is on, with -D <domain> its
 * merge_domain is <domain> (where the kernel has them); the figures are
 * then named mix_hardened_* or mix_<domain>_*.
 *
 * usage: ksm_mix [-n procs] [-m MiB] [-t window-seconds] [-r pages/s]
 *                [-H] [-D global|memcg|process]
 * prints: "@@SERIES mix_saved_mib <t> <MiB>" per sample (plain runs
 *         only), a summary line and the mix_* figures
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

#define PERIOD_S	0.5

struct sample {
	double t, cpu, saved_mib;
	long sharing, profit;
};

static long psize;

/* Kind of page @i of an image: 0-5 image, 6 zero, 7-8 unique, 9 volatile. */
static int kind(size_t i)
{
	return i % 10;
}

static void worker(int id, size_t pages, int rate, int ready)
{
	size_t i, nvol = pages / 10;
	uint64_t x = 0x2545f4914f6cdd1dULL * (id + 1), n = 0;
	double next;
	char *mem;

	mem = mmap(NULL, pages * psize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		_exit(1);
	madvise(mem, pages * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < pages; i++) {
		char *p = mem + i * psize;

		switch (kind(i)) {
		case 6:
			memset(p, 0, psize);
			break;
		case 7:
		case 8:
			ksm_fill(p, psize, 1000 + id, i);
			break;
		case 9:
			ksm_fill(p, psize, 2000 + id, i);
			break;
		default:
			ksm_fill(p, psize, 1, i);
		}
	}
	if (madvise(mem, pages * psize, MADV_MERGEABLE))
		_exit(1);
	if (write(ready, "r", 1) != 1)
		_exit(1);

	/* Rewrite random volatile pages, rate/10 pages every 100 ms. */
	next = ksm_now();
	for (;;) {
		double delay;

		for (i = 0; i < (size_t)rate / 10; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			ksm_fill(mem + ((x % nvol) * 10 + 9) * psize, psize,
				 3000 + id, n++);
		}
		next += 0.1;
		delay = next - ksm_now();
		if (delay > 0)
			usleep(delay * 1e6);
	}
}

int main(int argc, char **argv)
{
	int procs = 4, mib = 160, window = 90, rate = 200, opt, i, fds[2], hardened = 0;
	const char *domain = NULL;
	char fig[64] = "mix";
	struct sample *s;
	size_t pages, ns, k, first_tail;
	double t0, c0, plateau = 0, sharing = 0, profit = 0, conv_t, conv_c;
	pid_t *pids, ksmd = find_ksmd();
	int zero_pages;
	char c;

	while ((opt = getopt(argc, argv, "n:m:t:r:HD:")) != -1) {
		if (opt == 'n')
			procs = atoi(optarg);
		else if (opt == 'm')
			mib = atoi(optarg);
		else if (opt == 't')
			window = atoi(optarg);
		else if (opt == 'r')
			rate = atoi(optarg);
		else if (opt == 'H')
			hardened = 1;
		else if (opt == 'D')
			domain = optarg;
		else
			return 2;
	}
	if (hardened)
		strcpy(fig, "mix_hardened");
	else if (domain)
		snprintf(fig, sizeof(fig), "mix_%s", domain);
	psize = sysconf(_SC_PAGESIZE);
	pages = (size_t)mib * 1024 * 1024 / psize;
	if (!ksmd || ksm_write("run", 2) || pipe(fds))
		return 4;
	if ((hardened || domain) && ksm_read("hardened") < 0) {
		printf("@@NOTE mix: no hardened mode or merge domains on this kernel\n");
		return 0;
	}
	if ((hardened && ksm_write("hardened", 1)) ||
	    (domain && ksm_write_str("merge_domain", domain)))
		return 4;
	ksm_write("pages_to_scan", 2000);
	ksm_write("sleep_millisecs", 20);
	zero_pages = ksm_read("use_zero_pages") == 1;

	pids = calloc(procs, sizeof(*pids));
	for (i = 0; i < procs; i++) {
		pids[i] = fork();
		if (!pids[i])
			worker(i, pages, rate, fds[1]);
	}
	close(fds[1]);
	for (i = 0; i < procs; i++) {
		if (read(fds[0], &c, 1) != 1) {
			fprintf(stderr, "mix: a worker failed\n");
			return 1;
		}
	}

	ns = window / PERIOD_S;
	s = calloc(ns, sizeof(*s));
	ksm_write("run", 1);
	t0 = ksm_now();
	c0 = cpu_seconds(ksmd);
	for (k = 0; k < ns; k++) {
		double delay = t0 + (k + 1) * PERIOD_S - ksm_now();

		if (delay > 0)
			usleep(delay * 1e6);
		s[k].t = (k + 1) * PERIOD_S;	/* the tick, a few ms before now */
		s[k].cpu = cpu_seconds(ksmd) - c0;
		s[k].sharing = ksm_read("pages_sharing");
		s[k].profit = ksm_read("general_profit");
		s[k].saved_mib = (s[k].sharing +
				  (zero_pages ? ksm_read("ksm_zero_pages") : 0)) *
				 (double)psize / (1 << 20);
		if (!hardened && !domain)
			printf("@@SERIES mix_saved_mib %.2f %.2f\n", s[k].t, s[k].saved_mib);
		fflush(stdout);
	}
	for (i = 0; i < procs; i++)
		kill(pids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	ksm_write("run", 2);
	if (hardened)
		ksm_write("hardened", 0);
	if (domain)
		ksm_write_str("merge_domain", "global");

	first_tail = ns - ns / 5;
	for (k = first_tail; k < ns; k++) {
		plateau += s[k].saved_mib;
		sharing += s[k].sharing;
		profit += s[k].profit;
	}
	plateau /= ns - first_tail;
	sharing /= ns - first_tail;
	profit /= ns - first_tail;
	conv_t = s[ns - 1].t;
	conv_c = s[ns - 1].cpu;
	for (k = 0; k < ns; k++) {
		if (plateau > 0 && s[k].saved_mib >= 0.95 * plateau) {
			conv_t = s[k].t;
			conv_c = s[k].cpu;
			break;
		}
	}
	if (plateau <= 0)
		printf("@@NOTE mix: nothing saved in %d s\n", window);

	printf("%s procs=%d mib=%d rate=%d window_s=%d plateau_mib=%.1f converge_s=%.1f converge_cpu_s=%.2f pages_sharing=%.0f general_profit_mib=%.1f\n",
	       fig, procs, mib, rate, window, plateau, conv_t, conv_c, sharing,
	       profit / (1 << 20));
	bench_fig(conv_t, "%s_converge_s", fig);
	bench_fig(conv_c, "%s_converge_cpu_s", fig);
	bench_fig(plateau, "%s_saved_mib", fig);
	bench_fig(sharing, "%s_pages_sharing", fig);
	bench_fig(profit / (1 << 20), "%s_general_profit_mib", fig);
	return 0;
}
