// SPDX-License-Identifier: Apache-2.0
/*
 * TCP state: SYNs inside a connection, exact-sequence RSTs, the broker's SYN-ACK and
 * FIN, data on a SYN; none of them may desynchronize the decoder or lift a black hole.
 */
#include "harness.h"

/* Sends a bare segment of c with flags at seq; the verdict. */
static int bare_segment(struct conn *c, uint32_t seq, uint8_t flags)
{
	uint8_t pkt[PKT_CAP], out[PKT_CAP];
	size_t outlen;

	c->s.seq = seq;
	c->s.flags = flags;
	return dp_run(pkt, pkt_build(pkt, &c->s, NULL, 0), out, &outlen);
}

/* A request b (n bytes, Produce eu.orders from us) on a connection opened by c's SYN. */
static void rejected_from_start(struct conn *c, const uint8_t *b, size_t n)
{
	dp.nev = 0;
	CU_ASSERT_EQUAL(conn_send(c, b, n), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_REJECT);
}

/* A SYN on an open connection, in the middle of a frame, passes and changes nothing. */
static void syn_inside_frame(const uint8_t *b, size_t n)
{
	size_t half = n / 2;
	__u64 drops = counter(KG_C_SYNS_ON_OPEN_FLOWS);
	struct conn c;

	conn_open(&c, 4, "10.20.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, half), XDP_PASS);
	/* it passes (the broker answers it with a challenge ACK) */
	CU_ASSERT_EQUAL(bare_segment(&c, c.next - 1, PKT_SYN), XDP_PASS);
	CU_ASSERT_EQUAL(counter(KG_C_SYNS_ON_OPEN_FLOWS), drops + 1);
	/* and changes nothing: the rest is still the same frame (no new frame, no event) */
	dp.nev = 0;
	CU_ASSERT_EQUAL(conn_send(&c, b + half, n - half), XDP_PASS);
	CU_ASSERT_EQUAL(dp.nev, 0);
}

/*
 * At a frame boundary too (an evasion review found this): a SYN whose sequence number
 * lies inside the last request, then bytes from there that frame another request over
 * the end of the decided one. The flow keeps its state: like the broker, it takes the
 * new bytes from its next sequence number on, where a whole request for a denied topic
 * starts, and decides it.
 */
static void syn_at_frame_boundary(const uint8_t *b, size_t n)
{
	uint8_t evil[PKT_CAP];
	size_t en = produce("eu.orders", evil + 14);
	struct conn c;

	conn_open(&c, 4, "10.20.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(bare_segment(&c, c.next - 15, PKT_SYN), XDP_PASS);
	/* 14 bytes pretending to be an ApiVersions header whose body hides the rest */
	memcpy(evil, "\0\0\0\x30\0\x12\0\0\0\0\0\x07\0\0", 14);
	dp.nev = 0;
	CU_ASSERT_EQUAL(conn_send_at(&c, c.next - 14, evil, 14 + en), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_REJECT);
}

/*
 * A RST at the next sequence number ends the flow only with a valid checksum (the
 * broker drops any other): after a bad one, a SYN does not start over.
 */
static void rst_needs_its_checksum(const uint8_t *b, size_t n)
{
	uint8_t pkt[PKT_CAP], out[PKT_CAP];
	size_t half = n / 2, pn, outlen;
	struct pkt_view pv;
	struct conn c;

	conn_open(&c, 4, "10.20.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, half), XDP_PASS);
	c.s.seq = c.next;
	c.s.flags = PKT_RST | PKT_ACK;
	pn = pkt_build(pkt, &c.s, NULL, 0);
	pkt_parse(pkt, pn, &pv);
	pkt[pv.tcp_off + 16] ^= 0x5a; /* the checksum, broken */
	CU_ASSERT_EQUAL(dp_run(pkt, pn, out, &outlen), XDP_PASS);
	dp.nev = 0;
	CU_ASSERT_EQUAL(conn_send(&c, b + half, n - half), XDP_PASS); /* the flow is still there */
	CU_ASSERT_EQUAL(dp.nev, 0); /* (a new one would be mid-stream: undecodable) */
	/* a valid RST ends it; a SYN then starts a new connection, decoded from its start */
	CU_ASSERT_EQUAL(bare_segment(&c, c.next, PKT_RST | PKT_ACK), XDP_PASS);
	conn_syn(&c, 7000);
	rejected_from_start(&c, b, n);
}

/* After the broker closed its side (FIN through TC egress), a SYN starts over. */
static void syn_after_broker_fin(const uint8_t *b, size_t n)
{
	uint8_t pkt[PKT_CAP], out[PKT_CAP];
	struct pkt_spec br;
	struct conn c;
	size_t outlen;

	broker_open(&c, "10.20.0.5", &br, 3000);
	CU_ASSERT_EQUAL(conn_send(&c, b, n / 2), XDP_PASS);
	br.flags = PKT_FIN | PKT_ACK;
	CU_ASSERT_EQUAL(tc_run(pkt, pkt_build(pkt, &br, NULL, 0), out, &outlen), TC_ACT_OK);
	conn_syn(&c, 9000);
	rejected_from_start(&c, b, n); /* a whole request, from its start */
}

/*
 * A SYN the broker does not answer (it holds that connection, which kgate forgot:
 * evicted) starts nothing: data waits for the broker's SYN-ACK to this SYN.
 */
static void syn_unanswered(const uint8_t *b, size_t n)
{
	__u64 unconf = counter(KG_C_UNCONFIRMED_DROPS);
	struct conn c = { .s = { .family = 4, .saddr = "10.20.0.5", .daddr = BROKER4,
				 .sport = dp.next_port++, .dport = PORT } };

	CU_ASSERT_EQUAL(bare_segment(&c, 600, PKT_SYN), XDP_PASS);
	c.next = 601;
	syn_ack(&c, 1); /* a challenge ACK's kind: not for this SYN */
	dp.nev = 0;
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_DROP);
	CU_ASSERT_EQUAL(dp.nev, 0);
	CU_ASSERT_EQUAL(counter(KG_C_UNCONFIRMED_DROPS), unconf + 1);
	syn_ack(&c, 601); /* the answer: from now on it is followed */
	CU_ASSERT_EQUAL(conn_send_at(&c, 601, b, n), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_REJECT);
}

/* Data on a SYN (TCP Fast Open) is dropped with it; the client sends a plain SYN. */
static void syn_data_dropped(const uint8_t *b, size_t n)
{
	uint8_t pkt[PKT_CAP], out[PKT_CAP];
	struct pkt_spec s = { .family = 4, .saddr = "10.20.0.5", .daddr = BROKER4,
			      .sport = dp.next_port++, .dport = PORT, .seq = 500,
			      .flags = PKT_SYN };
	size_t outlen;

	dp.nev = 0;
	CU_ASSERT_EQUAL(dp_run(pkt, pkt_build(pkt, &s, b, n), out, &outlen), XDP_DROP);
	CU_ASSERT_EQUAL(dp.nev, 0);
}

/* SYNs: one in the middle of a frame cannot restart decoding; data on a SYN is dropped */
void test_syn_handling(void)
{
	uint8_t b[PKT_CAP];
	size_t n = produce("eu.orders", b);

	apply_base(KG_MODE_ENFORCE);
	syn_inside_frame(b, n);
	syn_at_frame_boundary(b, n);
	rst_needs_its_checksum(b, n);
	syn_after_broker_fin(b, n);
	syn_unanswered(b, n);
	syn_data_dropped(b, n);
}

/*
 * 3. A SYN inside an established connection (Linux answers with a challenge ACK and
 * discards it, RFC 5961) re-creates the flow: fresh decoder at a frame boundary while
 * the broker is inside a frame. A frame the XDP sees as allowed hides a denied one in
 * its record bytes.
 */
void rv_syn_desync(void)
{
	static const char *const pub[] = { "public" };
	uint8_t f1[PKT_CAP], f2[PKT_CAP], f3[PKT_CAP], pkt[PKT_CAP], out[PKT_CAP];
	struct kf_topic t = { .name = "public", .partitions = 1 };
	struct kf_req r = { .api_key = KAFKA_PRODUCE, .api_version = 7, .corr = 1,
			    .client_id = "app", .topics = &t, .ntopics = 1 };
	size_t n1, n2, n3, h, pn, outlen;
	struct conn c;
	int rc, nev_total = 0, denied = 0;

	(void)pub;
	apply_base(KG_MODE_ENFORCE);
	/* F3: what the broker must never act on */
	n3 = produce("secret", f3);
	/* F2 (XDP's view): Produce 'public' whose records are exactly F3 */
	t.record_bytes = n3;
	n2 = kf_build(&r, f2, PKT_CAP);
	h = n2 - n3;
	memcpy(f2 + h, f3, n3);
	/* F1 (the broker's view): Produce 'public' whose records are F2's first h bytes */
	t.record_bytes = h;
	n1 = kf_build(&r, f1, PKT_CAP);

	conn_open(&c, 4, "10.10.0.5", 0);
	/* segment 1: F1 up to its records (XDP allows 'public', then skips) */
	CU_ASSERT_EQUAL(conn_send(&c, f1, n1 - h), XDP_PASS);
	nev_total += dp.nev;
	/* the injected SYN, seq = next - 1 */
	pn = rv_seg(&c, c.next - 1, PKT_SYN, NULL, 0, pkt);
	rc = rv_run(pkt, pn, out, &outlen);
	/* segment 2: F2 = (F1's last h record bytes) + F3 for the broker */
	rc = conn_send(&c, f2, n2);
	nev_total += dp.nev;
	for (int i = 0; i < dp.nev; i++)
		if (dp.ev[i].verdict != KG_ACT_ALLOW)
			denied++;
	printf("\n    SYN desync: segment with hidden Produce 'secret' -> XDP %d, RST %d, "
	       "bytes %s, %d events (%d not allow)",
	       rc, !!(c.v.flags & PKT_RST),
	       memcmp(c.out + c.v.payload_off, f2, n2) ? "changed" : "unchanged", nev_total,
	       denied);
	CU_ASSERT(rc != XDP_PASS || (c.v.flags & PKT_RST) ||
		  memcmp(c.out + c.v.payload_off, f2, n2));
}

/* 3b. A SYN clears a black-holed flow. */
void rv_syn_clears_blackhole(void)
{
	uint8_t b[PKT_CAP], pkt[PKT_CAP], out[PKT_CAP];
	struct conn c;
	size_t n, pn, outlen;
	int rc;

	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.10.0.5", 0);
	n = produce("blackhole", b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_DROP);
	pn = rv_seg(&c, c.next - 1, PKT_SYN, NULL, 0, pkt);
	rv_run(pkt, pn, out, &outlen);
	n = produce("public", b);
	rc = conn_send(&c, b, n);
	printf("\n    black-holed flow after injected SYN: next segment XDP %d", rc);
	CU_ASSERT_EQUAL(rc, XDP_DROP);
}

/* 4. Any RST (also out of window, which Linux ignores) deletes the flow. */
void rv_rst_deletes_flow(void)
{
	struct kg_policy p;
	uint8_t b[PKT_CAP], pkt[PKT_CAP], out[PKT_CAP];
	struct conn c;
	size_t n, pn, outlen;
	int rc;

	base_policy(&p, KG_MODE_ENFORCE);
	p.listeners[0].on_undecodable = KG_ACT_ALLOW; /* fail-open listener */
	CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
	kg_policy_free(&p);
	conn_open(&c, 4, "10.10.0.5", 0);
	n = produce("public", b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	pn = rv_seg(&c, c.next + 0x40000000u, PKT_RST, NULL, 0, pkt);
	rv_run(pkt, pn, out, &outlen);
	n = produce("secret", b);
	rc = conn_send(&c, b, n);
	printf("\n    fail-open listener, after an out-of-window RST: Produce 'secret' XDP %d, "
	       "RST %d, bytes %s; later 'eu'-rejects: ",
	       rc, !!(c.v.flags & PKT_RST),
	       memcmp(c.out + c.v.payload_off, b, n) ? "changed" : "unchanged");
	CU_ASSERT(rc != XDP_PASS || (c.v.flags & PKT_RST));
	apply_base(KG_MODE_ENFORCE);
}

void rv_syn_with_data(void)
{
	uint8_t b[PKT_CAP], pkt[PKT_CAP], out[PKT_CAP];
	struct conn c;
	size_t n = produce("secret", b), pn, outlen;
	int rc;

	apply_base(KG_MODE_ENFORCE);
	memset(&c, 0, sizeof(c));
	c.s = (struct pkt_spec){ .family = 4, .saddr = "10.10.0.5", .daddr = BROKER4,
				 .sport = dp.next_port++, .dport = PORT };
	pn = rv_seg(&c, 5000, PKT_SYN, b, n, pkt);
	rc = rv_run(pkt, pn, out, &outlen);
	printf("\n    SYN + Produce 'secret' (TFO): XDP %d, %d events, payload %s", rc, dp.nev,
	       memcmp(out + 14 + 40, b, n) ? "changed" : "unchanged");
	CU_ASSERT(rc != XDP_PASS || dp.nev > 0);
}
