/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent, `kgate run`, across its two files: run.c (options, attach, the audit sinks,
 * the loop) and run_policy.c (its side of the policy store: --policy FILE as one source
 * of changes among others, every change of the store into the audit stream, the timers
 * and guards of an apply awaiting its confirm).
 */
#ifndef KGATE_CMD_RUN_H
#define KGATE_CMD_RUN_H

#include <stdbool.h>

#include "agent/audit/audit.h"
#include "agent/datapath/datapath.h"
#include "agent/policy/store.h"

/* Interfaces one agent serves (the audit pipeline reads every one): more -> usage error. */
#define RUN_MAX_IFACES KG_AUDIT_MAX_IFACES

/* A log line on stderr, stamped with the wall clock. */
void kg_run_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* What the agent keeps of one interface's store. */
struct run_store {
	const char *iface;
	const struct kg_maps *maps;
	struct kg_store_state st; /* as last read */
	__u64 recorded;		  /* the last journal entry written into the audit stream */
	__u64 journal_stamp;	  /* size and mtime of the journal when last read */
	/* the guard's last sample of the datapath's counters */
	__u64 guard_at_ms, guard_deny, guard_undecodable;
	bool guard_sampled;
};

struct run_policy {
	const char *path; /* --policy FILE */
	struct run_store ifs[RUN_MAX_IFACES];
	int n;
	struct kg_audit *audit; /* NULL until the sinks are open: the journal waits */
};

/*
 * Before anything is attached: FILE must be valid when a store it would seed is empty.
 * 0, or -1 after the message (the agent stops, having touched nothing).
 */
int kg_run_policy_precheck(const char *path, const char *const *ifaces, int n);
/*
 * Once attached: each interface runs its store's current version (restored into a
 * datapath that lacks it), then FILE is taken as a change when it changed (or seeds an
 * empty store). 0, or -1 when an interface is left with no policy.
 */
int kg_run_policy_start(struct run_policy *rp);
/* SIGHUP: FILE again, a change only when its bytes differ from what was last taken. */
void kg_run_policy_reload(struct run_policy *rp);
/*
 * In the loop: new journal entries (any process's changes) into the audit stream and
 * the log; an apply awaiting its confirm reverted at its deadline or when its guard
 * trips.
 */
void kg_run_policy_poll(struct run_policy *rp);

#endif
