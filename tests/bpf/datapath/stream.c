// SPDX-License-Identifier: Apache-2.0
/*
 * The request stream across segments: split at every header byte, pipelined requests,
 * what the decoder cannot read (TLS, topics it does not read, a flow seen mid-stream).
 */
#include "harness.h"

/* The request split in two segments at every byte up to past the topic name. */
void test_split_at_every_header_byte(void)
{
	uint8_t b[PKT_CAP], got[PKT_CAP], want[PKT_CAP];
	size_t n = produce("eu.orders", b), e = name_end(b, n, "eu.orders");
	struct conn c;
	int bad = 0;

	apply_base(KG_MODE_ENFORCE);
	memcpy(want, b, n);
	want[e - 1] = '!';
	for (size_t cut = 1; cut < e + 8 && cut < n; cut++) {
		int evs;

		conn_open(&c, 4, "10.20.0.5", 0);
		CU_ASSERT_EQUAL(conn_send(&c, b, cut), XDP_PASS);
		memcpy(got, c.out + c.v.payload_off, c.v.payload_len);
		evs = dp.nev;
		CU_ASSERT(c.v.tcp_csum_ok);
		CU_ASSERT_EQUAL(conn_send(&c, b + cut, n - cut), XDP_PASS);
		memcpy(got + cut, c.out + c.v.payload_off, c.v.payload_len);
		evs += dp.nev;
		CU_ASSERT(c.v.tcp_csum_ok);
		if (memcmp(got, want, n) || evs != 1) {
			if (bad++ < 3) {
				fprintf(stderr,
					"\n    split at %zu (name ends %zu): %s, %d events:", cut,
					e, memcmp(got, want, n) ? "bytes differ" : "bytes ok", evs);
				for (int k = 0; k < dp.nev; k++)
					fprintf(stderr,
						" [kind %u verdict %u rule %d topic_len %u]",
						dp.ev[k].kind, dp.ev[k].verdict,
						(int)dp.ev[k].rule_id, dp.ev[k].topic_len);
			}
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

void test_pipelined(void)
{
	static const char *const eu[] = { "eu.y" };
	uint8_t b[PKT_CAP], want[PKT_CAP];
	size_t n = 0, e;
	struct conn c;

	apply_base(KG_MODE_ENFORCE);
	n += produce("public", b + n);
	n += req(KAFKA_METADATA, 4, eu, 1, b + n);
	e = name_end(b, n, "eu.y");
	n += produce("public", b + n);
	memcpy(want, b, n);
	want[e - 1] = '!';
	conn_open(&c, 4, "10.20.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT(!memcmp(c.out + c.v.payload_off, want, n));
	CU_ASSERT_EQUAL(dp.nev, 3);
	check_event(1, KG_ACT_REJECT, 0, 1, KG_OP_DESCRIBE, "eu.y");
	check_event(2, KG_ACT_ALLOW, 6, 1, KG_OP_PRODUCE, "public");
}

/* A new connection's first bytes, which the decoder cannot read: reset, for reason. */
static void undecodable_reset(const uint8_t *bytes, size_t n, int reason)
{
	struct conn c;

	conn_open(&c, 4, "10.10.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, bytes, n), XDP_PASS);
	CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
	CU_ASSERT_EQUAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].kind, KG_EV_UNDECODABLE);
	CU_ASSERT_EQUAL(dp.ev[0].reason, reason);
}

void test_undecodable_resets(void)
{
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc };
	uint8_t b[PKT_CAP];
	struct conn c;

	apply_base(KG_MODE_ENFORCE);
	undecodable_reset(hello, sizeof(hello), KD_ERR_TLS);
	/* let through under on_undecodable: allow, then reset once the policy says reset */
	{
		struct kg_policy p;

		base_policy(&p, KG_MODE_ENFORCE);
		p.listeners[0].on_undecodable = KG_ACT_ALLOW;
		CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
		conn_open(&c, 4, "10.10.0.5", 0);
		CU_ASSERT_EQUAL(conn_send(&c, hello, sizeof(hello)), XDP_PASS);
		CU_ASSERT_EQUAL(c.v.flags & PKT_RST, 0);
		CU_ASSERT_EQUAL(conn_send(&c, b, produce("public", b)), XDP_PASS);
		CU_ASSERT_EQUAL(c.v.flags & PKT_RST, 0); /* undecided, passed */
		p.listeners[0].on_undecodable = KG_ACT_RESET;
		CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
		CU_ASSERT_EQUAL(conn_send(&c, b, produce("public", b)), XDP_PASS);
		CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
		kg_policy_free(&p);
		apply_base(KG_MODE_ENFORCE);
	}
	/* a request whose topics the decoder cannot read (LeaderAndIsr v5, header only) */
	{
		static const uint8_t leader_and_isr[] = { 0, 0, 0, 14, 0, 4, 0, 5, 0, 0, 0, 9,
						       0, 1, 'x', 0, 0, 0 };

		undecodable_reset(leader_and_isr, sizeof(leader_and_isr), KD_ERR_TOPICS_UNREAD);
	}
	/* a flow first seen mid-stream */
	memset(&c, 0, sizeof(c));
	c.s = (struct pkt_spec){ .family = 4, .saddr = "10.10.0.6", .daddr = BROKER4,
				 .sport = dp.next_port++, .dport = PORT };
	c.next = 5000;
	CU_ASSERT_EQUAL(conn_send(&c, b, produce("public", b)), XDP_PASS);
	CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
	CU_ASSERT_EQUAL(dp.ev[0].reason, KD_ERR_MIDSTREAM);
}
