// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmd: the thread that scans in batches, sleeping sleep_millisecs in
 * between, and reaps the slots exits left behind; and the start-up of
 * the whole engine.
 */
#include <linux/freezer.h>
#include <linux/kthread.h>
#include <linux/ksm.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>

#include "state.h"
#include "content.h"
#include "stable.h"
#include "tenant.h"
#include "scan.h"
#include "sysfs.h"

static struct task_struct *ksmd;

/* How soon ksmd tries again a slot it could not reap. */
#define KSM_REAP_RETRY_MS	100

/*
 * How often ksmd, while KSM is stopped, looks at every pinned folio of
 * hardened mode and frees those no longer mapped (see
 * ksm_stable_release_pins()): every 250 ms, backing off to every 4 s
 * while it finds none.
 */
#define KSM_PINS_IDLE_MS	250
#define KSM_PINS_IDLE_MAX_MS	4000

/*
 * Reap the slots that exits left behind, when an exit asked for it or
 * when @again (the last reap left some).  Returns true if some exited
 * slot is still there, to be tried again in KSM_REAP_RETRY_MS.
 */
static bool ksm_reap_exited(bool again)
{
	struct ksm_slot *slot, *next;
	bool left = false;

	lockdep_assert_held(&ksm_mutex);
	if (!ksm_exits_take() && !again)
		return false;
	for (slot = ksm_slot_next(NULL); slot; slot = next) {
		next = ksm_slot_next(slot);
		if (atomic_read(&slot->mm->mm_users))
			continue;
		if (ksm_slot_is_cursor(slot) ? !ksm_reap_at_cursor(slot) :
		    !ksm_slot_reap(slot))
			left = true;
		cond_resched();
	}
	return left;
}

static bool ksm_should_scan(void)
{
	return (READ_ONCE(ksm_knobs.run) & KSM_RUN_MERGE) && !ksm_slots_empty();
}

static int ksm_thread(void *unused)
{
	unsigned int pins_ms = KSM_PINS_IDLE_MS;
	bool reap_again = false;

	set_freezable();
	set_user_nice(current, 5);

	while (!kthread_should_stop()) {
		mutex_lock(&ksm_mutex);
		reap_again = ksm_reap_exited(reap_again);
		if (ksm_should_scan())
			ksm_scan_batch(READ_ONCE(ksm_knobs.pages_to_scan));
		else if (ksm_stable_release_pins(true))
			pins_ms = KSM_PINS_IDLE_MS;
		else
			pins_ms = min_t(unsigned int, 2 * pins_ms, KSM_PINS_IDLE_MAX_MS);
		mutex_unlock(&ksm_mutex);
		cond_resched();

		if (ksm_should_scan()) {
			unsigned int ms = READ_ONCE(ksm_knobs.sleep_ms);

			wait_event_freezable_timeout(ksm_sleep_wait,
						     ms != READ_ONCE(ksm_knobs.sleep_ms) ||
						     kthread_should_stop(),
						     msecs_to_jiffies(ms));
		} else if (reap_again || ksm_stable_has_pins()) {
			unsigned int ms = reap_again ? KSM_REAP_RETRY_MS : pins_ms;

			wait_event_freezable_timeout(ksm_wait, ksm_should_scan() ||
						     ksm_exits_waiting() ||
						     kthread_should_stop(),
						     msecs_to_jiffies(ms));
		} else {
			wait_event_freezable(ksm_wait, ksm_should_scan() ||
					     ksm_exits_waiting() ||
					     kthread_should_stop());
		}
	}
	return 0;
}

static int __init ksm_engine_init(void)
{
	int err;

	err = ksm_state_init();
	if (!err)
		err = ksm_stable_init();
	if (err)
		goto fail;
	ksm_content_init();
	ksm_tenant_init();
	ksm_scan_init();
	ksmd = kthread_run(ksm_thread, NULL, "ksmd");
	if (IS_ERR(ksmd)) {
		err = PTR_ERR(ksmd);
		goto fail;
	}
	err = ksm_sysfs_init();
	if (err) {
		kthread_stop(ksmd);
		goto fail;
	}
	ksm_state_open();
	return 0;

fail:
	/* The caches stay: nothing can use them, as no mm may register. */
	pr_err("ksm: start-up failed (%d): KSM is off\n", err);
	return err;
}
subsys_initcall(ksm_engine_init);
