// SPDX-License-Identifier: Apache-2.0
/*
 * The datapath against the agent's reference evaluator: random policies and requests,
 * every decision (verdict and rule) the same.
 */
#include <stdlib.h>
#include <time.h>
#include <arpa/inet.h>

#include "harness.h"

static unsigned int rnd_state;

static unsigned int rnd(unsigned int n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

static const char *const diff_patterns[] = { "a", "ab", "abc", "b", "b.x", "a*", "ab*",
					     "abc*", "b*", "b.*", "*", "c.d*" };

static const char *const diff_topics[] = { "a", "ab", "abc", "abcd", "b", "b.x", "b.y", "ba",
					   "c.d", "c.de", "zzz", "a.b" };

static const char *const diff_principals[] = { "svc-a", "svc-b", "svc-c", "ANONYMOUS",
					       "ghost" };

static const char *const diff_clients[] = { "app1", "app2", "cli" };

static const char *const diff_regions[] = { "eu", "us", "ap" };

struct diff_src {
	int family;
	const char *addr;
};

static const struct diff_src diff_sources[] = {
	{ 4, "10.10.0.5" },  { 4, "10.10.1.9" },  { 4, "10.20.0.3" }, { 4, "10.20.2.7" },
	{ 4, "10.30.0.8" },  { 4, "10.30.5.9" },  { 4, "10.40.0.1" }, { 6, "fd00:10::5" },
	{ 6, "fd00:10::1:5" }, { 6, "fd00:20::1" },
};

static void diff_policy(struct kg_policy *p)
{
	static const int acts[] = { KG_ACT_ALLOW, KG_ACT_ALLOW, KG_ACT_REJECT, KG_ACT_REJECT,
				    KG_ACT_RESET, KG_ACT_DROP };
	struct kg_pregion *r;
	struct kg_pidentity *id;
	int nrules = 1 + rnd(12);

	policy_start(p, "diff", rnd(2) ? KG_ACT_ALLOW : KG_ACT_REJECT);
	p->unknown_id_action = KG_ACT_REJECT;
	r = kg_policy_add_region(p, "eu", 1, 1);
	kg_cidrs_push(&r->cidrs, &r->ncidrs, "10.10.0.0/16", 1, 1);
	kg_cidrs_push(&r->cidrs, &r->ncidrs, "10.30.5.0/24", 1, 1); /* nested in ap's /16 */
	kg_cidrs_push(&r->cidrs, &r->ncidrs, "fd00:10::/32", 1, 1);
	r = kg_policy_add_region(p, "us", 2, 1);
	kg_cidrs_push(&r->cidrs, &r->ncidrs, "10.20.0.0/16", 2, 1);
	r = kg_policy_add_region(p, "ap", 3, 1);
	kg_cidrs_push(&r->cidrs, &r->ncidrs, "10.30.0.0/16", 3, 1);
	id = kg_policy_add_identity(p, "svc-a", 4, 1);
	kg_cidrs_push(&id->cidrs, &id->ncidrs, "10.10.1.0/24", 4, 1);
	id = kg_policy_add_identity(p, "svc-b", 5, 1);
	kg_cidrs_push(&id->cidrs, &id->ncidrs, "10.20.2.0/24", 5, 1);
	id = kg_policy_add_identity(p, "svc-c", 6, 1);
	kg_cidrs_push(&id->cidrs, &id->ncidrs, "fd00:10::1:0/112", 6, 1);
	for (int i = 0; i < nrules; i++) {
		char name[32];
		struct kg_prule *x;

		snprintf(name, sizeof(name), "r%d", i);
		x = kg_policy_add_rule(p, name, 10 + i, 1);
		if (rnd(4))
			for (int k = 1 + rnd(2); k > 0; k--)
				kg_strv_push(&x->topics, &x->ntopics,
					     diff_patterns[rnd(sizeof(diff_patterns) /
								sizeof(char *))]);
		if (!rnd(3))
			for (int k = 1 + rnd(2); k > 0; k--)
				kg_strv_push(&x->principals, &x->nprincipals,
					     diff_principals[rnd(5)]);
		if (!rnd(4))
			kg_strv_push(&x->client_ids, &x->nclient_ids, diff_clients[rnd(3)]);
		if (!rnd(3))
			x->ops = (1 + rnd(31)) & 0x1f;
		if (!rnd(4))
			kg_strv_push(&x->regions, &x->nregions, diff_regions[rnd(3)]);
		else if (!rnd(3))
			kg_strv_push(&x->regions_not, &x->nregions_not, diff_regions[rnd(3)]);
		x->action = acts[rnd(6)];
		x->audit = !rnd(8);
	}
}

static size_t diff_request(int op, const char *topic, const char *client, uint8_t *out)
{
	struct kf_topic t = { .name = topic, .partitions = 1, .record_bytes = 16 };
	struct kf_req r = { .corr = 3, .client_id = client, .topics = &t, .ntopics = 1 };

	switch (op) {
	case KG_OP_PRODUCE:
		r.api_key = KAFKA_PRODUCE, r.api_version = 3 + rnd(7);
		break;
	case KG_OP_CONSUME:
		r.api_key = rnd(2) ? KAFKA_FETCH : KAFKA_LIST_OFFSETS;
		r.api_version = r.api_key == KAFKA_FETCH ? 4 + rnd(9) : 1 + rnd(9);
		break;
	case KG_OP_DESCRIBE:
		r.api_key = KAFKA_METADATA, r.api_version = rnd(10);
		break;
	default:
		r.api_key = rnd(2) ? KAFKA_CREATE_TOPICS : KAFKA_DELETE_RECORDS;
		r.api_version = r.api_key == KAFKA_CREATE_TOPICS ? 2 + rnd(6) : rnd(3);
	}
	return kf_build(&r, out, PKT_CAP);
}

void test_differential(void)
{
	const char *env = getenv("KGATE_SEED");
	unsigned int seed = env ? strtoul(env, NULL, 0) : (unsigned int)time(NULL);
	int pairs = 0, disagree = 0;
	uint8_t b[PKT_CAP];

	rnd_state = seed;
	printf("\n    differential seed %u (replay: KGATE_SEED=%u)\n", seed, seed);
	for (int pol = 0; pol < 200; pol++) {
		struct kg_policy p;

		diff_policy(&p);
		CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
		for (int q = 0; q < 50; q++) {
			const struct diff_src *src = &diff_sources[rnd(10)];
			const char *topic = diff_topics[rnd(sizeof(diff_topics) / sizeof(char *))];
			const char *client = rnd(5)   ? diff_clients[rnd(3)]
					     : rnd(2) ? "other"
						      : NULL;
			int op = 1 + rnd(4), want, ri;
			__u8 addr[16] = {};
			struct conn c;
			size_t n = diff_request(op, topic, client, b);

			inet_pton(src->family == 6 ? AF_INET6 : AF_INET, src->addr, addr);
			want = kg_ref_decide(&p, kg_ref_principal_of(&p, src->family, addr),
					     kg_ref_region_of(&p, src->family, addr), client, op,
					     topic, &ri);
			conn_open(&c, src->family, src->addr, 0);
			conn_send(&c, b, n);
			pairs++;
			if (dp.nev != 1 || dp.ev[0].verdict != want ||
			    dp.ev[0].rule_id != (ri < 0 ? ~0u : (__u32)ri)) {
				if (disagree++ < 5)
					fprintf(stderr,
						"\n    disagree: policy %d src %s topic %s"
						" client %s op %d: ref %d rule %d, datapath"
						" %d events, verdict %d rule %d",
						pol, src->addr, topic,
						client ? client : "(null)", op, want, ri,
						dp.nev, dp.nev ? dp.ev[0].verdict : -1,
						dp.nev ? (int)dp.ev[0].rule_id : -2);
			}
		}
		kg_policy_free(&p);
	}
	printf("    %d (policy, request) pairs, %d disagreements\n", pairs, disagree);
	CU_ASSERT(pairs >= 10000);
	CU_ASSERT_EQUAL(disagree, 0);
}
