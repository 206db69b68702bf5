// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy apply | show | diff: the policy on the running datapath, through the
 * pinned maps (agent or no agent). The subcommand table is in agent/policy_cmd.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/cli.h"
#include "agent/runtime.h"

/* Interfaces one command looks at when --iface is not given. */
#define PA_MAX_IFACES 64

const char *const kg_policy_apply_usage =
	"usage: kgate policy apply [--iface IF] [-o text|json] FILE\n"
	"\n"
	"Validates FILE, then swaps it in atomically on the running datapath of IF (every\n"
	"interface pinned under /sys/fs/bpf/kgate when --iface is omitted), with or\n"
	"without 'kgate run': the new policy is written into the inactive generation and\n"
	"one word flips. Established connections are re-evaluated under the new policy.\n"
	"The policy is kept in the store (/var/lib/kgate/IF/policies/ID.yaml) under a new\n"
	"version id. Prints, per interface, the old and the new version, generation and\n"
	"version id, the time the write took and the time the swap took (us). With\n"
	"-o json also load_ms: reading, parsing and compiling FILE.\n"
	"A broken FILE is refused with FILE:LINE:COL: message and the running policy\n"
	"stays. Exit 0 when applied everywhere, 1 on an error, 2 on usage errors.\n";

const char *const kg_policy_show_usage =
	"usage: kgate policy show [--iface IF] [-o text|json]\n"
	"\n"
	"The active policy of IF (every pinned interface when omitted): version, version\n"
	"id, generation, mode, default action, listeners, the quarantine interface and\n"
	"the rules in evaluation order, read from the maps and the policy store.\n"
	"Exit 0, 1 when nothing is pinned or a map cannot be read, 2 on usage errors.\n";

const char *const kg_policy_diff_usage =
	"usage: kgate policy diff [--iface IF] [-o text|json] FILE\n"
	"\n"
	"What applying FILE would change against the active policy of IF (the first\n"
	"pinned interface when omitted): version, mode, default, listeners, regions,\n"
	"identities, and rules added (+), removed (-), changed (~) and moved (first match:\n"
	"order matters), by rule name. Nothing is applied.\n"
	"Exit 0 (with or without differences), 1 on an error, 2 on usage errors.\n";

static int sub_usage(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sub_usage(const char *sub, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kgate policy %s: ", sub);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see 'kgate policy %s --help')\n", sub);
	return 2;
}

struct pa_args {
	const char *iface;
	const char *file;
	bool json;
};

/* [--iface IF] [-o text|json] and, when want_file, one FILE. 0 or the usage exit code. */
static int parse_args(const char *sub, int argc, char **argv, bool want_file, struct pa_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--iface") || !strcmp(argv[i], "-o")) {
			if (i + 1 >= argc)
				return sub_usage(sub, "option '%s' needs a value", argv[i]);
			if (argv[i][1] == 'o') {
				if (!strcmp(argv[i + 1], "json"))
					a->json = true;
				else if (strcmp(argv[i + 1], "text"))
					return sub_usage(sub, "unknown output format '%s'",
							 argv[i + 1]);
			} else {
				a->iface = argv[i + 1];
			}
			i++;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return sub_usage(sub, "unknown option '%s'", argv[i]);
		} else if (want_file && !a->file) {
			a->file = argv[i];
		} else {
			return sub_usage(sub, "unexpected argument '%s'", argv[i]);
		}
	}
	if (want_file && !a->file)
		return sub_usage(sub, "no policy FILE given");
	return 0;
}

/* The interfaces to act on: --iface, or every pinned one. 0 when there is none. */
static int target_ifaces(const struct pa_args *a, char out[][IF_NAMESIZE], const char *sub)
{
	int n;

	if (a->iface) {
		snprintf(out[0], IF_NAMESIZE, "%s", a->iface);
		return 1;
	}
	n = kg_runtime_list(out, PA_MAX_IFACES);
	if (!n)
		fprintf(stderr,
			"kgate policy %s: no kgate datapath is pinned under %s (start 'kgate run' "
			"first)\n",
			sub, kg_pin_root());
	return n;
}

static int open_maps(const char *iface, struct kg_maps *m, const char *sub)
{
	char dir[512], err[600];

	snprintf(dir, sizeof(dir), "%s/%s", kg_pin_root(), iface);
	if (kg_maps_open_pinned(m, dir, err, sizeof(err))) {
		fprintf(stderr, "kgate policy %s: %s: no kgate datapath (%s)\n", sub, iface, err);
		return -1;
	}
	return 0;
}

/* ---- apply --------------------------------------------------------------------------- */

int kg_policy_apply_run(int argc, char **argv)
{
	char ifaces[PA_MAX_IFACES][IF_NAMESIZE], err[1024];
	struct kg_policy_file f;
	struct timespec t0, t1;
	struct pa_args a;
	double load_ms;
	int n, rc = 0, load_fail;

	if ((rc = parse_args("apply", argc, argv, true, &a)))
		return rc;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	load_fail = kg_policy_file_load(&f, a.file, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	load_ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (load_fail) {
		fprintf(stderr, "%s\n", err);
		fprintf(stderr, "kgate policy apply: %s refused; the running policy stays\n",
			a.file);
		kg_policy_file_free(&f);
		return 1;
	}
	n = target_ifaces(&a, ifaces, "apply");
	if (!n)
		rc = 1;
	for (int i = 0; i < n; i++) {
		struct kg_apply_result r;
		struct kg_maps m;

		if (open_maps(ifaces[i], &m, "apply")) {
			rc = 1;
			continue;
		}
		if (kg_policy_apply(ifaces[i], &m, &f, false, &r, err, sizeof(err))) {
			fprintf(stderr, "kgate policy apply: %s: %s\n", ifaces[i], err);
			rc = 1;
		} else if (a.json) {
			printf("{\"iface\":");
			kg_rt_json_str(stdout, ifaces[i]);
			printf(",\"old\":{\"version\":");
			if (r.old_id)
				kg_rt_json_str(stdout, r.old_version);
			else
				printf("null");
			printf(",\"version_id\":%u,\"generation\":%d},\"new\":{\"version\":",
			       r.old_id, r.old_gen);
			kg_rt_json_str(stdout, r.new_version);
			printf(",\"version_id\":%u,\"generation\":%d},\"rules\":%u,"
			       "\"load_ms\":%.1f,\"write_us\":%.1f,\"swap_us\":%.1f}\n",
			       r.new_id, r.new_gen, f.c.nrules, load_ms, r.write_us, r.swap_us);
		} else {
			printf("%s: \"%s\" (version id %u, generation %d) -> \"%s\" (version id "
			       "%u, "
			       "generation %d): %u rules written in %.0f us, swapped in %.1f us\n",
			       ifaces[i], r.old_id ? r.old_version : "none", r.old_id, r.old_gen,
			       r.new_version, r.new_id, r.new_gen, f.c.nrules, r.write_us,
			       r.swap_us);
		}
		kg_maps_close(&m);
	}
	kg_policy_file_free(&f);
	return rc;
}

/* ---- rules as text -------------------------------------------------------------------- */

static void list_text(FILE *o, const char *key, char **v, int n)
{
	if (!n)
		return;
	fprintf(o, " %s=", key);
	for (int i = 0; i < n; i++)
		fprintf(o, "%s%s", i ? "," : "", v[i]);
}

static void list_json(FILE *o, const char *key, char **v, int n)
{
	fprintf(o, ",\"%s\":[", key);
	for (int i = 0; i < n; i++) {
		if (i)
			fputc(',', o);
		kg_rt_json_str(o, v[i]);
	}
	fputc(']', o);
}

static void ops_text(FILE *o, __u8 ops, bool json)
{
	bool first = true;

	if (!json && !ops)
		return;
	fprintf(o, json ? ",\"operations\":[" : " operations=");
	for (int i = 0; i < KG_OP__COUNT; i++) {
		if (!(ops & (1u << i)))
			continue;
		fprintf(o, json ? "%s\"%s\"" : "%s%s", first ? "" : ",", kg_rt_op_names[i]);
		first = false;
	}
	if (json)
		fputc(']', o);
}

/* One rule, everything that decides what it matches and does (diff compares this). */
static void rule_text(FILE *o, const struct kg_prule *r)
{
	/* '<' is in no topic name: `topics: none` is never read as a topic named none */
	if (r->topics_none)
		fputs(" topics=<none>", o);
	list_text(o, "topics", r->topics, r->ntopics);
	list_text(o, "principals", r->principals, r->nprincipals);
	list_text(o, "client_ids", r->client_ids, r->nclient_ids);
	ops_text(o, r->ops, false);
	list_text(o, "regions", r->regions, r->nregions);
	list_text(o, "regions_not", r->regions_not, r->nregions_not);
	fprintf(o, " -> %s%s", kg_rt_action_names[r->action % KG_ACT__COUNT],
		r->audit ? " (audit only)" : "");
}

static void rule_json(FILE *o, int id, const struct kg_prule *r)
{
	fprintf(o, "{\"id\":%d,\"name\":", id);
	kg_rt_json_str(o, r->name);
	list_json(o, "topics", r->topics, r->ntopics);
	fprintf(o, ",\"topics_none\":%s", r->topics_none ? "true" : "false");
	list_json(o, "principals", r->principals, r->nprincipals);
	list_json(o, "client_ids", r->client_ids, r->nclient_ids);
	ops_text(o, r->ops, true);
	list_json(o, "regions", r->regions, r->nregions);
	list_json(o, "regions_not", r->regions_not, r->nregions_not);
	fprintf(o, ",\"action\":\"%s\",\"audit\":%s}",
		kg_rt_action_names[r->action % KG_ACT__COUNT], r->audit ? "true" : "false");
}

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
	rule_text(o, r);
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
			kg_rt_action_names[p->listeners[i].on_undecodable % KG_ACT__COUNT]);
}

static const char *mode_name(__u8 mode)
{
	return mode == KG_MODE_MONITOR ? "monitor" : "enforce";
}

/* ---- show ---------------------------------------------------------------------------- */

static int show_one(const char *iface, struct kg_names_cache *nc, bool json)
{
	const struct kg_stored_policy *sp;
	struct kg_config cfg;
	struct kg_maps m;
	char qname[IF_NAMESIZE] = "";
	int gen, e;

	if (open_maps(iface, &m, "show"))
		return -1;
	e = kg_active_config(&m, &gen, &cfg);
	kg_maps_close(&m);
	if (e) {
		fprintf(stderr, "kgate policy show: %s: reading the active policy: %s\n", iface,
			strerror(-e));
		return -1;
	}
	if (cfg.redirect_ifindex && !if_indextoname(cfg.redirect_ifindex, qname))
		snprintf(qname, sizeof(qname), "#%u", cfg.redirect_ifindex);
	sp = kg_names_lookup(nc, cfg.version_id);
	if (json) {
		printf("{\"iface\":");
		kg_rt_json_str(stdout, iface);
		printf(",\"generation\":%d,\"version_id\":%u,\"version\":", gen, cfg.version_id);
		if (sp)
			kg_rt_json_str(stdout, sp->p.version);
		else
			printf("null");
		printf(",\"mode\":\"%s\",\"default\":\"%s\",\"quarantine_ifindex\":%u,"
		       "\"listeners\":[",
		       mode_name(cfg.mode), kg_rt_action_names[cfg.default_action % KG_ACT__COUNT],
		       cfg.redirect_ifindex);
		for (int i = 0, first = 1; i < KG_MAX_LISTENERS; i++) {
			if (!cfg.listeners[i])
				continue;
			printf("%s{\"port\":%u,\"on_undecodable\":\"%s\"}", first ? "" : ",",
			       cfg.listeners[i],
			       kg_rt_action_names[cfg.on_undecodable[i] % KG_ACT__COUNT]);
			first = 0;
		}
		printf("],\"stored\":");
		if (sp)
			kg_rt_json_str(stdout, sp->path);
		else
			printf("null");
		printf(",\"rules\":");
		if (sp) {
			printf("[");
			for (int i = 0; i < sp->p.nrules; i++) {
				if (i)
					printf(",");
				rule_json(stdout, i, &sp->p.rules[i]);
			}
			printf("]");
		} else {
			printf("null");
		}
		printf("}\n");
		return 0;
	}
	if (!cfg.version_id) {
		printf("%s: no policy applied (generation %d): every connection passes\n", iface,
		       gen);
		return 0;
	}
	printf("%s: policy \"%s\" (version id %u), generation %d, mode %s, default %s\n", iface,
	       sp ? sp->p.version : "?", cfg.version_id, gen, mode_name(cfg.mode),
	       kg_rt_action_names[cfg.default_action % KG_ACT__COUNT]);
	printf("  listeners:");
	for (int i = 0; i < KG_MAX_LISTENERS; i++)
		if (cfg.listeners[i])
			printf(" %u (on_undecodable %s)", cfg.listeners[i],
			       kg_rt_action_names[cfg.on_undecodable[i] % KG_ACT__COUNT]);
	printf("\n");
	if (*qname)
		printf("  quarantine: %s\n", qname);
	if (!sp) {
		printf("  rules: not in the policy store (%s)\n", kg_state_dir());
		return 0;
	}
	printf("  stored: %s\n  rules (%d, first match wins):\n", sp->path, sp->p.nrules);
	for (int i = 0; i < sp->p.nrules; i++) {
		printf("    %d %s:", i, sp->p.rules[i].name);
		rule_text(stdout, &sp->p.rules[i]);
		printf("\n");
	}
	return 0;
}

int kg_policy_show_run(int argc, char **argv)
{
	char ifaces[PA_MAX_IFACES][IF_NAMESIZE];
	struct kg_names_cache *nc;
	struct pa_args a;
	int n, rc;

	if ((rc = parse_args("show", argc, argv, false, &a)))
		return rc;
	n = target_ifaces(&a, ifaces, "show");
	if (!n)
		return 1;
	nc = kg_names_cache_new();
	if (!nc)
		return 1;
	for (int i = 0; i < n; i++)
		if (show_one(ifaces[i], nc, a.json))
			rc = 1;
	kg_names_cache_free(nc);
	return rc;
}

/* ---- diff ---------------------------------------------------------------------------- */

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
		kg_rt_json_str(stdout, what);
		printf(",\"old\":");
		if (old)
			kg_rt_json_str(stdout, old);
		else
			printf("null");
		printf(",\"new\":");
		if (new)
			kg_rt_json_str(stdout, new);
		else
			printf("null");
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

static void diff_policies(struct differ *d, const struct kg_policy *o, const struct kg_policy *n)
{
	char what[128], a[64], b[64];
	char *s1, *s2;
	int common = 0, rank_o = 0;

	if (strcmp(o->version, n->version))
		diff_item(d, "setting", "version", o->version, n->version);
	if (o->mode != n->mode)
		diff_item(d, "setting", "mode", mode_name(o->mode), mode_name(n->mode));
	if (o->default_action != n->default_action)
		diff_item(d, "setting", "default",
			  kg_rt_action_names[o->default_action % KG_ACT__COUNT],
			  kg_rt_action_names[n->default_action % KG_ACT__COUNT]);
	if (o->audit_allow != n->audit_allow) {
		snprintf(a, sizeof(a), "%u", o->audit_allow);
		snprintf(b, sizeof(b), "%u", n->audit_allow);
		diff_item(d, "setting", "audit allow (1 in N, 0 none)", a, b);
	}
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

int kg_policy_diff_run(int argc, char **argv)
{
	char ifaces[PA_MAX_IFACES][IF_NAMESIZE], err[1024];
	const struct kg_stored_policy *sp;
	struct kg_policy_file f;
	struct kg_names_cache *nc;
	struct differ d = {0};
	struct kg_config cfg;
	struct kg_maps m;
	struct kg_policy empty;
	struct pa_args a;
	int rc, gen, e;

	if ((rc = parse_args("diff", argc, argv, true, &a)))
		return rc;
	if (kg_policy_file_load(&f, a.file, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		kg_policy_file_free(&f);
		return 1;
	}
	if (!target_ifaces(&a, ifaces, "diff") || open_maps(ifaces[0], &m, "diff")) {
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
	d.json = a.json;
	if (a.json) {
		printf("{\"iface\":");
		kg_rt_json_str(stdout, ifaces[0]);
		printf(",\"active\":{\"version\":");
		if (sp)
			kg_rt_json_str(stdout, sp->p.version);
		else
			printf("null");
		printf(",\"version_id\":%u},\"file\":", cfg.version_id);
		kg_rt_json_str(stdout, a.file);
		printf(",\"version\":");
		kg_rt_json_str(stdout, f.p.version);
		printf(",\"changes\":[");
	} else {
		printf("%s: active \"%s\" (version id %u) -> %s \"%s\"\n", ifaces[0],
		       sp ? sp->p.version : "none", cfg.version_id, a.file, f.p.version);
	}
	diff_policies(&d, sp ? &sp->p : &empty, &f.p);
	if (a.json)
		printf("],\"differences\":%d}\n", d.n);
	else
		printf("%d difference%s\n", d.n, d.n == 1 ? "" : "s");
	kg_names_cache_free(nc);
	kg_policy_file_free(&f);
	return 0;
}
