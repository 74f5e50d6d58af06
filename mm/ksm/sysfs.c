// SPDX-License-Identifier: GPL-2.0-only
/*
 * /sys/kernel/mm/ksm: the tunables and counters, with the names, formats,
 * defaults, validation and error codes that Linux 6.12 established.
 */
#include <linux/kobject.h>
#include <linux/ksm.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/oom.h>
#include <linux/sysfs.h>

#include "state.h"
#include "frames.h"
#include "policy.h"
#include "stable.h"
#include "unmerge.h"
#include "scan.h"
#include "sysfs.h"

#define KSM_RO(_name, _show) \
	static struct kobj_attribute ksm_attr_##_name = __ATTR(_name, 0444, _show, NULL)
#define KSM_RW(_name, _show, _store) \
	static struct kobj_attribute ksm_attr_##_name = __ATTR(_name, 0644, _show, _store)

/*
 * Plain counters and tunables: the attribute knows the variable it shows,
 * so one show and one store function serve all of a type.
 */
struct ksm_var_attr {
	struct kobj_attribute kattr;
	void *var;
};

#define KSM_VAR(_name, _mode, _show, _store, _var)				\
	static struct ksm_var_attr ksm_attr_##_name = {				\
		.kattr = __ATTR(_name, _mode, _show, _store),			\
		.var = (_var),							\
	}

static void *ksm_var(struct kobj_attribute *attr)
{
	return container_of(attr, struct ksm_var_attr, kattr)->var;
}

static ssize_t ksm_ulong_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(*(unsigned long *)ksm_var(attr)));
}

static ssize_t ksm_ulong_store(struct kobject *kobj, struct kobj_attribute *attr,
			       const char *buf, size_t count)
{
	unsigned long v;

	if (kstrtoul(buf, 10, &v))
		return -EINVAL;
	WRITE_ONCE(*(unsigned long *)ksm_var(attr), v);
	return count;
}

static ssize_t ksm_uint_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(*(unsigned int *)ksm_var(attr)));
}

static ssize_t ksm_uint_store(struct kobject *kobj, struct kobj_attribute *attr,
			      const char *buf, size_t count)
{
	unsigned int v;

	if (kstrtouint(buf, 10, &v))
		return -EINVAL;
	WRITE_ONCE(*(unsigned int *)ksm_var(attr), v);
	return count;
}

static ssize_t ksm_bool_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(*(bool *)ksm_var(attr)));
}

static ssize_t ksm_bool_store(struct kobject *kobj, struct kobj_attribute *attr,
			      const char *buf, size_t count)
{
	bool v;

	if (kstrtobool(buf, &v))
		return -EINVAL;
	WRITE_ONCE(*(bool *)ksm_var(attr), v);
	return count;
}

KSM_VAR(pages_scanned, 0444, ksm_ulong_show, NULL, &ksm_stats.pages_scanned);
KSM_VAR(pages_shared, 0444, ksm_ulong_show, NULL, &ksm_stats.pages_shared);
KSM_VAR(pages_sharing, 0444, ksm_ulong_show, NULL, &ksm_stats.pages_sharing);
KSM_VAR(pages_skipped, 0444, ksm_ulong_show, NULL, &ksm_stats.pages_skipped);
KSM_VAR(full_scans, 0444, ksm_ulong_show, NULL, &ksm_stats.full_scans);
KSM_VAR(stable_node_chains, 0444, ksm_ulong_show, NULL, &ksm_stats.chains);
KSM_VAR(stable_node_dups, 0444, ksm_ulong_show, NULL, &ksm_stats.dups);
KSM_VAR(stable_node_chains_prune_millisecs, 0644, ksm_uint_show, ksm_uint_store,
	&ksm_knobs.prune_ms);
KSM_VAR(use_zero_pages, 0644, ksm_bool_show, ksm_bool_store, &ksm_knobs.use_zero_pages);
KSM_VAR(smart_scan, 0644, ksm_bool_show, ksm_bool_store, &ksm_knobs.smart_scan);
KSM_VAR(advisor_min_pages_to_scan, 0644, ksm_ulong_show, ksm_ulong_store,
	&ksm_knobs.advisor_min_pages);
KSM_VAR(advisor_max_pages_to_scan, 0644, ksm_ulong_show, ksm_ulong_store,
	&ksm_knobs.advisor_max_pages);

static ssize_t ksm_sysfs_pages_unshared_show(struct kobject *kobj,
					     struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(ksm_stats.pages_unshared));
}

KSM_RO(pages_unshared, ksm_sysfs_pages_unshared_show);

static ssize_t ksm_sysfs_pages_volatile_show(struct kobject *kobj,
					     struct kobj_attribute *attr, char *buf)
{
	long v = READ_ONCE(ksm_stats.items) - READ_ONCE(ksm_stats.pages_shared) -
		 READ_ONCE(ksm_stats.pages_sharing) - READ_ONCE(ksm_stats.pages_unshared);

	/* The counters are read racily: never show a negative count. */
	return sysfs_emit(buf, "%ld\n", max(v, 0L));
}

KSM_RO(pages_volatile, ksm_sysfs_pages_volatile_show);

static ssize_t ksm_sysfs_zero_pages_show(struct kobject *kobj,
					 struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&ksm_zero_pages));
}

KSM_RO(ksm_zero_pages, ksm_sysfs_zero_pages_show);

static ssize_t ksm_sysfs_general_profit_show(struct kobject *kobj,
					     struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", ksm_general_profit());
}

KSM_RO(general_profit, ksm_sysfs_general_profit_show);

static ssize_t ksm_sysfs_sleep_millisecs_store(struct kobject *kobj,
					       struct kobj_attribute *attr,
					       const char *buf, size_t count)
{
	ssize_t ret = ksm_uint_store(kobj, attr, buf, count);

	/* Wake ksmd so that a shorter sleep takes effect at once. */
	if (ret > 0)
		wake_up_interruptible(&ksm_sleep_wait);
	return ret;
}

KSM_VAR(sleep_millisecs, 0644, ksm_uint_show, ksm_sysfs_sleep_millisecs_store,
	&ksm_knobs.sleep_ms);

static ssize_t ksm_sysfs_advisor_target_store(struct kobject *kobj,
					      struct kobj_attribute *attr,
					      const char *buf, size_t count)
{
	unsigned long v;

	if (kstrtoul(buf, 10, &v) || v < 1)
		return -EINVAL;
	WRITE_ONCE(ksm_knobs.advisor_target_s, v);
	return count;
}

KSM_VAR(advisor_target_scan_time, 0644, ksm_ulong_show, ksm_sysfs_advisor_target_store,
	&ksm_knobs.advisor_target_s);

/* advisor_max_cpu takes an unsigned long but keeps (and shows) an unsigned int. */
static ssize_t ksm_sysfs_advisor_max_cpu_store(struct kobject *kobj,
					       struct kobj_attribute *attr,
					       const char *buf, size_t count)
{
	unsigned long v;

	if (kstrtoul(buf, 10, &v))
		return -EINVAL;
	WRITE_ONCE(ksm_knobs.advisor_max_cpu, v);
	return count;
}

KSM_VAR(advisor_max_cpu, 0644, ksm_uint_show, ksm_sysfs_advisor_max_cpu_store,
	&ksm_knobs.advisor_max_cpu);

/* Pages of a PMD-mapped THP that must be able to merge before a split. */
static ssize_t ksm_sysfs_thp_split_threshold_store(struct kobject *kobj,
						   struct kobj_attribute *attr,
						   const char *buf, size_t count)
{
	unsigned int v;

	if (kstrtouint(buf, 10, &v) || !v || v > KSM_PMD_PAGES)
		return -EINVAL;
	WRITE_ONCE(ksm_knobs.thp_split_threshold, v);
	return count;
}

KSM_VAR(thp_split_threshold, 0644, ksm_uint_show, ksm_sysfs_thp_split_threshold_store,
	&ksm_knobs.thp_split_threshold);

/* pages_to_scan belongs to the advisor while one is active. */
static ssize_t ksm_sysfs_pages_to_scan_show(struct kobject *kobj,
					    struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ksm_knobs.pages_to_scan));
}

static ssize_t ksm_sysfs_pages_to_scan_store(struct kobject *kobj,
					     struct kobj_attribute *attr,
					     const char *buf, size_t count)
{
	unsigned int v;

	if (READ_ONCE(ksm_knobs.advisor) != KSM_ADVISOR_NONE || kstrtouint(buf, 10, &v))
		return -EINVAL;
	WRITE_ONCE(ksm_knobs.pages_to_scan, v);
	return count;
}

KSM_RW(pages_to_scan, ksm_sysfs_pages_to_scan_show, ksm_sysfs_pages_to_scan_store);

static const char * const ksm_advisor_names[] = {
	[KSM_ADVISOR_NONE] = "none",
	[KSM_ADVISOR_SCAN_TIME] = "scan-time",
};

static ssize_t ksm_sysfs_advisor_mode_show(struct kobject *kobj,
					   struct kobj_attribute *attr, char *buf)
{
	int mode = READ_ONCE(ksm_knobs.advisor);

	return sysfs_emit(buf, mode == KSM_ADVISOR_NONE ? "[%s] %s\n" : "%s [%s]\n",
			  ksm_advisor_names[KSM_ADVISOR_NONE],
			  ksm_advisor_names[KSM_ADVISOR_SCAN_TIME]);
}

static ssize_t ksm_sysfs_advisor_mode_store(struct kobject *kobj,
					    struct kobj_attribute *attr,
					    const char *buf, size_t count)
{
	int mode = sysfs_match_string(ksm_advisor_names, buf);

	if (mode < 0)
		return -EINVAL;
	if (mode == READ_ONCE(ksm_knobs.advisor))
		return count;
	WRITE_ONCE(ksm_knobs.advisor, mode);
	/* A new mode starts from its own batch size. */
	if (mode == KSM_ADVISOR_SCAN_TIME) {
		ksm_advisor_reset();
		WRITE_ONCE(ksm_knobs.pages_to_scan, READ_ONCE(ksm_knobs.advisor_min_pages));
	} else {
		WRITE_ONCE(ksm_knobs.pages_to_scan, 100);
	}
	return count;
}

KSM_RW(advisor_mode, ksm_sysfs_advisor_mode_show, ksm_sysfs_advisor_mode_store);

/* run: 0 stop, 1 merge, 2 stop and unmerge everything. */
static ssize_t ksm_sysfs_run_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(ksm_knobs.run));
}

/*
 * run=2: unmerge every registered mm, then drop all tracking state.  The
 * writer may be chosen by the OOM killer first: unmerging can need a
 * lot of memory.  After a partial unmerge the KSM folios left keep their
 * members, since the reverse map must still find them.  So do the folios
 * still mapped after a complete walk: poisoned pages, which are reported
 * with -EBUSY (run=2 did not undo everything), and the mappings of mms
 * that are exiting, which go away with the exit.  Context: ksm_mutex.
 */
static int ksm_run_unmerge(void)
{
	unsigned long skipped = 0;
	int err;

	lockdep_assert_held(&ksm_mutex);
	set_current_oom_origin();
	err = ksm_walk_mms(ksm_unmerge_mm, &skipped);
	clear_current_oom_origin();
	if (err)
		return err;
	ksm_stats.full_scans = 0;
	ksm_forget_all();
	if (skipped) {
		pr_warn_ratelimited("ksm: run=2 could not unmerge %lu pages (poisoned?)\n",
				    skipped);
		return -EBUSY;
	}
	return 0;
}

static ssize_t ksm_sysfs_run_store(struct kobject *kobj, struct kobj_attribute *attr,
				   const char *buf, size_t count)
{
	unsigned int v;
	ssize_t ret = count;

	if (kstrtouint(buf, 10, &v) || v > KSM_RUN_UNMERGE)
		return -EINVAL;

	ksm_mutex_lock();
	if (ksm_knobs.run != v) {
		WRITE_ONCE(ksm_knobs.run, v);
		if (v == KSM_RUN_UNMERGE) {
			int err = ksm_run_unmerge();

			if (err) {
				WRITE_ONCE(ksm_knobs.run, KSM_RUN_STOP);
				ret = err;
			}
		}
	}
	mutex_unlock(&ksm_mutex);
	if (v == KSM_RUN_MERGE)
		wake_up_interruptible(&ksm_wait);
	return ret;
}

KSM_RW(run, ksm_sysfs_run_show, ksm_sysfs_run_store);

/*
 * The knobs that change how KSM folios are indexed may only change while
 * there are none: after run=2, or before anything merged.  Those that
 * change which pages may share (@scope: merge_domain, hardened) also
 * wait for the zero pages KSM placed to go, and forget every tracking
 * entry and the unstable index, as run=2 does: their keys change.
 */
static int ksm_change_index_knob(int *field, int v, bool scope)
{
	int err = 0;

	ksm_mutex_lock();
	if (*field != v) {
		if (READ_ONCE(ksm_stats.pages_shared) ||
		    (scope && atomic_long_read(&ksm_zero_pages)) ||
		    !(scope ? ksm_forget_all() : ksm_stable_forget_all()))
			err = -EBUSY;
		else
			WRITE_ONCE(*field, v);
	}
	mutex_unlock(&ksm_mutex);
	return err;
}

static ssize_t ksm_sysfs_max_page_sharing_show(struct kobject *kobj,
					       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ksm_knobs.max_page_sharing));
}

static ssize_t ksm_sysfs_max_page_sharing_store(struct kobject *kobj,
						struct kobj_attribute *attr,
						const char *buf, size_t count)
{
	int v, err;

	err = kstrtoint(buf, 10, &v);
	if (err)
		return err;
	/* A KSM folio starts with two mappings. */
	if (v < 2)
		return -EINVAL;
	err = ksm_change_index_knob(&ksm_knobs.max_page_sharing, v, false);
	return err ? err : count;
}

KSM_RW(max_page_sharing, ksm_sysfs_max_page_sharing_show, ksm_sysfs_max_page_sharing_store);

static const char * const ksm_domain_names[] = {
	[KSM_DOMAIN_GLOBAL] = "global",
	[KSM_DOMAIN_MEMCG] = "memcg",
	[KSM_DOMAIN_PROCESS] = "process",
};

static ssize_t ksm_sysfs_domain_show(struct kobject *kobj,
				     struct kobj_attribute *attr, char *buf)
{
	int mode = READ_ONCE(ksm_knobs.domain), i, len = 0;

	for (i = 0; i < ARRAY_SIZE(ksm_domain_names); i++)
		len += sysfs_emit_at(buf, len, i == mode ? "%s[%s]" : "%s%s", i ? " " : "",
				     ksm_domain_names[i]);
	return len + sysfs_emit_at(buf, len, "\n");
}

/*
 * merge_domain: global, memcg or process.  It changes only while no KSM
 * page exists (EBUSY otherwise), so that no sharing across the new
 * domains is left behind.  memcg needs the memory controller.
 */
static ssize_t ksm_sysfs_domain_store(struct kobject *kobj, struct kobj_attribute *attr,
				      const char *buf, size_t count)
{
	int mode, err;

	mode = sysfs_match_string(ksm_domain_names, buf);
	if (mode < 0)
		return -EINVAL;
	if (mode == KSM_DOMAIN_MEMCG && mem_cgroup_disabled())
		return -EINVAL;
	err = ksm_change_index_knob(&ksm_knobs.domain, mode, true);
	return err ? err : count;
}

KSM_RW(merge_domain, ksm_sysfs_domain_show, ksm_sysfs_domain_store);

static ssize_t ksm_sysfs_hardened_show(struct kobject *kobj,
				       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(ksm_knobs.hardened));
}

/*
 * hardened: 0 or 1.  It changes only while no KSM page exists (EBUSY
 * otherwise): every KSM folio of hardened mode is a fresh frame, and the
 * pool of those frames goes when the mode ends.
 */
static ssize_t ksm_sysfs_hardened_store(struct kobject *kobj, struct kobj_attribute *attr,
					const char *buf, size_t count)
{
	unsigned int v;
	int err;

	if (kstrtouint(buf, 10, &v) || v > 1)
		return -EINVAL;
	err = ksm_change_index_knob(&ksm_knobs.hardened, v, true);
	if (!err && !v) {
		ksm_mutex_lock();
		ksm_frames_drain();
		mutex_unlock(&ksm_mutex);
	}
	return err ? err : count;
}

KSM_RW(hardened, ksm_sysfs_hardened_show, ksm_sysfs_hardened_store);

#ifdef CONFIG_NUMA
static ssize_t ksm_sysfs_across_show(struct kobject *kobj,
				     struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ksm_knobs.merge_across_nodes));
}

static ssize_t ksm_sysfs_across_store(struct kobject *kobj,
				      struct kobj_attribute *attr,
				      const char *buf, size_t count)
{
	unsigned long v;
	int err;

	err = kstrtoul(buf, 10, &v);
	if (err)
		return err;
	if (v > 1)
		return -EINVAL;
	ksm_mutex_lock();
	if (ksm_knobs.merge_across_nodes != v) {
		if (READ_ONCE(ksm_stats.pages_shared) || !ksm_stable_forget_all()) {
			err = -EBUSY;
		} else {
			/* The unstable index is keyed by node too. */
			ksm_scan_forget();
			WRITE_ONCE(ksm_knobs.merge_across_nodes, v);
		}
	}
	mutex_unlock(&ksm_mutex);
	return err ? err : count;
}

KSM_RW(merge_across_nodes, ksm_sysfs_across_show, ksm_sysfs_across_store);
#endif

static struct attribute *ksm_sysfs_attrs[] = {
	&ksm_attr_sleep_millisecs.kattr.attr,
	&ksm_attr_pages_to_scan.attr,
	&ksm_attr_run.attr,
	&ksm_attr_pages_scanned.kattr.attr,
	&ksm_attr_pages_shared.kattr.attr,
	&ksm_attr_pages_sharing.kattr.attr,
	&ksm_attr_pages_unshared.attr,
	&ksm_attr_pages_volatile.attr,
	&ksm_attr_pages_skipped.kattr.attr,
	&ksm_attr_ksm_zero_pages.attr,
	&ksm_attr_full_scans.kattr.attr,
#ifdef CONFIG_NUMA
	&ksm_attr_merge_across_nodes.attr,
#endif
	&ksm_attr_max_page_sharing.attr,
	&ksm_attr_stable_node_chains.kattr.attr,
	&ksm_attr_stable_node_dups.kattr.attr,
	&ksm_attr_stable_node_chains_prune_millisecs.kattr.attr,
	&ksm_attr_use_zero_pages.kattr.attr,
	&ksm_attr_general_profit.attr,
	&ksm_attr_smart_scan.kattr.attr,
	&ksm_attr_advisor_mode.attr,
	&ksm_attr_advisor_max_cpu.kattr.attr,
	&ksm_attr_advisor_min_pages_to_scan.kattr.attr,
	&ksm_attr_advisor_max_pages_to_scan.kattr.attr,
	&ksm_attr_advisor_target_scan_time.kattr.attr,
	&ksm_attr_merge_domain.attr,
	&ksm_attr_hardened.attr,
	&ksm_attr_thp_split_threshold.kattr.attr,
	NULL,
};

static const struct attribute_group ksm_sysfs_group = {
	.attrs = ksm_sysfs_attrs,
	.name = "ksm",
};

/**
 * ksm_sysfs_init() - create /sys/kernel/mm/ksm
 *
 * Return: 0 or the error of sysfs_create_group().
 */
int __init ksm_sysfs_init(void)
{
	return sysfs_create_group(mm_kobj, &ksm_sysfs_group);
}
