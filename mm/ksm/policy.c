// SPDX-License-Identifier: GPL-2.0-only
/*
 * Scan policy arithmetic: the smart-scan skip budget and the scan-time
 * advisor.  Pure functions of their inputs, kept apart from the scanner
 * so that they can be reasoned about and unit-tested on their own.
 */
#include <linux/kernel.h>
#include <linux/math64.h>
#include <linux/minmax.h>

#include "internal.h"

/*
 * Skip budgets by age (visits so far): the first three visits are never
 * skipped, then the budget grows 1, 2, 2, 4, 4, 4 and stays at 8.  These
 * steps are the ones 6.12 uses, so pages_skipped means the same thing.
 */
static const u8 ksm_skip_budget[] = { 0, 0, 0, 1, 2, 2, 4, 4, 4, 8 };

/**
 * ksm_skip_passes() - how many passes to skip a page that does not merge
 * @age: visits the page had so far without merging, skipped ones included
 *
 * Called when a page is examined and has no skips left: the page is
 * then passed over in that many of the coming passes.  A page that never
 * merges thus costs one visit in nine passes at most, while one that
 * starts to match again is found within a bounded delay.
 *
 * Return: number of coming passes in which the page is not examined.
 */
unsigned int ksm_skip_passes(unsigned int age)
{
	return ksm_skip_budget[min_t(unsigned int, age, ARRAY_SIZE(ksm_skip_budget) - 1)];
}

/* New samples weigh 1/4 in the smoothed ratio. */
#define KSM_ADVISOR_WEIGHT	4

/**
 * ksm_advisor_next() - batch size for the next pass of the scan-time advisor
 * @adv: advisor state, zeroed when the advisor is (re)enabled
 * @s: what the pass that just ended measured
 * @lim: the advisor_* knobs
 *
 * The batch size that would have made the last pass last exactly the
 * target is proportional to how long it took: pages * time / target.
 * That ratio is smoothed across passes so that one odd pass (a fork
 * storm, a paused VM) does not swing the rate, then the result is held
 * below the batch size at which ksmd would exceed @lim->max_cpu (CPU use
 * scales with the batch size) and inside [@lim->min_pages,
 * @lim->max_pages].
 *
 * Return: the pages_to_scan to use from now on.
 */
unsigned long ksm_advisor_next(struct ksm_advisor *adv,
			       const struct ksm_advisor_sample *s,
			       const struct ksm_advisor_limits *lim)
{
	u64 target_ms = max(lim->target_scan_time_s, 1UL) * MSEC_PER_SEC;
	u64 pages = max(s->pages_to_scan, 1UL);
	u64 ratio, want;

	ratio = div64_u64(min_t(u64, s->scan_time_ms, U32_MAX) *
			  KSM_ADVISOR_ONE, target_ms);
	if (!adv->ratio)
		adv->ratio = ratio;
	else
		adv->ratio = (adv->ratio * (KSM_ADVISOR_WEIGHT - 1) + ratio) /
			     KSM_ADVISOR_WEIGHT;

	want = div64_u64(min_t(u64, pages, U32_MAX) * adv->ratio, KSM_ADVISOR_ONE);
	if (s->cpu_percent) {
		u64 cpu_cap = div64_u64(min_t(u64, pages, U32_MAX) * lim->max_cpu,
					s->cpu_percent);

		want = min(want, cpu_cap);
	}
	want = min_t(u64, want, lim->max_pages);
	return max_t(u64, want, lim->min_pages);
}
