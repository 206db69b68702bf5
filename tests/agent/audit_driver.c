// SPDX-License-Identifier: Apache-2.0
/*
 * audit_driver: the audit pipeline (agent/audit*.c) fed synthetic decision events, no
 * BPF: what tests/agent/test_audit.sh runs against librdkafka's mock cluster.
 *
 *   audit_driver --node N --brokers B --topic T --spool DIR [--file F]
 *                [--observe SOCK] [--metrics ADDR:PORT] --count N [--rate R]
 *                [--batch B] [--mem-max BYTES] [--drain-timeout S] [--hold S]
 *
 * Feeds N events (R per second; 0 = as fast as it can; in batches of B as kgate run
 * drains its ring buffers, kg_audit_batch_*, or one by one; --mem-max bounds what the
 * spool keeps in memory for the sender, KG_SPOOL_MEM_BYTES), then waits until Kafka has
 * confirmed every spooled record (--drain-timeout, default 60 s), optionally serves
 * for --hold more seconds (metrics, observe), closes, and prints one JSON line of
 * numbers on stdout. Exit 0 when drained, 3 when the timeout came first.
 * Event i (from 0): topic "orders-<i % 10>", verdict reject when i % 3 == 0 else allow,
 * correlation id i, principal "alice" (SASL), client id "drv".
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/audit/internal.h"
#include "agent/metrics/metrics.h"
#include "bpf/kafka_decode.h"
#include "tests/lib/longopts.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void names(void *ctx, const struct kg_event *ev, struct kg_event_names *out)
{
	(void)ctx;
	snprintf(out->policy_version, sizeof(out->policy_version), "drv-%u", ev->version_id);
	out->allow_sample = 1; /* audit.allow: all */
	if (ev->rule_id != ~0u)
		snprintf(out->rule, sizeof(out->rule), "rule-%u", ev->rule_id);
	snprintf(out->region, sizeof(out->region), "eu");
}

static void make_event(struct kg_event *ev, __u64 i)
{
	int tl;

	memset(ev, 0, sizeof(*ev));
	ev->ts_ns = mono_ns();
	ev->flow.family = 4;
	inet_pton(AF_INET, "10.0.1.5", ev->flow.saddr);
	inet_pton(AF_INET, "10.0.0.9", ev->flow.daddr);
	ev->flow.sport = htons(40000 + i % 1000);
	ev->flow.dport = htons(9092);
	ev->version_id = 1;
	ev->rule_id = i % 3 == 0 ? 0 : ~0u;
	ev->corr = (__s32)i;
	ev->frame_size = 100 + i % 900;
	ev->api_key = 0;
	ev->api_version = 9;
	ev->principal_id = 1;
	ev->kind = KG_EV_TOPIC;
	ev->verdict = i % 3 == 0 ? KG_ACT_REJECT : KG_ACT_ALLOW;
	/* runs of 1 to 5 identical decisions over (count - 1) us; some carry 3 folded ones */
	ev->count = 1 + i % 5;
	ev->first_ts = ev->ts_ns - 1000 * (i % 5);
	ev->folded = i % 7 == 0 ? 3 : 0;
	ev->folded_deny = i % 3 == 0 ? ev->folded : 0;
	ev->enforced = 1;
	ev->op = KG_OP_PRODUCE;
	ev->region_id = 0;
	ev->principal_src = KG_PSRC_SASL;
	ev->tkind = KD_TK_NAME;
	ev->principal_len = 5;
	memcpy(ev->principal, "alice", 5);
	ev->client_id_len = 3;
	memcpy(ev->client_id, "drv", 3);
	tl = snprintf((char *)ev->topic, sizeof(ev->topic), "orders-%u", (unsigned)(i % 10));
	ev->topic_len = tl;
}

static __u64 depth(struct kg_audit *a)
{
	__u64 d;

	pthread_mutex_lock(&a->spool.lock);
	d = a->spool.records;
	pthread_mutex_unlock(&a->spool.lock);
	return d;
}

int main(int argc, char **argv)
{
	struct kg_audit_opts o = {.names = names};
	const char *metrics_addr = NULL;
	struct kg_metrics *m = NULL;
	double rate = 0, drain_timeout = 60, hold = 0, t0, t1, t2;
	__u64 count = 0, batch = 0, mem_max = 0, first;
	struct kg_sender_stats st;
	struct kg_audit *a;
	struct kg_event ev;
	char err[512];
	bool drained;
	const struct lopt opts[] = {
		{"node", LOPT_STR, &o.node},
		{"brokers", LOPT_STR, &o.brokers},
		{"topic", LOPT_STR, &o.topic},
		{"spool", LOPT_STR, &o.spool_dir},
		{"file", LOPT_STR, &o.file},
		{"observe", LOPT_STR, &o.observe_sock},
		{"metrics", LOPT_STR, &metrics_addr},
		{"count", LOPT_ULL, &count},
		{"rate", LOPT_DOUBLE, &rate},
		{"drain-timeout", LOPT_DOUBLE, &drain_timeout},
		{"hold", LOPT_DOUBLE, &hold},
		{"batch", LOPT_ULL, &batch},
		{"mem-max", LOPT_ULL, &mem_max},
	};

	if (lopt_parse(opts, sizeof(opts) / sizeof(opts[0]), argc, argv)) {
		fprintf(stderr, "audit_driver: bad arguments (see the source's header)\n");
		return 2;
	}
	a = kg_audit_open(&o, err, sizeof(err));
	if (!a) {
		fprintf(stderr, "audit_driver: %s\n", err);
		return 1;
	}
	if (mem_max && a->kafka)
		a->spool.mem_max = mem_max; /* only this thread writes the spool */
	if (metrics_addr &&
	    !(m = kg_metrics_open(metrics_addr, &(struct kg_metrics_sources){.audit = a}, err,
				  sizeof(err)))) {
		fprintf(stderr, "audit_driver: %s\n", err);
		return 1;
	}
	first = a->next_seq;
	fprintf(stderr, "audit_driver: first seq %llu, spool depth %llu\n",
		(unsigned long long)first, (unsigned long long)depth(a));
	t0 = now_s();
	for (__u64 i = 0; i < count; i++) {
		make_event(&ev, i);
		if (batch && i % batch == 0)
			kg_audit_batch_begin(a);
		if (kg_audit_event(a, &ev)) {
			fprintf(stderr, "audit_driver: kg_audit_event failed\n");
			return 1;
		}
		if (batch && (i % batch == batch - 1 || i == count - 1))
			kg_audit_batch_end(a);
		if (rate > 0) {
			double due = t0 + (i + 1) / rate;

			while (now_s() < due)
				kg_metrics_poll_with(m, a, (int)((due - now_s()) * 1000) + 1);
		} else if (i % 1024 == 0) {
			kg_metrics_poll_with(m, a, 0);
		}
	}
	t1 = now_s();
	fprintf(stderr, "audit_driver: fed %llu\n", (unsigned long long)count);
	while (depth(a) && now_s() - t1 < drain_timeout)
		kg_metrics_poll_with(m, a, 2);
	t2 = now_s();
	drained = depth(a) == 0;
	while (now_s() - t2 < hold)
		kg_metrics_poll_with(m, a, 50);
	kg_sender_stats(a, &st);
	printf("{\"fed\":%llu,\"first_seq\":%llu,\"last_seq\":%llu,\"feed_s\":%.3f,\"drain_s\":%."
	       "3f,"
	       "\"delivered\":%llu,\"already_delivered\":%llu,\"delivery_errors\":%llu,"
	       "\"read_back\":%llu,"
	       "\"drained\":%s,\"rate\":%.0f}\n",
	       (unsigned long long)count, (unsigned long long)first,
	       (unsigned long long)a->next_seq - 1, t1 - t0, t2 - t1,
	       (unsigned long long)st.delivered, (unsigned long long)st.skipped,
	       (unsigned long long)st.produce_errors, (unsigned long long)st.from_files,
	       drained ? "true" : "false",
	       st.delivered / (t2 - t0 > 0 ? t2 - t0 : 1));
	fflush(stdout);
	kg_metrics_close(m);
	kg_audit_close(a, 5000);
	return drained ? 0 : 3;
}
