/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing a compiled policy into one generation of the datapath's maps, and flipping
 * the active generation (maps/kgate_maps.h explains the scheme).
 */
#ifndef KGATE_POLICY_WRITE_H
#define KGATE_POLICY_WRITE_H

#include <stddef.h>
#include <linux/types.h>

#include "agent/datapath/maps.h"
#include "agent/policy/policy.h"

/*
 * Replaces generation gen with c: removes what gen held, then writes every table.
 * Never touches the other generation, so the datapath keeps deciding on the active one.
 * A compiled config without redirect_ifindex keeps the active one's (the quarantine
 * interface is the agent's setting, not the policy's). Returns 0 or -errno with err set.
 */
int kg_policy_write(const struct kg_maps *m, const struct kg_compiled *c, __u32 gen,
		    __u32 version_id, char *err, size_t errlen);

/* Makes gen the active generation: one word, the next epoch of gen's parity. */
int kg_policy_activate(const struct kg_maps *m, __u32 gen);

#endif
