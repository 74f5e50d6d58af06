// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_guest_fill - the memory of one QEMU guest, as harness/guest/run-guests
 * starts them: runs inside the guest (its /init starts it), not on the
 * host under test.
 *
 * The guest fills its memory with what guests of one image hold, then
 * checks it for as long as it runs:
 *   identical  anonymous pages with the same content in every guest
 *              (a program's data, loaded libraries); the first MiB of it
 *              is hot: each round writes it with content of this guest
 *              and round, checks it, and writes the common content back
 *   file       a file in the root filesystem (page cache) with the same
 *              content in every guest
 *   zero       anonymous pages written with zeros
 *   unique     anonymous pages that only this guest has
 * The guest kernel's own pages come on top: its text and read-only data
 * are the same in every guest of one kernel.
 *
 * It prints, on the console that the host reads:
 *   @@GUEST id=<id> filled identical=<pages> file=<pages> zero=<pages>
 *           unique=<pages> hot=<pages> up=<seconds since the guest booted>
 *   @@GUEST id=<id> round=<n> ok          after each check of everything
 *   @@GUEST id=<id> round=<n> BAD <region> page <i>   and stops
 *
 * usage: ksm_guest_fill <id> [-i MiB] [-f MiB] [-z MiB] [-u MiB] [-s seconds]
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "ksm_util.h"

#define MIB		(1024L * 1024)
#define SEED_COMMON	0x5eedc0de
#define SEED_FILE	0xf11ec0de
#define SEED_GUEST	0x6e570000
#define SEED_HOT	0x407000000000ULL
#define FILE_PATH	"/guest-data.bin"

static long psize;
static int id;

static char *anon(long mib)
{
	char *p = mmap(NULL, (mib ?: 1) * MIB, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		printf("@@GUEST id=%d cannot map %ld MiB\n", id, mib);
		exit(1);
	}
	return p;
}

/* Page @i of a region with content @seed, or zeros for seed 0. */
static void fill_page(char *page, uint64_t seed, long i)
{
	if (seed)
		ksm_fill(page, psize, seed, i);
	else
		memset(page, 0, psize);
}

static void fill(char *mem, long pages, uint64_t seed)
{
	long i;

	for (i = 0; i < pages; i++)
		fill_page(mem + i * psize, seed, i);
}

/* First page of @mem that differs from what @seed fills; -1 if none. */
static long check(const char *mem, long pages, uint64_t seed)
{
	char *want = malloc(psize);
	long i, bad = -1;

	if (!want)
		return 0;
	for (i = 0; i < pages && bad < 0; i++) {
		fill_page(want, seed, i);
		if (memcmp(mem + i * psize, want, psize))
			bad = i;
	}
	free(want);
	return bad;
}

static int write_file(long pages)
{
	char *buf = malloc(psize);
	int fd = open(FILE_PATH, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	long i;

	if (fd < 0 || !buf)
		return -1;
	for (i = 0; i < pages; i++) {
		fill_page(buf, SEED_FILE, i);
		if (write(fd, buf, psize) != psize)
			return -1;
	}
	free(buf);
	return close(fd);
}

static long check_file(long pages)
{
	char *buf = malloc(psize), *want = malloc(psize);
	int fd = open(FILE_PATH, O_RDONLY);
	long i, bad = -1;

	for (i = 0; i < pages && bad < 0 && fd >= 0 && buf && want; i++) {
		fill_page(want, SEED_FILE, i);
		if (read(fd, buf, psize) != psize || memcmp(buf, want, psize))
			bad = i;
	}
	if (fd < 0 || !buf || !want)
		bad = 0;
	if (fd >= 0)
		close(fd);
	free(buf);
	free(want);
	return bad;
}

/* Seconds since the guest booted, as /proc/uptime says. */
static double uptime(void)
{
	FILE *f = fopen("/proc/uptime", "r");
	double up = 0;

	if (f) {
		if (fscanf(f, "%lf", &up) != 1)
			up = 0;
		fclose(f);
	}
	return up;
}

static int bad(long round, const char *region, long page)
{
	printf("@@GUEST id=%d round=%ld BAD %s page %ld\n", id, round, region, page);
	return 1;
}

int main(int argc, char **argv)
{
	long ident = 32, file = 16, zero = 16, uniq = 16, secs = 5, round;
	long ip, fp, zp, up, hp;
	char *imem, *zmem, *umem;
	int opt;

	while ((opt = getopt(argc, argv, "i:f:z:u:s:")) != -1) {
		if (opt == 'i')
			ident = atol(optarg);
		else if (opt == 'f')
			file = atol(optarg);
		else if (opt == 'z')
			zero = atol(optarg);
		else if (opt == 'u')
			uniq = atol(optarg);
		else if (opt == 's')
			secs = atol(optarg);
		else
			return 2;
	}
	if (optind >= argc || ident < 2)
		return 2;
	id = atoi(argv[optind]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	psize = sysconf(_SC_PAGESIZE);
	ip = ident * MIB / psize;
	fp = file * MIB / psize;
	zp = zero * MIB / psize;
	up = uniq * MIB / psize;
	hp = MIB / psize;

	imem = anon(ident);
	zmem = anon(zero);
	umem = anon(uniq);
	fill(imem, ip, SEED_COMMON);
	fill(zmem, zp, 0);
	fill(umem, up, SEED_GUEST + id);
	if (write_file(fp)) {
		printf("@@GUEST id=%d cannot write %s\n", id, FILE_PATH);
		return 1;
	}
	printf("@@GUEST id=%d filled identical=%ld file=%ld zero=%ld unique=%ld hot=%ld up=%.1f\n",
	       id, ip, fp, zp, up, hp, uptime());

	for (round = 1; ; round++) {
		long b;

		sleep(secs);
		/*
		 * The hot MiB: content of this guest and round (no other page
		 * has it), then the common content again.
		 */
		fill(imem, hp, SEED_HOT + id + (round << 16));
		b = check(imem, hp, SEED_HOT + id + (round << 16));
		if (b >= 0)
			return bad(round, "hot", b);
		fill(imem, hp, SEED_COMMON);
		b = check(imem, ip, SEED_COMMON);
		if (b >= 0)
			return bad(round, "identical", b);
		b = check(zmem, zp, 0);
		if (b >= 0)
			return bad(round, "zero", b);
		b = check(umem, up, SEED_GUEST + id);
		if (b >= 0)
			return bad(round, "unique", b);
		b = check_file(fp);
		if (b >= 0)
			return bad(round, "file", b);
		printf("@@GUEST id=%d round=%ld ok\n", id, round);
	}
}
