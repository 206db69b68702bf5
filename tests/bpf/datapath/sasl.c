// SPDX-License-Identifier: Apache-2.0
/*
 * SASL principals: bound only on the broker's success (PLAIN, SCRAM; handshake v0 and
 * v1), kept across a policy apply, never by a reused correlation id or a normal answer
 * that looks like a raw token. Their names (kg_flow_principals) go with their
 * connections, and a name that cannot be kept fails closed (reset), never another
 * principal.
 */
#include "harness.h"

static void sasl_policy(void)
{
	struct kg_policy p;
	struct kg_prule *x;

	base_policy(&p, KG_MODE_ENFORCE);
	x = kg_policy_add_rule(&p, "alice-writes", 8, 1);
	push(&x->principals, &x->nprincipals, "alice");
	push(&x->topics, &x->ntopics, "alice-only");
	x->action = KG_ACT_ALLOW;
	x = kg_policy_add_rule(&p, "nobody-else", 9, 1);
	push(&x->topics, &x->ntopics, "alice-only");
	x->action = KG_ACT_REJECT;
	{
		struct kg_prule a = p.rules[p.nrules - 2], q = p.rules[p.nrules - 1];

		memmove(&p.rules[2], &p.rules[0], (p.nrules - 2) * sizeof(p.rules[0]));
		p.rules[0] = a;
		p.rules[1] = q;
	}
	CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
	kg_policy_free(&p);
}

/* A SaslHandshake v1 for PLAIN (corr 5) and a SaslAuthenticate v1 (corr 6) as user. */
static void plain_login(struct conn *c, const char *user, const char *password)
{
	uint8_t b[PKT_CAP], tok[64];
	size_t tl = kf_sasl_plain("", user, password, tok, sizeof(tok)), n;
	struct kf_req hs = { .api_key = KAFKA_SASL_HANDSHAKE, .api_version = 1, .corr = 5,
			     .client_id = "app", .mechanism = "PLAIN" };
	struct kf_req au = { .api_key = KAFKA_SASL_AUTHENTICATE, .api_version = 1, .corr = 6,
			     .client_id = "app", .auth = tok, .auth_len = tl };

	n = kf_build(&hs, b, PKT_CAP);
	n += kf_build(&au, b + n, PKT_CAP - n);
	CU_ASSERT_EQUAL(conn_send(c, b, n), XDP_PASS);
}

/* The broker's answers, as it writes them. SaslHandshake: error 0, mechanism mech. */
static void w_handshake(struct wbuf *w, int32_t corr, const char *mech)
{
	int ml = strlen(mech);

	w32(w, 4 + 2 + 4 + 2 + ml), w32(w, corr), w16(w, 0), w32(w, 1), w16(w, ml);
	memcpy(w->p + w->n, mech, ml), w->n += ml;
}

/* SaslAuthenticate v1: the error, no message, an empty token, session lifetime 0. */
static void w_authenticate(struct wbuf *w, int32_t corr, int err)
{
	w32(w, 4 + 2 + 2 + 4 + 8), w32(w, corr), w16(w, err), w16(w, -1);
	w32(w, 0), w32(w, 0), w32(w, 0);
}

/* ApiVersions v0: error 0, one api (18, versions 0..3). */
static void w_api_versions(struct wbuf *w, int32_t corr)
{
	w32(w, 4 + 2 + 4 + 6), w32(w, corr), w16(w, 0), w32(w, 1), w16(w, 18), w16(w, 0);
	w16(w, 3);
}

/* A Produce to alice-only; its verdict (the event is dp.ev[0]). */
static int produce_alice_only(struct conn *c)
{
	uint8_t b[PKT_CAP];

	return conn_send(c, b, produce("alice-only", b));
}

/*
 * SASL: the user read from SaslAuthenticate is bound only when the broker's response
 * says success; a wrong password binds nothing.
 */
static void sasl_case(int ok, const char *want_principal)
{
	uint8_t b[PKT_CAP];
	struct pkt_spec br;
	struct conn c;

	sasl_policy();
	broker_open(&c, "10.10.0.5", &br, 9000);
	plain_login(&c, "alice", "pw");
	/* before the broker answers, the connection is still anonymous */
	CU_ASSERT_EQUAL(produce_alice_only(&c), XDP_PASS);
	check_event(0, KG_ACT_REJECT, 1, 1, KG_OP_PRODUCE, "alice-only");
	/* the broker's answers: SaslHandshake (corr 5), then SaslAuthenticate v1 (corr 6) */
	{
		struct wbuf w = { b, 0 };

		w_handshake(&w, 5, "PLAIN");
		w_authenticate(&w, 6, ok ? 0 : 58);
		tc_send(&br, &w);
	}
	CU_ASSERT_EQUAL(produce_alice_only(&c), XDP_PASS);
	CU_ASSERT_EQUAL_FATAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].verdict, ok ? KG_ACT_ALLOW : KG_ACT_REJECT);
	CU_ASSERT_EQUAL(dp.ev[0].principal_src, ok ? KG_PSRC_SASL : KG_PSRC_NONE);
	CU_ASSERT_EQUAL(dp.ev[0].principal_len, strlen(want_principal));
	CU_ASSERT(!memcmp(dp.ev[0].principal, want_principal, strlen(want_principal)));
	if (!ok)
		return;
	/* a policy apply keeps the bound SASL principal (its id is taken again) */
	sasl_policy();
	CU_ASSERT_EQUAL(produce_alice_only(&c), XDP_PASS);
	CU_ASSERT_EQUAL_FATAL(dp.nev, 1);
	printf("\n    after a policy apply: verdict %u, principal source %u", dp.ev[0].verdict,
	       dp.ev[0].principal_src);
	CU_ASSERT_EQUAL(dp.ev[0].verdict, KG_ACT_ALLOW);
	CU_ASSERT_EQUAL(dp.ev[0].principal_src, KG_PSRC_SASL);
}

/* kafka-python 2.0.2: SaslHandshake v0, then a raw PLAIN token; success = empty token */
static void sasl_v0_case(int ok, const char *want_principal)
{
	uint8_t b[PKT_CAP], pkt[PKT_CAP], out[PKT_CAP], tok[64];
	struct pkt_spec br;
	struct conn c;
	size_t n, tl, outlen;

	/* the policy of sasl_case is in force */
	broker_open(&c, "10.10.0.5", &br, 9000);
	{
		struct kf_req hs = { .api_key = KAFKA_SASL_HANDSHAKE, .api_version = 0, .corr = 5,
				     .client_id = "app", .mechanism = "PLAIN" };

		n = kf_build(&hs, b, PKT_CAP);
	}
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	{
		struct wbuf w = { b, 0 };

		w_handshake(&w, 5, "PLAIN");
		tc_send(&br, &w);
	}
	tl = kf_sasl_plain("alice", "alice", "pw", tok, sizeof(tok));
	n = kf_raw_frame(tok, tl, b, PKT_CAP);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	{
		/* success: an empty token; failure: the broker closes (here: a non-empty one) */
		uint8_t raw[8] = { 0, 0, 0, ok ? 0 : 3, 'b', 'a', 'd' };

		CU_ASSERT_EQUAL(tc_run(pkt, pkt_build(pkt, &br, raw, ok ? 4 : 7), out, &outlen),
				TC_ACT_OK);
	}
	CU_ASSERT_EQUAL(produce_alice_only(&c), XDP_PASS);
	CU_ASSERT_EQUAL_FATAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].verdict, ok ? KG_ACT_ALLOW : KG_ACT_REJECT);
	CU_ASSERT_EQUAL(dp.ev[0].principal_len, strlen(want_principal));
	CU_ASSERT(!memcmp(dp.ev[0].principal, want_principal, strlen(want_principal)));
}

void test_sasl_binding(void)
{
	sasl_case(1, "alice");
	sasl_v0_case(1, "alice");
	sasl_v0_case(0, "");
	sasl_case(0, "");
	apply_base(KG_MODE_ENFORCE);
}

/*
 * From a review: authenticated as bob, a client pipelines ApiVersions (corr 77), a
 * SaslHandshake, and a SaslAuthenticate for alice with a wrong password, reusing corr 77.
 * The ApiVersions answer (corr 77, error 0) must not bind alice.
 */
void test_sasl_corr_reuse(void)
{
	uint8_t b[PKT_CAP], tok[64], rb[PKT_CAP];
	struct pkt_spec br;
	struct conn c;
	size_t n, tl;

	sasl_policy();
	broker_open(&c, "10.10.0.9", &br, 9000);
	/* 1. legit login as bob */
	plain_login(&c, "bob", "bobpw");
	{
		struct wbuf w = { rb, 0 };

		w_handshake(&w, 5, "PLAIN");
		w_authenticate(&w, 6, 0);
		tc_send(&br, &w);
	}
	CU_ASSERT_EQUAL(produce_alice_only(&c), XDP_PASS);
	CU_ASSERT_EQUAL_FATAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].verdict, KG_ACT_REJECT); /* bob may not */
	CU_ASSERT(dp.ev[0].principal_len == 3 && !memcmp(dp.ev[0].principal, "bob", 3));
	/*
	 * 2. pipelined: ApiVersions corr 77, SaslHandshake corr 78, SaslAuthenticate(alice,
	 * wrong password) corr 77
	 */
	tl = kf_sasl_plain("", "alice", "WRONG", tok, sizeof(tok));
	{
		struct kf_req av = { .api_key = KAFKA_API_VERSIONS, .api_version = 0, .corr = 77,
				     .client_id = "app" };
		struct kf_req hs = { .api_key = KAFKA_SASL_HANDSHAKE, .api_version = 1, .corr = 78,
				     .client_id = "app", .mechanism = "PLAIN" };
		struct kf_req au = { .api_key = KAFKA_SASL_AUTHENTICATE, .api_version = 1,
				     .corr = 77, .client_id = "app", .auth = tok, .auth_len = tl };

		n = kf_build(&av, b, PKT_CAP);
		n += kf_build(&hs, b + n, PKT_CAP - n);
		n += kf_build(&au, b + n, PKT_CAP - n);
	}
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	{
		struct wbuf w = { rb, 0 };

		w_api_versions(&w, 77);
		/* post-auth SaslHandshake / SaslAuthenticate: ILLEGAL_SASL_STATE (34) */
		w32(&w, 4 + 2 + 4), w32(&w, 78), w16(&w, 34), w32(&w, 0);
		w_authenticate(&w, 77, 34);
		tc_send(&br, &w);
	}
	CU_ASSERT_EQUAL(produce_alice_only(&c), XDP_PASS);
	CU_ASSERT_EQUAL_FATAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].verdict, KG_ACT_REJECT); /* still bob, never alice */
	CU_ASSERT(dp.ev[0].principal_len == 3 && !memcmp(dp.ev[0].principal, "bob", 3));
}

/*
 * From a review: SCRAM after SaslHandshake v0 with pipelined tokens: normal answers (one
 * with a correlation id starting with 'v') must not be taken for raw SASL answers.
 */
void test_sasl_v0_pipelined(void)
{
	uint8_t b[PKT_CAP], tok[128], rb[PKT_CAP];
	struct pkt_spec br;
	struct conn c;
	size_t n, tl;
	static const char fin[] =
		"c=biws,r=nonceXYZ,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

	sasl_policy();
	broker_open(&c, "10.10.0.10", &br, 9000);
	{
		struct kf_req av = { .api_key = KAFKA_API_VERSIONS, .api_version = 0, .corr = 1,
				     .client_id = "app" };
		struct kf_req hs = { .api_key = KAFKA_SASL_HANDSHAKE, .api_version = 0,
				     .corr = 0x76000000, .client_id = "app",
				     .mechanism = "SCRAM-SHA-256" };
		n = kf_build(&av, b, PKT_CAP);
		n += kf_build(&hs, b + n, PKT_CAP - n);
		tl = kf_sasl_scram_first("alice", "nonce", tok, sizeof(tok));
		n += kf_raw_frame(tok, tl, b + n, PKT_CAP - n);
		n += kf_raw_frame((const uint8_t *)fin, strlen(fin), b + n, PKT_CAP - n);
	}
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	{
		struct wbuf w = { rb, 0 };

		w_api_versions(&w, 1);
		w_handshake(&w, 0x76000000, "SCRAM-SHA-256");
		tc_send(&br, &w);
	}
	produce_alice_only(&c);
	CU_ASSERT_EQUAL_FATAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].verdict, KG_ACT_REJECT);
	CU_ASSERT(dp.ev[0].principal_src != KG_PSRC_SASL);
}

/* ---- the names of SASL principals (kg_flow_principals) -------------------------- */

/* The base policy with a first rule: mallory may not write to 'public' (others may). */
static void deny_mallory_policy(void)
{
	struct kg_policy p;
	struct kg_prule *x, a;

	base_policy(&p, KG_MODE_ENFORCE);
	x = kg_policy_add_rule(&p, "mallory-denied", 8, 1);
	push(&x->principals, &x->nprincipals, "mallory");
	push(&x->topics, &x->ntopics, "public");
	x->action = KG_ACT_REJECT;
	a = p.rules[p.nrules - 1];
	memmove(&p.rules[1], &p.rules[0], (p.nrules - 1) * sizeof(p.rules[0]));
	p.rules[0] = a;
	CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
	kg_policy_free(&p);
}

/* A connection on which mallory logged in (PLAIN) and the broker said yes. */
static void mallory_login(struct conn *c, struct pkt_spec *br)
{
	uint8_t rb[PKT_CAP];
	struct wbuf w = { rb, 0 };

	broker_open(c, "10.10.0.5", br, 9000);
	plain_login(c, "mallory", "pw");
	w_handshake(&w, 5, "PLAIN");
	w_authenticate(&w, 6, 0);
	tc_send(br, &w);
	c->s.ack = br->seq; /* the client acknowledges the answers with its next segment */
}

/*
 * kg_flow_principals holds names for a quarter of kg_flows' connections. Full all the same
 * (here: filled with other names), a SASL user the broker confirmed is not bound as
 * another principal (OTHER would escape mallory's deny rule): the connection's next
 * segment becomes a RST toward the broker, the one after it a RST back to the client;
 * counted (principal_table_full) and audited (a principal_table_full limit record).
 */
void test_sasl_names_full_fails_closed(void)
{
	struct kg_flow_key k = { .family = 6 };
	__u64 full = counter(KG_C_PRINCIPALS_FULL);
	uint8_t b[PKT_CAP];
	struct kg_principal pn = {};
	struct pkt_spec br;
	struct conn c;
	__u32 filled = 0;
	size_t n = produce("public", b);

	CU_ASSERT_EQUAL(max_entries(dp.m.principals), max_entries(dp.m.flows) / KG_SASL_SHARE);
	deny_mallory_policy();
	mallory_login(&c, &br);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_REJECT &&
		  dp.ev[0].principal_src == KG_PSRC_SASL);
	/* other connections' names fill the table (IPv6 keys nobody else uses) */
	memcpy(k.saddr, "\xfd\x00\x77\x77", 4);
	for (;; filled++) {
		memcpy(k.saddr + 12, &filled, 4);
		if (bpf_map_update_elem(dp.m.principals, &k, &pn, BPF_NOEXIST))
			break;
	}
	mallory_login(&c, &br);
	CU_ASSERT_EQUAL(counter(KG_C_PRINCIPALS_FULL), full + 1);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	printf("\n    kg_flow_principals full (%u names written): mallory's Produce %s, %d "
	       "event(s), %d limit record(s)",
	       filled, (c.v.flags & PKT_RST) ? "became a RST" : "passed", dp.nev,
	       limit_records(KG_LIMIT_PRINCIPALS));
	CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
	CU_ASSERT_EQUAL(limit_records(KG_LIMIT_PRINCIPALS), 1);
	for (int i = 0; i < dp.nev; i++)
		CU_ASSERT(dp.ev[i].kind != KG_EV_TOPIC);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_REDIRECT); /* back to the client */
	CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
	for (__u32 i = 0; i < filled; i++) {
		memcpy(k.saddr + 12, &i, 4);
		bpf_map_delete_elem(dp.m.principals, &k);
	}
}

/*
 * A SASL connection that ends (a valid RST) right after the broker confirmed its user,
 * before any other client segment: its name goes with it (TC egress bound it in the
 * slot; the small entry learns it only when the slot goes back).
 */
void test_sasl_name_removed_at_early_end(void)
{
	uint8_t pkt[PKT_CAP];
	struct kg_principal pn;
	struct kg_flow_key k;
	struct pkt_spec br;
	struct conn c;
	size_t outlen;

	deny_mallory_policy();
	mallory_login(&c, &br);
	conn_key(&c, &k);
	CU_ASSERT_EQUAL(bpf_map_lookup_elem(dp.m.principals, &k, &pn), 0);
	c.s.seq = c.next;
	c.s.flags = PKT_RST | PKT_ACK;
	CU_ASSERT_EQUAL(rv_run(pkt, pkt_build(pkt, &c.s, NULL, 0), c.out, &outlen), XDP_PASS);
	CU_ASSERT_NOT_EQUAL(bpf_map_lookup_elem(dp.m.flows, &k, &(struct kg_conn){ 0 }), 0);
	CU_ASSERT_NOT_EQUAL(bpf_map_lookup_elem(dp.m.principals, &k, &pn), 0);
	bpf_map_delete_elem(dp.m.principals, &k);
}

/*
 * A bound name found missing when the connection takes a pool slot again (its slot had
 * gone back while it was idle): the connection is reset, counted, never decided as
 * another principal (with a name of zeros, a policy apply would make it OTHER).
 */
void test_sasl_name_lost_fails_closed(void)
{
	__u64 full;
	uint8_t b[PKT_CAP];
	struct kg_flow_key k;
	struct pkt_spec br;
	struct kg_conn e;
	struct conn c;

	deny_mallory_policy();
	mallory_login(&c, &br);
	conn_key(&c, &k);
	/* a request that ends the SASL exchange, acknowledged: the slot goes back */
	CU_ASSERT_EQUAL(conn_send(&c, b, produce("other", b)), XDP_PASS);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_ALLOW);
	broker_ack(&c, br.seq, c.next);
	CU_ASSERT_EQUAL_FATAL(conn_entry(&c, &e), 0);
	CU_ASSERT_EQUAL(e.own & KG_OWN_SLOT, 0);
	CU_ASSERT_EQUAL(e.principal_src, KG_PSRC_SASL);
	/* its name is lost; a policy apply has its principal looked up again */
	CU_ASSERT_EQUAL(bpf_map_delete_elem(dp.m.principals, &k), 0);
	deny_mallory_policy();
	full = counter(KG_C_PRINCIPALS_FULL);
	CU_ASSERT_EQUAL(conn_send(&c, b, produce("public", b)), XDP_PASS);
	printf("\n    name lost while idle: mallory's Produce %s, %d event(s)",
	       (c.v.flags & PKT_RST) ? "became a RST" : "passed", dp.nev);
	CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
	for (int i = 0; i < dp.nev; i++)
		CU_ASSERT(dp.ev[i].kind != KG_EV_TOPIC || dp.ev[i].verdict != KG_ACT_ALLOW);
	CU_ASSERT_EQUAL(counter(KG_C_PRINCIPALS_FULL), full + 1);
}
