// SPDX-License-Identifier: Apache-2.0
/*
 * A librdkafka consumer of the audit topic, and the topic's partitions, for the two
 * readers of records: reader.c (a window of every partition, one after another) and
 * tail.c (every partition at once, and what comes after).
 */
#include <errno.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

#include "agent/audit/internal.h"

int kg_audit_consumer_open(struct kg_audit_consumer *k, const char *brokers, const char *topic,
			   const char *client_id, int timeout_ms, char *err, size_t errlen)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_resp_err_t e;

	*k = (struct kg_audit_consumer){0};
	/* EOF events tell a reader where a partition's end is */
	if (rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, errlen) ||
	    rd_kafka_conf_set(c, "enable.partition.eof", "true", err, errlen) ||
	    rd_kafka_conf_set(c, "client.id", client_id, err, errlen)) {
		rd_kafka_conf_destroy(c);
		return -EINVAL;
	}
	k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, errlen);
	if (!k->rk) {
		rd_kafka_conf_destroy(c); /* rd_kafka_new takes it only on success */
		return -EINVAL;
	}
	k->t = rd_kafka_topic_new(k->rk, topic, NULL);
	e = k->t ? rd_kafka_metadata(k->rk, 0, k->t, &k->md, timeout_ms) : rd_kafka_last_error();
	if (e || k->md->topic_cnt != 1 || k->md->topics[0].err) {
		snprintf(err, errlen, "metadata of %s from %s: %s", topic, brokers,
			 rd_kafka_err2str(e ? e : k->md->topics[0].err));
		kg_audit_consumer_close(k);
		return -EIO;
	}
	return 0;
}

void kg_audit_consumer_close(struct kg_audit_consumer *k)
{
	if (k->md)
		rd_kafka_metadata_destroy(k->md);
	if (k->t)
		rd_kafka_topic_destroy(k->t);
	if (k->rk)
		rd_kafka_destroy(k->rk);
	*k = (struct kg_audit_consumer){0};
}
