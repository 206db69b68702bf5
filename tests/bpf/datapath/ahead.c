// SPDX-License-Identifier: Apache-2.0
/*
 * Segments ahead of the next expected byte (in-order normalization, DESIGN §2): one that
 * lies wholly inside bytes the decoder skips by length (a record set, the rest of a client
 * id or of a frame) passes and is remembered; anything else ahead is dropped. The edges of
 * the skip region, forged frames inside it, retransmissions over it, a RST after it, and
 * more ahead segments than the flow remembers.
 */
#include "harness.h"

/* Record bytes of the Produce the cases split: several segments' worth. */
#define AH_RECORDS 3000

/*
 * A Produce v7 of topic whose one partition carries AH_RECORDS record bytes (the last
 * bytes of the frame, all of them skipped by length); returns its length. The record
 * bytes are filled with fill (a frame the decoder must never read, when given).
 */
static size_t big_produce(const char *topic, uint8_t *out, const uint8_t *fill, size_t fill_len)
{
	struct kf_topic t = { .name = topic, .partitions = 1, .record_bytes = AH_RECORDS };
	struct kf_req r = { .api_key = KAFKA_PRODUCE, .api_version = 7, .corr = 3,
			    .client_id = "app", .topics = &t, .ntopics = 1 };
	size_t n = kf_build(&r, out, 8192);

	for (size_t i = 0; i < AH_RECORDS; i++)
		out[n - AH_RECORDS + i] = fill ? fill[i % fill_len] : (uint8_t)(i * 7);
	return n;
}

/* Sends bytes [from, to) of stream s at their sequence numbers (base: s[0]); the verdict. */
static int part(struct conn *c, uint32_t base, const uint8_t *s, size_t from, size_t to)
{
	return conn_send_at(c, base + from, s + from, to - from);
}

/*
 * The record bytes of a Produce arrive out of order: the tail first, then the middle,
 * then the gap before them. Each ahead part passes (counted), the gap's arrival jumps the
 * flow over them to the frame's end, and the requests after it are framed and answered
 * as if all had come in order: the next one's rejected topic gets its 29 in the second
 * response (its request was counted, so responses still pair with requests).
 */
void test_ahead_inside_records(void)
{
	static const int errs0[] = { 0 }, errs1[] = { 17 };
	const char *n0 = "public", *n1 = "eu.order!";
	uint8_t s[16384], b[PKT_CAP], pkt[PKT_CAP], out[PKT_CAP];
	size_t n, m, rn, l0, len, outlen, rec;
	__u64 passed = counter(KG_C_AHEAD_PASSED), ooo = counter(KG_C_OOO_DROPS);
	struct pkt_spec br;
	struct pkt_view v;
	struct conn c;
	uint32_t base;

	apply_base(KG_MODE_ENFORCE);
	broker_open(&c, "10.20.0.5", &br, 9100); /* us: eu.* rejected */
	base = c.next;
	n = big_produce("public", s, NULL, 0);
	m = n + produce("eu.orders", s + n);
	rec = n - AH_RECORDS;
	CU_ASSERT_EQUAL(part(&c, base, s, 0, rec + 100), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
	/* the end of the records (and of the frame), then their middle: ahead, inside */
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 2100, n), XDP_PASS);
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 1100, rec + 2100), XDP_PASS);
	CU_ASSERT_EQUAL(counter(KG_C_AHEAD_PASSED), passed + 2);
	CU_ASSERT_EQUAL(dp.nev, 0);
	/* the next request ahead: bytes the decoder must read, dropped */
	CU_ASSERT_EQUAL(part(&c, base, s, n, m), XDP_DROP);
	CU_ASSERT_EQUAL(counter(KG_C_OOO_DROPS), ooo + 1);
	/* the gap: the flow jumps to the frame's end */
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 100, rec + 1100), XDP_PASS);
	/* the next request, now in order, is decided and poisoned */
	CU_ASSERT_EQUAL(part(&c, base, s, n, m), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_REJECT);
	CU_ASSERT(name_end(c.out + c.v.payload_off, m - n, "eu.order!") > 0);
	/* both answers: the second takes the rewrite, so the first request was counted */
	rn = produce_response(3, &n0, errs0, 1, b);
	l0 = rn;
	rn += produce_response(7, &n1, errs1, 1, b + rn);
	len = pkt_build(pkt, &br, b, rn);
	CU_ASSERT_EQUAL(tc_run(pkt, len, out, &outlen), TC_ACT_OK);
	CU_ASSERT_EQUAL_FATAL(pkt_parse(out, outlen, &v), 0);
	CU_ASSERT(!memcmp(out + v.payload_off + l0 + 14, "eu.orders", 9));
	CU_ASSERT_EQUAL(out[v.payload_off + l0 + 14 + 9 + 4 + 4 + 1], 29);
}

/*
 * The edges: an ahead segment ending exactly where the skip ends passes; one byte past it,
 * one starting at its end (the next frame's size) and one across the next frame's size
 * are dropped.
 */
void test_ahead_edges(void)
{
	uint8_t s[16384];
	size_t n, m, rec;
	struct conn c;
	uint32_t base;

	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.10.0.5", 0);
	base = c.next;
	n = big_produce("public", s, NULL, 0);
	m = n + produce("public", s + n);
	rec = n - AH_RECORDS;
	CU_ASSERT_EQUAL(part(&c, base, s, 0, rec + 10), XDP_PASS);
	CU_ASSERT_EQUAL(part(&c, base, s, n - 500, n + 1), XDP_DROP);  /* one byte past */
	CU_ASSERT_EQUAL(part(&c, base, s, n, n + 8), XDP_DROP);        /* at the skip's end */
	CU_ASSERT_EQUAL(part(&c, base, s, n - 2, n + 2), XDP_DROP);    /* across the size */
	CU_ASSERT_EQUAL(part(&c, base, s, n - 500, n), XDP_PASS);      /* ends at the end */
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 11, rec + 12), XDP_PASS); /* one byte, inside */
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 10, n - 500), XDP_PASS);  /* the rest */
	dp.nev = 0;
	CU_ASSERT_EQUAL(part(&c, base, s, n, m), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW && dp.ev[0].corr == 7);
}

/*
 * The record bytes hold a whole Produce of 'secret' (which rule 1 resets), sent ahead: it
 * passes, and is never decoded; the skip that let it pass was read from bytes already in
 * order, so the broker frames the stream the same way. The gap filled, the request after
 * the frame is decided as the next request.
 */
void test_ahead_forged_frame(void)
{
	uint8_t s[16384], hidden[PKT_CAP];
	size_t n, m, rec, h = produce("secret", hidden);
	struct conn c;
	uint32_t base;
	int events = 0, secret = 0;

	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.10.0.5", 0);
	base = c.next;
	n = big_produce("public", s, hidden, h);
	m = n + produce("public", s + n);
	rec = n - AH_RECORDS;
	CU_ASSERT_EQUAL(part(&c, base, s, 0, rec + 1), XDP_PASS);
	events += dp.nev;
	/* copies of the hidden frame, ahead (as many as the flow remembers) */
	for (size_t k = 0, off = rec + 1 + h; k < KG_AHEAD && off + h <= n; k++, off += 2 * h) {
		CU_ASSERT_EQUAL(part(&c, base, s, off, off + h), XDP_PASS);
		events += dp.nev;
		for (int i = 0; i < dp.nev; i++)
			secret += dp.ev[i].topic_len == 6 && !memcmp(dp.ev[i].topic, "secret", 6);
	}
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 1, n), XDP_PASS); /* the rest, over them */
	events += dp.nev;
	CU_ASSERT_EQUAL(part(&c, base, s, n, m), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
	events += dp.nev;
	CU_ASSERT_EQUAL(events, 2); /* 'public' twice, never 'secret' */
	CU_ASSERT_EQUAL(secret, 0);
}

/*
 * Retransmissions over passed-ahead bytes: other bytes inside the skip pass (never read
 * by either side), a changed byte the decoder read is dropped, as for any retransmission.
 */
void test_ahead_retransmitted(void)
{
	uint8_t s[16384], x[16384];
	size_t n, rec;
	struct conn c;
	uint32_t base;

	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.10.0.5", 0);
	base = c.next;
	n = big_produce("public", s, NULL, 0);
	rec = n - AH_RECORDS;
	memcpy(x, s, n);
	CU_ASSERT_EQUAL(part(&c, base, s, 0, rec + 10), XDP_PASS);
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 1000, rec + 2000), XDP_PASS);
	for (size_t i = rec + 1000; i < rec + 2000; i++)
		x[i] ^= 0x5a;
	CU_ASSERT_EQUAL(part(&c, base, x, rec + 900, rec + 2100), XDP_PASS); /* ahead again */
	x[rec - 5] ^= 1; /* a byte of the partition's header, read */
	CU_ASSERT_EQUAL(part(&c, base, x, 0, rec + 10), XDP_DROP);
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 10, n), XDP_PASS);
}

/*
 * Past KG_AHEAD disjoint ahead segments, another is dropped (the sender retransmits it);
 * a valid RST ends the flow with its passed-ahead segments, and a new connection on the
 * same addresses starts with none (an ahead segment at its start is dropped).
 */
void test_ahead_full_then_rst(void)
{
	uint8_t s[16384], pkt[PKT_CAP];
	size_t n, rec;
	__u64 full = counter(KG_C_AHEAD_FULL_DROPS), ooo = counter(KG_C_OOO_DROPS);
	struct conn c;
	uint32_t base;
	size_t outlen;

	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.10.0.5", 0);
	base = c.next;
	n = big_produce("public", s, NULL, 0);
	rec = n - AH_RECORDS;
	CU_ASSERT_EQUAL(part(&c, base, s, 0, rec + 10), XDP_PASS);
	for (int i = 0; i < KG_AHEAD; i++)
		CU_ASSERT_EQUAL(part(&c, base, s, rec + 100 + 200 * i, rec + 150 + 200 * i),
				XDP_PASS);
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 2000, rec + 2050), XDP_DROP);
	CU_ASSERT_EQUAL(counter(KG_C_AHEAD_FULL_DROPS), full + 1);
	/* touching one it has: merged, passes */
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 150, rec + 160), XDP_PASS);
	/* the RST at the next expected byte ends it all */
	c.s.seq = base + rec + 10;
	c.s.flags = PKT_RST | PKT_ACK;
	CU_ASSERT_EQUAL(rv_run(pkt, pkt_build(pkt, &c.s, NULL, 0), c.out, &outlen), XDP_PASS);
	conn_syn(&c, 1000);
	CU_ASSERT_EQUAL(part(&c, 1001, s, rec + 100, rec + 150), XDP_DROP);
	CU_ASSERT_EQUAL(counter(KG_C_OOO_DROPS), ooo + 1);
	dp.nev = 0;
	CU_ASSERT_EQUAL(part(&c, 1001, s, 0, n), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
}

/*
 * Other skips: the rest of a client id longer than the 64 bytes kept, and the rest of a
 * frame once its body is read (trailing bytes inside the frame's size). Ahead segments
 * inside either pass; the frame after is decided.
 */
void test_ahead_other_skips(void)
{
	static char long_id[1501];
	static const char *const pub[] = { "public" };
	uint8_t s[16384];
	struct kf_topic t = { .name = "public", .partitions = 1, .record_bytes = 40 };
	struct kf_req r = { .api_key = KAFKA_PRODUCE, .api_version = 7, .corr = 5,
			    .client_id = long_id, .topics = &t, .ntopics = 1 };
	size_t n, m, tail;
	struct conn c;
	uint32_t base;

	apply_base(KG_MODE_ENFORCE);
	memset(long_id, 'c', sizeof(long_id) - 1);
	conn_open(&c, 4, "10.10.0.5", 0);
	base = c.next;
	n = kf_build(&r, s, sizeof(s));
	m = n + produce("public", s + n);
	/* the header with the client id's first 200 bytes, then bytes of its skipped rest */
	CU_ASSERT_EQUAL(part(&c, base, s, 0, 14 + 200), XDP_PASS);
	CU_ASSERT_EQUAL(part(&c, base, s, 14 + 700, 14 + 1400), XDP_PASS);
	CU_ASSERT_EQUAL(part(&c, base, s, 14 + 1400, n), XDP_DROP); /* the body: read */
	CU_ASSERT_EQUAL(part(&c, base, s, 14 + 200, 14 + 700), XDP_PASS);
	dp.nev = 0;
	CU_ASSERT_EQUAL(part(&c, base, s, 14 + 1400, m), XDP_PASS);
	CU_ASSERT_EQUAL(dp.nev, 2);

	/* a Metadata v4 request with 1,000 bytes after its body, inside its size */
	conn_open(&c, 4, "10.10.0.5", 0);
	base = c.next;
	n = req(KAFKA_METADATA, 4, pub, 1, s);
	tail = 1000;
	memset(s + n, 0x41, tail);
	s[0] = 0, s[1] = 0;
	s[2] = (uint8_t)((n - 4 + tail) >> 8), s[3] = (uint8_t)(n - 4 + tail);
	n += tail;
	m = n + produce("public", s + n);
	CU_ASSERT_EQUAL(part(&c, base, s, 0, n - tail + 10), XDP_PASS);
	CU_ASSERT_EQUAL(part(&c, base, s, n - 500, n), XDP_PASS); /* inside the frame's rest */
	CU_ASSERT_EQUAL(part(&c, base, s, n - tail + 10, n - 500), XDP_PASS);
	dp.nev = 0;
	CU_ASSERT_EQUAL(part(&c, base, s, n, m), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
}
