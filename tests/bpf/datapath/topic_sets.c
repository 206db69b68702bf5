// SPDX-License-Identifier: Apache-2.0
/*
 * Requests about a set of topics (every topic, a prefix, an ACL filter, a regex) and the
 * ACL requests, whose bodies the decoder reads now: each set is decided as bpf/request.h
 * (kg_on_topic_set) says, and a rejected ACL is reset, never poisoned (the broker would
 * create or delete an ACL for the poisoned name and answer success).
 */
#include "harness.h"

/*
 * One ACL binding of CreateAcls v3 (a DeleteAcls v3 filter has the same fields): resource
 * type (ACL enum: 1 any, 2 topic, 4 cluster), name, pattern (3 literal, 4 prefixed).
 */
static void acl_binding(struct wbuf *w, int rtype, const char *name, int pattern)
{
	w->p[w->n++] = rtype;
	wstr(w, 1, name);
	w->p[w->n++] = pattern;
	wstr(w, 1, "User:mallory");
	wstr(w, 1, "*");
	w->p[w->n++] = 2; /* operation ALL */
	w->p[w->n++] = 3; /* permission ALLOW */
	wtf(w, 1);
}

/* CreateAcls v3 of one ACL on a topic resource: pattern 3 literal, 4 prefixed. */
static size_t create_acls(uint8_t *out, const char *name, int pattern)
{
	struct wbuf w = { out, 0 };

	wreq_flex(&w, KAFKA_CREATE_ACLS, 3);
	warr(&w, 1, 1);
	acl_binding(&w, KAFKA_RESOURCE_TOPIC, name, pattern);
	return wreq_end(&w);
}

/* ConsumerGroupHeartbeat v1 subscribing to topic (or NULL) and regex (or NULL). */
static size_t heartbeat(uint8_t *out, const char *topic, const char *regex)
{
	struct wbuf w = { out, 0 };

	wreq_flex(&w, KAFKA_CONSUMER_GROUP_HEARTBEAT, 1);
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
	return wreq_end(&w);
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
	wreq_flex(&w, 35, 4);
	wnull(&w, 1);
	wtf(&w, 1);
	wframe_end(&w);
	CU_ASSERT_EQUAL(send_one(&c, "10.10.0.5", b, w.n), XDP_PASS);
	check_unread_reset(&c);

	/* DescribeTopicPartitions v0 of no named topic (every topic), no cursor: the same */
	w.n = 0;
	wreq_flex(&w, 75, 0);
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

/* ---- resources that are not topics, sets beside topics ------------------------- */

/* An ACL binding or filter: resource type (ACL enum), name, pattern type. */
struct acl {
	int rtype;
	const char *name;
	int pattern;
};

/* ACL resource types beside TOPIC and ANY (org.apache.kafka.common.resource.ResourceType). */
#define ACL_GROUP 3
#define ACL_CLUSTER 4
#define ACL_LITERAL 3

/* CreateAcls v3 of n bindings, or DeleteAcls v3 of n filters (the same fields here). */
static size_t acls(uint8_t *out, int key, const struct acl *a, int n)
{
	struct wbuf w = { out, 0 };

	wreq_flex(&w, key, 3);
	warr(&w, 1, n);
	for (int i = 0; i < n; i++)
		acl_binding(&w, a[i].rtype, a[i].name, a[i].pattern);
	return wreq_end(&w);
}

/* Config resource types beside TOPIC (org.apache.kafka.common.config.ConfigResource). */
#define CFG_BROKER 4
#define CFG_BROKER_LOGGER 8

/*
 * A config request of n resources (types[i], names[i]): IncrementalAlterConfigs v1 and
 * AlterConfigs v2 set one config of each; DescribeConfigs v4 asks for all of each.
 */
static size_t configs(uint8_t *out, int key, const int *types, const char *const *names, int n)
{
	struct wbuf w = { out, 0 };
	int ver = key == KAFKA_DESCRIBE_CONFIGS ? 4 : key == KAFKA_ALTER_CONFIGS ? 2 : 1;

	wreq_flex(&w, key, ver);
	warr(&w, 1, n);
	for (int i = 0; i < n; i++) {
		w.p[w.n++] = types[i];
		wstr(&w, 1, names[i]);
		if (key == KAFKA_DESCRIBE_CONFIGS) {
			wnull(&w, 1); /* configuration_keys: all */
		} else {
			warr(&w, 1, 1);
			wstr(&w, 1, "retention.ms");
			if (key == KAFKA_INCREMENTAL_ALTER_CONFIGS)
				w.p[w.n++] = 0; /* SET */
			wstr(&w, 1, "1000");
			wtf(&w, 1);
		}
		wtf(&w, 1);
	}
	w.p[w.n++] = 0; /* validate_only; DescribeConfigs: include_synonyms */
	if (key == KAFKA_DESCRIBE_CONFIGS)
		w.p[w.n++] = 0; /* include_documentation */
	return wreq_end(&w);
}

/*
 * Default reject; admin and describe allowed on team-a.* only, and (topicless) on
 * requests that name no topic too.
 */
static void apply_team_a(int topicless)
{
	struct kg_policy p;
	struct kg_prule *x;

	policy_start(&p, NULL, KG_ACT_REJECT);
	x = kg_policy_add_rule(&p, "team-a-admin", 1, 1); /* 0 */
	push(&x->topics, &x->ntopics, "team-a.*");
	x->ops = 1 << KG_OP_ADMIN | 1 << KG_OP_DESCRIBE;
	x->action = KG_ACT_ALLOW;
	if (topicless) {
		x = kg_policy_add_rule(&p, "cluster-admin", 2, 1); /* 1 */
		x->topics_none = true;
		x->ops = 1 << KG_OP_ADMIN | 1 << KG_OP_DESCRIBE;
		x->action = KG_ACT_ALLOW;
	}
	CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
	kg_policy_free(&p);
}

/* One request on a fresh connection from saddr: passed unchanged, with nev events. */
static void send_unchanged(struct conn *c, const char *saddr, const uint8_t *b, size_t n, int nev)
{
	CU_ASSERT_EQUAL(send_one(c, saddr, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(c->v.flags & PKT_RST, 0);
	CU_ASSERT(c->v.payload_len == n && !memcmp(c->out + c->v.payload_off, b, n));
	CU_ASSERT_EQUAL(dp.nev, nev);
}

/* One request on a fresh connection from saddr: reset, with nev events. */
static void send_reset(struct conn *c, const char *saddr, const uint8_t *b, size_t n, int nev)
{
	CU_ASSERT_EQUAL(send_one(c, saddr, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(c->v.flags & PKT_RST, PKT_RST);
	CU_ASSERT_EQUAL(dp.nev, nev);
}

/* Event i is a request naming no topic, decided by rule (~0u: the default) as verdict. */
static void check_topicless(int i, int verdict, __u32 rule, int op)
{
	check_event(i, verdict, rule, 1, op, NULL);
	CU_ASSERT_EQUAL(dp.ev[i].kind, KG_EV_REQUEST);
	CU_ASSERT_EQUAL(dp.ev[i].topic_len, 0);
}

/*
 * ACL bindings and filters, and config resources, that are not topics (the cluster, a
 * group, a broker, a broker's logger) are decided as a request naming no topic, also
 * when the same request names a topic: once per request, as soon as one is read, by the
 * rules without topics. A filter of any resource type names the topic and every other
 * resource of that name: both are decided.
 */
void test_non_topic_resources(void)
{
	static const struct acl topic_cluster[] = {
		{ KAFKA_RESOURCE_TOPIC, "team-a.x", ACL_LITERAL },
		{ ACL_CLUSTER, "kafka-cluster", ACL_LITERAL },
	};
	static const struct acl any_x[] = { { KAFKA_ACL_RESOURCE_ANY, "team-a.x", ACL_LITERAL } };
	static const struct acl three[] = { { ACL_CLUSTER, "kafka-cluster", ACL_LITERAL },
					    { ACL_GROUP, "g", ACL_LITERAL },
					    { KAFKA_RESOURCE_TOPIC, "team-a.x", ACL_LITERAL } };
	static const int topic_broker[] = { KAFKA_RESOURCE_TOPIC, CFG_BROKER };
	static const int logger_topic[] = { CFG_BROKER_LOGGER, KAFKA_RESOURCE_TOPIC };
	static const char *const tb_names[] = { "team-a.x", "1" };
	static const char *const lt_names[] = { "1", "team-a.x" };
	uint8_t b[PKT_CAP];
	struct conn c;

	apply_team_a(0);
	/* the topic's binding is allowed, the cluster's rejected: reset, never passed */
	send_reset(&c, "10.10.0.5", b, acls(b, KAFKA_CREATE_ACLS, topic_cluster, 2), 2);
	check_event(0, KG_ACT_ALLOW, 0, 1, KG_OP_ADMIN, "team-a.x");
	check_topicless(1, KG_ACT_RESET, ~0u, KG_OP_ADMIN);
	/* the cluster binding alone: the same decision */
	send_reset(&c, "10.10.0.5", b, acls(b, KAFKA_CREATE_ACLS, topic_cluster + 1, 1), 1);
	check_topicless(0, KG_ACT_RESET, ~0u, KG_OP_ADMIN);
	/* a filter of any type named team-a.x: the group or user team-a.x is not a topic */
	send_reset(&c, "10.10.0.5", b, acls(b, KAFKA_DELETE_ACLS, any_x, 1), 1);
	check_topicless(0, KG_ACT_RESET, ~0u, KG_OP_ADMIN);
	/* config resources: a broker beside a topic, a broker logger before one */
	send_reset(&c, "10.10.0.5", b,
		   configs(b, KAFKA_INCREMENTAL_ALTER_CONFIGS, topic_broker, tb_names, 2), 2);
	check_event(0, KG_ACT_ALLOW, 0, 1, KG_OP_ADMIN, "team-a.x");
	check_topicless(1, KG_ACT_RESET, ~0u, KG_OP_ADMIN);
	send_reset(&c, "10.10.0.5", b, configs(b, KAFKA_ALTER_CONFIGS, logger_topic, lt_names, 2),
		   1);
	check_topicless(0, KG_ACT_RESET, ~0u, KG_OP_ADMIN);
	send_reset(&c, "10.10.0.5", b,
		   configs(b, KAFKA_DESCRIBE_CONFIGS, topic_broker, tb_names, 2), 2);
	check_topicless(1, KG_ACT_RESET, ~0u, KG_OP_DESCRIBE);

	/* where requests naming no topic may admin, the same requests pass, bytes unchanged */
	apply_team_a(1);
	send_unchanged(&c, "10.10.0.5", b, acls(b, KAFKA_CREATE_ACLS, topic_cluster, 2), 2);
	check_event(0, KG_ACT_ALLOW, 0, 1, KG_OP_ADMIN, "team-a.x");
	check_topicless(1, KG_ACT_ALLOW, 1, KG_OP_ADMIN);
	/* the filter of any type: the resources first, then the topic */
	send_unchanged(&c, "10.10.0.5", b, acls(b, KAFKA_DELETE_ACLS, any_x, 1), 2);
	check_topicless(0, KG_ACT_ALLOW, 1, KG_OP_ADMIN);
	check_event(1, KG_ACT_ALLOW, 0, 1, KG_OP_ADMIN, "team-a.x");
	/* two resources that are not topics: one decision for the request */
	send_unchanged(&c, "10.10.0.5", b, acls(b, KAFKA_CREATE_ACLS, three, 3), 2);
	check_topicless(0, KG_ACT_ALLOW, 1, KG_OP_ADMIN);
	check_event(1, KG_ACT_ALLOW, 0, 1, KG_OP_ADMIN, "team-a.x");
}

/* OffsetFetch v8 of group g1 for every topic (a null list) and, with topic, g2 for it. */
static size_t offset_fetch_groups(uint8_t *out, const char *topic)
{
	struct wbuf w = { out, 0 };

	wreq_flex(&w, KAFKA_OFFSET_FETCH, 8);
	warr(&w, 1, topic ? 2 : 1);
	wstr(&w, 1, "g1");
	wnull(&w, 1);
	wtf(&w, 1);
	if (topic) {
		wstr(&w, 1, "g2");
		warr(&w, 1, 1);
		wstr(&w, 1, topic);
		warr(&w, 1, 1);
		w32(&w, 0);
		wtf(&w, 1);
		wtf(&w, 1);
	}
	w.p[w.n++] = 0; /* require_stable */
	return wreq_end(&w);
}

/*
 * A set decided as a request naming no topic (every topic of a group's offsets, a
 * subscribed regex) is decided so also when the same request names a topic.
 */
void test_topic_sets_with_topics(void)
{
	uint8_t b[PKT_CAP];
	struct kg_policy p;
	struct kg_prule *x;
	struct conn c;

	/* reset by default; allowed: the topic "public" */
	policy_start(&p, NULL, KG_ACT_RESET);
	x = kg_policy_add_rule(&p, "public-only", 1, 1);
	push(&x->topics, &x->ntopics, "public");
	x->action = KG_ACT_ALLOW;
	CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);

	/* g1's every topic alone, then beside g2's "public": reset either way */
	send_reset(&c, "10.10.0.5", b, offset_fetch_groups(b, NULL), 1);
	check_topicless(0, KG_ACT_RESET, ~0u, KG_OP_CONSUME);
	send_reset(&c, "10.10.0.5", b, offset_fetch_groups(b, "public"), 1);
	check_topicless(0, KG_ACT_RESET, ~0u, KG_OP_CONSUME);
	/* a subscribed regex beside a subscribed name */
	send_reset(&c, "10.10.0.5", b, heartbeat(b, "public", "pub.*"), 2);
	check_event(0, KG_ACT_ALLOW, 0, 1, KG_OP_CONSUME, "public");
	check_topicless(1, KG_ACT_RESET, ~0u, KG_OP_CONSUME);

	/*
	 * A `topics: none` rule (requests that name no topic: FindCoordinator, JoinGroup...)
	 * does not open every topic's offsets: the set is still decided by the default
	 */
	x = kg_policy_add_rule(&p, "groups", 2, 1);
	x->topics_none = true;
	x->ops = 1 << KG_OP_CONSUME;
	x->action = KG_ACT_ALLOW;
	CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
	send_reset(&c, "10.10.0.5", b, offset_fetch_groups(b, "public"), 1);
	check_topicless(0, KG_ACT_RESET, ~0u, KG_OP_CONSUME);
	/* a rule for any topic does: both pass, one decision each for the set and the topic */
	x = kg_policy_add_rule(&p, "any-consume", 3, 1);
	x->ops = 1 << KG_OP_CONSUME;
	x->action = KG_ACT_ALLOW;
	CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
	kg_policy_free(&p);
	send_unchanged(&c, "10.10.0.5", b, offset_fetch_groups(b, "public"), 2);
	check_topicless(0, KG_ACT_ALLOW, 2, KG_OP_CONSUME);
	check_event(1, KG_ACT_ALLOW, 0, 1, KG_OP_CONSUME, "public");
}

/* ListConfigResources (74) v1 of the given resource types (ConfigResource enum). */
static size_t list_config_resources(uint8_t *out, int ver)
{
	struct wbuf w = { out, 0 };

	wreq_flex(&w, KAFKA_LIST_CONFIG_RESOURCES, ver);
	if (ver >= 1) {
		warr(&w, 1, 2);
		w.p[w.n++] = KAFKA_RESOURCE_TOPIC;
		w.p[w.n++] = CFG_BROKER;
	}
	return wreq_end(&w);
}

/*
 * ListConfigResources v1+ lists config resources of every type, topics among them: it is
 * decided as a request naming no topic (as Metadata for every topic), as it was before
 * its body was read; Admin clients on Kafka 4.1+ send it.
 */
void test_list_config_resources(void)
{
	uint8_t b[PKT_CAP];
	struct conn c;

	apply_base(KG_MODE_ENFORCE);
	for (int ver = 0; ver <= 1; ver++) {
		send_unchanged(&c, "10.20.0.5", b, list_config_resources(b, ver), 1);
		check_topicless(0, KG_ACT_ALLOW, 6, KG_OP_DESCRIBE);
	}
}

/* A classic (non-flexible) request's header: size (wframe_end), key, version, corr 7, "app". */
static void wreq_classic(struct wbuf *w, int key, int ver)
{
	w->n = 4;
	w16(w, key);
	w16(w, ver);
	w32(w, 7);
	wstr(w, 0, "app");
}

/*
 * A `topics: none` rule is for requests that name no topic (connection plumbing): it
 * never decides a request about every topic or a set of them, which would open every
 * topic's names, ids, partitions or offsets. Those are decided by rules for any topic,
 * then the default; FindCoordinator still passes by the plumbing rule.
 */
void test_topics_none_never_opens_sets(void)
{
	uint8_t b[PKT_CAP];
	struct wbuf w = { b, 0 };
	struct kg_policy p;
	struct kg_prule *x;
	struct conn c;

	policy_start(&p, NULL, KG_ACT_REJECT);
	x = kg_policy_add_rule(&p, "no-secret", 1, 1); /* 0 */
	push(&x->topics, &x->ntopics, "secret.*");
	x->action = KG_ACT_REJECT;
	x = kg_policy_add_rule(&p, "plumbing", 2, 1); /* 1 */
	x->topics_none = true;
	x->action = KG_ACT_ALLOW;
	x = kg_policy_add_rule(&p, "orders", 3, 1); /* 2 */
	push(&x->topics, &x->ntopics, "orders.*");
	x->action = KG_ACT_ALLOW;
	CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
	kg_policy_free(&p);

	/* Metadata v4 for every topic (a null list): the default, a reject enforced as reset */
	send_reset(&c, "10.10.0.5", b, req(KAFKA_METADATA, 4, NULL, -1, b), 1);
	check_topicless(0, KG_ACT_RESET, ~0u, KG_OP_DESCRIBE);
	/* ElectLeaders v1 for every partition */
	wreq_classic(&w, KAFKA_ELECT_LEADERS, 1);
	w.p[w.n++] = 0; /* election type: preferred */
	w32(&w, -1);    /* topic partitions: null */
	w32(&w, 30000);
	wframe_end(&w);
	send_reset(&c, "10.10.0.5", b, w.n, 1);
	check_topicless(0, KG_ACT_RESET, ~0u, KG_OP_ADMIN);
	/* ListPartitionReassignments v0 for every topic */
	wreq_flex(&w, KAFKA_LIST_PARTITION_REASSIGNMENTS, 0);
	w32(&w, 30000);
	wnull(&w, 1);
	send_reset(&c, "10.10.0.5", b, wreq_end(&w), 1);
	check_topicless(0, KG_ACT_RESET, ~0u, KG_OP_DESCRIBE);
	/* FindCoordinator v1 names no topic: the plumbing rule lets it through */
	wreq_classic(&w, 10, 1);
	wstr(&w, 0, "g");
	w.p[w.n++] = 0; /* key type: group */
	wframe_end(&w);
	send_unchanged(&c, "10.10.0.5", b, w.n, 1);
	check_topicless(0, KG_ACT_ALLOW, 1, KG_OP_CONSUME);
}
