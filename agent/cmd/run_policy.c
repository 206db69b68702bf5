// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's side of the policy store (agent/cmd/run.h, agent/policy/store.h). The store
 * is the source of truth for what runs; the agent's --policy FILE is one source of
 * changes among others (a command, a rollback), taken only when its bytes changed since
 * the agent last took it. Every change, whoever made it, reaches the audit stream from
 * here: the store's journal is read and each new entry becomes a `policy` record, so the
 * stream keeps one writer (its sequence numbers and spool are the agent's) and a change
 * made while no agent ran is recorded when the next one starts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/audit/internal.h"
#include "agent/cmd/run.h"

/* A guard's rate is measured over windows this long (its threshold is per second). */
#define GUARD_PERIOD_MS 1000
/*
 * At start, a change another process is making is waited for this long, trying every
 * RUN_START_LOCK_POLL_MS (one takes milliseconds): past it the store's version or FILE
 * is not taken, and said so. In the loop the lock is never waited for.
 */
#define RUN_START_LOCK_WAIT_MS 10000
#define RUN_START_LOCK_POLL_MS 50

/* ---- --policy FILE ------------------------------------------------------------------------- */

int kg_run_policy_precheck(const char *path, const char *const *ifaces, int n)
{
	struct kg_policy_file f;
	char err[1024];
	int bad = kg_policy_file_load(&f, path, err, sizeof(err));

	kg_policy_file_free(&f);
	if (!bad)
		return 0;
	for (int i = 0; i < n; i++) {
		struct kg_store_state st;
		struct kg_version_info *v;
		int nv = 0;

		kg_store_state(ifaces[i], &st);
		kg_store_versions(ifaces[i], &v, &nv);
		free(v);
		if (st.current || nv)
			continue;
		fprintf(stderr, "%s\n", err);
		fprintf(stderr,
			"kgate run: %s: the policy store is empty: --policy %s must be "
			"valid to seed it\n",
			ifaces[i], path);
		return -1;
	}
	/* every store has a version to run: FILE's error is logged in kg_run_policy_start */
	return 0;
}

static void log_applied(const char *iface, const struct kg_change *c, const char *what)
{
	kg_run_log("%s: policy \"%s\" (version id %u) -> \"%s\" (version id %u)%s, generation %d "
		   "-> %d, written in %.0f us, swapped in %.1f us",
		   iface, c->old_id ? c->old_version : "none", c->old_id, c->new_version, c->new_id,
		   what, c->old_gen, c->new_gen, c->write_us, c->swap_us);
}

/*
 * A change at start: the lock is tried every RUN_START_LOCK_POLL_MS for up to
 * RUN_START_LOCK_WAIT_MS (another process's change takes milliseconds); then -EWOULDBLOCK.
 */
static int start_change(struct run_store *s, struct kg_change_req *rq, struct kg_change *c,
			char *err, size_t errlen)
{
	int e;

	rq->nowait = true;
	for (int waited = 0;; waited += RUN_START_LOCK_POLL_MS) {
		e = kg_store_change(s->iface, s->maps, rq, c, err, errlen);
		if (e != -EWOULDBLOCK || waited >= RUN_START_LOCK_WAIT_MS)
			return e;
		usleep(RUN_START_LOCK_POLL_MS * 1000);
	}
}

/* What the datapath of s runs, said as the store would: "version 3 of the policy store
 * runs", or what differs. */
static void runs_text(struct run_store *s, char *out, size_t len)
{
	struct kg_config cfg;
	int gen;

	kg_store_state(s->iface, &s->st);
	if (kg_active_config(s->maps, &gen, &cfg))
		snprintf(out, len, "the datapath's policy cannot be read");
	else if (!cfg.version_id)
		snprintf(out, len, "the datapath runs no policy");
	else if (kg_store_runs_as(&cfg, &s->st))
		snprintf(out, len, "version %u of the policy store runs", cfg.version_id);
	else
		snprintf(out, len, "the datapath runs version %u (mode %s), the policy store says %u",
			 cfg.version_id, kg_mode_name(cfg.mode), s->st.current);
}

/*
 * FILE as a change on s when its bytes differ from what was last taken (fallback: even
 * when they do not: the datapath runs no policy). 0, -EWOULDBLOCK (the store's lock is
 * held: tried again later), or -1 (logged).
 */
static int take_file_one(struct run_policy *rp, struct run_store *s, bool at_start,
			 bool fallback)
{
	char err[1024], digest[KG_DIGEST_LEN], what[700], runs[160];
	struct kg_policy_file f;
	struct kg_actor by;
	struct kg_change_req rq = {.step = KG_STEP_APPLY, .by = &by, .file = &f, .from_file = true,
				   .fallback = fallback, .nowait = true};
	struct kg_change c;
	int rc = 0, e;

	if (kg_policy_file_load(&f, rp->path, err, sizeof(err))) {
		runs_text(s, runs, sizeof(runs));
		kg_run_log("%s", err);
		kg_run_log("%s: %s refused; %s", s->iface, rp->path, runs);
		kg_policy_file_free(&f);
		return -1;
	}
	kg_digest(f.text, f.len, digest);
	kg_actor_self(&by, "file %s", rp->path);
	snprintf(what, sizeof(what), " from %s", rp->path);
	kg_store_state(s->iface, &s->st);
	if (!fallback && s->st.current && !strcmp(s->st.file_digest, digest)) {
		runs_text(s, runs, sizeof(runs));
		kg_run_log("%s: %s unchanged since the agent took it (%.19s...): nothing applied; %s",
			   s->iface, rp->path, digest, runs);
		kg_policy_file_free(&f);
		return 0;
	}
	e = at_start ? start_change(s, &rq, &c, err, sizeof(err))
		     : kg_store_change(s->iface, s->maps, &rq, &c, err, sizeof(err));
	if (e == -EWOULDBLOCK) {
		rc = e;
	} else if (e) {
		kg_run_log("%s: policy %s not applied: %s", s->iface, rp->path, err);
		rc = -1;
	} else if (c.file_noted) {
		kg_run_log("%s: the policy store (kept before it recorded the agent's file) runs "
			   "version %u (\"%s\"): %s (%.19s...) is taken as seen and not applied; "
			   "'kgate policy apply --iface %s %s' applies it",
			   s->iface, c.old_id, c.old_version, rp->path, digest, s->iface, rp->path);
	} else if (c.unchanged) {
		kg_run_log("%s: %s holds the bytes of version %u (\"%s\"), which runs: taken, "
			   "nothing applied",
			   s->iface, rp->path, c.new_id, c.new_version);
	} else {
		log_applied(s->iface, &c, what);
	}
	kg_policy_file_free(&f);
	return rc;
}

/* The lock held by another change: said once, until the change is made. */
static void busy(struct run_store *s, const char *what)
{
	if (s->busy_logged)
		return;
	kg_run_log("%s: the policy store is being changed by another process: %s at the next "
		   "look",
		   s->iface, what);
	s->busy_logged = true;
}

int kg_run_policy_start(struct run_policy *rp)
{
	char err[1024], runs[160];
	struct kg_actor by;
	struct kg_change_req rq = {.step = KG_STEP_RESTORE, .by = &by};
	int rc = 0;

	kg_actor_self(&by, "agent");
	kg_boot_id(rp->boot_id);
	for (int i = 0; i < rp->n; i++) {
		struct run_store *s = &rp->ifs[i];
		struct kg_change c;

		s->recorded = kg_journal_recorded(s->iface);
		/* a datapath made anew (or behind after a crash) runs the store's version */
		if (start_change(s, &rq, &c, err, sizeof(err)))
			kg_run_log("%s: restoring the policy store's version: %s", s->iface, err);
		else if (!c.unchanged)
			log_applied(s->iface, &c, " restored from the policy store");
		if (take_file_one(rp, s, true, false) == -EWOULDBLOCK) {
			kg_run_log("%s: the policy store's lock stayed held for %d ms: %s is taken "
				   "once it is free",
				   s->iface, RUN_START_LOCK_WAIT_MS, rp->path);
			s->file_due = true;
		}
	}
	for (int i = 0; i < rp->n; i++) {
		struct run_store *s = &rp->ifs[i];
		struct kg_config cfg;
		int gen;

		/* what the datapath runs, not what the store says: never none */
		if (!kg_active_config(s->maps, &gen, &cfg) && !cfg.version_id) {
			kg_run_log("%s: the datapath runs no policy (the policy store's version %u "
				   "could not be restored): applying %s instead",
				   s->iface, s->st.current, rp->path);
			take_file_one(rp, s, true, true);
		}
		if (kg_active_config(s->maps, &gen, &cfg) || !cfg.version_id) {
			kg_run_log("%s: no policy runs", s->iface);
			rc = -1;
			continue;
		}
		runs_text(s, runs, sizeof(runs));
		kg_run_log("%s: %s, mode %s%s", s->iface, runs, kg_mode_name(cfg.mode),
			   s->st.paused ? " (paused)" : "");
		/* numbers that went back (an older kgate's journal, read whole up to 64 KiB,
		 * numbered its changes from 1 again past that): its entries are recorded
		 * again, rather than never */
		if (s->recorded > s->st.last_change) {
			kg_run_log("%s: the journal's newest change is %llu, the audit stream has "
				   "%llu: its entries are recorded again from its start",
				   s->iface, (unsigned long long)s->st.last_change,
				   (unsigned long long)s->recorded);
			s->recorded = 0;
		}
	}
	return rc;
}

void kg_run_policy_reload(struct run_policy *rp)
{
	for (int i = 0; i < rp->n; i++)
		rp->ifs[i].file_due = true;
}

/* ---- the journal into the audit stream ---------------------------------------------------- */

struct tail {
	struct run_policy *rp;
	struct run_store *s;
	int failed;
};

/* One entry: a `policy` record, and a log line saying who changed what. */
static int on_entry(void *ctx, __u64 change, __u64 time_ns, const char *fields, size_t len)
{
	struct tail *t = ctx;
	char step[16] = "", user[64] = "", src[256] = "", ov[128] = "", nv[128] = "", dg[80] = "",
	     why[32] = "";
	__u64 uid = 0, oid = 0, nid = 0;
	bool paused = false;
	int e;

	if (change > t->s->recorded + 1 && t->s->recorded)
		kg_run_log("%s: policy changes %llu to %llu left the store's journal before an "
			   "agent recorded them (it keeps two files of %u bytes)",
			   t->s->iface, (unsigned long long)t->s->recorded + 1,
			   (unsigned long long)change - 1, KG_JOURNAL_MAX_BYTES);
	if ((e = kg_audit_append(t->rp->audit, time_ns, fields, len))) {
		kg_run_log("%s: policy change %llu: not recorded: %s", t->s->iface,
			   (unsigned long long)change, strerror(-e));
		t->failed = 1;
		return 1; /* tried again at the next look */
	}
	t->s->recorded = change;
	kg_rec_str(fields, len, "step", step, sizeof(step));
	kg_rec_str(fields, len, "user", user, sizeof(user));
	kg_rec_u64(fields, len, "uid", &uid);
	kg_rec_str(fields, len, "source", src, sizeof(src));
	kg_rec_u64(fields, len, "old_version_id", &oid);
	kg_rec_str(fields, len, "old_policy_version", ov, sizeof(ov));
	kg_rec_u64(fields, len, "version_id", &nid);
	kg_rec_str(fields, len, "policy_version", nv, sizeof(nv));
	kg_rec_str(fields, len, "digest", dg, sizeof(dg));
	kg_rec_bool(fields, len, "paused", &paused);
	kg_rec_str(fields, len, "reason", why, sizeof(why));
	kg_run_log("%s: policy change %llu recorded: %s by %s (uid %llu, %s): \"%s\" (version id "
		   "%llu) -> \"%s\" (version id %llu), %s%s%s%s",
		   t->s->iface, (unsigned long long)change, step, user, (unsigned long long)uid,
		   src, oid ? ov : "none", (unsigned long long)oid, nv, (unsigned long long)nid, dg,
		   paused ? ", paused" : "", *why ? ", reason " : "", why);
	return 0;
}

/* The journal's size and mtime: it changed when this did. */
static __u64 journal_stamp(const char *iface)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s/journal", kg_state_dir(), iface);
	if (stat(path, &st))
		return 0;
	return (__u64)st.st_size * 1000003ull ^
	       ((__u64)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec);
}

static void record_journal(struct run_policy *rp, struct run_store *s)
{
	struct tail t = {.rp = rp, .s = s};
	__u64 stamp = journal_stamp(s->iface), before = s->recorded;
	int e;

	if (stamp == s->journal_stamp)
		return;
	e = kg_journal_each(s->iface, s->recorded, on_entry, &t, true);
	if (e == -EWOULDBLOCK)
		return; /* a change is being made: its entry comes at the next look */
	if (e && !s->failed_logged)
		kg_run_log("%s: reading the policy store's journal: %s (tried again)", s->iface,
			   strerror(-e));
	s->failed_logged = e != 0;
	if (s->recorded != before && kg_journal_set_recorded(s->iface, s->recorded))
		kg_run_log("%s: keeping the last recorded policy change: %s", s->iface,
			   strerror(errno));
	if (!t.failed && !e)
		s->journal_stamp = stamp;
}

/* ---- the datapath against the store ------------------------------------------------------- */

/*
 * A change whose process died midway is finished (the lock is free and the state still
 * holds its intent); a datapath that runs other than the store says (a process that
 * changed the maps behind the store: another state dir, another tool) is logged and
 * recorded once, as a `mismatch` entry. Nothing is applied: the next start restores
 * the store's version.
 */
static void check_store(struct run_store *s)
{
	char err[1024];
	struct kg_actor by;
	struct kg_change_req rq = {.step = KG_STEP_MISMATCH, .by = &by, .nowait = true};
	struct kg_config cfg;
	struct kg_change c;
	int gen, e;

	if (kg_active_config(s->maps, &gen, &cfg))
		return;
	if (!s->st.has_intent && kg_store_runs_as(&cfg, &s->st)) {
		s->mismatch_noted = false;
		return;
	}
	if (!s->st.has_intent && s->mismatch_noted && s->mismatch_id == cfg.version_id &&
	    s->mismatch_mode == cfg.mode && s->mismatch_current == s->st.current &&
	    s->mismatch_store_mode == s->st.mode)
		return;
	kg_actor_self(&by, "agent");
	e = kg_store_change(s->iface, s->maps, &rq, &c, err, sizeof(err));
	kg_store_state(s->iface, &s->st);
	if (e && e != -EWOULDBLOCK && !s->check_failed_logged)
		kg_run_log("%s: comparing the datapath with the policy store: %s (tried again)",
			   s->iface, err);
	s->check_failed_logged = e && e != -EWOULDBLOCK;
	if (e || c.unchanged)
		return;
	kg_run_log("%s: the datapath runs version %u (mode %s), but the policy store says "
		   "version %u (mode %s): recorded as change %llu; the next start of the "
		   "agent runs the store's version",
		   s->iface, cfg.version_id, kg_mode_name(cfg.mode), s->st.current,
		   s->st.mode == KG_MODE_UNKNOWN ? "unknown" : kg_mode_name(s->st.mode),
		   (unsigned long long)c.change);
	s->mismatch_noted = true;
	s->mismatch_id = cfg.version_id;
	s->mismatch_mode = cfg.mode;
	s->mismatch_current = s->st.current;
	s->mismatch_store_mode = s->st.mode;
}

/* ---- confirm timers and guards ------------------------------------------------------------ */

static void revert(struct run_store *s, const char *reason, double rate, double limit)
{
	char err[1024];
	struct kg_actor by;
	struct kg_change_req rq = {.step = KG_STEP_REVERT,
				   .by = &by,
				   .expect_pending = s->st.pending.id,
				   .reason = reason,
				   .rate = rate,
				   .limit = limit,
				   .nowait = true};
	struct kg_change c;
	char what[64];
	int e;

	kg_actor_self(&by, "agent");
	snprintf(what, sizeof(what), " (revert: %s)", reason);
	e = kg_store_change(s->iface, s->maps, &rq, &c, err, sizeof(err));
	if (e == -EWOULDBLOCK) {
		busy(s, "the revert is made");
		return; /* the pending apply stays: tried again at the next poll */
	}
	s->busy_logged = false;
	if (e)
		kg_run_log("%s: not reverted: %s", s->iface, err); /* e.g. confirmed meanwhile */
	else
		log_applied(s->iface, &c, what);
	kg_store_state(s->iface, &s->st);
	s->guard_sampled = false;
}

/* A guard: the deny and undecodable rates of the last window against the pending limits. */
static void guard(struct run_store *s, __u64 now_ms)
{
	const struct kg_pending *p = &s->st.pending;
	__u64 c[KG_C__COUNT], deny = 0, undec = 0;

	if ((!p->guard_rejects && !p->guard_undecodable) ||
	    (s->guard_sampled && now_ms - s->guard_at_ms < GUARD_PERIOD_MS))
		return;
	if (kg_datapath_counters(s->maps, 1, c))
		return;
	for (int a = 0; a < KG_ACT__COUNT; a++)
		if (a != KG_ACT_ALLOW)
			deny += c[KG_C_VERDICT_BASE + a];
	for (int r = 0; r < KD_REASON__COUNT; r++)
		undec += c[KG_C_UNDECODABLE_BASE + r];
	if (s->guard_sampled) {
		double secs = (now_ms - s->guard_at_ms) / 1e3;
		const struct {
			const char *reason, *what;
			__u64 limit;
			double rate;
		} g[] = {
			{"guard_rejects", "decisions/s denied", p->guard_rejects,
			 (deny - s->guard_deny) / secs},
			{"guard_undecodable", "frames/s undecodable", p->guard_undecodable,
			 (undec - s->guard_undecodable) / secs},
		};

		for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
			if (!g[i].limit || g[i].rate <= g[i].limit)
				continue;
			kg_run_log(
				"%s: version %u: %.0f %s, more than the guard's %llu: going back "
				"to version %u",
				s->iface, p->id, g[i].rate, g[i].what,
				(unsigned long long)g[i].limit, p->revert_to);
			revert(s, g[i].reason, g[i].rate, g[i].limit);
			return;
		}
	}
	s->guard_sampled = true;
	s->guard_at_ms = now_ms;
	s->guard_deny = deny;
	s->guard_undecodable = undec;
}

void kg_run_policy_poll(struct run_policy *rp)
{
	__u64 now_ms = kg_now_ms(), wall = kg_wall_now_ns(), boot = kg_boot_ns();

	for (int i = 0; i < rp->n; i++) {
		struct run_store *s = &rp->ifs[i];

		if (rp->audit)
			record_journal(rp, s);
		if (s->file_due) {
			int e = take_file_one(rp, s, false, false);

			if (e == -EWOULDBLOCK) {
				busy(s, "the policy file is taken");
			} else {
				s->file_due = false;
				s->busy_logged = false;
			}
		}
		/* a change may have started or ended a confirm, or died midway */
		kg_store_state(s->iface, &s->st);
		check_store(s);
		if (!s->st.has_pending) {
			s->guard_sampled = false;
		} else if (kg_pending_due(&s->st.pending, wall, boot, rp->boot_id)) {
			if (!s->busy_logged)
				kg_run_log("%s: version %u was not confirmed in time: going back to "
					   "version %u",
					   s->iface, s->st.pending.id, s->st.pending.revert_to);
			revert(s, "confirm_timeout", 0, 0);
		} else {
			guard(s, now_ms);
		}
	}
}
