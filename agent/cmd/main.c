// SPDX-License-Identifier: Apache-2.0
/*
 * kgate: Kafka policy in the Linux kernel of the broker host. The entry point and the
 * command table (agent/cmd/cmd.h says how a command is declared).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agent/cmd/cmd.h"

#ifndef KGATE_VERSION
#define KGATE_VERSION "unknown"
#endif

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

struct version_args {
	int output;
};

static const struct kg_opt version_opts[] = {
	KG_OPT_OUTPUT(struct version_args, output, kg_output_text_json,
		      "text (default) or {\"version\":...}"),
	KG_OPT_END,
};

static const struct kg_cmd kg_cmd_version = {
	.name = "version",
	.summary = "print the version",
	.about = "Prints kgate's version (git describe).\n",
	.opts = version_opts,
	.run = cmd_version,
};

struct help_args {
	const char *command;
};

static const struct kg_opt help_opts[] = {
	{.name = "COMMAND", .kind = KG_OPT_ARG, .metavar = "[COMMAND]",
	 .off = offsetof(struct help_args, command)},
	KG_OPT_END,
};

static const struct kg_cmd kg_help_cmd = {
	.name = "help",
	.summary = "show help for a command",
	.opts = help_opts,
	.run = cmd_help,
};

static const struct kg_cmd *const commands[] = {
	&kg_cmd_decode,
	&kg_cmd_probe,
	&kg_cmd_policy,
	&kg_cmd_observe,
	&kg_cmd_run,
	&kg_cmd_flows,
	&kg_cmd_stats,
	&kg_cmd_detach,
	&kg_cmd_version,
	&kg_help_cmd,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_overview(FILE *f)
{
	fprintf(f, "usage: kgate COMMAND [ARGS]\n\n"
		   "Kafka policy enforced in the Linux kernel of the broker host.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "\nRun 'kgate COMMAND --help' for a command's options.\n");
}

static const struct kg_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static int cmd_version(int argc, char **argv)
{
	struct version_args a = {0};
	int rc = kg_opt_parse(&kg_cmd_version, argc, argv, &a);

	if (rc)
		return rc;
	if (a.output)
		printf("{\"version\":\"%s\"}\n", KGATE_VERSION);
	else
		printf("kgate %s\n", KGATE_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	struct help_args a = {0};
	const struct kg_cmd *cmd;
	int rc = kg_opt_parse(&kg_help_cmd, argc, argv, &a);

	if (rc)
		return rc;
	if (!a.command) {
		print_overview(stdout);
		return 0;
	}
	cmd = find_command(a.command);
	if (!cmd)
		return kg_usage_error(&kg_help_cmd, "unknown command '%s'", a.command);
	kg_cmd_help(cmd, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const struct kg_cmd *cmd;

	if (argc < 2) {
		print_overview(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		print_overview(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version"))
		argv[1] = "version";
	cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, "kgate: unknown command '%s'\n\n", argv[1]);
		print_overview(stderr);
		return 2;
	}
	if (!cmd->subs && kg_wants_help(argc - 1, argv + 1)) {
		kg_cmd_help(cmd, stdout);
		return 0;
	}
	return cmd->run(argc - 1, argv + 1);
}
