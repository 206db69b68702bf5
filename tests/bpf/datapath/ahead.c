// SPDX-License-Identifier: Apache-2.0
/*
 * Segments ahead of the next expected byte (in-order normalization, docs/DESIGN.md §2): when the
 * bytes missing before one lie wholly inside what the decoder skips by length (a record
 * set, the rest of a client id or of a frame), the decoder goes on from the segment, the
 * missing bytes become a hole (they pass whenever they come), and the segment is decoded
 * as in order (the next frame's too); a segment with a byte to read missing before it is
 * dropped. The edges of the skip region, forged frames inside it, retransmissions over it,
 * a RST after it, and more holes than the flow remembers.
 */
#include "harness.h"

/* Record bytes of the Produce the cases split: several segments' worth. */
#define AH_RECORDS 3000
/* Holes opened one after another fill AH_STEP bytes each of the records' first 2,900. */
#define AH_STEP ((AH_RECORDS - 200) / KG_HOLES)
_Static_assert(AH_STEP >= 10, "room for every hole in the records");

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
 * A connection from eu whose stream s starts with big_produce of 'public' (its length in
 * *n, its record bytes from *rec), sent up to 10 bytes into the records: the decoder is
 * skipping them. Returns the stream's first sequence number.
 */
static uint32_t records_open(struct conn *c, uint8_t *s, size_t *n, size_t *rec)
{
	uint32_t base;

	apply_base(KG_MODE_ENFORCE);
	conn_open(c, 4, "10.10.0.5", 0);
	base = c->next;
	*n = big_produce("public", s, NULL, 0);
	*rec = *n - AH_RECORDS;
	CU_ASSERT_EQUAL(part(c, base, s, 0, *rec + 10), XDP_PASS);
	return base;
}

/*
 * The record bytes of a Produce arrive out of order: its last record bytes first, then
 * the next request, then the middle of the records, then the gap before them. The first
 * opens a hole (the decoder goes on from it, to the frame's end), the next request is
 * decided at once (poisoned), the rest fill the hole; the answers pair with the
 * requests as if all had come in order (the second takes the rewrite).
 */
void test_ahead_inside_records(void)
{
	static const int errs0[] = { 0 }, errs1[] = { 17 };
	const char *n0 = "public", *n1 = "eu.order!";
	uint8_t s[16384], b[PKT_CAP], pkt[PKT_CAP], out[PKT_CAP];
	size_t n, m, rn, l0, len, outlen, rec;
	__u64 passed = counter(KG_C_AHEAD_PASSED), fills = counter(KG_C_HOLES_FILLED);
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
	/* the end of the records (and of the frame): over a hole of skipped bytes */
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 2100, n), XDP_PASS);
	CU_ASSERT_EQUAL(counter(KG_C_AHEAD_PASSED), passed + 1);
	CU_ASSERT_EQUAL(dp.nev, 0);
	/* the next request: now in order, decided and poisoned before the gap is filled */
	CU_ASSERT_EQUAL(part(&c, base, s, n, m), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_REJECT);
	CU_ASSERT(name_end(c.out + c.v.payload_off, m - n, "eu.order!") > 0);
	/* the hole's middle, then its front: pass, undecoded */
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 1100, rec + 2100), XDP_PASS);
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 100, rec + 1100), XDP_PASS);
	CU_ASSERT_EQUAL(dp.nev, 0);
	CU_ASSERT_EQUAL(counter(KG_C_HOLES_FILLED), fills + 2);
	/* both answers: the second takes the rewrite, so the requests kept their order */
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
 * The edges: a segment that starts one byte past where the skip ends (the next frame's
 * first size byte missing) is dropped; one that starts exactly there passes, the next
 * frame decided from it; one that starts inside the skip and runs into the next frame
 * passes, decoded. The holes they left pass when they come, and so do copies cut
 * elsewhere that hold the bytes read unchanged.
 */
void test_ahead_edges(void)
{
	uint8_t s[16384];
	size_t n, m, m2, rec;
	__u64 ooo = counter(KG_C_OOO_DROPS);
	struct conn c;
	uint32_t base;

	base = records_open(&c, s, &n, &rec);
	m = n + produce("public", s + n);
	m2 = m + produce("public", s + m);
	CU_ASSERT_EQUAL(part(&c, base, s, n + 1, m), XDP_DROP); /* one byte past: read */
	CU_ASSERT_EQUAL(counter(KG_C_OOO_DROPS), ooo + 1);
	dp.nev = 0;
	CU_ASSERT_EQUAL(part(&c, base, s, n, m), XDP_PASS);     /* exactly at the end */
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW && dp.ev[0].corr == 7);
	CU_ASSERT_EQUAL(part(&c, base, s, n - 500, n), XDP_PASS);      /* in the hole */
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 10, n - 500), XDP_PASS);
	CU_ASSERT_EQUAL(part(&c, base, s, m, m2), XDP_PASS);            /* back in order */
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);

	/* from inside the skip into the next frame */
	conn_open(&c, 4, "10.10.0.5", 0);
	base = c.next;
	CU_ASSERT_EQUAL(part(&c, base, s, 0, rec + 10), XDP_PASS);
	dp.nev = 0;
	CU_ASSERT_EQUAL(part(&c, base, s, n - 5, m), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 10, n - 5), XDP_PASS);
	/*
	 * copies cut elsewhere: what was read is remembered from its first byte read (the
	 * next frame's size), so one from the hole to just before it, and one from later in
	 * the skipped bytes over it, pass; one that changes a byte read is dropped
	 */
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 10, n), XDP_PASS);
	CU_ASSERT_EQUAL(part(&c, base, s, n - 2, m), XDP_PASS);
	{
		uint8_t x[16384];

		memcpy(x, s, m);
		x[n + 20] ^= 1;
		CU_ASSERT_EQUAL(part(&c, base, x, n - 2, m), XDP_DROP);
	}
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
	/* copies of the hidden frame, ahead (as many holes as the flow remembers) */
	for (size_t k = 0, off = rec + 1 + h; k < KG_HOLES && off + h <= n; k++, off += 2 * h) {
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
 * Retransmissions over a hole and over bytes decoded after it: other bytes inside the skip
 * pass (never read by either side), a changed byte the decoder read is dropped, as for any
 * retransmission.
 */
void test_ahead_retransmitted(void)
{
	uint8_t s[16384], x[16384];
	size_t n, rec;
	struct conn c;
	uint32_t base;

	base = records_open(&c, s, &n, &rec);
	memcpy(x, s, n);
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 1000, rec + 2000), XDP_PASS);
	for (size_t i = rec + 900; i < rec + 2100; i++)
		x[i] ^= 0x5a;
	/* hole, skipped bytes decoded, new skipped bytes: other contents pass */
	CU_ASSERT_EQUAL(part(&c, base, x, rec + 900, rec + 2100), XDP_PASS);
	x[rec - 5] ^= 1; /* a byte of the partition's header, read */
	CU_ASSERT_EQUAL(part(&c, base, x, 0, rec + 10), XDP_DROP);
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 10, n), XDP_PASS);
}

/*
 * Past KG_HOLES holes, a segment that would open another is dropped (the sender
 * retransmits it); one inside a hole passes. A valid RST at the broker's next byte (the
 * first hole's start) ends the flow with its holes, and a new connection on the same
 * addresses starts with none (a segment ahead at its start is dropped).
 */
void test_ahead_full_then_rst(void)
{
	uint8_t s[16384], pkt[PKT_CAP];
	size_t n, rec;
	__u64 full = counter(KG_C_AHEAD_FULL_DROPS), ooo = counter(KG_C_OOO_DROPS);
	struct conn c;
	uint32_t base;
	size_t outlen;

	base = records_open(&c, s, &n, &rec);
	for (int i = 0; i < KG_HOLES; i++)
		CU_ASSERT_EQUAL(part(&c, base, s, rec + 100 + AH_STEP * i, rec + 100 + AH_STEP * i + AH_STEP / 2),
				XDP_PASS);
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 2900, rec + 2950), XDP_DROP);
	CU_ASSERT_EQUAL(counter(KG_C_AHEAD_FULL_DROPS), full + 1);
	/* inside the second hole: passes */
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 100 + AH_STEP / 2, rec + 100 + AH_STEP / 2 + 5), XDP_PASS);
	/* a RST at next_seq is not the broker's next byte: nothing ends */
	c.s.seq = base + rec + 100 + AH_STEP * (KG_HOLES - 1) + AH_STEP / 2;
	c.s.flags = PKT_RST | PKT_ACK;
	CU_ASSERT_EQUAL(rv_run(pkt, pkt_build(pkt, &c.s, NULL, 0), c.out, &outlen), XDP_PASS);
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 10, rec + 100), XDP_PASS); /* still there */
	/* the RST at the first hole's start (the broker's next byte) ends it all */
	c.s.seq = base + rec + 100 + AH_STEP / 2 + 5;
	c.s.flags = PKT_RST | PKT_ACK;
	CU_ASSERT_EQUAL(rv_run(pkt, pkt_build(pkt, &c.s, NULL, 0), c.out, &outlen), XDP_PASS);
	conn_syn(&c, 1000);
	CU_ASSERT_EQUAL(part(&c, 1001, s, rec + 100, rec + 100 + AH_STEP / 2), XDP_DROP);
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
	CU_ASSERT_EQUAL(part(&c, base, s, 14 + 1501, m), XDP_DROP); /* a body byte missing */
	CU_ASSERT_EQUAL(part(&c, base, s, 14 + 700, 14 + 1400), XDP_PASS);
	dp.nev = 0;
	CU_ASSERT_EQUAL(part(&c, base, s, 14 + 1400, m), XDP_PASS); /* the body: in order */
	CU_ASSERT_EQUAL(dp.nev, 2);
	CU_ASSERT_EQUAL(part(&c, base, s, 14 + 200, 14 + 700), XDP_PASS); /* the hole */

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
	dp.nev = 0;
	CU_ASSERT_EQUAL(part(&c, base, s, n - 500, m), XDP_PASS); /* the frame's rest, the next */
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
	CU_ASSERT_EQUAL(part(&c, base, s, n - tail + 10, n - 500), XDP_PASS);
}

/*
 * A hole filled in its middle splits in two: both parts still pass with any bytes (the
 * decoder never reads them), and once every part came, a copy of the whole region is a
 * plain retransmission of skipped bytes (passes); a changed byte the decoder read before
 * the hole is still dropped. The hole count goes back to zero (the flow can be idle).
 */
void test_ahead_hole_split(void)
{
	uint8_t s[16384], x[16384];
	size_t n, m, rec;
	__u64 fills = counter(KG_C_HOLES_FILLED);
	struct kg_conn e;
	struct conn c;
	uint32_t base;

	base = records_open(&c, s, &n, &rec);
	m = n + produce("public", s + n);
	memcpy(x, s, m);
	for (size_t i = rec + 10; i < n; i++)
		x[i] ^= 0xa5;
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 2000, n), XDP_PASS); /* hole [rec+10, rec+2000) */
	CU_ASSERT_EQUAL(part(&c, base, x, rec + 900, rec + 1000), XDP_PASS); /* its middle */
	CU_ASSERT_EQUAL(part(&c, base, x, rec + 1000, rec + 2000), XDP_PASS); /* its back part */
	CU_ASSERT_EQUAL(conn_entry(&c, &e), 0);
	CU_ASSERT(e.own & KG_OWN_SLOT);
	CU_ASSERT_EQUAL(part(&c, base, x, rec + 10, rec + 900), XDP_PASS);    /* its front part */
	CU_ASSERT_EQUAL(counter(KG_C_HOLES_FILLED), fills + 3);
	CU_ASSERT_EQUAL(part(&c, base, s, rec + 10, n), XDP_PASS); /* all skipped bytes again */
	x[rec - 5] ^= 1;
	CU_ASSERT_EQUAL(part(&c, base, x, rec - 100, rec + 500), XDP_DROP);
	/* no hole left: once the broker acknowledged it all, the slot goes back */
	broker_ack(&c, 4001, base + (uint32_t)n);
	CU_ASSERT_EQUAL(conn_entry(&c, &e), 0);
	CU_ASSERT_EQUAL(e.own & KG_OWN_SLOT, 0);
	dp.nev = 0;
	CU_ASSERT_EQUAL(part(&c, base, s, n, m), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
}

/* ---- probe segments (KG_PROBE_AFTER): ahead of a gap that holds bytes to read ---- */

/* A Produce v7 of topic with rec record bytes (rec <= 24000), corr; its length. */
static size_t produce_records(const char *topic, size_t rec, int32_t corr, uint8_t *out)
{
	struct kf_topic t = { .name = topic, .partitions = 1, .record_bytes = rec };
	struct kf_req r = { .api_key = KAFKA_PRODUCE, .api_version = 7, .corr = corr,
			    .client_id = "app", .topics = &t, .ntopics = 1 };
	size_t n = kf_build(&r, out, 32768);

	for (size_t i = 0; i < rec; i++)
		out[n - rec + i] = (uint8_t)(i * 13);
	return n;
}

/*
 * Bytes [from, to) of s in order, in segments of 1,400; the verdict of the last, and in
 * *bad how many did not pass (when bad).
 */
static int in_order(struct conn *c, uint32_t base, const uint8_t *s, size_t from, size_t to,
		    int *bad)
{
	int v = XDP_PASS;

	for (size_t o = from; o < to; o += 1400) {
		v = part(c, base, s, o, o + 1400 < to ? o + 1400 : to);
		if (bad)
			*bad += v != XDP_PASS;
	}
	return v;
}

/*
 * A segment ahead of a gap with bytes to read (the decoder is in a request's header),
 * at least KG_PROBE_AFTER bytes past it: it passes whole, undecided (one at a time: the
 * next such segment is dropped; one closer than KG_PROBE_AFTER is dropped). The stream
 * reaching it exactly: its bytes lie inside the record set, so they are accounted as
 * skipped; the rest of the stream and the next request are decided as ever.
 */
void test_probe_inside_records(void)
{
	static uint8_t s[32768];
	size_t n, m, at = 10 + KG_PROBE_AFTER + 1000;
	__u64 probes = counter(KG_C_AHEAD_PROBES), checked = counter(KG_C_PROBES_CHECKED);
	__u64 ooo = counter(KG_C_OOO_DROPS);
	struct conn c;
	uint32_t base;
	int bad = 0, events = 0;

	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.10.0.5", 0);
	base = c.next;
	n = produce_records("public", 20000, 3, s);
	m = n + produce("public", s + n);
	CU_ASSERT_EQUAL(part(&c, base, s, 0, 10), XDP_PASS); /* inside the header */
	CU_ASSERT_EQUAL(part(&c, base, s, 10 + KG_PROBE_AFTER - 1, 10 + KG_PROBE_AFTER + 500),
			XDP_DROP); /* not far enough */
	CU_ASSERT_EQUAL(counter(KG_C_OOO_DROPS), ooo + 1);
	CU_ASSERT_EQUAL(part(&c, base, s, at, at + 1000), XDP_PASS); /* the probe */
	CU_ASSERT_EQUAL(dp.nev, 0);
	CU_ASSERT_EQUAL(counter(KG_C_AHEAD_PROBES), probes + 1);
	CU_ASSERT_EQUAL(part(&c, base, s, at + 2000, at + 3000), XDP_DROP); /* one at a time */
	/* the stream up to exactly the probe: its header decided, the probe checked */
	in_order(&c, base, s, 10, at, &bad);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(counter(KG_C_PROBES_CHECKED), checked + 1);
	/* a copy of the probe passes (skipped bytes), then the rest and the next request */
	CU_ASSERT_EQUAL(part(&c, base, s, at, at + 1000), XDP_PASS);
	for (size_t o = at + 1000; o < m; o += 1400) {
		CU_ASSERT_EQUAL(part(&c, base, s, o, o + 1400 < m ? o + 1400 : m), XDP_PASS);
		for (int i = 0; i < dp.nev; i++)
			events += dp.ev[i].kind == KG_EV_TOPIC && dp.ev[i].verdict == KG_ACT_ALLOW;
	}
	CU_ASSERT_EQUAL(events, 1); /* the next request */
}

/*
 * A connection from eu whose stream s is a Produce of 'public' with 9,000 record bytes
 * (its length in *n), then one of 'secret' (rule 1 resets it), its first 10 bytes sent:
 * the decoder reads the header next, and the second request lies far enough past them
 * to be a probe. Returns the stream's length; *base: its first sequence number.
 */
static size_t secret_after_records(struct conn *c, uint8_t *s, uint32_t *base, size_t *n)
{
	size_t m;

	apply_base(KG_MODE_ENFORCE);
	conn_open(c, 4, "10.10.0.5", 0);
	*base = c->next;
	*n = produce_records("public", 9000, 3, s);
	m = *n + produce("secret", s + *n);
	CU_ASSERT_FATAL(*n >= 10 + KG_PROBE_AFTER);
	CU_ASSERT_EQUAL(part(c, *base, s, 0, 10), XDP_PASS);
	return m;
}

/*
 * A probe segment holding a whole request (Produce 'secret', which rule 1 resets): it
 * passes undecided, but when the stream reaches it, the decoder would read it: the
 * segment that brings the stream there is the connection's end (undecodable, probe_read,
 * reset), so the broker never has the bytes before the probe, nor reads it.
 */
void test_probe_read_resets(void)
{
	static uint8_t s[32768];
	size_t n, m;
	struct conn c;
	uint32_t base;
	int bad = 0;

	m = secret_after_records(&c, s, &base, &n);
	CU_ASSERT_EQUAL(part(&c, base, s, n, m), XDP_PASS); /* the probe: 'secret', undecided */
	CU_ASSERT_EQUAL(dp.nev, 0);
	CU_ASSERT_EQUAL(in_order(&c, base, s, 10, n - 1400, &bad), XDP_PASS);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(part(&c, base, s, n - 1400, n), XDP_PASS);
	CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST); /* turned into the broker's RST */
	CU_ASSERT_EQUAL_FATAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].kind, KG_EV_UNDECODABLE);
	CU_ASSERT_EQUAL(dp.ev[0].reason, KD_ERR_PROBE);
}

/*
 * A connection with a Produce of 'public' carrying 20,000 record bytes (its length in *n),
 * then another, in stream s: its first 10 bytes sent, and a probe segment [at, at + 1000)
 * passed. The stream's first sequence number in *base; returns the stream's length.
 */
static size_t probe_open(struct conn *c, uint8_t *s, size_t at, uint32_t *base, size_t *n)
{
	size_t m;

	apply_base(KG_MODE_ENFORCE);
	conn_open(c, 4, "10.10.0.5", 0);
	*base = c->next;
	*n = produce_records("public", 20000, 3, s);
	m = *n + produce("public", s + *n);
	CU_ASSERT_EQUAL(part(c, *base, s, 0, 10), XDP_PASS);
	CU_ASSERT_EQUAL(part(c, *base, s, at, at + 1000), XDP_PASS);
	return m;
}

/*
 * The stream reaching into a probe: what is left of it must be skipped too. Inside the
 * record set it is (the stream goes on); a probe whose end holds the next request's
 * first bytes ends the connection when the stream reaches into it.
 */
void test_probe_reached_inside(void)
{
	static uint8_t s[32768];
	size_t n, m, at = 10 + KG_PROBE_AFTER + 1000;
	__u64 checked = counter(KG_C_PROBES_CHECKED);
	struct conn c;
	uint32_t base;
	int bad = 0;

	m = probe_open(&c, s, at, &base, &n);
	in_order(&c, base, s, 10, at - 600, &bad);
	CU_ASSERT_EQUAL(part(&c, base, s, at - 600, at + 400), XDP_PASS); /* into it */
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(counter(KG_C_PROBES_CHECKED), checked + 1);
	dp.nev = 0;
	CU_ASSERT_EQUAL(in_order(&c, base, s, at + 1000, m, &bad), XDP_PASS);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);

	/* a probe over the end of the records and the next request's size */
	conn_open(&c, 4, "10.10.0.5", 0);
	base = c.next;
	CU_ASSERT_EQUAL(part(&c, base, s, 0, 10), XDP_PASS);
	CU_ASSERT_EQUAL(part(&c, base, s, n - 500, n + 3), XDP_PASS);
	bad = 0;
	in_order(&c, base, s, 10, n - 1000, &bad);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(part(&c, base, s, n - 1000, n - 200), XDP_PASS);
	CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].kind == KG_EV_UNDECODABLE &&
		  dp.ev[0].reason == KD_ERR_PROBE);
}

/*
 * A segment that covers a probe whole (the sender's retransmission, cut otherwise): the
 * broker keeps that copy, which kgate decodes as any; the probe is forgotten, unchecked.
 * Until then the slot stays (the probe must be checked), even with everything the broker
 * has acknowledged.
 */
void test_probe_covered(void)
{
	static uint8_t s[32768];
	size_t n, m, at = 10 + KG_PROBE_AFTER + 1000;
	__u64 checked = counter(KG_C_PROBES_CHECKED);
	struct kg_conn e;
	struct conn c;
	uint32_t base;
	int bad = 0;

	m = probe_open(&c, s, at, &base, &n);
	broker_ack(&c, 4001, base + 10);
	CU_ASSERT_EQUAL(conn_entry(&c, &e), 0);
	CU_ASSERT(e.own & KG_OWN_SLOT);
	in_order(&c, base, s, 10, at - 400, &bad);
	CU_ASSERT_EQUAL(part(&c, base, s, at - 400, at + 1200), XDP_PASS); /* over it */
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(counter(KG_C_PROBES_CHECKED), checked);
	dp.nev = 0;
	CU_ASSERT_EQUAL(in_order(&c, base, s, at + 1200, m, &bad), XDP_PASS);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
}

/*
 * A copy of a held probe's bytes, ahead, once the skip region has grown to reach it. The
 * probe holds the next request (Produce 'secret', which rule 1 resets); the copy says
 * 'public' there, from shadow_lo to past the probe's end by shadow_extra (relative to the
 * frame the probe holds; the probe starts at probe_lo). The broker keeps the probe's
 * bytes where the two overlap (Linux drops a copy at the probe's own sequence number and
 * no longer as a duplicate, and keeps the probe's part of one that starts inside it), so
 * the copy must not be what kgate decides: it is dropped (probe_shadow_drops), and the
 * stream that then reaches the probe finds bytes to read in it: the connection ends
 * there (probe_read: reset) before the broker has the bytes before the probe.
 */
static void probe_shadow(long probe_lo, long shadow_lo, long shadow_extra)
{
	static uint8_t s[32768], x[32768];
	__u64 shadows = counter(KG_C_PROBE_SHADOW_DROPS);
	size_t n, m, m3;
	struct conn c;
	uint32_t base;
	int bad = 0;

	m = secret_after_records(&c, s, &base, &n);
	m3 = m + produce("public", s + m); /* the request after it: a copy may reach into it */
	memcpy(x, s, m3);
	CU_ASSERT_EQUAL_FATAL(produce("public", x + n), m - n); /* the copy: same length */
	CU_ASSERT_FATAL(n + probe_lo >= 10 + KG_PROBE_AFTER);
	CU_ASSERT_EQUAL(part(&c, base, s, n + probe_lo, m), XDP_PASS); /* the probe */
	CU_ASSERT_EQUAL(dp.nev, 0);
	/* the header and the record set's length: the skip now reaches past the probe's start */
	in_order(&c, base, s, 10, 400, &bad);
	CU_ASSERT_EQUAL(bad, 0);
	dp.nev = 0;
	CU_ASSERT_EQUAL(part(&c, base, x, n + shadow_lo, m + shadow_extra), XDP_DROP);
	CU_ASSERT_EQUAL(dp.nev, 0); /* nothing decided from it */
	CU_ASSERT_EQUAL(counter(KG_C_PROBE_SHADOW_DROPS), shadows + 1);
	/* the gap up to exactly the probe: the broker would read the probe's 'secret' next */
	CU_ASSERT_EQUAL(in_order(&c, base, s, 400, n + probe_lo, &bad), XDP_PASS);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].kind == KG_EV_UNDECODABLE &&
		  dp.ev[0].reason == KD_ERR_PROBE);
}

/* The copy at the probe's own sequence number, as long (a duplicate to the broker). */
void test_probe_shadowed_at_its_start(void)
{
	probe_shadow(0, 0, 0);
}

/* The copy from inside the probe to past its end (the broker keeps the probe's part). */
void test_probe_shadowed_from_inside(void)
{
	probe_shadow(-100, -50, 20);
}

/* c, ended by a valid RST, opened again with the initial sequence number isn. */
static void reopen_at(struct conn *c, int family, const char *saddr, uint32_t isn)
{
	uint8_t pkt[PKT_CAP];
	size_t outlen;

	conn_open(c, family, saddr, 0);
	c->s.seq = c->next;
	c->s.flags = PKT_RST | PKT_ACK;
	CU_ASSERT_EQUAL(rv_run(pkt, pkt_build(pkt, &c->s, NULL, 0), c->out, &outlen), XDP_PASS);
	conn_syn(c, isn);
}

/* The topic events of the last packet with verdict v (and *secret: those of 'secret'). */
static int topic_events(int v, int *secret)
{
	int k = 0;

	for (int i = 0; i < dp.nev; i++) {
		k += dp.ev[i].kind == KG_EV_TOPIC && dp.ev[i].verdict == v;
		*secret += dp.ev[i].topic_len == 6 && !memcmp(dp.ev[i].topic, "secret", 6);
	}
	return k;
}

/*
 * Holes and probes across the sequence number's wrap, on IPv4 and IPv6: records that end
 * ahead across 0 and the next request ('secret': reset) decided at once; a probe past 0
 * holding 'secret', read when reached (reset); a probe inside the records across 0,
 * checked, and the next request decided.
 */
void test_holes_and_probes_across_the_wrap(void)
{
	static uint8_t s[32768];
	__u64 passed = counter(KG_C_AHEAD_PASSED), checked = counter(KG_C_PROBES_CHECKED);
	size_t n, m;
	struct conn c;
	uint32_t base;
	int bad, secret = 0, allow = 0;

	apply_base(KG_MODE_ENFORCE);
	for (int fam = 4; fam <= 6; fam += 2) {
		const char *src = fam == 6 ? "fd00:10::5" : "10.10.0.5";

		reopen_at(&c, fam, src, 0xfffff800u);
		base = c.next;
		n = produce_records("public", 6000, 3, s);
		m = n + produce("secret", s + n);
		CU_ASSERT_EQUAL(part(&c, base, s, 0, 300), XDP_PASS);
		CU_ASSERT_EQUAL(part(&c, base, s, n - 500, n), XDP_PASS); /* across 0 */
		CU_ASSERT_EQUAL(part(&c, base, s, n, m), XDP_PASS);       /* 'secret': reset */
		CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
		topic_events(KG_ACT_RESET, &secret);
		CU_ASSERT_EQUAL(secret, 1);

		reopen_at(&c, fam, src, 0xffffe000u);
		base = c.next;
		n = produce_records("public", 9000, 3, s);
		m = n + produce("secret", s + n);
		CU_ASSERT_EQUAL(part(&c, base, s, 0, 10), XDP_PASS);
		CU_ASSERT_EQUAL(part(&c, base, s, n, m), XDP_PASS); /* the probe, past 0 */
		bad = 0;
		CU_ASSERT_EQUAL(in_order(&c, base, s, 10, n, &bad), XDP_PASS);
		CU_ASSERT_EQUAL(bad, 0);
		CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST); /* probe_read */

		reopen_at(&c, fam, src, 0xffffd000u);
		base = c.next;
		n = produce_records("public", 20000, 3, s);
		m = n + produce("public", s + n);
		CU_ASSERT_EQUAL(part(&c, base, s, 0, 10), XDP_PASS);
		CU_ASSERT_EQUAL(part(&c, base, s, 12000, 13000), XDP_PASS);
		bad = 0;
		in_order(&c, base, s, 10, 12000, &bad);
		CU_ASSERT_EQUAL(bad, 0);
		for (size_t o = 13000; o < m; o += 1400) {
			size_t e = o + 1400 < m ? o + 1400 : m;

			CU_ASSERT_EQUAL(part(&c, base, s, o, e), XDP_PASS);
			allow += topic_events(KG_ACT_ALLOW, &secret);
		}
		secret = 0;
	}
	CU_ASSERT_EQUAL(allow, 2);
	CU_ASSERT_EQUAL(counter(KG_C_AHEAD_PASSED) - passed, 2);
	CU_ASSERT_EQUAL(counter(KG_C_PROBES_CHECKED) - checked, 2);
}
