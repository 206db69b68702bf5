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
	/* FILE to take (SIGHUP) once the store's lock is free */
	bool file_due;
	/* a mismatch between the datapath and the store, noted once: what each said */
	bool mismatch_noted;
	__u32 mismatch_id, mismatch_current;
	__u8 mismatch_mode, mismatch_store_mode;
	/* what was logged once while it lasts: the lock held by another change, an error
	 * reading the journal, an error comparing the datapath with the store */
	bool busy_logged, failed_logged, check_failed_logged;
};

struct run_policy {
	const char *path; /* --policy FILE */
	struct run_store ifs[RUN_MAX_IFACES];
	int n;
	struct kg_audit *audit; /* NULL until the sinks are open: the journal waits */
	char boot_id[KG_BOOT_ID_LEN]; /* this boot: a confirm deadline of it is by its clock */
};

/*
 * Before anything is attached: FILE must be valid when a store it would seed is empty.
 * 0, or -1 after the message (the agent stops, having touched nothing).
 */
int kg_run_policy_precheck(const char *path, const char *const *ifaces, int n);
/*
 * Once attached: each interface runs its store's current version (restored into a
 * datapath that lacks it, or that runs it in the other mode), then FILE is taken as a
 * change when it changed (or seeds an empty store). A datapath left with no policy
 * (the store's version could not be restored) gets FILE, as a logged change. 0, or -1
 * when an interface is left with no policy. Waits up to RUN_START_LOCK_WAIT_MS for a
 * change another process is making.
 */
int kg_run_policy_start(struct run_policy *rp);
/* SIGHUP: FILE again (at the next poll), a change only when its bytes differ from what
 * was last taken. */
void kg_run_policy_reload(struct run_policy *rp);
/*
 * In the loop, never waiting for the store's lock (what finds it held is tried again at
 * the next poll): new journal entries (any process's changes) into the audit stream and
 * the log; FILE after a SIGHUP; the datapath against the store (a change whose process
 * died midway is finished, a datapath that runs other than the store says is logged
 * and recorded once); an apply awaiting its confirm reverted at its deadline or when
 * its guard trips.
 */
void kg_run_policy_poll(struct run_policy *rp);

#endif
