// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of `kgate policy eval`'s honesty (agent/policy/explain.c): unknown
 * operations, regions and principals are errors (a SASL user is any name when said so),
 * enforced is false in monitor mode and for audit rules, and --explain names, for each
 * rule, the first dimension the request misses: the reference evaluator's own answer.
 * What the datapath makes of a verdict (kg_eval_decide): requests about all topics, a
 * connection redirected at its start, rejects enforced as resets, refused policies.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "agent/policy/policy.h"
#include "agent/policy/explain.h"
#include "agent/policy/yaml.h"

/* Kafka's keys (ApiKeys.java), written here rather than taken from the decoder's table */
#define KAFKA_CREATE_ACLS_KEY 30
#define KAFKA_DELETE_ACLS_KEY 31

static const char eval_yaml[] = "version: e1\n"
				"default: reject\n"
				"listeners:\n"
				"  - port: 9092\n"
				"regions:\n"
				"  eu: [10.10.0.0/16]\n"
				"  us: [10.20.0.0/16]\n"
				"identities:\n"
				"  orders-svc: [10.10.1.0/24]\n"
				"rules:\n"
				"  - name: eu-stays\n" /* 0 */
				"    topics: [\"eu.*\"]\n"
				"    regions_not: [eu]\n"
				"    action: reject\n"
				"  - name: writers\n" /* 1 */
				"    topics: [contracts.orders]\n"
				"    principals: [alice]\n"
				"    action: allow\n"
				"  - name: loader\n" /* 2 */
				"    client_ids: [loader]\n"
				"    action: allow\n"
				"    audit: true\n"
				"  - name: readers\n" /* 3 */
				"    operations: [consume, describe]\n"
				"    regions: [eu]\n"
				"    action: allow\n"
				"  - name: plumbing\n" /* 4 */
				"    topics: none\n"
				"    action: allow\n";

static void load(struct kg_policy *p)
{
	char err[256];

	CU_ASSERT_FATAL(kg_policy_parse_yaml(eval_yaml, sizeof(eval_yaml) - 1, p, err,
					     sizeof(err)) == 0);
}

static void test_names_checked(void)
{
	struct kg_eval_req q = { 0 };
	struct kg_policy p;
	char err[512];

	load(&p);
	CU_ASSERT_EQUAL(kg_eval_check(&p, "write", false, &q, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown operation 'write'"));
	q.region = "ue";
	CU_ASSERT_EQUAL(kg_eval_check(&p, "produce", false, &q, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown region 'ue': the policy defines eu, us"));
	q.region = "us";
	CU_ASSERT_EQUAL(kg_eval_check(&p, "produce", false, &q, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(q.op, KG_OP_PRODUCE);
	/* a near miss of an identity is no principal the policy knows */
	q.principal = "order-svc";
	CU_ASSERT_EQUAL(kg_eval_check(&p, "produce", false, &q, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown principal 'order-svc'"));
	/* ... unless it is said to be a SASL user */
	CU_ASSERT_EQUAL(kg_eval_check(&p, "produce", true, &q, err, sizeof(err)), 0);
	/* identities, principals rules name and ANONYMOUS are known */
	static const char *const known[] = { "orders-svc", "alice", "ANONYMOUS" };

	for (int i = 0; i < 3; i++) {
		q.principal = known[i];
		CU_ASSERT_EQUAL(kg_eval_check(&p, "consume", false, &q, err, sizeof(err)), 0);
	}
	kg_policy_free(&p);
}

static void test_enforced(void)
{
	struct kg_policy p;

	load(&p);
	CU_ASSERT_TRUE(kg_eval_enforced(&p, -1));
	CU_ASSERT_TRUE(kg_eval_enforced(&p, 0));
	CU_ASSERT_FALSE(kg_eval_enforced(&p, 2)); /* audit: true */
	p.mode = KG_MODE_MONITOR;
	CU_ASSERT_FALSE(kg_eval_enforced(&p, -1));
	CU_ASSERT_FALSE(kg_eval_enforced(&p, 0));
	kg_policy_free(&p);
}

struct miss_case {
	struct kg_eval_req q;
	int rule;
	enum kg_dim dim;
	const char *why;
};

static void test_explain(void)
{
	static const struct miss_case cases[] = {
		{ { "us.x", NULL, "us", NULL, KG_OP_PRODUCE }, 0, KG_DIM_TOPICS,
		  "\"us.x\" is none of eu.*" },
		{ { NULL, NULL, "us", NULL, KG_OP_PRODUCE }, 0, KG_DIM_TOPICS,
		  "the request names no topic; the rule names eu.*" },
		{ { "eu.x", NULL, "eu", NULL, KG_OP_PRODUCE }, 0, KG_DIM_REGIONS_NOT,
		  "the source is in \"eu\", which the rule leaves out" },
		{ { "eu.x", NULL, NULL, NULL, KG_OP_PRODUCE }, 0, KG_DIM_NONE, "" },
		{ { "contracts.orders", "bob", NULL, NULL, KG_OP_PRODUCE }, 1, KG_DIM_PRINCIPALS,
		  "principal \"bob\" is none of alice" },
		{ { "contracts.orders", NULL, NULL, NULL, KG_OP_PRODUCE }, 1, KG_DIM_PRINCIPALS,
		  "principal \"ANONYMOUS\" is none of alice" },
		{ { "x", NULL, NULL, "app", KG_OP_PRODUCE }, 2, KG_DIM_CLIENT_IDS,
		  "client id \"app\" is none of loader" },
		{ { "x", NULL, NULL, NULL, KG_OP_PRODUCE }, 2, KG_DIM_CLIENT_IDS,
		  "a null client id is none of loader" },
		{ { "x", NULL, "eu", NULL, KG_OP_ADMIN }, 3, KG_DIM_OPERATIONS,
		  "operation admin is none of consume, describe" },
		{ { "x", NULL, "us", NULL, KG_OP_CONSUME }, 3, KG_DIM_REGIONS,
		  "the source is in \"us\", none of eu" },
		{ { "x", NULL, NULL, NULL, KG_OP_CONSUME }, 3, KG_DIM_REGIONS,
		  "the source is in no region, so in none of eu" },
		{ { "x", NULL, NULL, NULL, KG_OP_CONSUME }, 4, KG_DIM_TOPICS,
		  "the request names \"x\"; the rule is for requests that name no topic" },
		{ { NULL, NULL, NULL, NULL, KG_OP_CONSUME }, 4, KG_DIM_NONE, "" },
		{ { KG_ALL_TOPICS, NULL, NULL, NULL, KG_OP_CONSUME }, 0, KG_DIM_TOPICS,
		  "the request is about all topics, which only a rule without topics matches; "
		  "the rule names eu.*" },
		{ { KG_ALL_TOPICS, NULL, NULL, NULL, KG_OP_CONSUME }, 4, KG_DIM_TOPICS,
		  "the request is about all topics; the rule is for requests that name no topic" },
		{ { KG_ALL_TOPICS, NULL, "eu", NULL, KG_OP_CONSUME }, 3, KG_DIM_NONE, "" },
	};
	struct kg_policy p;
	char why[512];

	load(&p);
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct miss_case *t = &cases[i];
		enum kg_dim d = kg_eval_miss(&p.rules[t->rule], &t->q, why, sizeof(why));
		bool ok = d == t->dim && strstr(why, t->why) &&
			  /* the dimension is the reference evaluator's own */
			  d == kg_ref_rule_miss(&p.rules[t->rule], t->q.principal, t->q.region,
						t->q.client_id, t->q.op, t->q.topic);

		if (!ok)
			fprintf(stderr, "\n  case %u: dimension %d, \"%s\"; want %d, \"%s\"\n", i, d,
				why, t->dim, t->why);
		CU_ASSERT(ok);
	}
	kg_policy_free(&p);
}

/* A connection-start redirect, a per-request one, and an identity. */
static const char wire_yaml[] = "version: w1\n"
				"default: reject\n"
				"listeners:\n"
				"  - port: 9092\n"
				"regions:\n"
				"  q: [10.30.0.0/16]\n"
				"identities:\n"
				"  suspect: [10.40.0.0/16]\n"
				"rules:\n"
				"  - {name: orders-q, topics: [\"orders.*\"], regions: [q], action: "
				"allow}\n" /* 0 */
				"  - {name: quarantine, regions: [q], action: redirect}\n" /* 1 */
				"  - {name: suspects, principals: [suspect, mallory], action: "
				"redirect}\n" /* 2 */
				"  - {name: per-request, topics: [x], action: redirect}\n" /* 3 */
				"  - {name: acls, topics: [\"acl.*\"], action: reject}\n" /* 4 */
				"  - {name: plumbing, topics: none, action: allow}\n" /* 5 */
				"  - {name: watch, topics: [w], action: reject, audit: true}\n"; /* 6 */

struct wire_case {
	const char *topic, *principal, *region;
	bool sasl;
	int api;
	int rule, conn_rule;
	bool enforced;
	int wire; /* -1: not enforced */
	const char *why;
};

static void test_wire(void)
{
	static const struct wire_case cases[] = {
		/* the connection goes to quarantine at its start: the allow never applies */
		{ "orders.x", NULL, "q", false, -1, 0, 1, false, -1,
		  "rule \"quarantine\" (11:5) redirects the connection at its start" },
		{ "other", NULL, "q", false, -1, 1, 1, true, KG_ACT_REDIRECT,
		  "at the connection's start" },
		{ NULL, NULL, "q", false, -1, 1, 1, true, KG_ACT_REDIRECT, "" },
		/* an identity is known at the start; a SASL user is not yet */
		{ "t", "suspect", NULL, false, -1, 2, 2, true, KG_ACT_REDIRECT, "" },
		{ "t", "mallory", NULL, false, -1, 2, -1, true, KG_ACT_RESET, "mid-stream" },
		{ "t", "suspect", NULL, true, -1, 2, -1, true, KG_ACT_RESET, "mid-stream" },
		{ "x", NULL, NULL, false, -1, 3, -1, true, KG_ACT_RESET, "mid-stream" },
		/* a reject with nothing to refuse by name */
		{ "acl.a", NULL, NULL, false, -1, 4, -1, true, KG_ACT_REJECT, "" },
		{ "acl.a", NULL, NULL, false, KAFKA_CREATE_ACLS_KEY, 4, -1, true, KG_ACT_RESET,
		  "CreateAcls with a refused name" },
		{ "acl.a", NULL, NULL, false, KAFKA_DELETE_ACLS_KEY, 4, -1, true, KG_ACT_RESET,
		  "DeleteAcls" },
		{ "nope", NULL, NULL, false, -1, -1, -1, true, KG_ACT_REJECT, "" },
		{ NULL, NULL, NULL, false, -1, 5, -1, true, KG_ACT_ALLOW, "" },
		/* all topics: not the plumbing rule; the default's reject is a reset */
		{ "*", NULL, NULL, false, -1, -1, -1, true, KG_ACT_RESET,
		  "the request is about all topics" },
		{ "w", NULL, NULL, false, -1, 6, -1, false, -1, "audit: true" },
	};
	struct kg_policy p;
	char err[256];

	CU_ASSERT_FATAL(kg_policy_parse_yaml(wire_yaml, sizeof(wire_yaml) - 1, &p, err,
					     sizeof(err)) == 0);
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct wire_case *t = &cases[i];
		struct kg_eval_req q = { .principal = t->principal, .region = t->region };
		struct kg_eval_outcome o;
		bool ok;

		q.topic = t->topic && !strcmp(t->topic, "*") ? KG_ALL_TOPICS : t->topic;
		CU_ASSERT_FATAL(kg_eval_check(&p, "produce", t->sasl, &q, err, sizeof(err)) == 0);
		kg_eval_decide(&p, &q, kg_eval_syn_principal(&p, &q, t->sasl), t->api, NULL, &o);
		ok = o.rule == t->rule && o.conn_rule == t->conn_rule &&
		     o.enforced == t->enforced && o.wire == t->wire && strstr(o.why, t->why);
		if (!ok)
			fprintf(stderr, "\n  case %u: rule %d conn %d enforced %d wire %d \"%s\"\n",
				i, o.rule, o.conn_rule, o.enforced, o.wire, o.why);
		CU_ASSERT(ok);
	}
	/* monitor mode: nothing is enforced, a connection-start redirect neither */
	p.mode = KG_MODE_MONITOR;
	{
		struct kg_eval_req q = { .topic = "orders.x", .region = "q" };
		struct kg_eval_outcome o;

		kg_eval_decide(&p, &q, NULL, -1, NULL, &o);
		CU_ASSERT(!o.enforced && o.conn_rule == -1 && o.wire == -1 &&
			  !strcmp(o.why, "mode monitor"));
		/* a policy kgate refuses is never enforced, whatever else holds */
		p.mode = KG_MODE_ENFORCE;
		kg_eval_decide(&p, &q, NULL, -1, "1:1 [no-listeners]", &o);
		CU_ASSERT(!o.enforced && o.wire == -1 &&
			  strstr(o.why, "kgate refuses this policy: 1:1 [no-listeners]"));
	}
	kg_policy_free(&p);
	CU_ASSERT_EQUAL(kg_eval_api("CreateAcls"), KAFKA_CREATE_ACLS_KEY);
	CU_ASSERT_EQUAL(kg_eval_api("createacls"), KAFKA_CREATE_ACLS_KEY);
	CU_ASSERT_EQUAL(kg_eval_api("31"), KAFKA_DELETE_ACLS_KEY);
	CU_ASSERT_EQUAL(kg_eval_api("9999"), -1);
	CU_ASSERT_EQUAL(kg_eval_api("Nope"), -1);
	CU_ASSERT_EQUAL(kg_eval_api(""), -1);
}

int register_policy_eval_tests(void)
{
	CU_pSuite s = CU_add_suite("policy eval", NULL, NULL);

	if (!s || !CU_add_test(s, "unknown names are errors", test_names_checked) ||
	    !CU_add_test(s, "enforced: monitor mode and audit rules", test_enforced) ||
	    !CU_add_test(s, "explain: the first dimension missed", test_explain) ||
	    !CU_add_test(s, "wire: connection redirects, resets, all topics", test_wire))
		return -1;
	return 0;
}
