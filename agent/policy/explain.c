// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy eval's honesty (agent/policy/explain.h). Which dimension fails is the
 * reference evaluator's own answer (kg_ref_rule_miss); this file only puts it in words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/lib/lib.h"
#include "agent/policy/explain.h"
#include "bpf/kafka_decode.h"

#define EX_NAME(sym, name) [sym] = name,
static const char *const ex_ops[] = {KG_OPS(EX_NAME)};
static const char *const ex_dims[] = {KG_DIMS(EX_NAME)};

/* Names one sentence lists; more are counted. */
#define EX_LIST_MAX 8

/* Appends "a, b, c and N more" of v[0..n) to buf at *off. */
static void put_list(char *buf, size_t size, size_t *off, char **v, int n)
{
	for (int i = 0; i < n && i < EX_LIST_MAX && *off < size; i++)
		*off += snprintf(buf + *off, size - *off, "%s%s", i ? ", " : "", v[i]);
	if (n > EX_LIST_MAX && *off < size)
		*off += snprintf(buf + *off, size - *off, " and %d more", n - EX_LIST_MAX);
}

static bool rule_names_principal(const struct kg_policy *p, const char *s)
{
	for (int i = 0; i < p->nrules; i++)
		for (int j = 0; j < p->rules[i].nprincipals; j++)
			if (!strcmp(p->rules[i].principals[j], s))
				return true;
	for (int i = 0; i < p->nidentities; i++)
		if (!strcmp(p->identities[i].principal, s))
			return true;
	return !strcmp(s, KG_ANONYMOUS_NAME);
}

int kg_eval_check(const struct kg_policy *p, const char *opname, bool sasl_user,
		  struct kg_eval_req *q, char *err, size_t errlen)
{
	size_t off = 0;
	int i;

	for (i = 0; i < KG_OP__COUNT && strcmp(ex_ops[i], opname); i++)
		;
	if (i == KG_OP__COUNT) {
		snprintf(err, errlen,
			 "unknown operation '%s' (expected one of: other, produce, consume, "
			 "describe, admin)",
			 opname);
		return -1;
	}
	q->op = (__u8)i;
	for (i = 0; q->region && i < p->nregions && strcmp(p->regions[i].name, q->region); i++)
		;
	if (q->region && i == p->nregions) {
		off = snprintf(err, errlen, "unknown region '%s': the policy defines %s", q->region,
			       p->nregions ? "" : "none");
		for (i = 0; i < p->nregions && i < EX_LIST_MAX && off < errlen; i++)
			off += snprintf(err + off, errlen - off, "%s%s", i ? ", " : "",
					p->regions[i].name);
		if (p->nregions > EX_LIST_MAX && off < errlen)
			off += snprintf(err + off, errlen - off, " and %d more",
					p->nregions - EX_LIST_MAX);
		if (off < errlen)
			snprintf(err + off, errlen - off, " (leave the region out: in no region)");
		return -1;
	}
	if (q->principal && !sasl_user && !rule_names_principal(p, q->principal)) {
		snprintf(err, errlen,
			 "unknown principal '%s': no identity and no rule names it, so only a "
			 "SASL user could be it; to ask about a SASL user no rule names, say so "
			 "(--sasl-user NAME, or the source field sasl with --stdin)",
			 q->principal);
		return -1;
	}
	return 0;
}

bool kg_eval_enforced(const struct kg_policy *p, int rule)
{
	return p->mode != KG_MODE_MONITOR && !(rule >= 0 && p->rules[rule].audit);
}

static bool is_identity(const struct kg_policy *p, const char *s)
{
	for (int i = 0; i < p->nidentities; i++)
		if (!strcmp(p->identities[i].principal, s))
			return true;
	return false;
}

const char *kg_eval_syn_principal(const struct kg_policy *p, const struct kg_eval_req *q,
				  bool sasl_user)
{
	if (!q->principal || sasl_user || !is_identity(p, q->principal))
		return NULL;
	return q->principal;
}

int kg_eval_api(const char *name)
{
	char *end;
	long key = strtol(name, &end, 10);

	if (*name && !*end)
		return key >= 0 && key < KD_API_COUNT && kd_apis[key].known ? (int)key : -1;
	for (int k = 0; k < KD_API_COUNT; k++)
		if (kd_apis[k].known && !strcasecmp(kafka_api_name(k), name))
			return k;
	return -1;
}

void kg_eval_decide(const struct kg_policy *p, const struct kg_eval_req *q,
		    const char *syn_principal, int api, const char *refused,
		    struct kg_eval_outcome *o)
{
	const char *all = q->topic == KG_ALL_TOPICS ? "the request is about all topics"
			  : !q->topic		    ? "the request names no topic"
						    : NULL;
	int s;

	memset(o, 0, sizeof(*o));
	o->action = kg_ref_decide(p, q->principal, q->region, q->client_id, q->op, q->topic,
				  &o->rule);
	s = kg_ref_syn_decide(p, syn_principal, q->region);
	o->conn_rule = s >= 0 && p->rules[s].action == KG_ACT_REDIRECT && kg_eval_enforced(p, s)
			       ? s
			       : -1;
	o->wire = -1;
	if (refused) {
		snprintf(o->why, sizeof(o->why), "kgate refuses this policy: %s", refused);
		return;
	}
	if (o->conn_rule >= 0 && o->conn_rule != o->rule) {
		snprintf(o->why, sizeof(o->why),
			 "rule \"%s\" (%d:%d) redirects the connection at its start, so none of "
			 "its requests reaches the broker",
			 p->rules[s].name, p->rules[s].pos.line, p->rules[s].pos.col);
		return;
	}
	if (!kg_eval_enforced(p, o->rule)) {
		snprintf(o->why, sizeof(o->why), "%s",
			 p->mode == KG_MODE_MONITOR ? "mode monitor" : "the rule has audit: true");
		return;
	}
	o->enforced = true;
	o->wire = o->action;
	if (o->conn_rule >= 0) {
		snprintf(o->why, sizeof(o->why), "at the connection's start");
	} else if (o->action == KG_ACT_REDIRECT) {
		o->wire = KG_ACT_RESET;
		snprintf(o->why, sizeof(o->why),
			 "a redirect decided per request comes mid-stream, where it can only "
			 "reset; only a rule without topics, operations and client ids redirects "
			 "a connection at its start");
	} else if (o->action == KG_ACT_REJECT && all) {
		o->wire = KG_ACT_RESET;
		snprintf(o->why, sizeof(o->why),
			 "%s, so there is no topic to refuse with an authorization error", all);
	} else if (o->action == KG_ACT_REJECT &&
		   (api == KAFKA_CREATE_ACLS || api == KAFKA_DELETE_ACLS)) {
		o->wire = KG_ACT_RESET;
		snprintf(o->why, sizeof(o->why),
			 "%s with a refused name would create or delete an ACL for that name and "
			 "answer success",
			 kafka_api_name((unsigned int)api));
	}
}

static const char *shown(const char *s, const char *none)
{
	return s ? s : none;
}

enum kg_dim kg_eval_miss(const struct kg_prule *r, const struct kg_eval_req *q, char *why,
			 size_t size)
{
	enum kg_dim d = kg_ref_rule_miss(r, q->principal, q->region, q->client_id, q->op,
					 q->topic);
	char **list = NULL; /* what the rule asks for, after the sentence's head */
	int n = 0;
	size_t off = 0;

	why[0] = 0;
	switch (d) {
	case KG_DIM_NONE:
		return d;
	case KG_DIM_TOPICS:
		if (r->topics_none && q->topic == KG_ALL_TOPICS) {
			snprintf(why, size, "the request is about all topics; the rule is for "
					    "requests that name no topic (topics: none)");
			break;
		}
		if (r->topics_none) {
			snprintf(why, size, "the request names \"%s\"; the rule is for requests "
					    "that name no topic (topics: none)",
				 q->topic);
			break;
		}
		off = q->topic == KG_ALL_TOPICS
			      ? snprintf(why, size, "the request is about all topics, which only a "
						    "rule without topics matches; the rule names ")
		      : q->topic ? snprintf(why, size, "\"%s\" is none of ", q->topic)
				 : snprintf(why, size, "the request names no topic; the rule names ");
		list = r->topics, n = r->ntopics;
		break;
	case KG_DIM_PRINCIPALS:
		off = snprintf(why, size, "principal \"%s\" is none of ",
			       shown(q->principal, KG_ANONYMOUS_NAME));
		list = r->principals, n = r->nprincipals;
		break;
	case KG_DIM_CLIENT_IDS:
		off = q->client_id ? snprintf(why, size, "client id \"%s\" is none of ", q->client_id)
				   : snprintf(why, size, "a null client id is none of ");
		list = r->client_ids, n = r->nclient_ids;
		break;
	case KG_DIM_OPERATIONS:
		off = snprintf(why, size, "operation %s is none of ", ex_ops[q->op % KG_OP__COUNT]);
		for (int i = 0, k = 0; i < KG_OP__COUNT && off < size; i++)
			if (r->ops & (1u << i))
				off += snprintf(why + off, size - off, "%s%s", k++ ? ", " : "",
						ex_ops[i]);
		break;
	case KG_DIM_REGIONS:
		off = q->region ? snprintf(why, size, "the source is in \"%s\", none of ", q->region)
				: snprintf(why, size, "the source is in no region, so in none of ");
		list = r->regions, n = r->nregions;
		break;
	case KG_DIM_REGIONS_NOT:
		snprintf(why, size, "the source is in \"%s\", which the rule leaves out",
			 shown(q->region, "?"));
		break;
	default:
		snprintf(why, size, "%s", ex_dims[d % KG_DIM__COUNT]);
	}
	if (off < size)
		put_list(why, size, &off, list, n);
	return d;
}
