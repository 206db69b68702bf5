// SPDX-License-Identifier: Apache-2.0
/*
 * Packets as they come: IPv6, VLAN tags (one and two), jumbo frames in fragments, IP
 * fragments, IPv6 extension headers, IPv4 options, BIG TCP aggregates on TC ingress.
 */

#include "harness.h"

void test_ipv6_and_vlan(void)
{
	uint8_t b[PKT_CAP];
	struct conn c;
	size_t n = produce("eu.orders", b), e = name_end(b, n, "eu.orders");

	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 6, "fd00:10::5", 0); /* eu */
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	check_event(0, KG_ACT_ALLOW, 6, 1, KG_OP_PRODUCE, "eu.orders");
	conn_open(&c, 6, "fd00:20::5", 0); /* no region: not eu */
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	check_event(0, KG_ACT_REJECT, 0, 1, KG_OP_PRODUCE, "eu.orders");
	CU_ASSERT_EQUAL(dp.ev[0].region_id, KG_REGION_NONE);
	CU_ASSERT(c.out[c.v.payload_off + e - 1] == '!' && c.v.tcp_csum_ok);
	conn_open(&c, 4, "10.20.0.5", 42); /* us, VLAN 42 */
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	check_event(0, KG_ACT_REJECT, 0, 1, KG_OP_PRODUCE, "eu.orders");
	CU_ASSERT(c.out[c.v.payload_off + e - 1] == '!' && c.v.tcp_csum_ok);
}

/*
 * A jumbo frame (XDP multi-buffer): the denied topic's name lies beyond the first 4 KiB,
 * in a fragment; it is found and poisoned there all the same.
 */
void test_frags(void)
{
	static const char *const topics[] = { "public", "eu.orders" };
	struct kf_topic t[2] = { { .name = topics[0], .partitions = 1, .record_bytes = 6000 },
				 { .name = topics[1], .partitions = 1, .record_bytes = 10 } };
	struct kf_req r = { .api_key = KAFKA_PRODUCE, .api_version = 7, .corr = 3,
			    .client_id = "app", .topics = t, .ntopics = 2 };
	static uint8_t b[16384], pkt[16384], out[16384];
	struct pkt_view v;
	struct conn c;
	size_t n, pn, e;

	apply_base(KG_MODE_ENFORCE);
	n = kf_build(&r, b, sizeof(b));
	e = name_end(b, n, "eu.orders");
	CU_ASSERT_FATAL(e > 4096);
	conn_open(&c, 4, "10.20.0.5", 0);
	c.s.seq = c.next;
	c.s.flags = PKT_ACK | PKT_PSH;
	pn = pkt_build(pkt, &c.s, b, n);
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = pn,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

		dp.nev = 0;
		CU_ASSERT_EQUAL_FATAL(
			bpf_prog_test_run_opts(dp.xdp_fd, &o), 0);
		ring_buffer__consume(dp.rb);
		CU_ASSERT_EQUAL(o.retval, XDP_PASS);
		pkt_parse(out, o.data_size_out, &v);
	}
	CU_ASSERT_EQUAL(dp.nev, 2);
	CU_ASSERT(out[v.payload_off + e - 1] == '!');
	CU_ASSERT(v.tcp_csum_ok);
}

/*
 * TC ingress sees GRO aggregates; over 64 KB (BIG TCP) their IPv4 total length is 0 and
 * the skb's length counts: such a segment is decided, not passed. (XDP sees frames.)
 */
void rv_big_tcp_length(void)
{
	uint8_t pkt[PKT_CAP], out[PKT_CAP];
	struct conn c;
	size_t pn, outlen;
	int rc;

	if (!dp.use_tci)
		return;
	pn = secret_segment(&c, 4, "10.10.0.5", 0, pkt);
	pkt[14 + 2] = pkt[14 + 3] = 0;
	pkt_ip4_csum(pkt + 14);
	rc = rv_run(pkt, pn, out, &outlen);
	printf("\n    IPv4 total length 0 (BIG TCP) carrying Produce 'secret': %d, %d events, "
	       "verdict %d", rc, dp.nev, dp.nev ? dp.ev[0].verdict : -1);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_RESET); /* rule secret-resets */
}

/* 1. IPv4 fragments of listener traffic: README says dropped. */
void rv_ipv4_fragment(void)
{
	uint8_t pkt[PKT_CAP], out[PKT_CAP];
	struct conn c;
	size_t pn = secret_segment(&c, 4, "10.10.0.5", 0, pkt), outlen;
	int rc;

	/* first fragment: MF set, offset 0 (the whole TCP segment is still in it) */
	pkt[14 + 6] = 0x20;
	pkt[14 + 7] = 0x00;
	pkt_ip4_csum(pkt + 14);
	rc = rv_run(pkt, pn, out, &outlen);
	printf("\n    IPv4 first fragment (MF) carrying Produce 'secret': XDP %d (%s), %d events",
	       rc, rc == XDP_PASS ? "PASS" : rc == XDP_DROP ? "DROP" : "?", dp.nev);
	CU_ASSERT_EQUAL(rc, XDP_DROP);
	/* a non-first fragment */
	pkt[14 + 6] = 0x00;
	pkt[14 + 7] = 0x10;
	pkt_ip4_csum(pkt + 14);
	rc = rv_run(pkt, pn, out, &outlen);
	printf("\n    IPv4 non-first fragment: XDP %d", rc);
	CU_ASSERT_EQUAL(rc, XDP_DROP);
}

/* 2. IPv6 with a Destination Options header before TCP. */
void rv_ipv6_ext_header(void)
{
	uint8_t b[PKT_CAP], pkt[PKT_CAP], out[PKT_CAP];
	struct conn c;
	size_t n = produce("secret", b), pn, outlen, l3 = 14;
	int rc;

	apply_base(KG_MODE_ENFORCE);
	/* 8 bytes of DestOpts (PadN), and 96 (one unknown skippable option, type 0x1e) */
	for (size_t e = 8; e <= 96; e += 88) {
		conn_open(&c, 6, "fd00:10::9", 0);
		pn = rv_seg(&c, c.next, PKT_ACK | PKT_PSH, b, n, pkt);
		memmove(pkt + l3 + 40 + e, pkt + l3 + 40, pn - l3 - 40);
		memset(pkt + l3 + 40, 0, e);
		pkt[l3 + 40] = 6;         /* next header: TCP */
		pkt[l3 + 41] = e / 8 - 1; /* length in 8-byte units, minus one */
		pkt[l3 + 42] = e == 8 ? 1 : 0x1e;
		pkt[l3 + 43] = e - 4;
		pkt[l3 + 6] = 60;
		{
			uint16_t pl = ((pkt[l3 + 4] << 8) | pkt[l3 + 5]) + e;

			pkt[l3 + 4] = pl >> 8;
			pkt[l3 + 5] = pl & 0xff;
		}
		rc = rv_run(pkt, pn + e, out, &outlen);
		printf("\n    IPv6+%zu-byte DestOpts Produce 'secret': XDP %d, %d events", e, rc,
		       dp.nev);
		CU_ASSERT(rc != XDP_PASS || dp.nev > 0);
	}
}

/* 7. RST conversion of a segment with IPv4 options. */
void rv_rst_with_ip_options(void)
{
	uint8_t pkt[PKT_CAP], out[PKT_CAP];
	struct conn c;
	size_t pn = secret_segment(&c, 4, "10.10.0.5", 0, pkt), outlen, l3 = 14;
	int rc;

	memmove(pkt + l3 + 24, pkt + l3 + 20, pn - l3 - 20);
	memcpy(pkt + l3 + 20, "\x01\x01\x01\x00", 4); /* NOP NOP NOP EOL */
	pkt[l3] = 0x46;
	{
		uint16_t tl = ((pkt[l3 + 2] << 8) | pkt[l3 + 3]) + 4;

		pkt[l3 + 2] = tl >> 8;
		pkt[l3 + 3] = tl & 0xff;
	}
	pkt_ip4_csum(pkt + l3);
	pn += 4;
	rc = rv_run(pkt, pn, out, &outlen);
	{
		struct pkt_view v;

		pkt_parse(out, outlen, &v);
		printf("\n    RST from a segment with IP options: XDP %d, len %zu, ihl %u, "
		       "tot_len %u, flags at ihl-implied TCP header 0x%02x (at real 0x%02x), "
		       "tcp csum(ihl) %s, len_ok %d",
		       rc, outlen, out[l3] & 0xf, (out[l3 + 2] << 8) | out[l3 + 3],
		       out[l3 + 20 + 13], out[l3 + 24 + 13], v.tcp_csum_ok ? "ok" : "bad",
		       v.len_ok);
		/* a valid RST, or (kgate's choice with IP options) the segment dropped */
		CU_ASSERT(rc == XDP_DROP || (v.tcp_csum_ok && v.len_ok && (v.flags & PKT_RST)));
	}
}

/* 10. QinQ. */
void rv_qinq(void)
{
	uint8_t pkt[PKT_CAP], out[PKT_CAP];
	struct conn c;
	size_t pn = secret_segment(&c, 4, "10.10.0.5", 7, pkt), outlen;
	int rc;

	/* outer 802.1ad tag in front of the 802.1Q one */
	memmove(pkt + 16, pkt + 12, pn - 12);
	memcpy(pkt + 12, "\x88\xa8\x00\x05", 4);
	pn += 4;
	rc = rv_run(pkt, pn, out, &outlen);
	printf("\n    QinQ Produce 'secret': XDP %d, %d events", rc, dp.nev);
	CU_ASSERT(rc != XDP_PASS || dp.nev > 0);
}
