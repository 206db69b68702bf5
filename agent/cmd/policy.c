// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy: the policy language's commands, one table of subcommands, each with its
 * own --help. `check` loads a policy file (agent/policy_yaml.c) and compiles it
 * (agent/policy_compile.c) without touching any map; apply, show and diff work on the
 * running datapath (agent/policy_apply_cmd.c).
 */
#include <stdio.h>
#include <string.h>

#include "agent/cmd/cmd.h"
#include "agent/policy/policy.h"
#include "agent/policy/yaml.h"

struct policy_sub {
	const char *name;
	const char *summary;
	const char *usage;
	int (*run)(int argc, char **argv);
};

static int policy_check(int argc, char **argv);
/* kgate policy eval (agent/policy_eval_cmd.c): the reference evaluator's verdict */
int kg_policy_eval_run(int argc, char **argv);
extern const char kg_policy_eval_usage[];

static const struct policy_sub subs[] = {
	{
		.name = "check",
		.summary = "validate policy files (load and compile; no map is touched)",
		.usage = "usage: kgate policy check [-o text|json] FILE...\n"
			 "\n"
			 "Loads each policy FILE (YAML, see README \"Policy language\") and "
			 "compiles\n"
			 "it as 'apply' would, without touching the datapath. Prints\n"
			 "  FILE: ok (N rules, ...)\n"
			 "on stdout for a valid file, and\n"
			 "  FILE:LINE:COL: message\n"
			 "on stderr for the first error of an invalid one. With -o json, one JSON\n"
			 "object per file on stdout (the errors still go to stderr too).\n"
			 "Exit 0 when every file is valid, 1 when one is not, 2 on usage errors.\n",
		.run = policy_check,
	},
	{
		.name = "apply",
		.summary = "swap a policy in atomically on the running datapath",
		.usage = NULL, /* kg_policy_apply_usage (agent/policy_apply_cmd.c) */
		.run = kg_policy_apply_run,
	},
	{
		.name = "show",
		.summary = "the active policy: version, generation, rules",
		.usage = NULL,
		.run = kg_policy_show_run,
	},
	{
		.name = "diff",
		.summary = "what applying a policy file would change",
		.usage = NULL,
		.run = kg_policy_diff_run,
	},
	{
		.name = "eval",
		.summary = "the reference evaluator's verdict and rule for a request",
		.usage = kg_policy_eval_usage,
		.run = kg_policy_eval_run,
	},
};

#define NSUBS (sizeof(subs) / sizeof(subs[0]))


const struct kg_cmd kg_cmd_policy = {
	.name = "policy",
	.summary = "policy files: check, apply, show, diff, eval",
	.usage = "usage: kgate policy SUBCOMMAND [ARGS]\n"
		 "\n"
		 "Subcommands:\n"
		 "  check [-o text|json] FILE...   validate policy files (load and compile)\n"
		 "  apply [--iface IF] [-o text|json] FILE\n"
		 "                                 swap FILE in on the running datapath\n"
		 "  show [--iface IF] [-o text|json]\n"
		 "                                 the active policy: version, generation, rules\n"
		 "  diff [--iface IF] [-o text|json] FILE\n"
		 "                                 what applying FILE would change\n"
		 "  eval FILE --topic T --op OP [--principal P] [--region R] [--client-id C]\n"
		 "                                 the reference verdict and rule for a request\n"
		 "\n"
		 "Run 'kgate policy SUBCOMMAND --help' for a subcommand's options.\n",
	.run = cmd_policy,
	.own_help = true,
};

void kg_policy_json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static int check_one(const char *path, bool json)
{
	static const char *const modes[] = {"enforce", "monitor"};
	struct kg_compiled comp = {0};
	struct kg_policy p;
	char err[512] = "";
	int rc = 0;

	if (kg_policy_load_yaml(path, &p, err, sizeof(err)) ||
	    kg_compile(&p, &comp, err, sizeof(err))) {
		int line = 0, col = 0, off = 0;

		/* 0:0 is no position (the file could not be read). */
		if (!strncmp(err, "0:0: ", 5))
			fprintf(stderr, "%s: %s\n", path, err + 5);
		else
			fprintf(stderr, "%s:%s\n", path, err);
		if (json) {
			if (sscanf(err, "%d:%d: %n", &line, &col, &off) < 2)
				off = 0;
			printf("{\"file\":");
			kg_policy_json_str(stdout, path);
			printf(",\"ok\":false,\"line\":%d,\"col\":%d,\"message\":", line, col);
			kg_policy_json_str(stdout, err + off);
			printf("}\n");
		}
		rc = 1;
	} else if (json) {
		printf("{\"file\":");
		kg_policy_json_str(stdout, path);
		printf(",\"ok\":true,\"version\":");
		kg_policy_json_str(stdout, p.version);
		printf(",\"mode\":\"%s\",\"rules\":%u,\"topic_patterns\":%u,\"regions\":%u,"
		       "\"principals\":%u,\"client_ids\":%u,\"cidrs\":%u,\"listeners\":%d}\n",
		       modes[p.mode & 1], comp.nrules, comp.npatterns ? comp.npatterns - 1 : 0,
		       comp.nregions, comp.nprincipals ? comp.nprincipals - 1 : 0, comp.nclients,
		       comp.nregion_cidrs + comp.nidentity_cidrs, p.nlisteners);
	} else {
		/* The empty prefix (patterns[0]) and ANONYMOUS are always there: not counted. */
		printf("%s: ok (%u rules, %u topic patterns, %u regions, %u principals, "
		       "%u client ids, %u CIDRs, %d listeners; version \"%s\", mode %s)\n",
		       path, comp.nrules, comp.npatterns ? comp.npatterns - 1 : 0, comp.nregions,
		       comp.nprincipals ? comp.nprincipals - 1 : 0, comp.nclients,
		       comp.nregion_cidrs + comp.nidentity_cidrs, p.nlisteners, p.version,
		       modes[p.mode & 1]);
	}
	kg_compiled_free(&comp);
	kg_policy_free(&p);
	return rc;
}

static int sub_usage_error(const char *sub, const char *fmt, const char *arg)
{
	fprintf(stderr, "kgate policy %s: ", sub);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see 'kgate policy %s --help')\n", sub);
	return 2;
}

static int policy_check(int argc, char **argv)
{
	bool json = false, dashdash = false;
	int nfiles = 0, rc = 0;
	char *files[argc];

	/* Options and files may mix; the files are checked once every option is read. */
	for (int i = 1; i < argc; i++) {
		if (dashdash || argv[i][0] != '-' || !argv[i][1]) {
			files[nfiles++] = argv[i];
		} else if (!strcmp(argv[i], "--")) {
			dashdash = true;
		} else if (!strcmp(argv[i], "-o")) {
			if (i + 1 >= argc)
				return sub_usage_error("check", "option '%s' needs a value", "-o");
			if (!strcmp(argv[i + 1], "json"))
				json = true;
			else if (!strcmp(argv[i + 1], "text"))
				json = false;
			else
				return sub_usage_error("check", "unknown output format '%s'",
						       argv[i + 1]);
			i++;
		} else {
			return sub_usage_error("check", "unknown option '%s'", argv[i]);
		}
	}
	if (!nfiles)
		return sub_usage_error("check", "%s", "no policy FILE given");
	for (int i = 0; i < nfiles; i++)
		if (check_one(files[i], json))
			rc = 1;
	return rc;
}

/* The apply/show/diff usages live with their code (agent/policy_apply_cmd.c). */
static const char *sub_usage_text(const struct policy_sub *s)
{
	if (s->usage)
		return s->usage;
	if (s->run == kg_policy_apply_run)
		return kg_policy_apply_usage;
	if (s->run == kg_policy_show_run)
		return kg_policy_show_usage;
	return kg_policy_diff_usage;
}

static void print_subs(FILE *f)
{
	fputs(kg_cmd_policy.usage, f);
}

int cmd_policy(int argc, char **argv)
{
	const char *name;

	if (argc < 2) {
		fprintf(stderr, "kgate policy: a subcommand is needed\n\n");
		print_subs(stderr);
		return 2;
	}
	name = argv[1];
	if (!strcmp(name, "-h") || !strcmp(name, "--help") || !strcmp(name, "help")) {
		print_subs(stdout);
		return 0;
	}
	for (size_t i = 0; i < NSUBS; i++) {
		if (strcmp(subs[i].name, name))
			continue;
		if (kg_wants_help(argc - 1, argv + 1)) {
			fputs(sub_usage_text(&subs[i]), stdout);
			return 0;
		}
		return subs[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "kgate policy: unknown subcommand '%s'\n\n", name);
	print_subs(stderr);
	return 2;
}
