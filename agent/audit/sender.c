// SPDX-License-Identifier: Apache-2.0
/*
 * The Kafka sender: one thread that delivers the spool (spool.c) to the audit
 * topic, in order, exactly once.
 *
 *  - librdkafka producer, enable.idempotence=true (so acks=all, at most 5 requests in
 *    flight, retries without reordering or duplicates), message.timeout.ms=0: a record is
 *    never failed for taking long, so an unreachable broker only delays; the spool, not
 *    librdkafka's queue, holds what waits (at most KG_SENDER_WINDOW records in memory).
 *  - Records come from the spool's blocks in memory while the sender keeps up (no read
 *    back, no copy: librdkafka points into the block until the delivery report), from its
 *    files while it does not (brokers away, or KG_SPOOL_MEM_BYTES behind).
 *  - Key = node name, partitioner consistent_random: every record of a node lands in one
 *    partition, in sequence order.
 *  - Delivery reports come back in order; the spool's "delivered" mark moves only over a
 *    prefix of successful reports, and is persisted at most every PERSIST_MS.
 *  - What a killed agent may have sent but not marked: before sending after a restart
 *    (or after any failed report, or a fatal producer error), the sender reads the
 *    partition back from just after the last marked record and skips every record of
 *    this node it finds there. So a record is never sent twice in normal operation, nor
 *    after a SIGKILL, and never dropped: it leaves the spool only when Kafka has it.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "agent/audit/internal.h"

/* The delivered mark is written at most this often (a killed agent re-reads at most this
 * much from the topic to find what it had already delivered). */
#define PERSIST_MS 100
/* rd_kafka_poll wait (it returns at the first delivery report): the latency a new record
 * may see when nothing else is happening. */
#define IDLE_POLL_MS 5
/* Retry pause after a failed read-back or delivery, doubling up to BACKOFF_MAX_MS. */
#define BACKOFF_MS     250
#define BACKOFF_MAX_MS 8000
/* Time budget for one read-back (metadata, watermarks, fetching the records). */
#define READBACK_TIMEOUT_MS 30000

enum { ST_RECOVER, ST_SEND };
enum { IF_SENT, IF_OK, IF_FAILED, IF_FREE };

struct inflight {
	__u64 seq, ts_ns;
	__s64 offset;
	__s32 partition;
	int state;
	struct kg_spool_block *blk; /* sent from memory: the block it points into */
};

/* A record of this node found in the topic: its seq and time tell it apart from a record
 * of an earlier life of the node name (a spool directory made anew restarts at seq 1). */
struct skip {
	__u64 seq, ts_ns;
	__s64 offset;
};

struct kg_sender {
	struct kg_audit *a;
	pthread_t th;
	atomic_int stop;
	_Atomic __u64 deadline_ms;
	int state;
	__u64 backoff_ms, retry_at_ms;

	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	bool resetting;
	struct kg_spool_reader rd;
	bool rd_open, rd_end;
	bool from_mem;	  /* records come from the spool's blocks in memory, not its files */
	__u64 mem_first;  /* the first record kept in memory (0: none known): files up to it */
	__u64 from_files; /* records read from the files (st.from_files at update_stats) */
	__u64 last_taken; /* seq of the last record taken from either */
	char pending[KG_AUDIT_RECORD_MAX]; /* a record read from the files */
	const char *pending_rec;	   /* the record to send next: pending, or in pending_blk */
	struct kg_spool_block *pending_blk;
	size_t pending_len;
	__u64 pending_seq, pending_ts;

	struct inflight *ring;
	size_t head, count;
	bool failed;

	/* acknowledged, not yet persisted */
	__u64 acked_seq, acked_n;
	__s32 acked_part;
	__s64 acked_off;
	__u64 last_persist_ms;

	struct skip *skip;
	size_t nskip, skip_pos;
	__s32 skip_part;

	pthread_mutex_t lock; /* the stats */
	struct kg_sender_stats st;
	__u64 recover_head_ts;
	char why[256]; /* why the last read-back failed */
};

static void log_err(const char *what, const char *detail)
{
	fprintf(stderr, "kgate audit: kafka: %s: %s\n", what, detail);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kg_sender *s = opaque;
	/* the message's own slot of the in-flight ring (fill): a slot is reused only after its
	 * report came back, and a producer torn down reports nothing (resetting) */
	struct inflight *f = m->_private;

	(void)rk;
	if (s->resetting || !f || f->state != IF_SENT)
		return;
	if (m->err) {
		f->state = IF_FAILED;
		if (!s->failed)
			log_err("delivery failed (resending from the spool)",
				rd_kafka_err2str(m->err));
		s->failed = true;
		pthread_mutex_lock(&s->lock);
		s->st.produce_errors++;
		pthread_mutex_unlock(&s->lock);
	} else {
		f->state = IF_OK;
		f->partition = m->partition;
		f->offset = m->offset;
	}
}

static rd_kafka_t *make_client(struct kg_sender *s, rd_kafka_type_t type, char *err, size_t errlen)
{
	struct kg_audit *a = s->a;
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	char cid[300], maxq[32];
	rd_kafka_t *rk;

	snprintf(cid, sizeof(cid), "kgate-audit-%s", a->node);
	snprintf(maxq, sizeof(maxq), "%d", 2 * KG_SENDER_WINDOW);
	const char *kv[][2] = {
		{"bootstrap.servers", a->brokers},
		{"client.id", cid},
		{"log.connection.close", "false"},
		{type == RD_KAFKA_PRODUCER ? "enable.idempotence" : NULL, "true"},
		{type == RD_KAFKA_PRODUCER ? "acks" : NULL, "all"},
		{type == RD_KAFKA_PRODUCER ? "max.in.flight.requests.per.connection" : NULL, "5"},
		{type == RD_KAFKA_PRODUCER ? "message.timeout.ms" : NULL, "0"},
		{type == RD_KAFKA_PRODUCER ? "linger.ms" : NULL, "5"},
		/* records are JSON with the same names in every line: lz4 makes batches several
		 * times smaller for less CPU than it saves in copies and socket writes (the
		 * agent's CPU per delivered record went down in bench-audit) */
		{type == RD_KAFKA_PRODUCER ? "compression.type" : NULL, "lz4"},
		{type == RD_KAFKA_PRODUCER ? "partitioner" : NULL, "consistent_random"},
		{type == RD_KAFKA_PRODUCER ? "queue.buffering.max.messages" : NULL, maxq},
		{type == RD_KAFKA_CONSUMER ? "enable.partition.eof" : NULL, "true"},
	};

	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		if (!kv[i][0])
			continue;
		if (rd_kafka_conf_set(c, kv[i][0], kv[i][1], err, errlen) != RD_KAFKA_CONF_OK) {
			rd_kafka_conf_destroy(c);
			return NULL;
		}
	}
	if (type == RD_KAFKA_PRODUCER) {
		rd_kafka_conf_set_opaque(c, s);
		rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
	}
	rk = rd_kafka_new(type, c, err, errlen);
	if (!rk)
		rd_kafka_conf_destroy(c);
	return rk;
}

static int producer_up(struct kg_sender *s, char *err, size_t errlen)
{
	s->rk = make_client(s, RD_KAFKA_PRODUCER, err, errlen);
	if (!s->rk)
		return -EINVAL;
	s->rkt = rd_kafka_topic_new(s->rk, s->a->topic, NULL);
	if (!s->rkt) {
		snprintf(err, errlen, "topic %s: %s", s->a->topic,
			 rd_kafka_err2str(rd_kafka_last_error()));
		rd_kafka_destroy(s->rk);
		s->rk = NULL;
		return -EINVAL;
	}
	return 0;
}

static void producer_down(struct kg_sender *s)
{
	if (!s->rk)
		return;
	/* what is queued or in flight stays in the spool; a read-back settles it */
	s->resetting = true;
	rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(s->rk, 0);
	rd_kafka_topic_destroy(s->rkt);
	rd_kafka_destroy(s->rk);
	s->rk = NULL;
	s->rkt = NULL;
	s->resetting = false;
}

static void persist(struct kg_sender *s)
{
	int r;

	if (!s->acked_n)
		return;
	r = kg_spool_mark_delivered(&s->a->spool, s->acked_seq, s->acked_n, s->acked_part,
				    s->acked_off);
	if (r) {
		log_err("spool: writing the delivered mark", strerror(-r));
		return;
	}
	s->acked_n = 0;
	s->last_persist_ms = kg_now_ms();
}

/* Pops the successful prefix of the in-flight ring into the acked mark. */
static void advance(struct kg_sender *s)
{
	__u64 n = 0;

	struct kg_spool_block *blk = NULL;
	size_t nblk = 0;

	while (s->count && s->ring[s->head].state == IF_OK) {
		struct inflight *f = &s->ring[s->head];

		s->acked_seq = f->seq;
		s->acked_part = f->partition;
		s->acked_off = f->offset;
		s->acked_n++;
		n++;
		/* the blocks' records are delivered: one call per run of the same block */
		if (f->blk != blk && nblk) {
			kg_spool_mem_done(&s->a->spool, blk, nblk);
			nblk = 0;
		}
		blk = f->blk;
		nblk += blk != NULL;
		s->head = (s->head + 1) % KG_SENDER_WINDOW;
		s->count--;
	}
	if (nblk)
		kg_spool_mem_done(&s->a->spool, blk, nblk);
	if (n) {
		pthread_mutex_lock(&s->lock);
		s->st.delivered += n;
		pthread_mutex_unlock(&s->lock);
	}
}

static int cmp_skip(const void *x, const void *y)
{
	const struct skip *a = x, *b = y;

	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/*
 * Reads this node's records after the delivered mark back from the topic: 0 with the
 * skip list set, or -1 (broker unreachable, timeout) to retry later.
 */
static int readback(struct kg_sender *s)
{
	struct kg_audit *a = s->a;
	struct kg_spool *sp = &a->spool;
	size_t nodelen = strlen(a->node), cap = 0;
	__u64 after;
	__s32 part;
	int64_t from, lo, hi;
	rd_kafka_t *c = NULL;
	rd_kafka_topic_t *ct = NULL;
	char err[512];
	int r = -1;
	rd_kafka_resp_err_t e;
	__u64 deadline = kg_now_ms() + READBACK_TIMEOUT_MS;

	free(s->skip);
	s->skip = NULL;
	s->nskip = s->skip_pos = 0;
	pthread_mutex_lock(&sp->lock);
	after = sp->delivered_seq;
	part = sp->delivered_partition;
	from = sp->delivered_offset >= 0 ? sp->delivered_offset + 1 : -1;
	pthread_mutex_unlock(&sp->lock);
	if (part < 0) {
		const struct rd_kafka_metadata *md = NULL;

		e = rd_kafka_metadata(s->rk, 0, s->rkt, &md, 2000);

		if (e || md->topic_cnt != 1 || md->topics[0].err || !md->topics[0].partition_cnt) {
			snprintf(s->why, sizeof(s->why), "metadata of %s: %s", a->topic,
				 rd_kafka_err2str(e ? e
						  : md->topic_cnt == 1
							  ? md->topics[0].err
							  : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
			if (md)
				rd_kafka_metadata_destroy(md);
			return -1;
		}
		part = rd_kafka_msg_partitioner_consistent_random(
			s->rkt, a->node, nodelen, md->topics[0].partition_cnt, NULL, NULL);
		rd_kafka_metadata_destroy(md);
		from = -1;
	}
	e = rd_kafka_query_watermark_offsets(s->rk, a->topic, part, &lo, &hi, 2000);
	if (e) {
		snprintf(s->why, sizeof(s->why), "offsets of %s [%d]: %s", a->topic, part,
			 rd_kafka_err2str(e));
		return -1;
	}
	if (from < lo)
		from = lo;
	s->skip_part = part;
	if (from >= hi)
		return 0;
	c = make_client(s, RD_KAFKA_CONSUMER, err, sizeof(err));
	if (!c) {
		log_err("read-back consumer", err);
		return -1;
	}
	ct = rd_kafka_topic_new(c, a->topic, NULL);
	snprintf(s->why, sizeof(s->why), "reading %s [%d] from offset %lld: timed out", a->topic,
		 part, (long long)from);
	if (!ct || rd_kafka_consume_start(ct, part, from))
		goto out;
	while (kg_now_ms() < deadline) {
		rd_kafka_message_t *m;

		if (atomic_load(&s->stop) && kg_now_ms() >= atomic_load(&s->deadline_ms))
			break;
		m = rd_kafka_consume(ct, part, 200);
		__u64 seq;

		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			bool done = m->offset >= hi;

			rd_kafka_message_destroy(m);
			if (done) {
				r = 0;
				break;
			}
			continue;
		}
		if (!m->err && m->key_len == nodelen && !memcmp(m->key, a->node, nodelen) &&
		    kg_rec_u64(m->payload, m->len, "seq", &seq) && seq > after) {
			if (s->nskip == cap) {
				struct skip *ns;

				cap = cap ? cap * 2 : 1024;
				ns = realloc(s->skip, cap * sizeof(*ns));
				if (!ns) {
					rd_kafka_message_destroy(m);
					break;
				}
				s->skip = ns;
			}
			s->skip[s->nskip] = (struct skip){.seq = seq, .offset = m->offset};
			kg_rec_u64(m->payload, m->len, "ts_ns", &s->skip[s->nskip].ts_ns);
			s->nskip++;
		}
		if (!m->err && m->offset >= hi - 1) {
			rd_kafka_message_destroy(m);
			r = 0;
			break;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consume_stop(ct, part);
out:
	if (ct)
		rd_kafka_topic_destroy(ct);
	rd_kafka_destroy(c);
	if (r == 0 && s->nskip) {
		qsort(s->skip, s->nskip, sizeof(*s->skip), cmp_skip);
		fprintf(stderr,
			"kgate audit: kafka: %zu spooled records were already delivered (seq "
			"%llu..%llu); not sending them again\n",
			s->nskip, (unsigned long long)s->skip[0].seq,
			(unsigned long long)s->skip[s->nskip - 1].seq);
		pthread_mutex_lock(&s->lock);
		s->st.skipped += s->nskip;
		pthread_mutex_unlock(&s->lock);
	}
	return r;
}

static void to_recover(struct kg_sender *s)
{
	producer_down(s);
	if (s->rd_open)
		kg_spool_reader_close(&s->rd);
	s->rd_open = false;
	/* librdkafka let go of every message (producer_down): the blocks may go */
	kg_spool_mem_stop(&s->a->spool);
	s->from_mem = false;
	s->mem_first = 0;
	s->pending_len = 0;
	s->head = s->count = 0;
	s->failed = false;
	s->state = ST_RECOVER;
}

static void peek_head_ts(struct kg_sender *s)
{
	struct kg_spool_reader r;
	const char *rec;
	size_t len;
	__u64 seq, ts = 0;

	if (kg_spool_reader_open(&r, &s->a->spool, s->a->spool.delivered_seq))
		return;
	if (kg_spool_next(&r, &rec, &len, &seq) == 1)
		kg_rec_u64(rec, len, "ts_ns", &ts);
	kg_spool_reader_close(&r);
	s->recover_head_ts = ts;
}

static void recover(struct kg_sender *s)
{
	char err[512];
	__u64 now = kg_now_ms();

	if (now < s->retry_at_ms)
		return;
	peek_head_ts(s);
	if (!s->rk && producer_up(s, err, sizeof(err))) {
		log_err("producer", err);
		goto retry;
	}
	if (readback(s)) {
		/* once per outage, not per retry */
		if (s->backoff_ms == BACKOFF_MS)
			fprintf(stderr,
				"kgate audit: kafka: %s; the spool keeps every record, retrying\n",
				s->why);
		goto retry;
	}
	if (kg_spool_reader_open(&s->rd, &s->a->spool, s->a->spool.delivered_seq))
		goto retry;
	s->rd_open = true;
	s->rd_end = false;
	s->last_taken = s->a->spool.delivered_seq;
	kg_spool_mem_start(&s->a->spool); /* the files up to the first write from now on */
	s->state = ST_SEND;
	s->backoff_ms = BACKOFF_MS;
	s->recover_head_ts = 0;
	return;
retry:
	s->retry_at_ms = now + s->backoff_ms;
	if (s->backoff_ms < BACKOFF_MAX_MS)
		s->backoff_ms *= 2;
}

/*
 * The next record to send into pending_*: from the spool's files (copied: the reader's
 * buffer moves) up to the first record kept in memory, then from memory; back to the
 * files (and keeping again) when memory keeps no more. 1, or 0 when there is none now.
 */
static int take_next(struct kg_sender *s)
{
	struct kg_spool *sp = &s->a->spool;
	struct kg_spool_block *blk = NULL;
	const char *rec;
	size_t len;
	__u64 seq, ts = 0;
	int r;

	for (;;) {
		if (s->from_mem) {
			r = kg_spool_mem_next(sp, &rec, &len, &seq, &ts, &blk);
			if (r < 0) {
				/* no longer kept: the files past what memory gave; keep again */
				s->from_mem = false;
				if (s->rd.after_seq < s->last_taken)
					s->rd.after_seq = s->last_taken;
				kg_spool_mem_start(sp);
				continue;
			}
			if (r == 0)
				return 0;
			if (seq <= s->last_taken) {
				/* kept while this sender read it from the files: sent already */
				kg_spool_mem_done(sp, blk, 1);
				continue;
			}
		} else {
			r = kg_spool_next(&s->rd, &rec, &len, &seq);
			if (r < 0)
				log_err("spool read", strerror(-r));
			if (r <= 0)
				return 0;
			if (!s->mem_first)
				s->mem_first = kg_spool_mem_first(sp);
			if (s->mem_first && seq >= s->mem_first) {
				/* the files have caught up with memory: from there on */
				s->from_mem = true;
				s->mem_first = 0;
				continue;
			}
			if (len > sizeof(s->pending))
				continue; /* not ours: never written by kg_audit_event */
			ts = 0; /* read from the record below */
			blk = NULL;
			memcpy(s->pending, rec, len);
			rec = s->pending;
			s->from_files++;
		}
		s->pending_rec = rec;
		s->pending_blk = blk;
		s->pending_len = len;
		s->pending_seq = seq;
		s->pending_ts = ts;
		if (!ts)
			kg_rec_u64(rec, len, "ts_ns", &s->pending_ts);
		s->last_taken = seq;
		return 1;
	}
}

/* Hands spooled records to librdkafka until the spool's end, a full window or a full
 * queue: each is waited out in rd_kafka_poll (which returns at the first report). A
 * record from memory is not copied: librdkafka points into its block until the report. */
static void fill(struct kg_sender *s)
{
	size_t nodelen = strlen(s->a->node);

	while (s->count < KG_SENDER_WINDOW) {
		struct inflight *f;
		bool skipped = false;
		__s64 skip_off = -1;

		if (!s->pending_len && !take_next(s)) {
			s->rd_end = true;
			return;
		}
		s->rd_end = false;
		while (s->skip_pos < s->nskip && s->skip[s->skip_pos].seq < s->pending_seq)
			s->skip_pos++;
		for (size_t j = s->skip_pos; j < s->nskip && s->skip[j].seq == s->pending_seq; j++)
			if (s->skip[j].ts_ns == s->pending_ts) {
				skipped = true;
				skip_off = s->skip[j].offset;
			}
		f = &s->ring[(s->head + s->count) % KG_SENDER_WINDOW];
		*f = (struct inflight){.seq = s->pending_seq,
				       .ts_ns = s->pending_ts,
				       .state = skipped ? IF_OK : IF_SENT,
				       .blk = s->pending_blk};
		if (!skipped && rd_kafka_produce(s->rkt, RD_KAFKA_PARTITION_UA,
						 s->pending_blk ? 0 : RD_KAFKA_MSG_F_COPY,
						 (void *)s->pending_rec, s->pending_len, s->a->node,
						 nodelen, f)) {
			f->state = IF_FREE; /* not counted: the slot is free again */
			return; /* queue full (or the handle failing): again after a poll */
		}
		if (skipped) {
			f->partition = s->skip_part;
			f->offset = skip_off;
		}
		s->count++;
		s->pending_len = 0;
	}
}

static void update_stats(struct kg_sender *s)
{
	__u64 ts = 0;

	if (s->count)
		ts = s->ring[s->head].ts_ns;
	else if (s->pending_len)
		ts = s->pending_ts;
	else if (s->state == ST_RECOVER)
		ts = s->recover_head_ts;
	pthread_mutex_lock(&s->lock);
	s->st.oldest_ts_ns = ts;
	s->st.recovering = s->state == ST_RECOVER;
	s->st.from_files = s->from_files;
	pthread_mutex_unlock(&s->lock);
}

static __u64 spool_depth(struct kg_sender *s)
{
	__u64 d;

	pthread_mutex_lock(&s->a->spool.lock);
	d = s->a->spool.records;
	pthread_mutex_unlock(&s->a->spool.lock);
	return d;
}

static void *sender_main(void *arg)
{
	struct kg_sender *s = arg;
	char fatal[256];

	for (;;) {
		__u64 now = kg_now_ms();
		bool stopping = atomic_load(&s->stop);

		if (stopping && now >= atomic_load(&s->deadline_ms))
			break;
		if (s->state == ST_RECOVER) {
			recover(s);
			if (s->state == ST_RECOVER) {
				update_stats(s);
				if (stopping && !spool_depth(s))
					break;
				usleep(20 * 1000);
				continue;
			}
		}
		fill(s);
		rd_kafka_poll(s->rk, IDLE_POLL_MS);
		advance(s);
		if (rd_kafka_fatal_error(s->rk, fatal, sizeof(fatal))) {
			log_err("fatal producer error (restarting it)", fatal);
			s->failed = true;
		}
		if (s->failed) {
			persist(s);
			to_recover(s);
			s->retry_at_ms = kg_now_ms() + s->backoff_ms;
			if (s->backoff_ms < BACKOFF_MAX_MS)
				s->backoff_ms *= 2;
		}
		if (s->acked_n && (now - s->last_persist_ms >= PERSIST_MS || stopping))
			persist(s);
		update_stats(s);
		if (stopping && s->state == ST_SEND && !s->count && s->rd_end && !s->pending_len)
			break;
	}
	persist(s);
	to_recover(s);
	update_stats(s);
	return NULL;
}

int kg_sender_start(struct kg_audit *a, char *err, size_t errlen)
{
	struct kg_sender *s = calloc(1, sizeof(*s));
	rd_kafka_conf_t *probe;
	char e[512];

	if (!s || !(s->ring = calloc(KG_SENDER_WINDOW, sizeof(*s->ring)))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->a = a;
	s->state = ST_RECOVER;
	s->backoff_ms = BACKOFF_MS;
	s->acked_part = -1;
	s->acked_off = -1;
	pthread_mutex_init(&s->lock, NULL);
	/* bad brokers syntax is an option error now, not a retry loop later */
	probe = rd_kafka_conf_new();
	if (rd_kafka_conf_set(probe, "bootstrap.servers", a->brokers, e, sizeof(e))) {
		snprintf(err, errlen, "--audit-brokers %s: %s", a->brokers, e);
		rd_kafka_conf_destroy(probe);
		goto fail;
	}
	rd_kafka_conf_destroy(probe);
	if (producer_up(s, e, sizeof(e))) {
		snprintf(err, errlen, "audit kafka producer: %s", e);
		goto fail;
	}
	/* nothing undelivered in the spool: nothing to read back */
	if (!a->spool.records) {
		if (kg_spool_reader_open(&s->rd, &a->spool, a->spool.delivered_seq)) {
			snprintf(err, errlen, "spool %s: %s", a->spool_dir, strerror(errno));
			goto fail;
		}
		s->rd_open = true;
		s->last_taken = a->spool.delivered_seq;
		kg_spool_mem_start(&a->spool);
		s->state = ST_SEND;
	}
	a->sender = s;
	if (pthread_create(&s->th, NULL, sender_main, s)) {
		a->sender = NULL;
		snprintf(err, errlen, "audit sender thread: %s", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	to_recover(s);
	pthread_mutex_destroy(&s->lock);
	free(s->ring);
	free(s);
	return -EINVAL;
}

void kg_sender_stop(struct kg_audit *a, int timeout_ms)
{
	struct kg_sender *s = a->sender;

	if (!s)
		return;
	atomic_store(&s->deadline_ms, kg_now_ms() + (timeout_ms > 0 ? timeout_ms : 0));
	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	free(s->skip);
	free(s->ring);
	pthread_mutex_destroy(&s->lock);
	free(s);
	a->sender = NULL;
}

void kg_sender_stats(struct kg_audit *a, struct kg_sender_stats *st)
{
	struct kg_sender *s = a->sender;

	memset(st, 0, sizeof(*st));
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}
