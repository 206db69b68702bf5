// SPDX-License-Identifier: Apache-2.0
/*
 * Topic ids: resolved through kg_topic_ids, unknown ones by policy, an entry with a name
 * and an id decided on both; a rejected id written back in the broker's response.
 */

#include "harness.h"

/* Topic ids (Produce v13): resolved through kg_topic_ids; an unknown id takes unknown_topic_id. */
void test_topic_ids(void)
{
	struct kf_topic t = { .partitions = 1, .record_bytes = 10 };
	struct kf_req r = { .api_key = KAFKA_PRODUCE, .api_version = 13, .corr = 3,
			    .client_id = "app", .topics = &t, .ntopics = 1 };
	struct kg_topic_name tn = { .len = 9 };
	uint8_t b[PKT_CAP];
	struct conn c;
	size_t n, at;

	apply_base(KG_MODE_ENFORCE);
	memcpy(tn.name, "eu.orders", 9);
	for (int i = 0; i < 16; i++)
		t.id[i] = 0x40 + i;
	CU_ASSERT_EQUAL_FATAL(bpf_map_update_elem(dp.m.topic_ids, t.id, &tn, BPF_ANY), 0);
	n = kf_build(&r, b, PKT_CAP);
	for (at = 0; at + 16 <= n && memcmp(b + at, t.id, 16); at++)
		;
	CU_ASSERT_FATAL(at + 16 <= n);
	/* a known id from eu: decided by its name, allowed */
	conn_open(&c, 4, "10.10.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	check_event(0, KG_ACT_ALLOW, 6, 1, KG_OP_PRODUCE, "eu.orders");
	CU_ASSERT(!memcmp(c.out + c.v.payload_off, b, n));
	/* the same id from us: denied by its name, the id zeroed in place */
	conn_open(&c, 4, "10.20.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	check_event(0, KG_ACT_REJECT, 0, 1, KG_OP_PRODUCE, "eu.orders");
	{
		static const uint8_t zero[16];

		CU_ASSERT(!memcmp(c.out + c.v.payload_off + at, zero, 16));
		CU_ASSERT(c.v.tcp_csum_ok);
	}
	/* an unknown id: the policy's unknown_topic_id (reject) */
	t.id[15] ^= 0xff;
	n = kf_build(&r, b, PKT_CAP);
	conn_open(&c, 4, "10.10.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].verdict, KG_ACT_REJECT);
	CU_ASSERT_EQUAL(dp.ev[0].rule_id, ~0u);
	CU_ASSERT_EQUAL(counter(KG_C_UNKNOWN_TOPIC_IDS) > 0, 1);
	t.id[15] ^= 0xff;
	bpf_map_delete_elem(dp.m.topic_ids, t.id);
}

/*
 * The broker's ProduceResponse v13 to test_topic_id_response's request: the zeroed id
 * with UNKNOWN_TOPIC_ID (100), then public's id. Header tags: none; with odd, one
 * unknown tag of one byte, which puts the id at an odd offset (its last 2-byte write
 * then ends the segment there). The ids' offsets go to id_at; returns the length.
 */
static size_t id_response(const uint8_t *public_id, int odd, uint8_t *b, size_t id_at[2])
{
	static const uint8_t zero[16];
	struct wbuf w = { b, 0 };

	w32(&w, 0), w32(&w, 3); /* size, correlation id */
	if (odd)
		b[w.n++] = 1, b[w.n++] = 5, b[w.n++] = 1, b[w.n++] = 0;
	else
		b[w.n++] = 0;
	b[w.n++] = 3;                          /* two topics */
	for (int k = 0; k < 2; k++) {
		id_at[k] = w.n;
		memcpy(b + w.n, k ? public_id : zero, 16), w.n += 16;
		b[w.n++] = 2; /* one partition */
		w32(&w, 0), w16(&w, k ? 0 : 100);
		for (int i = 0; i < 6; i++)
			w32(&w, -1); /* base offset, log append time, log start */
		b[w.n++] = 1, b[w.n++] = 0, b[w.n++] = 0; /* record_errors, message, tags */
		b[w.n++] = 0;                             /* topic tags */
	}
	w32(&w, 0), b[w.n++] = 0; /* throttle_time_ms, tags */
	wframe_end(&w);
	return w.n;
}

/* The answer (n bytes of b) in one segment: t[0]'s id written back with 29, t[1]'s kept. */
static void id_response_whole(struct pkt_spec *br, const uint8_t *b, size_t n,
			      const size_t id_at[2], const struct kf_topic *t)
{
	uint8_t pkt[PKT_CAP], out[PKT_CAP];
	struct pkt_view v;
	size_t outlen;
	const uint8_t *o;

	CU_ASSERT_EQUAL(tc_run(pkt, pkt_build(pkt, br, b, n), out, &outlen), TC_ACT_OK);
	CU_ASSERT_EQUAL_FATAL(pkt_parse(out, outlen, &v), 0);
	CU_ASSERT(v.tcp_csum_ok);
	o = out + v.payload_off;
	printf("\n    response: id %s, error %u; other topic id %s, error %u",
	       !memcmp(o + id_at[0], t[0].id, 16) ? "restored" : "NOT restored", o[id_at[0] + 22],
	       !memcmp(o + id_at[1], t[1].id, 16) ? "kept" : "CHANGED", o[id_at[1] + 22]);
	CU_ASSERT(!memcmp(o + id_at[0], t[0].id, 16));
	CU_ASSERT_EQUAL(o[id_at[0] + 21], 0); /* error_code, high byte */
	CU_ASSERT_EQUAL(o[id_at[0] + 22], 29); /* TOPIC_AUTHORIZATION_FAILED */
	CU_ASSERT(!memcmp(o + id_at[1], t[1].id, 16));
	CU_ASSERT_EQUAL(o[id_at[1] + 22], 0);
}

/* The same answer cut right after the zeroed id (it ends the segment), then the rest. */
static void id_response_split(struct pkt_spec *br, uint8_t *b, size_t n, const size_t id_at[2],
			      const uint8_t *id)
{
	uint8_t pkt[PKT_CAP], out[PKT_CAP];
	size_t cut = id_at[0] + 16, outlen;
	struct pkt_view v;

	CU_ASSERT_EQUAL(tc_run(pkt, pkt_build(pkt, br, b, cut), out, &outlen), TC_ACT_OK);
	CU_ASSERT_EQUAL_FATAL(pkt_parse(out, outlen, &v), 0);
	CU_ASSERT(v.tcp_csum_ok);
	printf("\n    id ending a segment: %s",
	       !memcmp(out + v.payload_off + id_at[0], id, 16) ? "restored" : "NOT restored");
	CU_ASSERT(!memcmp(out + v.payload_off + id_at[0], id, 16));
	/* the rest: the answer as it left the broker, then as it came out */
	memcpy(b + id_at[0], out + v.payload_off + id_at[0], 16);
	br->seq += cut;
	CU_ASSERT_EQUAL(tc_run(pkt, pkt_build(pkt, br, b + cut, n - cut), out, &outlen),
			TC_ACT_OK);
	CU_ASSERT_EQUAL_FATAL(pkt_parse(out, outlen, &v), 0);
	CU_ASSERT(v.tcp_csum_ok);
	memcpy(b + cut, out + v.payload_off, n - cut);
	CU_ASSERT_EQUAL(b[id_at[0] + 22], 29);
	CU_ASSERT_EQUAL(b[id_at[1] + 22], 0);
}

/*
 * A topic rejected by id only (Produce v13): the broker echoes the zeroed id with
 * UNKNOWN_TOPIC_ID; TC egress writes the id back and TOPIC_AUTHORIZATION_FAILED.
 */
void test_topic_id_response(void)
{
	struct kf_topic t[2] = { { .partitions = 1, .record_bytes = 10 },
				 { .partitions = 1, .record_bytes = 10 } };
	struct kf_req r = { .api_key = KAFKA_PRODUCE, .api_version = 13, .corr = 3,
			    .client_id = "app", .topics = t, .ntopics = 2 };
	struct kg_topic_name tn = { .len = 9 };
	uint8_t b[PKT_CAP];
	struct pkt_spec br;
	struct conn c;
	size_t n, id_at[2];

	apply_base(KG_MODE_ENFORCE);
	memcpy(tn.name, "eu.orders", 9);
	for (int i = 0; i < 16; i++)
		t[0].id[i] = 0x40 + i, t[1].id[i] = 0x80 + i;
	CU_ASSERT_EQUAL_FATAL(bpf_map_update_elem(dp.m.topic_ids, t[0].id, &tn, BPF_ANY), 0);
	tn.len = 6;
	memcpy(tn.name, "public", 6);
	CU_ASSERT_EQUAL_FATAL(bpf_map_update_elem(dp.m.topic_ids, t[1].id, &tn, BPF_ANY), 0);
	/* the response whole, then cut right after the zeroed id (it ends the segment) */
	for (int split = 0; split < 2; split++) {
		n = kf_build(&r, b, PKT_CAP);
		broker_open(&c, "10.20.0.5", &br, 5000); /* us: eu.orders denied, public allowed */
		CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
		CU_ASSERT_EQUAL_FATAL(dp.nev, 2);
		CU_ASSERT_EQUAL(dp.ev[0].verdict, KG_ACT_REJECT);
		CU_ASSERT_EQUAL(dp.ev[1].verdict, KG_ACT_ALLOW);
		n = id_response(t[1].id, split, b, id_at);
		if (split)
			id_response_split(&br, b, n, id_at, t[0].id);
		else
			id_response_whole(&br, b, n, id_at, t);
	}
	bpf_map_delete_elem(dp.m.topic_ids, t[0].id);
	bpf_map_delete_elem(dp.m.topic_ids, t[1].id);
}

/* 5. Metadata v12 entry with an allowed name and a denied topic id. */
void rv_metadata_name_and_id(void)
{
	uint8_t b[PKT_CAP], id[16];
	struct kf_topic t = { .name = "public", .partitions = 1 };
	struct kf_req r = { .api_key = KAFKA_METADATA, .api_version = 12, .corr = 1,
			    .client_id = "app", .topics = &t, .ntopics = 1 };
	struct kg_topic_name tn = {};
	struct conn c;
	size_t n, e;

	for (int i = 0; i < 16; i++)
		id[i] = t.id[i] = 0xa0 + i;
	tn.len = strlen("eu.orders");
	memcpy(tn.name, "eu.orders", tn.len);
	CU_ASSERT_EQUAL_FATAL(bpf_map_update_elem(dp.m.topic_ids, id, &tn, BPF_ANY), 0);
	apply_base(KG_MODE_ENFORCE);
	n = kf_build(&r, b, PKT_CAP);
	e = name_end(b, n, "public");
	conn_open(&c, 4, "10.20.0.5", 0); /* us: eu.* denied */
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	{
		const uint8_t *o = c.out + c.v.payload_off;
		int id_zeroed = 1;

		/* v12 is flexible: the id, then the name with a 1-byte compact length */
		for (int i = 0; i < 16; i++)
			if (o[e - 6 - 1 - 16 + i] != 0)
				id_zeroed = 0;
		printf("\n    Metadata v12 {id(eu.orders), name 'public'}: %d events, verdict %u; "
		       "name now '%.6s', id %s",
		       dp.nev, dp.nev ? dp.ev[0].verdict : 99, (const char *)o + e - 6,
		       id_zeroed ? "zeroed" : "intact");
		CU_ASSERT(id_zeroed);
	}
	bpf_map_delete_elem(dp.m.topic_ids, id);
}
