/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The datapath's lifecycle on one interface: load kgate_xdp and kgate_tc, attach XDP
 * (native or generic) and TC egress, pin programs, links and maps under
 * /sys/fs/bpf/kgate/<iface>/, adopt what is pinned after a restart, detach cleanly.
 * And the policy store: every applied policy is kept by version id under the state
 * directory, so any process can name the ids an event carries (kg_names_fn).
 */
#ifndef KGATE_RUNTIME_H
#define KGATE_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <net/if.h>

#include "agent/audit/audit.h"
#include "agent/policy/write.h"

#define KG_PIN_ROOT  "/sys/fs/bpf/kgate"
#define KG_STATE_DIR "/var/lib/kgate"
#define KG_RUN_DIR   "/run/kgate"

/*
 * The three directories, each overridable by the environment (KGATE_PIN_ROOT,
 * KGATE_STATE_DIR, KGATE_RUN_DIR) so that tests never touch a host's real state.
 */
const char *kg_pin_root(void);
const char *kg_state_dir(void);
const char *kg_run_dir(void);

/*
 * Pins under dir must land on a BPF filesystem: 0 if they would, after mounting one at
 * /sys/fs/bpf when dir is under it and nothing is mounted there (a fresh host); else
 * -errno with a message saying what to do.
 */
int kg_bpffs_ensure(const char *dir, char *err, size_t errlen);

/*
 * Pins beside the maps in <pin root>/<iface>/. The XDP link pin is what "kgate is
 * attached here" means: its presence makes a starting agent adopt instead of load.
 */
#define KG_PIN_XDP_PROG "prog_xdp"
#define KG_PIN_TC_PROG	"prog_tc_egress"
#define KG_PIN_TCI_PROG "prog_tc_ingress" /* instead of prog_xdp and link_xdp */
#define KG_PIN_XDP_LINK "link_xdp"
#define KG_PIN_REDIRECT "kg_redirect" /* the devmap, pinned by name by libbpf */

/*
 * The TC egress filter's handle and priority are fixed, so that `kgate detach` finds
 * the filter from nothing but the interface (a clsact filter is not a bpf_link on
 * kernel 6.1 and cannot be pinned). Priority 1 would push ours before a filter the
 * operator already has at its default priority; a high, named one stays out of the way.
 */
#define KG_TC_HANDLE   0x6b67u /* "kg" */
#define KG_TC_PRIORITY 0xc0deu /* within tc's u16 priority range */

/*
 * The client->broker hook: XDP (native or generic), or the TC ingress build of the same
 * enforcement (bpf/kgate_tci.bpf.c) where XDP cannot attach. Chosen on a fresh attach;
 * an adoption keeps whatever is pinned.
 */
enum kg_xdp_mode { KG_XDP_NATIVE, KG_XDP_GENERIC, KG_TC_INGRESS };

/* One interface's datapath, as `kgate run` holds it: file descriptors of pinned objects. */
struct kg_runtime {
	char iface[IF_NAMESIZE];
	int ifindex;
	char pin_dir[256];
	bool adopted;	 /* pins existed: nothing was loaded or attached */
	bool tc_ingress; /* the ingress program is the TC build (no XDP link) */
	/* fds, -1 = none; xdp_prog is the ingress program, XDP or TC ingress */
	int xdp_prog, tc_prog, xdp_link, redirect;
	__u32 xdp_prog_id, tc_prog_id, xdp_link_id;
	struct kg_maps maps;
};

/*
 * Attaches kgate to iface, or adopts it when the interface's pins exist (nothing is
 * reloaded or re-attached: enforcement never gaps). On a fresh load, XDP is attached
 * through a bpf_link in mode, TC egress under a clsact qdisc (created when absent,
 * and then recorded so that detach removes it), and every object is pinned. A pinned
 * link whose interface went away, or a TC filter someone removed, is re-attached from
 * the pinned programs. 0, or -errno with err set; on error nothing new is left pinned.
 */
int kg_runtime_up(struct kg_runtime *rt, const char *iface, enum kg_xdp_mode mode, char *err,
		  size_t errlen);
/* Closes the descriptors only: what is pinned stays attached and enforcing. */
void kg_runtime_close(struct kg_runtime *rt);

/*
 * Removes kgate from iface: the XDP link, the TC filter, the clsact qdisc when kgate
 * created it, every pin and the interface's pin directory. Works without an agent and
 * when the interface is gone. Returns 1 when there was something to remove, 0 when
 * nothing was there (idempotent), -errno with err set on a failure.
 */
int kg_runtime_detach(const char *iface, char *err, size_t errlen);

/* Interfaces that have a pin directory under the pin root: count, names in out[]. */
int kg_runtime_list(char out[][IF_NAMESIZE], int max);

/*
 * Sends redirected connections to qiface: the devmap's one slot, and redirect_ifindex in
 * both generations' kg_config (policy applies preserve it). 0 or -errno with err set.
 */
int kg_runtime_set_quarantine(const struct kg_runtime *rt, const char *qiface, char *err,
			      size_t errlen);

/* ---- applying a policy ------------------------------------------------------------- */

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
void kg_policy_file_free(struct kg_policy_file *f);

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

/* ---- the policy store and names --------------------------------------------------- */

/*
 * Policies kept per interface in the store. An apply past this removes the oldest, never
 * the two the generations hold: events are named when they are recorded, and flows by
 * their generation's version, so nothing in force loses its names.
 */
#define KG_STORE_KEEP 64

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

/* The active generation's kg_config (its version_id names the stored policy). */
int kg_active_config(const struct kg_maps *m, int *gen, struct kg_config *cfg);

/* ---- output helpers shared by the commands ----------------------------------------- */

/* s as a JSON string, quotes included. */
void kg_rt_json_str(FILE *f, const char *s);
/* n bytes (not NUL-terminated) as a JSON string. */
void kg_rt_json_bytes(FILE *f, const __u8 *s, size_t n);
/* Names of enum kg_action values, KG_ACT__COUNT of them. */
extern const char *const kg_rt_action_names[];
extern const char *const kg_rt_op_names[];

#endif
