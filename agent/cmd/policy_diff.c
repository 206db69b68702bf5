// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy diff: what applying a file would change against the active policy (from the
 * policy store): settings, regions, identities, and rules added, removed, changed, moved.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd/cmd.h"
#include "agent/datapath/datapath.h"
#include "agent/policy/store.h"

static int policy_diff(int argc, char **argv);

static const struct kg_opt diff_opts[] = {
	KG_OPT_STR("iface", "IF", struct kg_iface_args, iface,
		   "the interface (default: the first pinned one,\n"
		   "in name order)"),
	KG_OPT_OUTPUT(struct kg_iface_args, output, kg_output_text_json,
		      "text (default), or json: one object, the\n"
		      "interface's differences"),
	KG_OPT_ARG("policy FILE", "FILE", struct kg_iface_args, file),
	KG_OPT_END,
};

const struct kg_cmd kg_cmd_policy_diff = {
	.name = "policy diff",
	.summary = "what applying a policy file would change",
	.about = "What applying FILE would change against the active policy of IF (the first\n"
		 "pinned interface, in name order, when omitted): version, mode, default,\n"
		 "listeners, regions, identities, and rules added (+), removed (-), changed (~)\n"
		 "and moved (first match: order matters), by rule name. Nothing is applied.\n",
	.opts = diff_opts,
	.epilog = "Exit 0 (with or without differences), 1 on an error, 2 on usage errors.\n",
	.run = policy_diff,
};

/* A malloc'ed string of what f prints. */
static char *render(void (*fn)(FILE *, const void *), const void *arg)
{
	char *s = NULL;
	size_t n = 0;
	FILE *o = open_memstream(&s, &n);

	if (!o)
		return NULL;
	fn(o, arg);
	fclose(o);
	return s;
}

static void rule_text_v(FILE *o, const void *r)
{
	kg_policy_rule_print(o, r, false);
}

static void cidrs_text(FILE *o, const struct kg_cidr *v, int n)
{
	char a[INET6_ADDRSTRLEN];

	for (int i = 0; i < n; i++) {
		inet_ntop(v[i].family == 4 ? AF_INET : AF_INET6, v[i].addr, a, sizeof(a));
		fprintf(o, "%s%s/%u", i ? "," : "", a, v[i].prefix);
	}
}

static void listeners_text(FILE *o, const void *arg)
{
	const struct kg_policy *p = arg;

	for (int i = 0; i < p->nlisteners; i++)
		fprintf(o, "%s%u (on_undecodable %s)", i ? ", " : "", p->listeners[i].port,
			kg_action_names[p->listeners[i].on_undecodable % KG_ACT__COUNT]);
}

struct differ {
	bool json;
	int n;
};

/* One difference: kind "+", "-", "~", "moved" or "setting"; what; old/new texts. */
static void diff_item(struct differ *d, const char *kind, const char *what, const char *old,
		      const char *new)
{
	if (d->json) {
		const char *change = !strcmp(kind, "+")	  ? "added"
				     : !strcmp(kind, "-") ? "removed"
				     : !strcmp(kind, "~") ? "changed"
							  : kind;

		printf("%s{\"change\":\"%s\",\"what\":", d->n++ ? "," : "", change);
		kg_json_fput(stdout, what);
		printf(",\"old\":");
		kg_json_fput(stdout, old);
		printf(",\"new\":");
		kg_json_fput(stdout, new);
		printf("}");
		return;
	}
	d->n++;
	if (!strcmp(kind, "+"))
		printf("+ %s:%s\n", what, new);
	else if (!strcmp(kind, "-"))
		printf("- %s:%s\n", what, old);
	else if (!strcmp(kind, "~"))
		printf("~ %s:\n    old:%s\n    new:%s\n", what, old, new);
	else
		printf("~ %s: %s -> %s\n", what, old, new);
}

static int find_rule(const struct kg_policy *p, const char *name)
{
	for (int i = 0; i < p->nrules; i++)
		if (!strcmp(p->rules[i].name, name))
			return i;
	return -1;
}

static void diff_named_cidrs(struct differ *d, const char *kind,
			     const char *(*name)(const void *, int),
			     const struct kg_cidr *(*cidrs)(const void *, int, int *),
			     const void *o, int no, const void *nw, int nn)
{
	char what[128];

	for (int i = 0; i < no; i++) {
		int j, nc1, nc2;
		const struct kg_cidr *c1 = cidrs(o, i, &nc1), *c2;
		char *s1 = NULL, *s2 = NULL;
		size_t l1, l2;
		FILE *f;

		for (j = 0; j < nn && strcmp(name(o, i), name(nw, j)); j++)
			;
		snprintf(what, sizeof(what), "%s %s", kind, name(o, i));
		f = open_memstream(&s1, &l1);
		if (!f)
			return;
		fputc(' ', f);
		cidrs_text(f, c1, nc1);
		fclose(f);
		if (j == nn) {
			diff_item(d, "-", what, s1, NULL);
		} else {
			c2 = cidrs(nw, j, &nc2);
			f = open_memstream(&s2, &l2);
			if (f) {
				fputc(' ', f);
				cidrs_text(f, c2, nc2);
				fclose(f);
				if (strcmp(s1, s2))
					diff_item(d, "~", what, s1, s2);
			}
		}
		free(s1);
		free(s2);
	}
	for (int j = 0; j < nn; j++) {
		int i, nc2;
		char *s2 = NULL;
		size_t l2;
		FILE *f;

		for (i = 0; i < no && strcmp(name(o, i), name(nw, j)); i++)
			;
		if (i < no)
			continue;
		snprintf(what, sizeof(what), "%s %s", kind, name(nw, j));
		f = open_memstream(&s2, &l2);
		if (!f)
			return;
		fputc(' ', f);
		cidrs_text(f, cidrs(nw, j, &nc2), nc2);
		fclose(f);
		diff_item(d, "+", what, NULL, s2);
		free(s2);
	}
}

static const char *region_name(const void *v, int i)
{
	return ((const struct kg_pregion *)v)[i].name;
}

static const struct kg_cidr *region_cidrs(const void *v, int i, int *n)
{
	*n = ((const struct kg_pregion *)v)[i].ncidrs;
	return ((const struct kg_pregion *)v)[i].cidrs;
}

static const char *identity_name(const void *v, int i)
{
	return ((const struct kg_pidentity *)v)[i].principal;
}

static const struct kg_cidr *identity_cidrs(const void *v, int i, int *n)
{
	*n = ((const struct kg_pidentity *)v)[i].ncidrs;
	return ((const struct kg_pidentity *)v)[i].cidrs;
}

/* A numeric setting that changed. */
static void diff_number(struct differ *d, const char *what, __u32 o, __u32 n)
{
	char a[16], b[16];

	if (o == n)
		return;
	snprintf(a, sizeof(a), "%u", o);
	snprintf(b, sizeof(b), "%u", n);
	diff_item(d, "setting", what, a, b);
}

static void diff_policies(struct differ *d, const struct kg_policy *o, const struct kg_policy *n)
{
	char what[128], a[64], b[64];
	char *s1, *s2;
	int common = 0, rank_o = 0;

	if (strcmp(o->version, n->version))
		diff_item(d, "setting", "version", o->version, n->version);
	if (o->mode != n->mode)
		diff_item(d, "setting", "mode", kg_mode_name(o->mode), kg_mode_name(n->mode));
	if (o->default_action != n->default_action)
		diff_item(d, "setting", "default",
			  kg_action_names[o->default_action % KG_ACT__COUNT],
			  kg_action_names[n->default_action % KG_ACT__COUNT]);
	diff_number(d, "audit allow (1 in N, 0 none)", o->audit_allow, n->audit_allow);
	diff_number(d, "audit fold (ms, 0 off)", o->fold_window_ms, n->fold_window_ms);
	diff_number(d, "audit budget (records/s per connection, 0 off)", o->budget, n->budget);
	s1 = render(listeners_text, o);
	s2 = render(listeners_text, n);
	if (s1 && s2 && strcmp(s1, s2))
		diff_item(d, "setting", "listeners", s1, s2);
	free(s1);
	free(s2);
	diff_named_cidrs(d, "region", region_name, region_cidrs, o->regions, o->nregions,
			 n->regions, n->nregions);
	diff_named_cidrs(d, "identity", identity_name, identity_cidrs, o->identities,
			 o->nidentities, n->identities, n->nidentities);

	/* rules by name: removed, changed, and moved among the rules both have */
	for (int i = 0; i < o->nrules; i++) {
		int j = find_rule(n, o->rules[i].name);

		snprintf(what, sizeof(what), "rule %s", o->rules[i].name);
		s1 = render(rule_text_v, &o->rules[i]);
		if (j < 0) {
			diff_item(d, "-", what, s1, NULL);
		} else {
			s2 = render(rule_text_v, &n->rules[j]);
			if (s1 && s2 && strcmp(s1, s2))
				diff_item(d, "~", what, s1, s2);
			free(s2);
		}
		free(s1);
	}
	for (int j = 0; j < n->nrules; j++) {
		if (find_rule(o, n->rules[j].name) >= 0)
			continue;
		snprintf(what, sizeof(what), "rule %s (at %d)", n->rules[j].name, j);
		s2 = render(rule_text_v, &n->rules[j]);
		diff_item(d, "+", what, NULL, s2);
		free(s2);
	}
	/* order among common rules: first match makes a move a change of meaning */
	for (int i = 0; i < o->nrules; i++) {
		int j = find_rule(n, o->rules[i].name), rank_n = 0;

		if (j < 0)
			continue;
		for (int k = 0; k < j; k++)
			if (find_rule(o, n->rules[k].name) >= 0)
				rank_n++;
		if (rank_n != rank_o) {
			snprintf(what, sizeof(what), "rule %s position", o->rules[i].name);
			snprintf(a, sizeof(a), "%d", i);
			snprintf(b, sizeof(b), "%d", j);
			diff_item(d, "moved", what, a, b);
		}
		rank_o++;
		common++;
	}
	(void)common;
}

static int policy_diff(int argc, char **argv)
{
	char ifaces[KG_REPORT_MAX_IFACES][IF_NAMESIZE], err[1024];
	const struct kg_stored_policy *sp;
	struct kg_policy_file f;
	struct kg_names_cache *nc;
	struct differ d = {0};
	struct kg_config cfg;
	struct kg_maps m;
	struct kg_policy empty;
	struct kg_iface_args a = {0};
	int rc, gen, e;

	if ((rc = kg_opt_parse(&kg_cmd_policy_diff, argc, argv, &a)))
		return rc;
	kg_json_doc(false); /* one interface's diff, --iface or not */
	if (kg_policy_file_load(&f, a.file, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		kg_policy_file_free(&f);
		return 1;
	}
	if (!kg_target_ifaces(&kg_cmd_policy_diff, a.iface, ifaces) ||
	    kg_cmd_open_maps(&kg_cmd_policy_diff, ifaces[0], &m)) {
		kg_policy_file_free(&f);
		return 1;
	}
	e = kg_active_config(&m, &gen, &cfg);
	kg_maps_close(&m);
	if (e) {
		fprintf(stderr, "kgate policy diff: %s: reading the active policy: %s\n", ifaces[0],
			strerror(-e));
		kg_policy_file_free(&f);
		return 1;
	}
	nc = kg_names_cache_new();
	sp = nc ? kg_names_lookup(nc, cfg.version_id) : NULL;
	if (cfg.version_id && !sp) {
		fprintf(stderr,
			"kgate policy diff: %s: the active policy (version id %u) is not in the "
			"policy store under %s\n",
			ifaces[0], cfg.version_id, kg_state_dir());
		kg_names_cache_free(nc);
		kg_policy_file_free(&f);
		return 1;
	}
	kg_policy_init(&empty);
	d.json = a.output == 1;
	if (d.json) {
		kg_json_item();
		printf("{\"iface\":");
		kg_json_fput(stdout, ifaces[0]);
		printf(",\"active\":{\"version\":");
		kg_json_fput(stdout, sp ? sp->p.version : NULL);
		printf(",\"version_id\":%u},\"file\":", cfg.version_id);
		kg_json_fput(stdout, a.file);
		printf(",\"version\":");
		kg_json_fput(stdout, f.p.version);
		printf(",\"changes\":[");
	} else {
		printf("%s: active \"%s\" (version id %u) -> %s \"%s\"\n", ifaces[0],
		       sp ? sp->p.version : "none", cfg.version_id, a.file, f.p.version);
	}
	diff_policies(&d, sp ? &sp->p : &empty, &f.p);
	if (d.json)
		printf("],\"differences\":%d}\n", d.n);
	else
		printf("%d difference%s\n", d.n, d.n == 1 ? "" : "s");
	kg_names_cache_free(nc);
	kg_policy_file_free(&f);
	return 0;
}
