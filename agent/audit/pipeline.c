// SPDX-License-Identifier: Apache-2.0
/*
 * The audit pipeline (agent/audit/audit.h): numbering, the file sink, the Kafka spool's
 * writer side, gap records, the decision counts and the state that survives restarts.
 * Everything here runs on the caller's thread; only the Kafka sender (sender.c) has a
 * thread of its own, and it shares nothing with this one but the spool (spool.c, under
 * its lock).
 *
 * Order of the sinks for one record: spool first (so a record Kafka will carry exists on
 * disk before anyone else sees it), then the file, then observe clients.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent/audit/internal.h"

#define STATE_FILE "state"
/* fdatasync of the spool and the file at most this often (a crash of the host may lose
 * this much; a crash of the agent loses nothing: a record is write(2)n at once, or with
 * its batch before the batch's events leave the ring buffer). */
#define SYNC_INTERVAL_MS 200
/* The spool takes records again below this share of its maximum (hysteresis). */
#define SPOOL_RESUME_PCT 90

/* ---- state: sequence numbers and lost-event baselines ------------------------------------ */

/*
 * The state file: "next_seq N clean C lease L lost_deny D lost_allow A" (D, A summed over
 * the interfaces), then a line "iface NAME lost_deny D lost_allow A" per interface. A
 * file without iface lines (an older agent's) gives its counts to the first interface.
 */
struct state {
	bool present, clean;
	__u64 next_seq, lease, lost[2];
	int nif;
	char ifname[KG_AUDIT_MAX_IFACES][16];
	__u64 if_lost[KG_AUDIT_MAX_IFACES][2];
};

static void state_read(struct kg_audit *a, struct state *st)
{
	char b[2048], *line;
	unsigned long long n = 0, l = 0, d = 0, al = 0;
	int c = 0, fd;
	ssize_t r;

	memset(st, 0, sizeof(*st));
	if (a->state_dirfd < 0)
		return;
	fd = openat(a->state_dirfd, STATE_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	r = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (r <= 0)
		return;
	b[r] = 0;
	if (sscanf(b, "next_seq %llu clean %d lease %llu lost_deny %llu lost_allow %llu", &n, &c,
		   &l, &d, &al) != 5)
		return;
	*st = (struct state){
		.present = true, .clean = c == 1, .next_seq = n, .lease = l, .lost = {d, al}};
	for (line = strchr(b, '\n'); line && st->nif < KG_AUDIT_MAX_IFACES;
	     line = strchr(line + 1, '\n')) {
		char name[16];

		if (sscanf(line + 1, "iface %15s lost_deny %llu lost_allow %llu", name, &d, &al) !=
		    3)
			continue;
		snprintf(st->ifname[st->nif], sizeof(st->ifname[0]), "%s", name);
		st->if_lost[st->nif][0] = d;
		st->if_lost[st->nif][1] = al;
		st->nif++;
	}
}

static int state_write(struct kg_audit *a, bool clean)
{
	char b[2048];
	__u64 sum[2] = {0, 0};
	int n;

	if (a->state_dirfd < 0)
		return 0;
	if (!clean)
		a->lease = a->next_seq + KG_SEQ_LEASE;
	for (int i = 0; i < a->nifaces; i++)
		for (int k = 0; k < 2; k++)
			sum[k] += a->lost_base[i][k];
	n = snprintf(b, sizeof(b),
		     "next_seq %llu clean %d lease %llu lost_deny %llu lost_allow %llu\n",
		     (unsigned long long)a->next_seq, clean, (unsigned long long)a->lease,
		     (unsigned long long)sum[KG_LOST_DENY], (unsigned long long)sum[KG_LOST_ALLOW]);
	for (int i = 0; i < a->nifaces && n < (int)sizeof(b); i++)
		n += snprintf(b + n, sizeof(b) - n, "iface %s lost_deny %llu lost_allow %llu\n",
			      a->ifname[i],
			      (unsigned long long)a->lost_base[i][KG_LOST_DENY],
			      (unsigned long long)a->lost_base[i][KG_LOST_ALLOW]);
	if (n >= (int)sizeof(b))
		return -ENAMETOOLONG; /* impossible: 8 interfaces of 15 bytes */
	return kg_write_file_atomic(a->state_dirfd, STATE_FILE, b, n, 0600);
}

/* The last record of the audit file, when it is this node's: its seq, else 0. */
static __u64 file_tail_seq(struct kg_audit *a)
{
	char b[2 * KG_AUDIT_RECORD_MAX], node[256];
	struct stat st;
	off_t from;
	ssize_t n;
	char *end, *start;
	__u64 seq = 0;

	if (a->file_fd < 0 || fstat(a->file_fd, &st) || st.st_size == 0)
		return 0;
	from = st.st_size > (off_t)sizeof(b) ? st.st_size - (off_t)sizeof(b) : 0;
	n = pread(a->file_fd, b, sizeof(b), from);
	if (n <= 0)
		return 0;
	/* the last complete line */
	end = memrchr(b, '\n', n);
	if (!end)
		return 0;
	start = memrchr(b, '\n', end - b);
	start = start ? start + 1 : b;
	if (!kg_rec_str(start, end - start, "node", node, sizeof(node)) || strcmp(node, a->node) ||
	    !kg_rec_u64(start, end - start, "seq", &seq))
		return 0;
	return seq;
}

/* ---- sinks ------------------------------------------------------------------------------- */

/*
 * A write that stopped after off bytes of the held records (ENOSPC, EIO): the file ends
 * with them, maybe in the middle of a record; it is cut back to the last whole one, so
 * that the next write starts a line (a reader would glue it to half a record).
 */
static size_t file_cut_back(struct kg_audit *a, size_t off)
{
	const char *nl = off ? memrchr(a->file_held.p, '\n', off) : NULL;
	size_t keep = nl ? (size_t)(nl - a->file_held.p) + 1 : 0;
	struct stat st;

	if (keep < off &&
	    (fstat(a->file_fd, &st) || st.st_size < (off_t)(off - keep) ||
	     ftruncate(a->file_fd, st.st_size - (off_t)(off - keep))))
		fprintf(stderr,
			"kgate audit: %s: cutting a partial record after a failed write: %s\n",
			a->file, strerror(errno));
	return keep;
}

/* The held file records, written at once (a batch's, or one record's). */
static void file_flush(struct kg_audit *a)
{
	size_t off = 0;

	while (off < a->file_held.len) {
		ssize_t n = write(a->file_fd, a->file_held.p + off, a->file_held.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			const char *why = n < 0 ? strerror(errno) : "short write";

			off = file_cut_back(a, off);
			if (!a->file_errors++)
				fprintf(stderr,
					"kgate audit: %s: %s (counted in metrics, reported once)\n",
					a->file, why);
			break;
		}
		off += n;
	}
	a->file_unsynced += off;
	a->file_held.len = 0;
}

/* Records that did not reach the spool, from first_seq on: counted by verdict class, and
 * reported in a spool_full gap record once the spool has room. */
static void spool_lost(struct kg_audit *a, int err, __u64 first_seq, const __u64 n[2])
{
	if (!n[0] && !n[1])
		return;
	if (err != -ENOSPC && a->spool_dropped_total == 0)
		fprintf(stderr,
			"kgate audit: spool %s: %s: records are counted and reported in a gap "
			"record\n",
			a->spool_dir, strerror(-err));
	if ((!a->spool_dropped[0] && !a->spool_dropped[1]) || first_seq - 1 < a->spool_drop_after)
		a->spool_drop_after = first_seq - 1;
	for (int k = 0; k < 2; k++) {
		a->spool_dropped[k] += n[k];
		a->spool_dropped_total += n[k];
	}
}

/* The held spool records written; what a failed write lost is counted. */
static void spool_flush(struct kg_audit *a)
{
	int r = kg_spool_flush(&a->spool);

	if (r)
		spool_lost(a, r, a->spool_held_first, a->spool_held);
	a->spool_held[0] = a->spool_held[1] = 0;
	/* the sender removes delivered segments (bytes shrink) under the lock */
	pthread_mutex_lock(&a->spool.lock);
	a->spool_bytes_seen = a->spool.bytes;
	pthread_mutex_unlock(&a->spool.lock);
}

static void spool_put(struct kg_audit *a, __u64 seq, __u64 wall_ns, const char *rec, size_t len,
		      int cls)
{
	const __u64 one[2] = {cls == 0, cls == 1};
	int r = -ENOSPC;

	/* (a new segment starts only when nothing is held: a batch is written in one piece) */
	if (a->spool_bytes_seen + a->spool.held.len < a->spool_max)
		r = kg_spool_add(&a->spool, seq, wall_ns, rec, len);
	if (r) {
		spool_lost(a, r, seq, one);
		return;
	}
	if (!a->spool_held[0] && !a->spool_held[1])
		a->spool_held_first = seq;
	a->spool_held[cls]++;
}

/*
 * Writes every sink's held records: the spool first (so a record Kafka will carry exists
 * on disk before anyone else sees it), then the file, then the observe clients.
 */
static void flush(struct kg_audit *a)
{
	if (a->kafka)
		spool_flush(a);
	if (a->file_fd >= 0)
		file_flush(a);
	kg_observe_flush(a);
	a->held_bytes = 0;
}

/* The file and the observe clients hold one more record; it is counted. */
static void hold_others(struct kg_audit *a, const char *rec, size_t len)
{
	if (a->file_fd >= 0) {
		kg_buf_add(&a->file_held, rec, len);
		kg_buf_add(&a->file_held, "\n", 1);
	}
	kg_observe_add(a, rec, len);
	a->records_total++;
	a->held_bytes += len + 1;
}

/*
 * Every sink, for a record already numbered, of wall time wall_ns (its ts_ns); cls is the
 * verdict class for loss counting. Outside a batch it is written at once; within one, at
 * its end only (kg_audit_batch_full tells the caller when to end it): a record written
 * earlier would be on disk while its event, not yet let go, is still in the ring buffer.
 */
static void emit(struct kg_audit *a, __u64 seq, __u64 wall_ns, const char *rec, size_t len,
		 int cls)
{
	if (a->kafka)
		spool_put(a, seq, wall_ns, rec, len, cls);
	hold_others(a, rec, len);
	if (!a->batching)
		flush(a);
}

static void spool_gap_flush(struct kg_audit *a);

void kg_audit_batch_begin(struct kg_audit *a)
{
	a->batching = true;
	a->names_valid = false; /* names are reused within one batch only */
}

void kg_audit_batch_end(struct kg_audit *a)
{
	flush(a);
	a->batching = false;
	/* what the spool refused in the batch: its gap record after it */
	if (a->kafka)
		spool_gap_flush(a);
}

bool kg_audit_batch_full(const struct kg_audit *a)
{
	return a->held_bytes >= KG_AUDIT_BATCH_BYTES;
}

static void seq_advance(struct kg_audit *a)
{
	if (a->next_seq >= a->lease && state_write(a, false))
		a->lease = a->next_seq + 1; /* retry at the next record */
}

/* Once the spool has room again, one gap record for what it refused. */
static void spool_gap_flush(struct kg_audit *a)
{
	char rec[KG_AUDIT_RECORD_MAX];
	__u64 seq;
	int n;

	if (!a->spool_dropped[0] && !a->spool_dropped[1])
		return;
	flush(a); /* what the batch holds goes before the gap record, and bytes are current */
	if (a->spool_bytes_seen >= a->spool_max / 100 * SPOOL_RESUME_PCT)
		return;
	/* numbered once it is in: a failed try must not leave a hole in the numbers */
	seq = a->next_seq;
	n = kg_audit_encode_gap(rec, sizeof(rec), a->node, seq, kg_wall_now_ns(),
				a->spool_dropped[KG_LOST_DENY], a->spool_dropped[KG_LOST_ALLOW],
				a->spool_drop_after, KG_GAP_SPOOL);
	if (n < 0)
		return;
	if (kg_spool_append(&a->spool, seq, rec, n))
		return; /* still no room: the counts stay, the next record tries again */
	a->next_seq++;
	seq_advance(a);
	a->spool_dropped[0] = a->spool_dropped[1] = 0;
	a->gap_records++;
	hold_others(a, rec, n); /* in the spool already */
	flush(a);
}

static __u32 hash_series(__u8 verdict, __u8 op, __u8 enforced, const char *rule)
{
	__u32 h = 2166136261u ^ (verdict << 16 | op << 8 | enforced);

	for (const char *p = rule; *p; p++)
		h = (h ^ (__u8)*p) * 16777619u;
	return h;
}

/* A decision record's count in its series (kgate_decisions_total). */
static void count_series(struct kg_audit *a, const struct kg_event *ev, const char *rule)
{
	__u64 n = kg_event_count(ev);
	const char *r = rule && *rule ? rule : "";
	__u8 enf = ev->enforced ? 1 : 0;
	struct kg_decision_series *last = a->last_series;
	__u32 h;

	/* a storm repeats one series: no hash for it */
	if (last && last->verdict == ev->verdict && last->op == ev->op && last->enforced == enf &&
	    !strcmp(last->rule, r)) {
		last->n += n;
		return;
	}
	h = hash_series(ev->verdict, ev->op, enf, r);
	for (int overflow = 0; overflow < 2; overflow++) {
		for (__u32 i = 0; i < KG_AUDIT_SERIES; i++) {
			struct kg_decision_series *s = &a->series[(h + i) % KG_AUDIT_SERIES];

			if (!s->used) {
				/* keep the last slots for the "(other)" series */
				if (!overflow && i > KG_AUDIT_SERIES / 2)
					break;
				s->used = 1;
				s->verdict = ev->verdict;
				s->op = ev->op;
				s->enforced = enf;
				snprintf(s->rule, sizeof(s->rule), "%s", r);
			}
			if (s->verdict == ev->verdict && s->op == ev->op && s->enforced == enf &&
			    !strcmp(s->rule, r)) {
				s->n += n;
				/* not an "(other)": its rule is the event's */
				a->last_series = overflow ? NULL : s;
				return;
			}
		}
		r = "(other)";
		h = hash_series(ev->verdict, ev->op, enf, r);
	}
}

/*
 * The wall time of a decision at mono_ns (CLOCK_MONOTONIC, as bpf_ktime_get_ns), as
 * kg_mono_to_wall gives it, from a reading of both clocks taken at or after the decision
 * (so never in the future). The clocks are read again only for an event newer than the
 * last reading: once per ring-buffer drain, not twice per event.
 */
static __u64 event_wall(struct kg_audit *a, __u64 mono_ns)
{
	if (!a->clock_mono || mono_ns > a->clock_mono) {
		a->clock_wall = kg_wall_now_ns();
		a->clock_mono = kg_mono_ns();
		if (mono_ns > a->clock_mono)
			mono_ns = a->clock_mono;
	}
	return a->clock_wall > a->clock_mono - mono_ns ? a->clock_wall - (a->clock_mono - mono_ns)
						       : 0;
}

/*
 * The names of ev's ids. Within a batch, an event with the same ids as the last one gets
 * the same names without asking (kg_names_fn: names depend on the ids alone); a batch
 * ends within milliseconds, so a name that appears meanwhile (a policy being stored) is
 * seen by the next one.
 */
static const struct kg_event_names *event_names(struct kg_audit *a, const struct kg_event *ev)
{
	/* the principal's name matters only when the event carries no principal bytes */
	const __u32 key[4] = {ev->version_id, ev->rule_id, ev->region_id,
			      ev->principal_len ? ~0u : ev->principal_id};

	if (a->batching && a->names_valid && !memcmp(key, a->names_key, sizeof(key)))
		return &a->names_last;
	memset(&a->names_last, 0, sizeof(a->names_last));
	if (a->names)
		a->names(a->names_ctx, ev, &a->names_last);
	memcpy(a->names_key, key, sizeof(key));
	a->names_valid = true;
	return &a->names_last;
}

/*
 * An event whose record did not fit (impossible: KG_AUDIT_RECORD_MAX bounds every record of
 * a node name of at most KG_AUDIT_NODE_MAX bytes): a gap record under its number says one
 * decision of its class was lost there, so nothing goes silently, whatever its bytes.
 */
static int encode_failed(struct kg_audit *a, __u64 seq, __u64 wall, int cls)
{
	char rec[KG_AUDIT_RECORD_MAX];
	int n = kg_audit_encode_gap(rec, sizeof(rec), a->node, seq, wall, cls == KG_LOST_DENY,
				    cls == KG_LOST_ALLOW, seq - 1, KG_GAP_ENCODE);

	if (n >= 0) {
		emit(a, seq, wall, rec, n, cls);
		a->gap_records++;
		a->gap_lost[cls]++;
	}
	seq_advance(a);
	return -EMSGSIZE;
}

int kg_audit_event(struct kg_audit *a, const struct kg_event *ev)
{
	const struct kg_event_names *names;
	char rec[KG_AUDIT_RECORD_MAX];
	int cls = ev->verdict == KG_ACT_ALLOW ? KG_LOST_ALLOW : KG_LOST_DENY;
	__u64 seq, wall;
	int n;

	/* within a batch the gap record waits for its end (kg_audit_batch_end) */
	if (a->kafka && !a->batching)
		spool_gap_flush(a);
	names = event_names(a, ev);
	seq = a->next_seq++;
	wall = event_wall(a, ev->ts_ns);
	n = kg_audit_encode_at(rec, a->record_room, ev, names, seq, a->node, wall);
	if (n < 0)
		return encode_failed(a, seq, wall, cls);
	emit(a, seq, wall, rec, n, cls);
	if (ev->kind < sizeof(a->by_kind) / sizeof(a->by_kind[0]))
		a->by_kind[ev->kind]++;
	if (ev->kind == KG_EV_UNDECODABLE && ev->reason < KD_REASON__COUNT)
		a->undecodable[ev->reason] += kg_event_count(ev);
	a->folded[KG_LOST_DENY] += ev->folded_deny;
	a->folded[KG_LOST_ALLOW] += ev->folded - ev->folded_deny;
	count_series(a, ev, ev->rule_id != ~0u ? names->rule : "");
	seq_advance(a);
	return 0;
}

int kg_audit_append(struct kg_audit *a, __u64 wall_ns, const char *fields, size_t len)
{
	char rec[KG_AUDIT_RECORD_MAX];
	__u64 seq;
	int n;

	if (a->kafka && !a->batching)
		spool_gap_flush(a);
	n = kg_audit_encode_fields(rec, sizeof(rec), a->node, a->next_seq, wall_ns, fields, len);
	if (n < 0)
		return -EMSGSIZE;
	seq = a->next_seq++;
	/* not a decision: if the spool refuses it, it counts with the denies (never sampled) */
	emit(a, seq, wall_ns, rec, n, KG_LOST_DENY);
	seq_advance(a);
	return 0;
}

/*
 * A file that does not end with a newline ends with part of a record (a kill between the
 * pages of a write, a write that failed): cut after its last newline, as kg_spool_open
 * does for a segment, so that the next record starts a line. A part is shorter than a
 * record: a file whose last KG_AUDIT_RECORD_MAX bytes hold no newline is not an audit
 * file, and is left alone (-EILSEQ). 0 or -errno.
 */
static int file_cut_partial(struct kg_audit *a, int fd)
{
	char b[KG_AUDIT_RECORD_MAX];
	struct stat st;
	off_t from, cut;
	ssize_t n;
	char *nl;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		return 0;
	from = st.st_size > (off_t)sizeof(b) ? st.st_size - (off_t)sizeof(b) : 0;
	n = pread(fd, b, st.st_size - from, from);
	if (n != st.st_size - from)
		return n < 0 ? -errno : -EIO;
	if (b[n - 1] == '\n')
		return 0;
	nl = memrchr(b, '\n', n);
	if (!nl && from > 0)
		return -EILSEQ;
	cut = nl ? from + (nl - b) + 1 : 0;
	if (ftruncate(fd, cut))
		return -errno;
	fprintf(stderr, "kgate audit: %s: cut %lld bytes of a record a crash left unfinished\n",
		a->file, (long long)(st.st_size - cut));
	return 0;
}

/* The audit file at its path again: the same flags as at the start. 0 or -errno. */
static int file_open(struct kg_audit *a)
{
	/* read too: the last record tells the sequence number after a crash */
	int fd = open(a->file, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640), e;

	if (fd < 0)
		return -errno;
	if ((e = file_cut_partial(a, fd))) {
		close(fd);
		return e;
	}
	if (a->file_fd >= 0) {
		file_flush(a); /* records before the reopen go into the file they were for */
		fdatasync(a->file_fd);
		close(a->file_fd);
	}
	a->file_fd = fd;
	a->file_unsynced = 0;
	return 0;
}

int kg_audit_reopen(struct kg_audit *a)
{
	return a->file ? file_open(a) : 0;
}

/* Whether the path names another file than the one open (moved away, or removed). */
static bool file_moved(struct kg_audit *a)
{
	struct stat p, o;

	if (a->file_fd < 0 || fstat(a->file_fd, &o))
		return false;
	if (stat(a->file, &p))
		return errno == ENOENT;
	return p.st_ino != o.st_ino || p.st_dev != o.st_dev;
}

int kg_audit_check_gaps(struct kg_audit *a)
{
	char rec[KG_AUDIT_RECORD_MAX];
	__u64 cur[KG_AUDIT_MAX_IFACES][2], d[2] = {0, 0}, seq, wall;
	int n, r;

	/* one gap record for what every interface lost since the last look */
	for (int i = 0; i < a->nifaces; i++) {
		r = a->lost(a->lost_ctx, i, cur[i]);
		if (r < 0)
			return r;
		if (r > 0) { /* nothing to read: the baseline stays */
			cur[i][0] = a->lost_base[i][0], cur[i][1] = a->lost_base[i][1];
			continue;
		}
		for (int k = 0; k < 2; k++) {
			/* below the baseline: the maps were made anew, every count is new */
			if (cur[i][k] < a->lost_base[i][k])
				a->lost_base[i][k] = 0;
			d[k] += cur[i][k] - a->lost_base[i][k];
		}
	}
	if (d[0] || d[1]) {
		if (a->kafka && !a->batching)
			spool_gap_flush(a);
		seq = a->next_seq++;
		wall = kg_wall_now_ns();
		n = kg_audit_encode_gap(rec, sizeof(rec), a->node, seq, wall, d[KG_LOST_DENY],
					d[KG_LOST_ALLOW], a->checked_seq, KG_GAP_RINGBUF);
		if (n < 0)
			return -EMSGSIZE;
		emit(a, seq, wall, rec, n, KG_LOST_DENY);
		a->gap_records++;
		a->gap_lost[0] += d[0];
		a->gap_lost[1] += d[1];
		for (int i = 0; i < a->nifaces; i++)
			a->lost_base[i][0] = cur[i][0], a->lost_base[i][1] = cur[i][1];
		state_write(a, false);
	}
	a->checked_seq = a->next_seq - 1;
	return 0;
}

/* ---- open, poll, close ------------------------------------------------------------------- */

static char *dup_opt(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

/* Copies the spool's records after after_seq into the audit file (a crash between the
 * spool write and the file write of the same record). */
static void file_catch_up(struct kg_audit *a, __u64 after_seq)
{
	struct kg_spool_reader r;
	const char *rec;
	size_t len;
	__u64 seq, n = 0;

	if (kg_spool_reader_open(&r, &a->spool, after_seq))
		return;
	while (kg_spool_next(&r, &rec, &len, &seq) == 1) {
		kg_buf_add(&a->file_held, rec, len);
		kg_buf_add(&a->file_held, "\n", 1);
		if (a->file_held.len >= KG_AUDIT_BATCH_BYTES)
			file_flush(a);
		n++;
	}
	file_flush(a);
	kg_spool_reader_close(&r);
	if (n)
		fprintf(stderr,
			"kgate audit: %s: %llu records copied from the spool (after a crash)\n",
			a->file, (unsigned long long)n);
}

struct kg_audit *kg_audit_open(const struct kg_audit_opts *o, char *err, size_t errlen)
{
	struct kg_audit *a = calloc(1, sizeof(*a));
	struct state st;
	__u64 exact = 0, ftail;
	bool oom = false;
	int r;

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->state_dirfd = a->file_fd = a->obs_fd = -1;
	a->spool.fd = -1;
	a->record_room = KG_AUDIT_RECORD_MAX;
	for (int i = 0; i < KG_OBSERVE_CLIENTS; i++)
		a->obs[i].fd = -1;
	if (!o->node || !*o->node) {
		snprintf(err, errlen, "audit: a node name is required");
		goto fail;
	}
	if (strlen(o->node) > KG_AUDIT_NODE_MAX) {
		snprintf(err, errlen, "audit: the node name is longer than %d bytes",
			 KG_AUDIT_NODE_MAX);
		goto fail;
	}
	if (o->brokers && (!o->topic || !*o->topic)) {
		snprintf(err, errlen, "audit: --audit-brokers needs --audit-topic");
		goto fail;
	}
	if (o->brokers && !o->spool_dir) {
		snprintf(err, errlen, "audit: --audit-brokers needs a spool directory");
		goto fail;
	}
	a->node = dup_opt(o->node, &oom);
	a->brokers = dup_opt(o->brokers, &oom);
	a->topic = dup_opt(o->topic, &oom);
	a->file = dup_opt(o->file, &oom);
	a->spool_dir = dup_opt(o->spool_dir, &oom);
	a->observe_sock = dup_opt(o->observe_sock, &oom);
	a->series = calloc(KG_AUDIT_SERIES, sizeof(*a->series));
	if (oom || !a->series) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (o->lost) {
		a->lost = o->lost;
		a->lost_ctx = o->lost_ctx;
		a->nifaces = o->nifaces > 0 ? o->nifaces : 1;
		if (a->nifaces > KG_AUDIT_MAX_IFACES) {
			snprintf(err, errlen, "more than %d interfaces", KG_AUDIT_MAX_IFACES);
			goto fail;
		}
		for (int i = 0; i < a->nifaces; i++) {
			/* "-" for none: the state file's lines need a word */
			snprintf(a->ifname[i], sizeof(a->ifname[i]), "%s",
				 o->ifaces && o->ifaces[i] && *o->ifaces[i] ? o->ifaces[i] : "-");
		}
	}
	a->names = o->names;
	a->names_ctx = o->names_ctx;
	a->spool_max = KG_SPOOL_MAX_BYTES_DEFAULT;

	if (a->spool_dir) {
		if (mkdir(a->spool_dir, 0700) && errno != EEXIST) {
			snprintf(err, errlen, "spool %s: %s", a->spool_dir, strerror(errno));
			goto fail;
		}
		a->state_dirfd = open(a->spool_dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
		if (a->state_dirfd < 0) {
			snprintf(err, errlen, "spool %s: %s", a->spool_dir, strerror(errno));
			goto fail;
		}
	}
	if (a->file && (r = file_open(a))) {
		if (r == -EILSEQ)
			snprintf(err, errlen,
				 "audit file %s: its last %d bytes hold no line end: not a file of "
				 "audit records (JSON lines), left as it is",
				 a->file, KG_AUDIT_RECORD_MAX);
		else
			snprintf(err, errlen, "audit file %s: %s", a->file, strerror(-r));
		goto fail;
	}
	if (a->brokers) {
		if (kg_spool_open(&a->spool, a->spool_dir, err, errlen))
			goto fail;
		a->kafka = true;
	}

	/*
	 * The next sequence number. A clean stop wrote it exactly. After a crash the spool's
	 * newest record (Kafka) and the file's last line are exact; with neither, numbering
	 * resumes at the lease, above any number the crashed agent can have used.
	 */
	state_read(a, &st);
	ftail = file_tail_seq(a);
	if (a->kafka && a->spool.nsegs)
		exact = a->spool.last_seq + 1;
	if (ftail + 1 > exact)
		exact = ftail + 1;
	if (st.present && st.clean)
		a->next_seq = st.next_seq > exact ? st.next_seq : exact;
	else if (st.present && exact <= 1)
		a->next_seq = st.lease;
	else
		a->next_seq = exact;
	if (a->next_seq == 0)
		a->next_seq = 1;
	if (st.present) {
		for (int i = 0; i < a->nifaces; i++) {
			for (int j = 0; j < st.nif; j++)
				if (!strcmp(st.ifname[j], a->ifname[i])) {
					a->lost_base[i][0] = st.if_lost[j][0];
					a->lost_base[i][1] = st.if_lost[j][1];
				}
		}
		/* an older agent's file: its counts were the first interface's */
		if (!st.nif && a->nifaces) {
			a->lost_base[0][0] = st.lost[0];
			a->lost_base[0][1] = st.lost[1];
		}
	}
	a->checked_seq = a->next_seq - 1;
	if (a->kafka && a->file_fd >= 0 && ftail && ftail < a->spool.last_seq)
		file_catch_up(a, ftail);
	r = state_write(a, false);
	if (r) {
		snprintf(err, errlen, "spool %s/%s: %s", a->spool_dir, STATE_FILE, strerror(-r));
		goto fail;
	}

	/* before the sender runs: it removes delivered segments */
	kg_audit_resume_load(a);
	if (a->observe_sock && kg_observe_open(a, err, errlen))
		goto fail;
	if (a->kafka && kg_sender_start(a, err, errlen))
		goto fail;
	return a;
fail:
	kg_audit_close(a, 0);
	return NULL;
}

int kg_audit_pollfds(struct kg_audit *a, struct pollfd *p)
{
	return kg_observe_pollfds(a, p);
}

void kg_audit_serve(struct kg_audit *a, const struct pollfd *p, int n)
{
	__u64 now;

	flush(a); /* a caller outside kg_audit_batch_*: nothing waits behind a poll */
	kg_observe_serve(a, p, n);
	now = kg_now_ms();
	if (now - a->last_sync_ms >= SYNC_INTERVAL_MS) {
		a->last_sync_ms = now;
		if (a->kafka)
			kg_spool_sync(&a->spool);
		if (a->file_fd >= 0 && a->file_unsynced) {
			fdatasync(a->file_fd);
			a->file_unsynced = 0;
		}
	}
	/* a rotation that moved the file without telling us (no SIGUSR1): follow the path */
	if (a->file && now - a->file_checked_ms >= KG_AUDIT_REOPEN_CHECK_MS) {
		a->file_checked_ms = now;
		if (file_moved(a) && file_open(a) && !a->file_errors++)
			fprintf(stderr, "kgate audit: %s: reopening after a move failed: %s\n",
				a->file, strerror(errno));
	}
}

int kg_audit_poll(struct kg_audit *a, int timeout_ms)
{
	struct pollfd p[KG_AUDIT_POLLFDS];
	int n = kg_audit_pollfds(a, p);

	if (poll(p, n, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	kg_audit_serve(a, p, n);
	return 0;
}

void kg_audit_stats(struct kg_audit *a, struct kg_audit_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->records_total = a->records_total;
	st->gap_records = a->gap_records;
	st->next_seq = a->next_seq;
	st->file_errors = a->file_errors;
	memcpy(st->by_kind, a->by_kind, sizeof(st->by_kind));
	memcpy(st->undecodable, a->undecodable, sizeof(st->undecodable));
	memcpy(st->gap_lost, a->gap_lost, sizeof(st->gap_lost));
	memcpy(st->folded, a->folded, sizeof(st->folded));
	for (int i = 0; i < KG_OBSERVE_CLIENTS; i++)
		st->observe_clients += a->obs[i].fd >= 0;
	st->observe_dropped = a->obs_dropped;
	st->series = a->series;
	st->nseries = KG_AUDIT_SERIES;
	st->kafka = a->kafka;
	if (!a->kafka)
		return;
	pthread_mutex_lock(&a->spool.lock);
	st->spool_records = a->spool.records;
	st->spool_bytes = a->spool.bytes;
	pthread_mutex_unlock(&a->spool.lock);
	st->spool_dropped_total = a->spool_dropped_total;
	kg_sender_stats(a, &st->sender);
}

void kg_audit_close(struct kg_audit *a, int timeout_ms)
{
	if (!a)
		return;
	flush(a);
	if (a->sender)
		kg_sender_stop(a, timeout_ms);
	if (a->state_dirfd >= 0) {
		if (a->next_seq)
			state_write(a, true);
		close(a->state_dirfd);
	}
	if (a->kafka)
		kg_spool_close(&a->spool);
	if (a->file_fd >= 0) {
		fdatasync(a->file_fd);
		close(a->file_fd);
	}
	kg_observe_close(a);
	kg_audit_resume_done(a);
	kg_buf_free(&a->file_held);
	free(a->series);
	free(a->node);
	free(a->brokers);
	free(a->topic);
	free(a->file);
	free(a->spool_dir);
	free(a->observe_sock);
	free(a);
}
