/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent/audit: decision events become one JSON record each (stable field names,
 * documented in README.md; codec.c), numbered by a per-node sequence, and go to every
 * configured sink (pipeline.c): an append-only file, a Kafka audit topic (sender.c:
 * librdkafka, idempotent, acks=all, key = node name) behind an on-disk spool (spool.c)
 * while the brokers are unreachable, and `kgate observe` clients on a unix socket
 * (observe.c). Nothing is dropped silently: lost ring-buffer events become `gap` records.
 * What it counted is read through kg_audit_stats(); nothing outside reads its struct.
 *
 * May call: agent/lib, maps/ (the event layout), librdkafka. The datapath's counters and
 * the policy's names come in through callbacks (kg_lost_fn, kg_names_fn).
 */
#ifndef KGATE_AUDIT_H
#define KGATE_AUDIT_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "maps/kgate_maps.h"

/* Interfaces one agent serves (kgate run --iface, repeated). */
#define KG_AUDIT_MAX_IFACES 8

/* Names for the ids an event carries, resolved with the policy version it was decided
 * under (ev->version_id). Empty strings where there is no name. */
struct kg_event_names {
	char policy_version[128]; /* the policy's `version` */
	char rule[64];            /* "" when the default action decided */
	char region[64];          /* "" when the source is in no region */
	char principal[KD_USER_MAX + 1]; /* by principal_id; the event's own bytes win when set */
	/* allows are recorded one in this many (the policy's audit.allow); 0: unknown */
	__u32 allow_sample;
};

/* Fills out for ev. Never fails: unknown ids give "" (the record still has the ids).
 * What it gives depends on the event's version, rule, region and principal ids alone
 * (and the principal's bytes when it has some): within a batch (kg_audit_batch_begin),
 * events with the ids of the one before get its names without a call. */
typedef void (*kg_names_fn)(void *ctx, const struct kg_event *ev, struct kg_event_names *out);

/*
 * The lost-event counters of interface i, out[KG_LOST_DENY] and out[KG_LOST_ALLOW], as
 * counted since its maps were made: 0; 1 when the interface has none to read (its
 * baseline stays); -errno on a failure.
 */
typedef int (*kg_lost_fn)(void *ctx, int i, __u64 out[2]);

/* Longest node name (--node): a DNS name's 253 bytes, which a host or Kubernetes node name
 * fits. A longer one is refused, at option parsing and by kg_audit_open: every record
 * then fits KG_AUDIT_RECORD_MAX whatever a client puts in its topic names. */
#define KG_AUDIT_NODE_MAX 253

struct kg_audit_opts {
	const char *node;         /* node name: record field "node" and Kafka message key */
	const char *brokers;      /* "host:port,...", NULL = no Kafka sink */
	const char *topic;        /* audit topic (required with brokers) */
	const char *file;         /* append-only JSON-lines file, NULL = none */
	const char *spool_dir;    /* Kafka spool and the persisted sequence number */
	const char *observe_sock; /* unix socket `kgate observe` connects to, NULL = none */
	kg_lost_fn lost;          /* for gap records; NULL in tests without a datapath */
	void *lost_ctx;
	const char *const *ifaces; /* the interfaces' names (lost-event baselines are kept per
				    * interface); NULL: "" */
	int nifaces;               /* at most KG_AUDIT_MAX_IFACES; 0 = 1 when lost is set */
	kg_names_fn names;        /* NULL: records carry ids only */
	void *names_ctx;
};

struct kg_audit;

/* NULL with err set on a bad option or an unusable file/spool/socket. An unreachable
 * broker is not an error: records are spooled until it answers. */
struct kg_audit *kg_audit_open(const struct kg_audit_opts *o, char *err, size_t errlen);

/* One ring-buffer event: encoded, numbered, handed to every sink. 0 or -errno. */
int kg_audit_event(struct kg_audit *a, const struct kg_event *ev);

/*
 * A batch: the records of kg_audit_event() and kg_audit_append() between the two are held
 * in memory and written to each sink together at kg_audit_batch_end() (the caller ends it
 * once kg_audit_batch_full says so): one write(2) per sink instead of one per record.
 * Outside a batch every record is written before the call returns. A caller lets events
 * go from where they came (the ring buffer's consumer position) right after
 * kg_audit_batch_end(), so a killed agent loses nothing it took, and records nothing twice
 * but what a kill between the two leaves (see kg_audit_resume_*).
 */
void kg_audit_batch_begin(struct kg_audit *a);
void kg_audit_batch_end(struct kg_audit *a);

/*
 * Records the pipeline holds (in a batch) reached KG_AUDIT_BATCH_BYTES: the caller ends
 * the batch (kg_audit_batch_end) and lets its events go before it takes more. Nothing is
 * written within a batch, however long: a batch's events must leave the ring buffer at
 * the commit right after its write, never before nor long after.
 */
bool kg_audit_batch_full(const struct kg_audit *a);

/*
 * After a restart. A kill between a batch's write and the commit that lets its events
 * leave the ring buffer leaves them there although their records are written; the next
 * agent would record them again, under new sequence numbers. So the pipeline keeps, from
 * its open, the keys of the newest decision records written (the event's own time,
 * connection, request, topic, verdict and ids: never the node, sequence number or names),
 * and the caller, before it takes anything from a ring buffer: kg_audit_resume_reset, then
 * kg_audit_resume_add with each event at the ring's head in order until it returns false
 * (kg_evring_peek), then kg_audit_resume_skip: how many of those events, from the first,
 * are the end of what was written; it takes the ring skipping them. Once for each ring;
 * then kg_audit_resume_done. Without a file or spool (or nothing written) it skips none.
 */
void kg_audit_resume_reset(struct kg_audit *a);
bool kg_audit_resume_add(struct kg_audit *a, const struct kg_event *ev);
size_t kg_audit_resume_skip(struct kg_audit *a);
void kg_audit_resume_done(struct kg_audit *a);

/*
 * A record the datapath does not make (kind `policy`: a step of the policy lifecycle,
 * agent/policy/store.h): fields are its JSON members after the head, "kind" first,
 * without braces; wall_ns is when it happened. It gets the node, the next sequence
 * number and the time, and goes to every sink like a decision. 0 or -errno.
 */
int kg_audit_append(struct kg_audit *a, __u64 wall_ns, const char *fields, size_t len);

/*
 * Closes the audit file and opens its path again (SIGUSR1): after a rotation that moved
 * the file away, records go on in a new file at the path, and none is lost (until now
 * they went into the moved file). The pipeline also does this by itself when it sees the
 * path name another file, within KG_AUDIT_REOPEN_CHECK_MS. 0, or -errno (then the old
 * file is kept).
 */
int kg_audit_reopen(struct kg_audit *a);
#define KG_AUDIT_REOPEN_CHECK_MS 1000

/* Compares the datapath's lost-event counters with the last look; when they moved,
 * writes one `gap` record (lost deny/allow counts, between which sequence numbers). */
int kg_audit_check_gaps(struct kg_audit *a);

/* pollfds the pipeline waits on (the observe socket and its clients), at most this. */
#define KG_AUDIT_POLLFDS 33
int kg_audit_pollfds(struct kg_audit *a, struct pollfd *p);
/* Handles what poll() reported on them (p, n as kg_audit_pollfds gave), and the periodic
 * syncs of the spool and the file. */
void kg_audit_serve(struct kg_audit *a, const struct pollfd *p, int n);
/* The two with a poll() of up to timeout_ms between them. */
int kg_audit_poll(struct kg_audit *a, int timeout_ms);

/* Flushes (waiting up to timeout_ms for Kafka; what is undelivered stays spooled),
 * persists the sequence number, frees. */
void kg_audit_close(struct kg_audit *a, int timeout_ms);

/*
 * How many identical decisions ev stands for: its count (bpf/fold.h), but 1 for an event
 * that carries no fold information at all (count and folded 0: one made by hand, not by
 * the datapath, which sends count 0 only with folded decisions to carry).
 */
static inline __u32 kg_event_count(const struct kg_event *ev)
{
	return ev->count || ev->folded ? ev->count : 1;
}

/* The JSON record of ev, without newline: length written, or -1 when len is too small. */
int kg_audit_encode(char *buf, size_t len, const struct kg_event *ev,
		    const struct kg_event_names *names, __u64 seq, const char *node);

/* ---- reading records back (reader.c) ------------------------------------------------ */

/* One record (a JSON object, no newline); non-zero stops the read. */
typedef int (*kg_audit_rec_fn)(void *ctx, const char *rec, size_t len);
/* Every line of an audit file ("-": stdin). 0, or -errno with err set. */
int kg_audit_read_file(const char *path, kg_audit_rec_fn fn, void *ctx, char *err,
		       size_t errlen);
/*
 * The audit topic on brokers, each partition from since_ns (0: its start; by time where
 * the cluster can look offsets up by time, else from the start) to its end as it was when
 * the read began. Records come partition by partition (in order within each). 0, or
 * -errno with err set.
 */
int kg_audit_read_kafka(const char *brokers, const char *topic, __u64 since_ns,
			kg_audit_rec_fn fn, void *ctx, char *err, size_t errlen);

/* ---- what the pipeline counted (for the metrics) ----------------------------------- */

/* Decisions in records (their count) by verdict x operation x rule x enforced ("" rule: the
 * default). */
struct kg_decision_series {
	__u8 used, verdict, op, enforced;
	char rule[64];
	__u64 n;
};

struct kg_sender_stats {
	__u64 delivered;      /* records confirmed by delivery reports (this process) */
	__u64 oldest_ts_ns;   /* wall time of the oldest undelivered record, 0: none */
	__u64 produce_errors; /* failed delivery reports (each leads to a resend) */
	__u64 skipped;	      /* records found already in the topic after a restart */
	__u64 recovering;     /* 1: reading the topic back before sending */
	__u64 from_files;     /* records read back from the spool's files, not from memory */
};

struct kg_audit_stats {
	__u64 records_total, gap_records, next_seq, file_errors;
	__u64 by_kind[8];                    /* by KG_EV_* */
	__u64 undecodable[KD_REASON__COUNT]; /* undecodable records by reason */
	__u64 gap_lost[2];                   /* lost events reported, by KG_LOST_* */
	__u64 folded[2];                     /* decisions records carried as `folded`, by
					      * KG_LOST_* class */
	__u64 observe_clients;
	__u64 observe_dropped;
	bool kafka; /* the fields below are set */
	__u64 spool_records, spool_bytes, spool_dropped_total;
	struct kg_sender_stats sender;
	/* the decision series, valid until the next kg_audit_event() */
	const struct kg_decision_series *series;
	size_t nseries;
};

void kg_audit_stats(struct kg_audit *a, struct kg_audit_stats *st);

/* ---- following the audit topic (tail.c) -------------------------------------------------- */

/* What kg_audit_tail_kafka reads, and what it tells. */
struct kg_audit_tail {
	__u64 since_ns;	 /* each partition from its first record at or after this time ... */
	__u32 last;	 /* ... or, since_ns 0, from its newest `last` records */
	bool follow;	 /* after the backlog, every new record until *stop */
	const volatile sig_atomic_t *stop; /* checked between records (NULL: never) */
	kg_audit_rec_fn fn;		    /* each record; non-zero stops the read */
	void (*caught_up)(void *ctx);	    /* once: every partition read to the end it had
					     * when the read began (NULL: not told) */
	void *ctx;
};

/*
 * The audit topic on brokers, every partition at once: from since_ns (by time where the
 * cluster can look offsets up by time; a partition whose lookup finds nothing although
 * its newest record is newer is read from its start: the caller filters records by their
 * own time), or the newest `last` records of each partition; up to the end each partition
 * had when the read began (then caught_up), and with follow every later record until
 * *stop. Records of one partition come in order; partitions interleave. 0, or -errno with
 * err set.
 */
int kg_audit_tail_kafka(const char *brokers, const char *topic, const struct kg_audit_tail *o,
			char *err, size_t errlen);

#endif
