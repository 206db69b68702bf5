// SPDX-License-Identifier: Apache-2.0
/*
 * Reference evaluator: DESIGN §4 read literally, over the policy as written. "Rules are
 * evaluated in file order; the first rule whose every given dimension matches decides;
 * no match takes default." Plain loops and string comparisons, no ids, no tables and no
 * code shared with the compiler (compile.c): the differential tests hold the
 * compiler to this file, so it must stay simple enough to be checked by reading.
 */
#include <string.h>

#include "agent/policy/policy.h"

static bool listed(char **v, int n, const char *s)
{
	if (!s)
		return false;
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

/* "*" is any topic; "x*" any topic starting with x (x itself too); else the exact name. */
static bool topic_matches(const char *pattern, const char *topic)
{
	size_t n = strlen(pattern);

	if (!strcmp(pattern, "*"))
		return true;
	if (n && pattern[n - 1] == '*')
		return !strncmp(topic, pattern, n - 1);
	return !strcmp(topic, pattern);
}

static bool rule_matches(const struct kg_prule *r, const char *principal, const char *region,
			 const char *client_id, __u8 op, const char *topic)
{
	bool topic_ok = r->ntopics == 0;

	for (int i = 0; i < r->ntopics && !topic_ok; i++)
		topic_ok = topic_matches(r->topics[i], topic);
	if (!topic_ok)
		return false;
	if (r->nprincipals && !listed(r->principals, r->nprincipals, principal))
		return false;
	/* A null client.id equals no name. */
	if (r->nclient_ids && !listed(r->client_ids, r->nclient_ids, client_id))
		return false;
	if (r->ops && (op >= 8 || !(r->ops & (1u << op))))
		return false;
	/* A source in no region is in none of the named regions. */
	if (r->nregions && !listed(r->regions, r->nregions, region))
		return false;
	if (r->nregions_not && listed(r->regions_not, r->nregions_not, region))
		return false;
	return true;
}

int kg_ref_decide(const struct kg_policy *p, const char *principal, const char *region,
		  const char *client_id, __u8 op, const char *topic, int *rule_index)
{
	if (!principal)
		principal = KG_ANONYMOUS_NAME;
	for (int i = 0; i < p->nrules; i++) {
		if (rule_matches(&p->rules[i], principal, region, client_id, op, topic)) {
			*rule_index = i;
			return p->rules[i].action;
		}
	}
	*rule_index = -1;
	return p->default_action;
}

/* Whether the first prefix bits of addr are those of the CIDR, bit by bit. */
static bool cidr_covers(const struct kg_cidr *c, __u8 family, const __u8 *addr)
{
	if (c->family != family)
		return false;
	for (int b = 0; b < c->prefix; b++) {
		int mask = 0x80 >> (b % 8);

		if ((c->addr[b / 8] & mask) != (addr[b / 8] & mask))
			return false;
	}
	return true;
}

const char *kg_ref_region_of(const struct kg_policy *p, __u8 family, const __u8 *addr)
{
	const char *best = NULL;
	int best_len = -1;

	for (int i = 0; i < p->nregions; i++)
		for (int j = 0; j < p->regions[i].ncidrs; j++) {
			const struct kg_cidr *c = &p->regions[i].cidrs[j];

			if (cidr_covers(c, family, addr) && c->prefix > best_len) {
				best = p->regions[i].name;
				best_len = c->prefix;
			}
		}
	return best;
}

const char *kg_ref_principal_of(const struct kg_policy *p, __u8 family, const __u8 *addr)
{
	const char *best = KG_ANONYMOUS_NAME;
	int best_len = -1;

	for (int i = 0; i < p->nidentities; i++)
		for (int j = 0; j < p->identities[i].ncidrs; j++) {
			const struct kg_cidr *c = &p->identities[i].cidrs[j];

			if (cidr_covers(c, family, addr) && c->prefix > best_len) {
				best = p->identities[i].principal;
				best_len = c->prefix;
			}
		}
	return best;
}
