// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy eval: what the reference evaluator (agent/policy_ref.c, kg_ref_decide)
 * decides for a request against a policy file — the verdict and the deciding rule.
 * No map is touched. One query from the options, or many from stdin (--stdin), one
 * per line, so that a test can check thousands of audit records in one process.
 * Registered in kgate policy's subcommand table (agent/policy_cmd.c).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli.h"
#include "agent/policy.h"
#include "agent/policy_explain.h"
#include "agent/policy_yaml.h"

#define EV_NAME(sym, name) [sym] = name,
static const char *const ev_actions[] = {KG_ACTIONS(EV_NAME)};
static const char *const ev_dims[] = {KG_DIMS(EV_NAME)};

const char kg_policy_eval_usage[] =
	"usage: kgate policy eval [-o text|json] [--explain] FILE [--topic T] --op OP\n"
	"                         [--principal P | --sasl-user U] [--region R] [--client-id C]\n"
	"       kgate policy eval [-o text|json] [--explain] FILE --stdin\n"
	"\n"
	"What the reference evaluator (first match in file order over the policy as\n"
	"written) decides for one request against the policy FILE: the verdict (the\n"
	"action: allow, reject, reset, drop, redirect), the deciding rule ('default' when\n"
	"no rule matched), and whether the datapath enforces it. No datapath is needed.\n"
	"\n"
	"  --topic T        the topic name; left out: a request that names no topic\n"
	"                   (InitProducerId, FindCoordinator, JoinGroup, Metadata for all\n"
	"                   topics...)\n"
	"  --op OP          produce, consume, describe, admin or other\n"
	"  --principal P    ANONYMOUS (the default), an identity of the policy, or a\n"
	"                   principal a rule names; any other name is an error\n"
	"  --sasl-user U    the principal is the SASL user U, whatever its name\n"
	"  --region R       a region of the policy (left out: the source is in no region;\n"
	"                   an unknown name is an error)\n"
	"  --client-id C    the request's client.id (default: null)\n"
	"  --explain        also list every rule before the deciding one, with the first\n"
	"                   of its dimensions the request does not match\n"
	"  --stdin          read many queries from stdin, one per line, fields separated\n"
	"                   by a TAB: TOPIC OP [PRINCIPAL [REGION [CLIENT_ID [SOURCE]]]];\n"
	"                   an empty field is the default (an empty TOPIC: the request\n"
	"                   names no topic); SOURCE sasl takes PRINCIPAL as a SASL user.\n"
	"                   One answer per line, in order.\n"
	"  -o text|json     text: 'VERDICT RULE (enforced)' or 'VERDICT RULE (not\n"
	"                   enforced: ...)'; with --explain, then one line per rule before\n"
	"                   it: '  skipped RULE (LINE:COL): DIMENSION: why'.\n"
	"                   json: one object per query with topic (null: none),\n"
	"                   operation, principal, region, client_id, verdict, rule,\n"
	"                   rule_id (null: default), enforced, policy_version, mode, and\n"
	"                   with --explain \"skipped\": [{rule, rule_id, line, col,\n"
	"                   dimension, why}].\n"
	"\n"
	"The verdict is the policy's action; enforced is false in monitor mode and for a\n"
	"rule with audit: true (the request goes through, the decision is recorded).\n"
	"Exit 0; 1 when FILE is invalid (FILE:LINE:COL: message) or a query names an\n"
	"unknown operation, region or principal (the rest of a --stdin batch is still\n"
	"answered); 2 on usage errors.\n";

static int usage_err(const char *fmt, const char *arg)
{
	fprintf(stderr, "kgate policy eval: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see 'kgate policy eval --help')\n");
	return 2;
}

/* The skipped rules, as text lines or as a JSON array. */
static void explain(const struct kg_policy *p, const struct kg_eval_req *q, int rule, bool json)
{
	int upto = rule >= 0 ? rule : p->nrules;
	char why[512];

	if (json)
		fputs(",\"skipped\":[", stdout);
	for (int i = 0; i < upto; i++) {
		const struct kg_prule *r = &p->rules[i];
		enum kg_dim d = kg_eval_miss(r, q, why, sizeof(why));

		if (!json) {
			printf("  skipped %s (%d:%d): %s: %s\n", r->name, r->pos.line, r->pos.col,
			       ev_dims[d % KG_DIM__COUNT], why);
			continue;
		}
		fputs(i ? ",{\"rule\":" : "{\"rule\":", stdout);
		kg_policy_json_str(stdout, r->name);
		printf(",\"rule_id\":%d,\"line\":%d,\"col\":%d,\"dimension\":\"%s\",\"why\":", i,
		       r->pos.line, r->pos.col, ev_dims[d % KG_DIM__COUNT]);
		kg_policy_json_str(stdout, why);
		fputc('}', stdout);
	}
	if (json)
		fputc(']', stdout);
}

/* One query: 0, or 1 for a name the policy does not know (reported, the batch goes on). */
static int eval_one(const struct kg_policy *p, bool json, bool expl, const char *topic,
		    const char *opname, const char *principal, bool sasl_user, const char *region,
		    const char *client_id)
{
	struct kg_eval_req q = { .topic = topic, .principal = principal, .region = region,
				 .client_id = client_id };
	int rule = -1, act;
	const char *verdict;
	char err[512];
	bool enforced;

	if (kg_eval_check(p, opname, sasl_user, &q, err, sizeof(err))) {
		fprintf(stderr, "kgate policy eval: %s\n", err);
		if (json) {
			fputs("{\"error\":", stdout);
			kg_policy_json_str(stdout, err);
			fputs("}\n", stdout);
		} else {
			puts("error unknown-name");
		}
		return 1;
	}
	act = kg_ref_decide(p, principal, region, client_id, q.op, topic, &rule);
	verdict = act >= 0 && act < KG_ACT__COUNT ? ev_actions[act] : "unknown";
	enforced = kg_eval_enforced(p, rule);
	if (!json) {
		printf("%s %s (%s)\n", verdict, rule >= 0 ? p->rules[rule].name : "default",
		       enforced			 ? "enforced"
		       : p->mode == KG_MODE_MONITOR ? "not enforced: mode monitor"
						    : "not enforced: the rule has audit: true");
		if (expl)
			explain(p, &q, rule, false);
		return 0;
	}
	fputs("{\"topic\":", stdout);
	kg_policy_json_str(stdout, topic);
	fputs(",\"operation\":", stdout);
	kg_policy_json_str(stdout, opname);
	fputs(",\"principal\":", stdout);
	kg_policy_json_str(stdout, principal ? principal : KG_ANONYMOUS_NAME);
	fputs(",\"region\":", stdout);
	kg_policy_json_str(stdout, region);
	fputs(",\"client_id\":", stdout);
	kg_policy_json_str(stdout, client_id);
	fputs(",\"verdict\":", stdout);
	kg_policy_json_str(stdout, verdict);
	fputs(",\"rule\":", stdout);
	kg_policy_json_str(stdout, rule >= 0 ? p->rules[rule].name : NULL);
	if (rule >= 0)
		printf(",\"rule_id\":%d", rule);
	else
		fputs(",\"rule_id\":null", stdout);
	printf(",\"enforced\":%s,\"policy_version\":", enforced ? "true" : "false");
	kg_policy_json_str(stdout, p->version);
	printf(",\"mode\":\"%s\"", p->mode == KG_MODE_MONITOR ? "monitor" : "enforce");
	if (expl)
		explain(p, &q, rule, true);
	fputs("}\n", stdout);
	return 0;
}

/*
 * --stdin: TOPIC \t OP [\t PRINCIPAL [\t REGION [\t CLIENT_ID [\t SOURCE]]]]; empty =
 * default, an empty TOPIC names no topic.
 */
static int eval_stream(const struct kg_policy *p, bool json, bool expl)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	while ((n = getline(&line, &cap, stdin)) >= 0) {
		char *f[6] = {0}, *s = line;
		int nf = 0;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (!n)
			continue;
		while (nf < 6) {
			char *tab = strchr(s, '\t');

			f[nf++] = s;
			if (!tab)
				break;
			*tab = 0;
			s = tab + 1;
		}
		for (int i = 0; i < 6; i++)
			if (i != 1 && f[i] && !f[i][0])
				f[i] = NULL;
		if (!f[1]) {
			fprintf(stderr, "kgate policy eval: a query needs TOPIC<TAB>OP: '%s'\n",
				f[0] ? f[0] : "");
			puts(json ? "{\"error\":\"bad query\"}" : "error bad-query");
			rc = 1;
			continue;
		}
		if (eval_one(p, json, expl, f[0], f[1], f[2], f[5] && !strcmp(f[5], "sasl"), f[3],
			     f[4]))
			rc = 1;
		/* one answer per query as it comes: a reader may interleave */
		fflush(stdout);
	}
	free(line);
	return rc;
}

int kg_policy_eval_run(int argc, char **argv)
{
	const char *file = NULL, *topic = NULL, *op = NULL, *principal = NULL, *region = NULL,
		   *client_id = NULL, *sasl_user = NULL;
	bool json = false, from_stdin = false, expl = false;
	struct kg_policy p;
	char err[512] = "";
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;

		if (!strcmp(a, "--stdin") || !strcmp(a, "--explain")) {
			*(a[2] == 's' ? &from_stdin : &expl) = true;
			continue;
		}
		if (!strcmp(a, "--topic"))
			slot = &topic;
		else if (!strcmp(a, "--op"))
			slot = &op;
		else if (!strcmp(a, "--principal"))
			slot = &principal;
		else if (!strcmp(a, "--sasl-user"))
			slot = &sasl_user;
		else if (!strcmp(a, "--region"))
			slot = &region;
		else if (!strcmp(a, "--client-id"))
			slot = &client_id;
		if (slot || !strcmp(a, "-o")) {
			if (i + 1 >= argc)
				return usage_err("option '%s' needs a value", a);
			if (slot) {
				*slot = argv[++i];
			} else if (!strcmp(argv[i + 1], "json")) {
				json = true;
				i++;
			} else if (!strcmp(argv[i + 1], "text")) {
				json = false;
				i++;
			} else {
				return usage_err("unknown output format '%s'", argv[i + 1]);
			}
		} else if (a[0] == '-' && a[1]) {
			return usage_err("unknown option '%s'", a);
		} else if (!file) {
			file = a;
		} else {
			return usage_err("unexpected argument '%s'", a);
		}
	}
	if (!file)
		return usage_err("%s", "no policy FILE given");
	if (from_stdin && (topic || op || principal || sasl_user || region || client_id))
		return usage_err("%s", "--stdin reads the queries: no --topic, --op, ... with it");
	if (!from_stdin && !op)
		return usage_err("%s", "--op is required (or --stdin)");
	if (principal && sasl_user)
		return usage_err("%s", "--principal and --sasl-user exclude each other");

	/* Invalid as 'check' and 'apply' see it (the compiler checks the limits): refused. */
	struct kg_compiled comp = {0};

	if (kg_policy_load_yaml(file, &p, err, sizeof(err)) ||
	    kg_compile(&p, &comp, err, sizeof(err))) {
		if (!strncmp(err, "0:0: ", 5))
			fprintf(stderr, "%s: %s\n", file, err + 5);
		else
			fprintf(stderr, "%s:%s\n", file, err);
		kg_compiled_free(&comp);
		kg_policy_free(&p);
		return 1;
	}
	kg_compiled_free(&comp);
	if (from_stdin)
		rc = eval_stream(&p, json, expl);
	else
		rc = eval_one(&p, json, expl, topic, op, sasl_user ? sasl_user : principal,
			      sasl_user != NULL, region, client_id);
	kg_policy_free(&p);
	return rc;
}
