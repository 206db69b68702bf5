/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What `kgate policy eval` needs besides the reference evaluator: the names of a query
 * checked against the policy (an unknown region, operation or principal is an error,
 * never a silent "in no region"), whether a decision is enforced, and why each rule
 * before the deciding one did not match (--explain).
 */
#ifndef KGATE_POLICY_EXPLAIN_H
#define KGATE_POLICY_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/policy/policy.h"

/* One request as eval asks about it; every name as the reference evaluator takes it. */
struct kg_eval_req {
	const char *topic;     /* NULL: a request that names no topic */
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
 * Why rule r does not match q: its first dimension that does not (KG_DIM_NONE when it
 * matches) and, in why, what the request has there and what the rule asks for.
 */
enum kg_dim kg_eval_miss(const struct kg_prule *r, const struct kg_eval_req *q, char *why,
			 size_t size);

#endif /* KGATE_POLICY_EXPLAIN_H */
