// SPDX-License-Identifier: Apache-2.0
/*
 * kgate audit: commands that answer questions from the audit records (an audit file, or
 * the audit topic), one table of subcommands, each in its own file (audit_trace.c).
 */
#include "agent/cmd/cmd.h"

static const struct kg_cmd *const subs[] = {
	&kg_cmd_audit_trace,
};

const struct kg_cmd kg_cmd_audit =
	KG_CMD_GROUP("audit", "answers from the audit records: who wrote a record, who read it",
		     subs);
