/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy files as the agent applies them, and the policy store: every applied policy is
 * kept by version id under the state directory, so that any process can name the ids an
 * event carries (the names cache, kg_names_resolve).
 *
 *   <state dir>/version_id        the last version id handed out (ids are global, so an
 *                                 event's version id names one policy whatever its iface)
 *   <state dir>/lock              held (flock) by every apply
 *   <state dir>/<iface>/policies/<id>.yaml, <id>.version   the store
 */
#ifndef KGATE_POLICY_STORE_H
#define KGATE_POLICY_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/audit/audit.h"
#include "agent/policy/policy.h"
#include "agent/policy/write.h"

/*
 * A policy file read once: the bytes are what the store keeps, the parse and the
 * compile are of those very bytes.
 */
struct kg_policy_file {
	char path[512];
	char *text;
	size_t len;
	struct kg_policy p;
	struct kg_compiled c;
};

/* Reads, parses and compiles path. 0, or -1 with err = "FILE:LINE:COL: message". */
int kg_policy_file_load(struct kg_policy_file *f, const char *path, char *err, size_t errlen);
/* The same without the linter's refusals: for a policy that was applied already. */
int kg_policy_file_load_unjudged(struct kg_policy_file *f, const char *path, char *err,
				 size_t errlen);
void kg_policy_file_free(struct kg_policy_file *f);
/*
 * err = "path:" + e, a "LINE:COL: message" of the parser or the compiler ("0:0: " is no
 * position: then "path: message").
 */
void kg_policy_err_at(const char *path, const char *e, char *err, size_t errlen);

struct kg_apply_result {
	__u32 old_id, new_id; /* version ids; old 0 = no policy was active */
	char old_version[128], new_version[128];
	int old_gen, new_gen;
	double write_us; /* kg_policy_write into the inactive generation */
	double swap_us;	 /* the flip of the active word */
	bool unchanged;	 /* the same bytes were already active: nothing done */
};

/*
 * Applies f on the interface whose maps are m: a new version id, the file saved in the
 * store under it, the inactive generation written (redirect_ifindex kept from the active
 * one), then the flip. Serialized with every other apply by a lock in the state dir.
 * When skip_same and the active policy's stored bytes equal f's, nothing is written.
 * 0, or -errno with err set (the active policy then still enforces).
 */
int kg_policy_apply(const char *iface, const struct kg_maps *m, struct kg_policy_file *f,
		    bool skip_same, struct kg_apply_result *r, char *err, size_t errlen);

/*
 * Policies kept per interface in the store. An apply past this removes the oldest, never
 * the two the generations hold: events are named when they are recorded, and flows by
 * their generation's version, so nothing in force loses its names.
 */
#define KG_STORE_KEEP 64

/* <state dir>/<iface>/policies/<id>.<ext>: ext "yaml" (the file) or "version". */
void kg_store_path(const char *iface, __u32 id, const char *ext, char *out, size_t len);

/* A stored policy, compiled: what a version id stood for. */
struct kg_stored_policy {
	__u32 id;
	char path[512];
	struct kg_policy p;
	struct kg_compiled c;
};

struct kg_names_cache;

struct kg_names_cache *kg_names_cache_new(void);
void kg_names_cache_free(struct kg_names_cache *nc);
/*
 * The stored policy of a version id (any interface's store: ids are global), loaded and
 * compiled once and kept; NULL when the store has no such id. Valid until the cache is
 * freed.
 */
const struct kg_stored_policy *kg_names_lookup(struct kg_names_cache *nc, __u32 version_id);
/* kg_names_fn for kg_audit_opts.names; ctx is a struct kg_names_cache. */
void kg_names_resolve(void *ctx, const struct kg_event *ev, struct kg_event_names *out);

#endif
