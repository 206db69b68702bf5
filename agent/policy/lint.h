/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy linter (`kgate policy check`): what a policy that loads and compiles can
 * still get wrong. Errors are policies that enforce nothing (no listeners, or no rule
 * that can ever match); `policy apply` and `kgate run` refuse them too. Warnings are
 * rules that can never decide or do not do what they say; `check --strict` fails on
 * them. Every finding has a position and a stable code (README "Policy language").
 *
 * Claims about rules are exact: a rule is "shadowed" only when an earlier rule matches
 * every request it matches, read off the compiled candidate lists (which hold, per topic
 * class, exactly the rules whose topics cover the class) and the rules' bitmasks, over
 * the ids a request can have (a region no address can be in is not one of them). A rule
 * without topics is said to decide a topic rule's requests only when some request is
 * decided by it and matched by the other.
 */
#ifndef KGATE_POLICY_LINT_H
#define KGATE_POLICY_LINT_H

#include <stddef.h>

#include "agent/policy/policy.h"

#define KG_LINT_CODES(X)                                                                           \
	X(KG_LINT_NO_LISTENERS, "no-listeners")                                                    \
	X(KG_LINT_UNREACHABLE_LISTENERS, "unreachable-listeners")                                  \
	X(KG_LINT_SHADOWED, "shadowed")                                                            \
	X(KG_LINT_CONTRADICTION, "contradiction")                                                  \
	X(KG_LINT_PRINCIPAL, "unknown-principal")                                                  \
	X(KG_LINT_REDIRECT, "redirect-per-request")                                                \
	X(KG_LINT_HOST_BITS, "cidr-host-bits")                                                     \
	X(KG_LINT_TOPICLESS_FIRST, "topicless-rule-first")                                         \
	X(KG_LINT_PLUMBING, "plumbing-denied")                                                     \
	X(KG_LINT_FAIL_OPEN, "fail-open")                                                          \
	X(KG_LINT_UNDECODABLE_ALLOW, "undecodable-allowed")                                        \
	X(KG_LINT_UNKNOWN_ID_ALLOW, "unknown-id-allowed")                                          \
	X(KG_LINT_MONITOR, "monitor-mode")                                                         \
	X(KG_LINT_NOT_CHECKED, "not-checked")

enum kg_lint_code { KG_LINT_CODES(KG_ENUM_ENTRY) KG_LINT__COUNT };
extern const char *const kg_lint_code_names[KG_LINT__COUNT];

enum kg_lint_level {
	KG_LINT_ERROR,   /* the policy is refused */
	KG_LINT_WARNING, /* fails `check --strict` */
	KG_LINT_NOTE,    /* a check the linter could not make (never fails) */
};

/* One message: longer ones are cut (lists of names say how many were left out). */
#define KG_LINT_MSG_MAX 640

struct kg_lint_item {
	enum kg_lint_level level;
	enum kg_lint_code code;
	struct kg_pos pos;
	char msg[KG_LINT_MSG_MAX];
};

struct kg_lint {
	struct kg_lint_item *items; /* in file order (line, column) */
	int n, nerrors, nwarnings;
};

/*
 * Lints p, whose compiled form is c (kg_compile's result for p). Returns 0, or -1 when
 * out of memory (out then holds what was found so far). The caller frees out.
 */
int kg_lint(const struct kg_policy *p, const struct kg_compiled *c, struct kg_lint *out);
void kg_lint_free(struct kg_lint *l);

/*
 * For apply and run: 0 when p has no lint error, else -1 with err = "LINE:COL: message"
 * of the first (as kg_compile's errors, for the caller to prefix with the file name).
 * Only the checks that can refuse are made (the listeners'), in time linear in the
 * rules and O(C log C) in the region CIDRs: a reload never waits for the warnings.
 */
int kg_lint_refuse(const struct kg_policy *p, const struct kg_compiled *c, char *err,
		   size_t errlen);

#endif /* KGATE_POLICY_LINT_H */
