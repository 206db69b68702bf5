// SPDX-License-Identifier: Apache-2.0
/*
 * Reference evaluator: docs/DESIGN.md §4 read literally, over the policy as written. "Rules are
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

/* Not a topic name (Kafka's names are [a-zA-Z0-9._-]): only its address counts. */
const char kg_all_topics[] = "(all topics)";

/*
 * topic NULL is a request that names no topic: `topics: none` matches only those, a rule
 * without topics (or with "*", the same as leaving the key out) matches every request,
 * and a list of names and prefixes only requests naming one of them. A request about
 * all topics (KG_ALL_TOPICS) is matched by "any" alone: a rule naming topics, or no
 * topic, says nothing about every topic.
 */
static bool topics_match(const struct kg_prule *r, const char *topic)
{
	bool named = topic && topic != KG_ALL_TOPICS;

	if (r->topics_none)
		return !topic;
	if (!r->ntopics)
		return true;
	for (int i = 0; i < r->ntopics; i++)
		if (!strcmp(r->topics[i], "*") || (named && topic_matches(r->topics[i], topic)))
			return true;
	return false;
}

enum kg_dim kg_ref_rule_miss(const struct kg_prule *r, const char *principal, const char *region,
			     const char *client_id, __u8 op, const char *topic)
{
	if (!principal)
		principal = KG_ANONYMOUS_NAME;
	if (!topics_match(r, topic))
		return KG_DIM_TOPICS;
	if (r->nprincipals && !listed(r->principals, r->nprincipals, principal))
		return KG_DIM_PRINCIPALS;
	/* A null client.id equals no name. */
	if (r->nclient_ids && !listed(r->client_ids, r->nclient_ids, client_id))
		return KG_DIM_CLIENT_IDS;
	if (r->ops && (op >= 8 || !(r->ops & (1u << op))))
		return KG_DIM_OPERATIONS;
	/* A source in no region is in none of the named regions. */
	if (r->nregions && !listed(r->regions, r->nregions, region))
		return KG_DIM_REGIONS;
	if (r->nregions_not && listed(r->regions_not, r->nregions_not, region))
		return KG_DIM_REGIONS_NOT;
	return KG_DIM_NONE;
}

int kg_ref_decide(const struct kg_policy *p, const char *principal, const char *region,
		  const char *client_id, __u8 op, const char *topic, int *rule_index)
{
	for (int i = 0; i < p->nrules; i++) {
		if (kg_ref_rule_miss(&p->rules[i], principal, region, client_id, op, topic) ==
		    KG_DIM_NONE) {
			*rule_index = i;
			return p->rules[i].action;
		}
	}
	*rule_index = -1;
	return p->default_action;
}

int kg_ref_syn_decide(const struct kg_policy *p, const char *principal, const char *region)
{
	const __u8 every_op = (1u << KG_OP__COUNT) - 1;

	for (int i = 0; i < p->nrules; i++) {
		const struct kg_prule *r = &p->rules[i];

		/* the topic of a request about all topics is matched by "any" alone */
		if (!topics_match(r, KG_ALL_TOPICS))
			continue;
		/* a rule that needs a request's operation or client id cannot decide yet */
		if (!r->ops && !r->nclient_ids &&
		    kg_ref_rule_miss(r, principal, region, NULL, KG_OP_OTHER, KG_ALL_TOPICS) ==
			    KG_DIM_NONE)
			return i;
		/*
		 * A rule that matches every request (all five operations listed) decides all
		 * of them, so a later rule could redirect no connection that sends one: none
		 * does.
		 */
		if (!r->nprincipals && !r->nclient_ids && !r->nregions && !r->nregions_not &&
		    (r->ops & every_op) == every_op)
			return -1;
	}
	return -1;
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

/*
 * The name of the region (identities false) or the principal of the identity whose CIDRs
 * hold the longest prefix covering addr (the first such in file order); none when none
 * covers it. Regions and identities are the same shape: a name and CIDRs.
 */
static const char *longest_cover(const struct kg_policy *p, bool identities, __u8 family,
				 const __u8 *addr, const char *none)
{
	int n = identities ? p->nidentities : p->nregions, best_len = -1;
	const char *best = none;

	for (int i = 0; i < n; i++) {
		const struct kg_cidr *c = identities ? p->identities[i].cidrs : p->regions[i].cidrs;
		int nc = identities ? p->identities[i].ncidrs : p->regions[i].ncidrs;

		for (int j = 0; j < nc; j++)
			if (cidr_covers(&c[j], family, addr) && c[j].prefix > best_len) {
				best = identities ? p->identities[i].principal : p->regions[i].name;
				best_len = c[j].prefix;
			}
	}
	return best;
}

const char *kg_ref_region_of(const struct kg_policy *p, __u8 family, const __u8 *addr)
{
	return longest_cover(p, false, family, addr, NULL);
}

const char *kg_ref_principal_of(const struct kg_policy *p, __u8 family, const __u8 *addr)
{
	return longest_cover(p, true, family, addr, KG_ANONYMOUS_NAME);
}

