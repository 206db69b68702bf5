/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the audit pipeline shared by agent/audit*.c, agent/spool.c,
 * agent/metrics.c, `kgate observe` and the tests: the record codec's helpers, the
 * on-disk spool, and the metrics state. Not part of the runtime's interface (audit.h).
 */
#ifndef KGATE_AUDIT_INT_H
#define KGATE_AUDIT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include <poll.h>

#include "agent/audit/audit.h"

/*
 * Longest record: a 249-byte topic, 64-byte principal and client id, each escaped at
 * worst 6 bytes per byte (\u00XX), plus ~700 bytes of fixed fields. A record that would
 * not fit is impossible by construction; kg_audit_encode() still checks.
 */
#define KG_AUDIT_RECORD_MAX 4096

/* ---- codec --------------------------------------------------------------------------- */

/* The record kinds, by KG_EV_* (index 0 unused) and "gap". */
const char *kg_audit_kind_name(unsigned int kind);
const char *kg_action_name(unsigned int action);
const char *kg_psrc_name(unsigned int src);

/* kg_audit_encode() with the event's wall-clock time given (unix ns) instead of derived
 * from ev->ts_ns (CLOCK_MONOTONIC, as bpf_ktime_get_ns()). */
int kg_audit_encode_at(char *buf, size_t len, const struct kg_event *ev,
		       const struct kg_event_names *names, __u64 seq, const char *node,
		       __u64 wall_ns);

/* Reasons a gap record gives. */
#define KG_GAP_RINGBUF "ring_buffer_full" /* the datapath could not reserve an event */
#define KG_GAP_SPOOL   "spool_full"	  /* the spool was full: records not sent to Kafka */

/* A gap record: lost counts by verdict class; the lost events were decided after record
 * after_seq (0: before any) and before record before_seq (this record's own seq). */
int kg_audit_encode_gap(char *buf, size_t len, const char *node, __u64 seq, __u64 wall_ns,
			__u64 lost_deny, __u64 lost_allow, __u64 after_seq, const char *reason);

/* CLOCK_MONOTONIC ns -> unix ns, by the clocks' offset now. */
__u64 kg_mono_to_wall(__u64 mono_ns);
__u64 kg_wall_now_ns(void);

/*
 * Field access on one encoded record (what the spool, the sender's read-back and
 * `kgate observe` need; not a general JSON parser: it relies on our own encoding, in
 * which a field name appears quoted only as a field name). Returns false when the field
 * is missing or not of that type.
 */
bool kg_json_u64(const char *rec, size_t len, const char *field, __u64 *out);
/* A string field, unescaped into out (NUL-terminated); a null field gives false. */
bool kg_json_str(const char *rec, size_t len, const char *field, char *out, size_t outlen);
bool kg_json_bool(const char *rec, size_t len, const char *field, bool *out);

/* ---- spool (agent/spool.c) ----------------------------------------------------------- */

/*
 * The Kafka spool: every record bound for Kafka is appended here first (JSON lines, one
 * write(2) per record, so a killed agent loses nothing it accepted), and a sender
 * delivers from the head in order. Segments are files "seg-<first seq>.jsonl" of up to
 * KG_SPOOL_SEGMENT_BYTES; the newest one is never removed, so its name and its last
 * record always tell the next sequence number. The file "delivered" holds the last
 * sequence number whose delivery report succeeded and where it landed (partition,
 * offset); segments wholly at or below it are removed.
 */
#define KG_SPOOL_SEGMENT_BYTES (16u << 20)
/* Spool size at which new records stop being spooled (counted, then a gap record). */
#define KG_SPOOL_MAX_BYTES_DEFAULT (1ull << 30)

struct kg_spool_seg {
	__u64 first_seq; /* from the name */
	__u64 size;	 /* bytes of complete records */
};

struct kg_spool {
	char *dir;
	int dirfd;
	int fd;		      /* the newest segment, O_APPEND */
	pthread_mutex_t lock; /* segs, nsegs, delivered_* and the counters below */
	struct kg_spool_seg *segs;
	size_t nsegs, capsegs;
	__u64 bytes;		   /* sum of segment sizes */
	__u64 records;		   /* records not yet delivered */
	__u64 last_seq;		   /* newest record spooled (0: none) */
	__u64 delivered_seq;	   /* persisted: last delivered record */
	__s32 delivered_partition; /* -1: unknown */
	__s64 delivered_offset;	   /* -1: unknown */
	__u64 unsynced;		   /* bytes appended since the last fdatasync */
	__u64 seg_max;		   /* KG_SPOOL_SEGMENT_BYTES (tests make it small) */
};

/* Opens (creating) dir: scans the segments, cuts a partial last line, reads "delivered",
 * counts the undelivered records. 0 or -errno with err set. */
int kg_spool_open(struct kg_spool *sp, const char *dir, char *err, size_t errlen);
void kg_spool_close(struct kg_spool *sp);
/* Appends one record (without newline) numbered seq: 0 or -errno. Main thread only. */
int kg_spool_append(struct kg_spool *sp, __u64 seq, const char *rec, size_t len);
/* fdatasync of the newest segment if anything was appended since the last one. */
void kg_spool_sync(struct kg_spool *sp);
/* nrec more records delivered, the last one seq (at partition/offset): persists
 * "delivered", removes segments wholly delivered. 0 or -errno. Sender only. */
int kg_spool_mark_delivered(struct kg_spool *sp, __u64 seq, __u64 nrec, __s32 partition,
			    __s64 offset);

/* A sequential reader of the spool from the first record after a sequence number. */
struct kg_spool_reader {
	struct kg_spool *sp;
	int fd;
	__u64 seg_first; /* first_seq of the open segment */
	__u64 off;	 /* file offset of buf[0] */
	char *buf;
	size_t len, pos, cap;
	__u64 after_seq; /* skip records at or below this */
};

int kg_spool_reader_open(struct kg_spool_reader *r, struct kg_spool *sp, __u64 after_seq);
/* The next record: 1 with *rec, *len (valid until the next call) and *seq, 0 at the end
 * of what is spooled, -errno on an error. */
int kg_spool_next(struct kg_spool_reader *r, const char **rec, size_t *len, __u64 *seq);
void kg_spool_reader_close(struct kg_spool_reader *r);

/* ---- small files ----------------------------------------------------------------------- */

/* Writes path atomically (temp file, fsync, rename). 0 or -errno. */
int kg_write_file_atomic(int dirfd, const char *name, const char *data, size_t len);

/* ---- the pipeline (agent/audit.c) ------------------------------------------------------ */

/* Records kept for `kgate observe` without --follow (the newest ones). */
#define KG_OBSERVE_BACKLOG 1024
/* Bytes queued for one observe client; more and it is dropped (it never blocks anyone). */
#define KG_OBSERVE_CLIENT_MAX (4u << 20)
/* Observe clients at once; more are refused. */
#define KG_OBSERVE_CLIENTS 32
/* Metrics connections at once; more wait in the listen backlog. */
#define KG_METRICS_CONNS 8
/* Decision series (verdict x operation x rule) kept for metrics; more -> rule="(other)". */
#define KG_METRICS_SERIES 4096
/* Rules whose kg_rule_hits are exported per scrape (one map read each). */
#define KG_METRICS_MAX_RULES 10000
/* Sequence numbers reserved per write of the state file: after a crash with neither a
 * spool nor an audit file to read the last number from, numbering resumes above this. */
#define KG_SEQ_LEASE 65536
/* Records the sender hands to librdkafka before their delivery reports return. */
#define KG_SENDER_WINDOW 20000

/* An output queue of a non-blocking socket. */
struct kg_outq {
	int fd;
	char *p;
	size_t len, off, cap;
};

struct kg_series {
	__u8 used, verdict, op, enforced;
	char rule[64];
	__u64 n;
};

struct kg_http_conn {
	struct kg_outq q;
	char in[2048];
	size_t inlen;
	__u64 deadline_ms;
	bool responding;
};

struct kg_sender; /* agent/audit_kafka.c */

struct kg_audit {
	char *node, *brokers, *topic, *file, *spool_dir, *observe_sock, *metrics_addr;
	struct kg_maps maps[KG_AUDIT_MAX_IFACES]; /* one set per interface */
	char ifname[KG_AUDIT_MAX_IFACES][16]; /* "-" when not named */
	int nmaps;                                /* 0: no datapath */
	kg_names_fn names;
	void *names_ctx;

	__u64 next_seq;
	__u64 checked_seq;  /* last seq when the lost counters were last read */
	__u64 lease;	    /* next_seq may reach this before the state is rewritten */
	__u64 lost_base[KG_AUDIT_MAX_IFACES][2]; /* KG_LOST_DENY/ALLOW as last reported */
	int state_dirfd;    /* spool_dir, for "state"; -1 without */

	int file_fd;
	__u64 file_errors, file_unsynced;

	bool kafka;
	struct kg_spool spool;
	__u64 spool_max;
	__u64 spool_dropped[2]; /* records not spooled (spool full), by verdict class */
	__u64 spool_drop_after; /* last seq before the first of them */
	__u64 spool_dropped_total;
	struct kg_sender *sender;
	__u64 last_sync_ms;

	int obs_fd;
	struct kg_outq obs[KG_OBSERVE_CLIENTS];
	char *backlog[KG_OBSERVE_BACKLOG];
	size_t backlog_next;
	__u64 obs_dropped;

	int met_fd;
	struct kg_http_conn http[KG_METRICS_CONNS];

	/* seen in records */
	__u64 records_total, gap_records;
	__u64 by_kind[8];
	__u64 undecodable[KD_REASON__COUNT];
	__u64 gap_lost[2];
	struct kg_series *series; /* KG_METRICS_SERIES */
};

__u64 kg_now_ms(void);

/* Output queues: append (false when over max: the caller drops the peer), flush what the
 * socket takes now (-1: peer gone). */
bool kg_outq_add(struct kg_outq *q, const char *p, size_t n, size_t max);
int kg_outq_flush(struct kg_outq *q);
void kg_outq_close(struct kg_outq *q);

/* agent/metrics.c */
int kg_metrics_open(struct kg_audit *a, char *err, size_t errlen);
void kg_metrics_count(struct kg_audit *a, const struct kg_event *ev, const char *rule);
/* pollfds of the listener and connections; kg_metrics_serve handles their revents. */
int kg_metrics_pollfds(struct kg_audit *a, struct pollfd *p);
void kg_metrics_serve(struct kg_audit *a, const struct pollfd *p, int n);
void kg_metrics_close(struct kg_audit *a);
/* The Prometheus text, appended to b. */
struct kdr_buf;
void kg_metrics_render(struct kg_audit *a, struct kdr_buf *b);

/* agent/audit_kafka.c: the sender thread. */
int kg_sender_start(struct kg_audit *a, char *err, size_t errlen);
/* Stops it, delivering what it can within timeout_ms. */
void kg_sender_stop(struct kg_audit *a, int timeout_ms);
struct kg_sender_stats {
	__u64 delivered;      /* records confirmed by delivery reports (this process) */
	__u64 oldest_ts_ns;   /* wall time of the oldest undelivered record, 0: none */
	__u64 produce_errors; /* failed delivery reports (each leads to a resend) */
	__u64 skipped;	      /* records found already in the topic after a restart */
	int recovering;	      /* reading the topic back before sending */
};
void kg_sender_stats(struct kg_audit *a, struct kg_sender_stats *st);

#endif
