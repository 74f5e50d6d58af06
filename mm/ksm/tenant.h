/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What KSM saves each memory cgroup: the counters behind memory.ksm_stat.
 */
#ifndef MM_KSM_TENANT_H
#define MM_KSM_TENANT_H

#include <linux/types.h>

#include "state.h"

#ifdef CONFIG_MEMCG
void ksm_tenant_visit(struct ksm_slot *slot, u64 id);
void ksm_tenant_leave(struct ksm_slot *slot);
void ksm_tenant_items(struct ksm_slot *slot, long delta);
void ksm_tenant_map(struct ksm_slot *slot, struct ksm_tenant **owner, bool first);
void ksm_tenant_unmap(struct ksm_slot *slot, struct ksm_tenant **owner, bool last);
void ksm_tenant_scan_time(struct ksm_slot *slot, u64 ns);
void ksm_tenant_init(void);
#else
static inline void ksm_tenant_visit(struct ksm_slot *slot, u64 id)
{
}

static inline void ksm_tenant_leave(struct ksm_slot *slot)
{
}

static inline void ksm_tenant_items(struct ksm_slot *slot, long delta)
{
}

static inline void ksm_tenant_map(struct ksm_slot *slot, struct ksm_tenant **owner,
				  bool first)
{
}

static inline void ksm_tenant_unmap(struct ksm_slot *slot, struct ksm_tenant **owner,
				    bool last)
{
}

static inline void ksm_tenant_scan_time(struct ksm_slot *slot, u64 ns)
{
}

static inline void ksm_tenant_init(void)
{
}
#endif

#endif /* MM_KSM_TENANT_H */
