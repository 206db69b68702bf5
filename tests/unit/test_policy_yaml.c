// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of the policy language (agent/policy/yaml.c):
 *
 *  - each shipped policy (policies/NAME.yaml) loads and compiles;
 *  - every error class, loader's and compiler's, with its exact LINE:COL: unknown and
 *    repeated keys, missing keys, wrong types, bad CIDRs, bad topic patterns, unknown
 *    operations / actions / modes / regions, duplicate rule / region / identity names,
 *    malformed audit, limits, aliases, YAML syntax, empty and multi-document files;
 *  - positions of list items reach the policy (so kg_compile points at the item);
 *  - semantics: a YAML policy decides (kg_ref_decide) exactly like the same policy built
 *    by hand with the kg_policy builders, over a grid of requests, and the compiled
 *    tables agree with both.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/policy/policy.h"
#include "agent/policy/yaml.h"
#include "tests/lib/cu_run.h"

static char tmpdir[] = "/tmp/kgate-policy-yaml-XXXXXX";
static int nfiles;

static int suite_init(void)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
	char path[256];

	for (int i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/p%d.yaml", tmpdir, i);
		unlink(path);
	}
	rmdir(tmpdir);
	return 0;
}

/* Writes text to a new file in the temp dir; returns its path (static buffer). */
static const char *write_tmp(const char *text, size_t len)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/p%d.yaml", tmpdir, nfiles++);
	f = fopen(path, "wb");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_FATAL(fwrite(text, 1, len, f) == len);
	fclose(f);
	return path;
}

/* Loads and compiles; returns 0, or -1 with err set (load or compile error). */
static int load_compile(const char *path, char *err, size_t errlen)
{
	struct kg_compiled c = {0};
	struct kg_policy p;
	int rc;

	err[0] = '\0';
	rc = kg_policy_load_yaml(path, &p, err, errlen);
	if (!rc)
		rc = kg_compile(&p, &c, err, errlen);
	kg_compiled_free(&c);
	kg_policy_free(&p);
	return rc;
}

/* ---- shipped policies ------------------------------------------------------------------ */

static void test_shipped_policies(void)
{
	static const char *const files[] = {"../policies/residency.yaml",
					    "../policies/contract-writers.yaml",
					    "../policies/monitor-rollout.yaml"};
	char err[512];

	for (unsigned int i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int rc = load_compile(files[i], err, sizeof(err));

		if (rc)
			fprintf(stderr, "%s:%s\n", files[i], err);
		CU_ASSERT_EQUAL(rc, 0);
	}
}

static void test_shipped_residency_decides(void)
{
	struct kg_policy p;
	char err[512];
	int idx;

	CU_ASSERT_FATAL(kg_policy_load_yaml("../policies/residency.yaml", &p, err, sizeof(err)) ==
			0);
	CU_ASSERT_EQUAL(p.mode, KG_MODE_ENFORCE);
	CU_ASSERT_EQUAL(p.audit_allow, 100);
	/* audit.fold and audit.budget left out: the defaults */
	CU_ASSERT_EQUAL(p.fold_window_ms, KG_FOLD_WINDOW_MS);
	CU_ASSERT_EQUAL(p.budget, KG_FLOW_BUDGET);
	CU_ASSERT_EQUAL(p.nregions, 2);
	CU_ASSERT_EQUAL(kg_ref_decide(&p, NULL, "eu", NULL, KG_OP_PRODUCE, "eu.orders", &idx),
			KG_ACT_ALLOW);
	CU_ASSERT_EQUAL(kg_ref_decide(&p, NULL, "us", NULL, KG_OP_CONSUME, "eu.orders", &idx),
			KG_ACT_REJECT);
	CU_ASSERT_EQUAL(idx, 0);
	CU_ASSERT_EQUAL(kg_ref_decide(&p, NULL, NULL, NULL, KG_OP_CONSUME, "eu.orders", &idx),
			KG_ACT_REJECT);
	CU_ASSERT_EQUAL(kg_ref_decide(&p, NULL, NULL, NULL, KG_OP_CONSUME, "ref.currencies", &idx),
			KG_ACT_ALLOW);
	CU_ASSERT_EQUAL(kg_ref_decide(&p, NULL, NULL, NULL, KG_OP_PRODUCE, "ref.currencies", &idx),
			KG_ACT_REJECT);
	CU_ASSERT_EQUAL(idx, -1);
	kg_policy_free(&p);
}

/* ---- errors ------------------------------------------------------------------------------ */

struct err_case {
	const char *what;
	const char *yaml;
	const char *pos; /* "LINE:COL: " exactly */
	const char *msg; /* a part of the message */
};

#define HEAD "version: v1\ndefault: allow\n"
#define HEAD_LISTENER HEAD "listeners:\n  - port: 9092\n"

static const struct err_case err_cases[] = {
	/* unknown keys, at the key */
	{"unknown top-level key", HEAD "defualt: reject\n", "3:1: ", "unknown key \"defualt\""},
	{"unknown rule key", HEAD "rules:\n  - name: a\n    topic: [x]\n    action: allow\n",
	 "5:5: ", "rule: unknown key \"topic\""},
	{"unknown listener key", HEAD "listeners:\n  - port: 9092\n    on_error: reset\n",
	 "5:5: ", "listener: unknown key \"on_error\""},
	{"unknown audit key", HEAD "audit: {allow: all, deny: all}\n",
	 "3:21: ", "audit: unknown key \"deny\""},
	{"key given twice", HEAD "mode: enforce\nmode: monitor\n",
	 "4:1: ", "key \"mode\" given twice"},
	{"rule key given twice",
	 HEAD "rules:\n  - name: a\n    action: allow\n    action: reject\n",
	 "6:5: ", "key \"action\" given twice"},
	{"non-scalar key", HEAD "[a]: 1\n", "3:1: ", "a key must be a string"},
	/* missing keys, at the mapping */
	{"missing version", "default: allow\n", "1:1: ", "missing required key \"version\""},
	{"missing default", "version: v1\n", "1:1: ", "missing required key \"default\""},
	{"rule without action", HEAD "rules:\n  - name: a\n    topics: [x]\n",
	 "4:5: ", "rule: missing required key \"action\""},
	{"rule without name", HEAD "rules:\n  - action: allow\n",
	 "4:5: ", "rule: missing required key \"name\""},
	{"listener without port", HEAD "listeners:\n  - on_undecodable: reset\n",
	 "4:5: ", "missing required key \"port\""},
	/* wrong types, at the value */
	{"root is a list", "- a\n- b\n", "1:1: ", "policy: expected a mapping, found a list"},
	{"rules is a mapping", HEAD "rules: {a: b}\n", "3:8: ", "rules: expected a list"},
	{"topics is a scalar", HEAD "rules:\n  - name: a\n    topics: orders\n    action: allow\n",
	 "5:13: ", "topics: expected a list, or none, found a scalar"},
	{"topics: none quoted", HEAD "rules:\n  - name: a\n    topics: \"none\"\n    action: allow\n",
	 "5:13: ", "topics: write none unquoted"},
	{"topics: nothing", HEAD "rules:\n  - name: a\n    topics:\n    action: allow\n",
	 "5:12: ", "topics: expected a list, or none, found nothing"},
	{"topic is a list", HEAD "rules:\n  - name: a\n    topics: [[x]]\n    action: allow\n",
	 "5:14: ", "topics: expected a string, found a list"},
	{"version is empty", "version:\ndefault: allow\n",
	 "1:9: ", "version: expected a string, found nothing"},
	{"port quoted", HEAD "listeners:\n  - port: \"9092\"\n",
	 "4:11: ", "expected an unquoted integer, found a quoted string"},
	{"port out of range", HEAD "listeners:\n  - port: 65536\n",
	 "4:11: ", "\"65536\" is not an integer from 1 to 65535"},
	{"port zero", HEAD "listeners:\n  - port: 0\n",
	 "4:11: ", "\"0\" is not an integer from 1 to 65535"},
	{"port negative", HEAD "listeners:\n  - port: -1\n", "4:11: ", "is not an integer"},
	{"rule audit not a bool", HEAD "rules:\n  - name: a\n    action: allow\n    audit: yes\n",
	 "6:12: ", "rule audit: expected true or false"},
	{"region CIDRs a scalar", HEAD "regions:\n  eu: 10.0.0.0/8\n",
	 "4:7: ", "region \"eu\": expected a list of CIDRs"},
	{"empty list", HEAD "rules:\n  - name: a\n    principals: []\n    action: allow\n",
	 "5:17: ", "principals: an empty list (leave the key out to match any)"},
	{"empty CIDR list", HEAD "identities:\n  svc: []\n",
	 "4:8: ", "identity \"svc\": an empty list of CIDRs"},
	{"NUL in a string", HEAD "rules:\n  - name: \"a\\0b\"\n    action: allow\n",
	 "4:11: ", "a NUL byte in a string"},
	/* bad CIDRs, at the item */
	{"IPv4 prefix too long", HEAD "regions:\n  eu: [10.0.0.0/8, 10.1.0.0/33]\n",
	 "4:20: ", "region \"eu\": bad CIDR \"10.1.0.0/33\""},
	{"IPv6 prefix too long", HEAD "regions:\n  eu:\n    - \"fd00::/129\"\n",
	 "5:7: ", "bad CIDR \"fd00::/129\""},
	{"not an address", HEAD "identities:\n  svc: [10.0.0.300/32]\n",
	 "4:9: ", "identity \"svc\": bad CIDR \"10.0.0.300/32\""},
	{"prefix not a number", HEAD "regions:\n  eu: [10.0.0.0/x]\n", "4:8: ", "bad CIDR"},
	/* bad topic patterns (kg_compile, at the item) */
	{"star inside a topic",
	 HEAD "rules:\n  - name: a\n    topics: [x, \"a*b\"]\n    action: allow\n",
	 "5:17: ", "topic pattern \"a*b\": '*' is allowed only as the last character"},
	{"bad topic character",
	 HEAD
	 "rules:\n  - name: a\n    topics:\n      - ok\n      - \"no way\"\n    action: allow\n",
	 "7:9: ", "a Kafka topic name has only the characters"},
	{"topic '..'", HEAD "rules:\n  - name: a\n    topics: [\"..\"]\n    action: allow\n",
	 "5:14: ", "'.' and '..' are not topic names"},
	/* unknown names */
	{"unknown operation",
	 HEAD "rules:\n  - name: a\n    operations: [produce, write]\n    action: allow\n",
	 "5:27: ", "unknown operation \"write\""},
	{"unknown action", HEAD "rules:\n  - name: a\n    action: deny\n", "5:13: ",
	 "action: unknown action \"deny\" (expected one of: allow, reject, reset, drop, redirect)"},
	{"unknown default action", "version: v1\ndefault: block\n",
	 "2:10: ", "default: unknown action \"block\""},
	{"unknown on_undecodable", HEAD "listeners:\n  - port: 1\n    on_undecodable: pass\n",
	 "5:21: ", "on_undecodable: unknown action \"pass\""},
	{"unknown mode", HEAD "mode: dryrun\n",
	 "3:7: ", "mode: unknown mode \"dryrun\" (expected one of: enforce, monitor)"},
	{"unknown region in a rule (kg_compile)",
	 HEAD "regions:\n  eu: [10.0.0.0/8]\nrules:\n  - name: a\n    regions_not: [eu, us]\n"
	      "    action: reject\n",
	 "7:23: ", "rule \"a\": unknown region \"us\""},
	/* duplicates */
	{"duplicate rule names",
	 HEAD "rules:\n  - name: a\n    action: allow\n  - action: reject\n    name: a\n",
	 "7:11: ", "rule name \"a\" used twice (first at 4:5)"},
	{"duplicate region", HEAD "regions:\n  eu: [10.0.0.0/8]\n  eu: [10.1.0.0/16]\n",
	 "5:3: ", "region \"eu\" defined twice"},
	{"duplicate identity", HEAD "identities:\n  a: [10.0.0.1]\n  a: [10.0.0.2]\n",
	 "5:3: ", "identity \"a\" defined twice"},
	{"duplicate listener port (kg_compile)",
	 HEAD "listeners:\n  - port: 9092\n  - port: 9092\n",
	 "5:5: ", "listener port 9092 listed twice"},
	/* audit */
	{"audit 1-in-0", HEAD "audit: {allow: 1-in-0}\n", "3:16: ", "\"1-in-0\" is none of all"},
	{"audit 1-in-256", HEAD "audit:\n  allow: \"1-in-256\"\n", "4:10: ", "(N from 1 to 255)"},
	{"audit words", HEAD "audit: {allow: sometimes}\n", "3:16: ", "\"sometimes\" is none"},
	{"audit 1-in-N trailing", HEAD "audit: {allow: 1-in-10x}\n", "3:16: ", "is none of"},
	{"audit a scalar", HEAD "audit: all\n", "3:8: ", "audit: expected a mapping"},
	{"audit without allow", HEAD "audit: {}\n", "3:8: ", "missing required key \"allow\""},
	{"audit fold past an hour", HEAD "audit: {allow: all, fold: 2h}\n", "3:27: ",
	 "audit.fold: \"2h\" is neither off nor a duration"},
	{"audit fold in microseconds", HEAD "audit: {allow: all, fold: 1500us}\n", "3:27: ",
	 "in whole milliseconds"},
	{"audit fold a number", HEAD "audit: {allow: all, fold: 5}\n", "3:27: ", "audit.fold"},
	{"audit budget below 2", HEAD "audit: {allow: all, budget: 1}\n", "3:29: ",
	 "is not an integer from 2 to 1000000"},
	{"audit budget words", HEAD "audit: {allow: all, budget: lots}\n", "3:29: ",
	 "audit.budget (records per second per connection, or off)"},
	{"audit budget quoted", HEAD "audit: {allow: all, budget: \"10\"}\n", "3:29: ",
	 "expected an unquoted integer"},
	/* limits */
	{"rule name too long",
	 HEAD "rules:\n  - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	      "    action: allow\n",
	 "4:11: ", "is longer than 63 bytes"},
	{"version too long",
	 "version: vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
	 "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\ndefault: allow\n",
	 "1:10: ", "is longer than 127 bytes"},
	{"17 listeners",
	 HEAD "listeners: [{port: 1}, {port: 2}, {port: 3}, {port: 4}, {port: 5}, {port: 6},\n"
	      "  {port: 7}, {port: 8}, {port: 9}, {port: 10}, {port: 11}, {port: 12}, {port: 13},\n"
	      "  {port: 14}, {port: 15}, {port: 16}, {port: 17}]\n",
	 "5:39: ", "more than 16 listeners (KG_MAX_LISTENERS)"},
	{"topic longer than 249 bytes (kg_compile)",
	 HEAD
	 "rules:\n  - name: a\n    topics:\n      - "
	 "tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt"
	 "tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt"
	 "tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt"
	 "\n    action: allow\n",
	 "6:9: ", "longer than 249 bytes"},
	{"principal longer than 64 bytes (kg_compile)",
	 HEAD
	 "rules:\n  - name: a\n    principals: [ok, "
	 "ppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp]\n    action: allow\n",
	 "5:22: ", "length 65 is not 1..64"},
	/* YAML itself */
	{"syntax: unclosed flow list", HEAD "rules: [\n", "4:1: ", "YAML syntax: "},
	{"syntax: bad indentation", HEAD "rules:\n  - name: a\n   action: allow\n",
	 "5:4: ", "YAML syntax: "},
	{"syntax: tab indentation", HEAD "rules:\n\t- name: a\n", "4:1: ", "YAML syntax: "},
	{"empty file", "", "1:1: ", "empty policy file"},
	{"comments only", "# nothing\n", "1:1: ", "empty policy file"},
	{"two documents", HEAD "---\n" HEAD, "4:1: ", "a second YAML document"},
	{"alias of a list",
	 HEAD "rules:\n  - {name: a, topics: &t [x], action: allow}\n"
	      "  - {name: b, topics: *t, action: reject}\n",
	 "4:23: ", "used again through a YAML alias"},
	{"undefined alias", HEAD "rules: *nope\n", "3:8: ", "YAML syntax: "},
};

/* audit.fold and audit.budget: values, off, and what the compiler makes of them. */
static void test_audit_fold_budget(void)
{
	static const char on[] = HEAD_LISTENER "audit: {allow: all, fold: 250ms, budget: 40}\n",
			  off[] = HEAD_LISTENER "audit: {allow: none, fold: off, budget: off}\n";
	struct kg_compiled c;
	struct kg_policy p;
	char err[512];

	CU_ASSERT_FATAL(kg_policy_load_yaml(write_tmp(on, sizeof(on) - 1), &p, err,
					    sizeof(err)) == 0);
	CU_ASSERT_EQUAL(p.fold_window_ms, 250);
	CU_ASSERT_EQUAL(p.budget, 40);
	CU_ASSERT_FATAL(kg_compile(&p, &c, err, sizeof(err)) == 0);
	CU_ASSERT_EQUAL(c.config.fold_window_ms, 250);
	CU_ASSERT_EQUAL(c.config.budget_cost_ns, 25000000); /* a record: 1/40 s of budget */
	kg_compiled_free(&c);
	kg_policy_free(&p);
	CU_ASSERT_FATAL(kg_policy_load_yaml(write_tmp(off, sizeof(off) - 1), &p, err,
					    sizeof(err)) == 0);
	CU_ASSERT(p.fold_window_ms == 0 && p.budget == 0);
	CU_ASSERT_FATAL(kg_compile(&p, &c, err, sizeof(err)) == 0);
	CU_ASSERT(c.config.fold_window_ms == 0 && c.config.budget_cost_ns == 0);
	kg_compiled_free(&c);
	kg_policy_free(&p);
}

static void test_errors(void)
{
	char err[512];

	for (unsigned int i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *t = &err_cases[i];
		const char *path = write_tmp(t->yaml, strlen(t->yaml));
		int rc = load_compile(path, err, sizeof(err));
		bool ok = rc == -1 && !strncmp(err, t->pos, strlen(t->pos)) &&
			  strstr(err + strlen(t->pos), t->msg);

		if (!ok)
			fprintf(stderr, "\n  case \"%s\": rc %d, got \"%s\", want \"%s%s...\"\n",
				t->what, rc, err, t->pos, t->msg);
		CU_ASSERT(ok);
	}
}

static void test_io_errors(void)
{
	struct kg_policy p;
	char err[256];

	CU_ASSERT_EQUAL(kg_policy_load_yaml("/nonexistent/kgate.yaml", &p, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "0:0: cannot open: No such file or directory");
	kg_policy_free(&p);
	CU_ASSERT_EQUAL(kg_policy_load_yaml(tmpdir, &p, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "0:0: cannot read: Is a directory");
	kg_policy_free(&p);
}

/* A limit counted by the loader: 64 regions (KG_REGION_NONE is taken). */
static void test_region_limit(void)
{
	char *text = malloc(64 * 40 + 64), err[512];
	size_t len;
	int rc;

	CU_ASSERT_FATAL(text != NULL);
	len = (size_t)sprintf(text, HEAD "regions:\n");
	for (int i = 0; i < 64; i++)
		len += (size_t)sprintf(text + len, "  r%d: [10.%d.0.0/16]\n", i, i);
	rc = load_compile(write_tmp(text, len), err, sizeof(err));
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_STRING_EQUAL(err, "67:3: region \"r63\": more than 63 regions (KG_MAX_REGIONS)");
	/* 63 are fine. */
	len = (size_t)(strstr(text, "  r63:") - text);
	CU_ASSERT_EQUAL(load_compile(write_tmp(text, len), err, sizeof(err)), 0);
	free(text);
}

/* ---- what the loader fills in ------------------------------------------------------------ */

static void test_fields_and_positions(void)
{
	static const char yaml[] = "version: \"2026-11-27.1\"\n"	      /* 1 */
				   "mode: monitor\n"			      /* 2 */
				   "default: reject\n"			      /* 3 */
				   "audit: { allow: \"1-in-7\" }\n"	      /* 4 */
				   "listeners:\n"			      /* 5 */
				   "  - port: 9092\n"			      /* 6 */
				   "  - port: 9093\n"			      /* 7 */
				   "    on_undecodable: drop\n"		      /* 8 */
				   "regions:\n"				      /* 9 */
				   "  eu: [10.10.0.0/16, \"fd00:10::/32\"]\n" /* 10 */
				   "identities:\n"			      /* 11 */
				   "  orders-svc: [10.10.1.0/24]\n"	      /* 12 */
				   "rules:\n"				      /* 13 */
				   "  - name: r1\n"			      /* 14 */
				   "    topics: [\"eu.*\", orders]\n"	      /* 15 */
				   "    principals: [orders-svc]\n"	      /* 16 */
				   "    client_ids: [c1]\n"		      /* 17 */
				   "    operations: [produce, admin]\n"	      /* 18 */
				   "    regions: [eu]\n"		      /* 19 */
				   "    action: redirect\n"		      /* 20 */
				   "    audit: true\n"			      /* 21 */
				   "  - name: r2\n"			      /* 22 */
				   "    regions_not: [eu]\n"		      /* 23 */
				   "    action: drop\n";		      /* 24 */
	struct kg_policy p;
	struct kg_prule *r;
	char err[512];

	CU_ASSERT_FATAL(
		kg_policy_load_yaml(write_tmp(yaml, sizeof(yaml) - 1), &p, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(p.version, "2026-11-27.1");
	CU_ASSERT_EQUAL(p.mode, KG_MODE_MONITOR);
	CU_ASSERT_EQUAL(p.default_action, KG_ACT_REJECT);
	/* unknown_topic_id left out: the default action. */
	CU_ASSERT_EQUAL(p.unknown_id_action, KG_ACT_REJECT);
	CU_ASSERT_EQUAL(p.audit_allow, 7);
	CU_ASSERT_EQUAL(p.nlisteners, 2);
	CU_ASSERT_EQUAL(p.listeners[0].port, 9092);
	CU_ASSERT_EQUAL(p.listeners[0].on_undecodable, KG_ACT_RESET); /* the default */
	CU_ASSERT_EQUAL(p.listeners[1].on_undecodable, KG_ACT_DROP);
	CU_ASSERT_EQUAL(p.listeners[1].pos.line, 7);
	CU_ASSERT_EQUAL(p.listeners[1].pos.col, 5);
	CU_ASSERT_FATAL(p.nregions == 1 && p.regions[0].ncidrs == 2);
	CU_ASSERT_EQUAL(p.regions[0].cidrs[1].family, 6);
	CU_ASSERT_EQUAL(p.regions[0].cidrs[1].prefix, 32);
	CU_ASSERT_EQUAL(p.regions[0].cidrs[1].pos.line, 10);
	CU_ASSERT_EQUAL(p.regions[0].cidrs[1].pos.col, 22);
	CU_ASSERT_FATAL(p.nidentities == 1);
	CU_ASSERT_STRING_EQUAL(p.identities[0].principal, "orders-svc");
	CU_ASSERT_EQUAL(p.identities[0].pos.line, 12);
	CU_ASSERT_EQUAL(p.identities[0].pos.col, 3);
	CU_ASSERT_FATAL(p.nrules == 2);
	r = &p.rules[0];
	CU_ASSERT_STRING_EQUAL(r->name, "r1");
	CU_ASSERT_EQUAL(r->pos.line, 14);
	CU_ASSERT_EQUAL(r->pos.col, 5);
	CU_ASSERT_FATAL(r->ntopics == 2 && r->topics_pos);
	CU_ASSERT_STRING_EQUAL(r->topics[0], "eu.*");
	CU_ASSERT_EQUAL(r->topics_pos[1].line, 15);
	CU_ASSERT_EQUAL(r->topics_pos[1].col, 22);
	CU_ASSERT_EQUAL(r->principals_pos[0].col, 18);
	CU_ASSERT_EQUAL(r->client_ids_pos[0].line, 17);
	CU_ASSERT_EQUAL(r->regions_pos[0].col, 15);
	CU_ASSERT_EQUAL(r->ops, (1 << KG_OP_PRODUCE) | (1 << KG_OP_ADMIN));
	CU_ASSERT_EQUAL(r->action, KG_ACT_REDIRECT);
	CU_ASSERT(r->audit);
	CU_ASSERT_FALSE(r->topics_none);
	CU_ASSERT_EQUAL(r->action_pos.line, 20);
	CU_ASSERT_EQUAL(r->action_pos.col, 13);
	r = &p.rules[1];
	CU_ASSERT_EQUAL(r->ops, 0);
	CU_ASSERT_EQUAL(r->ntopics, 0);
	CU_ASSERT_FALSE(r->audit);
	CU_ASSERT_EQUAL(r->nregions_not, 1);
	CU_ASSERT_EQUAL(r->regions_not_pos[0].line, 23);
	kg_policy_free(&p);
}

/* topics: none is the selector of requests that name no topic; [none] is a topic. */
static void test_topics_none(void)
{
	static const char yaml[] = "version: v1\n"
				   "default: reject\n"
				   "rules:\n"
				   "  - name: plumbing\n"
				   "    topics: none\n"
				   "    operations: [produce, consume]\n"
				   "    action: allow\n"
				   "  - name: the-topic-named-none\n"
				   "    topics: [none]\n"
				   "    action: allow\n";
	struct kg_policy p;
	char err[512];
	int i;

	CU_ASSERT_FATAL(
		kg_policy_load_yaml(write_tmp(yaml, sizeof(yaml) - 1), &p, err, sizeof(err)) == 0);
	CU_ASSERT_FATAL(p.nrules == 2);
	CU_ASSERT(p.rules[0].topics_none && p.rules[0].ntopics == 0);
	CU_ASSERT_EQUAL(p.rules[0].none_pos.line, 5);
	CU_ASSERT_EQUAL(p.rules[0].none_pos.col, 13);
	CU_ASSERT(!p.rules[1].topics_none && p.rules[1].ntopics == 1);
	/* a request naming no topic: the plumbing rule, for its operations only */
	CU_ASSERT_EQUAL(kg_ref_decide(&p, NULL, NULL, NULL, KG_OP_PRODUCE, NULL, &i),
			KG_ACT_ALLOW);
	CU_ASSERT_EQUAL(i, 0);
	CU_ASSERT_EQUAL(kg_ref_decide(&p, NULL, NULL, NULL, KG_OP_ADMIN, NULL, &i), KG_ACT_REJECT);
	CU_ASSERT_EQUAL(i, -1);
	/* a topic: never the plumbing rule */
	CU_ASSERT_EQUAL(kg_ref_decide(&p, NULL, NULL, NULL, KG_OP_PRODUCE, "none", &i),
			KG_ACT_ALLOW);
	CU_ASSERT_EQUAL(i, 1);
	CU_ASSERT_EQUAL(kg_ref_decide(&p, NULL, NULL, NULL, KG_OP_PRODUCE, "orders", &i),
			KG_ACT_REJECT);
	CU_ASSERT_EQUAL(i, -1);
	kg_policy_free(&p);
}

/* ---- semantics: YAML == the same policy built by hand ------------------------------------ */

static const char equiv_yaml[] = "version: eq\n"
				 "default: reject\n"
				 "unknown_topic_id: drop\n"
				 "regions:\n"
				 "  eu: [10.10.0.0/16]\n"
				 "  us: [10.20.0.0/16]\n"
				 "rules:\n"
				 "  - name: eu-stays\n"
				 "    topics: [\"eu.*\"]\n"
				 "    regions_not: [eu]\n"
				 "    action: reject\n"
				 "  - name: writers\n"
				 "    topics: [contracts.orders, \"contracts.*\"]\n"
				 "    principals: [orders-svc]\n"
				 "    operations: [produce]\n"
				 "    action: allow\n"
				 "  - name: no-contract-writes\n"
				 "    topics: [\"contracts.*\"]\n"
				 "    operations: [produce, admin]\n"
				 "    action: reset\n"
				 "  - name: loader\n"
				 "    client_ids: [loader]\n"
				 "    regions: [us]\n"
				 "    action: drop\n"
				 "  - name: rest\n"
				 "    topics: [\"*\"]\n"
				 "    regions: [eu, us]\n"
				 "    action: allow\n";

static void push(char ***v, int *n, const char *s)
{
	CU_ASSERT_FATAL(kg_strv_push(v, n, s) == 0);
}

static void build_by_hand(struct kg_policy *p)
{
	struct kg_pregion *g;
	struct kg_prule *r;

	kg_policy_init(p);
	snprintf(p->version, sizeof(p->version), "eq");
	p->default_action = KG_ACT_REJECT;
	p->unknown_id_action = KG_ACT_DROP;
	g = kg_policy_add_region(p, "eu", 0, 0);
	CU_ASSERT_FATAL(g && kg_cidrs_push(&g->cidrs, &g->ncidrs, "10.10.0.0/16", 0, 0) == 0);
	g = kg_policy_add_region(p, "us", 0, 0);
	CU_ASSERT_FATAL(g && kg_cidrs_push(&g->cidrs, &g->ncidrs, "10.20.0.0/16", 0, 0) == 0);

	r = kg_policy_add_rule(p, "eu-stays", 0, 0);
	CU_ASSERT_FATAL(r != NULL);
	push(&r->topics, &r->ntopics, "eu.*");
	push(&r->regions_not, &r->nregions_not, "eu");
	r->action = KG_ACT_REJECT;
	r = kg_policy_add_rule(p, "writers", 0, 0);
	CU_ASSERT_FATAL(r != NULL);
	push(&r->topics, &r->ntopics, "contracts.orders");
	push(&r->topics, &r->ntopics, "contracts.*");
	push(&r->principals, &r->nprincipals, "orders-svc");
	r->ops = 1 << KG_OP_PRODUCE;
	r->action = KG_ACT_ALLOW;
	r = kg_policy_add_rule(p, "no-contract-writes", 0, 0);
	CU_ASSERT_FATAL(r != NULL);
	push(&r->topics, &r->ntopics, "contracts.*");
	r->ops = (1 << KG_OP_PRODUCE) | (1 << KG_OP_ADMIN);
	r->action = KG_ACT_RESET;
	r = kg_policy_add_rule(p, "loader", 0, 0);
	CU_ASSERT_FATAL(r != NULL);
	push(&r->client_ids, &r->nclient_ids, "loader");
	push(&r->regions, &r->nregions, "us");
	r->action = KG_ACT_DROP;
	r = kg_policy_add_rule(p, "rest", 0, 0);
	CU_ASSERT_FATAL(r != NULL);
	push(&r->topics, &r->ntopics, "*");
	push(&r->regions, &r->nregions, "eu");
	push(&r->regions, &r->nregions, "us");
	r->action = KG_ACT_ALLOW;
}

static void test_equivalence(void)
{
	static const char *const principals[] = {NULL, "orders-svc", "someone"};
	static const char *const regions[] = {NULL, "eu", "us"};
	static const char *const clients[] = {NULL, "loader", "other"};
	static const char *const topics[] = {
		"eu.orders", "eu", "contracts.orders", "contracts.orders.v2", "contracts",
		"us.x",	     "a"};
	struct kg_compiled cy = {0};
	struct kg_policy y, h;
	char err[512];
	int n = 0, differ = 0;

	CU_ASSERT_FATAL(kg_policy_load_yaml(write_tmp(equiv_yaml, sizeof(equiv_yaml) - 1), &y, err,
					    sizeof(err)) == 0);
	build_by_hand(&h);
	CU_ASSERT_EQUAL(y.default_action, h.default_action);
	CU_ASSERT_EQUAL(y.unknown_id_action, h.unknown_id_action);
	CU_ASSERT_EQUAL(y.mode, h.mode);
	CU_ASSERT_FATAL(kg_compile(&y, &cy, err, sizeof(err)) == 0);
	for (unsigned int a = 0; a < 3; a++)
		for (unsigned int b = 0; b < 3; b++)
			for (unsigned int c = 0; c < 3; c++)
				for (__u8 op = 0; op < KG_OP__COUNT; op++)
					for (unsigned int t = 0; t < 7; t++) {
						int iy, ih, ay, ah, ac;
						__u32 ic;
						__u8 rid = regions[b]
								   ? (__u8)(strcmp(regions[b], "eu")
										    ? 1
										    : 0)
								   : KG_REGION_NONE;

						ay = kg_ref_decide(&y, principals[a], regions[b],
								   clients[c], op, topics[t], &iy);
						ah = kg_ref_decide(&h, principals[a], regions[b],
								   clients[c], op, topics[t], &ih);
						ac = kg_compiled_decide(
							&cy,
							kg_compiled_principal_id(&cy,
										 principals[a]),
							rid, kg_compiled_client_id(&cy, clients[c]),
							op, topics[t], &ic);
						n++;
						if (ay != ah || iy != ih || ac != ay ||
						    (int)ic != iy)
							differ++;
					}
	CU_ASSERT_EQUAL(n, 3 * 3 * 3 * KG_OP__COUNT * 7);
	CU_ASSERT_EQUAL(differ, 0);
	/* A few decisions spelled out. */
	{
		int i;

		CU_ASSERT_EQUAL(kg_ref_decide(&y, NULL, "us", NULL, KG_OP_CONSUME, "eu.orders", &i),
				KG_ACT_REJECT);
		CU_ASSERT_EQUAL(kg_ref_decide(&y, "orders-svc", "eu", NULL, KG_OP_PRODUCE,
					      "contracts.orders", &i),
				KG_ACT_ALLOW);
		CU_ASSERT_EQUAL(i, 1);
		CU_ASSERT_EQUAL(kg_ref_decide(&y, "someone", "eu", NULL, KG_OP_PRODUCE,
					      "contracts.orders", &i),
				KG_ACT_RESET);
		CU_ASSERT_EQUAL(kg_ref_decide(&y, NULL, "us", "loader", KG_OP_CONSUME, "a", &i),
				KG_ACT_DROP);
		CU_ASSERT_EQUAL(kg_ref_decide(&y, NULL, NULL, NULL, KG_OP_CONSUME, "a", &i),
				KG_ACT_REJECT);
		CU_ASSERT_EQUAL(i, -1);
	}
	kg_compiled_free(&cy);
	kg_policy_free(&y);
	kg_policy_free(&h);
}

/* A buffer that is not NUL-terminated, and CRLF line ends, parse like any other. */
static void test_parse_buffer(void)
{
	static const char text[] = "version: v1\r\ndefault: drop\r\nrules:\r\n  - name: a\r\n"
				   "    action: allow\r\n    operations: [bogus]\r\nXXXX";
	struct kg_policy p;
	char err[256];
	size_t head = (size_t)(strstr(text, "    operations") - text);

	CU_ASSERT_EQUAL(kg_policy_parse_yaml(text, head, &p, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(p.default_action, KG_ACT_DROP);
	CU_ASSERT_EQUAL(p.nrules, 1);
	kg_policy_free(&p);
	CU_ASSERT_EQUAL(kg_policy_parse_yaml(text, strlen(text) - 4, &p, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "6:18: operations: unknown operation \"bogus\" (expected one "
				    "of: other, produce, consume, describe, admin)");
	kg_policy_free(&p);
}

int register_policy_yaml_tests(void)
{
	static const struct cu_test tests[] = {
		{"shipped policies load and compile", test_shipped_policies},
		{"residency.yaml decides", test_shipped_residency_decides},
		{"audit fold and budget", test_audit_fold_budget},
		{"every error class with its LINE:COL", test_errors},
		{"file errors are 0:0", test_io_errors},
		{"region limit", test_region_limit},
		{"fields and positions", test_fields_and_positions},
		{"topics: none and the topic [none]", test_topics_none},
		{"YAML == hand-built policy", test_equivalence},
		{"parse from a buffer, CRLF", test_parse_buffer},
	};

	return CU_SUITE("policy_yaml", suite_init, suite_clean, tests);
}
