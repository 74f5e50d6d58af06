// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_profile - the guest half of harness/profile.sh: reset, accumulate
 * and print the kernel's sampling profile (/proc/profile, present when
 * the kernel runs with profile=<shift>).
 *
 * usage: ksm_profile reset   zero the kernel's counters, drop the sum
 *        ksm_profile start   zero the kernel's counters
 *        ksm_profile add     add the kernel's counters to the sum
 *                            (ACC below), then zero them
 *        ksm_profile print   "@@PROF step <bytes per bucket>", then
 *                            "@@PROF <bucket> <samples>" for every bucket
 *                            with samples: of the sum if there is one,
 *                            else of the kernel's counters
 *
 * A workload marks its measured windows with ksm_profile_window() (in
 * ksm_util.h), which runs "start" and "add" around each when
 * KSM_PROFILE is set; bucket i covers the kernel text from
 * _stext + i * step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROFILE	"/proc/profile"
#define ACC	"/tmp/ksm-profile.acc"

/* Read a profile file: the step, then *@n counters. */
static unsigned int *load(const char *path, unsigned int *step, size_t *n)
{
	unsigned int *v = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	*n = 0;
	if (!f)
		return NULL;
	if (fread(step, sizeof(*step), 1, f) != 1) {
		fclose(f);
		return NULL;
	}
	for (;;) {
		if (*n == cap) {
			unsigned int *nv;

			cap = cap ? 2 * cap : 1 << 20;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				fclose(f);
				return NULL;
			}
			v = nv;
		}
		*n += fread(v + *n, sizeof(*v), cap - *n, f);
		if (*n < cap)
			break;
	}
	fclose(f);
	return v;
}

/* Zero the kernel's counters: any write but a 4-byte one does. */
static int zero(void)
{
	FILE *f = fopen(PROFILE, "w");

	if (!f || fputs("0\n", f) == EOF || fclose(f)) {
		perror(PROFILE);
		return 1;
	}
	return 0;
}

static int add(void)
{
	unsigned int step, astep, *v, *acc;
	size_t n, an, i;
	FILE *f;

	v = load(PROFILE, &step, &n);
	if (!v) {
		perror(PROFILE);
		return 1;
	}
	acc = load(ACC, &astep, &an);
	if (acc && an == n && astep == step)
		for (i = 0; i < n; i++)
			v[i] += acc[i];
	free(acc);
	f = fopen(ACC, "w");
	if (!f || fwrite(&step, sizeof(step), 1, f) != 1 ||
	    fwrite(v, sizeof(*v), n, f) != n || fclose(f)) {
		perror(ACC);
		return 1;
	}
	free(v);
	return zero();
}

static int print(void)
{
	unsigned int step, *v;
	size_t n, i;

	v = load(ACC, &step, &n);
	if (!v)
		v = load(PROFILE, &step, &n);
	if (!v) {
		perror(PROFILE);
		return 1;
	}
	printf("@@PROF step %u\n", step);
	for (i = 0; i < n; i++)
		if (v[i])
			printf("@@PROF %zu %u\n", i, v[i]);
	free(v);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "reset")) {
		remove(ACC);
		return zero();
	}
	if (argc == 2 && !strcmp(argv[1], "start"))
		return zero();
	if (argc == 2 && !strcmp(argv[1], "add"))
		return add();
	if (argc == 2 && !strcmp(argv[1], "print"))
		return print();
	fprintf(stderr, "usage: ksm_profile reset|start|add|print\n");
	return 2;
}
