/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What `kgate policy eval` needs besides the reference evaluator: the names of a query
 * checked against the policy (an unknown region, operation or principal is an error,
 * never a silent "in no region"), whether a decision is enforced and what the datapath
 * makes of it on the wire, and why each rule before the deciding one did not match
 * (--explain).
 */
#ifndef KGATE_POLICY_EXPLAIN_H
#define KGATE_POLICY_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/policy/policy.h"

/* One request as eval asks about it; every name as the reference evaluator takes it. */
struct kg_eval_req {
	const char *topic;     /* NULL: a request that names no topic; KG_ALL_TOPICS: all */
	const char *principal; /* NULL: ANONYMOUS */
	const char *region;    /* NULL: the source is in no region */
	const char *client_id; /* NULL: a null client.id */
	__u8 op;
};

/*
 * Fills q->op from opname and checks the names: the operation must be one of the five,
 * the region one the policy defines, and the principal ANONYMOUS, an identity or one a
 * rule names; sasl_user: the principal is a SASL user, and any name is one. Returns 0,
 * or -1 with err (a sentence saying what the policy knows instead).
 */
int kg_eval_check(const struct kg_policy *p, const char *opname, bool sasl_user,
		  struct kg_eval_req *q, char *err, size_t errlen);

/* Whether the datapath enforces the decision of rule (-1: the default). */
bool kg_eval_enforced(const struct kg_policy *p, int rule);

/*
 * The principal q's connection has at its start, before any request: the principal
 * itself when it is ANONYMOUS or an identity; for a SASL user (sasl_user, or a name only
 * rules give), ANONYMOUS: its connection is not authenticated yet (eval takes no
 * address, so a SASL user is taken to come from an address no identity covers).
 */
const char *kg_eval_syn_principal(const struct kg_policy *p, const struct kg_eval_req *q,
				  bool sasl_user);

/* An api key by Kafka's name (CreateAcls) or number: the key, or -1. */
int kg_eval_api(const char *name);

/* What a request meets, beside the reference's verdict. */
struct kg_eval_outcome {
	int action, rule; /* kg_ref_decide's: the verdict and deciding rule (-1: default) */
	int conn_rule;    /* the rule that redirects the connection at its start, or -1 */
	bool enforced;    /* the request gets what the verdict says (wire may differ) */
	int wire;         /* when enforced, what the datapath does (enum kg_action); else -1 */
	char why[384];    /* not enforced: why not; enforced, otherwise than the verdict: how */
};

/*
 * Decides q as the datapath does: the reference's first match, then how it is applied.
 * Not enforced: a policy kgate refuses (refused: the lint error, or NULL), a connection
 * redirected at its start by another rule (none of its requests reaches the broker),
 * monitor mode, an audit rule. Enforced otherwise than it says: a reject with nothing
 * to refuse by name (a request naming no topic or about all topics, CreateAcls and
 * DeleteAcls) or a redirect decided per request, both reset. syn_principal as
 * kg_eval_syn_principal gives it; api: the request's key, or -1 when not said.
 */
void kg_eval_decide(const struct kg_policy *p, const struct kg_eval_req *q,
		    const char *syn_principal, int api, const char *refused,
		    struct kg_eval_outcome *o);

/*
 * Why rule r does not match q: its first dimension that does not (KG_DIM_NONE when it
 * matches) and, in why, what the request has there and what the rule asks for.
 */
enum kg_dim kg_eval_miss(const struct kg_prule *r, const struct kg_eval_req *q, char *why,
			 size_t size);

#endif /* KGATE_POLICY_EXPLAIN_H */
