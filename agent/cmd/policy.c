// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy: the policy language's and the policy store's commands, one table of
 * subcommands, each in its own file (policy_check.c, policy_apply.c, policy_history.c,
 * policy_pause.c...) with its own --help.
 */
#include "agent/cmd/cmd.h"

static const struct kg_cmd *const subs[] = {
	&kg_cmd_policy_check,	&kg_cmd_policy_apply,	&kg_cmd_policy_show,
	&kg_cmd_policy_diff,	&kg_cmd_policy_eval,	&kg_cmd_policy_history,
	&kg_cmd_policy_rollback, &kg_cmd_policy_confirm, &kg_cmd_policy_pause,
	&kg_cmd_policy_resume,	&kg_cmd_policy_whatif,
};

const struct kg_cmd kg_cmd_policy = KG_CMD_GROUP(
	"policy", "policy files and the policy store: check, apply, history, rollback...", subs);
