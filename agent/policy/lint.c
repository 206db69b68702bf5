// SPDX-License-Identifier: Apache-2.0
/*
 * The policy linter (agent/policy/lint.h). It reads the policy as written for names and
 * positions, and the compiled form for what rules match: a rule's bitmasks (principals,
 * regions with negations folded in, client ids, operations: "any" is all ones) and the
 * candidate lists of the topic classes. A class's list holds, in file order, every rule
 * that can match and whose topics cover every topic of the class (cut after the first
 * rule that matches everything), so:
 *
 *   rule A matches every request rule B matches  <=>  for every class of B's topics, A
 *   is in its list, and each of A's masks holds B's (over the ids that exist).
 *
 * Both sides are exact: the lists are proved against the reference evaluator by the
 * differential tests (tests/unit/test_policy.c), and tests/unit/test_policy_lint.c
 * proves each shadowing verdict against the reference evaluator over every request
 * shape that can tell two rules apart.
 *
 * "The ids that exist" are those a request can have: every named principal and client
 * id with OTHER, the regions some address is in (one whose every CIDR is covered by
 * longer prefixes of other regions holds none), and "in no region" unless the regions
 * cover every IPv4 and IPv6 address.
 *
 * Cost, for R rules, C region CIDRs and K = KG_MAX_CANDIDATES: kg_lint_refuse (apply,
 * run, a reload) makes only the listener checks, O(R + C log C). kg_lint (check) adds
 * O(R * K) per topic class of a rule for shadowing, O(classes * K^2) pairs for
 * topicless-rule-first, each searched within LINT_WITNESS_BUDGET in all, and the plumbing
 * check within LINT_DECIDE_BUDGET: nothing is a scan of every earlier rule per rule.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/policy/lint.h"

#define LINT_NAME(sym, name) [sym] = name,
const char *const kg_lint_code_names[KG_LINT__COUNT] = {KG_LINT_CODES(LINT_NAME)};
static const char *const lint_ops[] = {KG_OPS(LINT_NAME)};
static const char *const lint_actions[] = {KG_ACTIONS(LINT_NAME)};

/* Names one message lists (identities, rules); more are counted, not named. */
#define LINT_LIST_MAX 6

/*
 * Decisions the plumbing check may make (one per representative principal, region and
 * client id, operation and topic class). Past it that check is not made, and a note
 * says so: only policies with very many distinct principals, regions, client ids and
 * topic classes at once get there.
 */
#define LINT_DECIDE_BUDGET 4000000L

/*
 * Rules naming topics read, past the candidate lists, for one that alone shadows a rule
 * that earlier rules shadow together (only when every list of its topics ends before
 * it: the rules just before it). Past it the message names the rules class by class,
 * which is just as true.
 */
#define LINT_SOLE_SCAN 128

/*
 * Steps (a rule's bit read for one id) the search for a request that a rule without
 * topics decides and a later topic rule matches may take in all. Past it that check
 * stops, and a note says so: only classes whose rules name hundreds of principals,
 * regions and client ids at once get there.
 */
#define LINT_WITNESS_BUDGET 50000000L

/* The operations a request can have: a mask holding them all is "any". */
#define LINT_OPS ((__u8)((1u << KG_OP__COUNT) - 1))

struct lctx {
	const struct kg_policy *p;
	const struct kg_compiled *c;
	struct kg_lint *out;
	int seq, oom;
	/* the ids a request can have (see the file comment) */
	__u64 pvalid[KG_MAX_PRINCIPALS / 64], rvalid, cvalid;
	__u32 *pat_order; /* indexes of the policy's patterns, sorted by bytes and kind */
	bool *shadowed;   /* per rule: reported shadowed */
	long witness_steps;
};

/* Item order: by position, then as found (an index the sort reads, not kept). */
struct lint_sorted {
	struct kg_lint_item item;
	int seq;
};

static void add(struct lctx *x, enum kg_lint_level lv, enum kg_lint_code code, struct kg_pos pos,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void add(struct lctx *x, enum kg_lint_level lv, enum kg_lint_code code, struct kg_pos pos,
		const char *fmt, ...)
{
	struct kg_lint *l = x->out;
	struct kg_lint_item *v, *it;
	va_list ap;

	if (x->oom)
		return;
	v = realloc(l->items, (l->n + 1) * sizeof(*v));
	if (!v) {
		x->oom = 1;
		return;
	}
	l->items = v;
	it = &v[l->n++];
	it->level = lv;
	it->code = code;
	it->pos = pos.line ? pos : x->p->pos;
	va_start(ap, fmt);
	vsnprintf(it->msg, sizeof(it->msg), fmt, ap);
	va_end(ap);
	l->nerrors += lv == KG_LINT_ERROR;
	l->nwarnings += lv == KG_LINT_WARNING;
}

/* ---- what the compiled masks say --------------------------------------------------------- */

/* b's masks within a's, over the ids that exist: a matches whatever b matches (but topics). */
static bool covers(const struct lctx *x, const struct kg_rule *a, const struct kg_rule *b)
{
	for (int w = 0; w < KG_MAX_PRINCIPALS / 64; w++)
		if (b->principals[w] & x->pvalid[w] & ~a->principals[w])
			return false;
	return !(b->regions & x->rvalid & ~a->regions) &&
	       !(b->client_ids & x->cvalid & ~a->client_ids) && !(b->ops & LINT_OPS & ~a->ops);
}

/* Some request (but for its topic) matches both a and b. */
static bool overlaps(const struct lctx *x, const struct kg_rule *a, const struct kg_rule *b)
{
	bool p = false;

	for (int w = 0; w < KG_MAX_PRINCIPALS / 64; w++)
		p |= (a->principals[w] & b->principals[w] & x->pvalid[w]) != 0;
	return p && (a->regions & b->regions & x->rvalid) &&
	       (a->client_ids & b->client_ids & x->cvalid) && (a->ops & b->ops & LINT_OPS);
}

static bool matchable(const struct lctx *x, int i)
{
	return overlaps(x, &x->c->rules[i], &x->c->rules[i]);
}

/* A rule whose topics are "any": no topics key, or "*" among them. */
static bool topic_any(const struct kg_prule *r)
{
	if (r->topics_none)
		return false;
	for (int j = 0; j < r->ntopics; j++)
		if (!strcmp(r->topics[j], "*"))
			return true;
	return r->ntopics == 0;
}

static const struct kg_pos *rpos(const struct lctx *x, int i)
{
	return &x->p->rules[i].pos;
}

/* ---- topic classes of a rule ----------------------------------------------------------- */

static int pat_cmp(const void *a, const void *b, void *arg)
{
	const struct kg_compiled *c = arg;
	const struct kg_cpattern *x = &c->patterns[*(const __u32 *)a], *y = &c->patterns[*(const __u32 *)b];
	int d = memcmp(x->name, y->name, x->len < y->len ? x->len : y->len);

	if (!d)
		d = x->len != y->len ? (x->len < y->len ? -1 : 1) : (int)x->exact - (int)y->exact;
	return d;
}

static int sort_patterns(struct lctx *x)
{
	const struct kg_compiled *c = x->c;

	/* patterns[1 .. npolicy_patterns] are the policy's own, in a class each */
	x->pat_order = calloc(c->npolicy_patterns + 1, sizeof(*x->pat_order));
	if (!x->pat_order)
		return -1;
	for (__u32 k = 0; k < c->npolicy_patterns; k++)
		x->pat_order[k] = k + 1;
	qsort_r(x->pat_order, c->npolicy_patterns, sizeof(*x->pat_order), pat_cmp, (void *)c);
	return 0;
}

/* The class of one of a rule's patterns (not "*"). */
static __u32 class_of_pattern(const struct lctx *x, const char *t)
{
	size_t n = strlen(t);
	__u8 exact = !(n && t[n - 1] == '*');
	__u16 len = (__u16)(exact ? n : n - 1);
	__u32 lo = 0, hi = x->c->npolicy_patterns;

	while (lo < hi) {
		__u32 mid = (lo + hi) / 2;
		const struct kg_cpattern *pt = &x->c->patterns[x->pat_order[mid]];
		int d = memcmp(pt->name, t, pt->len < len ? pt->len : len);

		if (!d)
			d = pt->len != len ? (pt->len < len ? -1 : 1) : (int)pt->exact - (int)exact;
		if (!d)
			return pt->class_id;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0; /* not reached: the compiler interned every pattern */
}

/*
 * The classes rule i's topics span: class 0 for "any" (topics no pattern names are
 * matched only by "any" rules, and every "any" rule is in class 0's list), the
 * topic-less class for `topics: none`, else the class of each pattern. j-th of them.
 */
static int nclasses_of(const struct lctx *x, int i)
{
	const struct kg_prule *r = &x->p->rules[i];

	return topic_any(r) || r->topics_none ? 1 : r->ntopics;
}

static __u32 class_of_rule(const struct lctx *x, int i, int j)
{
	const struct kg_prule *r = &x->p->rules[i];

	if (topic_any(r))
		return 0;
	if (r->topics_none)
		return x->c->topicless_class;
	return class_of_pattern(x, r->topics[j]);
}

/* The first rule before b in class cls's list that matches everything b matches there. */
static int coverer(const struct lctx *x, __u32 cls, int b)
{
	const struct kg_class *l = &x->c->classes[cls];

	for (__u32 k = 0; k < l->n && (int)l->rules[k] < b; k++)
		if (covers(x, &x->c->rules[l->rules[k]], &x->c->rules[b]))
			return (int)l->rules[k];
	return -1;
}

/* Every topic the pattern t names, q names too ("x*" names x and what starts with it). */
static bool pattern_covers(const char *q, const char *t)
{
	size_t ql = strlen(q), tl = strlen(t);
	bool qprefix = ql && q[ql - 1] == '*', tprefix = tl && t[tl - 1] == '*';

	if (!qprefix)
		return !tprefix && !strcmp(q, t);
	return tl - tprefix >= ql - 1 && !strncmp(q, t, ql - 1);
}

/* a's topics hold b's: a names every topic (or request naming none) that b names. */
static bool topics_cover(const struct kg_prule *a, const struct kg_prule *b)
{
	if (topic_any(a))
		return true;
	if (topic_any(b) || a->topics_none || b->topics_none)
		return !topic_any(b) && a->topics_none && b->topics_none;
	for (int j = 0; j < b->ntopics; j++) {
		int k;

		for (k = 0; k < a->ntopics && !pattern_covers(a->topics[k], b->topics[j]); k++)
			;
		if (k == a->ntopics)
			return false;
	}
	return true;
}

static bool sole(const struct lctx *x, int a, int b)
{
	return covers(x, &x->c->rules[a], &x->c->rules[b]) &&
	       topics_cover(&x->p->rules[a], &x->p->rules[b]);
}

/* A rule of list l, before b, that alone shadows b; or -1. */
static int sole_in(const struct lctx *x, const struct kg_class *l, int b)
{
	for (__u32 i = 0; i < l->n && (int)l->rules[i] < b; i++)
		if (sole(x, (int)l->rules[i], b))
			return (int)l->rules[i];
	return -1;
}

/*
 * For a rule that earlier rules shadow topic by topic: one of them that does it alone,
 * or -1. Such a rule matches the topics of every class of b, so in each class's list it
 * is either listed or after the list's end (a list ends at its first rule that matches
 * everything). So it is in the list of b's that reaches furthest, or after that list's
 * end; a rule whose topic is "any" is in class 0's list, or after its end, where the
 * rule that ends it does it too. What is left, rules naming topics between the end of
 * b's furthest list and b, is read for the last LINT_SOLE_SCAN of them. Not a scan of
 * every earlier rule: 65,000 rules shadowed class by class would take 2 * 10^9
 * comparisons.
 */
static int sole_coverer(const struct lctx *x, int b)
{
	const struct kg_class *l = NULL;
	int last = -1, a = -1;

	for (int j = 0, n = nclasses_of(x, b); j < n; j++) {
		const struct kg_class *k = &x->c->classes[class_of_rule(x, b, j)];
		int end = k->n ? (int)k->rules[k->n - 1] : -1;

		if (!l || end > last) {
			l = k;
			last = end;
		}
	}
	if (l && (a = sole_in(x, l, b)) >= 0)
		return a;
	if (last >= b || (a = sole_in(x, &x->c->classes[0], b)) >= 0)
		return a;
	for (a = b - 1 > last + LINT_SOLE_SCAN ? b - LINT_SOLE_SCAN : last + 1; a < b; a++)
		if (sole(x, a, b))
			return a;
	return -1;
}

/* ---- the checks -------------------------------------------------------------------------- */

static void lint_listeners(struct lctx *x)
{
	const struct kg_policy *p = x->p;
	bool any = false;

	if (!p->nlisteners) {
		add(x, KG_LINT_ERROR, KG_LINT_NO_LISTENERS, p->pos,
		    "no listeners: kgate enforces only on the ports listed, so this policy "
		    "decides nothing (add listeners: [{port: 9092}] with the broker's port)");
		return;
	}
	for (int i = 0; i < p->nrules && !any; i++)
		any = matchable(x, i);
	if (!any)
		add(x, KG_LINT_ERROR, KG_LINT_UNREACHABLE_LISTENERS, p->listeners[0].pos,
		    "no rule can ever match a request on these listeners (%s), so default: %s "
		    "decides everything; a policy that means that says it in a rule "
		    "(- {name: everything, action: %s})",
		    p->nrules ? "every rule contradicts itself" : "the policy has no rules",
		    lint_actions[p->default_action % KG_ACT__COUNT],
		    lint_actions[p->default_action % KG_ACT__COUNT]);
}

static void lint_shadowed(struct lctx *x)
{
	const struct kg_policy *p = x->p;

	for (int b = 0; b < p->nrules; b++) {
		int n = nclasses_of(x, b), first = -1, second = -1, j;

		if (!matchable(x, b))
			continue;
		for (j = 0; j < n; j++) {
			int a = coverer(x, class_of_rule(x, b, j), b);

			if (a < 0)
				break;
			if (first < 0)
				first = a;
			else if (a != first && second < 0)
				second = a;
		}
		if (j < n)
			continue;
		/* rules that shadow b topic by topic: one that does it alone is named instead */
		if (second >= 0 && (j = sole_coverer(x, b)) >= 0) {
			first = j;
			second = -1;
		}
		x->shadowed[b] = true;
		if (second < 0)
			add(x, KG_LINT_WARNING, KG_LINT_SHADOWED, *rpos(x, b),
			    "rule \"%s\" can never decide: rule \"%s\" (%d:%d) comes first and "
			    "matches every request it matches%s",
			    p->rules[b].name, p->rules[first].name, rpos(x, first)->line,
			    rpos(x, first)->col,
			    topic_any(&p->rules[first]) && p->rules[b].ntopics &&
					    !topic_any(&p->rules[b])
				    ? "; it names no topics, so it decides requests for topics "
				      "too (for requests that name no topic only: topics: none)"
				    : "");
		else
			add(x, KG_LINT_WARNING, KG_LINT_SHADOWED, *rpos(x, b),
			    "rule \"%s\" can never decide: for each of its topics an earlier "
			    "rule matches every request it matches (rule \"%s\" at %d:%d, rule "
			    "\"%s\" at %d:%d)",
			    p->rules[b].name, p->rules[first].name, rpos(x, first)->line,
			    rpos(x, first)->col, p->rules[second].name, rpos(x, second)->line,
			    rpos(x, second)->col);
	}
}

static bool listed(char **v, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

/* Whether region name has an address (its id is in rvalid). */
static bool region_holds(const struct lctx *x, const char *name)
{
	for (__u32 id = 0; id < x->c->nregions; id++)
		if (!strcmp(x->c->region_names[id], name))
			return (x->rvalid >> id) & 1;
	return true; /* not reached: the compiler knows every region a rule names */
}

/*
 * Only the regions can leave a rule nothing (every other list names ids that exist):
 * each region it asks for is also in regions_not or holds no address, or, without
 * regions, regions_not names every region an address can be in and every address is in
 * a region.
 */
static void lint_contradictions(struct lctx *x)
{
	const struct kg_policy *p = x->p;

	for (int i = 0; i < p->nrules; i++) {
		const struct kg_prule *r = &p->rules[i];
		int neg = -1, empty = -1, nneg = 0;

		if (matchable(x, i))
			continue;
		for (int j = 0; j < r->nregions; j++) {
			if (listed(r->regions_not, r->nregions_not, r->regions[j])) {
				nneg++;
				neg = neg < 0 ? j : neg;
			} else if (empty < 0 && !region_holds(x, r->regions[j])) {
				empty = j;
			}
		}
		if (r->nregions && nneg == r->nregions) {
			int k;

			for (k = 0; strcmp(r->regions_not[k], r->regions[neg]); k++)
				;
			add(x, KG_LINT_WARNING, KG_LINT_CONTRADICTION,
			    r->regions_not_pos ? r->regions_not_pos[k] : r->pos,
			    "rule \"%s\" can never match: every region in regions is also in "
			    "regions_not (a source cannot be in \"%s\" and outside it)",
			    r->name, r->regions[neg]);
		} else if (r->nregions) {
			add(x, KG_LINT_WARNING, KG_LINT_CONTRADICTION,
			    r->regions_pos ? r->regions_pos[empty] : r->pos,
			    "rule \"%s\" can never match: no address is in region \"%s\"%s (a "
			    "source is in the region of its longest matching CIDR, and longer "
			    "prefixes of other regions cover every CIDR of this one)",
			    r->name, r->regions[empty],
			    nneg ? ", and its other regions are in regions_not" : "");
		} else {
			add(x, KG_LINT_WARNING, KG_LINT_CONTRADICTION,
			    r->regions_not_pos ? r->regions_not_pos[0] : r->pos,
			    "rule \"%s\" can never match: every source is in one of regions_not "
			    "(the regions cover every IPv4 and IPv6 address, so no source is in "
			    "no region%s)",
			    r->name,
			    r->nregions_not < (int)x->c->nregions
				    ? ", and the regions it leaves out hold no address"
				    : "");
		}
	}
}

/* Optimal string alignment distance (a swap of neighbours counts one), case folded. */
static int distance(const char *a, const char *b)
{
	int la = (int)strlen(a), lb = (int)strlen(b);
	int d[KD_USER_MAX + 2][KD_USER_MAX + 2];

	if (la > KD_USER_MAX || lb > KD_USER_MAX)
		return 1 << 20;
	for (int i = 0; i <= la; i++)
		d[i][0] = i;
	for (int k = 0; k <= lb; k++)
		d[0][k] = k;
	for (int i = 1; i <= la; i++)
		for (int k = 1; k <= lb; k++) {
			int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[k - 1]);
			int v = d[i - 1][k] + 1;

			if (d[i][k - 1] + 1 < v)
				v = d[i][k - 1] + 1;
			if (d[i - 1][k - 1] + cost < v)
				v = d[i - 1][k - 1] + cost;
			if (i > 1 && k > 1 && tolower((unsigned char)a[i - 1]) ==
						      tolower((unsigned char)b[k - 2]) &&
			    tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[k - 1]) &&
			    d[i - 2][k - 2] + 1 < v)
				v = d[i - 2][k - 2] + 1;
			d[i][k] = v;
		}
	return d[la][lb];
}

/* A name this close to a known one is taken for a typo of it: one edit, two past 4 bytes. */
static bool near_miss(const char *name, const char *known)
{
	size_t n = strlen(known);

	return strcmp(name, known) && distance(name, known) <= (n > 4 ? 2 : 1);
}

/* "a, b, c and 3 more" of the identities' principals. */
static void identity_list(const struct kg_policy *p, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = 0;
	for (int i = 0; i < p->nidentities && i < LINT_LIST_MAX && off < size; i++)
		off += snprintf(buf + off, size - off, "%s%s", i ? ", " : "",
				p->identities[i].principal);
	if (p->nidentities > LINT_LIST_MAX && off < size)
		snprintf(buf + off, size - off, " and %d more", p->nidentities - LINT_LIST_MAX);
}

static bool is_identity(const struct kg_policy *p, const char *name)
{
	for (int i = 0; i < p->nidentities; i++)
		if (!strcmp(p->identities[i].principal, name))
			return true;
	return false;
}

/*
 * A principal no identity gives is a SASL user name. Taken for a mistake: a near miss
 * of an identity or of ANONYMOUS, Kafka's ACL form "User:NAME" (kgate matches the bare
 * user name), and blanks around the name (no SASL client sends those). Returns why, with a
 * guess where there is one, or NULL.
 */
static const char *principal_doubt(const struct kg_policy *p, const char *s, const char **guess)
{
	size_t len = strlen(s);

	*guess = NULL;
	if (!strcmp(s, KG_ANONYMOUS_NAME) || is_identity(p, s))
		return NULL;
	for (int k = 0; k < p->nidentities && !*guess; k++)
		if (near_miss(s, p->identities[k].principal))
			*guess = p->identities[k].principal;
	if (!*guess && near_miss(s, KG_ANONYMOUS_NAME))
		*guess = KG_ANONYMOUS_NAME;
	if (*guess)
		return "did you mean";
	if (!strncasecmp(s, "User:", 5))
		return "Kafka's ACL form: kgate matches the bare SASL user name";
	if (isspace((unsigned char)s[0]) || isspace((unsigned char)s[len - 1]))
		return "no SASL client sends a user name with blanks around it";
	return NULL;
}

/*
 * Each distinct name is judged once (there are at most KG_MAX_PRINCIPALS), by its id:
 * 65,000 rules naming a few SASL users under 250 identities would otherwise compare
 * names 5 * 10^7 times (20 s), and warned where each rule names it.
 */
static void lint_principals(struct lctx *x)
{
	const struct kg_policy *p = x->p;
	const char *why[KG_MAX_PRINCIPALS], *guess[KG_MAX_PRINCIPALS];
	bool judged[KG_MAX_PRINCIPALS] = { 0 };
	char ids[256];

	identity_list(p, ids, sizeof(ids));
	for (int i = 0; i < p->nrules; i++) {
		const struct kg_prule *r = &p->rules[i];

		for (int j = 0; j < r->nprincipals; j++) {
			const char *s = r->principals[j];
			struct kg_pos pos = r->principals_pos ? r->principals_pos[j] : r->pos;
			__u16 id = kg_compiled_principal_id(x->c, s) & (KG_MAX_PRINCIPALS - 1);

			if (!judged[id]) {
				why[id] = principal_doubt(p, s, &guess[id]);
				/* OTHER (not interned) is never cached: each such name on its own */
				judged[id] = id != KG_PRINCIPAL_OTHER;
			}
			if (!why[id])
				continue;
			add(x, KG_LINT_WARNING, KG_LINT_PRINCIPAL, pos,
			    "rule \"%s\": principal \"%s\" is no identity (%s%s), so it matches "
			    "only a SASL user of exactly that name: %s%s%s%s",
			    r->name, s, p->nidentities ? "identities: " : "this policy has none",
			    ids, why[id], guess[id] ? " \"" : "", guess[id] ? guess[id] : "",
			    guess[id] ? "\"?" : "");
		}
	}
}

/* Redirect is a connection's decision, made at its SYN by rules that need no request. */
static void lint_redirects(struct lctx *x)
{
	const struct kg_policy *p = x->p;

	for (int i = 0; i < p->nrules; i++) {
		const struct kg_prule *r = &p->rules[i];
		const char *what = !topic_any(r) ? "topics"
				   : r->ops	 ? "operations"
				   : r->nclient_ids ? "client ids"
						    : NULL;

		if (r->action != KG_ACT_REDIRECT || !what)
			continue;
		add(x, KG_LINT_WARNING, KG_LINT_REDIRECT, r->action_pos.line ? r->action_pos : r->pos,
		    "rule \"%s\": action redirect on a rule that names %s is decided per "
		    "request, mid-stream, where a redirect can only reset the connection; only "
		    "a rule without topics, operations and client ids redirects a connection "
		    "(at its start)",
		    r->name, what);
	}
}

static void host_bits(struct lctx *x, const struct kg_cidr *v, int n, struct kg_pos owner,
		      const char *what, const char *name)
{
	for (int i = 0; i < n; i++) {
		const struct kg_cidr *c = &v[i];
		unsigned int bytes = c->family == 4 ? 4 : 16;
		char given[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN];
		__u8 masked[16];
		bool set = false;

		memcpy(masked, c->addr, sizeof(masked));
		for (unsigned int b = 0; b < bytes; b++) {
			unsigned int keep = c->prefix > b * 8 ? c->prefix - b * 8 : 0;
			__u8 m = keep >= 8 ? 0xff : (__u8)(0xff00u >> keep);

			set |= (masked[b] & ~m) != 0;
			masked[b] &= m;
		}
		if (!set)
			continue;
		inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, given, sizeof(given));
		inet_ntop(c->family == 4 ? AF_INET : AF_INET6, masked, net, sizeof(net));
		add(x, KG_LINT_WARNING, KG_LINT_HOST_BITS, c->pos.line ? c->pos : owner,
		    "%s \"%s\": %s/%u has host bits set: it means %s/%u (write that, or %s/%u for "
		    "the one address)",
		    what, name, given, c->prefix, net, c->prefix, given, bytes * 8);
	}
}

static void lint_cidrs(struct lctx *x)
{
	const struct kg_policy *p = x->p;

	for (int i = 0; i < p->nregions; i++)
		host_bits(x, p->regions[i].cidrs, p->regions[i].ncidrs, p->regions[i].pos, "region",
			  p->regions[i].name);
	for (int i = 0; i < p->nidentities; i++)
		host_bits(x, p->identities[i].cidrs, p->identities[i].ncidrs, p->identities[i].pos,
			  "identity", p->identities[i].principal);
}

/*
 * Requests (but for their topic) as one set per dimension, over the ids that exist: what
 * two rules both match.
 */
struct lbox {
	__u64 p[KG_MAX_PRINCIPALS / 64], r, c;
	__u8 o;
};

static bool bit_of(const struct kg_rule *r, int dim, __u32 id);

/* The ids of dimension dim (0 principals, 1 regions, 2 client ids) in box X. */
static int box_ids(const struct lbox *X, int dim, __u32 *ids)
{
	int n = 0;

	for (__u32 id = 0; id < (dim ? 64u : (__u32)KG_MAX_PRINCIPALS); id++)
		if (((dim == 0 ? X->p[id / 64] : dim == 1 ? X->r : X->c) >> (id % 64)) & 1)
			ids[n++] = id;
	return n;
}

static int u64_cmp(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return (x > y) - (x < y);
}

/*
 * Whether some request in X matches none of the rules bl[j] for the bits j of m: 1, 0,
 * or -1 when LINT_WITNESS_BUDGET ran out. Dimension by dimension: the ids of X are
 * grouped by which of those rules hold them (ids in one group are alike to all of them),
 * a group no rule holds is a witness, any other is searched further with its rules
 * only; the operations, last, are one union.
 */
static int escapes(struct lctx *x, const struct kg_rule *const *bl, __u64 m, const struct lbox *X,
		   int dim)
{
	__u32 ids[KG_MAX_PRINCIPALS];
	__u64 cols[KG_MAX_PRINCIPALS];
	int n, ncols = 0;

	if (dim == 3) {
		__u8 ops = 0;

		for (int j = 0; j < KG_MAX_CANDIDATES; j++)
			if ((m >> j) & 1)
				ops |= bl[j]->ops;
		return (X->o & ~ops) != 0;
	}
	n = box_ids(X, dim, ids);
	for (int i = 0; i < n; i++) {
		__u64 col = 0;

		for (int j = 0; j < KG_MAX_CANDIDATES; j++)
			if (((m >> j) & 1) && bit_of(bl[j], dim, ids[i]))
				col |= 1ull << j;
		cols[ncols++] = col;
		x->witness_steps += __builtin_popcountll(m) + 1;
	}
	if (x->witness_steps > LINT_WITNESS_BUDGET)
		return -1;
	qsort(cols, ncols, sizeof(cols[0]), u64_cmp);
	for (int i = 0; i < ncols; i++) {
		int r;

		if (i && cols[i] == cols[i - 1])
			continue;
		if (!cols[i])
			return 1;
		r = escapes(x, bl, cols[i], X, dim + 1);
		if (r)
			return r;
	}
	return 0;
}

/*
 * Whether rule a decides a request that rule b also matches, in class l (a and b listed
 * there, a first): a request both match that none of the rules listed before a matches
 * (rules not listed match no topic of the class). 1, 0, or -1 (budget, as escapes).
 */
static int decides_for(struct lctx *x, const struct kg_class *l, __u32 ai, int b)
{
	const struct kg_rule *ra = &x->c->rules[l->rules[ai]], *rb = &x->c->rules[b];
	const struct kg_rule *bl[KG_MAX_CANDIDATES];
	struct lbox X;
	__u64 m = 0;
	int nb = 0;

	for (int w = 0; w < KG_MAX_PRINCIPALS / 64; w++)
		X.p[w] = ra->principals[w] & rb->principals[w] & x->pvalid[w];
	X.r = ra->regions & rb->regions & x->rvalid;
	X.c = ra->client_ids & rb->client_ids & x->cvalid;
	X.o = ra->ops & rb->ops & LINT_OPS;
	/* the earlier rules that match some of X: none, and X is decided by a */
	for (__u32 k = 0; k < ai; k++) {
		const struct kg_rule *rc = &x->c->rules[l->rules[k]];
		bool p = false;

		for (int w = 0; w < KG_MAX_PRINCIPALS / 64; w++)
			p |= (rc->principals[w] & X.p[w]) != 0;
		if (p && (rc->regions & X.r) && (rc->client_ids & X.c) && (rc->ops & X.o)) {
			m |= 1ull << nb;
			bl[nb++] = rc;
		}
	}
	return escapes(x, bl, m, &X, 0);
}

/* Two rules that decide alike: same action, both enforced or both audit-only. */
static bool same_outcome(const struct kg_prule *a, const struct kg_prule *b)
{
	return a->action == b->action && a->audit == b->audit;
}

/*
 * A rule without topics decides requests for every topic too. Placed before a rule with
 * topics, with a different outcome, it takes some of that rule's requests: warned when
 * some request for a topic is decided by it (no earlier rule matches the request) and
 * matched by the later rule. A later rule it takes all of is "shadowed" instead, and
 * rules that redirect connections at their SYN are meant that way. One warning per such
 * rule, naming the first rule it cuts into.
 */
static void lint_topicless_first(struct lctx *x)
{
	const struct kg_policy *p = x->p;
	const struct kg_compiled *c = x->c;
	int *victim = malloc((p->nrules + 1) * sizeof(*victim));
	bool stopped = false;

	if (!victim) {
		x->oom = 1;
		return;
	}
	for (int i = 0; i < p->nrules; i++)
		victim[i] = -1;
	/* class 0 and the topic-less class hold no rule that names topics */
	for (__u32 k = 1; k < c->nclasses && !stopped; k++) {
		const struct kg_class *l = &c->classes[k];

		if (k == c->topicless_class)
			continue;
		for (__u32 bi = 0; bi < l->n && !stopped; bi++) {
			int b = (int)l->rules[bi];

			if (topic_any(&p->rules[b]) || x->shadowed[b])
				continue;
			for (__u32 ai = 0; ai < bi && !stopped; ai++) {
				int a = (int)l->rules[ai], r;
				const struct kg_prule *pa = &p->rules[a];
				bool at_syn = pa->action == KG_ACT_REDIRECT && !pa->ops &&
					      !pa->nclient_ids;

				if (!topic_any(pa) || at_syn || same_outcome(pa, &p->rules[b]) ||
				    (victim[a] >= 0 && victim[a] <= b) ||
				    !overlaps(x, &c->rules[a], &c->rules[b]))
					continue;
				r = decides_for(x, l, ai, b);
				if (r < 0)
					stopped = true;
				else if (r)
					victim[a] = b;
			}
		}
	}
	for (int a = 0; a < p->nrules; a++) {
		int b = victim[a];

		if (b < 0)
			continue;
		add(x, KG_LINT_WARNING, KG_LINT_TOPICLESS_FIRST, *rpos(x, a),
		    "rule \"%s\" names no topics, so it also decides requests for topics, before "
		    "rule \"%s\" (%d:%d) below it can (%s where that rule says %s); if it is "
		    "meant for requests that name no topic (InitProducerId, FindCoordinator, "
		    "group membership), write topics: none",
		    p->rules[a].name, p->rules[b].name, rpos(x, b)->line, rpos(x, b)->col,
		    lint_actions[p->rules[a].action % KG_ACT__COUNT],
		    lint_actions[p->rules[b].action % KG_ACT__COUNT]);
	}
	if (stopped)
		add(x, KG_LINT_NOTE, KG_LINT_NOT_CHECKED, p->pos,
		    "whether rules without topics decide requests of later topic rules was not "
		    "checked to the end: the search for such requests took more than %ld steps",
		    LINT_WITNESS_BUDGET);
	free(victim);
}

/* ---- connection plumbing under a denying default ----------------------------------------- */

/* Ids of one dimension, one per group of ids every rule treats alike. */
struct reps {
	int n;
	__u32 id[KG_MAX_PRINCIPALS];
};

static bool bit_of(const struct kg_rule *r, int dim, __u32 id)
{
	if (dim == 0)
		return (r->principals[id / 64] >> (id % 64)) & 1;
	return ((dim == 1 ? r->regions : r->client_ids) >> id) & 1;
}

struct sig {
	__u64 h;
	__u32 id;
};

static int sig_cmp(const void *a, const void *b)
{
	const struct sig *x = a, *y = b;

	return x->h != y->h ? (x->h < y->h ? -1 : 1) : (x->id > y->id) - (x->id < y->id);
}

/*
 * dim 0 principals, 1 regions, 2 client ids: the ids that exist, grouped by the column
 * of bits the rules hold for them (FNV-1a over the column: two columns that differ
 * collide with probability 2^-64).
 */
static void reps_of(const struct lctx *x, int dim, struct reps *out)
{
	const struct kg_compiled *c = x->c;
	__u32 named = dim == 0 ? c->nprincipals : dim == 1 ? c->nregions : c->nclients;
	__u32 extra = dim == 0 ? KG_PRINCIPAL_OTHER : dim == 1 ? KG_REGION_NONE : KG_CLIENT_OTHER;
	struct sig s[KG_MAX_PRINCIPALS];
	int n = 0;

	for (__u32 id = 0; id <= named; id++) {
		__u32 v = id < named ? id : extra;
		__u64 h = 1469598103934665603ull;

		/* a region no address is in, or "in no region" when none can be: no request */
		if (dim == 1 && !((x->rvalid >> v) & 1))
			continue;

		for (__u32 i = 0; i < c->nrules; i++)
			h = (h ^ bit_of(&c->rules[i], dim, v)) * 1099511628211ull;
		s[n++] = (struct sig){ h, v };
	}
	qsort(s, n, sizeof(s[0]), sig_cmp);
	out->n = 0;
	for (int i = 0; i < n; i++)
		if (!i || s[i].h != s[i - 1].h)
			out->id[out->n++] = s[i].id;
}

static const char *const plumbing_what[KG_OP__COUNT] = {
	[KG_OP_PRODUCE] = "InitProducerId (every idempotent or transactional producer; Java "
			  "clients are idempotent by default since 3.0)",
	[KG_OP_CONSUME] = "FindCoordinator, JoinGroup, SyncGroup, Heartbeat and LeaveGroup "
			  "(every consumer in a group)",
	[KG_OP_DESCRIBE] = "Metadata naming no topic (clients asking for brokers only) and "
			   "DescribeCluster",
	[KG_OP_OTHER] = "GetTelemetrySubscriptions and PushTelemetry (Java clients since 3.7)",
};

struct plumbing {
	struct reps pr, rr, cr;
	long budget;
};

/* A (principal, region, client id) for which class cls allows op: the rule, or -1. */
static int allowed_somewhere(const struct lctx *x, struct plumbing *pl, __u32 cls, __u8 op)
{
	for (int a = 0; a < pl->pr.n; a++)
		for (int b = 0; b < pl->rr.n; b++)
			for (int k = 0; k < pl->cr.n; k++) {
				__u32 rule;

				pl->budget--;
				if (kg_compiled_decide_class(x->c, cls, (__u16)pl->pr.id[a],
							     (__u8)pl->rr.id[b], (__u8)pl->cr.id[k],
							     op, &rule) == KG_ACT_ALLOW)
					return (int)rule;
			}
	return -1;
}

/*
 * Under a default that denies, requests that name no topic pass only by a rule. For
 * each kind of connection plumbing: when some rule lets requests for topics through
 * (for that operation; for telemetry, any) but no rule lets the plumbing through for
 * anyone, every such client breaks: a denied request naming no topic is a reset.
 * Rules are read as enforced (audit: true and monitor mode are for trying a policy out).
 */
static void lint_plumbing(struct lctx *x)
{
	static const __u8 order[] = { KG_OP_PRODUCE, KG_OP_CONSUME, KG_OP_DESCRIBE, KG_OP_OTHER };
	const struct kg_policy *p = x->p;
	const struct kg_compiled *c = x->c;
	struct plumbing *pl;

	if (p->default_action == KG_ACT_ALLOW)
		return;
	pl = calloc(1, sizeof(*pl));
	if (!pl) {
		x->oom = 1;
		return;
	}
	reps_of(x, 0, &pl->pr);
	reps_of(x, 1, &pl->rr);
	reps_of(x, 2, &pl->cr);
	pl->budget = LINT_DECIDE_BUDGET;
	for (unsigned int o = 0; o < sizeof(order) && pl->budget > 0; o++) {
		__u8 op = order[o];
		int topic_rule = -1;

		if (allowed_somewhere(x, pl, c->topicless_class, op) >= 0)
			continue;
		for (__u32 k = 0; k < c->nclasses && topic_rule < 0 && pl->budget > 0; k++) {
			if (k && k == c->topicless_class)
				continue;
			if (op != KG_OP_OTHER)
				topic_rule = allowed_somewhere(x, pl, k, op);
			for (__u8 any = 1; op == KG_OP_OTHER && any < KG_OP__COUNT && topic_rule < 0;
			     any++)
				topic_rule = allowed_somewhere(x, pl, k, any);
		}
		if (topic_rule < 0)
			continue;
		add(x, KG_LINT_WARNING, KG_LINT_PLUMBING,
		    p->default_pos.line ? p->default_pos : p->pos,
		    "default: %s, and no rule lets %s requests that name no topic through: %s "
		    "would be reset, though rule \"%s\" (%d:%d) lets requests for topics "
		    "through; a rule with topics: none and operations: [%s] lets them through "
		    "and opens no topic (a request for all topics, such as Metadata for every "
		    "topic, is decided only by rules without topics)",
		    lint_actions[p->default_action % KG_ACT__COUNT], lint_ops[op], plumbing_what[op],
		    p->rules[topic_rule].name, rpos(x, topic_rule)->line, rpos(x, topic_rule)->col,
		    lint_ops[op]);
	}
	if (pl->budget <= 0)
		add(x, KG_LINT_NOTE, KG_LINT_NOT_CHECKED,
		    p->default_pos.line ? p->default_pos : p->pos,
		    "whether requests that name no topic (InitProducerId, FindCoordinator...) "
		    "pass was not checked: more than %ld decisions for this policy's principals, "
		    "regions, client ids and topic classes",
		    LINT_DECIDE_BUDGET);
	free(pl);
}

/* ---- policies that let everything through ---------------------------------------------- */

static struct kg_pos pos_or(struct kg_pos pos, struct kg_pos other)
{
	return pos.line ? pos : other;
}

/*
 * Fail-open settings. In monitor mode nothing is enforced, which is its purpose: a note,
 * and nothing else here applies. Otherwise: a policy whose enforced outcomes deny
 * nothing (default allow, and no rule that can match denies without audit: true); a
 * listener that lets what it cannot decode through; and ids kgate cannot name let
 * through while something is denied by name.
 */
static void lint_fail_open(struct lctx *x)
{
	const struct kg_policy *p = x->p;
	bool denies = p->default_action != KG_ACT_ALLOW, deny_rules = false, audit_denies = false;

	if (p->mode == KG_MODE_MONITOR) {
		add(x, KG_LINT_NOTE, KG_LINT_MONITOR, pos_or(p->mode_pos, p->pos),
		    "mode: monitor: every request is decided and recorded, and none is refused; "
		    "the other findings are about this policy once it enforces");
		return;
	}
	for (int i = 0; i < p->nrules; i++) {
		const struct kg_prule *r = &p->rules[i];

		if (r->action == KG_ACT_ALLOW || !matchable(x, i))
			continue;
		audit_denies |= r->audit;
		deny_rules |= !r->audit;
		/* a rule for requests that name no topic denies nothing an id could name */
		denies |= !r->audit && !r->topics_none;
	}
	if (p->default_action == KG_ACT_ALLOW && !deny_rules)
		add(x, KG_LINT_WARNING, KG_LINT_FAIL_OPEN, pos_or(p->default_pos, p->pos),
		    "default: allow, and %s: every request is allowed, kgate only records; a "
		    "policy meant to watch says mode: monitor, one meant to enforce drops audit: "
		    "true from the rules that should refuse",
		    audit_denies ? "every rule that denies has audit: true (recorded, not enforced)"
				 : "no rule denies");
	for (int i = 0; i < p->nlisteners; i++) {
		const struct kg_plistener *l = &p->listeners[i];

		if (l->on_undecodable != KG_ACT_ALLOW)
			continue;
		add(x, KG_LINT_WARNING, KG_LINT_UNDECODABLE_ALLOW,
		    pos_or(l->undecodable_pos, l->pos),
		    "listener %u: on_undecodable: allow lets every stream kgate cannot decide "
		    "through undecided (TLS, a connection open before kgate attached, a frame it "
		    "cannot parse, a request whose topics it does not read), so a client that "
		    "sends such bytes passes every rule; reset (the default) closes them",
		    l->port);
	}
	if (p->unknown_id_action == KG_ACT_ALLOW && denies)
		add(x, KG_LINT_WARNING, KG_LINT_UNKNOWN_ID_ALLOW, pos_or(p->unknown_id_pos,
									 pos_or(p->default_pos, p->pos)),
		    "unknown_topic_id: allow%s: a request naming a topic by an id kgate has not "
		    "learned yet (Fetch v13+, Produce v13, DeleteTopics v6...) passes without its "
		    "topic being decided, so what this policy denies by name it allows by id; "
		    "reject makes the client refresh its metadata and retry",
		    p->unknown_id_pos.line ? "" : " (not given: it takes default: allow)");
}

/* ---- entry points ------------------------------------------------------------------------ */

static int item_cmp(const void *a, const void *b)
{
	const struct lint_sorted *x = a, *y = b;

	if (x->item.pos.line != y->item.pos.line)
		return x->item.pos.line < y->item.pos.line ? -1 : 1;
	if (x->item.pos.col != y->item.pos.col)
		return x->item.pos.col < y->item.pos.col ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static void sort_items(struct kg_lint *l)
{
	struct lint_sorted *s = calloc(l->n + 1, sizeof(*s));

	if (!s)
		return; /* left in the order found */
	for (int i = 0; i < l->n; i++)
		s[i] = (struct lint_sorted){ l->items[i], i };
	qsort(s, l->n, sizeof(*s), item_cmp);
	for (int i = 0; i < l->n; i++)
		l->items[i] = s[i].item;
	free(s);
}

/* ---- the ids that exist ------------------------------------------------------------------- */

/* A region CIDR as the range of addresses it holds, as numbers of the family's width. */
struct lrange {
	unsigned __int128 lo, hi;
	__u8 family, prefix;
	__u32 id;
};

static int range_cmp(const void *a, const void *b)
{
	const struct lrange *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->prefix > y->prefix) - (x->prefix < y->prefix);
}

/*
 * Whether v[from..to), sorted, each inside [lo, hi], covers all of it. CIDRs are nested
 * or apart, so the outermost ones (each followed by those inside it) must follow each
 * other from lo to hi with no gap.
 */
static bool tiled(const struct lrange *v, int from, int to, unsigned __int128 lo,
		  unsigned __int128 hi)
{
	unsigned __int128 next = lo;

	for (int j = from; j < to;) {
		int k = j + 1;

		if (v[j].lo != next)
			return false;
		if (v[j].hi == hi)
			return true;
		next = v[j].hi + 1;
		while (k < to && v[k].lo <= v[j].hi)
			k++;
		j = k;
	}
	return false;
}

/*
 * The regions an address can be in, and whether one can be in none. An address is in
 * the region of its longest matching CIDR, so a region holds an address when one of its
 * CIDRs is not wholly covered by the longer CIDRs inside it; and some address is in no
 * region unless the outermost CIDRs of a family cover the whole family, for IPv4 and
 * IPv6 both. O(C log C) for the sort, then each CIDR is read once per CIDR enclosing it
 * (at most 129 deep).
 */
static int valid_regions(struct lctx *x)
{
	const struct kg_compiled *c = x->c;
	struct lrange *v = calloc(c->nregion_cidrs + 1, sizeof(*v));
	__u64 holds = 0;
	bool everywhere[2];
	__u32 n = c->nregion_cidrs;

	if (!v)
		return -1;
	for (__u32 i = 0; i < n; i++) {
		const struct kg_ccidr *e = &c->region_cidrs[i];
		unsigned int width = e->family == 4 ? 32 : 128, host = width - e->prefix;
		unsigned __int128 a = 0;

		for (unsigned int b = 0; b < width / 8; b++)
			a = a << 8 | e->addr[b];
		v[i] = (struct lrange){ .lo = a, .family = e->family, .prefix = e->prefix,
					.id = e->id };
		v[i].hi = a | (host >= 128 ? ~(unsigned __int128)0
					    : ((unsigned __int128)1 << host) - 1);
	}
	qsort(v, n, sizeof(*v), range_cmp);
	for (__u32 i = 0; i < n; i++) {
		__u32 k = i + 1;

		while (k < n && v[k].family == v[i].family && v[k].lo <= v[i].hi)
			k++;
		if (!tiled(v, (int)i + 1, (int)k, v[i].lo, v[i].hi))
			holds |= 1ull << (v[i].id % 64);
	}
	for (int f = 0; f < 2; f++) {
		__u8 family = f ? 6 : 4;
		unsigned __int128 top = f ? ~(unsigned __int128)0 : 0xffffffffu;
		__u32 from = 0, to;

		while (from < n && v[from].family != family)
			from++;
		for (to = from; to < n && v[to].family == family; to++)
			;
		everywhere[f] = tiled(v, (int)from, (int)to, 0, top);
	}
	x->rvalid = (holds & (c->nregions ? (1ull << c->nregions) - 1 : 0)) |
		    (everywhere[0] && everywhere[1] ? 0 : 1ull << KG_REGION_NONE);
	free(v);
	return 0;
}

/* The context both entry points need: the ids that exist. */
static int lint_setup(struct lctx *x, const struct kg_policy *p, const struct kg_compiled *c,
		      struct kg_lint *out)
{
	memset(x, 0, sizeof(*x));
	memset(out, 0, sizeof(*out));
	x->p = p;
	x->c = c;
	x->out = out;
	for (__u32 id = 0; id < c->nprincipals; id++)
		x->pvalid[id / 64] |= 1ull << (id % 64);
	x->pvalid[KG_PRINCIPAL_OTHER / 64] |= 1ull << (KG_PRINCIPAL_OTHER % 64);
	x->cvalid = (c->nclients ? (1ull << c->nclients) - 1 : 0) | 1ull << KG_CLIENT_OTHER;
	return valid_regions(x);
}

int kg_lint(const struct kg_policy *p, const struct kg_compiled *c, struct kg_lint *out)
{
	struct lctx x;

	if (lint_setup(&x, p, c, out))
		return -1;
	x.shadowed = calloc(p->nrules + 1, sizeof(*x.shadowed));
	if (!x.shadowed || sort_patterns(&x)) {
		free(x.shadowed);
		return -1;
	}
	lint_listeners(&x);
	lint_shadowed(&x);
	lint_contradictions(&x);
	lint_principals(&x);
	lint_redirects(&x);
	lint_cidrs(&x);
	lint_topicless_first(&x);
	lint_plumbing(&x);
	lint_fail_open(&x);
	free(x.pat_order);
	free(x.shadowed);
	sort_items(out);
	return x.oom ? -1 : 0;
}

void kg_lint_free(struct kg_lint *l)
{
	free(l->items);
	memset(l, 0, sizeof(*l));
}

int kg_lint_refuse(const struct kg_policy *p, const struct kg_compiled *c, char *err,
		   size_t errlen)
{
	struct kg_lint l;
	struct lctx x;
	int rc = 0, e = lint_setup(&x, p, c, &l);

	if (!e)
		lint_listeners(&x);
	if (e || x.oom) {
		snprintf(err, errlen, "%d:%d: out of memory linting the policy", p->pos.line,
			 p->pos.col);
		rc = -1;
	}
	for (int i = 0; i < l.n && !rc; i++) {
		const struct kg_lint_item *it = &l.items[i];

		if (it->level != KG_LINT_ERROR)
			continue;
		snprintf(err, errlen, "%d:%d: %s [%s]", it->pos.line, it->pos.col, it->msg,
			 kg_lint_code_names[it->code]);
		rc = -1;
	}
	kg_lint_free(&l);
	return rc;
}
