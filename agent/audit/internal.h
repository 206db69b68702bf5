/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the audit pipeline shared by the files of agent/audit/, `kgate observe`
 * (which reads records back) and the tests: the record codec's helpers, the on-disk
 * spool, the pipeline's state. Not part of the pipeline's interface (audit.h).
 */
#ifndef KGATE_AUDIT_INT_H
#define KGATE_AUDIT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "agent/audit/audit.h"
#include "agent/lib/lib.h"

/*
 * Longest record: a 249-byte topic, 64-byte principal and client id, each escaped at
 * worst 6 bytes per byte (\u00XX), plus ~700 bytes of fixed fields. A record that would
 * not fit is impossible by construction; kg_audit_encode() still checks.
 */
#define KG_AUDIT_RECORD_MAX 4096

/* ---- codec --------------------------------------------------------------------------- */

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

/* A record of another kind: the head (node, seq, time), then fields (JSON members). */
int kg_audit_encode_fields(char *buf, size_t len, const char *node, __u64 seq, __u64 wall_ns,
			   const char *fields, size_t flen);

/*
 * Field access on one encoded record (what the spool, the sender's read-back and
 * `kgate observe` need; not a general JSON parser: it relies on our own encoding, in
 * which a field name appears quoted only as a field name). Returns false when the field
 * is missing or not of that type.
 */
bool kg_rec_u64(const char *rec, size_t len, const char *field, __u64 *out);
/* A string field, unescaped into out (NUL-terminated); a null field gives false. */
bool kg_rec_str(const char *rec, size_t len, const char *field, char *out, size_t outlen);
bool kg_rec_bool(const char *rec, size_t len, const char *field, bool *out);

/* ---- spool (spool.c) ------------------------------------------------------------------- */

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

/* ---- the pipeline (pipeline.c, observe.c) ---------------------------------------------- */

/* Records kept for `kgate observe` without --follow (the newest ones). */
#define KG_OBSERVE_BACKLOG 1024
/* Bytes queued for one observe client; more and it is dropped (it never blocks anyone). */
#define KG_OBSERVE_CLIENT_MAX (4u << 20)
/* Observe clients at once; more are refused. */
#define KG_OBSERVE_CLIENTS (KG_AUDIT_POLLFDS - 1)
/* Decision series (verdict x operation x rule) counted; more -> rule="(other)". */
#define KG_AUDIT_SERIES 4096
/* Sequence numbers reserved per write of the state file: after a crash with neither a
 * spool nor an audit file to read the last number from, numbering resumes above this. */
#define KG_SEQ_LEASE 65536
/* Records the sender hands to librdkafka before their delivery reports return. */
#define KG_SENDER_WINDOW 20000

struct kg_sender; /* sender.c */

struct kg_audit {
	char *node, *brokers, *topic, *file, *spool_dir, *observe_sock;
	kg_lost_fn lost;                        /* NULL: no datapath */
	void *lost_ctx;
	char ifname[KG_AUDIT_MAX_IFACES][16];   /* "-" when not named */
	int nifaces;                            /* 0: no datapath */
	kg_names_fn names;
	void *names_ctx;

	__u64 next_seq;
	__u64 checked_seq;  /* last seq when the lost counters were last read */
	__u64 lease;	    /* next_seq may reach this before the state is rewritten */
	__u64 lost_base[KG_AUDIT_MAX_IFACES][2]; /* KG_LOST_DENY/ALLOW as last reported */
	int state_dirfd;    /* spool_dir, for "state"; -1 without */

	int file_fd;
	__u64 file_errors, file_unsynced;
	__u64 file_checked_ms; /* when the path was last compared with the open file */

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

	/* seen in records */
	__u64 records_total, gap_records;
	__u64 by_kind[8];
	__u64 undecodable[KD_REASON__COUNT];
	__u64 gap_lost[2];
	struct kg_decision_series *series; /* KG_AUDIT_SERIES */
};

/* observe.c: the socket `kgate observe` reads. */
int kg_observe_open(struct kg_audit *a, char *err, size_t errlen);
/* One record (with its newline) to every client and into the backlog. */
void kg_observe_send(struct kg_audit *a, const char *rec, size_t len);
int kg_observe_pollfds(struct kg_audit *a, struct pollfd *p);
void kg_observe_serve(struct kg_audit *a, const struct pollfd *p, int n);
void kg_observe_close(struct kg_audit *a);

/* sender.c: the sender thread. */
int kg_sender_start(struct kg_audit *a, char *err, size_t errlen);
/* Stops it, delivering what it can within timeout_ms. */
void kg_sender_stop(struct kg_audit *a, int timeout_ms);
void kg_sender_stats(struct kg_audit *a, struct kg_sender_stats *st);

#endif
