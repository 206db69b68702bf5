// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy apply: a policy file swapped in on the running datapath through the pinned
 * maps (agent or no agent), as a new version in the policy store (agent/policy/store.h);
 * with --confirm-within, one that goes back by itself unless confirmed in time.
 */
#include <stdio.h>

#include "agent/cmd/cmd.h"
#include "agent/datapath/datapath.h"
#include "agent/policy/store.h"

/* A guard's threshold: decisions per second (more would never trip on a real node). */
#define GUARD_MAX_PER_S 1000000000ul

struct apply_args {
	const char *iface;
	int output;
	const char *file;
	__u64 confirm_within;
	unsigned long guard_rejects, guard_undecodable;
};

static const struct kg_opt apply_opts[] = {
	KG_OPT_STR("iface", "IF", struct apply_args, iface,
		   "the interface (default: every pinned one)"),
	KG_OPT_OUTPUT(struct apply_args, output, kg_output_text_json,
		      "text (default), or json: one object per interface\nand line"),
	KG_OPT_DURATION("confirm-within", struct apply_args, confirm_within,
			"go back to the version before unless 'kgate policy\n"
			"confirm' comes within DURATION (90s, 5m, 1h...);\n"
			"needs a running agent: it owns the timer"),
	KG_OPT_UINT("guard-rejects-per-s", "N", struct apply_args, guard_rejects, 1,
		    GUARD_MAX_PER_S,
		    "with --confirm-within: go back at once when more\n"
		    "than N decisions a second deny (reject, reset,\n"
		    "drop, redirect), as the datapath counts them:\n"
		    "denies it does not enforce count too (monitor\n"
		    "mode, audit: true rules, a paused policy)"),
	KG_OPT_UINT("guard-undecodable-per-s", "N", struct apply_args, guard_undecodable, 1,
		    GUARD_MAX_PER_S,
		    "with --confirm-within: go back at once when more\n"
		    "than N frames a second are undecodable"),
	KG_OPT_ARG("policy FILE", "FILE", struct apply_args, file),
	KG_OPT_END,
};

static int policy_apply(int argc, char **argv);

const struct kg_cmd kg_cmd_policy_apply = {
	.name = "policy apply",
	.summary = "swap a policy in atomically on the running datapath",
	.about = "Validates FILE, then swaps it in atomically on the running datapath of IF (every\n"
		 "interface pinned under /sys/fs/bpf/kgate when --iface is omitted), with or\n"
		 "without 'kgate run': the new policy is written into the inactive generation and\n"
		 "one word flips. Established connections are re-evaluated under the new policy.\n"
		 "FILE becomes a new version in the policy store (/var/lib/kgate/IF/), the one\n"
		 "source of truth for what runs: it stays across SIGHUP and restarts of the agent\n"
		 "until the next change ('kgate run --help' says when the agent's --policy FILE\n"
		 "is one). Prints, per interface, the old and the new version, generation and\n"
		 "version id, the time the write took and the time the swap took (us). With\n"
		 "-o json also load_ms: reading, parsing and compiling FILE.\n"
		 "\n"
		 "With --confirm-within the agent goes back to the version that ran before unless\n"
		 "'kgate policy confirm' comes in time, or at once when a guard trips first (a\n"
		 "second apply before the first one's confirm goes back to the version before\n"
		 "both: the output names it).\n"
		 "While paused ('kgate policy pause') FILE goes in in monitor mode.\n",
	.opts = apply_opts,
	.epilog = "Every apply is a `policy` audit record (who, node, old and new version, digest):\n"
		  "the agent writes it into its audit stream at once, or when it next starts.\n"
		  "A broken FILE is refused with FILE:LINE:COL: message and the running policy\n"
		  "stays. Exit 0 when applied everywhere, 1 on an error, 2 on usage errors.\n",
	.run = policy_apply,
};

static int policy_apply(int argc, char **argv)
{
	char err[1024];
	struct apply_args a = {0};
	struct kg_policy_file f;
	struct kg_actor by;
	struct kg_change_req rq = {.step = KG_STEP_APPLY, .by = &by, .file = &f};
	double load_ms;
	__u64 t0;
	int rc, load_fail;

	if ((rc = kg_opt_parse(&kg_cmd_policy_apply, argc, argv, &a)))
		return rc;
	if ((a.guard_rejects || a.guard_undecodable) && !a.confirm_within)
		return kg_usage_error(&kg_cmd_policy_apply,
				      "a guard goes with --confirm-within (it reverts the apply)");
	if (a.confirm_within && a.iface && !kg_agent_serves(a.iface)) {
		fprintf(stderr,
			"kgate policy apply: --confirm-within: no agent serves %s: the "
			"agent owns the timer that goes back, so start 'kgate run --iface "
			"%s' first (or apply without --confirm-within)\n",
			a.iface, a.iface);
		return 1;
	}
	t0 = kg_mono_ns();
	load_fail = kg_policy_file_load(&f, a.file, err, sizeof(err));
	load_ms = (kg_mono_ns() - t0) / 1e6;
	if (load_fail) {
		fprintf(stderr, "%s\n", err);
		fprintf(stderr, "kgate policy apply: %s refused; the running policy stays\n",
			a.file);
		kg_policy_file_free(&f);
		return 1;
	}
	kg_actor_self(&by, "policy apply");
	rq.confirm_within_ns = a.confirm_within;
	rq.guard_rejects = a.guard_rejects;
	rq.guard_undecodable = a.guard_undecodable;
	if (a.confirm_within && !a.iface) {
		/* every pinned interface must have its agent, or none is changed */
		char ifaces[KG_REPORT_MAX_IFACES][IF_NAMESIZE];
		int n = kg_target_ifaces(&kg_cmd_policy_apply, NULL, ifaces);

		if (!n) {
			kg_policy_file_free(&f);
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (kg_agent_serves(ifaces[i]))
				continue;
			fprintf(stderr,
				"kgate policy apply: --confirm-within: no agent serves %s: "
				"the agent owns the timer that goes back; nothing applied\n",
				ifaces[i]);
			kg_policy_file_free(&f);
			return 1;
		}
	}
	rc = kg_policy_step(&kg_cmd_policy_apply, a.iface, &rq, a.output == 1, load_ms);
	kg_policy_file_free(&f);
	return rc;
}
