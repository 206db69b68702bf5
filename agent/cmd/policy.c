// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy: the policy language's and the policy store's commands, one table of
 * subcommands, each in its own file (policy_check.c, policy_apply.c, policy_history.c,
 * policy_pause.c...) with its own --help.
 */
#include "agent/cmd/cmd.h"

static int cmd_policy(int argc, char **argv);

static const struct kg_cmd *const subs[] = {
	&kg_cmd_policy_check,	&kg_cmd_policy_apply,	&kg_cmd_policy_show,
	&kg_cmd_policy_diff,	&kg_cmd_policy_eval,	&kg_cmd_policy_history,
	&kg_cmd_policy_rollback, &kg_cmd_policy_confirm, &kg_cmd_policy_pause,
	&kg_cmd_policy_resume,	&kg_cmd_policy_whatif,
};

const struct kg_cmd kg_cmd_policy = {
	.name = "policy",
	.summary = "policy files and the policy store: check, apply, history, rollback...",
	.synopsis = "SUBCOMMAND [ARGS]",
	.epilog = "Run 'kgate policy SUBCOMMAND --help' for a subcommand's options.\n",
	.run = cmd_policy,
	.subs = subs,
	.nsubs = sizeof(subs) / sizeof(subs[0]),
};

static int cmd_policy(int argc, char **argv)
{
	return kg_cmd_dispatch(&kg_cmd_policy, argc, argv);
}
