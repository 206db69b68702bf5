// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy eval: what the reference evaluator (agent/policy/ref.c, kg_ref_decide)
 * decides for a request against a policy file — the verdict, the deciding rule, whether
 * it is enforced and what the datapath makes of it on the wire (kg_eval_decide); --explain
 * says why each earlier rule did not match (agent/policy/explain.c). No map is touched.
 * One query from the options, or many from stdin (--stdin), one per line, so that a test
 * can check thousands of audit records in one process. Registered in kgate policy's
 * subcommand table (agent/cmd/policy.c).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd/cmd.h"
#include "agent/policy/explain.h"
#include "agent/policy/lint.h"
#include "agent/policy/store.h"
#include "bpf/kafka_decode.h"

#define EV_NAME(sym, name) [sym] = name,
static const char *const kg_dim_names[] = {KG_DIMS(EV_NAME)};

struct eval_args {
	int output;
	const char *file, *topic, *op, *principal, *sasl_user, *region, *client_id, *api;
	bool from_stdin, explain, all_topics;
};

/* What every query of one run shares: the policy, and whether kgate refuses it. */
struct eval_ctx {
	const struct kg_policy *p;
	const char *refused; /* "LINE:COL [code]" of the lint error, or NULL */
	bool json, explain;
};

static const struct kg_opt eval_opts[] = {
	KG_OPT_OUTPUT(struct eval_args, output, kg_output_text_json,
		      "text: 'VERDICT RULE (enforced)', 'VERDICT RULE\n"
		      "(enforced as ACTION: why)' or 'VERDICT RULE (not\n"
		      "enforced: why)'; with --explain, then one line per\n"
		      "rule before it: '  skipped RULE (LINE:COL):\n"
		      "DIMENSION: why'.\n"
		      "json: one object per query with topic (null: none or\n"
		      "all), all_topics, api, operation, principal, region,\n"
		      "client_id, verdict, rule, rule_id (null: default),\n"
		      "enforced, wire (the action on the wire; null when not\n"
		      "enforced), why, connection_rule (a redirect at the\n"
		      "connection's start), policy_version, mode, and with\n"
		      "--explain \"skipped\": [{rule, rule_id, line, col,\n"
		      "dimension, why}]."),
	KG_OPT_STR("topic", "T", struct eval_args, topic,
		   "the topic name; left out: a request that names no\n"
		   "topic (InitProducerId, FindCoordinator, JoinGroup,\n"
		   "Metadata for brokers only...); '*': as --all-topics"),
	KG_OPT_FLAG("all-topics", struct eval_args, all_topics,
		    "a request about all topics (Metadata or OffsetFetch\n"
		    "with a null list, DescribeAcls filters, a subscribed\n"
		    "regex...): only rules without topics (or with \"*\")\n"
		    "match it"),
	KG_OPT_STR("op", "OP", struct eval_args, op,
		   "produce, consume, describe, admin or other (default:\n"
		   "the operation of --api)"),
	KG_OPT_STR("api", "NAME", struct eval_args, api,
		   "the request's API, by Kafka's name (CreateAcls) or\n"
		   "key (30): its operation, and how a reject is enforced"),
	KG_OPT_STR("principal", "P", struct eval_args, principal,
		   "ANONYMOUS (the default), an identity of the policy,\n"
		   "or a principal a rule names; any other name is an\n"
		   "error"),
	KG_OPT_STR("sasl-user", "U", struct eval_args, sasl_user,
		   "the principal is the SASL user U, whatever its name"),
	KG_OPT_STR("region", "R", struct eval_args, region,
		   "a region of the policy (left out: the source is in no\n"
		   "region; an unknown name is an error)"),
	KG_OPT_STR("client-id", "C", struct eval_args, client_id,
		   "the request's client.id (default: null)"),
	KG_OPT_FLAG("explain", struct eval_args, explain,
		    "also list every rule before the deciding one, with the\n"
		    "first of its dimensions the request does not match"),
	KG_OPT_FLAG("stdin", struct eval_args, from_stdin,
		    "read many queries from stdin, one per line, fields\n"
		    "separated by a TAB: TOPIC OP [PRINCIPAL [REGION\n"
		    "[CLIENT_ID [SOURCE [API]]]]]; an empty field is the\n"
		    "default (an empty TOPIC: the request names no topic;\n"
		    "TOPIC '*': all topics); SOURCE sasl takes PRINCIPAL\n"
		    "as a SASL user. One answer per line, in order."),
	KG_OPT_ARG("policy FILE", "FILE", struct eval_args, file),
	KG_OPT_END,
};

static int policy_eval(int argc, char **argv);

const struct kg_cmd kg_cmd_policy_eval = {
	.name = "policy eval",
	.summary = "the reference evaluator's verdict and rule for a request",
	.synopsis = "[-o text|json] [--explain] FILE\n"
		    "                         [--topic T | --all-topics] (--op OP | --api NAME)\n"
		    "                         [--principal P | --sasl-user U] [--region R]\n"
		    "                         [--client-id C]\n"
		    "       kgate policy eval [-o text|json] [--explain] FILE --stdin",
	.about = "What the reference evaluator (first match in file order over the policy as\n"
		 "written) decides for one request against the policy FILE: the verdict (the\n"
		 "action: allow, reject, reset, drop, redirect), the deciding rule ('default'\n"
		 "when no rule matched), whether the datapath enforces it and what it does on\n"
		 "the wire. No datapath is needed or touched.\n",
	.opts = eval_opts,
	.epilog = "The verdict is the policy's action. Not enforced: in monitor mode, by a rule\n"
		  "with audit: true (the request goes through, the decision is recorded), under\n"
		  "a policy apply and run refuse (policy check says why), and when another rule\n"
		  "redirects the connection at its start (a rule without topics, operations and\n"
		  "client ids, decided before any request, from the identity's principal: a SASL\n"
		  "user is taken to come from an address no identity covers). Enforced as reset:\n"
		  "a reject of a request that names no topic or is about all topics (no topic to\n"
		  "refuse), of CreateAcls and DeleteAcls (--api), and a redirect mid-stream.\n"
		  "Exit 0; 1 when FILE is invalid (FILE:LINE:COL: message) or a query names an\n"
		  "unknown operation, API, region or principal (the rest of a --stdin batch is\n"
		  "still answered); 2 on usage errors.\n",
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

/* A name the policy does not know: reported, answered in place (a batch goes on). */
static int unknown_name(const struct eval_ctx *e, const char *err)
{
	fprintf(stderr, "kgate policy eval: %s\n", err);
	if (e->json) {
		kg_json_item();
		fputs("{\"error\":", stdout);
		kg_json_fput(stdout, err);
		fputs("}\n", stdout);
	} else {
		puts("error unknown-name");
	}
	return 1;
}

/* One query: 0, or 1 for a name the policy does not know. */
static int eval_one(const struct eval_ctx *e, const char *topic, const char *opname,
		    const char *principal, bool sasl_user, const char *region,
		    const char *client_id, const char *apiname)
{
	const struct kg_policy *p = e->p;
	struct kg_eval_req q = { .topic = topic && !strcmp(topic, "*") ? KG_ALL_TOPICS : topic,
				 .principal = principal, .region = region,
				 .client_id = client_id };
	struct kg_eval_outcome o;
	int api = apiname ? kg_eval_api(apiname) : -1;
	const char *verdict, *rname;
	char err[512];

	if (apiname && api < 0) {
		snprintf(err, sizeof(err), "unknown API '%s' (Kafka's name, as CreateAcls, or "
					   "its key, 0-%d)",
			 apiname, KD_API_COUNT - 1);
		return unknown_name(e, err);
	}
	/* without --op, the API's (its class, as the decoder gives it) */
	if (!opname)
		opname = kg_op_names[kd_apis[api].opclass % KG_OP__COUNT];
	if (kg_eval_check(p, opname, sasl_user, &q, err, sizeof(err)))
		return unknown_name(e, err);
	kg_eval_decide(p, &q, kg_eval_syn_principal(p, &q, sasl_user), api, e->refused, &o);
	verdict = kg_action_name(o.action);
	rname = o.rule >= 0 ? p->rules[o.rule].name : "default";
	if (!e->json) {
		if (!o.enforced)
			printf("%s %s (not enforced: %s)\n", verdict, rname, o.why);
		else if (o.wire != o.action)
			printf("%s %s (enforced as %s: %s)\n", verdict, rname,
			       kg_action_name(o.wire), o.why);
		else if (o.why[0])
			printf("%s %s (enforced: %s)\n", verdict, rname, o.why);
		else
			printf("%s %s (enforced)\n", verdict, rname);
		if (e->explain)
			explain(p, &q, o.rule, false);
		return 0;
	}
	kg_json_item();
	fputs("{\"topic\":", stdout);
	kg_json_fput(stdout, q.topic == KG_ALL_TOPICS ? NULL : topic);
	printf(",\"all_topics\":%s,\"api\":", q.topic == KG_ALL_TOPICS ? "true" : "false");
	kg_json_fput(stdout, api >= 0 ? kafka_api_name((unsigned int)api) : NULL);
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
	kg_json_fput(stdout, o.rule >= 0 ? rname : NULL);
	if (o.rule >= 0)
		printf(",\"rule_id\":%d", o.rule);
	else
		fputs(",\"rule_id\":null", stdout);
	printf(",\"enforced\":%s,\"wire\":", o.enforced ? "true" : "false");
	kg_json_fput(stdout, o.enforced ? kg_action_name(o.wire) : NULL);
	fputs(",\"why\":", stdout);
	kg_json_fput(stdout, o.why[0] ? o.why : NULL);
	fputs(",\"connection_rule\":", stdout);
	kg_json_fput(stdout, o.conn_rule >= 0 ? p->rules[o.conn_rule].name : NULL);
	fputs(",\"policy_version\":", stdout);
	kg_json_fput(stdout, p->version);
	printf(",\"mode\":\"%s\"", p->mode == KG_MODE_MONITOR ? "monitor" : "enforce");
	if (e->explain)
		explain(p, &q, o.rule, true);
	fputs("}\n", stdout);
	return 0;
}

/*
 * --stdin: TOPIC \t OP [\t PRINCIPAL [\t REGION [\t CLIENT_ID [\t SOURCE [\t API]]]]];
 * empty = default, an empty TOPIC names no topic, "*" is all topics.
 */
#define EVAL_FIELDS 7

static int eval_stream(const struct eval_ctx *e)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	while ((n = getline(&line, &cap, stdin)) >= 0) {
		char *f[EVAL_FIELDS] = {0}, *s = line;
		int nf = 0;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (!n)
			continue;
		while (nf < EVAL_FIELDS) {
			char *tab = strchr(s, '\t');

			f[nf++] = s;
			if (!tab)
				break;
			*tab = 0;
			s = tab + 1;
		}
		for (int i = 0; i < EVAL_FIELDS; i++)
			if (f[i] && !f[i][0])
				f[i] = NULL;
		if (!f[1] && !f[6]) {
			fprintf(stderr, "kgate policy eval: a query needs TOPIC<TAB>OP: '%s'\n",
				f[0] ? f[0] : "");
			if (e->json)
				kg_json_item();
			puts(e->json ? "{\"error\":\"bad query\"}" : "error bad-query");
			rc = 1;
			continue;
		}
		if (eval_one(e, f[0], f[1], f[2], f[5] && !strcmp(f[5], "sasl"), f[3], f[4], f[6]))
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
	struct eval_ctx e = {0};
	char err[1024], why[1024], refused[128];
	int rc;

	if ((rc = kg_opt_parse(&kg_cmd_policy_eval, argc, argv, &a)))
		return rc;
	kg_json_doc(a.from_stdin);
	if (a.from_stdin && (a.topic || a.op || a.principal || a.sasl_user || a.region ||
			     a.client_id || a.api || a.all_topics))
		return kg_usage_error(&kg_cmd_policy_eval,
				      "--stdin reads the queries: no --topic, --op, ... with it");
	if (!a.from_stdin && !a.op && !a.api)
		return kg_usage_error(&kg_cmd_policy_eval, "--op is required (or --api, --stdin)");
	if (a.topic && a.all_topics)
		return kg_usage_error(&kg_cmd_policy_eval,
				      "--topic and --all-topics exclude each other");
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
	e.p = &f.p;
	e.json = a.output == 1;
	e.explain = a.explain;
	/* a policy apply and run refuse is never enforced: say where, and the code */
	if (kg_lint_refuse(&f.p, &f.c, why, sizeof(why))) {
		const char *code = strrchr(why, '[');
		int line = 0, col = 0;

		sscanf(why, "%d:%d", &line, &col);
		snprintf(refused, sizeof(refused), "%d:%d %s, see kgate policy check", line, col,
			 code ? code : "");
		e.refused = refused;
	}
	if (a.from_stdin)
		rc = eval_stream(&e);
	else
		rc = eval_one(&e, a.all_topics ? "*" : a.topic, a.op,
			      a.sasl_user ? a.sasl_user : a.principal, a.sasl_user != NULL, a.region,
			      a.client_id, a.api);
	kg_policy_file_free(&f);
	return rc;
}
