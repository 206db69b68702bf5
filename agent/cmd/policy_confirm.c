// SPDX-License-Identifier: Apache-2.0
/* kgate policy confirm: an apply with --confirm-within stays (agent/policy/store.h). */
#include <stdio.h>

#include "agent/cmd/cmd.h"
#include "agent/policy/store.h"

static int policy_confirm(int argc, char **argv);

const struct kg_cmd kg_cmd_policy_confirm = {
	.name = "policy confirm",
	.summary = "keep a policy applied with --confirm-within",
	.about = "Confirms the apply of IF that awaits its confirm ('kgate policy apply\n"
		 "--confirm-within'): the agent no longer goes back to the version before it,\n"
		 "neither at the deadline nor on a guard.\n",
	.opts = kg_iface_report_opts,
	.epilog = "Recorded as a `policy` audit record (step confirm). Exit 0, 1 when no apply\n"
		  "awaits a confirm (too late: the agent went back already; 'kgate policy\n"
		  "history' shows what runs), 2 on usage errors.\n",
	.run = policy_confirm,
};

static int policy_confirm(int argc, char **argv)
{
	return kg_policy_iface_step(&kg_cmd_policy_confirm, KG_STEP_CONFIRM, argc, argv);
}
