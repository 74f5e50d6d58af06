// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_exit - what the exit of a process with much merged memory costs,
 * itself and everybody else who needs KSM meanwhile.
 *
 * A child maps M MiB of MADV_MERGEABLE pages with 16 distinct contents;
 * ksmd merges them (pages_to_scan=20000, sleep_millisecs=0) and then goes
 * on at the default pace.  The child is killed: the time from SIGKILL to
 * waitpid() is its exit time.  Meanwhile a thread writes 1 to
 * /sys/kernel/mm/ksm/run over and over, which takes KSM's mutex, from
 * the kill until two seconds after the exit (while ksmd reaps what the
 * exit left); the longest write is the stall a sysfs writer saw.
 *
 * usage: ksm_exit [-m MiB]
 * prints: exit ... and the figures exit_ms and exit_sysfs_max_ms
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ksm_util.h"

static int stop;	/* __atomic accesses */
static double worst;

static void *sysfs_writer(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		double t = ksm_now();

		ksm_write("run", 1);
		t = ksm_now() - t;
		if (t > worst)
			worst = t;
		usleep(1000);
	}
	return NULL;
}

static void child(long mib, long psize, int ready)
{
	size_t n = ((size_t)mib << 20) / psize, i;
	char *map = mmap(NULL, n * psize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (map == MAP_FAILED)
		exit(1);
	madvise(map, n * psize, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++)
		ksm_fill(map + i * psize, psize, 47, i % 16);
	if (madvise(map, n * psize, MADV_MERGEABLE) || write(ready, "r", 1) != 1)
		exit(1);
	pause();
	exit(0);
}

int main(int argc, char **argv)
{
	long mib = 1024, psize = sysconf(_SC_PAGESIZE), pages;
	double t0, t1, deadline;
	int fds[2], opt;
	pthread_t th;
	pid_t pid;
	char c;

	while ((opt = getopt(argc, argv, "m:")) != -1)
		if (opt == 'm')
			mib = atol(optarg);
	if (ksm_write("run", 2) || pipe(fds))
		return 4;
	pages = ((long)mib << 20) / psize;
	ksm_write("pages_to_scan", 20000);
	ksm_write("sleep_millisecs", 0);
	pid = fork();
	if (!pid)
		child(mib, psize, fds[1]);
	if (pid < 0 || read(fds[0], &c, 1) != 1)
		return 1;
	ksm_write("run", 1);
	deadline = ksm_now() + 900;
	while (ksm_read("pages_sharing") < pages - 16 - pages / 64) {
		if (ksm_now() > deadline) {
			kill(pid, SIGKILL);
			ksm_write("run", 2);
			return 3;
		}
		usleep(100000);
	}
	ksm_write("pages_to_scan", 100);
	ksm_write("sleep_millisecs", 20);

	pthread_create(&th, NULL, sysfs_writer, NULL);
	t0 = ksm_now();
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	t1 = ksm_now();
	sleep(2);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	ksm_write("run", 2);

	printf("exit mib=%ld exit_ms=%.1f sysfs_max_ms=%.1f\n", mib, (t1 - t0) * 1e3, worst * 1e3);
	bench_fig((t1 - t0) * 1e3, "exit_ms");
	bench_fig(worst * 1e3, "exit_sysfs_max_ms");
	return 0;
}
