/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the workload programs: /sys/kernel/mm/ksm access and
 * ksmd's CPU time.
 */
#ifndef KSM_WORKLOAD_UTIL_H
#define KSM_WORKLOAD_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#endif
