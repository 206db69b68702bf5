// SPDX-License-Identifier: Apache-2.0
/*
 * kgate stats: the datapath's per-CPU counters summed (names from KG_COUNTERS in
 * maps/kgate_maps.h), decisions by verdict, undecodable by reason, and the active
 * policy's per-rule hits with the rules' names from the policy store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/cmd/cmd.h"
#include "agent/datapath/datapath.h"

/* Interfaces listed when --iface is not given. */

const struct kg_cmd kg_cmd_stats = {
	.name = "stats",
	.summary = "datapath counters, decisions by verdict and by rule",
	.usage = "usage: kgate stats [--iface IF] [-o text|json]\n"
		 "\n"
		 "The counters of IF's datapath (every pinned interface when omitted), summed\n"
		 "over CPUs since it was loaded: packets, flows, out-of-order and overlap\n"
		 "drops, events lost by verdict class, Fetch session resets...; decisions by\n"
		 "verdict; undecodable frames by reason; and, for the active policy, the\n"
		 "decisions each rule made (by name), plus the tracked flows.\n"
		 "-o json: one object per interface and line.\n"
		 "Exit 0, 1 when nothing is pinned or a map cannot be read, 2 on usage errors.\n",
	.run = cmd_stats,
};

#define KG_NAME_ENTRY_S(sym, name) name,
static const char *const counter_names[] = {KG_COUNTERS(KG_NAME_ENTRY_S)};
static const char *const reason_names[] = {KD_REASONS(KG_NAME_ENTRY_S)};
#define NCOUNTERS (sizeof(counter_names) / sizeof(counter_names[0]))
_Static_assert(sizeof(counter_names) / sizeof(counter_names[0]) == KG_C_VERDICT_BASE,
	       "a name for every counter");

/* Sum over CPUs of a per-CPU u64 array slot; 0 when it cannot be read. */
static unsigned long long percpu_sum(int fd, __u32 idx, __u64 *buf, int ncpu)
{
	unsigned long long s = 0;

	if (bpf_map_lookup_elem(fd, &idx, buf))
		return 0;
	for (int i = 0; i < ncpu; i++)
		s += buf[i];
	return s;
}

static int stats_one(const char *iface, struct kg_names_cache *nc, bool json)
{
	const struct kg_stored_policy *sp;
	struct kg_flow_key k, *prev = NULL;
	struct kg_config cfg;
	char dir[512], err[600];
	int ncpu = libbpf_num_possible_cpus(), gen, nflows = 0, first;
	struct kg_maps m;
	__u64 *buf;

	snprintf(dir, sizeof(dir), "%s/%s", kg_pin_root(), iface);
	if (kg_maps_open_pinned(&m, dir, err, sizeof(err))) {
		fprintf(stderr, "kgate stats: %s: no kgate datapath (%s)\n", iface, err);
		return -1;
	}
	if (ncpu <= 0 || kg_active_config(&m, &gen, &cfg) || !(buf = calloc(ncpu, sizeof(*buf)))) {
		fprintf(stderr, "kgate stats: %s: reading the maps failed\n", iface);
		kg_maps_close(&m);
		return -1;
	}
	while (!bpf_map_get_next_key(m.flows, prev, &k)) {
		prev = &k;
		nflows++;
	}
	sp = kg_names_lookup(nc, cfg.version_id);
	if (json) {
		printf("{\"iface\":");
		kg_rt_json_str(stdout, iface);
		printf(",\"policy\":{\"version\":");
		if (sp)
			kg_rt_json_str(stdout, sp->p.version);
		else
			printf("null");
		printf(",\"version_id\":%u,\"generation\":%d},\"flows\":%d,\"counters\":{",
		       cfg.version_id, gen, nflows);
		for (__u32 i = 0; i < NCOUNTERS; i++)
			printf("%s\"%s\":%llu", i ? "," : "", counter_names[i],
			       percpu_sum(m.counters, i, buf, ncpu));
		printf("},\"verdicts\":{");
		for (__u32 a = 0; a < KG_ACT__COUNT; a++)
			printf("%s\"%s\":%llu", a ? "," : "", kg_rt_action_names[a],
			       percpu_sum(m.counters, KG_C_VERDICT_BASE + a, buf, ncpu));
		printf("},\"undecodable\":{");
		first = 1;
		for (__u32 r = 1; r < KD_REASON__COUNT; r++) { /* 0 is KD_OK */
			printf("%s\"%s\":%llu", first ? "" : ",", reason_names[r],
			       percpu_sum(m.counters, KG_C_UNDECODABLE_BASE + r, buf, ncpu));
			first = 0;
		}
		printf("},\"rules\":[");
		for (int i = 0; sp && i < sp->p.nrules; i++) {
			printf("%s{\"id\":%d,\"name\":", i ? "," : "", i);
			kg_rt_json_str(stdout, sp->p.rules[i].name);
			printf(",\"hits\":%llu}",
			       percpu_sum(m.rule_hits, gen * KG_MAX_RULES + i, buf, ncpu));
		}
		printf("]}\n");
	} else {
		printf("%s: policy \"%s\" (version id %u, generation %d), %d flow%s\n", iface,
		       sp		? sp->p.version
		       : cfg.version_id ? "?"
					: "none",
		       cfg.version_id, gen, nflows, nflows == 1 ? "" : "s");
		printf("  counters:\n");
		for (__u32 i = 0; i < NCOUNTERS; i++)
			printf("    %-32s %llu\n", counter_names[i],
			       percpu_sum(m.counters, i, buf, ncpu));
		printf("  decisions by verdict:\n");
		for (__u32 a = 0; a < KG_ACT__COUNT; a++)
			printf("    %-32s %llu\n", kg_rt_action_names[a],
			       percpu_sum(m.counters, KG_C_VERDICT_BASE + a, buf, ncpu));
		printf("  undecodable by reason:\n");
		for (__u32 r = 1; r < KD_REASON__COUNT; r++)
			printf("    %-32s %llu\n", reason_names[r],
			       percpu_sum(m.counters, KG_C_UNDECODABLE_BASE + r, buf, ncpu));
		if (sp) {
			printf("  decisions by rule (active generation):\n");
			for (int i = 0; i < sp->p.nrules; i++)
				printf("    %-32s %llu\n", sp->p.rules[i].name,
				       percpu_sum(m.rule_hits, gen * KG_MAX_RULES + i, buf, ncpu));
		}
	}
	free(buf);
	kg_maps_close(&m);
	return 0;
}

int cmd_stats(int argc, char **argv)
{
	return kg_iface_report(&kg_cmd_stats, argc, argv, stats_one);
}
