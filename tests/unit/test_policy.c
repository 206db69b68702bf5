// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of the policy compiler (agent/policy/compile.c) against the reference
 * evaluator (agent/policy/ref.c), docs/DESIGN.md §4:
 *
 *  - semantics, each with the decision both evaluators must give: exact vs prefix,
 *    nested prefixes in every order, topic wildcards, negated regions (a source in no
 *    region too), principal / client.id / operation, default action;
 *  - the compiled tables themselves: candidate lists per class, pruning after an
 *    all-any rule, dropped never-matching rules, map keys, ids;
 *  - every compile error with its LINE:COL, and each limit;
 *  - a randomized differential (KGATE_SEED replays a run) over nested prefixes, negated
 *    regions and wildcards: compiled tables + id helpers == reference, and every class
 *    list == a brute-force reading of the class definition;
 *  - scale: 10,000 and 100,000 random rules compile (timed) and decide like the reference.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/policy/policy.h"
#include "tests/lib/cu_run.h"

/* ---- building policies from one-line specs --------------------------------------------- */

/* The index of s in names (n of them), in a test spec of what; a bad spec aborts. */
static __u8 index_of(const char *const *names, unsigned int n, const char *s, const char *what)
{
	for (unsigned int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return (__u8)i;
	fprintf(stderr, "bad %s %s in a test spec\n", what, s);
	abort();
}

static __u8 action_of(const char *s)
{
	static const char *const names[] = { "allow", "reject", "reset", "drop", "redirect" };

	return index_of(names, sizeof(names) / sizeof(names[0]), s, "action");
}

static __u8 op_of(const char *s)
{
	static const char *const names[] = { "other", "produce", "consume", "describe", "admin" };

	return index_of(names, sizeof(names) / sizeof(names[0]), s, "op");
}

static void push_all(char ***v, int *n, char *list)
{
	char *item;

	while ((item = strsep(&list, ",")))
		if (kg_strv_push(v, n, item))
			abort();
}

/*
 * Adds a rule: space-separated "t=a*,ab p=alice c=cli1 o=produce,consume r=eu nr=us
 * a=reject audit @12:5", or "none" for `topics: none`. Position defaults to line 100 +
 * index, column 3.
 */
static struct kg_prule *R(struct kg_policy *p, const char *spec)
{
	char name[32], *copy = strdup(spec), *s = copy, *tok;
	struct kg_prule *r;

	snprintf(name, sizeof(name), "r%d", p->nrules);
	r = kg_policy_add_rule(p, name, 100 + p->nrules, 3);
	if (!r || !copy)
		abort();
	r->action = KG_ACT_ALLOW;
	while ((tok = strsep(&s, " "))) {
		char *v = strchr(tok, '=');

		if (!*tok)
			continue;
		if (!strcmp(tok, "audit")) {
			r->audit = true;
			continue;
		}
		if (!strcmp(tok, "none")) {
			r->topics_none = true;
			continue;
		}
		if (tok[0] == '@') {
			sscanf(tok + 1, "%d:%d", &r->pos.line, &r->pos.col);
			continue;
		}
		if (!v)
			abort();
		*v++ = '\0';
		if (!strcmp(tok, "t"))
			push_all(&r->topics, &r->ntopics, v);
		else if (!strcmp(tok, "p"))
			push_all(&r->principals, &r->nprincipals, v);
		else if (!strcmp(tok, "c"))
			push_all(&r->client_ids, &r->nclient_ids, v);
		else if (!strcmp(tok, "r"))
			push_all(&r->regions, &r->nregions, v);
		else if (!strcmp(tok, "nr"))
			push_all(&r->regions_not, &r->nregions_not, v);
		else if (!strcmp(tok, "a"))
			r->action = action_of(v);
		else if (!strcmp(tok, "n"))
			snprintf(r->name, sizeof(r->name), "%s", v);
		else if (!strcmp(tok, "o")) {
			char *o;

			while ((o = strsep(&v, ",")))
				r->ops |= 1u << op_of(o);
		} else {
			abort();
		}
	}
	free(copy);
	return r;
}

/* Space-separated CIDRs into a region's or an identity's list, all at the owner's position. */
static void push_cidrs(struct kg_cidr **v, int *n, const char *cidrs)
{
	char *copy = strdup(cidrs), *s = copy, *tok;

	while ((tok = strsep(&s, " ")))
		if (*tok && kg_cidrs_push(v, n, tok, 0, 0))
			abort();
	free(copy);
}

static void REGION(struct kg_policy *p, const char *name, const char *cidrs, int line)
{
	struct kg_pregion *g = kg_policy_add_region(p, name, line, 3);

	push_cidrs(&g->cidrs, &g->ncidrs, cidrs);
}

static void IDENTITY(struct kg_policy *p, const char *principal, const char *cidrs, int line)
{
	struct kg_pidentity *d = kg_policy_add_identity(p, principal, line, 3);

	push_cidrs(&d->cidrs, &d->ncidrs, cidrs);
}

static int compile_ok(const struct kg_policy *p, struct kg_compiled *c)
{
	char err[512];
	int rc = kg_compile(p, c, err, sizeof(err));

	/* Not fatal: the caller frees what it built (a longjmp would leak it). */
	if (rc)
		fprintf(stderr, "\nunexpected compile error: %s\n", err);
	CU_ASSERT_EQUAL(rc, 0);
	return rc;
}

static __u8 region_id(const struct kg_compiled *c, const char *name)
{
	if (!name)
		return KG_REGION_NONE;
	for (__u32 i = 0; i < c->nregions; i++)
		if (!strcmp(c->region_names[i], name))
			return (__u8)i;
	abort();
}

/*
 * Decides one request with both evaluators and checks both give want_action by
 * want_rule (-1: the default). region is a region name or NULL.
 */
static void expect(const struct kg_policy *p, const struct kg_compiled *c, const char *principal,
		   const char *region, const char *client, const char *op, const char *topic,
		   const char *want_action, int want_rule)
{
	__u16 pid = kg_compiled_principal_id(c, principal);
	__u8 cid = kg_compiled_client_id(c, client), rid = region_id(c, region);
	int ref_rule, ref = kg_ref_decide(p, principal, region, client, op_of(op), topic,
					  &ref_rule);
	__u32 got_rule;
	int got = kg_compiled_decide(c, pid, rid, cid, op_of(op), topic, &got_rule);
	int want = action_of(want_action);

	if (ref != want || ref_rule != want_rule || got != want || (int)got_rule != want_rule)
		fprintf(stderr,
			"\n%s/%s/%s/%s/%s: want %s by %d; reference %d by %d; compiled %d by %d\n",
			principal ? principal : "(anonymous)", region ? region : "(none)",
			client ? client : "(null)", op, topic ? topic : "(no topic)", want_action,
			want_rule, ref,
			ref_rule, got, (int)got_rule);
	CU_ASSERT_EQUAL(ref, want);
	CU_ASSERT_EQUAL(ref_rule, want_rule);
	CU_ASSERT_EQUAL(got, want);
	CU_ASSERT_EQUAL((int)got_rule, want_rule);
}

/* Checks the candidate list of the class topic falls in: n rule indexes. */
static void expect_class(const struct kg_compiled *c, const char *topic, int n, ...)
{
	const struct kg_class *cl = &c->classes[kg_compiled_class_of(c, topic)];
	va_list ap;
	int ok = (int)cl->n == n;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		int r = va_arg(ap, int);

		if (ok && (int)cl->rules[i] != r)
			ok = 0;
	}
	va_end(ap);
	if (!ok) {
		fprintf(stderr, "\nclass of \"%s\": want %d candidates, got",
			topic ? topic : "(no topic)", n);
		for (__u32 i = 0; i < cl->n; i++)
			fprintf(stderr, " %u", cl->rules[i]);
		fprintf(stderr, "\n");
	}
	CU_ASSERT_TRUE(ok);
}

static void expect_error(const struct kg_policy *p, const char *want_pos, const char *what);

/* ---- semantics ---------------------------------------------------------------------- */

static void test_exact_vs_prefix(void)
{
	struct kg_policy p;
	struct kg_compiled c;

	kg_policy_init(&p);
	R(&p, "t=orders a=reject");
	R(&p, "t=orders* a=drop");
	if (compile_ok(&p, &c))
		return;
	expect(&p, &c, "u", NULL, NULL, "produce", "orders", "reject", 0);
	expect(&p, &c, "u", NULL, NULL, "produce", "orders.eu", "drop", 1);
	expect(&p, &c, "u", NULL, NULL, "produce", "ordersX", "drop", 1);
	expect(&p, &c, "u", NULL, NULL, "produce", "order", "allow", -1);
	expect(&p, &c, "u", NULL, NULL, "produce", "xorders", "allow", -1);
	kg_compiled_free(&c);
	kg_policy_free(&p);

	/* A prefix matches the name it spells too, so it shadows the exact rule after it. */
	kg_policy_init(&p);
	R(&p, "t=orders* a=drop");
	R(&p, "t=orders a=reject");
	if (compile_ok(&p, &c))
		return;
	expect(&p, &c, "u", NULL, NULL, "produce", "orders", "drop", 0);
	expect_class(&c, "orders", 1, 0);
	kg_compiled_free(&c);
	kg_policy_free(&p);
}

static void test_nested_prefixes_every_order(void)
{
	static const char *const pats[3] = { "a*", "ab*", "abc" };
	static const char *const acts[3] = { "reject", "reset", "drop" };
	static const int perms[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
					 { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
	static const char *const topics[] = { "a", "ab", "abc", "abcd", "abd", "b", "ba", "aab" };

	for (int k = 0; k < 6; k++) {
		struct kg_policy p;
		struct kg_compiled c;

		kg_policy_init(&p);
		for (int i = 0; i < 3; i++) {
			char spec[64];

			snprintf(spec, sizeof(spec), "t=%s a=%s", pats[perms[k][i]],
				 acts[perms[k][i]]);
			R(&p, spec);
		}
		if (compile_ok(&p, &c))
			return;
		for (unsigned int t = 0; t < sizeof(topics) / sizeof(topics[0]); t++) {
			/* The want: the first rule in this order whose pattern matches. */
			int want = -1;

			for (int i = 0; i < 3 && want < 0; i++) {
				const char *pt = pats[perms[k][i]];
				size_t n = strlen(pt);

				if (pt[n - 1] == '*' ? !strncmp(topics[t], pt, n - 1)
						     : !strcmp(topics[t], pt))
					want = i;
			}
			expect(&p, &c, "u", NULL, NULL, "consume", topics[t],
			       want < 0 ? "allow" : acts[perms[k][want]], want);
		}
		kg_compiled_free(&c);
		kg_policy_free(&p);
	}

	/* Most specific last: every topic under a* meets a* first. */
	{
		struct kg_policy p;
		struct kg_compiled c;

		kg_policy_init(&p);
		R(&p, "t=abc a=drop");
		R(&p, "t=ab* a=reset");
		R(&p, "t=a* a=reject");
		if (compile_ok(&p, &c))
			return;
		expect(&p, &c, "u", NULL, NULL, "consume", "a", "reject", 2);
		expect(&p, &c, "u", NULL, NULL, "consume", "ab", "reset", 1);
		expect(&p, &c, "u", NULL, NULL, "consume", "abc", "drop", 0);
		expect(&p, &c, "u", NULL, NULL, "consume", "abcd", "reset", 1);
		expect(&p, &c, "u", NULL, NULL, "consume", "abd", "reset", 1);
		expect(&p, &c, "u", NULL, NULL, "consume", "b", "allow", -1);
		/* Topic-only rules are all-any: each class stops at its first. */
		expect_class(&c, "abc", 1, 0);
		expect_class(&c, "abd", 1, 1);
		expect_class(&c, "ax", 1, 2);
		expect_class(&c, "b", 0);
		kg_compiled_free(&c);
		kg_policy_free(&p);
	}
}

static void test_class_lists(void)
{
	struct kg_policy p;
	struct kg_compiled c;

	kg_policy_init(&p);
	R(&p, "t=abc p=alice");
	R(&p, "t=a* p=bob");
	R(&p, "t=ab* p=carol");
	R(&p, "t=b p=alice");
	R(&p, "t=* o=produce");
	R(&p, "t=abcd*,abc p=dave");
	if (compile_ok(&p, &c))
		return;
	CU_ASSERT_EQUAL(c.npatterns, 6); /* empty prefix, abc, a*, ab*, b, abcd* */
	expect_class(&c, "zzz", 1, 4);
	expect_class(&c, "a", 2, 1, 4);
	expect_class(&c, "ab", 3, 1, 2, 4);
	expect_class(&c, "abx", 3, 1, 2, 4);
	expect_class(&c, "abc", 5, 0, 1, 2, 4, 5);
	expect_class(&c, "abcd", 4, 1, 2, 4, 5);
	expect_class(&c, "abcdef", 4, 1, 2, 4, 5);
	expect_class(&c, "b", 2, 3, 4);
	expect_class(&c, "bb", 1, 4);
	expect(&p, &c, "dave", NULL, NULL, "consume", "abc", "allow", 5);
	expect(&p, &c, "dave", NULL, NULL, "consume", "abcdx", "allow", 5);
	expect(&p, &c, "dave", NULL, NULL, "consume", "abcx", "allow", -1);
	expect(&p, &c, "dave", NULL, NULL, "consume", "abx", "allow", -1);
	kg_compiled_free(&c);
	kg_policy_free(&p);
}

static void test_topic_wildcards(void)
{
	struct kg_policy p;
	struct kg_compiled c;

	kg_policy_init(&p);
	p.default_action = KG_ACT_REJECT;
	R(&p, "t=x p=alice a=reset");
	R(&p, "t=*,y p=bob a=drop"); /* "*" anywhere in the list: any topic */
	R(&p, "p=carol a=redirect"); /* no topics: any topic */
	R(&p, "t=y a=allow");
	if (compile_ok(&p, &c))
		return;
	expect(&p, &c, "alice", NULL, NULL, "produce", "x", "reset", 0);
	expect(&p, &c, "bob", NULL, NULL, "produce", "x", "drop", 1);
	expect(&p, &c, "bob", NULL, NULL, "produce", "anything", "drop", 1);
	expect(&p, &c, "carol", NULL, NULL, "produce", "y", "redirect", 2);
	expect(&p, &c, "alice", NULL, NULL, "produce", "y", "allow", 3);
	expect(&p, &c, "dave", NULL, NULL, "produce", "q", "reject", -1);
	expect_class(&c, "q", 2, 1, 2);
	expect_class(&c, "x", 3, 0, 1, 2);
	expect_class(&c, "y", 3, 1, 2, 3);
	kg_compiled_free(&c);
	kg_policy_free(&p);
}

/*
 * Requests that name no topic (topic NULL): `topics: none` rules match only them, rules
 * without topics and "*" match them and every topic, topic rules never. Their class is
 * the empty prefix's; topics no pattern names stay in class 0, without the none rules.
 * Requests about all topics (KG_ALL_TOPICS): only rules without topics and "*" match
 * them, never `topics: none` nor a topic rule; the datapath decides them in class 0.
 */
static void test_topicless_requests(void)
{
	static const char *const unnamed[] = { "zzz", "", "\x80high", "\x01low", "a" };
	struct kg_policy p;
	struct kg_compiled c;
	struct kg_topic_key tk;

	kg_policy_init(&p);
	R(&p, "t=secret.* a=reject");
	R(&p, "none o=produce,consume a=allow");
	R(&p, "none p=mallory a=drop");
	R(&p, "o=admin a=reset");
	R(&p, "t=ab a=allow");
	R(&p, "t=* o=describe a=redirect");
	if (compile_ok(&p, &c))
		return;
	expect(&p, &c, NULL, NULL, NULL, "produce", NULL, "allow", 1);
	expect(&p, &c, "mallory", NULL, NULL, "consume", NULL, "allow", 1);
	expect(&p, &c, "mallory", NULL, NULL, "other", NULL, "drop", 2);
	expect(&p, &c, NULL, NULL, NULL, "admin", NULL, "reset", 3);
	expect(&p, &c, NULL, NULL, NULL, "describe", NULL, "redirect", 5);
	expect(&p, &c, NULL, NULL, NULL, "other", NULL, "allow", -1);
	for (unsigned int i = 0; i < sizeof(unnamed) / sizeof(unnamed[0]); i++) {
		expect(&p, &c, NULL, NULL, NULL, "produce", unnamed[i], "allow", -1);
		expect(&p, &c, "mallory", NULL, NULL, "other", unnamed[i], "allow", -1);
		expect(&p, &c, NULL, NULL, NULL, "admin", unnamed[i], "reset", 3);
		expect_class(&c, unnamed[i], 2, 3, 5);
	}
	expect(&p, &c, NULL, NULL, NULL, "produce", "ab", "allow", 4);
	expect(&p, &c, NULL, NULL, NULL, "produce", "secret.x", "reject", 0);
	expect_class(&c, NULL, 4, 1, 2, 3, 5);
	/* all topics: not the none rules (1, 2) that open plumbing, not the topic rules */
	CU_ASSERT_EQUAL(kg_compiled_class_of(&c, KG_ALL_TOPICS), 0);
	expect_class(&c, KG_ALL_TOPICS, 2, 3, 5);
	expect(&p, &c, NULL, NULL, NULL, "produce", KG_ALL_TOPICS, "allow", -1);
	expect(&p, &c, NULL, NULL, NULL, "consume", KG_ALL_TOPICS, "allow", -1);
	expect(&p, &c, "mallory", NULL, NULL, "other", KG_ALL_TOPICS, "allow", -1);
	expect(&p, &c, NULL, NULL, NULL, "admin", KG_ALL_TOPICS, "reset", 3);
	expect(&p, &c, NULL, NULL, NULL, "describe", KG_ALL_TOPICS, "redirect", 5);
	expect_class(&c, "ab", 2, 3, 4); /* rule 4 is all-any: the list ends there */
	/* gen alone for no topic; the catch-alls: gen and one bit, to class 0 */
	CU_ASSERT_EQUAL(c.topicless_class, c.nclasses - 1);
	CU_ASSERT_EQUAL(c.npolicy_patterns, 2);
	CU_ASSERT_FATAL(c.npatterns == 5);
	kg_topic_key_fill(&c.patterns[0], 1, &tk);
	CU_ASSERT(tk.prefixlen == 8 && c.patterns[0].class_id == c.topicless_class);
	for (int half = 0; half < 2; half++) {
		kg_topic_key_fill(&c.patterns[3 + half], 1, &tk);
		CU_ASSERT(tk.prefixlen == 9 && tk.data[0] == 1 && tk.data[1] == (half ? 0x80 : 0));
		CU_ASSERT_EQUAL(c.patterns[3 + half].class_id, 0);
	}
	kg_compiled_free(&c);

	/* Without `topics: none` the compiled form is what it always was: one class 0. */
	p.rules[1].topics_none = p.rules[2].topics_none = false;
	if (compile_ok(&p, &c))
		return;
	CU_ASSERT_EQUAL(c.topicless_class, 0);
	CU_ASSERT_EQUAL(c.npatterns, 3);
	CU_ASSERT_EQUAL(c.nclasses, 3);
	expect(&p, &c, NULL, NULL, NULL, "produce", "zzz", "allow", 1);
	expect(&p, &c, "mallory", NULL, NULL, "other", KG_ALL_TOPICS, "drop", 2);
	expect_class(&c, NULL, 4, 1, 2, 3, 5);
	expect_class(&c, "zzz", 4, 1, 2, 3, 5);
	kg_compiled_free(&c);
	kg_policy_free(&p);

	/* A rule cannot say both. */
	kg_policy_init(&p);
	R(&p, "t=a none @7:9");
	expect_error(&p, "7:9", "topics: none and topic patterns in one rule");
	kg_policy_free(&p);

	/* The topic-less class counts its candidates like any other. */
	kg_policy_init(&p);
	for (int i = 0; i < KG_MAX_CANDIDATES; i++) {
		char spec[32];

		snprintf(spec, sizeof(spec), "%s p=u%d", i % 2 ? "none" : "", i);
		R(&p, spec);
	}
	if (!compile_ok(&p, &c))
		kg_compiled_free(&c);
	R(&p, "none p=v @80:4");
	expect_error(&p, "80:4", "requests that name no topic would have more than 32");
	kg_policy_free(&p);
}

static void test_negated_regions(void)
{
	struct kg_policy p;
	struct kg_compiled c;
	__u8 a[16] = { 0 };

	kg_policy_init(&p);
	REGION(&p, "eu", "10.0.0.0/8 2001:db8::/32", 2);
	REGION(&p, "us", "11.0.0.0/8", 3);
	REGION(&p, "apac", "12.0.0.0/8", 4);
	REGION(&p, "eu-core", "10.1.0.0/16", 5);
	R(&p, "nr=eu,us a=reject");
	R(&p, "r=eu a=drop");
	R(&p, "r=us nr=us a=reset"); /* can never match: dropped from every class */
	R(&p, "r=us,apac nr=apac a=redirect");
	if (compile_ok(&p, &c))
		return;
	expect(&p, &c, "u", NULL, NULL, "produce", "t", "reject", 0); /* in no region */
	expect(&p, &c, "u", "apac", NULL, "produce", "t", "reject", 0);
	expect(&p, &c, "u", "eu-core", NULL, "produce", "t", "reject", 0);
	expect(&p, &c, "u", "eu", NULL, "produce", "t", "drop", 1);
	expect(&p, &c, "u", "us", NULL, "produce", "t", "redirect", 3);
	expect_class(&c, "t", 3, 0, 1, 3);
	CU_ASSERT_EQUAL(c.rules[0].regions, ~((1ull << 0) | (1ull << 1)));
	CU_ASSERT_TRUE((c.rules[0].regions & (1ull << KG_REGION_NONE)) != 0);
	CU_ASSERT_EQUAL(c.rules[2].regions, 0);

	/* Longest prefix decides the region, on both families; no CIDR: no region. */
	a[0] = 10, a[1] = 1, a[2] = 2, a[3] = 3;
	CU_ASSERT_EQUAL(kg_compiled_region_of(&c, 4, a), region_id(&c, "eu-core"));
	CU_ASSERT_STRING_EQUAL(kg_ref_region_of(&p, 4, a), "eu-core");
	a[1] = 2;
	CU_ASSERT_EQUAL(kg_compiled_region_of(&c, 4, a), region_id(&c, "eu"));
	CU_ASSERT_STRING_EQUAL(kg_ref_region_of(&p, 4, a), "eu");
	a[0] = 13;
	CU_ASSERT_EQUAL(kg_compiled_region_of(&c, 4, a), KG_REGION_NONE);
	CU_ASSERT_PTR_NULL(kg_ref_region_of(&p, 4, a));
	inet_pton(AF_INET6, "2001:db8:1::5", a);
	CU_ASSERT_EQUAL(kg_compiled_region_of(&c, 6, a), region_id(&c, "eu"));
	CU_ASSERT_STRING_EQUAL(kg_ref_region_of(&p, 6, a), "eu");
	/* The same first bytes in the other family are no match. */
	CU_ASSERT_EQUAL(kg_compiled_region_of(&c, 4, a), KG_REGION_NONE);
	kg_compiled_free(&c);
	kg_policy_free(&p);
}

static void test_principal_client_op(void)
{
	struct kg_policy p;
	struct kg_compiled c;
	__u8 a[16] = { 10, 9, 1, 1 };

	kg_policy_init(&p);
	IDENTITY(&p, "svc-ingest", "10.9.0.0/16", 2);
	R(&p, "p=alice o=produce a=reject");
	R(&p, "c=cli1 a=drop");
	R(&p, "p=ANONYMOUS o=consume,describe a=reset");
	R(&p, "c= a=redirect"); /* the empty client.id, not a null one */
	R(&p, "p=svc-ingest,alice c=cli2 o=admin a=reject");
	if (compile_ok(&p, &c))
		return;
	expect(&p, &c, "alice", NULL, NULL, "produce", "t", "reject", 0);
	expect(&p, &c, "alice", NULL, NULL, "consume", "t", "allow", -1);
	expect(&p, &c, "alice", NULL, "cli1", "consume", "t", "drop", 1);
	expect(&p, &c, NULL, NULL, NULL, "consume", "t", "reset", 2);
	expect(&p, &c, "ANONYMOUS", NULL, NULL, "describe", "t", "reset", 2);
	expect(&p, &c, "ANONYMOUS", NULL, NULL, "admin", "t", "allow", -1);
	expect(&p, &c, "mallory", NULL, NULL, "describe", "t", "allow", -1);
	expect(&p, &c, "mallory", NULL, "", "describe", "t", "redirect", 3);
	expect(&p, &c, "mallory", NULL, "cli3", "describe", "t", "allow", -1);
	expect(&p, &c, "svc-ingest", NULL, "cli2", "admin", "t", "reject", 4);
	expect(&p, &c, "svc-ingest", NULL, "cli2", "produce", "t", "allow", -1);

	/* Ids: ANONYMOUS 0, named 1..254 in order of appearance, the rest OTHER. */
	CU_ASSERT_EQUAL(kg_compiled_principal_id(&c, "ANONYMOUS"), KG_PRINCIPAL_ANONYMOUS);
	CU_ASSERT_EQUAL(kg_compiled_principal_id(&c, NULL), KG_PRINCIPAL_ANONYMOUS);
	CU_ASSERT_EQUAL(kg_compiled_principal_id(&c, "svc-ingest"), 1);
	CU_ASSERT_EQUAL(kg_compiled_principal_id(&c, "alice"), 2);
	CU_ASSERT_EQUAL(kg_compiled_principal_id(&c, "mallory"), KG_PRINCIPAL_OTHER);
	CU_ASSERT_EQUAL(kg_compiled_client_id(&c, "cli1"), 0);
	CU_ASSERT_EQUAL(kg_compiled_client_id(&c, ""), 1);
	CU_ASSERT_EQUAL(kg_compiled_client_id(&c, NULL), KG_CLIENT_OTHER);
	CU_ASSERT_EQUAL(kg_compiled_client_id(&c, "cli3"), KG_CLIENT_OTHER);
	CU_ASSERT_EQUAL(c.rules[0].ops, 1u << KG_OP_PRODUCE);
	CU_ASSERT_EQUAL(c.rules[1].ops, 0xff);

	/* Identity CIDRs bind a principal to an address; elsewhere ANONYMOUS. */
	CU_ASSERT_EQUAL(kg_compiled_identity_of(&c, 4, a), 1);
	CU_ASSERT_STRING_EQUAL(kg_ref_principal_of(&p, 4, a), "svc-ingest");
	a[1] = 8;
	CU_ASSERT_EQUAL(kg_compiled_identity_of(&c, 4, a), KG_PRINCIPAL_ANONYMOUS);
	CU_ASSERT_STRING_EQUAL(kg_ref_principal_of(&p, 4, a), "ANONYMOUS");
	kg_compiled_free(&c);
	kg_policy_free(&p);
}

static void test_default_action(void)
{
	struct kg_policy p;
	struct kg_compiled c;

	kg_policy_init(&p);
	p.default_action = KG_ACT_DROP;
	if (compile_ok(&p, &c))
		return;
	expect(&p, &c, "u", NULL, NULL, "produce", "t", "drop", -1);
	CU_ASSERT_EQUAL(c.npatterns, 1);
	CU_ASSERT_EQUAL(c.classes[0].n, 0);
	CU_ASSERT_EQUAL(c.config.default_action, KG_ACT_DROP);
	kg_compiled_free(&c);
	kg_policy_free(&p);

	kg_policy_init(&p);
	p.default_action = KG_ACT_RESET;
	R(&p, "t=a p=alice o=produce a=allow");
	if (compile_ok(&p, &c))
		return;
	expect(&p, &c, "alice", NULL, NULL, "consume", "a", "reset", -1);
	expect(&p, &c, "bob", NULL, NULL, "produce", "a", "reset", -1);
	expect(&p, &c, "alice", NULL, NULL, "produce", "b", "reset", -1);
	expect(&p, &c, "alice", NULL, NULL, "produce", "a", "allow", 0);
	kg_compiled_free(&c);
	kg_policy_free(&p);
}

static void test_pruning(void)
{
	struct kg_policy p;
	struct kg_compiled c;
	char spec[64];

	kg_policy_init(&p);
	REGION(&p, "eu", "10.0.0.0/8", 2);
	R(&p, "t=a p=alice a=reject");
	R(&p, "t=a* r=eu nr=eu a=reset"); /* never matches: not a candidate */
	R(&p, "t=* a=drop audit");        /* all-any: nothing after it is reachable */
	/* Far more than KG_MAX_CANDIDATES after it: they cost nothing. */
	for (int i = 0; i < 3 * KG_MAX_CANDIDATES; i++) {
		snprintf(spec, sizeof(spec), "t=a p=u%d", i);
		R(&p, spec);
	}
	if (compile_ok(&p, &c))
		return;
	expect_class(&c, "a", 2, 0, 2);
	expect_class(&c, "ab", 1, 2);
	expect_class(&c, "b", 1, 2);
	expect(&p, &c, "u5", NULL, NULL, "produce", "a", "drop", 2);
	CU_ASSERT_EQUAL(c.rules[2].flags, KG_RULE_USED | KG_RULE_AUDIT);
	CU_ASSERT_EQUAL(c.rules[0].flags, KG_RULE_USED);
	CU_ASSERT_EQUAL(c.nrules, (__u32)p.nrules);
	CU_ASSERT_EQUAL(c.rules[50].rule_id, 50);
	kg_compiled_free(&c);
	kg_policy_free(&p);

	/* A rule naming every principal is not all-any: OTHER is never named. */
	kg_policy_init(&p);
	R(&p, "p=ANONYMOUS,alice");
	R(&p, "t=x");
	R(&p, "o=other,produce,consume,describe,admin"); /* every op: all-any */
	R(&p, "t=y");
	if (compile_ok(&p, &c))
		return;
	expect_class(&c, "x", 2, 0, 1);
	expect_class(&c, "y", 2, 0, 2);
	kg_compiled_free(&c);
	kg_policy_free(&p);
}

static void test_map_keys(void)
{
	struct kg_policy p;
	struct kg_compiled c;
	struct kg_topic_key tk;
	struct kg_name_key nk;
	struct kg_cidr4_key k4;
	struct kg_cidr6_key k6;
	int seen = 0;

	kg_policy_init(&p);
	REGION(&p, "eu", "10.1.2.3/8 2001:db8::1/32", 2);
	R(&p, "t=ab,ab* p=alice c=cli");
	if (compile_ok(&p, &c))
		return;
	kg_topic_key_fill(&c.patterns[0], 1, &tk);
	CU_ASSERT_EQUAL(tk.prefixlen, 8);
	CU_ASSERT_EQUAL(tk.data[0], 1);
	for (__u32 k = 1; k < c.npatterns; k++) {
		kg_topic_key_fill(&c.patterns[k], 1, &tk);
		CU_ASSERT_TRUE(!memcmp(tk.data, "\x01" "ab\0\0", 5));
		CU_ASSERT_EQUAL(tk.prefixlen, c.patterns[k].exact ? 32 : 24);
		seen |= 1 << c.patterns[k].exact;
	}
	CU_ASSERT_EQUAL(seen, 3);
	for (__u32 i = 0; i < c.nnames; i++) {
		kg_name_key_fill(&c.names[i], 0, &nk);
		CU_ASSERT_EQUAL(nk.len, strlen(c.names[i].name));
		CU_ASSERT_EQUAL(nk.kind, c.names[i].kind);
		CU_ASSERT_TRUE(!memcmp(nk.name, c.names[i].name, nk.len));
		CU_ASSERT_EQUAL(nk.name[nk.len], 0);
	}
	CU_ASSERT_EQUAL(c.nnames, 3); /* ANONYMOUS, alice, cli */
	CU_ASSERT_EQUAL(c.nregion_cidrs, 2);
	for (__u32 i = 0; i < c.nregion_cidrs; i++) {
		const struct kg_ccidr *e = &c.region_cidrs[i];

		if (e->family == 4) {
			kg_cidr4_key_fill(e, 1, &k4);
			CU_ASSERT_EQUAL(k4.prefixlen, 16);
			CU_ASSERT_TRUE(!memcmp(k4.addr, "\x0a\0\0\0", 4)); /* host bits cleared */
		} else {
			kg_cidr6_key_fill(e, 1, &k6);
			CU_ASSERT_EQUAL(k6.prefixlen, 40);
			CU_ASSERT_EQUAL(k6.addr[15], 0);
		}
	}
	kg_compiled_free(&c);
	kg_policy_free(&p);
}

/* ---- errors ----------------------------------------------------------------------------- */

/* Compiling must fail with err starting "want_pos: " and containing what. */
static void expect_error(const struct kg_policy *p, const char *want_pos, const char *what)
{
	struct kg_compiled c;
	char err[512], prefix[32];
	int rc = kg_compile(p, &c, err, sizeof(err));

	snprintf(prefix, sizeof(prefix), "%s: ", want_pos);
	if (rc != -1 || strncmp(err, prefix, strlen(prefix)) || !strstr(err, what))
		fprintf(stderr, "\nwant error \"%s...%s...\", got %d \"%s\"\n", prefix, what, rc,
			rc ? err : "");
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_TRUE(!strncmp(err, prefix, strlen(prefix)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, what));
	CU_ASSERT_EQUAL(c.nrules, 0); /* emptied */
	kg_compiled_free(&c);
}

static void test_errors(void)
{
	static const char *const bad_topics[] = { "",    "a*b", "**",   "a b",  "ab/c",
						  "\xc3\xa9",   ".",   "..",   "*a*",  "a\tb" };
	struct kg_policy p;
	struct kg_compiled c;
	char long_name[260];
	struct kg_prule *r;

	kg_policy_init(&p);
	REGION(&p, "eu", "10.0.0.0/8", 2);
	R(&p, "r=eu");
	R(&p, "r=mars @7:9");
	expect_error(&p, "7:9", "unknown region \"mars\"");
	kg_policy_free(&p);

	kg_policy_init(&p);
	REGION(&p, "eu", "10.0.0.0/8", 2);
	r = R(&p, "nr=eu,venus @7:9");
	/* An item's own position, where the loader has it. */
	r->regions_not_pos = calloc(2, sizeof(struct kg_pos));
	r->regions_not_pos[1] = (struct kg_pos){ 8, 14 };
	expect_error(&p, "8:14", "unknown region \"venus\"");
	kg_policy_free(&p);

	for (unsigned int i = 0; i < sizeof(bad_topics) / sizeof(bad_topics[0]); i++) {
		kg_policy_init(&p);
		R(&p, "t=ok");
		r = R(&p, "@12:4");
		kg_strv_push(&r->topics, &r->ntopics, "fine.*");
		kg_strv_push(&r->topics, &r->ntopics, bad_topics[i]);
		expect_error(&p, "12:4", "topic pattern");
		kg_policy_free(&p);
	}

	/* 249 bytes is Kafka's limit, for a name and for a prefix; 250 is refused. */
	memset(long_name, 'x', sizeof(long_name));
	long_name[KD_TOPIC_MAX] = '\0';
	kg_policy_init(&p);
	r = R(&p, "");
	kg_strv_push(&r->topics, &r->ntopics, long_name);
	long_name[KD_TOPIC_MAX] = '*';
	long_name[KD_TOPIC_MAX + 1] = '\0';
	kg_strv_push(&r->topics, &r->ntopics, long_name);
	if (!compile_ok(&p, &c)) {
		expect(&p, &c, "u", NULL, NULL, "produce", "xx", "allow", -1);
		long_name[KD_TOPIC_MAX] = '\0';
		expect(&p, &c, "u", NULL, NULL, "produce", long_name, "allow", 0);
		kg_compiled_free(&c);
	}
	long_name[KD_TOPIC_MAX] = 'x';
	long_name[KD_TOPIC_MAX + 1] = '\0';
	r = R(&p, "@20:1");
	kg_strv_push(&r->topics, &r->ntopics, long_name);
	expect_error(&p, "20:1", "longer than 249");
	kg_policy_free(&p);

	/* The same CIDR (host bits aside) in two regions, in two identities. */
	kg_policy_init(&p);
	REGION(&p, "eu", "10.0.0.0/8 10.0.0.0/8", 3); /* twice in one region: harmless */
	REGION(&p, "us", "11.0.0.0/8 10.0.0.1/8", 5);
	expect_error(&p, "5:3", "10.0.0.0/8 is in region \"us\" and in region \"eu\" (3:3)");
	kg_policy_free(&p);

	kg_policy_init(&p);
	IDENTITY(&p, "alice", "2001:db8::/64", 8);
	IDENTITY(&p, "alice", "2001:db8::/64", 9); /* same principal: harmless */
	IDENTITY(&p, "bob", "2001:db8::/64", 10);
	expect_error(&p, "10:3",
		     "2001:db8::/64 is bound to principal \"bob\" and to \"alice\" (8:3)");
	kg_policy_free(&p);

	/* A CIDR's own position, where the loader has it. */
	kg_policy_init(&p);
	REGION(&p, "eu", "10.0.0.0/8", 3);
	REGION(&p, "us", "", 5);
	kg_cidrs_push(&p.regions[1].cidrs, &p.regions[1].ncidrs, "10.0.0.0/8", 6, 7);
	expect_error(&p, "6:7", "in region \"us\"");
	kg_policy_free(&p);

	kg_policy_init(&p);
	R(&p, "@4:4");
	p.rules[0].ops = 0x80;
	expect_error(&p, "4:4", "unknown operation bits 0x80");
	p.rules[0].ops = 0;
	p.rules[0].action = KG_ACT__COUNT;
	expect_error(&p, "4:4", "unknown action");
	p.rules[0].action = 0;
	r = R(&p, "@6:6");
	kg_strv_push(&r->principals, &r->nprincipals,
		     "a-principal-name-longer-than-sixty-four-bytes-which-no-key-can-hold");
	expect_error(&p, "6:6", "principal");
	kg_policy_free(&p);

	kg_policy_init(&p);
	p.pos = (struct kg_pos){ 1, 1 };
	p.audit_allow = 256;
	expect_error(&p, "1:1", "audit_allow");
	p.audit_allow = 10;
	p.budget = KG_BUDGET_MIN - 1;
	expect_error(&p, "1:1", "audit.budget 1: from 2 to 1000000 records per second, or off");
	p.budget = KG_FLOW_BUDGET;
	p.fold_window_ms = KG_FOLD_WINDOW_MAX_MS + 1;
	expect_error(&p, "1:1", "audit.fold 3600001 ms");
	p.fold_window_ms = KG_FOLD_WINDOW_MS;
	p.default_action = 9;
	expect_error(&p, "1:1", "default: unknown action");
	p.default_action = 0;
	p.nlisteners = 2;
	p.listeners[0] = (struct kg_plistener){
		.port = 9092, .on_undecodable = KG_ACT_RESET, .pos = { 3, 5 } };
	p.listeners[1] = (struct kg_plistener){
		.port = 9092, .on_undecodable = KG_ACT_RESET, .pos = { 4, 5 } };
	expect_error(&p, "4:5", "listener port 9092 listed twice");
	p.listeners[1].port = 9093;
	if (!compile_ok(&p, &c)) {
		CU_ASSERT_EQUAL(c.config.listeners[1], 9093);
		CU_ASSERT_EQUAL(c.config.on_undecodable[0], KG_ACT_RESET);
		CU_ASSERT_EQUAL(c.config.audit_allow, 10);
		kg_compiled_free(&c);
	}
	kg_policy_free(&p);
}

static void test_limits(void)
{
	struct kg_policy p;
	struct kg_compiled c;
	char name[64];
	struct kg_prule *r;

	/* Rules. */
	kg_policy_init(&p);
	for (int i = 0; i <= KG_MAX_RULES; i++)
		kg_policy_add_rule(&p, "r", i + 1, 2);
	expect_error(&p, "131073:2", "more than 131072 rules");
	kg_policy_free(&p);

	/* Patterns: one trie entry and class go to the empty prefix. */
	kg_policy_init(&p);
	r = R(&p, "");
	for (int i = 0; i < KG_MAX_PATTERNS - 1; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		kg_strv_push(&r->topics, &r->ntopics, name);
	}
	if (!compile_ok(&p, &c)) {
		CU_ASSERT_EQUAL(c.npatterns, KG_MAX_PATTERNS);
		kg_compiled_free(&c);
	}
	R(&p, "t=one.more @9:9");
	expect_error(&p, "9:9", "more than 131071 distinct patterns");
	/* topics: none takes a class slot of its own (and two trie entries) */
	free(p.rules[1].topics[0]);
	p.rules[1].ntopics = 0;
	p.rules[1].topics_none = true;
	expect_error(&p, "100:3", "more than 131070 distinct patterns");
	r = &p.rules[0];
	free(r->topics[--r->ntopics]);
	if (!compile_ok(&p, &c)) {
		CU_ASSERT_EQUAL(c.npatterns, KG_MAX_PATTERNS + 1);
		CU_ASSERT_EQUAL(c.nclasses, KG_MAX_PATTERNS);
		CU_ASSERT_EQUAL(c.topicless_class, KG_MAX_PATTERNS - 1);
		kg_compiled_free(&c);
	}
	kg_policy_free(&p);

	/* Principals: 254 named (identities and rules together) besides ANONYMOUS. */
	kg_policy_init(&p);
	IDENTITY(&p, "ANONYMOUS", "10.0.0.0/8", 1); /* ANONYMOUS takes no id of its own */
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "id%d", i);
		IDENTITY(&p, name, "", 2 + i);
	}
	for (int i = 0; i < 154; i++) {
		snprintf(name, sizeof(name), "t=x%d p=u%d,ANONYMOUS", i, i);
		R(&p, name);
	}
	if (!compile_ok(&p, &c)) {
		CU_ASSERT_EQUAL(kg_compiled_principal_id(&c, "u153"), 254);
		kg_compiled_free(&c);
	}
	R(&p, "p=u0,one-too-many @50:6");
	expect_error(&p, "50:6", "more than 254 principals");
	kg_policy_free(&p);

	/* Regions: 63, the 64th id is "no region". */
	kg_policy_init(&p);
	for (int i = 0; i < KG_MAX_REGIONS - 1; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		REGION(&p, name, "", i + 1);
	}
	R(&p, "r=g62");
	if (!compile_ok(&p, &c)) {
		CU_ASSERT_EQUAL(region_id(&c, "g62"), 62);
		kg_compiled_free(&c);
	}
	REGION(&p, "g63", "", 77);
	expect_error(&p, "77:3", "more than 63 regions");
	kg_policy_free(&p);

	kg_policy_init(&p);
	REGION(&p, "eu", "", 3);
	REGION(&p, "eu", "", 4);
	expect_error(&p, "4:3", "region \"eu\" defined twice");
	kg_policy_free(&p);

	/* Client ids: 63, the 64th id is every other. */
	kg_policy_init(&p);
	for (int i = 0; i < KG_MAX_CLIENT_IDS - 1; i++) {
		snprintf(name, sizeof(name), "t=x%d c=c%d", i, i);
		R(&p, name);
	}
	if (!compile_ok(&p, &c))
		kg_compiled_free(&c);
	R(&p, "c=c1,c63 @88:8");
	expect_error(&p, "88:8", "more than 63 client ids");
	kg_policy_free(&p);

	/* CIDRs, for regions and for identities each. */
	for (int ident = 0; ident < 2; ident++) {
		struct kg_cidr **v;
		int *n;

		kg_policy_init(&p);
		if (ident) {
			IDENTITY(&p, "alice", "", 2);
			v = &p.identities[0].cidrs, n = &p.identities[0].ncidrs;
		} else {
			REGION(&p, "eu", "", 2);
			v = &p.regions[0].cidrs, n = &p.regions[0].ncidrs;
		}
		for (int i = 0; i < KG_MAX_CIDRS; i++) {
			snprintf(name, sizeof(name), "10.%d.%d.0/24", i / 256, i % 256);
			kg_cidrs_push(v, n, name, 1000 + i, 5);
		}
		if (!compile_ok(&p, &c))
			kg_compiled_free(&c);
		kg_cidrs_push(v, n, "11.0.0.0/8", 30000, 5);
		expect_error(&p, "30000:5", "more than 16384 CIDRs");
		kg_policy_free(&p);
	}
}

static void test_candidate_limit(void)
{
	struct kg_policy p;
	struct kg_compiled c;
	char spec[64];

	/* KG_MAX_CANDIDATES rules on one prefix fit; one more is refused at that rule. */
	kg_policy_init(&p);
	for (int i = 0; i < KG_MAX_CANDIDATES; i++) {
		snprintf(spec, sizeof(spec), "t=orders.* p=u%d", i);
		R(&p, spec);
	}
	R(&p, "t=other p=u0");
	if (!compile_ok(&p, &c)) {
		CU_ASSERT_EQUAL(c.classes[kg_compiled_class_of(&c, "orders.x")].n,
				KG_MAX_CANDIDATES);
		kg_compiled_free(&c);
	}
	R(&p, "t=orders.eu* p=v @60:2");
	expect_error(&p, "60:2", "topic class \"orders.eu*\" would have more than 32 candidate");
	kg_policy_free(&p);

	/* Candidates add up along nested prefixes; a never-matching rule does not count. */
	kg_policy_init(&p);
	REGION(&p, "eu", "10.0.0.0/8", 1);
	for (int i = 0; i < 20; i++) {
		snprintf(spec, sizeof(spec), "t=a* p=u%d", i);
		R(&p, spec);
	}
	R(&p, "t=ab r=eu nr=eu");
	for (int i = 0; i < 12; i++) {
		snprintf(spec, sizeof(spec), "t=ab p=v%d", i);
		R(&p, spec);
	}
	if (!compile_ok(&p, &c))
		kg_compiled_free(&c);
	R(&p, "t=abc* p=w @70:2"); /* a longer prefix: other class, fits */
	if (!compile_ok(&p, &c))
		kg_compiled_free(&c);
	R(&p, "t=* p=w @71:2"); /* any topic: the 33rd candidate of "ab" */
	expect_error(&p, "71:2", "topic class \"ab\"");
	kg_policy_free(&p);

	/* The catch-all class counts too. */
	kg_policy_init(&p);
	for (int i = 0; i <= KG_MAX_CANDIDATES; i++) {
		snprintf(spec, sizeof(spec), "p=u%d @%d:1", i, 200 + i);
		R(&p, spec);
	}
	expect_error(&p, "232:1", "topic class of topics no pattern names");
	kg_policy_free(&p);
}

/* ---- randomized differential ----------------------------------------------------------- */

struct rng {
	__u64 s;
};

static __u64 rnd(struct rng *g)
{
	/* xorshift64*: reproducible from the printed seed whatever the libc. */
	g->s ^= g->s >> 12;
	g->s ^= g->s << 25;
	g->s ^= g->s >> 27;
	return g->s * 2685821657736338717ull;
}

static unsigned int below(struct rng *g, unsigned int n)
{
	return (unsigned int)(rnd(g) % n);
}

static const char *const PRINCIPALS[] = { "alice", "bob", "carol", "ANONYMOUS", "dave" };
static const char *const CLIENTS[] = { "c1", "c2", "" };

/* A CIDR from a small nested space, so that longest prefix has work to do. */
static void random_cidr(struct rng *g, char *buf, size_t size)
{
	static const int p4[] = { 8, 16, 24, 32 }, p6[] = { 32, 48, 64, 128 };

	if (below(g, 3))
		snprintf(buf, size, "10.%u.%u.%u/%d", below(g, 3), below(g, 3), below(g, 3),
			 p4[below(g, 4)]);
	else
		snprintf(buf, size, "2001:db8:%x:%x::%x/%d", below(g, 3), below(g, 3), below(g, 2),
			 p6[below(g, 4)]);
}

static void random_addr(struct rng *g, __u8 *family, __u8 *a)
{
	memset(a, 0, 16);
	if (below(g, 3)) {
		*family = 4;
		a[0] = below(g, 8) ? 10 : 11;
		a[1] = below(g, 4), a[2] = below(g, 4), a[3] = below(g, 4);
	} else {
		*family = 6;
		a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8;
		a[5] = below(g, 4), a[7] = below(g, 4), a[9] = below(g, 2);
		a[15] = below(g, 2);
	}
}

static bool same_network(const struct kg_cidr *a, const struct kg_cidr *b)
{
	if (a->family != b->family || a->prefix != b->prefix)
		return false;
	for (int i = 0; i < a->prefix; i++)
		if ((a->addr[i / 8] ^ b->addr[i / 8]) & (0x80 >> (i % 8)))
			return false;
	return true;
}

/* Adds a random CIDR unless a region or identity already has it (the compiler refuses). */
static void add_unique_cidr(struct rng *g, struct kg_policy *p, struct kg_cidr **v, int *n)
{
	char text[64];
	struct kg_cidr c;

	random_cidr(g, text, sizeof(text));
	kg_cidr_parse(text, &c);
	for (int i = 0; i < p->nregions; i++)
		for (int j = 0; j < p->regions[i].ncidrs; j++)
			if (same_network(&p->regions[i].cidrs[j], &c))
				return;
	for (int i = 0; i < p->nidentities; i++)
		for (int j = 0; j < p->identities[i].ncidrs; j++)
			if (same_network(&p->identities[i].cidrs[j], &c))
				return;
	kg_cidrs_push(v, n, text, 0, 0);
}

static void random_name(struct rng *g, char *buf, int minlen, int maxlen)
{
	int n = minlen + (int)below(g, maxlen - minlen + 1);

	for (int i = 0; i < n; i++)
		buf[i] = "abc"[below(g, 8) ? below(g, 2) : 2];
	buf[n] = '\0';
}

static void random_policy(struct rng *g, struct kg_policy *p)
{
	int nreg = below(g, 5), nrules = 1 + below(g, 24);
	char name[32];

	kg_policy_init(p);
	p->default_action = below(g, KG_ACT__COUNT);
	for (int i = 0; i < nreg; i++) {
		struct kg_pregion *r;

		snprintf(name, sizeof(name), "g%d", i);
		r = kg_policy_add_region(p, name, 1, 1);
		for (int k = 1 + below(g, 3); k > 0; k--)
			add_unique_cidr(g, p, &r->cidrs, &r->ncidrs);
	}
	for (int i = below(g, 3); i > 0; i--) {
		struct kg_pidentity *d = kg_policy_add_identity(p, PRINCIPALS[below(g, 3)], 1, 1);

		for (int k = 1 + below(g, 2); k > 0; k--)
			add_unique_cidr(g, p, &d->cidrs, &d->ncidrs);
	}
	for (int i = 0; i < nrules; i++) {
		struct kg_prule *r = kg_policy_add_rule(p, "rnd", 10 + i, 1);

		if (below(g, 4))
			for (int k = 1 + below(g, 3); k > 0; k--) {
				if (!below(g, 12)) {
					kg_strv_push(&r->topics, &r->ntopics, "*");
					continue;
				}
				random_name(g, name, 1, 3);
				if (below(g, 2))
					strcat(name, "*");
				kg_strv_push(&r->topics, &r->ntopics, name);
			}
		else if (!below(g, 3))
			r->topics_none = true;
		if (below(g, 2))
			for (int k = 1 + below(g, 2); k > 0; k--)
				kg_strv_push(&r->principals, &r->nprincipals,
					     PRINCIPALS[below(g, 5)]);
		if (!below(g, 3))
			for (int k = 1 + below(g, 2); k > 0; k--)
				kg_strv_push(&r->client_ids, &r->nclient_ids, CLIENTS[below(g, 3)]);
		if (below(g, 2))
			r->ops = 1 + below(g, (1u << KG_OP__COUNT) - 1);
		if (nreg && !below(g, 4))
			for (int k = 1 + below(g, 2); k > 0; k--) {
				snprintf(name, sizeof(name), "g%u", below(g, nreg));
				kg_strv_push(&r->regions, &r->nregions, name);
			}
		if (nreg && !below(g, 4))
			for (int k = 1 + below(g, 2); k > 0; k--) {
				snprintf(name, sizeof(name), "g%u", below(g, nreg));
				kg_strv_push(&r->regions_not, &r->nregions_not, name);
			}
		r->action = below(g, KG_ACT__COUNT);
		r->audit = !below(g, 8);
	}
}

static void dump_policy(const struct kg_policy *p)
{
	fprintf(stderr, "policy: default %u\n", p->default_action);
	for (int i = 0; i < p->nregions; i++) {
		char a[INET6_ADDRSTRLEN];

		fprintf(stderr, "  region %s:", p->regions[i].name);
		for (int j = 0; j < p->regions[i].ncidrs; j++) {
			const struct kg_cidr *c = &p->regions[i].cidrs[j];

			inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, a, sizeof(a));
			fprintf(stderr, " %s/%u", a, c->prefix);
		}
		fprintf(stderr, "\n");
	}
	for (int i = 0; i < p->nidentities; i++)
		fprintf(stderr, "  identity %s (%d cidrs)\n", p->identities[i].principal,
			p->identities[i].ncidrs);
	for (int i = 0; i < p->nrules; i++) {
		const struct kg_prule *r = &p->rules[i];
		struct {
			const char *k;
			char **v;
			int n;
		} lists[] = { { "t", r->topics, r->ntopics },
			      { "p", r->principals, r->nprincipals },
			      { "c", r->client_ids, r->nclient_ids },
			      { "r", r->regions, r->nregions },
			      { "nr", r->regions_not, r->nregions_not } };

		fprintf(stderr, "  %2d:", i);
		for (unsigned int l = 0; l < 5; l++) {
			if (!lists[l].n)
				continue;
			fprintf(stderr, " %s=", lists[l].k);
			for (int j = 0; j < lists[l].n; j++)
				fprintf(stderr, "%s'%s'", j ? "," : "", lists[l].v[j]);
		}
		fprintf(stderr, " o=0x%02x a=%u\n", r->ops, r->action);
	}
}

/*
 * The candidate list of a class read straight from its definition: the rules, in file
 * order, that can match and whose patterns match the class's topics, up to and including
 * the first whose other dimensions are all "any". The empty prefix (cls == NULL) is the
 * class of requests naming no topic, a catch-all entry that of topics no pattern names.
 * O(rules x patterns): small policies only.
 */
static int brute_class(const struct kg_policy *p, const struct kg_cpattern *cls, int *out)
{
	int n = 0;

	for (int i = 0; i < p->nrules; i++) {
		const struct kg_prule *r = &p->rules[i];
		bool covers = !r->ntopics && (!r->topics_none || !cls), never = r->nregions > 0;
		bool allany;

		for (int j = 0; j < r->nregions; j++) {
			bool negated = false;

			for (int k = 0; k < r->nregions_not; k++)
				negated |= !strcmp(r->regions[j], r->regions_not[k]);
			never &= negated;
		}
		if (never)
			continue;
		for (int j = 0; j < r->ntopics && !covers; j++) {
			const char *t = r->topics[j];
			size_t len = strlen(t);

			if (!strcmp(t, "*"))
				covers = true;
			else if (!cls || cls->catchall)
				covers = false;
			else if (t[len - 1] == '*')
				covers = len - 1 <= cls->len && !memcmp(t, cls->name, len - 1);
			else
				covers = cls->exact && len == cls->len &&
					 !memcmp(t, cls->name, len);
		}
		if (!covers)
			continue;
		out[n++] = i;
		allany = !r->nprincipals && !r->nclient_ids && !r->nregions && !r->nregions_not &&
			 (!r->ops || r->ops == (1u << KG_OP__COUNT) - 1);
		if (allany)
			break;
	}
	return n;
}

static __u64 seed_from_env(void)
{
	const char *s = getenv("KGATE_SEED");

	if (s && *s)
		return strtoull(s, NULL, 0);
	return ((__u64)time(NULL) << 20) ^ (__u64)getpid();
}

#define DIFF_POLICIES 2000
#define DIFF_REQUESTS 20 /* per policy: 40,000 (policy, request) pairs */

static void test_differential(void)
{
	static const char *const req_principals[] = { "alice", "bob",     "carol", "ANONYMOUS",
						      "dave",  "mallory", NULL };
	static const char *const req_clients[] = { NULL, "c1", "c2", "", "zz" };
	__u64 seed = seed_from_env();
	struct rng g = { seed ? seed : 1 };
	long pairs = 0, by_rule = 0, by_default = 0, topicless = 0, by_none = 0;
	long all_topics = 0, all_by_rule = 0, syn_rule = 0;
	int failures = 0;

	fprintf(stderr, "\n  policy differential: seed %llu (replay: KGATE_SEED=%llu)\n",
		(unsigned long long)seed, (unsigned long long)seed);
	for (int it = 0; it < DIFF_POLICIES && failures < 5; it++) {
		struct kg_policy p;
		struct kg_compiled c;
		char err[512];

		random_policy(&g, &p);
		if (kg_compile(&p, &c, err, sizeof(err))) {
			fprintf(stderr, "policy %d does not compile: %s\n", it, err);
			dump_policy(&p);
			CU_FAIL("random policy refused");
			failures++;
			kg_policy_free(&p);
			continue;
		}
		for (__u32 k = 0; k < c.npatterns; k++) {
			const struct kg_class *cl = &c.classes[c.patterns[k].class_id];
			int want[64], n = brute_class(&p, k ? &c.patterns[k] : NULL, want);
			bool same = (int)cl->n == n;

			for (int i = 0; same && i < n; i++)
				same = (int)cl->rules[i] == want[i];
			if (!same) {
				fprintf(stderr,
					"policy %d: class \"%.*s%s\" lists %u rules, want %d\n", it,
					c.patterns[k].len, c.patterns[k].name,
					c.patterns[k].exact ? "" : "*", cl->n, n);
				dump_policy(&p);
				CU_FAIL("class list differs from its definition");
				failures++;
			}
		}
		for (int q = 0; q < DIFF_REQUESTS; q++) {
			char name[16], *topic = name;
			__u8 family, addr[16], op = below(&g, KG_OP__COUNT);
			const char *principal = req_principals[below(&g, 7)];
			const char *client = req_clients[below(&g, 5)];
			const char *ref_region, *ref_principal;
			__u8 region_id, client_cid;
			__u16 principal_id;
			int ref, ref_rule;
			__u32 got_rule;
			int got;

			unsigned int kind = below(&g, 10);
			__u32 syn_got;
			int syn_ref;

			random_name(&g, name, 1, 4);
			/*
			 * one request in five names no topic (InitProducerId, FindCoordinator...),
			 * one in ten is about all topics (Metadata with a null list...)
			 */
			if (kind < 2) {
				topic = NULL;
				topicless++;
			} else if (kind == 2) {
				topic = (char *)KG_ALL_TOPICS;
				all_topics++;
			}
			random_addr(&g, &family, addr);
			ref_region = kg_ref_region_of(&p, family, addr);
			region_id = kg_compiled_region_of(&c, family, addr);
			if (below(&g, 3)) {
				principal_id = kg_compiled_principal_id(&c, principal);
				ref_principal = principal;
			} else {
				/* No SASL: the identity CIDRs say who it is. */
				principal_id = kg_compiled_identity_of(&c, family, addr);
				ref_principal = kg_ref_principal_of(&p, family, addr);
				CU_ASSERT_STRING_EQUAL(c.principal_names[principal_id],
						       ref_principal);
			}
			CU_ASSERT_TRUE(ref_region ? !strcmp(c.region_names[region_id], ref_region)
						  : region_id == KG_REGION_NONE);
			client_cid = kg_compiled_client_id(&c, client);
			ref = kg_ref_decide(&p, ref_principal, ref_region, client, op, topic,
					    &ref_rule);
			/* all topics: class 0, as the datapath's kg_first_match(f, gen, 0, op, 0) */
			if (topic == KG_ALL_TOPICS)
				got = kg_compiled_decide_class(&c, 0, principal_id, region_id,
							       client_cid, op, &got_rule);
			else
				got = kg_compiled_decide(&c, principal_id, region_id, client_cid, op,
							 topic, &got_rule);
			pairs++;
			ref_rule < 0 ? by_default++ : by_rule++;
			by_none += ref_rule >= 0 && p.rules[ref_rule].topics_none;
			if (topic == KG_ALL_TOPICS && ref_rule >= 0) {
				const struct kg_prule *r = &p.rules[ref_rule];
				bool any = !r->ntopics;

				for (int j = 0; j < r->ntopics; j++)
					any |= !strcmp(r->topics[j], "*");
				all_by_rule++;
				/* only a rule whose topic is "any" decides all topics */
				CU_ASSERT_TRUE(any && !r->topics_none);
			}
			/* the connection's start: the identity's principal, before any request */
			syn_ref = kg_ref_syn_decide(&p, kg_ref_principal_of(&p, family, addr),
						    ref_region);
			syn_got = kg_compiled_syn_decide(
				&c, kg_compiled_identity_of(&c, family, addr), region_id);
			syn_rule += syn_ref >= 0;
			if ((int)syn_got != syn_ref) {
				fprintf(stderr, "policy %d: at SYN, reference %d, compiled %d\n", it,
					syn_ref, (int)syn_got);
				dump_policy(&p);
				CU_FAIL("compiled SYN decision differs from the reference");
				failures++;
			}
			if (got != ref || (int)got_rule != ref_rule) {
				fprintf(stderr,
					"policy %d: principal %s region %s client %s op %u "
					"topic %s: reference %d by %d, compiled %d by %d\n",
					it, ref_principal ? ref_principal : "(null)",
					ref_region ? ref_region : "(none)",
					client ? client : "(null)", op, topic ? topic : "(none)", ref,
					ref_rule, got,
					(int)got_rule);
				dump_policy(&p);
				CU_FAIL("compiled decision differs from the reference");
				failures++;
				break;
			}
		}
		kg_compiled_free(&c);
		kg_policy_free(&p);
	}
	fprintf(stderr,
		"  %ld pairs: %ld decided by a rule, %ld by default; %ld name no topic, %ld of "
		"them decided by a topics: none rule; %ld about all topics, %ld of them decided "
		"by a rule; %ld connections decided at SYN by a rule\n",
		pairs, by_rule, by_default, topicless, by_none, all_topics, all_by_rule, syn_rule);
	CU_ASSERT_TRUE(pairs >= 10000 || failures);
	/* Both outcomes must be common, or the comparison proves little. */
	CU_ASSERT_TRUE(by_rule > pairs / 5 && by_default > pairs / 20);
	CU_ASSERT_TRUE(topicless > pairs / 10 && by_none > topicless / 20);
	CU_ASSERT_TRUE(all_topics > pairs / 20 && all_by_rule > all_topics / 20 &&
		       all_by_rule < all_topics);
	CU_ASSERT_TRUE(syn_rule > pairs / 50);
}

/* ---- scale ------------------------------------------------------------------------------- */

/*
 * n random rules shaped like a large deployment: services with prefixes, sub-prefixes
 * and exact topics, 200 principals, 40 client ids, 8 regions, a catch-all last.
 */
static void big_policy(struct rng *g, struct kg_policy *p, int n)
{
	char buf[64];
	int services = n / 8 + 1;

	kg_policy_init(p);
	p->default_action = KG_ACT_REJECT;
	for (int i = 0; i < 8; i++) {
		struct kg_pregion *r;

		snprintf(buf, sizeof(buf), "region%d", i);
		r = kg_policy_add_region(p, buf, 1, 1);
		snprintf(buf, sizeof(buf), "10.%d.0.0/16", i);
		kg_cidrs_push(&r->cidrs, &r->ncidrs, buf, 1, 1);
		snprintf(buf, sizeof(buf), "fd00:%x::/32", i);
		kg_cidrs_push(&r->cidrs, &r->ncidrs, buf, 1, 1);
	}
	for (int i = 0; i < 50; i++) {
		struct kg_pidentity *d;

		snprintf(buf, sizeof(buf), "user%d", i);
		d = kg_policy_add_identity(p, buf, 2, 1);
		snprintf(buf, sizeof(buf), "10.%d.1.%d/32", i % 8, i);
		kg_cidrs_push(&d->cidrs, &d->ncidrs, buf, 2, 1);
	}
	for (int i = 0; i < n - 1; i++) {
		struct kg_prule *r = kg_policy_add_rule(p, "big", 10 + i, 1);

		for (int k = below(g, 4) ? 1 : 2; k > 0; k--) {
			unsigned int s = below(g, services), kind = below(g, 10);

			if (kind == 0)
				snprintf(buf, sizeof(buf), "svc%u.*", s);
			else if (kind <= 2)
				snprintf(buf, sizeof(buf), "svc%u.t%u*", s, below(g, 4));
			else
				snprintf(buf, sizeof(buf), "svc%u.t%u.p%u", s, below(g, 4),
					 below(g, 5));
			kg_strv_push(&r->topics, &r->ntopics, buf);
		}
		if (below(g, 3))
			for (int k = 1 + below(g, 3); k > 0; k--) {
				snprintf(buf, sizeof(buf), "user%u", below(g, 200));
				kg_strv_push(&r->principals, &r->nprincipals, buf);
			}
		if (!below(g, 5)) {
			snprintf(buf, sizeof(buf), "client%u", below(g, 40));
			kg_strv_push(&r->client_ids, &r->nclient_ids, buf);
		}
		if (below(g, 2))
			r->ops = 1 + below(g, (1u << KG_OP__COUNT) - 1);
		if (!below(g, 4)) {
			snprintf(buf, sizeof(buf), "region%u", below(g, 8));
			kg_strv_push(&r->regions, &r->nregions, buf);
		}
		if (!below(g, 8)) {
			snprintf(buf, sizeof(buf), "region%u", below(g, 8));
			kg_strv_push(&r->regions_not, &r->nregions_not, buf);
		}
		r->action = below(g, KG_ACT__COUNT);
	}
	R(p, "t=* o=describe a=allow");
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_scale(void)
{
	static const int sizes[] = { 10000, 100000 };
	struct rng g = { 0x6b67617465ull };

	for (unsigned int s = 0; s < 2; s++) {
		struct kg_policy p;
		struct kg_compiled c;
		char err[512];
		double t0, ms;
		int rc, mismatches = 0;

		big_policy(&g, &p, sizes[s]);
		t0 = now_ms();
		rc = kg_compile(&p, &c, err, sizeof(err));
		ms = now_ms() - t0;
		CU_ASSERT_EQUAL(rc, 0);
		if (rc) {
			fprintf(stderr, "\n%d rules: %s\n", sizes[s], err);
			kg_policy_free(&p);
			return;
		}
		fprintf(stderr, "\n  compile %d rules: %.1f ms (%u patterns, %u names)", sizes[s],
			ms, c.npatterns, c.nnames);
		/* Orders of magnitude from the O(rules x patterns) the walk avoids. */
		CU_ASSERT_TRUE(ms < 20000);

		for (int q = 0; q < 200; q++) {
			char topic[64], principal[16], client[16];
			unsigned int svc = below(&g, sizes[s] / 8 + 1);
			__u8 op = below(&g, KG_OP__COUNT), region = below(&g, 9);
			const char *rname = region < 8 ? c.region_names[region] : NULL;
			int ref, ref_rule;
			__u32 got_rule;
			int got;

			snprintf(topic, sizeof(topic), "svc%u.t%u%s", svc, below(&g, 5),
				 below(&g, 2) ? ".p1" : "");
			snprintf(principal, sizeof(principal), "user%u", below(&g, 220));
			snprintf(client, sizeof(client), "client%u", below(&g, 45));
			ref = kg_ref_decide(&p, principal, rname, client, op, topic, &ref_rule);
			got = kg_compiled_decide(&c, kg_compiled_principal_id(&c, principal),
						 region < 8 ? region : KG_REGION_NONE,
						 kg_compiled_client_id(&c, client), op, topic,
						 &got_rule);
			mismatches += got != ref || (int)got_rule != ref_rule;
		}
		CU_ASSERT_EQUAL(mismatches, 0);
		kg_compiled_free(&c);
		kg_policy_free(&p);
	}
	fprintf(stderr, "\n");
}

int register_policy_tests(void)
{
	static const struct cu_test tests[] = {
		{"exact name vs prefix", test_exact_vs_prefix},
		{"nested prefixes in every order", test_nested_prefixes_every_order},
		{"class candidate lists", test_class_lists},
		{"topic wildcards", test_topic_wildcards},
		{"requests that name no topic, topics: none", test_topicless_requests},
		{"negated regions, source in no region", test_negated_regions},
		{"principal, client.id and operation", test_principal_client_op},
		{"default action", test_default_action},
		{"pruning after an all-any rule", test_pruning},
		{"map keys", test_map_keys},
		{"compile errors carry LINE:COL", test_errors},
		{"limits", test_limits},
		{"candidate limit", test_candidate_limit},
		{"randomized differential vs reference", test_differential},
		{"10,000 and 100,000 rules", test_scale},
	};

	return CU_SUITE("policy", NULL, NULL, tests);
}
