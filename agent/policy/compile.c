// SPDX-License-Identifier: Apache-2.0
/*
 * Policy compiler: struct kg_policy -> the contents of one generation of the policy maps
 * (maps/kgate_maps.h), so that the datapath's two lookups and short walk give exactly the
 * first-match decision of docs/DESIGN.md §4.
 *
 * Rules. Rule i becomes kg_rules[i]: one bitmask per dimension over the dimension's ids
 * ("any" = all ones, negations folded in), so a dimension test is one bit test.
 *
 * Topic classes. Every distinct pattern is a kg_topics entry: exact "ab" as gen,'a','b',0
 * and prefix "ab*" as gen,'a','b'; the empty prefix (gen only) catches topics no pattern
 * names. A topic, looked up as gen,name,0, lands on its longest matching entry: its class.
 * Every topic of a class is matched by the same rules: those whose topic is "any", those
 * with a prefix pattern that is a prefix of the class's string (for an exact class, a
 * prefix equal to it too), and for an exact class the rules naming it. A prefix pattern
 * longer than the class's, or an exact pattern other than its own, matches only topics of
 * other (longer) classes. So, with parent = the longest prefix pattern enclosing a
 * pattern (the empty prefix at the top):
 *
 *     rules(class) = rules(parent) U rules naming the pattern itself
 *
 * and the candidate list is that set in file order, cut after the first rule whose other
 * dimensions are all "any" (nothing after it can be reached), without rules that can
 * never match. Cutting the parent's list first and merging after gives the same list:
 * the union's first all-any rule is never later than the parent's.
 *
 * Requests that name no topic. The datapath looks them up as gen alone (prefixlen 8),
 * which only the empty prefix can answer. Without `topics: none` rules that entry is
 * class 0, whose rules (those whose topic is "any") are exactly the ones that match such
 * a request. With them, the empty prefix gets a class of its own (the last), listing the
 * "any" and the `topics: none` rules, and two catch-all entries, gen + the first bit of
 * the name (prefixlen 9: 0xxxxxxx and 1xxxxxxx), take every topic name that no longer
 * pattern catches to class 0. Every topic key is 16 bits or longer (a name, even an
 * empty one, is followed by its 0 byte), so it reaches a catch-all and never the empty
 * prefix; an 8-bit key reaches neither catch-all. So the datapath's lookup needs no
 * change, and a datapath already pinned decides `topics: none` as the reference does.
 *
 * Requests about all topics (a null Metadata list, DescribeAcls filters...: KG_ALL_TOPICS
 * in policy.h) need no entry: the datapath decides them in class 0 without a lookup.
 * Class 0 lists the matchable rules whose topic is "any" (no topics, or "*"), in file
 * order, cut after the first all-any one, and nothing else: a rule naming a topic is
 * only in its patterns' classes, and `topics: none` rules, when there are any, only in
 * the topic-less class (build_classes filters them out of class 0's list). That is the
 * reference's rule for such requests: "any" rules, then the default.
 *
 * Complexity, for R rules holding T topic strings in all, P distinct patterns, N name
 * references and C CIDRs: interning names and patterns in hash tables O(R + T + N)
 * expected; sorting the patterns O(P log P) comparisons (each at most 249 bytes); one walk
 * over the sorted patterns with a stack of enclosing prefixes (sorted order puts every
 * pattern right after the prefixes that enclose it), each class being a merge of its
 * parent's list (<= KG_MAX_CANDIDATES) with its own rules, stopped at
 * KG_MAX_CANDIDATES + 1: O(P * KG_MAX_CANDIDATES + T); CIDR duplicates by sorting,
 * O(C log C). No term in R x P.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/lib/lib.h"
#include "agent/policy/policy.h"

#define NONE_U32 0xffffffffu
/* Ops that a request can have: a mask covering them all is "any". */
#define OPS_VALID ((__u8)((1u << KG_OP__COUNT) - 1))

/* ---- string interning ----------------------------------------------------------------- */

/* Open addressing over (bytes, tag); keys point into the policy, which outlives compiling. */
struct smap_slot {
	const char *s; /* NULL: empty slot */
	__u32 len;
	__u32 val;
	__u8 tag;
};

struct smap {
	struct smap_slot *slot;
	__u32 cap; /* power of two */
	__u32 n;
};

static __u32 smap_hash(const char *s, __u32 len, __u8 tag)
{
	__u32 h = 2166136261u ^ tag; /* FNV-1a */

	for (__u32 i = 0; i < len; i++)
		h = (h ^ (__u8)s[i]) * 16777619u;
	return h;
}

static struct smap_slot *smap_slot_of(const struct smap *m, const char *s, __u32 len, __u8 tag)
{
	__u32 i = smap_hash(s, len, tag) & (m->cap - 1);

	for (;; i = (i + 1) & (m->cap - 1)) {
		struct smap_slot *e = &m->slot[i];

		if (!e->s || (e->len == len && e->tag == tag && !memcmp(e->s, s, len)))
			return e;
	}
}

static int smap_grow(struct smap *m)
{
	struct smap old = *m;

	m->cap = old.cap ? old.cap * 2 : 64;
	m->slot = calloc(m->cap, sizeof(*m->slot));
	if (!m->slot) {
		*m = old;
		return -1;
	}
	for (__u32 i = 0; i < old.cap; i++)
		if (old.slot[i].s)
			*smap_slot_of(m, old.slot[i].s, old.slot[i].len, old.slot[i].tag) =
				old.slot[i];
	free(old.slot);
	return 0;
}

/* The value of (s, len, tag), or NONE_U32. */
static __u32 smap_get(const struct smap *m, const char *s, __u32 len, __u8 tag)
{
	const struct smap_slot *e;

	if (!m->cap)
		return NONE_U32;
	e = smap_slot_of(m, s, len, tag);
	return e->s ? e->val : NONE_U32;
}

/* Adds (s, len, tag) = val; the key must be absent. -1 when out of memory. */
static int smap_put(struct smap *m, const char *s, __u32 len, __u8 tag, __u32 val)
{
	struct smap_slot *e;

	/* Half full at most, so probes stay short. */
	if ((m->n + 1) * 2 > m->cap && smap_grow(m))
		return -1;
	e = smap_slot_of(m, s, len, tag);
	*e = (struct smap_slot){ .s = s, .len = len, .val = val, .tag = tag };
	m->n++;
	return 0;
}

/* ---- the compiler ------------------------------------------------------------------- */

#define RF_MATCHABLE 0x01 /* some request can match the rule */
#define RF_ALLANY 0x02    /* every dimension but the topic is "any": ends a candidate list */
#define RF_TOPIC_ANY 0x04 /* the rule's topic is "any" */
#define RF_TOPIC_NONE 0x08 /* `topics: none`: only requests naming no topic */

struct pat {
	const char *s; /* into the policy */
	__u16 len;
	__u8 exact;
	struct kg_pos pos; /* first use, for errors */
};

struct cidr_ent {
	struct kg_ccidr c;
	__u32 owner; /* region index or principal id */
	__u32 order; /* file order, to name the later of two duplicates */
	struct kg_pos pos;
};

struct cctx {
	const struct kg_policy *p;
	struct kg_compiled *out;
	char *err;
	size_t errlen;

	struct smap principals, clients, regions, patterns;
	struct pat *pats;
	__u32 npats;
	__u8 *rflags;
	__u32 *rpat_start; /* rule i's patterns: rpat[rpat_start[i] .. rpat_start[i + 1]) */
	__u32 *rpat;
	__u32 nrpat;
	struct cidr_ent *rcidrs, *icidrs;
	__u32 nrcidrs, nicidrs;
	bool has_none; /* a rule says `topics: none`: requests naming no topic get their class */
};

static int fail(struct cctx *x, struct kg_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct cctx *x, struct kg_pos pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!x->errlen)
		return -1;
	n = snprintf(x->err, x->errlen, "%d:%d: ", pos.line, pos.col);
	if (n >= 0 && (size_t)n < x->errlen) {
		va_start(ap, fmt);
		vsnprintf(x->err + n, x->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int oom(struct cctx *x)
{
	return fail(x, x->p->pos, "out of memory compiling the policy");
}

static struct kg_pos item_pos(const struct kg_pos *v, int i, struct kg_pos owner)
{
	return v && v[i].line ? v[i] : owner;
}

static void mask_host_bits(__u8 *addr, unsigned int prefix, unsigned int bytes)
{
	for (unsigned int b = 0; b < bytes; b++) {
		unsigned int keep = prefix > b * 8 ? prefix - b * 8 : 0;

		if (keep < 8)
			addr[b] &= (__u8)(0xff00u >> keep);
	}
}

static const char *cidr_text(const struct kg_ccidr *c, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, a, sizeof(a));
	snprintf(buf, size, "%s/%u", a, c->prefix);
	return buf;
}

static int check_action(struct cctx *x, struct kg_pos pos, const char *what, unsigned int act)
{
	if (act >= KG_ACT__COUNT)
		return fail(x, pos, "%s: unknown action %u", what, act);
	return 0;
}

static int compile_config(struct cctx *x)
{
	const struct kg_policy *p = x->p;
	struct kg_config *cf = &x->out->config;

	if (p->mode != KG_MODE_ENFORCE && p->mode != KG_MODE_MONITOR)
		return fail(x, p->pos, "unknown mode %u", p->mode);
	if (check_action(x, p->pos, "default", p->default_action) ||
	    check_action(x, p->pos, "unknown_topic_id", p->unknown_id_action))
		return -1;
	/* kg_config.audit_allow is one byte: one allow event in at most 255. */
	if (p->audit_allow > 255)
		return fail(x, p->pos, "audit_allow %u: at most one event in 255", p->audit_allow);
	if (p->fold_window_ms > KG_FOLD_WINDOW_MAX_MS)
		return fail(x, p->pos, "audit.fold %u ms: at most %u", p->fold_window_ms,
			    KG_FOLD_WINDOW_MAX_MS);
	if (p->budget && (p->budget < KG_BUDGET_MIN || p->budget > KG_BUDGET_MAX))
		return fail(x, p->pos, "audit.budget %u: from %u to %u records per second, or off",
			    p->budget, KG_BUDGET_MIN, KG_BUDGET_MAX);
	if (p->nlisteners < 0 || p->nlisteners > KG_MAX_LISTENERS)
		return fail(x, p->pos, "%d listeners: at most %d (KG_MAX_LISTENERS)", p->nlisteners,
			    KG_MAX_LISTENERS);
	for (int i = 0; i < p->nlisteners; i++) {
		const struct kg_plistener *l = &p->listeners[i];
		struct kg_pos pos = l->pos.line ? l->pos : p->pos;

		/* Port 0 marks an unused slot in kg_config. */
		if (!l->port)
			return fail(x, pos, "listener port 0");
		for (int j = 0; j < i; j++)
			if (p->listeners[j].port == l->port)
				return fail(x, pos, "listener port %u listed twice", l->port);
		if (check_action(x, pos, "on_undecodable", l->on_undecodable))
			return -1;
		cf->listeners[i] = l->port;
		cf->on_undecodable[i] = l->on_undecodable;
	}
	cf->mode = p->mode;
	cf->default_action = p->default_action;
	cf->unknown_id_action = p->unknown_id_action;
	cf->audit_allow = (__u8)p->audit_allow;
	cf->fold_window_ms = p->fold_window_ms;
	/* a record's share of a second: the budget's GCRA cost (bpf/events.h) */
	cf->budget_cost_ns = p->budget ? (__u32)(1000000000u / p->budget) : 0;
	snprintf(x->out->version, sizeof(x->out->version), "%s", p->version);
	return 0;
}

/* Validates one CIDR and appends it, host bits cleared, to *v. */
static int add_cidr(struct cctx *x, struct cidr_ent **v, __u32 *n, const struct kg_cidr *in,
		    struct kg_pos owner_pos, __u32 owner, __u32 id, const char *what)
{
	struct kg_pos pos = in->pos.line ? in->pos : owner_pos;
	struct cidr_ent *e, *nv;

	if (in->family != 4 && in->family != 6)
		return fail(x, pos, "%s: address family %u is neither 4 nor 6", what, in->family);
	if (in->prefix > (in->family == 4 ? 32 : 128))
		return fail(x, pos, "%s: prefix /%u is longer than the address", what, in->prefix);
	/* Each of kg_regions* and kg_identities* holds KG_MAX_CIDRS per generation. */
	if (*n >= KG_MAX_CIDRS)
		return fail(x, pos, "%s: more than %d CIDRs (KG_MAX_CIDRS)", what, KG_MAX_CIDRS);
	nv = kg_grow(*v, *n, sizeof(*nv));
	if (!nv)
		return oom(x);
	*v = nv;
	e = &nv[*n];
	memset(e, 0, sizeof(*e));
	e->c.family = in->family;
	e->c.prefix = in->prefix;
	memcpy(e->c.addr, in->addr, in->family == 4 ? 4 : 16);
	mask_host_bits(e->c.addr, in->prefix, in->family == 4 ? 4 : 16);
	e->c.id = id;
	e->owner = owner;
	e->order = *n;
	e->pos = pos;
	(*n)++;
	return 0;
}

/*
 * The names the compiler gives ids to (principals, client ids): ids run from the map's
 * count up to, not including, other (the id of every name the policy never names); a name
 * more fails, naming the limit.
 */
struct name_kind {
	const char *what, *plural, *limit; /* "principal", "principals", "KG_MAX_PRINCIPALS" */
	__u32 other;
	int most; /* how many a policy may name */
};

/* Ids 1..254: 0 is ANONYMOUS, KG_PRINCIPAL_OTHER every principal never named. */
static const struct name_kind principals_kind = {"principal", "principals", "KG_MAX_PRINCIPALS",
						 KG_PRINCIPAL_OTHER, KG_MAX_PRINCIPALS - 2};
static const struct name_kind clients_kind = {"client id", "client ids", "KG_MAX_CLIENT_IDS",
					      KG_CLIENT_OTHER, KG_MAX_CLIENT_IDS - 1};

/* name's id in m, or the next free one, its name kept at names + id * stride. */
static int intern(struct cctx *x, const struct name_kind *k, struct smap *m, char *names,
		  size_t stride, const char *name, struct kg_pos pos, __u32 *id)
{
	size_t len = strlen(name);
	__u32 next = m->n;

	*id = smap_get(m, name, len, 0);
	if (*id != NONE_U32)
		return 0;
	if (next >= k->other)
		return fail(x, pos, "%s \"%s\": more than %d %s (%s)", k->what, name, k->most,
			    k->plural, k->limit);
	if (smap_put(m, name, len, 0, next))
		return oom(x);
	snprintf(names + next * stride, stride, "%s", name);
	*id = next;
	return 0;
}

/* ANONYMOUS holds id 0 (compile puts it first), so the map's count is the next free id. */
static int principal_intern(struct cctx *x, const char *name, struct kg_pos pos, __u32 *id)
{
	size_t len = strlen(name);

	if (!len || len > KD_USER_MAX)
		return fail(x, pos, "principal \"%.64s\": length %zu is not 1..%d", name, len,
			    KD_USER_MAX);
	return intern(x, &principals_kind, &x->principals, (char *)x->out->principal_names,
		      sizeof(x->out->principal_names[0]), name, pos, id);
}

static int client_intern(struct cctx *x, const char *name, struct kg_pos pos, __u32 *id)
{
	/* The datapath keeps KD_CLIENT_ID_MAX bytes: a longer name could never be told apart. */
	if (strlen(name) > KD_CLIENT_ID_MAX)
		return fail(x, pos, "client id \"%.64s...\": longer than %d bytes", name,
			    KD_CLIENT_ID_MAX);
	return intern(x, &clients_kind, &x->clients, (char *)x->out->client_names,
		      sizeof(x->out->client_names[0]), name, pos, id);
}

static int compile_regions(struct cctx *x)
{
	const struct kg_policy *p = x->p;

	for (int i = 0; i < p->nregions; i++) {
		const struct kg_pregion *r = &p->regions[i];
		size_t len = strlen(r->name);

		/* Id KG_REGION_NONE (the last) is "in no region". */
		if (i >= KG_REGION_NONE)
			return fail(x, r->pos,
				    "region \"%s\": more than %d regions (KG_MAX_REGIONS)", r->name,
				    KG_MAX_REGIONS - 1);
		if (!len)
			return fail(x, r->pos, "region with an empty name");
		if (smap_get(&x->regions, r->name, len, 0) != NONE_U32)
			return fail(x, r->pos, "region \"%s\" defined twice", r->name);
		if (smap_put(&x->regions, r->name, len, 0, i))
			return oom(x);
		snprintf(x->out->region_names[i], sizeof(x->out->region_names[0]), "%s", r->name);
		for (int j = 0; j < r->ncidrs; j++)
			if (add_cidr(x, &x->rcidrs, &x->nrcidrs, &r->cidrs[j], r->pos, i, i,
				     "region CIDRs"))
				return -1;
	}
	x->out->nregions = p->nregions;
	return 0;
}

static int compile_identities(struct cctx *x)
{
	const struct kg_policy *p = x->p;

	for (int i = 0; i < p->nidentities; i++) {
		const struct kg_pidentity *d = &p->identities[i];
		__u32 id;

		if (principal_intern(x, d->principal, d->pos, &id))
			return -1;
		for (int j = 0; j < d->ncidrs; j++)
			if (add_cidr(x, &x->icidrs, &x->nicidrs, &d->cidrs[j], d->pos, id, id,
				     "identity CIDRs"))
				return -1;
	}
	return 0;
}

/* Orders by network, then file order (host bits are already cleared). */
static int cidr_cmp_key(const struct cidr_ent *x, const struct cidr_ent *y)
{
	int d = (int)x->c.family - (int)y->c.family;

	if (!d)
		d = (int)x->c.prefix - (int)y->c.prefix;
	if (!d)
		d = memcmp(x->c.addr, y->c.addr, sizeof(x->c.addr));
	return d;
}

static int cidr_cmp(const void *a, const void *b)
{
	const struct cidr_ent *x = a, *y = b;
	int d = cidr_cmp_key(x, y);

	if (!d)
		d = x->order < y->order ? -1 : x->order > y->order;
	return d;
}

/*
 * Refuses a CIDR given to two owners (longest prefix would have no single answer) and
 * drops repeats within one owner. Sorts v; leaves the surviving entries in out.
 */
static int dedupe_cidrs(struct cctx *x, struct cidr_ent *v, __u32 n, bool regions,
			struct kg_ccidr **out, __u32 *nout)
{
	const struct cidr_ent *bad = NULL, *first_of_bad = NULL;
	__u32 k = 0;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cidr_cmp);
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return oom(x);
	for (__u32 i = 0, g = 0; i < n; i++) {
		if (i == 0 || cidr_cmp_key(&v[g], &v[i])) {
			g = i;
			(*out)[k++] = v[i].c;
			continue;
		}
		/* Report the duplicate that comes first in the file. */
		if (v[i].owner != v[g].owner && (!bad || v[i].order < bad->order)) {
			bad = &v[i];
			first_of_bad = &v[g];
		}
	}
	*nout = k;
	if (bad) {
		char buf[INET6_ADDRSTRLEN + 8];

		cidr_text(&bad->c, buf, sizeof(buf));
		if (regions)
			return fail(x, bad->pos,
				    "%s is in region \"%s\" and in region \"%s\" (%d:%d)", buf,
				    x->p->regions[bad->owner].name,
				    x->p->regions[first_of_bad->owner].name, first_of_bad->pos.line,
				    first_of_bad->pos.col);
		return fail(x, bad->pos, "%s is bound to principal \"%s\" and to \"%s\" (%d:%d)",
			    buf, x->out->principal_names[bad->owner],
			    x->out->principal_names[first_of_bad->owner], first_of_bad->pos.line,
			    first_of_bad->pos.col);
	}
	return 0;
}

/*
 * Classifies a topic pattern: 0 for "any" ("*"); 1 for an exact name or a prefix, with
 * its bytes (without the '*') in *len and *exact set; -1 with *why when it is neither a
 * Kafka topic name nor a prefix of one.
 */
static int topic_pattern(const char *t, __u16 *len, __u8 *exact, const char **why)
{
	size_t n = strlen(t), body;

	if (!strcmp(t, "*"))
		return 0;
	*exact = !(n && t[n - 1] == '*');
	body = *exact ? n : n - 1;
	if (!body) {
		*why = "empty topic name";
		return -1;
	}
	if (body > KD_TOPIC_MAX) {
		*why = "longer than 249 bytes (Kafka's topic name limit)";
		return -1;
	}
	for (size_t i = 0; i < body; i++) {
		char c = t[i];

		if (c == '*') {
			*why = "'*' is allowed only as the last character";
			return -1;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-')) {
			*why = "a Kafka topic name has only the characters [a-zA-Z0-9._-]";
			return -1;
		}
	}
	/* Kafka refuses these two names, so a rule naming them could never match. */
	if (*exact && (!strcmp(t, ".") || !strcmp(t, ".."))) {
		*why = "'.' and '..' are not topic names";
		return -1;
	}
	*len = (__u16)body;
	return 1;
}

static int rule_topics(struct cctx *x, int i, bool *topic_any)
{
	const struct kg_prule *r = &x->p->rules[i];
	const char *why = NULL;
	__u16 len;
	__u8 exact;

	*topic_any = r->ntopics == 0 && !r->topics_none;
	if (r->topics_none && r->ntopics)
		return fail(x, r->none_pos.line ? r->none_pos : r->pos,
			    "rule \"%s\": topics: none and topic patterns in one rule", r->name);
	for (int j = 0; j < r->ntopics; j++) {
		int rc = topic_pattern(r->topics[j], &len, &exact, &why);

		if (rc < 0)
			return fail(x, item_pos(r->topics_pos, j, r->pos),
				    "rule \"%s\": topic pattern \"%.64s\": %s", r->name,
				    r->topics[j], why);
		if (rc == 0)
			*topic_any = true;
	}
	/* A rule whose topic is "any" lives in the catch-all list: its patterns add nothing. */
	if (*topic_any)
		return 0;
	for (int j = 0; j < r->ntopics; j++) {
		__u32 id, *nv;

		topic_pattern(r->topics[j], &len, &exact, &why);
		id = smap_get(&x->patterns, r->topics[j], len, exact);
		if (id == NONE_U32) {
			struct pat *np;

			/*
			 * One class slot goes to the empty prefix and, with `topics: none`
			 * rules, one to requests naming no topic (whose two catch-all trie
			 * entries fit in the map's two spare slots).
			 */
			if (x->npats >= KG_MAX_PATTERNS - 1 - x->has_none)
				return fail(x, item_pos(r->topics_pos, j, r->pos),
					    "rule \"%s\": topic pattern \"%.64s\": more than %d "
					    "distinct patterns (KG_MAX_PATTERNS%s)",
					    r->name, r->topics[j], KG_MAX_PATTERNS - 1 - x->has_none,
					    x->has_none ? ", less one for topics: none" : "");
			np = kg_grow(x->pats, x->npats, sizeof(*np));
			if (!np)
				return oom(x);
			x->pats = np;
			id = x->npats++;
			np[id] = (struct pat){ r->topics[j], len, exact,
					       item_pos(r->topics_pos, j, r->pos) };
			if (smap_put(&x->patterns, r->topics[j], len, exact, id))
				return oom(x);
		}
		nv = kg_grow(x->rpat, x->nrpat, sizeof(*nv));
		if (!nv)
			return oom(x);
		x->rpat = nv;
		nv[x->nrpat++] = id;
	}
	return 0;
}

static int compile_rule(struct cctx *x, int i)
{
	const struct kg_prule *r = &x->p->rules[i];
	struct kg_rule *k = &x->out->rules[i];
	__u64 in = ~0ull, out = ~0ull;
	bool topic_any, allany = true, matchable;
	__u32 id;

	k->rule_id = i;
	k->action = r->action;
	k->flags = KG_RULE_USED | (r->audit ? KG_RULE_AUDIT : 0);
	if (r->action >= KG_ACT__COUNT)
		return fail(x, r->pos, "rule \"%s\": unknown action %u", r->name, r->action);
	if (r->ops & ~OPS_VALID)
		return fail(x, r->pos, "rule \"%s\": unknown operation bits 0x%02x", r->name,
			    r->ops & ~OPS_VALID);
	/* "Any" is all eight bits, so no op value the datapath passes is left out. */
	k->ops = r->ops ? r->ops : 0xff;

	if (!r->nprincipals)
		memset(k->principals, 0xff, sizeof(k->principals));
	for (int j = 0; j < r->nprincipals; j++) {
		if (principal_intern(x, r->principals[j], item_pos(r->principals_pos, j, r->pos),
				     &id))
			return -1;
		k->principals[id / 64] |= 1ull << (id % 64);
	}

	k->client_ids = r->nclient_ids ? 0 : ~0ull;
	for (int j = 0; j < r->nclient_ids; j++) {
		if (client_intern(x, r->client_ids[j], item_pos(r->client_ids_pos, j, r->pos), &id))
			return -1;
		k->client_ids |= 1ull << id;
	}

	/* regions: the named ones (never KG_REGION_NONE); regions_not: all the others. */
	for (int neg = 0; neg < 2; neg++) {
		char **v = neg ? r->regions_not : r->regions;
		int n = neg ? r->nregions_not : r->nregions;
		const struct kg_pos *vp = neg ? r->regions_not_pos : r->regions_pos;
		__u64 bits = 0;

		for (int j = 0; j < n; j++) {
			id = smap_get(&x->regions, v[j], strlen(v[j]), 0);
			if (id == NONE_U32)
				return fail(x, item_pos(vp, j, r->pos),
					    "rule \"%s\": unknown region \"%.64s\"", r->name, v[j]);
			bits |= 1ull << id;
		}
		if (n && neg)
			out = ~bits;
		else if (n)
			in = bits;
	}
	k->regions = in & out;

	x->rpat_start[i] = x->nrpat;
	if (rule_topics(x, i, &topic_any))
		return -1;

	for (int w = 0; w < KG_MAX_PRINCIPALS / 64; w++)
		allany &= k->principals[w] == ~0ull;
	allany &= k->client_ids == ~0ull && k->regions == ~0ull;
	allany &= (k->ops & OPS_VALID) == OPS_VALID;
	/* Only a region list and its negation can cancel out (regions: [eu], not: [eu]). */
	matchable = k->regions && k->client_ids && k->ops;
	x->rflags[i] = (matchable ? RF_MATCHABLE : 0) | (allany ? RF_ALLANY : 0) |
		       (topic_any ? RF_TOPIC_ANY : 0) | (r->topics_none ? RF_TOPIC_NONE : 0);
	return 0;
}

/*
 * out = parent's candidates merged with own (both in file order, own without repeats),
 * cut after the first all-any rule. Returns the first rule that did not fit in
 * KG_MAX_CANDIDATES, or NONE_U32.
 */
static __u32 merge_class(const struct kg_class *parent, const __u32 *own, __u32 nown,
			 const __u8 *rflags, struct kg_class *out)
{
	__u32 i = 0, j = 0, n = 0, pn = parent ? parent->n : 0;

	for (;;) {
		__u32 r;

		if (i < pn && (j >= nown || parent->rules[i] <= own[j])) {
			r = parent->rules[i++];
			if (j < nown && own[j] == r)
				j++;
		} else if (j < nown) {
			r = own[j++];
		} else {
			break;
		}
		if (n == KG_MAX_CANDIDATES) {
			out->n = n;
			return r;
		}
		out->rules[n++] = r;
		if (rflags[r] & RF_ALLANY)
			break;
	}
	out->n = n;
	return NONE_U32;
}

/* Byte order, a string before the strings it prefixes, a prefix before the same exact. */
static int pat_cmp(const void *a, const void *b, void *arg)
{
	const struct pat *v = arg, *x = &v[*(const __u32 *)a], *y = &v[*(const __u32 *)b];
	int d = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);

	if (d)
		return d;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return (int)x->exact - (int)y->exact;
}

static void class_label(const struct cctx *x, __u32 cls, char *buf, size_t size)
{
	const struct pat *pt;

	if (!cls) {
		snprintf(buf, size, "of topics no pattern names");
		return;
	}
	if (cls > x->npats) {
		snprintf(buf, size, "of requests that name no topic");
		return;
	}
	pt = &x->pats[cls - 1];
	snprintf(buf, size, "\"%.*s%s\"", pt->len > 64 ? 64 : pt->len, pt->s, pt->exact ? "" : "*");
}

static int build_classes(struct cctx *x)
{
	const struct kg_policy *p = x->p;
	struct kg_compiled *out = x->out;
	__u32 *ostart = NULL, *oend = NULL, *own = NULL, *anyl = NULL, *order = NULL;
	__u32 nany = 0, over_rule = NONE_U32, over_class = 0, r0;
	/* Enclosing prefixes strictly grow in length, so at most KD_TOPIC_MAX are open. */
	__u32 stack[KD_TOPIC_MAX + 1];
	int sp = 0, ret = -1;

	out->nclasses = x->npats + 1 + x->has_none;
	out->classes = calloc(out->nclasses, sizeof(*out->classes));
	ostart = calloc(x->npats + 1, sizeof(*ostart));
	oend = calloc(x->npats + 1, sizeof(*oend));
	own = calloc(x->nrpat + 1, sizeof(*own));
	anyl = calloc(p->nrules + 1, sizeof(*anyl));
	order = calloc(x->npats + 1, sizeof(*order));
	if (!out->classes || !ostart || !oend || !own || !anyl || !order) {
		oom(x);
		goto out;
	}

	/* Each pattern's own rules, in file order (CSR layout: counts, offsets, fill). */
	for (int i = 0; i < p->nrules; i++) {
		if (!(x->rflags[i] & RF_MATCHABLE))
			continue;
		if (x->rflags[i] & (RF_TOPIC_ANY | RF_TOPIC_NONE))
			anyl[nany++] = i;
		for (__u32 k = x->rpat_start[i]; k < x->rpat_start[i + 1]; k++)
			ostart[x->rpat[k] + 1]++;
	}
	for (__u32 k = 0; k < x->npats; k++) {
		ostart[k + 1] += ostart[k];
		oend[k] = ostart[k];
	}
	for (int i = 0; i < p->nrules; i++) {
		if (!(x->rflags[i] & RF_MATCHABLE))
			continue;
		for (__u32 k = x->rpat_start[i]; k < x->rpat_start[i + 1]; k++) {
			__u32 pid = x->rpat[k];

			/* A rule naming one pattern twice is one candidate. */
			if (oend[pid] > ostart[pid] && own[oend[pid] - 1] == (__u32)i)
				continue;
			own[oend[pid]++] = i;
		}
	}

	/* anyl holds the "any" rules and the `topics: none` ones: both decide topic-less. */
	if (x->has_none) {
		__u32 nonly = 0;

		over_rule = merge_class(NULL, anyl, nany, x->rflags, &out->classes[x->npats + 1]);
		if (over_rule != NONE_U32)
			over_class = x->npats + 1;
		for (__u32 k = 0; k < nany; k++)
			if (x->rflags[anyl[k]] & RF_TOPIC_ANY)
				anyl[nonly++] = anyl[k];
		nany = nonly;
	}
	r0 = merge_class(NULL, anyl, nany, x->rflags, &out->classes[0]);
	if (r0 < over_rule) {
		over_rule = r0;
		over_class = 0;
	}
	for (__u32 k = 0; k < x->npats; k++)
		order[k] = k;
	qsort_r(order, x->npats, sizeof(*order), pat_cmp, x->pats);
	for (__u32 o = 0; o < x->npats; o++) {
		__u32 k = order[o], r;
		const struct pat *pt = &x->pats[k];
		const struct kg_class *parent = &out->classes[0];

		while (sp) {
			const struct pat *top = &x->pats[stack[sp - 1]];

			if (top->len <= pt->len && !memcmp(top->s, pt->s, top->len))
				break;
			sp--;
		}
		if (sp)
			parent = &out->classes[stack[sp - 1] + 1];
		r = merge_class(parent, own + ostart[k], oend[k] - ostart[k], x->rflags,
				&out->classes[k + 1]);
		/* Report the overflow of the earliest rule: the first one a user can fix. */
		if (r < over_rule) {
			over_rule = r;
			over_class = k + 1;
		}
		if (!pt->exact)
			stack[sp++] = k;
	}
	if (over_rule != NONE_U32) {
		char label[96];

		class_label(x, over_class, label, sizeof(label));
		fail(x, p->rules[over_rule].pos,
		     "rule \"%s\": the topic class %s would have more than %d candidate rules "
		     "(KG_MAX_CANDIDATES); put a rule that matches everything earlier, or narrow "
		     "the rules before this one",
		     p->rules[over_rule].name, label, KG_MAX_CANDIDATES);
		goto out;
	}
	ret = 0;
out:
	free(ostart);
	free(oend);
	free(own);
	free(anyl);
	free(order);
	return ret;
}

static int emit_patterns(struct cctx *x)
{
	struct kg_compiled *out = x->out;
	size_t total = 3, off = 0;

	for (__u32 k = 0; k < x->npats; k++)
		total += x->pats[k].len;
	out->pool = malloc(total);
	out->npolicy_patterns = x->npats;
	out->npatterns = x->npats + 1 + (x->has_none ? 2 : 0);
	out->patterns = calloc(out->npatterns, sizeof(*out->patterns));
	if (!out->pool || !out->patterns)
		return oom(x);
	out->pool[off++] = '\0';
	out->topicless_class = x->has_none ? x->npats + 1 : 0;
	out->patterns[0] = (struct kg_cpattern){ .name = out->pool,
						 .class_id = out->topicless_class };
	if (x->has_none) {
		/* the two catch-alls: names whose first bit is 0, and 1 (see the file comment) */
		for (int half = 0; half < 2; half++) {
			out->pool[off] = (char)(half ? 0x80 : 0);
			out->patterns[x->npats + 1 + half] = (struct kg_cpattern){
				.name = out->pool + off, .len = 1, .catchall = 1, .class_id = 0
			};
			off++;
		}
	}
	for (__u32 k = 0; k < x->npats; k++) {
		const struct pat *pt = &x->pats[k];

		memcpy(out->pool + off, pt->s, pt->len);
		out->patterns[k + 1] = (struct kg_cpattern){ .name = out->pool + off,
							     .len = pt->len,
							     .exact = pt->exact,
							     .class_id = k + 1 };
		off += pt->len;
	}
	return 0;
}

/* The count names of one kind (names + id * stride: id's) as out->names from *n on. */
static void emit_kind(struct kg_compiled *out, __u32 *n, __u8 kind, const char *names,
		      size_t stride, __u32 count)
{
	for (__u32 id = 0; id < count; id++, (*n)++) {
		struct kg_cname *e = &out->names[*n];

		e->kind = kind;
		e->id = id;
		snprintf(e->name, sizeof(e->name), "%s", names + id * stride);
		e->len = (__u8)strlen(e->name);
	}
}

static int emit_names(struct cctx *x)
{
	struct kg_compiled *out = x->out;
	__u32 n = 0;

	out->nprincipals = x->principals.n;
	out->nclients = x->clients.n;
	out->names = calloc(out->nprincipals + out->nclients, sizeof(*out->names));
	if (!out->names)
		return oom(x);
	emit_kind(out, &n, KG_NAME_PRINCIPAL, (const char *)out->principal_names,
		  sizeof(out->principal_names[0]), out->nprincipals);
	emit_kind(out, &n, KG_NAME_CLIENT, (const char *)out->client_names,
		  sizeof(out->client_names[0]), out->nclients);
	out->nnames = n;
	return 0;
}

static int compile(struct cctx *x)
{
	const struct kg_policy *p = x->p;
	struct kg_compiled *out = x->out;

	if (compile_config(x) || compile_regions(x))
		return -1;
	/* ANONYMOUS is id 0 whether or not the policy names it (a SASL user of that name too). */
	if (smap_put(&x->principals, KG_ANONYMOUS_NAME, strlen(KG_ANONYMOUS_NAME), 0,
		     KG_PRINCIPAL_ANONYMOUS))
		return oom(x);
	snprintf(out->principal_names[0], sizeof(out->principal_names[0]), KG_ANONYMOUS_NAME);
	if (compile_identities(x) ||
	    dedupe_cidrs(x, x->rcidrs, x->nrcidrs, true, &out->region_cidrs, &out->nregion_cidrs) ||
	    dedupe_cidrs(x, x->icidrs, x->nicidrs, false, &out->identity_cidrs,
			 &out->nidentity_cidrs))
		return -1;

	if (p->nrules < 0)
		return fail(x, p->pos, "negative rule count");
	if (p->nrules > KG_MAX_RULES)
		return fail(x, p->rules[KG_MAX_RULES].pos, "more than %d rules (KG_MAX_RULES)",
			    KG_MAX_RULES);
	for (int i = 0; i < p->nrules; i++)
		x->has_none |= p->rules[i].topics_none;
	out->nrules = p->nrules;
	out->rules = calloc(p->nrules + 1, sizeof(*out->rules));
	x->rflags = calloc(p->nrules + 1, sizeof(*x->rflags));
	x->rpat_start = calloc(p->nrules + 1, sizeof(*x->rpat_start));
	if (!out->rules || !x->rflags || !x->rpat_start)
		return oom(x);
	for (int i = 0; i < p->nrules; i++)
		if (compile_rule(x, i))
			return -1;
	x->rpat_start[p->nrules] = x->nrpat;

	if (build_classes(x) || emit_patterns(x) || emit_names(x))
		return -1;
	return 0;
}

int kg_compile(const struct kg_policy *p, struct kg_compiled *out, char *err, size_t errlen)
{
	struct cctx x = { .p = p, .out = out, .err = err, .errlen = errlen };
	int ret;

	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	ret = compile(&x);
	free(x.principals.slot);
	free(x.clients.slot);
	free(x.regions.slot);
	free(x.patterns.slot);
	free(x.pats);
	free(x.rflags);
	free(x.rpat_start);
	free(x.rpat);
	free(x.rcidrs);
	free(x.icidrs);
	if (ret)
		kg_compiled_free(out);
	return ret;
}

void kg_compiled_free(struct kg_compiled *c)
{
	free(c->rules);
	free(c->patterns);
	free(c->classes);
	free(c->names);
	free(c->region_cidrs);
	free(c->identity_cidrs);
	free(c->pool);
	memset(c, 0, sizeof(*c));
}

/* ---- map keys ------------------------------------------------------------------------ */

/* Bits of a pattern's key after the generation byte. */
static unsigned int pattern_bits(const struct kg_cpattern *pat)
{
	if (pat->catchall)
		return 1;
	return 8 * (pat->len + (pat->exact ? 1 : 0));
}

void kg_topic_key_fill(const struct kg_cpattern *pat, __u8 gen, struct kg_topic_key *k)
{
	memset(k, 0, sizeof(*k));
	k->data[0] = gen;
	memcpy(k->data + 1, pat->name, pat->len);
	/* data[1 + len] is already the 0 terminator of an exact pattern. */
	k->prefixlen = 8 + pattern_bits(pat);
}

void kg_name_key_fill(const struct kg_cname *n, __u8 gen, struct kg_name_key *k)
{
	memset(k, 0, sizeof(*k));
	k->gen = gen;
	k->kind = n->kind;
	k->len = n->len;
	memcpy(k->name, n->name, n->len);
}

void kg_cidr4_key_fill(const struct kg_ccidr *c, __u8 gen, struct kg_cidr4_key *k)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = 8 + c->prefix; /* the generation byte, then the network */
	k->gen = gen;
	memcpy(k->addr, c->addr, 4);
}

void kg_cidr6_key_fill(const struct kg_ccidr *c, __u8 gen, struct kg_cidr6_key *k)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = 8 + c->prefix;
	k->gen = gen;
	memcpy(k->addr, c->addr, 16);
}

/* ---- the datapath's view --------------------------------------------------------------- */

/* The id of name among c's names of kind (KG_NAME_*), or other when it is none of them. */
static __u32 name_id(const struct kg_compiled *c, __u8 kind, const char *name, __u32 other)
{
	for (__u32 i = 0; i < c->nnames; i++)
		if (c->names[i].kind == kind && !strcmp(c->names[i].name, name))
			return c->names[i].id;
	return other;
}

__u16 kg_compiled_principal_id(const struct kg_compiled *c, const char *name)
{
	if (!name)
		return KG_PRINCIPAL_ANONYMOUS;
	return (__u16)name_id(c, KG_NAME_PRINCIPAL, name, KG_PRINCIPAL_OTHER);
}

__u8 kg_compiled_client_id(const struct kg_compiled *c, const char *client_id)
{
	if (!client_id)
		return KG_CLIENT_OTHER;
	return (__u8)name_id(c, KG_NAME_CLIENT, client_id, KG_CLIENT_OTHER);
}

/* Longest prefix over v (LPM semantics: the first prefix bits equal); NONE_U32 if none. */
static __u32 lpm_cidr(const struct kg_ccidr *v, __u32 n, __u8 family, const __u8 *addr)
{
	__u32 best = NONE_U32;
	int best_len = -1;

	for (__u32 i = 0; i < n; i++) {
		const struct kg_ccidr *e = &v[i];
		unsigned int full = e->prefix / 8, rest = e->prefix % 8;

		if (e->family != family || (int)e->prefix <= best_len)
			continue;
		if (memcmp(e->addr, addr, full))
			continue;
		if (rest && ((e->addr[full] ^ addr[full]) & (__u8)(0xff00u >> rest)))
			continue;
		best = e->id;
		best_len = e->prefix;
	}
	return best;
}

__u8 kg_compiled_region_of(const struct kg_compiled *c, __u8 family, const __u8 *addr)
{
	__u32 id = lpm_cidr(c->region_cidrs, c->nregion_cidrs, family, addr);

	return id == NONE_U32 ? KG_REGION_NONE : (__u8)id;
}

__u16 kg_compiled_identity_of(const struct kg_compiled *c, __u8 family, const __u8 *addr)
{
	__u32 id = lpm_cidr(c->identity_cidrs, c->nidentity_cidrs, family, addr);

	return id == NONE_U32 ? KG_PRINCIPAL_ANONYMOUS : (__u16)id;
}

/*
 * The kg_topics lookup as the datapath makes it: gen,topic,0 with prefixlen 8 * (len +
 * 2), or gen alone (prefixlen 8) for a request naming no topic (topic NULL). The answer
 * is the entry with the longest prefixlen that is at most the key's and whose first
 * prefixlen bits are the key's. A linear scan over every entry, bit by bit past the
 * whole bytes: a model kept obviously equal to the trie rather than fast.
 */
/* Byte i of a key after its generation: the bytes, then the terminating 0. */
static __u8 key_byte(const char *bytes, size_t len, size_t i)
{
	return i < len ? (__u8)bytes[i] : 0;
}

__u32 kg_compiled_class_of(const struct kg_compiled *c, const char *topic)
{
	size_t tlen;
	unsigned int key_bits, best_bits = 0;
	__u32 best = 0;

	/* a request about all topics: no lookup, class 0 (see the file comment) */
	if (topic == KG_ALL_TOPICS)
		return 0;
	tlen = topic ? strlen(topic) : 0;
	key_bits = topic ? 8 * (tlen + 1) : 0;
	for (__u32 k = 1; k < c->npatterns; k++) {
		const struct kg_cpattern *pt = &c->patterns[k];
		unsigned int bits = pattern_bits(pt), whole = bits / 8, rest = bits % 8, i;

		if (bits > key_bits || bits <= best_bits)
			continue;
		for (i = 0; i < whole; i++)
			if (key_byte(pt->name, pt->len, i) != key_byte(topic, tlen, i))
				break;
		if (i < whole || (rest && ((key_byte(pt->name, pt->len, whole) ^
					    key_byte(topic, tlen, whole)) &
					   (__u8)(0xff00u >> rest))))
			continue;
		best = k;
		best_bits = bits;
	}
	return c->patterns[best].class_id;
}

int kg_compiled_decide(const struct kg_compiled *c, __u16 principal_id, __u8 region_id,
		       __u8 client_cid, __u8 op, const char *topic, __u32 *rule_index)
{
	return kg_compiled_decide_class(c, kg_compiled_class_of(c, topic), principal_id,
					region_id, client_cid, op, rule_index);
}

int kg_compiled_decide_class(const struct kg_compiled *c, __u32 class_id, __u16 principal_id,
			     __u8 region_id, __u8 client_cid, __u8 op, __u32 *rule_index)
{
	const struct kg_class *cl = &c->classes[class_id];

	/* Ids are masked into range, as the datapath must for the verifier. */
	principal_id &= KG_MAX_PRINCIPALS - 1;
	region_id &= KG_MAX_REGIONS - 1;
	client_cid &= KG_MAX_CLIENT_IDS - 1;
	op &= 7;
	for (__u32 i = 0; i < cl->n && i < KG_MAX_CANDIDATES; i++) {
		const struct kg_rule *r = &c->rules[cl->rules[i]];

		if (!(r->principals[principal_id / 64] & (1ull << (principal_id % 64))) ||
		    !(r->regions & (1ull << region_id)) ||
		    !(r->client_ids & (1ull << client_cid)) || !(r->ops & (1u << op)))
			continue;
		*rule_index = cl->rules[i];
		return r->action;
	}
	*rule_index = ~0u;
	return c->config.default_action;
}

__u32 kg_compiled_syn_decide(const struct kg_compiled *c, __u16 principal_id, __u8 region_id)
{
	const struct kg_class *cl = &c->classes[0];

	principal_id &= KG_MAX_PRINCIPALS - 1;
	region_id &= KG_MAX_REGIONS - 1;
	for (__u32 i = 0; i < cl->n && i < KG_MAX_CANDIDATES; i++) {
		const struct kg_rule *r = &c->rules[cl->rules[i]];

		/* "any" is all ones: a rule naming all five operations still needs a request */
		if (r->ops != 0xff || r->client_ids != ~0ull)
			continue;
		if ((r->principals[principal_id / 64] & (1ull << (principal_id % 64))) &&
		    (r->regions & (1ull << region_id)))
			return cl->rules[i];
	}
	return ~0u;
}
