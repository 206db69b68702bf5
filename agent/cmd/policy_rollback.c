// SPDX-License-Identifier: Apache-2.0
/* kgate policy rollback: a version kept in the policy store runs again (agent/policy/store.h). */
#include <stdio.h>

#include "agent/cmd/cmd.h"
#include "agent/policy/store.h"

struct rollback_args {
	const char *iface;
	int output;
	unsigned long to;
};

static const struct kg_opt rollback_opts[] = {
	KG_OPT_STR("iface", "IF", struct rollback_args, iface,
		   "the interface (default: every pinned one)"),
	KG_OPT_OUTPUT(struct rollback_args, output, kg_output_text_json,
		      "text (default), or json: one object per interface\nand line"),
	KG_OPT_UINT("to", "ID", struct rollback_args, to, 1, 4294967295ul,
		    "the version id to run ('kgate policy history' lists\n"
		    "them); default: the one that ran before the\n"
		    "current version (by the store's journal)"),
	KG_OPT_END,
};

static int policy_rollback(int argc, char **argv);

const struct kg_cmd kg_cmd_policy_rollback = {
	.name = "policy rollback",
	.summary = "run a version kept in the policy store again",
	.about = "Goes back to a version the policy store of IF keeps: --to ID, or by default the\n"
		 "version that ran before the one that runs, as the store's journal tells it (a\n"
		 "second rollback goes one further back). Never by default to a version that\n"
		 "was reverted (not confirmed in time, or its guard tripped) or that never ran;\n"
		 "'kgate policy history' marks those. The version keeps its id, so records\n"
		 "decided under it name the same text. Written into the inactive generation,\n"
		 "then one flip, like 'kgate policy apply'; a pause stays. Ends an apply that\n"
		 "awaited its confirm.\n",
	.opts = rollback_opts,
	.epilog = "Recorded as a `policy` audit record (step rollback). Exit 0 when done\n"
		  "everywhere, 1 on an error (no such version, it already runs, nothing ran\n"
		  "before it), 2 on usage errors.\n",
	.run = policy_rollback,
};

static int policy_rollback(int argc, char **argv)
{
	struct rollback_args a = {0};
	struct kg_actor by;
	struct kg_change_req rq = {.step = KG_STEP_ROLLBACK, .by = &by};
	int rc;

	if ((rc = kg_opt_parse(&kg_cmd_policy_rollback, argc, argv, &a)))
		return rc;
	if (a.to)
		kg_actor_self(&by, "policy rollback --to %lu", a.to);
	else
		kg_actor_self(&by, "policy rollback");
	rq.to = a.to;
	return kg_policy_step(&kg_cmd_policy_rollback, a.iface, &rq, a.output == 1, 0);
}
