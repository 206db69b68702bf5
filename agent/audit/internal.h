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
 * Longest record: a 249-byte topic, 64-byte principal and client id, the policy's names (a
 * 127-byte version, 63-byte rule and region names) and a KG_AUDIT_NODE_MAX-byte node name,
 * each escaped at worst 6 bytes per byte (\u00XX), plus ~700 bytes of fixed fields: about
 * 6,000 bytes (test_codec_limits encodes it). A record that would not fit is impossible by
 * construction; kg_audit_encode() still checks, and the pipeline writes a gap record for
 * it.
 */
#define KG_AUDIT_RECORD_MAX 8192

/* ---- codec --------------------------------------------------------------------------- */

/* kg_audit_encode() with the event's wall-clock time given (unix ns) instead of derived
 * from ev->ts_ns (CLOCK_MONOTONIC, as bpf_ktime_get_ns()). */
int kg_audit_encode_at(char *buf, size_t len, const struct kg_event *ev,
		       const struct kg_event_names *names, __u64 seq, const char *node,
		       __u64 wall_ns);

/* Reasons a gap record gives. */
#define KG_GAP_RINGBUF "ring_buffer_full" /* the datapath could not reserve an event */
#define KG_GAP_SPOOL   "spool_full"	  /* the spool was full: records not sent to Kafka */
#define KG_GAP_ENCODE  "record_too_long" /* an event's record did not fit (impossible) */

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
/* A signed number (fields.c): -1 for a Kafka error code, where kg_rec_u64 says false. */
bool kg_rec_s64(const char *rec, size_t len, const char *field, __s64 *out);
/* A field's value as written (a string with its quotes and escapes, a number, null...):
 * *val points into rec, *vlen bytes. */
bool kg_rec_raw(const char *rec, size_t len, const char *field, const char **val, size_t *vlen);

/* ---- a consumer of the audit topic (consumer.c) ------------------------------------------ */

struct rd_kafka_s;
struct rd_kafka_topic_s;
struct rd_kafka_metadata;

/* A consumer (enable.partition.eof on), the topic's handle, and its metadata (one topic:
 * md->topics[0].partitions). */
struct kg_audit_consumer {
	struct rd_kafka_s *rk;
	struct rd_kafka_topic_s *t;
	const struct rd_kafka_metadata *md;
};

/* 0, or -errno with err set (and nothing left to close). */
int kg_audit_consumer_open(struct kg_audit_consumer *k, const char *brokers, const char *topic,
			   const char *client_id, int timeout_ms, char *err, size_t errlen);
void kg_audit_consumer_close(struct kg_audit_consumer *k);

/* ---- spool (spool.c) ------------------------------------------------------------------- */

/*
 * The Kafka spool: every record bound for Kafka is appended here first (JSON lines, one
 * write(2) per record or per batch of them, before the batch leaves the ring buffer:
 * a killed agent loses nothing it took), and a sender delivers from the head in order.
 * Segments are files "seg-<first seq>.jsonl" of about KG_SPOOL_SEGMENT_BYTES (past it by
 * one write at most: a write is never split); the newest one is never removed, so its
 * name and its last record always tell the next sequence number. The file "delivered"
 * holds the last sequence number whose delivery report succeeded and where it landed
 * (partition, offset); segments wholly at or below it are removed.
 */
#define KG_SPOOL_SEGMENT_BYTES (16u << 20)
/* Spool size at which new records stop being spooled (counted, then a gap record). */
#define KG_SPOOL_MAX_BYTES_DEFAULT (1ull << 30)

struct kg_spool_seg {
	__u64 first_seq; /* from the name */
	__u64 size;	 /* bytes of complete records */
};

/*
 * The spool path while the brokers keep up: what one kg_spool_flush wrote is also kept in
 * memory, as a block, for the sender, which sends from there (no read back from the
 * files, and no copy: librdkafka points into the block until the delivery report) and
 * frees a block once every record of it is delivered. Blocks are kept once the sender asks
 * (kg_spool_mem_start: it reads the files up to the first block kept, then memory) and up
 * to KG_SPOOL_MEM_BYTES; past that none are, until the sender, back on the files, asks
 * again.
 */
#define KG_SPOOL_MEM_BYTES (64u << 20)
/* Buffers of freed blocks kept for the next flushes (no allocation per batch). */
#define KG_SPOOL_SPARES 8

struct kg_spool_rec {
	__u64 seq, ts_ns; /* ts_ns 0: not given (read it from the record) */
	__u32 off, len;	  /* in the block's buffer, without the newline */
};

struct kg_spool_block {
	struct kg_spool_block *next;
	struct kg_buf buf; /* the records as written, each with its newline */
	struct kg_spool_rec *recs;
	size_t n;    /* records */
	size_t done; /* of them delivered (or given up): freed at n */
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
	/* the writer's own (no lock): the newest segment's size (the sender never removes the
	 * newest segment), records added and not yet written (kg_spool_flush) */
	__u64 tail_bytes;
	struct kg_buf held;
	struct kg_spool_rec *held_recs;
	__u64 held_records, held_last_seq;
	/* blocks kept for the sender (under lock): oldest first; the next one to read and
	 * the index in it (NULL: the oldest) */
	bool mem_open;
	struct kg_spool_block *mem_head, *mem_tail, *mem_read;
	size_t mem_read_idx;
	__u64 mem_bytes;
	__u64 mem_max; /* KG_SPOOL_MEM_BYTES (tests make it small) */
	struct kg_spool_block *spares[KG_SPOOL_SPARES];
	int nspares;
};

/* Opens (creating) dir: scans the segments, cuts a partial last line, reads "delivered",
 * counts the undelivered records. 0 or -errno with err set. */
int kg_spool_open(struct kg_spool *sp, const char *dir, char *err, size_t errlen);
void kg_spool_close(struct kg_spool *sp);
/*
 * Adds one record (without newline) numbered seq, of wall time ts_ns (its "ts_ns", for the
 * sender; 0: not given), to those held in memory, which kg_spool_flush writes with one
 * write(2). When nothing is held and the newest segment is full (kg_spool_rolls), this one
 * starts a new segment. 0, or -errno: this record is not spooled. Main thread only.
 */
int kg_spool_add(struct kg_spool *sp, __u64 seq, __u64 ts_ns, const char *rec, size_t len);
/* Whether the next kg_spool_add starts a new segment: nothing is held, the newest is full. */
bool kg_spool_rolls(const struct kg_spool *sp);
/* Writes the held records and publishes them to readers. 0, or -errno: none of them is
 * spooled (what a failed write left of them is cut off). */
int kg_spool_flush(struct kg_spool *sp);
/* kg_spool_add (no time given), then kg_spool_flush. */
int kg_spool_append(struct kg_spool *sp, __u64 seq, const char *rec, size_t len);
/* fdatasync of the newest segment if anything was appended since the last one. */
void kg_spool_sync(struct kg_spool *sp);
/* nrec more records delivered, the last one seq (at partition/offset): persists
 * "delivered", removes segments wholly delivered. 0 or -errno. Sender only. */
int kg_spool_mark_delivered(struct kg_spool *sp, __u64 seq, __u64 nrec, __s32 partition,
			    __s64 offset);

/*
 * The sender's side of the blocks kept in memory. kg_spool_mem_start: blocks are kept from
 * the next write on (until KG_SPOOL_MEM_BYTES are). kg_spool_mem_first: the seq of the
 * record kg_spool_mem_next gives next, 0 when none is kept: a reader of the files goes
 * over to memory there. kg_spool_mem_next: the next record kept: 1 with *rec and *len
 * (valid until its block is done), *seq, *ts_ns (as kg_spool_add had it) and *blk; 0 when
 * none is yet; -1 when none will be (blocks are no longer kept: read the files from the
 * last seq taken on). kg_spool_mem_done: n more records of blk delivered or passed over
 * (blocks are done in order). kg_spool_mem_stop: frees every block, keeps none until the
 * next start.
 */
void kg_spool_mem_start(struct kg_spool *sp);
__u64 kg_spool_mem_first(struct kg_spool *sp);
int kg_spool_mem_next(struct kg_spool *sp, const char **rec, size_t *len, __u64 *seq,
		      __u64 *ts_ns, struct kg_spool_block **blk);
void kg_spool_mem_done(struct kg_spool *sp, struct kg_spool_block *blk, size_t n);
void kg_spool_mem_stop(struct kg_spool *sp);

/* The newest records spooled, up to max bytes of them (whole lines but the first, which
 * may be cut), oldest first, into out. Before the sender runs (it removes segments). 0 or
 * -errno. */
int kg_spool_tail(struct kg_spool *sp, size_t max, struct kg_buf *out);

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
/* Bytes of records a batch (kg_audit_batch_begin) holds before it writes them anyway: one
 * write(2) per sink per this much instead of per record; observe clients get them as
 * often. */
#define KG_AUDIT_BATCH_BYTES (256u << 10)
/*
 * Written bytes a restarted pipeline reads back to find the batch a kill cut short of its
 * commit (kg_audit_resume_*): a batch is at most KG_AUDIT_BATCH_BYTES plus the records of
 * one ring-buffer record (KG_EVBATCH_BYTES of entries of at least 40 bytes each). A batch
 * longer than this is matched by its last part only: its first events would be recorded
 * twice (the pipeline never writes one that long).
 */
#define KG_AUDIT_RESUME_BYTES                                                                     \
	(KG_AUDIT_BATCH_BYTES + KG_EVBATCH_BYTES / 40 * (size_t)KG_AUDIT_RECORD_MAX)
/* Records the sender hands to librdkafka before their delivery reports return. */
#define KG_SENDER_WINDOW 20000

struct kg_sender; /* sender.c */
struct kg_audit_written; /* resume.c */

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
	struct kg_backlog_rec {
		char *p; /* the record and its newline */
		size_t len, cap;
	} backlog[KG_OBSERVE_BACKLOG];
	size_t backlog_next;
	__u64 obs_dropped;

	/* a batch (kg_audit_batch_begin .. _end): records held in memory, each sink written
	 * once per batch or per KG_AUDIT_BATCH_BYTES; outside one, once per record */
	bool batching;
	size_t held_bytes;	  /* of records held since the last flush */
	struct kg_buf file_held;  /* records (with newlines) for the file */
	__u64 spool_held[2];	  /* records held in the spool, by verdict class */
	__u64 spool_held_first;	  /* the first one's seq */
	__u64 spool_bytes_seen;	  /* spool.bytes when the spool was last written */
	__u64 clock_mono, clock_wall; /* the clocks' last reading (event times) */
	struct kg_decision_series *last_series; /* the series counted last */
	struct kg_event_names names_last;	/* the last event's names (event_names) */
	__u32 names_key[4];			/* and its ids */
	bool names_valid;
	/* room for one event's record: KG_AUDIT_RECORD_MAX, which bounds every record; a test
	 * makes it smaller to see what an encode failure leaves (a record_too_long gap) */
	size_t record_room;

	/* the newest decision records written, as kg_audit_open found them (resume.c) */
	struct kg_audit_written *written;

	/* seen in records */
	__u64 records_total, gap_records;
	__u64 by_kind[8];
	__u64 undecodable[KD_REASON__COUNT];
	__u64 gap_lost[2];
	__u64 folded[2];
	struct kg_decision_series *series; /* KG_AUDIT_SERIES */
};

/* observe.c: the socket `kgate observe` reads. */
int kg_observe_open(struct kg_audit *a, char *err, size_t errlen);
/* One record (without newline) into the backlog and every client's queue. */
void kg_observe_add(struct kg_audit *a, const char *rec, size_t len);
/* Sends what the clients' sockets take now (a client gone or too slow is dropped). */
void kg_observe_flush(struct kg_audit *a);
int kg_observe_pollfds(struct kg_audit *a, struct pollfd *p);
void kg_observe_serve(struct kg_audit *a, const struct pollfd *p, int n);
void kg_observe_close(struct kg_audit *a);

/* resume.c: keeps the keys of the newest decision records written (at open, before the
 * sender runs). */
void kg_audit_resume_load(struct kg_audit *a);

/* sender.c: the sender thread. */
int kg_sender_start(struct kg_audit *a, char *err, size_t errlen);
/* Stops it, delivering what it can within timeout_ms. */
void kg_sender_stop(struct kg_audit *a, int timeout_ms);
void kg_sender_stats(struct kg_audit *a, struct kg_sender_stats *st);

#endif
