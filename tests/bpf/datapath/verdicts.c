// SPDX-License-Identifier: Apache-2.0
/*
 * Verdicts: allow leaves the bytes alone, reject poisons exactly the denied topic, reset
 * and drop end the connection, monitor mode and audit rules report without enforcing,
 * redirect sends a connection to quarantine at its SYN, other traffic passes.
 */
#include <arpa/inet.h>

#include "harness.h"

void test_allow_unchanged(void)
{
	uint8_t b[PKT_CAP];
	struct conn c;
	size_t n = produce("eu.orders", b);
	__u64 pkts = counter(KG_C_PACKETS), lpkts = counter(KG_C_LISTENER_PACKETS);

	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.10.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	/* the SYN, the handshake's ACK and the segment: packets, and listener packets */
	CU_ASSERT_EQUAL(counter(KG_C_PACKETS) - pkts, 3);
	CU_ASSERT_EQUAL(counter(KG_C_LISTENER_PACKETS) - lpkts, 3);
	CU_ASSERT_EQUAL(c.v.payload_len, n);
	CU_ASSERT(!memcmp(c.out + c.v.payload_off, b, n));
	CU_ASSERT(c.v.tcp_csum_ok);
	CU_ASSERT_EQUAL(dp.nev, 1);
	check_event(0, KG_ACT_ALLOW, 6, 1, KG_OP_PRODUCE, "eu.orders");
	CU_ASSERT_EQUAL(dp.ev[0].region_id, 0);
}

/* One request, one denied and one allowed topic: exactly the denied one is poisoned. */
void test_reject_poisons_only_the_denied_topic(void)
{
	static const char *const topics[] = { "eu.orders", "public" };
	uint8_t b[PKT_CAP], want[PKT_CAP];
	struct conn c;
	size_t n = req(KAFKA_PRODUCE, 7, topics, 2, b), e;

	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.20.0.5", 0);
	memcpy(want, b, n);
	e = name_end(want, n, "eu.orders");
	want[e - 1] = '!';
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(c.v.payload_len, n);
	CU_ASSERT(!memcmp(c.out + c.v.payload_off, want, n));
	CU_ASSERT(c.v.tcp_csum_ok);
	CU_ASSERT_EQUAL(dp.nev, 2);
	check_event(0, KG_ACT_REJECT, 0, 1, KG_OP_PRODUCE, "eu.orders");
	check_event(1, KG_ACT_ALLOW, 6, 1, KG_OP_PRODUCE, "public");
	/* the connection stays usable for an allowed topic */
	n = produce("public", b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT(!memcmp(c.out + c.v.payload_off, b, n));
}

void test_reset_and_drop(void)
{
	uint8_t b[PKT_CAP];
	struct conn c;
	size_t n;

	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.10.0.5", 0);
	n = produce("secret", b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
	CU_ASSERT_EQUAL(c.v.payload_len, 0);
	CU_ASSERT(c.v.tcp_csum_ok && c.v.ip_csum_ok && c.v.len_ok);
	CU_ASSERT_EQUAL(c.v.seq, c.next - n);
	check_event(0, KG_ACT_RESET, 1, 1, KG_OP_PRODUCE, "secret");
	/*
	 * The client's next segment (its retransmission, at the latest) goes back to it as
	 * a RST: it sees the connection reset, not a timeout. Both builds redirect it out
	 * of the interface it came in on.
	 */
	for (int fam = 4; fam <= 6; fam += 2) {
		uint8_t want4[4], want6[16];
		int rc;

		if (fam == 6) {
			conn_open(&c, 6, "fd00:10::7", 0);
			n = produce("secret", b);
			CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
			CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
			CU_ASSERT(c.v.tcp_csum_ok && c.v.len_ok);
		}
		n = produce("public", b);
		rc = conn_send_at(&c, c.next - n, b, n); /* the reset segment again */
		CU_ASSERT_EQUAL(rc, XDP_REDIRECT);
		CU_ASSERT_EQUAL(c.v.flags & (PKT_RST | PKT_ACK), PKT_RST);
		CU_ASSERT_EQUAL(c.v.payload_len, 0);
		CU_ASSERT_EQUAL(c.v.seq, c.s.ack); /* the client's ack: its next expected byte */
		CU_ASSERT(c.v.tcp_csum_ok && c.v.len_ok);
		if (fam == 4) {
			CU_ASSERT(c.v.ip_csum_ok);
			inet_pton(AF_INET, "10.10.0.5", want4);
			CU_ASSERT(!memcmp(c.out + c.v.l3_off + 16, want4, 4)); /* to the client */
		} else {
			inet_pton(AF_INET6, "fd00:10::7", want6);
			CU_ASSERT(!memcmp(c.out + c.v.l3_off + 24, want6, 16));
		}
		CU_ASSERT_EQUAL(c.out[c.v.tcp_off + 2] << 8 | c.out[c.v.tcp_off + 3], c.s.sport);
		CU_ASSERT_EQUAL(c.out[c.v.tcp_off] << 8 | c.out[c.v.tcp_off + 1], PORT);
	}

	conn_open(&c, 4, "10.10.0.5", 0);
	n = produce("blackhole", b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_DROP);
	check_event(0, KG_ACT_DROP, 2, 1, KG_OP_PRODUCE, "blackhole");
	n = produce("public", b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_DROP);
	CU_ASSERT_EQUAL(conn_send_at(&c, 0, NULL, 0), XDP_DROP); /* even bare ACKs */
}

void test_operation_classes(void)
{
	static const char *const eu[] = { "eu.x" };
	uint8_t b[PKT_CAP];
	struct conn c;
	size_t n;

	apply_base(KG_MODE_ENFORCE);
	/* consume, describe from us on an eu topic: rejected by rule 0 */
	conn_open(&c, 4, "10.20.0.9", 0);
	n = req(KAFKA_FETCH, 4, eu, 1, b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	check_event(0, KG_ACT_REJECT, 0, 1, KG_OP_CONSUME, "eu.x");
	n = req(KAFKA_METADATA, 1, eu, 1, b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	check_event(0, KG_ACT_REJECT, 0, 1, KG_OP_DESCRIBE, "eu.x");
	/* admin: anonymous rejected (rule 4), the identity allowed (rule 3) */
	n = req(KAFKA_CREATE_TOPICS, 2, (const char *const[]){ "new.t" }, 1, b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	check_event(0, KG_ACT_REJECT, 4, 1, KG_OP_ADMIN, "new.t");
	CU_ASSERT(c.out[c.v.payload_off + name_end(b, n, "new.t") - 1] == '!');
	conn_open(&c, 4, "10.10.1.7", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	check_event(0, KG_ACT_ALLOW, 3, 1, KG_OP_ADMIN, "new.t");
	CU_ASSERT_EQUAL(dp.ev[0].principal_src, KG_PSRC_IDENTITY);
	/* a request with no topics (Metadata for all topics) is decided as a whole */
	n = req(KAFKA_METADATA, 1, NULL, -1, b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].kind, KG_EV_REQUEST);
	check_event(0, KG_ACT_ALLOW, 6, 1, KG_OP_DESCRIBE, NULL);
}

void test_monitor_and_audit(void)
{
	uint8_t b[PKT_CAP];
	struct conn c;
	size_t n = produce("eu.orders", b);

	apply_base(KG_MODE_MONITOR);
	conn_open(&c, 4, "10.20.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT(!memcmp(c.out + c.v.payload_off, b, n));
	check_event(0, KG_ACT_REJECT, 0, 0, KG_OP_PRODUCE, "eu.orders");
	n = produce("secret", b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(c.v.payload_len, n);
	check_event(0, KG_ACT_RESET, 1, 0, KG_OP_PRODUCE, "secret");

	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.20.0.5", 0);
	n = produce("audited", b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT(!memcmp(c.out + c.v.payload_off, b, n));
	check_event(0, KG_ACT_REJECT, 5, 0, KG_OP_PRODUCE, "audited");
}

void test_non_listener_passes(void)
{
	uint8_t b[PKT_CAP], pkt[PKT_CAP], out[PKT_CAP];
	struct pkt_spec s = { .family = 4, .saddr = "10.20.0.5", .daddr = BROKER4, .sport = 5555,
			      .dport = 9093, .seq = 1, .flags = PKT_ACK };
	size_t n = pkt_build(pkt, &s, b, produce("eu.orders", b)), outlen;

	apply_base(KG_MODE_ENFORCE);
	dp.nev = 0;
	CU_ASSERT_EQUAL(dp_run(pkt, n, out, &outlen), XDP_PASS);
	CU_ASSERT(outlen == n && !memcmp(out, pkt, n));
	CU_ASSERT_EQUAL(dp.nev, 0);
}

/* redirect: decided at SYN by a rule that names no topic, operation or client.id */
void test_redirect_at_syn(void)
{
	struct kg_policy p;
	struct kg_pidentity *id;
	struct kg_prule *x;
	uint8_t b[PKT_CAP], pkt[PKT_CAP], out[PKT_CAP];
	struct pkt_spec s = { .family = 4, .saddr = "10.10.9.5", .daddr = BROKER4,
			      .sport = dp.next_port++, .dport = PORT, .seq = 77, .flags = PKT_SYN };
	size_t n, outlen;
	__u32 zero = 0, lo = 1;
	int want;

	base_policy(&p, KG_MODE_ENFORCE);
	id = kg_policy_add_identity(&p, "suspect", 4, 1);
	kg_cidrs_push(&id->cidrs, &id->ncidrs, "10.10.9.0/24", 4, 1);
	x = kg_policy_add_rule(&p, "quarantine-suspect", 9, 1);
	push(&x->principals, &x->nprincipals, "suspect");
	x->action = KG_ACT_REDIRECT;
	{
		/* move it first in the file, so it decides before the others */
		struct kg_prule q = p.rules[p.nrules - 1];

		memmove(&p.rules[1], &p.rules[0], (p.nrules - 1) * sizeof(p.rules[0]));
		p.rules[0] = q;
	}
	CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
	/*
	 * With the loopback device as quarantine, a redirect; without one, dropped. XDP
	 * finds it in the kg_redirect devmap, TC ingress in the active config.
	 */
	want = bpf_map_update_elem(dp.redirect_fd, &zero, &lo, BPF_ANY)
		       ? XDP_DROP
		       : XDP_REDIRECT;
	if (dp.use_tci) {
		struct kg_config cfg;
		__u32 gen = kg_policy_active(&dp.m);

		CU_ASSERT_EQUAL_FATAL(bpf_map_lookup_elem(dp.m.config, &gen, &cfg), 0);
		cfg.redirect_ifindex = lo;
		CU_ASSERT_EQUAL_FATAL(bpf_map_update_elem(dp.m.config, &gen, &cfg, BPF_ANY), 0);
		want = XDP_REDIRECT;
	}
	dp.nev = 0;
	n = pkt_build(pkt, &s, NULL, 0);
	CU_ASSERT_EQUAL(dp_run(pkt, n, out, &outlen), want);
	CU_ASSERT_EQUAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].kind, KG_EV_CONNECTION);
	CU_ASSERT_EQUAL(dp.ev[0].verdict, KG_ACT_REDIRECT);
	CU_ASSERT_EQUAL(dp.ev[0].rule_id, 0);
	/* every later packet of the connection follows */
	s.flags = PKT_ACK;
	s.seq = 78;
	n = pkt_build(pkt, &s, b, produce("public", b));
	CU_ASSERT_EQUAL(dp_run(pkt, n, out, &outlen), want);
	/* another source is not redirected */
	s.saddr = "10.10.0.5";
	s.sport = dp.next_port++;
	s.flags = PKT_SYN;
	n = pkt_build(pkt, &s, NULL, 0);
	CU_ASSERT_EQUAL(dp_run(pkt, n, out, &outlen), XDP_PASS);
	bpf_map_delete_elem(dp.redirect_fd, &zero);
	kg_policy_free(&p);
}
