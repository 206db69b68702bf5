// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy check: loads policy files (agent/policy/yaml.c) and compiles them
 * (agent/policy/compile.c) without touching any map.
 */
#include <stdio.h>
#include <string.h>

#include "agent/cmd/cmd.h"
#include "agent/policy/lint.h"
#include "agent/policy/store.h"
#include "agent/policy/yaml.h"

struct check_args {
	bool strict;
	int output;
	char **files;
	int nfiles;
};

static const struct kg_opt check_opts[] = {
	KG_OPT_FLAG("strict", struct check_args, strict, "warnings fail too (exit 1)"),
	KG_OPT_OUTPUT(struct check_args, output, kg_output_text_json,
		      "text (default), or json: one object per file, its findings in\n"
		      "\"lint\" (they still go to stderr too)"),
	KG_OPT_ARGS("policy FILE", "FILE", struct check_args, files, nfiles),
	KG_OPT_END,
};

static int policy_check(int argc, char **argv);

const struct kg_cmd kg_cmd_policy_check = {
	.name = "policy check",
	.summary = "validate and lint policy files (no map is touched)",
	.about = "Loads each policy FILE (YAML, see README \"Policy language\") and compiles\n"
		 "it as 'apply' would, without touching the datapath, then lints it. Prints\n"
		 "  FILE: ok (N rules, ...)\n"
		 "on stdout for a valid file, and on stderr\n"
		 "  FILE:LINE:COL: message\n"
		 "for the first load or compile error, or for each lint error (a policy\n"
		 "with no listeners, or with no rule that can ever match: apply and run\n"
		 "refuse those too), and\n"
		 "  FILE:LINE:COL: warning: message [code]\n"
		 "for each warning: a rule an earlier rule shadows, contradictory regions,\n"
		 "a principal that is a near miss of an identity, redirect on a rule that\n"
		 "names topics, operations or client ids, a CIDR with host bits set, a rule\n"
		 "without topics that takes requests from topic rules below it, a denying\n"
		 "default with no rule for requests that name no topic (InitProducerId...).\n",
	.opts = check_opts,
	.epilog = "Exit 0 when every file is valid, 1 when one is not, 2 on usage errors.\n",
	.run = policy_check,
};

static int check_one(const char *path, bool json, bool strict)
{
	struct kg_compiled comp = {0};
	struct kg_lint lint = {0};
	struct kg_policy p;
	char err[512] = "";
	int rc = 0;
	bool ok;

	if (kg_policy_load_yaml(path, &p, err, sizeof(err)) ||
	    kg_compile(&p, &comp, err, sizeof(err))) {
		int line = 0, col = 0, off = 0;

		char msg[1024];

		kg_policy_err_at(path, err, msg, sizeof(msg));
		fprintf(stderr, "%s\n", msg);
		if (json) {
			if (sscanf(err, "%d:%d: %n", &line, &col, &off) < 2)
				off = 0;
			kg_json_item();
			printf("{\"file\":");
			kg_json_fput(stdout, path);
			printf(",\"ok\":false,\"line\":%d,\"col\":%d,\"message\":", line, col);
			kg_json_fput(stdout, err + off);
			printf("}\n");
		}
		rc = 1;
		goto out;
	}
	if (kg_lint(&p, &comp, &lint)) {
		fprintf(stderr, "%s: out of memory linting the policy\n", path);
		rc = 1;
		goto out;
	}
	kg_lint_print_text(stderr, path, &lint);
	ok = !lint.nerrors && !(strict && lint.nwarnings);
	rc = !ok;
	if (ok && lint.nwarnings && !json)
		/* an ok file with warnings says so where its ok line is read */
		printf("%s: ok, %d warning%s (fails --strict)\n", path, lint.nwarnings,
		       lint.nwarnings == 1 ? "" : "s");
	else if (!ok && !json)
		fprintf(stderr, "%s: refused: %d error%s, %d warning%s%s\n", path, lint.nerrors,
			lint.nerrors == 1 ? "" : "s", lint.nwarnings, lint.nwarnings == 1 ? "" : "s",
			strict ? " (--strict)" : "");
	if (json) {
		kg_json_item();
		printf("{\"file\":");
		kg_json_fput(stdout, path);
		printf(",\"ok\":%s,\"strict\":%s,\"version\":", ok ? "true" : "false",
		       strict ? "true" : "false");
		kg_json_fput(stdout, p.version);
		printf(",\"mode\":\"%s\",\"rules\":%u,\"topic_patterns\":%u,\"regions\":%u,"
		       "\"principals\":%u,\"client_ids\":%u,\"cidrs\":%u,\"listeners\":%d,"
		       "\"errors\":%d,\"warnings\":%d,\"lint\":",
		       kg_mode_name(p.mode), comp.nrules, comp.npolicy_patterns, comp.nregions,
		       comp.nprincipals ? comp.nprincipals - 1 : 0, comp.nclients,
		       comp.nregion_cidrs + comp.nidentity_cidrs, p.nlisteners, lint.nerrors,
		       lint.nwarnings);
		kg_lint_print_json(stdout, &lint);
		printf("}\n");
	} else if (ok && !lint.nwarnings) {
		/* ANONYMOUS is always there: not counted. */
		printf("%s: ok (%u rules, %u topic patterns, %u regions, %u principals, "
		       "%u client ids, %u CIDRs, %d listeners; version \"%s\", mode %s)\n",
		       path, comp.nrules, comp.npolicy_patterns, comp.nregions,
		       comp.nprincipals ? comp.nprincipals - 1 : 0, comp.nclients,
		       comp.nregion_cidrs + comp.nidentity_cidrs, p.nlisteners, p.version,
		       kg_mode_name(p.mode));
	}
out:
	kg_lint_free(&lint);
	kg_compiled_free(&comp);
	kg_policy_free(&p);
	return rc;
}

/* Options and files may mix; the files are checked once every option is read. */
static int policy_check(int argc, char **argv)
{
	struct check_args a = {0};
	int rc = kg_opt_parse(&kg_cmd_policy_check, argc, argv, &a);

	if (rc)
		return rc;
	kg_json_doc(a.nfiles > 1);
	for (int i = 0; i < a.nfiles; i++)
		if (check_one(a.files[i], a.output == 1, a.strict))
			rc = 1;
	return rc;
}
