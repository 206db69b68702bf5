// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy pause / resume: the break-glass. The running version is written again
 * into the inactive generation in monitor mode (pause) or in its own mode (resume), and
 * one word flips: every decision goes on and is recorded, nothing is enforced while
 * paused. The pause is kept in the policy store (agent/policy/store.h), so it outlives
 * the agent and later applies, until resumed.
 */
#include <stdio.h>

#include "agent/cmd/cmd.h"
#include "agent/policy/store.h"

static int policy_pause(int argc, char **argv);
static int policy_resume(int argc, char **argv);

#define PAUSE_EPILOG                                                                               \
	"Recorded as a `policy` audit record (steps pause, resume); 'kgate policy show'\n"         \
	"says whether a policy is paused. Exit 0 (also when there was nothing to do),\n"          \
	"1 on an error, 2 on usage errors.\n"

const struct kg_cmd kg_cmd_policy_pause = {
	.name = "policy pause",
	.summary = "stop enforcing: the running policy in monitor mode, one flip",
	.about = "Switches the running policy of IF to monitor mode in one flip: the same version\n"
		 "decides every request and records what it would do, and nothing is enforced.\n"
		 "The pause stays (across restarts, SIGHUP and applies: a new version goes in\n"
		 "in monitor mode too) until 'kgate policy resume'.\n",
	.opts = kg_iface_report_opts,
	.epilog = PAUSE_EPILOG,
	.run = policy_pause,
};

const struct kg_cmd kg_cmd_policy_resume = {
	.name = "policy resume",
	.summary = "enforce again after 'kgate policy pause', one flip",
	.about = "Switches the running policy of IF back to its own mode (enforce, or monitor\n"
		 "when the file says so) in one flip.\n",
	.opts = kg_iface_report_opts,
	.epilog = PAUSE_EPILOG,
	.run = policy_resume,
};

static int policy_pause(int argc, char **argv)
{
	return kg_policy_iface_step(&kg_cmd_policy_pause, KG_STEP_PAUSE, argc, argv);
}

static int policy_resume(int argc, char **argv)
{
	return kg_policy_iface_step(&kg_cmd_policy_resume, KG_STEP_RESUME, argc, argv);
}
