// SPDX-License-Identifier: Apache-2.0
/*
 * The policy language (README "Policy language", docs/DESIGN.md §4): one YAML document, read with
 * libyaml's document API, checked against a fixed schema and turned into a struct
 * kg_policy. Every error is "LINE:COL: message" with the 1-based position of the node at
 * fault (the key for unknown or repeated keys, the value for bad values, the mapping for
 * missing keys).
 *
 * The walk follows the schema, so its depth is fixed whatever the file nests. A list or
 * mapping reached twice (through a YAML alias) is refused: aliases could otherwise make
 * a small file expand into an enormous policy.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "agent/lib/lib.h"
#include "agent/policy/yaml.h"

#define NAME_MAX_LEN	63  /* kg_prule.name, kg_pregion.name, kg_pidentity.principal */
#define VERSION_MAX_LEN 127 /* kg_policy.version */

struct yctx {
	yaml_document_t *doc;
	struct kg_policy *p;
	char *err;
	size_t errlen;
	bool *entered; /* per node: a collection already walked */
	size_t nnodes;
	bool unknown_id_given;
	/*
	 * Rule names seen, for "used twice": open addressing over rule index + 1 (0: empty),
	 * sized for the rules list at twice its length, so a file of 100,000 rules is read
	 * in linear time, not in the 5 * 10^9 comparisons of a scan per rule.
	 */
	__u32 *name_slot;
	__u32 name_cap; /* a power of two */
};

static void vset_err(char *err, size_t errlen, int line, int col, const char *fmt, va_list ap)
{
	int n;

	if (!errlen)
		return;
	n = snprintf(err, errlen, "%d:%d: ", line, col);
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - n, fmt, ap);
}

static int fail_at(struct yctx *c, yaml_mark_t m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail_at(struct yctx *c, yaml_mark_t m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset_err(c->err, c->errlen, (int)m.line + 1, (int)m.column + 1, fmt, ap);
	va_end(ap);
	return -1;
}

#define fail(c, node, ...) fail_at((c), (node)->start_mark, __VA_ARGS__)

static int oom(struct yctx *c, yaml_node_t *n)
{
	return fail(c, n, "out of memory loading the policy");
}

static struct kg_pos pos_of(const yaml_node_t *n)
{
	return (struct kg_pos){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

static yaml_node_t *node_at(struct yctx *c, int i)
{
	return yaml_document_get_node(c->doc, i);
}

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = sval(n);
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

static const char *kind_of(const yaml_node_t *n)
{
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	return is_null(n) ? "nothing" : "a scalar";
}

/* A collection node may be walked once (see the file comment). */
static int enter(struct yctx *c, yaml_node_t *n, yaml_node_type_t type, const char *what,
		 const char *want)
{
	size_t i = (size_t)(n - c->doc->nodes.start);

	if (n->type != type)
		return fail(c, n, "%s: expected %s, found %s", what, want, kind_of(n));
	if (i < c->nnodes) {
		if (c->entered[i])
			return fail(c, n,
				    "%s: this list or mapping is used again through a YAML alias "
				    "(aliases of lists and mappings are not supported)",
				    what);
		c->entered[i] = true;
	}
	return 0;
}

/* A non-empty string scalar of at most max bytes (0: no limit but the file's). */
static int want_str(struct yctx *c, yaml_node_t *n, const char *what, size_t max, const char **out)
{
	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return fail(c, n, "%s: expected a string, found %s", what, kind_of(n));
	if (strlen(sval(n)) != n->data.scalar.length)
		return fail(c, n, "%s: a NUL byte in a string", what);
	if (!n->data.scalar.length)
		return fail(c, n, "%s: empty string", what);
	if (max && n->data.scalar.length > max)
		return fail(c, n, "%s: \"%.40s...\" is longer than %zu bytes", what, sval(n), max);
	*out = sval(n);
	return 0;
}

static int want_enum(struct yctx *c, yaml_node_t *n, const char *what, const char *const *names,
		     unsigned int count, const char *kind, unsigned int *out)
{
	char list[128] = "";
	const char *s;

	if (want_str(c, n, what, 0, &s))
		return -1;
	for (unsigned int i = 0; i < count; i++) {
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 names[i]);
	}
	return fail(c, n, "%s: unknown %s \"%.64s\" (expected one of: %s)", what, kind, s, list);
}

static int want_action(struct yctx *c, yaml_node_t *n, const char *what, __u8 *out)
{
	unsigned int v;

	if (want_enum(c, n, what, kg_action_names, KG_ACT__COUNT, "action", &v))
		return -1;
	*out = (__u8)v;
	return 0;
}

/* A plain (unquoted) decimal integer in [lo, hi]. */
static int want_uint(struct yctx *c, yaml_node_t *n, const char *what, unsigned long lo,
		     unsigned long hi, unsigned long *out)
{
	const char *s;
	char *end;

	if (n->type != YAML_SCALAR_NODE || is_null(n) ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return fail(c, n, "%s: expected an unquoted integer, found %s", what,
			    n->type == YAML_SCALAR_NODE && !is_null(n) ? "a quoted string"
								       : kind_of(n));
	s = sval(n);
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || *out < lo || *out > hi)
		return fail(c, n, "%s: \"%.32s\" is not an integer from %lu to %lu", what, s, lo,
			    hi);
	return 0;
}

static int want_bool(struct yctx *c, yaml_node_t *n, const char *what, bool *out)
{
	if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		if (!strcmp(sval(n), "true")) {
			*out = true;
			return 0;
		}
		if (!strcmp(sval(n), "false")) {
			*out = false;
			return 0;
		}
	}
	return fail(c, n, "%s: expected true or false", what);
}

/* ---- mappings with a fixed set of keys ----------------------------------------------- */

struct field {
	const char *key;
	int (*fn)(struct yctx *c, yaml_node_t *key, yaml_node_t *val, void *obj);
	bool required;
};

/*
 * Walks a mapping whose keys are fields[]: unknown keys, keys given twice and missing
 * required keys are errors. what names the mapping in messages.
 */
static int walk_fields(struct yctx *c, yaml_node_t *map, const char *what,
		       const struct field *fields, unsigned int nfields, void *obj)
{
	yaml_node_pair_t *pair;
	unsigned int seen = 0;

	if (enter(c, map, YAML_MAPPING_NODE, what, "a mapping"))
		return -1;
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node_at(c, pair->key), *v = node_at(c, pair->value);
		unsigned int i;

		if (k->type != YAML_SCALAR_NODE)
			return fail(c, k, "%s: a key must be a string, found %s", what, kind_of(k));
		for (i = 0; i < nfields; i++)
			if (!strcmp(sval(k), fields[i].key))
				break;
		if (i == nfields) {
			char list[256] = "";

			for (unsigned int j = 0; j < nfields; j++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
					 j ? ", " : "", fields[j].key);
			return fail(c, k, "%s: unknown key \"%.64s\" (expected one of: %s)", what,
				    sval(k), list);
		}
		if (seen & (1u << i))
			return fail(c, k, "%s: key \"%s\" given twice", what, fields[i].key);
		seen |= 1u << i;
		if (fields[i].fn(c, k, v, obj))
			return -1;
	}
	for (unsigned int i = 0; i < nfields; i++)
		if (fields[i].required && !(seen & (1u << i)))
			return fail(c, map, "%s: missing required key \"%s\"", what, fields[i].key);
	return 0;
}

/* ---- top-level settings --------------------------------------------------------------- */

static int f_version(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	const char *s;

	(void)k;
	(void)obj;
	if (want_str(c, v, "version", VERSION_MAX_LEN, &s))
		return -1;
	snprintf(c->p->version, sizeof(c->p->version), "%s", s);
	return 0;
}

static int f_mode(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	static const char *const modes[] = {
		[KG_MODE_ENFORCE] = "enforce", [KG_MODE_MONITOR] = "monitor"};
	unsigned int m;

	(void)k;
	(void)obj;
	c->p->mode_pos = pos_of(v);
	if (want_enum(c, v, "mode", modes, 2, "mode", &m))
		return -1;
	c->p->mode = (__u8)m;
	return 0;
}

static int f_default(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	(void)k;
	(void)obj;
	c->p->default_pos = pos_of(v);
	return want_action(c, v, "default", &c->p->default_action);
}

static int f_unknown_id(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	(void)k;
	(void)obj;
	c->unknown_id_given = true;
	c->p->unknown_id_pos = pos_of(v);
	return want_action(c, v, "unknown_topic_id", &c->p->unknown_id_action);
}

static int f_audit_allow(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	const char *s;
	unsigned long n;
	char *end;

	(void)k;
	(void)obj;
	if (want_str(c, v, "audit.allow", 0, &s))
		return -1;
	if (!strcmp(s, "all")) {
		c->p->audit_allow = 1;
		return 0;
	}
	if (!strcmp(s, "none")) {
		c->p->audit_allow = 0;
		return 0;
	}
	if (!strncmp(s, "1-in-", 5) && s[5] >= '1' && s[5] <= '9') {
		errno = 0;
		n = strtoul(s + 5, &end, 10);
		if (!*end && !errno && n >= 1 && n <= 255) {
			c->p->audit_allow = (__u32)n;
			return 0;
		}
	}
	return fail(c, v,
		    "audit.allow: \"%.32s\" is none of all, none, \"1-in-N\" (N from 1 to 255)", s);
}

/* audit.fold: a duration ("1s", "500ms") up to KG_FOLD_WINDOW_MAX_MS, or off. */
static int f_audit_fold(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	const char *s;
	__u64 ns = 0;

	(void)k;
	(void)obj;
	if (want_str(c, v, "audit.fold", 0, &s))
		return -1;
	/* off is a window of 0: every decision a record of its own */
	if (strcmp(s, "off") &&
	    (kg_parse_duration(s, &ns) || ns % 1000000 || ns / 1000000 > KG_FOLD_WINDOW_MAX_MS))
		return fail(c, v,
			    "audit.fold: \"%.32s\" is neither off nor a duration in whole "
			    "milliseconds up to 1h (\"1s\", \"500ms\")",
			    s);
	c->p->fold_window_ms = (__u32)(ns / 1000000);
	return 0;
}

/* audit.budget: records per second per connection, or off. */
static int f_audit_budget(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	unsigned long n;

	(void)k;
	(void)obj;
	if (v->type == YAML_SCALAR_NODE && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    !strcmp(sval(v), "off")) {
		c->p->budget = 0;
		return 0;
	}
	if (want_uint(c, v, "audit.budget (records per second per connection, or off)",
		      KG_BUDGET_MIN, KG_BUDGET_MAX, &n))
		return -1;
	c->p->budget = (__u32)n;
	return 0;
}

static const struct field audit_fields[] = {
	{"allow", f_audit_allow, true},
	{"fold", f_audit_fold, false},
	{"budget", f_audit_budget, false},
};

static int f_audit(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	(void)k;
	return walk_fields(c, v, "audit", audit_fields,
			   sizeof(audit_fields) / sizeof(audit_fields[0]), obj);
}

/* ---- listeners ------------------------------------------------------------------------ */

static int f_port(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	struct kg_plistener *l = obj;
	unsigned long port;

	(void)k;
	if (want_uint(c, v, "listener port", 1, 65535, &port))
		return -1;
	l->port = (__u16)port;
	return 0;
}

static int f_on_undecodable(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	struct kg_plistener *l = obj;

	(void)k;
	l->undecodable_pos = pos_of(v);
	return want_action(c, v, "on_undecodable", &l->on_undecodable);
}

static const struct field listener_fields[] = {
	{"port", f_port, true},
	{"on_undecodable", f_on_undecodable, false},
};

static int f_listeners(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	yaml_node_item_t *it;

	(void)k;
	(void)obj;
	if (enter(c, v, YAML_SEQUENCE_NODE, "listeners", "a list"))
		return -1;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *n = node_at(c, *it);
		struct kg_plistener *l;

		if (c->p->nlisteners >= KG_MAX_LISTENERS)
			return fail(c, n, "listeners: more than %d listeners (KG_MAX_LISTENERS)",
				    KG_MAX_LISTENERS);
		l = &c->p->listeners[c->p->nlisteners++];
		memset(l, 0, sizeof(*l));
		l->on_undecodable = KG_ACT_RESET;
		l->pos = pos_of(n);
		if (walk_fields(c, n, "listener", listener_fields, 2, l))
			return -1;
	}
	return 0;
}

/* ---- regions and identities ----------------------------------------------------------- */

static int cidr_list(struct yctx *c, yaml_node_t *v, const char *what, const char *name,
		     struct kg_cidr **cidrs, int *ncidrs)
{
	char label[96];
	yaml_node_item_t *it;

	snprintf(label, sizeof(label), "%s \"%s\"", what, name);
	if (enter(c, v, YAML_SEQUENCE_NODE, label, "a list of CIDRs"))
		return -1;
	if (v->data.sequence.items.top == v->data.sequence.items.start)
		return fail(c, v, "%s: an empty list of CIDRs", label);
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *n = node_at(c, *it);
		struct kg_pos pos = pos_of(n);
		struct kg_cidr tmp;
		const char *s;

		if (want_str(c, n, label, 0, &s))
			return -1;
		if (kg_cidr_parse(s, &tmp))
			return fail(c, n,
				    "%s: bad CIDR \"%.64s\" (expected an IPv4 or IPv6 "
				    "ADDRESS/PREFIX, or an address)",
				    label, s);
		if (kg_cidrs_push(cidrs, ncidrs, s, pos.line, pos.col))
			return oom(c, n);
	}
	return 0;
}

/* Walks a mapping NAME -> CIDR list; identities = false: regions. */
static int named_cidrs(struct yctx *c, yaml_node_t *v, bool identities)
{
	const char *what = identities ? "identity" : "region";
	int limit = identities ? KG_MAX_PRINCIPALS - 2 : KG_MAX_REGIONS - 1;
	yaml_node_pair_t *pair;

	if (enter(c, v, YAML_MAPPING_NODE, identities ? "identities" : "regions",
		  identities ? "a mapping PRINCIPAL: [CIDR, ...]" : "a mapping NAME: [CIDR, ...]"))
		return -1;
	for (pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node_at(c, pair->key), *val = node_at(c, pair->value);
		struct kg_pos pos = pos_of(k);
		int n = identities ? c->p->nidentities : c->p->nregions;
		const char *name;

		if (want_str(c, k, identities ? "identity principal" : "region name", NAME_MAX_LEN,
			     &name))
			return -1;
		if (n >= limit)
			return fail(c, k, "%s \"%s\": more than %d %s", what, name, limit,
				    identities ? "identities (KG_MAX_PRINCIPALS)"
					       : "regions (KG_MAX_REGIONS)");
		for (int i = 0; i < n; i++)
			if (!strcmp(identities ? c->p->identities[i].principal
					       : c->p->regions[i].name,
				    name))
				return fail(c, k, "%s \"%s\" defined twice", what, name);
		if (identities) {
			struct kg_pidentity *d =
				kg_policy_add_identity(c->p, name, pos.line, pos.col);

			if (!d)
				return oom(c, k);
			if (cidr_list(c, val, what, name, &d->cidrs, &d->ncidrs))
				return -1;
		} else {
			struct kg_pregion *r = kg_policy_add_region(c->p, name, pos.line, pos.col);

			if (!r)
				return oom(c, k);
			if (cidr_list(c, val, what, name, &r->cidrs, &r->ncidrs))
				return -1;
		}
	}
	return 0;
}

static int f_regions(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	(void)k;
	(void)obj;
	return named_cidrs(c, v, false);
}

static int f_identities(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	(void)k;
	(void)obj;
	return named_cidrs(c, v, true);
}

/* ---- rules ---------------------------------------------------------------------------- */

struct rule_ctx {
	int index; /* into c->p->rules (the pointer moves when rules are added) */
	yaml_node_t *map;
};

static struct kg_prule *rule_of(struct yctx *c, void *obj)
{
	return &c->p->rules[((struct rule_ctx *)obj)->index];
}

/* A non-empty list of strings into (*v, *n) with one position per item in *pos. */
static int str_list(struct yctx *c, yaml_node_t *v, const char *what, char ***out, int *n,
		    struct kg_pos **pos)
{
	yaml_node_item_t *it;
	size_t count;

	if (enter(c, v, YAML_SEQUENCE_NODE, what, "a list"))
		return -1;
	count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (!count)
		return fail(c, v, "%s: an empty list (leave the key out to match any)", what);
	*pos = calloc(count, sizeof(**pos));
	if (!*pos)
		return oom(c, v);
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *item = node_at(c, *it);
		const char *s;

		if (want_str(c, item, what, 0, &s))
			return -1;
		(*pos)[*n] = pos_of(item);
		if (kg_strv_push(out, n, s))
			return oom(c, item);
	}
	return 0;
}

static __u32 name_hash(const char *s)
{
	__u32 h = 2166136261u; /* FNV-1a */

	while (*s)
		h = (h ^ (__u8)*s++) * 16777619u;
	return h;
}

static int f_rule_name(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	struct rule_ctx *rc = obj;
	struct kg_prule *r = rule_of(c, obj);
	const char *s;

	(void)k;
	if (want_str(c, v, "rule name", NAME_MAX_LEN, &s))
		return -1;
	for (__u32 h = name_hash(s) & (c->name_cap - 1);; h = (h + 1) & (c->name_cap - 1)) {
		__u32 i = c->name_slot[h];

		if (!i) {
			c->name_slot[h] = (__u32)rc->index + 1;
			break;
		}
		if (!strcmp(c->p->rules[i - 1].name, s))
			return fail(c, v, "rule name \"%s\" used twice (first at %d:%d)", s,
				    c->p->rules[i - 1].pos.line, c->p->rules[i - 1].pos.col);
	}
	snprintf(r->name, sizeof(r->name), "%s", s);
	return 0;
}

#define RULE_LIST(field, label)                                                                    \
	static int f_rule_##field(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)       \
	{                                                                                          \
		struct kg_prule *r = rule_of(c, obj);                                              \
		(void)k;                                                                           \
		return str_list(c, v, label, &r->field, &r->n##field, &r->field##_pos);            \
	}
RULE_LIST(principals, "principals")
RULE_LIST(client_ids, "client_ids")
RULE_LIST(regions, "regions")
RULE_LIST(regions_not, "regions_not")

/*
 * topics: a list of names and prefixes, or the plain scalar none: requests that name no
 * topic. A list is always a YAML sequence, so none can never be read as a topic named
 * "none" ([none] is that topic).
 */
static int f_rule_topics(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	struct kg_prule *r = rule_of(c, obj);

	(void)k;
	if (v->type == YAML_SCALAR_NODE && !strcmp(sval(v), "none")) {
		if (v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
			return fail(c, v,
				    "topics: write none unquoted for requests that name no topic "
				    "(a topic named \"none\" is [none])");
		r->topics_none = true;
		r->none_pos = pos_of(v);
		return 0;
	}
	if (v->type == YAML_SCALAR_NODE)
		return fail(c, v, "topics: expected a list, or none, found %s", kind_of(v));
	return str_list(c, v, "topics", &r->topics, &r->ntopics, &r->topics_pos);
}

static int f_rule_ops(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	struct kg_prule *r = rule_of(c, obj);
	yaml_node_item_t *it;

	(void)k;
	if (enter(c, v, YAML_SEQUENCE_NODE, "operations", "a list"))
		return -1;
	if (v->data.sequence.items.top == v->data.sequence.items.start)
		return fail(c, v, "operations: an empty list (leave the key out to match any)");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		unsigned int op;

		if (want_enum(c, node_at(c, *it), "operations", kg_op_names, KG_OP__COUNT, "operation",
			      &op))
			return -1;
		r->ops |= (__u8)(1u << op);
	}
	return 0;
}

static int f_rule_action(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	(void)k;
	rule_of(c, obj)->action_pos = pos_of(v);
	return want_action(c, v, "action", &rule_of(c, obj)->action);
}

static int f_rule_audit(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	(void)k;
	return want_bool(c, v, "rule audit", &rule_of(c, obj)->audit);
}

static const struct field rule_fields[] = {
	{"name", f_rule_name, true},
	{"topics", f_rule_topics, false},
	{"principals", f_rule_principals, false},
	{"client_ids", f_rule_client_ids, false},
	{"operations", f_rule_ops, false},
	{"regions", f_rule_regions, false},
	{"regions_not", f_rule_regions_not, false},
	{"action", f_rule_action, true},
	{"audit", f_rule_audit, false},
};

static int f_rules(struct yctx *c, yaml_node_t *k, yaml_node_t *v, void *obj)
{
	yaml_node_item_t *it;
	size_t n;

	(void)k;
	(void)obj;
	if (enter(c, v, YAML_SEQUENCE_NODE, "rules", "a list"))
		return -1;
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	for (c->name_cap = 16; c->name_cap < 2 * n && c->name_cap < 1u << 30; c->name_cap *= 2)
		;
	free(c->name_slot);
	c->name_slot = calloc(c->name_cap, sizeof(*c->name_slot));
	if (!c->name_slot)
		return oom(c, v);
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *n = node_at(c, *it);
		struct kg_pos pos = pos_of(n);
		struct rule_ctx rc = {c->p->nrules, n};

		if (c->p->nrules >= KG_MAX_RULES)
			return fail(c, n, "more than %d rules (KG_MAX_RULES)", KG_MAX_RULES);
		if (!kg_policy_add_rule(c->p, "", pos.line, pos.col))
			return oom(c, n);
		if (walk_fields(c, n, "rule", rule_fields,
				sizeof(rule_fields) / sizeof(rule_fields[0]), &rc))
			return -1;
	}
	return 0;
}

static const struct field top_fields[] = {
	{"version", f_version, true},  {"mode", f_mode, false},
	{"default", f_default, true},  {"unknown_topic_id", f_unknown_id, false},
	{"audit", f_audit, false},     {"listeners", f_listeners, false},
	{"regions", f_regions, false}, {"identities", f_identities, false},
	{"rules", f_rules, false},
};

/* ---- entry points --------------------------------------------------------------------- */

/* Errors about the file itself: position 0:0 (unknown, as in struct kg_pos). */
static int io_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int io_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset_err(err, errlen, 0, 0, fmt, ap);
	va_end(ap);
	return -1;
}

static int syntax_error(const yaml_parser_t *y, char *err, size_t errlen)
{
	struct yctx c = {.err = err, .errlen = errlen};

	if (y->error == YAML_MEMORY_ERROR)
		return fail_at(&c, y->problem_mark, "out of memory parsing YAML");
	if (y->context)
		return fail_at(&c, y->problem_mark, "YAML syntax: %s %s",
			       y->problem ? y->problem : "error", y->context);
	return fail_at(&c, y->problem_mark, "YAML syntax: %s", y->problem ? y->problem : "error");
}

int kg_policy_parse_yaml(const char *buf, size_t len, struct kg_policy *out, char *err,
			 size_t errlen)
{
	yaml_parser_t y;
	yaml_document_t doc, extra;
	struct yctx c = {.doc = &doc, .p = out, .err = err, .errlen = errlen};
	yaml_node_t *root;
	int rc = -1;

	kg_policy_init(out);
	out->pos = (struct kg_pos){1, 1};
	if (!yaml_parser_initialize(&y))
		return fail_at(&c, (yaml_mark_t){0}, "out of memory parsing YAML");
	yaml_parser_set_input_string(&y, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&y, &doc)) {
		syntax_error(&y, err, errlen);
		yaml_parser_delete(&y);
		return -1;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		fail_at(&c, (yaml_mark_t){0}, "empty policy file (see README \"Policy language\")");
		goto out;
	}
	out->pos = pos_of(root);
	/* A second document would be silently ignored: refuse it. */
	if (!yaml_parser_load(&y, &extra)) {
		syntax_error(&y, err, errlen);
		goto out;
	}
	if (yaml_document_get_root_node(&extra)) {
		fail(&c, yaml_document_get_root_node(&extra),
		     "a second YAML document: a policy file holds one");
		yaml_document_delete(&extra);
		goto out;
	}
	yaml_document_delete(&extra);
	c.nnodes = (size_t)(doc.nodes.top - doc.nodes.start);
	c.entered = calloc(c.nnodes + 1, sizeof(*c.entered));
	if (!c.entered) {
		oom(&c, root);
		goto out;
	}
	if (walk_fields(&c, root, "policy", top_fields, sizeof(top_fields) / sizeof(top_fields[0]),
			NULL))
		goto out;
	/* Ids no topic-id lookup knows take the default unless the policy says otherwise. */
	if (!c.unknown_id_given)
		out->unknown_id_action = out->default_action;
	rc = 0;
out:
	free(c.entered);
	free(c.name_slot);
	yaml_document_delete(&doc);
	yaml_parser_delete(&y);
	return rc;
}

int kg_policy_load_yaml(const char *path, struct kg_policy *out, char *err, size_t errlen)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	FILE *f;
	int rc;

	kg_policy_init(out);
	f = fopen(path, "rb");
	if (!f)
		return io_fail(err, errlen, "cannot open: %s", strerror(errno));
	for (;;) {
		size_t n;

		if (len == cap) {
			char *nb;

			if (cap >= KG_POLICY_FILE_MAX) {
				fclose(f);
				free(buf);
				return io_fail(err, errlen,
					       "larger than %u bytes (KG_POLICY_FILE_MAX)",
					       KG_POLICY_FILE_MAX);
			}
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				fclose(f);
				free(buf);
				return io_fail(err, errlen, "out of memory reading");
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				rc = errno;
				fclose(f);
				free(buf);
				return io_fail(err, errlen, "cannot read: %s",
					       strerror(rc ? rc : EIO));
			}
			break;
		}
	}
	fclose(f);
	rc = kg_policy_parse_yaml(buf ? buf : "", len, out, err, errlen);
	free(buf);
	return rc;
}
