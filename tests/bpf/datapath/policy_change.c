// SPDX-License-Identifier: Apache-2.0
/*
 * Policy changes under way: Fetch and share sessions decided under the old policy (or, for
 * share sessions, on another connection) are reset, every decision uses one whole
 * generation while applies race with traffic, and a flow's ids (region, principal, client
 * id) are taken again, also mid-request.
 */
#include <pthread.h>
#include <stdlib.h>

#include "harness.h"

/* A Fetch v7 with the given session id and epoch, naming topic (or none). */
static size_t fetch_session(const char *topic, int32_t id, int32_t epoch, uint8_t *out)
{
	size_t n = req(KAFKA_FETCH, 7, &topic, topic ? 1 : 0, out);

	/* body after size 4 + header 8 + client "app" 5: 17 fixed bytes, then id, epoch */
	for (int i = 0; i < 4; i++) {
		out[4 + 13 + 17 + i] = (uint8_t)(id >> (24 - 8 * i));
		out[4 + 13 + 21 + i] = (uint8_t)(epoch >> (24 - 8 * i));
	}
	return n;
}

/*
 * Revocation with incremental Fetch sessions: after a policy change, an incremental
 * Fetch (which names no topic) gets an invalid epoch, so the client starts a new
 * session naming every partition, decided by the new policy.
 */
void test_fetch_session_reset(void)
{
	uint8_t b[PKT_CAP];
	struct conn c;
	size_t n;
	__u64 resets = counter(KG_C_FETCH_SESSION_RESETS);
	const uint8_t *ep;

	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.10.0.5", 0);
	n = fetch_session("public", 0, 0, b); /* a new session: full */
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	check_event(0, KG_ACT_ALLOW, 6, 1, KG_OP_CONSUME, "public");
	n = fetch_session(NULL, 5, 1, b); /* incremental, same policy: untouched */
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT(!memcmp(c.out + c.v.payload_off, b, n));

	apply_base(KG_MODE_ENFORCE); /* a new generation */
	n = fetch_session(NULL, 5, 2, b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	ep = c.out + c.v.payload_off + 4 + 13 + 21;
	CU_ASSERT(ep[0] == 0x80 && !ep[1] && !ep[2] && !ep[3]); /* INT32_MIN: no session's */
	CU_ASSERT(c.v.tcp_csum_ok);
	CU_ASSERT_EQUAL(counter(KG_C_FETCH_SESSION_RESETS), resets + 1);
	CU_ASSERT_EQUAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].kind, KG_EV_SESSION);
	/* the client's new full session is decided, then its increments pass */
	n = fetch_session("public", 0, 0, b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	check_event(0, KG_ACT_ALLOW, 6, 1, KG_OP_CONSUME, "public");
	n = fetch_session(NULL, 9, 1, b);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT(!memcmp(c.out + c.v.payload_off, b, n));
}

/*
 * ShareFetch v1 of group, member and share session epoch, naming one partition of topic
 * id (or no topic); *epoch_at: where the epoch is in the frame.
 */
static size_t share_fetch(uint8_t *out, const char *group, const char *member, int32_t epoch,
			  const uint8_t *id, size_t *epoch_at)
{
	struct wbuf w = { out, 0 };

	wreq_flex(&w, KAFKA_SHARE_FETCH, 1);
	wstr(&w, 1, group);
	wstr(&w, 1, member);
	*epoch_at = w.n;
	w32(&w, epoch);
	w32(&w, 500), w32(&w, 1), w32(&w, 1 << 20); /* max_wait_ms, min_bytes, max_bytes */
	w32(&w, 500), w32(&w, 500);                 /* max_records, batch_size */
	warr(&w, 1, id ? 1 : 0);
	if (id) {
		memcpy(w.p + w.n, id, 16), w.n += 16;
		warr(&w, 1, 1);
		w32(&w, 0);     /* partition_index */
		warr(&w, 1, 0); /* acknowledgement_batches */
		wtf(&w, 1);
		wtf(&w, 1);
	}
	warr(&w, 1, 0); /* forgotten_topics_data */
	return wreq_end(&w);
}

/*
 * Sends a ShareFetch on c: passed unchanged (no event: an increment names no topic), or
 * with its epoch made one no share session has (one event), as want_rewritten says.
 */
static void share_send(struct conn *c, const char *group, const char *member, int32_t epoch,
		       int want_rewritten)
{
	uint8_t b[PKT_CAP];
	size_t at, n = share_fetch(b, group, member, epoch, NULL, &at);
	__u64 resets = counter(KG_C_FETCH_SESSION_RESETS);
	const uint8_t *ep;

	CU_ASSERT_EQUAL(conn_send(c, b, n), XDP_PASS);
	ep = c->out + c->v.payload_off + at;
	CU_ASSERT_EQUAL(c->v.flags & PKT_RST, 0);
	CU_ASSERT_EQUAL(c->v.payload_len, n);
	if (!want_rewritten) {
		CU_ASSERT(!memcmp(c->out + c->v.payload_off, b, n));
		CU_ASSERT_EQUAL(dp.nev, 0);
		return;
	}
	/* INT32_MIN: negative, so never a session's epoch, and neither 0 (opens) nor -1 */
	CU_ASSERT(ep[0] == 0x80 && !ep[1] && !ep[2] && !ep[3]);
	CU_ASSERT(!memcmp(c->out + c->v.payload_off, b, at));
	CU_ASSERT(!memcmp(ep + 4, b + at + 4, n - at - 4));
	CU_ASSERT(c->v.tcp_csum_ok);
	CU_ASSERT_EQUAL(counter(KG_C_FETCH_SESSION_RESETS), resets + 1);
	CU_ASSERT_EQUAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].kind, KG_EV_SESSION);
}

/*
 * Share sessions (KIP-932) are the broker's, keyed by group and member, not by
 * connection: an incremental ShareFetch names no topic, and the broker answers with
 * records of every partition of the session. One passes only on the connection that
 * opened its session (epoch 0, naming its topics, each decided) under the policy in
 * force; any other gets an epoch no session has, so the broker answers
 * INVALID_SHARE_SESSION_EPOCH and the client opens a new session, decided anew.
 */
void test_share_session_reset(void)
{
	struct kg_topic_name tn = { .len = 9 };
	uint8_t id[16], b[PKT_CAP];
	struct conn c, c2;
	size_t at, n;

	for (int i = 0; i < 16; i++)
		id[i] = 0x60 + i;
	memcpy(tn.name, "eu.orders", 9);
	CU_ASSERT_EQUAL_FATAL(bpf_map_update_elem(dp.m.topic_ids, id, &tn, BPF_ANY), 0);
	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.10.0.5", 0); /* eu: may read eu.orders */
	n = share_fetch(b, "g", "m1", 0, id, &at);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(dp.nev, 1);
	check_event(0, KG_ACT_ALLOW, 6, 1, KG_OP_CONSUME, "eu.orders");
	share_send(&c, "g", "m1", 1, 0);

	/* from another connection (us, which may not read eu.*): not its session */
	conn_open(&c2, 4, "10.20.0.5", 0);
	share_send(&c2, "g", "m1", 2, 1);
	/* its own session (a topic-less one, allowed) does not make g/m1's its own */
	n = share_fetch(b, "g", "m2", 0, NULL, &at);
	CU_ASSERT_EQUAL(conn_send(&c2, b, n), XDP_PASS);
	CU_ASSERT(!memcmp(c2.out + c2.v.payload_off, b, n));
	CU_ASSERT_EQUAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].kind, KG_EV_REQUEST);
	share_send(&c2, "g", "m1", 2, 1);
	share_send(&c2, "g2", "m2", 1, 1); /* the same member of another group */
	share_send(&c2, "g", "m2", 1, 0);

	/* a new policy generation: c's session was decided under the old one */
	apply_base(KG_MODE_ENFORCE);
	share_send(&c, "g", "m1", 2, 1);
	/* the client opens a new session naming its topics, decided; its increments pass */
	n = share_fetch(b, "g", "m1", 0, id, &at);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	check_event(0, KG_ACT_ALLOW, 6, 1, KG_OP_CONSUME, "eu.orders");
	share_send(&c, "g", "m1", 1, 0);
	/* closing (-1) is a full request: decided as one naming no topic, never rewritten */
	n = share_fetch(b, "g", "m1", -1, NULL, &at);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT(!memcmp(c.out + c.v.payload_off, b, n));
	CU_ASSERT_EQUAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].kind, KG_EV_REQUEST);

	/* monitor mode reports nothing and rewrites nothing */
	apply_base(KG_MODE_MONITOR);
	share_send(&c2, "g", "m1", 3, 0);
	bpf_map_delete_elem(dp.m.topic_ids, id);
}

static struct kg_compiled flip_pol[2];

static volatile int flip_stop;

static volatile __u32 flip_applied, flip_base;

static void flip_policy(struct kg_policy *p, int deny)
{
	struct kg_prule *x;

	policy_start(p, NULL, deny ? KG_ACT_ALLOW : KG_ACT_REJECT);
	x = kg_policy_add_rule(p, deny ? "deny-flip" : "allow-flip", 1, 1);
	push(&x->topics, &x->ntopics, "flip");
	x->action = deny ? KG_ACT_REJECT : KG_ACT_ALLOW;
}

/*
 * Writes the two policies alternately from flip_base (odd): odd versions allow "flip",
 * even ones reject it.
 */
static void *flipper(void *arg)
{
	char err[256];

	(void)arg;
	for (__u32 v = flip_base; !flip_stop && v < flip_base + 100000; v++) {
		int gen = 1 - kg_policy_active(&dp.m);

		if (kg_policy_write(&dp.m, &flip_pol[!(v & 1)], gen, v, err, sizeof(err)) ||
		    kg_policy_activate(&dp.m, gen)) {
			fprintf(stderr, "\n    flipper: %s\n", err);
			break;
		}
		flip_applied = v;
	}
	return NULL;
}

void test_generation_flip(void)
{
	uint8_t b[PKT_CAP];
	size_t n = produce("flip", b), e = name_end(b, n, "flip");
	int seen[2] = { 0, 0 }, wrong = 0;
	struct kg_policy p;
	char err[256];
	pthread_t t;

	for (int deny = 0; deny < 2; deny++) {
		flip_policy(&p, deny);
		CU_ASSERT_EQUAL_FATAL(kg_compile(&p, &flip_pol[deny], err, sizeof(err)), 0);
		kg_policy_free(&p);
	}
	flip_stop = 0;
	flip_base = (dp.version + 101) | 1;
	flip_applied = 0;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, flipper, NULL), 0);
	for (int i = 0; i < 400000; i++) {
		struct conn c;
		int deny;

		if (flip_applied >= flip_base + 40 && seen[0] >= 100 && seen[1] >= 100)
			break;
		conn_open(&c, 4, "10.10.0.5", 0);
		conn_send(&c, b, n);
		if (dp.nev != 1) {
			wrong++;
			continue;
		}
		if (dp.ev[0].version_id < flip_base)
			continue; /* decided before the first flip policy was active */
		deny = !(dp.ev[0].version_id & 1);
		seen[deny]++;
		if (dp.ev[0].verdict != (deny ? KG_ACT_REJECT : KG_ACT_ALLOW) ||
		    dp.ev[0].rule_id != 0 ||
		    (c.out[c.v.payload_off + e - 1] == '!') != deny) {
			if (wrong++ < 3)
				fprintf(stderr, "\n    version %u verdict %u rule %d poisoned %d",
					dp.ev[0].version_id, dp.ev[0].verdict,
					(int)dp.ev[0].rule_id,
					c.out[c.v.payload_off + e - 1] == '!');
		}
	}
	flip_stop = 1;
	pthread_join(t, NULL);
	printf("\n    %u generations applied; decisions under allow %d, under reject %d; "
	       "%d wrong\n", flip_applied - flip_base + 1, seen[0], seen[1], wrong);
	CU_ASSERT(seen[0] >= 100 && seen[1] >= 100 && flip_applied >= flip_base + 40);
	CU_ASSERT_EQUAL(wrong, 0);
	kg_compiled_free(&flip_pol[0]);
	kg_compiled_free(&flip_pol[1]);
	dp.version = flip_applied;
}

/* The base policy with its regions declared us first (their ids renumbered), applied. */
static void apply_us_first(int times)
{
	struct kg_policy p;
	struct kg_pregion tmp;

	base_policy(&p, KG_MODE_ENFORCE);
	tmp = p.regions[0];
	p.regions[0] = p.regions[1];
	p.regions[1] = tmp;
	for (int i = 0; i < times; i++)
		CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
	kg_policy_free(&p);
}

/* The us flow c sends eu.orders again: rejected, its region taken again. */
static void us_flow_rejected(struct conn *c, const uint8_t *b, size_t n, const char *when)
{
	CU_ASSERT_EQUAL(conn_send(c, b, n), XDP_PASS);
	printf("\n    same us flow%s: verdict %u (region %u)", when, dp.nev ? dp.ev[0].verdict : 99,
	       dp.nev ? dp.ev[0].region_id : 99);
	CU_ASSERT(dp.nev && dp.ev[0].verdict == KG_ACT_REJECT);
}

/* 6. Region (and principal) ids of live flows across a policy that renumbers them. */
void rv_stale_region_id(void)
{
	uint8_t b[PKT_CAP];
	struct conn c;
	size_t n = produce("eu.orders", b);

	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.20.0.5", 0); /* us */
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	printf("\n    us client, policy A: verdict %u (region %u)", dp.ev[0].verdict,
	       dp.ev[0].region_id);
	/* policy B: the same rules, regions declared us first */
	apply_us_first(1);
	us_flow_rejected(&c, b, n, ", policy B (regions reordered)");
	/* a new connection from the same source under B */
	conn_open(&c, 4, "10.20.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	printf("\n    new us flow under B: verdict %u (region %u)", dp.ev[0].verdict,
	       dp.ev[0].region_id);

	/*
	 * Two applies between two segments bring the generation back to the one the flow's
	 * ids were taken from; the ids must still be taken again (epochs, not generations).
	 */
	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.20.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	apply_us_first(2);
	us_flow_rejected(&c, b, n, " after two applies (same generation again)");
}

/*
 * 6b. A policy applied in the middle of a request: its client id is taken again, so
 * the topics that follow are decided with the new policy's numbering.
 */
static void cid_policy(struct kg_policy *p, int b)
{
	struct kg_prule *x;

	policy_start(p, b ? "cid-1" : "cid-0", KG_ACT_REJECT);
	p->unknown_id_action = KG_ACT_REJECT;
	if (b) {
		x = kg_policy_add_rule(p, "trusted-may", 1, 1);
		push(&x->client_ids, &x->nclient_ids, "trusted");
		push(&x->topics, &x->ntopics, "t");
		x->action = KG_ACT_ALLOW;
	}
	x = kg_policy_add_rule(p, "app-rule", 2, 1);
	push(&x->client_ids, &x->nclient_ids, "app");
	push(&x->topics, &x->ntopics, "t");
	x->action = b ? KG_ACT_REJECT : KG_ACT_ALLOW;
}

void rv_client_id_across_apply(void)
{
	uint8_t b[PKT_CAP];
	struct kg_policy p;
	struct conn c;
	size_t n = produce("t", b), cut = name_end(b, n, "t") - 1;

	cid_policy(&p, 0);
	CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
	kg_policy_free(&p);
	conn_open(&c, 4, "10.10.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, cut), XDP_PASS); /* header and client id under A */
	cid_policy(&p, 1);
	CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
	kg_policy_free(&p);
	CU_ASSERT_EQUAL(conn_send(&c, b + cut, n - cut), XDP_PASS);
	printf("\n    client 'app', policy changed mid-request: verdict %d rule %d "
	       "(want reject, 1)",
	       dp.nev ? dp.ev[0].verdict : -1, dp.nev ? (int)dp.ev[0].rule_id : -1);
	CU_ASSERT(dp.nev == 1 && dp.ev[0].verdict == KG_ACT_REJECT && dp.ev[0].rule_id == 1);
}
