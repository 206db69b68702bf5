/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The datapath's maps as the agent holds them: one file descriptor per map of
 * KG_PINNED_MAPS (maps/kgate_maps.h), opened from the skeleton or from the pins.
 */
#ifndef KGATE_DATAPATH_MAPS_H
#define KGATE_DATAPATH_MAPS_H

#include <stddef.h>
#include <linux/types.h>

#include "maps/kgate_maps.h"

#define KG_MAP_FD(field, pin) int field;
/* File descriptors of the maps, -1 = not open. */
struct kg_maps {
	KG_PINNED_MAPS(KG_MAP_FD)
};
#undef KG_MAP_FD

/* The pin names, in struct kg_maps order. */
extern const char *const kg_map_names[];
#define KG_MAP_COUNT(field, pin) +1
#define KG_NMAPS (0 KG_PINNED_MAPS(KG_MAP_COUNT))

/* Opens every map pinned under dir (e.g. /sys/fs/bpf/kgate/eth0): 0 or -errno, err set. */
int kg_maps_open_pinned(struct kg_maps *m, const char *dir, char *err, size_t errlen);
/* Every fd -1, nothing open. */
void kg_maps_none(struct kg_maps *m);
void kg_maps_close(struct kg_maps *m);

/* The active policy generation (kg_active's low bit), or -errno. */
int kg_policy_active(const struct kg_maps *m);
/* The active generation and its kg_config (whose version_id names the stored policy). */
int kg_active_config(const struct kg_maps *m, int *gen, struct kg_config *cfg);

/*
 * Writes the retransmission hash's random key (kg_nhkey) unless it is written already
 * (an adopted datapath keeps its own: flows remember hashes taken with it). Call before
 * the datapath sees a packet. 0 or -errno.
 */
int kg_nhkey_init(int nhkey_fd);

struct bpf_object;
/*
 * Every map of KG_PINNED_MAPS from a loaded object (a skeleton's obj): the object keeps
 * owning the descriptors (do not kg_maps_close them). 0, or -ENOENT naming none.
 */
int kg_maps_from_object(struct kg_maps *m, const struct bpf_object *obj);

/*
 * Gives the pool every slot (kg_pool_free: each index of kg_pool once). Only right for a
 * datapath just loaded, before it sees a packet: an adopted one keeps its own. 0 or -errno.
 */
int kg_pool_fill(int pool_free_fd);

#endif
