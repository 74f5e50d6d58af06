// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of the scan policy arithmetic (mm/ksm/policy.c).
 */
#include <kunit/test.h>

#include "../policy.h"

static void policy_skip_budget(struct kunit *test)
{
	static const unsigned int want[] = {
		0, 0, 0, 1, 2, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
	};
	unsigned int age;

	for (age = 0; age <= KSM_AGE_MAX; age++)
		KUNIT_EXPECT_EQ_MSG(test, ksm_skip_passes(age), want[age], "age %u", age);
	KUNIT_EXPECT_EQ(test, ksm_skip_passes(1000), 8U);
}

/*
 * A page visited in every pass, never merging, starting at @first: the
 * passes in which it is examined, relative to @first.
 */
static unsigned int examined_passes(unsigned long first, unsigned int *out,
				    unsigned int max, unsigned int passes)
{
	unsigned int age = 0, due = 0, n = 0;
	unsigned long pass;

	for (pass = first; pass < first + passes; pass++) {
		if (ksm_skip_now(due, pass))
			continue;
		if (n < max)
			out[n++] = pass - first;
		due = ksm_due_pass(pass, ksm_skip_passes(age));
		age = min(age + 1, KSM_AGE_MAX);
	}
	return n;
}

/* 6.12's schedule, wherever the pass counter starts (it wraps at 256). */
static void policy_skip_schedule(struct kunit *test)
{
	static const unsigned int want[] = { 0, 1, 2, 3, 5, 8, 13, 22, 31, 40, 49 };
	static const unsigned long starts[] = { 0, 7, 250, 1000003 };
	unsigned int got[ARRAY_SIZE(want)], i, s;

	for (s = 0; s < ARRAY_SIZE(starts); s++) {
		KUNIT_ASSERT_EQ(test, examined_passes(starts[s], got, ARRAY_SIZE(got), 50),
				(unsigned int)ARRAY_SIZE(want));
		for (i = 0; i < ARRAY_SIZE(want); i++)
			KUNIT_EXPECT_EQ_MSG(test, got[i], want[i], "start %lu, #%u",
					    starts[s], i);
	}
}

/* No skip set, or a page away for a while: examined at once. */
static void policy_skip_overdue(struct kunit *test)
{
	unsigned int due = ksm_due_pass(100, 4);
	unsigned long pass;

	KUNIT_EXPECT_FALSE(test, ksm_skip_now(0, 5));
	KUNIT_EXPECT_FALSE(test, ksm_skip_now(ksm_due_pass(5, 0), 6));
	for (pass = 101; pass <= 104; pass++)
		KUNIT_EXPECT_TRUE(test, ksm_skip_now(due, pass));
	for (pass = 105; pass < 100 + 248; pass++)
		KUNIT_EXPECT_FALSE_MSG(test, ksm_skip_now(due, pass), "pass %lu", pass);
}

static const struct ksm_advisor_limits defaults = {
	.target_scan_time_s = 200,
	.max_cpu = 70,
	.min_pages = 500,
	.max_pages = 30000,
};

/* A pass that took twice the target asks for twice the batch. */
static void policy_advisor_scales_with_time(struct kunit *test)
{
	struct ksm_advisor adv = {};
	struct ksm_advisor_sample s = {
		.pages_to_scan = 1000, .scan_time_ms = 400000, .cpu_percent = 10,
	};

	KUNIT_EXPECT_EQ(test, ksm_advisor_next(&adv, &s, &defaults), 2000UL);
	/* On target: keep the batch. */
	adv.ratio = 0;
	s.scan_time_ms = 200000;
	KUNIT_EXPECT_EQ(test, ksm_advisor_next(&adv, &s, &defaults), 1000UL);
}

/* One odd pass moves the smoothed ratio by a quarter only. */
static void policy_advisor_smooths(struct kunit *test)
{
	struct ksm_advisor adv = { .ratio = KSM_ADVISOR_ONE };
	struct ksm_advisor_sample s = {
		.pages_to_scan = 4000, .scan_time_ms = 1000000, .cpu_percent = 1,
	};

	/* ratio: (3 * 1 + 5) / 4 = 2 */
	KUNIT_EXPECT_EQ(test, ksm_advisor_next(&adv, &s, &defaults), 8000UL);
	KUNIT_EXPECT_EQ(test, adv.ratio, 2 * KSM_ADVISOR_ONE);
}

/* CPU use scales with the batch: stay below max_cpu. */
static void policy_advisor_cpu_cap(struct kunit *test)
{
	struct ksm_advisor adv = {};
	struct ksm_advisor_sample s = {
		.pages_to_scan = 1000, .scan_time_ms = 2000000, .cpu_percent = 35,
	};

	/* time says 10x, CPU allows 2x (70% / 35%) */
	KUNIT_EXPECT_EQ(test, ksm_advisor_next(&adv, &s, &defaults), 2000UL);
}

static void policy_advisor_bounds(struct kunit *test)
{
	struct ksm_advisor adv = {};
	struct ksm_advisor_sample s = {
		.pages_to_scan = 20000, .scan_time_ms = 4000000, .cpu_percent = 0,
	};

	KUNIT_EXPECT_EQ(test, ksm_advisor_next(&adv, &s, &defaults), 30000UL);
	adv.ratio = 0;
	s.scan_time_ms = 1;
	KUNIT_EXPECT_EQ(test, ksm_advisor_next(&adv, &s, &defaults), 500UL);
	/* Degenerate input does not divide by zero. */
	adv.ratio = 0;
	s.pages_to_scan = 0;
	s.scan_time_ms = 0;
	KUNIT_EXPECT_EQ(test, ksm_advisor_next(&adv, &s, &defaults), 500UL);
}

static struct kunit_case ksm_policy_cases[] = {
	KUNIT_CASE(policy_skip_budget),
	KUNIT_CASE(policy_skip_schedule),
	KUNIT_CASE(policy_skip_overdue),
	KUNIT_CASE(policy_advisor_scales_with_time),
	KUNIT_CASE(policy_advisor_smooths),
	KUNIT_CASE(policy_advisor_cpu_cap),
	KUNIT_CASE(policy_advisor_bounds),
	{}
};

static struct kunit_suite ksm_policy_suite = {
	.name = "ksm_policy", /* kunit suite */
	.test_cases = ksm_policy_cases,
};

kunit_test_suite(ksm_policy_suite);

MODULE_DESCRIPTION("KUnit tests of the KSM scan policy");
MODULE_LICENSE("GPL");
