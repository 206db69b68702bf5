// SPDX-License-Identifier: Apache-2.0
/* kgate: Kafka policy in the Linux kernel of the broker host. Entry point and command table. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent/cmd/cmd.h"

#ifndef KGATE_VERSION
#define KGATE_VERSION "unknown"
#endif

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct kg_cmd kg_cmd_version = {
	.name = "version",
	.summary = "print the version",
	.usage = "usage: kgate version [-o text|json]\n\nPrints kgate's version (git describe).\n",
	.run = cmd_version,
};

static const struct kg_cmd kg_cmd_help = {
	.name = "help",
	.summary = "show help for a command",
	.usage = "usage: kgate help [COMMAND]\n",
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
	&kg_cmd_help,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

bool kg_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

int kg_usage_error(const struct kg_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kgate %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see 'kgate %s --help')\n", cmd->name);
	return 2;
}

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
	if (argc == 3 && !strcmp(argv[1], "-o") && !strcmp(argv[2], "json")) {
		printf("{\"version\":\"%s\"}\n", KGATE_VERSION);
		return 0;
	}
	if (argc != 1 && !(argc == 3 && !strcmp(argv[1], "-o") && !strcmp(argv[2], "text")))
		return kg_usage_error(&kg_cmd_version, "unexpected arguments");
	printf("kgate %s\n", KGATE_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	const struct kg_cmd *cmd;

	if (argc < 2) {
		print_overview(stdout);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return kg_usage_error(&kg_cmd_help, "unknown command '%s'", argv[1]);
	fputs(cmd->usage, stdout);
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
	if (!cmd->own_help && kg_wants_help(argc - 1, argv + 1)) {
		fputs(cmd->usage, stdout);
		return 0;
	}
	return cmd->run(argc - 1, argv + 1);
}
