// SPDX-License-Identifier: Apache-2.0
/*
 * kgate audit: commands that answer questions from the audit records (an audit file, or
 * the audit topic), one table of subcommands, each in its own file (audit_trace.c).
 */
#include "agent/cmd/cmd.h"

static int cmd_audit(int argc, char **argv);

static const struct kg_cmd *const subs[] = {
	&kg_cmd_audit_trace,
};

const struct kg_cmd kg_cmd_audit = {
	.name = "audit",
	.summary = "answers from the audit records: who wrote a record, who read it",
	.synopsis = "SUBCOMMAND [ARGS]",
	.epilog = "Run 'kgate audit SUBCOMMAND --help' for a subcommand's options.\n",
	.run = cmd_audit,
	.subs = subs,
	.nsubs = sizeof(subs) / sizeof(subs[0]),
};

static int cmd_audit(int argc, char **argv)
{
	return kg_cmd_dispatch(&kg_cmd_audit, argc, argv);
}
