// SPDX-License-Identifier: Apache-2.0
/*
 * Following the audit topic (audit.h, kg_audit_tail_kafka): every partition at once
 * through one librdkafka queue, from a point in time or from each partition's newest
 * records, up to the end each partition had when the read began (the backlog), then, when
 * asked, every record that comes after until the caller says stop. Each node keys its
 * records by its name, so a node's records are in one partition, in order, and the backlog
 * of every partition is the recent past of every node: `kgate observe --from-kafka`, the
 * fleet's view. (reader.c reads partitions one after another to their end, for commands
 * that need every record of a window once: policy whatif, audit trace.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "agent/audit/internal.h"

/* Budget for each cluster request (metadata, watermarks, offsets by time). */
#define TAIL_REQUEST_MS 10000
/* A consume call waits this long for the next record before looking at *stop. */
#define TAIL_POLL_MS 200
/* Waiting for a partition's newest record (where_from): past it, the partition is read
 * from its start and the caller's time filter does the rest. */
#define TAIL_PEEK_MS 5000
/* Without --follow, the read fails when nothing came for this long before the backlog was
 * read (the cluster stopped answering); with --follow it waits, until stopped. */
#define TAIL_STALL_MS 60000

struct tpart {
	int id;
	__s64 lo, hi;  /* the watermarks when the read began: hi is the backlog's end */
	__s64 start;   /* the first offset read */
	bool started;  /* consume_start_queue was called */
	bool caught;   /* read up to hi */
};

/*
 * The Kafka time (ms) of partition p's newest record, or -1 when there is none to see in
 * time (or it has no time). One fetch of one record.
 */
static __s64 newest_time_ms(rd_kafka_topic_t *t, const struct tpart *p)
{
	__u64 deadline = kg_now_ms() + TAIL_PEEK_MS;
	__s64 ts = -1;

	if (p->hi <= p->lo || rd_kafka_consume_start(t, p->id, p->hi - 1))
		return -1;
	while (kg_now_ms() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consume(t, p->id, TAIL_POLL_MS);
		rd_kafka_resp_err_t e;

		if (!m)
			continue;
		e = m->err;
		if (!e)
			ts = rd_kafka_message_timestamp(m, NULL);
		rd_kafka_message_destroy(m);
		if (e != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			break;
	}
	rd_kafka_consume_stop(t, p->id);
	return ts;
}

/*
 * Where each partition starts. By time: the first record the cluster finds at or after
 * since_ns (a record's Kafka time is when the agent produced it, never before the record's
 * own time, so nothing at or after since_ns is skipped). A cluster that answers "none"
 * (-1) for a partition whose newest record is newer than since_ns cannot look offsets up
 * by time (librdkafka's mock cluster answers -1 to every such lookup): that partition is
 * read from its start, and the caller's filter on the records' own time does the rest.
 * Without since_ns: the newest `last` records.
 */
static void where_from(rd_kafka_t *rk, rd_kafka_topic_t *t, const char *topic,
		       struct tpart *parts, int n, const struct kg_audit_tail *o)
{
	rd_kafka_topic_partition_list_t *l;

	for (int i = 0; i < n; i++) {
		struct tpart *p = &parts[i];

		p->start = p->hi - (__s64)o->last > p->lo ? p->hi - (__s64)o->last : p->lo;
	}
	if (!o->since_ns)
		return;
	l = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(l, topic, parts[i].id)->offset =
			(__s64)(o->since_ns / 1000000);
	if (rd_kafka_offsets_for_times(rk, l, TAIL_REQUEST_MS)) {
		for (int i = 0; i < n; i++)
			parts[i].start = parts[i].lo;
		rd_kafka_topic_partition_list_destroy(l);
		return;
	}
	for (int i = 0; i < n; i++) {
		struct tpart *p = &parts[i];
		const rd_kafka_topic_partition_t *e = &l->elems[i];

		if (e->err)
			p->start = p->lo;
		else if (e->offset >= 0)
			p->start = e->offset > p->lo ? e->offset : p->lo;
		else if (newest_time_ms(t, p) >= (__s64)(o->since_ns / 1000000))
			p->start = p->lo; /* a cluster that cannot look offsets up by time */
		else
			p->start = p->hi; /* nothing since then */
	}
	rd_kafka_topic_partition_list_destroy(l);
}

/* Errors a consumer sees while a broker is away; librdkafka retries by itself. */
static bool transient(rd_kafka_resp_err_t e)
{
	return e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
	       e == RD_KAFKA_RESP_ERR__TIMED_OUT || e == RD_KAFKA_RESP_ERR__PARTITION_EOF;
}

static struct tpart *part_of(struct tpart *parts, int n, int id)
{
	for (int i = 0; i < n; i++)
		if (parts[i].id == id)
			return &parts[i];
	return NULL;
}

static bool all_caught(const struct tpart *parts, int n)
{
	for (int i = 0; i < n; i++)
		if (!parts[i].caught)
			return false;
	return true;
}

/* Reads from the queue until done (see kg_audit_tail_kafka). 0, or -errno with err set. */
static int pump(rd_kafka_queue_t *q, const char *topic, struct tpart *parts, int n,
		const struct kg_audit_tail *o, char *err, size_t errlen)
{
	__u64 stall = kg_now_ms() + TAIL_STALL_MS;
	bool told = false;

	for (;;) {
		rd_kafka_message_t *m;
		struct tpart *p;

		if (!told && all_caught(parts, n)) {
			told = true;
			if (o->caught_up)
				o->caught_up(o->ctx);
			if (!o->follow)
				return 0;
		}
		if (o->stop && *o->stop)
			return 0;
		m = rd_kafka_consume_queue(q, TAIL_POLL_MS);
		if (!m && !o->follow && kg_now_ms() > stall) {
			snprintf(err, errlen, "%s: no record came for %d s before its end", topic,
				 TAIL_STALL_MS / 1000);
			return -ETIMEDOUT;
		}
		if (!m)
			continue;
		stall = kg_now_ms() + TAIL_STALL_MS;
		p = part_of(parts, n, m->partition);
		if (m->err && !transient(m->err)) {
			snprintf(err, errlen, "%s [%d]: %s", topic, (int)m->partition,
				 rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			return -EIO;
		}
		if (p && m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && m->offset >= p->hi)
			p->caught = true;
		if (!m->err && m->len && o->fn(o->ctx, m->payload, m->len)) {
			rd_kafka_message_destroy(m);
			return 0;
		}
		if (p && !m->err && m->offset >= p->hi - 1)
			p->caught = true;
		rd_kafka_message_destroy(m);
	}
}

int kg_audit_tail_kafka(const char *brokers, const char *topic, const struct kg_audit_tail *o,
			char *err, size_t errlen)
{
	struct kg_audit_consumer k;
	rd_kafka_queue_t *q = NULL;
	struct tpart *parts = NULL;
	int n, rc = kg_audit_consumer_open(&k, brokers, topic, "kgate-audit-tail", TAIL_REQUEST_MS,
					   err, errlen);

	if (rc)
		return rc;
	n = k.md->topics[0].partition_cnt;
	parts = calloc(n ? n : 1, sizeof(*parts));
	if (!parts) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		rd_kafka_resp_err_t e;
		int64_t lo, hi;

		parts[i].id = k.md->topics[0].partitions[i].id;
		e = rd_kafka_query_watermark_offsets(k.rk, topic, parts[i].id, &lo, &hi,
						     TAIL_REQUEST_MS);
		if (e) {
			snprintf(err, errlen, "offsets of %s [%d]: %s", topic, parts[i].id,
				 rd_kafka_err2str(e));
			rc = -EIO;
			goto out;
		}
		parts[i].lo = lo;
		parts[i].hi = hi;
	}
	where_from(k.rk, k.t, topic, parts, n, o);
	q = rd_kafka_queue_new(k.rk);
	for (int i = 0; i < n; i++) {
		struct tpart *p = &parts[i];

		p->caught = p->start >= p->hi;
		if (p->caught && !o->follow)
			continue;
		if (rd_kafka_consume_start_queue(k.t, p->id, p->start, q)) {
			snprintf(err, errlen, "%s [%d]: %s", topic, p->id,
				 rd_kafka_err2str(rd_kafka_last_error()));
			rc = -EIO;
			goto out;
		}
		p->started = true;
	}
	rc = pump(q, topic, parts, n, o, err, errlen);
out:
	for (int i = 0; i < n && parts; i++)
		if (parts[i].started)
			rd_kafka_consume_stop(k.t, parts[i].id);
	if (q)
		rd_kafka_queue_destroy(q);
	free(parts);
	kg_audit_consumer_close(&k);
	return rc;
}
