/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unmerging: giving mappings of KSM folios private copies again.
 */
#ifndef MM_KSM_UNMERGE_H
#define MM_KSM_UNMERGE_H

#include <linux/mm_types.h>

int ksm_unmerge_range(struct vm_area_struct *vma, unsigned long start,
		      unsigned long end);
int ksm_unmerge_mm(struct mm_struct *mm, void *skipped);

#endif /* MM_KSM_UNMERGE_H */
