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

#include "agent/cmd/cmd.h"
#include "agent/policy/policy.h"
#include "agent/policy/yaml.h"

#define EV_NAME(sym, name) [sym] = name,
static const char *const ev_ops[] = {KG_OPS(EV_NAME)};
static const char *const ev_actions[] = {KG_ACTIONS(EV_NAME)};

const char kg_policy_eval_usage[] =
	"usage: kgate policy eval [-o text|json] FILE --topic T --op OP [--principal P]\n"
	"                         [--region R] [--client-id C]\n"
	"       kgate policy eval [-o text|json] FILE --stdin\n"
	"\n"
	"What the reference evaluator (first match in file order over the policy as\n"
	"written, DESIGN 4) decides for one request against the policy FILE: the verdict\n"
	"(the action: allow, reject, reset, drop, redirect) and the deciding rule, or\n"
	"'default' when no rule matched. No datapath is needed or touched.\n"
	"\n"
	"  --topic T        the topic name\n"
	"  --op OP          produce, consume, describe, admin or other\n"
	"  --principal P    the principal (default ANONYMOUS)\n"
	"  --region R       the source's region (default: in no region)\n"
	"  --client-id C    the request's client.id (default: null)\n"
	"  --stdin          read many queries from stdin, one per line, fields separated\n"
	"                   by a TAB: TOPIC OP [PRINCIPAL [REGION [CLIENT_ID]]]; an empty\n"
	"                   field is the default. One answer per line, in order.\n"
	"  -o text|json     text: 'VERDICT RULE' (RULE is 'default' when none decided);\n"
	"                   json: one object per query with topic, operation, principal,\n"
	"                   region, client_id, verdict, rule, rule_id (null: default),\n"
	"                   policy_version, mode.\n"
	"\n"
	"Text and JSON give the policy's action; in monitor mode that is what enforcement\n"
	"would do. Exit 0; 1 when FILE is invalid (FILE:LINE:COL: message) or a query\n"
	"names an unknown operation; 2 on usage errors.\n";

static int usage_err(const char *fmt, const char *arg)
{
	fprintf(stderr, "kgate policy eval: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see 'kgate policy eval --help')\n");
	return 2;
}

static int op_of(const char *s)
{
	for (int i = 0; i < KG_OP__COUNT; i++)
		if (ev_ops[i] && !strcmp(ev_ops[i], s))
			return i;
	return -1;
}

/* One query: 0, or 1 for an unknown operation (reported, the batch goes on). */
static int eval_one(const struct kg_policy *p, bool json, const char *topic, const char *opname,
		    const char *principal, const char *region, const char *client_id)
{
	int op = op_of(opname), rule = -1, act;
	const char *verdict;

	if (op < 0) {
		fprintf(stderr, "kgate policy eval: unknown operation '%s'\n", opname);
		if (json) {
			fputs("{\"error\":\"unknown operation\",\"operation\":", stdout);
			kg_policy_json_str(stdout, opname);
			fputs("}\n", stdout);
		} else {
			puts("error unknown-operation");
		}
		return 1;
	}
	act = kg_ref_decide(p, principal, region, client_id, (__u8)op, topic, &rule);
	verdict = act >= 0 && act < KG_ACT__COUNT ? ev_actions[act] : "unknown";
	if (!json) {
		printf("%s %s\n", verdict, rule >= 0 ? p->rules[rule].name : "default");
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
	fputs(",\"policy_version\":", stdout);
	kg_policy_json_str(stdout, p->version);
	printf(",\"mode\":\"%s\"}\n", p->mode == KG_MODE_MONITOR ? "monitor" : "enforce");
	return 0;
}

/* --stdin: TOPIC \t OP [\t PRINCIPAL [\t REGION [\t CLIENT_ID]]]; empty = default. */
static int eval_stream(const struct kg_policy *p, bool json)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	while ((n = getline(&line, &cap, stdin)) >= 0) {
		char *f[5] = {0}, *s = line;
		int nf = 0;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (!n)
			continue;
		while (nf < 5) {
			char *tab = strchr(s, '\t');

			f[nf++] = s;
			if (!tab)
				break;
			*tab = 0;
			s = tab + 1;
		}
		for (int i = 2; i < 5; i++)
			if (f[i] && !f[i][0])
				f[i] = NULL;
		if (!f[1]) {
			fprintf(stderr, "kgate policy eval: a query needs TOPIC<TAB>OP: '%s'\n", f[0]);
			puts(json ? "{\"error\":\"bad query\"}" : "error bad-query");
			rc = 1;
			continue;
		}
		if (eval_one(p, json, f[0], f[1], f[2], f[3], f[4]))
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
		   *client_id = NULL;
	bool json = false, from_stdin = false;
	struct kg_policy p;
	char err[512] = "";
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;

		if (!strcmp(a, "--stdin")) {
			from_stdin = true;
			continue;
		}
		if (!strcmp(a, "--topic"))
			slot = &topic;
		else if (!strcmp(a, "--op"))
			slot = &op;
		else if (!strcmp(a, "--principal"))
			slot = &principal;
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
	if (from_stdin && (topic || op || principal || region || client_id))
		return usage_err("%s", "--stdin reads the queries: no --topic, --op, ... with it");
	if (!from_stdin && (!topic || !op))
		return usage_err("%s", "--topic and --op are required (or --stdin)");

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
		rc = eval_stream(&p, json);
	else
		rc = eval_one(&p, json, topic, op, principal, region, client_id);
	kg_policy_free(&p);
	return rc;
}
