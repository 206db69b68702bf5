// SPDX-License-Identifier: Apache-2.0
/*
 * bench_wrap: lets BPF_PROG_RUN repeat a stateful packet. Each run puts the flow back
 * as it was before the packet (kg_bench_state), then tail-calls the program under test
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
	struct kg_flow *f;
	__u32 zero = 0;

	b = bpf_map_lookup_elem(&kg_bench_state, &zero);
	if (!b)
		return XDP_ABORTED;
	f = bpf_map_lookup_elem(&kg_flows, &b->key);
	if (!f)
		return XDP_ABORTED;
	if (bpf_probe_read_kernel(f, sizeof(*f), &b->flow))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &kg_bench_next, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
