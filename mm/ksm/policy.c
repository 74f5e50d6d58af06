// SPDX-License-Identifier: GPL-2.0-only
/*
 * Scan policy: the smart-scan skip budget and the scan-time advisor.
 * The arithmetic is pure functions of their inputs, kept apart so that
 * they can be reasoned about and unit-tested on their own; the advisor's
 * state between passes and its timing follow them.
 */
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/sched/cputime.h>
#include <trace/events/ksm.h>

#include "state.h"
#include "policy.h"

/*
 * Skip budgets by age (examinations so far): after each of the first
 * three no pass is skipped, then 1, 2 and 4 passes, then 8 for good.  A
 * page visited every pass is thus examined in passes 0, 1, 2, 3, 5, 8,
 * 13, 22, 31, ...: the schedule of 6.12, so pages_skipped means the
 * same thing.
 */
static const u8 ksm_skip_budget[] = { 0, 0, 0, 1, 2, 4, 8 };

/*
 * Due passes are kept modulo 256, far beyond the longest skip, with a
 * flag bit telling that one is set.
 */
#define KSM_PASS_MOD		256U
#define KSM_DUE_SET		KSM_PASS_MOD
#define KSM_SKIP_MAX		8U

/**
 * ksm_skip_passes() - how many passes to skip a page that does not merge
 * @age: times the page was examined before, without merging
 *
 * A page that never merges thus costs one examination in nine passes at
 * most, while one that starts to match again is found within a bounded
 * delay.
 *
 * Return: number of coming passes in which the page is not examined.
 */
unsigned int ksm_skip_passes(unsigned int age)
{
	return ksm_skip_budget[min_t(unsigned int, age, ARRAY_SIZE(ksm_skip_budget) - 1)];
}

/**
 * ksm_due_pass() - when a page examined now is due again
 * @pass: number of the current pass (full_scans)
 * @skip: passes to skip, from ksm_skip_passes()
 *
 * Return: the due value to keep in the page's tracking entry: 0 when no
 * pass is skipped, otherwise the due pass modulo 256 with a flag bit.
 */
unsigned int ksm_due_pass(unsigned long pass, unsigned int skip)
{
	if (!skip)
		return 0;
	return KSM_DUE_SET | ((pass + min(skip, KSM_SKIP_MAX) + 1) % KSM_PASS_MOD);
}

/**
 * ksm_skip_now() - is a page to be passed over in this pass?
 * @due: the value ksm_due_pass() gave at its last examination
 * @pass: number of the current pass
 *
 * A page is skipped while its due pass is 1 to 8 passes ahead.  One that
 * was not visited for a while (it was swapped out, say) is overdue and
 * examined at once; only one away for more than 247 passes could look
 * ahead again, which merely delays it by up to 8 passes.
 *
 * Return: true to skip the page.
 */
bool ksm_skip_now(unsigned int due, unsigned long pass)
{
	unsigned int ahead = (due - pass) % KSM_PASS_MOD;

	return (due & KSM_DUE_SET) && ahead >= 1 && ahead <= KSM_SKIP_MAX;
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

/*
 * The scan-time advisor: at the end of every pass, pick pages_to_scan so
 * that a pass takes advisor_target_scan_time seconds.
 */
static struct ksm_advisor ksm_advisor_state;
static ktime_t ksm_pass_started;
static u64 ksm_pass_cpu_ns;

/**
 * ksm_advisor_reset() - forget what the advisor learnt
 */
void ksm_advisor_reset(void)
{
	ksm_advisor_state.ratio = 0;
}

/**
 * ksm_advisor_pass_start() - note the time and ksmd's CPU time
 */
void ksm_advisor_pass_start(void)
{
	ksm_pass_started = ktime_get();
	ksm_pass_cpu_ns = task_sched_runtime(current);
}

/**
 * ksm_advisor_pass_end() - let the advisor choose the next batch size
 */
void ksm_advisor_pass_end(void)
{
	struct ksm_advisor_limits lim = {
		.target_scan_time_s = READ_ONCE(ksm_knobs.advisor_target_s),
		.max_cpu = READ_ONCE(ksm_knobs.advisor_max_cpu),
		.min_pages = READ_ONCE(ksm_knobs.advisor_min_pages),
		.max_pages = READ_ONCE(ksm_knobs.advisor_max_pages),
	};
	struct ksm_advisor_sample s;
	s64 wall_ns = ktime_to_ns(ktime_sub(ktime_get(), ksm_pass_started));
	u64 cpu_ns = task_sched_runtime(current) - ksm_pass_cpu_ns;

	if (READ_ONCE(ksm_knobs.advisor) != KSM_ADVISOR_SCAN_TIME || wall_ns <= 0)
		return;
	s.pages_to_scan = READ_ONCE(ksm_knobs.pages_to_scan);
	s.scan_time_ms = div_u64(wall_ns, NSEC_PER_MSEC);
	s.cpu_percent = div64_u64(cpu_ns * 100, wall_ns);
	WRITE_ONCE(ksm_knobs.pages_to_scan, ksm_advisor_next(&ksm_advisor_state, &s, &lim));
	trace_ksm_advisor(div_u64(wall_ns, NSEC_PER_SEC), ksm_knobs.pages_to_scan,
			  s.cpu_percent);
}
