// SPDX-License-Identifier: Apache-2.0
/*
 * TC egress: the broker's responses to requests with rejected topics get each topic's
 * name back and the authorization error (29, or 31 for admin requests), for every API
 * whose requests kgate decodes; the rest passes byte for byte.
 */
#include "harness.h"

/*
 * n Produce requests, each naming its own denied topic, pipelined before any response;
 * then the broker's n responses, each echoing the poisoned name with its own error (17):
 * every one is answered with TOPIC_AUTHORIZATION_FAILED under the name as the client sent
 * it, none keeps the broker's error. Each rejection waits in kg_pend under its request's
 * number, so any number in flight (up to KG_INFLIGHT) is answered.
 */
static void pipelined_rejects(int n)
{
	static const int errs[] = { 17 };
	uint8_t b[PKT_CAP], pkt[PKT_CAP], out[PKT_CAP];
	int rewritten = 0, broker_errors = 0;
	struct pkt_spec br;
	struct pkt_view v;
	struct conn c;
	size_t len, rn, outlen;
	char name[8];

	apply_base(KG_MODE_ENFORCE);
	broker_open(&c, "10.20.0.5", &br, 9100); /* us: eu.* rejected */
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "eu.%03d", i);
		len = produce(name, b);
		CU_ASSERT_EQUAL(conn_send(&c, b, len), XDP_PASS);
		CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_REJECT);
		name[5] = '!';
		CU_ASSERT(name_end(c.out + c.v.payload_off, len, name) > 0); /* poisoned */
	}
	for (int i = 0; i < n; i++) {
		char echoed[8];
		const char *e = echoed;

		snprintf(name, sizeof(name), "eu.%03d", i);
		snprintf(echoed, sizeof(echoed), "%.5s!", name);
		rn = produce_response(7, &e, errs, 1, b);
		len = pkt_build(pkt, &br, b, rn);
		br.seq += rn;
		CU_ASSERT_EQUAL(tc_run(pkt, len, out, &outlen), TC_ACT_OK);
		CU_ASSERT_EQUAL_FATAL(pkt_parse(out, outlen, &v), 0);
		CU_ASSERT(v.tcp_csum_ok);
		/* name at 4 + 4 + 4 + 2, the error after the partition count and index */
		if (!memcmp(out + v.payload_off + 14, name, 6) &&
		    out[v.payload_off + 14 + 6 + 4 + 4 + 1] == 29)
			rewritten++;
		if (out[v.payload_off + 14 + 6 + 4 + 4 + 1] == 17)
			broker_errors++;
	}
	printf("\n    %d pipelined rejected requests: %d answered with 29, %d with the broker's "
	       "error",
	       n, rewritten, broker_errors);
	CU_ASSERT_EQUAL(rewritten, n);
	CU_ASSERT_EQUAL(broker_errors, 0);
}

void test_pipelined_rejects_16(void)
{
	pipelined_rejects(16);
}

void test_pipelined_rejects_64(void)
{
	pipelined_rejects(64);
}

/*
 * Past KG_INFLIGHT requests in flight, a response can no longer be tied to its request:
 * a topic rejected then resets the connection (counted: pending_full_resets) instead of
 * being poisoned, so its client never meets the broker's own, retriable error.
 */
void test_rejects_past_inflight(void)
{
	uint8_t b[PKT_CAP];
	__u64 full = counter(KG_C_PEND_FULL);
	struct pkt_spec br;
	struct conn c;
	size_t len;

	apply_base(KG_MODE_ENFORCE);
	broker_open(&c, "10.20.0.5", &br, 9100);
	len = produce("public", b);
	for (int i = 0; i < KG_INFLIGHT; i++)
		CU_ASSERT_EQUAL(conn_send(&c, b, len), XDP_PASS);
	len = produce("eu.orders", b);
	CU_ASSERT_EQUAL(conn_send(&c, b, len), XDP_PASS);
	CU_ASSERT(c.v.flags & PKT_RST);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_RESET);
	CU_ASSERT_EQUAL(counter(KG_C_PEND_FULL), full + 1);
}

/*
 * reject, end to end in the kernel: the request's denied topic is poisoned on ingress;
 * on egress the broker's answer for the poisoned name gets the name back and
 * TOPIC_AUTHORIZATION_FAILED, and the allowed topic's answer is untouched.
 */
void test_reject_response_rewritten(void)
{
	static const char *const topics[] = { "eu.orders", "public" };
	static const char *const echoed[] = { "eu.order!", "public" };
	static const char *const want_names[] = { "eu.orders", "public" };
	static const int errs[] = { 17 /* INVALID_TOPIC_EXCEPTION */, 0 };
	static const int want_errs[] = { 29, 0 };
	uint8_t b[PKT_CAP], pkt[PKT_CAP], out[PKT_CAP], first[PKT_CAP], want[PKT_CAP];
	struct pkt_spec br;
	struct pkt_view v;
	struct conn c;
	size_t n, rn, outlen, firstlen;

	apply_base(KG_MODE_ENFORCE);
	broker_open(&c, "10.20.0.5", &br, 7000);
	n = req(KAFKA_PRODUCE, 7, topics, 2, b); /* corr 7 */
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	check_event(0, KG_ACT_REJECT, 0, 1, KG_OP_PRODUCE, "eu.orders");

	rn = produce_response(7, echoed, errs, 2, b);
	produce_response(7, want_names, want_errs, 2, want);
	n = pkt_build(pkt, &br, b, rn);
	CU_ASSERT_EQUAL(tc_run(pkt, n, out, &outlen), TC_ACT_OK);
	pkt_parse(out, outlen, &v);
	CU_ASSERT_EQUAL(v.payload_len, rn);
	CU_ASSERT(!memcmp(out + v.payload_off, want, rn));
	CU_ASSERT(v.tcp_csum_ok);
	memcpy(first, out, outlen);
	firstlen = outlen;
	/* the broker retransmits: the same rewrite again */
	CU_ASSERT_EQUAL(tc_run(pkt, n, out, &outlen), TC_ACT_OK);
	CU_ASSERT(outlen == firstlen && !memcmp(out, first, outlen));

	/* a response to a request with nothing rejected passes untouched */
	n = req(KAFKA_PRODUCE, 7, &topics[1], 1, b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	rn = produce_response(7, &echoed[1], &errs[1], 1, b);
	br.seq = 7001 + produce_response(7, echoed, errs, 2, want);
	n = pkt_build(pkt, &br, b, rn);
	CU_ASSERT_EQUAL(tc_run(pkt, n, out, &outlen), TC_ACT_OK);
	pkt_parse(out, outlen, &v);
	CU_ASSERT(!memcmp(out + v.payload_off, b, rn) && v.tcp_csum_ok);
}

/*
 * The answers to a request naming eu.x and public, as the broker writes them (pass 0:
 * eu.x poisoned to "eu.!", a broker's error) and as the client must see them (pass 1:
 * the name back, 29). FetchResponse v11: throttle, error, session, then per topic one
 * partition.
 */
static size_t fetch_response(int key, int pass, uint8_t *out)
{
	struct wbuf w = { out, 4 };
	const char *names[2] = { pass ? "eu.x" : "eu.!", "public" };

	(void)key;
	w32(&w, 7), w32(&w, 0), w16(&w, 0), w32(&w, 0), w32(&w, 2);
	for (int t = 0; t < 2; t++) {
		w16(&w, 4 + 2 * t);
		memcpy(w.p + w.n, names[t], 4 + 2 * t), w.n += 4 + 2 * t;
		w32(&w, 1), w32(&w, 0);                          /* one partition, index 0 */
		w16(&w, t ? 0 : (pass ? 29 : 3));                /* error_code */
		for (int k = 0; k < 6; k++)
			w32(&w, 0);                              /* hw, lso, log start */
		w32(&w, -1);                                     /* aborted: null */
		w32(&w, -1);                                     /* preferred replica */
		w32(&w, 8), w32(&w, 0x11223344), w32(&w, 0x55667788); /* records */
	}
	wframe_end(&w);
	return w.n;
}

/* The same for MetadataResponse v4, whose topic error precedes the name. */
static size_t metadata_response(int key, int pass, uint8_t *out)
{
	struct wbuf w = { out, 4 };

	(void)key;
	w32(&w, 7), w32(&w, 0);                               /* corr, throttle */
	w32(&w, 1), w32(&w, 1), w16(&w, 2);                   /* brokers: node 1, "b1" */
	memcpy(w.p + w.n, "b1", 2), w.n += 2;
	w32(&w, 9092), w16(&w, -1);                           /* port, rack null */
	w16(&w, 2), memcpy(w.p + w.n, "c1", 2), w.n += 2;     /* cluster_id */
	w32(&w, 1), w32(&w, 2);                               /* controller, 2 topics */
	w16(&w, pass ? 29 : 3), w16(&w, 4);
	memcpy(w.p + w.n, pass ? "eu.x" : "eu.!", 4), w.n += 4;
	w.p[w.n++] = 0, w32(&w, 0);                           /* internal, 0 partitions */
	w16(&w, 0), w16(&w, 6), memcpy(w.p + w.n, "public", 6), w.n += 6;
	w.p[w.n++] = 0, w32(&w, 1);                           /* internal, 1 partition */
	w16(&w, 0), w32(&w, 0), w32(&w, 1);                   /* err, index, leader */
	w32(&w, 1), w32(&w, 1), w32(&w, 1), w32(&w, 1);       /* replicas [1], isr [1] */
	wframe_end(&w);
	return w.n;
}

/*
 * The same for ListOffsets v2 and OffsetCommit v7: per topic one partition 0, error at
 * +4 of the partition.
 */
static size_t simple_response(int key, int pass, uint8_t *out)
{
	struct wbuf w = { out, 4 };
	const char *names[2] = { pass ? "eu.x" : "eu.!", "public" };

	w32(&w, 7), w32(&w, 0), w32(&w, 2); /* corr, throttle, 2 topics */
	for (int t = 0; t < 2; t++) {
		w16(&w, 4 + 2 * t);
		memcpy(w.p + w.n, names[t], 4 + 2 * t), w.n += 4 + 2 * t;
		w32(&w, 1), w32(&w, 0);                   /* one partition, index 0 */
		w16(&w, t ? 0 : (pass ? 29 : 3));         /* error_code */
		if (key == KAFKA_LIST_OFFSETS)
			w32(&w, -1), w32(&w, -1), w32(&w, 0), w32(&w, 42); /* timestamp, offset */
	}
	wframe_end(&w);
	return w.n;
}

/*
 * From saddr in the us region, a request (key, version) naming eu.x, rejected by rule 0
 * (poisoned), and public. The broker's answer, as build writes it, must reach the
 * client as build writes it for the client, its checksum valid.
 */
static void eu_x_response(const char *saddr, uint32_t isn, int key, int ver, int op,
			  size_t (*build)(int key, int pass, uint8_t *out))
{
	static const char *const topics[] = { "eu.x", "public" };
	uint8_t b[PKT_CAP], pkt[PKT_CAP], out[PKT_CAP], want[PKT_CAP];
	struct pkt_spec br;
	struct pkt_view v;
	struct conn c;
	size_t n, outlen;

	broker_open(&c, saddr, &br, isn);
	n = req(key, ver, topics, 2, b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	check_event(0, KG_ACT_REJECT, 0, 1, op, "eu.x");
	n = build(key, 0, b);
	build(key, 1, want);
	CU_ASSERT_EQUAL(tc_run(pkt, pkt_build(pkt, &br, b, n), out, &outlen), TC_ACT_OK);
	pkt_parse(out, outlen, &v);
	CU_ASSERT(!memcmp(out + v.payload_off, want, n));
	CU_ASSERT(v.tcp_csum_ok);
}

/* A denied consume: the Fetch v11 response for the poisoned name says 29 under its name. */
void test_reject_fetch_response(void)
{
	apply_base(KG_MODE_ENFORCE);
	eu_x_response("10.20.0.7", 100, KAFKA_FETCH, 11, KG_OP_CONSUME, fetch_response);
}

/* A denied describe: the Metadata v4 topic error (it precedes the name) becomes 29. */
void test_reject_metadata_response(void)
{
	apply_base(KG_MODE_ENFORCE);
	eu_x_response("10.20.0.8", 300, KAFKA_METADATA, 4, KG_OP_DESCRIBE, metadata_response);
}

/* ListOffsets and OffsetCommit: the rejected topic's entry comes out named and with 29. */
void test_reject_offset_responses(void)
{
	apply_base(KG_MODE_ENFORCE);
	eu_x_response("10.20.0.9", 500, KAFKA_LIST_OFFSETS, 2, KG_OP_CONSUME, simple_response);
	eu_x_response("10.20.0.9", 500, KAFKA_OFFSET_COMMIT, 7, KG_OP_CONSUME, simple_response);
}

/*
 * One response with two topic entries, named names[t] with error errs[t]: as the broker
 * writes it (poisoned names) or as the client must see it (real names, kgate's error).
 */
static size_t admin_response(int key, int ver, int flex, const char *const *names,
			     const int *errs, uint8_t *out)
{
	struct wbuf w = { out, 4 };

	w32(&w, 7), wtf(&w, flex);                       /* corr, header tagged fields */
	switch (key) {
	case KAFKA_OFFSET_FETCH:
		w32(&w, 0);                                   /* throttle_time_ms */
		if (ver >= 8) {
			warr(&w, flex, 1), wstr(&w, flex, "g");  /* groups: "g" */
		}
		warr(&w, flex, 2);
		for (int t = 0; t < 2; t++) {
			wstr(&w, flex, names[t]);
			warr(&w, flex, 1), w32(&w, 0);           /* one partition, index 0 */
			w32(&w, -1), w32(&w, -1), w32(&w, -1);   /* committed offset, epoch */
			wstr(&w, flex, "");                      /* metadata */
			w16(&w, errs[t]), wtf(&w, flex);         /* error_code */
			wtf(&w, flex);
		}
		w16(&w, 0);                                   /* top-level / group error_code */
		if (ver >= 8)
			wtf(&w, flex);
		break;
	case KAFKA_CREATE_TOPICS:
	case KAFKA_DELETE_TOPICS:
		w32(&w, 0), warr(&w, flex, 2);
		for (int t = 0; t < 2; t++) {
			wstr(&w, flex, names[t]), w16(&w, errs[t]);
			if (key == KAFKA_CREATE_TOPICS)
				wstr(&w, flex, errs[t] ? "Invalid" : ""); /* error_message */
			wtf(&w, flex);
		}
		break;
	case KAFKA_DELETE_RECORDS:
	case KAFKA_ADD_PARTITIONS_TO_TXN:
		w32(&w, 0), warr(&w, flex, 2);
		for (int t = 0; t < 2; t++) {
			wstr(&w, flex, names[t]);
			warr(&w, flex, 1), w32(&w, 0);           /* one partition, index 0 */
			if (key == KAFKA_DELETE_RECORDS)
				w32(&w, 0), w32(&w, 42);          /* low_watermark */
			w16(&w, errs[t]), wtf(&w, flex);
			wtf(&w, flex);
		}
		break;
	case KAFKA_DESCRIBE_CONFIGS:
	case KAFKA_ALTER_CONFIGS:
	case KAFKA_INCREMENTAL_ALTER_CONFIGS:
		/* two topic resources, then a broker resource named like the poisoned topic */
		w32(&w, 0), warr(&w, flex, 3);
		for (int t = 0; t < 3; t++) {
			w16(&w, t < 2 ? errs[t] : 0);
			if (t < 2 && errs[t])
				wstr(&w, flex, "No");                /* error_message */
			else
				wnull(&w, flex);
			w.p[w.n++] = t < 2 ? 2 : 4;              /* resource_type: TOPIC, BROKER */
			wstr(&w, flex, t < 2 ? names[t] : "eu.!");
			if (key == KAFKA_DESCRIBE_CONFIGS) {     /* v1: one config, one synonym */
				warr(&w, flex, 1);
				wstr(&w, flex, "retention.ms"), wstr(&w, flex, "1");
				w.p[w.n++] = 0, w.p[w.n++] = 1, w.p[w.n++] = 0;
				warr(&w, flex, 1);
				wstr(&w, flex, "retention.ms"), wnull(&w, flex), w.p[w.n++] = 5;
			}
			wtf(&w, flex);
		}
		break;
	}
	wtf(&w, flex);
	wframe_end(&w);
	return w.n;
}

struct admin_case {
	int key, ver, flex, op, admin;
};

/*
 * From the us region, topics eu.x and public: eu.x is rejected by rule 0; for an admin
 * request public is too (rule 4, anonymous). Each rejected entry must come back with its
 * name and 29 (31 for admin requests), the rest byte for byte, the checksum valid.
 */
static void admin_resp_case(const struct admin_case *k)
{
	static const char *const topics[] = { "eu.x", "public" };
	const char *poisoned[2] = { "eu.!", k->admin ? "publi!" : "public" };
	int berrs[2] = { k->key == KAFKA_CREATE_TOPICS ? 17 : 3, k->admin ? 3 : 0 };
	int werrs[2] = { k->admin ? 31 : 29, k->admin ? 31 : 0 };
	uint8_t b[PKT_CAP], pkt[PKT_CAP], out[PKT_CAP], want[PKT_CAP];
	struct kf_topic t[2] = { { .name = topics[0], .partitions = 1 },
				 { .name = topics[1], .partitions = 1 } };
	struct kf_req r = { .api_key = k->key, .api_version = k->ver, .corr = 7,
			    .client_id = "app", .topics = t, .ntopics = 2, .group = "g",
			    .resource_type = KAFKA_RESOURCE_TOPIC };
	struct pkt_spec br;
	struct pkt_view v;
	struct conn c;
	size_t n, wn, outlen;

	broker_open(&c, "10.20.0.11", &br, 900);
	n = kf_build(&r, b, PKT_CAP);
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	check_event(0, KG_ACT_REJECT, 0, 1, k->op, "eu.x");
	check_event(1, k->admin ? KG_ACT_REJECT : KG_ACT_ALLOW, k->admin ? 4 : 6, 1, k->op,
		    "public");
	n = admin_response(k->key, k->ver, k->flex, poisoned, berrs, b);
	wn = admin_response(k->key, k->ver, k->flex, topics, werrs, want);
	CU_ASSERT_EQUAL(n, wn);
	CU_ASSERT_EQUAL(tc_run(pkt, pkt_build(pkt, &br, b, n), out, &outlen), TC_ACT_OK);
	pkt_parse(out, outlen, &v);
	CU_ASSERT_EQUAL(v.payload_len, n);
	CU_ASSERT(!memcmp(out + v.payload_off, want, n));
	CU_ASSERT(v.tcp_csum_ok);
	if (memcmp(out + v.payload_off, want, n))
		fprintf(stderr, "\n    api %d v%d: response not rewritten as expected\n", k->key,
			k->ver);
}

/* The cases, under the base policy. */
static void admin_resp_cases(const struct admin_case *cases, size_t n)
{
	apply_base(KG_MODE_ENFORCE);
	for (size_t i = 0; i < n; i++)
		admin_resp_case(&cases[i]);
}

void test_reject_admin_responses(void)
{
	static const struct admin_case cases[] = {
		{ KAFKA_CREATE_TOPICS, 4, 0, KG_OP_ADMIN, 1 },
		{ KAFKA_DELETE_TOPICS, 3, 0, KG_OP_ADMIN, 1 },
		{ KAFKA_DELETE_TOPICS, 4, 1, KG_OP_ADMIN, 1 },
		{ KAFKA_DELETE_RECORDS, 1, 0, KG_OP_ADMIN, 1 },
		{ KAFKA_ALTER_CONFIGS, 0, 0, KG_OP_ADMIN, 1 },
		{ KAFKA_ALTER_CONFIGS, 2, 1, KG_OP_ADMIN, 1 },
		{ KAFKA_INCREMENTAL_ALTER_CONFIGS, 1, 1, KG_OP_ADMIN, 1 },
	};

	admin_resp_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

void test_reject_describe_configs_response(void)
{
	static const struct admin_case k = { KAFKA_DESCRIBE_CONFIGS, 1, 0, KG_OP_DESCRIBE, 0 };

	admin_resp_cases(&k, 1);
}

void test_reject_offset_fetch_and_txn_responses(void)
{
	static const struct admin_case cases[] = {
		{ KAFKA_OFFSET_FETCH, 5, 0, KG_OP_CONSUME, 0 },
		{ KAFKA_OFFSET_FETCH, 8, 1, KG_OP_CONSUME, 0 },
		{ KAFKA_ADD_PARTITIONS_TO_TXN, 1, 0, KG_OP_PRODUCE, 0 },
	};

	admin_resp_cases(cases, sizeof(cases) / sizeof(cases[0]));
}
