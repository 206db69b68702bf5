// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy eval: what the reference evaluator (agent/policy/ref.c, kg_ref_decide)
 * decides for a request against a policy file — the verdict and the deciding rule.
 * No map is touched. One query from the options, or many from stdin (--stdin), one
 * per line, so that a test can check thousands of audit records in one process.
 * Registered in kgate policy's subcommand table (agent/cmd/policy.c).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd/cmd.h"
#include "agent/policy/store.h"

struct eval_args {
	int output;
	const char *file, *topic, *op, *principal, *region, *client_id;
	bool from_stdin;
};

static const struct kg_opt eval_opts[] = {
	KG_OPT_OUTPUT(struct eval_args, output, kg_output_text_json,
		      "text: 'VERDICT RULE' (RULE is 'default' when none\n"
		      "decided); json: one object per query with topic,\n"
		      "operation, principal, region, client_id, verdict, rule,\n"
		      "rule_id (null: default), policy_version, mode."),
	KG_OPT_STR("topic", "T", struct eval_args, topic, "the topic name"),
	KG_OPT_STR("op", "OP", struct eval_args, op, "produce, consume, describe, admin or other"),
	KG_OPT_STR("principal", "P", struct eval_args, principal,
		   "the principal (default ANONYMOUS)"),
	KG_OPT_STR("region", "R", struct eval_args, region,
		   "the source's region (default: in no region)"),
	KG_OPT_STR("client-id", "C", struct eval_args, client_id,
		   "the request's client.id (default: null)"),
	KG_OPT_FLAG("stdin", struct eval_args, from_stdin,
		    "read many queries from stdin, one per line, fields\n"
		    "separated by a TAB: TOPIC OP [PRINCIPAL [REGION\n"
		    "[CLIENT_ID]]]; an empty field is the default. One answer\n"
		    "per line, in order."),
	KG_OPT_ARG("policy FILE", "FILE", struct eval_args, file),
	KG_OPT_END,
};

static int policy_eval(int argc, char **argv);

const struct kg_cmd kg_cmd_policy_eval = {
	.name = "policy eval",
	.summary = "the reference evaluator's verdict and rule for a request",
	.synopsis = "[-o text|json] FILE --topic T --op OP [--principal P]\n"
		    "                         [--region R] [--client-id C]\n"
		    "       kgate policy eval [-o text|json] FILE --stdin",
	.about = "What the reference evaluator (first match in file order over the policy as\n"
		 "written, DESIGN 4) decides for one request against the policy FILE: the verdict\n"
		 "(the action: allow, reject, reset, drop, redirect) and the deciding rule, or\n"
		 "'default' when no rule matched. No datapath is needed or touched.\n",
	.opts = eval_opts,
	.epilog = "Text and JSON give the policy's action; in monitor mode that is what enforcement\n"
		  "would do. Exit 0; 1 when FILE is invalid (FILE:LINE:COL: message) or a query\n"
		  "names an unknown operation; 2 on usage errors.\n",
	.run = policy_eval,
};

/* One query: 0, or 1 for an unknown operation (reported, the batch goes on). */
static int eval_one(const struct kg_policy *p, bool json, const char *topic, const char *opname,
		    const char *principal, const char *region, const char *client_id)
{
	int op = kg_name_index(kg_op_names, KG_OP__COUNT, opname), rule = -1, act;
	const char *verdict;

	if (op < 0) {
		fprintf(stderr, "kgate policy eval: unknown operation '%s'\n", opname);
		if (json) {
			fputs("{\"error\":\"unknown operation\",\"operation\":", stdout);
			kg_json_fput(stdout, opname);
			fputs("}\n", stdout);
		} else {
			puts("error unknown-operation");
		}
		return 1;
	}
	act = kg_ref_decide(p, principal, region, client_id, (__u8)op, topic, &rule);
	verdict = kg_action_name(act);
	if (!json) {
		printf("%s %s\n", verdict, rule >= 0 ? p->rules[rule].name : "default");
		return 0;
	}
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
	fputs(",\"policy_version\":", stdout);
	kg_json_fput(stdout, p->version);
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

static int policy_eval(int argc, char **argv)
{
	struct eval_args a = {0};
	struct kg_policy_file f;
	char err[1024];
	int rc;

	if ((rc = kg_opt_parse(&kg_cmd_policy_eval, argc, argv, &a)))
		return rc;
	if (a.from_stdin && (a.topic || a.op || a.principal || a.region || a.client_id))
		return kg_usage_error(&kg_cmd_policy_eval,
				      "--stdin reads the queries: no --topic, --op, ... with it");
	if (!a.from_stdin && (!a.topic || !a.op))
		return kg_usage_error(&kg_cmd_policy_eval,
				      "--topic and --op are required (or --stdin)");
	/* Invalid as 'check' and 'apply' see it (the compiler checks the limits): refused. */
	if (kg_policy_file_load(&f, a.file, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		kg_policy_file_free(&f);
		return 1;
	}
	if (a.from_stdin)
		rc = eval_stream(&f.p, a.output == 1);
	else
		rc = eval_one(&f.p, a.output == 1, a.topic, a.op, a.principal, a.region,
			      a.client_id);
	kg_policy_file_free(&f);
	return rc;
}
