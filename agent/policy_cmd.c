// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy: the policy language's commands, one table of subcommands, each with its
 * own --help. `check` loads a policy file (agent/policy_yaml.c) and compiles it
 * (agent/policy_compile.c) without touching any map; apply, show and diff work on the
 * running datapath (agent/policy_apply_cmd.c).
 */
#include <stdio.h>
#include <string.h>

#include "agent/cli.h"
#include "agent/policy.h"
#include "agent/policy_lint_cmd.h"
#include "agent/policy_yaml.h"

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
		.summary = "validate and lint policy files (no map is touched)",
		.usage = "usage: kgate policy check [--strict] [-o text|json] FILE...\n"
			 "\n"
			 "Loads each policy FILE (YAML, see README \"Policy language\") and "
			 "compiles\n"
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
			 "default with no rule for requests that name no topic (InitProducerId...).\n"
			 "\n"
			 "  --strict       warnings fail too (exit 1)\n"
			 "  -o text|json   json: one object per file on stdout, its findings in\n"
			 "                 \"lint\" (they still go to stderr too)\n"
			 "\n"
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
		 "  check [--strict] [-o text|json] FILE...\n"
		 "                                 validate and lint policy files\n"
		 "  apply [--iface IF] [-o text|json] FILE\n"
		 "                                 swap FILE in on the running datapath\n"
		 "  show [--iface IF] [-o text|json]\n"
		 "                                 the active policy: version, generation, rules\n"
		 "  diff [--iface IF] [-o text|json] FILE\n"
		 "                                 what applying FILE would change\n"
		 "  eval FILE [--topic T] --op OP [--principal P|--sasl-user U] [--region R]\n"
		 "       [--client-id C] [--explain]\n"
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

static int check_one(const char *path, bool json, bool strict)
{
	static const char *const modes[] = {"enforce", "monitor"};
	struct kg_compiled comp = {0};
	struct kg_lint lint = {0};
	struct kg_policy p;
	char err[512] = "";
	int rc = 0;
	bool ok;

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
		printf("{\"file\":");
		kg_policy_json_str(stdout, path);
		printf(",\"ok\":%s,\"strict\":%s,\"version\":", ok ? "true" : "false",
		       strict ? "true" : "false");
		kg_policy_json_str(stdout, p.version);
		printf(",\"mode\":\"%s\",\"rules\":%u,\"topic_patterns\":%u,\"regions\":%u,"
		       "\"principals\":%u,\"client_ids\":%u,\"cidrs\":%u,\"listeners\":%d,"
		       "\"errors\":%d,\"warnings\":%d,\"lint\":",
		       modes[p.mode & 1], comp.nrules, comp.npolicy_patterns, comp.nregions,
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
		       modes[p.mode & 1]);
	}
out:
	kg_lint_free(&lint);
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
	bool json = false, dashdash = false, strict = false;
	int nfiles = 0, rc = 0;
	char *files[argc];

	/* Options and files may mix; the files are checked once every option is read. */
	for (int i = 1; i < argc; i++) {
		if (dashdash || argv[i][0] != '-' || !argv[i][1]) {
			files[nfiles++] = argv[i];
		} else if (!strcmp(argv[i], "--")) {
			dashdash = true;
		} else if (!strcmp(argv[i], "--strict")) {
			strict = true;
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
		if (check_one(files[i], json, strict))
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
