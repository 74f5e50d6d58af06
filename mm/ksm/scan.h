/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The scanner: ksmd's batches over the registered mms, and the tracking
 * entries it owns.
 */
#ifndef MM_KSM_SCAN_H
#define MM_KSM_SCAN_H

#include <linux/types.h>

struct ksm_slot;

void ksm_scan_batch(unsigned int budget);
bool ksm_slot_reap(struct ksm_slot *slot);
bool ksm_reap_at_cursor(struct ksm_slot *slot);
bool ksm_forget_all(void);
void ksm_scan_forget(void);
void ksm_scan_init(void);

#endif /* MM_KSM_SCAN_H */
