/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Fresh frames for the KSM folios of hardened mode.
 */
#ifndef MM_KSM_FRAMES_H
#define MM_KSM_FRAMES_H

#include <linux/mm_types.h>

struct folio *ksm_frame_take(int nid);
void ksm_frames_refill(void);
void ksm_frames_drain(void);

#endif /* MM_KSM_FRAMES_H */
