/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing a compiled policy into one generation of the datapath's maps, and flipping
 * the active generation (maps/kgate_maps.h explains the scheme).
 */
#ifndef KGATE_POLICY_LOAD_H
#define KGATE_POLICY_LOAD_H

#include <stddef.h>
#include <linux/types.h>

#include "agent/policy/policy.h"

/* File descriptors of the maps (from a skeleton, or opened from their pins). */
struct kg_maps {
	int active, ports, config, rules, classes, topics;
	int regions4, regions6, identities4, identities6, names;
	int topic_ids, flows, counters, rule_hits, events, nhkey;
};

/* The map names, in struct kg_maps order, as pinned (for opening by pin). */
extern const char *const kg_map_names[];
#define KG_NMAPS 17

/* Opens every map pinned under dir (e.g. /sys/fs/bpf/kgate/eth0): 0 or -errno. */
int kg_maps_open_pinned(struct kg_maps *m, const char *dir, char *err, size_t errlen);
void kg_maps_close(struct kg_maps *m);

/*
 * Writes the retransmission hash's random key (kg_nhkey) unless it is written already
 * (an adopted datapath keeps its own: flows remember hashes taken with it). Call before
 * the datapath sees a packet. 0 or -errno.
 */
int kg_nhkey_init(int nhkey_fd);

/* The active generation, or -errno. */
int kg_policy_active(const struct kg_maps *m);

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
