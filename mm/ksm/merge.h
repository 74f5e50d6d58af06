/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Merging: replacing a page's mapping with a KSM folio or the zero page.
 */
#ifndef MM_KSM_MERGE_H
#define MM_KSM_MERGE_H

#include <linux/mm_types.h>

struct ksm_stable;

int ksm_merge_two(struct vm_area_struct *vma, struct page *page,
		  struct vm_area_struct *pvma, struct page *ppage,
		  struct ksm_stable *stable);
int ksm_merge_page(struct vm_area_struct *vma, struct page *page,
		   struct page *kpage);
struct folio *ksm_fresh_frame(struct vm_area_struct *vma, struct page *page);
int ksm_merge_fresh(struct vm_area_struct *vma, struct page *page, struct folio *kfolio,
		    struct ksm_stable *stable);
int ksm_merge_zero(struct vm_area_struct *vma, struct page *page);
int ksm_split_for_merge(struct page *page);

#endif /* MM_KSM_MERGE_H */
