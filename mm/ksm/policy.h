/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Scan policy: smart scan's arithmetic and the scan-time advisor.
 */
#ifndef MM_KSM_POLICY_H
#define MM_KSM_POLICY_H

#include <linux/types.h>

/* Smart scan.  Ages past 6 skip alike; tracking values keep 3 bits. */
#define KSM_AGE_MAX		7
unsigned int ksm_skip_passes(unsigned int age);
unsigned int ksm_due_pass(unsigned long pass, unsigned int skip);
bool ksm_skip_now(unsigned int due, unsigned long pass);

/**
 * struct ksm_advisor_sample - what the scan-time advisor learns per pass
 * @pages_to_scan: batch size used during the pass that just ended
 * @scan_time_ms: wall time of that pass
 * @cpu_percent: ksmd's CPU use during that pass, in percent of one CPU
 */
struct ksm_advisor_sample {
	unsigned long pages_to_scan;
	unsigned long scan_time_ms;
	unsigned long cpu_percent;
};

/**
 * struct ksm_advisor_limits - the advisor_* sysfs knobs
 * @target_scan_time_s: wanted duration of one full pass, in seconds
 * @max_cpu: ksmd CPU use not to exceed, in percent of one CPU
 * @min_pages: smallest batch the advisor may choose
 * @max_pages: largest batch the advisor may choose
 */
struct ksm_advisor_limits {
	unsigned long target_scan_time_s;
	unsigned long max_cpu;
	unsigned long min_pages;
	unsigned long max_pages;
};

/**
 * struct ksm_advisor - state the advisor carries between passes
 * @ratio: smoothed scan_time/target ratio, fixed point (KSM_ADVISOR_ONE)
 */
struct ksm_advisor {
	unsigned long ratio;
};

#define KSM_ADVISOR_ONE		1024UL

unsigned long ksm_advisor_next(struct ksm_advisor *adv,
			       const struct ksm_advisor_sample *s,
			       const struct ksm_advisor_limits *lim);

void ksm_advisor_reset(void);
void ksm_advisor_pass_start(void);
void ksm_advisor_pass_end(void);

#endif /* MM_KSM_POLICY_H */
