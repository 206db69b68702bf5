/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy files as the agent applies them, and the policy store: the source of truth for
 * what runs on each interface (the model is below), where every applied policy is kept
 * by version id, so that any process can name the ids an event carries (the names
 * cache, kg_names_resolve).
 *
 *   <state dir>/version_id        the last version id handed out (ids are global, so an
 *                                 event's version id names one policy whatever its iface)
 *   <state dir>/lock              held (flock, exclusive) by every change, shared by every
 *                                 read of the journal; 0600 (kg_lock_file), in a state dir
 *                                 made 0750: no other user can open it, so none can hold
 *                                 the store's changes (or an agent) up
 *   <state dir>/<iface>/...       the interface's store (below)
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

/* ---- the store: the source of truth for what runs ------------------------------------ */

/*
 * The model. An interface's store is the one source of truth for the policy that runs
 * on it: the newest change wins, whatever made it (`kgate policy apply`, rollback, the
 * agent's --policy FILE, a revert), and nothing is applied again that did not change.
 * `kgate run --policy FILE` seeds an empty store; once the store holds versions, FILE is
 * applied only when its bytes differ from what the agent last took from it (its digest
 * is kept in the store): that is a new change by the file's owner. Restarts keep the
 * store's current version.
 *
 * Per interface, under <state dir>/<iface>/:
 *   policies/<id>.yaml, <id>.version, <id>.meta   every version kept (KG_STORE_KEEP)
 *   state       one file, replaced whole (write and rename): the last change's number,
 *               what runs (version, pause, the mode the datapath must show), what the
 *               agent last took from --policy FILE (digest, path), an apply awaiting
 *               `kgate policy confirm`, and, while a change is being made, its intent
 *   journal     every change, one JSON line each (journal.1: the previous file)
 *   recorded    the last journal entry the agent wrote into the audit stream
 * A store kept by an older kgate has `current`, `pending` and `file` instead of `state`
 * (and numbers its changes by its journal's last line): read as such, replaced by
 * `state` at its first change.
 *
 * A change, under <state dir>/lock: its intent into `state` (the state as it will be
 * once made), the flip, the journal entry, then `state` without the intent. A process
 * killed in between leaves the intent; whoever takes the lock next (the agent at its
 * start or at a poll, or the next command) finishes it by what the datapath runs and
 * the journal holds, never by applying anything: an entry already in the journal is
 * the change made; a datapath that runs the intended version keeps it; else what ran
 * before stays. The latter two are recorded as a step `abort`.
 */

/* login_uid when the process has none (a daemon, a container without audit). */
#define KG_NO_LOGIN_UID 0xffffffffu

/* Who made a change: the process's user, and what it ran. */
struct kg_actor {
	__u32 uid;
	char user[64];
	/* who logged in (/proc/self/loginuid: it survives sudo and su), and the SUDO_USER
	 * the environment names ("": none; a claim of the environment, not proof) */
	__u32 login_uid;
	char sudo_user[64];
	/* "policy apply", "file /etc/kgate/policy.yaml", "agent": a longer one is cut, so
	 * that a `policy` record always fits in an audit record (KG_AUDIT_RECORD_MAX) */
	char source[256];
};

/* This process's uid and user name; source as printf. */
void kg_actor_self(struct kg_actor *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The steps of a policy's lifecycle, as the journal and the `policy` records name them. */
#define KG_STEPS(X)                                                                                \
	X(KG_STEP_APPLY, "apply")       /* a new version (a command, or --policy FILE) */          \
	X(KG_STEP_ROLLBACK, "rollback") /* a kept version again */                                 \
	X(KG_STEP_PAUSE, "pause")       /* the current version in monitor mode */                  \
	X(KG_STEP_RESUME, "resume")     /* ... and back to its own mode */                         \
	X(KG_STEP_CONFIRM, "confirm")   /* an apply --confirm-within confirmed */                  \
	X(KG_STEP_REVERT, "revert")     /* ... not confirmed in time, or its guard tripped */      \
	X(KG_STEP_RESTORE, "restore")   /* a datapath without it got the store's current one */    \
	X(KG_STEP_ABORT, "abort")       /* a change whose process died midway, finished */         \
	X(KG_STEP_MISMATCH, "mismatch") /* the datapath runs other than the store says */
enum kg_step { KG_STEPS(KG_ENUM_ENTRY) KG_STEP__COUNT };
const char *kg_step_name(unsigned int step);

/* What a version is: its meta file, written when it was first put in. */
struct kg_version_info {
	__u32 id;
	char version[128];
	char digest[KG_DIGEST_LEN];
	__u64 time_ns; /* wall clock */
	__u32 uid;
	char user[64];
	char source[256];
	/* what the journal says of it (kg_store_fates) */
	int fate;		  /* enum kg_fate */
	char reverted_reason[32]; /* KG_FATE_REVERTED: confirm_timeout, guard_... */
};

/* What became of a kept version, by the journal. */
enum kg_fate {
	KG_FATE_UNKNOWN,   /* the journal (rotated, or older than it) does not say */
	KG_FATE_RAN,	   /* it ran, and its last run did not end in a revert */
	KG_FATE_REVERTED,  /* its last run ended in a revert: not confirmed, or a guard */
	KG_FATE_NEVER_RAN, /* put in, never flipped to (its apply died before the flip) */
};

/* An apply with --confirm-within, until it is confirmed or reverted. */
struct kg_pending {
	__u32 id;	    /* the version applied */
	__u32 revert_to;    /* what runs again when it is not confirmed */
	__u64 deadline_ns;  /* wall clock: shown; decides only after a reboot */
	/* CLOCK_BOOTTIME and the boot it belongs to: decides within that boot, so a wall
	 * clock set forward or back moves no deadline ("": kept by an older kgate) */
	__u64 boot_deadline_ns;
	char boot_id[KG_BOOT_ID_LEN];
	__u64 guard_rejects, guard_undecodable; /* per second; 0: no such guard */
	__u64 change;	    /* its journal entry */
};

/* Whether p's deadline has passed: by the boot clock within its boot, else the wall. */
bool kg_pending_due(const struct kg_pending *p, __u64 wall_now_ns, __u64 boot_now_ns,
		    const char *boot_id);

/* The mode of a store kept by an older kgate, which did not keep it. */
#define KG_MODE_UNKNOWN 0xff

/* What the store says of an interface. */
struct kg_store_state {
	__u32 current; /* the version that runs; 0: none yet (an empty store) */
	bool paused;
	__u8 mode;     /* what the datapath must run it in: KG_MODE_*, or KG_MODE_UNKNOWN */
	bool has_pending;
	struct kg_pending pending;
	char file_digest[KG_DIGEST_LEN]; /* what the agent last took from --policy ("": none) */
	char file_path[512];
	__u64 last_change; /* the newest journal entry, 0: none */
	bool has_intent;   /* a change is being made, or its process died midway */
};

/* 0 (an interface never seen reads as an empty store), or -errno. */
int kg_store_state(const char *iface, struct kg_store_state *st);
/* Whether the datapath's active config runs what st says (an unknown mode: the id only). */
bool kg_store_runs_as(const struct kg_config *cfg, const struct kg_store_state *st);

/* A change asked for. */
struct kg_change_req {
	enum kg_step step;
	const struct kg_actor *by;
	struct kg_policy_file *file; /* apply: the policy */
	bool from_file;		     /* apply: it is --policy FILE; its digest is kept */
	__u32 to;		     /* rollback: the version (0: the one before the current) */
	__u64 confirm_within_ns;     /* apply: revert unless confirmed within this (0: no) */
	__u64 guard_rejects, guard_undecodable; /* with confirm_within_ns */
	__u32 expect_pending;	     /* revert: only if this apply still awaits its confirm */
	const char *reason;	     /* revert: confirm_timeout, guard_rejects, guard_undecodable */
	double rate, limit;	     /* revert on a guard: what was seen, and the limit */
	/* apply from FILE: even when its bytes were taken before (the datapath runs no
	 * policy and the store's version could not be restored) */
	bool fallback;
	/* the agent: -EWOULDBLOCK when another change holds the lock, never wait */
	bool nowait;
	/* a command: SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGTSTP are held back from the
	 * moment the lock is taken until the change is whole */
	bool hold_signals;
};

/* A change made: the journal entry and the `policy` audit record are made of it. */
struct kg_change {
	__u64 change;  /* its number in the interface's journal */
	__u64 time_ns; /* wall clock */
	enum kg_step step;
	struct kg_actor by;
	__u32 old_id, new_id; /* version ids before and after; 0: none */
	char old_version[128], new_version[128];
	char digest[KG_DIGEST_LEN]; /* of the version that runs after */
	__u8 mode;		    /* what runs after: KG_MODE_*; monitor while paused */
	bool paused;
	__u64 confirm_deadline_ns; /* apply: revert after this unless confirmed (0: none) */
	__u32 revert_to;	   /* ... to this version */
	char revert_to_version[128];
	__u64 guard_rejects, guard_undecodable;
	__u32 superseded;	   /* an unconfirmed apply this change ended (0: none) */
	char reason[32];	   /* revert; abort: interrupted_before_flip, _after_flip */
	double rate, limit;
	/* abort: the step whose process died, and the version it meant to run */
	enum kg_step interrupted_step;
	__u32 interrupted_id;
	/* for the caller's report, not journaled */
	int old_gen, new_gen;
	double write_us, swap_us;
	bool unchanged; /* nothing to do (the same bytes, already paused...): no entry */
	/* apply from FILE into a store kept before it recorded its file: FILE's digest is
	 * kept as taken, nothing applied (the store's version runs on) */
	bool file_noted;
};

/*
 * Makes one change on iface whose maps are m: its intent into the store's state, the
 * version into the inactive generation and the flip, the journal entry, then the state
 * (current, pending, the file's digest) without the intent. Serialized with every other
 * change by the store's lock; an intent left by a process that died midway is finished
 * first (the model above). The confirm deadline is reckoned from when the lock is held.
 * 0, or -errno with err set (what ran before still runs; -EWOULDBLOCK: rq->nowait and
 * another change is being made).
 *
 * KG_STEP_MISMATCH is the agent's check: under the lock, an intent left behind is
 * finished, then when the datapath runs another version or mode than the store says,
 * an entry says so (nothing is applied; c->unchanged when they agree).
 */
int kg_store_change(const char *iface, const struct kg_maps *m, const struct kg_change_req *rq,
		    struct kg_change *out, char *err, size_t errlen);

/* The versions kept for iface, newest first (malloc'ed, *n of them): 0 or -errno. */
int kg_store_versions(const char *iface, struct kg_version_info **out, int *n);
/* Their fates (fate, reverted_reason) by the journal, read under the shared lock. */
int kg_store_fates(const char *iface, struct kg_version_info *v, int n);

/*
 * The journal entries of iface after entry `after`, in order: fn(ctx, change, time_ns,
 * fields, len) with fields the JSON members of the `policy` record (no braces). Stops
 * when fn returns non-zero. Both files are read under the store's lock, shared (a
 * rotation is not seen halfway); nowait: -EWOULDBLOCK rather than wait for a change
 * being made. 0, or -errno.
 */
typedef int (*kg_journal_fn)(void *ctx, __u64 change, __u64 time_ns, const char *fields,
			     size_t len);
int kg_journal_each(const char *iface, __u64 after, kg_journal_fn fn, void *ctx, bool nowait);
/* The last entry the agent recorded into the audit stream, and setting it. */
__u64 kg_journal_recorded(const char *iface);
int kg_journal_set_recorded(const char *iface, __u64 change);

/*
 * The journal is rotated past this size (journal -> journal.1, replacing the older one):
 * an agent that was away for more than two files' worth of changes (~3,000) records only
 * what the two still hold, and says how many it could not. The default rollback knows
 * only the versions the two files name.
 */
#define KG_JOURNAL_MAX_BYTES (1u << 20)

/*
 * Versions kept per interface. An apply past this removes the oldest, never the two the
 * generations hold, the current one, or the one an unconfirmed apply would go back to:
 * events are named when they are recorded, and flows by their generation's version, so
 * nothing in force loses its names.
 */
#define KG_STORE_KEEP 64

/* <state dir>/<iface>/policies/<id>.<ext>: ext "yaml" (the file), "version" or "meta". */
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
