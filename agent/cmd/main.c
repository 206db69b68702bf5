// SPDX-License-Identifier: Apache-2.0
/*
 * kgate: Kafka policy in the Linux kernel of the broker host. The entry point and the
 * command table (agent/cmd/cmd.h says how a command is declared).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agent/cmd/cmd.h"

static int cmd_help(int argc, char **argv);

struct help_args {
	const char *command, *sub;
};

static const struct kg_opt help_opts[] = {
	{.name = "COMMAND", .kind = KG_OPT_ARG, .metavar = "[COMMAND]",
	 .off = offsetof(struct help_args, command)},
	{.name = "SUBCOMMAND", .kind = KG_OPT_ARG, .metavar = "[SUBCOMMAND]",
	 .off = offsetof(struct help_args, sub)},
	KG_OPT_END,
};

static const struct kg_cmd kg_help_cmd = {
	.name = "help",
	.summary = "show help for a command (kgate help policy apply: a subcommand)",
	.synopsis = "[COMMAND [SUBCOMMAND]]",
	.opts = help_opts,
	.run = cmd_help,
};

const struct kg_cmd *const kg_commands[] = {
	&kg_cmd_decode,
	&kg_cmd_probe,
	&kg_cmd_policy,
	&kg_cmd_observe,
	&kg_cmd_audit,
	&kg_cmd_run,
	&kg_cmd_flows,
	&kg_cmd_stats,
	&kg_cmd_detach,
	&kg_cmd_version,
	&kg_help_cmd,
	&kg_cmd_gen_man,
	&kg_cmd_gen_completion,
};

const size_t kg_ncommands = sizeof(kg_commands) / sizeof(kg_commands[0]);

static void print_overview(FILE *f)
{
	fprintf(f, "usage: kgate COMMAND [ARGS]\n\n"
		   "Kafka policy enforced in the Linux kernel of the broker host.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < kg_ncommands; i++)
		if (!kg_commands[i]->hidden)
			fprintf(f, "  %-10s %s\n", kg_commands[i]->name, kg_commands[i]->summary);
	fprintf(f, "\nRun 'kgate COMMAND --help' for a command's options.\n");
}

static const struct kg_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < kg_ncommands; i++)
		if (!strcmp(kg_commands[i]->name, name))
			return kg_commands[i];
	return NULL;
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
	if (a.sub && !(cmd = kg_cmd_sub(cmd, a.sub)))
		return kg_usage_error(&kg_help_cmd, "'%s' has no subcommand '%s'", a.command,
				      a.sub);
	kg_cmd_help(cmd, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const struct kg_cmd *cmd;
	int rc;

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
	rc = cmd->run(argc - 1, argv + 1);
	kg_json_doc_end();
	return rc;
}
