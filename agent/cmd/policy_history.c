// SPDX-License-Identifier: Apache-2.0
/*
 * kgate policy history: the versions the policy store keeps per interface
 * (agent/policy/store.h), newest first, with the one that runs marked. Reads the store
 * only: it works with no agent and with nothing pinned (the store outlives a detach).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/cmd/cmd.h"
#include "agent/datapath/datapath.h"
#include "agent/policy/store.h"

/* Hex digits of a digest the text output shows (JSON has all 64). */
#define HISTORY_DIGEST_HEX 12

static int policy_history(int argc, char **argv);

const struct kg_cmd kg_cmd_policy_history = {
	.name = "policy history",
	.summary = "the versions kept in the policy store, the current one marked",
	.about = "Lists the versions the policy store keeps for IF (every interface with a store\n"
		 "under /var/lib/kgate when --iface is omitted), newest first: version id, the\n"
		 "policy's version string, the digest of its bytes, when it was put in, by whom\n"
		 "and how (a command, or the agent's --policy FILE), '*' on the one that runs.\n"
		 "Also whether it is paused, an apply that awaits its confirm, and the digest of\n"
		 "what the agent last took from its --policy FILE. 'kgate policy rollback --to ID'\n"
		 "runs one of them again. By the store's journal, a version is marked\n"
		 "'reverted' when its last run ended in a revert (not confirmed in time, or its\n"
		 "guard tripped) and 'never ran' when it was put in but never flipped to (its\n"
		 "apply died first); the default rollback passes over both.\n",
	.opts = kg_iface_report_opts,
	.epilog = "Exit 0, 1 when there is no store, 2 on usage errors.\n",
	.run = policy_history,
};

/* The interfaces with a store: directories of the state dir holding policies/. */
static int store_ifaces(char out[][IF_NAMESIZE], int max)
{
	DIR *d = opendir(kg_state_dir());
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[600];
		struct stat st;

		if (de->d_name[0] == '.' || strlen(de->d_name) >= IF_NAMESIZE)
			continue;
		snprintf(path, sizeof(path), "%s/%s/policies", kg_state_dir(), de->d_name);
		if (stat(path, &st) || !S_ISDIR(st.st_mode))
			continue;
		if (n < max)
			snprintf(out[n], IF_NAMESIZE, "%s", de->d_name);
		n++; /* past max: counted, and refused by the caller */
	}
	closedir(d);
	return n;
}

static void pending_json(const struct kg_store_state *st)
{
	char when[40];

	if (!st->has_pending) {
		printf("null");
		return;
	}
	kg_time_text(st->pending.deadline_ns, when, sizeof(when));
	printf("{\"version_id\":%u,\"revert_to\":%u,\"confirm_by\":\"%s\",\"guard\":{"
	       "\"rejects_per_s\":%llu,\"undecodable_per_s\":%llu}}",
	       st->pending.id, st->pending.revert_to, when,
	       (unsigned long long)st->pending.guard_rejects,
	       (unsigned long long)st->pending.guard_undecodable);
}

/* enum kg_fate as JSON says it. */
static const char *const fate_names[] = {
	[KG_FATE_UNKNOWN] = "unknown",
	[KG_FATE_RAN] = "ran",
	[KG_FATE_REVERTED] = "reverted",
	[KG_FATE_NEVER_RAN] = "never_ran",
};

/* The text column: what became of a version, when it is not simply that it ran. */
static void fate_text(const struct kg_version_info *v, char *out, size_t len)
{
	if (v->fate == KG_FATE_REVERTED)
		snprintf(out, len, "reverted (%s)", v->reverted_reason);
	else if (v->fate == KG_FATE_NEVER_RAN)
		snprintf(out, len, "never ran");
	else
		*out = 0;
}

static void history_json(const char *iface, const struct kg_store_state *st,
			 const struct kg_version_info *v, int n)
{
	char when[40];

	printf("{\"iface\":");
	kg_json_fput(stdout, iface);
	printf(",\"current\":%u,\"paused\":%s,\"pending\":", st->current,
	       st->paused ? "true" : "false");
	pending_json(st);
	printf(",\"file\":");
	if (*st->file_digest) {
		printf("{\"path\":");
		kg_json_fput(stdout, st->file_path);
		printf(",\"digest\":\"%s\"}", st->file_digest);
	} else {
		printf("null");
	}
	printf(",\"versions\":[");
	for (int i = 0; i < n; i++) {
		kg_time_text(v[i].time_ns, when, sizeof(when));
		printf("%s{\"id\":%u,\"version\":", i ? "," : "", v[i].id);
		kg_json_fput(stdout, v[i].version);
		printf(",\"digest\":\"%s\",\"time\":\"%s\",\"uid\":%u,\"user\":", v[i].digest, when,
		       v[i].uid);
		kg_json_fput(stdout, *v[i].user ? v[i].user : NULL);
		printf(",\"source\":");
		kg_json_fput(stdout, v[i].source);
		printf(",\"current\":%s,\"fate\":\"%s\",\"reverted_reason\":",
		       v[i].id == st->current ? "true" : "false", fate_names[v[i].fate]);
		kg_json_fput(stdout, *v[i].reverted_reason ? v[i].reverted_reason : NULL);
		printf("}");
	}
	printf("]}\n");
}

static void history_text(const char *iface, const struct kg_store_state *st,
			 const struct kg_version_info *v, int n)
{
	int wid = 2, wver = 7, wuser = 4;
	char when[40];

	printf("%s: %d versions kept", iface, n);
	if (st->current)
		printf("; version %u runs%s", st->current,
		       st->paused ? ", paused (monitor mode: 'kgate policy resume' enforces again)"
				  : "");
	printf("\n");
	if (st->has_pending) {
		kg_time_text(st->pending.deadline_ns, when, sizeof(when));
		printf("  version %u awaits 'kgate policy confirm' until %s (else back to %u)\n",
		       st->pending.id, when, st->pending.revert_to);
	}
	if (*st->file_digest)
		printf("  the agent's --policy file %s was last taken as %.*s\n", st->file_path,
		       7 + HISTORY_DIGEST_HEX, st->file_digest);
	for (int i = 0; i < n; i++) {
		char num[16];
		int l = snprintf(num, sizeof(num), "%u", v[i].id);

		wid = l > wid ? l : wid;
		wver = (int)strlen(v[i].version) > wver ? (int)strlen(v[i].version) : wver;
		wuser = (int)strlen(v[i].user) > wuser ? (int)strlen(v[i].user) : wuser;
	}
	printf("    %-*s  %-*s  %-*s  %-24s  %-*s  %s\n", wid, "ID", wver, "VERSION",
	       7 + HISTORY_DIGEST_HEX, "DIGEST", "WHEN", wuser, "USER", "SOURCE");
	for (int i = 0; i < n; i++) {
		char fate[64];

		kg_time_text(v[i].time_ns, when, sizeof(when));
		fate_text(&v[i], fate, sizeof(fate));
		printf("  %c %-*u  %-*s  %-*.*s  %-24s  %-*s  %s%s%s\n",
		       v[i].id == st->current ? '*' : ' ', wid, v[i].id, wver, v[i].version,
		       7 + HISTORY_DIGEST_HEX, 7 + HISTORY_DIGEST_HEX, v[i].digest, when, wuser,
		       v[i].user, v[i].source, *fate ? ": " : "", fate);
	}
}

static int history_one(const char *iface, bool json)
{
	struct kg_store_state st;
	struct kg_version_info *v;
	struct kg_maps m;
	char err[600];
	int n, e;

	if ((e = kg_store_versions(iface, &v, &n)) || !n) {
		fprintf(stderr, "kgate policy history: %s: %s\n", iface,
			e ? strerror(-e) : "no version in the policy store");
		free(v);
		return 1;
	}
	kg_store_state(iface, &st);
	if ((e = kg_store_fates(iface, v, n)))
		fprintf(stderr, "kgate policy history: %s: reading the journal: %s\n", iface,
			strerror(-e));
	if (!st.current && !kg_runtime_maps(iface, &m, err, sizeof(err))) {
		/* a store kept before `current` existed: what the maps run */
		struct kg_config cfg;
		int gen;

		if (!kg_active_config(&m, &gen, &cfg))
			st.current = cfg.version_id;
		kg_maps_close(&m);
	}
	if (json) {
		kg_json_item();
		history_json(iface, &st, v, n);
	}
	else
		history_text(iface, &st, v, n);
	free(v);
	return 0;
}

static int policy_history(int argc, char **argv)
{
	char ifaces[KG_REPORT_MAX_IFACES][IF_NAMESIZE];
	struct kg_iface_args a = {0};
	int n, rc;

	if ((rc = kg_opt_parse(&kg_cmd_policy_history, argc, argv, &a)))
		return rc;
	kg_json_doc(!a.iface);
	if (a.iface) {
		snprintf(ifaces[0], IF_NAMESIZE, "%s", a.iface);
		n = 1;
	} else if (!(n = store_ifaces(ifaces, KG_REPORT_MAX_IFACES))) {
		fprintf(stderr, "kgate policy history: no policy store under %s\n", kg_state_dir());
		return 1;
	} else if (n > KG_REPORT_MAX_IFACES) {
		fprintf(stderr,
			"kgate policy history: %d policy stores under %s, more than the %d one "
			"command walks: name one with --iface\n",
			n, kg_state_dir(), KG_REPORT_MAX_IFACES);
		return 1;
	}
	for (int i = 0; i < n; i++)
		rc |= history_one(ifaces[i], a.output == 1);
	return rc;
}
