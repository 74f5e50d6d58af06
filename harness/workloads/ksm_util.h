/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the workload programs: /sys/kernel/mm/ksm access,
 * ksmd's CPU time, page content, /proc/meminfo fields, the
 * machine-readable lines read by harness/bench_report.py and the
 * measured window of harness/profile.sh.
 */
#ifndef KSM_WORKLOAD_UTIL_H
#define KSM_WORKLOAD_UTIL_H

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KSM "/sys/kernel/mm/ksm/"

static inline long ksm_read(const char *name)
{
	char path[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), KSM "%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static inline int ksm_write(const char *name, long v)
{
	char path[256];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), KSM "%s", name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	ret = fprintf(f, "%ld", v) < 0 ? -1 : 0;
	if (fclose(f))
		ret = -1;
	return ret;
}

/* Write the string @val to @name; 0, or -1 if it cannot be. */
static inline int ksm_write_str(const char *name, const char *val)
{
	char path[256];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), KSM "%s", name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	ret = fputs(val, f) < 0 ? -1 : 0;
	if (fclose(f))
		ret = -1;
	return ret;
}

static inline pid_t find_ksmd(void)
{
	char path[300], comm[32];
	struct dirent *de;
	DIR *d = opendir("/proc");
	pid_t pid = 0;
	FILE *f;

	while (d && !pid && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, "ksmd\n"))
			pid = atoi(de->d_name);
		fclose(f);
	}
	if (d)
		closedir(d);
	return pid;
}

/* utime + stime of @pid in seconds, from /proc/<pid>/stat. */
static inline double cpu_seconds(pid_t pid)
{
	unsigned long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	if (f)
		fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

/* Monotonic wall clock, in seconds. */
static inline double ksm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Fill @len bytes at @p with pseudo-random data: the same (@seed, @index)
 * always gives the same bytes, different pairs give different pages.
 */
static inline void ksm_fill(void *p, size_t len, uint64_t seed, uint64_t index)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL ^ (index + 1) * 0xbf58476d1ce4e5b9ULL;
	uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / sizeof(*w); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = x;
	}
}

/* Wait until full_scans has advanced by @n: 0, or -1 after @timeout s. */
static inline int ksm_wait_scans(long n, double timeout)
{
	long target = ksm_read("full_scans") + n;
	double end = ksm_now() + timeout;

	while (ksm_read("full_scans") < target) {
		if (ksm_now() > end)
			return -1;
		usleep(20000);
	}
	return 0;
}

/* The "<name>: <n> kB" field of @path (/proc/meminfo, smaps_rollup), or -1. */
static inline long kb_field(const char *path, const char *name)
{
	char line[256];
	size_t len = strlen(name);
	long v = -1;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, name, len) && line[len] == ':') {
			v = atol(line + len + 1);
			break;
		}
	}
	if (f)
		fclose(f);
	return v;
}

static inline int ksm_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of the @n values at @v (which are sorted in place). */
static inline double ksm_median(double *v, int n)
{
	qsort(v, n, sizeof(*v), ksm_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* "256M", "1G": the size tag of a figure id. */
static inline const char *size_tag(long mib)
{
	static char buf[32];

	if (mib >= 1024 && mib % 1024 == 0)
		snprintf(buf, sizeof(buf), "%ldG", mib / 1024);
	else
		snprintf(buf, sizeof(buf), "%ldM", mib);
	return buf;
}

/*
 * A figure for harness/bench_report.py: "@@FIG <id> <value>", the id
 * formatted from @fmt.
 */
static inline void __attribute__((format(printf, 2, 3)))
bench_fig(double v, const char *fmt, ...)
{
	va_list ap;

	printf("@@FIG ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" %.6g\n", v);
	fflush(stdout);
}

/*
 * Open (@open) or close the window that harness/profile.sh profiles:
 * with KSM_PROFILE set, the kernel's counters are zeroed when the window
 * opens and added to the sum when it closes (see ksm_profile.c), so that
 * only the measured parts of a workload count.  Does nothing otherwise.
 */
static inline void ksm_profile_window(int open)
{
	if (!getenv("KSM_PROFILE"))
		return;
	fflush(stdout);
	if (system(open ? "/opt/tests/ksm_profile start" : "/opt/tests/ksm_profile add"))
		fprintf(stderr, "ksm_profile %s failed\n", open ? "start" : "add");
}

#endif
