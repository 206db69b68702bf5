// SPDX-License-Identifier: Apache-2.0
/*
 * Requests about a set of topics (every topic, a prefix, an ACL filter, a regex) and the
 * ACL requests, whose bodies the decoder reads now: each set is decided as bpf/request.h
 * (kg_on_topic_set) says, and a rejected ACL is reset, never poisoned (the broker would
 * create or delete an ACL for the poisoned name and answer success).
 */
#include "harness.h"

/* A flexible request's header (v2): size (filled by wframe_end), key, version, corr,
 * client id "app", no tagged fields. */
static void flex_header(struct wbuf *w, int key, int ver)
{
	w->n = 4;
	w16(w, key);
	w16(w, ver);
	w32(w, 7);
	w16(w, 3);
	memcpy(w->p + w->n, "app", 3), w->n += 3;
	wtf(w, 1);
}

/* CreateAcls v3 of one ACL on a topic resource: pattern 3 literal, 4 prefixed. */
static size_t create_acls(uint8_t *out, const char *name, int pattern)
{
	struct wbuf w = { out, 0 };

	flex_header(&w, KAFKA_CREATE_ACLS, 3);
	warr(&w, 1, 1);
	w.p[w.n++] = KAFKA_RESOURCE_TOPIC;
	wstr(&w, 1, name);
	w.p[w.n++] = pattern;
	wstr(&w, 1, "User:mallory");
	wstr(&w, 1, "*");
	w.p[w.n++] = 2; /* operation ALL */
	w.p[w.n++] = 3; /* permission ALLOW */
	wtf(&w, 1);
	wtf(&w, 1);
	wframe_end(&w);
	return w.n;
}

/* ConsumerGroupHeartbeat v1 subscribing to topic (or NULL) and regex (or NULL). */
static size_t heartbeat(uint8_t *out, const char *topic, const char *regex)
{
	struct wbuf w = { out, 0 };

	flex_header(&w, KAFKA_CONSUMER_GROUP_HEARTBEAT, 1);
	wstr(&w, 1, "g");
	wstr(&w, 1, "m");
	w32(&w, 0);
	wnull(&w, 1); /* instance id */
	wnull(&w, 1); /* rack id */
	w32(&w, 30000);
	if (topic) {
		warr(&w, 1, 1);
		wstr(&w, 1, topic);
	} else {
		wnull(&w, 1);
	}
	if (regex)
		wstr(&w, 1, regex);
	else
		wnull(&w, 1);
	wnull(&w, 1); /* server assignor */
	wnull(&w, 1); /* topic partitions */
	wtf(&w, 1);
	wframe_end(&w);
	return w.n;
}

/* One request on a fresh connection from saddr: its XDP action (c keeps the rest). */
static int send_one(struct conn *c, const char *saddr, const uint8_t *b, size_t n)
{
	conn_open(c, 4, saddr, 0);
	return conn_send(c, b, n);
}

/* The connection was reset, with one undecodable event saying topics_not_read. */
static void check_unread_reset(const struct conn *c)
{
	CU_ASSERT_EQUAL(c->v.flags & PKT_RST, PKT_RST);
	CU_ASSERT_EQUAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].kind, KG_EV_UNDECODABLE);
	CU_ASSERT_EQUAL(dp.ev[0].reason, KD_ERR_TOPICS_UNREAD);
}

void test_topic_sets(void)
{
	uint8_t b[PKT_CAP];
	struct wbuf w = { b, 0 };
	struct conn c;

	apply_base(KG_MODE_ENFORCE);

	/* DescribeLogDirs v4 for every topic (a null list): not decided as topic-less */
	flex_header(&w, 35, 4);
	wnull(&w, 1);
	wtf(&w, 1);
	wframe_end(&w);
	CU_ASSERT_EQUAL(send_one(&c, "10.10.0.5", b, w.n), XDP_PASS);
	check_unread_reset(&c);

	/* DescribeTopicPartitions v0 of no named topic (every topic), no cursor: the same */
	w.n = 0;
	flex_header(&w, 75, 0);
	warr(&w, 1, 0);
	w32(&w, 2000);
	w.p[w.n++] = 0xff; /* a null cursor */
	wtf(&w, 1);
	wframe_end(&w);
	CU_ASSERT_EQUAL(send_one(&c, "10.10.0.5", b, w.n), XDP_PASS);
	check_unread_reset(&c);

	/* CreateAcls on a prefix: a set the datapath does not decide, even for orders-svc */
	CU_ASSERT_EQUAL(send_one(&c, "10.10.1.5", b, create_acls(b, "eu.", 4)), XDP_PASS);
	check_unread_reset(&c);

	/* a literal topic ACL: orders-svc may admin (allowed, bytes unchanged) */
	{
		size_t n = create_acls(b, "public", 3);
		uint8_t orig[PKT_CAP];

		memcpy(orig, b, n);
		CU_ASSERT_EQUAL(send_one(&c, "10.10.1.5", b, n), XDP_PASS);
		CU_ASSERT_EQUAL(c.v.flags & PKT_RST, 0);
		CU_ASSERT(c.v.payload_len == n && !memcmp(c.out + c.v.payload_off, orig, n));
		check_event(0, KG_ACT_ALLOW, 3, 1, KG_OP_ADMIN, "public");
	}
	/* ... anyone else is rejected (no-admin), and a rejected ACL is reset, not poisoned */
	CU_ASSERT_EQUAL(send_one(&c, "10.10.0.5", b, create_acls(b, "public", 3)), XDP_PASS);
	CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
	check_event(0, KG_ACT_RESET, 4, 1, KG_OP_ADMIN, "public");

	/* a regex subscription: decided as a consume request naming no topic (rest: allow) */
	CU_ASSERT_EQUAL(send_one(&c, "10.20.0.5", b, heartbeat(b, NULL, "eu\\..*")), XDP_PASS);
	CU_ASSERT_EQUAL(c.v.flags & PKT_RST, 0);
	CU_ASSERT_EQUAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].kind, KG_EV_REQUEST);
	check_event(0, KG_ACT_ALLOW, 6, 1, KG_OP_CONSUME, NULL);

	/* subscribed names are decided as consume: eu.orders from us is rejected */
	{
		size_t n = heartbeat(b, "eu.orders", NULL), e = name_end(b, n, "eu.orders");

		CU_ASSERT_EQUAL(send_one(&c, "10.20.0.5", b, n), XDP_PASS);
		CU_ASSERT_EQUAL(c.v.flags & PKT_RST, 0);
		check_event(0, KG_ACT_REJECT, 0, 1, KG_OP_CONSUME, "eu.orders");
		CU_ASSERT_EQUAL(c.out[c.v.payload_off + e - 1], '!');
	}
}
