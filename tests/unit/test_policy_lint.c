// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of the policy linter (agent/policy/lint.c):
 *
 *  - every error and warning, each from a policy that triggers it (with its LINE:COL)
 *    and from one as close as possible that does not;
 *  - shadowing pairs that are exact and pairs that are not quite: prefix vs exact topic,
 *    principal sets, regions with regions_not, operations, client ids, negations,
 *    topics: none vs no topics;
 *  - exactness against the reference evaluator: over random policies, every request
 *    shape that can tell two rules apart is decided, and a rule is reported shadowed
 *    exactly when it never decides while an earlier rule matches all it matches (or,
 *    topic by topic, earlier rules do);
 *  - the shipped policies lint clean (what `check --strict` in the DaemonSet needs).
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/policy/policy.h"
#include "agent/policy/lint.h"
#include "agent/policy/yaml.h"

/* Lints a YAML policy, which must load and compile. */
static int lint_yaml(const char *yaml, struct kg_lint *l)
{
	struct kg_compiled c;
	struct kg_policy p;
	char err[512] = "";
	int rc = kg_policy_parse_yaml(yaml, strlen(yaml), &p, err, sizeof(err));

	if (!rc)
		rc = kg_compile(&p, &c, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "\n  does not load: %s\n%s", err, yaml);
		kg_policy_free(&p);
		memset(l, 0, sizeof(*l));
		return -1;
	}
	rc = kg_lint(&p, &c, l);
	kg_compiled_free(&c);
	kg_policy_free(&p);
	return rc;
}

static int count(const struct kg_lint *l, enum kg_lint_code code)
{
	int n = 0;

	for (int i = 0; i < l->n; i++)
		n += l->items[i].code == code;
	return n;
}

static const struct kg_lint_item *find(const struct kg_lint *l, enum kg_lint_code code)
{
	for (int i = 0; i < l->n; i++)
		if (l->items[i].code == code)
			return &l->items[i];
	return NULL;
}

static void dump(const struct kg_lint *l)
{
	for (int i = 0; i < l->n; i++)
		fprintf(stderr, "    %d:%d %s: %s\n", l->items[i].pos.line, l->items[i].pos.col,
			kg_lint_code_names[l->items[i].code], l->items[i].msg);
}

/* ---- each finding, triggered and not --------------------------------------------------- */

struct lint_case {
	const char *what;
	const char *yaml;
	enum kg_lint_code code;
	int n;         /* findings of code: 0 for the near miss */
	int line, col; /* of the first, when n */
	const char *says; /* a part of its message, or NULL */
};

#define V "version: v1\n"
#define LSN "listeners:\n  - port: 9092\n"
/* lines 1-4: version, listeners, default */
#define HEAD_ALLOW V LSN "default: allow\n"
#define HEAD_REJECT V LSN "default: reject\n"
/* lines 5-8 */
#define REGIONS "regions:\n  eu: [10.10.0.0/16]\n  us: [10.20.0.0/16]\n  ap: [10.30.0.0/16]\n"

static const struct lint_case cases[] = {
	/* errors: a policy that enforces nothing */
	{"no listeners", V "default: allow\nrules:\n  - {name: a, topics: [x], action: reject}\n",
	 KG_LINT_NO_LISTENERS, 1, 1, 1, "no listeners"},
	{"listeners", HEAD_ALLOW "rules:\n  - {name: a, topics: [x], action: reject}\n",
	 KG_LINT_NO_LISTENERS, 0, 0, 0, NULL},
	{"listeners and no rule", HEAD_REJECT, KG_LINT_UNREACHABLE_LISTENERS, 1, 3, 5,
	 "the policy has no rules"},
	{"listeners and only contradictory rules",
	 HEAD_REJECT REGIONS "rules:\n  - {name: a, regions: [eu], regions_not: [eu], action: allow}\n",
	 KG_LINT_UNREACHABLE_LISTENERS, 1, 3, 5, "every rule contradicts itself"},
	{"listeners and a rule that can match",
	 HEAD_REJECT REGIONS "rules:\n  - {name: a, regions: [eu, us], regions_not: [eu], action: "
			     "allow}\n",
	 KG_LINT_UNREACHABLE_LISTENERS, 0, 0, 0, NULL},

	/* shadowing, exact pairs and pairs that are not quite */
	{"prefix before an exact name under it",
	 HEAD_REJECT "rules:\n  - {name: allow-all-eu, topics: [\"eu.*\"], action: allow}\n"
		     "  - {name: no-eu-orders, topics: [eu.orders], action: reject}\n",
	 KG_LINT_SHADOWED, 1, 7, 5, "rule \"no-eu-orders\" can never decide: rule \"allow-all-eu\" (6:5)"},
	{"exact name before the prefix",
	 HEAD_REJECT "rules:\n  - {name: no-eu-orders, topics: [eu.orders], action: reject}\n"
		     "  - {name: allow-all-eu, topics: [\"eu.*\"], action: allow}\n",
	 KG_LINT_SHADOWED, 0, 0, 0, NULL},
	{"an exact name before the prefix that spells it",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: [eu.orders], action: reject}\n"
		    "  - {name: b, topics: [\"eu.orders*\"], action: drop}\n",
	 KG_LINT_SHADOWED, 0, 0, 0, NULL},
	{"a prefix before a longer prefix",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: [\"eu.*\"], action: reject}\n"
		    "  - {name: b, topics: [\"eu.orders.*\", eu.x], action: drop}\n",
	 KG_LINT_SHADOWED, 1, 7, 5, "rule \"a\" (6:5)"},
	{"a prefix before a rule with one more topic outside it",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: [\"eu.*\"], action: reject}\n"
		    "  - {name: b, topics: [\"eu.orders.*\", us.x], action: drop}\n",
	 KG_LINT_SHADOWED, 0, 0, 0, NULL},
	{"each topic covered by another earlier rule, and one rule covering both later",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: [\"eu.*\"], action: reject}\n"
		    "  - {name: b, topics: [\"e*\"], action: reject}\n"
		    "  - {name: c, topics: [eu.x, ex], action: drop}\n",
	 KG_LINT_SHADOWED, 1, 8, 5, "rule \"b\" (7:5) comes first"},
	{"each topic covered by another earlier rule",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: [\"eu.*\"], action: reject}\n"
		    "  - {name: b, topics: [\"us.*\"], action: reject}\n"
		    "  - {name: c, topics: [eu.x, us.y], action: drop}\n",
	 KG_LINT_SHADOWED, 1, 8, 5, "rule \"a\" at 6:5, rule \"b\" at 7:5"},
	{"a principal set holding the later one",
	 HEAD_ALLOW "rules:\n  - {name: a, principals: [alice, bob], action: reject}\n"
		    "  - {name: b, principals: [bob], topics: [x], action: drop}\n",
	 KG_LINT_SHADOWED, 1, 7, 5, NULL},
	{"a principal set missing one of the later one's",
	 HEAD_ALLOW "rules:\n  - {name: a, principals: [alice], action: reject}\n"
		    "  - {name: b, principals: [alice, bob], action: drop}\n",
	 KG_LINT_SHADOWED, 0, 0, 0, NULL},
	{"principals before a rule for every principal",
	 HEAD_ALLOW "rules:\n  - {name: a, principals: [alice, ANONYMOUS], action: reject}\n"
		    "  - {name: b, topics: [x], action: drop}\n",
	 KG_LINT_SHADOWED, 0, 0, 0, NULL},
	{"regions_not holding the later regions",
	 HEAD_ALLOW REGIONS "rules:\n  - {name: a, regions_not: [us], action: reject}\n"
			    "  - {name: b, regions: [eu, ap], action: drop}\n",
	 KG_LINT_SHADOWED, 1, 11, 5, NULL},
	{"regions before regions_not (a source in no region is outside both)",
	 HEAD_ALLOW REGIONS "rules:\n  - {name: a, regions: [eu, us], action: reject}\n"
			    "  - {name: b, regions_not: [ap], action: drop}\n",
	 KG_LINT_SHADOWED, 0, 0, 0, NULL},
	{"every region named, and no region is none of them",
	 HEAD_ALLOW REGIONS "rules:\n  - {name: a, regions: [eu, us, ap], action: reject}\n"
			    "  - {name: b, topics: [x], action: drop}\n",
	 KG_LINT_SHADOWED, 0, 0, 0, NULL},
	{"a narrower negation before a wider one",
	 HEAD_ALLOW REGIONS "rules:\n  - {name: a, regions_not: [eu], action: reject}\n"
			    "  - {name: b, regions_not: [eu, us], action: drop}\n",
	 KG_LINT_SHADOWED, 1, 11, 5, NULL},
	{"a wider negation before a narrower one",
	 HEAD_ALLOW REGIONS "rules:\n  - {name: a, regions_not: [eu, us], action: reject}\n"
			    "  - {name: b, regions_not: [eu], action: drop}\n",
	 KG_LINT_SHADOWED, 0, 0, 0, NULL},
	{"operations holding the later ones",
	 HEAD_ALLOW "rules:\n  - {name: a, operations: [produce, consume], action: reject}\n"
		    "  - {name: b, operations: [produce], topics: [x], action: drop}\n",
	 KG_LINT_SHADOWED, 1, 7, 5, NULL},
	{"all five operations are any",
	 HEAD_ALLOW "rules:\n  - {name: a, operations: [other, produce, consume, describe, "
		    "admin], action: reject}\n  - {name: b, topics: [x], action: drop}\n",
	 KG_LINT_SHADOWED, 1, 7, 5, NULL},
	{"one operation before any",
	 HEAD_ALLOW "rules:\n  - {name: a, operations: [produce], action: reject}\n"
		    "  - {name: b, topics: [x], action: drop}\n",
	 KG_LINT_SHADOWED, 0, 0, 0, NULL},
	{"any client id before one",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: [x], action: reject}\n"
		    "  - {name: b, topics: [x], client_ids: [c1], action: drop}\n",
	 KG_LINT_SHADOWED, 1, 7, 5, NULL},
	{"client ids before any (a null client.id is none of them)",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: [x], client_ids: [c1, c2], action: reject}\n"
		    "  - {name: b, topics: [x], action: drop}\n",
	 KG_LINT_SHADOWED, 0, 0, 0, NULL},
	{"no topics before topics: none",
	 HEAD_ALLOW "rules:\n  - {name: a, operations: [produce], action: reject}\n"
		    "  - {name: b, topics: none, operations: [produce], action: drop}\n",
	 KG_LINT_SHADOWED, 1, 7, 5, NULL},
	{"\"*\" before topics: none",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: [\"*\"], action: reject}\n"
		    "  - {name: b, topics: none, action: drop}\n",
	 KG_LINT_SHADOWED, 1, 7, 5, NULL},
	{"topics: none before no topics",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: none, action: reject}\n"
		    "  - {name: b, operations: [produce], action: drop}\n",
	 KG_LINT_SHADOWED, 0, 0, 0, NULL},
	{"topics: none before a topic",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: none, action: reject}\n"
		    "  - {name: b, topics: [x], action: drop}\n",
	 KG_LINT_SHADOWED, 0, 0, 0, NULL},
	{"no topics before a topic rule it covers, with the hint",
	 HEAD_ALLOW "rules:\n  - {name: a, operations: [produce], action: reject}\n"
		    "  - {name: b, topics: [x], operations: [produce], action: allow}\n",
	 KG_LINT_SHADOWED, 1, 7, 5, "topics: none"},
	{"after a rule that matches everything",
	 HEAD_ALLOW "rules:\n  - {name: all, action: reject}\n"
		    "  - {name: b, topics: [x], principals: [alice], action: allow}\n",
	 KG_LINT_SHADOWED, 1, 7, 5, "rule \"all\""},
	{"an audit rule shadows too",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: [x], action: reject, audit: true}\n"
		    "  - {name: b, topics: [x], action: allow}\n",
	 KG_LINT_SHADOWED, 1, 7, 5, NULL},

	/* contradictory dimensions */
	{"regions: [eu] with regions_not: [eu]",
	 HEAD_ALLOW REGIONS "rules:\n  - name: a\n    regions: [eu]\n    regions_not: [us, eu]\n"
			    "    action: reject\n",
	 KG_LINT_CONTRADICTION, 1, 12, 23, "\"eu\""},
	{"regions: [eu, us] with regions_not: [eu]",
	 HEAD_ALLOW REGIONS "rules:\n  - name: a\n    regions: [eu, us]\n    regions_not: [eu]\n"
			    "    action: reject\n",
	 KG_LINT_CONTRADICTION, 0, 0, 0, NULL},

	/* principals: neither an identity nor plausibly a SASL user */
	{"a near miss of an identity",
	 HEAD_ALLOW "identities:\n  orders-svc: [10.10.1.0/24]\n  billing-svc: [10.10.2.0/24]\n"
		    "rules:\n  - name: a\n    principals: [alice, order-svc]\n    action: reject\n",
	 KG_LINT_PRINCIPAL, 1, 10, 25,
	 "principal \"order-svc\" is no identity (identities: orders-svc, billing-svc)"},
	{"an identity itself, and a name far from it",
	 HEAD_ALLOW "identities:\n  orders-svc: [10.10.1.0/24]\n"
		    "rules:\n  - name: a\n    principals: [orders-svc, alice, ANONYMOUS]\n"
		    "    action: reject\n",
	 KG_LINT_PRINCIPAL, 0, 0, 0, NULL},
	{"a near miss named by two rules: warned where each names it",
	 HEAD_ALLOW "identities:\n  orders-svc: [10.10.1.0/24]\nrules:\n"
		    "  - {name: a, principals: [order-svc], action: reject}\n"
		    "  - {name: b, topics: [x], principals: [alice, order-svc], action: drop}\n",
	 KG_LINT_PRINCIPAL, 2, 8, 28, "rule \"a\": principal \"order-svc\""},
	{"anonymous in lower case",
	 HEAD_ALLOW "rules:\n  - name: a\n    principals: [anonymous]\n    action: reject\n",
	 KG_LINT_PRINCIPAL, 1, 7, 18, "did you mean \"ANONYMOUS\"?"},
	{"Kafka's User: form",
	 HEAD_ALLOW "rules:\n  - name: a\n    principals: [\"User:alice\"]\n    action: reject\n",
	 KG_LINT_PRINCIPAL, 1, 7, 18, "bare SASL user name"},
	{"blanks around a name",
	 HEAD_ALLOW "rules:\n  - name: a\n    principals: [\"alice \"]\n    action: reject\n",
	 KG_LINT_PRINCIPAL, 1, 7, 18, "blanks"},

	/* redirect decided per request */
	{"redirect on a topic rule",
	 HEAD_ALLOW "rules:\n  - name: a\n    topics: [x]\n    action: redirect\n",
	 KG_LINT_REDIRECT, 1, 8, 13, "names topics"},
	{"redirect on an operation rule",
	 HEAD_ALLOW "rules:\n  - {name: a, operations: [admin], action: redirect}\n",
	 KG_LINT_REDIRECT, 1, 6, 44, "names operations"},
	{"redirect on a client id rule",
	 HEAD_ALLOW "rules:\n  - {name: a, client_ids: [c], action: redirect}\n",
	 KG_LINT_REDIRECT, 1, 6, 40, "names client ids"},
	{"redirect on topics: none",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: none, action: redirect}\n",
	 KG_LINT_REDIRECT, 1, 6, 37, "names topics"},
	{"redirect of a region's connections, and with \"*\"",
	 HEAD_ALLOW REGIONS "rules:\n  - {name: a, regions: [ap], action: redirect}\n"
			    "  - {name: b, topics: [\"*\"], regions: [us], action: redirect}\n",
	 KG_LINT_REDIRECT, 0, 0, 0, NULL},

	/* CIDRs with host bits set */
	{"a region CIDR with host bits",
	 HEAD_ALLOW "regions:\n  eu: [10.10.0.0/16, 10.11.0.1/16]\nrules:\n"
		    "  - {name: a, regions: [eu], action: reject}\n",
	 KG_LINT_HOST_BITS, 1, 6, 22, "10.11.0.1/16 has host bits set: it means 10.11.0.0/16"},
	{"an identity CIDR with host bits (IPv6)",
	 HEAD_ALLOW "identities:\n  svc: [\"fd00:10::1/64\"]\nrules:\n"
		    "  - {name: a, principals: [svc], action: reject}\n",
	 KG_LINT_HOST_BITS, 1, 6, 9, "it means fd00:10::/64"},
	{"networks, a host, a host route",
	 HEAD_ALLOW "regions:\n  eu: [10.10.0.0/16, 10.11.0.1, 10.12.0.1/32, \"fd00::/8\"]\n"
		    "rules:\n  - {name: a, regions: [eu], action: reject}\n",
	 KG_LINT_HOST_BITS, 0, 0, 0, NULL},

	/* a rule without topics before topic rules */
	{"a rule without topics before a topic rule it cuts into",
	 HEAD_ALLOW "rules:\n  - {name: producers, operations: [produce], action: allow}\n"
		    "  - {name: no-secrets, topics: [\"secret.*\"], action: reject}\n",
	 KG_LINT_TOPICLESS_FIRST, 1, 6, 5, "before rule \"no-secrets\" (7:5)"},
	{"the same with topics: none",
	 HEAD_ALLOW "rules:\n  - {name: producers, topics: none, operations: [produce], action: "
		    "allow}\n  - {name: no-secrets, topics: [\"secret.*\"], action: reject}\n",
	 KG_LINT_TOPICLESS_FIRST, 0, 0, 0, NULL},
	{"the same outcome",
	 HEAD_ALLOW "rules:\n  - {name: producers, operations: [produce], action: reject}\n"
		    "  - {name: no-secrets, topics: [\"secret.*\"], action: reject}\n",
	 KG_LINT_TOPICLESS_FIRST, 0, 0, 0, NULL},
	{"nothing in common",
	 HEAD_ALLOW "rules:\n  - {name: producers, operations: [produce], action: allow}\n"
		    "  - {name: no-reads, topics: [\"secret.*\"], operations: [consume], action: "
		    "reject}\n",
	 KG_LINT_TOPICLESS_FIRST, 0, 0, 0, NULL},
	{"the topic rule first",
	 HEAD_ALLOW "rules:\n  - {name: no-secrets, topics: [\"secret.*\"], action: reject}\n"
		    "  - {name: producers, operations: [produce], action: allow}\n",
	 KG_LINT_TOPICLESS_FIRST, 0, 0, 0, NULL},
	{"an earlier topic rule decides the whole overlap first (was a false warning)",
	 HEAD_ALLOW "rules:\n  - {name: alice-x, topics: [x], principals: [alice], action: allow}\n"
		    "  - {name: no-alice, principals: [alice], action: reject}\n"
		    "  - {name: x-readers, topics: [x], principals: [alice, bob], action: allow}\n",
	 KG_LINT_TOPICLESS_FIRST, 0, 0, 0, NULL},
	{"an earlier topic rule decides part of the overlap",
	 HEAD_ALLOW "rules:\n  - {name: alice-x, topics: [x], principals: [alice], operations: "
		    "[produce], action: allow}\n"
		    "  - {name: no-alice, principals: [alice], action: reject}\n"
		    "  - {name: x-readers, topics: [x], principals: [alice, bob], action: allow}\n",
	 KG_LINT_TOPICLESS_FIRST, 1, 7, 5, "before rule \"x-readers\" (8:5)"},
	{"a region's connections redirected at the SYN",
	 HEAD_ALLOW REGIONS "rules:\n  - {name: q, regions: [ap], action: redirect}\n"
			    "  - {name: no-secrets, topics: [\"secret.*\"], action: reject}\n",
	 KG_LINT_TOPICLESS_FIRST, 0, 0, 0, NULL},

	/* a denying default and no way for connection plumbing */
	{"only topic rules allow",
	 HEAD_REJECT "rules:\n  - {name: writers, topics: [\"orders.*\"], operations: [produce], "
		     "action: allow}\n",
	 KG_LINT_PLUMBING, 2, 4, 10, "InitProducerId"},
	{"topics: none lets plumbing through",
	 HEAD_REJECT "rules:\n  - {name: writers, topics: [\"orders.*\"], operations: [produce], "
		     "action: allow}\n  - {name: plumbing, topics: none, action: allow}\n",
	 KG_LINT_PLUMBING, 0, 0, 0, NULL},
	{"a default that allows",
	 HEAD_ALLOW "rules:\n  - {name: writers, topics: [\"orders.*\"], action: reject}\n",
	 KG_LINT_PLUMBING, 0, 0, 0, NULL},
	{"nothing allowed at all",
	 HEAD_REJECT "rules:\n  - {name: x, topics: [\"orders.*\"], action: drop}\n",
	 KG_LINT_PLUMBING, 0, 0, 0, NULL},
	{"an allow rule without topics that an earlier none rule blocks",
	 HEAD_REJECT "rules:\n  - {name: no-plumbing, topics: none, action: reset}\n"
		     "  - {name: eu, operations: [consume, describe, other], action: allow}\n",
	 KG_LINT_PLUMBING, 3, 4, 10, "FindCoordinator"},
	{"the advice: topics: none opens no topic, all topics stay with rules without topics",
	 HEAD_REJECT "rules:\n  - {name: writers, topics: [\"orders.*\"], operations: [produce], "
		     "action: allow}\n",
	 KG_LINT_PLUMBING, 2, 4, 10, "opens no topic (a request for all topics"},

	/* policies that let everything through */
	{"default allow, every rule that denies audit-only",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: [x], action: reject, audit: true}\n",
	 KG_LINT_FAIL_OPEN, 1, 4, 10, "every rule that denies has audit: true"},
	{"default allow, no rule denies",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: [x], action: allow}\n",
	 KG_LINT_FAIL_OPEN, 1, 4, 10, "no rule denies"},
	{"default allow, one rule that denies is enforced",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: [x], action: reject, audit: true}\n"
		    "  - {name: b, topics: [y], action: drop}\n",
	 KG_LINT_FAIL_OPEN, 0, 0, 0, NULL},
	{"default allow, the only rule that denies can never match",
	 HEAD_ALLOW REGIONS "rules:\n  - {name: a, regions: [eu], regions_not: [eu], action: "
			    "reject}\n  - {name: b, topics: [x], action: allow}\n",
	 KG_LINT_FAIL_OPEN, 1, 4, 10, "no rule denies"},
	{"default reject, nothing but allow rules",
	 HEAD_REJECT "rules:\n  - {name: a, topics: [x], action: allow}\n",
	 KG_LINT_FAIL_OPEN, 0, 0, 0, NULL},
	{"monitor mode: a note, not fail-open",
	 V LSN "mode: monitor\ndefault: allow\nrules:\n  - {name: a, topics: [x], action: allow}\n",
	 KG_LINT_FAIL_OPEN, 0, 0, 0, NULL},
	{"monitor mode is noted",
	 V LSN "mode: monitor\ndefault: reject\nrules:\n  - {name: a, topics: none, action: "
	       "allow}\n",
	 KG_LINT_MONITOR, 1, 4, 7, "none is refused"},
	{"enforce mode is not",
	 V LSN "mode: enforce\ndefault: reject\nrules:\n  - {name: a, topics: none, action: "
	       "allow}\n",
	 KG_LINT_MONITOR, 0, 0, 0, NULL},
	{"a listener that lets undecodable streams through",
	 V "listeners:\n  - port: 9092\n    on_undecodable: allow\ndefault: reject\nrules:\n"
	   "  - {name: a, topics: none, action: allow}\n",
	 KG_LINT_UNDECODABLE_ALLOW, 1, 4, 21, "listener 9092: on_undecodable: allow"},
	{"a listener that drops them",
	 V "listeners:\n  - port: 9092\n    on_undecodable: drop\ndefault: reject\nrules:\n"
	   "  - {name: a, topics: none, action: allow}\n",
	 KG_LINT_UNDECODABLE_ALLOW, 0, 0, 0, NULL},
	{"unknown topic ids allowed, said so",
	 HEAD_REJECT "unknown_topic_id: allow\nrules:\n  - {name: a, topics: none, action: allow}\n",
	 KG_LINT_UNKNOWN_ID_ALLOW, 1, 5, 19, "what this policy denies by name it allows by id"},
	{"unknown topic ids allowed by default: allow",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: [\"secret.*\"], action: reject}\n",
	 KG_LINT_UNKNOWN_ID_ALLOW, 1, 4, 10, "not given: it takes default: allow"},
	{"unknown topic ids rejected under default: allow",
	 HEAD_ALLOW "unknown_topic_id: reject\nrules:\n"
		    "  - {name: a, topics: [\"secret.*\"], action: reject}\n",
	 KG_LINT_UNKNOWN_ID_ALLOW, 0, 0, 0, NULL},
	{"unknown topic ids allowed where nothing is denied by name",
	 HEAD_ALLOW "rules:\n  - {name: a, topics: none, operations: [other], action: reject}\n",
	 KG_LINT_UNKNOWN_ID_ALLOW, 0, 0, 0, NULL},

	/* regions no address is in, and "in no region" when the regions cover everything */
	{"a region whose CIDR longer prefixes of another cover",
	 HEAD_ALLOW "regions:\n  eu: [10.10.0.0/16]\n  us: [10.10.0.0/17, 10.10.128.0/17]\n"
		    "rules:\n  - name: a\n    topics: [x]\n    regions: [eu]\n    action: reject\n"
		    "  - {name: b, topics: [y], action: reject}\n",
	 KG_LINT_CONTRADICTION, 1, 11, 15, "no address is in region \"eu\""},
	{"a region whose CIDR is half covered",
	 HEAD_ALLOW "regions:\n  eu: [10.10.0.0/16]\n  us: [10.10.0.0/17]\n"
		    "rules:\n  - name: a\n    topics: [x]\n    regions: [eu]\n    action: reject\n"
		    "  - {name: b, topics: [y], action: reject}\n",
	 KG_LINT_CONTRADICTION, 0, 0, 0, NULL},
	{"regions_not of a region that holds every address",
	 HEAD_ALLOW "regions:\n  world: [0.0.0.0/0, \"::/0\"]\nrules:\n  - name: a\n"
		    "    regions_not: [world]\n    action: reject\n"
		    "  - {name: b, topics: [y], action: reject}\n",
	 KG_LINT_CONTRADICTION, 1, 9, 19, "every source is in one of regions_not"},
	{"regions_not of a region that holds every IPv4 address only",
	 HEAD_ALLOW "regions:\n  world: [0.0.0.0/0]\nrules:\n  - name: a\n"
		    "    regions_not: [world]\n    action: reject\n"
		    "  - {name: b, topics: [y], action: reject}\n",
	 KG_LINT_CONTRADICTION, 0, 0, 0, NULL},
	{"a rule for a region that holds every address shadows",
	 HEAD_ALLOW "regions:\n  world: [0.0.0.0/0, \"::/0\"]\nrules:\n"
		    "  - {name: a, regions: [world], action: reject}\n"
		    "  - {name: b, topics: [x], action: drop}\n",
	 KG_LINT_SHADOWED, 1, 9, 5, "rule \"a\" (8:5)"},
	{"a rule for a region that holds every IPv6 address does not",
	 HEAD_ALLOW "regions:\n  world: [\"::/0\"]\nrules:\n"
		    "  - {name: a, regions: [world], action: reject}\n"
		    "  - {name: b, topics: [x], action: drop}\n",
	 KG_LINT_SHADOWED, 0, 0, 0, NULL},
	{"outside a region no address is in: everywhere",
	 HEAD_ALLOW "regions:\n  eu: [10.10.0.0/16]\n  us: [10.10.0.0/17, 10.10.128.0/17]\n"
		    "rules:\n  - {name: a, regions_not: [eu], action: reject}\n"
		    "  - {name: b, topics: [x], action: drop}\n",
	 KG_LINT_SHADOWED, 1, 10, 5, "rule \"a\" (9:5)"},
	{"outside a region that holds addresses: not everywhere",
	 HEAD_ALLOW "regions:\n  eu: [10.10.0.0/16]\n  us: [10.10.0.0/17, 10.10.128.0/18]\n"
		    "rules:\n  - {name: a, regions_not: [eu], action: reject}\n"
		    "  - {name: b, topics: [x], action: drop}\n",
	 KG_LINT_SHADOWED, 0, 0, 0, NULL},
};

static void test_cases(void)
{
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct lint_case *t = &cases[i];
		const struct kg_lint_item *it;
		struct kg_lint l;
		bool ok;

		if (lint_yaml(t->yaml, &l)) {
			CU_FAIL("case policy does not load");
			continue;
		}
		it = find(&l, t->code);
		ok = count(&l, t->code) == t->n &&
		     (!t->n || (it->pos.line == t->line && it->pos.col == t->col &&
				(!t->says || strstr(it->msg, t->says))));
		if (!ok) {
			fprintf(stderr, "\n  case \"%s\": want %d %s at %d:%d saying \"%s\"; got:\n",
				t->what, t->n, kg_lint_code_names[t->code], t->line, t->col,
				t->says ? t->says : "");
			dump(&l);
		}
		CU_ASSERT(ok);
		/* errors are only the two kinds that enforce nothing */
		CU_ASSERT_EQUAL(l.nerrors, count(&l, KG_LINT_NO_LISTENERS) +
						   count(&l, KG_LINT_UNREACHABLE_LISTENERS));
		kg_lint_free(&l);
	}
}

/* ---- apply and run refuse what enforces nothing ------------------------------------------ */

static void test_refuse(void)
{
	static const char *const yaml[] = {
		V "default: reject\nrules:\n  - {name: a, topics: [x], action: allow}\n",
		HEAD_ALLOW,
		/* every rule asks for a region no address is in */
		HEAD_ALLOW "regions:\n  eu: [10.10.0.0/16]\n  us: [10.10.0.0/17, 10.10.128.0/17]\n"
			   "rules:\n  - {name: a, regions: [eu], action: reject}\n",
		HEAD_REJECT "rules:\n  - {name: a, topics: [x], action: reset}\n",
		/* warnings are not refusals */
		HEAD_ALLOW "rules:\n  - {name: a, topics: [x], action: allow}\n",
	};
	char err[512];

	for (int i = 0; i < 5; i++) {
		struct kg_compiled c;
		struct kg_policy p;

		CU_ASSERT_FATAL(kg_policy_parse_yaml(yaml[i], strlen(yaml[i]), &p, err,
						     sizeof(err)) == 0);
		CU_ASSERT_FATAL(kg_compile(&p, &c, err, sizeof(err)) == 0);
		err[0] = 0;
		CU_ASSERT_EQUAL(kg_lint_refuse(&p, &c, err, sizeof(err)), i < 3 ? -1 : 0);
		if (i == 0)
			CU_ASSERT_PTR_NOT_NULL(strstr(err, "1:1: no listeners"));
		if (i == 1 || i == 2)
			CU_ASSERT_PTR_NOT_NULL(strstr(err, "3:5: no rule can ever match"));
		kg_compiled_free(&c);
		kg_policy_free(&p);
	}
}

/* ---- shadowing is exact: the reference evaluator over every telling request ------------- */

static unsigned int lrand(unsigned long long *s, unsigned int n)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned int)(*s >> 33) % n;
}

static const char *const lp_names[] = { "alice", "bob", "carol", "ANONYMOUS" };
static const char *const lp_clients[] = { "c1", "c2" };
static const char *const lp_regions[] = { "eu", "us", "ap" };
static const char *const lp_bodies[] = { "a", "ab", "abc", "b", "b.x" };

/* A small policy whose rules overlap often: every dimension from a few values. */
static void lint_random_policy(unsigned long long *s, struct kg_policy *p)
{
	static const char *const cidr[] = { "10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16" };

	kg_policy_init(p);
	p->listeners[0].port = 9092;
	p->nlisteners = 1;
	p->default_action = (__u8)lrand(s, KG_ACT__COUNT);
	for (int i = 0; i < 3; i++) {
		struct kg_pregion *g = kg_policy_add_region(p, lp_regions[i], 1, 1);

		kg_cidrs_push(&g->cidrs, &g->ncidrs, cidr[i], 1, 1);
	}
	for (int i = 0, n = 2 + (int)lrand(s, 9); i < n; i++) {
		/* line 10 + i: findings name their rule by its line */
		struct kg_prule *r = kg_policy_add_rule(p, "", 10 + i, 1);
		unsigned int t = lrand(s, 8);

		snprintf(r->name, sizeof(r->name), "r%d", i);
		if (t == 0)
			r->topics_none = true;
		else if (t == 1)
			kg_strv_push(&r->topics, &r->ntopics, "*");
		else if (t < 6)
			for (int k = 1 + (int)lrand(s, 2); k > 0; k--) {
				char pat[8];

				snprintf(pat, sizeof(pat), "%s%s", lp_bodies[lrand(s, 5)],
					 lrand(s, 2) ? "*" : "");
				kg_strv_push(&r->topics, &r->ntopics, pat);
			}
		if (!lrand(s, 3))
			for (int k = 1 + (int)lrand(s, 3); k > 0; k--)
				kg_strv_push(&r->principals, &r->nprincipals, lp_names[lrand(s, 4)]);
		if (!lrand(s, 4))
			kg_strv_push(&r->client_ids, &r->nclient_ids, lp_clients[lrand(s, 2)]);
		if (!lrand(s, 3))
			r->ops = (__u8)(1 + lrand(s, 31));
		if (!lrand(s, 3))
			for (int k = 1 + (int)lrand(s, 2); k > 0; k--)
				kg_strv_push(&r->regions, &r->nregions, lp_regions[lrand(s, 3)]);
		if (!lrand(s, 3))
			for (int k = 1 + (int)lrand(s, 2); k > 0; k--)
				kg_strv_push(&r->regions_not, &r->nregions_not,
					     lp_regions[lrand(s, 3)]);
		r->action = (__u8)lrand(s, KG_ACT__COUNT);
		r->audit = !lrand(s, 6);
	}
}

/*
 * Every request that can tell two rules apart: each named principal, client id and
 * region, one of each that no rule names (and a null client.id, no region), every
 * operation, and topics: none, all topics, each pattern's body, the body and a byte no
 * pattern can hold ('#': so only a prefix of the body matches it), a name no pattern
 * covers.
 */
#define LD_TOPICS (2 * 5 + 3)

static int topic_domain(const char **out, char bufs[][8])
{
	int n = 0;

	out[n++] = NULL;
	out[n++] = KG_ALL_TOPICS;
	out[n++] = "\x01";
	for (int i = 0; i < 5; i++) {
		out[n++] = lp_bodies[i];
		snprintf(bufs[i], 8, "%s#", lp_bodies[i]);
		out[n++] = bufs[i];
	}
	return n;
}

static void dump_strs(const char *k, char **v, int n)
{
	for (int j = 0; j < n; j++)
		fprintf(stderr, "%s%s%s", j ? "," : k, v[j], j == n - 1 ? " " : "");
}

static void dump_rules(const struct kg_policy *p)
{
	for (int i = 0; i < p->nrules; i++) {
		const struct kg_prule *r = &p->rules[i];

		fprintf(stderr, "    r%d: %s", i, r->topics_none ? "t=none " : "");
		dump_strs("t=", r->topics, r->ntopics);
		dump_strs("p=", r->principals, r->nprincipals);
		dump_strs("c=", r->client_ids, r->nclient_ids);
		dump_strs("r=", r->regions, r->nregions);
		dump_strs("nr=", r->regions_not, r->nregions_not);
		fprintf(stderr, "o=0x%02x a=%u%s\n", r->ops, r->action, r->audit ? " audit" : "");
	}
}

/*
 * Every request of the domain above, with the rules of p it matches as a bitmask (rule i
 * is bit i), to fn; topic as topic_domain gives it.
 */
static void each_request(const struct kg_policy *p,
			 void (*fn)(void *arg, unsigned int m, const char *topic), void *arg)
{
	static const char *const principals[] = { "alice", "bob", "carol", "ANONYMOUS", "zed" };
	static const char *const clients[] = { "c1", "c2", "other", NULL };
	static const char *const regions[] = { "eu", "us", "ap", NULL };
	const char *topics[LD_TOPICS];
	char bufs[5][8];
	int nt = topic_domain(topics, bufs);

	for (int a = 0; a < 5; a++)
		for (int r = 0; r < 4; r++)
			for (int k = 0; k < 4; k++)
				for (__u8 op = 0; op < KG_OP__COUNT; op++)
					for (int t = 0; t < nt; t++) {
						unsigned int m = 0;

						for (int i = 0; i < p->nrules; i++)
							if (kg_ref_rule_miss(&p->rules[i], principals[a],
									     regions[r], clients[k], op,
									     topics[t]) == KG_DIM_NONE)
								m |= 1u << i;
						fn(arg, m, topics[t]);
					}
}

/* What the reference says of each rule, for the shadowing test. */
struct shadow_facts {
	/* per rule: requests it matches without an earlier rule; [a][b]: b, not a */
	bool decides[16], any[16], escapes[16][16];
};

static void shadow_fact(void *arg, unsigned int m, const char *topic)
{
	struct shadow_facts *f = arg;
	int first = -1;

	(void)topic;
	for (int i = 0; i < 16; i++) {
		if (!(m >> i & 1))
			continue;
		f->any[i] = true;
		if (first < 0)
			first = i;
		for (int j = 0; j < i; j++)
			f->escapes[j][i] |= !(m >> j & 1);
	}
	if (first >= 0)
		f->decides[first] = true;
}

static unsigned long long test_seed(const char *what)
{
	const char *env = getenv("KGATE_SEED");
	unsigned long long seed =
		env ? strtoull(env, NULL, 0) : (unsigned long long)time(NULL) ^ getpid();

	fprintf(stderr, "\n  %s: seed %llu (replay: KGATE_SEED=%llu)\n", what, seed, seed);
	return seed;
}

/* The random policy of the lint tests, compiled and linted; -1 when it is refused. */
static int lint_random(unsigned long long *s, struct kg_policy *p, struct kg_compiled *c,
		       struct kg_lint *l)
{
	char err[256];

	lint_random_policy(s, p);
	if (kg_compile(p, c, err, sizeof(err))) {
		fprintf(stderr, "random policy refused: %s\n", err);
		CU_FAIL("random policy refused");
		kg_policy_free(p);
		return -1;
	}
	CU_ASSERT_FATAL(kg_lint(p, c, l) == 0);
	return 0;
}

static void test_shadowing_exact(void)
{
	unsigned long long s = test_seed("lint exactness");
	long flagged = 0, never = 0, pair = 0, unionc = 0, bad = 0;

	/* a rule shadowed topic by topic is rare (none in 600 policies for some seeds) */
	for (int it = 0; (it < 600 || !unionc) && it < 6000 && bad < 5; it++) {
		struct kg_policy p;
		struct kg_compiled c;
		struct kg_lint l;
		struct shadow_facts f = { 0 };
		bool *decides = f.decides, *any = f.any;
		int n;

		if (lint_random(&s, &p, &c, &l)) {
			bad++;
			continue;
		}
		n = p.nrules;
		each_request(&p, shadow_fact, &f);
		for (int b = 0; b < n; b++) {
			bool is_flagged = false, by_pair = false, contra = false;
			int named = -1;

			for (int i = 0; i < l.n; i++) {
				if (l.items[i].pos.line != 10 + b)
					continue;
				if (l.items[i].code == KG_LINT_SHADOWED) {
					is_flagged = true;
					sscanf(strstr(l.items[i].msg, ": rule \"") ? strstr(l.items[i].msg, ": rule \"") : "",
					       ": rule \"r%d\"", &named);
				}
				contra |= l.items[i].code == KG_LINT_CONTRADICTION;
			}
			for (int a = 0; a < b; a++)
				by_pair |= any[b] && !f.escapes[a][b];
			flagged += is_flagged;
			never += any[b] && !decides[b];
			pair += by_pair;
			unionc += is_flagged && named < 0;
			/*
			 * flagged: it matches something and never decides (the named rule
			 * matches all of it); an earlier rule matching all of it: flagged,
			 * naming one such rule; contradictory exactly when it matches nothing.
			 */
			if ((is_flagged && (!any[b] || decides[b])) || (by_pair && named < 0) ||
			    (named >= 0 && (named >= b || f.escapes[named][b])) || contra != !any[b]) {
				fprintf(stderr,
					"policy %d rule %d: flagged %d (by r%d) matches %d decides %d "
					"pairwise %d contradiction %d\n",
					it, b, is_flagged, named, any[b], decides[b], by_pair, contra);
				dump(&l);
				dump_rules(&p);
				bad++;
			}
		}
		kg_lint_free(&l);
		kg_compiled_free(&c);
		kg_policy_free(&p);
	}
	fprintf(stderr,
		"  %ld rules flagged shadowed (%ld by rules topic by topic), %ld shadowed pairwise "
		"by the reference, %ld never decide\n",
		flagged, unionc, pair, never);
	CU_ASSERT_EQUAL(bad, 0);
	/* the comparison must see both kinds often, or it proves little */
	CU_ASSERT(flagged > 100 && unionc > 0 && never > flagged);
}

/* ---- a rule without topics taking a topic rule's requests: exact ------------------------- */

/* What the reference says: [a][b], a request for a topic that a decides and b matches. */
struct first_facts {
	bool takes[16][16], meets[16][16];
};

static void first_fact(void *arg, unsigned int m, const char *topic)
{
	struct first_facts *f = arg;
	int first = __builtin_ffs((int)m) - 1;

	/* a request for a topic: not one that names none, not one about all topics */
	if (!topic || topic == KG_ALL_TOPICS || first < 0)
		return;
	for (int i = first + 1; i < 16; i++)
		f->takes[first][i] |= m >> i & 1;
	/* what the check used to ask: that some request matches both, whoever decides */
	for (int a = 0; a < 16; a++)
		for (int b = a + 1; b < 16 && (m >> a & 1); b++)
			f->meets[a][b] |= m >> b & 1;
}

static bool topic_any_rule(const struct kg_prule *r)
{
	for (int j = 0; j < r->ntopics; j++)
		if (!strcmp(r->topics[j], "*"))
			return true;
	return !r->ntopics && !r->topics_none;
}

/*
 * The linter names rule b in a's topicless-rule-first warning exactly when b is the
 * first rule after a with: a request for a topic that a decides and b matches; a whose
 * topic is "any", b's not; other outcomes (action or audit); a not a redirect of whole
 * connections; b not reported shadowed (that warning says more).
 */
static void test_topicless_first_exact(void)
{
	unsigned long long s = test_seed("topicless-rule-first exactness");
	long warned = 0, loose = 0, bad = 0;

	for (int it = 0; it < 600 && bad < 5; it++) {
		struct kg_policy p;
		struct kg_compiled c;
		struct kg_lint l;
		struct first_facts f = { 0 };
		bool shadowed[16] = { 0 };

		if (lint_random(&s, &p, &c, &l)) {
			bad++;
			continue;
		}
		each_request(&p, first_fact, &f);
		for (int i = 0; i < l.n; i++)
			if (l.items[i].code == KG_LINT_SHADOWED)
				shadowed[l.items[i].pos.line - 10] = true;
		for (int a = 0; a < p.nrules; a++) {
			const struct kg_prule *ra = &p.rules[a];
			bool syn = ra->action == KG_ACT_REDIRECT && !ra->ops && !ra->nclient_ids;
			int want = -1, got = -1, was = -1;

			for (int b = p.nrules - 1; b > a; b--) {
				const struct kg_prule *rb = &p.rules[b];

				if (!topic_any_rule(ra) || syn || topic_any_rule(rb) || shadowed[b] ||
				    (ra->action == rb->action && ra->audit == rb->audit))
					continue;
				want = f.takes[a][b] ? b : want;
				was = f.meets[a][b] ? b : was;
			}
			for (int i = 0; i < l.n; i++)
				if (l.items[i].code == KG_LINT_TOPICLESS_FIRST &&
				    l.items[i].pos.line == 10 + a)
					sscanf(strstr(l.items[i].msg, "before rule \"r") ?: "",
					       "before rule \"r%d\"", &got);
			warned += want >= 0;
			loose += was >= 0 && want < 0;
			if (got != want) {
				fprintf(stderr, "policy %d rule r%d: names r%d, want r%d\n", it, a, got,
					want);
				dump(&l);
				dump_rules(&p);
				bad++;
			}
		}
		kg_lint_free(&l);
		kg_compiled_free(&c);
		kg_policy_free(&p);
	}
	fprintf(stderr,
		"  %ld rules warned; %ld more would be if any request both match counted, "
		"whoever decides it\n",
		warned, loose);
	CU_ASSERT_EQUAL(bad, 0);
	/* both must be common, or the comparison proves little */
	CU_ASSERT(warned > 50 && loose > 10);
}

/* ---- regions no address is in, and "in no region" ------------------------------------- */

/*
 * Random regions over a space where every part a CIDR keeps for itself (its addresses no
 * longer CIDR holds) has an address among the samples: 10.a.b.c/8..32 with bytes below
 * 3 (so 10.a.b.3, 10.a.3.0 and 10.3.0.0 are in no longer CIDR), and 0.0.0.0/0 and ::/0
 * (11.0.0.0 and fd00::1 are outside 10.0.0.0/8 and in nothing else).
 */
static void random_cidr_text(unsigned long long *s, char *buf, size_t size)
{
	unsigned int k = lrand(s, 10), b[3] = { lrand(s, 3), lrand(s, 3), lrand(s, 3) };

	if (k == 0)
		snprintf(buf, size, "0.0.0.0/0");
	else if (k == 1)
		snprintf(buf, size, "::/0");
	else if (k == 2)
		snprintf(buf, size, "10.0.0.0/8");
	else if (k < 5)
		snprintf(buf, size, "10.%u.0.0/16", b[0]);
	else if (k < 8)
		snprintf(buf, size, "10.%u.%u.0/24", b[0], b[1]);
	else
		snprintf(buf, size, "10.%u.%u.%u/32", b[0], b[1], b[2]);
}

static void test_regions_exact(void)
{
	unsigned long long s = test_seed("regions lint exactness");
	long empty = 0, nowhere = 0, bad = 0;

	for (int it = 0; it < 2000 && bad < 5; it++) {
		char used[16][24], name[8];
		int nused = 0, nreg = 1 + (int)lrand(&s, 4);
		bool holds[5] = { 0 };
		struct kg_compiled c;
		struct kg_policy p;
		struct kg_prule *r;
		struct kg_lint l;
		char err[256];

		kg_policy_init(&p);
		p.listeners[0].port = 9092;
		p.nlisteners = 1;
		for (int i = 0; i < nreg; i++) {
			struct kg_pregion *g;

			snprintf(name, sizeof(name), "g%d", i);
			g = kg_policy_add_region(&p, name, 1, 1);
			for (int k = 1 + (int)lrand(&s, 3); k > 0; k--) {
				int j;

				random_cidr_text(&s, used[nused], sizeof(used[0]));
				/* a network in two places is refused: drawn once */
				for (j = 0; j < nused && strcmp(used[j], used[nused]); j++)
					;
				if (j == nused)
					kg_cidrs_push(&g->cidrs, &g->ncidrs, used[nused++], 1, 1);
			}
		}
		/* rule i (line 10 + i) for region i, the last for no region */
		for (int i = 0; i <= nreg; i++) {
			r = kg_policy_add_rule(&p, "", 10 + i, 1);
			snprintf(r->name, sizeof(r->name), "r%d", i);
			kg_strv_push(&r->topics, &r->ntopics, "x");
			r->action = KG_ACT_REJECT;
			for (int j = 0; j < nreg; j++)
				if (j == i || i == nreg)
					kg_strv_push(i == nreg ? &r->regions_not : &r->regions,
						     i == nreg ? &r->nregions_not : &r->nregions,
						     p.regions[j].name);
		}
		/* the samples: what region each is in, by the reference's longest prefix */
		for (unsigned int a = 0; a < 4 * 4 * 4 + 2; a++) {
			__u8 addr[16] = { 10, a / 16, a / 4 % 4, a % 4 }, family = 4;
			const char *g;

			if (a == 64)
				addr[0] = 11;
			if (a == 65) {
				memset(addr, 0, sizeof(addr));
				addr[0] = 0xfd, addr[15] = 1, family = 6;
			}
			g = kg_ref_region_of(&p, family, addr);
			holds[g ? g[1] - '0' : nreg] = true;
		}
		if (kg_compile(&p, &c, err, sizeof(err))) {
			fprintf(stderr, "random regions refused: %s\n", err);
			CU_FAIL("random regions refused");
			kg_policy_free(&p);
			bad++;
			continue;
		}
		CU_ASSERT_FATAL(kg_lint(&p, &c, &l) == 0);
		for (int i = 0; i <= nreg; i++) {
			bool contra = false;

			for (int k = 0; k < l.n; k++)
				contra |= l.items[k].code == KG_LINT_CONTRADICTION &&
					  l.items[k].pos.line == 10 + i;
			empty += i < nreg && !holds[i];
			nowhere += i == nreg && !holds[i];
			if (contra != !holds[i]) {
				fprintf(stderr, "regions %d: rule r%d contradiction %d, holds %d\n", it,
					i, contra, holds[i]);
				dump(&l);
				bad++;
			}
		}
		kg_lint_free(&l);
		kg_compiled_free(&c);
		kg_policy_free(&p);
	}
	fprintf(stderr, "  %ld regions no address is in; %ld policies where every address is in "
			"a region\n",
		empty, nowhere);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(empty > 20 && nowhere > 20);
}

/* ---- the shipped policies ------------------------------------------------------------------ */

static void test_shipped_clean(void)
{
	static const char *const files[] = { "../policies/residency.yaml",
					     "../policies/contract-writers.yaml",
					     "../policies/monitor-rollout.yaml",
					     "../policies/demo.yaml" };

	for (unsigned int i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct kg_compiled c;
		struct kg_policy p;
		struct kg_lint l;
		char err[512];

		CU_ASSERT_FATAL(kg_policy_load_yaml(files[i], &p, err, sizeof(err)) == 0);
		CU_ASSERT_FATAL(kg_compile(&p, &c, err, sizeof(err)) == 0);
		CU_ASSERT_FATAL(kg_lint(&p, &c, &l) == 0);
		/* nothing but the note that monitor mode enforces nothing, where it is */
		if (l.n != (p.mode == KG_MODE_MONITOR)) {
			fprintf(stderr, "\n  %s:\n", files[i]);
			dump(&l);
		}
		CU_ASSERT_EQUAL(l.nerrors + l.nwarnings, 0);
		CU_ASSERT_EQUAL(l.n, count(&l, KG_LINT_MONITOR));
		CU_ASSERT_EQUAL(count(&l, KG_LINT_MONITOR), p.mode == KG_MODE_MONITOR);
		kg_lint_free(&l);
		kg_compiled_free(&c);
		kg_policy_free(&p);
	}
}

int register_policy_lint_tests(void)
{
	CU_pSuite s = CU_add_suite("policy linter", NULL, NULL);

	if (!s || !CU_add_test(s, "each finding: triggered, and not", test_cases) ||
	    !CU_add_test(s, "apply and run refuse what enforces nothing", test_refuse) ||
	    !CU_add_test(s, "shadowing is exact (reference evaluator)", test_shadowing_exact) ||
	    !CU_add_test(s, "topicless-rule-first is exact (reference evaluator)",
			 test_topicless_first_exact) ||
	    !CU_add_test(s, "regions no address is in, and in no region (reference)",
			 test_regions_exact) ||
	    !CU_add_test(s, "shipped policies lint clean", test_shipped_clean))
		return -1;
	return 0;
}
