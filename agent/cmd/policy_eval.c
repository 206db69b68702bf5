// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy eval: what the reference evaluator (agent/policy/ref.c, kg_ref_decide)
 * decides for a request against a policy file — the verdict, the deciding rule and
 * whether it is enforced; --explain says why each earlier rule did not match
 * (agent/policy/explain.c). No map is touched. One query from the options, or many from
 * stdin (--stdin), one per line, so that a test can check thousands of audit records in
 * one process. Registered in kgate policy's subcommand table (agent/cmd/policy.c).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd/cmd.h"
#include "agent/policy/explain.h"
#include "agent/policy/store.h"

#define EV_NAME(sym, name) [sym] = name,
static const char *const kg_dim_names[] = {KG_DIMS(EV_NAME)};

struct eval_args {
	int output;
	const char *file, *topic, *op, *principal, *sasl_user, *region, *client_id;
	bool from_stdin, explain;
};

static const struct kg_opt eval_opts[] = {
	KG_OPT_OUTPUT(struct eval_args, output, kg_output_text_json,
		      "text: 'VERDICT RULE (enforced)' or 'VERDICT RULE (not\n"
		      "enforced: ...)'; with --explain, then one line per rule before\n"
		      "it: '  skipped RULE (LINE:COL): DIMENSION: why'.\n"
		      "json: one object per query with topic (null: none),\n"
		      "operation, principal, region, client_id, verdict, rule,\n"
		      "rule_id (null: default), enforced, policy_version, mode, and\n"
		      "with --explain \"skipped\": [{rule, rule_id, line, col,\n"
		      "dimension, why}]."),
	KG_OPT_STR("topic", "T", struct eval_args, topic,
		   "the topic name; left out: a request that names no topic\n"
		   "(InitProducerId, FindCoordinator, JoinGroup, Metadata for all\n"
		   "topics...)"),
	KG_OPT_STR("op", "OP", struct eval_args, op, "produce, consume, describe, admin or other"),
	KG_OPT_STR("principal", "P", struct eval_args, principal,
		   "ANONYMOUS (the default), an identity of the policy, or a\n"
		   "principal a rule names; any other name is an error"),
	KG_OPT_STR("sasl-user", "U", struct eval_args, sasl_user,
		   "the principal is the SASL user U, whatever its name"),
	KG_OPT_STR("region", "R", struct eval_args, region,
		   "a region of the policy (left out: the source is in no region;\n"
		   "an unknown name is an error)"),
	KG_OPT_STR("client-id", "C", struct eval_args, client_id,
		   "the request's client.id (default: null)"),
	KG_OPT_FLAG("explain", struct eval_args, explain,
		    "also list every rule before the deciding one, with the first\n"
		    "of its dimensions the request does not match"),
	KG_OPT_FLAG("stdin", struct eval_args, from_stdin,
		    "read many queries from stdin, one per line, fields separated\n"
		    "by a TAB: TOPIC OP [PRINCIPAL [REGION [CLIENT_ID [SOURCE]]]];\n"
		    "an empty field is the default (an empty TOPIC: the request\n"
		    "names no topic); SOURCE sasl takes PRINCIPAL as a SASL user.\n"
		    "One answer per line, in order."),
	KG_OPT_ARG("policy FILE", "FILE", struct eval_args, file),
	KG_OPT_END,
};

static int policy_eval(int argc, char **argv);

const struct kg_cmd kg_cmd_policy_eval = {
	.name = "policy eval",
	.summary = "the reference evaluator's verdict and rule for a request",
	.synopsis = "[-o text|json] [--explain] FILE [--topic T] --op OP\n"
		    "                         [--principal P | --sasl-user U] [--region R]\n"
		    "                         [--client-id C]\n"
		    "       kgate policy eval [-o text|json] [--explain] FILE --stdin",
	.about = "What the reference evaluator (first match in file order over the policy as\n"
		 "written) decides for one request against the policy FILE: the verdict (the\n"
		 "action: allow, reject, reset, drop, redirect), the deciding rule ('default'\n"
		 "when no rule matched), and whether the datapath enforces it. No datapath is\n"
		 "needed or touched.\n",
	.opts = eval_opts,
	.epilog = "The verdict is the policy's action; enforced is false in monitor mode and for a\n"
		  "rule with audit: true (the request goes through, the decision is recorded).\n"
		  "Exit 0; 1 when FILE is invalid (FILE:LINE:COL: message) or a query names an\n"
		  "unknown operation, region or principal (the rest of a --stdin batch is still\n"
		  "answered); 2 on usage errors.\n",
	.run = policy_eval,
};

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
			       kg_dim_names[d % KG_DIM__COUNT], why);
			continue;
		}
		fputs(i ? ",{\"rule\":" : "{\"rule\":", stdout);
		kg_json_fput(stdout, r->name);
		printf(",\"rule_id\":%d,\"line\":%d,\"col\":%d,\"dimension\":\"%s\",\"why\":", i,
		       r->pos.line, r->pos.col, kg_dim_names[d % KG_DIM__COUNT]);
		kg_json_fput(stdout, why);
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
			kg_json_item();
			fputs("{\"error\":", stdout);
			kg_json_fput(stdout, err);
			fputs("}\n", stdout);
		} else {
			puts("error unknown-name");
		}
		return 1;
	}
	act = kg_ref_decide(p, principal, region, client_id, q.op, topic, &rule);
	verdict = kg_action_name(act);
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
	kg_json_item();
	fputs("{\"topic\":", stdout);
	kg_json_fput(stdout, topic);
	fputs(",\"operation\":", stdout);
	kg_json_fput(stdout, opname);
	fputs(",\"principal\":", stdout);
	kg_json_fput(stdout, principal ? principal : KG_ANONYMOUS_NAME);
	fputs(",\"region\":", stdout);
	kg_json_fput(stdout, region);
	fputs(",\"client_id\":", stdout);
	kg_json_fput(stdout, client_id);
	fputs(",\"verdict\":", stdout);
	kg_json_fput(stdout, verdict);
	fputs(",\"rule\":", stdout);
	kg_json_fput(stdout, rule >= 0 ? p->rules[rule].name : NULL);
	if (rule >= 0)
		printf(",\"rule_id\":%d", rule);
	else
		fputs(",\"rule_id\":null", stdout);
	printf(",\"enforced\":%s,\"policy_version\":", enforced ? "true" : "false");
	kg_json_fput(stdout, p->version);
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
			if (json)
				kg_json_item();
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

static int policy_eval(int argc, char **argv)
{
	struct eval_args a = {0};
	struct kg_policy_file f;
	char err[1024];
	int rc;

	if ((rc = kg_opt_parse(&kg_cmd_policy_eval, argc, argv, &a)))
		return rc;
	kg_json_doc(a.from_stdin);
	if (a.from_stdin &&
	    (a.topic || a.op || a.principal || a.sasl_user || a.region || a.client_id))
		return kg_usage_error(&kg_cmd_policy_eval,
				      "--stdin reads the queries: no --topic, --op, ... with it");
	if (!a.from_stdin && !a.op)
		return kg_usage_error(&kg_cmd_policy_eval, "--op is required (or --stdin)");
	if (a.principal && a.sasl_user)
		return kg_usage_error(&kg_cmd_policy_eval,
				      "--principal and --sasl-user exclude each other");
	/*
	 * Invalid as 'check' and 'apply' see it (the compiler checks the limits): refused.
	 * The linter's refusals are not applied: eval answers for any policy that compiles.
	 */
	if (kg_policy_file_load_unjudged(&f, a.file, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		kg_policy_file_free(&f);
		return 1;
	}
	if (a.from_stdin)
		rc = eval_stream(&f.p, a.output == 1, a.explain);
	else
		rc = eval_one(&f.p, a.output == 1, a.explain, a.topic, a.op,
			      a.sasl_user ? a.sasl_user : a.principal, a.sasl_user != NULL, a.region,
			      a.client_id);
	kg_policy_file_free(&f);
	return rc;
}
