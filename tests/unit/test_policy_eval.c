// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of `kgate policy eval`'s honesty (agent/policy/explain.c): unknown
 * operations, regions and principals are errors (a SASL user is any name when said so),
 * enforced is false in monitor mode and for audit rules, and --explain names, for each
 * rule, the first dimension the request misses: the reference evaluator's own answer.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "agent/policy/policy.h"
#include "agent/policy/explain.h"
#include "agent/policy/yaml.h"

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

int register_policy_eval_tests(void)
{
	CU_pSuite s = CU_add_suite("policy eval", NULL, NULL);

	if (!s || !CU_add_test(s, "unknown names are errors", test_names_checked) ||
	    !CU_add_test(s, "enforced: monitor mode and audit rules", test_enforced) ||
	    !CU_add_test(s, "explain: the first dimension missed", test_explain))
		return -1;
	return 0;
}
