// SPDX-License-Identifier: Apache-2.0
/*
 * Decision events: one ring-buffer record per packet, one event per topic in order;
 * a full ring buffer counts every lost event by its verdict class.
 */
#include <arpa/inet.h>

#include "harness.h"

/* A Metadata v1 request naming n topics "m.0", "m.1"... (first "eu.m" when eu_first). */
static size_t metadata_n(int n, bool eu_first, char names[][16], uint8_t *out)
{
	struct kf_topic t[200] = {};
	struct kf_req r = { .api_key = KAFKA_METADATA, .api_version = 1, .corr = 7,
			    .client_id = "app", .topics = t, .ntopics = n };

	CU_ASSERT_FATAL(n <= 200);
	for (int i = 0; i < n; i++) {
		snprintf(names[i], 16, i == 0 && eu_first ? "eu.m" : "m.%d", i);
		t[i].name = names[i];
	}
	return kf_build(&r, out, PKT_CAP);
}

/*
 * A packet's decision events leave as one ring-buffer record (kg_ev_begin/kg_ev_end);
 * read back they are one event per topic, in request order, with their topics. A packet
 * whose events overflow the per-CPU staging buffer sends it early: still every event,
 * in order, in more records.
 */
void test_events_one_record_per_packet(void)
{
	static const char *const five[] = { "public", "eu.orders", "a", "audited",
					    "a.topic.name.longer.than.the.dcache.memo.holds" };
	static const int verdict[] = { KG_ACT_ALLOW, KG_ACT_REJECT, KG_ACT_ALLOW, KG_ACT_REJECT,
				       KG_ACT_ALLOW };
	static const __u32 rule[] = { 6, 0, 6, 5, 6 };
	/*
	 * Anonymous, client id "app", names "m.0"... "m.199": each event takes
	 * KG_REC_DEC_SIZE(0, 3, 5) after the record's context, while room for the largest
	 * context and event is left.
	 */
	const int per_rec = (KG_EVBATCH_BYTES - KG_REC_CTX_MAX - KG_REC_DEC_MAX -
			     KG_REC_CTX_SIZE(0)) / KG_REC_DEC_SIZE(0, 3, 5) + 1;
	char names[200][16];
	uint8_t b[PKT_CAP];
	struct conn c;
	size_t n;

	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.20.0.5", 0); /* us: eu.* is rejected */
	n = req(KAFKA_PRODUCE, 7, five, 5, b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(dp.nrec, 1);
	CU_ASSERT_EQUAL_FATAL(dp.nev, 5);
	for (int i = 0; i < 5; i++) {
		check_event(i, verdict[i], rule[i], i != 3, KG_OP_PRODUCE, five[i]);
		CU_ASSERT_EQUAL(dp.ev[i].kind, KG_EV_TOPIC);
		CU_ASSERT_EQUAL(dp.ev[i].topic[dp.ev[i].topic_len], 0);
		CU_ASSERT_EQUAL(dp.ev[i].corr, 7);
		CU_ASSERT_EQUAL(dp.ev[i].ts_ns, dp.ev[0].ts_ns); /* one clock read per packet */
	}
	/* one topic, one event, one record */
	n = produce("public", b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(dp.nrec, 1);
	CU_ASSERT_EQUAL(dp.nev, 1);
	check_event(0, KG_ACT_ALLOW, 6, 1, KG_OP_PRODUCE, "public");

	/* more events than one staging buffer holds */
	CU_ASSERT_FATAL(per_rec < 200);
	n = metadata_n(200, false, names, b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(dp.nrec, (200 + per_rec - 1) / per_rec);
	CU_ASSERT_EQUAL_FATAL(dp.nev, 200);
	for (int i = 0; i < 200; i++) {
		check_event(i, KG_ACT_ALLOW, 6, 1, KG_OP_DESCRIBE, names[i]);
		CU_ASSERT(dp.ev[i].client_id_len == 3 && !memcmp(dp.ev[i].client_id, "app", 3));
		CU_ASSERT_EQUAL(dp.ev[i].flow.sport, htons(c.s.sport)); /* each record's context */
	}
}

/*
 * When the ring buffer is full, every event of a record that cannot be queued is counted
 * lost by its own verdict class: what was read plus what was counted lost is every
 * decision, class by class (the agent's gap records rely on it).
 */
void test_events_lost_by_class(void)
{
	/* per packet: one deny (eu.m from us, rule 0; monitor mode: not enforced), 39 allows */
	const int per_pkt = 40,
		  pkts = 16 * 1024 * 1024 /
				 (KG_REC_CTX_SIZE(0) + per_pkt * KG_REC_DEC_SIZE(0, 3, 5)) +
			 200;
	__u64 lost[2], seen[2];
	char names[200][16];
	uint8_t b[PKT_CAP];
	struct conn c;
	size_t n;
	int bad = 0;

	apply_base(KG_MODE_MONITOR);
	conn_open(&c, 4, "10.20.0.5", 0);
	n = metadata_n(per_pkt, true, names, b);
	lost[KG_LOST_ALLOW] = counter(KG_C_EVENTS_LOST_ALLOW);
	lost[KG_LOST_DENY] = counter(KG_C_EVENTS_LOST_DENY);
	memcpy(seen, dp.seen, sizeof(seen));
	dp.hold = 1; /* nobody reads: the ring buffer fills */
	for (int i = 0; i < pkts; i++)
		bad += conn_send(&c, b, n) != XDP_PASS;
	dp.hold = 0;
	ring_buffer__consume(dp.rb);
	CU_ASSERT_EQUAL(bad, 0);
	lost[KG_LOST_ALLOW] = counter(KG_C_EVENTS_LOST_ALLOW) - lost[KG_LOST_ALLOW];
	lost[KG_LOST_DENY] = counter(KG_C_EVENTS_LOST_DENY) - lost[KG_LOST_DENY];
	seen[KG_LOST_ALLOW] = dp.seen[KG_LOST_ALLOW] - seen[KG_LOST_ALLOW];
	seen[KG_LOST_DENY] = dp.seen[KG_LOST_DENY] - seen[KG_LOST_DENY];
	printf("\n    %d packets of %d events, ring buffer unread: read %llu allow + %llu deny, "
	       "lost %llu allow + %llu deny",
	       pkts, per_pkt, (unsigned long long)seen[KG_LOST_ALLOW],
	       (unsigned long long)seen[KG_LOST_DENY], (unsigned long long)lost[KG_LOST_ALLOW],
	       (unsigned long long)lost[KG_LOST_DENY]);
	CU_ASSERT(lost[KG_LOST_ALLOW] > 0 && lost[KG_LOST_DENY] > 0);
	CU_ASSERT_EQUAL(seen[KG_LOST_ALLOW] + lost[KG_LOST_ALLOW], (__u64)pkts * (per_pkt - 1));
	CU_ASSERT_EQUAL(seen[KG_LOST_DENY] + lost[KG_LOST_DENY], (__u64)pkts);
	/* read back, the ring buffer takes events again */
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(dp.nev, per_pkt);
	check_event(0, KG_ACT_REJECT, 0, 0, KG_OP_DESCRIBE, "eu.m");
}
