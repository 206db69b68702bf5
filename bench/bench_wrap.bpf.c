// SPDX-License-Identifier: Apache-2.0
/*
 * bench_wrap: lets BPF_PROG_RUN repeat a stateful packet. Each run puts the flow back
 * as it was before the packet (kg_bench_state: its small entry and its pool slot; a slot
 * the last run took goes back to the pool), then tail-calls the program under test
 * (kg_bench_next[0]). With the slot empty it only puts the flow back: the benchmark
 * subtracts that run from the other. Never attached; used by bench/bench_datapath.c.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "kgate_maps.bpf.h"
#include "bench_wrap.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kg_bench_state);
} kg_bench_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} kg_bench_next SEC(".maps");

SEC("xdp.frags") /* as kgate_xdp: a tail call needs the same kind */
int kg_bench_wrap(struct xdp_md *ctx)
{
	struct kg_bench_state *b;
	struct kg_conn *cn;
	struct kg_flow *f;
	__u32 zero = 0, cur, saved;

	b = bpf_map_lookup_elem(&kg_bench_state, &zero);
	if (!b)
		return XDP_ABORTED;
	cn = bpf_map_lookup_elem(&kg_flows, &b->key);
	if (!cn)
		return XDP_ABORTED;
	cur = cn->own & KG_OWN_SLOT;
	saved = b->conn.own & KG_OWN_SLOT;
	if (cur && cur != saved) {
		cur--;
		bpf_map_push_elem(&kg_pool_free, &cur, 0);
	}
	if (saved) {
		saved--;
		f = bpf_map_lookup_elem(&kg_pool, &saved);
		if (!f || bpf_probe_read_kernel(f, sizeof(*f), &b->flow))
			return XDP_ABORTED;
	}
	if (bpf_probe_read_kernel(cn, sizeof(*cn), &b->conn))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &kg_bench_next, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
