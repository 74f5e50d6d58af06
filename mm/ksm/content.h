/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Page content: the content hash and the byte comparison.
 */
#ifndef MM_KSM_CONTENT_H
#define MM_KSM_CONTENT_H

#include <linux/mm_types.h>
#include <linux/types.h>

extern u64 ksm_zero_hash;

u64 ksm_hash_page(struct page *page);
bool ksm_pages_identical(struct page *page, struct page *other);
void ksm_content_init(void);

#endif /* MM_KSM_CONTENT_H */
