// SPDX-License-Identifier: Apache-2.0
/*
 * Reading audit records back (agent/audit/audit.h): from an audit file, or from the audit
 * topic with librdkafka, for the commands that look at what was decided (kgate policy
 * whatif). The topic is read from where --since puts it (by time, where the cluster
 * answers such a lookup) to its end as it was when the read began.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "agent/audit/internal.h"

/* Budget for each cluster request (metadata, offsets, one record). */
#define READ_REQUEST_MS 10000
/*
 * A partition's read fails when no record came for this long (the cluster stopped
 * answering): a budget for progress, not for the whole partition, so that a partition
 * of any size is read as long as records keep coming.
 */
#define READ_STALL_MS 60000
/* A consume call waits this long for the next record before checking the budget. */
#define READ_POLL_MS 200

int kg_audit_read_file(const char *path, kg_audit_rec_fn fn, void *ctx, char *err, size_t errlen)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (n && fn(ctx, line, n))
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -EIO;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return rc;
}

/* The time of the record at offset off (its ts_ns, else its Kafka timestamp): 0 when it
 * cannot be read. */
static __u64 record_time_ns(rd_kafka_topic_t *t, int p, __s64 off)
{
	rd_kafka_message_t *m;
	__u64 ts = 0;

	if (rd_kafka_consume_start(t, p, off))
		return 0;
	m = rd_kafka_consume(t, p, READ_REQUEST_MS);
	if (m && !m->err && m->offset == off && !kg_rec_u64(m->payload, m->len, "ts_ns", &ts)) {
		__s64 ms = rd_kafka_message_timestamp(m, NULL);

		ts = ms > 0 ? (__u64)ms * 1000000 : 0;
	}
	if (m)
		rd_kafka_message_destroy(m);
	rd_kafka_consume_stop(t, p);
	return ts;
}

/*
 * Where partition p starts: the first offset at or after since_ns, else its low mark;
 * hi (nothing to read) when no record is that new.
 */
static __s64 start_offset(rd_kafka_t *rk, rd_kafka_topic_t *t, int p, __s64 lo, __s64 hi,
			  __u64 since_ns)
{
	const char *topic = rd_kafka_topic_name(t);
	rd_kafka_topic_partition_list_t *l;
	__s64 off = lo;

	if (!since_ns)
		return lo;
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, p)->offset = (__s64)(since_ns / 1000000);
	if (!rd_kafka_offsets_for_times(rk, l, READ_REQUEST_MS) && !l->elems[0].err) {
		if (l->elems[0].offset >= lo)
			off = l->elems[0].offset;
		/*
		 * -1: no record at or after that time, so nothing to read. Unless the
		 * partition's last record says otherwise (a cluster that cannot look up by
		 * time answers -1 too): then it is read from the start, each record filtered
		 * by its own time.
		 */
		else if (l->elems[0].offset == -1 && record_time_ns(t, p, hi - 1) < since_ns)
			off = hi;
	}
	rd_kafka_topic_partition_list_destroy(l);
	return off;
}

/* One partition from `from` up to hi (exclusive). 0, 1 when fn stopped, or -errno. */
static int read_partition(rd_kafka_t *rk, rd_kafka_topic_t *t, int p, __s64 from, __s64 hi,
			  kg_audit_rec_fn fn, void *ctx, char *err, size_t errlen)
{
	__u64 deadline = kg_now_ms() + READ_STALL_MS;
	int rc = -ETIMEDOUT;

	(void)rk;
	if (rd_kafka_consume_start(t, p, from)) {
		snprintf(err, errlen, "%s [%d]: %s", rd_kafka_topic_name(t), p,
			 rd_kafka_err2str(rd_kafka_last_error()));
		return -EIO;
	}
	snprintf(err, errlen, "%s [%d]: reading up to offset %lld: no record came for %d s",
		 rd_kafka_topic_name(t), p, (long long)hi, READ_STALL_MS / 1000);
	while (kg_now_ms() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consume(t, p, READ_POLL_MS);
		bool last;

		if (!m)
			continue;
		deadline = kg_now_ms() + READ_STALL_MS; /* progress */
		last = m->offset >= hi - 1;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			last = m->offset >= hi;
		} else if (m->err) {
			snprintf(err, errlen, "%s [%d]: %s", rd_kafka_topic_name(t), p,
				 rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			rc = -EIO;
			break;
		} else if (m->len && fn(ctx, m->payload, m->len)) {
			rd_kafka_message_destroy(m);
			rc = 1;
			break;
		}
		rd_kafka_message_destroy(m);
		if (last) {
			rc = 0;
			break;
		}
	}
	rd_kafka_consume_stop(t, p);
	return rc;
}

int kg_audit_read_kafka(const char *brokers, const char *topic, __u64 since_ns, kg_audit_rec_fn fn,
			void *ctx, char *err, size_t errlen)
{
	struct kg_audit_consumer k;
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_t *t;
	rd_kafka_resp_err_t e;
	rd_kafka_t *rk;
	int rc = kg_audit_consumer_open(&k, brokers, topic, "kgate-audit-reader", READ_REQUEST_MS,
					err, errlen);

	if (rc)
		return rc;
	rk = k.rk;
	t = k.t;
	md = k.md;
	for (int i = 0; i < md->topics[0].partition_cnt && !rc; i++) {
		int p = md->topics[0].partitions[i].id;
		int64_t lo, hi;

		e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, READ_REQUEST_MS);
		if (e) {
			snprintf(err, errlen, "offsets of %s [%d]: %s", topic, p,
				 rd_kafka_err2str(e));
			rc = -EIO;
			break;
		}
		lo = start_offset(rk, t, p, lo, hi, since_ns);
		if (lo < hi)
			rc = read_partition(rk, t, p, lo, hi, fn, ctx, err, errlen);
	}
	if (rc == 1)
		rc = 0;
	kg_audit_consumer_close(&k);
	return rc;
}
