/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent/datapath: the BPF side as the agent handles it. On one interface: load kgate_xdp
 * (or its TC-ingress build) and kgate_tc, attach them (XDP native or generic, or TC
 * ingress; TC egress), pin programs, links and maps under <pin root>/<iface>/, adopt
 * what is pinned after a restart, detach cleanly (attach.c). The maps by their pins and
 * the retransmission key (maps.h, maps.c); the decision events out of the ring buffer
 * (events.h); a snapshot of the counters for `kgate stats` and the metrics (stats.c).
 *
 * May call: agent/lib, maps/, the skeletons of bpf/, libbpf.
 */
#ifndef KGATE_DATAPATH_H
#define KGATE_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <net/if.h>

#include "agent/datapath/maps.h"
#include "agent/lib/lib.h"

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
#define KG_PIN_SWEEP_PROG "prog_sweep"  /* kgate_sweep: the agent ends idle flows with it */

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
enum kg_ingress_hook { KG_INGRESS_XDP_NATIVE, KG_INGRESS_XDP_GENERIC, KG_INGRESS_TC };

/*
 * Sizes chosen when the datapath is loaded (fixed for its life; an adopted one keeps its
 * own): established connections (kg_flows, and kg_flow_principals as many) and large
 * states (kg_pool, kg_pend KG_PEND_CONN for each, a source's share of them). 0: the
 * default (KG_MAX_FLOWS, KG_POOL_SLOTS in maps/kgate_maps.h).
 */
struct kg_sizes {
	__u32 max_flows;
	__u32 pool_slots;
};

/* Sets sizes on an opened, not yet loaded object's maps (every object of one datapath). */
struct bpf_object;
int kg_sizes_apply(struct bpf_object *obj, const struct kg_sizes *sz);

/* One interface's datapath, as `kgate run` holds it: file descriptors of pinned objects. */
struct kg_runtime {
	char iface[IF_NAMESIZE];
	int ifindex;
	char pin_dir[256];
	bool adopted;	 /* pins existed: nothing was loaded or attached */
	bool tc_ingress; /* the ingress program is the TC build (no XDP link) */
	/* fds, -1 = none. ingress_prog: the client->broker program, XDP or TC ingress;
	 * ingress_link: its XDP link (the TC ingress build has none, it is a filter) */
	int ingress_prog, tc_prog, ingress_link, redirect, sweep_prog;
	__u32 ingress_prog_id, tc_prog_id, ingress_link_id;
	struct kg_maps maps;
};

/*
 * Attaches kgate to iface, or adopts it when the interface's pins exist (nothing is
 * reloaded or re-attached: enforcement never gaps). On a fresh load, the ingress program
 * goes on the hook given (XDP through a bpf_link, native or generic, or a TC ingress
 * filter), TC egress under a clsact qdisc (created when absent, and then recorded so
 * that detach removes it), and every object is pinned; an adoption keeps the pinned hook. A pinned
 * link whose interface went away, or a TC filter someone removed, is re-attached from
 * the pinned programs. sizes (NULL: defaults) size a fresh load. 0, or -errno with err
 * set; on error nothing new is left pinned.
 */
int kg_runtime_up(struct kg_runtime *rt, const char *iface, enum kg_ingress_hook hook,
		  const struct kg_sizes *sizes, char *err, size_t errlen);
/* Closes the descriptors only: what is pinned stays attached and enforcing. */
void kg_runtime_close(struct kg_runtime *rt);

/*
 * Removes kgate from iface: the XDP link, the TC filter, the clsact qdisc when kgate
 * created it, every pin and the interface's pin directory. Works without an agent and
 * when the interface is gone. Returns 1 when there was something to remove, 0 when
 * nothing was there (idempotent), -errno with err set on a failure.
 */
int kg_runtime_detach(const char *iface, char *err, size_t errlen);

/*
 * Interfaces that have a pin directory under the pin root: their count, and the names of
 * the first max of them in out[], sorted. A count above max means some were left out.
 */
int kg_runtime_list(char out[][IF_NAMESIZE], int max);

/*
 * Sends redirected connections to qiface: the devmap's one slot, and redirect_ifindex in
 * both generations' kg_config (policy applies preserve it). 0 or -errno with err set.
 */
int kg_runtime_set_quarantine(const struct kg_runtime *rt, const char *qiface, char *err,
			      size_t errlen);

/* Opens the maps pinned for iface (under the pin root): 0, or -1 with err set. */
int kg_runtime_maps(const char *iface, struct kg_maps *m, char *err, size_t errlen);

/* ---- counters (stats.c): what `kgate stats` and the metrics read ------------------------ */

/*
 * The datapath's counters at one moment, summed over CPUs and over the interfaces
 * given. `have` says which were read (a map that could not be read leaves its part out).
 */
struct kg_datapath_stats {
	__u64 counter[KG_C__COUNT]; /* kg_counters, by enum kg_counter */
	bool have_counter[KG_C__COUNT];
	__u64 flows; /* entries of kg_flows */
	bool have_flows;
	bool have_rule_hits; /* kg_rule_hits is there to read (kg_datapath_rule_hits) */
	/* the first interface's active policy (every interface runs the same) */
	bool have_policy;
	int gen;
	struct kg_config config;
};

/* A snapshot of maps[0..n). 0, or -errno when not one counter could be read. */
int kg_datapath_stats(const struct kg_maps *maps, int n, struct kg_datapath_stats *st);
/*
 * Only the counters of maps[0..n) (kg_counters, summed), without the walk of the flows
 * that kg_datapath_stats makes: cheap enough to read every second. 0 or -errno.
 */
int kg_datapath_counters(const struct kg_maps *maps, int n, __u64 out[KG_C__COUNT]);
/* kg_rule_hits[gen * KG_MAX_RULES + rule] summed over CPUs and interfaces; -1 if unread. */
int kg_datapath_rule_hits(const struct kg_maps *maps, int n, int gen, __u32 rule, __u64 *out);
/*
 * The lost-event counters of maps[i] (ctx: the array of struct kg_maps): out[KG_LOST_DENY],
 * out[KG_LOST_ALLOW]. 0; 1 when the interface has no counters map; -errno on a failure.
 * A kg_lost_fn for the audit pipeline's gap records.
 */
int kg_datapath_lost(void *ctx, int i, __u64 out[2]);

/* ---- connections (flows.c): kg_flows from user space ------------------------------------ */

/* kg_conn.last_seen's clock now (coarse seconds of CLOCK_MONOTONIC). */
__u32 kg_flow_now(void);

/* Called per connection; non-zero stops the walk. */
typedef int (*kg_flow_fn)(void *ctx, const struct kg_flow_key *key, const struct kg_conn *c);
/*
 * Every entry of kg_flows (fd), in batches: the number walked, or -errno. Entries added or
 * removed during the walk may be seen or not.
 */
long long kg_flows_each(int flows_fd, kg_flow_fn fn, void *ctx);

struct kg_sweep_stats {
	__u64 seen;    /* entries walked */
	__u64 ended;   /* connections ended by the sweep */
	__u64 stalled; /* ... of them reset: holding a pool slot without progress */
	__u64 errors;  /* runs of kgate_sweep that failed */
	__u64 orphans; /* kg_pend and kg_flow_principals entries of ended connections removed */
};

/* What a sweep ends (seconds): idle, closed by the broker and quiet, stalled (0: never). */
struct kg_sweep_limits {
	__u32 idle_s;
	__u32 closed_s;
	__u32 stall_s;
};
/*
 * Ends the connections idle longer than lim->idle_s seconds, closed by the broker and
 * quiet longer than lim->closed_s, or holding a pool slot without progress longer than
 * lim->stall_s (reset: KG_SLOT_STALL_S), through kgate_sweep (sweep_prog: each is checked
 * again in the kernel). 0, or -errno when kg_flows could not be read.
 */
int kg_flows_sweep(const struct kg_maps *m, int sweep_prog, const struct kg_sweep_limits *lim,
		   struct kg_sweep_stats *st);

/*
 * Sends the pending counts of fold entries (bpf/fold.h) as records, through kgate_sweep:
 * those whose window ended (connections that went quiet after repeated decisions), or
 * with all, every one (an agent that stops). *sent: how many. 0, or -errno when the
 * program could not run.
 */
int kg_folds_sweep(int sweep_prog, bool all, __u64 *sent);

#endif
