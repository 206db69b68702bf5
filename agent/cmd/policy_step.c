// SPDX-License-Identifier: Apache-2.0
/*
 * What the commands that change the running policy share (policy apply, rollback, pause,
 * resume, confirm): one change per interface through the policy store
 * (agent/policy/store.h, kg_store_change), and its report in text or JSON.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "agent/cmd/cmd.h"
#include "agent/datapath/datapath.h"
#include "agent/policy/store.h"

bool kg_agent_serves(const char *iface)
{
	char lock[600];
	bool held;
	int fd;

	/* the agent holds RUN_DIR/IF.lock while it runs (kgate run, lock_ifaces) */
	snprintf(lock, sizeof(lock), "%s/%s.lock", kg_run_dir(), iface);
	fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	held = flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd); /* releases a lock taken by the test */
	return held;
}

static void version_json(const char *key, __u32 id, const char *version, int gen)
{
	printf(",\"%s\":{\"version\":", key);
	kg_json_fput(stdout, id ? version : NULL);
	printf(",\"version_id\":%u,\"generation\":%d}", id, gen);
}

void kg_change_print(const char *iface, const struct kg_change *c, bool json, unsigned int nrules,
		     double load_ms)
{
	char when[40] = "";

	if (c->confirm_deadline_ns)
		kg_time_text(c->confirm_deadline_ns, when, sizeof(when));
	if (json) {
		kg_json_item();
		printf("{\"iface\":");
		kg_json_fput(stdout, iface);
		printf(",\"step\":\"%s\",\"changed\":%s,\"change\":", kg_step_name(c->step),
		       c->unchanged ? "false" : "true");
		if (c->unchanged)
			printf("null");
		else
			printf("%llu", (unsigned long long)c->change);
		version_json("old", c->old_id, c->old_version, c->old_gen);
		version_json("new", c->new_id, c->new_version, c->new_gen);
		printf(",\"digest\":");
		kg_json_fput(stdout, *c->digest ? c->digest : NULL);
		printf(",\"mode\":\"%s\",\"paused\":%s,\"confirm_by\":", kg_mode_name(c->mode),
		       c->paused ? "true" : "false");
		kg_json_fput(stdout, *when ? when : NULL);
		printf(",\"revert_to\":");
		if (*when) {
			printf("{\"version\":");
			kg_json_fput(stdout, c->revert_to_version);
			printf(",\"version_id\":%u}", c->revert_to);
		} else {
			printf("null");
		}
		if (c->step == KG_STEP_APPLY)
			printf(",\"rules\":%u,\"load_ms\":%.1f", nrules, load_ms);
		printf(",\"write_us\":%.1f,\"swap_us\":%.1f}\n", c->write_us, c->swap_us);
		return;
	}
	if (c->unchanged) {
		printf("%s: nothing to do: \"%s\" (version id %u) runs%s\n", iface, c->old_version,
		       c->old_id,
		       c->step == KG_STEP_PAUSE	   ? ", already paused"
		       : c->step == KG_STEP_RESUME ? ", not paused"
						   : "");
		return;
	}
	switch (c->step) {
	case KG_STEP_APPLY:
		printf("%s: \"%s\" (version id %u, generation %d) -> \"%s\" (version id %u, "
		       "generation %d): %u rules written in %.0f us, swapped in %.1f us\n",
		       iface, c->old_id ? c->old_version : "none", c->old_id, c->old_gen,
		       c->new_version, c->new_id, c->new_gen, nrules, c->write_us, c->swap_us);
		break;
	case KG_STEP_CONFIRM:
		printf("%s: confirmed \"%s\" (version id %u): it stays\n", iface, c->new_version,
		       c->new_id);
		break;
	default:
		printf("%s: %s: \"%s\" (version id %u, generation %d) -> \"%s\" (version id %u, "
		       "generation %d), mode %s: swapped in %.1f us\n",
		       iface, kg_step_name(c->step), c->old_version, c->old_id, c->old_gen,
		       c->new_version, c->new_id, c->new_gen, kg_mode_name(c->mode), c->swap_us);
	}
	if (c->paused && c->step != KG_STEP_PAUSE)
		printf("%s: paused: the policy decides in monitor mode and enforces nothing until "
		       "'kgate policy resume'\n",
		       iface);
	if (c->step == KG_STEP_PAUSE)
		printf("%s: paused: nothing is enforced until 'kgate policy resume'\n", iface);
	/* a second apply before the first one's confirm goes back past both, to the last
	 * confirmed version: said by id, not as "the version before it" */
	if (*when)
		printf("%s: goes back to \"%s\" (version id %u) at %s unless 'kgate policy confirm "
		       "--iface %s' comes first\n",
		       iface, c->revert_to_version, c->revert_to, when, iface);
	if (c->superseded)
		printf("%s: version %u, which awaited a confirm, is superseded (its confirm is no "
		       "longer needed)\n",
		       iface, c->superseded);
}

int kg_policy_step(const struct kg_cmd *cmd, const char *iface, const struct kg_change_req *rq,
		   bool json, double load_ms)
{
	char ifaces[KG_REPORT_MAX_IFACES][IF_NAMESIZE], err[1024];
	int n = kg_target_ifaces(cmd, iface, ifaces), rc = n ? 0 : 1;
	struct kg_change_req held = *rq;

	kg_json_doc(!iface);

	/* a SIGINT or SIGTERM waits for the change to be whole (an intent covers SIGKILL) */
	held.hold_signals = true;
	for (int i = 0; i < n; i++) {
		struct kg_change c;
		struct kg_maps m;

		if (kg_cmd_open_maps(cmd, ifaces[i], &m)) {
			rc = 1;
			continue;
		}
		if (kg_store_change(ifaces[i], &m, &held, &c, err, sizeof(err))) {
			fprintf(stderr, "kgate %s: %s\n", cmd->name, err);
			rc = 1;
		} else {
			kg_change_print(ifaces[i], &c, json, rq->file ? rq->file->c.nrules : 0,
					load_ms);
			if (!c.unchanged && !kg_agent_serves(ifaces[i]))
				fprintf(stderr,
					"kgate %s: %s: no agent serves this interface now: the "
					"change goes into the audit stream when 'kgate run' "
					"starts\n",
					cmd->name, ifaces[i]);
		}
		kg_maps_close(&m);
	}
	return rc;
}

int kg_policy_iface_step(const struct kg_cmd *cmd, int step, int argc, char **argv)
{
	struct kg_iface_args a = {0};
	struct kg_actor by;
	struct kg_change_req rq = {.step = step, .by = &by};
	int rc;

	if ((rc = kg_opt_parse(cmd, argc, argv, &a)))
		return rc;
	kg_actor_self(&by, "%s", cmd->name);
	return kg_policy_step(cmd, a.iface, &rq, a.output == 1, 0);
}
