// SPDX-License-Identifier: Apache-2.0
/*
 * The datapath's counters, read once for `kgate stats` and the metrics alike
 * (agent/datapath/datapath.h): a counter named in KG_COUNTERS (maps/kgate_maps.h) reaches
 * both from there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/datapath/datapath.h"

/* A per-CPU u64 slot summed over CPUs: 0, or -errno. */
static int percpu_sum(int fd, __u32 key, __u64 *out)
{
	int ncpu = libbpf_num_possible_cpus();

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	if (fd < 0)
		return -EBADF;
	{
		__u64 v[ncpu];

		if (bpf_map_lookup_elem(fd, &key, v))
			return -errno;
		*out = 0;
		for (int c = 0; c < ncpu; c++)
			*out += v[c];
	}
	return 0;
}

static int count_one(void *ctx, const struct kg_flow_key *k, const struct kg_conn *c)
{
	(void)ctx, (void)k, (void)c;
	return 0;
}

/* Connections in one kg_flows (walked in batches). */
static __u64 count_flows(int fd)
{
	long long n = kg_flows_each(fd, count_one, NULL);

	return n > 0 ? (__u64)n : 0;
}

int kg_datapath_stats(const struct kg_maps *maps, int n, struct kg_datapath_stats *st)
{
	bool any = false;

	memset(st, 0, sizeof(*st));
	for (int i = 0; i < n; i++) {
		for (__u32 c = 0; c < KG_C__COUNT; c++) {
			__u64 v;

			if (percpu_sum(maps[i].counters, c, &v))
				continue;
			st->counter[c] += v;
			st->have_counter[c] = any = true;
		}
		st->have_rule_hits |= maps[i].rule_hits >= 0;
		if (maps[i].flows >= 0) {
			st->flows += count_flows(maps[i].flows);
			st->have_flows = true;
		}
	}
	if (n && maps[0].active >= 0 && maps[0].config >= 0 &&
	    !kg_active_config(&maps[0], &st->gen, &st->config))
		st->have_policy = true;
	return any ? 0 : -ENOENT;
}

int kg_datapath_counters(const struct kg_maps *maps, int n, __u64 out[KG_C__COUNT])
{
	memset(out, 0, KG_C__COUNT * sizeof(out[0]));
	for (int i = 0; i < n; i++)
		for (__u32 c = 0; c < KG_C__COUNT; c++) {
			__u64 v;
			int e = percpu_sum(maps[i].counters, c, &v);

			if (e)
				return e;
			out[c] += v;
		}
	return 0;
}

int kg_datapath_rule_hits(const struct kg_maps *maps, int n, int gen, __u32 rule, __u64 *out)
{
	bool any = false;

	*out = 0;
	for (int i = 0; i < n; i++) {
		__u64 v;

		if (!percpu_sum(maps[i].rule_hits, gen * KG_MAX_RULES + rule, &v)) {
			*out += v;
			any = true;
		}
	}
	return any ? 0 : -1;
}

int kg_datapath_lost(void *ctx, int i, __u64 out[2])
{
	const struct kg_maps *m = &((const struct kg_maps *)ctx)[i];
	int e;

	if (m->counters < 0)
		return 1;
	if ((e = percpu_sum(m->counters, KG_C_EVENTS_LOST_DENY, &out[KG_LOST_DENY])) ||
	    (e = percpu_sum(m->counters, KG_C_EVENTS_LOST_ALLOW, &out[KG_LOST_ALLOW])))
		return e;
	return 0;
}
