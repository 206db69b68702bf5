// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy check: loads policy files (agent/policy/yaml.c) and compiles them
 * (agent/policy/compile.c) without touching any map.
 */
#include <stdio.h>
#include <string.h>

#include "agent/cmd/cmd.h"
#include "agent/policy/store.h"
#include "agent/policy/yaml.h"

struct check_args {
	int output;
	char **files;
	int nfiles;
};

static const struct kg_opt check_opts[] = {
	KG_OPT_OUTPUT(struct check_args, output, kg_output_text_json,
		      "text (default), or json: one object per file"),
	KG_OPT_ARGS("policy FILE", "FILE", struct check_args, files, nfiles),
	KG_OPT_END,
};

static int policy_check(int argc, char **argv);

const struct kg_cmd kg_cmd_policy_check = {
	.name = "policy check",
	.summary = "validate policy files (load and compile; no map is touched)",
	.about = "Loads each policy FILE (YAML, see README \"Policy language\") and compiles\n"
		 "it as 'apply' would, without touching the datapath. Prints\n"
		 "  FILE: ok (N rules, ...)\n"
		 "on stdout for a valid file, and\n"
		 "  FILE:LINE:COL: message\n"
		 "on stderr for the first error of an invalid one. With -o json, one JSON\n"
		 "object per file on stdout (the errors still go to stderr too).\n",
	.opts = check_opts,
	.epilog = "Exit 0 when every file is valid, 1 when one is not, 2 on usage errors.\n",
	.run = policy_check,
};

static int check_one(const char *path, bool json)
{
	struct kg_compiled comp = {0};
	struct kg_policy p;
	char err[512] = "";
	int rc = 0;

	if (kg_policy_load_yaml(path, &p, err, sizeof(err)) ||
	    kg_compile(&p, &comp, err, sizeof(err))) {
		int line = 0, col = 0, off = 0;

		char msg[1024];

		kg_policy_err_at(path, err, msg, sizeof(msg));
		fprintf(stderr, "%s\n", msg);
		if (json) {
			if (sscanf(err, "%d:%d: %n", &line, &col, &off) < 2)
				off = 0;
			printf("{\"file\":");
			kg_json_fput(stdout, path);
			printf(",\"ok\":false,\"line\":%d,\"col\":%d,\"message\":", line, col);
			kg_json_fput(stdout, err + off);
			printf("}\n");
		}
		rc = 1;
	} else if (json) {
		printf("{\"file\":");
		kg_json_fput(stdout, path);
		printf(",\"ok\":true,\"version\":");
		kg_json_fput(stdout, p.version);
		printf(",\"mode\":\"%s\",\"rules\":%u,\"topic_patterns\":%u,\"regions\":%u,"
		       "\"principals\":%u,\"client_ids\":%u,\"cidrs\":%u,\"listeners\":%d}\n",
		       kg_mode_name(p.mode), comp.nrules, comp.npatterns ? comp.npatterns - 1 : 0,
		       comp.nregions, comp.nprincipals ? comp.nprincipals - 1 : 0, comp.nclients,
		       comp.nregion_cidrs + comp.nidentity_cidrs, p.nlisteners);
	} else {
		/* The empty prefix (patterns[0]) and ANONYMOUS are always there: not counted. */
		printf("%s: ok (%u rules, %u topic patterns, %u regions, %u principals, "
		       "%u client ids, %u CIDRs, %d listeners; version \"%s\", mode %s)\n",
		       path, comp.nrules, comp.npatterns ? comp.npatterns - 1 : 0, comp.nregions,
		       comp.nprincipals ? comp.nprincipals - 1 : 0, comp.nclients,
		       comp.nregion_cidrs + comp.nidentity_cidrs, p.nlisteners, p.version,
		       kg_mode_name(p.mode));
	}
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
	for (int i = 0; i < a.nfiles; i++)
		if (check_one(a.files[i], a.output == 1))
			rc = 1;
	return rc;
}
