// SPDX-License-Identifier: Apache-2.0
/*
 * kgate stats: the datapath's per-CPU counters summed (the snapshot the metrics read too,
 * agent/datapath/stats.c; names from KG_COUNTERS in maps/kgate_maps.h), decisions by
 * verdict, undecodable by reason, and the active policy's per-rule hits with the rules'
 * names from the policy store.
 */
#include <stdio.h>

#include "agent/cmd/cmd.h"
#include "agent/datapath/datapath.h"
#include "agent/policy/store.h"

static int cmd_stats(int argc, char **argv);

const struct kg_cmd kg_cmd_stats = {
	.name = "stats",
	.summary = "datapath counters, decisions by verdict and by rule",
	.about = "The counters of IF's datapath (every pinned interface when omitted), summed\n"
		 "over CPUs since it was loaded: packets, flows, out-of-order and overlap\n"
		 "drops, events lost by verdict class, Fetch session resets...; decisions by\n"
		 "verdict; undecodable frames by reason; and, for the active policy, the\n"
		 "decisions each rule made (by name), plus the tracked flows.\n",
	.opts = kg_iface_report_opts,
	.epilog = "Exit 0, 1 when nothing is pinned or a map cannot be read, 2 on usage errors.\n",
	.run = cmd_stats,
};

/* A rule's hits in generation gen, 0 when they cannot be read. */
static unsigned long long hits(const struct kg_maps *m, int gen, int rule)
{
	__u64 v;

	return kg_datapath_rule_hits(m, 1, gen, rule, &v) ? 0 : v;
}

static void stats_json(const char *iface, const struct kg_stored_policy *sp,
		       const struct kg_datapath_stats *st, const struct kg_maps *m)
{
	kg_json_item();
	printf("{\"iface\":");
	kg_json_fput(stdout, iface);
	printf(",\"policy\":{\"version\":");
	kg_json_fput(stdout, sp ? sp->p.version : NULL);
	printf(",\"version_id\":%u,\"generation\":%d},\"flows\":%llu,\"counters\":{",
	       st->config.version_id, st->gen, (unsigned long long)st->flows);
	for (__u32 i = 0; i < KG_C_VERDICT_BASE; i++)
		printf("%s\"%s\":%llu", i ? "," : "", kg_counter_names[i],
		       (unsigned long long)st->counter[i]);
	printf("},\"verdicts\":{");
	for (__u32 a = 0; a < KG_ACT__COUNT; a++)
		printf("%s\"%s\":%llu", a ? "," : "", kg_action_names[a],
		       (unsigned long long)st->counter[KG_C_VERDICT_BASE + a]);
	printf("},\"undecodable\":{");
	for (__u32 r = 1; r < KD_REASON__COUNT; r++) /* 0 is KD_OK */
		printf("%s\"%s\":%llu", r > 1 ? "," : "", kd_reason_names[r],
		       (unsigned long long)st->counter[KG_C_UNDECODABLE_BASE + r]);
	printf("},\"rules\":[");
	for (int i = 0; sp && i < sp->p.nrules; i++) {
		printf("%s{\"id\":%d,\"name\":", i ? "," : "", i);
		kg_json_fput(stdout, sp->p.rules[i].name);
		printf(",\"hits\":%llu}", hits(m, st->gen, i));
	}
	printf("]}\n");
}

/* "    name      count" lines of one group of counters. */
static void counters_text(const char *title, const char *const *names, __u32 first, __u32 n,
			  const __u64 *v)
{
	printf("  %s:\n", title);
	for (__u32 i = first; i < n; i++)
		printf("    %-32s %llu\n", names[i], (unsigned long long)v[i]);
}

static void stats_text(const char *iface, const struct kg_stored_policy *sp,
		       const struct kg_datapath_stats *st, const struct kg_maps *m)
{
	printf("%s: policy \"%s\" (version id %u, generation %d), %llu flow%s\n", iface,
	       sp		       ? sp->p.version
	       : st->config.version_id ? "?"
				       : "none",
	       st->config.version_id, st->gen, (unsigned long long)st->flows,
	       st->flows == 1 ? "" : "s");
	counters_text("counters", kg_counter_names, 0, KG_C_VERDICT_BASE, st->counter);
	counters_text("decisions by verdict", kg_action_names, 0, KG_ACT__COUNT,
		      st->counter + KG_C_VERDICT_BASE);
	counters_text("undecodable by reason", kd_reason_names, 1, KD_REASON__COUNT,
		      st->counter + KG_C_UNDECODABLE_BASE);
	if (!sp)
		return;
	printf("  decisions by rule (active generation):\n");
	for (int i = 0; i < sp->p.nrules; i++)
		printf("    %-32s %llu\n", sp->p.rules[i].name, hits(m, st->gen, i));
}

static int stats_one(const char *iface, struct kg_names_cache *nc, bool json)
{
	struct kg_datapath_stats st;
	const struct kg_stored_policy *sp;
	struct kg_maps m;

	if (kg_cmd_open_maps(&kg_cmd_stats, iface, &m))
		return -1;
	if (kg_datapath_stats(&m, 1, &st) || !st.have_policy) {
		fprintf(stderr, "kgate stats: %s: reading the maps failed\n", iface);
		kg_maps_close(&m);
		return -1;
	}
	sp = kg_names_lookup(nc, st.config.version_id);
	if (json)
		stats_json(iface, sp, &st, &m);
	else
		stats_text(iface, sp, &st, &m);
	kg_maps_close(&m);
	return 0;
}

static int cmd_stats(int argc, char **argv)
{
	return kg_iface_report(&kg_cmd_stats, argc, argv, stats_one);
}
