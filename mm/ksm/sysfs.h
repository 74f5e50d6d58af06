/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * /sys/kernel/mm/ksm.
 */
#ifndef MM_KSM_SYSFS_H
#define MM_KSM_SYSFS_H

#ifdef CONFIG_SYSFS
int ksm_sysfs_init(void);
#else
static inline int ksm_sysfs_init(void)
{
	return 0;
}
#endif

#endif /* MM_KSM_SYSFS_H */
