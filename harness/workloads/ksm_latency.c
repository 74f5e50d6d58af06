// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_latency - how long the scanned process waits for ksmd.
 *
 * ksmd holds a process's mmap_lock for reading while it examines a batch
 * of its pages; mmap() and munmap() need the lock for writing and queue
 * behind the batch.  The process has M MiB of MADV_MERGEABLE memory: a
 * quarter of it unique, the rest duplicates that a writer thread keeps
 * rewriting (so that ksmd hashes, merges and write-protects all the
 * time).  The main thread times S cycles of mmap() + first write +
 * munmap() of a 64 KiB region, and S write faults on fresh pages of a
 * region outside KSM, first with ksmd stopped, then with ksmd at full
 * speed (pages_to_scan=P, sleep_millisecs=0).
 *
 * Write faults on a region of their own take the per-VMA lock, not the
 * mmap_lock: their figure mostly shows competition for a CPU.
 *
 * Diagnostics: KSM_LATENCY_DEBUG=1 prints percentiles and the mean time
 * of mmap, first write and munmap; KSM_LATENCY_OTHER=1 puts the merged
 * memory in a child process instead, which tells waiting for the
 * mmap_lock apart from waiting for a CPU.
 *
 * usage: ksm_latency [-m MiB] [-p pages_to_scan] [-s samples]
 * prints: latency ... and the figures latency_mmap_p99_us,
 * latency_fault_p99_us (ksmd running), latency_mmap_idle_p99_us and
 * latency_fault_idle_p99_us (ksmd stopped)
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ksm_util.h"

#define REGION		(64 * 1024)
#define POOL		64

struct writer {
	char *map;
	size_t n;
	long psize;
	int stop;	/* __atomic accesses */
};

/* Keep rewriting the duplicate pages with other contents of the pool. */
static void *writer(void *arg)
{
	struct writer *w = arg;
	unsigned int seed = 7;
	size_t i;

	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
		for (i = 0; i < w->n; i++)
			if (!(rand_r(&seed) % 8))
				ksm_fill(w->map + i * w->psize, w->psize, 43, rand_r(&seed) % POOL);
		usleep(50000);
	}
	return NULL;
}

static double split[3];

/* Microseconds of one mmap() + write + munmap() of a small region. */
static double mmap_cycle(void)
{
	double t = ksm_now(), t1, t2;
	char *p = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	t1 = ksm_now();
	p[0] = 1;
	t2 = ksm_now();
	munmap(p, REGION);
	split[0] += t1 - t;
	split[1] += t2 - t1;
	split[2] += ksm_now() - t2;
	return (ksm_now() - t) * 1e6;
}

static double p99(double *v, int n)
{
	qsort(v, n, sizeof(*v), ksm_cmp_double);
	if (getenv("KSM_LATENCY_DEBUG"))
		printf("  p50 %.0f p90 %.0f p99 %.0f max %.0f\n", v[n / 2], v[n * 9 / 10],
		       v[n * 99 / 100], v[n - 1]);
	return v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
}

/* p99 of @s mmap cycles and of @s write faults, in microseconds. */
static void measure(int s, long psize, double *mmap_p99, double *fault_p99)
{
	double *v = calloc(s, sizeof(*v));
	char *area = mmap(NULL, (size_t)s * psize, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int i;

	if (!v || area == MAP_FAILED) {
		perror("measure");
		exit(1);
	}
	madvise(area, (size_t)s * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < s; i++) {
		v[i] = mmap_cycle();
		usleep(500);
	}
	*mmap_p99 = p99(v, s);
	if (getenv("KSM_LATENCY_DEBUG"))
		printf("  mean us: mmap %.0f write %.0f munmap %.0f\n", split[0] * 1e6 / s,
		       split[1] * 1e6 / s, split[2] * 1e6 / s);
	memset(split, 0, sizeof(split));
	for (i = 0; i < s; i++) {
		double t = ksm_now();

		area[(size_t)i * psize] = 1;
		v[i] = (ksm_now() - t) * 1e6;
		usleep(500);
	}
	*fault_p99 = p99(v, s);
	munmap(area, (size_t)s * psize);
	free(v);
}

int main(int argc, char **argv)
{
	long mib = 64, psize = sysconf(_SC_PAGESIZE), scan = 4000;
	double mi, fi, mr, fr;
	struct writer w = { 0 };
	pthread_t th;
	int samples = 2000, opt;
	pid_t other = 0;
	size_t n, i;
	char *map;

	while ((opt = getopt(argc, argv, "m:p:s:")) != -1) {
		if (opt == 'm')
			mib = atol(optarg);
		else if (opt == 'p')
			scan = atol(optarg);
		else if (opt == 's')
			samples = atoi(optarg);
	}
	if (samples < 1 || ksm_write("run", 2))
		return 4;
	ksm_write("pages_to_scan", scan);
	ksm_write("sleep_millisecs", 0);
	if (getenv("KSM_LATENCY_OTHER")) {
		other = fork();
		if (other < 0) {
			perror("fork");
			return 1;
		}
	}
	if (getenv("KSM_LATENCY_OTHER") && !other) {
		/* Diagnostic: the merged memory lives in another process. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		n = ((size_t)mib << 20) / psize;
		map = mmap(NULL, n * psize, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		madvise(map, n * psize, MADV_NOHUGEPAGE);
		for (i = 0; i < n; i++)
			ksm_fill(map + i * psize, psize, 43, i < n / 4 ? POOL + i : i % POOL);
		madvise(map, n * psize, MADV_MERGEABLE);
		w.map = map + n / 4 * psize;
		w.n = n - n / 4;
		w.psize = psize;
		writer(&w);
		return 0;
	}
	if (other > 0) {
		sleep(2);
		measure(samples, psize, &mi, &fi);
		ksm_write("run", 1);
		ksm_wait_scans(2, 300);
		measure(samples, psize, &mr, &fr);
		ksm_write("run", 2);
		kill(other, SIGKILL);
		waitpid(other, NULL, 0);
		printf("latency-other mmap_p99_us idle=%.0f running=%.0f\n", mi, mr);
		return 0;
	}
	n = ((size_t)mib << 20) / psize;
	map = mmap(NULL, n * psize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	madvise(map, n * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++)
		ksm_fill(map + i * psize, psize, 43, i < n / 4 ? POOL + i : i % POOL);
	if (madvise(map, n * psize, MADV_MERGEABLE)) {
		perror("madvise(MADV_MERGEABLE)");
		return 1;
	}
	w.map = map + n / 4 * psize;
	w.n = n - n / 4;
	w.psize = psize;
	pthread_create(&th, NULL, writer, &w);

	measure(samples, psize, &mi, &fi);
	ksm_write("run", 1);
	if (ksm_wait_scans(2, 300)) {
		ksm_write("run", 2);
		return 3;
	}
	measure(samples, psize, &mr, &fr);
	ksm_write("run", 2);
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);

	printf("latency mib=%ld pages_to_scan=%ld samples=%d mmap_p99_us idle=%.0f running=%.0f fault_p99_us idle=%.0f running=%.0f\n",
	       mib, scan, samples, mi, mr, fi, fr);
	bench_fig(mr, "latency_mmap_p99_us");
	bench_fig(fr, "latency_fault_p99_us");
	bench_fig(mi, "latency_mmap_idle_p99_us");
	bench_fig(fi, "latency_fault_idle_p99_us");
	return 0;
}
